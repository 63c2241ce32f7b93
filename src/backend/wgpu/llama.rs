//! The Llama forward pass on a GPU through wgpu, with our own WGSL kernels (`src/backend/wgpu/wgsl/`).
//!
//! It mirrors `src/model/llama.rs` step for step and rounds where it rounds: weights stay in their GGUF
//! blocks on the GPU and are read in place; activations are quantized to 8 bits for Q4_0,
//! Q4_1 and Q8_0 products; keys, values, queries and attention probabilities pass through f16;
//! the adapter is applied unmerged. Weights are uploaded once; a forward pass uploads its token
//! ids and parameters, runs as one command buffer, and reads back the last position's logits.

use std::sync::{Arc, Mutex};

use crate::backend::wgpu::device::{describe, Gpu};
use crate::backend::wgpu::kernels::{staging_buffer, GpuMatrix, Kernels, Recorder, MAX_HEAD_DIM};
use crate::model::config::{LlamaConfig, ModelError};
use crate::model::language_model::LanguageModel;
use crate::model::llama::Llama;
use crate::model::lora::Target;
use crate::quant::matmul::QMatrix;

/// One LoRA pair on the GPU: `A` (`rank × in`) and `B` (`out × rank`), dense f32.
struct GpuPair {
    a: wgpu::Buffer,
    b: wgpu::Buffer,
    rank: usize,
    in_dim: usize,
    out_dim: usize,
}

struct GpuBlock {
    attn_norm: wgpu::Buffer,
    wq: GpuMatrix,
    wk: GpuMatrix,
    wv: GpuMatrix,
    wo: GpuMatrix,
    ffn_norm: wgpu::Buffer,
    gate: GpuMatrix,
    up: GpuMatrix,
    down: GpuMatrix,
    /// The adapter's pairs, by [`Target::index`].
    lora: [Option<GpuPair>; 7],
}

/// Working buffers for passes of up to `rows` tokens.
struct Scratch {
    rows: usize,
    tokens: wgpu::Buffer,
    x: wgpu::Buffer,
    h: wgpu::Buffer,
    q: wgpu::Buffer,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    att: wgpu::Buffer,
    o: wgpu::Buffer,
    g: wgpu::Buffer,
    u: wgpu::Buffer,
    /// 8-bit activations: quants, scales, scaled sums.
    q8: [wgpu::Buffer; 3],
    /// `scale · A·x` of a LoRA pair.
    lora: wgpu::Buffer,
    logits: wgpu::Buffer,
    staging: wgpu::Buffer,
}

/// A Llama-architecture model on a wgpu device.
pub struct WgpuLlama {
    gpu: Arc<Gpu>,
    kernels: Kernels,
    cfg: LlamaConfig,
    embed: GpuMatrix,
    blocks: Vec<GpuBlock>,
    norm: wgpu::Buffer,
    output: GpuMatrix,
    /// RoPE tables, as the CPU path's.
    rope: [wgpu::Buffer; 2],
    lora_scale: f32,
    max_rank: usize,
    scratch: Mutex<Option<Scratch>>,
    name: String,
}

/// The keys and values of one sequence, on the GPU: per block, `capacity × kv_dim` f32 each.
pub struct WgpuCache {
    gpu: Arc<Gpu>,
    k: Vec<wgpu::Buffer>,
    v: Vec<wgpu::Buffer>,
    n_layer: usize,
    kv_dim: usize,
    capacity: usize,
    len: usize,
    /// Why this cache's contents are gone (a copy the device could not make).
    lost: Option<String>,
}

/// Positions a new cache's buffers hold before they grow (doubling, up to the context).
const FIRST_CAPACITY: usize = 256;

impl WgpuCache {
    /// Buffers of `capacity` positions holding the first `keep` positions of `self`.
    fn regrown(&self, capacity: usize, keep: usize) -> Result<Self, ModelError> {
        let bytes = (capacity * self.kv_dim * 4) as u64;
        let copy = (keep.min(self.len) * self.kv_dim * 4) as u64;
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        let mut layers = |what: &str, old: &[wgpu::Buffer]| {
            (0..self.n_layer)
                .map(|i| {
                    let new = self.gpu.scratch(what, bytes)?;
                    if let Some(old) = old.get(i).filter(|_| copy > 0) {
                        enc.copy_buffer_to_buffer(old, 0, &new, 0, copy);
                    }
                    Ok(new)
                })
                .collect::<Result<Vec<_>, ModelError>>()
        };
        let k = layers("the key cache", &self.k)?;
        let v = layers("the value cache", &self.v)?;
        self.gpu.checked("copying the cache", || {
            self.gpu.queue.submit([enc.finish()]);
        })?;
        Ok(Self {
            gpu: self.gpu.clone(),
            k,
            v,
            n_layer: self.n_layer,
            kv_dim: self.kv_dim,
            capacity,
            len: keep.min(self.len),
            lost: None,
        })
    }
}

