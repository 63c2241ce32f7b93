//! Forwarding to PostgreSQL against a real server, started by each test in a temporary
//! directory (`initdb`, `pg_ctl`, a loopback port): nothing lost, nothing doubled, whatever
//! fails. Each test counts every verdict end to end and ends with the fleet table holding
//! exactly the agent's verdicts: the same ids, once each, every field equal.
//!
//! The verdicts are synthetic (made with the store's own API, no model); delivery goes
//! through the binary, `opensoc forward`. Without PostgreSQL installed the tests say
//! "SKIPPED" loudly and pass, except in CI (`CI` set), where they fail.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/postgres.rs"]
mod pg;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cli::{finish, opensoc, text, verdicts_json};
use opensoc_edge::forward::forwarder::BATCH;
use opensoc_edge::store::sqlite::{CopyWindow, NewVerdict, Store, StoredVerdict};
use pg::{agent_in, pg_or_skip, Pg};
use postgres::{Client, NoTls};

// ---------------------------------------------------------------------------------------------
// Agents' verdicts as the fleet holds them.

/// A verdict as the fleet holds it: NUL replaced by U+FFFD in every text (PostgreSQL refuses
/// NUL in text; the sink replaces it rather than refusing the verdict forever).
fn as_in_fleet(v: &StoredVerdict) -> StoredVerdict {
    let t = |s: &String| s.replace('\0', "\u{FFFD}");
    let o = |s: &Option<String>| s.as_ref().map(t);
    let n = &v.verdict;
    StoredVerdict {
        id: v.id,
        copies: v.copies,
        verdict: NewVerdict {
            source: t(&n.source),
            entity: o(&n.entity),
            signature: t(&n.signature),
            threat_type: t(&n.threat_type),
            category: t(&n.category),
            technique: t(&n.technique),
            tactic: t(&n.tactic),
            severity: t(&n.severity),
            evidence: t(&n.evidence),
            impact: t(&n.impact),
            recommendation: t(&n.recommendation),
            secondary: o(&n.secondary),
            input: t(&n.input),
            ..n.clone()
        },
    }
}

