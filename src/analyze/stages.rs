//! Multi-stage windows: a secondary finding when one window holds two threats in sequence
//! (probing then an injection, failed logins then a success, a guessed login then an export).
//!
//! The model gives one verdict per window. To find a second stage, pieces of the window are
//! analysed on their own; the first piece whose threat type differs from the whole window's,
//! and is a threat, is the secondary finding. The pieces, in order:
//!
//! 1. the window's first and second halves (by record, in arrival order): a login stage and
//!    the stage after it fall in different halves;
//! 2. then, alone, the requests that carry parameter values ([`parameter_requests`]): one
//!    injected request among many probes still reads as probing in any half that holds
//!    probes too.
//!
//! A window with one kind of activity reads the same in every piece, so it gets none.

use crate::analyze::analyzer::{AnalyzeError, Analyzer};
use crate::analyze::parameter_requests::parameter_requests;
use crate::model::language_model::LanguageModel;
use crate::task::taxonomy::BENIGN_CATEGORY;
use crate::task::verdict::Verdict;

/// Fewest records a window needs before its pieces are analysed: two records a half.
pub const MIN_RECORDS: usize = 4;

/// The secondary threat type of a window of `records` whose whole verdict is `primary`, if
/// a piece of it shows another threat; `None` for benign windows and short ones.
pub fn secondary<M: LanguageModel>(
    analyzer: &mut Analyzer<'_, M>,
    instruction: &str,
    records: &[&str],
    primary: &Verdict,
) -> Result<Option<String>, AnalyzeError> {
    search(records, primary, |piece| {
        Ok(analyzer
            .analyze_whole(instruction, piece.join("\n").as_bytes())?
            .verdict)
    })
}

/// The search of [`secondary`], with `analyze` giving a piece's verdict.
pub fn search<E>(
    records: &[&str],
    primary: &Verdict,
    mut analyze: impl FnMut(&[&str]) -> Result<Option<Verdict>, E>,
) -> Result<Option<String>, E> {
    if records.len() < MIN_RECORDS || primary.category() == BENIGN_CATEGORY {
        return Ok(None);
    }
    let (first, second) = records.split_at(records.len() / 2);
    let mut pieces: Vec<&[&str]> = vec![first, second];
    pieces.extend(
        parameter_requests(records)
            .into_iter()
            .map(|i| &records[i..=i]),
    );
    for piece in pieces {
        if let Some(v) = analyze(piece)? {
            if v.threat_type != primary.threat_type && v.category() != BENIGN_CATEGORY {
                return Ok(Some(v.threat_type));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(threat_type: &str) -> Verdict {
        Verdict {
            threat_type: threat_type.to_string(),
            mitre_technique: "N/A".into(),
            technique_name: "N/A".into(),
            mitre_tactic: "N/A".into(),
            severity: crate::task::verdict::Severity::Medium,
            risk_score: 50,
            evidence: String::new(),
            impact: String::new(),
            recommendation: String::new(),
        }
    }

    const RECON: &str = "Automated Reconnaissance / Vulnerability Scanning";
    const SQLI: &str = "SQL Injection — UNION-based SQLi";

    fn request(target: &str) -> String {
        format!(
            "203.0.113.9 - - [05/Mar/2025:10:00:01 +0000] \"GET {target} HTTP/1.1\" 404 12 \"-\" \"curl/8.5.0\""
        )
    }

    /// A reader that sees the injection only when its request is alone, probing everywhere
    /// else; it records the pieces it was shown.
    fn reader(seen: &mut Vec<usize>) -> impl FnMut(&[&str]) -> Result<Option<Verdict>, ()> + '_ {
        move |piece: &[&str]| {
            seen.push(piece.len());
            let alone = piece.len() == 1 && piece[0].contains("UNION");
            Ok(Some(verdict(if alone { SQLI } else { RECON })))
        }
    }

    #[test]
    fn an_injection_among_probes_is_found_alone() {
        let mut lines: Vec<String> = [
            "/.env",
            "/wp-login.php",
            "/admin/",
            "/.git/config",
            "/phpmyadmin/",
        ]
        .iter()
        .map(|t| request(t))
        .collect();
        lines.push(request("/item?id=1 UNION SELECT user,pass FROM users--"));
        lines.push(request("/search?q=shoes"));
        let records: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut seen = Vec::new();
        let found = search(&records, &verdict(RECON), reader(&mut seen)).unwrap();
        assert_eq!(found.as_deref(), Some(SQLI));
        // Both halves, then the requests with parameters alone, latest first.
        assert_eq!(seen, vec![3, 4, 1, 1]);
    }

    #[test]
    fn one_kind_of_activity_and_short_or_benign_windows_get_none() {
        let lines: Vec<String> = (0..12).map(|i| request(&format!("/p{i}?id={i}"))).collect();
        let records: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut seen = Vec::new();
        assert_eq!(
            search(&records, &verdict(RECON), reader(&mut seen)).unwrap(),
            None
        );
        // Two halves and at most three single requests.
        assert_eq!(seen, vec![6, 6, 1, 1, 1]);

        let mut seen = Vec::new();
        let benign = verdict("No Threat Detected — Normal Traffic");
        assert_eq!(search(&records, &benign, reader(&mut seen)).unwrap(), None);
        assert_eq!(
            search(&records[..3], &verdict(RECON), reader(&mut seen)).unwrap(),
            None
        );
        assert!(seen.is_empty());
    }
}