impl Clone for WgpuCache {
    /// A copy on the GPU (to share a prompt prefix between continuations).
    fn clone(&self) -> Self {
        // `LanguageModel::Cache: Clone` cannot fail; a device that cannot allocate another
        // cache of a size it already holds is lost, and the next forward reports it.
        self.regrown(self.capacity, self.len)
            .unwrap_or_else(|e| Self {
                gpu: self.gpu.clone(),
                k: Vec::new(),
                v: Vec::new(),
                n_layer: self.n_layer,
                kv_dim: self.kv_dim,
                capacity: 0,
                len: self.len,
                lost: Some(e.to_string()),
            })
    }
}

impl WgpuLlama {
    /// Uploads `model` (weights, norms, RoPE tables and its adapter, if any) to `gpu`.
    pub fn new(model: &Llama, gpu: Gpu) -> Result<Self, ModelError> {
        let gpu = Arc::new(gpu);
        let cfg = model.config().clone();
        if cfg.head_dim() > MAX_HEAD_DIM {
            return Err(ModelError::Backend(format!(
                "head size {} exceeds the wgpu attention kernel's {MAX_HEAD_DIM}",
                cfg.head_dim()
            )));
        }
        let max_groups = gpu.limits.max_compute_workgroups_per_dimension as usize;
        if cfg.ctx_len > max_groups {
            return Err(ModelError::Backend(format!(
                "a context of {} tokens exceeds {}'s {max_groups} workgroups per dimension",
                cfg.ctx_len,
                describe(&gpu.info)
            )));
        }
        let kernels = Kernels::new(&gpu)?;
        let matrix = |what: &str, m: &QMatrix| -> Result<GpuMatrix, ModelError> {
            Ok(GpuMatrix {
                buf: gpu.upload(what, m.bytes())?,
                ty: m.ty().id(),
                n: m.n(),
                k: m.k(),
                row_bytes: m.bytes().len() / m.n(),
            })
        };
        let adapter = model.adapter();
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        let mut max_rank = 0;
        for (i, b) in model.blocks().enumerate() {
            let w = |name: &str, l: &crate::model::llama::Linear| {
                matrix(&format!("blk.{i}.{name}"), l.weight())
            };
            let mut lora: [Option<GpuPair>; 7] = Default::default();
            if let Some(a) = adapter {
                for t in Target::ALL {
                    if let Some(p) = a.pair(i, t) {
                        max_rank = max_rank.max(p.rank());
                        lora[t.index()] = Some(GpuPair {
                            a: gpu.upload_f32(&format!("blk.{i}.{} lora_A", t.name()), &p.a)?,
                            b: gpu.upload_f32(&format!("blk.{i}.{} lora_B", t.name()), &p.b)?,
                            rank: p.rank(),
                            in_dim: p.in_dim,
                            out_dim: p.out_dim,
                        });
                    }
                }
            }
            blocks.push(GpuBlock {
                attn_norm: gpu.upload_f32("attn_norm", b.attn_norm)?,
                wq: w("attn_q", b.wq)?,
                wk: w("attn_k", b.wk)?,
                wv: w("attn_v", b.wv)?,
                wo: w("attn_output", b.wo)?,
                ffn_norm: gpu.upload_f32("ffn_norm", b.ffn_norm)?,
                gate: w("ffn_gate", b.gate)?,
                up: w("ffn_up", b.up)?,
                down: w("ffn_down", b.down)?,
                lora,
            });
        }
        let (cos, sin) = model.rope_rows(cfg.ctx_len);
        let name = "wgpu".to_string();
        Ok(Self {
            embed: matrix("token_embd", model.embedding())?,
            output: matrix("output", model.output().weight())?,
            norm: gpu.upload_f32("output_norm", model.output_norm())?,
            rope: [
                gpu.upload_f32("rope cos", &cos)?,
                gpu.upload_f32("rope sin", &sin)?,
            ],
            lora_scale: adapter.map_or(0.0, |a| a.config.scale()),
            max_rank,
            blocks,
            kernels,
            cfg,
            scratch: Mutex::new(None),
            gpu,
            name,
        })
    }

