//! The layering of the workspace, checked on its source text: a module uses the layers below
//! its own and never one above (`src/lib.rs` lists the core's layers; `edge/src/lib.rs` and
//! `logs/src/lib.rs` the agent's). Test modules may reach up for fixtures (a test of the GGUF
//! reader loads the real model), so a file is read up to its `#[cfg(test)]` module; comments
//! are skipped, since a doc link to a higher layer is a pointer, not a dependency.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The core's layers from the bottom up; each may use the ones before it.
const CORE: &[&str] = &[
    "util", "signals", "gguf", "cpu", "quant", "model", "backend", "task", "analyze", "eval",
    "train",
];

/// Layers that may not use another layer even though it sits below them: analysis, eval and
/// the task's contract run on any `LanguageModel`, never on a concrete backend.
const FORBIDDEN: &[(&str, &str)] = &[
    ("task", "backend"),
    ("analyze", "backend"),
    ("eval", "backend"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of `path` before its test module, without comment lines.
fn code_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") && lines.peek().is_some_and(|n| n.contains("mod ")) {
            break;
        }
        if !t.starts_with("//") {
            code.push_str(line);
            code.push('\n');
        }
    }
    code
}

/// The first path segments after `prefix::` in `code` (`crate::model::llama` → `model`).
fn used(code: &str, prefix: &str) -> BTreeSet<String> {
    let needle = format!("{prefix}::");
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(&needle) {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + needle.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// The folder of `file` under `base` (`src/model/llama.rs` → `model`); `None` at the top.
fn layer_of(base: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(base).ok()?;
    let mut parts = rel.components();
    let first = parts.next()?.as_os_str().to_str()?.to_string();
    parts.next().map(|_| first)
}

#[test]
fn no_core_layer_uses_a_layer_above_it() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let Some(layer) = layer_of(&src, file) else {
            continue;
        };
        let rank = CORE.iter().position(|l| *l == layer).unwrap_or_else(|| {
            panic!(
                "{}: folder {layer} is not a layer of src/lib.rs",
                file.display()
            )
        });
        for target in used(&code_of(file), "crate") {
            let Some(target_rank) = CORE.iter().position(|l| *l == target) else {
                continue;
            };
            if target_rank > rank || FORBIDDEN.contains(&(layer.as_str(), target.as_str())) {
                wrong.push(format!("{} uses crate::{target}", file.display()));
            }
        }
    }
    assert!(files.len() > 40, "read only {} files", files.len());
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

/// What each part of the agent may use of the core library and of its own crate.
#[test]
fn log_reading_and_parsing_stay_below_the_analysis() {
    let mut wrong = Vec::new();
    // The log-parsing crate and the tailing code read text and files; judging them is the
    // analysis' job, and storing verdicts the store's.
    let below_analysis = ["util", "signals", "task"];
    let mut files = Vec::new();
    rust_files(&root().join("logs/src"), &mut files);
    rust_files(&root().join("edge/src/tail"), &mut files);
    for file in &files {
        let code = code_of(file);
        for target in used(&code, "opensoc") {
            if !below_analysis.contains(&target.as_str()) {
                wrong.push(format!("{} uses opensoc::{target}", file.display()));
            }
        }
        if file.starts_with(root().join("edge/src/tail")) {
            for target in used(&code, "crate") {
                if target != "tail" {
                    wrong.push(format!("{} uses crate::{target}", file.display()));
                }
            }
        }
    }
    // The agent's library never reaches into the binary's commands.
    let mut lib = Vec::new();
    rust_files(&root().join("edge/src"), &mut lib);
    for file in lib
        .iter()
        .filter(|f| !f.starts_with(root().join("edge/src/commands")))
    {
        if file.ends_with("main.rs") {
            continue;
        }
        if used(&code_of(file), "crate").contains("commands") {
            wrong.push(format!("{} uses crate::commands", file.display()));
        }
    }
    assert!(files.len() >= 8, "read only {} files", files.len());
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}
