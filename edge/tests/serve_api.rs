//! `opensoc serve`'s JSON API as scripts and the page use it: the real binary and model on a
//! loopback port, the project's sample logs, and every kind of bad request.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[path = "common/cli.rs"]
mod cli;
#[path = "common/serve.rs"]
mod serve;
use cli::{append_lines, opensoc, scan_ok, stored, text};
use serde_json::Value;
use serve::Server;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/samples")
}

/// A client that reads 4xx and 5xx answers instead of failing on them.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// Status and body of a request; `body` None makes a GET.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, String) {
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        ("DELETE", _) => {
            let mut r = agent.delete(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.call()
        }
        (_, b) => {
            let mut r = agent.post(url);
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.send(b.unwrap_or_default())
        }
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const SQLI: &str = "198.51.100.23 - - [27/Nov/2026:09:41:00 +0000] \"GET /products.php?id=1 \
                    UNION SELECT username,password FROM users-- HTTP/1.1\" 200 5120 \"-\" \
                    \"sqlmap/1.7\"";

#[test]
fn an_entry_posted_to_the_api_gets_the_verdict_analyze_gives() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("v.db"), &[]);
    let body = serde_json::json!({ "text": SQLI, "mode": "fast" }).to_string();
    let (status, answer) = call(
        &client(),
        "POST",
        &format!("{}/api/analyze", server.url),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(status, 200, "{answer}");
    let api = json(&answer);
    let out = opensoc()
        .args(["analyze", "--json", SQLI])
        .output()
        .expect("run analyze");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cli = json(&text(&out.stdout));
    for field in [
        "threat_type",
        "mitre_technique",
        "mitre_tactic",
        "severity",
        "risk_score",
        "evidence",
        "impact",
        "recommendation",
        "valid",
    ] {
        assert_eq!(
            api[field], cli[field],
            "{field}: API {api} against CLI {cli}"
        );
    }
    assert_eq!(api["category"], "SQL Injection", "{api}");
}

/// The events of an upload, read to the stream's end: (event, data) pairs.
fn events(url: &str) -> Vec<(String, Value)> {
    let (status, body) = call(&client(), "GET", url, &[], None);
    assert_eq!(status, 200, "{body}");
    let mut out = Vec::new();
    let mut kind = String::new();
    for line in body.lines() {
        if let Some(k) = line.strip_prefix("event: ") {
            kind = k.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            out.push((kind.clone(), json(d)));
        }
    }
    out
}

fn upload(server: &Server, name: &str, bytes: &[u8], headers: &[(&str, &str)]) -> (u16, String) {
    let mut h = vec![("content-type", "application/octet-stream")];
    h.extend_from_slice(headers);
    call(
        &client(),
        "POST",
        &format!("{}/api/batch?mode=fast&name={name}", server.url),
        &h,
        Some(bytes),
    )
}

#[test]
fn an_uploaded_log_gets_the_verdicts_scan_stores_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("v.db"), &[]);
    let log = std::fs::read(samples().join("auth.log")).unwrap();
    let (status, answer) = upload(&server, "auth.log", &log, &[]);
    assert_eq!(status, 202, "{answer}");
    let id = json(&answer)["id"].as_str().unwrap().to_string();
    let events = events(&format!("{}/api/batch/{id}/events", server.url));
    let (last, summary) = events.last().expect("events");
    assert_eq!(last, "done", "{events:?}");
    assert_eq!(summary["percent"], 100);
    let percents: Vec<u64> = events
        .iter()
        .filter(|(k, _)| k == "progress")
        .map(|(_, d)| d["percent"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    let uploaded: Vec<&Value> = events
        .iter()
        .filter(|(k, _)| k == "verdict")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(uploaded.len() as u64, summary["windows"].as_u64().unwrap());

    // The same file scanned: the same windows, with the same verdicts.
    let db = dir.path().join("scan.db");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("auth.log"), &log).unwrap();
    // The page keeps a row for every window of an upload; so does this scan.
    let out = opensoc()
        .args(["scan", "--store-every-window", "--db"])
        .arg(&db)
        .arg(logs.join("auth.log"))
        .output()
        .unwrap();
    assert!(out.status.code() == Some(1), "{}", text(&out.stderr));
    let key = |v: &Value| {
        format!(
            "{} {} {} {} {}",
            v["entity"], v["first_time"], v["lines"], v["severity"], v["threat_type"]
        )
    };
    let mut from_scan: Vec<String> = stored(&db).iter().map(key).collect();
    let mut from_upload: Vec<String> = uploaded.iter().map(|v| key(v)).collect();
    from_scan.sort();
    from_upload.sort();
    assert_eq!(from_upload, from_scan);
    assert!(
        uploaded
            .iter()
            .any(|v| v["severity"] == "HIGH" || v["severity"] == "CRITICAL"),
        "the sample's SSH brute force is flagged: {uploaded:?}"
    );

    // Its CSV: a header and a row per verdict.
    let (status, csv) = call(
        &client(),
        "GET",
        &format!("{}/api/batch/{id}/csv", server.url),
        &[],
        None,
    );
    assert_eq!(status, 200);
    assert!(
        csv.starts_with("id,first_time,last_time,source,entity,"),
        "{csv}"
    );
    assert!(csv.contains(",upload:auth.log,"), "{csv}");
}