    /// The adapter the device was opened on, as a line for users.
    pub fn device_description(&self) -> String {
        describe(&self.gpu.info)
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// An empty cache (its buffers are allocated by the first forward pass).
    pub fn new_cache(&self) -> WgpuCache {
        WgpuCache {
            gpu: self.gpu.clone(),
            k: Vec::new(),
            v: Vec::new(),
            n_layer: self.cfg.n_layer,
            kv_dim: self.cfg.n_head_kv * self.cfg.head_dim(),
            capacity: 0,
            len: 0,
            lost: None,
        }
    }

    /// Working buffers for `rows` tokens.
    fn scratch(&self, rows: usize) -> Result<Scratch, ModelError> {
        let c = &self.cfg;
        let f = |what: &str, n: usize| self.gpu.scratch(what, (rows * n * 4) as u64);
        let widest = c.n_embd.max(c.n_ff);
        Ok(Scratch {
            rows,
            tokens: f("token ids", 1)?,
            x: f("hidden states", c.n_embd)?,
            h: f("normed states", c.n_embd)?,
            q: f("queries", c.n_embd)?,
            k: f("keys", c.n_head_kv * c.head_dim())?,
            v: f("values", c.n_head_kv * c.head_dim())?,
            att: f("attention output", c.n_embd)?,
            o: f("projection output", c.n_embd)?,
            g: f("gate", c.n_ff)?,
            u: f("up", c.n_ff)?,
            q8: [
                f("8-bit activations", widest / 4)?,
                f("8-bit scales", widest / 32)?,
                f("8-bit sums", widest / 32)?,
            ],
            lora: f("LoRA intermediate", self.max_rank.max(1))?,
            logits: self.gpu.scratch("logits", (c.vocab * 4) as u64)?,
            staging: staging_buffer(&self.gpu, c.vocab)?,
        })
    }

    /// Runs `tokens` after what `cache` holds; returns the logits of the last position.
    pub fn forward(&self, tokens: &[u32], cache: &mut WgpuCache) -> Result<Vec<f32>, ModelError> {
        let cfg = &self.cfg;
        let (t, pos) = (tokens.len(), cache.len);
        if t == 0 || pos + t > cfg.ctx_len {
            return Err(ModelError::ContextOverflow {
                len: pos + t,
                max: cfg.ctx_len,
            });
        }
        if let Some(why) = &cache.lost {
            return Err(ModelError::Backend(format!("the KV cache was lost: {why}")));
        }
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= cfg.vocab) {
            return Err(ModelError::BadToken {
                id,
                vocab: cfg.vocab,
            });
        }
        if pos + t > cache.capacity || cache.k.len() != cfg.n_layer {
            let capacity = (pos + t)
                .next_power_of_two()
                .max(FIRST_CAPACITY)
                .min(cfg.ctx_len);
            *cache = cache.regrown(capacity, pos)?;
        }

        let mut guard = self
            .scratch
            .lock()
            .map_err(|_| ModelError::Backend("a previous forward pass panicked".into()))?;
        if guard.as_ref().is_none_or(|s| s.rows < t) {
            let rows = t.next_power_of_two().max(64).min(cfg.ctx_len);
            *guard = Some(self.scratch(rows)?);
        }
        let s = guard.as_ref().expect("allocated above");
        let ids: Vec<u8> = tokens.iter().flat_map(|id| id.to_le_bytes()).collect();
        self.gpu.queue.write_buffer(&s.tokens, 0, &ids);

        let (d, hd, kv_dim) = (cfg.n_embd, cfg.head_dim(), cache.kv_dim);
        let q8 = [&s.q8[0], &s.q8[1], &s.q8[2]];
        let mut r = Recorder::new(&self.kernels);
        r.embed(&self.embed, &s.tokens, &s.x, t);
        for (i, b) in self.blocks.iter().enumerate() {
            r.rms_norm(&s.x, &b.attn_norm, &s.h, d, 0, t, cfg.rms_eps);
            self.linear(
                &mut r,
                &[(&b.wq, &s.q), (&b.wk, &s.k), (&b.wv, &s.v)],
                &s.h,
                t,
                q8,
            );
            self.lora(&mut r, b, Target::QProj, &s.h, &s.q, s, t);
            self.lora(&mut r, b, Target::KProj, &s.h, &s.k, s, t);
            self.lora(&mut r, b, Target::VProj, &s.h, &s.v, s, t);
            r.rope(
                [&self.rope[0], &self.rope[1]],
                &s.q,
                (t, cfg.n_head, hd),
                pos,
            );
            r.rope(
                [&self.rope[0], &self.rope[1]],
                &s.k,
                (t, cfg.n_head_kv, hd),
                pos,
            );
            let kv = [&cache.k[i], &cache.v[i]];
            r.kv_store([&s.k, &s.v], kv, t * kv_dim, pos * kv_dim);
            r.attention(&s.q, kv, &s.att, (cfg.n_head, cfg.n_head_kv, hd), pos, t);
            self.linear(&mut r, &[(&b.wo, &s.o)], &s.att, t, q8);
            self.lora(&mut r, b, Target::OProj, &s.att, &s.o, s, t);
            r.add(&s.x, &s.o, t * d);
            r.rms_norm(&s.x, &b.ffn_norm, &s.h, d, 0, t, cfg.rms_eps);
            self.linear(&mut r, &[(&b.gate, &s.g), (&b.up, &s.u)], &s.h, t, q8);
            self.lora(&mut r, b, Target::GateProj, &s.h, &s.g, s, t);
            self.lora(&mut r, b, Target::UpProj, &s.h, &s.u, s, t);
            r.swiglu(&s.g, &s.u, t * cfg.n_ff);
            self.linear(&mut r, &[(&b.down, &s.o)], &s.g, t, q8);
            self.lora(&mut r, b, Target::DownProj, &s.g, &s.o, s, t);
            r.add(&s.x, &s.o, t * d);
        }
        // Only the last position's logits are needed.
        r.rms_norm(&s.x, &self.norm, &s.h, d, t - 1, 1, cfg.rms_eps);
        if self.output.uses_q8() {
            r.quantize(&s.h, (t - 1) * d, 1, d, q8);
            r.matmul_q8(&self.output, q8, &s.logits, 1);
        } else {
            r.matmul_deq(&self.output, &s.h, (t - 1) * d, &s.logits, 1);
        }
        let logits = r.run(&self.gpu, &s.logits, &s.staging, cfg.vocab)?;
        cache.len = pos + t;
        Ok(logits)
    }

