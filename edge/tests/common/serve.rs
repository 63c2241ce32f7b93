//! `opensoc serve` started for a test: the real binary and model on a free loopback port,
//! stopped when the test ends; and requests to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::cli::opensoc;

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
}

impl Server {
    /// Starts `opensoc serve --db DB --listen 127.0.0.1:0 EXTRA…` and waits for the address
    /// it prints once the model is loaded and the port is open.
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        opensoc::model::fetch::ensure_default_model(false).expect("default model");
        let mut child = opensoc()
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start opensoc serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, url }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reads 4xx and 5xx answers instead of failing on them, and gives up on a
/// request after `timeout`.
pub fn client(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// Status and body of `GET url` (a minute at the most, a body of 64 MiB at the most).
pub fn get(url: &str) -> (u16, String) {
    let mut answer = client(Duration::from_secs(60))
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let limit = 64 * 1024 * 1024;
    let body = answer
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_string();
    (answer.status().as_u16(), body.unwrap_or_default())
}

/// `body` as JSON, which it must be.
pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `GET url`, which must answer 200 with JSON.
pub fn get_json(url: &str) -> Value {
    let (status, body) = get(url);
    assert_eq!(status, 200, "GET {url}: {body}");
    json(&body)
}
