//! Forwarding to a real rsyslog (issue 26's fault matrix for syslog): each test starts its own
//! `rsyslogd` on a free loopback port, writing every raw message it receives to a file, makes a
//! store of synthetic verdicts (some with hostile text), delivers them through the library or
//! `opensoc forward`, breaks something on the way, and counts every verdict id in rsyslog's
//! files: none may be missing; duplicates (syslog delivery is at least once) are printed.
//!
//! rsyslog comes from the Debian packages `rsyslog` and `rsyslog-gnutls`. Without `rsyslogd`,
//! each test says SKIPPED loudly and passes, except in CI (`CI` set), where it fails.

#[path = "common/cli.rs"]
mod cli;
use cli::finish;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opensoc_edge::forward::destination::Destination;
use opensoc_edge::forward::forwarder::deliver_next;
use opensoc_edge::forward::syslog::TlsFiles;
use opensoc_edge::forward::Agent;
use opensoc_edge::store::sqlite::{NewVerdict, Store};

/// The end of every synthetic verdict's evidence: a message whose MSG does not end with it was
/// cut (a frame torn by a killed connection) and does not count as received.
const END: &str = "#end";

/// `rsyslogd`, or `None` after a loud skip message outside CI.
fn rsyslogd() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("rsyslogd"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "rsyslogd not installed: CI must install rsyslog and rsyslog-gnutls"
        );
        eprintln!(
            "\n*** SKIPPED: rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls) ***\n"
        );
    }
    found
}

/// A loopback port nobody listens on (right now).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The server side of TLS: the files rsyslog's gtls driver reads.
struct ServerTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// rsyslog's StreamDriver.AuthMode: "anon" (no client certificate), "x509/certvalid"
    /// (a client certificate signed by the CA required).
    auth: &'static str,
}

/// A test CA: its certificate file and the issuer that signs with it.
struct TestCa {
    pem: PathBuf,
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

fn make_ca(dir: &Path, name: &str) -> TestCa {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("opensoc test {name}"));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().expect("CA key");
    let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate");
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, issuer.pem()).expect("write the CA");
    TestCa { pem, issuer }
}

/// A certificate for `names` (the first also its common name) signed by `ca`, for `usage`:
/// its certificate and key files, `{stem}.pem` and `{stem}-key.pem`.
fn make_cert(
    dir: &Path,
    ca: &TestCa,
    names: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
    stem: &str,
) -> (PathBuf, PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    params.extended_key_usages = vec![usage];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca.issuer).expect("certificate");
    let (cert_path, key_path) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    std::fs::write(&cert_path, cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
    (cert_path, key_path)
}

/// An `rsyslogd` of the test's own, on `port`; each start writes to a new file, so that a
/// line a killed server left half written never runs into the next server's first line.
struct Rsyslog {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    tls: Option<ServerTls>,
    child: Option<Child>,
    starts: usize,
}

impl Rsyslog {
    fn new(bin: PathBuf, dir: &Path, port: u16, tls: Option<ServerTls>) -> Rsyslog {
        Rsyslog {
            bin,
            dir: dir.to_path_buf(),
            port,
            tls,
            child: None,
            starts: 0,
        }
    }

