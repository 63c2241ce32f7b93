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
mod auditd;
mod compact;
mod entity;
mod eve;
mod json;
mod jsonwalk;
mod parsed;
mod syslog;
mod time;
mod windows;
mod windows_event;

#[cfg(test)]
mod fail2ban_samples;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod structured_tests;
#[cfg(test)]
mod tests;

pub use self::parsed::{Entity, EntityKind, Event, LogFormat, ParsedLine};

// The helpers the window, the readers and the builder use, under the parser's name.
pub use self::compact::json_access_line;
pub use self::time::{civil_from_days, rfc3339};
pub use self::windows::windows_event_compact;
pub use self::windows_event::{compact_event, WindowsEvent};

use self::access::parse_access;
use self::auditd::parse_auditd;
use self::json::parse_json;
use self::syslog::{parse_3164, parse_5424, parse_iso_syslog, parse_plain};
use self::windows::{is_windows_block, parse_windows};

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
    if trimmed.starts_with("type=") || trimmed.starts_with("node=") {
        if let Some(p) = parse_auditd(trimmed) {
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
