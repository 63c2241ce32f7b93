//! What the tests of the `opensoc` binary share: the binary with no model or database named
//! by the environment, its output as text, and the verdicts a database holds.
//!
//! Each test file includes this with `#[path]`, and not every file uses every function.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The `opensoc` binary; `OPENSOC_MODEL` and `OPENSOC_DB` of the caller's shell do not leak in,
/// nor do the caller's configuration files.
pub fn opensoc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opensoc"));
    c.env_remove("OPENSOC_MODEL")
        .env_remove("OPENSOC_DB")
        .env("OPENSOC_CONFIG", "/dev/null");
    c
}

/// Output bytes as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every verdict `db` holds, as JSON objects (`opensoc verdicts --format json --limit 0`,
/// which lists every severity).
pub fn stored(db: &Path) -> Vec<serde_json::Value> {
    verdicts_json(db, &[])
}

/// The verdicts `opensoc verdicts --format json --db DB ARGS…` lists, which must succeed, as
/// JSON objects; every one of them (`--limit 0`) unless `args` name a `--limit`. `db` is a
/// path or a `postgres://` URL.
pub fn verdicts_json(db: impl AsRef<OsStr>, args: &[&str]) -> Vec<serde_json::Value> {
    let every = if args.contains(&"--limit") {
        &[][..]
    } else {
        &["--limit", "0"][..]
    };
    let out = opensoc()
        .args(["verdicts", "--format", "json", "--db"])
        .arg(db)
        .args(every)
        .args(args)
        .output()
        .expect("run opensoc verdicts");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Waits for `child`, whose stderr is piped, to exit (at most `limit`, else it is killed and
/// `what` named in the panic); its exit code (-1 for a signal) and stderr. The stderr is read
/// as it comes, so that a full pipe never holds the child up.
pub fn finish(mut child: Child, limit: Duration, what: &str) -> (i32, String) {
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for opensoc") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} still runs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().expect("stderr reader");
    (status.code().unwrap_or(-1), stderr)
}

/// The verdict the tests' stand-in judges give every window: benign and fixed, so that a test
/// of the pipeline never waits for the model.
pub fn stand_in_verdict() -> opensoc::task::verdict::Verdict {
    opensoc::task::verdict::Verdict {
        threat_type: "No Threat Detected — Normal Traffic".into(),
        mitre_technique: "N/A".into(),
        technique_name: "N/A".into(),
        mitre_tactic: "N/A".into(),
        severity: opensoc::task::verdict::Severity::Low,
        risk_score: 5,
        evidence: "test".into(),
        impact: "none".into(),
        recommendation: "none".into(),
    }
}

/// `opensoc scan --db DB LOG`, which must neither fail nor find a path it cannot read (exit 0
/// or 1: no findings or some).
pub fn scan_ok(db: &Path, log: &Path) {
    let out = opensoc()
        .args(["scan", "--db"])
        .arg(db)
        .arg(log)
        .output()
        .expect("run opensoc scan");
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
}

/// Appends `lines` to `path` (created if missing), each line with its newline in one write,
/// so that lines appended by several threads at once never interleave.
pub fn append_lines(path: &Path, lines: impl IntoIterator<Item = String>) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the log for appending");
    for line in lines {
        f.write_all(format!("{line}\n").as_bytes())
            .expect("append a line");
    }
}

/// `opensoc scan --store-every-window --json --db DB PATHS…` (every window's row kept, so that
/// a test can read what was stored of each): the exit status, the summary object and stderr.
pub fn scan_json(db: &Path, paths: &[&Path]) -> (Option<i32>, serde_json::Value, String) {
    // The tests share the default model; fetch it once before any run needs it.
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let out = opensoc()
        .args(["scan", "--store-every-window", "--json", "--db"])
        .arg(db)
        .args(paths)
        .output()
        .expect("run opensoc");
    let stderr = text(&out.stderr);
    let summary = serde_json::from_str(text(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {}\n{stderr}", text(&out.stdout)));
    (out.status.code(), summary, stderr)
}
