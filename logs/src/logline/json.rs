//! JSON records: one object per line, read in one pass ([`super::jsonwalk`]) into the fields that
//! windowing needs, under the keys each layout writes them with:
//! - Caddy: `ts`, `request.client_ip` (else `request.remote_ip`), `request.method`,
//!   `request.uri`, `request.proto`, `request.headers.User-Agent`, `status`, `size`.
//! - Traefik: `ClientHost`/`ClientAddr`, `RequestMethod`, `RequestPath`, `RequestProtocol`,
//!   `DownstreamStatus` (else `OriginStatus`), `DownstreamContentSize`, `time`/`StartUTC`,
//!   `request_User-Agent`, `ClientUsername`.
//! - nginx `escape=json` and Apache layouts: `remote_addr`/`remoteIP`/`clientip`,
//!   `time_iso8601`/`time_local`/`time`, `request` (`GET /x HTTP/1.1`) or `request_method` with
//!   `request_uri` (or `uri` and `args`), `status`/`statusCode`, `body_bytes_sent`/`bytes`,
//!   `http_user_agent`/`userAgent`, `http_referer`/`referer`, `remote_user`.
//! - Suricata EVE: `timestamp`, `src_ip`, `dest_ip`, `dest_port`, `http.*`; what each
//!   `event_type` means is [`super::eve`]'s.
//! - ECS (`source.ip`, `http.request.method`, `url.original`, `http.response.status_code`,
//!   `user_agent.original`, `event.outcome`), journald's export (`MESSAGE`,
//!   `__REALTIME_TIMESTAMP`, `_HOSTNAME`, `SYSLOG_IDENTIFIER`) and applications' flat keys
//!   (`ip`, `user`, `msg`, `path`, `status`).
//!
//! Where several keys name one thing the most specific wins (Traefik's `DownstreamStatus`,
//! what the client got, over `OriginStatus`; Caddy's `client_ip`, the client behind trusted
//! proxies, over `remote_ip`). Headers any client can write (`X-Forwarded-For`, `X-Real-IP`)
//! are never read as the peer.

use std::borrow::Cow;

use super::entity::{ip_of, message_facts, user_of};
use super::eve::{self, Eve, EveFields};
use super::jsonwalk::{walk, End, Scalar, Syntax};
use super::parsed::{Entity, EntityKind, Event, LogFormat, ParsedLine};
use super::time::{epoch, parse_clf_time, parse_iso, parse_leading_time};

/// Most bytes of a free-text message that are read for events and addresses: what one record
/// holds ([`crate::record::MAX_RECORD_BYTES`]), so that a JSON message costs no more than the
/// same text on a line of its own.
const MAX_MESSAGE: usize = crate::record::MAX_RECORD_BYTES;

/// The value kept for one field, and the rank of the key it came from (lower wins).
#[derive(Debug)]
pub(super) struct Best<T>(Option<(u8, T)>);

impl<T> Default for Best<T> {
    fn default() -> Self {
        Best(None)
    }
}

impl<T> Best<T> {
    /// Keeps what `value` gives if no key of a lower rank gave a value already; `value` is only
    /// run then (it parses), and a None from it (not an address, not a number) keeps looking.
    fn offer(&mut self, rank: u8, value: impl FnOnce() -> Option<T>) {
        if self.0.as_ref().is_none_or(|(kept, _)| rank < *kept) {
            if let Some(v) = value() {
                self.0 = Some((rank, v));
            }
        }
    }

    pub(super) fn get(&self) -> Option<&T> {
        self.0.as_ref().map(|(_, v)| v)
    }

    fn take(&mut self) -> Option<T> {
        self.0.take().map(|(_, v)| v)
    }
}

impl Best<Cow<'_, str>> {
    pub(super) fn str(&self) -> Option<&str> {
        self.get().map(|s| s.as_ref())
    }
}

