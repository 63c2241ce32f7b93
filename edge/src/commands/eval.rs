//! `opensoc eval`: the analyzer over a data set in the seed's format, scored with the paper's
//! metrics and ours; predictions as JSONL, a Markdown report and a confusion-matrix picture.
//! With `--suite DIR`, a scan-level eval instead: each case's log scanned into a fresh store
//! as `opensoc scan` would, the stored verdicts scored against the expected attackers
//! (`opensoc_edge::suite`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use opensoc::analyze::analyzer::{Analyzer, AnalyzerOptions};
use opensoc::eval::metrics::{score, score_stages, Gold, Metrics};
use opensoc::eval::parity::{parity, Parity};
use opensoc::eval::report;
use opensoc::eval::run::{max_logit_diff, probe_logits, EvalRun, RunOptions};
use opensoc::eval::suite::{self, SplitFilter, Suite, SuiteReport, VerdictRow};
use opensoc::model::language_model::LanguageModel;
use opensoc::task::dataset::{load_examples, Example};
use opensoc::task::verdict::Severity;
use opensoc_edge::ingest::IngestConfig;
use opensoc_edge::suite::run_case;
use serde_json::json;

use crate::commands::agent::ModelJudge;
use crate::commands::analyze::ModeArgs;
use crate::commands::loaded_model::{LoadedModel, BACKENDS};
use crate::Global;
use opensoc_edge::store::export::parse_severity;

/// Arguments of `opensoc eval`.
#[derive(Debug, Args)]
#[command(
    after_help = "With --json the last line printed is one JSON object of metrics. \
                        With --predictions, the report (NAME.report.md) and the confusion \
                        matrix (NAME.confusion.svg) are written next to it.\n\
                        Example: opensoc eval --data ../shared/data/opensoc-ai/soc_eval.json \
                        --predictions p.jsonl --json\n\n\
                        Scan-level eval: opensoc eval --suite DIR [--split heldout] scans each \
                        case's log (DIR/suite.json, written by `opensoc-train suites`) into a \
                        fresh store as `opensoc scan` does and reports, per case and per source \
                        and split, the attackers flagged at or above --min-severity, those named \
                        with an acceptable category, the benign windows flagged, and the \
                        confusion of classes."
)]
pub struct EvalArgs {
    /// Data set in the seed's format: a JSON list of {instruction, input, output}.
    #[arg(long, value_name = "FILE.json", required_unless_present = "suite")]
    data: Option<PathBuf>,
    /// A scan-level suite directory (suite.json and its logs) to evaluate instead of --data.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["data", "predictions", "secondary", "token_ids", "limit"]
    )]
    suite: Option<PathBuf>,
    /// Suite cases to run: heldout, train or all.
    #[arg(long, default_value = "all", value_parser = ["heldout", "train", "all"], requires = "suite")]
    split: String,
    /// Suite scoring: a verdict at or above this severity flags its window.
    #[arg(long, default_value = "MEDIUM", value_name = "LEVEL", value_parser = parse_severity, requires = "suite")]
    min_severity: Severity,
    /// Run only the first N suite cases (after --split).
    #[arg(long, value_name = "N", requires = "suite")]
    limit_cases: Option<usize>,
    /// Run only the suite cases with this name (`fail2ban/sshd`); give it more than once.
    #[arg(long = "case", value_name = "NAME", requires = "suite")]
    cases: Vec<String>,
    /// Exit 1 when fewer attackers than this share (0 to 1) are flagged over all cases run.
    #[arg(long, value_name = "SHARE", requires = "suite")]
    min_recall: Option<f64>,
    /// Exit 1 when more benign windows than this share (0 to 1) are flagged.
    #[arg(long, value_name = "SHARE", requires = "suite")]
    max_false_positives: Option<f64>,
    /// Where to write one prediction per entry (JSONL); other backends get NAME.BACKEND.jsonl.
    #[arg(long, value_name = "OUT.jsonl")]
    predictions: Option<PathBuf>,
    /// Print one JSON object of metrics (the last line) instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    mode: ModeArgs,
    /// Backend to evaluate (cpu, candle: the CUDA code path on the CPU, cuda, wgpu); give it more
    /// than once to compare backends (parity).
    #[arg(long = "backend", default_value = "cpu", value_parser = BACKENDS)]
    backends: Vec<String>,
    /// Evaluate only the first N entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Keep each entry's prompt and output token ids in the predictions (for comparisons with
    /// a peer such as llama.cpp).
    #[arg(long)]
    token_ids: bool,
    /// Also look for a second threat in each window: its two halves are analysed on their
    /// own (two more model calls for threats of four records or more); the predictions carry
    /// it as `secondary`, and a sidecar DATA.secondary.json (the earlier stage's threat type
    /// per entry, "" for none) is scored.
    #[arg(long)]
    secondary: bool,
}

