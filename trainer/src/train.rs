//! The training loop: micro-batches of sequences, gradient accumulation, clipping, the
//! optimiser and the schedule, checkpoints written then renamed, a loss log, and a stop on
//! Ctrl-C or on a loss that is not finite.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use opensoc::model::config::ModelError;
use opensoc::model::lora::{LoraAdapter, SplitMix64};
use opensoc::train::backprop::{buffers, buffers_mut, AdapterGrads, Dropout, Gradients, Sequence};
use serde::{Deserialize, Serialize};

use crate::optim::{clip_grad_norm, new_optimizer, AdamWConfig, OptimError, OptimKind, Optimizer};
use crate::schedule::{cosine_with_warmup, warmup_steps};

/// The recipe's knobs; the defaults are the paper's Table IV.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Sequences per micro-batch.
    pub batch: usize,
    /// Micro-batches per optimiser step.
    pub accum: usize,
    /// Peak learning rate.
    pub lr: f32,
    /// Share of the steps spent warming up.
    pub warmup_ratio: f32,
    /// Global gradient-norm clip.
    pub max_grad_norm: f32,
    /// Seed of the shuffle, the adapter's initialisation and the dropout masks.
    pub seed: u64,
    /// Optimiser.
    pub optim: OptimKind,
    /// Checkpoint every this many steps (0: only at the end and on Ctrl-C).
    pub checkpoint_every: usize,
    /// Stop after this many optimiser steps (for smoke runs), if set.
    pub max_steps: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 3,
            batch: 4,
            accum: 4,
            lr: 2e-4,
            warmup_ratio: 0.05,
            max_grad_norm: 1.0,
            seed: 42,
            optim: OptimKind::AdamW8bit,
            checkpoint_every: 10,
            max_steps: None,
        }
    }
}

/// What can stop training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model or graph failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The optimiser state could not be restored.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The loss stopped being a finite, plausible number.
    #[error(
        "the loss became {loss} at step {step}; training stopped (the last good checkpoint, \
         step {last_good}, is kept in {dir})"
    )]
    Diverged {
        /// The bad loss.
        loss: f32,
        /// The step it appeared at.
        step: usize,
        /// The step of the checkpoint kept.
        last_good: usize,
        /// The output directory.
        dir: PathBuf,
    },
    /// A checkpoint does not belong to this run.
    #[error("checkpoint {path} cannot be resumed: {problem}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What does not match.
        problem: String,
    },
    /// Nothing to train on.
    #[error("no training sequences (the data set is empty or every example was skipped)")]
    NoData,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One line of the loss log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LossRecord {
    /// Optimiser step (1-based).
    pub step: usize,
    /// Epoch the step belongs to (1-based).
    pub epoch: usize,
    /// Mean loss per counted token over the step's micro-batches.
    pub loss: f32,
    /// Learning rate used.
    pub lr: f32,
    /// Gradient norm before clipping.
    pub grad_norm: f32,
    /// Tokens processed in the step.
    pub tokens: usize,
    /// Seconds since the run (or the resumed run) started.
    pub elapsed_s: f64,
}

/// Where a run stands; saved in checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    /// Optimiser steps done.
    step: usize,
    /// Total steps of the run.
    total_steps: usize,
    /// Generator state for dropout.
    rng: u64,
    /// Sequences in the data (a resumed run must see the same set).
    sequences: usize,
    /// Parameters in the adapter.
    params: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Steps done.
    pub steps: usize,
    /// Steps planned.
    pub total_steps: usize,
    /// Whether Ctrl-C stopped it early.
    pub interrupted: bool,
    /// Loss of the last step.
    pub final_loss: f32,
    /// Wall time of this invocation.
    pub wall_s: f64,
    /// Tokens processed in this invocation.
    pub tokens: usize,
}

/// The order of sequences in `epoch`: a Fisher-Yates shuffle seeded by the run seed and the
/// epoch, so a resumed run sees the same order.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Micro-batches per epoch and optimiser steps per epoch (a last partial step is kept).
pub fn steps_per_epoch(n: usize, cfg: &TrainConfig) -> usize {
    n.div_ceil(cfg.batch).div_ceil(cfg.accum)
}

/// Sequences of step `s` (0-based, within its epoch).
fn step_sequences(order: &[usize], s: usize, cfg: &TrainConfig) -> Vec<Vec<usize>> {
    let per_step = cfg.batch * cfg.accum;
    let chunk = &order[(s * per_step).min(order.len())..((s + 1) * per_step).min(order.len())];
    chunk.chunks(cfg.batch).map(|c| c.to_vec()).collect()
}

/// A training run over one model and data set.
pub struct Trainer<'m> {
    bp: &'m dyn Gradients,
    seqs: Vec<Sequence>,
    cfg: TrainConfig,
    out: PathBuf,
    adapter: LoraAdapter,
    grads: AdapterGrads,
    optim: Box<dyn Optimizer + Send>,
    progress: Progress,
}

/// The checkpoint's file name inside the output directory.
pub const CHECKPOINT: &str = "checkpoint.bin";
/// The loss log's file name.
pub const LOSS_LOG: &str = "loss.jsonl";

