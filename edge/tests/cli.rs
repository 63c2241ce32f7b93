//! Runs the built `opensoc` binary.

use std::io::Write;
use std::process::{Command, Output};

fn opensoc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(args)
        .env_remove("OPENSOC_MODEL")
        .env("OPENSOC_CONFIG", "/dev/null")
        .output()
        .expect("run opensoc")
}

fn real_model() -> String {
    let path = opensoc::model::fetch::ensure_default_model(false).expect("default model");
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
fn model_info_json_of_the_model_the_environment_names() {
    let path = real_model();
    let out = Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(["model", "info", "--json"])
        .env("OPENSOC_MODEL", &path)
        .output()
        .expect("run opensoc");
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
fn a_reader_that_stops_early_ends_the_output_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let path = real_model();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(["model", "info", "--json", &path])
        .env_remove("OPENSOC_MODEL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run opensoc");
    // `| head -c 0`: the reader is gone before the model is read, so the first print meets a
    // closed pipe (a race the other way would need a 64 KiB output to lose).
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("waits");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}: {stderr}");
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
    // The admin's commands are listed; the developers' only named in the footer.
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        [
            "scan",
            "watch",
            "serve",
            "verdicts",
            "report",
            "forward",
            "analyze",
            "model",
            "config",
            "completions",
            "manpage",
            "help"
        ],
        "{text}"
    );
    assert!(text.contains("Developer commands"), "{text}");
    // Model flags belong to the commands that load a model.
    let help = |cmd: &str| {
        let out = opensoc(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd}");
        String::from_utf8(out.stdout).unwrap()
    };
    for cmd in ["scan", "watch", "serve", "analyze", "eval", "bench"] {
        let text = help(cmd);
        assert!(
            text.contains("--model") && text.contains("--no-adapter"),
            "{cmd}: {text}"
        );
    }
    for cmd in ["verdicts", "report", "parity", "model"] {
        let text = help(cmd);
        assert!(
            !text.contains("--adapter") && !text.contains("--model"),
            "{cmd}: {text}"
        );
    }
    assert!(!text.contains("--adapter"), "{text}");
    let out = opensoc(&["model", "fetch", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("--verify") && text.contains("--force"),
        "{text}"
    );
}

/// `model fetch --verify` says that the checksum matched, on stderr; stdout stays the path
/// alone, for scripts.
#[test]
fn verify_says_the_checksum_matched() {
    let out = opensoc(&["model", "fetch", "--verify"]);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.trim_end().ends_with(".gguf"), "{stdout}");
    assert!(
        stderr.contains("verified: ")
            && stderr.contains(opensoc::model::fetch::DEFAULT_SHA256)
            && stderr.contains(&opensoc::model::fetch::DEFAULT_SIZE.to_string()),
        "{stderr}"
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

fn seed_file(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = opensoc::task::dataset::data_dir_beside(&root);
    let p = dir.join("opensoc-ai").join(name);
    assert!(
        p.exists(),
        "{} missing: set OPENSOC_DATA to the shared data folder",
        p.display()
    );
    p
}

fn ok_stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

const SQLI: &str = r#"91.108.4.20 - - [16/Mar/2025:01:05:33] "GET /profile?id=1 OR 1=1-- HTTP/1.1" 403 12466 "-" "burpsuite""#;

#[test]
fn analyze_prints_the_seed_block() {
    real_model();
    let text = ok_stdout(&opensoc(&["analyze", SQLI]));
    let keys: Vec<&str> = text
        .lines()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        [
            "THREAT_TYPE",
            "MITRE_TECHNIQUE",
            "MITRE_TACTIC",
            "SEVERITY",
            "RISK_SCORE",
            "EVIDENCE",
            "IMPACT",
            "RECOMMENDATION"
        ],
        "{text}"
    );
    // Not a terminal: no colour codes.
    assert!(!text.contains('\x1b'), "{text}");
}

