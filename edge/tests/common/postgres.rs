//! A PostgreSQL server of the test's own (`initdb` and `pg_ctl` in a temporary directory,
//! through `runuser -u postgres` when the test runs as root), and agents' stores of synthetic
//! verdicts: shared by the tests that forward to PostgreSQL and those that read the fleet.
//! Include it after `common/cli.rs` as `mod cli`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opensoc_edge::store::sqlite::{NewVerdict, Store, StoredVerdict, MAX_INPUT};
use postgres::{Client, NoTls};

use super::cli::text;

// ---------------------------------------------------------------------------------------------
// A PostgreSQL server of the test's own.

/// Where PostgreSQL's server programs are: `pg_config --bindir`, or Debian's versioned
/// directories.
pub fn pg_bin_dir() -> Option<PathBuf> {
    let has_initdb = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(text(&out.stdout).trim());
        if out.status.success() && has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut found: Vec<PathBuf> = glob::glob("/usr/lib/postgresql/*/bin")
        .ok()?
        .flatten()
        .filter(|d| has_initdb(d))
        .collect();
    // The newest version: the directories are named by major version.
    found.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

/// The server programs, or `None` after saying loudly that the test is skipped (outside CI).
pub fn pg_or_skip(test: &str) -> Option<PathBuf> {
    match pg_bin_dir() {
        Some(dir) => Some(dir),
        None if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL is not installed (initdb, pg_ctl), and CI must run {test}")
        }
        None => {
            eprintln!(
                "\n*** SKIPPED {test}: PostgreSQL not installed (apt-get install postgresql) ***\n"
            );
            None
        }
    }
}

