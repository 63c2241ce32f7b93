//! Training, compiled only with the `train` feature (which `opensoc-train` turns on): adapter
//! gradients by backprop through the CPU pass or on a candle device, and merged GGUF export.

pub mod backprop;
pub mod candle_backprop;
pub mod export;
pub mod peft_save;
