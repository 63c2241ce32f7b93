//! Recognises one record's log format and pulls out what windowing needs: the entity the record
//! is about (client IP, user or host), its time in UTC and a coarse event (request, failed or
//! accepted login). Parsing never fails: an unknown line is `Plain` with whatever was plainly there.

use regex::Regex;
use serde_json::Value;
use std::fmt;
use std::net::IpAddr;
use std::sync::LazyLock;

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

// ---------------------------------------------------------------- time

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm: exact for the proleptic Gregorian calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Year, month, day of a day count since 1970-01-01 (the inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Unix seconds from civil fields, or None when any field is out of range.
fn unix_time(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    // Years outside 1..=9999 are garbage in logs and would only risk overflow.
    if !(1..=9999).contains(&y) || !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    // 60 allows a leap second; it lands on the next minute, which is close enough.
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// Zone offset in seconds from `Z`, `+01:00`, `+0100` or `-07`.
fn zone_offset(z: &str) -> Option<i64> {
    if z.is_empty() || z.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match z.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (num::<i64>(&digits)?, 0),
        4 => (num::<i64>(&digits[..2])?, num::<i64>(&digits[2..])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

static ISO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s?(Z|z|[+-]\d{2}(?::?\d{2})?)?",
    )
    .expect("static regex")
});

/// A leading RFC 3339 / ISO 8601 stamp: its unix time and its length in bytes.
fn parse_iso_prefix(s: &str) -> Option<(i64, usize)> {
    let c = ISO_RE.captures(s)?;
    let field = |i: usize| c.get(i).map(|m| m.as_str()).unwrap_or("0");
    let t = unix_time(
        num(field(1))?,
        num(field(2))?,
        num(field(3))?,
        num(field(4))?,
        num(field(5))?,
        num(field(6))?,
    )?;
    let off = zone_offset(c.get(7).map(|m| m.as_str()).unwrap_or(""))?;
    Some((t - off, c.get(0)?.end()))
}

/// A whole-string RFC 3339 stamp.
fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let (t, len) = parse_iso_prefix(s)?;
    (len == s.len()).then_some(t)
}

static CLF_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\s+([+-]\d{4}))?$")
        .expect("static regex")
});

/// `10/Oct/2026:13:55:36 -0700`, zone optional (then UTC).
fn parse_clf_time(s: &str) -> Option<i64> {
    let c = CLF_TIME_RE.captures(s.trim())?;
    let t = unix_time(
        num(&c[3])?,
        month_number(&c[2])?,
        num(&c[1])?,
        num(&c[4])?,
        num(&c[5])?,
        num(&c[6])?,
    )?;
    let off = zone_offset(c.get(7).map(|m| m.as_str()).unwrap_or(""))?;
    Some(t - off)
}

static BSD_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?")
        .expect("static regex")
});

/// A leading RFC 3164 stamp (`Nov 28 10:00:01`) in `year`: its time and length.
fn parse_bsd_prefix(s: &str, year: i32) -> Option<(i64, usize)> {
    let c = BSD_TIME_RE.captures(s)?;
    let t = unix_time(
        year as i64,
        month_number(&c[1])?,
        num(&c[2])?,
        num(&c[3])?,
        num(&c[4])?,
        num(&c[5])?,
    )?;
    Some((t, c.get(0)?.end()))
}

/// Epoch seconds, or milliseconds when the number is too large to be seconds.
fn epoch(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    // Seconds reach 1e11 only in the year 5138; beyond that it is milliseconds (or micros).
    let secs = if n < 1e11 {
        n
    } else if n < 1e14 {
        n / 1e3
    } else if n < 1e17 {
        n / 1e6
    } else {
        return None;
    };
    Some(secs as i64)
}

static US_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})([/.])(\d{1,2})[/.](\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\s*([AaPp])\.?[Mm]\.?)?$")
        .expect("static regex")
});

/// PowerShell's `TimeCreated`: `11/20/2026 10:15:02 AM` (US), or `20.11.2026 10:15:02` (dotted day first).
fn parse_powershell_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_iso(s) {
        return Some(t);
    }
    let c = US_TIME_RE.captures(s)?;
    let (a, b): (u32, u32) = (num(&c[1])?, num(&c[3])?);
    let (month, day) = if &c[2] == "." { (b, a) } else { (a, b) };
    let mut hour: u32 = num(&c[5])?;
    if let Some(ampm) = c.get(8) {
        if hour == 0 || hour > 12 {
            return None;
        }
        let pm = ampm.as_str().eq_ignore_ascii_case("p");
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    unix_time(num(&c[4])?, month, day, hour, num(&c[6])?, num(&c[7])?)
}

// ---------------------------------------------------------------- entities and events

/// An IP address from a token, ignoring brackets, a trailing port or punctuation.
fn ip_of(token: &str) -> Option<String> {
    let t =
        token.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ';' | '(' | ')' | '<' | '>'));
    let t = t.trim_end_matches('.');
    // A closing bracket without an opening one ends a structured-data element.
    let t = if t.contains('[') {
        t
    } else {
        t.trim_end_matches(']')
    };
    let t = t
        .strip_prefix('[')
        .map_or(t, |rest| rest.split(']').next().unwrap_or(rest));
    let ip: IpAddr = match t.parse() {
        Ok(ip) => ip,
        Err(_) => {
            // `1.2.3.4:22`: a v4 address with a port (v6 ones come bracketed).
            let (host, port) = t.rsplit_once(':')?;
            if !port.bytes().all(|b| b.is_ascii_digit()) || host.contains(':') {
                return None;
            }
            host.parse().ok()?
        }
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    Some(ip.to_string())
}

