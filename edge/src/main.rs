//! The `opensoc` binary: parses the command line and hands each command to its module.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

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
    after_help = "Developer commands (`opensoc help eval`): eval (accuracy on a labelled set or a \
                  scan-level suite), bench (tokens per second), parity (two builds' predictions \
                  compared).\n\
                  Configuration: /etc/opensoc/config.toml, then ~/.config/opensoc/config.toml \
                  (or $OPENSOC_CONFIG alone) set any long flag: `db = \"/var/lib/opensoc/verdicts.db\"` \
                  for every command, `[scan]` then `min-severity = \"HIGH\"` for one; the command \
                  line and the environment win (`opensoc config show`).\n\
                  Environment: OPENSOC_MODEL (same as --model), OPENSOC_DB (same as --db), \
                  OPENSOC_HOME (one directory for the model and the verdict history; by default the \
                  model is cached in ~/.cache/opensoc and the history kept in \
                  ~/.local/share/opensoc, after XDG_CACHE_HOME and XDG_DATA_HOME), \
                  OPENSOC_PYPI_URL (PyPI JSON API base, for mirrors).\n\
                  Exit status: 0 success, 1 findings (scan), 2 error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The model flags of the commands that load a model.
#[derive(Debug, Args)]
#[command(next_help_heading = "Model")]
pub struct ModelArgs {
    /// GGUF model file to use instead of the default SmolLM2-135M-Instruct (fetched into
    /// ~/.cache/opensoc/models).
    #[arg(long, env = "OPENSOC_MODEL", value_name = "PATH")]
    model: Option<PathBuf>,

    /// LoRA adapter directory in PEFT's format (adapter_config.json and
    /// adapter_model.safetensors) to apply instead of the shipped one.
    #[arg(long, value_name = "DIR", conflicts_with = "no_adapter")]
    adapter: Option<PathBuf>,

    /// Run the base model without any adapter (the untuned baseline).
    #[arg(long)]
    no_adapter: bool,

    /// GPU adapter for `--backend wgpu`: part of its name, case-insensitive (default: the
    /// first discrete GPU, then integrated, then any, Mesa's software llvmpipe last).
    #[arg(long, env = "OPENSOC_WGPU_ADAPTER", value_name = "NAME")]
    wgpu_adapter: Option<String>,
}

impl ModelArgs {
    /// The options as the commands take them. `from_flag`: whether `--model` was typed (a
    /// value from `$OPENSOC_MODEL` is left to the library to read, so that its errors name
    /// the variable rather than the flag).
    fn global(self, from_flag: bool) -> Global {
        let adapter = match (self.adapter, self.no_adapter) {
            (Some(dir), _) => AdapterChoice::Dir(dir),
            (None, true) => AdapterChoice::None,
            (None, false) => AdapterChoice::Shipped,
        };
        Global {
            model: self.model.filter(|_| from_flag),
            adapter,
            wgpu_adapter: self.wgpu_adapter,
        }
    }
}

/// The model options of a command that loads a model.
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

/// The commands; each family lives in its own module. The admin's come first; the
/// developers' are left out of the top-level help (its footer names them).
#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse what log files gained since the last scan and store the verdicts (for cron).
    Scan {
        #[command(flatten)]
        args: commands::scan::ScanArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Follow log files and directories, storing verdicts as windows close, until SIGINT/SIGTERM.
    #[command(
        mut_arg("paths", |a| a.help(
            "Log files, directories or glob patterns; rotated siblings (`.1`, `.2.gz`, dated \
             names) of a file are read too, oldest first"
        )),
        mut_arg("min_severity", |a| a.help(
            "Alert threshold: verdicts at or above it are findings (printed as they are stored)"
        ))
    )]
    Watch {
        #[command(flatten)]
        args: commands::watch::WatchArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Serve the web page and its JSON API: analyse an entry or a file, browse the verdict
    /// store (http://127.0.0.1:8787/ by default).
    Serve {
        #[command(flatten)]
        args: commands::serve::ServeArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// List stored verdicts (table, JSON lines or CSV), filtered by time, severity, category,
    /// source; `verdicts inspect ID` shows one in full.
    Verdicts(commands::verdicts::VerdictsArgs),
    /// Summarise stored verdicts: counts by severity and category, top sources, a timeline.
    Report(commands::verdicts::ReportArgs),
    /// Deliver stored verdicts that a destination (syslog, PostgreSQL, JSON lines) lacks, then
    /// exit; `scan` and `watch` forward as they go with --forward.
    Forward(commands::forward::ForwardCommandArgs),
    /// Analyse one log entry (from the argument or stdin) and print its verdict.
    Analyze {
        #[command(flatten)]
        args: commands::analyze::AnalyzeArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Fetch the default model, or print a GGUF model's metadata.
    #[command(subcommand)]
    Model(commands::model::ModelCommand),
    /// Evaluate the analyzer on a data set in the seed's format (metrics, predictions, report).
    #[command(hide = true)]
    Eval {
        #[command(flatten)]
        args: commands::eval::EvalArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Measure prefill and decode tokens per second on the model.
    #[command(hide = true)]
    Bench {
        #[command(flatten)]
        args: commands::bench::BenchArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Show the configuration files and the settings they hold (`opensoc config show`).
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Print a shell completion script: `opensoc completions bash >
    /// /etc/bash_completion.d/opensoc` (also zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `opensoc manpage > /usr/local/share/man/man1/opensoc.1`.
    Manpage,
    /// Compare two predictions files of `opensoc eval` (two machines or builds) field by field.
    #[command(hide = true)]
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
    // The configuration files fill in flags the command line leaves out.
    let settings = match commands::config::load(&Cli::command()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", cause_chain(&e));
            return ExitCode::from(2);
        }
    };
    let argv = commands::config::apply(&Cli::command(), std::env::args_os().collect(), &settings);
    let matches = Cli::command().get_matches_from(argv);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let typed_model = matches.subcommand().is_some_and(|(_, sub)| {
        sub.try_get_raw("model").ok().flatten().is_some()
            && sub.value_source("model") == Some(ValueSource::CommandLine)
    });
    let result = match cli.command {
        Command::Scan { args, model } => commands::scan::run(args, &model.global(typed_model)),
        Command::Watch { args, model } => commands::watch::run(args, &model.global(typed_model)),
        Command::Serve { args, model } => commands::serve::run(args, &model.global(typed_model)),
        Command::Verdicts(args) => commands::verdicts::run_verdicts(args),
        Command::Report(args) => commands::verdicts::run_report(args),
        Command::Forward(args) => commands::forward::run(args),
        Command::Analyze { args, model } => {
            commands::analyze::run(args, &model.global(typed_model))
        }
        Command::Model(cmd) => commands::model::run(cmd),
        Command::Eval { args, model } => commands::eval::run(args, &model.global(typed_model)),
        Command::Bench { args, model } => commands::bench::run(args, &model.global(typed_model)),
        Command::Config(commands::config::ConfigCommand::Show) => commands::config::show(&settings),
        Command::Completions { shell } => commands::generate::completions(Cli::command(), shell),
        Command::Manpage => commands::generate::manpage(Cli::command()),
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