impl<'m> Trainer<'m> {
    /// A fresh run (or one resumed from `out/checkpoint.bin` when `resume`).
    pub fn new(
        bp: &'m dyn Gradients,
        seqs: Vec<Sequence>,
        adapter: LoraAdapter,
        cfg: TrainConfig,
        out: &Path,
        resume: bool,
    ) -> Result<Self, TrainError> {
        if seqs.is_empty() {
            return Err(TrainError::NoData);
        }
        std::fs::create_dir_all(out).map_err(io_err(out))?;
        let shapes: Vec<usize> = buffers(&adapter.blocks).iter().map(|b| b.len()).collect();
        let optim = new_optimizer(
            cfg.optim,
            AdamWConfig {
                lr: cfg.lr,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            },
            &shapes,
        );
        let total_steps = steps_per_epoch(seqs.len(), &cfg) * cfg.epochs;
        let progress = Progress {
            step: 0,
            total_steps,
            rng: cfg.seed.wrapping_add(1),
            sequences: seqs.len(),
            params: shapes.iter().sum(),
        };
        let mut t = Trainer {
            bp,
            seqs,
            cfg,
            out: out.to_path_buf(),
            grads: AdapterGrads::zeros_like(&adapter),
            adapter,
            optim,
            progress,
        };
        if resume {
            t.load_checkpoint()?;
        }
        Ok(t)
    }

    /// Optimiser steps planned.
    pub fn total_steps(&self) -> usize {
        self.progress.total_steps
    }

    /// Optimiser steps done (more than zero after a resume).
    pub fn steps_done(&self) -> usize {
        self.progress.step
    }

