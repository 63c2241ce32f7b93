//! Library side of `opensoc-train`: the pieces of LoRA fine-tuning the binary drives.

pub mod optim;
pub mod schedule;