/// A port on the loopback that nothing listens on right now, for a server that may start
/// only later in the test. Taken below the kernel's ephemeral range, where no outgoing
/// connection (the forwarder's, the proxy's) and no `bind(0)` can take it meanwhile; the
/// process id spreads concurrent test runs apart.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            r.split_whitespace()
                .next()
                .and_then(|p| p.parse::<usize>().ok())
        })
        .filter(|&p| p > 12_000)
        .unwrap_or(32_768);
    let span = low - 10_000;
    for _ in 0..1_000 {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 10_000 + (std::process::id() as usize * 97 + n * 13) % span;
        if let Ok(port) = u16::try_from(port) {
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    panic!("no free loopback port below {low}");
}

/// A PostgreSQL cluster in a temporary directory, stopped (immediately) when dropped.
pub struct Pg {
    bin: PathBuf,
    /// The cluster's directory: its data, its log and its socket.
    pub dir: tempfile::TempDir,
    /// The loopback port it listens on.
    pub port: u16,
    /// initdb refuses to run as root: when the test is root (CI), the server runs as the
    /// `postgres` user that Debian's package makes.
    as_postgres: bool,
}

impl Pg {
    /// A new cluster (initdb), not started.
    pub fn init(bin: PathBuf) -> Pg {
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::tempdir().expect("temp dir");
        if as_postgres {
            let out = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .output()
                .expect("run chown");
            assert!(out.status.success(), "chown: {}", text(&out.stderr));
        }
        let pg = Pg {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        // UTF8 and the C locale whatever the machine's: the fleet needs UTF8, and C sorts
        // and folds the same everywhere. No fsync: these tests kill processes, not machines.
        let out = pg
            .program("initdb")
            .arg("-D")
            .arg(pg.data())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        pg
    }

    /// A new cluster, started.
    pub fn started(bin: PathBuf) -> Pg {
        let pg = Pg::init(bin);
        pg.start();
        pg
    }

    pub fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `pg_ctl start`, waiting until the server takes connections. After a `kill -9` of the
    /// postmaster, its orphaned backends hold the shared memory a little longer, and the new
    /// server refuses to start until they are gone: tried again for up to 30 s.
    pub fn start(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self
                .program("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .arg("-o")
                .arg(format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                     -c max_connections=120",
                    self.port,
                    self.dir.path().display()
                ))
                .args(["-w", "-t", "20", "start"])
                .output()
                .expect("run pg_ctl start");
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pg_ctl start: {}{}\n{}",
                text(&out.stdout),
                text(&out.stderr),
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// `kill -9` of the postmaster, as an out-of-memory killer or a crash would.
    pub fn kill_postmaster(&self) {
        let pidfile = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .expect("postmaster.pid of a running server");
        let pid: i32 = pidfile
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("a pid on the first line");
        // SAFETY: kill with a pid read from the server's own pid file; no memory involved.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGKILL) },
            0,
            "kill -9 {pid}"
        );
    }

    /// The URL of database `postgres` as user `postgres`, with a password that must never be
    /// shown (trust authentication ignores it).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:s3cret-pw@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The same database through another port (a proxy's).
    pub fn url_via(&self, port: u16) -> String {
        format!("postgres://postgres:s3cret-pw@127.0.0.1:{port}/postgres")
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).expect("connect to the test server")
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self
            .program("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

// ---------------------------------------------------------------------------------------------
// Agents: stores of synthetic verdicts.

/// The `i`th synthetic verdict: severities, categories and sources in a mix the filters can
/// tell apart, log times one second apart (every 7th without log times: the filters' fallback).
pub fn synthetic(i: usize, t0: i64) -> NewVerdict {
    let kinds = [
        (
            "No Threat Detected — Normal Traffic",
            "No Threat Detected",
            "N/A",
            "LOW",
            5,
        ),
        (
            "Brute Force — Password Guessing",
            "Brute Force",
            "T1110.001",
            "HIGH",
            78,
        ),
        (
            "SQL Injection — Union/Boolean SQLi",
            "SQL Injection",
            "T1190",
            "CRITICAL",
            92,
        ),
        (
            "Reconnaissance — Port Scan",
            "Reconnaissance",
            "T1046",
            "MEDIUM",
            45,
        ),
    ];
    let (threat, category, technique, severity, risk) = kinds[i % kinds.len()];
    let t = t0 + i as i64;
    let timed = !i.is_multiple_of(7);
    NewVerdict {
        created_at: t,
        first_time: timed.then_some(t - 3),
        last_time: timed.then_some(t - 1),
        source: if i.is_multiple_of(2) {
            "/var/log/auth.log".into()
        } else {
            "/var/log/nginx/access.log".into()
        },
        entity: (!i.is_multiple_of(5)).then(|| format!("203.0.113.{}", i % 200)),
        records: (i % 9 + 1) as u32,
        signature: format!("template {}", i % 31),
        cached_from: (i % 11 == 3).then_some(1),
        threat_type: threat.into(),
        category: category.into(),
        technique: technique.into(),
        tactic: "Credential Access".into(),
        severity: severity.into(),
        risk_score: risk,
        evidence: format!("evidence of verdict {i}: repeated failures from one address"),
        impact: "Possible unauthorised access.".into(),
        recommendation: "1) Block the address. 2) Review the accounts.".into(),
        secondary: i.is_multiple_of(13).then(|| "Reconnaissance".into()),
        input: format!(
            "Dec  7 04:00:{:02} web01 sshd[{i}]: Failed password for root from 203.0.113.{} port 22 ssh2\n\
             Dec  7 04:00:{:02} web01 sshd[{i}]: Connection closed by 203.0.113.{} [preauth]",
            i % 60,
            i % 200,
            (i + 1) % 60,
            i % 200
        ),
    }
}

/// Verdicts written by an attacker as much as by the analyzer: a NUL (which PostgreSQL text
/// cannot hold), terminal escapes, SQL and CSV injection, reordering marks, quotes and
/// backslashes, and a window at the store's 64 KiB cap.
pub fn hostile(t0: i64) -> Vec<NewVerdict> {
    let base = synthetic(1, t0);
    vec![
        NewVerdict {
            input: "GET /a\0b HTTP/1.1\nuser=\0admin".into(),
            evidence: "a NUL \0 in the evidence".into(),
            entity: Some("ev\0il".into()),
            ..base.clone()
        },
        NewVerdict {
            source: "/var/log/\u{1b}[2J\u{1b}]0;owned\u{7}evil.log".into(),
            entity: Some("\u{1b}[31mroot\u{1b}[0m".into()),
            threat_type: "Brute Force — \u{202e}gnissseuG".into(),
            ..base.clone()
        },
        NewVerdict {
            evidence: "'; DROP TABLE opensoc_verdicts; -- \" \\ $1 %s".into(),
            recommendation: "=HYPERLINK(\"http://evil.example\",\"click\")".into(),
            secondary: Some("x', 'y'); DELETE FROM opensoc_agents; --".into()),
            ..base.clone()
        },
        NewVerdict {
            input: "é".repeat(MAX_INPUT / 2 + 100),
            ..base.clone()
        },
        NewVerdict {
            input: "COMMIT\0COMMIT".into(),
            ..base
        },
    ]
}

/// An agent: a store at `path` with `n` synthetic verdicts (and the hostile ones when asked),
/// made at unix second `t0` on. Returns the agent id and the verdicts as the store holds them.
pub fn agent_store(
    path: &Path,
    n: usize,
    with_hostile: bool,
    t0: i64,
) -> (String, Vec<StoredVerdict>) {
    let mut store = Store::open(path).expect("open the agent's store");
    if with_hostile {
        for v in hostile(t0) {
            store.commit_window(&v, &[], &[]).expect("store a verdict");
        }
    }
    for i in 0..n {
        store
            .commit_window(&synthetic(i, t0), &[], &[])
            .expect("store a verdict");
    }
    let held = store.verdicts_after(0, usize::MAX).expect("read the store");
    (store.agent_id().expect("agent id"), held)
}

/// An agent whose store is `dir/NAME.db` (see `agent_store`): the store's path, the agent id
/// and the verdicts as the store holds them.
pub fn agent_in(
    dir: &Path,
    name: &str,
    n: usize,
    with_hostile: bool,
    t0: i64,
) -> (PathBuf, String, Vec<StoredVerdict>) {
    let db = dir.join(format!("{name}.db"));
    let (id, verdicts) = agent_store(&db, n, with_hostile, t0);
    (db, id, verdicts)
}