/// A plausible account name: not empty, not a placeholder, no odd characters.
fn user_of(token: &str) -> Option<String> {
    let t =
        token.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']'));
    // `check pass; user unknown` means no such user, not a user named "unknown".
    let placeholder = matches!(
        t,
        "" | "-"
            | "unknown"
            | "N/A"
            | "(unknown)"
            | "NULL"
            | "null"
            | "name"
            | "is"
            | "not"
            | "the"
            | "from"
            | "by"
    );
    if placeholder || t.len() > 128 || t.chars().any(|c| c.is_control() || c == '=') {
        return None;
    }
    Some(t.to_string())
}

struct MsgPatterns {
    ip_keys: Regex,
    failed_for: Regex,
    invalid_user: Regex,
    accepted: Regex,
    user_kv: Regex,
    user_word: Regex,
    for_user: Regex,
    sudo: Regex,
    su_to: Regex,
    session_opened: Regex,
    failed_generic: Regex,
    rhost: Regex,
}

static MSG: LazyLock<MsgPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    MsgPatterns {
        // Where a message names the remote peer; the first that holds an IP wins.
        ip_keys: re(
            r#"(?i)(?:\bfrom|\brhost=|\bclient[ =:]|\bsrc=|\bsource ip:|\bremote[ _]addr(?:ess)?[=:]|\bclient "|\bconnection from|\bby) ?\s*(\[?[0-9A-Fa-f:.]+\]?(?::\d+)?)"#,
        ),
        failed_for: re(
            r"(?i)Failed (?:password|publickey|keyboard-interactive(?:/pam)?|none) for (invalid user )?(\S+)",
        ),
        invalid_user: re(r"(?i)\binvalid user (\S+)"),
        accepted: re(
            r"Accepted (?:password|publickey|keyboard-interactive(?:/pam)?|gssapi-with-mic|hostbased) for (\S+)",
        ),
        user_kv: re(r"(?i)\b(?:user|username|ruser|account)=(\S+)"),
        user_word: re(r"(?i)\b(?:for user|user|login:|account) (\S+)"),
        for_user: re(r"\bfor (\S+)"),
        sudo: re(r"^\s*(\S+) : .*\bUSER=(\S+)"),
        su_to: re(r"\(to (\S+)\) (\S+) on "),
        session_opened: re(
            r"session opened for user (\S+?)(?:\(uid=\d+\))?(?: by (\S*?)(?:\(uid=\d+\))?)?\s*$",
        ),
        failed_generic: re(
            r"(?i)authentication failure|authentication failed|failed login|fail login|login failed|login incorrect|couldn't authenticate|maximum authentication attempts|incorrect password|invalid password|bad password",
        ),
        rhost: re(r"\brhost=(\S+)"),
    }
});

/// Programs whose "session opened" means someone logged in or switched user (not cron).
fn is_login_program(tag: &str) -> bool {
    let t = tag.to_ascii_lowercase();
    [
        "su", "sudo", "sshd", "login", "gdm", "lightdm", "ftp", "telnet", "rlogin", "klogin",
        "xrdp", "dovecot",
    ]
    .iter()
    .any(|p| t.starts_with(p) || t.contains(&format!("({p}")) || t.contains(&format!("-{p}")))
}

/// Entity and event from a free-text message (`tag` is the syslog program, may be empty).
fn message_facts(tag: &str, msg: &str) -> (Option<Entity>, Event) {
    let p = &*MSG;
    let ip = p
        .ip_keys
        .captures_iter(msg)
        .find_map(|c| ip_of(c.get(1).map_or("", |m| m.as_str())));

    let mut user: Option<String> = None;
    let mut actor: Option<String> = None;
    let mut event = Event::Other;

    if let Some(c) = p.failed_for.captures(msg) {
        user = user_of(&c[2]);
        event = Event::FailedLogin { user: user.clone() };
    } else if let Some(c) = p.accepted.captures(msg) {
        user = user_of(&c[1]);
        event = Event::AcceptedLogin { user: user.clone() };
    } else if let Some(c) = p.invalid_user.captures(msg) {
        user = user_of(&c[1]);
        event = Event::FailedLogin { user: user.clone() };
    } else if let Some(c) = p.sudo.captures(msg) {
        // sudo's command line: the invoking user is the actor, USER= the target.
        actor = user_of(&c[1]);
    } else if let Some(c) = p.su_to.captures(msg) {
        actor = user_of(&c[2]);
        let target = user_of(&c[1]);
        if !msg.contains("FAILED") {
            event = Event::AcceptedLogin { user: target };
        } else {
            event = Event::FailedLogin { user: target };
        }
    } else if let Some(c) = p.session_opened.captures(msg) {
        let target = user_of(&c[1]);
        actor = c.get(2).and_then(|m| user_of(m.as_str()));
        user = target.clone();
        if is_login_program(tag) {
            event = Event::AcceptedLogin { user: target };
        }
    }

    if user.is_none() && actor.is_none() {
        user = p
            .user_kv
            .captures(msg)
            .and_then(|c| user_of(&c[1]))
            .or_else(|| p.user_word.captures(msg).and_then(|c| user_of(&c[1])));
    }
    if matches!(event, Event::Other) && p.failed_generic.is_match(msg) {
        // `login failed for bob`: only next to a failure is a bare `for X` an account.
        if user.is_none() && actor.is_none() {
            user = p.for_user.captures(msg).and_then(|c| user_of(&c[1]));
        }
        event = Event::FailedLogin { user: user.clone() };
    }
    if matches!(event, Event::Other) && msg.contains("FTP LOGIN FROM") {
        event = Event::AcceptedLogin {
            user: msg
                .rsplit('(')
                .next()
                .and_then(|s| user_of(s.trim_end().trim_end_matches(')'))),
        };
    }

    let entity = if let Some(ip) = ip {
        Some(Entity::new(EntityKind::Ip, ip))
    } else if let Some(a) = actor.or(user) {
        Some(Entity::new(EntityKind::User, a))
    } else {
        // A remote host given by name is still the remote party, not the logging host.
        p.rhost
            .captures(msg)
            .map(|c| c[1].to_string())
            .filter(|h| !h.is_empty() && h.len() <= 253)
            .map(|h| Entity::new(EntityKind::Host, h))
    };
    (entity, event)
}

