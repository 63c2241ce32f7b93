//! A JSON access record written as the combined access log line it stands for:
//! `203.0.113.9 - - [28/Nov/2026:10:00:01 +0000] "GET /.env HTTP/2.0" 404 0 "-" "curl/8.5.0"`.
//!
//! The analysis reads requests, statuses and user agents in that layout only
//! (`opensoc::analyze::facts`: the request pattern wants `"METHOD target PROTO" status bytes`,
//! the agent is the last quoted field), and the model was trained on it; a Caddy, Traefik,
//! nginx or Apache JSON line shows the same request as keys it has not seen, in three to five
//! times the bytes. This is the rendering for those records, in the way
//! [`super::windows_event_compact`] renders Windows events.
//!
//! Values are escaped as Apache escapes them (`"` and `\` behind a backslash, control
//! characters as `\xHH`), so that a decoded `\n` or `"` in a client's path or agent can neither
//! start a line of its own nor close a field early.

use std::fmt::Write;

use super::json::Fields;
use super::time::civil_from_days;

/// Appends `s` with quotes, backslashes and control characters escaped.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// `28/Nov/2026:10:00:01 +0000`.
fn clf_time(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let month = MONTHS
        .get((m as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{d:02}/{month}/{y:04}:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// The combined log line of a JSON HTTP access record (client address, status and target
/// present; `year` completes a stamp without one, as in [`super::parse`]); None for any other text, which is then best shown as it is. A record that says
/// more than the line can hold is left alone too: a Suricata record other than `http` (an
/// alert's signature), or a free-text message other than Caddy's `handled request`.
pub fn json_access_line(text: &str, year: i32) -> Option<String> {
    let line = text.trim_start();
    if !line.starts_with('{') || text.contains('\n') {
        return None;
    }
    let (f, _) = Fields::read(line, year).ok()?;
    if f.event_type.str().is_some_and(|k| k != "http")
        || f.message.str().is_some_and(|m| m != "handled request")
    {
        return None;
    }
    let ip = f.ip.get()?;
    let status = *f.status.get()?;
    let (method, target) = f.request_parts()?;
    let mut out = String::with_capacity(96 + target.len());
    out.push_str(ip);
    out.push_str(" - ");
    match f.user.get() {
        Some(u) => push_escaped(&mut out, u),
        None => out.push('-'),
    }
    out.push_str(" [");
    out.push_str(
        &f.time
            .get()
            .map_or_else(|| "-".to_string(), |&t| clf_time(t)),
    );
    out.push_str("] \"");
    push_escaped(&mut out, method);
    out.push(' ');
    push_escaped(&mut out, &target);
    if let Some(proto) = f.protocol() {
        out.push(' ');
        push_escaped(&mut out, proto);
    }
    let _ = write!(out, "\" {status} ");
    match f.bytes.get() {
        Some(b) => {
            let _ = write!(out, "{b}");
        }
        None => out.push('-'),
    }
    for field in [f.referer.str(), f.agent.str()] {
        out.push_str(" \"");
        push_escaped(&mut out, field.unwrap_or("-"));
        out.push('"');
    }
    Some(out)
}
