//! SIGTERM stops `scan` and `watch` within seconds (systemd waits 90 s, then kills), and what
//! they leave is read by the next run exactly once.
//!
//! The binary tests run the real model on a log of many clients whose windows all differ in
//! their words (the template cache answers none of them), so a stop that waited for a chunk of
//! lines would wait for dozens of model calls. The library test stops the pipeline at each
//! model call in turn with a stand-in judge and checks the resumed run line by line.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opensoc::task::verdict::Verdict;
use opensoc_edge::ingest::{Ingest, IngestConfig, Judge};
use opensoc_edge::store::sqlite::{Store, VerdictFilter};

/// The longest a stop may take after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// Clients in the log, two requests each: one window, one model call apiece.
const CLIENTS: usize = 30;

/// Held by each test that runs the model: the stop waits for the model call in progress, which
/// takes twice as long when two runs share the cores.
static MODEL: Mutex<()> = Mutex::new(());

fn model_to_ourselves() -> std::sync::MutexGuard<'static, ()> {
    MODEL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[path = "common/cli.rs"]
mod cli;
#[path = "common/pump.rs"]
mod pump;
use cli::{opensoc, stored, text};

/// `n` in letters (`k` for 0 up to `t` for 9): templates keep words and mask numbers, so each
/// client's requests differ from every other's in their template.
fn letters(n: usize) -> String {
    n.to_string()
        .bytes()
        .map(|d| char::from(d - b'0' + b'k'))
        .collect()
}

/// The path a line requests: unique in the log, and found again in the stored window inputs.
fn path_of(client: usize, i: usize) -> String {
    format!("/catalog/{}/{}.html", letters(client), letters(i))
}

/// Writes an access log of `clients` clients, 30 s apart, two requests each (a window closes
/// as the log moves past its idle time, so windows are judged while the lines are read).
/// Returns every line's path.
fn write_access_log(path: &Path, clients: usize) -> Vec<String> {
    let mut f = std::fs::File::create(path).unwrap();
    let mut paths = Vec::new();
    for k in 0..clients {
        for i in 0..2 {
            let secs = 30 * k + 5 * i;
            let p = path_of(k, i);
            writeln!(
                f,
                "10.{}.{}.{} - - [28/Nov/2026:{:02}:{:02}:{:02} +0000] \"GET {p} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
                k / 250 + 1,
                k % 250 + 1,
                (k * 7) % 250 + 1,
                10 + secs / 3600,
                (secs / 60) % 60,
                secs % 60,
                512 + k
            )
            .unwrap();
            paths.push(p);
        }
    }
    paths
}

/// How many verdicts `db` holds while a run writes it: none until it has created its tables.
/// Read in this process: a command started every few hundred milliseconds would take the
/// cores from the model call whose end the stop waits for.
fn stored_so_far(db: &Path) -> usize {
    if !db.exists() {
        return 0;
    }
    Store::open_read_only(db)
        .ok()
        .and_then(|s| s.verdicts(&VerdictFilter::default()).ok())
        .map_or(0, |v| v.len())
}

