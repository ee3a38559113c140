//! CPLEX XML solutions: `<CPLEXSolution>` (or the first of
//! `<CPLEXSolutions>`) with a `<header objectiveValue=".."
//! solutionStatusString="..">` and `<variable name=".." value=".."/>` for
//! every column.

use super::{Solution, SolutionFormat, Status, Values};
use crate::error::{Error, Result};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::path::Path;

pub(super) fn detect(text: &str) -> bool {
    let head: String = text.chars().take(512).collect();
    head.contains("<CPLEXSolution")
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let bad = |m: String| Error::invalid(path, format!("CPLEX XML solution: {m}"));
    let mut reader = Reader::from_str(text);
    let mut objective = None;
    let mut status_string = None;
    let mut values = Vec::new();
    let mut solutions = 0;
    loop {
        let pos = reader.buffer_position();
        match reader.read_event() {
            Err(e) => return Err(bad(format!("{e} (near byte {pos})"))),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let line = text[..(pos as usize).min(text.len())]
                    .lines()
                    .count()
                    .max(1);
                match e.name().as_ref() {
                    b"CPLEXSolution" => {
                        solutions += 1;
                    }
                    b"header" if solutions == 1 => {
                        for a in e.attributes().flatten() {
                            let v = a.unescape_value().map_err(|e| bad(e.to_string()))?;
                            match a.key.as_ref() {
                                b"objectiveValue" => {
                                    objective = Some(v.parse::<f64>().map_err(|_| {
                                        bad(format!("objectiveValue '{v}' is not a number"))
                                    })?)
                                }
                                b"solutionStatusString" => status_string = Some(v.to_string()),
                                _ => {}
                            }
                        }
                    }
                    b"variable" if solutions == 1 => {
                        let (mut name, mut value) = (None, None);
                        for a in e.attributes().flatten() {
                            let v = a.unescape_value().map_err(|e| bad(e.to_string()))?;
                            match a.key.as_ref() {
                                b"name" => name = Some(v.to_string()),
                                b"value" => {
                                    value =
                                        Some(v.parse::<f64>().map_err(|_| {
                                            bad(format!("value '{v}' is not a number"))
                                        })?)
                                }
                                _ => {}
                            }
                        }
                        match (name, value) {
                            (Some(n), Some(v)) => values.push((n, v, line)),
                            _ => {
                                return Err(bad(format!(
                                    "a <variable> near line {line} lacks a name or value"
                                )))
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(_) => {}
        }
    }
    if solutions == 0 {
        return Err(bad("no <CPLEXSolution> element".into()));
    }
    let s = status_string.unwrap_or_default();
    let lower = s.to_lowercase();
    let status =
        if lower.contains("infeasible") || lower.contains("unbounded") || objective.is_none() {
            Status::NoSolution(if s.is_empty() { "no status".into() } else { s })
        } else if lower.contains("optimal") {
            Status::Optimal
        } else {
            Status::Feasible(s)
        };
    Ok(Solution {
        format: SolutionFormat::Cplex,
        status,
        objective,
        values: Values::ByName(values),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_variables() {
        let text = r#"<?xml version = "1.0" encoding="UTF-8" standalone="yes"?>
<CPLEXSolution version="1.2">
 <header problemName="layer.mps" objectiveValue="-3.5" solutionStatusValue="101" solutionStatusString="integer optimal solution"/>
 <variables>
  <variable name="w_0_0" index="0" value="0.25"/>
  <variable name="c_1" index="1" value="1"/>
 </variables>
</CPLEXSolution>
"#;
        let s = parse(Path::new("x.sol"), text).unwrap();
        assert_eq!(s.status, Status::Optimal);
        assert_eq!(s.objective, Some(-3.5));
        match s.values {
            Values::ByName(v) => assert_eq!(
                v.iter().map(|x| (x.0.as_str(), x.1)).collect::<Vec<_>>(),
                vec![("w_0_0", 0.25), ("c_1", 1.0)]
            ),
            _ => panic!(),
        }
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(parse(
            Path::new("x.sol"),
            "<CPLEXSolution><header objectiveValue=\"x\"/>"
        )
        .is_err());
        assert!(parse(
            Path::new("x.sol"),
            "<CPLEXSolution><variables><variable name=\"a\""
        )
        .is_err());
    }
}