    /// Runs until the last step, `max_steps`, or `stop` is raised (then checkpoints and
    /// returns); `on_step` sees each step's record.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        on_step: &mut dyn FnMut(&LossRecord),
    ) -> Result<TrainSummary, TrainError> {
        let start = Instant::now();
        let per_epoch = steps_per_epoch(self.seqs.len(), &self.cfg);
        let warmup = warmup_steps(self.progress.total_steps, self.cfg.warmup_ratio);
        let log_path = self.out.join(LOSS_LOG);
        if self.progress.step == 0 {
            // A fresh run starts a fresh log; a resumed one appends.
            std::fs::write(&log_path, b"").map_err(io_err(&log_path))?;
        }
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(io_err(&log_path))?;
        let mut tokens_total = 0usize;
        let mut last_loss = f32::NAN;
        let mut last_good = self.progress.step;
        let mut interrupted = false;
        let limit = self.cfg.max_steps.map_or(self.progress.total_steps, |m| {
            m.min(self.progress.total_steps)
        });
        while self.progress.step < limit {
            let step = self.progress.step;
            let (epoch, s) = (step / per_epoch, step % per_epoch);
            let order = epoch_order(self.seqs.len(), self.cfg.seed, epoch);
            let micro = step_sequences(&order, s, &self.cfg);
            let lr = cosine_with_warmup(step, self.progress.total_steps, warmup, self.cfg.lr);
            let (loss, tokens, grad_norm) = self.step(&micro, lr)?;
            if !loss.is_finite() || loss > 1e4 {
                return Err(TrainError::Diverged {
                    loss,
                    step: step + 1,
                    last_good,
                    dir: self.out.clone(),
                });
            }
            self.progress.step += 1;
            tokens_total += tokens;
            last_loss = loss;
            let rec = LossRecord {
                step: self.progress.step,
                epoch: epoch + 1,
                loss,
                lr,
                grad_norm,
                tokens,
                elapsed_s: start.elapsed().as_secs_f64(),
            };
            let line = serde_json::to_string(&rec).unwrap_or_default();
            writeln!(log, "{line}").map_err(io_err(&log_path))?;
            on_step(&rec);
            let every = self.cfg.checkpoint_every;
            if stop.load(Ordering::SeqCst) {
                interrupted = true;
                self.save_checkpoint()?;
                break;
            }
            if every > 0 && self.progress.step.is_multiple_of(every) {
                self.save_checkpoint()?;
                last_good = self.progress.step;
            }
        }
        if !interrupted {
            self.save_checkpoint()?;
        }
        Ok(TrainSummary {
            steps: self.progress.step,
            total_steps: self.progress.total_steps,
            interrupted,
            final_loss: last_loss,
            wall_s: start.elapsed().as_secs_f64(),
            tokens: tokens_total,
        })
    }

    /// One optimiser step over `micro` micro-batches: returns the mean loss per counted token
    /// (averaged over micro-batches, as Hugging Face's trainer reports it), tokens processed
    /// and the gradient norm before clipping.
    fn step(&mut self, micro: &[Vec<usize>], lr: f32) -> Result<(f32, usize, f32), TrainError> {
        self.grads.clear();
        let mut rng = SplitMix64::new(self.progress.rng);
        let mut loss_sum = 0.0f64;
        let mut tokens = 0;
        let n_micro = micro.len() as f64;
        let p = self.adapter.config.dropout;
        for mb in micro {
            let counted: usize = mb.iter().map(|&i| self.seqs[i].loss_tokens()).sum();
            let norm = 1.0 / (counted.max(1) as f64 * n_micro);
            for &i in mb {
                let seq = &self.seqs[i];
                tokens += seq.tokens.len();
                let mut drop = Dropout::train(p, &mut rng);
                let nll = self.bp.accumulate(
                    &self.adapter,
                    seq,
                    &mut drop,
                    norm as f32,
                    &mut self.grads,
                )?;
                loss_sum += nll * norm;
            }
        }
        self.progress.rng = rng.next_u64();
        let mut grad_refs = buffers_mut(&mut self.grads.blocks);
        let grad_norm = clip_grad_norm(&mut grad_refs, self.cfg.max_grad_norm);
        if !grad_norm.is_finite() {
            // Stepping would spread the NaN into the moments; the caller stops on the loss.
            return Ok((f32::NAN, tokens, grad_norm));
        }
        let grad_views = buffers(&self.grads.blocks);
        let mut param_refs = buffers_mut(&mut self.adapter.blocks);
        self.optim.step(&mut param_refs, &grad_views, lr);
        Ok((loss_sum as f32, tokens, grad_norm))
    }

    /// The adapter as trained so far.
    pub fn adapter(&self) -> &LoraAdapter {
        &self.adapter
    }

    /// Writes parameters, optimiser state and progress to a temporary file, syncs it and
    /// renames it over the checkpoint, so a crash or a full disk leaves the previous one.
    fn save_checkpoint(&self) -> Result<(), TrainError> {
        let path = self.out.join(CHECKPOINT);
        let tmp = self.out.join(format!("{CHECKPOINT}.tmp"));
        let header = serde_json::to_vec(&self.progress).unwrap_or_default();
        let optim = self.optim.save();
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            f.write_all(b"OSCKPT01")?;
            f.write_all(&(header.len() as u64).to_le_bytes())?;
            f.write_all(&header)?;
            for p in buffers(&self.adapter.blocks) {
                f.write_all(&(p.len() as u64).to_le_bytes())?;
                for v in p {
                    f.write_all(&v.to_le_bytes())?;
                }
            }
            f.write_all(&(optim.len() as u64).to_le_bytes())?;
            f.write_all(&optim)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(TrainError::Io {
                path: tmp,
                source: e,
            });
        }
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(())
    }

    /// Restores a checkpoint written by [`Trainer::save_checkpoint`] for the same data and
    /// adapter shape.
    fn load_checkpoint(&mut self) -> Result<(), TrainError> {
        let path = self.out.join(CHECKPOINT);
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        let bad = |problem: &str| TrainError::BadCheckpoint {
            path: path.clone(),
            problem: problem.to_string(),
        };
        let mut r = Reader { b: &bytes, at: 0 };
        if r.take(8).ok_or_else(|| bad("truncated"))? != b"OSCKPT01" {
            return Err(bad("not an opensoc-train checkpoint"));
        }
        let hlen = r.u64().ok_or_else(|| bad("truncated"))? as usize;
        let header = r.take(hlen).ok_or_else(|| bad("truncated"))?;
        let progress: Progress =
            serde_json::from_slice(header).map_err(|e| bad(&format!("bad header: {e}")))?;
        if progress.sequences != self.progress.sequences || progress.params != self.progress.params
        {
            return Err(bad(&format!(
                "it was written for {} sequences and {} parameters, this run has {} and {}",
                progress.sequences, progress.params, self.progress.sequences, self.progress.params
            )));
        }
        for p in buffers_mut(&mut self.adapter.blocks) {
            let n = r.u64().ok_or_else(|| bad("truncated"))? as usize;
            if n != p.len() {
                return Err(bad("a parameter buffer has another size"));
            }
            let raw = r.take(n * 4).ok_or_else(|| bad("truncated"))?;
            for (v, c) in p.iter_mut().zip(raw.chunks_exact(4)) {
                *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        let olen = r.u64().ok_or_else(|| bad("truncated"))? as usize;
        let optim = r.take(olen).ok_or_else(|| bad("truncated"))?;
        self.optim.load(optim)?;
        self.progress = Progress {
            total_steps: self.progress.total_steps,
            ..progress
        };
        Ok(())
    }
}

/// Reads a checkpoint's fields in order, never past its end.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let a = epoch_order(450, 42, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..450).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(450, 42, 0));
        assert_ne!(a, epoch_order(450, 42, 1));
        assert_ne!(a, epoch_order(450, 43, 0));
    }

    #[test]
    fn steps_cover_every_sequence_once_per_epoch() {
        let cfg = TrainConfig::default();
        assert_eq!(steps_per_epoch(450, &cfg), 29);
        let order = epoch_order(450, 1, 0);
        let mut seen: Vec<usize> = (0..29)
            .flat_map(|s| step_sequences(&order, s, &cfg).concat())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..450).collect::<Vec<_>>());
        // The last step holds the remaining 2 sequences in one micro-batch.
        assert_eq!(
            step_sequences(&order, 28, &cfg),
            vec![order[448..].to_vec()]
        );
    }
}
