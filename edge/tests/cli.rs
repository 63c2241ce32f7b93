//! Runs the built `opensoc` binary.

use std::process::{Command, Output};

fn opensoc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(args)
        .env_remove("OPENSOC_MODEL")
        .output()
        .expect("run opensoc")
}

fn real_model() -> String {
    let path = opensoc::fetch::ensure_default_model(false).expect("default model");
    path.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn model_info_human() {
    let path = real_model();
    let out = opensoc(&["model", "info", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("architecture        llama"), "{text}");
    assert!(text.contains("blocks              30"), "{text}");
    assert!(text.contains("pre-tokenizer       smollm"), "{text}");
    assert!(text.contains("tied to token embedding"), "{text}");
    assert!(text.contains("--template prints it"), "{text}");
}

#[test]
fn model_info_json_and_model_flag() {
    let path = real_model();
    let out = opensoc(&["--model", &path, "model", "info", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["architecture"], "llama");
    assert_eq!(v["block_count"], 30);
    assert_eq!(v["head_count"], 9);
    assert_eq!(v["head_count_kv"], 3);
    assert_eq!(v["embedding_length"], 576);
    assert_eq!(v["vocab_size"], 49152);
    assert_eq!(v["tied_output"], true);
    assert_eq!(v["tokenizer_pre"], "smollm");
    assert_eq!(v["path"], path.as_str());
}

#[test]
fn model_info_template() {
    let out = opensoc(&["model", "info", "--template", &real_model()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("chat template:\n"), "{text}");
    assert!(text.contains("im_start"), "{text}");
}

#[test]
fn corrupt_file_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt-model.gguf");
    std::fs::write(&bad, b"GGUF\x03\0\0\0 truncated").unwrap();
    let out = opensoc(&["model", "info", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("corrupt-model.gguf"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn missing_file_is_exit_2() {
    let out = opensoc(&["model", "info", "/nonexistent/model.gguf"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("/nonexistent/model.gguf") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn help_describes_the_commands() {
    let out = opensoc(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("model") && text.contains("--model"), "{text}");
    let out = opensoc(&["model", "fetch", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("--verify") && text.contains("--force"),
        "{text}"
    );
}

#[test]
fn missing_env_model_names_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(["model", "info"])
        .env("OPENSOC_MODEL", "/nonexistent/env-model.gguf")
        .output()
        .expect("run opensoc");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("env-model.gguf") && err.contains("OPENSOC_MODEL"),
        "{err}"
    );
}
