//! Library side of `opensoc-train`: the pieces of LoRA fine-tuning the binary drives.

pub mod build;
pub mod data;
pub mod loss_plot;
pub mod optim;
pub mod schedule;
pub mod train;
