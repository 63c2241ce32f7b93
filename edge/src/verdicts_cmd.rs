//! `opensoc verdicts` (stored verdicts, filtered) and `opensoc report` (counts, top sources,
//! a timeline): both read the database without changing it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use opensoc::fetch::home_dir;
use opensoc::verdict::Severity;
use opensoc_edge::ingest::unix_now;
use opensoc_edge::store::{Store, StoredVerdict, VerdictFilter};
use serde_json::json;

use crate::verdict_format::{
    csv_row, format_time, parse_severity, parse_time, table, verdict_json, CSV_HEADER,
};

/// Filters shared by `verdicts` and `report`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// The verdict database.
    #[arg(long, env = "OPENSOC_DB", value_name = "FILE")]
    db: Option<PathBuf>,
    /// Only windows whose log time reaches this time or later (the time the tables show):
    /// 2026-11-27, 2026-11-27T09:00:00Z, or an age such as 24h or 7d.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only windows whose log time starts at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this severity and above.
    #[arg(long, value_name = "LEVEL", value_parser = parse_severity)]
    min_severity: Option<Severity>,
    /// Only this category (the threat type before ` — `, e.g. "SQL Injection").
    #[arg(long)]
    category: Option<String>,
    /// Only logs whose path contains this text.
    #[arg(long)]
    source: Option<String>,
}

impl FilterArgs {
    fn open(&self) -> anyhow::Result<Store> {
        let path = self
            .db
            .clone()
            .unwrap_or_else(|| home_dir().join("verdicts.db"));
        Ok(Store::open_read_only(&path)?)
    }

    fn filter(&self, limit: Option<usize>) -> anyhow::Result<VerdictFilter> {
        let now = unix_now();
        let time = |s: &Option<String>| -> anyhow::Result<Option<i64>> {
            s.as_deref()
                .map(|s| parse_time(s, now).map_err(anyhow::Error::msg))
                .transpose()
        };
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

/// Arguments of `opensoc verdicts`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  opensoc verdicts --since 24h --min-severity HIGH\n  \
                        opensoc verdicts --format csv --category \"SQL Injection\" > sqli.csv"
)]
pub struct VerdictsArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// table (newest last), json (one object a line) or csv (with a header row).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv"])]
    format: String,
    /// At most this many verdicts, the newest (0: all).
    #[arg(long, default_value_t = 100, value_name = "N")]
    limit: usize,
}

/// Prints the stored verdicts that pass the filters.
pub fn run_verdicts(args: VerdictsArgs) -> anyhow::Result<ExitCode> {
    let store = args.filter.open()?;
    let limit = (args.limit > 0).then_some(args.limit);
    let verdicts = store.verdicts(&args.filter.filter(limit)?)?;
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "json" => {
            for v in &verdicts {
                writeln!(out, "{}", verdict_json(v))?;
            }
        }
        "csv" => {
            writeln!(out, "{CSV_HEADER}")?;
            for v in &verdicts {
                writeln!(out, "{}", csv_row(v))?;
            }
        }
        _ => {
            let rows: Vec<Vec<String>> = verdicts.iter().map(table_row).collect();
            write!(
                out,
                "{}",
                table(
                    &[
                        "id",
                        "time",
                        "severity",
                        "threat type",
                        "entity",
                        "source",
                        "lines"
                    ],
                    &rows
                )
            )?;
            if verdicts.is_empty() {
                writeln!(out, "(no verdicts match)")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table_row(stored: &StoredVerdict) -> Vec<String> {
    let v = &stored.verdict;
    vec![
        stored.id.to_string(),
        v.first_time.map_or_else(|| "-".into(), format_time),
        v.severity.clone(),
        match &v.secondary {
            Some(s) => format!("{} (also: {s})", v.threat_type),
            None => v.threat_type.clone(),
        },
        v.entity.clone().unwrap_or_else(|| "-".into()),
        v.source.clone(),
        v.records.to_string(),
    ]
}

/// Arguments of `opensoc report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Entities listed in the top-sources table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
}

/// Counts by severity and category, the entities with most findings, and findings per day.
pub fn run_report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = args.filter.open()?;
    let verdicts = store.verdicts(&args.filter.filter(None)?)?;
    let r = Report::of(&verdicts, args.top);
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", r.json())?;
    } else {
        write!(out, "{}", r.text())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The aggregates `report` shows.
struct Report {
    total: usize,
    by_severity: BTreeMap<Severity, usize>,
    by_category: Vec<(String, usize)>,
    /// Entity, findings (MEDIUM and above), worst severity.
    top_sources: Vec<(String, usize, Severity)>,
    /// Day (UTC), windows, findings.
    timeline: Vec<(String, usize, usize)>,
}

impl Report {
    fn of(verdicts: &[StoredVerdict], top: usize) -> Report {
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
        let mut by_category: Vec<_> = by_category.into_iter().collect();
        by_category.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut top_sources: Vec<_> = sources.into_iter().map(|(k, (n, s))| (k, n, s)).collect();
        top_sources.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
        top_sources.truncate(top);
        Report {
            total: verdicts.len(),
            by_severity,
            by_category,
            top_sources,
            timeline: days.into_iter().map(|(d, (w, f))| (d, w, f)).collect(),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "verdicts": self.total,
            "by_severity": Severity::ALL.iter().map(|s| (s.as_str().to_string(), json!(self.by_severity.get(s).copied().unwrap_or(0)))).collect::<serde_json::Map<_, _>>(),
            "by_category": self.by_category.iter().map(|(c, n)| json!({"category": c, "verdicts": n})).collect::<Vec<_>>(),
            "top_sources": self.top_sources.iter().map(|(e, n, s)| json!({"source": e, "findings": n, "worst": s.as_str()})).collect::<Vec<_>>(),
            "timeline": self.timeline.iter().map(|(d, w, f)| json!({"day": d, "verdicts": w, "findings": f})).collect::<Vec<_>>(),
        })
    }

    fn text(&self) -> String {
        let mut s = format!("{} verdicts\n\nby severity\n", self.total);
        let rows: Vec<Vec<String>> = Severity::ALL
            .iter()
            .rev()
            .map(|sev| {
                vec![
                    sev.to_string(),
                    self.by_severity.get(sev).copied().unwrap_or(0).to_string(),
                ]
            })
            .collect();
        s += &table(&["severity", "verdicts"], &rows);
        s += "\nby category\n";
        let rows: Vec<Vec<String>> = self
            .by_category
            .iter()
            .map(|(c, n)| vec![c.clone(), n.to_string()])
            .collect();
        s += &table(&["category", "verdicts"], &rows);
        s += "\ntop sources of findings (MEDIUM and above)\n";
        let rows: Vec<Vec<String>> = self
            .top_sources
            .iter()
            .map(|(e, n, sev)| vec![e.clone(), n.to_string(), sev.to_string()])
            .collect();
        s += &table(&["source", "findings", "worst"], &rows);
        s += "\ntimeline (UTC days)\n";
        let peak = self.timeline.iter().map(|t| t.2).max().unwrap_or(0).max(1);
        let rows: Vec<Vec<String>> = self
            .timeline
            .iter()
            .map(|(d, w, f)| {
                vec![
                    d.clone(),
                    w.to_string(),
                    f.to_string(),
                    "#".repeat((f * 40).div_ceil(peak)),
                ]
            })
            .collect();
        s += &table(&["day", "verdicts", "findings", ""], &rows);
        s
    }
}
