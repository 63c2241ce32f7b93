//! Cross-checks our GGUF parser against gguf-rs, an independent reader, on the real model.

use opensoc::gguf::file::ModelFile;
use opensoc::gguf::read::Value;
use opensoc::model::fetch::ensure_default_model;

/// Whether our value and gguf-rs's JSON rendering of it agree.
fn same(ours: &Value, theirs: &serde_json::Value) -> bool {
    match (ours, theirs) {
        (Value::String(a), serde_json::Value::String(b)) => a == b,
        (Value::Bool(a), serde_json::Value::Bool(b)) => a == b,
        (Value::F32(a), b) => b.as_f64().is_some_and(|b| b as f32 == *a),
        (Value::F64(a), b) => b.as_f64() == Some(*a),
        (Value::Array(a), serde_json::Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::I8(_) | Value::I16(_) | Value::I32(_) | Value::I64(_), b) => {
            ours.as_f64().is_some_and(|a| b.as_i64() == Some(a as i64))
        }
        (a, b) => a.as_u64().is_some() && a.as_u64() == b.as_u64(),
    }
}

#[test]
fn agrees_with_gguf_rs_on_the_default_model() {
    let path = ensure_default_model(false).expect("default model (fetched if absent)");
    let ours = ModelFile::open(&path).expect("our parser");
    let path_str = path.to_str().expect("UTF-8 path");
    let theirs = gguf_rs::get_gguf_container_array_size(path_str, u64::MAX)
        .and_then(|mut c| c.decode())
        .expect("gguf-rs parser");

    assert_eq!(ours.gguf.data_offset, theirs.data_offset(), "data offset");
    assert_eq!(ours.gguf.alignment, theirs.alignment(), "alignment");
    assert_eq!(
        ours.gguf.tensors.len(),
        theirs.tensors().len(),
        "tensor count"
    );
    for (a, b) in ours.gguf.tensors.iter().zip(theirs.tensors()) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.dims, b.shape, "shape of {}", a.name);
        assert_eq!(a.ty.id(), b.kind, "type of {}", a.name);
        assert_eq!(a.offset, b.offset, "offset of {}", a.name);
        assert_eq!(a.size, b.size, "size of {}", a.name);
    }

    let kv = theirs.metadata();
    assert_eq!(ours.gguf.metadata.len(), kv.len(), "metadata count");
    for (key, value) in &ours.gguf.metadata {
        let other = kv.get(key).unwrap_or_else(|| panic!("gguf-rs lacks {key}"));
        assert!(
            same(value, other),
            "{key}: ours {} vs gguf-rs {other}",
            value.summary()
        );
    }
    for key in [
        "general.architecture",
        "llama.block_count",
        "llama.attention.head_count",
        "llama.attention.head_count_kv",
        "llama.embedding_length",
        "tokenizer.ggml.pre",
        "tokenizer.ggml.tokens",
        "tokenizer.chat_template",
    ] {
        assert!(ours.gguf.get(key).is_some(), "{key} missing");
    }
}
