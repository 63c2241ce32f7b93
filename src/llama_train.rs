//! The Llama forward pass as a candle graph with LoRA adapters as trainable variables: the
//! loss of one sequence and its gradients with respect to the adapters only.
//!
//! The frozen base stays quantized: each projection runs the same quantized product as
//! inference ([`Linear::forward_trainable`]), and its backward pass dequantizes the weight for
//! the call. The adapter branch is `scale · B·(dropout(x)·Aᵀ)ᵀ`, as PEFT computes it.

use candle_core::{DType, Device, Tensor, Var, D};

use crate::llama::{Linear, Llama, ModelError};
use crate::lora::{LoraAdapter, LoraConfig, LoraPair, SplitMix64, Target};

/// An adapter whose matrices are candle variables.
pub struct TrainableAdapter {
    /// The configuration (rank, alpha, dropout, targets).
    pub config: LoraConfig,
    /// `blocks[layer][target]`: `(A, B)` when adapted.
    pub blocks: Vec<[Option<(Var, Var)>; 7]>,
}

impl TrainableAdapter {
    /// Variables holding `adapter`'s values.
    pub fn new(adapter: &LoraAdapter) -> Result<Self, ModelError> {
        let dev = Device::Cpu;
        let mut blocks = Vec::with_capacity(adapter.blocks.len());
        for block in &adapter.blocks {
            let mut vars: [Option<(Var, Var)>; 7] = Default::default();
            for (slot, pair) in vars.iter_mut().zip(block) {
                if let Some(p) = pair {
                    let r = p.rank();
                    let a = Var::from_tensor(&Tensor::from_slice(&p.a, (r, p.in_dim), &dev)?)?;
                    let b = Var::from_tensor(&Tensor::from_slice(&p.b, (p.out_dim, r), &dev)?)?;
                    *slot = Some((a, b));
                }
            }
            blocks.push(vars);
        }
        Ok(TrainableAdapter {
            config: adapter.config.clone(),
            blocks,
        })
    }

    /// Every variable in a fixed order: block by block, target by target, A then B.
    pub fn vars(&self) -> Vec<&Var> {
        self.blocks
            .iter()
            .flatten()
            .flatten()
            .flat_map(|(a, b)| [a, b])
            .collect()
    }

    /// The current values as a plain adapter.
    pub fn to_adapter(&self) -> Result<LoraAdapter, ModelError> {
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for vars in &self.blocks {
            let mut out: [Option<LoraPair>; 7] = Default::default();
            for (slot, v) in out.iter_mut().zip(vars) {
                if let Some((a, b)) = v {
                    let (_, in_dim) = a.dims2()?;
                    let (out_dim, _) = b.dims2()?;
                    *slot = Some(LoraPair {
                        a: a.flatten_all()?.to_vec1()?,
                        b: b.flatten_all()?.to_vec1()?,
                        in_dim,
                        out_dim,
                    });
                }
            }
            blocks.push(out);
        }
        Ok(LoraAdapter {
            config: self.config.clone(),
            blocks,
        })
    }
}

/// One training sequence: tokens and which next-token predictions count in the loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The tokens, prompt then response.
    pub tokens: Vec<u32>,
    /// `targets[i]`: whether predicting `tokens[i + 1]` from position `i` counts
    /// (`tokens.len() - 1` entries).
    pub targets: Vec<bool>,
}

impl Sequence {
    /// Predictions that count in the loss.
    pub fn loss_tokens(&self) -> usize {
        self.targets.iter().filter(|&&t| t).count()
    }
}

/// Dropout masks drawn from a seeded generator (none when `p` is zero or in evaluation).
pub struct Dropout<'r> {
    p: f32,
    rng: Option<&'r mut SplitMix64>,
}

impl<'r> Dropout<'r> {
    /// Dropout with probability `p` drawing from `rng`.
    pub fn train(p: f32, rng: &'r mut SplitMix64) -> Self {
        Dropout { p, rng: Some(rng) }
    }

    /// No dropout.
    pub fn off() -> Dropout<'static> {
        Dropout { p: 0.0, rng: None }
    }

    /// `x` with each element zeroed with probability p and the rest scaled by `1/(1-p)`.
    fn apply(&mut self, x: &Tensor) -> candle_core::Result<Tensor> {
        let Some(rng) = self.rng.as_deref_mut().filter(|_| self.p > 0.0) else {
            return Ok(x.clone());
        };
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| if rng.next_f32() < self.p { 0.0 } else { keep })
            .collect();
        x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
    }
}

