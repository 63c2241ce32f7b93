//! A threat-type label to the full output block, as the analyzer's fast mode writes it: the
//! taxonomy's technique, tactic, severity, risk score and texts, and evidence from the facts
//! of the window itself.

use std::sync::OnceLock;

use opensoc::analyze::facts::Facts;
use opensoc::task::prompt::clean_log;
use opensoc::task::taxonomy::taxonomy;
use opensoc::task::verdict::{ParsedVerdict, Verdict, NOT_APPLICABLE};
use regex::Regex;

/// The benign label.
pub const BENIGN: &str = "No Threat Detected — Normal Traffic";

/// A label the taxonomy does not know.
#[derive(Debug, thiserror::Error)]
#[error("label {0:?} is not in the taxonomy (data/taxonomy.json)")]
pub struct LabelError(pub String);

/// The output block of `label` for the window `input`.
pub fn output_block(label: &str, input: &str) -> Result<String, LabelError> {
    let tax = taxonomy();
    let tt = tax
        .threat_type(label)
        .ok_or_else(|| LabelError(label.to_string()))?;
    let tech_id = tt.primary_technique();
    let tech = tax
        .technique(tech_id)
        .ok_or_else(|| LabelError(format!("{label} (technique {tech_id})")))?;
    let tactic = tech
        .tactics
        .first()
        .cloned()
        .unwrap_or_else(|| NOT_APPLICABLE.to_string());
    let facts = Facts::extract(&clean_log(input.as_bytes()).lines);
    Ok(Verdict {
        threat_type: tt.label.clone(),
        mitre_technique: tech.id.clone(),
        technique_name: tech.name.clone(),
        mitre_tactic: tactic,
        severity: tt.severity,
        risk_score: tt.risk_score,
        evidence: facts.evidence(&tt.summary, None),
        impact: tt.impact.clone(),
        recommendation: tt.recommendation.clone(),
    }
    .to_block())
}

/// The first five lines of a block: THREAT_TYPE to RISK_SCORE, each ending with a newline.
pub fn structured_lines(block: &str) -> String {
    block.lines().take(5).map(|l| format!("{l}\n")).collect()
}

/// Whether a parsed block names a known threat type, one of its techniques and one of that
/// technique's tactics.
pub fn taxonomy_consistent(p: &ParsedVerdict) -> bool {
    let tax = taxonomy();
    let (Some(tt), Some(tech), Some(tactic)) = (
        p.threat_type.as_deref().and_then(|l| tax.threat_type(l)),
        p.mitre_technique.as_deref(),
        p.mitre_tactic.as_deref(),
    ) else {
        return false;
    };
    let Some(technique) = tax.technique(tech) else {
        return false;
    };
    tt.techniques.iter().any(|t| t.eq_ignore_ascii_case(tech))
        && technique
            .tactics
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tactic))
}

struct SqliPatterns {
    os_command: Regex,
    destructive: Regex,
    time_based: Regex,
    error_based: Regex,
    union: Regex,
    auth_bypass: Regex,
}

fn sqli_patterns() -> &'static SqliPatterns {
    static P: OnceLock<SqliPatterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("sqli pattern compiles");
        SqliPatterns {
            // A shell from the database: MSSQL's procedures, PostgreSQL's COPY … TO PROGRAM,
            // a MySQL UDF, or a PHP file written into the web root.
            os_command: re(concat!(
                r"(?i)xp_cmdshell|exec(?:ute)?\s+master\b|\bsp_oacreate|\bto\s+program\b",
                r"|\bsys_(?:exec|eval)\s*\(|\binto\s+(?:out|dump)file\b[\s\S]*(?:<\?|\.php)",
                r"|<\?php[\s\S]*\binto\s+(?:out|dump)file\b"
            )),
            destructive: re(r"(?i)\b(?:drop|truncate)\s+(?:table|database|schema)\b|\bdelete\s+from\b|\binsert\s+into\b|\bupdate\s+\w+\s+set\b"),
            time_based: re(r"(?i)\bsleep\s*\(|waitfor\s+delay|\bbenchmark\s*\(|pg_sleep|dbms_lock\.sleep|dbms_pipe\.receive_message"),
            error_based: re(r"(?i)extractvalue\s*\(|updatexml\s*\(|\bconvert\s*\(|\bcast\s*\(|exp\s*\(\s*~|floor\s*\(\s*rand"),
            union: re(r"(?i)\bunion\b[\s\S]*\bselect\b"),
            // A quote closing a login value, then a tautology or a comment that ends the check.
            auth_bypass: re(
                r#"(?i)['"]\s*\)*\s*or\s+['"(]*\s*\w+\s*['")]*\s*=\s*['"(]*\s*\w+|['"]\s*\)*\s*or\s+true\b|\b(?:admin|root|user|administrator)['"]\s*\)*\s*(?:--|#|/\*)"#,
            ),
        }
    })
}

