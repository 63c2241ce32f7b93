//! Optimisers for the LoRA adapters: AdamW as PyTorch's `torch.optim.AdamW`, and an 8-bit AdamW
//! after bitsandbytes (Dettmers et al., "8-bit Optimizers via Block-wise Quantization"), plus
//! gradient clipping as `torch.nn.utils.clip_grad_norm_`.
//!
//! Parameters are a list of flat `f32` buffers (one per LoRA matrix) and gradients come in the
//! same shapes. The 8-bit optimiser stores both Adam moments as one byte per element in blocks
//! of [`BLOCK_SIZE`], each block scaled by its own absolute maximum: the first moment (signed)
//! on a signed dynamic-tree map, the second (never negative) on an unsigned one that has a
//! small floor code where bitsandbytes has zero (see [`V_FLOOR`] for why). Each step
//! decodes a block to f32, runs the exact AdamW update on it and encodes it again to the nearest
//! code. As in bitsandbytes (`min_8bit_size`), buffers under [`MIN_8BIT_SIZE`] elements keep
//! f32 moments: their state is small, and their absmax would be shared by few values.
//!
//! Nothing here is random: the same gradients always give the same parameters and states.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Elements per quantization block of the 8-bit state (bitsandbytes' block size).
pub const BLOCK_SIZE: usize = 2048;

/// Buffers with fewer elements keep f32 moments under AdamW8bit (bitsandbytes' `min_8bit_size`).
pub const MIN_8BIT_SIZE: usize = 4096;

/// Which optimiser.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
pub enum OptimKind {
    /// AdamW with f32 moments (PyTorch's `torch.optim.AdamW`).
    #[serde(rename = "adamw")]
    #[value(name = "adamw")]
    AdamW,
    /// AdamW with block-wise 8-bit moments (bitsandbytes' `AdamW8bit`).
    #[serde(rename = "adamw8bit")]
    #[value(name = "adamw8bit")]
    AdamW8bit,
}

impl OptimKind {
    /// The name used on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            OptimKind::AdamW => "adamw",
            OptimKind::AdamW8bit => "adamw8bit",
        }
    }

    fn tag(self) -> u8 {
        match self {
            OptimKind::AdamW => 0,
            OptimKind::AdamW8bit => 1,
        }
    }
}

impl fmt::Display for OptimKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimKind {
    type Err = OptimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "adamw" => Ok(OptimKind::AdamW),
            "adamw8bit" => Ok(OptimKind::AdamW8bit),
            other => Err(OptimError::UnknownKind(other.to_string())),
        }
    }
}

/// AdamW hyper-parameters; the defaults are the paper's (Table IV) and PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Base learning rate; each step's rate is the `lr` argument of [`Optimizer::step`].
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f32,
    /// Decoupled weight decay: `p -= lr * weight_decay * p` before the update.
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Why an optimiser name or a saved optimiser state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptimError {
    /// The name is neither `adamw` nor `adamw8bit`.
    #[error("unknown optimiser `{0}` (expected adamw or adamw8bit)")]
    UnknownKind(String),
    /// The bytes do not start with the optimiser-state magic.
    #[error("not an opensoc optimiser state (bad magic)")]
    BadMagic,
    /// The state was written by a format version this build does not read.
    #[error("optimiser state format version {0} is not supported (expected {FORMAT_VERSION})")]
    UnsupportedVersion(u32),
    /// The state is of another optimiser.
    #[error("optimiser state is for {found}, but the run uses {expected}")]
    KindMismatch {
        /// The optimiser of this run.
        expected: String,
        /// The optimiser the state names.
        found: String,
    },
    /// The state names an optimiser this build does not know.
    #[error("optimiser state names an unknown optimiser (tag {0})")]
    UnknownKindTag(u8),
    /// The state holds another number of parameter buffers.
    #[error("optimiser state has {found} parameter buffers, the model has {expected}")]
    BufferCount {
        /// Buffers of this run's adapters.
        expected: usize,
        /// Buffers in the state.
        found: u64,
    },
    /// A buffer's length differs from the parameter it belongs to.
    #[error("optimiser state buffer {index} has {found} elements, the parameter has {expected}")]
    ShapeMismatch {
        /// Index of the buffer.
        index: usize,
        /// Elements of the parameter.
        expected: usize,
        /// Elements in the state.
        found: u64,
    },
    /// A buffer's storage (f32 or 8-bit) is not the one this optimiser uses for its size.
    #[error("optimiser state buffer {index} has storage tag {found}, expected {expected}")]
    StorageMismatch {
        /// Index of the buffer.
        index: usize,
        /// The tag this optimiser uses for it.
        expected: u8,
        /// The tag in the state.
        found: u8,
    },
    /// A moment or a block scale is NaN, infinite, or a negative second moment or scale.
    #[error("optimiser state buffer {index} holds a non-finite or negative value")]
    BadValue {
        /// Index of the buffer.
        index: usize,
    },
    /// The bytes end before the state does (a torn or cut file).
    #[error("optimiser state is truncated at byte {at} (needed {needed} more bytes)")]
    Truncated {
        /// Offset where reading stopped.
        at: usize,
        /// Bytes that were missing there.
        needed: usize,
    },
    /// Bytes follow the end of the state.
    #[error("optimiser state has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
}

/// An optimiser over a fixed list of parameter buffers.
pub trait Optimizer {
    /// One update of every buffer at learning rate `lr`; panics if shapes differ from the
    /// optimiser's.
    ///
    /// Gradients must be finite: the trainer checks the norm [`clip_grad_norm`] returns and
    /// skips (or stops) on NaN or infinity, since a NaN would spread into the moments.
    fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]], lr: f32);
    /// Bytes held by the moments (and block scales), the memory the optimiser adds.
    fn state_bytes(&self) -> usize;
    /// The state (step count and moments) as bytes, for checkpoints.
    fn save(&self) -> Vec<u8>;
    /// Replaces the state with one from [`Optimizer::save`]; on error the state is unchanged.
    fn load(&mut self, bytes: &[u8]) -> Result<(), OptimError>;
    /// Updates taken so far (restored by [`Optimizer::load`]).
    fn steps(&self) -> u64;
    /// Which optimiser this is.
    fn kind(&self) -> OptimKind;
}

