//! Forward-pass parity with llama.cpp on the default model.
//!
//! Fixture: tests/fixtures/llama_parity.json, written by scripts/reference_llama.py (llama.cpp
//! through llama-cpp-python, same GGUF, greedy, 2 threads). Each case holds the prompt's token
//! ids, llama.cpp's 32 greedy tokens, its last-position logits at a fixed set of ids, and for
//! every generated step its top-4 ids and logits and the margin between its top two.

use opensoc::model::language_model::argmax;

use opensoc::gguf::file::ModelFile;
use opensoc::model::llama::{greedy, Llama};
use serde_json::Value;

/// Largest accepted difference between opensoc's and llama.cpp's logits.
///
/// Both quantize activations to 8 bits per block of 32 before the integer products; the sums
/// then run in a different order (SIMD lanes, tiles, threads), and an activation that lands on
/// a rounding boundary of that quantization moves by a whole step, which the following layers
/// carry on. Measured over the 11,514 compared values (30 prompts, 32 steps): largest 1.18,
/// mean 0.18 with the AVX-512 kernels; largest 1.53, mean 0.15 with the AVX2 ones
/// (`OPENSOC_NO_AVX512=1`). llama.cpp against itself, flash attention on versus off, keeps
/// only 11 of the 30 greedy continuations identical.
const LOGIT_BOUND: f32 = 2.0;

/// llama.cpp's top-two margin below which a different greedy choice is accepted.
///
/// A choice flips only where the two implementations' logit errors on the two candidates
/// exceed llama.cpp's margin between them. The mean logit difference is about 0.18 and the
/// flips seen happen at margins up to 0.35; every
/// step where llama.cpp prefers its token by more than this must agree.
const NEAR_TIE: f32 = 0.75;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/llama_parity.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn load() -> Llama {
    let path = opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let file = ModelFile::open(path).expect("model opens");
    Llama::load(&file).expect("model loads")
}

/// Teacher-forced comparison: opensoc is fed llama.cpp's tokens, so every one of the 30 × 32
/// steps is compared on the same context. Where llama.cpp's top two are further apart than
/// [`NEAR_TIE`], opensoc must pick the same token.
#[test]
fn logits_and_choices_match_llama_cpp_step_by_step() {
    let model = load();
    let fx = fixture();
    let cases = fx["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 30);
    let (mut worst, mut sum, mut count) = (0f32, 0f64, 0usize);
    let (mut steps, mut agree, mut near_ties) = (0, 0, 0);
    let mut widest_tie = 0f32;
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let prompt = ids(&case["prompt"]);
        let mut cache = model.new_cache();
        let mut logits = model.forward(&prompt, &mut cache).expect("forward");
        for (i, want) in ids(&case["probe_ids"])
            .iter()
            .zip(floats(&case["probe_logits"]))
        {
            let d = (logits[*i as usize] - want).abs();
            worst = worst.max(d);
            sum += d as f64;
            count += 1;
        }
        for (s, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
            for (i, want) in ids(&step["top"]).iter().zip(floats(&step["logits"])) {
                let d = (logits[*i as usize] - want).abs();
                worst = worst.max(d);
                sum += d as f64;
                count += 1;
            }
            let theirs = ids(&step["top"])[0];
            let margin = step["margin"].as_f64().expect("margin") as f32;
            steps += 1;
            if argmax(&logits) == theirs {
                agree += 1;
            } else if margin <= NEAR_TIE {
                near_ties += 1;
                widest_tie = widest_tie.max(margin);
            } else {
                failures.push(format!(
                    "case {n} step {s}: llama.cpp chose {theirs} by a margin of {margin}, \
                     opensoc chose {}",
                    argmax(&logits)
                ));
            }
            logits = model.forward(&[theirs], &mut cache).expect("forward");
        }
    }
    eprintln!(
        "logit difference vs llama.cpp over {count} values: max {worst:.4}, mean {:.4}; \
         greedy choice agrees on {agree}/{steps} steps ({near_ties} near-ties differ, \
         llama.cpp's margin there at most {widest_tie:.4})",
        sum / count as f64
    );
    assert!(
        failures.is_empty(),
        "choices differ:\n{}",
        failures.join("\n")
    );
    assert!(
        worst <= LOGIT_BOUND,
        "logit difference {worst} above {LOGIT_BOUND}"
    );
}

/// Free-running greedy continuations, as a user sees them: report how many of the 30 are
/// identical to llama.cpp's for all 32 tokens, and require that every divergence starts at a
/// step where llama.cpp's own top two were within [`NEAR_TIE`].
#[test]
fn greedy_continuations_match_llama_cpp() {
    let model = load();
    let fx = fixture();
    let cases = fx["cases"].as_array().expect("cases");
    let mut identical = 0;
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let expected = ids(&case["greedy"]);
        let got = greedy(&model, &ids(&case["prompt"]), expected.len(), None).expect("greedy");
        match got.iter().zip(&expected).position(|(a, b)| a != b) {
            None => identical += 1,
            Some(at) => {
                let margin = case["steps"][at]["margin"].as_f64().expect("margin") as f32;
                if margin > NEAR_TIE {
                    failures.push(format!(
                        "case {n}: diverges at token {at} where llama.cpp's margin is {margin}\n  \
                         got  {got:?}\n  want {expected:?}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "greedy continuations identical to llama.cpp: {identical}/{}",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
