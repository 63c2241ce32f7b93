//! `opensoc verdicts` (stored verdicts, filtered), `opensoc verdicts inspect ID` (one verdict in
//! full) and `opensoc report` (counts, top sources, a timeline): all read the database without
//! changing it.
//!
//! The table is for a person at a terminal: newest first, MEDIUM and above unless asked (most
//! windows are LOW "No Threat Detected"), the severity coloured, and a note on stderr whenever
//! rows were left out, by the limit or by the default severity. JSON and CSV are for scripts and
//! spreadsheets: every severity unless `--min-severity`, nothing on stderr, and the limit is the
//! one `--help` states.
//!
//! With `--db postgres://…` all three read the fleet database instead ([`FleetStore`]): every
//! agent's forwarded verdicts, with an agent column (host name and short id), an `--agent`
//! filter, and `agent` and `host` fields in JSON and CSV; `verdicts agents` lists the agents.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use opensoc::task::taxonomy::taxonomy;
use opensoc::task::verdict::{technique_text, Severity};
use opensoc_edge::forward::Agent;
use opensoc_edge::ingest::unix_now;
use opensoc_edge::store::export::{
    csv_row, fleet_csv_row, fleet_inspect_json, fleet_verdict_json, format_time, inspect_json,
    parse_severity, verdict_json, FilterText, CSV_HEADER, FLEET_CSV_HEADER,
};
use opensoc_edge::store::fleet::{is_fleet_url, FleetStore, FleetVerdict};
use opensoc_edge::store::report::Report;
use opensoc_edge::store::sqlite::{Store, StoredVerdict, VerdictFilter, MAX_INPUT};

use crate::commands::verdict_format::{
    severity_sgr, short_recommendation, stdout_wants_color, styled_table, table, terminal_text,
};

/// The severity the table starts at when `--min-severity` is not given, as `scan` prints findings.
const TABLE_MIN_SEVERITY: Severity = Severity::Medium;

/// The most characters of the recommendation the table shows (its first step).
const TABLE_RECOMMENDATION: usize = 48;

/// Filters shared by `verdicts` and `report`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// The verdict database: a file, or the fleet's PostgreSQL database
    /// (postgres://user@host/db: every agent's forwarded verdicts).
    // Global, so that `opensoc verdicts --db F inspect 7`, edited from the listing's command
    // line, works as well as `opensoc verdicts inspect 7 --db F`. A path, not a string, so
    // that a file name that is not UTF-8 still works; a URL is told by its scheme.
    #[arg(long, env = "OPENSOC_DB", value_name = "FILE|URL", global = true)]
    db: Option<PathBuf>,
    /// Only this agent's verdicts, with --db postgres://…: its host name, or the start of its
    /// id (the agent column shows both).
    // Global for `inspect`, where it picks one of the agents that have a verdict of that id.
    #[arg(long, value_name = "TEXT", global = true)]
    agent: Option<String>,
    /// Only windows whose log time reaches this time or later (the time the tables show):
    /// 2026-11-27, 2026-11-27T09:00:00Z, or an age such as 24h or 7d.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only windows whose log time starts at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this severity and above (default: every severity).
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
    fn open(&self) -> anyhow::Result<Db> {
        if let Some(url) = self
            .db
            .as_deref()
            .and_then(Path::to_str)
            .filter(|d| is_fleet_url(d))
        {
            return Ok(Db::Fleet {
                store: Box::new(FleetStore::connect(url)?),
                agent: self.agent.clone(),
            });
        }
        if self.agent.is_some() {
            bail!("--agent picks agents of the fleet database: give --db postgres://…");
        }
        let path = crate::commands::database::db_path(self.db.as_deref());
        Ok(Db::Local(Store::open_read_only(&path)?))
    }

    fn filter(&self, limit: Option<usize>) -> anyhow::Result<VerdictFilter> {
        let text = FilterText {
            since: self.since.clone(),
            until: self.until.clone(),
            min_severity: self.min_severity,
            category: self.category.clone(),
            source: self.source.clone(),
        };
        text.filter(limit, unix_now()).map_err(anyhow::Error::msg)
    }
}

/// Where the verdicts are read: this machine's store, or the fleet's database.
enum Db {
    Local(Store),
    Fleet {
        // Boxed: a client is large beside a store handle.
        store: Box<FleetStore>,
        /// `--agent`.
        agent: Option<String>,
    },
}

/// A verdict listed: a local one, or a fleet one with its agent.
enum Listed {
    Local(StoredVerdict),
    Fleet(FleetVerdict),
}

