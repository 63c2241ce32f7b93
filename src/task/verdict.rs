//! The verdict: the eight fields of the seed's output block, a tolerant parser for text a model
//! wrote, and the formatter that writes the block back.
//!
//! The block (DESIGN.md):
//! ```text
//! THREAT_TYPE: SQL Injection — Union/Boolean SQLi
//! MITRE_TECHNIQUE: T1190 (Exploit Public-Facing Application)
//! MITRE_TACTIC: Initial Access
//! SEVERITY: CRITICAL
//! RISK_SCORE: 83
//! EVIDENCE: ...
//! IMPACT: ...
//! RECOMMENDATION: ...
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// How bad a finding is, in the seed's four levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Informational or benign.
    Low,
    /// Worth a look.
    Medium,
    /// Act soon.
    High,
    /// Act now.
    Critical,
}

impl Severity {
    /// Every level, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The upper-case name the block uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity text that names none of the four levels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected LOW, MEDIUM, HIGH or CRITICAL)")]
pub struct BadSeverity(pub String);

impl FromStr for Severity {
    type Err = BadSeverity;

    /// Reads the first word that names a level, in any case (`High`, `critical (9/10)`,
    /// `MED`, `moderate`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        for word in s
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
        {
            let level = match word.to_ascii_uppercase().as_str() {
                "LOW" | "INFO" | "INFORMATIONAL" => Severity::Low,
                "MEDIUM" | "MED" | "MODERATE" => Severity::Medium,
                "HIGH" => Severity::High,
                "CRITICAL" | "CRIT" => Severity::Critical,
                _ => continue,
            };
            return Ok(level);
        }
        Err(BadSeverity(s.trim().to_string()))
    }
}

/// The separator between a threat type's category and its subtype.
pub const SUBTYPE_SEPARATOR: &str = " — ";

/// The technique value for "no technique" (benign traffic).
pub const NOT_APPLICABLE: &str = "N/A";

/// A complete verdict: every field of the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Threat type with its subtype, e.g. `SQL Injection — Union/Boolean SQLi`.
    pub threat_type: String,
    /// ATT&CK technique id, normalised (`T1190`, `T1110.001`), or `N/A`.
    pub mitre_technique: String,
    /// The technique's name as the block shows it in parentheses.
    pub technique_name: String,
    /// ATT&CK tactic, e.g. `Initial Access`, or `N/A`.
    pub mitre_tactic: String,
    /// One of the four levels.
    pub severity: Severity,
    /// 0 to 100.
    pub risk_score: u8,
    /// What in the log supports the verdict.
    pub evidence: String,
    /// What could follow if the threat is real.
    pub impact: String,
    /// What to do.
    pub recommendation: String,
}

impl Verdict {
    /// The threat type without its subtype (the text before ` — `).
    pub fn category(&self) -> &str {
        category_of(&self.threat_type)
    }

    /// The seed's output block, one field a line, ending with a newline.
    pub fn to_block(&self) -> String {
        format!(
            "THREAT_TYPE: {}\nMITRE_TECHNIQUE: {}\nMITRE_TACTIC: {}\nSEVERITY: {}\nRISK_SCORE: {}\n\
             EVIDENCE: {}\nIMPACT: {}\nRECOMMENDATION: {}\n",
            self.threat_type,
            technique_text(&self.mitre_technique, &self.technique_name),
            self.mitre_tactic,
            self.severity,
            self.risk_score,
            self.evidence,
            self.impact,
            self.recommendation,
        )
    }
}

/// `T1190 (Exploit Public-Facing Application)`, as MITRE_TECHNIQUE's value shows it.
pub fn technique_text(id: &str, name: &str) -> String {
    format!("{id} ({name})")
}

/// The threat type without its subtype: the text before ` — ` (other dash styles too).
pub fn category_of(threat_type: &str) -> &str {
    let t = threat_type.trim();
    for sep in [" — ", " – ", " -- ", " - "] {
        if let Some(i) = t.find(sep) {
            return t[..i].trim_end();
        }
    }
    t
}

/// The fields of the block, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// THREAT_TYPE.
    ThreatType,
    /// MITRE_TECHNIQUE.
    MitreTechnique,
    /// MITRE_TACTIC.
    MitreTactic,
    /// SEVERITY.
    Severity,
    /// RISK_SCORE.
    RiskScore,
    /// EVIDENCE.
    Evidence,
    /// IMPACT.
    Impact,
    /// RECOMMENDATION.
    Recommendation,
}

