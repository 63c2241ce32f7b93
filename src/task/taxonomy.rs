//! The taxonomy: the threat types the seed's labels use, the ATT&CK techniques and tactics they
//! map to, and each threat type's default severity, risk score and texts.
//!
//! The data lives in `data/taxonomy.json`, built from the training set's labels
//! (`scripts/taxonomy_stats.py` reproduces its numbers) and MITRE ATT&CK (enterprise). It is
//! compiled into the binary so that a verdict never depends on a file next to it.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::task::verdict::{Severity, NOT_APPLICABLE};

/// The threat types, techniques and tactics a verdict may name.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Taxonomy {
    /// ATT&CK enterprise tactics, plus `N/A` for benign traffic.
    pub tactics: Vec<Tactic>,
    /// ATT&CK techniques, plus `N/A` for benign traffic.
    pub techniques: Vec<Technique>,
    /// One entry per threat-type label.
    pub threat_types: Vec<ThreatType>,
}

/// An ATT&CK tactic.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tactic {
    /// ATT&CK id, e.g. `TA0001`, or `N/A`.
    pub id: String,
    /// Name as verdicts write it, e.g. `Initial Access`.
    pub name: String,
}

/// An ATT&CK technique or sub-technique.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Technique {
    /// Normalised id, e.g. `T1190`, `T1110.001`, or `N/A`.
    pub id: String,
    /// Official ATT&CK name (a sub-technique's own name).
    pub name: String,
    /// Tactic names it serves; the first is the one the seed pairs it with.
    pub tactics: Vec<String>,
}

/// A threat-type label with its defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ThreatType {
    /// The label exactly as the seed writes it, e.g. `SQL Injection — Union/Boolean SQLi`.
    pub label: String,
    /// The label without its subtype (the text before ` — `).
    pub category: String,
    /// Technique ids that fit the label; the first is the one the seed uses.
    pub techniques: Vec<String>,
    /// The training set's most common severity for the label.
    pub severity: Severity,
    /// The training set's median risk score for the label.
    pub risk_score: u8,
    /// One generic sentence on what could follow.
    pub impact: String,
    /// Numbered generic steps, `1) ... 2) ...`.
    pub recommendation: String,
    /// A short noun phrase for evidence text, e.g. `SQL injection payload`.
    pub summary: String,
    /// Whether the model may choose the label (the schema offers it). A label the shipped
    /// adapter was never trained on is given only by the deterministic floors
    /// ([`crate::analyze::floors`]), and so is one whose windows the seed labels otherwise: the seed
    /// calls a burst of failed web logins plain `Brute Force Attack`, so its web-login subtype
    /// is the floor's to give.
    #[serde(default = "learned_by_default", skip_serializing_if = "is_true")]
    pub learned: bool,
}

fn learned_by_default() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl ThreatType {
    /// The technique the seed uses for this label.
    pub fn primary_technique(&self) -> &str {
        self.techniques
            .first()
            .map(String::as_str)
            .unwrap_or(NOT_APPLICABLE)
    }
}

/// The taxonomy compiled into the binary, parsed on first use.
pub fn taxonomy() -> &'static Taxonomy {
    static TAXONOMY: OnceLock<Taxonomy> = OnceLock::new();
    TAXONOMY.get_or_init(|| {
        // The file is compiled in and checked by the tests below, so a failure here is a bug.
        serde_json::from_str(include_str!("../../data/taxonomy.json"))
            .expect("data/taxonomy.json is valid (see the taxonomy tests)")
    })
}

impl Taxonomy {
    /// The threat type with this label: exact match first, then case-insensitive.
    pub fn threat_type(&self, label: &str) -> Option<&ThreatType> {
        let label = label.trim();
        self.threat_types
            .iter()
            .find(|t| t.label == label)
            .or_else(|| {
                let lower = label.to_lowercase();
                self.threat_types
                    .iter()
                    .find(|t| t.label.to_lowercase() == lower)
            })
    }