    /// Starts rsyslogd and waits until it listens.
    fn start(&mut self) {
        let n = self.starts;
        self.starts += 1;
        let dir = self.dir.display();
        let (global_tls, driver) = match &self.tls {
            Some(t) => (
                format!(
                    " DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" \
                     DefaultNetstreamDriverKeyFile=\"{}\"",
                    t.ca.display(),
                    t.cert.display(),
                    t.key.display()
                ),
                format!(
                    " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" \
                     StreamDriver.AuthMode=\"{}\"",
                    t.auth
                ),
            ),
            None => (String::new(), String::new()),
        };
        // Direct queues and a flush at the end of each batch: the file holds what rsyslog
        // took off the socket, as soon as it took it.
        let conf = format!(
            "global(workDirectory=\"{dir}\"{global_tls})\n\
             main_queue(queue.type=\"Direct\")\n\
             module(load=\"imtcp\"{driver})\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             ruleset(name=\"in\" queue.type=\"Direct\") {{\n  \
               action(type=\"omfile\" file=\"{dir}/out-{n}.log\" template=\"raw\" \
                      flushOnTXEnd=\"on\" asyncWriting=\"off\")\n\
             }}\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"in\")\n",
            port = self.port
        );
        let conf_path = self.dir.join(format!("rsyslog-{n}.conf"));
        std::fs::write(&conf_path, conf).expect("write the rsyslog config");
        let log = std::fs::File::create(self.dir.join(format!("rsyslogd-{n}.log")))
            .expect("rsyslogd's log");
        let child = Command::new(&self.bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(self.dir.join(format!("rsyslogd-{n}.pid")))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while !listening(self.port) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("rsyslogd exited ({status}): {}", self.log(n));
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd does not listen: {}",
                self.log(n)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("rsyslogd-{n}.log"))).unwrap_or_default()
    }

    /// `kill -9`.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every line rsyslog wrote, over all its starts.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for n in 0..self.starts {
            let path = self.dir.join(format!("out-{n}.log"));
            let bytes = std::fs::read(&path).unwrap_or_default();
            // Control characters other than the template's newline must never arrive.
            assert!(
                !bytes.iter().any(|&b| (b < 0x20 && b != b'\n') || b == 0x7f),
                "a raw control character in {}",
                path.display()
            );
            out.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
        }
        out
    }

    /// Lines written so far by the current start.
    fn count_current(&self) -> usize {
        let n = self.starts.saturating_sub(1);
        std::fs::read(self.dir.join(format!("out-{n}.log")))
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0)
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Whether something listens on 127.0.0.1:`port` (/proc/net/tcp, so that checking opens no
/// connection that rsyslog would log).
fn listening(port: u16) -> bool {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle))
}

/// One message as rsyslog received it.
#[derive(Debug)]
struct Message {
    pri: u32,
    timestamp: String,
    host: String,
    app: String,
    msgid: String,
    params: BTreeMap<String, String>,
    msg: String,
}

/// Parses an RFC 5424 message with our one structured-data element, undoing §6.3.3's escapes.
fn parse(line: &str) -> Option<Message> {
    let rest = line.strip_prefix('<')?;
    let (pri, rest) = rest.split_once(">1 ")?;
    let mut fields = rest.splitn(6, ' ');
    let timestamp = fields.next()?.to_string();
    let host = fields.next()?.to_string();
    let app = fields.next()?.to_string();
    let _procid = fields.next()?;
    let msgid = fields.next()?.to_string();
    let sd = fields.next()?;
    let mut chars = sd.strip_prefix("[opensoc@32473")?.chars().peekable();
    let mut params = BTreeMap::new();
    loop {
        match chars.next()? {
            ']' => break,
            ' ' => {}
            _ => return None,
        }
        let mut name = String::new();
        loop {
            match chars.next()? {
                '=' => break,
                c => name.push(c),
            }
        }
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => value.push(chars.next()?),
                '"' => break,
                c => value.push(c),
            }
        }
        params.insert(name, value);
    }
    let msg: String = chars.collect();
    let msg = msg.strip_prefix(" \u{FEFF}")?.to_string();
    Some(Message {
        pri: pri.parse().ok()?,
        timestamp,
        host,
        app,
        msgid,
        params,
        msg,
    })
}

/// What rsyslog received, counted by verdict id.
struct Tally {
    seen: HashMap<i64, usize>,
    torn: usize,
    messages: Vec<Message>,
}

impl Tally {
    fn of(lines: &[String]) -> Tally {
        let mut seen = HashMap::new();
        let mut torn = 0;
        let mut messages = Vec::new();
        for line in lines {
            let Some(m) = parse(line).filter(|m| m.msg.ends_with(END)) else {
                torn += 1;
                continue;
            };
            let id = m.params.get("verdict").and_then(|v| v.parse().ok());
            let Some(id) = id else {
                torn += 1;
                continue;
            };
            *seen.entry(id).or_insert(0) += 1;
            messages.push(m);
        }
        Tally {
            seen,
            torn,
            messages,
        }
    }