/// An optimiser of `kind` for parameter buffers of the given element counts.
pub fn new_optimizer(
    kind: OptimKind,
    cfg: AdamWConfig,
    shapes: &[usize],
) -> Box<dyn Optimizer + Send> {
    let states = shapes
        .iter()
        .map(|&len| Moments::zeros(storage_for(kind, len), len))
        .collect();
    Box::new(Adam {
        kind,
        cfg,
        step: 0,
        shapes: shapes.to_vec(),
        states,
    })
}

/// Clips the global L2 norm of all gradients to `max_norm` in place; returns the norm before.
///
/// As `torch.nn.utils.clip_grad_norm_`: the norm is taken over every element of every buffer
/// (summed in f64 here), and when `max_norm / (norm + 1e-6) < 1` every gradient is multiplied by
/// that coefficient. A NaN or infinite norm is returned as is and the gradients are left alone:
/// the caller must not step on them.
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f32) -> f32 {
    let sum_sq: f64 = grads.iter().map(|g| sum_squares(g)).sum();
    let norm = sum_sq.sqrt();
    if !norm.is_finite() {
        return norm as f32;
    }
    let coef = f64::from(max_norm) / (norm + 1e-6);
    if coef < 1.0 {
        let coef = coef as f32;
        for g in grads.iter_mut() {
            for x in g.iter_mut() {
                *x *= coef;
            }
        }
    }
    norm as f32
}

fn sum_squares(xs: &[f32]) -> f64 {
    // Eight independent accumulators let the compiler vectorise a sum it must otherwise keep
    // in order; the result differs from a sequential sum only in f64 rounding.
    let mut acc = [0f64; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            let x = f64::from(x);
            *a += x * x;
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum();
    acc.iter().sum::<f64>() + tail
}

/// How one buffer's moments are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    F32,
    Blockwise8,
}

impl Storage {
    fn tag(self) -> u8 {
        match self {
            Storage::F32 => 0,
            Storage::Blockwise8 => 1,
        }
    }
}

fn storage_for(kind: OptimKind, len: usize) -> Storage {
    match kind {
        OptimKind::AdamW => Storage::F32,
        OptimKind::AdamW8bit if len < MIN_8BIT_SIZE => Storage::F32,
        OptimKind::AdamW8bit => Storage::Blockwise8,
    }
}

/// Adam's two moments of one buffer.
#[derive(Debug, Clone, PartialEq)]
enum Moments {
    F32 {
        m: Vec<f32>,
        v: Vec<f32>,
    },
    Blockwise8 {
        m_codes: Vec<u8>,
        v_codes: Vec<u8>,
        m_absmax: Vec<f32>,
        v_absmax: Vec<f32>,
    },
}

impl Moments {
    fn zeros(storage: Storage, len: usize) -> Moments {
        match storage {
            Storage::F32 => Moments::F32 {
                m: vec![0.0; len],
                v: vec![0.0; len],
            },
            Storage::Blockwise8 => {
                let blocks = len.div_ceil(BLOCK_SIZE);
                Moments::Blockwise8 {
                    m_codes: vec![signed_map().zero_code(); len],
                    v_codes: vec![unsigned_map().zero_code(); len],
                    m_absmax: vec![0.0; blocks],
                    v_absmax: vec![0.0; blocks],
                }
            }
        }
    }

    fn storage(&self) -> Storage {
        match self {
            Moments::F32 { .. } => Storage::F32,
            Moments::Blockwise8 { .. } => Storage::Blockwise8,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Moments::F32 { m, v } => (m.len() + v.len()) * 4,
            Moments::Blockwise8 {
                m_codes,
                v_codes,
                m_absmax,
                v_absmax,
            } => m_codes.len() + v_codes.len() + (m_absmax.len() + v_absmax.len()) * 4,
        }
    }
}

/// The per-step scalars of AdamW, computed in f64 as PyTorch computes them in Python floats.
#[derive(Debug, Clone, Copy)]
struct StepScalars {
    decay: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
}

impl StepScalars {
    fn new(cfg: &AdamWConfig, lr: f32, step: u64) -> StepScalars {
        let lr = f64::from(lr);
        let (b1, b2) = (f64::from(cfg.beta1), f64::from(cfg.beta2));
        // Steps beyond i32::MAX make the corrections exactly 1 anyway.
        let t = i32::try_from(step).unwrap_or(i32::MAX);
        let bias_correction1 = 1.0 - b1.powi(t);
        let bias_correction2 = 1.0 - b2.powi(t);
        StepScalars {
            decay: (1.0 - lr * f64::from(cfg.weight_decay)) as f32,
            one_minus_beta1: (1.0 - b1) as f32,
            beta2: cfg.beta2,
            one_minus_beta2: (1.0 - b2) as f32,
            step_size: (lr / bias_correction1) as f32,
            bias_correction2_sqrt: bias_correction2.sqrt() as f32,
            eps: cfg.eps,
        }
    }
}

