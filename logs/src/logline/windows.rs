//! Windows event records exported as text blocks (`Get-WinEvent`, `wevtutil` and Event
//! Viewer forms): the event id, account and source address, and the compact form the model
//! reads.

use super::entity::{ip_of, user_of};
use super::parsed::{Entity, EntityKind, Event, LogFormat, ParsedLine};
use super::time::{civil_from_days, num, parse_clf_time, parse_iso, parse_powershell_time};

pub(super) fn is_windows_block(text: &str, first: &str) -> bool {
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
pub(super) fn seed_time(t: i64) -> String {
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

pub(super) fn parse_windows(text: &str) -> ParsedLine {
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
