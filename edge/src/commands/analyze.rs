//! `opensoc analyze`: one log entry (one or more lines) from the argument or stdin, one verdict.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use opensoc::analyze::analyzer::{Analysis, Analyzer, AnalyzerOptions, Mode};
use opensoc::analyze::floors::FloorConfig;
use opensoc::task::verdict::Field;
use serde_json::json;

use crate::commands::loaded_model::{LoadedModel, BACKENDS};
use crate::Global;
use opensoc::model::language_model::LanguageModel;

/// Arguments of `opensoc analyze`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  opensoc analyze '10.0.0.5 - - [16/Mar/2025:01:05:33] \
                        \"GET /p?id=1 OR 1=1-- HTTP/1.1\" 403 0 \"-\" \"sqlmap\"'\n  \
                        tail -n 50 /var/log/auth.log | opensoc analyze --json -"
)]
pub struct AnalyzeArgs {
    /// The log entry; `-` or nothing reads it from stdin (bytes, any encoding).
    #[arg(value_name = "TEXT|-")]
    text: Option<String>,
    /// Print one JSON object instead of the verdict block.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    mode: ModeArgs,
    /// Backend to run the model on: cpu, candle (the CUDA code path on the CPU), cuda or wgpu (a GPU through Vulkan or Metal; --wgpu-adapter picks one).
    #[arg(long, default_value = "cpu", value_parser = BACKENDS)]
    backend: String,
}

/// `--mode` and its `--full` shorthand, shared by analyze and eval.
#[derive(Debug, Args)]
pub struct ModeArgs {
    /// fast: the model chooses the structured fields under the schema, the text fields come
    /// from facts in the log; full: the model writes every field; free: the paper's
    /// unconstrained protocol (baselines only; the verdict may be incomplete).
    #[arg(long, default_value = "fast", value_parser = ["fast", "full", "free"])]
    mode: String,
    /// Same as --mode full.
    #[arg(long, conflicts_with = "mode")]
    full: bool,
    /// Log tokens the prompt holds at most; longer entries keep their first and last lines.
    #[arg(long, default_value_t = opensoc::task::prompt::DEFAULT_INPUT_TOKENS, value_name = "N")]
    input_tokens: usize,
    /// Judge each window as a whole only. By default, a window of several records that reads
    /// benign has its requests with parameter values (up to three) judged alone too, since one
    /// injected request among ordinary ones can read as ordinary; this flag saves those calls.
    #[arg(long)]
    whole_window: bool,
    /// Leave the model's verdict as it is. By default the facts set a floor under it: enough
    /// failed logins from one client are at least brute force, a known-exploit request at
    /// least a probe, whatever the log's text tells the model (README, "Floors").
    #[arg(long)]
    no_floors: bool,
    /// Failed authentications (any service) from one client that make a brute-force floor.
    #[arg(long, default_value_t = FloorConfig::default().failures, value_name = "N")]
    floor_failures: usize,
    /// Denied or rejected requests from one client that make a mail-abuse or probing floor.
    #[arg(long, default_value_t = FloorConfig::default().denials, value_name = "N")]
    floor_denials: usize,
    /// Distinct destination ports from one client that make a port-scan floor.
    #[arg(long, default_value_t = FloorConfig::default().ports, value_name = "N")]
    floor_ports: usize,
    /// Requests of one window that make an HTTP-flood floor (at 4 per second or more).
    #[arg(long, default_value_t = FloorConfig::default().flood_requests, value_name = "N")]
    floor_flood: usize,
}

impl ModeArgs {
    /// The analyzer options these flags ask for.
    pub fn options(&self) -> anyhow::Result<AnalyzerOptions> {
        let mode: Mode = if self.full {
            Mode::Full
        } else {
            self.mode.parse().map_err(anyhow::Error::msg)?
        };
        if self.input_tokens < 16 {
            bail!("--input-tokens must be at least 16");
        }
        Ok(AnalyzerOptions {
            mode,
            input_tokens: self.input_tokens,
            request_check: !self.whole_window,
            floors: if self.no_floors {
                FloorConfig::OFF
            } else {
                FloorConfig {
                    failures: self.floor_failures,
                    denials: self.floor_denials,
                    ports: self.floor_ports,
                    flood_requests: self.floor_flood,
                    ..FloorConfig::default()
                }
            },
            ..AnalyzerOptions::default()
        })
    }
}

