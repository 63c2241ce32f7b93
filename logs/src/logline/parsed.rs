//! What parsing one record yields: its layout, the entity it is about, its time and a coarse
//! event. Every format's parser writes these; the window and the facts read them.

use std::fmt;

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
    /// One JSON object per line (Caddy, Traefik, nginx and Apache JSON layouts, Suricata EVE,
    /// ECS, journald's export, applications' own).
    Json,
    /// A Linux audit record (`type=USER_LOGIN msg=audit(…): …`).
    Audit,
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
            LogFormat::Audit => "audit",
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
    pub(super) fn new(kind: EntityKind, value: impl Into<String>) -> Self {
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
        /// The client's user agent, where the layout writes one.
        agent: Option<String>,
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
