//! Forwarding as a user runs it, through the JSON lines destination (the syslog and
//! PostgreSQL destinations have their own files, with their real servers): `scan --forward`,
//! `watch --forward`, `opensoc forward` after an outage, the `[forward]` table of the
//! configuration file, and a kill -9 in the middle of a delivery.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use opensoc_edge::store::sqlite::{NewVerdict, Store};

#[path = "common/cli.rs"]
mod cli;
use cli::{append_lines, opensoc, stored, text};

/// A test's scratch directory, with where its database and the JSON lines file it forwards
/// to go (neither made yet).
struct Scratch {
    dir: tempfile::TempDir,
    db: PathBuf,
    sink: PathBuf,
    /// The destination that writes `sink`.
    url: String,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        let sink = dir.path().join("verdicts.jsonl");
        let url = format!("file:{}", sink.display());
        Scratch { dir, db, sink, url }
    }

    /// A copy of the sample auth.log, in a logs directory of its own.
    fn auth_log(&self) -> PathBuf {
        let logs = self.dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join("auth.log");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/samples/auth.log"),
            &log,
        )
        .unwrap();
        log
    }
}

/// Runs `command`, a scan, with the default model, which must neither fail nor find a path
/// it cannot read (exit 0 or 1); its stderr.
fn scan_ok(command: &mut Command) -> String {
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let out = command.output().expect("run opensoc");
    let err = text(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c < 2), "{err}");
    err
}

/// `opensoc forward --db DB --forward URL`, not started.
fn forward(db: &Path, url: &str) -> Command {
    let mut c = opensoc();
    c.args(["forward", "--db"]).arg(db).args(["--forward", url]);
    c
}

/// Runs `opensoc forward`, which must deliver everything (exit 0).
fn forward_ok(db: &Path, url: &str) {
    let out = forward(db, url).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// The JSON lines of `file`, by `opensoc.verdict_id`, with how many times each came.
fn forwarded(file: &Path) -> BTreeMap<i64, (serde_json::Value, usize)> {
    let mut out: BTreeMap<i64, (serde_json::Value, usize)> = BTreeMap::new();
    let text = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the file ends with a whole line"
    );
    for line in text.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        let id = doc["opensoc"]["verdict_id"].as_i64().expect("a verdict id");
        out.entry(id).or_insert((doc, 0)).1 += 1;
    }
    out
}

#[test]
fn scan_forwards_every_stored_verdict_once_in_ecs_names() {
    let s = Scratch::new();
    let log = s.auth_log();
    let scan = || {
        scan_ok(
            opensoc()
                .args(["scan", "--db"])
                .arg(&s.db)
                .args(["--store-every-window", "--forward", &s.url])
                .arg(&log),
        )
    };
    let err = scan();
    assert!(err.contains("it has every stored verdict"), "{err}");
    let rows = stored(&s.db);
    assert!(rows.len() >= 2, "the sample gives several windows");
    let sent = forwarded(&s.sink);
    assert_eq!(sent.len(), rows.len(), "one line per stored verdict");
    let agent = sent.values().next().unwrap().0["agent"]["id"].clone();
    for row in &rows {
        let id = row["id"].as_i64().unwrap();
        let (doc, times) = &sent[&id];
        assert_eq!(*times, 1, "verdict {id} sent once");
        assert_eq!(
            doc["event"]["id"],
            format!("{}:{id}", agent.as_str().unwrap())
        );
        assert_eq!(doc["rule"]["name"], row["threat_type"]);
        assert_eq!(doc["opensoc"]["severity"], row["severity"]);
        assert_eq!(doc["log"]["file"]["path"], row["source"]);
        assert_eq!(doc["agent"]["id"], agent, "one agent id for one store");
        if let Some(ip) = row["entity"]
            .as_str()
            .filter(|e| e.parse::<std::net::IpAddr>().is_ok())
        {
            assert_eq!(doc["source"]["ip"], ip);
        }
    }
    let brute = sent
        .values()
        .find(|(d, _)| d["opensoc"]["severity"] == "HIGH" || d["opensoc"]["severity"] == "CRITICAL")
        .expect("the sample's brute force is forwarded");
    assert_eq!(brute.0["event"]["kind"], "alert");
    assert!(brute.0["threat"]["technique"]["id"][0]
        .as_str()
        .unwrap()
        .starts_with("T1110"));

    // Nothing new: a second scan delivers nothing again; new lines are delivered once.
    scan();
    assert!(forwarded(&s.sink).values().all(|(_, n)| *n == 1));
    append_lines(
        &log,
        (0..6).map(|i| {
            format!(
                "Nov 28 10:00:0{i} shop-web1 sshd[9{i}]: Failed password for root from 198.51.100.{} port 4{i}000 ssh2",
                7
            )
        }),
    );
    scan();
    let sent = forwarded(&s.sink);
    assert_eq!(sent.len(), stored(&s.db).len());
    assert!(sent.values().all(|(_, n)| *n == 1), "no verdict sent twice");
}