/// The AdamW update of one run of elements, in the order of PyTorch's single-tensor AdamW.
#[inline]
fn adamw_kernel(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], s: StepScalars) {
    let n = p.len();
    // Equal lengths up front let the compiler drop the per-element bounds checks.
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let gi = g[i];
        let pi = p[i] * s.decay;
        // exp_avg.lerp_(grad, 1 - beta1): PyTorch's lerp with a weight under 0.5 is this form.
        let mi = m[i] + s.one_minus_beta1 * (gi - m[i]);
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        let vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
        let denom = vi.sqrt() / s.bias_correction2_sqrt + s.eps;
        p[i] = pi - s.step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

/// AdamW whose buffers keep f32 or block-wise 8-bit moments.
struct Adam {
    kind: OptimKind,
    cfg: AdamWConfig,
    step: u64,
    shapes: Vec<usize>,
    states: Vec<Moments>,
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]], lr: f32) {
        assert_eq!(params.len(), self.shapes.len(), "parameter buffer count");
        assert_eq!(grads.len(), self.shapes.len(), "gradient buffer count");
        self.step += 1;
        let s = StepScalars::new(&self.cfg, lr, self.step);
        let (signed, unsigned) = (signed_map(), unsigned_map());
        // Scratch for one decoded block, reused across blocks and buffers.
        let mut m_buf = vec![0f32; BLOCK_SIZE];
        let mut v_buf = vec![0f32; BLOCK_SIZE];
        for (i, ((p, g), state)) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.states)
            .enumerate()
        {
            let len = self.shapes[i];
            assert!(
                p.len() == len && g.len() == len,
                "buffer {i}: parameter {} and gradient {} elements, optimiser built for {len}",
                p.len(),
                g.len()
            );
            match state {
                Moments::F32 { m, v } => adamw_kernel(p, g, m, v, s),
                Moments::Blockwise8 {
                    m_codes,
                    v_codes,
                    m_absmax,
                    v_absmax,
                } => {
                    let blocks = p
                        .chunks_mut(BLOCK_SIZE)
                        .zip(g.chunks(BLOCK_SIZE))
                        .zip(m_codes.chunks_mut(BLOCK_SIZE))
                        .zip(v_codes.chunks_mut(BLOCK_SIZE))
                        .zip(m_absmax.iter_mut().zip(v_absmax.iter_mut()));
                    for ((((pb, gb), mq), vq), (ma, va)) in blocks {
                        let n = pb.len();
                        let (mb, vb) = (&mut m_buf[..n], &mut v_buf[..n]);
                        signed.decode(mq, *ma, mb);
                        unsigned.decode(vq, *va, vb);
                        adamw_kernel(pb, gb, mb, vb, s);
                        *ma = signed.encode(mb, mq);
                        *va = unsigned.encode(vb, vq);
                    }
                }
            }
        }
    }

    fn state_bytes(&self) -> usize {
        self.states.iter().map(Moments::bytes).sum()
    }

    fn save(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.state_bytes() + 9 * self.states.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(self.kind.tag());
        out.extend_from_slice(&self.step.to_le_bytes());
        out.extend_from_slice(&(self.states.len() as u64).to_le_bytes());
        for state in &self.states {
            match state {
                Moments::F32 { m, v } => {
                    out.extend_from_slice(&(m.len() as u64).to_le_bytes());
                    out.push(Storage::F32.tag());
                    put_f32s(&mut out, m);
                    put_f32s(&mut out, v);
                }
                Moments::Blockwise8 {
                    m_codes,
                    v_codes,
                    m_absmax,
                    v_absmax,
                } => {
                    out.extend_from_slice(&(m_codes.len() as u64).to_le_bytes());
                    out.push(Storage::Blockwise8.tag());
                    put_f32s(&mut out, m_absmax);
                    put_f32s(&mut out, v_absmax);
                    out.extend_from_slice(m_codes);
                    out.extend_from_slice(v_codes);
                }
            }
        }
        out
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), OptimError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(OptimError::BadMagic);
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(OptimError::UnsupportedVersion(version));
        }
        let kind = match r.u8()? {
            0 => OptimKind::AdamW,
            1 => OptimKind::AdamW8bit,
            tag => return Err(OptimError::UnknownKindTag(tag)),
        };
        if kind != self.kind {
            return Err(OptimError::KindMismatch {
                expected: self.kind.to_string(),
                found: kind.to_string(),
            });
        }
        let step = r.u64()?;
        let count = r.u64()?;
        if count != self.shapes.len() as u64 {
            return Err(OptimError::BufferCount {
                expected: self.shapes.len(),
                found: count,
            });
        }
        let mut states = Vec::with_capacity(self.shapes.len());
        for (index, &expected) in self.shapes.iter().enumerate() {
            // The length is checked against the model before anything is allocated from it.
            let found = r.u64()?;
            if found != expected as u64 {
                return Err(OptimError::ShapeMismatch {
                    index,
                    expected,
                    found,
                });
            }
            let storage = storage_for(self.kind, expected);
            let tag = r.u8()?;
            if tag != storage.tag() {
                return Err(OptimError::StorageMismatch {
                    index,
                    expected: storage.tag(),
                    found: tag,
                });
            }
            let bad = || OptimError::BadValue { index };
            let state = match storage {
                Storage::F32 => {
                    let m = r.f32s(expected)?;
                    let v = r.f32s(expected)?;
                    if !m.iter().all(|x| x.is_finite())
                        || !v.iter().all(|&x| x >= 0.0 && x.is_finite())
                    {
                        return Err(bad());
                    }
                    Moments::F32 { m, v }
                }
                Storage::Blockwise8 => {
                    let blocks = expected.div_ceil(BLOCK_SIZE);
                    let m_absmax = r.f32s(blocks)?;
                    let v_absmax = r.f32s(blocks)?;
                    let scale_ok = |x: &f32| *x >= 0.0 && x.is_finite();
                    if !m_absmax.iter().all(scale_ok) || !v_absmax.iter().all(scale_ok) {
                        return Err(bad());
                    }
                    // Every byte is a valid code of a 256-entry map, so codes need no check.
                    let m_codes = r.take(expected)?.to_vec();
                    let v_codes = r.take(expected)?.to_vec();
                    Moments::Blockwise8 {
                        m_codes,
                        v_codes,
                        m_absmax,
                        v_absmax,
                    }
                }
            };
            debug_assert_eq!(state.storage(), storage);
            states.push(state);
        }
        let rest = bytes.len() - r.at;
        if rest != 0 {
            return Err(OptimError::TrailingBytes(rest));
        }
        self.step = step;
        self.states = states;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn kind(&self) -> OptimKind {
        self.kind
    }
}

const MAGIC: &[u8; 8] = b"OSOPTIM\0";
const FORMAT_VERSION: u32 = 1;
/// Magic, version, kind, step and buffer count.
const HEADER_LEN: usize = 8 + 4 + 1 + 8 + 8;

