//! Recognises one record's log format and pulls out what windowing needs: the entity the record
//! is about (client IP, user or host), its time in UTC and a coarse event (request, failed or
//! accepted login, denial, connection to a port). Parsing never fails: an unknown line is `Plain`
//! with whatever was plainly there.
//!
//! Entities and events are read by general rules rather than one grammar per daemon: the peer is
//! the address named by the most specific key (`client:`, `rhost=`, `SRC=`, then `ip=`, then
//! `from`, then `name[1.2.3.4]`, then any address not marked as a destination), and events come
//! from `opensoc::signals` phrase lists, so services never seen before work as long as they
//! write like the others.

use opensoc::signals::{self, Attempt};
use regex::Regex;
use serde_json::Value;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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

struct StampPatterns {
    ymd: Regex,
    ymd_compact: Regex,
    ctime: Regex,
    mdy_named: Regex,
    dmy_named: Regex,
    numeric: Regex,
    yymmdd: Regex,
    epoch: Regex,
    audit: Regex,
}

static STAMP: LazyLock<StampPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    const CLOCK: &str = r"(\d{1,2}):(\d{2}):(\d{2})(?:[.,]\d+)?";
    const ZONE: &str = r"(?:\s?(Z|[+-]\d{2}:?\d{2})\b)?";
    StampPatterns {
        // nginx `2012/04/09 11:53:29`, stunnel `2011.11.21 14:29:16`, `2014:07:02-00:17:45`.
        ymd: re(&format!(
            r"^(\d{{4}})([/.:])(\d{{1,2}})[/.:](\d{{1,2}})(?:[ T]+|-){CLOCK}{ZONE}"
        )),
        // xrdp `20220407-12:11:06`.
        ymd_compact: re(&format!(r"^(\d{{4}})(\d{{2}})(\d{{2}})[-T ]{CLOCK}")),
        // apache error log and ctime: `Thu Jul 11 01:21:41.123 2013`.
        ctime: re(&format!(
            r"^[A-Z][a-z]{{2}},? +([A-Z][a-z]{{2}}) +(\d{{1,2}}) +{CLOCK} +(\d{{4}})\b"
        )),
        // `Oct 27 2015 12:35:40`, assp `Apr-07-13 07:08:36`.
        mdy_named: re(&format!(
            r"^([A-Z][a-z]{{2}})[ -]+(\d{{1,2}}),?[ -]+(\d{{4}}|\d{{2}}),? +{CLOCK}"
        )),
        // roundcube `22-Jan-2013 22:28:21 +0200`, kerio `17/Jun/2011 17:00:45`.
        dmy_named: re(&format!(
            r"^(\d{{1,2}})[-/ ]([A-Za-z]{{3}})[a-z]*\.?[-/ ](\d{{4}})[: ]{CLOCK}(?: ?([+-]\d{{4}}))?"
        )),
        // `10/06/2013 15:50:41` (month first), `11-06-2013 02:09:40 +0300` (day first).
        numeric: re(&format!(
            r"^(\d{{1,2}})([-/.])(\d{{1,2}})[-/.](\d{{4}})[ ,-]+{CLOCK}(?: ?([+-]\d{{4}}))?"
        )),
        // MySQL `130324  0:04:00`.
        yymmdd: re(&format!(r"^(\d{{2}})(\d{{2}})(\d{{2}}) +{CLOCK}")),
        // squid `1386543323.000`, nsd `[1387288694]`.
        epoch: re(r"^(\d{9,10}(?:\.\d+)?)(?:\]|\s|$)"),
        // auditd `msg=audit(1373330717.000:4070)`.
        audit: re(r"\baudit\((\d{9,10}(?:\.\d+)?):\d+\)"),
    }
});

/// The time a line that is not syslog starts with, in the layouts that services write:
/// ISO 8601, RFC 3164 (in `year`), `2012/04/09 11:53:29`, ctime, `22-Jan-2013 22:28:21`,
/// numeric dates, MySQL's `YYMMDD`, epoch seconds, TAI64N and auditd's `audit(…)`. A leading
/// `[`, `<W>` or `t=` is skipped; stamps without a zone are taken as UTC.
fn parse_leading_time(line: &str, year: i32) -> Option<i64> {
    let s = line.trim_start();
    // daemontools/runit: `@4000000050d8b8b1…`, TAI64 seconds plus nanoseconds in hex.
    if let Some(hex) = s.strip_prefix('@').and_then(|h| h.get(..16)) {
        if let Ok(tai) = u64::from_str_radix(hex, 16) {
            if let Some(secs) = tai.checked_sub(1 << 62).filter(|&s| s < 1 << 40) {
                return Some(secs as i64);
            }
        }
    }
    let s = s.strip_prefix('[').unwrap_or(s);
    let s = match s.split_once('>') {
        Some((pri, rest)) if s.starts_with('<') && pri.len() <= 4 => rest,
        _ => s,
    };
    let s = ["t=", "ts=", "time=", "timestamp="]
        .iter()
        .find_map(|k| s.strip_prefix(k))
        .map_or(s, |r| r.trim_start_matches('"'));
    if let Some((t, _)) = parse_iso_prefix(s) {
        return Some(t);
    }
    let p = &*STAMP;
    let n = |c: &regex::Captures<'_>, i: usize| c.get(i).and_then(|m| num::<u32>(m.as_str()));
    let zoned = |t: i64, zone: Option<regex::Match<'_>>| {
        Some(t - zone_offset(zone.map_or("", |m| m.as_str()))?)
    };
    if let Some(c) = p.ymd.captures(s) {
        let t = unix_time(
            num(&c[1])?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
            n(&c, 7)?,
        )?;
        return zoned(t, c.get(8));
    }
    if let Some(c) = p.ymd_compact.captures(s) {
        return unix_time(
            num(&c[1])?,
            n(&c, 2)?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        );
    }
    if let Some(c) = p.ctime.captures(s) {
        return unix_time(
            num(&c[6])?,
            month_number(&c[1])?,
            n(&c, 2)?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
        );
    }
    if let Some((t, _)) = parse_bsd_prefix(s, year) {
        return Some(t);
    }
    if let Some(c) = p.mdy_named.captures(s) {
        let y: i64 = num(&c[3])?;
        let y = if c[3].len() == 2 { 2000 + y } else { y };
        return unix_time(
            y,
            month_number(&c[1])?,
            n(&c, 2)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        );
    }
    if let Some(c) = p.dmy_named.captures(s) {
        let t = unix_time(
            num(&c[3])?,
            month_number(&c[2])?,
            n(&c, 1)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        )?;
        return zoned(t, c.get(7));
    }
    if let Some(c) = p.numeric.captures(s) {
        let (a, b) = (n(&c, 1)?, n(&c, 3)?);
        // Slashes are American (month first) unless the first number cannot be a month.
        let (month, day) = if &c[2] == "/" && a <= 12 {
            (a, b)
        } else {
            (b, a)
        };
        let t = unix_time(num(&c[4])?, month, day, n(&c, 5)?, n(&c, 6)?, n(&c, 7)?)?;
        return zoned(t, c.get(8));
    }
    if let Some(c) = p.yymmdd.captures(s) {
        return unix_time(
            2000 + i64::from(n(&c, 1)?),
            n(&c, 2)?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        );
    }
    if let Some(c) = p.epoch.captures(s) {
        return c[1].parse::<f64>().ok().and_then(epoch);
    }
    p.audit
        .captures(s)
        .and_then(|c| c[1].parse::<f64>().ok())
        .and_then(epoch)
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
    let t = token.trim_matches(|c: char| {
        matches!(
            c,
            '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']' | '<' | '>'
        )
    });
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

