//! What every backend shares: the Llama config and its errors ([`config`]), the trait a backend
//! implements ([`language_model`]), the reference forward pass on the CPU ([`llama`]), LoRA
//! adapters and their PEFT files, the tokenizer, and where the default model and the shipped
//! adapter come from.

pub mod config;
pub mod fetch;
pub mod language_model;
pub mod llama;
pub mod lora;
pub mod peft;
pub mod shipped;
pub mod tokenizer;