/// The summed negative log-likelihood of `seq`'s counted predictions under the model with
/// `adapter` (a scalar tensor to backpropagate from).
pub fn sequence_nll(
    model: &Llama,
    adapter: &TrainableAdapter,
    seq: &Sequence,
    dropout: &mut Dropout<'_>,
) -> Result<Tensor, ModelError> {
    let cfg = model.config();
    let t = seq.tokens.len();
    if t < 2 || seq.targets.len() != t - 1 {
        return Err(ModelError::Invalid {
            path: "training sequence".into(),
            problem: format!(
                "{} tokens with {} target flags (need at least 2 tokens and one flag less)",
                t,
                seq.targets.len()
            ),
        });
    }
    if t > cfg.ctx_len {
        return Err(ModelError::ContextOverflow {
            len: t,
            max: cfg.ctx_len,
        });
    }
    let dev = Device::Cpu;
    let (d, hd) = (cfg.n_embd, cfg.head_dim());
    let (nh, nkv) = (cfg.n_head, cfg.n_head_kv);
    let half = hd / 2;
    let scale = adapter.config.scale();

    let mut x = Tensor::from_vec(model.embed_rows(&seq.tokens)?, (t, d), &dev)?;
    let (cos, sin) = model.rope_rows(t);
    let cos = Tensor::from_vec(cos, (t, 1, half), &dev)?;
    let sin = Tensor::from_vec(sin, (t, 1, half), &dev)?;
    let mask = causal_mask(t, &dev)?;

    let proj = |lin: &Linear,
                pair: &Option<(Var, Var)>,
                x: &Tensor,
                drop: &mut Dropout<'_>|
     -> candle_core::Result<Tensor> {
        let y = lin.forward_trainable(x)?;
        match pair {
            Some((a, b)) => {
                let xa = drop.apply(x)?.matmul(&a.t()?)?;
                y + (xa.matmul(&b.t()?)? * scale as f64)?
            }
            None => Ok(y),
        }
    };

    for (i, block) in model.blocks_for_training().enumerate() {
        let lora = &adapter.blocks[i];
        let h = rms_norm(&x, block.attn_norm, cfg.rms_eps)?;
        let q = proj(block.wq, &lora[Target::QProj.index()], &h, dropout)?;
        let k = proj(block.wk, &lora[Target::KProj.index()], &h, dropout)?;
        let v = proj(block.wv, &lora[Target::VProj.index()], &h, dropout)?;
        let q = rope(&q.reshape((t, nh, hd))?, &cos, &sin)?;
        let k = rope(&k.reshape((t, nkv, hd))?, &cos, &sin)?;
        let v = v.reshape((t, nkv, hd))?;
        // Heads first; each key/value head serves n_head / n_head_kv consecutive query heads.
        let q = q.transpose(0, 1)?.contiguous()?;
        let group = nh / nkv;
        let expand = |m: Tensor| -> candle_core::Result<Tensor> {
            m.transpose(0, 1)?
                .unsqueeze(1)?
                .broadcast_as((nkv, group, t, hd))?
                .contiguous()?
                .reshape((nh, t, hd))
        };
        let (k, v) = (expand(k)?, expand(v)?);
        let scores = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?.broadcast_add(&mask)?;
        let max = scores.max_keepdim(D::Minus1)?.detach();
        let e = scores.broadcast_sub(&max)?.exp()?;
        let p = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
        let a = p.matmul(&v)?.transpose(0, 1)?.contiguous()?.reshape((t, d))?;
        let o = proj(block.wo, &lora[Target::OProj.index()], &a, dropout)?;
        x = (x + o)?;
        let h = rms_norm(&x, block.ffn_norm, cfg.rms_eps)?;
        let g = proj(block.gate, &lora[Target::GateProj.index()], &h, dropout)?;
        let u = proj(block.up, &lora[Target::UpProj.index()], &h, dropout)?;
        let m = (g.silu()? * u)?;
        let down = proj(block.down, &lora[Target::DownProj.index()], &m, dropout)?;
        x = (x + down)?;
    }
    let h = rms_norm(&x, model.output_norm(), cfg.rms_eps)?;
    // Only the counted positions reach the head: the vocabulary product is the costliest
    // single step, and prompt positions do not count by default.
    let rows: Vec<u32> = (0..t - 1)
        .filter(|&i| seq.targets[i])
        .map(|i| i as u32)
        .collect();
    if rows.is_empty() {
        return Ok(Tensor::zeros((), DType::F32, &dev)?);
    }
    let want: Vec<u32> = rows.iter().map(|&i| seq.tokens[i as usize + 1]).collect();
    let n = rows.len();
    let h = h.index_select(&Tensor::from_vec(rows, n, &dev)?, 0)?;
    let logits = model.output().forward_trainable(&h)?;
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(&Tensor::from_vec(want, (n, 1), &dev)?, D::Minus1)?;
    Ok((lse - picked)?.sum_all()?)
}

/// RMSNorm over the last dimension, then the weight.
fn rms_norm(x: &Tensor, w: &[f32], eps: f32) -> candle_core::Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = x.broadcast_div(&(ms + eps as f64)?.sqrt()?)?;
    xn.broadcast_mul(&Tensor::from_slice(w, w.len(), x.device())?)
}

/// Adjacent-pair rotation of `x` (`t × heads × head_dim`), as inference does (ggml's normal
/// mode); `cos`, `sin` are `t × 1 × head_dim/2`. The result keeps `x`'s shape.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let (t, h, hd) = x.dims3()?;
    let pairs = x.reshape((t, h, hd / 2, 2))?;
    let x0 = pairs.narrow(3, 0, 1)?.squeeze(3)?;
    let x1 = pairs.narrow(3, 1, 1)?.squeeze(3)?;
    let r0 = (x0.broadcast_mul(cos)? - x1.broadcast_mul(sin)?)?;
    let r1 = (x0.broadcast_mul(sin)? + x1.broadcast_mul(cos)?)?;
    Tensor::stack(&[r0, r1], 3)?.reshape((t, h, hd))
}

/// `t × t`: 0 on and below the diagonal, a large negative number above it.
fn causal_mask(t: usize, dev: &Device) -> candle_core::Result<Tensor> {
    let m: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { -1e30 }))
        .collect();
    Tensor::from_vec(m, (t, t), dev)
}
