//! LoRA adapters: low-rank updates `W + (alpha/r)·B·A` on a Llama's seven projections, with
//! PEFT's initialisation, applied unmerged at inference and trained by `opensoc-train`.

use serde::{Deserialize, Serialize};

use crate::cpu::gemm::{matmul, Mat};
use crate::model::config::LlamaConfig;

/// A projection of a Llama block that can carry an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Attention query projection.
    QProj,
    /// Attention key projection.
    KProj,
    /// Attention value projection.
    VProj,
    /// Attention output projection.
    OProj,
    /// MLP gate projection.
    GateProj,
    /// MLP up projection.
    UpProj,
    /// MLP down projection.
    DownProj,
}

impl Target {
    /// All seven, in the order a block applies them.
    pub const ALL: [Target; 7] = [
        Target::QProj,
        Target::KProj,
        Target::VProj,
        Target::OProj,
        Target::GateProj,
        Target::UpProj,
        Target::DownProj,
    ];

    /// The module name PEFT and Hugging Face use (`q_proj`).
    pub fn name(self) -> &'static str {
        match self {
            Target::QProj => "q_proj",
            Target::KProj => "k_proj",
            Target::VProj => "v_proj",
            Target::OProj => "o_proj",
            Target::GateProj => "gate_proj",
            Target::UpProj => "up_proj",
            Target::DownProj => "down_proj",
        }
    }

    /// The target a module name names.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The sub-module path inside a block (`self_attn.q_proj`, `mlp.down_proj`).
    pub fn module_path(self) -> String {
        match self {
            Target::QProj | Target::KProj | Target::VProj | Target::OProj => {
                format!("self_attn.{}", self.name())
            }
            _ => format!("mlp.{}", self.name()),
        }
    }

    /// Index in [`Target::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// `(in_features, out_features)` of the projection under `cfg`.
    pub fn dims(self, cfg: &LlamaConfig) -> (usize, usize) {
        let d = cfg.n_embd;
        let kv = cfg.n_head_kv * cfg.head_dim();
        match self {
            Target::QProj | Target::OProj => (d, d),
            Target::KProj | Target::VProj => (d, kv),
            Target::GateProj | Target::UpProj => (d, cfg.n_ff),
            Target::DownProj => (cfg.n_ff, d),
        }
    }
}

/// Rank, scale, dropout and targets of an adapter (PEFT's `LoraConfig` fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// Rank r.
    pub r: usize,
    /// alpha; the update is scaled by alpha / r.
    pub alpha: f32,
    /// Dropout on the adapter's input during training.
    pub dropout: f32,
    /// Projections that carry an adapter.
    pub targets: Vec<Target>,
}

impl Default for LoraConfig {
    /// The paper's Table IV: r 16, alpha 32, dropout 0.05, all seven projections.
    fn default() -> Self {
        LoraConfig {
            r: 16,
            alpha: 32.0,
            dropout: 0.05,
            targets: Target::ALL.to_vec(),
        }
    }
}

impl LoraConfig {
    /// The factor on `B·A`.
    pub fn scale(&self) -> f32 {
        self.alpha / self.r as f32
    }

    /// Trainable parameters of this configuration on a model: `r·(in + out)` per adapted
    /// projection per block.
    pub fn trainable_params(&self, cfg: &LlamaConfig) -> usize {
        let per_block: usize = self
            .targets
            .iter()
            .map(|t| {
                let (i, o) = t.dims(cfg);
                self.r * (i + o)
            })
            .sum();
        per_block * cfg.n_layer
    }
}

/// One adapted projection: `A` is `r × in`, `B` is `out × r`, both row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraPair {
    /// Down-projection `r × in_features`.
    pub a: Vec<f32>,
    /// Up-projection `out_features × r`.
    pub b: Vec<f32>,
    /// in_features.
    pub in_dim: usize,
    /// out_features.
    pub out_dim: usize,
}

impl LoraPair {
    /// Rank of the pair.
    pub fn rank(&self) -> usize {
        self.a.len() / self.in_dim
    }

    /// Adds `scale · B·(A·x)` for each of the `t` rows of `x` (`t × in`) to `y` (`t × out`).
    pub fn add_delta(&self, x: &[f32], t: usize, scale: f32, y: &mut [f32]) {
        let r = self.rank();
        let mut ax = vec![0f32; t * r];
        matmul(
            &mut ax,
            r,
            Mat::new(x, t, self.in_dim),
            Mat::new(&self.a, r, self.in_dim).t(),
            scale,
            false,
        );
        matmul(
            y,
            self.out_dim,
            Mat::new(&ax, t, r),
            Mat::new(&self.b, self.out_dim, r).t(),
            1.0,
            true,
        );
    }
}

/// A whole adapter: per block, one optional pair per [`Target`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoraAdapter {
    /// Its configuration.
    pub config: LoraConfig,
    /// `blocks[layer][target.index()]`.
    pub blocks: Vec<[Option<LoraPair>; 7]>,
}