    /// Asserts that every id in 1..=n arrived, none other, and prints the duplicates.
    fn assert_complete(&self, test: &str, n: i64) {
        let missing: Vec<i64> = (1..=n).filter(|id| !self.seen.contains_key(id)).collect();
        let duplicates: usize = self.seen.values().map(|c| c - 1).sum();
        println!(
            "{test}: {n} verdicts, {} received, {} missing, {duplicates} duplicates, {} torn \
             lines",
            self.seen.len(),
            missing.len(),
            self.torn
        );
        assert!(
            missing.is_empty(),
            "{test}: {} verdicts missing, the first {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(
            self.seen.keys().all(|id| (1..=n).contains(id)),
            "{test}: ids that were never stored arrived"
        );
    }
}

/// The hostile text some verdicts carry: an escape sequence, a newline, and the characters
/// that end a structured-data value.
const HOSTILE: &str = "x\u{1b}[31m\"]\\\nINJECTED <34>1 - - - - - [fake@1 a=\"b\"] \0";

/// The `i`th synthetic verdict; every 50th is hostile.
fn verdict(i: usize) -> NewVerdict {
    let hostile = i % 50 == 7;
    let severity = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][i % 4];
    NewVerdict {
        created_at: 1_764_235_380 + i as i64,
        first_time: Some(1_764_235_200 + i as i64),
        last_time: Some(1_764_235_260 + i as i64),
        source: if hostile {
            format!("/var/log/{HOSTILE}")
        } else {
            "/var/log/auth.log".to_string()
        },
        entity: Some(if hostile {
            format!("{HOSTILE}{i}")
        } else {
            format!("203.0.113.{}", i % 250)
        }),
        records: 3,
        signature: format!("sig-{i}"),
        cached_from: None,
        threat_type: if hostile {
            HOSTILE.to_string()
        } else {
            "SSH Brute Force Attack".to_string()
        },
        category: "Brute Force".to_string(),
        technique: "T1110.001".to_string(),
        tactic: "Credential Access".to_string(),
        severity: severity.to_string(),
        risk_score: 70,
        evidence: if hostile {
            format!("{HOSTILE} {i} {END}")
        } else {
            format!("3 failed logins for root, window {i} {END}")
        },
        impact: "account takeover".to_string(),
        recommendation: "block the address".to_string(),
        secondary: None,
        input: format!("Failed password for root from 203.0.113.9 port {i}"),
    }
}

/// A store in `dir` holding verdicts 1..=n.
fn make_store(dir: &Path, n: usize) -> PathBuf {
    let db = dir.join("verdicts.db");
    let mut store = Store::open(&db).expect("open the store");
    for i in 1..=n {
        let id = store
            .commit_window(&verdict(i), &[], &[])
            .expect("store a verdict");
        assert_eq!(id, i as i64);
    }
    db
}

/// `opensoc forward --db DB --forward URL --wait S`, not waited for.
fn forward(db: &Path, url: &str, wait: u64) -> Command {
    let mut c = cli::opensoc();
    c.args(["forward", "--db"])
        .arg(db)
        .args(["--forward", url, "--wait", &wait.to_string()]);
    c
}

/// Runs `command` to its end (at most `limit`); its exit code and stderr.
fn run(command: &mut Command, limit: Duration) -> (i32, String) {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start opensoc");
    finish(child, limit, "opensoc forward")
}

/// Runs `command` to its end, which must come within a minute and succeed; its stderr.
fn run_ok(command: &mut Command) -> String {
    let (code, stderr) = run(command, Duration::from_secs(60));
    assert_eq!(code, 0, "{stderr}");
    stderr
}

/// The cursor of `destination` in the store `db`.
fn cursor(db: &Path, destination: &str) -> i64 {
    Store::open(db)
        .expect("open the store")
        .forward_cursor(destination)
        .expect("read the cursor")
}

