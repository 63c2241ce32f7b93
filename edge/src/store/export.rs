//! Stored verdicts for programs and for every front end alike: times and severities as text,
//! a verdict as a JSON object or a CSV row, one verdict in full, and the filters of
//! `opensoc verdicts` read from text. `opensoc verdicts`, `scan --json` and the web page's API
//! all write through here, so a CSV from the page is the command's CSV. A fleet verdict
//! ([`crate::store::fleet`]) is the same object or row with its agent's fields added.

use opensoc::task::taxonomy::taxonomy;
use opensoc::task::verdict::Severity;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::store::fleet::FleetVerdict;
use crate::store::sqlite::{Store, StoreError, StoredVerdict, VerdictFilter};

/// `LOW`, `medium`, … as a severity (clap value parser).
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::ALL
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown severity `{s}` (LOW, MEDIUM, HIGH or CRITICAL)"))
}

/// Unix seconds as `2026-11-27 09:47:00Z`.
pub fn format_time(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A time given on the command line: RFC 3339 (`2026-11-27T09:00:00Z`), a date
/// (`2026-11-27`, midnight UTC), or an age before `now` (`30m`, `24h`, `7d`).
pub fn parse_time(s: &str, now: i64) -> Result<i64, String> {
    if let Some((n, unit)) = s
        .char_indices()
        .last()
        .and_then(|(i, c)| s[..i].parse::<i64>().ok().map(|n| (n, c)))
    {
        let secs = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("unknown unit in `{s}` (s, m, h, d or w)")),
        };
        return Ok(now - n.saturating_mul(secs));
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    if let Ok(d) = time::Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    Err(format!(
        "cannot read the time `{s}`: give 2026-11-27, 2026-11-27T09:00:00Z or an age like 24h"
    ))
}

/// One verdict as a JSON object.
pub fn verdict_json(stored: &StoredVerdict) -> serde_json::Value {
    let v = &stored.verdict;
    json!({
        "id": stored.id,
        "created_at": format_time(v.created_at),
        "first_time": v.first_time.map(format_time),
        "last_time": v.last_time.map(format_time),
        "source": v.source,
        "entity": v.entity,
        "lines": v.records,
        "threat_type": v.threat_type,
        "category": v.category,
        "mitre_technique": v.technique,
        "mitre_tactic": v.tactic,
        "severity": v.severity,
        "risk_score": v.risk_score,
        "evidence": v.evidence,
        "impact": v.impact,
        "recommendation": v.recommendation,
        "secondary_threat": v.secondary,
        "cached_from": v.cached_from,
        "copies": stored.copies,
        "input": v.input,
    })
}

/// The CSV header row, matching [`csv_row`]. Impact and recommendation came later and go last,
/// so that scripts reading columns by position keep working.
pub const CSV_HEADER: &str = "id,first_time,last_time,source,entity,lines,threat_type,category,\
                              mitre_technique,mitre_tactic,severity,risk_score,evidence,cached_from,\
                              impact,recommendation";