/// Runs the eval and prints its metrics.
pub fn run(args: EvalArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.suite.clone() {
        return run_suite(&dir, &args, global);
    }
    let Some(data) = args.data.clone() else {
        bail!("give --data FILE.json or --suite DIR");
    };
    if args.split != "all" {
        bail!("--split selects cases of a --suite");
    }
    let mut examples = load_examples(&data)?;
    if let Some(n) = args.limit {
        examples.truncate(n);
    }
    if examples.is_empty() {
        bail!("{} holds no entries to evaluate", data.display());
    }
    let opts = args.mode.options()?;
    let mode = opts.mode;
    let golds: Vec<Gold> = examples
        .iter()
        .map(|e| Gold::from_output(&e.output))
        .collect();
    let stage_gold = if args.secondary {
        stage_sidecar(&data, examples.len())?
    } else {
        None
    };
    let lm = LoadedModel::load(global)?;

    let mut runs: Vec<Run> = Vec::new();
    for backend in &args.backends {
        let probe = args.backends.len() > 1;
        // Each backend is its own model type; the call is the same.
        macro_rules! eval_with {
            ($model:expr) => {
                eval_on($model, &lm, &opts, &examples, backend, &args, probe)?
            };
        }
        let (run, probes) = match backend.as_str() {
            "cpu" => eval_with!(&lm.model),
            "wgpu" => eval_with!(&lm.on_wgpu(global)?),
            b => eval_with!(&lm.on_device(b)?),
        };
        let metrics = score(&golds, &run.predictions, run.total_s);
        runs.push((run, metrics, probes));
    }

    let mut parities: Vec<Parity> = Vec::new();
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            let (a, _, pa) = &runs[i];
            let (b, _, pb) = &runs[j];
            let mut p = parity(
                &run_name(&runs, i),
                &a.predictions,
                &run_name(&runs, j),
                &b.predictions,
            );
            p.max_logit_diff = Some(max_logit_diff(pa, pb));
            parities.push(p);
        }
    }

    if let Some(path) = &args.predictions {
        write_outputs(path, &data, mode.as_str(), &runs, &parities)?;
    }

    let stages = stage_gold
        .as_ref()
        .map(|sec| score_stages(&golds, sec, &runs[0].0.predictions));
    let (first, m, _) = &runs[0];
    if args.json {
        let mut v = serde_json::to_value(m)?;
        v["data"] = json!(data.display().to_string());
        v["mode"] = json!(mode.as_str());
        v["backend"] = json!(first.backend);
        v["model"] = json!(lm.path.display().to_string());
        v["adapter"] = json!(lm.adapter);
        if runs.len() > 1 {
            v["backends"] = json!(runs
                .iter()
                .enumerate()
                .map(|(i, (_, m, _))| (
                    run_name(&runs, i),
                    serde_json::to_value(m).unwrap_or_default()
                ))
                .collect::<serde_json::Map<_, _>>());
            v["parity"] = serde_json::to_value(&parities)?;
        }
        if let Some(st) = &stages {
            v["stages"] = serde_json::to_value(st)?;
        }
        // The per-class table and confusion matrix are in the report; the line stays readable.
        if let Some(o) = v.as_object_mut() {
            o.remove("confusion");
        }
        println!("{v}");
    } else {
        println!("model {} (adapter: {})", lm.path.display(), lm.adapter);
        for (i, (_, m, _)) in runs.iter().enumerate() {
            print_summary(&run_name(&runs, i), mode.as_str(), m);
        }
        for p in &parities {
            println!(
                "parity {} vs {}: {}/{} entries identical on every field, largest probe logit difference {}",
                p.a,
                p.b,
                p.identical_all_fields,
                p.entries,
                p.max_logit_diff.map_or("-".into(), |d| format!("{d:.4}"))
            );
        }
        if let Some(st) = &stages {
            println!(
                "two-stage windows: {} — both stages named {:.1}%, the earlier stage named {:.1}%; \
                 one-stage windows given a secondary: {}/{}",
                st.two_stage,
                st.both_stages_found * 100.0,
                st.earlier_stage_found * 100.0,
                st.spurious_secondary,
                st.one_stage
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `opensoc eval --suite DIR`: each selected case's log scanned into a fresh store through
/// the agent's pipeline with the loaded model, then scored.
fn run_suite(dir: &Path, args: &EvalArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if args.backends.iter().any(|b| b != "cpu") {
        bail!("--suite runs the agent's pipeline, which analyses on the cpu backend only");
    }
    let suite = Suite::load(dir)?;
    let split = SplitFilter::parse(&args.split)
        .ok_or_else(|| anyhow::anyhow!("--split must be heldout, train or all"))?;
    let mut cases = suite.select(split, None);
    if !args.cases.is_empty() {
        for name in &args.cases {
            if !cases.iter().any(|c| &c.name == name) {
                bail!("--case {name}: no such case in the {} split", args.split);
            }
        }
        cases.retain(|c| args.cases.contains(&c.name));
    }
    cases.truncate(args.limit_cases.unwrap_or(usize::MAX));
    if cases.is_empty() {
        bail!(
            "{} holds no {} cases",
            dir.join(suite::SUITE_FILE).display(),
            args.split
        );
    }
    let opts = args.mode.options()?;
    let mode = opts.mode;
    let lm = LoadedModel::load(global)?;
    let bar = progress_bar(cases.len() as u64, "suite");
    let start = std::time::Instant::now();
    let mut results = Vec::with_capacity(cases.len());
    let mut windows = 0usize;
    for case in &cases {
        bar.set_message(case.name.clone());
        // A judge per case: the pipeline owns its judge, and each case starts afresh.
        let judge = ModelJudge {
            analyzer: Analyzer::new(&lm.model, &lm.tokenizer, opts.clone())?,
        };
        let stored = run_case(dir, case, judge, IngestConfig::default())
            .with_context(|| format!("scanning case {}", case.name))?;
        windows += stored.len();
        let rows: Vec<VerdictRow> = stored.iter().map(VerdictRow::from).collect();
        results.push(suite::score_case(case, &rows, args.min_severity));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let total_s = start.elapsed().as_secs_f64();
    let report = SuiteReport::new(args.min_severity, results);
    if args.json {
        let mut v = report.to_json();
        v["suite"] = json!(dir.display().to_string());
        v["split"] = json!(args.split);
        v["mode"] = json!(mode.as_str());
        v["model"] = json!(lm.path.display().to_string());
        v["adapter"] = json!(lm.adapter);
        v["windows"] = json!(windows);
        v["total_s"] = json!(total_s);
        println!("{v}");
    } else {
        println!(
            "model {} (adapter: {}), {} mode; suite {} ({} split, {} cases, {} windows, {:.1} s)",
            lm.path.display(),
            lm.adapter,
            mode.as_str(),
            dir.display(),
            args.split,
            cases.len(),
            windows,
            total_s
        );
        print!("{}", report.render());
    }
    let all = report.totals.last().cloned().unwrap_or_default();
    let mut short = Vec::new();
    if let (Some(min), Some(recall)) = (args.min_recall, all.recall()) {
        if recall < min {
            short.push(format!(
                "recall {:.1}% is below {:.1}%",
                100.0 * recall,
                100.0 * min
            ));
        }
    }
    if let (Some(max), Some(fp)) = (args.max_false_positives, all.false_positive_rate()) {
        if fp > max {
            short.push(format!(
                "{:.1}% of benign windows flagged, above {:.1}%",
                100.0 * fp,
                100.0 * max
            ));
        }
    }
    if !short.is_empty() {
        eprintln!("error: {}", short.join("; "));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `.secondary.json` sidecar of a data file (`opensoc-train data` writes one for its
/// two-stage windows): the earlier stage's threat type per entry, "" for one stage.
fn stage_sidecar(data: &Path, n: usize) -> anyhow::Result<Option<Vec<String>>> {
    let path = data.with_extension("secondary.json");
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let list: Vec<String> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON list of strings", path.display()))?;
    if list.len() < n {
        bail!(
            "{} lists {} entries, the data file {n}",
            path.display(),
            list.len()
        );
    }
    Ok(Some(list))
}

/// One backend's run over `examples`, and its probe logits when backends are compared.
fn eval_on<M: LanguageModel>(
    model: &M,
    lm: &LoadedModel,
    opts: &AnalyzerOptions,
    examples: &[Example],
    backend: &str,
    args: &EvalArgs,
    probe: bool,
) -> anyhow::Result<(EvalRun, Vec<Vec<f32>>)> {
    let mut analyzer = Analyzer::new(model, &lm.tokenizer, opts.clone())?;
    let bar = progress_bar(examples.len() as u64, backend);
    let run_opts = RunOptions {
        token_ids: args.token_ids,
        secondary: args.secondary,
    };
    let run = opensoc::eval::run::run(&mut analyzer, backend, examples, run_opts, &mut |p| {
        bar.inc(1);
        if !p.valid {
            bar.set_message(format!("entry {} invalid", p.index));
        }
    })
    .with_context(|| format!("evaluating on backend {backend}"))?;
    bar.finish_and_clear();
    let probes = if probe {
        probe_logits(model, &analyzer, examples)?
    } else {
        Vec::new()
    };
    Ok((run, probes))
}

/// A run's name in reports: the backend, numbered when it was given more than once.
fn run_name(runs: &[Run], i: usize) -> String {
    let b = &runs[i].0.backend;
    if runs.iter().filter(|r| &r.0.backend == b).count() > 1 {
        format!("{b}#{}", i + 1)
    } else {
        b.clone()
    }
}

/// A backend's run, its metrics and its probe logits.
type Run = (EvalRun, Metrics, Vec<Vec<f32>>);

fn progress_bar(n: u64, backend: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template(
            "eval {prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(backend.to_string());
    bar
}

/// Predictions (one file per run), the Markdown report and the confusion-matrix picture.
fn write_outputs(
    path: &Path,
    data: &Path,
    mode: &str,
    runs: &[Run],
    parities: &[Parity],
) -> anyhow::Result<()> {
    let mut md = String::new();
    for (i, (r, m, _)) in runs.iter().enumerate() {
        let file = if i == 0 {
            path.to_path_buf()
        } else {
            let stem = path.with_extension("");
            PathBuf::from(format!(
                "{}.{}.jsonl",
                stem.display(),
                run_name(runs, i).replace('#', "-")
            ))
        };
        report::write_predictions(&file, &r.predictions)
            .with_context(|| format!("writing predictions to {}", file.display()))?;
        let title = format!(
            "opensoc eval: {} ({} mode, backend {})",
            data.display(),
            mode,
            run_name(runs, i)
        );
        let last = i + 1 == runs.len();
        md.push_str(&report::markdown(
            &title,
            m,
            if last { parities } else { &[] },
        ));
        md.push('\n');
    }
    let (md_path, svg_path) = report::companion_paths(path);
    std::fs::write(&md_path, md).with_context(|| format!("writing {}", md_path.display()))?;
    std::fs::write(&svg_path, report::confusion_svg(&runs[0].1.confusion))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    eprintln!(
        "wrote {}, {} and {}",
        path.display(),
        md_path.display(),
        svg_path.display()
    );
    Ok(())
}

fn print_summary(name: &str, mode: &str, m: &Metrics) {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    println!("backend {name}, {mode} mode, {} entries", m.n);
    println!(
        "  threat accuracy (strict)  {}",
        pct(m.strict_threat_accuracy)
    );
    println!("  category accuracy         {}", pct(m.category_accuracy));
    println!(
        "  macro P / R / F1          {:.3} / {:.3} / {:.3}",
        m.macro_precision, m.macro_recall, m.macro_f1
    );
    println!("  severity accuracy         {}", pct(m.severity_accuracy));
    println!("  technique accuracy        {}", pct(m.technique_accuracy));
    println!("  tactic accuracy           {}", pct(m.tactic_accuracy));
    if let Some(r) = m.false_positive_rate {
        println!("  false positives (benign)  {}", pct(r));
    }
    if let Some(r) = m.detection_recall {
        println!("  detection recall          {}", pct(r));
    }
    println!("  valid                     {}", pct(m.valid_rate));
    println!(
        "  latency p50 / p90         {} / {} ms",
        m.latency_p50_ms, m.latency_p90_ms
    );
    println!(
        "  throughput                {:.1} entries/min ({:.1} s in all)",
        m.entries_per_minute, m.total_s
    );
}