#[test]
fn a_cancelled_upload_stops_before_its_last_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&dir.path().join("v.db"), &[]);
    let log = std::fs::read(samples().join("access.log")).unwrap();
    let (status, answer) = upload(&server, "access.log", &log, &[]);
    assert_eq!(status, 202, "{answer}");
    let id = json(&answer)["id"].as_str().unwrap().to_string();
    // A reader that goes away mid-stream (a page closed) ends its connection, not the server:
    // the next event written to it fails with EPIPE instead of a fatal SIGPIPE.
    {
        let mut r = client()
            .get(format!("{}/api/batch/{id}/events", server.url))
            .call()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(r.body_mut().as_reader()),
            &mut line,
        )
        .unwrap();
        assert!(line.starts_with("event: "), "{line}");
    }
    // Followed as the page follows it; cancelled once the first verdict is in.
    let mut r = client()
        .get(format!("{}/api/batch/{id}/events", server.url))
        .call()
        .unwrap();
    let mut reader = std::io::BufReader::new(r.body_mut().as_reader());
    let mut kind = String::new();
    let mut last = (String::new(), Value::Null);
    let mut cancelled = false;
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
            break;
        }
        if let Some(k) = line.strip_prefix("event: ") {
            kind = k.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            last = (kind.clone(), json(d.trim()));
            if kind == "verdict" && !cancelled {
                let (status, _) = call(
                    &client(),
                    "DELETE",
                    &format!("{}/api/batch/{id}", server.url),
                    &[],
                    None,
                );
                assert_eq!(status, 202);
                cancelled = true;
            }
        }
    }
    let (kind, summary) = last;
    assert_eq!(kind, "cancelled", "{summary}");
    assert!(server.alive(), "a reader that left killed the server");
    let done = summary["windows"].as_u64().unwrap();
    assert!(
        done >= 1 && done < summary["total_windows"].as_u64().unwrap(),
        "{summary}"
    );
}