impl Listed {
    fn stored(&self) -> &StoredVerdict {
        match self {
            Listed::Local(v) => v,
            Listed::Fleet(f) => &f.stored,
        }
    }
}

impl Db {
    fn verdicts(&mut self, filter: &VerdictFilter) -> anyhow::Result<Vec<Listed>> {
        Ok(match self {
            Db::Local(store) => store
                .verdicts(filter)?
                .into_iter()
                .map(Listed::Local)
                .collect(),
            Db::Fleet { store, agent } => store
                .verdicts(filter, agent.as_deref())?
                .into_iter()
                .map(Listed::Fleet)
                .collect(),
        })
    }

    fn count_verdicts(&mut self, filter: &VerdictFilter) -> anyhow::Result<u64> {
        Ok(match self {
            Db::Local(store) => store.count_verdicts(filter)?,
            Db::Fleet { store, agent } => store.count_verdicts(filter, agent.as_deref())?,
        })
    }

    fn report(&mut self, filter: &VerdictFilter, top: usize) -> anyhow::Result<Report> {
        Ok(match self {
            Db::Local(store) => Report::from_store(store, filter, top)?,
            Db::Fleet { store, agent } => Report::from_fleet(store, filter, agent.as_deref(), top)?,
        })
    }
}

/// How the agent column names an agent: its host name and the start of its id, enough to
/// tell two agents on one host apart and to give to --agent.
fn agent_label(agent: &Agent) -> String {
    let short: String = agent.id.chars().take(8).collect();
    format!("{} ({short})", agent.host)
}

/// Arguments of `opensoc verdicts`.
#[derive(Debug, Args)]
#[command(
    mut_arg("min_severity", |a| a.help(
        "Only this severity and above [default: MEDIUM for the table, every severity for json \
         and csv]"
    )),
    after_help = "The table lists the newest first, MEDIUM and above (most windows are LOW \
                  \"No Threat Detected\"; --all or --min-severity LOW shows them), and says on \
                  stderr how many rows --limit or the default severity left out. json and csv \
                  list every severity and print nothing on stderr; their --limit is 100 too \
                  (--limit 0: all).\n\n\
                  Examples:\n  opensoc verdicts --since 24h --min-severity HIGH\n  \
                  opensoc verdicts inspect 42\n  \
                  opensoc verdicts --json --limit 0 > all.jsonl\n  \
                  opensoc verdicts --format csv --category \"SQL Injection\" > sqli.csv\n  \
                  opensoc verdicts --db postgres://soc@db.lan/fleet --agent web1\n  \
                  opensoc verdicts agents --db postgres://soc@db.lan/fleet"
)]
pub struct VerdictsArgs {
    #[command(subcommand)]
    action: Option<VerdictsAction>,
    #[command(flatten)]
    filter: FilterArgs,
    /// table (newest first, severity coloured on a terminal), json (one object a line, newest
    /// first) or csv (a header row, then newest first) [default: table].
    #[arg(long, value_parser = ["table", "json", "csv"])]
    format: Option<String>,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
    /// Every severity, LOW included (the same as --min-severity LOW).
    #[arg(long, conflicts_with = "min_severity")]
    all: bool,
    /// At most this many verdicts, the newest, in every format (0: all) [default: 100].
    // An Option, not a default value, so that `inspect` can tell a --limit given to it.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

/// The listing's --limit when none is given.
const DEFAULT_LIMIT: usize = 100;

/// What `opensoc verdicts` does besides listing.
#[derive(Debug, Subcommand)]
enum VerdictsAction {
    /// Show one verdict in full: every field, where it was read from, and its log lines.
    #[command(
        after_help = "Example:\n  opensoc verdicts inspect 42 --db /var/lib/opensoc/verdicts.db"
    )]
    Inspect(InspectArgs),
    /// List the agents that forward to the fleet database (--db postgres://…): host name, id,
    /// version, verdicts and latest delivery.
    #[command(after_help = "Example:\n  opensoc verdicts agents --db postgres://soc@db.lan/fleet")]
    Agents,
}