/// Asserts that the fleet holds exactly `expected` for agent `agent`: every id once, no
/// other, every field equal (NUL aside), with the agent's host and version.
fn assert_exact(pg: &Pg, agent: &str, expected: &[StoredVerdict]) {
    let mut c = pg.client();
    let row = c
        .query_one(
            "SELECT count(*), count(DISTINCT verdict_id) FROM opensoc_verdicts WHERE agent_id = $1",
            &[&agent],
        )
        .expect("count the fleet's rows");
    let (rows, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(
        (rows, distinct),
        (expected.len() as i64, expected.len() as i64),
        "the fleet must hold each of the agent's {} verdicts exactly once",
        expected.len()
    );
    let mut fleet = opensoc_edge::store::fleet::FleetStore::connect(&pg.url()).expect("connect");
    let mut got = fleet
        .verdicts(&Default::default(), Some(agent))
        .expect("read the fleet");
    got.sort_by_key(|f| f.stored.id);
    let host = opensoc_edge::store::agent::host_name();
    for (g, want) in got.iter().zip(expected) {
        assert_eq!(g.agent.id, agent);
        assert_eq!(g.agent.host, host);
        assert_eq!(g.agent.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(g.stored, as_in_fleet(want), "verdict {} differs", want.id);
    }
}

/// Rows of the fleet table (all agents).
fn fleet_count(pg: &Pg) -> i64 {
    pg.client()
        .query_one("SELECT count(*) FROM opensoc_verdicts", &[])
        .map(|r| r.get(0))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The binary.

/// `opensoc forward --db DB --forward URL --wait SECS`.
fn forward(db: &Path, url: &str, wait: u64) -> Command {
    let mut c = opensoc();
    c.arg("forward")
        .arg("--db")
        .arg(db)
        .args(["--forward", url, "--wait", &wait.to_string()]);
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run opensoc")
}

/// `opensoc forward --db DB --forward URL --wait 30`, which must deliver everything (exit 0);
/// its stderr.
fn deliver(db: &Path, url: &str) -> String {
    let out = run(forward(db, url, 30));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stderr
}

/// Polls the fleet until it holds at least `n` rows (the delivery is under way).
fn wait_for_rows(pg: &Pg, n: i64, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    let mut c = pg.client();
    loop {
        // The table appears with the first delivery's migration.
        let rows: i64 = c
            .query_one(
                "SELECT CASE WHEN to_regclass('opensoc_verdicts') IS NULL THEN 0 \
                 ELSE (SELECT count(*) FROM opensoc_verdicts) END",
                &[],
            )
            .map(|r| r.get(0))
            .unwrap_or(0);
        if rows >= n {
            return rows;
        }
        assert!(Instant::now() < deadline, "the fleet got only {rows} rows");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------------
// One agent and the test's own server.

/// The unix second the synthetic verdicts start at.
const T0: i64 = 1_796_000_000;

/// A test's server and one agent, whose store lives as long as this.
struct OneAgent {
    pg: Pg,
    _work: tempfile::TempDir,
    db: PathBuf,
    id: String,
    verdicts: Vec<StoredVerdict>,
}

impl OneAgent {
    /// A server, started when `started` says so, and an agent with `n` synthetic verdicts
    /// (and the hostile ones when asked); `None` when the test is skipped (see `pg_or_skip`).
    fn new(test: &str, n: usize, with_hostile: bool, started: bool) -> Option<OneAgent> {
        let bin = pg_or_skip(test)?;
        let pg = if started {
            Pg::started(bin)
        } else {
            Pg::init(bin)
        };
        let work = tempfile::tempdir().expect("temp dir");
        let (db, id, verdicts) = agent_in(work.path(), "agent", n, with_hostile, T0);
        Some(OneAgent {
            pg,
            _work: work,
            db,
            id,
            verdicts,
        })
    }

    /// `opensoc forward` of the agent to the server must deliver everything, and the fleet
    /// then hold exactly the agent's verdicts.
    fn delivers_exactly(&self) {
        deliver(&self.db, &self.pg.url());
        assert_exact(&self.pg, &self.id, &self.verdicts);
    }

    /// Starts `opensoc forward` of the agent (its stderr as given) and, once the fleet holds
    /// 3,000 rows, has `kill` kill something; the delivery must have been under way then, not
    /// ended (else the test fails saying `ended`). The forwarder.
    fn kill_mid_delivery(
        &self,
        stderr: Stdio,
        kill: impl FnOnce(&mut Child),
        ended: &str,
    ) -> Child {
        let mut child = forward(&self.db, &self.pg.url(), 60)
            .stderr(stderr)
            .spawn()
            .expect("start opensoc forward");
        let at_kill = wait_for_rows(&self.pg, 3_000, Duration::from_secs(30));
        kill(&mut child);
        assert!((at_kill as usize) < self.verdicts.len(), "{ended}");
        child
    }
}

// ---------------------------------------------------------------------------------------------
// a. Two agents into one database, and the fleet view.

#[test]
fn two_agents_deliver_exactly_and_the_fleet_view_shows_them() {
    let Some(bin) = pg_or_skip("two_agents_deliver_exactly_and_the_fleet_view_shows_them") else {
        return;
    };
    let pg = Pg::started(bin);
    let work = tempfile::tempdir().expect("temp dir");
    let t0 = T0;
    let (a_db, a, _) = agent_in(work.path(), "a", 600, true, t0);
    let (b_db, b, b_verdicts) = agent_in(work.path(), "b", 300, false, t0 + 50);
    // Benign windows counted on a verdict travel as its copies.
    {
        let mut store = Store::open(&a_db).expect("open");
        for _ in 0..3 {
            store
                .count_copy(
                    &CopyWindow {
                        verdict: 6,
                        source: "/var/log/auth.log".into(),
                        first_time: Some(t0),
                        last_time: Some(t0 + 1),
                        created_at: t0 + 2,
                        records: 2,
                    },
                    &[],
                    &[],
                )
                .expect("count a copy");
        }
    }
    let a_verdicts = Store::open(&a_db)
        .and_then(|s| s.verdicts_after(0, usize::MAX))
        .expect("read");
    assert_eq!(a_verdicts.iter().map(|v| v.copies).sum::<u64>(), 3);

    for db in [&a_db, &b_db] {
        let stderr = deliver(db, &pg.url());
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    }
    // Delivered again: the cursor says there is nothing to send, and a repeat of everything
    // (the same database under another name, so another cursor) adds nothing either.
    let again = format!("postgres://postgres@localhost:{}/postgres", pg.port);
    deliver(&a_db, &again);
    assert_exact(&pg, &a, &a_verdicts);
    assert_exact(&pg, &b, &b_verdicts);
    assert_eq!(
        fleet_count(&pg),
        (a_verdicts.len() + b_verdicts.len()) as i64
    );

    // The fleet view: one agent by id prefix, in JSON, with its agent and host.
    let fleet_json = |extra: &[&str]| verdicts_json(pg.url(), extra);
    let only_b = fleet_json(&["--agent", &b[..6]]);
    assert_eq!(only_b.len(), b_verdicts.len());
    let host = opensoc_edge::store::agent::host_name();
    assert!(only_b
        .iter()
        .all(|v| v["agent"] == b.as_str() && v["host"] == host.as_str()));
    // Both agents run on this machine: its host name selects both.
    assert_eq!(
        fleet_json(&["--agent", &host]).len(),
        a_verdicts.len() + b_verdicts.len()
    );
    // The filters select what they select in the agent's own store, in the same order.
    let filters = [
        "--min-severity",
        "HIGH",
        "--category",
        "brute FORCE",
        "--source",
        "nginx",
        "--since",
        "2026-11-30T00:55:00Z",
        "--until",
        "2026-11-30T01:01:00Z",
    ];
    let local = verdicts_json(&a_db, &filters);
    let mut args = vec!["--agent", &a[..8]];
    args.extend(filters);
    let fleet = fleet_json(&args);
    let ids = |v: &[serde_json::Value]| v.iter().map(|j| j["id"].clone()).collect::<Vec<_>>();
    assert!(!local.is_empty());
    assert_eq!(ids(&fleet), ids(&local));
    // The limit keeps the newest, as locally.
    assert_eq!(
        ids(&fleet_json(&["--agent", &a[..8], "--limit", "5"])),
        ids(&cli::stored(&a_db)[..5])
    );

    // The table: an agent column, attacker text escaped.
    let out = opensoc()
        .args(["verdicts", "--all", "--limit", "0", "--db", &pg.url()])
        .output()
        .expect("run opensoc verdicts");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header[..3], ["id", "agent", "time"], "{table}");
    assert!(table.contains(&format!("{host} ({})", &a[..8])), "{table}");
    assert!(
        !table.contains('\u{1b}') && table.contains("\\x1b[2J"),
        "{table}"
    );
    assert!(!table.contains('\u{202e}'));

    // CSV gains agent and host at the end.
    let out = opensoc()
        .args([
            "verdicts",
            "--format",
            "csv",
            "--limit",
            "0",
            "--db",
            &pg.url(),
            "--agent",
            &b,
        ])
        .output()
        .expect("run opensoc verdicts");
    let csv = text(&out.stdout);
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with(",agent,host")),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), b_verdicts.len() + 1);

    // inspect: an id both agents have needs --agent.
    let out = opensoc()
        .args(["verdicts", "inspect", "3", "--db", &pg.url()])
        .output()
        .expect("run opensoc verdicts inspect");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--agent"),
        "{}",
        text(&out.stderr)
    );
    let out = opensoc()
        .args([
            "verdicts",
            "inspect",
            "1",
            "--db",
            &pg.url(),
            "--agent",
            &a[..8],
        ])
        .output()
        .expect("run opensoc verdicts inspect");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("agent:") && shown.contains(&a), "{shown}");
    assert!(shown.contains("GET /a\u{FFFD}b"), "{shown}");
    let out = opensoc()
        .args(["verdicts", "agents", "--db", &pg.url()])
        .output()
        .expect("run opensoc verdicts agents");
    let agents = text(&out.stdout);
    assert!(agents.contains(&a) && agents.contains(&b), "{agents}");

    // report: the fleet's counts are the two stores' added up.
    let report = |db: &str| -> serde_json::Value {
        let out = opensoc()
            .args(["report", "--json", "--db", db])
            .output()
            .expect("run opensoc report");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_str(&text(&out.stdout)).expect("report JSON")
    };
    let fleet = report(&pg.url());
    let (ra, rb) = (
        report(a_db.to_str().expect("utf-8 path")),
        report(b_db.to_str().expect("utf-8 path")),
    );
    for key in ["verdicts", "copies"] {
        assert_eq!(
            fleet[key].as_u64(),
            Some(ra[key].as_u64().unwrap_or(0) + rb[key].as_u64().unwrap_or(0)),
            "{key}"
        );
    }
    for sev in ["LOW", "MEDIUM", "HIGH", "CRITICAL"] {
        let n = |r: &serde_json::Value| r["by_severity"][sev].as_u64().unwrap_or(0);
        assert_eq!(n(&fleet), n(&ra) + n(&rb), "{sev}");
    }
    let out = opensoc()
        .args(["report", "--json", "--db", &pg.url(), "--agent", &b[..8]])
        .output()
        .expect("run opensoc report");
    let only_b: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    assert_eq!(only_b["verdicts"], rb["verdicts"]);
}