/// Analyses the entry and prints the verdict.
pub fn run(args: AnalyzeArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let opts = args.mode.options()?;
    let input = read_entry(args.text.as_deref())?;
    // Free mode is the paper's protocol and reads the entry as it is.
    let input = if opts.mode == Mode::Free {
        input
    } else {
        fold_entry(input)
    };
    let lm = LoadedModel::load(global)?;
    let a = match args.backend.as_str() {
        "cpu" => analyze_on(&lm.model, &lm, opts, &input)?,
        "wgpu" => analyze_on(&lm.on_wgpu(global)?, &lm, opts, &input)?,
        b => analyze_on(&lm.on_device(b)?, &lm, opts, &input)?,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", analysis_json(&a, &args.backend, &lm.adapter))?;
    } else {
        let color = crate::commands::verdict_format::stdout_wants_color();
        write!(out, "{}", human(&a, color))?;
        if !a.valid {
            let missing: Vec<&str> = missing_fields(&a);
            eprintln!(
                "warning: the model's text lacks a readable {} ({} mode does not constrain it)",
                missing.join(", "),
                a.mode.as_str()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One analysis of `input` on `model`.
fn analyze_on<M: LanguageModel>(
    model: &M,
    lm: &LoadedModel,
    opts: AnalyzerOptions,
    input: &[u8],
) -> anyhow::Result<Analysis> {
    let mut analyzer = Analyzer::new(model, &lm.tokenizer, opts)?;
    analyzer.analyze(input).context("analysing the entry")
}

/// The entry with lines of one template written once behind a count, as `scan` writes a
/// window ([`opensoc_logs::window::folded`]): a pasted burst of 30 failures then fits the
/// model's budget whole, the way the model was trained to read it. An entry that is not
/// UTF-8 is left as it is, for the analyzer's own cleaning.
pub(crate) fn fold_entry(raw: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&raw) {
        // One line too: a line that starts like a count marker gets `[×1]`, so that its
        // text cannot pass for a count of records.
        Ok(text) if !text.trim().is_empty() => {
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            opensoc_logs::window::folded(&lines).into_bytes()
        }
        _ => raw,
    }
}

/// The entry's bytes from the argument, or from stdin for `-` or no argument.
fn read_entry(text: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match text {
        Some(t) if t != "-" => Ok(t.as_bytes().to_vec()),
        _ => {
            let stdin = std::io::stdin();
            if text.is_none() && stdin.is_terminal() {
                bail!("no log entry: give it as an argument, or pipe it in with `-`");
            }
            let mut buf = Vec::new();
            stdin
                .lock()
                .read_to_end(&mut buf)
                .context("reading the log entry from stdin")?;
            Ok(buf)
        }
    }
}

/// The structured fields the parser could not read.
fn missing_fields(a: &Analysis) -> Vec<&'static str> {
    let p = &a.parsed;
    let have = [
        p.threat_type.is_some(),
        p.mitre_technique.is_some(),
        p.mitre_tactic.is_some(),
        p.severity.is_some(),
        p.risk_score.is_some(),
    ];
    Field::ALL
        .iter()
        .zip(have)
        .filter(|(_, h)| !h)
        .map(|(f, _)| f.key())
        .collect()
}

/// The verdict block, with the severity coloured on a terminal.
fn human(a: &Analysis, color: bool) -> String {
    let block = match &a.verdict {
        Some(v) => v.to_block(),
        None => {
            let mut t = a.output.trim_end().to_string();
            t.push('\n');
            t
        }
    };
    if !color {
        return block;
    }
    let Some(sev) = a.parsed.severity else {
        return block;
    };
    let code = crate::commands::verdict_format::severity_sgr(sev);
    block
        .lines()
        .map(|l| match l.strip_prefix("SEVERITY: ") {
            Some(rest) => format!("SEVERITY: \x1b[{code}m{rest}\x1b[0m\n"),
            None => format!("{l}\n"),
        })
        .collect()
}

/// The analysis as one JSON object: the verdict's fields and how it was made.
pub(crate) fn analysis_json(a: &Analysis, backend: &str, adapter: &str) -> serde_json::Value {
    let mut v = match &a.verdict {
        Some(verdict) => {
            let mut v = serde_json::to_value(verdict).unwrap_or_else(|_| json!({}));
            v["category"] = json!(verdict.category());
            v
        }
        None => json!({
            "threat_type": a.parsed.threat_type,
            "category": a.parsed.category(),
            "mitre_technique": a.parsed.mitre_technique,
            "mitre_tactic": a.parsed.mitre_tactic,
            "severity": a.parsed.severity,
            "risk_score": a.parsed.risk_score,
        }),
    };
    v["valid"] = json!(a.valid);
    v["mode"] = json!(a.mode.as_str());
    v["backend"] = json!(backend);
    v["adapter"] = json!(adapter);
    v["latency_ms"] = json!(a.elapsed.as_millis() as u64);
    v["prompt_tokens"] = json!(a.prompt_tokens);
    v["input_lines"] = json!(a.input.total_lines);
    v["omitted_lines"] = json!(a.input.omitted_lines);
    if a.mode == Mode::Free {
        v["output"] = json!(a.output);
    }
    v
}
