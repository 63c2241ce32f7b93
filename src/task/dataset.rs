//! The seed's data sets: a JSON list of `{"instruction", "input", "output"}` examples
//! (DESIGN.md, "Prompt and output"), and where to find them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One example of the seed's format: the prompt's instruction, the log, the reference block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The instruction line of the prompt.
    pub instruction: String,
    /// The log entry (one or more lines).
    pub input: String,
    /// The reference verdict block.
    pub output: String,
}

/// Why a data file could not be loaded; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file could not be read.
    #[error("cannot read data file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("data file {path} is not valid JSON: {source}")]
    NotJson {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// The JSON is something other than a list.
    #[error(
        "data file {path} holds {found}, expected a list of {{instruction, input, output}} objects"
    )]
    NotAList {
        /// The file.
        path: PathBuf,
        /// What the top level is instead (e.g. "an object").
        found: &'static str,
    },
    /// An entry of the list is not an object.
    #[error("data file {path}: entry {index} (0-based) is {found}, expected an object")]
    EntryNotObject {
        /// The file.
        path: PathBuf,
        /// 0-based position in the list.
        index: usize,
        /// What the entry is instead.
        found: &'static str,
    },
    /// An entry lacks one of the three keys.
    #[error("data file {path}: entry {index} (0-based) is missing `{key}`")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// 0-based position in the list.
        index: usize,
        /// The missing key.
        key: &'static str,
    },
    /// An entry has one of the three keys with a value that is not a string.
    #[error("data file {path}: entry {index} (0-based) has `{key}` as {found}, expected a string")]
    NotAString {
        /// The file.
        path: PathBuf,
        /// 0-based position in the list.
        index: usize,
        /// The offending key.
        key: &'static str,
        /// What the value is instead.
        found: &'static str,
    },
}

/// Reads a data file in the seed's format; keys other than the three are ignored.
pub fn load_examples(path: &Path) -> Result<Vec<Example>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Through `Value` rather than a typed derive so an error can name the entry and the key,
    // which serde's derived messages (line/column only) do not.
    let value: Value = serde_json::from_str(&text).map_err(|source| DatasetError::NotJson {
        path: path.to_path_buf(),
        source,
    })?;
    let Value::Array(entries) = value else {
        return Err(DatasetError::NotAList {
            path: path.to_path_buf(),
            found: kind(&value),
        });
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| example_at(path, index, entry))
        .collect()
}

fn example_at(path: &Path, index: usize, entry: &Value) -> Result<Example, DatasetError> {
    let Value::Object(map) = entry else {
        return Err(DatasetError::EntryNotObject {
            path: path.to_path_buf(),
            index,
            found: kind(entry),
        });
    };
    let field = |key: &'static str| -> Result<String, DatasetError> {
        match map.get(key) {
            None => Err(DatasetError::MissingKey {
                path: path.to_path_buf(),
                index,
                key,
            }),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(DatasetError::NotAString {
                path: path.to_path_buf(),
                index,
                key,
                found: kind(other),
            }),
        }
    };
    Ok(Example {
        instruction: field("instruction")?,
        input: field("input")?,
        output: field("output")?,
    })
}

/// A JSON value's kind with its article, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The data folder: `$OPENSOC_DATA` if set, else `../shared/data` from the current directory.
pub fn default_data_dir() -> PathBuf {
    data_dir_from(
        std::env::var_os("OPENSOC_DATA"),
        std::env::current_dir().ok(),
    )
}

/// The data folder seen from the project's root: `$OPENSOC_DATA` if set, else
/// `ROOT/../shared/data` (tests pass their crate's root, wherever they are run from).
pub fn data_dir_beside(root: &Path) -> PathBuf {
    data_dir_from(std::env::var_os("OPENSOC_DATA"), Some(root.to_path_buf()))
}

/// `default_data_dir` with its inputs passed in, so tests need not mutate the process
/// environment (other tests run in parallel threads of the same process).
fn data_dir_from(var: Option<OsString>, cwd: Option<PathBuf>) -> PathBuf {
    match var {
        // An empty variable is treated as unset: `OPENSOC_DATA= cmd` should not mean "here".
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => {
            let rel = Path::new("..").join("shared").join("data");
            // Absolute when possible, so error messages show where it looked.
            match cwd {
                Some(dir) => dir.join(rel),
                None => rel,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write temp file");
        f
    }

    #[test]
    fn loads_the_seed_format_and_ignores_extra_keys() {
        let f = file_with(
            r#"[{"instruction": "Analyze", "input": "GET /", "output": "THREAT_TYPE: X", "id": 7},
                {"output": "o", "input": "i\nj", "instruction": ""}]"#,
        );
        let ex = load_examples(f.path()).expect("loads");
        assert_eq!(
            ex,
            vec![
                Example {
                    instruction: "Analyze".into(),
                    input: "GET /".into(),
                    output: "THREAT_TYPE: X".into()
                },
                Example {
                    instruction: "".into(),
                    input: "i\nj".into(),
                    output: "o".into()
                },
            ]
        );
        assert!(load_examples(file_with("[]").path())
            .expect("empty list")
            .is_empty());
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let missing = Path::new("/nonexistent/opensoc/data.json");
        let e = load_examples(missing).unwrap_err();
        assert!(matches!(e, DatasetError::Read { .. }));
        assert!(
            e.to_string().contains("/nonexistent/opensoc/data.json"),
            "{e}"
        );

        let f = file_with("[{\"input\": ");
        let e = load_examples(f.path()).unwrap_err();
        assert!(matches!(e, DatasetError::NotJson { .. }), "{e}");
        assert!(e.to_string().contains(&f.path().display().to_string()));

        let e = load_examples(file_with(r#"{"input": "x"}"#).path()).unwrap_err();
        assert!(
            matches!(
                e,
                DatasetError::NotAList {
                    found: "an object",
                    ..
                }
            ),
            "{e}"
        );

        let e =
            load_examples(file_with(r#"[{"instruction":"a","input":"b","output":"c"}, 3]"#).path())
                .unwrap_err();
        assert!(
            matches!(
                e,
                DatasetError::EntryNotObject {
                    index: 1,
                    found: "a number",
                    ..
                }
            ),
            "{e}"
        );

        let f = file_with(
            r#"[{"instruction":"a","input":"b","output":"c"},
                {"instruction":"a","input":"b","output":"c"},
                {"instruction":"a","output":"c"}]"#,
        );
        let e = load_examples(f.path()).unwrap_err();
        assert!(
            matches!(
                e,
                DatasetError::MissingKey {
                    index: 2,
                    key: "input",
                    ..
                }
            ),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains("entry 2") && msg.contains("`input`"), "{msg}");

        let e =
            load_examples(file_with(r#"[{"instruction":"a","input":"b","output":null}]"#).path())
                .unwrap_err();
        assert!(
            matches!(
                e,
                DatasetError::NotAString {
                    index: 0,
                    key: "output",
                    found: "null",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn data_dir_prefers_the_variable_then_the_shared_folder() {
        assert_eq!(
            data_dir_from(Some("/data/x".into()), Some("/work/main".into())),
            PathBuf::from("/data/x")
        );
        assert_eq!(
            data_dir_from(Some("".into()), Some("/work/main".into())),
            PathBuf::from("/work/main/../shared/data")
        );
        assert_eq!(data_dir_from(None, None), PathBuf::from("../shared/data"));
    }
}