/// What one JSON record says, field by field.
#[derive(Debug, Default)]
pub(super) struct Fields<'a> {
    pub(super) time: Best<i64>,
    /// The client's address (unmapped, without a port).
    pub(super) ip: Best<String>,
    pub(super) user: Best<String>,
    /// The host that wrote the record.
    pub(super) host: Best<Cow<'a, str>>,
    /// A top-level `host`: the writer in most logs, the requested site in an HTTP log.
    pub(super) vhost: Best<Cow<'a, str>>,
    pub(super) message: Best<Cow<'a, str>>,
    /// The program that wrote `message` (journald's `SYSLOG_IDENTIFIER`).
    pub(super) tag: Best<Cow<'a, str>>,
    pub(super) method: Best<Cow<'a, str>>,
    /// The request target: a path with its query, or a URL.
    pub(super) target: Best<Cow<'a, str>>,
    /// A query string written apart from a target that has none (nginx `args`).
    pub(super) query: Best<Cow<'a, str>>,
    /// A whole request line, `GET /x HTTP/1.1`.
    pub(super) request_line: Best<Cow<'a, str>>,
    /// `HTTP/1.1`.
    pub(super) protocol: Best<Cow<'a, str>>,
    pub(super) status: Best<u16>,
    pub(super) bytes: Best<u64>,
    pub(super) agent: Best<Cow<'a, str>>,
    pub(super) referer: Best<Cow<'a, str>>,
    pub(super) src_port: Best<u16>,
    pub(super) dest_port: Best<u16>,
    pub(super) dest_ip: Best<String>,
    /// Suricata's record kind (`alert`, `http`, `flow`, …).
    pub(super) event_type: Best<Cow<'a, str>>,
    /// Suricata's `direction` of an alert's packet: `to_server` or `to_client`.
    pub(super) direction: Best<Cow<'a, str>>,
    /// Suricata's `alert.action`: `allowed` or `blocked`.
    pub(super) action: Best<Cow<'a, str>>,
    /// ECS `event.outcome` (`success`, `failure`) and the first `event.category`.
    pub(super) outcome: Best<Cow<'a, str>>,
    pub(super) category: Best<Cow<'a, str>>,
    /// Whether any key was one of the above.
    pub(super) known: bool,
}

fn text<'a>(v: Scalar<'a>) -> Option<Cow<'a, str>> {
    v.text().filter(|s| !s.is_empty())
}

/// A string that is a value, not a placeholder: nginx writes `-` or `""` for an absent field.
fn value<'a>(v: Scalar<'a>) -> Option<Cow<'a, str>> {
    text(v).filter(|s| s != "-")
}

fn number<T: std::str::FromStr>(v: Scalar<'_>) -> Option<T> {
    v.text_or_number()?.trim().parse().ok()
}

fn status(v: Scalar<'_>) -> Option<u16> {
    // An application's `"status": 1` is no HTTP status.
    number::<u16>(v).filter(|s| (100..=999).contains(s))
}

fn port(v: Scalar<'_>) -> Option<u16> {
    number::<u16>(v).filter(|&p| p > 0)
}

fn address(v: Scalar<'_>) -> Option<String> {
    ip_of(&v.text()?)
}

fn protocol<'a>(v: Scalar<'a>) -> Option<Cow<'a, str>> {
    text(v).filter(|s| s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("HTTP/")))
}

/// A log time: epoch seconds, milliseconds, micro- or nanoseconds as a number or a string,
/// RFC 3339, the common log format (`10/Oct/2026:13:55:36 -0700`, bracketed or not), or any
/// stamp [`parse_leading_time`] knows.
fn time_of(v: Scalar<'_>, year: i32) -> Option<i64> {
    // Under a time key, a number before 1973 is a duration or a counter, not a date.
    let from_epoch = |n: f64| (n >= 1e8).then(|| epoch(n)).flatten();
    match v {
        Scalar::Num(n) => n.parse::<f64>().ok().and_then(from_epoch),
        _ => {
            let s = v.text()?;
            let s = s.trim().trim_start_matches('[').trim_end_matches(']');
            parse_iso(s)
                .or_else(|| parse_clf_time(s))
                .or_else(|| s.parse::<f64>().ok().and_then(from_epoch))
                .or_else(|| parse_leading_time(s, year))
        }
    }
}

impl<'a> Fields<'a> {
    /// Reads the object at the start of `line`; a line cut short gives what it holds.
    pub(super) fn read(line: &'a str, year: i32) -> Result<(Fields<'a>, End), Syntax> {
        let mut f = Fields::default();
        let end = walk(line, |path, key, v| {
            if f.offer(path, key, v, year) {
                f.known = true;
            }
        })?;
        Ok((f, end))
    }