/// What a test starts from: a store of verdicts 1..=n in a directory of its own, and an
/// rsyslogd for it on a free port. Fields drop in order, so rsyslogd is killed before its
/// directory is removed.
struct Fixture {
    rsyslog: Rsyslog,
    db: PathBuf,
    n: usize,
    port: u16,
    /// `syslog://127.0.0.1:PORT`, `syslog+tls://` with TLS: the destination's name too.
    url: String,
    /// With TLS, the CA that signed rsyslog's certificate.
    ca: Option<TestCa>,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Started; rsyslog listens with TLS when `auth` (its StreamDriver.AuthMode: "anon" for
    /// no client certificate, "x509/certvalid" for one signed by the CA) is given. `None`
    /// without rsyslogd.
    fn new(n: usize, auth: Option<&'static str>) -> Option<Fixture> {
        let mut f = Fixture::stopped(n, auth)?;
        f.rsyslog.start();
        Some(f)
    }

    /// As `new`, with rsyslogd not started yet.
    fn stopped(n: usize, auth: Option<&'static str>) -> Option<Fixture> {
        let bin = rsyslogd()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let db = make_store(dir.path(), n);
        let (ca, server) = match auth {
            Some(auth) => {
                let ca = make_ca(dir.path(), "ca");
                let (cert, key) = make_cert(
                    dir.path(),
                    &ca,
                    &["127.0.0.1", "localhost"],
                    rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                    "server",
                );
                let server = ServerTls {
                    ca: ca.pem.clone(),
                    cert,
                    key,
                    auth,
                };
                (Some(ca), Some(server))
            }
            None => (None, None),
        };
        let port = free_port();
        let scheme = if auth.is_some() {
            "syslog+tls"
        } else {
            "syslog"
        };
        Some(Fixture {
            rsyslog: Rsyslog::new(bin, dir.path(), port, server),
            db,
            n,
            port,
            url: format!("{scheme}://127.0.0.1:{port}"),
            ca,
            dir,
        })
    }

    fn ca(&self) -> &TestCa {
        self.ca.as_ref().expect("a fixture with TLS")
    }

    /// What rsyslog received once it has verdicts 1..=n or, at most 10 s later, has taken no
    /// more: a batch counts as delivered when rsyslog's TCP stack has it, a moment before
    /// rsyslog has written it out.
    fn received(&self) -> Tally {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let tally = Tally::of(&self.rsyslog.lines());
            if (1..=self.n as i64).all(|id| tally.seen.contains_key(&id))
                || Instant::now() > deadline
            {
                return tally;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What rsyslog received, every verdict among it (`Tally::assert_complete`).
    fn assert_complete(&self, test: &str) -> Tally {
        let tally = self.received();
        tally.assert_complete(test, self.n as i64);
        tally
    }

    /// Asserts that rsyslog wrote nothing, after giving it time to.
    fn assert_nothing_received(&self) {
        std::thread::sleep(Duration::from_millis(300));
        let lines = self.rsyslog.lines();
        assert!(
            lines.is_empty(),
            "rsyslog received something over a refused connection: {:?}",
            &lines[..lines.len().min(3)]
        );
    }

    /// Runs `opensoc forward` to `url` with 2 s of retries, which must give up (exit 2)
    /// saying each of `says`, and leave the cursor where it was.
    fn assert_gives_up(&self, url: &str, says: &[&str]) {
        let (code, stderr) = run(&mut forward(&self.db, url, 2), Duration::from_secs(30));
        assert_eq!(code, 2, "{stderr}");
        for s in says {
            assert!(stderr.contains(s), "{stderr}");
        }
        assert_eq!(
            cursor(&self.db, &self.url),
            0,
            "the cursor stays where it was"
        );
    }

    /// Starts `opensoc forward` (a minute of retries) and waits until rsyslog's current file
    /// has 3,250 lines; the agent, and whether it still ran then, which a fault the caller
    /// brings next needs in order to come mid-delivery.
    fn agent_mid_delivery(&self, stderr: Stdio) -> (Child, bool) {
        let mut agent = forward(&self.db, &self.url, 60)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start opensoc forward");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.rsyslog.count_current() < 3_250 {
            if agent.try_wait().expect("agent status").is_some() {
                return (agent, false);
            }
            assert!(Instant::now() < deadline, "no progress from the agent");
            std::thread::sleep(Duration::from_millis(2));
        }
        let running = agent.try_wait().expect("agent status").is_none();
        (agent, running)
    }
}

#[test]
fn plain_tcp_delivers_every_verdict_intact() {
    let started = Instant::now();
    let Some(f) = Fixture::new(2_000, None) else {
        return;
    };
    let n = f.n;

    // Through the library: the destination's sink, batch after batch.
    let destination = Destination::parse(&f.url, &TlsFiles::default()).expect("URL");
    let mut sink = destination.open().expect("sink");
    let mut store = Store::open(&f.db).expect("store");
    let agent = Agent::here(store.agent_id().expect("agent id"));
    let mut delivered = 0;
    loop {
        let k = deliver_next(&mut store, &agent, &destination.name, sink.as_mut(), 500)
            .expect("deliver");
        if k == 0 {
            break;
        }
        delivered += k;
    }
    assert_eq!(delivered, n);
    assert_eq!(cursor(&f.db, &destination.name), n as i64);
    drop(sink);

    let tally = f.assert_complete("plain TCP");
    assert_eq!(tally.torn, 0, "every frame arrives whole");
    // Each message parses back with the verdict's fields; hostile text arrives escaped, not
    // raw (the file has no control character: Rsyslog::lines checks), and did not end the
    // structured data early.
    let agent_host: String = agent
        .host
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    for m in &tally.messages {
        let id: usize = m.params["verdict"].parse().expect("id");
        let v = verdict(id);
        assert_eq!(m.app, "opensoc");
        assert_eq!(m.msgid, "verdict");
        assert_eq!(m.host, agent_host);
        let severity = match v.severity.as_str() {
            "CRITICAL" => 2,
            "HIGH" => 3,
            "MEDIUM" => 4,
            _ => 5,
        };
        assert_eq!(m.pri, 4 * 8 + severity, "{m:?}");
        assert_eq!(m.params["agent"], agent.id);
        assert_eq!(m.params["severity"], v.severity);
        assert_eq!(m.params["technique"], "T1110.001");
        assert_eq!(m.params["lines"], "3");
        let first = time::OffsetDateTime::from_unix_timestamp(v.first_time.expect("first"))
            .expect("time")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
        assert_eq!(m.timestamp, first);
        assert_eq!(m.params["first"], first);
        let entity = v.entity.expect("entity");
        if id % 50 == 7 {
            // The control characters became a space (newline) and U+FFFD (ESC, NUL); the
            // quote, backslash and bracket came back through the escaping.
            let expected = entity
                .replace('\n', " ")
                .replace(['\u{1b}', '\0'], "\u{FFFD}");
            assert_eq!(m.params["entity"], expected);
            assert_eq!(
                m.params["threat"],
                HOSTILE
                    .replace('\n', " ")
                    .replace(['\u{1b}', '\0'], "\u{FFFD}")
            );
            assert!(m.msg.contains("\"]\\ INJECTED"), "{}", m.msg);
        } else {
            assert_eq!(m.params["entity"], entity);
            assert_eq!(m.params["source"], "/var/log/auth.log");
        }
        assert_eq!(m.params.len(), 14, "{m:?}");
    }
    println!("plain TCP: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_server_down_for_the_whole_run_gets_everything_later() {
    let Some(mut f) = Fixture::stopped(1_000, None) else {
        return;
    };
    f.assert_gives_up(
        &f.url,
        &[
            &format!("connecting to 127.0.0.1:{}", f.port),
            "refused",
            "1000 verdicts not yet delivered",
        ],
    );

    f.rsyslog.start();
    run_ok(&mut forward(&f.db, &f.url, 20));
    assert_eq!(cursor(&f.db, &f.url), f.n as i64);
    f.assert_complete("server down, then up");
}

#[test]
fn an_agent_killed_mid_delivery_loses_nothing() {
    let Some(f) = Fixture::new(20_000, None) else {
        return;
    };
    let (mut agent, mid) = f.agent_mid_delivery(Stdio::null());
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(mid, "the agent finished before it could be killed: raise n");
    let at_kill = cursor(&f.db, &f.url);
    println!("agent killed with the cursor at {at_kill} of {}", f.n);
    assert!(at_kill < f.n as i64);

    run_ok(&mut forward(&f.db, &f.url, 30));
    f.assert_complete("agent killed");
}

#[test]
fn a_server_killed_mid_delivery_is_caught_up_after_its_restart() {
    let Some(mut f) = Fixture::new(20_000, None) else {
        return;
    };
    let (agent, mid) = f.agent_mid_delivery(Stdio::piped());
    f.rsyslog.kill9();
    assert!(
        mid,
        "the agent finished before rsyslogd could be killed: raise n"
    );
    std::thread::sleep(Duration::from_millis(300));
    f.rsyslog.start();

    let (code, stderr) = finish(
        agent,
        Duration::from_secs(60),
        "the agent, which did not catch up,",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("works again"), "{stderr}");
    f.assert_complete("rsyslogd killed");
}

/// A TCP proxy in front of `target`: its first connection is cut after `cut` bytes from the
/// client, the later ones pass everything. Returns its port and the count of connections.
fn cutting_proxy(target: u16, cut: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listener");
    let port = listener.local_addr().expect("proxy address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let k = counter.fetch_add(1, Ordering::SeqCst);
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            std::thread::spawn(move || {
                let limit = if k == 0 { cut } else { usize::MAX };
                let mut passed = 0;
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let take = n.min(limit - passed);
                    if server.write_all(&buf[..take]).is_err() {
                        break;
                    }
                    passed += take;
                    if passed >= limit {
                        break;
                    }
                }
                // Both sides see the connection end: the client mid-batch, rsyslog mid-frame.
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            });
        }
    });
    (port, connections)
}

