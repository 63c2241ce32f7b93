//! The systemd journal as an input, with real journals: `systemd-journal-remote` writes journal
//! files from export streams, `journalctl` reads them (`-D DIR`), and the real binary and model
//! judge them. No journald runs here; the tests that need journal files skip (loudly) when
//! `systemd-journal-remote` is missing and `CI` is unset, and fail when `CI=true`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opensoc::task::verdict::Verdict;
use opensoc_edge::ingest::{Ingest, IngestConfig, Judge};
use opensoc_edge::store::sqlite::Store;
use opensoc_edge::tail::journal::JournalQuery;

#[path = "common/cli.rs"]
mod cli;
#[path = "common/pump.rs"]
mod pump;
use cli::{opensoc, text};

/// The attacker of the brute-force burst.
const ATTACKER: &str = "203.0.113.9";

/// 2026-03-05T10:00:00Z: the entries' times count from here.
const BASE: u64 = 1_772_704_800;

/// The boot all test entries come from; with one boot, journalctl orders the entries of
/// several files by their monotonic times, which [`MONOTONIC`] keeps increasing.
const BOOT: &str = "0123456789abcdef0123456789abcdef";

/// The next monotonic time (µs), shared by every journal a test writes.
static MONOTONIC: AtomicU64 = AtomicU64::new(1_000_000);

/// Held by the tests that run the model: two model runs at once on two cores make each slow.
static MODEL: Mutex<()> = Mutex::new(());

fn model_to_ourselves() -> std::sync::MutexGuard<'static, ()> {
    let guard = MODEL.lock().unwrap_or_else(|p| p.into_inner());
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    guard
}

/// One journal entry as the tests write it.
#[derive(Debug, Clone)]
struct Entry {
    /// Seconds after [`BASE`].
    at: u64,
    program: &'static str,
    unit: &'static str,
    pid: u32,
    message: String,
}

impl Entry {
    fn new(at: u64, program: &'static str, unit: &'static str, message: String) -> Self {
        Entry {
            at,
            program,
            unit,
            pid: 1000 + at as u32,
            message,
        }
    }

    /// The entry in the journal export format, as journald would pass it on (no cursor: the
    /// journal file gives each entry its own).
    fn export(&self) -> String {
        let mono = MONOTONIC.fetch_add(1_000_000, Ordering::SeqCst);
        format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={mono}\n_BOOT_ID={BOOT}\n\
             _HOSTNAME=web1\nSYSLOG_IDENTIFIER={}\n_COMM={}\n_PID={}\n_SYSTEMD_UNIT={}\n\
             MESSAGE={}\n\n",
            (BASE + self.at) * 1_000_000,
            self.program,
            self.program,
            self.pid,
            self.unit,
            self.message
        )
    }
}

/// `n` in letters (`k` for 0 up to `t` for 9): templates mask numbers and keep words, so
/// entries with different letters are different templates and never fold into one line.
fn letters(n: u64) -> String {
    n.to_string()
        .bytes()
        .map(|d| char::from(d - b'0' + b'k'))
        .collect()
}

/// Ordinary entries from `at` on, each naming a request of its own (`/catalog/<letters>`).
fn ordinary(at: u64, n: u64) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            let t = at + i * 3;
            match i % 3 {
                0 => Entry::new(
                    t,
                    "CRON",
                    "cron.service",
                    format!("(root) CMD (/usr/local/bin/report /catalog/{})", letters(t)),
                ),
                1 => Entry::new(
                    t,
                    "systemd",
                    "init.scope",
                    format!("Started backup of /catalog/{}.", letters(t)),
                ),
                _ => Entry::new(
                    t,
                    "app",
                    "app.service",
                    format!("served /catalog/{} in time", letters(t)),
                ),
            }
        })
        .collect()
}

/// A burst of `n` failed root logins from [`ATTACKER`], one a second from `at`.
fn burst(at: u64, n: u64) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            Entry::new(
                at + i,
                "sshd",
                "ssh.service",
                format!(
                    "Failed password for root from {ATTACKER} port {} ssh2",
                    40_000 + i
                ),
            )
        })
        .collect()
}

