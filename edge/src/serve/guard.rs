//! What stands between the network and the API: the admin's token (required on any address
//! other than loopback), a rate limit per client address, a check of the `Host` header on
//! an unauthenticated loopback server (a web site that rebinds its name to 127.0.0.1 must not
//! read the verdicts), and the headers that keep the page's attacker-written text inert.

use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::reply::{error, retry_later};

/// The cookie a successful login sets: a secret of this server's life, not the token.
pub const SESSION_COOKIE: &str = "opensoc_session";

/// The page runs only its own script and style; nothing it shows can load or run anything.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Wrong tokens one address may try in a minute.
const LOGIN_TRIES: u32 = 10;

/// How long a rate-limit window lasts.
const WINDOW: Duration = Duration::from_secs(60);

/// Requests counted per address in the current minute.
#[derive(Default)]
struct Counts {
    started: Option<Instant>,
    seen: HashMap<IpAddr, u32>,
}

impl Counts {
    /// Counts one more for `ip`; false once it passes `limit` this minute.
    fn allow(&mut self, ip: IpAddr, limit: u32) -> bool {
        let now = Instant::now();
        if self.started.is_none_or(|s| now.duration_since(s) >= WINDOW) {
            self.started = Some(now);
            self.seen.clear();
        }
        let n = self.seen.entry(ip).or_insert(0);
        *n = n.saturating_add(1);
        *n <= limit
    }

    /// Whether `ip` is past `limit` this minute, without counting.
    fn over(&self, ip: IpAddr, limit: u32) -> bool {
        self.started.is_some_and(|s| {
            s.elapsed() < WINDOW && self.seen.get(&ip).is_some_and(|&n| n >= limit)
        })
    }
}

/// What a login attempt gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The right token.
    Right,
    /// A wrong one.
    Wrong,
    /// Too many wrong ones from this address this minute; not even looked at.
    TooMany,
}

/// The server's access rules.
pub struct Guard {
    token: Option<String>,
    session: String,
    listen: SocketAddr,
    per_minute: u32,
    requests: Mutex<Counts>,
    failed_logins: Mutex<Counts>,
}

impl Guard {
    /// Rules for a server on `listen`, with the admin's `token` if any, allowing
    /// `per_minute` requests a minute from one address.
    pub fn new(
        token: Option<String>,
        listen: SocketAddr,
        per_minute: u32,
    ) -> std::io::Result<Guard> {
        let mut secret = [0u8; 24];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
        Ok(Guard {
            token,
            session: secret.iter().map(|b| format!("{b:02x}")).collect(),
            listen,
            per_minute,
            requests: Mutex::new(Counts::default()),
            failed_logins: Mutex::new(Counts::default()),
        })
    }

    /// Checks a login attempt from `ip`.
    pub fn login(&self, ip: IpAddr, given: &str) -> Login {
        let mut failed = self.failed_logins.lock().unwrap_or_else(|e| e.into_inner());
        if failed.over(ip, LOGIN_TRIES) {
            return Login::TooMany;
        }
        if self.token.as_deref().is_none_or(|t| same(t, given)) {
            Login::Right
        } else {
            failed.allow(ip, LOGIN_TRIES);
            Login::Wrong
        }
    }

    /// The `Set-Cookie` value of a successful login.
    pub fn session_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            self.session
        )
    }

    /// Whether the request carries the token (`Authorization: Bearer …`) or the session
    /// cookie; always true without a token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| same(token, given.trim()));
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == SESSION_COOKIE && same(&self.session, v));
        bearer || cookie
    }

    /// Whether the `Host` header names this server: on a server without a token, a page
    /// of another site whose name was rebound to 127.0.0.1 sends its own name.
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        if self.token.is_some() {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip == self.listen.ip())
    }
}

/// Compares two secrets in time that depends on their lengths only.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The middleware every request passes: rate limit, host, token; then the security headers
/// on whatever answers.
pub async fn protect(
    State(guard): State<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let allowed = guard
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .allow(peer.ip(), guard.per_minute);
    let mut response = if !allowed {
        retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from this address; try again in a minute",
            "60",
        )
    } else if !guard.host_allowed(req.headers()) {
        error(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers to localhost and its own address only",
        )
    } else if req.uri().path().starts_with("/api/")
        && req.uri().path() != "/api/login"
        && !guard.authorized(req.headers())
    {
        error(
            StatusCode::UNAUTHORIZED,
            "this server needs its token: log in on the page, or send Authorization: Bearer TOKEN",
        )
    } else {
        next.run(req).await.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
