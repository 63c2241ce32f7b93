//! LoRA training by hand-written backpropagation through the Llama forward pass (as llm.c
//! does it), read top to bottom: a forward pass that keeps what the backward pass needs, then
//! the backward pass in reverse, accumulating gradients for the adapters only.
//!
//! The frozen base stays quantized (the QLoRA idea): the forward products run the same
//! quantized kernels as inference, and the backward products `∂x = ∂y · W` run them on a
//! transposed copy of each weight, re-quantized to Q8_0 once at start (f32 when the model's
//! weights are floats, so that gradients on float models are exact).

use crate::cpu::gemm::{matmul, Mat};
use crate::cpu::ops::{for_each_task, rms_norm, rope, SharedMut};
use crate::gguf::read::GgmlType;
use crate::model::config::ModelError;
use crate::model::llama::{Linear, Llama};
use crate::model::lora::{LoraAdapter, LoraPair, SplitMix64, Target};
use crate::quant::blocks;
use crate::quant::matmul::{apply_all, Input, QMatrix};

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

/// Gradients of an adapter's matrices, shaped like the adapter (`a` holds ∂A, `b` holds ∂B).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterGrads {
    /// `blocks[layer][target]`.
    pub blocks: Vec<[Option<LoraPair>; 7]>,
}

impl AdapterGrads {
    /// Zero gradients for `adapter`.
    pub fn zeros_like(adapter: &LoraAdapter) -> Self {
        AdapterGrads {
            blocks: adapter
                .blocks
                .iter()
                .map(|b| {
                    std::array::from_fn(|i| {
                        b[i].as_ref().map(|p| LoraPair {
                            a: vec![0.0; p.a.len()],
                            b: vec![0.0; p.b.len()],
                            in_dim: p.in_dim,
                            out_dim: p.out_dim,
                        })
                    })
                })
                .collect(),
        }
    }

    /// Sets every gradient to zero.
    pub fn clear(&mut self) {
        for p in self.blocks.iter_mut().flatten().flatten() {
            p.a.fill(0.0);
            p.b.fill(0.0);
        }
    }
}

/// Every matrix of an adapter (or of its gradients) as a flat buffer, in a fixed order:
/// block by block, target by target, A then B.
pub fn buffers_mut(blocks: &mut [[Option<LoraPair>; 7]]) -> Vec<&mut [f32]> {
    blocks
        .iter_mut()
        .flatten()
        .flatten()
        .flat_map(|p| [p.a.as_mut_slice(), p.b.as_mut_slice()])
        .collect()
}

/// Read-only view of [`buffers_mut`]'s order.
pub fn buffers(blocks: &[[Option<LoraPair>; 7]]) -> Vec<&[f32]> {
    blocks
        .iter()
        .flatten()
        .flatten()
        .flat_map(|p| [p.a.as_slice(), p.b.as_slice()])
        .collect()
}

/// The model prepared for training: the transposed weights of every frozen product.
pub struct Backprop<'m> {
    model: &'m Llama,
    /// Per block, per [`Target`]: `Wᵀ` (`in` rows of `out`).
    wt: Vec<[QMatrix; 7]>,
    /// The output head transposed (`n_embd` rows of `vocab`).
    head_t: QMatrix,
}

/// `Wᵀ` of a linear layer's weight, re-quantized to Q8_0 when the weight is quantized.
fn transposed(lin: &Linear) -> QMatrix {
    let w = lin.weight();
    let (n, k) = (w.n(), w.k());
    let dense = w.dequantize();
    let mut t = vec![0f32; n * k];
    for (r, row) in dense.chunks_exact(k).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * n + r] = v;
        }
    }
    let float = matches!(w.ty(), GgmlType::F32 | GgmlType::F16 | GgmlType::BF16);
    if float || !n.is_multiple_of(32) {
        let bytes = t.iter().flat_map(|v| v.to_le_bytes()).collect();
        return QMatrix::owned(GgmlType::F32, k, n, bytes);
    }
    let mut bytes = Vec::with_capacity(k * n / 32 * 34);
    for row in t.chunks_exact(n) {
        blocks::quantize_row_into(GgmlType::Q8_0, row, &mut bytes)
            .expect("rows are whole Q8_0 blocks (checked above)");
    }
    QMatrix::owned(GgmlType::Q8_0, k, n, bytes).packed()
}

