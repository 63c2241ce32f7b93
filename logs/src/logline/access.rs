//! Web server access logs (common and combined log format): the client, the request and
//! its status.

use std::sync::LazyLock;

use regex::Regex;

use super::entity::ip_of;
use super::parsed::{Entity, EntityKind, Event, LogFormat, ParsedLine};
use super::time::{num, parse_clf_time};

static ACCESS_RE: LazyLock<Regex> = LazyLock::new(|| {
    // The combined format's referer and agent are optional: the common format stops at the size.
    Regex::new(
        r#"^(\S+) \S+ (?:\S+|"[^"]*") \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)")?"#,
    )
    .expect("static regex")
});

pub(super) fn parse_access(line: &str) -> Option<ParsedLine> {
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
            agent: c
                .get(6)
                .map(|m| m.as_str())
                .filter(|a| !a.is_empty() && *a != "-")
                .map(str::to_string),
        },
    })
}