/// Splits `sshd[123]: msg` or `sshd(pam_unix)[1]: msg` into tag and message.
fn split_tag(rest: &str) -> (&str, &str) {
    match rest.find(": ") {
        Some(i)
            if !rest[..i].contains(' ')
                || rest[..i].ends_with(']') && !rest[..i].contains("  ") =>
        {
            (&rest[..i], &rest[i + 2..])
        }
        _ => ("", rest),
    }
}

fn syslog_line(
    format: LogFormat,
    time: Option<i64>,
    host: &str,
    tag: &str,
    msg: &str,
) -> ParsedLine {
    let (entity, event) = message_facts(tag, msg);
    let host = (!host.is_empty() && host != "-").then(|| host.to_string());
    ParsedLine {
        format,
        time,
        entity: entity.or_else(|| host.clone().map(|h| Entity::new(EntityKind::Host, h))),
        host,
        event,
    }
}

// ---------------------------------------------------------------- formats

static ACCESS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\S+) \S+ (?:\S+|"[^"]*") \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)"#)
        .expect("static regex")
});

fn parse_access(line: &str) -> Option<ParsedLine> {
    let c = ACCESS_RE.captures(line)?;
    let ip = ip_of(&c[1])?;
    let request = &c[3];
    let mut parts = request.splitn(3, ' ');
    let (method, path) = match (parts.next(), parts.next()) {
        (Some(m), Some(p)) if !m.is_empty() => (m.to_string(), p.to_string()),
        _ => ("-".to_string(), request.to_string()),
    };
    Some(ParsedLine {
        format: LogFormat::Access,
        time: parse_clf_time(&c[2]),
        entity: Some(Entity::new(EntityKind::Ip, ip)),
        host: None,
        event: Event::Request {
            method,
            path,
            status: num(&c[4]).unwrap_or(0),
            bytes: num(&c[5]).unwrap_or(0),
        },
    })
}

static RFC5424_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)$").expect("static regex")
});

fn parse_5424(line: &str) -> Option<ParsedLine> {
    let c = RFC5424_RE.captures(line)?;
    let time = parse_iso(&c[3]);
    let mut msg = c.get(8).map_or("", |m| m.as_str());
    // Structured data: `-` or one or more `[id k="v"]` elements before the message.
    if let Some(rest) = msg.strip_prefix("- ") {
        msg = rest;
    } else if msg == "-" {
        msg = "";
    } else if msg.starts_with('[') {
        let mut depth_end = 0;
        let mut in_quote = false;
        let mut escaped = false;
        let bytes = msg.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = !in_quote;
            } else if b == b']' && !in_quote {
                depth_end = i + 1;
                if bytes.get(i + 1) != Some(&b'[') {
                    break;
                }
            }
            i += 1;
        }
        let sd = &msg[..depth_end];
        let rest = msg[depth_end..].trim_start();
        // Structured data often carries the peer (`src="1.2.3.4"`); the message still comes first.
        let (entity, event) = message_facts(&c[5], rest);
        let mut p = syslog_line(LogFormat::Syslog5424, time, &c[4], &c[5], rest);
        if entity.is_none() {
            let (sd_entity, _) = message_facts(&c[5], &sd.replace('"', ""));
            if let Some(e) = sd_entity {
                p.entity = Some(e);
            }
        }
        p.event = event;
        return Some(p);
    }
    Some(syslog_line(LogFormat::Syslog5424, time, &c[4], &c[5], msg))
}

fn parse_iso_syslog(line: &str) -> Option<ParsedLine> {
    let (time, len) = parse_iso_prefix(line)?;
    let rest = line[len..].strip_prefix(' ')?;
    let (host, after) = rest.split_once(' ')?;
    let (tag, msg) = split_tag(after);
    // Without a `tag:` this is some other ISO-stamped log, not syslog.
    if tag.is_empty() || host.contains(':') || host.contains(',') {
        return None;
    }
    Some(syslog_line(LogFormat::Syslog, Some(time), host, tag, msg))
}