#[test]
fn a_connection_cut_mid_stream_loses_nothing() {
    let Some(f) = Fixture::new(3_000, None) else {
        return;
    };
    // About a third of the way through (a message is some 450 bytes), inside a frame.
    let (proxy, connections) = cutting_proxy(f.port, 600_000 + 123);
    let url = format!("syslog://127.0.0.1:{proxy}");

    let stderr = run_ok(&mut forward(&f.db, &url, 30));
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "the connection was never cut: {stderr}"
    );
    f.assert_complete("connection cut");
}

#[test]
fn tls_delivers_and_a_wrong_ca_is_refused_without_fallback() {
    let Some(f) = Fixture::new(1_000, Some("anon")) else {
        return;
    };
    let other_ca = make_ca(f.dir.path(), "other-ca");

    // A CA that did not sign the server's certificate: refused, said why, nothing sent.
    f.assert_gives_up(
        &format!("{}?ca={}", f.url, other_ca.pem.display()),
        &[
            &format!("TLS handshake with 127.0.0.1:{}", f.port),
            "invalid peer certificate",
            "UnknownIssuer",
        ],
    );
    f.assert_nothing_received();

    // The right CA: everything arrives.
    run_ok(&mut forward(
        &f.db,
        &format!("{}?ca={}", f.url, f.ca().pem.display()),
        20,
    ));
    assert_eq!(cursor(&f.db, &f.url), f.n as i64);
    assert_eq!(
        f.assert_complete("TLS").torn,
        0,
        "every frame arrives whole"
    );
}