#[test]
fn a_bad_destination_fails_before_anything_is_read() {
    let s = Scratch::new();
    let log = s.auth_log();
    for (url, says) in [
        ("http://siem.lan/", "unknown scheme \"http\""),
        (
            "syslog+tls://siem.lan?ca=/nonexistent/ca.pem",
            "cannot read /nonexistent/ca.pem",
        ),
        ("syslog://siem.lan?ca=/etc/hostname", "need syslog+tls://"),
        ("file:", "no file path"),
        ("nope://soc:hunter2@siem.lan", "unknown scheme"),
    ] {
        let out = opensoc()
            .args(["scan", "--db"])
            .arg(&s.db)
            .args(["--forward", url])
            .arg(&log)
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{url}: {err}");
        assert!(!err.contains("hunter2"), "a password is never shown: {err}");
    }
    // Checked before the database was opened, let alone the model loaded.
    assert!(!s.db.exists(), "nothing was opened or read");
}

/// A store holding `n` verdicts made without the model, as an agent would have stored them.
fn synthetic_store(db: &Path, n: usize) {
    let mut store = Store::open(db).unwrap();
    for i in 0..n {
        let v = NewVerdict {
            created_at: 1_764_235_000 + i as i64,
            first_time: Some(1_764_235_000 + i as i64),
            last_time: Some(1_764_235_000 + i as i64),
            source: "/var/log/auth.log".into(),
            entity: Some(format!("203.0.{}.{}", i / 250, i % 250 + 1)),
            records: 3,
            signature: format!("sig-{i}"),
            cached_from: None,
            threat_type: "SSH Brute Force Attack".into(),
            category: "SSH Brute Force Attack".into(),
            technique: "T1110.001".into(),
            tactic: "Credential Access".into(),
            severity: "HIGH".into(),
            risk_score: 80,
            evidence: format!("3 failed logins \u{1b}[2J\n\"]{i}"),
            impact: "account takeover".into(),
            recommendation: "block the address".into(),
            secondary: None,
            input: format!("Failed password for root from 203.0.113.9 {i}"),
        };
        store.commit_window(&v, &[], &[]).unwrap();
    }
}

#[test]
fn a_destination_that_is_down_is_caught_up_later_by_opensoc_forward() {
    let s = Scratch::new();
    synthetic_store(&s.db, 1_200);
    let out_dir = s.dir.path().join("shipper");
    let sink = out_dir.join("verdicts.jsonl");
    let url = format!("file:{}", sink.display());
    // The destination's directory does not exist yet: every try fails.
    let started = Instant::now();
    let out = forward(&s.db, &url).args(["--wait", "2"]).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("1200 verdicts not yet delivered"), "{err}");
    assert!(
        err.contains("No such file or directory"),
        "the cause is named: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "--wait bounds the retries"
    );
    assert!(!sink.exists());
    // Back up: everything arrives, once, in order.
    std::fs::create_dir_all(&out_dir).unwrap();
    forward_ok(&s.db, &url);
    let sent = forwarded(&sink);
    assert_eq!(
        sent.keys().copied().collect::<Vec<_>>(),
        (1..=1_200).collect::<Vec<_>>()
    );
    assert!(sent.values().all(|(_, n)| *n == 1));
    let lines: Vec<i64> = std::fs::read_to_string(&sink)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["opensoc"]["verdict_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "delivered in order");
    // Attacker text stays inside its JSON string.
    let raw = std::fs::read_to_string(&sink).unwrap();
    assert!(!raw.contains('\u{1b}'));
    assert_eq!(raw.lines().count(), 1_200);
}