/// Waits until `child` has stored a verdict (its signal handler is in place and it is among
/// the model calls), sends SIGTERM, and returns how long it took to exit, or None when it
/// was still running `STOP_WITHIN` later (it is killed then).
fn stop_while_judging(child: &mut Child, db: &Path) -> (Option<Duration>, ExitStatus) {
    let started = Instant::now();
    while stored_so_far(db) == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("exited before storing anything: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no verdict stored in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let signalled = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (Some(signalled.elapsed()), status);
        }
        if signalled.elapsed() > STOP_WITHIN {
            child.kill().unwrap();
            return (None, child.wait().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line of the log is in exactly one stored window: its path is in one stored input,
/// and the windows' line counts add up to the log's lines.
fn assert_every_line_stored_once(db: &Path, paths: &[String]) {
    let verdicts = stored(db);
    let lines: u64 = verdicts.iter().map(|v| v["lines"].as_u64().unwrap()).sum();
    let mut seen: BTreeMap<&str, usize> = paths.iter().map(|p| (p.as_str(), 0)).collect();
    for v in &verdicts {
        let input = v["input"].as_str().unwrap();
        for (p, n) in seen.iter_mut() {
            *n += input.matches(&format!("{p} ")).count();
        }
    }
    let wrong: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        wrong.is_empty(),
        "lines stored other than once (path, times): {wrong:?}"
    );
    assert_eq!(
        lines,
        paths.len() as u64,
        "lines covered by the stored windows"
    );
}

/// The rest, by a scan to the end.
fn finish_with_scan(db: &Path, log: &Path) {
    let out = opensoc()
        .args(["scan", "--db", db.to_str().unwrap(), "--json"])
        .arg(log)
        .output()
        .expect("run opensoc scan");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the resumed scan: {}",
        text(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(summary["interrupted"], false);
}

fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf, Vec<String>) {
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let paths = write_access_log(&log, CLIENTS);
    let db = dir.path().join("v.db");
    (dir, log, db, paths)
}

#[test]
fn sigterm_stops_a_scan_within_seconds_and_the_next_scan_reads_the_rest_once() {
    let _model = model_to_ourselves();
    let (_dir, log, db, paths) = scratch();
    let mut child = opensoc()
        .args(["scan", "--db", db.to_str().unwrap(), "--json"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start opensoc scan");
    let (took, status) = stop_while_judging(&mut child, &db);
    let out = child.wait_with_output().unwrap();
    let took = took.unwrap_or_else(|| {
        panic!(
            "scan still running {STOP_WITHIN:?} after SIGTERM ({} of {CLIENTS} windows stored)",
            stored(&db).len()
        )
    });
    eprintln!("scan stopped {took:?} after SIGTERM");
    assert_eq!(status.code(), Some(130), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(summary["interrupted"], true);
    let first = stored(&db).len();
    assert!(first < CLIENTS, "the stop came before the end: {first}");

    finish_with_scan(&db, &log);
    assert_every_line_stored_once(&db, &paths);
}

#[test]
fn sigterm_stops_watch_within_seconds_and_a_scan_reads_the_rest_once() {
    let _model = model_to_ourselves();
    let (_dir, log, db, paths) = scratch();
    let mut child = opensoc()
        .args(["watch", "--db", db.to_str().unwrap(), "--json"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start opensoc watch");
    let (took, status) = stop_while_judging(&mut child, &db);
    let out = child.wait_with_output().unwrap();
    let took = took.unwrap_or_else(|| {
        panic!(
            "watch still running {STOP_WITHIN:?} after SIGTERM ({} of {CLIENTS} windows stored)",
            stored(&db).len()
        )
    });
    eprintln!("watch stopped {took:?} after SIGTERM");
    assert!(status.success(), "{}", text(&out.stderr));
    let first = stored(&db).len();
    assert!(first < CLIENTS, "the stop came before the end: {first}");

    finish_with_scan(&db, &log);
    assert_every_line_stored_once(&db, &paths);
}

/// Answers every window the same way and sets the stop flag during call `stop_at`, as a
/// signal arriving while the model works would.
struct StoppingJudge {
    calls: usize,
    stop_at: usize,
    stop: Arc<AtomicBool>,
}

impl Judge for StoppingJudge {
    fn judge(&mut self, _input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
        self.calls += 1;
        if self.calls == self.stop_at {
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(cli::stand_in_verdict())
    }
}

/// One run over `log` into `db` as `scan` drives it; stops at model call `stop_at`. Returns
/// the model calls made.
fn library_scan(log: &Path, db: &Path, stop_at: usize) -> usize {
    let store = Store::open(db).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let judge = StoppingJudge {
        calls: 0,
        stop_at,
        stop: stop.clone(),
    };
    let config = IngestConfig {
        use_cache: false,
        ..IngestConfig::default()
    };
    let mut ingest = Ingest::new(store, judge, config);
    ingest.set_stop(stop.clone());
    ingest.refresh(&[log.to_path_buf()]).unwrap();
    if !pump::pump_until_stopped(&mut ingest, &stop, 2_000) {
        ingest.flush().unwrap();
    }
    ingest.judge().calls
}

#[test]
fn a_stop_at_any_model_call_leaves_every_unstored_line_to_the_next_run_once() {
    let clients = 12;
    for stop_at in 1..=clients {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        let paths = write_access_log(&log, clients);
        let db = dir.path().join("v.db");
        let calls = library_scan(&log, &db, stop_at);
        assert_eq!(calls, stop_at, "no model call after the stop");
        library_scan(&log, &db, usize::MAX);
        let store = Store::open(&db).unwrap();
        let verdicts = store.verdicts(&VerdictFilter::default()).unwrap();
        let lines: u32 = verdicts.iter().map(|v| v.verdict.records).sum();
        assert_eq!(lines as usize, paths.len(), "stopped at call {stop_at}");
        for p in &paths {
            let n: usize = verdicts
                .iter()
                .map(|v| v.verdict.input.matches(&format!("{p} ")).count())
                .sum();
            assert_eq!(n, 1, "{p} stored {n} times after a stop at call {stop_at}");
        }
    }
}