#[test]
fn analyze_json_from_stdin() {
    use std::io::Write;
    real_model();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(["analyze", "--json", "-"])
        .env_remove("OPENSOC_MODEL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Mar 15 01:05:33 server sshd[1234]: Failed password for root from 10.1.2.3 port 22 ssh2\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&out)).expect("one JSON object");
    assert_eq!(v["valid"], true);
    assert_eq!(v["mode"], "fast");
    assert!(v["evidence"].as_str().unwrap().contains("10.1.2.3"), "{v}");
    let score = v["risk_score"].as_u64().unwrap();
    assert!(score <= 100);
    assert!(["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&v["severity"].as_str().unwrap()));
    assert_eq!(
        v["category"].as_str().unwrap(),
        opensoc::task::verdict::category_of(v["threat_type"].as_str().unwrap())
    );
}

#[test]
fn eval_writes_predictions_report_and_picture() {
    real_model();
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("p.jsonl");
    let data = seed_file("soc_eval.json");
    let text = ok_stdout(&opensoc(&[
        "eval",
        "--data",
        data.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--limit",
        "4",
        "--json",
    ]));
    let last = text.lines().last().expect("a line");
    let m: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    assert_eq!(m["n"], 4);
    assert_eq!(m["valid_rate"], 1.0);
    assert_eq!(m["mode"], "fast");
    for key in [
        "strict_threat_accuracy",
        "category_accuracy",
        "macro_f1",
        "severity_accuracy",
        "technique_accuracy",
        "latency_p50_ms",
        "latency_p90_ms",
        "entries_per_minute",
    ] {
        assert!(m[key].is_number(), "{key} missing in {m}");
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&preds)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (i, p) in lines.iter().enumerate() {
        assert_eq!(p["index"], i);
        assert_eq!(p["valid"], true);
        assert!(p["latency_ms"].is_u64());
        assert_eq!(
            p["category"].as_str().unwrap(),
            opensoc::task::verdict::category_of(p["threat_type"].as_str().unwrap())
        );
    }
    let md = std::fs::read_to_string(dir.path().join("p.report.md")).unwrap();
    assert!(md.contains("threat accuracy (strict"), "{md}");
    let svg = std::fs::read_to_string(dir.path().join("p.confusion.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
}

#[test]
fn eval_parity_of_two_runs_on_one_backend_is_exact() {
    real_model();
    let data = seed_file("soc_eval.json");
    let text = ok_stdout(&opensoc(&[
        "eval",
        "--data",
        data.to_str().unwrap(),
        "--limit",
        "3",
        "--backend",
        "cpu",
        "--backend",
        "cpu",
        "--json",
    ]));
    let m: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let p = &m["parity"][0];
    assert_eq!(p["entries"], 3);
    assert_eq!(p["identical_all_fields"], 3, "{p}");
    assert_eq!(p["max_logit_diff"], 0.0, "{p}");
}

#[test]
fn eval_rejects_a_file_that_is_not_seed_format() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"input": "x"}"#).unwrap();
    let out = opensoc(&["eval", "--data", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json"), "{err}");
    let out = opensoc(&["eval", "--data", "/nonexistent/x.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn analyze_without_input_on_a_terminal_or_bad_mode_fails_cleanly() {
    let out = opensoc(&["analyze", "--mode", "creative", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("creative"));
}

#[test]
fn wgpu_adapter_choice_and_a_missing_driver_are_clear_errors() {
    real_model();
    let out = opensoc(&[
        "analyze",
        "--backend",
        "wgpu",
        "--wgpu-adapter",
        "no-such-gpu",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no wgpu adapter matches \"no-such-gpu\""),
        "{err}"
    );
    // The adapters seen are listed (CI: Mesa's llvmpipe).
    assert!(
        err.contains("adapters seen: ") && !err.contains("seen: none"),
        "{err}"
    );

    // No Vulkan driver at all: the message says what to install.
    let out = Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(["analyze", "--backend", "wgpu", "x"])
        .env_remove("OPENSOC_MODEL")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .output()
        .expect("run opensoc");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mesa-vulkan-drivers"), "{err}");
}

#[test]
fn analyze_writes_repeated_lines_once_so_a_pasted_burst_fits_whole() {
    // Nine lines of an sshd log (Loghub's Linux_2k.log opens so): seven PAM failures of one
    // template, two of another. Written out they overflow the model's 256-token budget.
    let mut entry = String::new();
    for pid in 20882..20889 {
        entry.push_str(&format!(
            "Jun 15 02:04:59 combo sshd(pam_unix)[{pid}]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root\n"
        ));
    }
    entry.push_str("Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown\n");
    entry.push_str("Jun 14 15:16:02 combo sshd(pam_unix)[19938]: check pass; user unknown\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_opensoc"))
        .args(["analyze", "--json", "-"])
        .env_remove("OPENSOC_MODEL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run opensoc");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(entry.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("waits");
    let v: serde_json::Value = serde_json::from_str(&ok_stdout(&out)).expect("JSON");
    let evidence = v["evidence"].as_str().unwrap_or_default();
    assert!(!evidence.contains("not shown"), "{evidence}");
    assert!(evidence.contains("9 log lines"), "{evidence}");
}
