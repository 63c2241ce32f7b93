//! `opensoc scan`, `watch`, `verdicts` and `report` as a user runs them: the real binary, the
//! real model, the project's sample logs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "common/cli.rs"]
mod cli;
use cli::{append_lines, opensoc, scan_ok, stored, text};

fn run(args: &[&str]) -> Output {
    // The tests share the default model; fetch it once before any run needs it.
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    opensoc().args(args).output().expect("run opensoc")
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/samples")
}

/// Copies the samples into a scratch directory (scans follow the files' identities, and
/// tests append to them).
fn scratch_samples(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for name in ["access.log", "auth.log", "windows-security.txt"] {
        std::fs::copy(samples().join(name), logs.join(name)).unwrap();
    }
    logs
}

/// Both caches (a window's signature, and the benign-record memory: every template of the
/// window in a window the model judged benign) give each window of the samples the category
/// and severity the model gives it when it judges every window itself.
#[test]
fn the_caches_and_batches_give_the_verdicts_the_model_gives() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    // Files written an hour ago: a file written just now keeps its last record back for a
    // minute (it may be mid-write), which would window the two scans differently.
    for name in ["access.log", "auth.log", "windows-security.txt"] {
        std::fs::File::options()
            .append(true)
            .open(logs.join(name))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    }
    let scan = |db: &Path, extra: &[&str]| -> (serde_json::Value, Vec<serde_json::Value>) {
        let mut args = vec!["scan", "--json", "--store-every-window", "--db"];
        args.push(db.to_str().unwrap());
        args.extend_from_slice(extra);
        args.push(logs.to_str().unwrap());
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let summary = serde_json::from_str(text(&out.stdout).trim()).expect("one JSON object");
        (summary, stored(db))
    };
    let (model_summary, model) = scan(&dir.path().join("model.db"), &["--no-cache"]);
    let (summary, cached) = scan(&dir.path().join("cached.db"), &[]);
    assert_eq!(model_summary["cache_hits"], 0, "{model_summary}");
    assert!(summary["record_hits"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        summary["cache_hits"].as_u64().unwrap() > summary["record_hits"].as_u64().unwrap(),
        "{summary}"
    );
    let key = |v: &serde_json::Value| (v["source"].to_string(), v["input"].to_string());
    let judged = |v: &serde_json::Value| (v["category"].to_string(), v["severity"].to_string());
    let mut by_window: std::collections::HashMap<_, Vec<_>> = std::collections::HashMap::new();
    for v in &model {
        by_window.entry(key(v)).or_default().push(judged(v));
    }
    assert_eq!(cached.len(), model.len());
    for v in &cached {
        let want = by_window
            .get_mut(&key(v))
            .and_then(|w| w.pop())
            .unwrap_or_else(|| panic!("a window only the cached scan has: {v}"));
        assert_eq!(
            judged(v),
            want,
            "the model judged this window otherwise: {v}"
        );
    }
    // Windows judged in batches get the rows, in the order, that one at a time gets.
    let (batched_summary, batched) = scan(&dir.path().join("batched.db"), &["--batch", "8"]);
    assert!(
        batched_summary["batches"].as_u64().unwrap() > 0,
        "{batched_summary}"
    );
    assert_eq!(summary["batches"], 0, "one window at a time by default");
    let row = |v: &serde_json::Value| {
        [
            "source",
            "entity",
            "input",
            "threat_type",
            "severity",
            "evidence",
            "cached_from",
        ]
        .map(|k| v[k].to_string())
    };
    assert_eq!(batched.len(), cached.len());
    for (b, c) in batched.iter().zip(&cached) {
        assert_eq!(row(b), row(c), "batched: {b}\none at a time: {c}");
    }
    for k in ["model_calls", "cache_hits", "record_hits", "windows"] {
        assert_eq!(batched_summary[k], summary[k], "{k}");
    }
}