/// One verdict as a CSV row (RFC 4180 quoting).
pub fn csv_row(stored: &StoredVerdict) -> String {
    let v = &stored.verdict;
    let fields = [
        stored.id.to_string(),
        v.first_time.map(format_time).unwrap_or_default(),
        v.last_time.map(format_time).unwrap_or_default(),
        v.source.clone(),
        v.entity.clone().unwrap_or_default(),
        v.records.to_string(),
        v.threat_type.clone(),
        v.category.clone(),
        v.technique.clone(),
        v.tactic.clone(),
        v.severity.clone(),
        v.risk_score.to_string(),
        v.evidence.clone(),
        v.cached_from.map(|c| c.to_string()).unwrap_or_default(),
        v.impact.clone(),
        v.recommendation.clone(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// The CSV header of fleet verdicts: a local verdict's columns, then the agent's.
pub const FLEET_CSV_HEADER: &str = "id,first_time,last_time,source,entity,lines,threat_type,\
                                    category,mitre_technique,mitre_tactic,severity,risk_score,\
                                    evidence,cached_from,impact,recommendation,agent,host";

/// One fleet verdict as a CSV row, matching [`FLEET_CSV_HEADER`].
pub fn fleet_csv_row(fleet: &FleetVerdict) -> String {
    format!(
        "{},{},{}",
        csv_row(&fleet.stored),
        csv_field(&fleet.agent.id),
        csv_field(&fleet.agent.host)
    )
}

/// One fleet verdict as a JSON object: a local verdict's fields, the agent's id (`agent`),
/// host name (`host`) and opensoc version (`agent_version`), and when the fleet received it.
/// `id` is the agent's own verdict id: `agent` and `id` together name a fleet verdict.
pub fn fleet_verdict_json(fleet: &FleetVerdict) -> serde_json::Value {
    let mut j = verdict_json(&fleet.stored);
    j["agent"] = json!(fleet.agent.id);
    j["host"] = json!(fleet.agent.host);
    j["agent_version"] = json!(fleet.agent.version);
    j["received_at"] = json!(format_time(fleet.received_at));
    j
}

/// One fleet verdict in full as JSON (`verdicts inspect --json --db postgres://…`): its
/// fields and the technique's name. Where it was read from stays with its agent (the byte
/// spans are not forwarded), so there is no `read_from`.
pub fn fleet_inspect_json(fleet: &FleetVerdict) -> serde_json::Value {
    let mut j = fleet_verdict_json(fleet);
    j["mitre_technique_name"] = json!(taxonomy()
        .technique(&fleet.stored.verdict.technique)
        .map(|t| t.name.clone()));
    j
}

fn csv_field(s: &str) -> String {
    // A cell a spreadsheet would take for a formula is quoted as text: log text and file names
    // are the attacker's (`=HYPERLINK(…)` in a user name).
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A stored verdict's severity (the store only holds the four names).
pub fn severity_of(v: &StoredVerdict) -> Severity {
    parse_severity(&v.verdict.severity).unwrap_or(Severity::Low)
}

/// One verdict in full as JSON: its fields, the technique's name and where it was read from
/// (`verdicts inspect --json`, and the web page's finding detail).
pub fn inspect_json(
    store: &Store,
    stored: &StoredVerdict,
) -> Result<serde_json::Value, StoreError> {
    let spans = store.verdict_spans(stored.id)?;
    let technique_name = taxonomy()
        .technique(&stored.verdict.technique)
        .map(|t| t.name.clone());
    let mut j = verdict_json(stored);
    j["mitre_technique_name"] = json!(technique_name);
    j["read_from"] = spans
        .iter()
        .map(|(path, s)| json!({"path": path, "start": s.start, "end": s.end}))
        .collect();
    Ok(j)
}

/// The filters of `opensoc verdicts` as text (empty ones left out), read into a store filter;
/// times are dates, RFC 3339 or ages before `now` ([`parse_time`]).
#[derive(Debug, Clone, Default)]
pub struct FilterText {
    /// `--since`.
    pub since: Option<String>,
    /// `--until`.
    pub until: Option<String>,
    /// `--min-severity`.
    pub min_severity: Option<Severity>,
    /// `--category`.
    pub category: Option<String>,
    /// `--source`.
    pub source: Option<String>,
}

impl FilterText {
    /// The store filter, at most `limit` verdicts; an unreadable time is an error message.
    pub fn filter(&self, limit: Option<usize>, now: i64) -> Result<VerdictFilter, String> {
        let time = |s: &Option<String>| s.as_deref().map(|s| parse_time(s, now)).transpose();
        Ok(VerdictFilter {
            since: time(&self.since)?,
            until: time(&self.until)?,
            min_severity: self.min_severity.map(|s| s.as_str().to_string()),
            category: self.category.clone(),
            source: self.source.clone(),
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_dates_rfc3339_and_ages() {
        let now = 1_800_000_000;
        assert_eq!(parse_time("24h", now), Ok(now - 86_400));
        assert_eq!(parse_time("7d", now), Ok(now - 7 * 86_400));
        assert_eq!(parse_time("2026-11-27", now), Ok(1_795_737_600));
        assert_eq!(
            parse_time("2026-11-27T09:00:00Z", now),
            Ok(1_795_737_600 + 9 * 3600)
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("5y", now).unwrap_err().contains("unit"));
        assert_eq!(
            format_time(1_795_737_600 + 9 * 3600),
            "2026-11-27 09:00:00Z"
        );
    }

    #[test]
    fn csv_cells_that_look_like_formulas_stay_text() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("root"), "root");
    }

    #[test]
    fn csv_fields_with_commas_quotes_and_newlines_are_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn severities_parse_in_any_case() {
        assert_eq!(parse_severity("high"), Ok(Severity::High));
        assert!(parse_severity("urgent").is_err());
    }
}
