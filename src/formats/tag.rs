//! The name tag that ties a MILP file to its manifest: export writes
//! `gdmilp-TOKEN` as the MPS `NAME` and as the LP file's `\Problem name:`
//! comment (the line CPLEX itself writes), and the same token in the
//! manifest; `apply` reads it back to tell whether a manifest describes the
//! file beside it. Knows nothing about what the token is made from.

use crate::error::{Error, IoContext, Result};
use std::io::Read;
use std::path::Path;

/// What every tag starts with.
const PREFIX: &str = "gdmilp-";

/// The problem name that carries `token`.
pub fn name(token: &str) -> String {
    format!("{PREFIX}{token}")
}

/// The token in the head of the MPS or LP file at `path` (gzip-compressed
/// when its name ends in `.gz`), or None when the file carries no tag.
pub fn read(path: &Path) -> Result<Option<String>> {
    let file = std::fs::File::open(path).at(path, "read")?;
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let mut head = Vec::new();
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    reader
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::invalid(path, format!("cannot read its first lines: {e}")))?;
    Ok(find(&String::from_utf8_lossy(&head)))
}

/// The token in the first lines of a file's text.
fn find(head: &str) -> Option<String> {
    head.lines().take(20).find_map(|line| {
        let name = line
            .strip_prefix("NAME")
            .or_else(|| line.strip_prefix("\\Problem name:"))?;
        let token = name.trim().strip_prefix(PREFIX)?;
        (!token.is_empty()).then(|| token.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_found_in_mps_and_lp_heads() {
        assert_eq!(find("NAME gdmilp-ab12\nROWS\n"), Some("ab12".into()));
        let lp = "\\ written by gdmilp\n\\Problem name: gdmilp-ab12\nMinimize\n";
        assert_eq!(find(lp), Some("ab12".into()));
        assert_eq!(find("NAME gdmilp\nROWS\n"), None);
        assert_eq!(find("NAME other\n"), None);
    }
}