impl Field {
    /// Every field in the block's order.
    pub const ALL: [Field; 8] = [
        Field::ThreatType,
        Field::MitreTechnique,
        Field::MitreTactic,
        Field::Severity,
        Field::RiskScore,
        Field::Evidence,
        Field::Impact,
        Field::Recommendation,
    ];

    /// The key as the block writes it.
    pub fn key(self) -> &'static str {
        match self {
            Field::ThreatType => "THREAT_TYPE",
            Field::MitreTechnique => "MITRE_TECHNIQUE",
            Field::MitreTactic => "MITRE_TACTIC",
            Field::Severity => "SEVERITY",
            Field::RiskScore => "RISK_SCORE",
            Field::Evidence => "EVIDENCE",
            Field::Impact => "IMPACT",
            Field::Recommendation => "RECOMMENDATION",
        }
    }

    /// Whether the field is one of the five the metrics judge (the rest are free text).
    pub fn is_structured(self) -> bool {
        !matches!(
            self,
            Field::Evidence | Field::Impact | Field::Recommendation
        )
    }

    /// The field a line's key names, tolerating case, spaces, dashes and markdown
    /// (`threat type`, `**Threat-Type**`, `MITRE technique ID`, `Risk score`).
    fn from_key(key: &str) -> Option<Field> {
        let k: String = key
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let k = k.strip_suffix("ID").unwrap_or(&k);
        Some(match k {
            "THREATTYPE" | "THREAT" => Field::ThreatType,
            "MITRETECHNIQUE" | "TECHNIQUE" | "MITREATTACKTECHNIQUE" | "ATTACKTECHNIQUE" => {
                Field::MitreTechnique
            }
            "MITRETACTIC" | "TACTIC" | "MITREATTACKTACTIC" | "ATTACKTACTIC" => Field::MitreTactic,
            "SEVERITY" | "SEVERITYLEVEL" => Field::Severity,
            "RISKSCORE" | "RISK" => Field::RiskScore,
            "EVIDENCE" => Field::Evidence,
            "IMPACT" => Field::Impact,
            "RECOMMENDATION" | "RECOMMENDATIONS" => Field::Recommendation,
            _ => return None,
        })
    }
}

/// What a parser could read of a block: each field when present and well-formed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ParsedVerdict {
    /// THREAT_TYPE with its dash normalised to ` — `.
    pub threat_type: Option<String>,
    /// Normalised technique id (`T1190`, `T1190.001`, `N/A`).
    pub mitre_technique: Option<String>,
    /// The technique's name when the text gave one in parentheses.
    pub technique_name: Option<String>,
    /// MITRE_TACTIC as written (trimmed).
    pub mitre_tactic: Option<String>,
    /// SEVERITY.
    pub severity: Option<Severity>,
    /// RISK_SCORE within 0..=100.
    pub risk_score: Option<u8>,
    /// EVIDENCE.
    pub evidence: Option<String>,
    /// IMPACT.
    pub impact: Option<String>,
    /// RECOMMENDATION.
    pub recommendation: Option<String>,
}

impl ParsedVerdict {
    /// Reads every `KEY: value` line it recognises; the first occurrence of a field wins.
    pub fn parse(text: &str) -> ParsedVerdict {
        let mut p = ParsedVerdict::default();
        for line in text.lines() {
            let Some((field, value)) = split_field_line(line) else {
                continue;
            };
            match field {
                Field::ThreatType if p.threat_type.is_none() => {
                    p.threat_type = non_empty(normalise_dashes(value));
                }
                Field::MitreTechnique if p.mitre_technique.is_none() => {
                    p.mitre_technique = normalize_technique(value);
                    if p.mitre_technique.is_some() {
                        p.technique_name = technique_name_in(value);
                    }
                }
                Field::MitreTactic if p.mitre_tactic.is_none() => {
                    p.mitre_tactic = non_empty(value.trim().to_string());
                }
                Field::Severity if p.severity.is_none() => p.severity = value.parse().ok(),
                Field::RiskScore if p.risk_score.is_none() => p.risk_score = parse_score(value),
                Field::Evidence if p.evidence.is_none() => p.evidence = non_empty(value.into()),
                Field::Impact if p.impact.is_none() => p.impact = non_empty(value.into()),
                Field::Recommendation if p.recommendation.is_none() => {
                    p.recommendation = non_empty(value.into())
                }
                _ => {}
            }
        }
        p
    }

    /// Whether all five structured fields were produced and parsed.
    pub fn is_valid(&self) -> bool {
        self.threat_type.is_some()
            && self.mitre_technique.is_some()
            && self.mitre_tactic.is_some()
            && self.severity.is_some()
            && self.risk_score.is_some()
    }