    /// Takes the leaf `key` under `path` if it names a field; whether it did.
    fn offer(&mut self, path: &[&str], key: &str, v: Scalar<'a>, year: i32) -> bool {
        match path {
            [] => return self.top(key, v, year),
            // Caddy.
            ["request"] => match key {
                "client_ip" => self.ip.offer(2, || address(v)),
                "remote_ip" => self.ip.offer(9, || address(v)),
                "method" => self.method.offer(1, || value(v)),
                "uri" => self.target.offer(0, || value(v)),
                "proto" => self.protocol.offer(0, || protocol(v)),
                _ => return false,
            },
            ["request", "headers"] => match key {
                "User-Agent" | "user-agent" => self.agent.offer(0, || value(v)),
                "Referer" | "referer" => self.referer.offer(0, || value(v)),
                _ => return false,
            },
            // Suricata's `http` records and alerts.
            ["http"] => match key {
                "url" => self.target.offer(1, || value(v)),
                "http_method" => self.method.offer(1, || value(v)),
                "status" => self.status.offer(0, || status(v)),
                "length" => self.bytes.offer(0, || number(v)),
                "http_user_agent" => self.agent.offer(0, || value(v)),
                "http_refer" => self.referer.offer(0, || value(v)),
                "protocol" => self.protocol.offer(0, || protocol(v)),
                _ => return false,
            },
            ["alert"] if key == "action" => self.action.offer(0, || text(v)),
            // ECS.
            ["http", "request"] => match key {
                "method" => self.method.offer(2, || value(v)),
                "referrer" => self.referer.offer(2, || value(v)),
                _ => return false,
            },
            ["http", "response"] if key == "status_code" => self.status.offer(1, || status(v)),
            ["http", "response", "body"] if key == "bytes" => self.bytes.offer(1, || number(v)),
            ["source" | "client"] => match key {
                "ip" => self.ip.offer(6, || address(v)),
                "address" => self.ip.offer(7, || address(v)),
                "port" => self.src_port.offer(1, || port(v)),
                _ => return false,
            },
            ["destination"] => match key {
                "ip" | "address" => self.dest_ip.offer(1, || address(v)),
                "port" => self.dest_port.offer(1, || port(v)),
                _ => return false,
            },
            ["user"] if key == "name" => self.user.offer(3, || user_of(&v.text()?)),
            ["host"] if matches!(key, "name" | "hostname") => self.host.offer(1, || text(v)),
            ["url"] => match key {
                "original" => self.target.offer(2, || value(v)),
                "path" => self.target.offer(4, || value(v)),
                "query" => self.query.offer(1, || value(v)),
                _ => return false,
            },
            ["user_agent"] if key == "original" => self.agent.offer(1, || value(v)),
            ["event"] => match key {
                "outcome" => self.outcome.offer(0, || text(v)),
                "category" => self.category.offer(0, || text(v)),
                _ => return false,
            },
            _ => return false,
        }
        true
    }

