//! What `opensoc report` counts and the web page draws: verdicts by severity and category,
//! the sources with most findings, and verdicts and findings per day.

use std::collections::BTreeMap;

use opensoc::task::verdict::Severity;
use serde_json::json;

use crate::store::export::{format_time, parse_severity};
use crate::store::fleet::{FleetError, FleetStore};
use crate::store::sqlite::{
    CopyCount, Store, StoreError, StoredVerdict, VerdictFilter, SECS_PER_DAY,
};

/// The aggregates `report` shows (and the web page draws).
pub struct Report {
    /// Windows judged: stored verdicts and the copies counted on them.
    pub total: usize,
    /// Of those, benign windows counted on their template's verdict rather than stored.
    pub copies: usize,
    /// Verdicts of each severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// Categories, most verdicts first.
    pub by_category: Vec<(String, usize)>,
    /// Entity, findings (MEDIUM and above), worst severity.
    pub top_sources: Vec<(String, usize, Severity)>,
    /// Day (UTC), windows, findings.
    pub timeline: Vec<(String, usize, usize)>,
}

impl Report {
    /// The aggregates of `verdicts` and the windows counted on verdicts (`copies`, from
    /// [`crate::store::sqlite::Store::copy_counts`] with the same filter), with the `top`
    /// sources of findings.
    pub fn of(verdicts: &[StoredVerdict], copies: &[CopyCount], top: usize) -> Report {
        let mut by_severity = BTreeMap::new();
        let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
        let mut sources: BTreeMap<String, (usize, Severity)> = BTreeMap::new();
        let mut days: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for v in verdicts.iter().map(|stored| &stored.verdict) {
            let sev = parse_severity(&v.severity).unwrap_or(Severity::Low);
            *by_severity.entry(sev).or_insert(0) += 1;
            *by_category.entry(v.category.clone()).or_insert(0) += 1;
            let finding = sev >= Severity::Medium;
            if finding {
                let e = sources
                    .entry(v.entity.clone().unwrap_or_else(|| v.source.clone()))
                    .or_insert((0, sev));
                e.0 += 1;
                e.1 = e.1.max(sev);
            }
            let day = format_time(v.first_time.unwrap_or(v.created_at))[..10].to_string();
            let d = days.entry(day).or_insert((0, 0));
            d.0 += 1;
            d.1 += usize::from(finding);
        }
        let mut copied = 0;
        for c in copies {
            let n = usize::try_from(c.windows).unwrap_or(usize::MAX);
            copied += n;
            let sev = parse_severity(&c.severity).unwrap_or(Severity::Low);
            *by_severity.entry(sev).or_insert(0) += n;
            *by_category.entry(c.category.clone()).or_insert(0) += n;
            let day = format_time(c.day.saturating_mul(SECS_PER_DAY))[..10].to_string();
            let d = days.entry(day).or_insert((0, 0));
            d.0 += n;
            if sev >= Severity::Medium {
                d.1 += n;
            }
        }
        let mut by_category: Vec<_> = by_category.into_iter().collect();
        by_category.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut top_sources: Vec<_> = sources.into_iter().map(|(k, (n, s))| (k, n, s)).collect();
        top_sources.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
        top_sources.truncate(top);
        Report {
            total: verdicts.len() + copied,
            copies: copied,
            by_severity,
            by_category,
            top_sources,
            timeline: days.into_iter().map(|(d, (w, f))| (d, w, f)).collect(),
        }
    }

    /// The report of what `store` holds under `filter`.
    pub fn from_store(
        store: &Store,
        filter: &VerdictFilter,
        top: usize,
    ) -> Result<Report, StoreError> {
        Ok(Report::of(
            &store.verdicts(filter)?,
            &store.copy_counts(filter)?,
            top,
        ))
    }

    /// The report of the fleet's verdicts under `filter`, of the agents `agent` names (a
    /// host name or an id prefix) or of all.
    pub fn from_fleet(
        fleet: &mut FleetStore,
        filter: &VerdictFilter,
        agent: Option<&str>,
        top: usize,
    ) -> Result<Report, FleetError> {
        let verdicts: Vec<StoredVerdict> = fleet
            .verdicts(filter, agent)?
            .into_iter()
            .map(|f| f.stored)
            .collect();
        Ok(Report::of(
            &verdicts,
            &fleet.copy_counts(filter, agent)?,
            top,
        ))
    }

    /// The aggregates as `opensoc report --json` prints them.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "verdicts": self.total,
            "copies": self.copies,
            "by_severity": Severity::ALL.iter().map(|s| (s.as_str().to_string(), json!(self.by_severity.get(s).copied().unwrap_or(0)))).collect::<serde_json::Map<_, _>>(),
            "by_category": self.by_category.iter().map(|(c, n)| json!({"category": c, "verdicts": n})).collect::<Vec<_>>(),
            "top_sources": self.top_sources.iter().map(|(e, n, s)| json!({"source": e, "findings": n, "worst": s.as_str()})).collect::<Vec<_>>(),
            "timeline": self.timeline.iter().map(|(d, w, f)| json!({"day": d, "verdicts": w, "findings": f})).collect::<Vec<_>>(),
        })
    }
}
