//! Arbitrary bytes as a model file: open, load the Llama, build the tokenizer and the info.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opensoc::model::llama::Llama;
use opensoc::gguf::file::ModelFile;
use opensoc::gguf::info::ModelInfo;
use opensoc::model::tokenizer::Tokenizer;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = ModelFile::from_bytes("fuzz.gguf", data) else {
        return;
    };
    if let Ok(info) = ModelInfo::from_file(&file) {
        let _ = (
            info.to_string(),
            format!("{info:#}"),
            info.tensor_types_summary(),
        );
    }
    if let Ok(tok) = Tokenizer::from_gguf(&file.gguf) {
        if let Ok(ids) = tok.encode("ab c <|im_start|>a\n", tok.add_bos_default(), true) {
            let _ = tok.decode(&ids);
        }
        for b in [b'a', b'\n', 0xff] {
            let _ = tok.byte_token_id(b);
        }
    }
    if let Ok(model) = Llama::load(&file) {
        // One token through the loaded weights: shapes accepted by the loader must run.
        let mut cache = model.new_cache();
        let _ = model.forward(&[0], &mut cache);
    }
});
