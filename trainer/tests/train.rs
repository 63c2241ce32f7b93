//! `opensoc-train train` on the real model: a smoke run whose loss falls, resuming gives the
//! uninterrupted run's steps, Ctrl-C saves a checkpoint, and bad input is a clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn train_file() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let p = opensoc::task::dataset::data_dir_beside(&root).join("opensoc-ai/soc_train.json");
    assert!(p.exists(), "{} missing: set OPENSOC_DATA", p.display());
    p
}

fn train(data: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opensoc-train"))
        .arg("train")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove("OPENSOC_MODEL")
        .output()
        .expect("runs")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// (step, loss) of every line of the loss log.
fn losses(dir: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("loss.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap())
        })
        .collect()
}

/// Six examples trained hard enough that the loss must fall within a few steps (checkpoints
/// every `--checkpoint-every` steps, given apart). Two of the six have responses longer than
/// the 256-token cap and are skipped: 4 sequences, 2 steps an epoch, [`STEPS`] in all.
const SMOKE_BASE: &[&str] = &[
    "--limit",
    "6",
    "--batch",
    "2",
    "--accum",
    "1",
    "--epochs",
    "8",
    "--lr",
    "1e-3",
    "--max-len",
    "256",
];

/// Optimiser steps of a whole smoke run.
const STEPS: usize = 16;

/// Steps of the run that Ctrl-C interrupts after its first step: a few more than it can take
/// before the signal lands (a step takes seconds, the test looks every 0.1 s), so that the
/// resumed run has steps left to do. The smoke run's 16 would only repeat its work.
const INTERRUPTED_STEPS: usize = 6;

/// [`SMOKE_BASE`] with a checkpoint every two steps, then `extra`.
fn smoke<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [SMOKE_BASE, &["--checkpoint-every", "2"], extra].concat()
}

#[test]
fn smoke_run_loss_falls_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(&train(&train_file(), &out, &smoke(&[])));
    let l = losses(&out);
    assert_eq!(l.len(), STEPS, "{l:?}");
    let first: f64 = l[..3].iter().map(|x| x.1).sum::<f64>() / 3.0;
    let last: f64 = l[STEPS - 3..].iter().map(|x| x.1).sum::<f64>() / 3.0;
    assert!(last < 0.7 * first, "loss did not fall: {l:?}");
    for f in [
        "adapter_model.safetensors",
        "adapter_config.json",
        "loss.svg",
        "train_report.json",
        "checkpoint.bin",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("train_report.json")).unwrap())
            .unwrap();
    assert_eq!(report["trainable_params"], 4_884_480);
    assert_eq!(report["steps"], STEPS);
    // The adapter loads back for the model it was trained on.
    let model = opensoc::model::fetch::ensure_default_model(false).unwrap();
    let file = opensoc::gguf::file::ModelFile::open(model).unwrap();
    let cfg = opensoc::model::config::LlamaConfig::from_gguf(&file.gguf).unwrap();
    let a = opensoc::model::peft::load_peft(&out, &cfg).unwrap();
    assert_eq!(a.param_count(), 4_884_480);
    assert!(a.blocks[0][0].as_ref().unwrap().b.iter().any(|&v| v != 0.0));
}

#[test]
fn resuming_continues_exactly_where_the_run_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let parts = dir.path().join("parts");
    // Four steps, two before the stop: enough for the resumed half to need the checkpoint's
    // optimiser state, step counter and data order (each a test of its own would repeat the
    // whole run; the full run is the smoke test's).
    let four = smoke(&["--max-steps", "4"]);
    ok(&train(&train_file(), &whole, &four));
    let two = smoke(&["--max-steps", "2"]);
    ok(&train(&train_file(), &parts, &two));
    ok(&train(
        &train_file(),
        &parts,
        &[four.as_slice(), &["--resume"]].concat(),
    ));
    let (a, b) = (losses(&whole), losses(&parts));
    assert_eq!(a.len(), 4);
    assert_eq!(a, b, "a resumed run must repeat the uninterrupted one");
}