/// What the forward pass keeps of one block for the backward pass.
struct BlockActs {
    x_in: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Attention probabilities, `n_head × t × t` (zero above the diagonal).
    p: Vec<f32>,
    x_mid: Vec<f32>,
    g: Vec<f32>,
    u: Vec<f32>,
    /// Per target: the adapter's input after dropout, its keep mask, and `A·x`.
    lora: [Option<LoraActs>; 7],
}

struct LoraActs {
    x_d: Vec<f32>,
    /// Dropout's kept elements (`None`: no dropout).
    keep: Option<Vec<bool>>,
    /// The factor kept elements were multiplied by, 1/(1-p).
    keep_scale: f32,
    xa: Vec<f32>,
}

/// Dropout on the adapters' inputs.
pub struct Dropout<'r> {
    p: f32,
    rng: Option<&'r mut SplitMix64>,
}

impl<'r> Dropout<'r> {
    /// Dropout with probability `p`, masks drawn from `rng`.
    pub fn train(p: f32, rng: &'r mut SplitMix64) -> Self {
        Dropout { p, rng: Some(rng) }
    }

    /// No dropout (evaluation).
    pub fn off() -> Dropout<'static> {
        Dropout { p: 0.0, rng: None }
    }

    /// The probability of dropping an element.
    pub fn probability(&self) -> f32 {
        self.p
    }
}

/// What the trainer needs from a device: a sequence's loss and its adapter gradients. The
/// hand-written [`Backprop`] gives them on the CPU, `src/train/candle_backprop.rs` on a candle device.
pub trait Gradients {
    /// Adds `scale · ∂NLL/∂adapter` of `seq` to `grads`; returns the NLL (unscaled).
    fn accumulate(
        &self,
        adapter: &LoraAdapter,
        seq: &Sequence,
        dropout: &mut Dropout<'_>,
        scale: f32,
        grads: &mut AdapterGrads,
    ) -> Result<f64, ModelError>;

    /// The summed negative log-likelihood of `seq`'s counted predictions (no dropout, no
    /// gradients).
    fn nll(&self, adapter: &LoraAdapter, seq: &Sequence) -> Result<f64, ModelError>;

    /// Where the gradients are computed, for reports (`cpu`, `cuda`).
    fn device_name(&self) -> &str;
}

impl Gradients for Backprop<'_> {
    fn accumulate(
        &self,
        adapter: &LoraAdapter,
        seq: &Sequence,
        dropout: &mut Dropout<'_>,
        scale: f32,
        grads: &mut AdapterGrads,
    ) -> Result<f64, ModelError> {
        Backprop::accumulate(self, adapter, seq, dropout, scale, grads)
    }

    fn nll(&self, adapter: &LoraAdapter, seq: &Sequence) -> Result<f64, ModelError> {
        Backprop::nll(self, adapter, seq)
    }

    fn device_name(&self) -> &str {
        "cpu"
    }
}

impl<'m> Backprop<'m> {
    /// Prepares `model` (builds the transposed weights: about one second for SmolLM2-135M).
    pub fn new(model: &'m Llama) -> Self {
        let wt = model
            .blocks()
            .map(|b| [b.wq, b.wk, b.wv, b.wo, b.gate, b.up, b.down].map(transposed))
            .collect();
        let head_t = transposed(model.output());
        Backprop { model, wt, head_t }
    }

    /// The model.
    pub fn model(&self) -> &Llama {
        self.model
    }

    /// The summed negative log-likelihood of `seq`'s counted predictions (no dropout, no
    /// gradients).
    pub fn nll(&self, adapter: &LoraAdapter, seq: &Sequence) -> Result<f64, ModelError> {
        let mut scratch = AdapterGrads::zeros_like(adapter);
        self.run(adapter, seq, &mut Dropout::off(), 0.0, &mut scratch, false)
    }

