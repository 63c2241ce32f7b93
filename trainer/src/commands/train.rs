//! `opensoc-train train`: the LoRA recipe over a seed-format data set, with a progress bar,
//! checkpoints, `--resume` and Ctrl-C; writes the PEFT adapter, the loss log and its picture.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use opensoc::backend::candle::{cuda_device, DeviceLlama};
use opensoc::candle_core::Device;
use opensoc::gguf::file::ModelFile;
use opensoc::model::llama::Llama;
use opensoc::model::lora::{LoraAdapter, LoraConfig, Target};
use opensoc::model::tokenizer::Tokenizer;
use opensoc::train::backprop::{Backprop, Gradients};
use opensoc::train::candle_backprop::DeviceBackprop;
use opensoc_trainer::data::{self, DataConfig, LossOn};
use opensoc_trainer::loss_plot::loss_svg;
use opensoc_trainer::optim::OptimKind;
use opensoc_trainer::train::{LossRecord, TrainConfig, Trainer, LOSS_LOG};
use serde_json::json;

/// Arguments of `opensoc-train train`; the defaults are the paper's Table IV.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes into --out: adapter_model.safetensors and adapter_config.json \
                        (PEFT's format), loss.jsonl, loss.svg, train_report.json and \
                        checkpoint.bin (for --resume). Ctrl-C saves a checkpoint and stops."
)]
pub struct TrainArgs {
    /// Training data in the seed's format (a JSON list of {instruction, input, output}).
    #[arg(long, value_name = "FILE.json")]
    data: PathBuf,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Passes over the data.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Micro-batches per optimiser step (effective batch = batch × accum).
    #[arg(long, default_value_t = 4)]
    accum: usize,
    /// Peak learning rate (cosine schedule after a linear warm-up).
    #[arg(long, default_value_t = 2e-4)]
    lr: f32,
    /// Share of the steps spent warming up.
    #[arg(long, default_value_t = 0.05)]
    warmup_ratio: f32,
    /// Longest sequence in tokens; longer examples lose the middle of their log input.
    #[arg(long, default_value_t = 512)]
    max_len: usize,
    /// Which predictions count in the loss.
    #[arg(long, value_enum, default_value_t = LossOn::Response)]
    loss: LossOn,
    /// LoRA rank.
    #[arg(long, default_value_t = 16)]
    rank: usize,
    /// LoRA alpha (the update is scaled by alpha / rank).
    #[arg(long, default_value_t = 32.0)]
    alpha: f32,
    /// Dropout on the adapters' input.
    #[arg(long, default_value_t = 0.05)]
    dropout: f32,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimKind::AdamW8bit)]
    optim: OptimKind,
    /// Gradient-norm clip.
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f32,
    /// Seed of the shuffle, the initialisation and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Checkpoint every N optimiser steps.
    #[arg(long, default_value_t = 10, value_name = "N")]
    checkpoint_every: usize,
    /// Stop after N optimiser steps (smoke runs).
    #[arg(long, value_name = "N")]
    max_steps: Option<usize>,
    /// Use only the first N examples.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Continue from DIR/checkpoint.bin.
    #[arg(long)]
    resume: bool,
    /// Start from this PEFT adapter (e.g. data/adapter, the shipped one) instead of PEFT's
    /// fresh initialisation: its rank, alpha and projections replace --rank and --alpha.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    init_adapter: Option<PathBuf>,
    /// After training, evaluate the adapter (fast mode) on this seed-format file with the eval
    /// harness `opensoc eval` uses; the metrics go into train_report.json.
    #[arg(long, value_name = "FILE.json")]
    eval_data: Option<PathBuf>,
    /// Device to train on: cpu (hand-written backpropagation), cuda (candle's autograd on an
    /// NVIDIA GPU; a build with --features cuda) or candle (the cuda code path on the CPU).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda", "candle"])]
    device: String,
}