fn put_f32s(out: &mut Vec<u8>, xs: &[f32]) {
    for x in xs {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// A cursor over saved state that fails, never panics, when bytes run out.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], OptimError> {
        let rest = &self.bytes[self.at..];
        if rest.len() < n {
            return Err(OptimError::Truncated {
                at: self.at,
                needed: n - rest.len(),
            });
        }
        self.at += n;
        Ok(&rest[..n])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], OptimError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, OptimError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, OptimError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, OptimError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, OptimError> {
        // n is a parameter's length, known to fit in memory, so n * 4 cannot overflow.
        let raw = self.take(n * 4)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// A 256-code quantization map with a fast nearest-code encoder.
///
/// Codes are sorted ascending. Encoding looks up the top 17 bits of the f32 (sign, exponent and
/// 8 mantissa bits) in a table giving the nearest code of the smallest value with those bits;
/// the map is coarse enough that the nearest code of any value with those bits is that code or
/// the next one (checked when the table is built), so one comparison finishes the search. Ties
/// go to the lower code.
struct QuantMap {
    /// The codes, then +inf so that "the next code" always exists.
    code: [f32; 257],
    start: Box<[u8; LUT_LEN]>,
}

const LUT_SHIFT: u32 = 15;
const LUT_LEN: usize = 1 << (32 - LUT_SHIFT);

impl QuantMap {
    fn new(mut values: Vec<f32>) -> QuantMap {
        values.sort_by(f32::total_cmp);
        assert_eq!(values.len(), 256, "a quantization map has 256 codes");
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "quantization codes must be distinct"
        );
        let mut code = [f32::INFINITY; 257];
        code[..256].copy_from_slice(&values);
        let mut start = Box::new([0u8; LUT_LEN]);
        for (bucket, slot) in start.iter_mut().enumerate() {
            let (lo, hi) = bucket_range(bucket);
            let first = nearest_code(&code[..256], lo);
            let last = nearest_code(&code[..256], hi);
            // One comparison after the lookup must reach the nearest code of any value in the
            // bucket; NaN buckets are exempt (their codes are meaningless either way).
            assert!(
                lo.is_nan() || hi.is_nan() || last <= first + 1,
                "bucket {bucket:#x} spans codes {first}..={last}"
            );
            *slot = first as u8;
        }
        QuantMap { code, start }
    }

    /// The code of value 0 (a fresh moment).
    fn zero_code(&self) -> u8 {
        self.encode_one(0.0)
    }

    #[inline]
    fn encode_one(&self, x: f32) -> u8 {
        let i = self.start[(x.to_bits() >> LUT_SHIFT) as usize] as usize;
        let up = self.code[i + 1] - x < x - self.code[i];
        // i + 1 reaches 256 only when the next code is +inf, and then `up` is false.
        (i + usize::from(up)) as u8
    }

    #[inline]
    fn decode_one(&self, q: u8) -> f32 {
        self.code[q as usize]
    }

    /// Dequantizes a block: `code[q] * absmax`.
    fn decode(&self, codes: &[u8], absmax: f32, out: &mut [f32]) {
        for (o, &q) in out.iter_mut().zip(codes) {
            *o = self.decode_one(q) * absmax;
        }
    }

    /// Quantizes a block to the nearest codes of `x / absmax`; returns the block's absmax.
    fn encode(&self, xs: &[f32], codes: &mut [u8]) -> f32 {
        let absmax = abs_max(xs);
        // An all-zero block keeps scale 0 and encodes every value as code 0.0.
        let inv = if absmax > 0.0 { 1.0 / absmax } else { 0.0 };
        for (q, &x) in codes.iter_mut().zip(xs) {
            *q = self.encode_one(x * inv);
        }
        absmax
    }
}

/// The smallest and largest f32 whose top bits are `bucket`.
fn bucket_range(bucket: usize) -> (f32, f32) {
    let low_bits = (1u32 << LUT_SHIFT) - 1;
    let first = (bucket as u32) << LUT_SHIFT;
    let (a, b) = (f32::from_bits(first), f32::from_bits(first | low_bits));
    // Negative floats grow in magnitude with their bits, so their order flips.
    if a.is_sign_negative() {
        (b, a)
    } else {
        (a, b)
    }
}

/// Index of the code nearest `x` (the lower on a tie), by binary search over sorted codes.
fn nearest_code(code: &[f32], x: f32) -> usize {
    let above = code.partition_point(|&c| c < x);
    if above == 0 {
        0
    } else if above == code.len() {
        code.len() - 1
    } else if code[above] - x < x - code[above - 1] {
        above
    } else {
        above - 1
    }
}

fn abs_max(xs: &[f32]) -> f32 {
    // Lane-wise maxima vectorise; a single running max would be a serial dependency chain.
    let mut acc = [0f32; 8];
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            let x = x.abs();
            *a = if x > *a { x } else { *a };
        }
    }
    let tail = chunks.remainder().iter().fold(0f32, |a, &x| a.max(x.abs()));
    acc.iter().fold(tail, |a, &x| a.max(x))
}

/// Magnitudes of the dynamic-tree map: for each power of ten `10^-6 .. 10^0`, the midpoints of
/// `per_decade(i)` equal steps spanning `[0.1, 1]` of that decade.
///
/// This is the dynamic data type of Dettmers (2016) as bitsandbytes builds it (its
/// `create_dynamic_map` with 7 exponent bits): the exponent, written as a run of zero bits
/// ended by an indicator bit, leaves more fraction bits to the larger decades, so precision is
/// relative, fine near the block's absmax and coarse (but tiny in absolute terms) near zero.
fn dynamic_magnitudes(per_decade: impl Fn(u32) -> usize) -> Vec<f64> {
    let mut out = Vec::new();
    for i in 0..7u32 {
        let scale = 10f64.powi(i as i32 - 6);
        let n = per_decade(i);
        let step = 0.9 / n as f64;
        out.extend((0..n).map(|k| scale * (0.1 + step * (k as f64 + 0.5))));
    }
    out
}

/// The second-moment code that takes the place of bitsandbytes' 0: one step of the decade
/// below the map's smallest (0.55e-7 of the block's absmax).
///
/// With a zero code, a second moment under ~1.6e-7 of its block's largest decodes to 0 while
/// the first moment, which spans only the square root of that range, survives; the update is
/// then `m / eps`, a jump of thousands of learning rates. Li, Chen and Zhu ("Memory Efficient
/// Optimizers with 4-bit States", NeurIPS 2023) call this the zero-point problem and drop the
/// zero from the second moment's map; so does this map. Tiny second moments now round up to the
/// floor, which can only shrink their (already tiny) updates. A zero block still decodes to 0,
/// through its absmax of 0. On the quadratic test with curvatures spread over three decades
/// (loss 28,502 at the start, 1,101 after AdamW), the map with 0 diverges to 1,981,226 and this
/// one reaches 1,053; with equal curvatures both maps give the same 859.6.
const V_FLOOR: f32 = 0.55e-7;

