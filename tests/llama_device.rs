//! The candle-device forward (`src/backend/candle.rs`, what `--backend cuda` runs) on the CPU device,
//! against the hand-written CPU forward on the real default model with the shipped adapter:
//! close logits, the same greedy tokens and the same verdicts. On a GPU the same code runs
//! with CUDA's kernels (scripts/device-check.sh measures that).

use std::sync::OnceLock;

#[path = "common/backend_checks.rs"]
mod backend_checks;
use backend_checks::{cpu_self_drift, max_abs_diff, LOG};
#[path = "common/real_model.rs"]
mod real_model;

use candle_core::Device;
use opensoc::backend::candle::DeviceLlama;
use opensoc::model::llama::Llama;
use opensoc::model::tokenizer::Tokenizer;

struct Models {
    cpu: Llama,
    dev: DeviceLlama,
    tok: Tokenizer,
}

fn models() -> &'static Models {
    static M: OnceLock<Models> = OnceLock::new();
    M.get_or_init(|| {
        let (file, cpu, tok) = real_model::load(true);
        let mut dev = DeviceLlama::load(&file, &Device::Cpu, "candle-cpu").expect("device load");
        dev.set_adapter(cpu.adapter()).expect("adapter on device");
        Models { cpu, dev, tok }
    })
}

#[test]
fn prefill_and_decode_logits_match_the_cpu_forward() {
    let m = models();
    let prompt = m.tok.encode(LOG, false, false).expect("tokenize");
    let (mut cc, mut dc) = (m.cpu.new_cache(), m.dev.new_cache());
    let a = m.cpu.forward(&prompt, &mut cc).expect("cpu forward");
    let b = m.dev.forward(&prompt, &mut dc).expect("device forward");
    // The CPU path rounds keys, values and probabilities through f16 and activations through
    // 8 bits (llama.cpp's numerics); candle rounds activations its own way. The backends may
    // differ by as much as that rounding moves the CPU path against itself, and no more
    // than twice that (measured: 0.97 against 0.95 on this prompt; logits reach ±30).
    let drift = cpu_self_drift(&m.cpu, &prompt);
    let d = max_abs_diff(&a, &b);
    assert!(
        d <= 2.0 * drift,
        "prefill logits differ by {d} (CPU self-drift {drift})"
    );
    // Then one position at a time from the caches each built, greedy on the CPU's choice.
    let mut seq = prompt.clone();
    let mut next = opensoc::model::language_model::argmax(&a);
    let mut worst = 0f32;
    for _ in 0..8 {
        seq.push(next);
        let a = m.cpu.forward(&[next], &mut cc).expect("cpu step");
        let b = m.dev.forward(&[next], &mut dc).expect("device step");
        assert_eq!(
            opensoc::model::language_model::argmax(&a),
            opensoc::model::language_model::argmax(&b)
        );
        next = opensoc::model::language_model::argmax(&a);
        worst = worst.max(max_abs_diff(&a, &b));
    }
    let drift = drift.max(cpu_self_drift(&m.cpu, &seq));
    assert!(
        worst <= 2.0 * drift,
        "decode logits differ by {worst} (CPU self-drift {drift})"
    );
    assert_eq!(dc.len(), prompt.len() + 8);
}

#[test]
fn truncating_the_cache_replays_identically() {
    let m = models();
    backend_checks::truncating_replays_identically(&m.dev, &m.tok);
}

#[test]
fn verdicts_match_the_cpu_backend_on_seed_style_logs() {
    let m = models();
    backend_checks::verdicts_match(&m.cpu, &m.dev, &m.tok);
}

#[test]
fn bad_tokens_and_overflow_are_errors() {
    let m = models();
    backend_checks::bad_input_is_an_error(&m.dev, m.dev.config().vocab);
}