#[test]
fn bad_requests_get_clear_errors_and_leave_the_server_and_store_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    // A store with verdicts in it.
    scan_ok(&db, &samples().join("windows-security.txt"));
    let before = std::fs::read(&db).unwrap();
    let token = "a-token-of-enough-length";
    let mut server = Server::start(&db, &["--token", token, "--max-upload-mib", "1"]);
    let base = server.url.clone();
    let url = |path: &str| format!("{base}{path}");
    let c = client();
    let auth = ("authorization", "Bearer a-token-of-enough-length");
    let js = ("content-type", "application/json");

    // Without the token, or with a wrong one: 401, and nothing is analysed.
    let (s, b) = call(&c, "GET", &url("/api/verdicts"), &[], None);
    assert_eq!(s, 401, "{b}");
    assert!(json(&b)["error"].as_str().unwrap().contains("token"));
    let (s, _) = call(
        &c,
        "GET",
        &url("/api/verdicts"),
        &[("authorization", "Bearer wrong-token-wrong-token")],
        None,
    );
    assert_eq!(s, 401);
    let (s, _) = call(
        &c,
        "POST",
        &url("/api/login"),
        &[js],
        Some(b"{\"token\":\"nope\"}"),
    );
    assert_eq!(s, 401);
    // The page itself carries no data and loads without the token.
    let (s, page) = call(&c, "GET", &url("/"), &[], None);
    assert_eq!(s, 200);
    assert!(page.contains("app.js"));

    // A login sets a session cookie that the API then takes.
    let login = format!("{{\"token\":\"{token}\"}}");
    let mut r = c
        .post(url("/api/login"))
        .header("content-type", "application/json")
        .send(login.as_bytes())
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let cookie = r
        .headers_mut()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let (s, _) = call(
        &c,
        "GET",
        &url("/api/status"),
        &[("cookie", &session)],
        None,
    );
    assert_eq!(s, 200);

    // Method, path, headers, body, the status it must get.
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<Vec<u8>>,
        u16,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/analyze",
            vec![auth, js],
            Some(Vec::new()),
            400,
        ),
        (
            "POST",
            "/api/analyze",
            vec![auth, js],
            Some(b"{\"text\": ".to_vec()),
            400,
        ),
        (
            "POST",
            "/api/analyze",
            vec![auth, js],
            Some(b"[1,2,3]".to_vec()),
            422,
        ),
        (
            "POST",
            "/api/analyze",
            vec![auth, js],
            Some(b"{\"text\": \"  \"}".to_vec()),
            400,
        ),
        (
            "POST",
            "/api/analyze",
            vec![auth, js],
            Some(b"{\"text\": \"x\", \"mode\": \"turbo\"}".to_vec()),
            400,
        ),
        (
            "POST",
            "/api/analyze",
            vec![auth],
            Some(b"{\"text\": \"x\"}".to_vec()),
            415,
        ),
        ("POST", "/api/batch", vec![auth], Some(Vec::new()), 400),
        (
            "POST",
            "/api/batch",
            vec![auth],
            Some(b"\x7fELF\x02\x01\x01\x00\x00\x00binary\n".to_vec()),
            415,
        ),
        (
            "POST",
            "/api/batch?mode=turbo",
            vec![auth],
            Some(b"a line\n".to_vec()),
            400,
        ),
        (
            "GET",
            "/api/verdicts?min_severity=SEVERE",
            vec![auth],
            None,
            400,
        ),
        (
            "GET",
            "/api/verdicts?since=yesterday-ish",
            vec![auth],
            None,
            400,
        ),
        ("GET", "/api/verdicts?limit=-3", vec![auth], None, 400),
        ("GET", "/api/verdicts?format=xml", vec![auth], None, 400),
        ("GET", "/api/verdicts/abc", vec![auth], None, 400),
        ("GET", "/api/verdicts/999999", vec![auth], None, 404),
        ("GET", "/api/batch/77/events", vec![auth], None, 404),
        ("DELETE", "/api/batch/x", vec![auth], None, 404),
        ("GET", "/api/nothing-here", vec![auth], None, 404),
        ("GET", "/etc/passwd", vec![], None, 404),
    ];
    for (method, path, headers, body, want) in cases {
        let (s, b) = call(&c, method, &url(path), &headers, body.as_deref());
        assert_eq!(s, want, "{method} {path}: {b}");
        let e = json(&b);
        assert!(
            e["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: no error message in {b}"
        );
    }
    // A file over the limit is refused from its declared length, before its bytes are sent.
    let mut tcp = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(
        tcp,
        "POST /api/batch HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    )
    .unwrap();
    let mut head = [0u8; 512];
    let n = std::io::Read::read(&mut tcp, &mut head).unwrap();
    let answer = String::from_utf8_lossy(&head[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than this server takes"), "{answer}");

    // A page of another site rebound to 127.0.0.1 is answered only with a token.
    let (s, _) = call(
        &c,
        "GET",
        &url("/api/status"),
        &[auth, ("host", "evil.example")],
        None,
    );
    assert_eq!(s, 200, "the token stands in for the host check");

    assert!(server.alive(), "the server survived every bad request");
    let (s, b) = call(&c, "GET", &url("/api/verdicts?limit=0"), &[auth], None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b).as_array().unwrap().len(), stored(&db).len());
    drop(server);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the store is unchanged"
    );
}

#[test]
fn a_server_without_a_token_answers_only_to_its_own_names_and_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let out = opensoc()
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("v.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--token"),
        "{}",
        text(&out.stderr)
    );
    let out = opensoc()
        .args(["serve", "--token", "short", "--db"])
        .arg(dir.path().join("v.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("at least 16"),
        "{}",
        text(&out.stderr)
    );

    let server = Server::start(&dir.path().join("v.db"), &[]);
    let c = client();
    let url = format!("{}/api/status", server.url);
    let (s, b) = call(&c, "GET", &url, &[], None);
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b)["db_exists"], false);
    // A database an agent has created but not yet given its tables reads as empty, as a
    // missing one does: `watch` started beside the page must not make it fail.
    for _ in 0..2 {
        let (s, b) = call(
            &c,
            "GET",
            &format!("{}/api/verdicts", server.url),
            &[],
            None,
        );
        assert_eq!((s, b.as_str()), (200, "[]"));
        let (s, b) = call(&c, "GET", &format!("{}/api/report", server.url), &[], None);
        assert_eq!(s, 200, "{b}");
        assert_eq!(json(&b)["verdicts"], 0);
        std::fs::write(dir.path().join("v.db"), "").unwrap();
    }
    let (s, _) = call(&c, "GET", &url, &[("host", "attacker.example:8787")], None);
    assert_eq!(s, 421);
    let (s, _) = call(&c, "GET", &url, &[("host", "localhost:8787")], None);
    assert_eq!(s, 200);
    // The headers that keep log text inert on the page.
    let r = c.get(format!("{}/", server.url)).call().unwrap();
    let csp = r
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
}