/// Signed dynamic map for the first moment: 127 magnitudes (1, 2, …, 64 per decade), both
/// signs, 0 and +1; its most negative code is -0.993, as in bitsandbytes.
fn signed_map() -> &'static QuantMap {
    static MAP: OnceLock<QuantMap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mags = dynamic_magnitudes(|i| 1 << i);
        let mut values: Vec<f32> = mags.iter().flat_map(|&m| [m as f32, -m as f32]).collect();
        values.extend([0.0, 1.0]);
        QuantMap::new(values)
    })
}

/// Unsigned dynamic map for the second moment: the sign bit becomes one more fraction bit, so
/// 254 magnitudes (2, 4, …, 128 per decade), then [`V_FLOOR`] where bitsandbytes has 0, and 1.
fn unsigned_map() -> &'static QuantMap {
    static MAP: OnceLock<QuantMap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut values: Vec<f32> = dynamic_magnitudes(|i| 2 << i)
            .iter()
            .map(|&m| m as f32)
            .collect();
        values.extend([V_FLOOR, 1.0]);
        QuantMap::new(values)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a seeded generator for test data (the optimisers themselves use none).
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }

        fn normals(&mut self, n: usize, scale: f64) -> Vec<f32> {
            (0..n).map(|_| (self.normal() * scale) as f32).collect()
        }
    }

    fn step_once(opt: &mut dyn Optimizer, params: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        let mut p: Vec<&mut [f32]> = params.iter_mut().map(|v| v.as_mut_slice()).collect();
        let g: Vec<&[f32]> = grads.iter().map(|v| v.as_slice()).collect();
        opt.step(&mut p, &g, lr);
    }

    // The three-step references are torch.optim.AdamW's single-tensor update evaluated in Python
    // floats (f64), from p0 = [0.5, -1.0, 2.0, 0.0] with these gradients:
    //   for t, (g, lr) in enumerate(zip(grads, lrs), 1):
    //       p = [x * (1 - lr * wd) for x in p]
    //       m = [mi + (gi - mi) * (1 - b1) for mi, gi in zip(m, g)]
    //       v = [vi * b2 + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
    //       bc1 = 1 - b1 ** t; bc2 = 1 - b2 ** t
    //       p = [x - lr / bc1 * mi / (math.sqrt(vi) / math.sqrt(bc2) + eps) for x, mi, vi in ...]
    // with b1 = 0.9, b2 = 0.999, eps = 1e-8.
    const P0: [f32; 4] = [0.5, -1.0, 2.0, 0.0];
    const GRADS: [[f32; 4]; 3] = [
        [0.1, -0.2, 0.3, 0.0],
        [-0.05, 0.4, 0.3, 1e-3],
        [0.2, 0.1, -0.6, -2.0],
    ];

    fn three_steps(kind: OptimKind, cfg: AdamWConfig, lrs: [f32; 3], want: [[f64; 4]; 3]) {
        let mut opt = new_optimizer(kind, cfg, &[4]);
        let mut params = vec![P0.to_vec()];
        for ((g, lr), want) in GRADS.iter().zip(lrs).zip(want) {
            step_once(opt.as_mut(), &mut params, &[g.to_vec()], lr);
            for (got, want) in params[0].iter().zip(want) {
                // f32 arithmetic against an f64 reference: a few f32 ulps at magnitude ~1.
                assert!(
                    (f64::from(*got) - want).abs() <= 1e-6,
                    "step {}: got {:?}, want {want:?}",
                    opt.steps(),
                    params[0]
                );
            }
        }
        assert_eq!(opt.steps(), 3);
    }

    #[test]
    fn adamw_matches_pytorch_for_three_steps() {
        let want = [
            [0.4900000009999999, -0.9900000005, 1.9900000003333334, 0.0],
            [
                0.4873366309403391,
                -0.9936610356546037,
                1.9800000006666667,
                -0.007441263026631013,
            ],
            [
                0.4807555154351381,
                -0.9978175474963835,
                1.9807564939564073,
                -0.001056002546472836,
            ],
        ];
        three_steps(OptimKind::AdamW, AdamWConfig::default(), [1e-2; 3], want);
        // A 4-element buffer is under MIN_8BIT_SIZE, so the 8-bit optimiser keeps f32 moments
        // and must agree too.
        three_steps(
            OptimKind::AdamW8bit,
            AdamWConfig::default(),
            [1e-2; 3],
            want,
        );
    }

    #[test]
    fn adamw_weight_decay_is_decoupled_and_lr_varies_per_step() {
        let cfg = AdamWConfig {
            weight_decay: 0.1,
            ..AdamWConfig::default()
        };
        let want = [
            [0.4989500001, -0.99890000005, 1.9988000000333332, 0.0],
            [
                0.49831753608804785,
                -0.9994324270809107,
                1.9964002400999934,
                -0.0014882526053262026,
            ],
            [
                0.4947778195674034,
                -1.0010109667882603,
                1.9957802866248138,
                0.001705121761055549,
            ],
        ];
        three_steps(OptimKind::AdamW, cfg, [1e-3, 2e-3, 5e-3], want);
    }

    #[test]
    fn small_buffers_keep_f32_state_under_8bit() {
        let shapes = [MIN_8BIT_SIZE - 1, MIN_8BIT_SIZE, 3000];
        let mut rng = Rng(7);
        let mut a = new_optimizer(OptimKind::AdamW, AdamWConfig::default(), &shapes);
        let mut b = new_optimizer(OptimKind::AdamW8bit, AdamWConfig::default(), &shapes);
        let init: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 1.0)).collect();
        let (mut pa, mut pb) = (init.clone(), init);
        for _ in 0..3 {
            let grads: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 0.1)).collect();
            step_once(a.as_mut(), &mut pa, &grads, 1e-3);
            step_once(b.as_mut(), &mut pb, &grads, 1e-3);
        }
        // Bitwise equal where the state is f32, different where it is quantized.
        assert_eq!(pa[0], pb[0]);
        assert_eq!(pa[2], pb[2]);
        assert_ne!(pa[1], pb[1]);
    }

    #[test]
    fn maps_are_sorted_and_span_the_unit_range() {
        let s = signed_map();
        let u = unsigned_map();
        for map in [s, u] {
            assert!(map.code[..256].windows(2).all(|w| w[0] < w[1]));
            assert_eq!(map.code[255], 1.0);
        }
        assert!((s.code[0] + 0.99296875).abs() < 1e-6, "{}", s.code[0]);
        assert_eq!(s.decode_one(s.zero_code()), 0.0);
        // The second moment's map has no zero: its smallest code is the floor.
        assert_eq!(u.code[0], V_FLOOR);
        assert_eq!(u.zero_code(), 0);
        // Smallest non-zero magnitudes of bitsandbytes' maps: 0.55e-6 (one step in the lowest
        // decade, signed) and 0.325e-6 (two steps, unsigned).
        let s_zero = s.zero_code() as usize;
        assert!((s.code[s_zero + 1] - 0.55e-6).abs() < 1e-12);
        assert!((u.code[1] - 0.325e-6).abs() < 1e-12);
        // 127 codes each side of zero in the signed map; 254 + floor + 1 in the unsigned.
        assert_eq!(s_zero, 127);
    }

    /// Values at and around every midpoint between codes, every bucket edge, and random ones.
    fn probe_values(map: &QuantMap, rng: &mut Rng) -> Vec<f32> {
        let mut xs = Vec::new();
        for w in map.code[..256].windows(2) {
            let mid = (w[0] + w[1]) / 2.0;
            for x in [w[0], w[1], mid] {
                xs.extend([x, f32::from_bits(x.to_bits().wrapping_add(1))]);
                xs.push(f32::from_bits(x.to_bits().wrapping_sub(1)));
            }
        }
        for bucket in (0..LUT_LEN).step_by(7) {
            let (lo, hi) = bucket_range(bucket);
            if lo.abs() <= 1.5 && hi.abs() <= 1.5 {
                xs.extend([lo, hi]);
            }
        }
        for _ in 0..200_000 {
            let mag = 10f64.powf(-8.0 * rng.uniform());
            let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
            xs.push((sign * mag) as f32);
        }
        xs.retain(|x| x.is_finite());
        xs
    }

    #[test]
    fn encoder_finds_the_nearest_code() {
        let mut rng = Rng(1);
        for map in [signed_map(), unsigned_map()] {
            for x in probe_values(map, &mut rng) {
                let fast = map.encode_one(x) as usize;
                let brute = (0..256)
                    .min_by(|&a, &b| {
                        let (da, db) = ((map.code[a] - x).abs(), (map.code[b] - x).abs());
                        da.total_cmp(&db).then(a.cmp(&b))
                    })
                    .unwrap_or(0);
                assert_eq!(fast, brute, "x = {x:e}");
            }
        }
    }

    #[test]
    fn map_error_bounds() {
        let mut rng = Rng(2);
        for (map, signed) in [(signed_map(), true), (unsigned_map(), false)] {
            // Codes per decade: the unsigned map has twice the signed map's.
            let per_decade = |i: i32| if signed { 1 << i } else { 2 << i } as f64;
            for x in probe_values(map, &mut rng) {
                if !signed && x < 0.0 {
                    continue;
                }
                let x = x.clamp(-1.0, 1.0);
                let err = f64::from((map.decode_one(map.encode_one(x)) - x).abs());
                let a = f64::from(x.abs());
                // Absolute: half the widest gap, 0.9/64/2 (signed) or 0.9/128/2 (unsigned);
                // the signed map's -0.993 floor is exactly that far from -1.
                let abs_bound = if signed { 0.00703125 } else { 0.003515625 } + 1e-7;
                assert!(err <= abs_bound, "x = {x:e}: error {err:e}");
                // Relative: in the decade [0.1, 1]·10^(i-6), half a step (0.45/n of the decade)
                // over the decade's floor, 4.5/n.
                if a >= 1e-7 {
                    let i = (a.log10().floor() as i32 + 7).clamp(0, 6);
                    let rel_bound = 4.5 / per_decade(i) + 1e-6;
                    assert!(
                        err / a <= rel_bound,
                        "x = {x:e}: relative error {}",
                        err / a
                    );
                } else {
                    // Below the lowest decade the codes are 0 (signed) or the floor (unsigned).
                    assert!(err <= 1e-7, "x = {x:e}: error {err:e}");
                }
            }
        }
    }

    #[test]
    fn blockwise_round_trip_is_within_the_absmax_bound() {
        let mut rng = Rng(3);
        let xs = rng.normals(BLOCK_SIZE, 0.01);
        let sq: Vec<f32> = xs.iter().map(|x| x * x).collect();
        for (map, data, bound) in [
            (signed_map(), &xs, 0.00703125f32),
            (unsigned_map(), &sq, 0.003515625),
        ] {
            let mut codes = vec![0u8; data.len()];
            let absmax = map.encode(data, &mut codes);
            assert_eq!(absmax, abs_max(data));
            let mut back = vec![0f32; data.len()];
            map.decode(&codes, absmax, &mut back);
            for (x, y) in data.iter().zip(&back) {
                assert!((x - y).abs() <= absmax * (bound + 1e-6), "{x} -> {y}");
            }
        }
        // A zero block stays exactly zero with scale 0.
        for map in [signed_map(), unsigned_map()] {
            let mut codes = vec![0u8; 16];
            assert_eq!(map.encode(&[0.0; 16], &mut codes), 0.0);
            let mut back = vec![1f32; 16];
            map.decode(&codes, 0.0, &mut back);
            assert!(back.iter().all(|&x| x == 0.0));
        }
    }

    #[test]
    fn second_moment_never_decodes_to_zero_in_a_live_block() {
        let v = [1.0f32, 1e-6, 1e-9, 1e-20, 0.0];
        let mut codes = [0u8; 5];
        let absmax = unsigned_map().encode(&v, &mut codes);
        let mut back = [0f32; 5];
        unsigned_map().decode(&codes, absmax, &mut back);
        assert_eq!(back[0], 1.0);
        assert!(back.iter().all(|&x| x >= V_FLOOR), "{back:?}");
    }

    /// Loss before and after 200 AdamW steps (constant lr 1e-2, from 0) on
    /// sum(c_i (p_i - t_i)^2) over 20,000 parameters in one buffer, targets t_i ~ N(0, 1); c_i is
    /// 1, or spread log-uniformly over [0.01, 10] when `spread`.
    fn quadratic_loss(kind: OptimKind, spread: bool) -> (f64, f64) {
        const N: usize = 20_000;
        const STEPS: usize = 200;
        let mut rng = Rng(42);
        let target: Vec<f32> = rng.normals(N, 1.0);
        let curv: Vec<f32> = (0..N)
            .map(|_| {
                let u = rng.uniform();
                if spread {
                    10f64.powf(-2.0 + 3.0 * u) as f32
                } else {
                    1.0
                }
            })
            .collect();
        let loss = |p: &[f32]| -> f64 {
            p.iter()
                .zip(&target)
                .zip(&curv)
                .map(|((&p, &t), &c)| f64::from(c) * f64::from(p - t).powi(2))
                .sum()
        };
        let mut params = vec![vec![0f32; N]];
        let start = loss(&params[0]);
        let mut opt = new_optimizer(kind, AdamWConfig::default(), &[N]);
        for _ in 0..STEPS {
            let grad: Vec<f32> = params[0]
                .iter()
                .zip(&target)
                .zip(&curv)
                .map(|((&p, &t), &c)| 2.0 * c * (p - t))
                .collect();
            step_once(opt.as_mut(), &mut params, &[grad], 1e-2);
        }
        (start, loss(&params[0]))
    }

    fn compare_on_quadratic(spread: bool, tolerance: f64) {
        let (start, full) = quadratic_loss(OptimKind::AdamW, spread);
        let (_, eight) = quadratic_loss(OptimKind::AdamW8bit, spread);
        eprintln!(
            "quadratic (spread {spread}): start {start:.2}, AdamW {full:.2}, AdamW8bit {eight:.2} \
             ({:+.1}%)",
            (eight / full - 1.0) * 100.0
        );
        assert!(
            full < start * 0.1,
            "AdamW did not converge: {start} -> {full}"
        );
        assert!(
            (eight - full).abs() <= tolerance * full,
            "AdamW8bit {eight} vs AdamW {full}"
        );
    }

    #[test]
    fn adamw8bit_matches_adamw_on_a_quadratic() {
        compare_on_quadratic(false, 0.05);
    }

    #[test]
    fn adamw8bit_survives_gradients_of_many_magnitudes() {
        // Here bitsandbytes' second-moment map (with its zero code) diverges; see V_FLOOR.
        compare_on_quadratic(true, 0.10);
    }

    #[test]
    fn eight_bit_state_is_a_quarter() {
        let shapes = [1 << 20, 24_576, 9216];
        let full = new_optimizer(OptimKind::AdamW, AdamWConfig::default(), &shapes);
        let eight = new_optimizer(OptimKind::AdamW8bit, AdamWConfig::default(), &shapes);
        let n: usize = shapes.iter().sum();
        assert_eq!(full.state_bytes(), n * 8);
        let blocks: usize = shapes.iter().map(|s| s.div_ceil(BLOCK_SIZE)).sum();
        assert_eq!(eight.state_bytes(), n * 2 + blocks * 8);
        let ratio = eight.state_bytes() as f64 / full.state_bytes() as f64;
        assert!(ratio < 0.30, "ratio {ratio}");
    }

    /// Two buffers of each storage, stepped a few times.
    fn trained(kind: OptimKind) -> (Box<dyn Optimizer + Send>, Vec<Vec<f32>>, Vec<usize>) {
        let shapes = vec![5000, 100, 2 * BLOCK_SIZE + 17, 7];
        let mut rng = Rng(9);
        let mut opt = new_optimizer(kind, AdamWConfig::default(), &shapes);
        let mut params: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 1.0)).collect();
        for _ in 0..4 {
            let grads: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 0.1)).collect();
            step_once(opt.as_mut(), &mut params, &grads, 1e-3);
        }
        (opt, params, shapes)
    }

    #[test]
    fn save_load_continues_identically() {
        for kind in [OptimKind::AdamW, OptimKind::AdamW8bit] {
            let (mut original, params, shapes) = trained(kind);
            let saved = original.save();
            let mut restored = new_optimizer(kind, AdamWConfig::default(), &shapes);
            restored.load(&saved).expect("own state loads");
            assert_eq!(restored.steps(), 4);
            assert_eq!(restored.save(), saved);
            let mut rng = Rng(10);
            let (mut pa, mut pb) = (params.clone(), params);
            for _ in 0..3 {
                let grads: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 0.1)).collect();
                step_once(original.as_mut(), &mut pa, &grads, 2e-3);
                step_once(restored.as_mut(), &mut pb, &grads, 2e-3);
            }
            assert_eq!(pa, pb, "{kind}");
            assert_eq!(original.save(), restored.save(), "{kind}");
        }
    }

    #[test]
    fn load_refuses_bad_state_and_keeps_its_own() {
        let (mut opt, _, shapes) = trained(OptimKind::AdamW8bit);
        let good = opt.save();
        let fresh = new_optimizer(OptimKind::AdamW8bit, AdamWConfig::default(), &shapes).save();
        let mut check = |bytes: &[u8], what: &str| {
            let err = opt.load(bytes).expect_err(what);
            assert!(!err.to_string().is_empty());
            assert_eq!(opt.save(), good, "{what}: state changed");
            err
        };

        // Every cut of the header and the first buffer, then a sample of the rest.
        let cuts = (0..200).chain((200..good.len()).step_by(997));
        for cut in cuts {
            let err = check(&good[..cut], "truncated");
            assert!(
                matches!(err, OptimError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(check(&trailing, "trailing"), OptimError::TrailingBytes(1));

        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(check(&bad, "magic"), OptimError::BadMagic);
        let mut bad = good.clone();
        bad[8] = 9;
        assert_eq!(check(&bad, "version"), OptimError::UnsupportedVersion(9));
        let mut bad = good.clone();
        bad[12] = 0;
        assert!(matches!(
            check(&bad, "kind"),
            OptimError::KindMismatch { .. }
        ));
        let mut bad = good.clone();
        bad[12] = 7;
        assert_eq!(check(&bad, "kind tag"), OptimError::UnknownKindTag(7));
        let mut bad = good.clone();
        bad[21] = 5;
        assert!(matches!(
            check(&bad, "count"),
            OptimError::BufferCount { found: 5, .. }
        ));
        let mut bad = good.clone();
        bad[HEADER_LEN] = 1;
        assert!(matches!(
            check(&bad, "len"),
            OptimError::ShapeMismatch { index: 0, .. }
        ));
        let mut bad = good.clone();
        bad[HEADER_LEN + 8] = 0;
        assert!(matches!(
            check(&bad, "storage"),
            OptimError::StorageMismatch { index: 0, .. }
        ));
        // The first block scale of buffer 0 made NaN.
        let mut bad = good.clone();
        bad[HEADER_LEN + 9..HEADER_LEN + 13].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(check(&bad, "nan"), OptimError::BadValue { index: 0 });
        // The first second moment of buffer 1 (f32 storage) made negative.
        let buf1 = HEADER_LEN + 9 + 3 * 8 + 2 * 5000;
        let mut bad = good.clone();
        let v0 = buf1 + 9 + 100 * 4;
        bad[v0..v0 + 4].copy_from_slice(&(-1f32).to_le_bytes());
        assert_eq!(check(&bad, "negative v"), OptimError::BadValue { index: 1 });

        // Another model's state, and the other optimiser's.
        let other = new_optimizer(OptimKind::AdamW8bit, AdamWConfig::default(), &[5000]).save();
        assert!(matches!(
            check(&other, "model"),
            OptimError::BufferCount { .. }
        ));
        let adamw = new_optimizer(OptimKind::AdamW, AdamWConfig::default(), &shapes).save();
        assert!(matches!(
            check(&adamw, "other kind"),
            OptimError::KindMismatch { .. }
        ));
        check(&[], "empty");

        opt.load(&fresh).expect("a fresh state loads");
        assert_eq!(opt.steps(), 0);
    }

    #[test]
    fn clip_grad_norm_as_pytorch() {
        // Norm of [3, 4] and [12] is 13.
        let (mut a, mut b) = (vec![3f32, 4.0], vec![12f32]);
        let norm = clip_grad_norm(&mut [&mut a, &mut b], 1.0);
        assert_eq!(norm, 13.0);
        let coef = (1.0 / (13.0 + 1e-6)) as f32;
        assert_eq!(a, vec![3.0 * coef, 4.0 * coef]);
        assert_eq!(b, vec![12.0 * coef]);

        // Under the limit: untouched.
        let mut c = vec![0.3f32, 0.4];
        assert!((clip_grad_norm(&mut [&mut c], 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(c, vec![0.3, 0.4]);

        // A non-finite norm is reported and the gradients are left for the caller.
        let mut d = vec![f32::NAN, 1.0];
        assert!(clip_grad_norm(&mut [&mut d], 1.0).is_nan());
        assert_eq!(d[1], 1.0);
        let mut e = vec![f32::INFINITY, 1.0];
        assert!(clip_grad_norm(&mut [&mut e], 1.0).is_infinite());
        assert_eq!(e[1], 1.0);

        // f64 accumulation: 10^6 elements of 1e-3 have norm exactly 1 to f32 precision.
        let mut f = vec![1e-3f32; 1_000_000];
        let norm = clip_grad_norm(&mut [&mut f], 2.0);
        assert!((norm - 1.0).abs() < 1e-6, "{norm}");
        assert_eq!(clip_grad_norm(&mut [], 1.0), 0.0);
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in [OptimKind::AdamW, OptimKind::AdamW8bit] {
            assert_eq!(kind.to_string().parse::<OptimKind>(), Ok(kind));
        }
        assert!(matches!(
            "adam".parse::<OptimKind>(),
            Err(OptimError::UnknownKind(_))
        ));
    }

    /// SmolLM2-135M's LoRA buffers at r = 16 (hidden 576, kv 192, intermediate 1536, 30 layers).
    fn smollm2_shapes() -> Vec<usize> {
        let (h, kv, inter, r) = (576, 192, 1536, 16);
        let per_layer = [
            (h, h),
            (h, kv),
            (h, kv),
            (h, h),
            (h, inter),
            (h, inter),
            (inter, h),
        ];
        (0..30)
            .flat_map(|_| per_layer.iter().flat_map(move |&(i, o)| [r * i, o * r]))
            .collect()
    }

    /// Step time over the 4.9M SmolLM2 adapter parameters:
    /// `cargo test -p opensoc-trainer --release --lib -- --ignored --nocapture step_time`.
    #[test]
    #[ignore = "timing, not a check"]
    fn step_time() {
        let shapes = smollm2_shapes();
        assert_eq!(shapes.len(), 420);
        assert_eq!(shapes.iter().sum::<usize>(), 4_884_480);
        let mut rng = Rng(5);
        let mut params: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 0.02)).collect();
        let grads: Vec<Vec<f32>> = shapes.iter().map(|&n| rng.normals(n, 1e-3)).collect();
        for kind in [OptimKind::AdamW, OptimKind::AdamW8bit] {
            let mut opt = new_optimizer(kind, AdamWConfig::default(), &shapes);
            step_once(opt.as_mut(), &mut params, &grads, 2e-4);
            let reps = 20;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                step_once(opt.as_mut(), &mut params, &grads, 2e-4);
            }
            let per = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
            let mut g: Vec<Vec<f32>> = grads.clone();
            let mut gs: Vec<&mut [f32]> = g.iter_mut().map(|v| v.as_mut_slice()).collect();
            let t = std::time::Instant::now();
            let norm = clip_grad_norm(&mut gs, 1.0);
            let clip = t.elapsed().as_secs_f64() * 1e3;
            eprintln!(
                "{kind}: step {per:.2} ms, state {} bytes; clip_grad_norm {clip:.2} ms (norm {norm:.3})",
                opt.state_bytes()
            );
        }
    }
}
