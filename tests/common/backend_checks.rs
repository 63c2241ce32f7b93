//! Checks every other backend must pass against the CPU forward on the real model with the
//! shipped adapter (`tests/llama_device.rs`, `tests/llama_wgpu.rs` include this file).

use opensoc::analyze::analyzer::{Analyzer, AnalyzerOptions, Mode};
use opensoc::model::language_model::LanguageModel;
use opensoc::model::llama::Llama;
use opensoc::model::tokenizer::Tokenizer;

pub const LOG: &str = "Nov 28 03:14:07 web1 sshd[2211]: Failed password for invalid user admin \
                       from 185.220.101.33 port 50122 ssh2";

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// How far the CPU path's own logits move when the same tokens run in one batch instead of
/// one at a time: its 8-bit activation rounding depends on the batch. Differences between the
/// backends are judged against this.
pub fn cpu_self_drift(cpu: &Llama, tokens: &[u32]) -> f32 {
    let batch = cpu.forward(tokens, &mut cpu.new_cache()).expect("batch");
    let mut c = cpu.new_cache();
    let mut step = Vec::new();
    for &t in tokens {
        step = cpu.forward(&[t], &mut c).expect("step");
    }
    max_abs_diff(&batch, &step)
}

/// After a truncation the cache replays the same step exactly, and truncating to 0 empties it.
pub fn truncating_replays_identically<M: LanguageModel>(model: &M, tok: &Tokenizer) {
    let prompt = tok.encode(LOG, false, false).expect("tokenize");
    let mut c = model.new_cache();
    model.forward(&prompt, &mut c).expect("prefill");
    let first = model.forward(&[42], &mut c).expect("step");
    M::truncate(&mut c, prompt.len());
    let again = model.forward(&[42], &mut c).expect("step after truncate");
    assert_eq!(first, again);
    M::truncate(&mut c, 0);
    assert_eq!(M::cache_len(&c), 0);
}

/// Token ids outside the vocabulary, an empty call and a sequence past the context are errors.
pub fn bad_input_is_an_error<M: LanguageModel>(model: &M, vocab: usize) {
    let mut c = model.new_cache();
    assert!(model.forward(&[vocab as u32], &mut c).is_err());
    assert!(model.forward(&[], &mut c).is_err());
    let long = vec![1u32; model.context_len() + 1];
    assert!(model.forward(&long, &mut c).is_err());
}

/// The same threat type, technique, tactic and severity as the CPU on clear seed-style logs.
pub fn verdicts_match<M: LanguageModel>(cpu: &Llama, other: &M, tok: &Tokenizer) {
    // Clear cases: a single failed login is a borderline call for the shipped adapter (the two
    // first tokens' logits 0.12 apart), so rounding alone may flip it on either backend.
    let burst: String = (0..8)
        .map(|i| format!("Nov 28 03:14:{i:02} web1 sshd[22{i}]: Failed password for root from 185.220.101.33 port 5012{i} ssh2\n"))
        .collect();
    let logs = [
        burst.as_str(),
        "192.168.1.50 - - [28/Nov/2026:10:00:01 +0000] \"GET /products.php?id=1%27%20OR%20%271%27=%271 HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"",
        "EventID: 4625\nTimestamp: 2026-11-28T02:11:09Z\nSource IP: 10.0.0.23\nUser: administrator\nDescription: An account failed to log on.",
        "Nov 28 09:00:01 db2 CRON[811]: (root) CMD (run-parts /etc/cron.hourly)",
    ];
    for log in logs {
        let opts = AnalyzerOptions {
            mode: Mode::Fast,
            ..AnalyzerOptions::default()
        };
        let a = Analyzer::new(cpu, tok, opts.clone())
            .expect("cpu analyzer")
            .analyze(log.as_bytes())
            .expect("cpu analysis");
        let b = Analyzer::new(other, tok, opts)
            .expect("device analyzer")
            .analyze(log.as_bytes())
            .expect("device analysis");
        assert!(b.valid, "device output invalid:\n{}", b.output);
        let (va, vb) = (
            a.verdict.expect("cpu verdict"),
            b.verdict.expect("device verdict"),
        );
        assert_eq!(
            (
                &va.threat_type,
                &va.mitre_technique,
                &va.mitre_tactic,
                va.severity
            ),
            (
                &vb.threat_type,
                &vb.mitre_technique,
                &vb.mitre_tactic,
                vb.severity
            ),
            "verdicts differ on {log}"
        );
    }
}
