//! The real default model for the tests that run it: fetched into `$OPENSOC_HOME` when
//! missing, then opened and loaded on the CPU, with the shipped adapter when asked.

use opensoc::gguf::file::ModelFile;
use opensoc::model::llama::Llama;
use opensoc::model::shipped::shipped_adapter;
use opensoc::model::tokenizer::Tokenizer;

/// The model file, its CPU model (carrying the shipped adapter when `shipped`) and its
/// tokenizer.
pub fn load(shipped: bool) -> (ModelFile, Llama, Tokenizer) {
    let path = opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let file = ModelFile::open(path).expect("model opens");
    let tok = Tokenizer::from_gguf(&file.gguf).expect("tokenizer");
    let mut llama = Llama::load(&file).expect("model loads");
    if shipped {
        let adapter = shipped_adapter(llama.config()).expect("shipped adapter fits");
        llama.set_adapter(Some(adapter)).expect("adapter on cpu");
    }
    (file, llama, tok)
}
