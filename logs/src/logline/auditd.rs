//! Linux audit records (`/var/log/audit/audit.log`, and the same text forwarded by syslog):
//! `[node=NAME ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): key=value …`, where user-space
//! records nest their own fields in `msg='…'` and the ENRICHED format appends resolved names
//! (`AUID="alice"`) after a group separator (0x1d).
//!
//! - Time: `audit(SECONDS.MILLIS:…)`. Host: `node=`.
//! - Entity: the remote address (`addr=`, else `hostname=` when it is an address), else the
//!   account (`acct=`), else the login user (`AUID=`, else a set `auid=`), else a remote host
//!   given by name.
//! - Event: a login or authentication record (`USER_AUTH`, `USER_LOGIN`, `USER_ACCT`,
//!   `USER_ERR`) with `res=failed` is a failed login, `USER_AUTH` and `USER_LOGIN` with
//!   `res=success` an accepted one, `ANOM_LOGIN_*` a failed one; a refused `USER_CMD` (sudo
//!   saying no) and an SELinux or AppArmor denial are denials.
//!
//! Untrusted strings (`acct=`, `cmd=`) are written quoted, or hex-encoded when they hold a
//! space or a quote, so no value can carry a forged `addr=`.

use super::entity::{ip_of, user_of};
use super::parsed::{Entity, EntityKind, Event, LogFormat, ParsedLine};
use super::time::epoch;

/// The record type, by name or (in the kernel's own syslog lines) by number.
fn record_type(kind: &str) -> &str {
    match kind {
        "1006" => "LOGIN",
        "1100" => "USER_AUTH",
        "1101" => "USER_ACCT",
        "1105" => "USER_START",
        "1107" => "USER_AVC",
        "1109" => "USER_ERR",
        "1112" => "USER_LOGIN",
        "1123" => "USER_CMD",
        "1300" => "SYSCALL",
        "1309" => "EXECVE",
        "1400" => "AVC",
        "1503" => "APPARMOR_DENIED",
        "2100" => "ANOM_LOGIN_FAILURES",
        other => other,
    }
}

/// The fields of one record that say who and what.
#[derive(Debug, Default)]
struct Audit<'a> {
    addr: Option<&'a str>,
    hostname: Option<&'a str>,
    acct: Option<(&'a str, bool)>,
    res: Option<&'a str>,
    auid: Option<&'a str>,
    auid_name: Option<&'a str>,
}

/// Separators between fields: blanks, the ENRICHED group separator, and the quotes that open
/// and close a user-space record's `msg='…'`.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x1d | b'\'')
}