/// `systemd-journal-remote`, which turns an export stream into a journal file: on PATH or in
/// systemd's library directory (Debian puts it in /lib/systemd).
fn journal_remote() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/lib/systemd".into(), "/usr/lib/systemd".into()])
        .map(|d| d.join("systemd-journal-remote"))
        .find(|p| p.is_file())
}

/// `systemd-journal-remote` when it and journalctl are here; else None after saying why on
/// stderr, or a panic under CI, which installs them (`.ci/run`).
fn journal_tools() -> Option<PathBuf> {
    let remote = journal_remote();
    let journalctl = opensoc_edge::tail::journal::journalctl().is_ok();
    match remote {
        Some(r) if journalctl => Some(r),
        _ => {
            let why = "systemd-journal-remote or journalctl is missing \
                       (apt-get install systemd-journal-remote)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI must run the journal tests: {why}"
            );
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

/// A temporary directory holding a journal directory with `entries` written as journal file
/// `a`; the directory and the journal's path.
fn journal_with(remote: &Path, entries: &[Entry]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    write_journal(remote, &journal, "a", entries);
    (dir, journal)
}

/// Writes `entries` into the journal file `DIR/NAME.journal` with systemd-journal-remote.
fn write_journal(remote: &Path, dir: &Path, name: &str, entries: &[Entry]) {
    let stream: String = entries.iter().map(Entry::export).collect();
    let mut child = Command::new(remote)
        .arg(format!(
            "--output={}",
            dir.join(format!("{name}.journal")).display()
        ))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start systemd-journal-remote");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `journalctl -D DIR ARGS…`'s output, which must succeed.
fn journalctl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("journalctl")
        .arg("-D")
        .arg(dir)
        .args(args)
        .output()
        .expect("run journalctl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout
}

/// `opensoc scan --db DB --json ARGS…` with `stdin`; its exit code, summary and stderr.
fn scan(db: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> (i32, serde_json::Value, String) {
    let mut child = opensoc()
        .args(["scan", "--json", "--db"])
        .arg(db)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run opensoc scan");
    if let Some(bytes) = stdin {
        let mut input = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            // The scan may stop reading early (an error): a broken pipe is its answer.
            let _ = input.write_all(&bytes);
        });
    }
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    let summary = serde_json::from_str(text(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {}\n{stderr}", text(&out.stdout)));
    (out.status.code().unwrap_or(-1), summary, stderr)
}

/// Records judged into `db` (stored windows and the windows counted on them).
fn judged(db: &Path) -> u64 {
    if !db.exists() {
        return 0;
    }
    Store::open_read_only(db)
        .ok()
        .and_then(|s| s.records_judged().ok())
        .unwrap_or(0)
}

/// The journal cursor saved in `db` (the only journal read into it).
fn saved_cursor(db: &Path) -> Option<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT cursor FROM journals", [], |r| r.get(0))
        .unwrap()
}

/// Records held in `db` for the next run (read, not judged when a follower stopped).
fn held(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT count(*) FROM held", [], |r| r.get(0))
        .unwrap()
}

/// The cursor of the last entry `journalctl -D DIR` lists.
fn last_cursor(dir: &Path) -> String {
    let out = text(&journalctl(dir, &["-o", "export"]));
    out.lines()
        .rev()
        .find_map(|l| l.strip_prefix("__CURSOR="))
        .expect("a cursor")
        .to_string()
}

/// The brute force and the ordinary entries around it.
fn attack_journal() -> Vec<Entry> {
    let mut entries = ordinary(0, 6);
    entries.extend(burst(20, 12));
    entries.extend(ordinary(40, 6));
    entries
}

/// The findings of a scan summary that name `entity`.
fn findings_of<'a>(summary: &'a serde_json::Value, entity: &str) -> Vec<&'a serde_json::Value> {
    summary["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["entity"].as_str().is_some_and(|e| e.contains(entity)))
        .collect()
}

#[test]
fn journalctl_json_and_export_on_stdin_find_the_brute_force() {
    let Some(remote) = journal_tools() else {
        return;
    };
    let _model = model_to_ourselves();
    let entries = attack_journal();
    let (dir, journal) = journal_with(&remote, &entries);
    let mut windows = Vec::new();
    for format in ["json", "export"] {
        let db = dir.path().join(format!("{format}.db"));
        let output = journalctl(&journal, &["-o", format]);
        let (code, summary, stderr) = scan(&db, &["-"], Some(output));
        assert_eq!(code, 1, "findings exit 1 ({format}): {stderr}\n{summary}");
        assert_eq!(summary["lines"], entries.len(), "{format}: {summary}");
        assert_eq!(
            summary["records_by_format"]["syslog"],
            entries.len(),
            "every entry is a syslog line ({format}): {summary}"
        );
        assert_eq!(judged(&db), entries.len() as u64, "{format}");
        let brute = findings_of(&summary, ATTACKER);
        assert_eq!(brute.len(), 1, "{format}: {summary}");
        assert!(
            ["HIGH", "CRITICAL"].contains(&brute[0]["severity"].as_str().unwrap()),
            "{format}: {}",
            brute[0]
        );
        let input = brute[0]["input"].as_str().unwrap();
        assert!(
            input.contains("web1 sshd[1020]: Failed password for root from 203.0.113.9"),
            "{format}: {input}"
        );
        assert!(input.contains("2026-03-05T10:00:20Z"), "{format}: {input}");
        // The ordinary entries raise nothing.
        assert_eq!(
            summary["findings"].as_array().unwrap().len(),
            1,
            "{format}: {summary}"
        );
        windows.push(summary["windows"].clone());
    }
    assert_eq!(windows[0], windows[1], "both formats make the same windows");
}

#[test]
fn scan_journal_dir_stores_each_entry_once_and_then_only_new_entries() {
    let Some(remote) = journal_tools() else {
        return;
    };
    let _model = model_to_ourselves();
    let first = attack_journal();
    let (dir, journal) = journal_with(&remote, &first);
    let db = dir.path().join("v.db");
    let dir_arg = journal.to_str().unwrap();

    let (code, summary, stderr) = scan(&db, &["--journal-dir", dir_arg], None);
    assert_eq!(code, 1, "findings: {stderr}");
    assert_eq!(summary["lines"], first.len(), "{summary}");
    assert_eq!(findings_of(&summary, ATTACKER).len(), 1, "{summary}");
    let canonical = journal.canonicalize().unwrap();
    assert_eq!(
        summary["findings"][0]["source"],
        format!("journal:{}", canonical.display())
    );
    assert_eq!(judged(&db), first.len() as u64);
    assert_eq!(saved_cursor(&db), Some(last_cursor(&journal)));

    let (code, summary, stderr) = scan(&db, &["--journal-dir", dir_arg], None);
    assert_eq!(code, 0, "nothing new: {stderr}");
    assert_eq!(summary["lines"], 0, "{summary}");
    assert_eq!(judged(&db), first.len() as u64);

    // journald rotated: a second file with later entries.
    let second = ordinary(100, 5);
    write_journal(&remote, &journal, "b", &second);
    let (code, summary, stderr) = scan(&db, &["--journal-dir", dir_arg], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        summary["lines"],
        second.len(),
        "only the new entries: {summary}"
    );
    assert_eq!(judged(&db), (first.len() + second.len()) as u64);
    assert_eq!(saved_cursor(&db), Some(last_cursor(&journal)));

    // A unit selection has a cursor of its own: sshd's entries, once.
    let (code, summary, stderr) = scan(&db, &["--journal-dir", dir_arg, "--journal", "ssh"], None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary["lines"], 12, "{summary}");
    let (_, summary, _) = scan(&db, &["--journal-dir", dir_arg, "--journal", "ssh"], None);
    assert_eq!(summary["lines"], 0, "{summary}");
}

/// Sends SIGTERM to `child` and waits (at most 10 s) for it to exit.
fn terminate(child: &mut Child) -> ExitStatus {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("watch still runs 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `db` holds `n` judged records (at most 5 minutes).
fn wait_for_judged(db: &Path, n: u64, child: &mut Child) {
    let started = Instant::now();
    while judged(db) < n {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "watch exited ({status}) with {} of {n} records judged",
                judged(db)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} of {n} records judged after 5 minutes",
            judged(db)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_watch(db: &Path, journal: &Path) -> Child {
    opensoc()
        .args(["watch", "--json", "--idle-secs", "3", "--db"])
        .arg(db)
        .arg("--journal-dir")
        .arg(journal)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start opensoc watch")
}

#[test]
fn watch_journal_stopped_by_sigterm_and_restarted_judges_each_entry_once() {
    let Some(remote) = journal_tools() else {
        return;
    };
    let _model = model_to_ourselves();
    let a = attack_journal();
    let (dir, journal) = journal_with(&remote, &a);
    let db = dir.path().join("v.db");

    let mut watch = start_watch(&db, &journal);
    wait_for_judged(&db, a.len() as u64, &mut watch);
    // New entries while it follows; the stop comes before their windows go idle (3 s), so
    // their records wait in the database for the next run.
    let b = ordinary(200, 6);
    write_journal(&remote, &journal, "b", &b);
    std::thread::sleep(Duration::from_millis(1500));
    let status = terminate(&mut watch);
    let (_, stderr) = cli::finish(watch, Duration::from_secs(1), "watch");
    assert!(status.success(), "{stderr}");
    eprintln!(
        "after the stop: {} records judged, {} held for the next run",
        judged(&db),
        held(&db)
    );

    let mut watch = start_watch(&db, &journal);
    let c = burst(300, 6);
    write_journal(&remote, &journal, "c", &c);
    let total = (a.len() + b.len() + c.len()) as u64;
    wait_for_judged(&db, total, &mut watch);
    // A little longer: nothing more may come.
    std::thread::sleep(Duration::from_secs(2));
    let status = terminate(&mut watch);
    let (_, stderr) = cli::finish(watch, Duration::from_secs(1), "watch");
    assert!(status.success(), "{stderr}");
    assert_eq!(judged(&db), total, "each entry judged once");
    assert_eq!(held(&db), 0);
    assert_eq!(saved_cursor(&db), Some(last_cursor(&journal)));

    let (code, summary, stderr) = scan(&db, &["--journal-dir", journal.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["lines"], 0, "{summary}");
}

/// Answers every window the same way, notes each window's input, and sets the stop flag
/// during call `stop_at`, as a signal arriving while the model works would.
struct StoppingJudge {
    calls: usize,
    stop_at: usize,
    stop: Arc<AtomicBool>,
    inputs: Vec<String>,
}

impl Judge for StoppingJudge {
    fn judge(&mut self, input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
        self.calls += 1;
        self.inputs.push(input.to_string());
        if self.calls == self.stop_at {
            self.stop.store(true, Ordering::SeqCst);
        }
        Ok(cli::stand_in_verdict())
    }
}

/// One `scan --journal-dir` as the library runs it, stopped at model call `stop_at` (then the
/// open windows are held, as `scan` does on a signal) or, with `crash`, dropped there without
/// a word (as a kill would leave it). Returns the inputs judged.
fn library_scan(journal: &Path, db: &Path, stop_at: usize, crash: bool) -> Vec<String> {
    let store = Store::open(db).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let judge = StoppingJudge {
        calls: 0,
        stop_at,
        stop: stop.clone(),
        inputs: Vec::new(),
    };
    let config = IngestConfig {
        use_cache: false,
        ..IngestConfig::default()
    };
    let mut ingest = Ingest::new(store, judge, config);
    ingest.set_stop(stop.clone());
    ingest.refresh(&[]).unwrap();
    let query = JournalQuery {
        directory: Some(journal.to_path_buf()),
        ..JournalQuery::default()
    };
    ingest.add_journal(&query, None).unwrap();
    // Small chunks: checkpoints and cursors are written between them.
    if !pump::pump_until_stopped(&mut ingest, &stop, 5) {
        ingest.flush().unwrap();
    } else if !crash {
        ingest.suspend().unwrap();
    }
    ingest.judge().inputs.clone()
}

#[test]
fn a_journal_stopped_or_killed_at_any_model_call_is_read_on_once() {
    let Some(remote) = journal_tools() else {
        return;
    };
    // Entries whose requests all differ, of interleaving entities (the windows of several
    // entities close out of order, so committed spans lie past the checkpoint).
    let mut entries = Vec::new();
    for i in 0..24u64 {
        let client = ["10.0.0.1", "10.0.0.2", "10.0.0.3"][(i % 3) as usize];
        entries.push(Entry::new(
            i * 30,
            "app",
            "app.service",
            format!("request /catalog/{} from {client} served", letters(i)),
        ));
    }
    let marker = |i: u64| format!("/catalog/{} ", letters(i));
    // Stopped (open windows held), killed after a commit, and killed between a checkpoint's
    // commit and its cursor's (the saved cursor lags: here, none was saved yet).
    for (how, crash, forget_cursor) in [
        ("stop", false, false),
        ("kill", true, false),
        ("kill before the cursor was saved", true, true),
    ] {
        for stop_at in 1..=6 {
            let (dir, journal) = journal_with(&remote, &entries);
            let db = dir.path().join("v.db");
            // Killed: what the run judged was committed (a window's verdict is stored before
            // the loop looks at the stop flag), the rest is read again.
            let mut inputs = library_scan(&journal, &db, stop_at, crash);
            assert!(inputs.len() <= stop_at);
            if forget_cursor {
                let c = rusqlite::Connection::open(&db).unwrap();
                c.execute("UPDATE journals SET cursor = NULL, cursor_off = 0", [])
                    .unwrap();
            }
            inputs.extend(library_scan(&journal, &db, usize::MAX, false));
            let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
            for i in 0..entries.len() as u64 {
                let n = inputs.iter().map(|t| t.matches(&marker(i)).count()).sum();
                seen.insert(i, n);
            }
            let wrong: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
            assert!(
                wrong.is_empty(),
                "entries judged other than once (entry, times) after a {how} at call {stop_at}: \
                 {wrong:?}"
            );
            let store = Store::open(&db).unwrap();
            assert_eq!(store.records_judged().unwrap(), entries.len() as u64);
        }
    }
}

#[test]
fn bad_input_on_stdin_binary_huge_truncated_and_byte_array_messages() {
    let _model = model_to_ourselves();
    let dir = tempfile::tempdir().unwrap();
    let entry = |at: u64, msg: &str| {
        format!(
            "__CURSOR=s=1;i={at}\n__REALTIME_TIMESTAMP={}\n_HOSTNAME=web1\n\
             SYSLOG_IDENTIFIER=app\n_PID=7\nMESSAGE={msg}\n\n",
            (BASE + at) * 1_000_000
        )
    };

    // A binary message with a newline and an escape sequence: one record, escaped.
    let mut stream = entry(1, "served /catalog/kl in time").into_bytes();
    stream.extend_from_slice(b"__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1772704802000000\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER=app\nMESSAGE\n");
    let value = b"first line\nINJECTED 2026-03-05T10:00:02Z web1 sshd[1]: Accepted\x1b[2J";
    stream.extend_from_slice(&(value.len() as u64).to_le_bytes());
    stream.extend_from_slice(value);
    stream.extend_from_slice(b"\n\n");
    let db = dir.path().join("binary.db");
    let (code, summary, stderr) = scan(&db, &["-", "--store-every-window"], Some(stream));
    assert!(code < 2, "{stderr}");
    assert_eq!(summary["lines"], 2, "{summary}");
    let stored = cli::stored(&db);
    let inputs: String = stored
        .iter()
        .map(|v| v["input"].as_str().unwrap())
        .collect();
    assert!(
        inputs.contains(
            "web1 app: first line\\nINJECTED 2026-03-05T10:00:02Z web1 sshd[1]: Accepted\\x1b[2J"
        ),
        "{inputs}"
    );
    assert_eq!(judged(&db), 2);

    // A 1 GiB binary field, streamed: read past with bounded memory, its line skipped.
    let db = dir.path().join("huge.db");
    let mut child = opensoc()
        .args(["scan", "--json", "--db"])
        .arg(&db)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let head = entry(1, "served /catalog/kl in time");
    let writer = std::thread::spawn(move || {
        input.write_all(head.as_bytes())?;
        input.write_all(b"__REALTIME_TIMESTAMP=1772704802000000\nMESSAGE\n")?;
        let size: u64 = 1 << 30;
        input.write_all(&size.to_le_bytes())?;
        let chunk = vec![b'A'; 1 << 20];
        for _ in 0..(size >> 20) {
            input.write_all(&chunk)?;
        }
        input.write_all(b"\n\n")?;
        input.write_all(entry(3, "served /catalog/km in time").as_bytes())
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().expect("the whole stream was read");
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        text(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(summary["lines"], 2, "the huge entry is skipped: {summary}");
    assert_eq!(judged(&db), 2);
    // SAFETY: getrusage(2) fills the struct it is given.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage.ru_maxrss
    };
    assert!(
        peak_kib < 900 * 1024,
        "the largest child held {peak_kib} KiB: the 1 GiB field was kept"
    );

    // Cut inside an entry: the entries before it are stored, the scan says what happened.
    let mut stream = entry(1, "served /catalog/kl in time").into_bytes();
    let cut = entry(2, "served /catalog/km in time");
    stream.extend_from_slice(&cut.as_bytes()[..cut.len() - 12]);
    let db = dir.path().join("truncated.db");
    let (code, summary, stderr) = scan(&db, &["-"], Some(stream));
    assert_eq!(code, 2, "a cut stream is an error: {stderr}");
    assert!(stderr.contains("ends inside an entry"), "{stderr}");
    assert_eq!(summary["lines"], 1, "{summary}");
    assert_eq!(judged(&db), 1);

    // journalctl -o json: a message that is not UTF-8 comes as an array of bytes; one over
    // 4 KiB as null (nothing to judge).
    let json = [
        r#"{"__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1772704801000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"app","_PID":"7","MESSAGE":[115,101,114,118,101,100,32,255,10,98,121,101]}"#,
        r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1772704802000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"app","_PID":"7","MESSAGE":null}"#,
    ]
    .join("\n");
    let db = dir.path().join("json.db");
    let (code, summary, stderr) =
        scan(&db, &["-", "--store-every-window"], Some(json.into_bytes()));
    assert!(code < 2, "{stderr}");
    assert_eq!(summary["records_by_format"]["syslog"], 1, "{summary}");
    let stored = cli::stored(&db);
    assert_eq!(stored.len(), 1);
    let input = stored[0]["input"].as_str().unwrap();
    assert!(
        input.contains("2026-03-05T10:00:01Z web1 app[7]: served \u{fffd}\\nbye"),
        "{input}"
    );
}

#[test]
fn without_journalctl_the_journal_flags_fail_clearly_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("bin");
    std::fs::create_dir(&empty).unwrap();
    for command in ["scan", "watch"] {
        let out = opensoc()
            .args([command, "--db"])
            .arg(dir.path().join("v.db"))
            .arg("--journal-dir")
            .arg(dir.path())
            .env("PATH", &empty)
            .env("OPENSOC_MODEL", dir.path().join("no-model.gguf"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("journalctl not found"),
            "{command}: {stderr}"
        );
    }
    // A path typed after --journal is no unit.
    let out = opensoc()
        .args(["scan", "--db"])
        .arg(dir.path().join("v.db"))
        .args(["--journal", "/var/log/auth.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("put log paths before --journal"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_store_keeps_one_record_per_journal_selection_with_its_cursor_through_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("v.db")).unwrap();
    let name = "journalctl -D /srv/web1 -u ssh";
    let first = store
        .journal(name, Path::new(name), "journal:/srv/web1")
        .unwrap();
    assert_eq!((first.checkpoint, first.cursor.clone()), (0, None));
    store.set_checkpoints(&[(first.file, 300)]).unwrap();
    store
        .set_journal_cursor(first.file, "s=1;i=9", 280)
        .unwrap();
    let other = store
        .journal("journalctl", Path::new("journalctl"), "journal")
        .unwrap();
    assert_ne!(other.file, first.file, "another selection, another record");
    // Retention deletes file records not seen for its days, never a journal's.
    store.prune(i64::MAX / 2).unwrap();
    let again = store
        .journal(name, Path::new(name), "journal:/srv/web1")
        .unwrap();
    assert_eq!(again.file, first.file);
    assert_eq!(again.checkpoint, 300);
    assert_eq!(again.cursor, Some(("s=1;i=9".to_string(), 280)));
}