    /// The threat type's category (text before ` — `).
    pub fn category(&self) -> Option<&str> {
        self.threat_type.as_deref().map(category_of)
    }
}

/// The field and value of a `KEY: value` line, or None for any other line.
fn split_field_line(line: &str) -> Option<(Field, &str)> {
    let line = line.trim().trim_start_matches(['-', '*', '#', '>', ' ']);
    let sep = line.find([':', '='])?;
    let field = Field::from_key(&line[..sep])?;
    let value = line[sep + 1..].trim_start_matches(['*', ' ', '\t']).trim();
    Some((field, value))
}

fn non_empty(s: String) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Rewrites the category/subtype separator in any dash style (`-`, `--`, `–`, `—`) as ` — `.
fn normalise_dashes(s: &str) -> String {
    let s = s.trim().trim_end_matches(['.', '*']);
    for sep in [" — ", " – ", " -- ", " - "] {
        if let Some(i) = s.find(sep) {
            return format!(
                "{}{SUBTYPE_SEPARATOR}{}",
                s[..i].trim_end(),
                s[i + sep.len()..].trim_start()
            );
        }
    }
    s.to_string()
}

/// The normalised technique id in `s`: `T1190 (…)`, `t1190.001`, `T 1190`, `Technique 1190`
/// and `MITRE ATT&CK T1190` all give `T1190` (with the sub-technique when written); `N/A`,
/// `none` and `-` give `N/A`.
pub fn normalize_technique(s: &str) -> Option<String> {
    static ID: OnceLock<Regex> = OnceLock::new();
    let re = ID.get_or_init(|| {
        Regex::new(r"(?i)(?:\bT\s?|\btechnique\s+(?:id\s*)?:?\s*T?)(\d{4})(?:\.(\d{3}))?\b")
            .expect("technique pattern compiles")
    });
    if let Some(c) = re.captures(s) {
        let mut id = format!("T{}", &c[1]);
        if let Some(sub) = c.get(2) {
            id.push('.');
            id.push_str(sub.as_str());
        }
        return Some(id);
    }
    let t = s.trim().trim_end_matches('.');
    let word = t
        .split(['(', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(word.as_str(), "N/A" | "NA" | "NONE" | "-").then(|| NOT_APPLICABLE.to_string())
}

/// The name in parentheses after a technique id, if any.
fn technique_name_in(value: &str) -> Option<String> {
    let open = value.find('(')?;
    let close = value[open..].rfind(')')? + open;
    non_empty(value[open + 1..close].to_string())
}

/// RISK_SCORE's integer when it is within 0..=100 (`83`, `83/100`, `83%`).
fn parse_score(value: &str) -> Option<u8> {
    let digits: String = value
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let n: u32 = digits.parse().ok()?;
    (n <= 100).then_some(n as u8)
}

/// The paper's strict threat extraction: the seed notebook's `THREAT_TYPE[:\s]+([^\n,]+)`,
/// upper-cased. Strict accuracy compares it for equality with the label's extraction.
pub fn strict_threat(text: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"THREAT_TYPE[:\s]+([^\n,]+)").expect("seed pattern"));
    re.captures(text).map(|c| c[1].to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "THREAT_TYPE: SQL Injection — Union/Boolean SQLi\n\
        MITRE_TECHNIQUE: T1190 (Exploit Public-Facing Application)\n\
        MITRE_TACTIC: Initial Access\nSEVERITY: CRITICAL\nRISK_SCORE: 83\n\
        EVIDENCE: burpsuite executing Union/Boolean SQLi via /profile endpoint.\n\
        IMPACT: Potential full database compromise.\n\
        RECOMMENDATION: 1) Block IP 2) Use prepared statements\n";

    #[test]
    fn parses_the_seed_block_and_formats_it_back() {
        let p = ParsedVerdict::parse(SEED);
        assert!(p.is_valid());
        assert_eq!(
            p.threat_type.as_deref(),
            Some("SQL Injection — Union/Boolean SQLi")
        );
        assert_eq!(p.category(), Some("SQL Injection"));
        assert_eq!(p.mitre_technique.as_deref(), Some("T1190"));
        assert_eq!(
            p.technique_name.as_deref(),
            Some("Exploit Public-Facing Application")
        );
        assert_eq!(p.severity, Some(Severity::Critical));
        assert_eq!(p.risk_score, Some(83));
        let v = Verdict {
            threat_type: p.threat_type.clone().unwrap(),
            mitre_technique: p.mitre_technique.clone().unwrap(),
            technique_name: p.technique_name.clone().unwrap(),
            mitre_tactic: p.mitre_tactic.clone().unwrap(),
            severity: p.severity.unwrap(),
            risk_score: p.risk_score.unwrap(),
            evidence: p.evidence.clone().unwrap(),
            impact: p.impact.clone().unwrap(),
            recommendation: p.recommendation.clone().unwrap(),
        };
        assert_eq!(v.to_block(), SEED);
        assert_eq!(ParsedVerdict::parse(&v.to_block()), p);
    }

    #[test]
    fn tolerates_case_spacing_markdown_and_dash_styles() {
        let text = "**Threat Type:** sql injection - Error-based SQLi\n\
            - mitre technique id: Technique 1190\n  Mitre_Tactic :  Initial Access \n\
            severity: High (8/10)\nRisk score = 77/100\n";
        let p = ParsedVerdict::parse(text);
        assert_eq!(
            p.threat_type.as_deref(),
            Some("sql injection — Error-based SQLi")
        );
        assert_eq!(p.category(), Some("sql injection"));
        assert_eq!(p.mitre_technique.as_deref(), Some("T1190"));
        assert_eq!(p.technique_name, None);
        assert_eq!(p.mitre_tactic.as_deref(), Some("Initial Access"));
        assert_eq!(p.severity, Some(Severity::High));
        assert_eq!(p.risk_score, Some(77));
        assert!(p.is_valid());
    }

    #[test]
    fn normalises_technique_ids() {
        for (text, want) in [
            ("T1190 (Exploit Public-Facing Application)", Some("T1190")),
            ("t1190.001", Some("T1190.001")),
            ("T1110.001 (Password Guessing)", Some("T1110.001")),
            ("Technique 1190", Some("T1190")),
            ("technique T1059", Some("T1059")),
            ("MITRE ATT&CK T1498 - Network DoS", Some("T1498")),
            ("T 1083", Some("T1083")),
            ("N/A (N/A)", Some("N/A")),
            ("none", Some("N/A")),
            ("Exploit Public-Facing Application", None),
            ("T12", None),
            ("", None),
        ] {
            assert_eq!(normalize_technique(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn missing_or_malformed_fields_make_it_invalid() {
        let p = ParsedVerdict::parse("THREAT_TYPE: Brute Force Attack\nSEVERITY: urgent\n");
        assert_eq!(p.severity, None);
        assert!(!p.is_valid());
        let p = ParsedVerdict::parse(&SEED.replace("RISK_SCORE: 83", "RISK_SCORE: 130"));
        assert_eq!(p.risk_score, None);
        assert!(!p.is_valid());
        let p = ParsedVerdict::parse("The log shows a SQL injection attempt.");
        assert_eq!(p, ParsedVerdict::default());
    }

    #[test]
    fn first_occurrence_of_a_field_wins() {
        let p = ParsedVerdict::parse(&format!("{SEED}SEVERITY: LOW\nTHREAT_TYPE: No Threat\n"));
        assert_eq!(p.severity, Some(Severity::Critical));
        assert_eq!(p.category(), Some("SQL Injection"));
    }

    #[test]
    fn severity_reads_the_first_level_word() {
        assert_eq!("critical".parse(), Ok(Severity::Critical));
        assert_eq!(" Medium risk".parse(), Ok(Severity::Medium));
        assert_eq!("moderate".parse(), Ok(Severity::Medium));
        assert!("severe".parse::<Severity>().is_err());
        assert!(Severity::Low < Severity::Critical);
    }

    #[test]
    fn strict_extraction_is_the_seed_regex() {
        assert_eq!(
            strict_threat(SEED).as_deref(),
            Some("SQL INJECTION — UNION/BOOLEAN SQLI")
        );
        // The seed's pattern stops at a comma and accepts whitespace instead of the colon.
        assert_eq!(
            strict_threat("THREAT_TYPE Brute Force, likely").as_deref(),
            Some("BRUTE FORCE")
        );
        assert_eq!(strict_threat("Threat type: Brute Force"), None);
    }

    #[test]
    fn category_splits_at_any_dash_style() {
        assert_eq!(
            category_of("SSH Brute Force Attack — SUCCESSFUL LOGIN"),
            "SSH Brute Force Attack"
        );
        assert_eq!(
            category_of("No Threat Detected - Normal Traffic"),
            "No Threat Detected"
        );
        assert_eq!(
            category_of("Credential Stuffing Attack"),
            "Credential Stuffing Attack"
        );
        assert_eq!(
            category_of("Path Traversal / Directory Traversal Attack"),
            "Path Traversal / Directory Traversal Attack"
        );
    }
}
