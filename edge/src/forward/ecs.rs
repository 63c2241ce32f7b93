//! A verdict in the Elastic Common Schema's field names (`event.*`, `source.ip`,
//! `threat.technique.id`, `threat.tactic.name`, …), so that Filebeat, Vector, Fluent Bit or an
//! Elastic/OpenSearch pipeline take it without a mapping of their own. What ECS has no field
//! for (evidence, impact, recommendation, the window's line count) is under `opensoc.*`.
//!
//! The window text (`event.original`) and every field the model wrote are attacker-influenced:
//! JSON encoding escapes them, and nothing here interprets them.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::forward::Agent;
use crate::store::sqlite::{severity_rank, StoredVerdict};

/// The ECS version the field names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// Unix seconds as RFC 3339 UTC (`2026-11-27T09:23:00Z`), or the number itself where RFC 3339
/// has no year for it.
pub fn rfc3339(t: i64) -> String {
    opensoc_logs::logline::rfc3339(t).unwrap_or_else(|| t.to_string())
}

/// The technique ids in a verdict's technique text ("T1110.001", "T1059, T1105").
pub fn technique_ids(technique: &str) -> Vec<String> {
    technique
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .filter(|t| {
            t.len() >= 5
                && t.starts_with('T')
                && t[1..5].bytes().all(|b| b.is_ascii_digit())
                && (t.len() == 5
                    || (t.len() == 9
                        && t.as_bytes()[5] == b'.'
                        && t[6..].bytes().all(|b| b.is_ascii_digit())))
        })
        .map(str::to_string)
        .collect()
}

/// `agent`'s verdict `stored` as one ECS document.
pub fn document(agent: &Agent, stored: &StoredVerdict) -> Value {
    let v = &stored.verdict;
    let rank = severity_rank(&v.severity).unwrap_or(1);
    let start = v.first_time.unwrap_or(v.created_at);
    let mut doc = json!({
        "@timestamp": rfc3339(start),
        "ecs": {"version": ECS_VERSION},
        "message": format!(
            "{} {} from {} ({} line{} of {})",
            v.severity,
            v.threat_type,
            v.entity.as_deref().unwrap_or("-"),
            v.records,
            if v.records == 1 { "" } else { "s" },
            v.source
        ),
        "event": {
            "id": format!("{}:{}", agent.id, stored.id),
            "kind": if rank >= 2 { "alert" } else { "event" },
            "category": ["intrusion_detection"],
            "type": ["info"],
            "module": "opensoc",
            "dataset": "opensoc.verdict",
            "severity": rank,
            "risk_score": v.risk_score,
            "created": rfc3339(v.created_at),
            "start": rfc3339(start),
            "end": rfc3339(v.last_time.unwrap_or(start)),
            "original": v.input,
        },
        "rule": {"name": v.threat_type, "category": v.category},
        "threat": {
            "framework": "MITRE ATT&CK",
            "technique": {"id": technique_ids(&v.technique)},
            "tactic": {"name": [v.tactic]},
        },
        "log": {"file": {"path": v.source}},
        "agent": {"id": agent.id, "name": agent.host, "type": "opensoc", "version": agent.version},
        "host": {"name": agent.host},
        "opensoc": {
            "verdict_id": stored.id,
            "severity": v.severity,
            "entity": v.entity,
            "lines": v.records,
            "copies": stored.copies,
            "technique": v.technique,
            "evidence": v.evidence,
            "impact": v.impact,
            "recommendation": v.recommendation,
            "secondary": v.secondary,
            "cached_from": v.cached_from,
        },
    });
    if let Some(ip) = v.entity.as_deref().and_then(|e| e.parse::<IpAddr>().ok()) {
        doc["source"] = json!({"ip": ip.to_string()});
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::NewVerdict;

    #[test]
    fn technique_ids_are_read_out_of_the_text() {
        assert_eq!(technique_ids("T1110.001"), ["T1110.001"]);
        assert_eq!(technique_ids("T1059, T1105"), ["T1059", "T1105"]);
        assert_eq!(
            technique_ids("T1190 — Exploit Public-Facing Application"),
            ["T1190"]
        );
        assert!(technique_ids("N/A").is_empty());
        assert!(technique_ids("T11").is_empty());
    }

    #[test]
    fn a_verdict_takes_the_ecs_names() {
        let agent = Agent {
            id: "a1".into(),
            host: "web1".into(),
            version: "0.1.0".into(),
        };
        let stored = NewVerdict {
            created_at: 1_764_235_380,
            first_time: Some(1_764_235_200),
            last_time: Some(1_764_235_260),
            source: "/var/log/auth.log".into(),
            entity: Some("185.220.101.33".into()),
            records: 50,
            signature: "s".into(),
            cached_from: None,
            threat_type: "SSH Brute Force Attack".into(),
            category: "SSH Brute Force Attack".into(),
            technique: "T1110.001".into(),
            tactic: "Credential Access".into(),
            severity: "HIGH".into(),
            risk_score: 80,
            evidence: "50 failed logins".into(),
            impact: "i".into(),
            recommendation: "r".into(),
            secondary: None,
            input: "Nov 27 … \u{1b}[2J".into(),
        }
        .stored_as(7);
        let doc = document(&agent, &stored);
        assert_eq!(doc["event"]["id"], "a1:7");
        assert_eq!(doc["event"]["kind"], "alert");
        assert_eq!(doc["event"]["severity"], 3);
        assert_eq!(doc["source"]["ip"], "185.220.101.33");
        assert_eq!(doc["threat"]["technique"]["id"][0], "T1110.001");
        assert_eq!(doc["threat"]["tactic"]["name"][0], "Credential Access");
        assert_eq!(doc["@timestamp"], "2025-11-27T09:20:00Z");
        assert_eq!(doc["agent"]["name"], "web1");
        // One line of JSON: control characters of the log are escaped, never raw.
        let line = doc.to_string();
        assert!(!line.contains('\u{1b}') && !line.contains('\n'));
    }
}