/// Arguments of `opensoc verdicts inspect`.
#[derive(Debug, Args)]
struct InspectArgs {
    /// The verdict's id: the first column of `opensoc verdicts`, "id" in its JSON and CSV.
    #[arg(value_name = "ID")]
    id: i64,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Prints the stored verdicts that pass the filters, or one verdict in full.
pub fn run_verdicts(args: VerdictsArgs) -> anyhow::Result<ExitCode> {
    if let Some(action) = &args.action {
        // Not clap's args_conflicts_with_subcommands: it refuses the global --db too, and
        // `opensoc verdicts --db F inspect 7` is what editing the listing's line gives.
        let f = &args.filter;
        let listing_only = [
            ("--since", f.since.is_some()),
            ("--until", f.until.is_some()),
            ("--min-severity", f.min_severity.is_some()),
            ("--category", f.category.is_some()),
            ("--source", f.source.is_some()),
            ("--format", args.format.is_some()),
            ("--all", args.all),
            ("--limit", args.limit.is_some()),
        ];
        if let Some((flag, _)) = listing_only.iter().find(|(_, given)| *given) {
            match action {
                VerdictsAction::Inspect(_) => {
                    bail!("{flag} is for the listing; `inspect` shows the one verdict its id names")
                }
                VerdictsAction::Agents => {
                    bail!("{flag} is for the listing; `agents` lists every agent")
                }
            }
        }
        let VerdictsAction::Inspect(inspect) = action else {
            if args.json {
                bail!("--json is for the listing and `inspect`; `agents` prints a table");
            }
            return run_agents(f);
        };
        let inspect = InspectArgs {
            json: inspect.json || args.json,
            id: inspect.id,
        };
        return run_inspect(f, &inspect);
    }
    let format = match (args.json, args.format.as_deref()) {
        (true, None | Some("json")) => "json",
        (true, Some(other)) => bail!("--json is --format json; it cannot go with --format {other}"),
        (false, f) => f.unwrap_or("table"),
    };
    let mut db = args.filter.open()?;
    let fleet = matches!(db, Db::Fleet { .. });
    let limit = Some(args.limit.unwrap_or(DEFAULT_LIMIT)).filter(|&l| l > 0);
    let mut filter = args.filter.filter(limit)?;
    // Only the table applies the default threshold: exports stay complete unless asked.
    let defaulted = format == "table" && args.filter.min_severity.is_none() && !args.all;
    if defaulted {
        filter.min_severity = Some(TABLE_MIN_SEVERITY.as_str().to_string());
    }
    let verdicts = db.verdicts(&filter)?;
    let mut out = std::io::stdout().lock();
    match format {
        "json" => {
            for v in &verdicts {
                match v {
                    Listed::Local(v) => writeln!(out, "{}", verdict_json(v))?,
                    Listed::Fleet(f) => writeln!(out, "{}", fleet_verdict_json(f))?,
                }
            }
        }
        "csv" => {
            writeln!(out, "{}", if fleet { FLEET_CSV_HEADER } else { CSV_HEADER })?;
            for v in &verdicts {
                match v {
                    Listed::Local(v) => writeln!(out, "{}", csv_row(v))?,
                    Listed::Fleet(f) => writeln!(out, "{}", fleet_csv_row(f))?,
                }
            }
        }
        _ => {
            let rows: Vec<Vec<String>> = verdicts.iter().map(table_row).collect();
            let mut header = vec![
                "id",
                "time",
                "severity",
                "threat type",
                "entity",
                "source",
                "lines",
                "recommendation",
            ];
            if fleet {
                header.insert(1, "agent");
            }
            let severity_col = if fleet { 3 } else { 2 };
            let color = stdout_wants_color();
            write!(
                out,
                "{}",
                styled_table(&header, &rows, |col, cell| {
                    (color && col == severity_col)
                        .then(|| parse_severity(cell).ok().map(severity_sgr))
                        .flatten()
                })
            )?;
            if verdicts.is_empty() {
                writeln!(out, "(no verdicts match)")?;
            }
            out.flush()?;
            // After the table, so that a terminal shows the note below the rows it is about.
            for note in left_out_notes(&mut db, &filter, verdicts.len(), defaulted)? {
                eprintln!("{note}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the table did not show: rows cut by the limit, rows under the default severity.
fn left_out_notes(
    store: &mut Db,
    filter: &VerdictFilter,
    shown: usize,
    defaulted: bool,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    if filter.limit.is_some_and(|l| shown >= l) {
        let total = store.count_verdicts(filter)?;
        if total > shown as u64 {
            notes.push(format!("showing {shown} of {total}; --limit 0 shows all"));
        }
    }
    if defaulted {
        let every = store.count_verdicts(&VerdictFilter {
            min_severity: None,
            ..filter.clone()
        })?;
        let hidden = every.saturating_sub(store.count_verdicts(filter)?);
        if hidden > 0 {
            notes.push(format!(
                "{hidden} LOW verdict{} not shown; --all shows every severity",
                if hidden == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(notes)
}

fn table_row(listed: &Listed) -> Vec<String> {
    let stored = listed.stored();
    let v = &stored.verdict;
    let mut row = vec![
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
        short_recommendation(&v.recommendation, TABLE_RECOMMENDATION),
    ];
    if let Listed::Fleet(f) = listed {
        row.insert(1, agent_label(&f.agent));
    }
    row
}

/// `opensoc verdicts inspect ID`: one verdict, every field, as text or one JSON object.
fn run_inspect(filter: &FilterArgs, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let store = match filter.open()? {
        Db::Local(store) => store,
        Db::Fleet { mut store, agent } => return run_fleet_inspect(&mut store, agent, args),
    };
    let Some(stored) = store.verdict(args.id)? else {
        bail!(
            "no verdict {} in {} (`opensoc verdicts --all` lists the ids)",
            args.id,
            terminal_text(&store.path().display().to_string())
        );
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", inspect_json(&store, &stored)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let spans = store
        .verdict_spans(stored.id)
        .context("reading where the verdict was read from")?;
    let technique_name = taxonomy()
        .technique(&stored.verdict.technique)
        .map(|t| t.name.clone());
    let color = stdout_wants_color();
    write!(
        out,
        "{}",
        inspect_text(&stored, None, technique_name.as_deref(), &spans, color)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `inspect` on the fleet: verdict ids are each agent's own, so an id that several agents
/// have needs --agent to say which.
fn run_fleet_inspect(
    store: &mut FleetStore,
    agent: Option<String>,
    args: &InspectArgs,
) -> anyhow::Result<ExitCode> {
    let mut found = store.verdict(args.id, agent.as_deref())?;
    let fleet = match found.len() {
        0 => bail!(
            "no verdict {} in {}{} (`opensoc verdicts --all --db URL` lists the ids)",
            args.id,
            terminal_text(store.url()),
            agent.map_or(String::new(), |a| format!(
                " from agent {}",
                terminal_text(&a)
            ))
        ),
        1 => found.remove(0),
        n => bail!(
            "{n} agents have a verdict {}: {}; say which with --agent HOST or --agent ID",
            args.id,
            found
                .iter()
                .map(|f| terminal_text(&agent_label(&f.agent)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", fleet_inspect_json(&fleet))?;
        return Ok(ExitCode::SUCCESS);
    }
    let technique_name = taxonomy()
        .technique(&fleet.stored.verdict.technique)
        .map(|t| t.name.clone());
    write!(
        out,
        "{}",
        inspect_text(
            &fleet.stored,
            Some((&fleet.agent, fleet.received_at)),
            technique_name.as_deref(),
            &[],
            stdout_wants_color()
        )
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `opensoc verdicts agents`: the fleet's agents as a table.
fn run_agents(filter: &FilterArgs) -> anyhow::Result<ExitCode> {
    let Db::Fleet { mut store, agent } = filter.open()? else {
        bail!("`agents` lists the agents of a fleet database: give --db postgres://…");
    };
    let agents = store.agents()?;
    let rows: Vec<Vec<String>> = agents
        .iter()
        .filter(|a| {
            agent.as_deref().is_none_or(|want| {
                a.agent.host.eq_ignore_ascii_case(want)
                    || a.agent.id.starts_with(&want.to_ascii_lowercase())
            })
        })
        .map(|a| {
            vec![
                a.agent.host.clone(),
                a.agent.id.clone(),
                a.agent.version.clone(),
                a.verdicts.to_string(),
                format_time(a.first_seen),
                format_time(a.last_seen),
            ]
        })
        .collect();
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}",
        table(
            &[
                "host",
                "agent id",
                "version",
                "verdicts",
                "first delivery",
                "latest delivery"
            ],
            &rows
        )
    )?;
    if rows.is_empty() {
        writeln!(out, "(no agents)")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The text of `inspect`: one `key: value` line a field, then the window's lines indented.
/// Every value goes through [`terminal_text`] (log text, entities and paths are the
/// attacker's), and each input line is escaped on its own, so no line can pose as a field.
fn inspect_text(
    stored: &StoredVerdict,
    agent: Option<(&Agent, i64)>,
    technique_name: Option<&str>,
    spans: &[(PathBuf, opensoc_edge::store::sqlite::Span)],
    color: bool,
) -> String {
    let v = &stored.verdict;
    let t = terminal_text;
    let time = |x: Option<i64>| x.map_or_else(|| "-".to_string(), format_time);
    let log_time = match (v.first_time, v.last_time) {
        (Some(a), Some(b)) if a != b => format!("{} to {}", format_time(a), format_time(b)),
        (a, b) => time(a.or(b)),
    };
    let severity = match parse_severity(&v.severity) {
        Ok(s) if color => format!("\x1b[{}m{}\x1b[0m", severity_sgr(s), t(&v.severity)),
        _ => t(&v.severity),
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("id", stored.id.to_string()),
        ("log time", log_time),
        ("stored", format_time(v.created_at)),
        ("source", t(&v.source)),
        ("entity", t(v.entity.as_deref().unwrap_or("-"))),
        ("lines", v.records.to_string()),
        ("threat type", t(&v.threat_type)),
        ("category", t(&v.category)),
        (
            "technique",
            t(&technique_text(&v.technique, technique_name.unwrap_or("-"))),
        ),
        ("tactic", t(&v.tactic)),
        ("severity", severity),
        ("risk score", v.risk_score.to_string()),
    ];
    if let Some((agent, received_at)) = agent {
        // After the id, which is the agent's own: the two together name the verdict.
        let at = [
            ("agent", format!("{} (id {})", t(&agent.host), t(&agent.id))),
            ("agent version", t(&agent.version)),
            ("received", format_time(received_at)),
        ];
        fields.splice(1..1, at);
    }
    if let Some(s) = &v.secondary {
        fields.push(("also", t(s)));
    }
    if let Some(c) = v.cached_from {
        fields.push((
            "cached from",
            format!("verdict {c} (the same template; its verdict was reused)"),
        ));
    }
    if stored.copies > 0 {
        fields.push((
            "copies",
            format!(
                "{} later benign windows of the same template, counted here rather than stored",
                stored.copies
            ),
        ));
    }
    fields.push(("evidence", t(&v.evidence)));
    fields.push(("impact", t(&v.impact)));
    fields.push(("recommendation", t(&v.recommendation)));
    for (path, s) in spans {
        fields.push((
            "read from",
            format!(
                "{} bytes {}..{}",
                t(&path.display().to_string()),
                s.start,
                s.end
            ),
        ));
    }
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut s = String::new();
    for (k, val) in &fields {
        s += &format!("{:<width$} {val}\n", format!("{k}:"));
    }
    let capped = v.input.len() + 4 > MAX_INPUT;
    // The stored text is what the analyzer read: repeated lines folded (`[×4] …`), so it
    // can hold fewer lines than the window had.
    s += &format!(
        "input, as the analyzer read it ({} log line{}{}):\n",
        v.records,
        if v.records == 1 { "" } else { "s" },
        if capped {
            ", stored text cut at 64 KiB"
        } else {
            ""
        }
    );
    for line in v.input.lines() {
        s += &format!("  | {}\n", t(line));
    }
    s
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
    let mut db = args.filter.open()?;
    let r = db.report(&args.filter.filter(None)?, args.top)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", r.json())?;
    } else {
        write!(out, "{}", report_text(&r))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as text tables for a terminal.
fn report_text(r: &Report) -> String {
    let mut s = format!("{} verdicts", r.total);
    if r.copies > 0 {
        s += &format!(
            " ({} of them benign windows counted on their template's verdict)",
            r.copies
        );
    }
    s += "\n\nby severity\n";
    let rows: Vec<Vec<String>> = Severity::ALL
        .iter()
        .rev()
        .map(|sev| {
            vec![
                sev.to_string(),
                r.by_severity.get(sev).copied().unwrap_or(0).to_string(),
            ]
        })
        .collect();
    s += &table(&["severity", "verdicts"], &rows);
    s += "\nby category\n";
    let rows: Vec<Vec<String>> = r
        .by_category
        .iter()
        .map(|(c, n)| vec![c.clone(), n.to_string()])
        .collect();
    s += &table(&["category", "verdicts"], &rows);
    s += "\ntop sources of findings (MEDIUM and above)\n";
    let rows: Vec<Vec<String>> = r
        .top_sources
        .iter()
        .map(|(e, n, sev)| vec![e.clone(), n.to_string(), sev.to_string()])
        .collect();
    s += &table(&["source", "findings", "worst"], &rows);
    s += "\ntimeline (UTC days)\n";
    let peak = r.timeline.iter().map(|t| t.2).max().unwrap_or(0).max(1);
    let rows: Vec<Vec<String>> = r
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