#[test]
fn scan_finds_the_attacks_in_the_samples_and_a_second_scan_has_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    let db = dir.path().join("v.db");
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--json",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings exit 1: {}",
        text(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(text(&out.stdout).trim()).expect("one JSON object");
    assert_eq!(summary["files"], 3);
    let lines = summary["lines"].as_u64().unwrap();
    let expected: usize = ["access.log", "auth.log", "windows-security.txt"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(logs.join(n))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(lines as usize, expected);
    let windows = summary["windows"].as_u64().unwrap();
    assert!(windows >= 10, "{summary}");
    assert_eq!(
        windows,
        summary["model_calls"].as_u64().unwrap() + summary["cache_hits"].as_u64().unwrap()
    );
    let findings = summary["findings"].as_array().unwrap();
    let found = |entity: &str| {
        findings
            .iter()
            .any(|f| f["entity"].as_str().is_some_and(|e| e.contains(entity)))
    };
    // The password-guessing bursts (on sshd, on the shop's login form) and the scanner, whose
    // requests carry a browser's user agent (the seed-only adapter took every such request for
    // benign). The URL-encoded UNION injection is still missed (see the README).
    assert!(found("185.220.101.33"), "{summary}");
    assert!(found("198.51.100.80"), "{summary}");
    assert!(found("203.0.113.45"), "{summary}");
    // Ordinary customers raise nothing.
    for customer in [
        "10.0.0.21",
        "10.0.0.34",
        "192.168.1.15",
        "81.2.69.160",
        "92.40.12.7",
    ] {
        assert!(!found(customer), "{customer} flagged: {summary}");
    }
    // Benign windows from the template cache are counted, not stored: the rows and the
    // counted copies make up the windows.
    let copies = summary["benign_copies"].as_u64().unwrap();
    assert!(copies > 0, "{summary}");
    assert_eq!(stored(&db).len() as u64 + copies, windows);

    let again = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--json",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let s2: serde_json::Value = serde_json::from_str(text(&again.stdout).trim()).unwrap();
    assert_eq!(s2["lines"], 0);
    assert_eq!(s2["windows"], 0);
    // Benign windows from the template cache are counted, not stored: the rows and the
    // counted copies make up the windows.
    let copies = summary["benign_copies"].as_u64().unwrap();
    assert!(copies > 0, "{summary}");
    assert_eq!(stored(&db).len() as u64 + copies, windows);
}

#[test]
fn verdicts_and_report_read_the_database_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    let db = dir.path().join("v.db");
    let dbs = db.to_str().unwrap();
    let auth = logs.join("auth.log");
    let out = run(&["scan", "--db", dbs, auth.to_str().unwrap()]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    let human = text(&out.stdout);
    assert!(human.contains("scanned 1 file"), "{human}");

    let all = stored(&db);
    assert!(!all.is_empty());
    for v in &all {
        for key in [
            "threat_type",
            "category",
            "mitre_technique",
            "severity",
            "evidence",
            "input",
        ] {
            assert!(v[key].is_string(), "{key} in {v}");
        }
    }
    let high = run(&[
        "verdicts",
        "--db",
        dbs,
        "--format",
        "json",
        "--min-severity",
        "HIGH",
    ]);
    for l in text(&high.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(
            ["HIGH", "CRITICAL"].contains(&v["severity"].as_str().unwrap()),
            "{v}"
        );
    }
    let csv = run(&["verdicts", "--db", dbs, "--format", "csv", "--limit", "0"]);
    let csv = text(&csv.stdout);
    assert!(csv.starts_with("id,first_time,"), "{csv}");
    let table = run(&["verdicts", "--db", dbs]);
    assert!(
        text(&table.stdout).starts_with("id "),
        "{}",
        text(&table.stdout)
    );
    let none = run(&["verdicts", "--db", dbs, "--since", "2999-01-01"]);
    assert!(text(&none.stdout).contains("no verdicts match"));

    let report = run(&["report", "--db", dbs, "--json"]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let r: serde_json::Value = serde_json::from_str(text(&report.stdout).trim()).unwrap();
    // The report counts every window: the stored verdicts and the benign copies counted on
    // them, which each verdict's JSON gives.
    let copies: u64 = all.iter().map(|v| v["copies"].as_u64().unwrap()).sum();
    assert!(copies > 0);
    assert_eq!(r["copies"].as_u64().unwrap(), copies);
    assert_eq!(r["verdicts"].as_u64().unwrap(), all.len() as u64 + copies);
    let by_sev: u64 = r["by_severity"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_sev, all.len() as u64 + copies);
    let report = run(&["report", "--db", dbs]);
    let t = text(&report.stdout);
    assert!(t.contains("by severity") && t.contains("timeline"), "{t}");

    let bad = run(&["verdicts", "--db", dbs, "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("cannot read the time"),
        "{}",
        text(&bad.stderr)
    );
    let missing = run(&[
        "verdicts",
        "--db",
        dir.path().join("none.db").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        !dir.path().join("none.db").exists(),
        "verdicts must not create a database"
    );
}

#[test]
fn a_second_agent_on_the_same_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    let db = dir.path().join("v.db");
    let _held = opensoc_edge::store::lock::RunLock::acquire(&db).unwrap();
    let out = run(&["scan", "--db", db.to_str().unwrap(), logs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("another opensoc scan or watch"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_mistyped_or_unusable_database_path_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    // A directory that does not exist is an error, and is not created.
    let typo = dir.path().join("no-such-dir").join("v.db");
    let out = run(&[
        "scan",
        "--db",
        typo.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("no-such-dir").exists());
    // Something that is not a regular file is refused before any lock or journal file
    // appears beside it.
    let not_a_file = dir.path().join("a-directory");
    std::fs::create_dir(&not_a_file).unwrap();
    let out = run(&[
        "scan",
        "--db",
        not_a_file.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not a regular file"),
        "{}",
        text(&out.stderr)
    );
    let beside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("a-directory"))
        .collect();
    assert_eq!(beside, ["a-directory"]);
}

#[test]
fn a_database_locked_by_another_program_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    let db = dir.path().join("v.db");
    drop(opensoc_edge::store::sqlite::Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        logs.join("auth.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("locked"),
        "{}",
        text(&out.stderr)
    );
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    let store = opensoc_edge::store::sqlite::Store::open_read_only(&db).unwrap();
    assert!(store.verdicts(&Default::default()).unwrap().is_empty());
}

#[test]
fn a_read_only_database_is_a_clear_error_and_stays_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    let db = dir.path().join("v.db");
    let first = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        logs.join("auth.log").to_str().unwrap(),
    ]);
    assert!(
        first.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&first.stderr)
    );
    let before = std::fs::read(&db).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(logs.join("auth.log"))
        .unwrap();
    writeln!(
        f,
        "Nov 27 11:00:00 shop-web1 sshd[9]: Failed password for root from 192.0.2.200 port 4 ssh2"
    )
    .unwrap();
    drop(f);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).unwrap();
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        logs.join("auth.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("read-only"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Waits until `db` holds at least `n` verdicts.
fn wait_for_verdicts(db: &Path, n: usize, child: &mut Child) {
    let start = Instant::now();
    loop {
        if db.exists() {
            let store = opensoc_edge::store::sqlite::Store::open_read_only(db);
            if let Ok(s) = store {
                if s.verdicts(&Default::default()).unwrap().len() >= n {
                    return;
                }
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("watch exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no {n} verdicts within 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An access log of `n` windows, each a different client making one request.
fn write_requests(path: &Path, from: usize, n: usize) {
    append_lines(
        path,
        (from..from + n).map(|i| {
            format!(
                "10.1.{}.{} - - [27/Nov/2026:10:{:02}:00 +0000] \"GET /item/{i} HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"",
                i / 200,
                i % 200 + 1,
                i % 60
            )
        }),
    );
}

fn watch(db: &Path, logs: &Path) -> Child {
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    opensoc()
        .args([
            "watch",
            "--db",
            db.to_str().unwrap(),
            "--no-cache",
            "--poll-secs",
            "0.2",
            "--idle-secs",
            "1",
            "--max-lines",
            "1",
            logs.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch")
}

/// Every request line is in exactly one stored window.
fn assert_each_request_once(db: &Path, n: usize) {
    let mut seen = vec![0usize; n];
    for v in stored(db) {
        for part in v["input"].as_str().unwrap().split("GET /item/").skip(1) {
            let i: usize = part.split(' ').next().unwrap().parse().unwrap();
            seen[i] += 1;
        }
    }
    let wrong: Vec<(usize, usize)> = seen
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| *c != 1)
        .collect();
    assert!(wrong.is_empty(), "(line, times stored) not once: {wrong:?}");
}

#[test]
fn kill_9_of_watch_while_it_analyses_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let db = dir.path().join("v.db");
    write_requests(&logs.join("access.log"), 0, 60);
    let mut child = watch(&db, &logs);
    wait_for_verdicts(&db, 5, &mut child);
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let done = stored(&db).len();
    assert!(done < 60, "watch finished before the kill ({done} windows)");
    write_requests(&logs.join("access.log"), 60, 5);
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        logs.to_str().unwrap(),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    assert_each_request_once(&db, 65);
}

#[test]
fn sigterm_stops_watch_cleanly_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let db = dir.path().join("v.db");
    write_requests(&logs.join("access.log"), 0, 40);
    let mut child = watch(&db, &logs);
    wait_for_verdicts(&db, 3, &mut child);
    // A rotation while watch runs: rename, then a new file.
    std::fs::rename(logs.join("access.log"), logs.join("access.log.1")).unwrap();
    write_requests(&logs.join("access.log"), 40, 10);
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("checkpoints written"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        logs.to_str().unwrap(),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    assert_each_request_once(&db, 50);
}

const ACCEPTED: &str =
    "Mar  5 10:00:01 host sshd[1]: Accepted publickey for deploy from 10.0.0.5 port 50000 ssh2\n";

/// A directory `logs` holding one auth log, in a new temporary directory.
fn logs_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("auth.log"), ACCEPTED).unwrap();
    (dir, logs)
}

/// Every stored verdict came from the auth log, none from the database's own files.
fn assert_only_the_log_was_read(db: &Path) {
    let rows = stored(db);
    assert!(!rows.is_empty());
    for r in &rows {
        let source = r["source"].as_str().unwrap_or("");
        assert!(source.ends_with("auth.log"), "read {source} as a log");
    }
}

#[test]
fn a_scan_of_the_directory_that_holds_the_database_never_reads_it() {
    let (dir, logs) = logs_dir();
    // Another spelling of the same database: through a symbolic link to the directory.
    std::os::unix::fs::symlink(&logs, dir.path().join("link")).unwrap();
    let db = dir.path().join("link").join("v.db");
    for _ in 0..2 {
        scan_ok(&db, &logs);
    }
    assert_only_the_log_was_read(&db);
}

#[test]
fn a_scan_through_a_link_to_the_database_never_reads_its_side_files() {
    let (dir, logs) = logs_dir();
    // The database lives among the logs, named through a link from outside: its write-ahead
    // log and lock sit beside the real file, under the real name.
    let real = logs.join("v.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    scan_ok(&real, &logs);
    let more = "Mar  5 10:05:01 host sshd[2]: Accepted publickey for deploy from 10.0.0.6 port 50001 ssh2\n";
    std::fs::write(logs.join("auth.log"), format!("{ACCEPTED}{more}")).unwrap();
    scan_ok(&link, &logs);
    assert_only_the_log_was_read(&real);
}

#[test]
fn a_missing_path_is_an_error_and_the_other_paths_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let logs = scratch_samples(dir.path());
    let db = dir.path().join("v.db");
    let missing = dir.path().join("nonexistent.log");
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        missing.to_str().unwrap(),
        logs.join("auth.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nonexistent.log"),
        "{}",
        text(&out.stderr)
    );
    assert!(!stored(&db).is_empty(), "the readable log is still judged");
}

/// A directory of logs one level down is named on stderr, not silently passed over; the scan
/// still succeeds on what it read.
#[test]
fn a_subdirectory_of_a_scanned_directory_is_named_not_skipped_silently() {
    let (dir, logs) = logs_dir();
    let below = logs.join("old");
    std::fs::create_dir(&below).unwrap();
    std::fs::write(below.join("auth.log"), ACCEPTED).unwrap();
    let db = dir.path().join("v.db");
    let out = run(&[
        "scan",
        "--json",
        "--db",
        db.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c < 2), "{err}");
    assert!(
        err.contains("note: ") && err.contains(below.to_str().unwrap()) && err.contains("not read"),
        "{err}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["skipped_directories"][0], below.to_str().unwrap());
    assert_eq!(summary["problems"].as_array().map(Vec::len), Some(0));
    assert_only_the_log_was_read(&db);
    let sources: Vec<String> = stored(&db)
        .iter()
        .map(|r| r["source"].to_string())
        .collect();
    assert!(sources.iter().all(|s| !s.contains("/old/")), "{sources:?}");
}

/// `scan --quiet` prints nothing when there is nothing to report (cron mails any output), and
/// only the findings when there are some; the exit status is the same as without it.
#[test]
fn a_quiet_scan_prints_only_findings() {
    let (dir, logs) = logs_dir();
    let db = dir.path().join("v.db");
    let quiet = run(&[
        "scan",
        "-q",
        "--db",
        db.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
    assert_eq!(
        text(&quiet.stdout),
        "",
        "nothing to report, nothing printed"
    );
    assert!(
        !stored(&db).is_empty(),
        "the quiet scan still stored its verdicts"
    );

    let samples = scratch_samples(dir.path());
    let db = dir.path().join("w.db");
    let loud = run(&[
        "scan",
        "--quiet",
        "--db",
        db.to_str().unwrap(),
        samples.to_str().unwrap(),
    ]);
    let out = text(&loud.stdout);
    assert_eq!(loud.status.code(), Some(1), "{}", text(&loud.stderr));
    assert!(out.starts_with("findings at or above MEDIUM:"), "{out}");
    assert!(
        !out.contains("scanned ") && !out.contains("verdicts by severity"),
        "{out}"
    );
    // Findings of several files are listed in log time, not file by file.
    let times: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(times.len() >= 3, "{out}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // Without --quiet the totals say how long the scan took and how fast it read.
    let again = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        samples.to_str().unwrap(),
    ]);
    let out = text(&again.stdout);
    assert!(
        out.starts_with("scanned ") && out.lines().next().unwrap().contains(" s"),
        "{out}"
    );
}

#[test]
fn scan_reads_stdin_when_given_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let log = std::fs::read(samples().join("auth.log")).unwrap();
    let mut child = opensoc()
        .args(["scan", "--db", db.to_str().unwrap(), "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(
        s["lines"].as_u64().unwrap() as usize,
        text(&log).lines().count()
    );
    let all = stored(&db);
    assert_eq!(
        all.len() as u64 + s["benign_copies"].as_u64().unwrap(),
        s["windows"].as_u64().unwrap()
    );
    assert!(all.iter().all(|v| v["source"] == "-"));
    let watch = run(&["watch", "--db", db.to_str().unwrap(), "-"]);
    assert_eq!(watch.status.code(), Some(2));
    assert!(
        text(&watch.stderr).contains("opensoc scan -"),
        "{}",
        text(&watch.stderr)
    );
}

#[test]
fn a_single_failed_login_gets_the_same_verdict_from_scan_and_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let line =
        "Mar 15 01:05:33 server sshd[1234]: Failed password for root from 203.0.113.9 port 2222 ssh2";
    std::fs::write(&log, format!("{line}\n")).unwrap();
    let db = dir.path().join("v.db");
    let out = run(&[
        "scan",
        "--db",
        db.to_str().unwrap(),
        "--min-severity",
        "LOW",
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    let rows = stored(&db);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let out = run(&["analyze", "--json", line]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let alone: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // One line is one window whose input is that line: the store and `analyze` agree.
    assert_eq!(rows[0]["input"].as_str(), Some(line));
    for key in ["threat_type", "severity"] {
        assert_eq!(rows[0][key], alone[key], "{key}: {rows:?} vs {alone}");
    }
    assert_ne!(rows[0]["severity"], "HIGH", "one failure is no brute force");
}

/// `opensoc` with `home` as the user's home and no opensoc or XDG directory named, so that the
/// default places are used; the model is the shared one.
fn at_home(home: &Path) -> std::process::Command {
    let model = opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let mut c = opensoc();
    c.env("HOME", home)
        .env("OPENSOC_MODEL", model)
        .env_remove("OPENSOC_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME");
    c
}

#[test]
fn the_history_lives_in_the_data_directory_and_an_earlier_one_is_not_lost() {
    let (dir, logs) = logs_dir();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = at_home(&home).arg("scan").arg(&logs).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let data_db = home.join(".local/share/opensoc/verdicts.db");
    assert!(
        !stored(&data_db).is_empty(),
        "the scan stored its verdicts in {data_db:?}"
    );
    assert!(!home.join(".cache/opensoc/verdicts.db").exists());

    // A history where an earlier version kept it (the cache) is still the one read and
    // written while the data directory holds none, and the user is told where it belongs.
    let old_home = dir.path().join("old");
    let legacy = old_home.join(".cache/opensoc/verdicts.db");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::copy(&data_db, &legacy).unwrap();
    let listed = at_home(&old_home)
        .args(["verdicts", "--json"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(
        text(&listed.stdout).lines().count(),
        stored(&data_db).len(),
        "the earlier history is listed"
    );
    let note = text(&listed.stderr);
    assert!(
        note.contains("note: using the verdict history at")
            && note.contains(".local/share/opensoc/verdicts.db"),
        "{note}"
    );
    assert!(!old_home.join(".local/share/opensoc/verdicts.db").exists());
}

#[test]
fn a_verbose_scan_lists_every_window_and_the_layouts_it_read() {
    let (dir, logs) = logs_dir();
    std::fs::write(logs.join("notes.txt"), "free text without a layout\n").unwrap();
    let db = dir.path().join("v.db");
    let out = run(&[
        "scan",
        "-v",
        "--db",
        db.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let layouts = stdout
        .lines()
        .find(|l| l.starts_with("records by layout: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        layouts.contains("syslog ") && layouts.contains("plain (no known layout) 1"),
        "{layouts}"
    );
    assert!(stdout.contains("windows below MEDIUM:"), "{stdout}");
    let listed = stdout.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(
        listed,
        stored(&db).len(),
        "every stored window is listed: {stdout}"
    );

    let json = run(&[
        "scan",
        "--json",
        "--db",
        db.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(text(&json.stdout).lines().last().unwrap()).unwrap();
    assert!(summary["records_by_format"].is_object(), "{summary}");

    let both = run(&["scan", "-q", "-v", logs.to_str().unwrap()]);
    assert_eq!(both.status.code(), Some(2));
    assert!(
        text(&both.stderr).contains("cannot be used with"),
        "{}",
        text(&both.stderr)
    );
}

#[test]
fn watch_reports_a_burst_of_failed_logins_without_waiting_for_the_idle_time() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let db = dir.path().join("v.db");
    let log = logs.join("auth.log");
    std::fs::write(&log, "").unwrap();
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let mut child = opensoc()
        .args(["watch", "--db", db.to_str().unwrap(), "--poll-secs", "0.2"])
        .args(["--idle-secs", "3600", "--alert-after", "1"])
        .arg(&logs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    std::thread::sleep(Duration::from_millis(500));
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for i in 0..6 {
        writeln!(
            f,
            "Mar  5 10:00:0{i} host sshd[10{i}]: Failed password for root from 203.0.113.9 port 4{i}000 ssh2"
        )
        .unwrap();
    }
    f.write_all(ACCEPTED.replace("10:00:01", "10:00:07").as_bytes())
        .unwrap();
    drop(f);
    // Judged after a second of quiet, well before the hour of idle time.
    wait_for_verdicts(&db, 1, &mut child);
    std::thread::sleep(Duration::from_secs(2));
    let rows = stored(&db);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        rows.len(),
        1,
        "only the burst's window is closed early: {rows:?}"
    );
    assert_eq!(rows[0]["entity"], "ip 203.0.113.9", "{rows:?}");
    assert_eq!(rows[0]["severity"], "HIGH", "{rows:?}");
    // The ordinary login's window is held by the shutdown, and judged by the next run.
    assert_eq!(stored(&db).len(), 1);
    let out = run(&["scan", "--db", db.to_str().unwrap(), logs.to_str().unwrap()]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(stored(&db).len(), 2);
}

#[test]
fn lines_in_open_windows_at_a_stop_survive_their_file_being_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let db = dir.path().join("v.db");
    let log = logs.join("access.log");
    write_requests(&log, 0, 12);
    // No window closes while it runs: an hour of idle time, nothing to alert on.
    let child = opensoc()
        .args(["watch", "--db", db.to_str().unwrap(), "--poll-secs", "0.2"])
        .args(["--idle-secs", "3600"])
        .arg(&logs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    // Once the file is known it is read in the same pass; read, not judged, its checkpoint
    // would stay at 0 without the held lines.
    let start = Instant::now();
    while !opensoc_edge::store::sqlite::Store::open_read_only(&db)
        .and_then(|s| s.known_files())
        .is_ok_and(|f| !f.is_empty())
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "watch never read the log"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stored(&db).is_empty(), "nothing was judged before the stop");

    // Deleted and recreated while opensoc is down (logrotate's `create`).
    std::fs::remove_file(&log).unwrap();
    write_requests(&log, 12, 5);
    // Every window a row of its own, whose input names its requests (benign windows from the
    // template cache are otherwise only counted).
    let out = run(&[
        "scan",
        "--store-every-window",
        "--db",
        db.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    assert_each_request_once(&db, 17);
}
