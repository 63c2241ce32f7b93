//! Recognises one record's log format and pulls out what windowing needs: the entity the record
//! is about (client IP, user or host), its time in UTC and a coarse event (request, failed or
//! accepted login, denial, connection to a port). Parsing never fails: an unknown line is `Plain`
//! with whatever was plainly there.
//!
//! Entities and events are read by general rules rather than one grammar per daemon: the peer is
//! the address named by the most specific key (`client:`, `rhost=`, `SRC=`, then `ip=`, then
//! `from`, then `name[1.2.3.4]`, then any address not marked as a destination), and events come
//! from `opensoc::signals::words` phrase lists, so services never seen before work as long as they
//! write like the others.

mod access;
mod entity;
mod json;
mod syslog;
mod time;
mod windows;

#[cfg(test)]
mod fail2ban_samples;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod tests;

use std::fmt;

// The two helpers the window and the builder use, under the parser's name.
pub use self::time::civil_from_days;
pub use self::windows::windows_event_compact;

use self::access::parse_access;
use self::json::parse_json;
use self::syslog::{parse_3164, parse_5424, parse_iso_syslog, parse_plain};
use self::windows::{is_windows_block, parse_windows};

/// The layout a record was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Apache/nginx common or combined access log.
    Access,
    /// BSD syslog (RFC 3164), also with an ISO stamp in place of the 3164 one.
    Syslog,
    /// RFC 5424 syslog.
    Syslog5424,
    /// A Windows event exported as text (wevtutil or Format-List).
    WindowsEvent,
    /// One JSON object per line.
    Json,
    /// Anything else.
    Plain,
}

impl LogFormat {
    /// A stable lower-case name, for keys and the store.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogFormat::Access => "access",
            LogFormat::Syslog => "syslog",
            LogFormat::Syslog5424 => "syslog5424",
            LogFormat::WindowsEvent => "windows-event",
            LogFormat::Json => "json",
            LogFormat::Plain => "plain",
        }
    }
}

/// What kind of thing an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// A network address (the client, the remote host).
    Ip,
    /// An account name.
    User,
    /// A host name (the logging host, or a remote host given by name).
    Host,
}

impl EntityKind {
    /// A stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EntityKind::Ip => "ip",
            EntityKind::User => "user",
            EntityKind::Host => "host",
        }
    }
}

/// The actor a record is about; windows group records by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entity {
    /// IP, user or host.
    pub kind: EntityKind,
    /// The address or name as written (IPv4-mapped IPv6 addresses are unmapped).
    pub value: String,
}

impl Entity {
    fn new(kind: EntityKind, value: impl Into<String>) -> Self {
        Entity {
            kind,
            value: value.into(),
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.value)
    }
}

/// The coarse meaning of a record, as far as the summaries need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An HTTP request from an access log.
    Request {
        /// HTTP method (`GET`), or `-` when the request line was malformed.
        method: String,
        /// Requested path with its query string.
        path: String,
        /// Response status.
        status: u16,
        /// Response size (0 for `-`).
        bytes: u64,
    },
    /// A failed authentication.
    FailedLogin {
        /// The account tried, when the record names it.
        user: Option<String>,
    },
    /// A successful authentication or session start.
    AcceptedLogin {
        /// The account logged in, when the record names it.
        user: Option<String>,
    },
    /// A request refused by policy: a mail relay or sender rejected, a client denied by the
    /// server's configuration or a blocklist, a rate limit hit.
    Denied,
    /// A connection attempt (a firewall or connection log line) to a destination port.
    Connection {
        /// The destination port.
        port: u16,
    },
    /// Anything else.
    Other,
}

/// What `parse` found in one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLine {
    /// The recognised layout.
    pub format: LogFormat,
    /// Log time as unix seconds UTC; stamps without a zone are taken as UTC.
    pub time: Option<i64>,
    /// The actor: client IP, else user, else host.
    pub entity: Option<Entity>,
    /// The host that wrote the record, when the format carries it.
    pub host: Option<String>,
    /// The coarse event.
    pub event: Event,
}

/// Parses one record (a line, or a multi-line block); `year` completes RFC 3164 stamps.
pub fn parse(text: &str, year: i32) -> ParsedLine {
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or("").trim_end();
    if is_windows_block(text, first) {
        return parse_windows(text);
    }
    let trimmed = first.trim_start();
    if trimmed.starts_with('{') {
        if let Some(p) = parse_json(trimmed, year) {
            return p;
        }
    }
    if let Some(p) = parse_access(first) {
        return p;
    }
    if let Some(p) = parse_5424(first) {
        return p;
    }
    if let Some(p) = parse_iso_syslog(first) {
        return p;
    }
    if let Some(p) = parse_3164(first, year) {
        return p;
    }
    parse_plain(text, year)
}