/// Runs the recipe and writes its outputs.
pub fn run(args: TrainArgs, model: Option<PathBuf>) -> anyhow::Result<()> {
    if args
        .data
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("soc_eval"))
    {
        bail!(
            "{} is the held-out evaluation set: training on it would make every eval figure \
             meaningless",
            args.data.display()
        );
    }
    if args.batch == 0 || args.accum == 0 || args.epochs == 0 || args.rank == 0 {
        bail!("--batch, --accum, --epochs and --rank must be at least 1");
    }
    if !(0.0..1.0).contains(&args.dropout) {
        bail!("--dropout must be in [0, 1)");
    }
    let started = Instant::now();
    let path = opensoc::model::fetch::resolve_model(model.as_deref(), true)?;
    let file = ModelFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file.gguf)
        .with_context(|| format!("reading the tokenizer of {}", path.display()))?;
    let llama = Llama::load(&file)?;
    let mut examples = opensoc::task::dataset::load_examples(&args.data)?;
    if let Some(n) = args.limit {
        examples.truncate(n);
    }
    if examples.is_empty() {
        bail!("{} holds no examples", args.data.display());
    }
    let built = data::build(
        &tok,
        &examples,
        &DataConfig {
            max_len: args.max_len.min(llama.config().ctx_len),
            loss: args.loss,
        },
    )?;
    let r = &built.report;
    eprintln!(
        "data: {} examples, {} sequences, {} tokens ({} in the loss); log input shortened in {}, \
         skipped {}; plain truncation at {} would cut the response of {} and lose it whole in {}",
        r.examples,
        built.seqs.len(),
        r.tokens,
        r.loss_tokens,
        r.input_cut,
        r.skipped,
        args.max_len,
        r.plain_truncation_cut,
        r.plain_truncation_lost
    );
    let adapter = match &args.init_adapter {
        Some(dir) => {
            let mut a = opensoc::model::peft::load_peft(dir, llama.config())
                .with_context(|| format!("loading the starting adapter in {}", dir.display()))?;
            a.config.dropout = args.dropout;
            eprintln!("starting from the adapter in {}", dir.display());
            a
        }
        None => {
            let lora = LoraConfig {
                r: args.rank,
                alpha: args.alpha,
                dropout: args.dropout,
                targets: Target::ALL.to_vec(),
            };
            LoraAdapter::init(llama.config(), lora, args.seed)
        }
    };
    eprintln!(
        "LoRA r {} alpha {} on {} projections: {} trainable parameters",
        adapter.config.r,
        adapter.config.alpha,
        adapter.config.targets.len(),
        adapter.config.trainable_params(llama.config())
    );
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch: args.batch,
        accum: args.accum,
        lr: args.lr,
        warmup_ratio: args.warmup_ratio,
        max_grad_norm: args.max_grad_norm,
        seed: args.seed,
        optim: args.optim,
        checkpoint_every: args.checkpoint_every,
        max_steps: args.max_steps,
    };
    let cpu_bp;
    let device_bp;
    let bp: &dyn Gradients = match args.device.as_str() {
        "cpu" => {
            cpu_bp = Backprop::new(&llama);
            &cpu_bp
        }
        other => {
            let device = match other {
                "cuda" => cuda_device(0)?,
                _ => Device::Cpu,
            };
            let model = DeviceLlama::load(&file, &device, other)
                .with_context(|| format!("loading {} on {other}", path.display()))?;
            device_bp = DeviceBackprop::new(model, args.seed)?;
            &device_bp
        }
    };
    eprintln!("computing gradients on {}", bp.device_name());
    let mut trainer = Trainer::new(bp, built.seqs, adapter, cfg.clone(), &args.out, args.resume)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C while the checkpoint is written is ignored; the write is atomic.
        ctrlc::set_handler(move || {
            if !stop.swap(true, Ordering::SeqCst) {
                eprintln!("\nstopping after this step and saving a checkpoint...");
            }
        })
        .context("installing the Ctrl-C handler")?;
    }
    let total = trainer.total_steps();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("train [{bar:30}] {pos}/{len} steps {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_position(trainer.steps_done() as u64);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut tokens_seen = 0usize;
    let loop_start = Instant::now();
    let summary = trainer.run(&stop, &mut |rec: &LossRecord| {
        tokens_seen += rec.tokens;
        let tps = tokens_seen as f64 / loop_start.elapsed().as_secs_f64();
        bar.set_position(rec.step as u64);
        bar.set_message(format!(
            "loss {:.4} lr {:.2e} {tps:.0} tok/s",
            rec.loss, rec.lr
        ));
        if bar.is_hidden() && (rec.step.is_multiple_of(5) || rec.step == total) {
            eprintln!(
                "step {}/{} epoch {} loss {:.4} lr {:.2e} grad {:.3} {tps:.0} tok/s",
                rec.step, total, rec.epoch, rec.loss, rec.lr, rec.grad_norm
            );
        }
    })?;
    bar.finish_and_clear();

    let adapter = trainer.adapter().clone();
    let base_name = file
        .gguf
        .get_str("general.name")
        .unwrap_or("llama")
        .to_string();
    // f16 halves the file (about 10 MB for SmolLM2), the size the binary embeds.
    opensoc::train::peft_save::save_peft_as(
        &adapter,
        llama.config(),
        &args.out,
        &base_name,
        opensoc::train::peft_save::PeftDtype::F16,
    )?;
    let log_path = args.out.join(LOSS_LOG);
    let records: Vec<LossRecord> = std::fs::read_to_string(&log_path)
        .with_context(|| format!("reading {}", log_path.display()))?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let svg_path = args.out.join("loss.svg");
    std::fs::write(&svg_path, loss_svg(&records))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    let tok_s = summary.tokens as f64 / summary.wall_s.max(1e-9);
    let eval = match &args.eval_data {
        Some(data) => Some(evaluate(&file, &tok, &adapter, data)?),
        None => None,
    };
    let report = json!({
        "model": path.display().to_string(),
        "data": args.data.display().to_string(),
        "init_adapter": args.init_adapter.as_ref().map(|d| d.display().to_string()),
        "config": cfg,
        "lora": adapter.config,
        "trainable_params": adapter.param_count(),
        "cut_report": built.report,
        "steps": summary.steps,
        "total_steps": summary.total_steps,
        "interrupted": summary.interrupted,
        "final_loss": summary.final_loss,
        "train_wall_s": summary.wall_s,
        "wall_s": started.elapsed().as_secs_f64(),
        "tokens": summary.tokens,
        "tokens_per_s": tok_s,
        "peak_rss_mb": opensoc::eval::bench::peak_rss_mb(),
        "device": args.device,
        "eval": eval,
    });
    let report_path = args.out.join("train_report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", report_path.display()))?;
    println!("{report}");
    if summary.interrupted {
        eprintln!(
            "interrupted at step {}/{}; continue with --resume",
            summary.steps, summary.total_steps
        );
    }
    Ok(())
}