    /// Products of several matrices with one input of `t` rows, quantizing it once when any
    /// of them needs 8-bit activations.
    fn linear<'a>(
        &'a self,
        r: &mut Recorder<'a>,
        outs: &[(&'a GpuMatrix, &'a wgpu::Buffer)],
        x: &'a wgpu::Buffer,
        t: usize,
        q8: [&'a wgpu::Buffer; 3],
    ) {
        if outs.iter().any(|(w, _)| w.uses_q8()) {
            r.quantize(x, 0, t, outs[0].0.k, q8);
        }
        for &(w, y) in outs {
            if w.uses_q8() {
                r.matmul_q8(w, q8, y, t);
            } else {
                r.matmul_deq(w, x, 0, y, t);
            }
        }
    }

    /// Adds the adapter's delta `scale · B·(A·x)` for `target` of block `b` to `y`.
    #[allow(clippy::too_many_arguments)]
    fn lora<'a>(
        &self,
        r: &mut Recorder<'a>,
        b: &'a GpuBlock,
        target: Target,
        x: &'a wgpu::Buffer,
        y: &'a wgpu::Buffer,
        s: &'a Scratch,
        t: usize,
    ) {
        if let Some(p) = &b.lora[target.index()] {
            r.matmul_f32(
                &p.a,
                (p.rank, p.in_dim),
                x,
                &s.lora,
                t,
                self.lora_scale,
                false,
            );
            r.matmul_f32(&p.b, (p.out_dim, p.rank), &s.lora, y, t, 1.0, true);
        }
    }
}

impl LanguageModel for WgpuLlama {
    type Cache = WgpuCache;

    fn new_cache(&self) -> WgpuCache {
        WgpuLlama::new_cache(self)
    }

    fn cache_len(cache: &WgpuCache) -> usize {
        cache.len
    }

    fn truncate(cache: &mut WgpuCache, len: usize) {
        // Positions past `len` are overwritten by the next forward pass.
        cache.len = cache.len.min(len);
    }

    fn forward(&self, tokens: &[u32], cache: &mut WgpuCache) -> Result<Vec<f32>, ModelError> {
        WgpuLlama::forward(self, tokens, cache)
    }

    fn context_len(&self) -> usize {
        self.cfg.ctx_len
    }

    fn backend_name(&self) -> &str {
        &self.name
    }
}
