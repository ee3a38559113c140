//! Content digests: the SHA-256 that ties a manifest to the model, data and
//! protect files it was made from. A leaf module, so that data, formats and
//! ONNX can each name a file's content without importing one another.

use sha2::{Digest, Sha256};

/// SHA-256 of bytes as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