/// A small deterministic generator (SplitMix64) so that an initialisation is reproducible from
/// a seed on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

impl LoraAdapter {
    /// A fresh adapter with PEFT's initialisation: `A` Kaiming-uniform with `a = √5` (bound
    /// `1/√in`), `B` zero, so training starts from the base model exactly.
    pub fn init(model: &LlamaConfig, config: LoraConfig, seed: u64) -> LoraAdapter {
        let mut rng = SplitMix64::new(seed);
        let blocks = (0..model.n_layer)
            .map(|_| {
                std::array::from_fn(|i| {
                    let t = Target::ALL[i];
                    config.targets.contains(&t).then(|| {
                        let (in_dim, out_dim) = t.dims(model);
                        let bound = 1.0 / (in_dim as f32).sqrt();
                        LoraPair {
                            a: (0..config.r * in_dim)
                                .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                                .collect(),
                            b: vec![0.0; out_dim * config.r],
                            in_dim,
                            out_dim,
                        }
                    })
                })
            })
            .collect();
        LoraAdapter { config, blocks }
    }

    /// Parameters held.
    pub fn param_count(&self) -> usize {
        self.blocks
            .iter()
            .flatten()
            .flatten()
            .map(|p| p.a.len() + p.b.len())
            .sum()
    }

    /// The pair on `target` of block `layer`, if adapted.
    pub fn pair(&self, layer: usize, target: Target) -> Option<&LoraPair> {
        self.blocks.get(layer)?[target.index()].as_ref()
    }

    /// PEFT's tensor name of a pair's `A` or `B`
    /// (`base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`).
    pub fn peft_name(layer: usize, target: Target, which: char) -> String {
        format!(
            "base_model.model.model.layers.{layer}.{}.lora_{which}.weight",
            target.module_path()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(
        n_layer: usize,
        n_embd: usize,
        n_head: usize,
        n_head_kv: usize,
        n_ff: usize,
    ) -> LlamaConfig {
        LlamaConfig {
            n_layer,
            n_embd,
            n_head,
            n_head_kv,
            n_ff,
            vocab: 32000,
            ctx_len: 2048,
            rope_base: 10000.0,
            rms_eps: 1e-5,
        }
    }

    #[test]
    fn trainable_parameters_match_the_paper_and_smollm2() {
        let lc = LoraConfig::default();
        // TinyLlama-1.1B: 22 blocks, 2048 wide, 32 heads with 4 key/value heads, MLP 5632.
        assert_eq!(lc.trainable_params(&cfg(22, 2048, 32, 4, 5632)), 12_615_680);
        // SmolLM2-135M: 30 blocks, 576 wide, 9 heads with 3 key/value heads, MLP 1536.
        let smol = cfg(30, 576, 9, 3, 1536);
        assert_eq!(lc.trainable_params(&smol), 4_884_480);
        assert_eq!(LoraAdapter::init(&smol, lc, 7).param_count(), 4_884_480);
    }

    #[test]
    fn init_is_peft_kaiming_uniform_and_zero_b() {
        let c = cfg(2, 64, 4, 2, 128);
        let a = LoraAdapter::init(&c, LoraConfig::default(), 1);
        let p = a.pair(0, Target::GateProj).unwrap();
        let bound = 1.0 / 64f32.sqrt();
        assert!(p.a.iter().all(|v| v.abs() <= bound));
        let mean_abs = p.a.iter().map(|v| v.abs()).sum::<f32>() / p.a.len() as f32;
        assert!((mean_abs - bound / 2.0).abs() < bound * 0.1, "{mean_abs}");
        assert!(p.b.iter().all(|&v| v == 0.0));
        assert_eq!((p.in_dim, p.out_dim), (64, 128));
        assert_eq!(a, LoraAdapter::init(&c, LoraConfig::default(), 1));
        assert_ne!(a, LoraAdapter::init(&c, LoraConfig::default(), 2));
    }

    #[test]
    fn delta_is_scale_b_a_x() {
        let p = LoraPair {
            a: vec![1.0, 2.0, 0.0, 1.0],           // r=2, in=2
            b: vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], // out=3, r=2
            in_dim: 2,
            out_dim: 3,
        };
        let mut y = vec![10.0, 10.0, 10.0];
        p.add_delta(&[1.0, 1.0], 1, 2.0, &mut y);
        // A·x = [3, 1]; ·2 = [6, 2]; B·that = [6, 2, 8].
        assert_eq!(y, vec![16.0, 12.0, 18.0]);
    }

    #[test]
    fn peft_names() {
        assert_eq!(
            LoraAdapter::peft_name(3, Target::QProj, 'A'),
            "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"
        );
        assert_eq!(
            LoraAdapter::peft_name(0, Target::DownProj, 'B'),
            "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"
        );
        assert_eq!(Target::from_name("up_proj"), Some(Target::UpProj));
    }
}
