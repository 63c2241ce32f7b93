//! Forwarding from the command line: the `--forward` flags that `scan` and `watch` share, and
//! `opensoc forward`, which delivers what the store holds and a destination lacks (after an
//! outage longer than a scan's wait, or to fill a new destination with the history).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use opensoc_edge::forward::destination::Destination;
use opensoc_edge::forward::forwarder::{Event, Forwarder, Status};
use opensoc_edge::forward::syslog::TlsFiles;

use crate::commands::verdict_format::terminal_text;

/// The help heading of the forwarding flags.
pub const HEADING: &str = "Forwarding";

/// Where verdicts are forwarded (`scan`, `watch`, `forward`).
// Each flag names its heading: a `next_help_heading` would carry over to the flags of the
// command that flattens these.
#[derive(Debug, Args, Default)]
pub struct ForwardArgs {
    /// Deliver every stored verdict to URL too, in order, from a cursor kept in the database
    /// (repeatable): syslog://HOST[:514] or syslog+tls://HOST[:6514] (RFC 5424, octet-counted;
    /// rsyslog, syslog-ng, Graylog, Wazuh), postgres://USER@HOST/DB (the fleet table that
    /// `opensoc verdicts --db postgres://…` reads), file:PATH or - (JSON lines in Elastic
    /// Common Schema names, for Filebeat, Vector, Fluent Bit). A destination that is down is
    /// caught up later; nothing waits for it.
    #[arg(long = "forward", value_name = "URL", help_heading = HEADING)]
    pub forward: Vec<String>,
    /// CA certificates (PEM) that sign the syslog+tls server's certificate [default: the
    /// system's]; a URL's own `?ca=FILE` wins.
    #[arg(long, value_name = "FILE", help_heading = HEADING)]
    pub forward_ca: Option<PathBuf>,
    /// Client certificate (PEM) for syslog+tls servers that ask for one (`?cert=FILE`).
    #[arg(long, value_name = "FILE", requires = "forward_key", help_heading = HEADING)]
    pub forward_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM; `?key=FILE`).
    #[arg(long, value_name = "FILE", requires = "forward_cert", help_heading = HEADING)]
    pub forward_key: Option<PathBuf>,
}

impl ForwardArgs {
    /// The destinations, parsed and checked: an error names the URL and what is wrong.
    pub fn destinations(&self) -> anyhow::Result<Vec<Destination>> {
        let tls = TlsFiles {
            ca: self.forward_ca.clone(),
            cert: self.forward_cert.clone(),
            key: self.forward_key.clone(),
        };
        let mut out: Vec<Destination> = Vec::new();
        for url in &self.forward {
            let d = Destination::parse(url, &tls)?;
            // One cursor per destination: the same one twice would deliver everything twice.
            if !out.iter().any(|o| o.name == d.name) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Starts delivering from the database `db` to the destinations, if any: failures and
    /// recoveries are said on stderr as they happen.
    pub fn start(&self, db: PathBuf) -> anyhow::Result<Option<Forwarder>> {
        let destinations = self.destinations()?;
        if destinations.is_empty() {
            return Ok(None);
        }
        let forwarder = Forwarder::start(db, &destinations, Box::new(say_event))
            .context("starting the forwarder")?;
        Ok(Some(forwarder))
    }
}

/// A forwarder's event on stderr (destination names and server messages escaped: a server's
/// error text is not ours).
fn say_event(event: Event) {
    match event {
        Event::Failing {
            destination,
            error,
            retry_in,
        } => eprintln!(
            "warning: forwarding to {}: {}; verdicts wait in the store, next try in {} s",
            terminal_text(&destination),
            terminal_text(cause(&destination, &error)),
            retry_in.as_secs().max(1)
        ),
        Event::Recovered { destination } => eprintln!(
            "note: forwarding to {} works again; catching up",
            terminal_text(&destination)
        ),
    }
}

/// An error's text without the destination's name in front, for a message that names the
/// destination already.
fn cause<'e>(destination: &str, error: &'e str) -> &'e str {
    error
        .strip_prefix(destination)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(error)
}

/// Says on stderr where each destination stands at the end of a run; true when every one has
/// every verdict.
pub fn say_statuses(statuses: &[Status], quiet: bool) -> bool {
    let mut complete = true;
    for s in statuses {
        let name = terminal_text(&s.destination);
        if s.pending == 0 {
            if !quiet {
                eprintln!(
                    "forwarded {} verdict{} to {name}; it has every stored verdict",
                    s.delivered,
                    if s.delivered == 1 { "" } else { "s" }
                );
            }
            continue;
        }
        complete = false;
        let why = s.error.as_deref().map_or_else(
            || "time ran out".to_string(),
            |e| terminal_text(cause(&s.destination, e)),
        );
        eprintln!(
            "warning: {} verdict{} not yet delivered to {name} ({why}); they wait in the store: \
             the next scan or `opensoc forward` delivers them",
            s.pending,
            if s.pending == 1 { "" } else { "s" }
        );
    }
    complete
}

/// The statuses as JSON, for `scan --json` and `watch --json`.
pub fn statuses_json(statuses: &[Status]) -> serde_json::Value {
    statuses
        .iter()
        .map(|s| {
            serde_json::json!({
                "destination": s.destination,
                "delivered": s.delivered,
                "pending": s.pending,
                "error": s.error,
            })
        })
        .collect()
}

/// Arguments of `opensoc forward`.
#[derive(Debug, Args)]
#[command(
    after_help = "Delivers the stored verdicts each destination has not received yet \
                        and exits: 0 when every destination has every verdict, 2 when one is \
                        still behind (why is on stderr; run it again later). scan and watch \
                        forward as they go; this catches a destination up after a long outage \
                        or fills a new one with the history. Like scan and watch, it takes the database's lock: \
                        while a watch runs on it, give that watch the --forward flags instead. A [forward] table in the \
                        configuration file sets these flags for scan, watch and forward at once.\n\n\
                        Examples:\n  \
                        opensoc forward --forward postgres://opensoc@db.lan/fleet\n  \
                        opensoc forward --forward 'syslog+tls://logs.lan:6514?ca=/etc/opensoc/ca.pem'"
)]
pub struct ForwardCommandArgs {
    /// The verdict database.
    #[arg(long, env = "OPENSOC_DB", value_name = "FILE")]
    db: Option<PathBuf>,
    #[command(flatten)]
    forward: ForwardArgs,
    /// Seconds to keep trying a destination that fails before giving up for this run.
    #[arg(long, default_value_t = 30, value_name = "S")]
    wait: u64,
    /// Say nothing unless a destination is left behind.
    #[arg(short, long)]
    quiet: bool,
}

/// `opensoc forward`.
pub fn run(args: ForwardCommandArgs) -> anyhow::Result<ExitCode> {
    if args.forward.forward.is_empty() {
        anyhow::bail!(
            "no destination: give --forward URL (or a [forward] table with forward = [...] in \
             the configuration file)"
        );
    }
    let db = crate::commands::database::db_path(args.db.as_deref());
    if !db.is_file() {
        anyhow::bail!(
            "database {} does not exist (run `opensoc scan` or `opensoc watch` first)",
            db.display()
        );
    }
    // One deliverer per store: a `watch` that forwards at the same time would send the same
    // verdicts again (PostgreSQL keeps one copy; syslog and files would get repeats).
    let _lock = opensoc_edge::store::lock::RunLock::acquire(&db)?;
    let Some(forwarder) = args.forward.start(db)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let statuses = forwarder.finish(Duration::from_secs(args.wait))?;
    Ok(if say_statuses(&statuses, args.quiet) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
