//! Adapter gradients on a candle device (`opensoc-train --device cuda`): the device forward of
//! `src/backend/candle.rs` with the adapter's matrices as variables, candle's autograd for the
//! backward pass, and the gradients copied back for the trainer's optimiser, which stays on
//! the host (the adapter is 5 M parameters; the base model never leaves the device).

use candle_core::{DType, Device, Tensor, Var, D};

use crate::backend::candle::{DeviceAdapter, DeviceLlama, DeviceLoraPair, Pass};
use crate::model::config::ModelError;
use crate::model::lora::LoraAdapter;
use crate::train::backprop::{AdapterGrads, Dropout, Gradients, Sequence};

/// Gradients of a LoRA adapter through a model on a candle device.
pub struct DeviceBackprop {
    model: DeviceLlama,
}

impl DeviceBackprop {
    /// Wraps `model` (its own adapter, if any, is ignored: the trained one is passed in).
    /// Dropout masks come from the device's generator, seeded with `seed` where the device
    /// allows it (CUDA does; candle's CPU generator cannot be seeded).
    pub fn new(model: DeviceLlama, seed: u64) -> Result<Self, ModelError> {
        if model.device().is_cuda() {
            model.device().set_seed(seed)?;
        }
        Ok(DeviceBackprop { model })
    }

    /// The device the gradients are computed on.
    pub fn device(&self) -> &Device {
        self.model.device()
    }

    /// The summed NLL of `seq`'s counted predictions, and with `grads` adds
    /// `scale · ∂NLL/∂adapter` to them.
    fn run(
        &self,
        adapter: &LoraAdapter,
        seq: &Sequence,
        dropout: f32,
        scale: f32,
        grads: Option<&mut AdapterGrads>,
    ) -> Result<f64, ModelError> {
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
        let dev = self.model.device();
        // The adapter as variables, in the order of `adapter.blocks`.
        let mut vars: Vec<(usize, usize, Var, Var)> = Vec::new();
        let mut blocks = Vec::with_capacity(adapter.blocks.len());
        for (l, b) in adapter.blocks.iter().enumerate() {
            let mut out: [Option<DeviceLoraPair>; 7] = Default::default();
            for (ti, (slot, pair)) in out.iter_mut().zip(b).enumerate() {
                if let Some(p) = pair {
                    let r = p.rank();
                    let a = Var::from_slice(&p.a, (r, p.in_dim), dev)?;
                    let bv = Var::from_slice(&p.b, (p.out_dim, r), dev)?;
                    *slot = Some(DeviceLoraPair {
                        a: a.as_tensor().clone(),
                        b: bv.as_tensor().clone(),
                    });
                    vars.push((l, ti, a, bv));
                }
            }
            blocks.push(out);
        }
        let dev_adapter = DeviceAdapter {
            blocks,
            scale: adapter.config.scale() as f64,
        };
        // Evaluation (`nll`) passes no dropout and runs the same graph, so that its NLL is what
        // training sees.
        let pass = Pass::Train { dropout };
        let mut cache = self.model.new_cache();
        let h = self
            .model
            .hidden(&seq.tokens, &mut cache, Some(&dev_adapter), pass)?;
        // Position i predicts token i + 1; only the counted positions enter the loss.
        let rows: Vec<u32> = (0..t - 1)
            .filter(|&i| seq.targets[i])
            .map(|i| i as u32)
            .collect();
        if rows.is_empty() {
            return Ok(0.0);
        }
        let next: Vec<u32> = rows.iter().map(|&i| seq.tokens[i as usize + 1]).collect();
        let n = rows.len();
        let h = h.index_select(&Tensor::from_vec(rows, n, dev)?, 0)?;
        let logits = self.model.logits(&h, pass)?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let picked = logp.gather(&Tensor::from_vec(next, (n, 1), dev)?, 1)?;
        let nll = picked.sum_all()?.neg()?;
        let value = nll.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if let Some(grads) = grads {
            let store = (nll * scale as f64)?.backward()?;
            for (l, ti, a, b) in &vars {
                let g = grads.blocks[*l][*ti]
                    .as_mut()
                    .expect("gradients are shaped like the adapter");
                for (var, dst) in [(a, &mut g.a), (b, &mut g.b)] {
                    // An adapter that never reached the loss has no gradient: zero.
                    if let Some(gv) = store.get(var.as_tensor()) {
                        let gv: Vec<f32> = gv.flatten_all()?.to_vec1()?;
                        for (d, s) in dst.iter_mut().zip(gv) {
                            *d += s;
                        }
                    }
                }
            }
        }
        Ok(value)
    }
}

impl Gradients for DeviceBackprop {
    fn accumulate(
        &self,
        adapter: &LoraAdapter,
        seq: &Sequence,
        dropout: &mut Dropout<'_>,
        scale: f32,
        grads: &mut AdapterGrads,
    ) -> Result<f64, ModelError> {
        self.run(adapter, seq, dropout.probability(), scale, Some(grads))
    }

    fn nll(&self, adapter: &LoraAdapter, seq: &Sequence) -> Result<f64, ModelError> {
        self.run(adapter, seq, 0.0, 0.0, None)
    }

    fn device_name(&self) -> &str {
        if self.model.device().is_cuda() {
            "cuda"
        } else {
            "candle"
        }
    }
}