    /// The technique with this normalised id (`T1190`, `t1110.001`, `N/A`), in any case.
    pub fn technique(&self, id: &str) -> Option<&Technique> {
        let id = id.trim();
        self.techniques
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// The tactic with this name, in any case.
    pub fn tactic(&self, name: &str) -> Option<&Tactic> {
        let name = name.trim();
        self.tactics
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The distinct categories, in file order.
    pub fn categories(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for t in &self.threat_types {
            if !seen.contains(&t.category.as_str()) {
                seen.push(&t.category);
            }
        }
        seen
    }

    /// The benign entry (category `No Threat Detected`).
    pub fn benign(&self) -> &ThreatType {
        self.threat_types
            .iter()
            .find(|t| t.category == BENIGN_CATEGORY)
            .expect("data/taxonomy.json has a No Threat Detected entry (see the taxonomy tests)")
    }
}

/// The category of the benign threat type.
pub const BENIGN_CATEGORY: &str = "No Threat Detected";

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    use regex::Regex;

    use super::*;
    use crate::task::verdict::{category_of, normalize_technique, ParsedVerdict};

    fn tax() -> &'static Taxonomy {
        taxonomy()
    }

    #[test]
    fn ids_and_labels_are_unique_and_normalised() {
        let t = tax();
        let mut labels = HashSet::new();
        for tt in &t.threat_types {
            assert!(labels.insert(&tt.label), "duplicate label {:?}", tt.label);
        }
        let mut ids = HashSet::new();
        for tech in &t.techniques {
            assert!(ids.insert(&tech.id), "duplicate technique {:?}", tech.id);
            assert_eq!(
                normalize_technique(&tech.id).as_deref(),
                Some(tech.id.as_str()),
                "technique id {:?} is not normalised",
                tech.id
            );
            assert!(!tech.name.trim().is_empty(), "{} has no name", tech.id);
        }
        let mut tactics = HashSet::new();
        for tactic in &t.tactics {
            assert!(tactics.insert(&tactic.name), "duplicate tactic {tactic:?}");
        }
        assert_eq!(t.tactics.len(), 15, "14 enterprise tactics plus N/A");
    }

    #[test]
    fn every_reference_resolves() {
        let t = tax();
        for tech in &t.techniques {
            assert!(!tech.tactics.is_empty(), "{} has no tactic", tech.id);
            for name in &tech.tactics {
                assert!(
                    t.tactics.iter().any(|x| &x.name == name),
                    "{}: unknown tactic {name:?}",
                    tech.id
                );
            }
        }
        for tt in &t.threat_types {
            assert!(!tt.techniques.is_empty(), "{} has no technique", tt.label);
            for id in &tt.techniques {
                assert!(
                    t.techniques.iter().any(|x| &x.id == id),
                    "{}: unknown technique {id:?}",
                    tt.label
                );
            }
            let first = t
                .technique(tt.primary_technique())
                .unwrap_or_else(|| panic!("{}: primary technique missing", tt.label));
            let tactic = first.tactics.first().map(String::as_str).unwrap_or("");
            assert!(
                t.tactic(tactic).is_some(),
                "{}: first tactic {tactic:?} is not a tactic",
                tt.label
            );
        }
    }

    #[test]
    fn categories_match_the_labels() {
        let t = tax();
        for tt in &t.threat_types {
            assert!(!tt.category.is_empty(), "{} has no category", tt.label);
            assert_eq!(tt.category, category_of(&tt.label), "{}", tt.label);
        }
        let cats = t.categories();
        assert_eq!(
            cats.len(),
            cats.iter().collect::<HashSet<_>>().len(),
            "categories() repeats one"
        );
        assert!(cats.contains(&"SQL Injection"));
        let benign = t.benign();
        assert_eq!(benign.category, BENIGN_CATEGORY);
        assert_eq!(benign.techniques, [NOT_APPLICABLE]);
        assert_eq!(benign.severity, Severity::Low);
    }

