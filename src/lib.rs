//! opensoc core library: GGUF model runtime, tokenizer and the Llama forward pass.

pub mod attention;
pub mod bench;
pub mod cpu_ops;
pub mod dataset;
pub mod eval;
pub mod fetch;
pub mod gguf;
pub mod llama;
pub mod model_file;
pub mod model_info;
pub mod qmatmul;
pub mod quant;
pub mod report;
pub mod tokenizer;
pub mod verdict;
