//! `opensoc-train stats` on the seed's held-out set (read from the shared data directory).

use std::path::PathBuf;
use std::process::Command;

fn data_dir() -> PathBuf {
    opensoc::task::dataset::data_dir_beside(&PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.."
    )))
}

#[test]
fn counts_examples_over_the_length_cap() {
    let data = data_dir().join("opensoc-ai/soc_eval.json");
    let out = Command::new(env!("CARGO_BIN_EXE_opensoc-train"))
        .args(["stats", "--data"])
        .arg(&data)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("examples            50"), "{stdout}");
    // 16 of the 50 held-out examples exceed 512 tokens with the SmolLM2 tokenizer, 11 of them
    // in the prompt alone.
    assert!(stdout.contains("over 512 tokens      16"), "{stdout}");
    assert!(stdout.contains("loses it whole in 11"), "{stdout}");
}

#[test]
fn a_file_that_is_not_seed_format_is_an_error() {
    let dir = std::env::temp_dir().join(format!("opensoc-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"not\": \"a list\"}").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_opensoc-train"))
        .args(["stats", "--data"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
    std::fs::remove_dir_all(&dir).ok();
}