/// The eval harness's metrics of `adapter` on `data` (fast mode), as `opensoc eval` gives them.
fn evaluate(
    file: &ModelFile,
    tok: &Tokenizer,
    adapter: &LoraAdapter,
    data: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let mut model = Llama::load(file)?;
    model.set_adapter(Some(adapter.clone()))?;
    let examples = opensoc::task::dataset::load_examples(data)?;
    let golds: Vec<opensoc::eval::metrics::Gold> = examples
        .iter()
        .map(|e| opensoc::eval::metrics::Gold::from_output(&e.output))
        .collect();
    let mut analyzer = opensoc::analyze::analyzer::Analyzer::new(
        &model,
        tok,
        opensoc::analyze::analyzer::AnalyzerOptions::default(),
    )?;
    eprintln!("evaluating the adapter on {}...", data.display());
    let run = opensoc::eval::run::run(
        &mut analyzer,
        "cpu",
        &examples,
        opensoc::eval::run::RunOptions::default(),
        &mut |_| {},
    )?;
    let m = opensoc::eval::metrics::score(&golds, &run.predictions, run.total_s);
    eprintln!(
        "eval: strict threat {:.1}%, category {:.1}%, severity {:.1}%, technique {:.1}%, valid {:.1}%",
        m.strict_threat_accuracy * 100.0,
        m.category_accuracy * 100.0,
        m.severity_accuracy * 100.0,
        m.technique_accuracy * 100.0,
        m.valid_rate * 100.0
    );
    let mut v = serde_json::to_value(&m)?;
    if let Some(o) = v.as_object_mut() {
        o.remove("confusion");
        o.insert("data".into(), json!(data.display().to_string()));
    }
    Ok(v)
}