// ---------------------------------------------------------------------------------------------
// b. The server down for the whole delivery, started later.

#[test]
fn a_server_down_for_the_whole_delivery_is_caught_up_once_started() {
    let Some(s) = OneAgent::new(
        "a_server_down_for_the_whole_delivery_is_caught_up_once_started",
        1_200,
        true,
        false,
    ) else {
        return;
    };
    let out = run(forward(&s.db, &s.pg.url(), 2));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{} verdicts not yet delivered", s.verdicts.len())),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");

    s.pg.start();
    s.delivers_exactly();
}

// ---------------------------------------------------------------------------------------------
// c. kill -9 of the agent mid-delivery.

#[test]
fn an_agent_killed_mid_delivery_delivers_exactly_on_its_next_run() {
    let Some(s) = OneAgent::new(
        "an_agent_killed_mid_delivery_delivers_exactly_on_its_next_run",
        20_000,
        false,
        true,
    ) else {
        return;
    };
    let mut child = s.kill_mid_delivery(
        Stdio::inherit(),
        |child| child.kill().expect("kill -9 the agent"),
        "the agent finished before it was killed; nothing was tested",
    );
    let _ = child.wait();
    s.delivers_exactly();
}

// ---------------------------------------------------------------------------------------------
// d. kill -9 of the PostgreSQL server mid-delivery.