    #[test]
    fn texts_are_present_generic_and_scores_in_range() {
        let ipv4 = Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").expect("pattern");
        for tt in &tax().threat_types {
            for (field, text) in [
                ("impact", &tt.impact),
                ("recommendation", &tt.recommendation),
                ("summary", &tt.summary),
            ] {
                assert!(!text.trim().is_empty(), "{}: empty {field}", tt.label);
                assert!(!ipv4.is_match(text), "{}: IP address in {field}", tt.label);
            }
            assert!(tt.risk_score <= 100, "{}: risk {}", tt.label, tt.risk_score);
        }
    }

    #[test]
    fn lookups_tolerate_case() {
        let t = tax();
        let label = "SQL Injection — Union/Boolean SQLi";
        assert_eq!(t.threat_type(label).map(|x| x.label.as_str()), Some(label));
        assert_eq!(
            t.threat_type("sql injection — union/boolean sqli")
                .map(|x| x.label.as_str()),
            Some(label)
        );
        assert!(t.threat_type("SQL Injection").is_none());
        assert_eq!(
            t.technique("t1110.001").map(|x| x.name.as_str()),
            Some("Password Guessing")
        );
        assert_eq!(
            t.technique("T1053.005").map(|x| x.name.as_str()),
            Some("Scheduled Task")
        );
        assert!(t.technique("T9999").is_none());
        assert_eq!(
            t.tactic("initial access").map(|x| x.id.as_str()),
            Some("TA0001")
        );
    }

    fn data_dir() -> PathBuf {
        crate::task::dataset::data_dir_beside(Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    #[derive(Deserialize)]
    struct Entry {
        output: String,
    }

    /// Every label, technique and tactic of the seed's data (training and held-out) must be
    /// known, so that the eval's answers are all reachable; the held-out set is only checked,
    /// never used to build the taxonomy.
    #[test]
    fn covers_every_label_in_the_seed_data() {
        let t = tax();
        for name in ["soc_train.json", "soc_eval.json"] {
            let path = data_dir().join("opensoc-ai").join(name);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read {} (set OPENSOC_DATA to the folder holding opensoc-ai/): {e}",
                    path.display()
                )
            });
            let entries: Vec<Entry> = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not the seed's format: {e}", path.display()));
            assert!(!entries.is_empty(), "{} is empty", path.display());
            for (i, e) in entries.iter().enumerate() {
                let at = format!("{name}[{i}]");
                let p = ParsedVerdict::parse(&e.output);
                let label = p
                    .threat_type
                    .as_deref()
                    .unwrap_or_else(|| panic!("{at}: no THREAT_TYPE"));
                let tt = t
                    .threat_type(label)
                    .unwrap_or_else(|| panic!("{at}: label {label:?} not in the taxonomy"));
                assert_eq!(tt.label, label, "{at}: label differs in case");
                let id = p
                    .mitre_technique
                    .as_deref()
                    .unwrap_or_else(|| panic!("{at}: no MITRE_TECHNIQUE"));
                let tech = t
                    .technique(id)
                    .unwrap_or_else(|| panic!("{at}: technique {id:?} not in the taxonomy"));
                assert!(
                    tt.techniques.iter().any(|x| x == id),
                    "{at}: {id} not allowed for {label:?}"
                );
                let tactic = p
                    .mitre_tactic
                    .as_deref()
                    .unwrap_or_else(|| panic!("{at}: no MITRE_TACTIC"));
                assert!(
                    t.tactics.iter().any(|x| x.name == tactic),
                    "{at}: tactic {tactic:?} not in the taxonomy"
                );
                assert!(
                    tech.tactics.iter().any(|x| x == tactic),
                    "{at}: tactic {tactic:?} not among {id}'s {:?}",
                    tech.tactics
                );
            }
        }
    }
}