/// An address token as services write it: what `ip_of` takes, and also a v4 address with its
/// port after a dot (`1.2.3.4.50550`), with leading zeros (`192.030.0.6`, kept as written) or
/// an unbracketed v6 address with a port (`2001:db8::1:58430`, `::ffff:1.2.3.4:60495`). The
/// unspecified addresses (`0.0.0.0`, `::`) are nobody.
fn address_token(token: &str) -> Option<String> {
    let t = token.trim_end_matches(['.', ':']);
    // `UDP:1.2.3.4:5`: a lone colon before the address belongs to the label.
    let t = match t.strip_prefix(':') {
        Some(rest) if !rest.starts_with(':') => rest,
        _ => t,
    };
    if t.len() < 3 {
        return None;
    }
    let ip = ip_of(t).or_else(|| {
        if !t.contains(':') {
            let parts: Vec<&str> = t.split('.').collect();
            let digits =
                |p: &&str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            if (parts.len() == 4 || parts.len() == 5) && parts.iter().all(digits) {
                let quad = &parts[..4];
                if quad
                    .iter()
                    .all(|p| p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
                {
                    let s = quad.join(".");
                    return Some(s.parse::<Ipv4Addr>().map_or(s, |a| a.to_string()));
                }
            }
            return None;
        }
        let (host, port) = t.rsplit_once(':')?;
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v6: Ipv6Addr = host.parse().ok()?;
        Some(
            v6.to_ipv4_mapped()
                .map_or(v6.to_string(), |v4| v4.to_string()),
        )
    })?;
    (!matches!(ip.as_str(), "0.0.0.0" | "::")).then_some(ip)
}

/// The address that starts at `at` in `s` (after quotes, brackets or a `proto/` label such as
/// `[AF_INET]` or `IPV4/UDP/`).
fn address_at(s: &str, at: usize) -> Option<String> {
    let mut rest = s.get(at..)?.trim_start_matches(' ');
    // One quote or bracket at most: exim's `for ([1.2.3.4])` is the HELO name, not the peer.
    if let Some(r) = rest.strip_prefix(['"', '\'', '[', '(', '<']) {
        rest = r;
    }
    for _ in 0..3 {
        if let Some(r) = rest
            .strip_prefix("AF_INET6]")
            .or_else(|| rest.strip_prefix("AF_INET]"))
        {
            rest = r;
            continue;
        }
        // `IPV4/UDP/1.2.3.4/5060`: labels before a slash.
        let label = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .filter(|&i| i > 0 && rest[i..].starts_with('/'));
        match label {
            Some(i) if !rest[..i].bytes().all(|b| b.is_ascii_digit()) => rest = &rest[i + 1..],
            _ => break,
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    address_token(&rest[..end])
}

/// Where lines name the remote peer, from the most to the least specific:
/// keys that name the client (`client:`, `[client …]`, `rhost=`, `rip=`, `src=`, `remote_addr=`,
/// `peer`, `attacker`, `relay=`, `addr=`, `Viewer Address:`); address keys (`ip=`, `IP:`,
/// `IP address`, `address`, `host`, `hostname=`, exim's `H=`); prepositions (`from`, `by`, `with`,
/// `for`, MySQL's `'user'@'1.2.3.4'`); `name[1.2.3.4]`, `name [1.2.3.4]` or `(1.2.3.4)` as mail and
/// FTP daemons write it; and last any address that no key marks as a destination (`DST=`, `to`,
/// `lip=`, `server:`).
struct PeerPatterns {
    client: Regex,
    address: Regex,
    preposition: Regex,
    bracketed: Regex,
    bare: Regex,
    destination: Regex,
    user_field: Regex,
    port_after: Regex,
}

static PEER: LazyLock<PeerPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    PeerPatterns {
        client: re(
            r"(?i)(?:\b(?:client|remote|peer|src|source|viewer|attacker|connecting)(?:[ _-]?(?:ip|addr(?:ess)?|host|network address))?|\b(?:rhost|rip|raddr|saddr|relay|addr))\s*(?:[:=#]\s*|\s+)",
        ),
        address: re(
            r"(?i)(?:\b(?:ip(?:v[46])?(?:[ _-]?addr(?:ess)?)?|address|host(?:name)?)\s*(?:[:=]\s*|\s+)|\bH=)",
        ),
        preposition: re(
            r"(?i)(?:\b(?:from|by|with|for)(?:\s*[=:]\s*|\s+)(?:(?:ip|host|address)\s+)?|'@')",
        ),
        bracketed: re(r"[\[(]([0-9A-Fa-f:.]{3,})[\])]"),
        bare: re(r"[0-9A-Fa-f:.]{3,}"),
        // Keys after which an address is this side's or the destination's, never the peer's.
        destination: re(
            r#"(?i)(?:\b(?:dst|dest(?:ination)?|to|lip|local|laddr|daddr|server|target|on|via|listening|bound|interface|helo|ehlo|upstream|backend|proxy)(?:[ _-](?:ip|addr(?:ess)?|host))?\b\s*[:=]?\s*["'\[(<]*|\bI=\[?|->\s*|[(<]\[?)$"#,
        ),
        // Where an account name starts: an attacker-chosen value, in which injected
        // `rhost=1.2.3.4` or `client: 1.2.3.4` text must not be taken for the peer.
        user_field: re(
            r#"(?i)\b(?:r?user(?:[ _]?name)?|account(?:[ _]?name)?|uname|acct)(?:=|:\s?|\s)["'<\[]?[^\s"'<>\[\],;=]"#,
        ),
        port_after: re(r"^\]?:?\s+port\s+\d"),
    }
});

/// The `n` bytes of `s` before `end`, cut at a character boundary.
fn tail_before(s: &str, end: usize, n: usize) -> &str {
    let mut start = end.saturating_sub(n);
    while !s.is_char_boundary(start) {
        start -= 1;
    }
    &s[start..end]
}

/// An address a line offers as the peer's.
struct Candidate {
    /// Where its key (or the address itself) starts.
    at: usize,
    ip: String,
    /// sshd's layout, `1.2.3.4 port 22`.
    port_follows: bool,
    /// `name[1.2.3.4]`, as mail daemons name a connected host (not `, [1.2.3.4]`).
    glued: bool,
}

/// The remote peer's address in a free-text message: the address named by the most specific
/// kind of key (see [`PEER`]). Among several of one kind: where some precede an account name
/// and some follow it, the ones that follow are dropped (`rhost=A user=x rhost=B`: an account
/// name is the attacker's to choose); then, for keys, the last one (a forged value in an
/// earlier field cannot displace it), except that after a preposition the first followed by
/// `port N` wins (sshd writes its peer so, and what follows `ssh2:` is not its own); for
/// brackets, the last glued to a name (`unknown[1.2.3.4]`); for bare addresses the last followed
/// by `port N`, else the first. `weak` allows brackets and bare addresses.
fn peer_address(msg: &str, weak: bool) -> Option<String> {
    let p = &*PEER;
    let port_follows = |end: usize| p.port_after.is_match(&msg[end..]);
    let mut found: Vec<Candidate> = Vec::new();
    let mut preposition = false;
    for (i, re) in [&p.client, &p.address, &p.preposition]
        .into_iter()
        .enumerate()
    {
        for m in re.find_iter(msg) {
            // `X-Real-IP:`, `X-Forwarded-For`: headers any client can write.
            if msg[..m.start()].ends_with('-') {
                continue;
            }
            let Some(ip) = address_at(msg, m.end()) else {
                continue;
            };
            let end = msg[m.end()..]
                .find(ip.as_str())
                .map_or(m.end(), |j| m.end() + j + ip.len());
            found.push(Candidate {
                at: m.start(),
                port_follows: port_follows(end),
                ip,
                glued: false,
            });
        }
        if !found.is_empty() {
            preposition = i == 2;
            break;
        }
    }
    let destination = |at: usize| p.destination.is_match(tail_before(msg, at, 40));
    let mut bracketed = false;
    if found.is_empty() && weak {
        for c in p.bracketed.captures_iter(msg) {
            let (Some(all), Some(inner)) = (c.get(0), c.get(1)) else {
                continue;
            };
            if destination(all.start()) {
                continue;
            }
            let before = msg[..all.start()].chars().next_back();
            if let Some(ip) = address_token(inner.as_str()) {
                found.push(Candidate {
                    at: all.start(),
                    ip,
                    port_follows: false,
                    glued: all.as_str().starts_with('[')
                        && before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-'),
                });
            }
        }
        bracketed = true;
    }
    let mut bare = false;
    if found.is_empty() && weak {
        // Glued to a word, a path or a range, an address is a version, a URL or a network.
        let glued = |c: Option<char>, next: Option<char>| {
            c.is_some_and(|c| {
                c.is_alphanumeric() || matches!(c, '/' | '_' | '%') || c == '-' && next != Some('>')
            })
        };
        for m in p.bare.find_iter(msg) {
            // `Error:192.0.2.1`: a single colon before the address ends the label.
            let lead_colon = m.as_str().starts_with(':') && !m.as_str().starts_with("::");
            let before = if lead_colon {
                Some(':')
            } else {
                msg[..m.start()].chars().next_back()
            };
            let mut rest = msg[m.end()..].chars();
            let (after, next) = (rest.next(), rest.next());
            if glued(before, None) || glued(after, next) || destination(m.start()) {
                continue;
            }
            if let Some(ip) = address_token(m.as_str()) {
                found.push(Candidate {
                    at: m.start(),
                    ip,
                    port_follows: port_follows(m.end()),
                    glued: false,
                });
            }
        }
        bare = true;
    }
    if let Some(user_at) = p.user_field.find(msg).map(|m| m.start()) {
        if found.iter().any(|c| c.at < user_at) {
            found.retain(|c| c.at < user_at);
        }
    }
    let chosen = if bare {
        found
            .iter()
            .rev()
            .find(|c| c.port_follows)
            .or_else(|| found.first())
    } else if preposition {
        found
            .iter()
            .find(|c| c.port_follows)
            .or_else(|| found.last())
    } else if bracketed {
        found
            .iter()
            .rev()
            .find(|c| c.glued)
            .or_else(|| found.last())
    } else {
        found.last()
    };
    chosen.map(|c| c.ip.clone())
}

struct MsgPatterns {
    failed_for: Regex,
    invalid_user: Regex,
    accepted: Regex,
    user_kv: Regex,
    user_quoted: Regex,
    user_named: Regex,
    user_word: Regex,
    for_user: Regex,
    sudo: Regex,
    su_to: Regex,
    session_opened: Regex,
    failed_generic: Regex,
    rhost: Regex,
    service_port: Regex,
}

static MSG: LazyLock<MsgPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    MsgPatterns {
        failed_for: re(
            r"(?i)Failed (?:password|publickey|keyboard-interactive(?:/pam)?|none) for (invalid user )?(\S+)",
        ),
        invalid_user: re(r"(?i)\binvalid user (\S+)"),
        accepted: re(
            r"Accepted (?:password|publickey|keyboard-interactive(?:/pam)?|gssapi-with-mic|hostbased) for (\S+)",
        ),
        user_kv: re(r"(?i)\b(?:user|username|ruser|account)=(\S+)"),
        // `user "xyz"`, `user 'root'@'host'`, `for user: "x"`, `Account 'test'`, `user [x]`.
        user_quoted: re(
            r#"(?i)\b(?:user(?:[ _]?name)?|login|account)\s*[:=]?\s*(?:"([^"\r\n]{1,64})"|'([^'\r\n]{1,64})'|\[([^\]\s]{1,64})\])"#,
        ),
        // `User Name: x`, `Username: x`, `login as x`, `[anna] FAIL LOGIN`, `[x] failed to login`.
        user_named: re(
            r"(?i)\buser[ _]?name\s*[:=]\s*([^\s,;]+)|\blogin as (\S+)|\[([^\]\s]{1,64})\]\s+fail",
        ),
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
        // Port scan detectors: `Port: 23 TCP Blocked`, `1.2.3.4 to 5.6.7.8 ports 80, 81, …`.
        service_port: re(r"(?i)\bport:\s*(\d{1,5})\s+(?:tcp|udp)\b|\bto \S+ ports? (\d{1,5})\b"),
    }
});

