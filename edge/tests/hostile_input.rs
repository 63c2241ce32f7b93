//! `opensoc scan` on input an attacker or an accident puts in a log directory: binary files, a
//! gzip of zeros, UTF-16 text, a line of megabytes, symbolic links among rotated files, and a
//! second spelling of the database. The real binary and the real model.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

#[path = "common/cli.rs"]
mod cli;
use cli::{opensoc, scan_json, stored, text};

/// `opensoc scan --db DB --json FILE`: the exit status, the summary object and stderr.
fn scan(db: &Path, file: &Path) -> (Option<i32>, serde_json::Value, String) {
    scan_json(db, &[file])
}

/// The inputs of the verdicts stored in `db`.
fn stored_inputs(db: &Path) -> Vec<String> {
    stored(db)
        .iter()
        .map(|v| v["input"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Marks a file as written long ago, so that its last line without a newline is taken (a
/// live file's partial line waits for the logger otherwise).
fn age(path: &Path) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("mtime");
}

/// Benign sshd lines (the model reads them as LOW).
fn sshd_lines() -> String {
    (0..5)
        .map(|i| {
            format!(
                "Dec  6 10:0{i}:01 web1 sshd[120{i}]: Accepted publickey for alice from \
                 10.0.0.{i} port 5000{i} ssh2: ED25519 SHA256:abc\n"
            )
        })
        .collect()
}

/// The summary for a failure message, each long string (a stored input) cut short.
fn brief(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if s.chars().count() > 80 => {
            serde_json::Value::String(format!("{}…", s.chars().take(80).collect::<String>()))
        }
        serde_json::Value::Array(a) => a.iter().map(brief).collect(),
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), brief(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

fn findings(summary: &serde_json::Value) -> usize {
    summary["findings"].as_array().map_or(usize::MAX, Vec::len)
}

#[test]
fn a_damaged_evtx_file_is_a_problem_not_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let evtx = dir.path().join("Security.evtx");
    let mut content = b"ElfFile\0".to_vec();
    content.extend(vec![0u8; 70_000]);
    std::fs::write(&evtx, &content).unwrap();
    age(&evtx);
    let db = dir.path().join("x.db");
    let (code, raw, stderr) = scan(&db, &evtx);
    let summary = brief(&raw);
    assert_eq!(
        findings(&summary),
        0,
        "an .evtx stored a finding: {summary}"
    );
    assert_eq!(summary["windows"], 0, "{summary}");
    assert_eq!(
        code,
        Some(2),
        "a file not read must not pass for clean: {summary}\n{stderr}"
    );
    let problems = raw["problems"].to_string();
    // Read as an event log (which it is not), never as text: the problem says so.
    assert!(problems.contains("event log"), "{problems}");
}

#[test]
fn a_gzip_of_zeros_is_a_problem_not_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("app.log.2.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&vec![0u8; 4 << 20]).unwrap();
    enc.finish().unwrap();
    let db = dir.path().join("x.db");
    let (code, raw, stderr) = scan(&db, &gz);
    let summary = brief(&raw);
    assert_eq!(findings(&summary), 0, "zeros stored a finding: {summary}");
    assert_eq!(summary["windows"], 0, "{summary}");
    assert_eq!(code, Some(2), "{summary}\n{stderr}");
    assert!(
        raw["problems"].to_string().contains("binary content"),
        "{summary}"
    );
}

#[test]
fn a_utf16_sshd_log_is_read_as_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut bytes = vec![0xFF, 0xFE];
    for u in sshd_lines().encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    std::fs::write(&log, &bytes).unwrap();
    let db = dir.path().join("x.db");
    let (code, summary, stderr) = scan(&db, &log);
    let summary = brief(&summary);
    assert_eq!(summary["lines"], 5, "{summary}");
    assert_eq!(findings(&summary), 0, "{summary}");
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    let inputs = stored_inputs(&db);
    assert!(
        inputs
            .iter()
            .any(|i| i.contains("Accepted publickey for alice from 10.0.0.4")),
        "the UTF-16 text was not decoded: {}",
        brief(&inputs.clone().into())
    );
    assert!(
        inputs.iter().all(|i| !i.contains('\0')),
        "{}",
        brief(&inputs.into())
    );
}

#[test]
fn a_line_of_megabytes_is_skipped_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut content = vec![b'A'; 3 << 20];
    content.push(b'\n');
    content.extend(sshd_lines().lines().next().unwrap().as_bytes());
    content.push(b'\n');
    std::fs::write(&log, &content).unwrap();
    let db = dir.path().join("x.db");
    let (code, summary, stderr) = scan(&db, &log);
    let summary = brief(&summary);
    assert_eq!(
        findings(&summary),
        0,
        "a line of 3 MiB of A stored a finding: {summary}"
    );
    // The rest of the long line is not read as further lines; the next line is.
    assert_eq!(summary["lines"], 1, "{summary}");
    assert_eq!(summary["bytes"], content.len(), "{summary}");
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    let inputs = stored_inputs(&db);
    assert!(
        inputs.iter().all(|i| !i.contains("AAAA")),
        "{}",
        brief(&inputs.into())
    );
}

#[test]
fn a_symlinked_rotated_sibling_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "root:$6$topsecrethash:19000:0:99999:7:::\n").unwrap();
    std::fs::write(logs.join("app.log"), sshd_lines()).unwrap();
    std::os::unix::fs::symlink(&secret, logs.join("app.log.1")).unwrap();
    let db = dir.path().join("x.db");
    let (code, summary, stderr) = scan(&db, &logs.join("app.log"));
    let summary = brief(&summary);
    let inputs = stored_inputs(&db);
    assert!(
        inputs.iter().all(|i| !i.contains("topsecrethash")),
        "a file outside the log directory was read through a link: {inputs:?}"
    );
    assert_eq!(summary["files"], 1, "{summary}");
    assert_eq!(code, Some(2), "{summary}\n{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
}

#[test]
fn a_symlink_to_the_database_is_the_same_database_for_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, sshd_lines()).unwrap();
    let db = dir.path().join("x.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    drop(opensoc_edge::store::sqlite::Store::open(&db).unwrap());
    let _held = opensoc_edge::store::lock::RunLock::acquire(&db).unwrap();
    let out = opensoc()
        .args(["scan", "--db"])
        .arg(&link)
        .arg(&log)
        .output()
        .expect("run opensoc");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("another opensoc scan or watch"),
        "{}",
        text(&out.stderr)
    );
}