#[test]
fn ctrl_c_saves_a_checkpoint_that_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_opensoc-train"))
        .arg("train")
        .arg("--data")
        .arg(train_file())
        .arg("--out")
        .arg(&out)
        .args(SMOKE_BASE)
        .args([
            "--checkpoint-every",
            "0",
            "--max-steps",
            &INTERRUPTED_STEPS.to_string(),
        ])
        .env_remove("OPENSOC_MODEL")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first step, then interrupt.
    let log = out.join("loss.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&log).map_or(true, |s| s.is_empty()) {
        assert!(start.elapsed().as_secs() < 300, "no step within 5 minutes");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The shell's own `kill`: a fresh machine may lack procps' /bin/kill.
    let kill = format!("kill -INT {}", child.id());
    assert!(Command::new("sh")
        .args(["-c", &kill])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("continue with --resume"), "{err}");
    let done = losses(&out).len();
    assert!(done < INTERRUPTED_STEPS, "stopped early: {done} steps");
    assert!(out.join("checkpoint.bin").is_file());
    let steps = INTERRUPTED_STEPS.to_string();
    ok(&train(
        &train_file(),
        &out,
        &smoke(&["--max-steps", &steps, "--resume"]),
    ));
    assert_eq!(losses(&out).len(), INTERRUPTED_STEPS);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let out = dir.path().join("out");
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("broken.json", "[{\"instruction\": "), "broken.json"),
        (
            write("missing.json", r#"[{"instruction": "x", "output": "y"}]"#),
            "input",
        ),
        (write("empty.json", "[]"), "no examples"),
        (dir.path().join("absent.json"), "absent.json"),
        (write("soc_eval.json", "[]"), "held-out"),
    ];
    for (data, needle) in cases {
        let o = train(&data, &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", data.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{}: {err}", data.display());
    }
    // A response longer than the whole length cap: the example cannot be kept.
    let long = format!(
        r#"[{{"instruction": "Analyze", "input": "x", "output": "THREAT_TYPE: {}"}}]"#,
        "word ".repeat(400)
    );
    let o = train(&write("long.json", &long), &out, &["--max-len", "128"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("skipped 1") && err.contains("no training sequences"),
        "{err}"
    );
}

#[test]
fn an_exploding_loss_stops_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "--limit",
        "4",
        "--batch",
        "1",
        "--accum",
        "1",
        "--epochs",
        "3",
        "--max-len",
        "256",
        "--lr",
        "1e6",
        "--max-grad-norm",
        "1e30",
        "--optim",
        "adamw",
        "--checkpoint-every",
        "1",
        "--warmup-ratio",
        "0",
    ];
    let o = train(&train_file(), &out, &args);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the loss became"), "{err}");
    assert!(err.contains("last good checkpoint"), "{err}");
    assert!(out.join("checkpoint.bin").is_file());
}

#[test]
fn a_failed_checkpoint_write_leaves_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let two = smoke(&["--max-steps", "2"]);
    ok(&train(&train_file(), &out, &two));
    let before = std::fs::read(out.join("checkpoint.bin")).unwrap();
    // The temporary file cannot be created (a directory holds its name), as on a full disk.
    std::fs::create_dir(out.join("checkpoint.bin.tmp")).unwrap();
    let four = smoke(&["--max-steps", "4", "--resume"]);
    let o = train(&train_file(), &out, &four);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("checkpoint.bin.tmp"), "{err}");
    assert_eq!(std::fs::read(out.join("checkpoint.bin")).unwrap(), before);
}

#[test]
fn a_run_started_from_the_shipped_adapter_begins_where_it_left_off() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/adapter"));
    let one_step: &[&str] = &[
        "--limit",
        "4",
        "--batch",
        "4",
        "--accum",
        "1",
        "--max-steps",
        "1",
        "--max-len",
        "512",
    ];
    let fresh = dir.path().join("fresh");
    ok(&train(&train_file(), &fresh, one_step));
    let warm = dir.path().join("warm");
    let init = shipped.to_str().unwrap();
    ok(&train(
        &train_file(),
        &warm,
        &[one_step, &["--init-adapter", init]].concat(),
    ));
    let (f, w) = (losses(&fresh)[0].1, losses(&warm)[0].1);
    // The shipped adapter was tuned on these examples: its first loss is far below a fresh
    // adapter's (B = 0, the base model's own loss).
    assert!(w < f / 4.0, "warm {w} vs fresh {f}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(warm.join("train_report.json")).unwrap())
            .unwrap();
    assert!(report["init_adapter"]
        .as_str()
        .unwrap()
        .ends_with("data/adapter"));
    let bad = train(
        &train_file(),
        &dir.path().join("bad"),
        &["--init-adapter", "/nonexistent"],
    );
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("starting adapter"));
}