/// The taxonomy's SQL injection subtype for a payload, by what it does.
pub fn sqli_label(payload: &str) -> &'static str {
    let p = sqli_patterns();
    if p.os_command.is_match(payload) {
        "SQL Injection — OS Command via SQLi"
    } else if p.destructive.is_match(payload) {
        "SQL Injection — Destructive SQLi"
    } else if p.time_based.is_match(payload) {
        "SQL Injection — Time-based Blind SQLi"
    } else if p.error_based.is_match(payload) {
        "SQL Injection — Error-based SQLi"
    } else if p.union.is_match(payload) {
        "SQL Injection — UNION-based SQLi"
    } else if p.auth_bypass.is_match(payload) {
        "SQL Injection — Authentication Bypass SQLi"
    } else {
        "SQL Injection — Union/Boolean SQLi"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqli_subtypes_follow_the_payload() {
        let cases = [
            ("1; EXEC xp_cmdshell('whoami')--", "OS Command via SQLi"),
            ("'; DROP TABLE users;--", "Destructive SQLi"),
            ("1 AND SLEEP(5)--", "Time-based Blind SQLi"),
            ("1';WAITFOR DELAY '0:0:5'--", "Time-based Blind SQLi"),
            (
                "1 AND extractvalue(1,concat(0x7e,version()))",
                "Error-based SQLi",
            ),
            ("1 AND 1=CONVERT(int,@@version)--", "Error-based SQLi"),
            (
                "-1 UNION SELECT username,password FROM users--",
                "UNION-based SQLi",
            ),
            ("admin' OR '1'='1", "Authentication Bypass SQLi"),
            ("admin'--", "Authentication Bypass SQLi"),
            ("1 OR 1=1", "Union/Boolean SQLi"),
            ("1' #", "Union/Boolean SQLi"),
            (
                "1);select dbms_pipe.receive_message(chr(66),5) from dual",
                "Time-based Blind SQLi",
            ),
        ];
        for (payload, subtype) in cases {
            let label = sqli_label(payload);
            assert!(label.ends_with(subtype), "{payload}: {label}");
            assert!(taxonomy().threat_type(label).is_some(), "{label}");
        }
    }

    #[test]
    fn blocks_are_valid_and_consistent() {
        let input = "203.0.113.7 - - [05/Mar/2025:10:00:01 +0000] \"GET /a?id=1 HTTP/1.1\" 200 12 \"-\" \"curl/8.5.0\"";
        for tt in &taxonomy().threat_types {
            let block = output_block(&tt.label, input).expect("known label");
            let p = ParsedVerdict::parse(&block);
            assert!(p.is_valid(), "{block}");
            assert!(taxonomy_consistent(&p), "{block}");
            assert_eq!(p.threat_type.as_deref(), Some(tt.label.as_str()));
            assert!(p.evidence.is_some_and(|e| e.contains("203.0.113.7")));
        }
        assert!(output_block("Alien Invasion", input).is_err());
        let mut p = ParsedVerdict::parse(&output_block(BENIGN, input).expect("benign"));
        assert_eq!(p.mitre_technique.as_deref(), Some("N/A"));
        p.mitre_tactic = Some("Impact".into());
        assert!(!taxonomy_consistent(&p));
    }
}