    /// A top-level key.
    fn top(&mut self, key: &str, v: Scalar<'a>, year: i32) -> bool {
        match key {
            "timestamp" => self.time.offer(0, || time_of(v, year)),
            "time" => self.time.offer(1, || time_of(v, year)),
            "@timestamp" => self.time.offer(2, || time_of(v, year)),
            "ts" => self.time.offer(3, || time_of(v, year)),
            "datetime" => self.time.offer(4, || time_of(v, year)),
            "StartUTC" => self.time.offer(5, || time_of(v, year)),
            "time_iso8601" => self.time.offer(6, || time_of(v, year)),
            "time_local" => self.time.offer(7, || time_of(v, year)),
            "__REALTIME_TIMESTAMP" => self.time.offer(8, || time_of(v, year)),
            "msec" => self.time.offer(9, || time_of(v, year)),
            "StartLocal" => self.time.offer(10, || time_of(v, year)),
            "src_ip" => self.ip.offer(0, || address(v)),
            "source_ip" => self.ip.offer(1, || address(v)),
            "client_ip" => self.ip.offer(2, || address(v)),
            "ClientHost" => self.ip.offer(3, || address(v)),
            "remote_addr" | "remoteIP" | "remote_ip" | "remoteAddr" | "RemoteAddr" => {
                self.ip.offer(4, || address(v))
            }
            "ip" | "clientip" | "clientIp" | "clientIP" | "client_addr" => {
                self.ip.offer(5, || address(v))
            }
            "ClientAddr" => self.ip.offer(8, || address(v)),
            "src" => self.ip.offer(10, || address(v)),
            "user" => self.user.offer(0, || user_of(&v.text()?)),
            "username" | "userName" => self.user.offer(1, || user_of(&v.text()?)),
            "user_name" => self.user.offer(2, || user_of(&v.text()?)),
            "account" => self.user.offer(4, || user_of(&v.text()?)),
            "remote_user" | "ClientUsername" => self.user.offer(5, || user_of(&v.text()?)),
            "user_id" => self.user.offer(6, || user_of(&v.text()?)),
            "hostname" | "_HOSTNAME" => self.host.offer(0, || text(v)),
            "computer" | "Computer" => self.host.offer(2, || text(v)),
            "host" => self.vhost.offer(0, || text(v)),
            "message" | "MESSAGE" => self.message.offer(0, || text(v)),
            "msg" => self.message.offer(1, || text(v)),
            "event" => self.message.offer(2, || text(v)),
            "log" => self.message.offer(3, || text(v)),
            "SYSLOG_IDENTIFIER" | "program" => self.tag.offer(0, || text(v)),
            "method" | "request_method" | "RequestMethod" | "verb" | "http_method"
            | "httpMethod" | "requestMethod" => self.method.offer(0, || value(v)),
            "request_uri" | "requestUri" | "RequestURI" => self.target.offer(0, || value(v)),
            "RequestPath" => self.target.offer(1, || value(v)),
            "uri" | "URI" => self.target.offer(2, || value(v)),
            "url" => self.target.offer(3, || value(v)),
            "path" | "request_path" => self.target.offer(5, || value(v)),
            "args" | "query_string" | "query" | "QueryString" => self.query.offer(0, || value(v)),
            "request" | "request_line" | "RequestLine" => self.request_line.offer(0, || value(v)),
            "server_protocol" | "RequestProtocol" | "protocol" | "http_version" => {
                self.protocol.offer(1, || protocol(v))
            }
            "status" | "DownstreamStatus" => self.status.offer(0, || status(v)),
            "status_code" | "statusCode" | "response_code" | "responseCode" | "http_status"
            | "httpStatus" => self.status.offer(1, || status(v)),
            "OriginStatus" => self.status.offer(2, || status(v)),
            "body_bytes_sent" | "DownstreamContentSize" => self.bytes.offer(0, || number(v)),
            "bytes" | "size" | "bytes_sent" | "responseBytes" | "response_size" | "bytesSent" => {
                self.bytes.offer(1, || number(v))
            }
            "http_user_agent" | "request_User-Agent" => self.agent.offer(0, || value(v)),
            "user_agent" | "userAgent" | "useragent" | "UserAgent" | "agent" => {
                self.agent.offer(1, || value(v))
            }
            "http_referer" | "request_Referer" | "http_referrer" => {
                self.referer.offer(0, || value(v))
            }
            "referer" | "referrer" | "Referer" => self.referer.offer(1, || value(v)),
            "dest_port" | "dst_port" | "dport" | "destination_port" => {
                self.dest_port.offer(0, || port(v))
            }
            "src_port" | "sport" | "source_port" => self.src_port.offer(0, || port(v)),
            "dest_ip" | "dst_ip" => self.dest_ip.offer(0, || address(v)),
            // Suricata's transport (`TCP`); some nginx layouts put `$server_protocol` here.
            "proto" => self.protocol.offer(2, || protocol(v)),
            "event_type" => self.event_type.offer(0, || text(v)),
            "direction" => self.direction.offer(0, || text(v)),
            _ => return false,
        }
        true
    }

    /// The request's method and target: from their own keys, else from the request line.
    pub(super) fn request_parts(&self) -> Option<(&str, Cow<'_, str>)> {
        let line = self.request_line.str().map(split_request);
        let target = match self.target.str() {
            Some(t) => match self.query.str() {
                // nginx `uri` and Apache `%U` leave the query to `args` and `%q`.
                Some(q) if !t.contains('?') => {
                    Cow::Owned(format!("{t}?{}", q.strip_prefix('?').unwrap_or(q)))
                }
                _ => Cow::Borrowed(t),
            },
            None => Cow::Borrowed(line?.1),
        };
        let method = self
            .method
            .str()
            .or_else(|| line.and_then(|(m, _, _)| m))
            .unwrap_or("-");
        Some((method, target))
    }

    /// The HTTP version: its own key, else the request line's third word.
    pub(super) fn protocol(&self) -> Option<&str> {
        self.protocol
            .str()
            .or_else(|| self.request_line.str().and_then(|l| split_request(l).2))
    }