#[test]
fn tls_with_a_client_certificate_reaches_a_server_that_requires_one() {
    let Some(f) = Fixture::new(1_000, Some("x509/certvalid")) else {
        return;
    };
    let (cert, key) = make_cert(
        f.dir.path(),
        f.ca(),
        &["agent.test"],
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        "client",
    );

    // The files through --forward-ca/-cert/-key rather than the URL.
    let mut command = forward(&f.db, &f.url, 20);
    command
        .arg("--forward-ca")
        .arg(&f.ca().pem)
        .arg("--forward-cert")
        .arg(&cert)
        .arg("--forward-key")
        .arg(&key);
    run_ok(&mut command);
    let tally = f.assert_complete("TLS with a client certificate");
    assert_eq!(tally.torn, 0, "every frame arrives whole");
}

#[test]
fn a_server_that_requires_a_client_certificate_refuses_an_agent_without_one() {
    let Some(f) = Fixture::new(10, Some("x509/certvalid")) else {
        return;
    };
    // rsyslog refuses after the handshake, which succeeded from the agent's side: the batch
    // must not count as delivered all the same.
    f.assert_gives_up(
        &format!("{}?ca={}", f.url, f.ca().pem.display()),
        &[&format!("TLS handshake with 127.0.0.1:{}", f.port)],
    );
    f.assert_nothing_received();
}
