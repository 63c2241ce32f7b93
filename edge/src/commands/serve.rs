//! `opensoc serve`: loads the model, runs it on its own thread for the web server's jobs
//! ([`opensoc_edge::serve`]), and serves until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc::Receiver;

use anyhow::Context;
use clap::Args;
use opensoc::analyze::analyzer::{Analyzer, AnalyzerOptions, Mode};
use opensoc::model::llama::Llama;
use opensoc_edge::serve::jobs::{self, Job};
use opensoc_edge::serve::{ServeConfig, StoreDb};
use serde_json::json;

use crate::commands::agent::ModelJudge;
use crate::commands::analyze::{analysis_json, fold_entry, ModeArgs};
use crate::commands::loaded_model::LoadedModel;
use crate::Global;

/// Arguments of `opensoc serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "The page: a single log entry analysed as `opensoc analyze` does, a \
                  file uploaded and windowed as `opensoc scan` windows it (with live progress, \
                  cancel and CSV), the history of this browser's analyses, and the verdict \
                  store (filters, charts, a finding's lines, new findings live while `watch` \
                  writes the same database). The JSON API under it is in the README.\n\n\
                  Examples:\n  opensoc serve                       # http://127.0.0.1:8787/\n  \
                  OPENSOC_TOKEN=$(openssl rand -hex 16) opensoc serve --listen 0.0.0.0:8787\n  \
                  opensoc serve --db postgres://soc@db.lan/fleet   # every agent's verdicts"
)]
pub struct ServeArgs {
    /// Address and port to listen on. Any address other than loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// The verdict database the store view reads (read-only; `watch` may write it meanwhile),
    /// or the fleet's PostgreSQL database (postgres://user@host/db: every agent's forwarded
    /// verdicts, with an agent column and filter).
    #[arg(long, env = "OPENSOC_DB", value_name = "FILE|URL")]
    db: Option<PathBuf>,
    /// A secret of at least 16 characters the page and the API ask for (the page once, then a
    /// cookie; scripts send `Authorization: Bearer TOKEN`). Required off loopback.
    #[arg(
        long,
        env = "OPENSOC_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// The largest file the batch tab takes, in MiB (bigger logs: `opensoc scan`).
    #[arg(long, default_value_t = 20, value_name = "MIB")]
    max_upload_mib: usize,
    /// Requests one client address may make in a minute (429 past it).
    #[arg(long, default_value_t = 600, value_name = "N")]
    rate_limit: u32,
    #[command(flatten)]
    mode: ModeArgs,
}

/// Serves until SIGINT or SIGTERM.
pub fn run(args: ServeArgs, global: &Global) -> anyhow::Result<ExitCode> {
    // The binary lets SIGPIPE end it, so that `opensoc verdicts | head` stops quietly. A
    // server writes to sockets that clients close at any time (a page closed while its live
    // view is open): there the signal would kill the process, so it is ignored and the write
    // fails with EPIPE, which ends only that connection.
    // SAFETY: called before this command starts any thread; it only sets a disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let opts = args.mode.options()?;
    let db = StoreDb::from_arg(crate::commands::database::db_path(args.db.as_deref()));
    let shown_db = db.shown();
    let mut config = ServeConfig {
        listen: args.listen,
        db,
        token: args.token.filter(|t| !t.is_empty()),
        max_upload: args.max_upload_mib.saturating_mul(1024 * 1024),
        rate_limit: args.rate_limit,
        status: json!({}),
    };
    // Before the model loads: a refused address costs no second of loading.
    config.check()?;
    let lm = LoadedModel::load(global)?;
    config.status = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "model": lm.path.display().to_string(),
        "adapter": lm.adapter,
        "db": shown_db,
        "auth": config.token.is_some(),
        "max_upload_bytes": config.max_upload,
        "default_mode": opts.mode.as_str(),
    });
    let model_name = lm.path.display().to_string();
    let (worker, jobs) = jobs::queue();
    std::thread::Builder::new()
        .name("opensoc-model".into())
        .spawn(move || judge_jobs(&lm, &opts, jobs))
        .context("starting the model thread")?;
    opensoc_edge::serve::run(config, worker, |addr| {
        // The first line says where the page is; tests and scripts read the port from it.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "opensoc serve: http://{addr}/ (model {model_name}; verdicts from {shown_db}); \
             Ctrl-C stops"
        );
        let _ = out.flush();
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The model thread: one analyzer per mode, made on first use and kept (its shared
/// instruction header stays prefilled); each upload gets a fresh one, owned by its pipeline.
/// Ends when the server is gone.
fn judge_jobs(lm: &LoadedModel, opts: &AnalyzerOptions, jobs: Receiver<Job>) {
    let mut analyzers: Vec<(Mode, Analyzer<'_, Llama>)> = Vec::new();
    let with_mode = |mode: Mode| AnalyzerOptions {
        mode,
        ..opts.clone()
    };
    for job in jobs {
        match job {
            Job::Analyze { text, mode, reply } => {
                if reply.is_closed() {
                    continue; // The client went away while the job waited.
                }
                let at = match analyzers.iter().position(|(m, _)| *m == mode) {
                    Some(i) => Ok(i),
                    None => Analyzer::new(&lm.model, &lm.tokenizer, with_mode(mode))
                        .map(|a| {
                            analyzers.push((mode, a));
                            analyzers.len() - 1
                        })
                        .map_err(|e| e.to_string()),
                };
                let result = at.and_then(|i| {
                    let a = analyzers[i]
                        .1
                        .analyze(&fold_entry(text))
                        .map_err(|e| e.to_string())?;
                    Ok(analysis_json(&a, "cpu", &lm.adapter))
                });
                // A client that left no longer waits for the answer.
                let _ = reply.send(result);
            }
            Job::Batch { job, bytes, mode } => {
                match Analyzer::new(&lm.model, &lm.tokenizer, with_mode(mode)) {
                    Ok(analyzer) => job.run(bytes, ModelJudge { analyzer }),
                    Err(e) => job.fail(&e.to_string()),
                }
            }
        }
    }
}