/// The account a message names, by the first of its layouts that holds a plausible name.
fn user_in(msg: &str) -> Option<String> {
    let p = &*MSG;
    let first_group = |c: regex::Captures<'_>| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|m| user_of(m.as_str().trim_end_matches('.')))
    };
    p.user_kv
        .captures(msg)
        .and_then(|c| user_of(&c[1]))
        .or_else(|| p.user_quoted.captures(msg).and_then(first_group))
        .or_else(|| p.user_named.captures(msg).and_then(first_group))
        .or_else(|| p.user_word.captures(msg).and_then(|c| user_of(&c[1])))
}

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
        user = user_in(msg);
    }
    if matches!(event, Event::Other) && p.failed_generic.is_match(msg) {
        // `login failed for bob`: only next to a failure is a bare `for X` an account.
        if user.is_none() && actor.is_none() {
            user = p.for_user.captures(msg).and_then(|c| user_of(&c[1]));
        }
        event = Event::FailedLogin { user: user.clone() };
    }
    if matches!(event, Event::Other) {
        // Any service's words for a failed login, a refusal or a connection to a port.
        let attempt = signals::attempt(msg);
        let port = || {
            signals::destination_port(msg).or_else(|| {
                p.service_port.captures(msg).and_then(|c| {
                    c.iter()
                        .skip(1)
                        .flatten()
                        .next()
                        .and_then(|m| m.as_str().parse::<u16>().ok())
                        .filter(|&port| port > 0)
                })
            })
        };
        if attempt == Some(Attempt::AuthFailure) {
            if user.is_none() && actor.is_none() {
                // `… failed for peer`, `for client`: words, not accounts.
                user = p
                    .for_user
                    .captures(msg)
                    .and_then(|c| user_of(&c[1]))
                    .filter(|u| {
                        !["peer", "client", "host", "server", "ip", "address", "user"]
                            .iter()
                            .any(|w| u.eq_ignore_ascii_case(w))
                    });
            }
            event = Event::FailedLogin { user: user.clone() };
        } else if msg.contains("FTP LOGIN FROM") {
            event = Event::AcceptedLogin {
                user: msg
                    .rsplit('(')
                    .next()
                    .and_then(|s| user_of(s.trim_end().trim_end_matches(')'))),
            };
        } else if let Some(port) = port() {
            event = Event::Connection { port };
        } else if attempt == Some(Attempt::Denial) {
            event = Event::Denied;
        }
    }

    // sudo's and su's lines name the invoking user, whatever addresses the command holds.
    let ip = peer_address(msg, actor.is_none());
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
    // `sogod [26818]: msg`: a tag with a space must end in a pid, else it is message text
    // (exim's `login authenticator failed for x [1.2.3.4]: 535 …`).
    let ends_in_pid = |t: &str| {
        t.strip_suffix(']')
            .and_then(|t| t.rsplit_once('['))
            .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    };
    match rest.find(": ") {
        Some(i)
            if !rest[..i].contains(' ') || ends_in_pid(&rest[..i]) && !rest[..i].contains("  ") =>
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
    let (mut entity, event) = message_facts(tag, msg);
    // A tag can carry the peer too: dovecot's `auth(user,1.2.3.4,sasl:login)<id>: …`.
    if !matches!(&entity, Some(e) if e.kind == EntityKind::Ip) && tag.contains(['(', ',']) {
        if let Some(ip) = peer_address(tag, true) {
            entity = Some(Entity::new(EntityKind::Ip, ip));
        }
    }
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
    let (c, ip) = ACCESS_RE
        .captures(line)
        .and_then(|c| ip_of(&c[1]).map(|ip| (c, ip)))
        .or_else(|| {
            // Apache's `vhost_combined`: `www.example.com:443 1.2.3.4 - - [...] "GET / ..."`.
            let (vhost, rest) = line.split_once(' ')?;
            if vhost.is_empty() || ip_of(vhost).is_some() {
                return None;
            }
            let c = ACCESS_RE.captures(rest)?;
            let ip = ip_of(&c[1])?;
            Some((c, ip))
        })?;
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
    // No host field (`Feb 11 15:23:17 dropbear[1252]: …`): what stands there is the tag.
    let (host, after) = if host.ends_with(':') || host.contains(['[', '(', ',', '<']) {
        ("", rest)
    } else {
        (host, after)
    };
    let (tag, msg) = split_tag(after);
    Some(syslog_line(LogFormat::Syslog, time, host, tag, msg))
}

