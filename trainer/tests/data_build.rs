//! `opensoc-train data` end to end at a small scale: the files it writes and the split
//! invariants between them (skipped with a notice when the shared data folder is absent).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use opensoc::task::dataset::{load_examples, Example};
use opensoc::task::verdict::ParsedVerdict;

fn data_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the trainer crate lives in the workspace");
    let dir = opensoc::task::dataset::data_dir_beside(root);
    if dir.join("opensoc-ai").join("soc_train.json").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no shared data at {}", dir.display());
        None
    }
}

#[test]
fn builds_every_file_with_disjoint_splits() {
    let Some(data) = data_dir() else { return };
    let out = tempfile::tempdir().expect("temp dir");
    let run = Command::new(env!("CARGO_BIN_EXE_opensoc-train"))
        .args([
            "data",
            "--scale",
            "0.05",
            "--seed",
            "42",
            "--no-tokens",
            "--data",
        ])
        .arg(&data)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("threat type") && stdout.contains("train"),
        "{stdout}"
    );

    let load = |name: &str| -> Vec<Example> {
        load_examples(&out.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let train = load("train.json");
    assert!(train.len() > 450, "{}", train.len());
    let heldout_names = [
        "heldout_payloads.json",
        "heldout_benign_Thunderbird.json",
        "heldout_benign_Windows.json",
        "heldout_benign_Proxifier.json",
        "heldout_ssh.json",
        "heldout_windows_events.json",
        "heldout_mixed.json",
    ];
    let train_inputs: HashSet<&str> = train.iter().map(|e| e.input.as_str()).collect();
    assert_eq!(
        train_inputs.len(),
        train.len(),
        "no repeated input in train"
    );
    let eval = load_examples(&data.join("opensoc-ai").join("soc_eval.json")).expect("eval");
    let eval_inputs: HashSet<&str> = eval.iter().map(|e| e.input.as_str()).collect();
    let mut files = vec![("train.json", train.clone())];
    for name in heldout_names {
        let ex = load(name);
        assert!(!ex.is_empty(), "{name} is empty");
        for e in &ex {
            assert!(
                !train_inputs.contains(e.input.as_str()),
                "{name} repeats a training input"
            );
        }
        files.push((name, ex));
    }
    for (name, ex) in &files {
        for e in ex {
            assert!(
                !eval_inputs.contains(e.input.as_str()),
                "{name}: soc_eval input"
            );
            assert_eq!(e.instruction, opensoc::task::prompt::INSTRUCTION);
            let p = ParsedVerdict::parse(&e.output);
            assert!(p.is_valid(), "{name}: {}", e.output);
        }
    }
    // The held-out systems never train: their windows are benign ones of other formats.
    let benign = files
        .iter()
        .find(|(n, _)| *n == "heldout_benign_Proxifier.json");
    assert!(benign.is_some_and(|(_, ex)| ex.iter().all(|e| e.output.contains("No Threat"))));

    let mixed = load("heldout_mixed.json");
    let secondary: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("heldout_mixed.secondary.json")).expect("sidecar"),
    )
    .expect("a list of strings");
    assert_eq!(secondary.len(), mixed.len());
    for (e, s) in mixed.iter().zip(&secondary) {
        let primary = ParsedVerdict::parse(&e.output)
            .threat_type
            .unwrap_or_default();
        assert!(!s.is_empty() && *s != primary, "{s} / {primary}");
    }

    let stats: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("stats.json")).expect("stats"),
    )
    .expect("json");
    let listed = stats["files"].as_array().expect("files");
    assert_eq!(listed.len(), heldout_names.len() + 1);
    assert_eq!(listed[0][1]["examples"], train.len());
    assert_eq!(listed[0][1]["by_source"]["seed"], 450);
}