fn parse_3164(line: &str, year: i32) -> Option<ParsedLine> {
    let line_no_pri = match line.strip_prefix('<') {
        Some(rest) => rest.split_once('>').map_or(line, |(pri, r)| {
            if pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()) {
                r
            } else {
                line
            }
        }),
        None => line,
    };
    let (time, len) = match parse_bsd_prefix(line_no_pri, year) {
        Some((t, len)) => (Some(t), len),
        // A stamp with a valid shape but an impossible date (Feb 30) is still syslog.
        None => (None, BSD_TIME_RE.find(line_no_pri)?.end()),
    };
    let rest = line_no_pri[len..].trim_start();
    let (host, after) = rest.split_once(' ').unwrap_or((rest, ""));
    let (tag, msg) = split_tag(after);
    Some(syslog_line(LogFormat::Syslog, time, host, tag, msg))
}

fn parse_plain(text: &str, year: i32) -> ParsedLine {
    let first = text.lines().next().unwrap_or("");
    let trimmed = first.trim_start();
    let time = parse_iso_prefix(trimmed)
        .or_else(|| parse_bsd_prefix(trimmed, year))
        .map(|(t, _)| t);
    let (entity, event) = message_facts("", text);
    ParsedLine {
        format: LogFormat::Plain,
        time,
        entity,
        host: None,
        event,
    }
}

const JSON_TIME_KEYS: [&str; 5] = ["timestamp", "time", "@timestamp", "ts", "datetime"];
const JSON_IP_KEYS: [&str; 10] = [
    "src_ip",
    "source_ip",
    "client_ip",
    "remote_addr",
    "ip",
    "clientip",
    "source.ip",
    "client.ip",
    "src",
    "remote_ip",
];
const JSON_USER_KEYS: [&str; 5] = ["user", "username", "user_name", "user.name", "account"];
const JSON_HOST_KEYS: [&str; 4] = ["host", "hostname", "host.name", "computer"];

/// A value by key, or by a dotted path into nested objects (ECS style `source.ip`).
fn json_get<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(key) {
        return Some(v);
    }
    let (head, tail) = key.split_once('.')?;
    match obj.get(head)? {
        Value::Object(inner) => json_get(inner, tail),
        _ => None,
    }
}

fn json_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        // `"user": {"name": "alice"}` and `"host": {"name": ...}` are common.
        Value::Object(o) => o.get("name").and_then(json_str),
        _ => None,
    }
}

fn parse_json(line: &str, _year: i32) -> Option<ParsedLine> {
    let value: Value = serde_json::from_str(line).ok()?;
    let obj = value.as_object()?;
    let time = JSON_TIME_KEYS.iter().find_map(|k| match json_get(obj, k)? {
        Value::String(s) => parse_iso(s).or_else(|| s.parse::<f64>().ok().and_then(epoch)),
        Value::Number(n) => n.as_f64().and_then(epoch),
        _ => None,
    });
    let ip = JSON_IP_KEYS
        .iter()
        .find_map(|k| json_get(obj, k).and_then(json_str).and_then(|s| ip_of(&s)));
    let user = JSON_USER_KEYS.iter().find_map(|k| {
        json_get(obj, k)
            .and_then(json_str)
            .and_then(|s| user_of(&s))
    });
    let host = JSON_HOST_KEYS.iter().find_map(|k| {
        json_get(obj, k)
            .and_then(json_str)
            .filter(|s| !s.is_empty())
    });
    let msg = ["message", "msg", "event", "log"]
        .iter()
        .find_map(|k| json_get(obj, k).and_then(|v| v.as_str()))
        .unwrap_or("");
    let (msg_entity, mut event) = message_facts("", msg);
    let status = ["status", "status_code", "response_code"]
        .iter()
        .find_map(|k| {
            json_get(obj, k)
                .and_then(json_str)
                .and_then(|s| num::<u16>(&s))
        });
    let path = ["path", "uri", "url", "request_uri", "request"]
        .iter()
        .find_map(|k| json_get(obj, k).and_then(|v| v.as_str()));
    if let (Some(status), Some(path)) = (status, path) {
        let method = ["method", "request_method", "verb"]
            .iter()
            .find_map(|k| json_get(obj, k).and_then(|v| v.as_str()))
            .unwrap_or("-");
        let bytes = ["bytes", "body_bytes_sent", "size", "bytes_sent"]
            .iter()
            .find_map(|k| {
                json_get(obj, k)
                    .and_then(json_str)
                    .and_then(|s| num::<u64>(&s))
            })
            .unwrap_or(0);
        event = Event::Request {
            method: method.to_string(),
            path: path.to_string(),
            status,
            bytes,
        };
    }
    let entity = ip
        .map(|ip| Entity::new(EntityKind::Ip, ip))
        .or_else(|| user.map(|u| Entity::new(EntityKind::User, u)))
        .or(msg_entity)
        .or_else(|| host.clone().map(|h| Entity::new(EntityKind::Host, h)));
    Some(ParsedLine {
        format: LogFormat::Json,
        time,
        entity,
        host,
        event,
    })
}

// ---------------------------------------------------------------- Windows events