#[test]
fn a_server_killed_mid_delivery_is_caught_up_after_its_restart() {
    let Some(s) = OneAgent::new(
        "a_server_killed_mid_delivery_is_caught_up_after_its_restart",
        20_000,
        false,
        true,
    ) else {
        return;
    };
    let child = s.kill_mid_delivery(
        Stdio::piped(),
        |_| s.pg.kill_postmaster(),
        "delivery ended before the kill",
    );
    s.pg.start();
    let (code, stderr) = finish(child, Duration::from_secs(60), "opensoc forward");
    assert_eq!(code, 0, "{stderr}");
    assert_exact(&s.pg, &s.id, &s.verdicts);
}

// ---------------------------------------------------------------------------------------------
// e. The connection cut mid-stream.

/// How the proxy treats the connections it accepts, in order; those past the plan pass.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// Forward this many bytes from the client, then cut both ways: the server sees half a
    /// batch and rolls it back.
    AfterClientBytes(usize),
    /// Forward the client's `n`th COMMIT and let the server commit it, but never pass on its
    /// answer, and cut: the client cannot know the batch is in, and sends it again.
    AfterCommit(usize),
}

/// A TCP proxy in front of the server that cuts connections as planned.
struct Proxy {
    port: u16,
    cuts: Arc<AtomicUsize>,
    /// Rows in the fleet table when a COMMIT's answer was held back: the batch it committed
    /// is in, though its client was never told.
    rows_at_commit_cut: Arc<AtomicI64>,
}