#[test]
fn a_kill_9_in_the_middle_of_a_delivery_loses_nothing() {
    let s = Scratch::new();
    synthetic_store(&s.db, 30_000);
    let mut child = forward(&s.db, &s.url)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some, not all, have been delivered.
    let started = Instant::now();
    loop {
        let n = std::fs::metadata(&s.sink).map(|m| m.len()).unwrap_or(0);
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing delivered"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The kill may land in the middle of a write: count the whole lines.
    let written = std::fs::read_to_string(&s.sink).unwrap();
    let before = written.matches('\n').count();
    assert!(before < 30_000, "the kill came before the end ({before})");
    forward_ok(&s.db, &s.url);
    let sent = forwarded(&s.sink);
    assert_eq!(sent.len(), 30_000, "every verdict arrived");
    let repeated = sent.values().filter(|(_, n)| *n > 1).count();
    // At least once: at most the batch in flight at the kill comes twice.
    assert!(repeated <= 500, "{repeated} repeated");
    eprintln!("kill -9 mid-delivery: {before} delivered before, {repeated} repeated after");
}

#[test]
fn the_forward_table_of_the_configuration_sets_where_scan_and_watch_deliver() {
    let s = Scratch::new();
    let log = s.auth_log();
    let config = s.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[forward]\nforward = [\"{}\"]\nwait = 1\nquiet = true\n",
            s.url
        ),
    )
    .unwrap();
    scan_ok(
        opensoc()
            .env("OPENSOC_CONFIG", &config)
            .args(["scan", "--db"])
            .arg(&s.db)
            .arg(&log),
    );
    let rows = stored(&s.db);
    assert!(!rows.is_empty());
    assert_eq!(forwarded(&s.sink).len(), rows.len());
    let show = opensoc()
        .env("OPENSOC_CONFIG", &config)
        .args(["config", "show"])
        .output()
        .unwrap();
    let shown = text(&show.stdout);
    assert!(shown.contains("[forward]"), "{shown}");
}

#[test]
fn watch_forwards_as_it_goes_and_stops_within_seconds_of_sigterm() {
    let s = Scratch::new();
    let logs = s.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("access.log");
    append_lines(
        &log,
        (0..3).map(|i| {
            format!(
                "10.9.0.{i} - - [27/Nov/2026:10:00:0{i} +0000] \"GET /?id=1'%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.7\""
            )
        }),
    );
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let mut child = opensoc()
        .args(["watch", "--db"])
        .arg(&s.db)
        .args(["--poll-secs", "0.2", "--idle-secs", "1"])
        .args(["--store-every-window", "--forward", &s.url])
        .arg(&logs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while forwarded(&s.sink).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "three windows forwarded while watch runs"
        );
        assert!(child.try_wait().unwrap().is_none(), "watch exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let asked = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped within 5 s"
    );
    assert!(status.success());
    assert_eq!(forwarded(&s.sink).len(), stored(&s.db).len());
}

#[test]
fn forward_waits_for_no_one_while_another_agent_holds_the_database() {
    let s = Scratch::new();
    synthetic_store(&s.db, 10);
    // A running scan or watch holds the lock; two deliverers would send everything twice.
    let held = opensoc_edge::store::lock::RunLock::acquire(&s.db).unwrap();
    let out = forward(&s.db, &s.url).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("another opensoc"), "{err}");
    assert!(!s.sink.exists(), "nothing was delivered");
    drop(held);
    forward_ok(&s.db, &s.url);
    assert_eq!(forwarded(&s.sink).len(), 10);
}
