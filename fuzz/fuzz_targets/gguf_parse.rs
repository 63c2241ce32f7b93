//! Arbitrary bytes into the GGUF header parser; whatever parses must also be safe to read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opensoc::gguf::read::Gguf;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::parse(data) else { return };
    // The parser promised every tensor's range lies inside `data`; slicing checks that promise.
    for t in &g.tensors {
        let bytes = g.tensor_data(data, t);
        assert_eq!(bytes.len() as u64, t.size);
        let _ = (t.elements(), t.shape());
        assert!(g.tensor(&t.name).is_some());
    }
    for (k, v) in &g.metadata {
        let _ = (v.summary(), v.as_u64(), v.as_f64(), v.as_str(), v.as_bool());
        let _ = (g.get_str(k), g.get_u64(k), g.get_f64(k), g.get_strings(k));
        if let Some(a) = v.as_array() {
            for item in a.iter().take(64) {
                let _ = item.summary();
            }
        }
    }
    let _ = g.architecture();
});