impl Proxy {
    fn start(upstream: u16, plan: Vec<Cut>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let cuts = Arc::new(AtomicUsize::new(0));
        let rows_at_commit_cut = Arc::new(AtomicI64::new(-1));
        let counted = cuts.clone();
        let rows = rows_at_commit_cut.clone();
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let cut = plan.get(n).copied();
                let (counted, rows) = (counted.clone(), rows.clone());
                std::thread::spawn(move || relay(client, server, cut, &counted, upstream, &rows));
            }
        });
        Proxy {
            port,
            cuts,
            rows_at_commit_cut,
        }
    }
}

/// Copies bytes both ways until either side closes, cutting as `cut` says.
fn relay(
    client: TcpStream,
    server: TcpStream,
    cut: Option<Cut>,
    cuts: &AtomicUsize,
    upstream: u16,
    rows_at_commit_cut: &AtomicI64,
) {
    let silenced = Arc::new(AtomicBool::new(false));
    let (mut c_read, mut s_write) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let (mut s_read, mut c_write) = (
        server.try_clone().expect("clone"),
        client.try_clone().expect("clone"),
    );
    let quiet = silenced.clone();
    // Server to client, unless silenced.
    let back = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 || quiet.load(Ordering::SeqCst) || c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Both);
    });
    let mut buf = [0u8; 16 * 1024];
    let (mut sent, mut commits, mut tail) = (0usize, 0usize, Vec::<u8>::new());
    let cut_now = |cuts: &AtomicUsize| {
        cuts.fetch_add(1, Ordering::SeqCst);
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    };
    while let Ok(n) = c_read.read(&mut buf) {
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        match cut {
            Some(Cut::AfterClientBytes(limit)) if sent + n >= limit => {
                let _ = s_write.write_all(&chunk[..limit - sent]);
                cut_now(cuts);
                break;
            }
            Some(Cut::AfterCommit(nth)) => {
                // A simple-query COMMIT, possibly split across reads.
                tail.extend_from_slice(chunk);
                let found = tail.windows(7).filter(|w| w == b"COMMIT\0").count();
                if commits + found >= nth {
                    silenced.store(true, Ordering::SeqCst);
                    let _ = s_write.write_all(chunk);
                    // Time for the server to commit before the connection goes.
                    std::thread::sleep(Duration::from_millis(300));
                    let url = format!("postgres://postgres@127.0.0.1:{upstream}/postgres");
                    if let Ok(mut c) = Client::connect(&url, NoTls) {
                        if let Ok(row) = c.query_one("SELECT count(*) FROM opensoc_verdicts", &[]) {
                            rows_at_commit_cut.store(row.get(0), Ordering::SeqCst);
                        }
                    }
                    cut_now(cuts);
                    break;
                }
                commits += found;
                let keep = tail.len().saturating_sub(6);
                tail.drain(..keep);
            }
            _ => {}
        }
        if s_write.write_all(chunk).is_err() {
            break;
        }
        sent += n;
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = back.join();
}

#[test]
fn connections_cut_mid_stream_lose_and_double_nothing() {
    let Some(s) = OneAgent::new(
        "connections_cut_mid_stream_lose_and_double_nothing",
        3_000,
        false,
        true,
    ) else {
        return;
    };
    // The first connection is cut inside its first batch (the migrations take a few KB); the
    // second once its second batch is committed, before the client hears it.
    let proxy = Proxy::start(
        s.pg.port,
        vec![Cut::AfterClientBytes(150_000), Cut::AfterCommit(2)],
    );
    let out = run(forward(&s.db, &s.pg.url_via(proxy.port), 60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 2, "{stderr}");
    // The first connection's half batch rolled back; the second's two batches committed,
    // the second without its client hearing it, which sent it again on the third.
    assert_eq!(
        proxy.rows_at_commit_cut.load(Ordering::SeqCst),
        2 * BATCH as i64,
        "{stderr}"
    );
    assert!(stderr.contains("works again"), "{stderr}");
    assert_exact(&s.pg, &s.id, &s.verdicts);
}