    /// An HTTP request, if the record has a status and a target (a request line counts).
    fn request(&self, status_required: bool) -> Option<Event> {
        let status = match self.status.get() {
            Some(s) => *s,
            None if !status_required => 0,
            None => return None,
        };
        let (method, path) = self.request_parts()?;
        Some(Event::Request {
            method: method.to_string(),
            path: path.into_owned(),
            status,
            bytes: self.bytes.get().copied().unwrap_or(0),
            agent: self.agent.str().map(str::to_string),
        })
    }

    /// The event for an HTTP record of Suricata, which need not have a response.
    pub(super) fn eve_request(&self) -> Option<Event> {
        self.request(false)
    }

    /// ECS authentication outcome: `event.category: authentication` with `event.outcome`.
    fn login_outcome(&self, user: &Option<String>) -> Option<Event> {
        if self.category.str()? != "authentication" {
            return None;
        }
        match self.outcome.str()? {
            "failure" => Some(Event::FailedLogin { user: user.clone() }),
            "success" => Some(Event::AcceptedLogin { user: user.clone() }),
            _ => None,
        }
    }

    fn into_parsed(mut self) -> ParsedLine {
        let user = self.user.take();
        // Suricata's records are typed: the type says what happened, not the key set (a
        // `fileinfo` record carries the `http` fields of the request it came with).
        let eve = eve::read(EveFields {
            kind: self.event_type.str(),
            src_ip: self.ip.get(),
            dest_ip: self.dest_ip.get(),
            src_port: self.src_port.get().copied(),
            dest_port: self.dest_port.get().copied(),
            direction: self.direction.str(),
            action: self.action.str(),
            request: if self.event_type.str() == Some("http") {
                self.eve_request()
            } else {
                None
            },
        });
        let typed = match &eve {
            Some(eve) => Some(eve.event.clone()),
            None => self.request(true),
        };
        let client = match &eve {
            Some(Eve {
                client: Some(ip), ..
            }) => Some(ip.clone()),
            _ => self.ip.take(),
        };
        // The message is read for what the record's own fields do not say: an access record
        // from a known client (Caddy's `handled request`) needs nothing from it.
        let read_message = typed.is_none() || (client.is_none() && user.is_none());
        let (msg_entity, msg_event) = match self.message.str() {
            Some(msg) if read_message => {
                message_facts(self.tag.str().unwrap_or(""), cut(msg, MAX_MESSAGE))
            }
            _ => (None, Event::Other),
        };
        let event = match typed {
            Some(e) => e,
            None => match msg_event {
                Event::FailedLogin { user: None } => Event::FailedLogin { user: user.clone() },
                Event::Other => match self.login_outcome(&user) {
                    Some(e) => e,
                    // Firewalls, IDS and honeypots: `"dest_port": 22`.
                    None => self
                        .dest_port
                        .get()
                        .map_or(Event::Other, |&port| Event::Connection { port }),
                },
                e => e,
            },
        };
        let host = match self.host.take() {
            Some(h) => Some(h.into_owned()),
            None if !matches!(event, Event::Request { .. }) => {
                self.vhost.take().map(Cow::into_owned)
            }
            None => None,
        };
        let entity = client
            .map(|ip| Entity::new(EntityKind::Ip, ip))
            .or_else(|| user.map(|u| Entity::new(EntityKind::User, u)))
            .or(msg_entity)
            .or_else(|| host.clone().map(|h| Entity::new(EntityKind::Host, h)));
        ParsedLine {
            format: LogFormat::Json,
            time: self.time.take(),
            entity,
            host,
            event,
        }
    }
}

/// `GET /x HTTP/1.1` as method, target and protocol; a line that is not one (TLS bytes sent to
/// a plain port) is all target.
fn split_request(line: &str) -> (Option<&str>, &str, Option<&str>) {
    let mut parts = line.splitn(3, ' ');
    match (parts.next(), parts.next()) {
        (Some(m), Some(t)) if !m.is_empty() && !line.starts_with('/') => (Some(m), t, parts.next()),
        _ => (None, line, None),
    }
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A JSON record, or None when `line` is not a JSON object (or is cut before any known key).
pub(super) fn parse_json(line: &str, year: i32) -> Option<ParsedLine> {
    let (fields, end) = Fields::read(line, year).ok()?;
    if end == End::Truncated && !fields.known {
        return None;
    }
    Some(fields.into_parsed())
}