    /// Adds `scale · ∂NLL/∂adapter` of `seq` to `grads`; returns the NLL (unscaled).
    pub fn accumulate(
        &self,
        adapter: &LoraAdapter,
        seq: &Sequence,
        dropout: &mut Dropout<'_>,
        scale: f32,
        grads: &mut AdapterGrads,
    ) -> Result<f64, ModelError> {
        self.run(adapter, seq, dropout, scale, grads, true)
    }

    fn run(
        &self,
        adapter: &LoraAdapter,
        seq: &Sequence,
        dropout: &mut Dropout<'_>,
        scale: f32,
        grads: &mut AdapterGrads,
        backward: bool,
    ) -> Result<f64, ModelError> {
        let cfg = self.model.config();
        let t = seq.tokens.len();
        if t < 2 || seq.targets.len() != t - 1 {
            return Err(ModelError::Invalid {
                path: "training sequence".into(),
                problem: format!(
                    "{t} tokens with {} target flags (need at least 2 tokens and one flag less)",
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
        if adapter.blocks.len() != cfg.n_layer {
            return Err(ModelError::Adapter(format!(
                "the adapter has {} blocks, the model {}",
                adapter.blocks.len(),
                cfg.n_layer
            )));
        }
        let (d, eps) = (cfg.n_embd, cfg.rms_eps);
        let s = adapter.config.scale();
        let (cos, sin) = self.model.rope_rows(t);

        // ---- forward ----
        let mut x = self.model.embed_rows(&seq.tokens)?;
        let mut acts: Vec<BlockActs> = Vec::with_capacity(cfg.n_layer);
        for (l, b) in self.model.blocks().enumerate() {
            let pairs = &adapter.blocks[l];
            let x_in = x.clone();
            let mut h1 = vec![0f32; t * d];
            rms_norm(&x_in, b.attn_norm, eps, &mut h1);
            let [mut q, mut k, mut v]: [Vec<f32>; 3] = apply_all(
                &[b.wq.weight(), b.wk.weight(), b.wv.weight()],
                &Input::new(&h1, d),
            )
            .try_into()
            .expect("three products");
            let mut lora: [Option<LoraActs>; 7] = Default::default();
            for (target, y) in [
                (Target::QProj, &mut q),
                (Target::KProj, &mut k),
                (Target::VProj, &mut v),
            ] {
                lora[target.index()] = lora_forward(&pairs[target.index()], &h1, t, s, y, dropout);
            }
            rope(&mut q, cfg.n_head, cfg.head_dim(), 0, &cos, &sin);
            rope(&mut k, cfg.n_head_kv, cfg.head_dim(), 0, &cos, &sin);
            let (a, p) =
                attention_forward(&q, &k, &v, t, cfg.n_head, cfg.n_head_kv, cfg.head_dim());
            let mut o = b.wo.weight().matmul(&a, t);
            lora[Target::OProj.index()] =
                lora_forward(&pairs[Target::OProj.index()], &a, t, s, &mut o, dropout);
            let mut x_mid = x_in.clone();
            add(&mut x_mid, &o);
            let mut h2 = vec![0f32; t * d];
            rms_norm(&x_mid, b.ffn_norm, eps, &mut h2);
            let [mut g, mut u]: [Vec<f32>; 2] =
                apply_all(&[b.gate.weight(), b.up.weight()], &Input::new(&h2, d))
                    .try_into()
                    .expect("two products");
            lora[Target::GateProj.index()] =
                lora_forward(&pairs[Target::GateProj.index()], &h2, t, s, &mut g, dropout);
            lora[Target::UpProj.index()] =
                lora_forward(&pairs[Target::UpProj.index()], &h2, t, s, &mut u, dropout);
            let m: Vec<f32> = g.iter().zip(&u).map(|(&g, &u)| silu(g) * u).collect();
            let mut down = b.down.weight().matmul(&m, t);
            lora[Target::DownProj.index()] = lora_forward(
                &pairs[Target::DownProj.index()],
                &m,
                t,
                s,
                &mut down,
                dropout,
            );
            x = x_mid.clone();
            add(&mut x, &down);
            acts.push(BlockActs {
                x_in,
                q,
                k,
                v,
                p,
                x_mid,
                g,
                u,
                lora,
            });
        }
        let mut hf = vec![0f32; t * d];
        rms_norm(&x, self.model.output_norm(), eps, &mut hf);
        // Only counted positions reach the head: the vocabulary product is the costliest step.
        let rows: Vec<usize> = (0..t - 1).filter(|&i| seq.targets[i]).collect();
        if rows.is_empty() {
            return Ok(0.0);
        }
        let hr: Vec<f32> = rows
            .iter()
            .flat_map(|&i| hf[i * d..(i + 1) * d].iter().copied())
            .collect();
        let mut logits = self.model.output().weight().matmul(&hr, rows.len());
        let vocab = logits.len() / rows.len();
        let nll = softmax_grad(&mut logits, vocab, &rows, &seq.tokens, scale);
        if !backward {
            return Ok(nll);
        }

        // ---- backward ----
        let dhr = backward_product(&self.head_t, &logits, rows.len());
        let mut dhf = vec![0f32; t * d];
        for (r, &i) in rows.iter().enumerate() {
            dhf[i * d..(i + 1) * d].copy_from_slice(&dhr[r * d..(r + 1) * d]);
        }
        let mut dx = rms_norm_backward(&x, self.model.output_norm(), eps, &dhf);
        let blocks: Vec<_> = self.model.blocks().collect();
        // RoPE is a rotation: its backward is the rotation by the opposite angle.
        let neg_sin: Vec<f32> = sin.iter().map(|v| -v).collect();
        for l in (0..cfg.n_layer).rev() {
            let (b, ac, wt) = (&blocks[l], &acts[l], &self.wt[l]);
            let pairs = &adapter.blocks[l];
            let gl = &mut grads.blocks[l];
            // x_out = x_mid + down(m)
            let mut dm = backward_product(&wt[Target::DownProj.index()], &dx, t);
            lora_backward(
                &pairs[Target::DownProj.index()],
                &ac.lora[Target::DownProj.index()],
                &mut gl[Target::DownProj.index()],
                &dx,
                t,
                s,
                &mut dm,
            );
            let mut dg = vec![0f32; dm.len()];
            let mut du = vec![0f32; dm.len()];
            for i in 0..dm.len() {
                let (g, u) = (ac.g[i], ac.u[i]);
                let sig = 1.0 / (1.0 + (-g).exp());
                du[i] = dm[i] * g * sig;
                dg[i] = dm[i] * u * sig * (1.0 + g * (1.0 - sig));
            }
            let mut dh2 = backward_product(&wt[Target::GateProj.index()], &dg, t);
            add(
                &mut dh2,
                &backward_product(&wt[Target::UpProj.index()], &du, t),
            );
            for (target, dy) in [(Target::GateProj, &dg), (Target::UpProj, &du)] {
                let i = target.index();
                lora_backward(&pairs[i], &ac.lora[i], &mut gl[i], dy, t, s, &mut dh2);
            }
            let mut dx_mid = rms_norm_backward(&ac.x_mid, b.ffn_norm, eps, &dh2);
            add(&mut dx_mid, &dx);
            // x_mid = x_in + o(a)
            let mut da = backward_product(&wt[Target::OProj.index()], &dx_mid, t);
            let oi = Target::OProj.index();
            lora_backward(
                &pairs[oi],
                &ac.lora[oi],
                &mut gl[oi],
                &dx_mid,
                t,
                s,
                &mut da,
            );
            let (mut dq, mut dk, dv) =
                attention_backward(&da, ac, t, cfg.n_head, cfg.n_head_kv, cfg.head_dim());
            rope(&mut dq, cfg.n_head, cfg.head_dim(), 0, &cos, &neg_sin);
            rope(&mut dk, cfg.n_head_kv, cfg.head_dim(), 0, &cos, &neg_sin);
            let mut dh1 = backward_product(&wt[Target::QProj.index()], &dq, t);
            add(
                &mut dh1,
                &backward_product(&wt[Target::KProj.index()], &dk, t),
            );
            add(
                &mut dh1,
                &backward_product(&wt[Target::VProj.index()], &dv, t),
            );
            for (target, dy) in [
                (Target::QProj, &dq),
                (Target::KProj, &dk),
                (Target::VProj, &dv),
            ] {
                let i = target.index();
                lora_backward(&pairs[i], &ac.lora[i], &mut gl[i], dy, t, s, &mut dh1);
            }
            dx = rms_norm_backward(&ac.x_in, b.attn_norm, eps, &dh1);
            add(&mut dx, &dx_mid);
        }
        Ok(nll)
    }
}

/// `∂x = ∂y · W` through the transposed weight, with `∂y` brought to unit scale first.
///
/// The quantized product rounds its input to 8-bit blocks with an f16 scale, as inference
/// does; gradients are often far smaller than f16's smallest normal number (6·10⁻⁵), and their
/// block scales would flush to zero. Dividing by the largest magnitude and multiplying the
/// result back keeps the 8-bit rounding relative, whatever the gradient's size.
fn backward_product(wt: &QMatrix, dy: &[f32], rows: usize) -> Vec<f32> {
    let max = dy.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        return wt.matmul(dy, rows);
    }
    let inv = 1.0 / max;
    let unit: Vec<f32> = dy.iter().map(|v| v * inv).collect();
    let mut out = wt.matmul(&unit, rows);
    for v in out.iter_mut() {
        *v *= max;
    }
    out
}

/// Turns each row of `logits` into `scale · (softmax − onehot(next token))`, the loss's
/// gradient, and returns the rows' summed negative log-likelihood.
fn softmax_grad(
    logits: &mut [f32],
    vocab: usize,
    rows: &[usize],
    tokens: &[u32],
    scale: f32,
) -> f64 {
    let mut nll = vec![0f64; rows.len()];
    let shared = SharedMut::new(logits);
    let per = SharedMut::new(&mut nll);
    for_each_task(rows.len(), |r| {
        // SAFETY: task r owns row r of the logits and entry r of the losses.
        let row = unsafe { shared.slice(r * vocab, vocab) };
        let want = tokens[rows[r] + 1] as usize;
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z_want = (row[want] - max) as f64;
        let mut sum = 0f64;
        for z in row.iter_mut() {
            *z = (*z - max).exp();
            sum += *z as f64;
        }
        // SAFETY: as above.
        unsafe { per.set(r, sum.ln() - z_want) };
        let k = (scale as f64 / sum) as f32;
        for z in row.iter_mut() {
            *z *= k;
        }
        row[want] -= scale;
    });
    nll.iter().sum()
}

fn add(y: &mut [f32], x: &[f32]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += b;
    }
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// `y += s · B·(A·dropout(x))`; returns what the backward pass needs (None without adapter).
fn lora_forward(
    pair: &Option<LoraPair>,
    x: &[f32],
    t: usize,
    s: f32,
    y: &mut [f32],
    dropout: &mut Dropout<'_>,
) -> Option<LoraActs> {
    let p = pair.as_ref()?;
    let r = p.rank();
    let keep_scale = 1.0 / (1.0 - dropout.p);
    let (x_d, keep) = match dropout.rng.as_deref_mut().filter(|_| dropout.p > 0.0) {
        Some(rng) => {
            let scale = keep_scale;
            let keep: Vec<bool> = (0..x.len()).map(|_| rng.next_f32() >= dropout.p).collect();
            let x_d = x
                .iter()
                .zip(&keep)
                .map(|(&v, &k)| if k { v * scale } else { 0.0 })
                .collect();
            (x_d, Some(keep))
        }
        None => (x.to_vec(), None),
    };
    let mut xa = vec![0f32; t * r];
    matmul(
        &mut xa,
        r,
        Mat::new(&x_d, t, p.in_dim),
        Mat::new(&p.a, r, p.in_dim).t(),
        1.0,
        false,
    );
    matmul(
        y,
        p.out_dim,
        Mat::new(&xa, t, r),
        Mat::new(&p.b, p.out_dim, r).t(),
        s,
        true,
    );
    Some(LoraActs {
        x_d,
        keep,
        keep_scale,
        xa,
    })
}

/// Given `dy`, adds the adapter's gradients to `grad` and its input gradient to `dx`.
fn lora_backward(
    pair: &Option<LoraPair>,
    acts: &Option<LoraActs>,
    grad: &mut Option<LoraPair>,
    dy: &[f32],
    t: usize,
    s: f32,
    dx: &mut [f32],
) {
    let (Some(p), Some(ac), Some(g)) = (pair, acts, grad.as_mut()) else {
        return;
    };
    let r = p.rank();
    // ∂B += s · dyᵀ·xa
    matmul(
        &mut g.b,
        r,
        Mat::new(dy, t, p.out_dim).t(),
        Mat::new(&ac.xa, t, r),
        s,
        true,
    );
    // ∂xa = s · dy·B
    let mut dxa = vec![0f32; t * r];
    matmul(
        &mut dxa,
        r,
        Mat::new(dy, t, p.out_dim),
        Mat::new(&p.b, p.out_dim, r),
        s,
        false,
    );
    // ∂A += ∂xaᵀ·x_d
    matmul(
        &mut g.a,
        p.in_dim,
        Mat::new(&dxa, t, r).t(),
        Mat::new(&ac.x_d, t, p.in_dim),
        1.0,
        true,
    );
    // ∂x += dropout'(∂xa·A)
    let mut dxd = vec![0f32; t * p.in_dim];
    matmul(
        &mut dxd,
        p.in_dim,
        Mat::new(&dxa, t, r),
        Mat::new(&p.a, r, p.in_dim),
        1.0,
        false,
    );
    match &ac.keep {
        // Dropped elements get no gradient; kept ones carry the forward pass's 1/(1-p).
        Some(keep) => {
            for ((o, &v), &k) in dx.iter_mut().zip(&dxd).zip(keep) {
                if k {
                    *o += v * ac.keep_scale;
                }
            }
        }
        None => add(dx, &dxd),
    }
}

/// Causal attention over `t` positions: returns the output (`t × n_head·hd`) and the
/// probabilities (`n_head × t × t`).
fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    t: usize,
    nh: usize,
    nkv: usize,
    hd: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (qd, kd, group) = (nh * hd, nkv * hd, nh / nkv);
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0f32; t * qd];
    let mut probs = vec![0f32; nh * t * t];
    let so = SharedMut::new(&mut out);
    let sp = SharedMut::new(&mut probs);
    for_each_task(nh, |h| {
        let g = h / group;
        // SAFETY: head h owns its t×t block of probabilities.
        let p = unsafe { sp.slice(h * t * t, t * t) };
        matmul(
            p,
            t,
            Mat::strided(&q[h * hd..], t, hd, qd),
            Mat::strided(&k[g * hd..], t, hd, kd).t(),
            scale,
            false,
        );
        for (i, row) in p.chunks_exact_mut(t).enumerate() {
            let max = row[..=i].iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for z in row[..=i].iter_mut() {
                *z = (*z - max).exp();
                sum += *z;
            }
            for z in row[..=i].iter_mut() {
                *z /= sum;
            }
            row[i + 1..].fill(0.0);
        }
        let mut a = vec![0f32; t * hd];
        matmul(
            &mut a,
            hd,
            Mat::new(p, t, t),
            Mat::strided(&v[g * hd..], t, hd, kd),
            1.0,
            false,
        );
        for (i, row) in a.chunks_exact(hd).enumerate() {
            // SAFETY: head h owns columns h·hd.. of every output row.
            unsafe { so.slice(i * qd + h * hd, hd) }.copy_from_slice(row);
        }
    });
    (out, probs)
}

/// Gradients of the attention inputs (q and k after RoPE, v) from the output's gradient.
fn attention_backward(
    da: &[f32],
    ac: &BlockActs,
    t: usize,
    nh: usize,
    nkv: usize,
    hd: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (qd, kd, group) = (nh * hd, nkv * hd, nh / nkv);
    let scale = 1.0 / (hd as f32).sqrt();
    let mut dq = vec![0f32; t * qd];
    let mut dk = vec![0f32; t * kd];
    let mut dv = vec![0f32; t * kd];
    let (sq, sk, sv) = (
        SharedMut::new(&mut dq),
        SharedMut::new(&mut dk),
        SharedMut::new(&mut dv),
    );
    // One task per key/value head: the query heads that share it add into its ∂k and ∂v.
    for_each_task(nkv, |g| {
        let mut dkg = vec![0f32; t * hd];
        let mut dvg = vec![0f32; t * hd];
        for h in g * group..(g + 1) * group {
            let p = &ac.p[h * t * t..(h + 1) * t * t];
            let da_h = Mat::strided(&da[h * hd..], t, hd, qd);
            let v_g = Mat::strided(&ac.v[g * hd..], t, hd, kd);
            let k_g = Mat::strided(&ac.k[g * hd..], t, hd, kd);
            let q_h = Mat::strided(&ac.q[h * hd..], t, hd, qd);
            // ∂v += Pᵀ·∂a
            matmul(&mut dvg, hd, Mat::new(p, t, t).t(), da_h, 1.0, true);
            // ∂P = ∂a·vᵀ, then ∂S = P ⊙ (∂P − rowsum(∂P ⊙ P))
            let mut ds = vec![0f32; t * t];
            matmul(&mut ds, t, da_h, v_g.t(), 1.0, false);
            for i in 0..t {
                let pr = &p[i * t..(i + 1) * t];
                let dr = &mut ds[i * t..(i + 1) * t];
                let dot: f32 = pr[..=i].iter().zip(&dr[..=i]).map(|(a, b)| a * b).sum();
                for j in 0..=i {
                    dr[j] = pr[j] * (dr[j] - dot);
                }
                dr[i + 1..].fill(0.0);
            }
            // ∂q = scale · ∂S·k; ∂k += scale · ∂Sᵀ·q
            let mut dqh = vec![0f32; t * hd];
            matmul(&mut dqh, hd, Mat::new(&ds, t, t), k_g, scale, false);
            for (i, row) in dqh.chunks_exact(hd).enumerate() {
                // SAFETY: query head h owns columns h·hd.. of ∂q.
                unsafe { sq.slice(i * qd + h * hd, hd) }.copy_from_slice(row);
            }
            matmul(&mut dkg, hd, Mat::new(&ds, t, t).t(), q_h, scale, true);
        }
        for i in 0..t {
            // SAFETY: key/value head g owns columns g·hd.. of ∂k and ∂v.
            unsafe { sk.slice(i * kd + g * hd, hd) }.copy_from_slice(&dkg[i * hd..(i + 1) * hd]);
            unsafe { sv.slice(i * kd + g * hd, hd) }.copy_from_slice(&dvg[i * hd..(i + 1) * hd]);
        }
    });
    (dq, dk, dv)
}

/// ∂x of `y = w ⊙ x · r` with `r = 1/√(mean(x²) + eps)`, per row.
fn rms_norm_backward(x: &[f32], w: &[f32], eps: f32, dy: &[f32]) -> Vec<f32> {
    let d = w.len();
    let mut dx = vec![0f32; x.len()];
    for ((xr, dyr), dxr) in x
        .chunks_exact(d)
        .zip(dy.chunks_exact(d))
        .zip(dx.chunks_exact_mut(d))
    {
        let ms: f64 = xr.iter().map(|&v| (v * v) as f64).sum::<f64>() / d as f64;
        let r = 1.0 / (ms as f32 + eps).sqrt();
        let gx: f32 = xr
            .iter()
            .zip(dyr)
            .zip(w)
            .map(|((&x, &dy), &w)| dy * w * x)
            .sum();
        let c = r * r * r * gx / d as f32;
        for (((o, &x), &dy), &w) in dxr.iter_mut().zip(xr).zip(dyr).zip(w) {
            *o = r * dy * w - c * x;
        }
    }
    dx
}
