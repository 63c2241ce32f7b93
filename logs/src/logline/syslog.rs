//! Syslog records: RFC 5424, ISO-stamped and RFC 3164 lines with their tag and message, and
//! plain lines with at most a leading time.

use std::sync::LazyLock;

use regex::Regex;

use super::auditd::read_audit;
use super::entity::{message_facts, peer_address};
use super::parsed::{Entity, EntityKind, LogFormat, ParsedLine};
use super::time::{parse_bsd_prefix, parse_iso, parse_iso_prefix, parse_leading_time, BSD_TIME_RE};

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
    // auditd's records forwarded by syslog (audisp, or the kernel's `audit: type=1100 …`).
    let body = msg.strip_prefix("audit: ").unwrap_or(msg);
    let audit = if body.starts_with("type=") || body.starts_with("node=") {
        read_audit(body)
    } else {
        None
    };
    let (mut entity, event) = match audit {
        Some(a) => (a.entity, a.event),
        None => message_facts(tag, msg),
    };
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

static RFC5424_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)$").expect("static regex")
});

pub(super) fn parse_5424(line: &str) -> Option<ParsedLine> {
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

pub(super) fn parse_iso_syslog(line: &str) -> Option<ParsedLine> {
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

pub(super) fn parse_3164(line: &str, year: i32) -> Option<ParsedLine> {
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

pub(super) fn parse_plain(text: &str, year: i32) -> ParsedLine {
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