fn is_windows_block(text: &str, first: &str) -> bool {
    let f = first.trim_start();
    if f.starts_with("Event[") || f.starts_with("Log Name:") || f.starts_with("EventID:") {
        return true;
    }
    // Format-List: `TimeCreated  : ...` or `Message      : ...` with an `Id` field.
    let fl = |l: &str| {
        let l = l.trim_start();
        ["TimeCreated", "Message", "Id", "ProviderName"]
            .iter()
            .any(|k| {
                l.strip_prefix(k)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
    };
    fl(first) && text.lines().filter(|l| fl(l)).count() >= 2
}

/// `Key: value` pairs of every line, keys lower-cased, in order.
fn windows_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            if k.is_empty() || k.len() > 40 {
                return None;
            }
            Some((k.to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

/// A Windows event block (wevtutil text or Format-List) in the compact layout of the seed's
/// training inputs (`EventID:`, `Timestamp:`, `Source IP:`, `User:`, `Description:`,
/// `Additional:`), which the model reads far better than forty lines of export; `None` for
/// any other text.
pub fn windows_event_compact(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    if !is_windows_block(text, first) || first.trim_start().starts_with("EventID:") {
        return None;
    }
    let p = parse_windows(text);
    let fields = windows_fields(text);
    let get = |keys: &[&str]| {
        fields
            .iter()
            .find(|(k, v)| keys.contains(&k.as_str()) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let id = get(&["event id", "id", "eventid", "eventcode"])?;
    // wevtutil puts the message on the lines after an empty `Description:`.
    let description = get(&["message"]).map(str::to_string).or_else(|| {
        let mut lines = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Description:"));
        lines.next()?;
        lines
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    });
    let mut out = format!("EventID: {id}\n");
    if let Some(t) = p.time {
        out.push_str(&format!("Timestamp: {}\n", seed_time(t)));
    }
    let user = match &p.event {
        Event::FailedLogin { user } | Event::AcceptedLogin { user } => user.clone(),
        _ => None,
    }
    .or_else(|| match &p.entity {
        Some(Entity {
            kind: EntityKind::User,
            value,
        }) => Some(value.clone()),
        _ => None,
    });
    if let Some(Entity {
        kind: EntityKind::Ip,
        value,
    }) = &p.entity
    {
        out.push_str(&format!("Source IP: {value}\n"));
    }
    if let Some(u) = user {
        out.push_str(&format!("User: {u}\n"));
    }
    if let Some(d) = description {
        out.push_str(&format!("Description: {d}\n"));
    }
    // The lines that say what happened beyond the headline: task, command, new account.
    for key in [
        "task name",
        "task content",
        "service name",
        "service file name",
        "new process name",
        "process command line",
    ] {
        if let Some(v) = get(&[key]) {
            out.push_str(&format!("Detail: {v}\n"));
        }
    }
    if let Some(h) = &p.host {
        out.push_str(&format!("Additional: Workstation {h}\n"));
    }
    out.pop();
    Some(out)
}

/// Unix seconds as the seed writes them: `18-Mar-2025:09:00:01`.
fn seed_time(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{d:02}-{}-{y}:{:02}:{:02}:{:02}",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn parse_windows(text: &str) -> ParsedLine {
    let fields = windows_fields(text);
    let get = |keys: &[&str]| {
        fields
            .iter()
            .find(|(k, v)| keys.contains(&k.as_str()) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    // `Date:` and `TimeCreated :` split on their first colon, so the value lacks nothing:
    // split_once stops at the key's colon, the rest keeps the clock's colons.
    let time = get(&["date"])
        .and_then(|d| parse_iso(d).or_else(|| parse_powershell_time(d)))
        .or_else(|| get(&["timecreated"]).and_then(parse_powershell_time))
        .or_else(|| {
            get(&["timestamp"])
                .and_then(|d| parse_iso(d).or_else(|| parse_clf_time(&d.replacen('-', "/", 2))))
        });
    let id: Option<u32> = get(&["event id", "id", "eventid", "eventcode"]).and_then(num);
    let computer = get(&["computer", "machinename"]).map(str::to_string);
    let ip = fields
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "source network address"
                    | "client address"
                    | "ip address"
                    | "source address"
                    | "source ip"
            )
        })
        .find_map(|(_, v)| ip_of(v).filter(|ip| ip != "127.0.0.1" && ip != "::1"));
    let account = fields
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "account name" | "logon account" | "target user name" | "user"
            )
        })
        .find_map(|(_, v)| user_of(v).filter(|u| !u.ends_with('$') && !u.starts_with("S-1-")));
    let failed = match id {
        Some(4625 | 4771) => true,
        Some(4776) => get(&["error code"]).is_some_and(|c| c != "0x0" && c != "0"),
        _ => false,
    };
    let event = if failed {
        Event::FailedLogin {
            user: account.clone(),
        }
    } else if id == Some(4624) {
        Event::AcceptedLogin {
            user: account.clone(),
        }
    } else {
        Event::Other
    };
    let entity = ip
        .map(|ip| Entity::new(EntityKind::Ip, ip))
        .or_else(|| account.map(|a| Entity::new(EntityKind::User, a)))
        .or_else(|| computer.clone().map(|c| Entity::new(EntityKind::Host, c)));
    ParsedLine {
        format: LogFormat::WindowsEvent,
        time,
        entity,
        host: computer,
        event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(p: &ParsedLine) -> String {
        p.entity.as_ref().map(|e| e.to_string()).unwrap_or_default()
    }

    /// 2026-11-28 10:00:01 UTC.
    const T: i64 = 1_795_860_001;

    #[test]
    fn civil_dates() {
        assert_eq!(unix_time(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_time(2000, 2, 29, 0, 0, 0), Some(951_782_400));
        assert_eq!(unix_time(2026, 11, 28, 10, 0, 1), Some(T));
        assert_eq!(unix_time(2025, 2, 29, 0, 0, 0), None);
        assert_eq!(unix_time(2026, 13, 1, 0, 0, 0), None);
        assert_eq!(unix_time(2026, 1, 1, 24, 0, 0), None);
    }

    #[test]
    fn access_logs() {
        let p = parse(
            r#"203.0.113.7 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08""#,
            2026,
        );
        assert_eq!(p.format, LogFormat::Access);
        assert_eq!(entity(&p), "ip 203.0.113.7");
        assert_eq!(p.time, unix_time(2026, 10, 10, 20, 55, 36));
        assert_eq!(
            p.event,
            Event::Request {
                method: "GET".into(),
                path: "/apache_pb.gif".into(),
                status: 200,
                bytes: 2326
            }
        );
        let seed = parse(
            r#"77.88.55.66 - - [15/Mar/2025:02:14:01] "GET /.env HTTP/1.1" 404 0 "-" "ZMap""#,
            2026,
        );
        assert_eq!(seed.format, LogFormat::Access);
        assert_eq!(seed.time, unix_time(2025, 3, 15, 2, 14, 1));
        let v6 = parse(
            r#"2001:db8::7 - - [28/Nov/2026:10:00:01 +0000] "POST /login HTTP/2.0" 401 - "-" "-""#,
            2026,
        );
        assert_eq!(entity(&v6), "ip 2001:db8::7");
        assert_eq!(v6.time, Some(T));
        assert!(matches!(
            v6.event,
            Event::Request {
                status: 401,
                bytes: 0,
                ..
            }
        ));
        let junk = parse(
            r#"1.2.3.4 - - [28/Nov/2026:10:00:01 +0000] "\x16\x03\x01" 400 0 "-" "-""#,
            2026,
        );
        assert_eq!(junk.format, LogFormat::Access);
        let bad_date = parse(
            r#"1.2.3.4 - - [31/Feb/2026:99:00:01 +0000] "GET / HTTP/1.1" 200 1"#,
            2026,
        );
        assert_eq!((bad_date.format, bad_date.time), (LogFormat::Access, None));
    }

    #[test]
    fn syslog_3164_auth() {
        let p = parse(
            "Nov 28 10:00:01 host sshd[123]: Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
            2026,
        );
        assert_eq!((p.format, p.time), (LogFormat::Syslog, Some(T)));
        assert_eq!(entity(&p), "ip 1.2.3.4");
        assert_eq!(p.host.as_deref(), Some("host"));
        assert_eq!(
            p.event,
            Event::FailedLogin {
                user: Some("admin".into())
            }
        );

        let p = parse("Nov 28 10:00:01 web sshd[9]: Accepted publickey for alice from 2001:db8::1 port 50000 ssh2: RSA SHA256:x", 2026);
        assert_eq!(entity(&p), "ip 2001:db8::1");
        assert_eq!(
            p.event,
            Event::AcceptedLogin {
                user: Some("alice".into())
            }
        );

        let p = parse(
            "Nov 28 10:00:01 web sshd[9]: Invalid user oracle from 5.6.7.8 port 4242",
            2026,
        );
        assert_eq!(
            (entity(&p), p.event),
            (
                "ip 5.6.7.8".into(),
                Event::FailedLogin {
                    user: Some("oracle".into())
                }
            )
        );

        let p = parse("Nov 28 10:00:01 web sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow", 2026);
        assert_eq!(entity(&p), "user alice");

        let p = parse("Nov 28 10:00:01 web su[77]: (to root) alice on pts/0", 2026);
        assert_eq!(entity(&p), "user alice");
        assert_eq!(
            p.event,
            Event::AcceptedLogin {
                user: Some("root".into())
            }
        );

        let p = parse("Nov 28 10:00:01 web sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", 2026);
        assert_eq!(entity(&p), "user alice");
        assert_eq!(
            p.event,
            Event::AcceptedLogin {
                user: Some("root".into())
            }
        );

        let p = parse("Nov 28 10:00:01 web CRON[5]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", 2026);
        assert_eq!((entity(&p), p.event), ("user root".into(), Event::Other));

        let p = parse("Nov 28 10:00:01 web kernel: [ 1.0] eth0: link up", 2026);
        assert_eq!((entity(&p), p.event), ("host web".into(), Event::Other));

        let p = parse(
            "<38>Nov  3 01:02:03 web sshd[1]: Connection closed by 9.8.7.6 port 22 [preauth]",
            2026,
        );
        assert_eq!(entity(&p), "ip 9.8.7.6");
        assert_eq!(p.time, unix_time(2026, 11, 3, 1, 2, 3));

        let p = parse("Feb 30 10:00:01 web app: hi", 2026);
        assert_eq!(
            (p.format, p.time, entity(&p)),
            (LogFormat::Syslog, None, "host web".into())
        );
    }

    #[test]
    fn loghub_linux_samples() {
        let lines = [
            ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ", "ip 218.188.2.4", true),
            ("Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root", "user root", true),
            ("Jun 20 04:02:54 combo su(pam_unix)[22947]: session opened for user cyrus by (uid=0)", "user cyrus", false),
            ("Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown", "host combo", false),
            ("Jul 10 11:47:33 combo ftpd[24085]: connection from 82.83.227.67 (dsl-082-083-227-067.arcor-ip.net) at Sun Jul 10 07:24:24 2005 ", "ip 82.83.227.67", false),
            ("Jun 19 04:08:55 combo klogind[20480]: Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay cache code ", "ip 163.27.187.39", true),
            ("Jun 17 07:07:00 combo gdm-binary[2345]: Couldn't authenticate user", "host combo", true),
        ];
        for (line, want, failed) in lines {
            let p = parse(line, 2005);
            assert_eq!(entity(&p), want, "{line}");
            assert_eq!(
                matches!(p.event, Event::FailedLogin { .. }),
                failed,
                "{line}"
            );
            assert!(p.time.is_some());
        }
        let p = parse(
            "Jul 24 02:38:22 combo ftpd[1]: ANONYMOUS FTP LOGIN FROM 84.102.20.2,  (anonymous)",
            2005,
        );
        assert_eq!(entity(&p), "ip 84.102.20.2");
        assert_eq!(
            p.event,
            Event::AcceptedLogin {
                user: Some("anonymous".into())
            }
        );
    }

    #[test]
    fn syslog_5424_and_iso() {
        let p = parse("<34>1 2026-11-28T10:00:01.003Z mymachine su 123 ID47 - 'su root' failed for lonvick on /dev/pts/8", 2020);
        assert_eq!((p.format, p.time), (LogFormat::Syslog5424, Some(T)));
        assert_eq!(p.host.as_deref(), Some("mymachine"));
        assert!(matches!(p.event, Event::FailedLogin { .. }) || p.event == Event::Other);

        let p = parse(
            r#"<165>1 2026-11-28T11:00:01+01:00 fw app - ID47 [exampleSDID@32473 src="10.1.1.1" eventSource="App"] login failed for bob"#,
            2020,
        );
        assert_eq!(p.time, Some(T));
        assert_eq!(entity(&p), "user bob");
        assert!(matches!(p.event, Event::FailedLogin { .. }));
        let p = parse(
            r#"<165>1 2026-11-28T10:00:01Z fw app - - [meta src="10.1.1.1"] denied"#,
            2020,
        );
        assert_eq!(entity(&p), "ip 10.1.1.1");

        let p = parse("2026-11-28T11:00:01.123456+01:00 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2", 2020);
        assert_eq!((p.format, p.time), (LogFormat::Syslog, Some(T)));
        assert_eq!(entity(&p), "ip 1.2.3.4");
    }

    const WEVTUTIL: &str = "Event[0]:\n  Log Name: Security\n  Source: Microsoft-Windows-Security-Auditing\n  Date: 2026-11-28T10:00:01.123\n  Event ID: 4625\n  Task: Logon\n  Level: Information\n  Keyword: Audit Failure\n  User: N/A\n  User Name: N/A\n  Computer: WIN-SRV01\n  Description: \nAn account failed to log on.\n\nSubject:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\t-\n\tAccount Domain:\t\t-\n\nLogon Type:\t\t\t3\n\nAccount For Which Logon Failed:\n\tSecurity ID:\t\tS-1-0-0\n\tAccount Name:\t\tadministrator\n\nNetwork Information:\n\tWorkstation Name:\tKALI\n\tSource Network Address:\t185.220.101.5\n\tSource Port:\t\t0";

    #[test]
    fn windows_wevtutil() {
        let p = parse(WEVTUTIL, 2020);
        assert_eq!((p.format, p.time), (LogFormat::WindowsEvent, Some(T)));
        assert_eq!(entity(&p), "ip 185.220.101.5");
        assert_eq!(p.host.as_deref(), Some("WIN-SRV01"));
        assert_eq!(
            p.event,
            Event::FailedLogin {
                user: Some("administrator".into())
            }
        );

        let local = WEVTUTIL
            .replace("185.220.101.5", "-")
            .replace("4625", "4624");
        let p = parse(&local, 2020);
        assert_eq!(entity(&p), "user administrator");
        assert_eq!(
            p.event,
            Event::AcceptedLogin {
                user: Some("administrator".into())
            }
        );

        let machine = local.replace("administrator", "WIN-SRV01$");
        assert_eq!(entity(&parse(&machine, 2020)), "host WIN-SRV01");

        let kerberos = "Event[3]:\n  Date: 2026-11-28T10:00:01\n  Event ID: 4771\n  Computer: DC1\n  Description: \nKerberos pre-authentication failed.\n\tAccount Name:\t\tbob\n\tClient Address:\t\t::ffff:10.0.0.5";
        let p = parse(kerberos, 2020);
        assert_eq!(entity(&p), "ip 10.0.0.5");
        assert_eq!(
            p.event,
            Event::FailedLogin {
                user: Some("bob".into())
            }
        );

        let ntlm = "Event[4]:\n  Event ID: 4776\n  Computer: DC1\n  Description: \nThe computer attempted to validate the credentials for an account.\n\tLogon Account:\tcarol\n\tSource Workstation:\tWS7\n\tError Code:\t0xC000006A";
        assert_eq!(
            parse(ntlm, 2020).event,
            Event::FailedLogin {
                user: Some("carol".into())
            }
        );
        assert_eq!(
            parse(&ntlm.replace("0xC000006A", "0x0"), 2020).event,
            Event::Other
        );
    }

    #[test]
    fn windows_events_in_the_seeds_compact_layout() {
        let c = windows_event_compact(WEVTUTIL).unwrap();
        assert_eq!(
            c,
            "EventID: 4625\nTimestamp: 28-Nov-2026:10:00:01\nSource IP: 185.220.101.5\n\
             User: administrator\nDescription: An account failed to log on.\n\
             Additional: Workstation WIN-SRV01"
        );
        assert_eq!(
            windows_event_compact("Nov 28 10:00:01 host sshd[1]: hello"),
            None
        );
        assert_eq!(seed_time(0), "01-Jan-1970:00:00:00");
        assert_eq!(seed_time(1_709_251_200 + 3_661), "01-Mar-2024:01:01:01");
        for days in [-1, 0, 59, 365 * 30 + 7, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn windows_format_list() {
        let block = "TimeCreated  : 11/28/2026 10:00:01 AM\nProviderName : Microsoft-Windows-Security-Auditing\nId           : 4625\nMessage      : An account failed to log on.\n               \n               Account For Which Logon Failed:\n               \tAccount Name:\t\tbob\n               Network Information:\n               \tSource Network Address:\t-";
        let p = parse(block, 2020);
        assert_eq!((p.format, p.time), (LogFormat::WindowsEvent, Some(T)));
        assert_eq!(entity(&p), "user bob");
        assert!(matches!(p.event, Event::FailedLogin { .. }));
        let pm = block.replace("10:00:01 AM", "10:00:01 PM");
        assert_eq!(parse(&pm, 2020).time, Some(T + 12 * 3600));
        let eu = block.replace("11/28/2026 10:00:01 AM", "28.11.2026 10:00:01");
        assert_eq!(parse(&eu, 2020).time, Some(T));
        let seed = "EventID: 4688\nTimestamp: 18-Mar-2025:09:00:01\nSource IP: 198.51.100.77\nUser: john.doe\nDescription: Process Creation";
        let p = parse(seed, 2020);
        assert_eq!(p.format, LogFormat::WindowsEvent);
        assert_eq!(entity(&p), "ip 198.51.100.77");
        assert_eq!(p.time, unix_time(2025, 3, 18, 9, 0, 1));
    }

    #[test]
    fn json_lines() {
        let p = parse(
            r#"{"timestamp":"2026-11-28T10:00:01Z","src_ip":"1.2.3.4","user":"bob","msg":"x"}"#,
            2020,
        );
        assert_eq!((p.format, p.time), (LogFormat::Json, Some(T)));
        assert_eq!(entity(&p), "ip 1.2.3.4");
        let p = parse(r#"{"ts":1795860001000,"username":"bob"}"#, 2020);
        assert_eq!((p.time, entity(&p)), (Some(T), "user bob".into()));
        let p = parse(
            r#"{"time":1795860001.5,"hostname":"db1","message":"Failed password for root from 9.9.9.9 port 1 ssh2"}"#,
            2020,
        );
        assert_eq!((p.time, entity(&p)), (Some(T), "ip 9.9.9.9".into()));
        assert!(matches!(p.event, Event::FailedLogin { .. }));
        let p = parse(
            r#"{"@timestamp":"2026-11-28T10:00:01Z","source":{"ip":"::ffff:1.2.3.4"},"host":{"name":"h"}}"#,
            2020,
        );
        assert_eq!(
            (entity(&p), p.host.as_deref()),
            ("ip 1.2.3.4".into(), Some("h"))
        );
        let p = parse(
            r#"{"remote_addr":"1.2.3.4","status":404,"request_uri":"/x","request_method":"GET"}"#,
            2020,
        );
        assert!(matches!(p.event, Event::Request { status: 404, .. }));
        assert_eq!(parse(r#"{"ts":1e300}"#, 2020).time, None);
        assert_eq!(parse(r#"{"ts":-5}"#, 2020).time, None);
        assert_eq!(parse("{not json", 2020).format, LogFormat::Plain);
    }

    #[test]
    fn plain_lines() {
        let p = parse(
            "2026-11-28 10:00:01,123 WARN auth: login failed for user mallory from 10.9.8.7",
            2020,
        );
        assert_eq!((p.format, p.time), (LogFormat::Plain, Some(T)));
        assert_eq!(entity(&p), "ip 10.9.8.7");
        assert!(matches!(p.event, Event::FailedLogin { .. }));
        let p = parse("something happened for user dave", 2020);
        assert_eq!((p.time, entity(&p)), (None, "user dave".into()));
        assert_eq!(
            parse("17/06/09 20:10:40 INFO spark.SecurityManager: hi", 2020).entity,
            None
        );
    }

    #[test]
    fn garbage_never_panics() {
        let long_digits = "9".repeat(5000);
        let inputs = [
            "",
            " ",
            "\u{feff}",
            "\0\0\0",
            "Event[",
            "Event[0]:",
            "TimeCreated : \nId : ",
            "<999999999>1 x",
            "<34>1 9999-99-99T99:99:99Z h a p m [unterminated \"quote",
            "<34>1 - - - - - [",
            "Nov 99 99:99:99 h x",
            "Ñov 28 10:00:01 h x",
            "1.2.3.4 - - [99/Zzz/99999:00:00:00 +9999] \"\" 999 99999999999999999999999",
            "{\"ts\": 99999999999999999999999999, \"ip\": 5}",
            "{\"timestamp\": \"2026-02-30T25:61:61+99:99\"}",
            "from 999.999.999.999 rhost= user= for user",
            "🙂🙂🙂 from ::ffff: user=é\u{301}",
            "2026-11-28T10:00:01+01:00",
            "2026-11-28T10:00:01+01:00 ",
            "  Date: 9999999999-1-1",
            "Failed password for",
            "(to ) on ",
            &long_digits,
        ];
        for s in inputs {
            let _ = parse(s, 2026);
            let _ = parse(s, i32::MAX);
            let _ = parse(s, i32::MIN);
        }
        assert_eq!(parse("Nov 28 10:00:01 h x", i32::MAX).time, None);
    }
}