fn parse_plain(text: &str, year: i32) -> ParsedLine {
    let first = text.lines().next().unwrap_or("");
    let trimmed = first.trim_start();
    let time = parse_leading_time(trimmed, year);
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
    if let Event::FailedLogin { user: named @ None } = &mut event {
        named.clone_from(&user);
    }
    if event == Event::Other {
        // Firewalls, IDS and honeypots: `"dest_port": 22`.
        let port = [
            "dst_port",
            "dest_port",
            "dport",
            "destination.port",
            "destination_port",
        ]
        .iter()
        .find_map(|k| {
            json_get(obj, k)
                .and_then(json_str)
                .and_then(|s| num::<u16>(&s))
        })
        .filter(|&p| p > 0);
        if let Some(port) = port {
            event = Event::Connection { port };
        }
    }
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

/// Entities and events of the services a small business runs, beyond sshd.
#[cfg(test)]
mod service_tests {
    use super::*;

    fn entity(p: &ParsedLine) -> String {
        p.entity.as_ref().map(|e| e.to_string()).unwrap_or_default()
    }

    fn failed(user: Option<&str>) -> Event {
        Event::FailedLogin {
            user: user.map(str::to_string),
        }
    }

    /// Parses `line` and checks its entity and event.
    fn check(line: &str, want_entity: &str, want_event: Event) -> ParsedLine {
        let p = parse(line, 2026);
        assert_eq!(entity(&p), want_entity, "entity of {line}");
        assert_eq!(p.event, want_event, "event of {line}");
        p
    }

    #[test]
    fn nginx_error_log() {
        let p = check(
            r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com""#,
            "ip 192.0.43.10",
            failed(Some("xyz")),
        );
        assert_eq!(p.time, unix_time(2012, 4, 9, 11, 53, 29));
        // A user name that carries a forged `client:`: the real client is the last one.
        check(
            r#"2014/04/03 22:20:40 [error] 30708#0: *3 user "test": password mismatch, client: 127.0.0.1, server: test, request: "GET / HTTP/1.1", host: "localhost:8443"": was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , request: "GET / HTTP/1.1", host: "localhost:8443""#,
            "ip 192.0.2.2",
            failed(Some("test")),
        );
        check(
            r#"2015/10/29 20:01:02 [error] 256554#0: *99927 limiting requests, excess: 1.852 by zone "one", client: 1.2.3.4, server: example.com, request: "POST /index.htm HTTP/1.0", host: "192.0.2.80""#,
            "ip 1.2.3.4",
            Event::Denied,
        );
    }

    #[test]
    fn apache_error_log() {
        let p = check(
            "[Tue Oct 11 14:32:52.123456 2016] [auth_basic:error] [pid 1] [client 192.0.2.5:4321] AH01618: user alice not found: /admin",
            "ip 192.0.2.5",
            failed(Some("alice")),
        );
        assert_eq!(p.time, unix_time(2016, 10, 11, 14, 32, 52));
        check(
            "[Sat Jul 20 21:34:49.453232 2013] [access_compat:error] [pid 17512:tid 140123104306944] [client 192.0.2.6:51380] AH01797: client denied by server configuration: /var/www/html/private",
            "ip 192.0.2.6",
            Event::Denied,
        );
        check(
            "[Thu Jul 11 01:21:44 2013] [error] [client 2001:db8::80da:af6b:8b2c] user test-ipv6 not found: /",
            "ip 2001:db8::80da:af6b:8b2c",
            failed(Some("test-ipv6")),
        );
    }

    #[test]
    fn mail_servers() {
        check(
            "Nov 28 10:00:01 mail postfix/smtpd[1]: warning: unknown[198.51.100.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            "ip 198.51.100.4",
            failed(None),
        );
        // The peer, not the address the client gave as its HELO name.
        check(
            "Nov 28 10:00:01 mail postfix/smtpd[8738]: NOQUEUE: reject: RCPT from 1-2-3-4-example.com[1.2.3.4]: 554 5.7.1 <smtp@example.com>: Relay access denied; from=<john@example.com> to=<smtp@example.org> proto=SMTP helo=<[198.51.100.17]>",
            "ip 1.2.3.4",
            Event::Denied,
        );
        check(
            "Nov 28 10:00:01 mail postfix/smtpd[1]: connect from mail.example.com[192.0.2.20]",
            "ip 192.0.2.20",
            Event::Other,
        );
        check(
            "Nov 28 10:00:01 mail dovecot: imap-login: Disconnected (auth failed, 3 attempts in 12 secs): user=<bob>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1, TLS",
            "ip 198.51.100.7",
            failed(Some("bob")),
        );
        // exim names the HELO in parentheses and the peer after it.
        let p = parse(
            "2013-01-04 17:03:46 login authenticator failed for rrcs-24-106-174-74.se.biz.rr.com ([192.168.2.33]) [24.106.174.74]: 535 Incorrect authentication data (set_id=brian)",
            2026,
        );
        assert_eq!(entity(&p), "ip 24.106.174.74");
        assert!(matches!(p.event, Event::FailedLogin { .. }));
        assert_eq!(p.time, unix_time(2013, 1, 4, 17, 3, 46));
        check(
            r#"2017-11-28 14:14:32 SMTP protocol error in "aUtH lOgIn" H=(test) [8.8.8.8]" H=(roxzgj) [192.0.2.6] AUTH command used when not advertised"#,
            "ip 192.0.2.6",
            Event::Denied,
        );
        check(
            "Nov 28 10:00:01 mail sm-mta[5133]: s1GNXHYB005133: ruleset=check_rcpt, arg1=<a@b.ru>, relay=128-68-136-133.broadband.corbina.ru [128.68.136.133], reject=550 5.7.1 <a@b.ru>... Relaying denied. Proper authentication required.",
            "ip 128.68.136.133",
            Event::Denied,
        );
    }

    #[test]
    fn ftp_servers() {
        let p = check(
            r#"Fri Jan 19 12:20:33 2007 [pid 27202] [anna] FAIL LOGIN: Client "64.106.46.98""#,
            "ip 64.106.46.98",
            failed(Some("anna")),
        );
        assert_eq!(p.time, unix_time(2007, 1, 19, 12, 20, 33));
        check(
            "Jun 09 07:30:58 platypus proftpd[11864] platypus.example.com (mail.example.net[::ffff:67.227.224.66]): USER username (Login failed): Incorrect password.",
            "ip 67.227.224.66",
            failed(Some("username")),
        );
        check(
            "Nov 28 10:00:01 ftp pure-ftpd: (?@24.79.92.194) [WARNING] Authentication failed for user [Administrator]",
            "ip 24.79.92.194",
            failed(Some("Administrator")),
        );
    }

    #[test]
    fn vpns() {
        check(
            "Apr 25 11:19:22 ovpn-server[13821]: 192.0.2.254:64480 TLS Auth Error: Auth Username/Password verification failed for peer",
            "ip 192.0.2.254",
            failed(None),
        );
        check(
            "Apr 25 10:57:36 vpn ovpn-server[901]: 83.97.20.30:10107 SIGUSR1[soft,connection-reset] received, client-instance restarting",
            "ip 83.97.20.30",
            Event::Other,
        );
        check(
            "Nov 28 10:00:01 vpn charon: 09[IKE] EAP-MS-CHAPv2 authentication of 'bob' failed",
            "host vpn",
            failed(None),
        );
        check(
            "Nov 28 10:00:02 vpn charon: 05[NET] received packet: from 203.0.113.9[500] to 192.0.2.1[500] (464 bytes)",
            "ip 203.0.113.9",
            Event::Other,
        );
        check(
            "Nov 28 10:00:02 vpn charon: 14[IKE] 203.0.113.9 is initiating a Main Mode IKE_SA",
            "ip 203.0.113.9",
            Event::Other,
        );
    }

    #[test]
    fn databases() {
        check(
            "2026-11-28T10:00:01.123456Z 8 [Warning] Access denied for user 'root'@'203.0.113.9' (using password: YES)",
            "ip 203.0.113.9",
            failed(Some("root")),
        );
        check(
            "130324 17:56:14 [Warning] Access denied for user 'root'@'61.160.223.112' (using password: YES)",
            "ip 61.160.223.112",
            failed(Some("root")),
        );
        check(
            "2020-02-24 16:05:21.00 Logon       Login failed for user 'Backend'. Reason: Could not find a login matching the name provided. [CLIENT: 192.0.2.1]",
            "ip 192.0.2.1",
            failed(Some("Backend")),
        );
    }

    #[test]
    fn firewalls() {
        // The source, never the destination that comes after it (or before it).
        check(
            "Nov 28 10:00:01 fw kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=44 TOS=0x00 PREC=0x00 TTL=243 ID=54321 PROTO=TCP SPT=40000 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0",
            "ip 203.0.113.9",
            Event::Connection { port: 3389 },
        );
        check(
            "Nov 28 10:00:01 gw firewall: DROP dst=192.0.2.1 src=203.0.113.9 dport=22 proto=tcp",
            "ip 203.0.113.9",
            Event::Connection { port: 22 },
        );
        check(
            "1403884279 - 06/27/2014 17:51:19 Host: 192.168.56.1/192.168.56.1 Port: 23 TCP Blocked",
            "ip 192.168.56.1",
            Event::Connection { port: 23 },
        );
        check(
            "Mar  5 21:44:43 srv scanlogd: 192.0.2.123 to 192.0.2.1 ports 80, 81, 83, 88, 99, 443, 1080, 3128, ..., f????uxy, TOS 00, TTL 49 @20:44:43",
            "ip 192.0.2.123",
            Event::Connection { port: 80 },
        );
    }

    #[test]
    fn web_applications() {
        let p = check(
            r#"{"time":"2026-11-28T10:00:01Z","level":"warn","msg":"login failed","user":"alice","remote_ip":"203.0.113.9"}"#,
            "ip 203.0.113.9",
            failed(Some("alice")),
        );
        assert_eq!(p.time, Some(1_795_860_001));
        let p = check(
            r#"t=2020-10-19T17:44:33+0200 lvl=eror msg="Invalid username or password" logger=context userId=0 orgId=0 uname= error="Invalid Username or Password" remote_addr=182.56.23.12"#,
            "ip 182.56.23.12",
            failed(None),
        );
        assert_eq!(p.time, unix_time(2020, 10, 19, 15, 44, 33));
        check(
            r#"logger=authn.service t=2024-01-01T10:00:01Z level=info msg="Failed to authenticate request" client=auth.client.form error="invalid username or password" remote_addr=198.51.100.7"#,
            "ip 198.51.100.7",
            failed(None),
        );
        check(
            "[2024-08-31 02:11:28.562][vaultwarden::api::identity][ERROR] Username or password is incorrect. Try again. IP: 80.187.85.94. Username: test@example.com.",
            "ip 80.187.85.94",
            failed(Some("test@example.com")),
        );
    }

    #[test]
    fn sshd_probes_and_preauth_disconnects() {
        // A client that fails the banner or key exchange never reached a password, but a
        // burst of them is a scanner or an exploit probe: they count as failed attempts.
        check(
            "Nov 28 10:00:01 web sshd[1]: Disconnected from authenticating user root 1.2.3.4 port 22 [preauth]",
            "ip 1.2.3.4",
            failed(Some("root")),
        );
        check(
            "Nov 28 10:00:01 web sshd[1]: Unable to negotiate with 1.2.3.4 port 5: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
            "ip 1.2.3.4",
            failed(None),
        );
        check(
            "Nov 28 10:00:01 web sshd[1]: banner exchange: Connection from 1.2.3.4 port 5: invalid format",
            "ip 1.2.3.4",
            failed(None),
        );
        check(
            "Nov 28 10:00:01 web sshd[1]: Connection from 115.249.163.77 port 51353 on 127.0.0.1 port 22",
            "ip 115.249.163.77",
            Event::Other,
        );
    }

    #[test]
    fn forged_values_in_account_names() {
        // Injected into `ruser`, before the real `rhost`: the last one is the peer.
        check(
            "Jul 19 18:11:50 srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test rhost=192.0.2.151 rhost=192.0.2.1",
            "ip 192.0.2.1",
            failed(Some("test")),
        );
        // Injected into `user`, after the real `rhost`: the one before the account wins.
        check(
            "Jul 19 18:11:52 srv2 daemon: pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= rhost=192.0.2.2 user=test rhost=192.0.2.152",
            "ip 192.0.2.2",
            failed(Some("test")),
        );
        check(
            r"[20220407-12:22:02] [INFO ] AUTHFAIL: user=loginjector ip=192.168.0.4 time=123456789\n[20220407-12:16:59] [INFO ] AUTHFAIL: user=endinjection ip=::ffff:10.171.161.151 time=1649352122",
            "ip 10.171.161.151",
            failed(Some("loginjector")),
        );
    }

    #[test]
    fn stamps_of_many_services() {
        let t = |line: &str| parse(line, 2013).time;
        let want = unix_time(2013, 6, 11, 2, 9, 40);
        assert_eq!(t("[2013-06-11 02:09:40] NOTICE[1638] chan_sip.c: x"), want);
        assert_eq!(t("[11/Jun/2013 02:09:40] SMTP Spam attack detected"), want);
        assert_eq!(t("[11-Jun-2013 02:09:40 +0000]: FAILED login"), want);
        assert_eq!(t("11-06-2013 02:09:40 +0000 PROXY.3128 00004"), want);
        assert_eq!(t("06/11/2013 02:09:40 [LOGIN_ERROR] x"), want);
        assert_eq!(t("2013.06.11 02:09:40 LOG3[28228]: x"), want);
        assert_eq!(t("[20130611-02:09:40] [INFO ] AUTHFAIL"), want);
        assert_eq!(t("130611  2:09:40 [Warning] x"), want);
        assert_eq!(t("Jun 11 2013 02:09:40 host app[1]: x"), want);
        assert_eq!(t("Tue Jun 11 02:09:40 2013 - [72926] x"), want);
        assert_eq!(t("1370916580.000      4 1.2.3.4 TCP_DENIED/403"), want);
        assert_eq!(t("@400000005c1f0a2a00000000 x"), Some(0x5c1f_0a2a));
        assert_eq!(t("type=USER_AUTH msg=audit(1370916580.000:9): pid=1"), want);
        assert_eq!(t("something 2013/06/11 02:09:40"), None);
    }
}

/// Measures entity and event extraction on fail2ban's labelled sample logs (used as data only):
/// `OPENSOC_DATA=/path/to/data cargo test -p opensoc-edge --lib fail2ban_samples -- --ignored --nocapture`
/// (`OPENSOC_DATA` holds `fail2ban/logs/`; without it `../shared/data` next to the workspace is
/// tried, and the test passes silently when neither exists). `OPENSOC_MEASURE_DUMP=FILE` also
/// writes one line per labelled record, for comparing two versions.
#[cfg(test)]
mod fail2ban_samples {
    use super::*;
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    #[derive(Default)]
    struct Tally {
        matched: usize,
        entity_ok: usize,
        signal: usize,
        request: usize,
        time_ok: usize,
        unmatched: usize,
        unmatched_failed: usize,
    }

    /// `2005-07-19T18:11:50` (fractions ignored) as unix seconds of that wall clock.
    fn wall_time(s: &str) -> Option<i64> {
        let d: Vec<i64> = s
            .split(|c: char| !c.is_ascii_digit())
            .take(6)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        if d.len() < 6 {
            return None;
        }
        unix_time(
            d[0],
            d[1] as u32,
            d[2] as u32,
            d[3] as u32,
            d[4] as u32,
            d[5] as u32,
        )
    }

    fn pct(a: usize, b: usize) -> String {
        if b == 0 {
            "-".into()
        } else {
            format!("{:.0}%", 100.0 * a as f64 / b as f64)
        }
    }

    #[test]
    #[ignore = "needs the fail2ban sample logs; run with --ignored --nocapture"]
    fn fail2ban_samples() {
        let root = std::env::var_os("OPENSOC_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
            });
        let dir = root.join("fail2ban/logs");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("no {}: skipped", dir.display());
            return;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        let mut per: BTreeMap<String, Tally> = BTreeMap::new();
        let mut dump = String::new();
        let label = Regex::new(r"^#+ ?failJSON:(.+)$").unwrap();
        for path in files {
            let service = path.file_name().unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let mut pending: Option<Value> = None;
            for line in text.lines() {
                if let Some(c) = label.captures(line) {
                    pending = serde_json::from_str(c[1].trim()).ok();
                    continue;
                }
                if line.starts_with('#') || line.trim().is_empty() {
                    continue;
                }
                let Some(fj) = pending.take() else { continue };
                if fj.get("constraint").is_some() {
                    continue;
                }
                let want_time = fj.get("time").and_then(|v| v.as_str()).and_then(wall_time);
                let year = want_time.map_or(2026, |t| civil_from_days(t.div_euclid(86_400)).0);
                let p = parse(line, year as i32);
                let t = per.entry(service.clone()).or_default();
                let kind = format!("{:?}", p.event);
                let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
                let failed = matches!(p.event, Event::FailedLogin { .. });
                let got = p
                    .entity
                    .as_ref()
                    .map(|e| e.value.clone())
                    .unwrap_or_default();
                if fj.get("match").and_then(|v| v.as_bool()) == Some(true) {
                    let Some(host) = ["host", "ip4", "ip6"]
                        .iter()
                        .find_map(|k| fj.get(*k).and_then(|v| v.as_str()))
                    else {
                        continue;
                    };
                    t.matched += 1;
                    let ok = got == host
                        || ip_of(host).is_some_and(|h| h == got)
                        || got.eq_ignore_ascii_case(host);
                    t.entity_ok += usize::from(ok);
                    t.signal += usize::from(matches!(
                        kind.as_str(),
                        "FailedLogin" | "Denied" | "Connection"
                    ));
                    t.request += usize::from(kind == "Request");
                    // The labels are local wall-clock times; stamps with a zone are converted:
                    // any whole quarter-hour offset within a day counts as right.
                    t.time_ok += usize::from(match (p.time, want_time) {
                        (Some(a), Some(b)) => (a - b) % 900 == 0 && (a - b).abs() <= 14 * 3600,
                        (Some(_), None) => true,
                        _ => false,
                    });
                    let _ = writeln!(
                        dump,
                        "{service}\ttrue\t{}\t{kind}\t{got}\t{host}\t{}\t{line}",
                        if ok { "ok" } else { "BAD" },
                        p.time.map_or("-".into(), |t| t.to_string())
                    );
                } else {
                    t.unmatched += 1;
                    t.unmatched_failed += usize::from(failed);
                    let _ = writeln!(dump, "{service}\tfalse\t-\t{kind}\t{got}\t-\t-\t{line}");
                }
            }
        }
        let mut all = Tally::default();
        let (mut macro_entity, mut macro_signal, mut services) = (0.0, 0.0, 0usize);
        println!(
            "{:<28} {:>5} {:>7} {:>7} {:>5} {:>6} {:>5} {:>8}",
            "service", "match", "entity", "signal", "req", "time", "nomat", "nm-fail"
        );
        for (name, t) in &per {
            println!(
                "{:<28} {:>5} {:>7} {:>7} {:>5} {:>6} {:>5} {:>8}",
                name,
                t.matched,
                pct(t.entity_ok, t.matched),
                pct(t.signal, t.matched),
                pct(t.request, t.matched),
                pct(t.time_ok, t.matched),
                t.unmatched,
                pct(t.unmatched_failed, t.unmatched)
            );
            all.matched += t.matched;
            all.entity_ok += t.entity_ok;
            all.signal += t.signal;
            all.request += t.request;
            all.time_ok += t.time_ok;
            all.unmatched += t.unmatched;
            all.unmatched_failed += t.unmatched_failed;
            if t.matched > 0 {
                services += 1;
                macro_entity += t.entity_ok as f64 / t.matched as f64;
                macro_signal += t.signal as f64 / t.matched as f64;
            }
        }
        println!(
            "{:<28} {:>5} {:>7} {:>7} {:>5} {:>6} {:>5} {:>8}",
            "ALL (lines)",
            all.matched,
            pct(all.entity_ok, all.matched),
            pct(all.signal, all.matched),
            pct(all.request, all.matched),
            pct(all.time_ok, all.matched),
            all.unmatched,
            pct(all.unmatched_failed, all.unmatched)
        );
        println!(
            "services: {services}; mean per service: entity {:.1}%, signal {:.1}%; \
             signal or request: {}",
            100.0 * macro_entity / services.max(1) as f64,
            100.0 * macro_signal / services.max(1) as f64,
            pct(all.signal + all.request, all.matched)
        );
        if let Some(out) = std::env::var_os("OPENSOC_MEASURE_DUMP") {
            std::fs::write(out, dump).unwrap();
        }
    }

    /// Events on loghub's mostly ordinary system logs (`loghub/*/*_2k.log`): how many lines
    /// each kind takes, with a few examples of the security kinds, to spot false alarms.
    #[test]
    #[ignore = "needs the loghub samples; run with --ignored --nocapture"]
    fn loghub_event_counts() {
        let root = std::env::var_os("OPENSOC_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
            });
        let Ok(dirs) = std::fs::read_dir(root.join("loghub")) else {
            eprintln!("no loghub: skipped");
            return;
        };
        let mut dirs: Vec<_> = dirs.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let Ok(text) = std::fs::read(dir.join(format!("{name}_2k.log"))) else {
                continue;
            };
            let text = String::from_utf8_lossy(&text);
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            let mut examples: Vec<String> = Vec::new();
            for line in text.lines() {
                let p = parse(line, 2026);
                let kind = format!("{:?}", p.event);
                let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
                *counts.entry(kind.clone()).or_default() += 1;
                let shown = examples.iter().filter(|e| e.starts_with(&kind)).count();
                if matches!(kind.as_str(), "FailedLogin" | "Denied" | "Connection") && shown < 3 {
                    let short: String = line.chars().take(150).collect();
                    examples.push(format!("{kind}: {short}"));
                }
            }
            println!("{name}: {counts:?}");
            for e in examples {
                println!("    {e}");
            }
        }
    }
}