/// Appends `n` failed sshd logins to `path` (clients append at the same time: each line is
/// written whole).
fn append_failures(path: &Path, from: usize, n: usize) {
    append_lines(
        path,
        (from..from + n).map(|i| {
            format!(
                "Nov 27 10:{:02}:{:02} web sshd[{}]: Failed password for root from 203.0.113.{} port 4{:04} ssh2",
                i / 60 % 60,
                i % 60,
                4000 + i,
                1 + i % 3,
                i
            )
        }),
    );
}

#[test]
fn twenty_clients_at_once_while_watch_writes_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("auth.log");
    append_failures(&log, 0, 12);
    // Every window's row is kept, so that the stored windows' lines add up to those written.
    let mut watch = opensoc()
        .args(["watch", "--store-every-window", "--db"])
        .arg(&db)
        .args(["--poll-secs", "0.2", "--idle-secs", "1"])
        .arg(&logs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start watch");
    let server = Server::start(&db, &[]);
    // A live view opened before watch stores anything sees its verdicts arrive.
    let live_url = format!("{}/api/verdicts/stream?after=0", server.url);
    let live = std::thread::spawn(move || {
        let mut r = client().get(&live_url).call().expect("live view");
        let mut reader = std::io::BufReader::new(r.body_mut().as_reader());
        let mut line = String::new();
        loop {
            line.clear();
            let n = std::io::BufRead::read_line(&mut reader, &mut line).expect("read the stream");
            assert!(n > 0, "the live view ended before any verdict");
            if let Some(d) = line.strip_prefix("data: ") {
                return json(d.trim());
            }
        }
    });
    let started = Instant::now();
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let url = server.url.clone();
            let log = log.clone();
            std::thread::spawn(move || {
                let c = client();
                let mut answers = Vec::new();
                if i % 2 == 0 {
                    let body = serde_json::json!({ "text": SQLI }).to_string();
                    answers.push(call(
                        &c,
                        "POST",
                        &format!("{url}/api/analyze"),
                        &[("content-type", "application/json")],
                        Some(body.as_bytes()),
                    ));
                } else {
                    append_failures(&log, 100 + i * 10, 10);
                }
                for path in ["/api/verdicts?limit=0", "/api/report", "/api/status"] {
                    answers.push(call(&c, "GET", &format!("{url}{path}"), &[], None));
                }
                answers
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        for (status, body) in c.join().expect("a client thread") {
            assert_eq!(status, 200, "client {i}: {body}");
        }
    }
    let first = live.join().expect("the live view");
    assert!(first["id"].as_i64().unwrap() >= 1, "{first}");
    // watch kept storing meanwhile: every appended line ends up in one stored window.
    let want = 12 + 10 * 10;
    let deadline = started + Duration::from_secs(240);
    loop {
        let lines: u64 = stored(&db)
            .iter()
            .map(|v| v["lines"].as_u64().unwrap())
            .sum();
        if lines == want {
            break;
        }
        assert!(lines < want, "{lines} lines stored, {want} written");
        assert!(
            Instant::now() < deadline,
            "watch stored {lines} of {want} lines"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn a_client_past_the_rate_limit_is_told_to_wait() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("v.db"), &["--rate-limit", "5"]);
    let c = client();
    let url = format!("{}/api/status", server.url);
    for i in 0..5 {
        let (s, b) = call(&c, "GET", &url, &[], None);
        assert_eq!(s, 200, "request {i}: {b}");
    }
    let mut r = c.get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers().get("retry-after").unwrap(), "60");
    let body = r.body_mut().read_to_string().unwrap();
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("too many requests"),
        "{body}"
    );
    // The page itself is counted too: a flood cannot go around the limit through it.
    let (s, _) = call(&c, "GET", &format!("{}/", server.url), &[], None);
    assert_eq!(s, 429);
}
