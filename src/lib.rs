//! opensoc core library: GGUF model runtime, tokenizer and the Llama forward pass.

pub mod analyzer;
pub mod attention;
pub mod bench;
pub mod cpu_ops;
pub mod decode;
pub mod fetch;
pub mod facts;
pub mod gguf;
pub mod llama;
pub mod model_file;
pub mod model_info;
pub mod prompt;
pub mod qmatmul;
pub mod quant;
pub mod taxonomy;
pub mod tokenizer;
pub mod verdict;