/// The `key=value` pairs of a record body, a quoted value without its quotes (and flagged),
/// words without `=` (`avc:  denied  { read }`) left out.
fn pairs(body: &str) -> impl Iterator<Item = (&str, &str, bool)> {
    let b = body.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || loop {
        while i < b.len() && is_separator(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !is_separator(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        let key = &body[start..i];
        i += 1;
        if b.get(i) == Some(&b'"') {
            let from = i + 1;
            let end = body[from..].find('"').map_or(b.len(), |j| from + j);
            i = (end + 1).min(b.len());
            return Some((key, &body[from..end], true));
        }
        let from = i;
        while i < b.len() && !is_separator(b[i]) {
            i += 1;
        }
        return Some((key, &body[from..i], false));
    })
}

/// A hex-encoded untrusted string, decoded; None when `s` is not one.
fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `?`, `(none)`, `unset`, `UNKNOWN`: no value.
fn is_placeholder(v: &str) -> bool {
    matches!(
        v,
        "" | "?" | "(none)" | "unset" | "UNKNOWN" | "unknown" | "-"
    )
}

impl<'a> Audit<'a> {
    fn read(body: &'a str) -> Self {
        let mut a = Audit::default();
        for (key, value, quoted) in pairs(body) {
            let slot = match key {
                "addr" => &mut a.addr,
                "hostname" => &mut a.hostname,
                "res" => &mut a.res,
                "auid" => &mut a.auid,
                "AUID" => &mut a.auid_name,
                "acct" => {
                    // The first one: a later `acct=` could only come from text after it.
                    a.acct.get_or_insert((value, quoted));
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        a
    }

    /// The account the record names, decoded; sshd's `(invalid user)` names none.
    fn account(&self) -> Option<String> {
        let (raw, quoted) = self.acct?;
        let name = if quoted {
            raw.to_string()
        } else {
            unhex(raw).unwrap_or_else(|| raw.to_string())
        };
        if name.starts_with('(') && name.ends_with(')') {
            return None;
        }
        user_of(&name)
    }

    /// The login user: ENRICHED's name, else the number when it is set.
    fn login_user(&self) -> Option<String> {
        if let Some(name) = self.auid_name.filter(|n| !is_placeholder(n)) {
            return user_of(name);
        }
        // 4294967295 is (u32)-1: no login user.
        self.auid
            .filter(|a| !matches!(*a, "4294967295" | "-1") && !is_placeholder(a))
            .and_then(user_of)
    }
}

/// The record's event from its type and result.
fn event(kind: &str, a: &Audit<'_>, user: &Option<String>, body: &str) -> Event {
    let res = a.res.unwrap_or("");
    let failed = matches!(res, "failed" | "fail" | "no" | "0");
    let success = matches!(res, "success" | "yes" | "1");
    match kind {
        "USER_AUTH" | "USER_LOGIN" | "USER_ACCT" | "USER_ERR" if failed => {
            Event::FailedLogin { user: user.clone() }
        }
        "USER_AUTH" | "USER_LOGIN" if success => Event::AcceptedLogin { user: user.clone() },
        k if k.starts_with("ANOM_LOGIN_") => Event::FailedLogin { user: user.clone() },
        "USER_CMD" if failed => Event::Denied,
        "AVC" | "USER_AVC" | "APPARMOR_DENIED" | "SELINUX_ERR"
            if body.contains("denied") || body.contains("DENIED") =>
        {
            Event::Denied
        }
        _ => Event::Other,
    }
}

/// What one audit record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AuditRecord {
    pub(super) time: Option<i64>,
    /// `node=`: the host that wrote it.
    pub(super) node: Option<String>,
    /// The actor, when the record names one (no fallback to the node).
    pub(super) entity: Option<Entity>,
    pub(super) event: Event,
}

/// The audit record `line` holds, or None when it is not one.
pub(super) fn read_audit(line: &str) -> Option<AuditRecord> {
    let mut rest = line.trim_start();
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (name, r) = r.split_once(' ')?;
        node = Some(name).filter(|n| !n.is_empty());
        rest = r.trim_start();
    }
    let (kind, rest) = rest.strip_prefix("type=")?.split_once(' ')?;
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("msg=").unwrap_or(rest);
    let (stamp, body) = rest.strip_prefix("audit(")?.split_once("):")?;
    let secs = stamp.split(':').next()?;
    let time = secs.parse::<f64>().ok().and_then(epoch);
    let kind = record_type(kind);
    let a = Audit::read(body);
    let user = a.account();
    let event = event(kind, &a, &user, body);
    let ip = [a.addr, a.hostname]
        .into_iter()
        .flatten()
        .filter(|v| !is_placeholder(v))
        .find_map(ip_of)
        // `addr=::1`, `127.0.0.1`: a local login is no remote peer.
        .filter(|ip| !matches!(ip.as_str(), "::1" | "127.0.0.1" | "::" | "0.0.0.0"));
    let remote_name = a
        .hostname
        .filter(|h| !is_placeholder(h) && h.len() <= 253 && ip_of(h).is_none())
        .filter(|h| Some(*h) != node);
    let entity = ip
        .map(|ip| Entity::new(EntityKind::Ip, ip))
        .or_else(|| user.map(|u| Entity::new(EntityKind::User, u)))
        .or_else(|| a.login_user().map(|u| Entity::new(EntityKind::User, u)))
        .or_else(|| remote_name.map(|h| Entity::new(EntityKind::Host, h)));
    Some(AuditRecord {
        time,
        node: node.map(str::to_string),
        entity,
        event,
    })
}

/// An audit record as a parsed line (the node stands in for a record that names no actor).
pub(super) fn parse_auditd(line: &str) -> Option<ParsedLine> {
    let a = read_audit(line)?;
    Some(ParsedLine {
        format: LogFormat::Audit,
        time: a.time,
        entity: a
            .entity
            .or_else(|| a.node.clone().map(|h| Entity::new(EntityKind::Host, h))),
        host: a.node,
        event: a.event,
    })
}
