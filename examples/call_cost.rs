//! What one model call costs, over real windows: prompt tokens prefilled (the instruction's
//! header comes from its cache), forward calls, and milliseconds per call, with the shipped
//! adapter (or none, with `--no-adapter`, to see what the adapter's products cost). With
//! `--batch N`, the windows are analysed N at a time, their prompts prefilled in one pass
//! (what `scan --batch N` does with windows that close together).
//!
//! The windows are a JSON array of analyzer inputs, such as the windows a scan judged with the
//! model:
//!
//! ```text
//! opensoc scan --store-every-window --db /tmp/s.db ../shared/data/loghub/*/*_2k.log
//! sqlite3 -json /tmp/s.db "SELECT input FROM verdicts WHERE cached_from IS NULL ORDER BY id" \
//!   | python3 -c "import json,sys; json.dump([r['input'] for r in json.load(sys.stdin)], sys.stdout)" \
//!   > /tmp/inputs.json
//! cargo run --release --example call_cost -- /tmp/inputs.json [COUNT] [--no-adapter] [--batch N]
//! ```

use anyhow::Context;
use opensoc::analyze::analyzer::{Analyzer, AnalyzerOptions};
use opensoc::gguf::file::ModelFile;
use opensoc::model::fetch::resolve_model;
use opensoc::model::llama::Llama;
use opensoc::model::shipped::shipped_adapter;
use opensoc::model::tokenizer::Tokenizer;

fn main() -> anyhow::Result<()> {
    let usage = "usage: call_cost INPUTS.json [COUNT] [--no-adapter] [--batch N]";
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let no_adapter = args.iter().any(|a| a == "--no-adapter");
    args.retain(|a| a != "--no-adapter");
    let batch: usize = match args.iter().position(|a| a == "--batch") {
        Some(i) => {
            let n = args
                .get(i + 1)
                .context(usage)?
                .parse()
                .context("--batch N")?;
            args.drain(i..i + 2);
            n
        }
        None => 1,
    };
    anyhow::ensure!(batch >= 1, "--batch is at least 1");
    let rest = args;
    let path = rest.first().context(usage)?;
    let count: usize = match rest.get(1) {
        Some(n) => n.parse().context("COUNT is a number of windows")?,
        None => usize::MAX,
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let inputs: Vec<String> =
        serde_json::from_str(&text).with_context(|| format!("{path}: a JSON array of strings"))?;
    let file = ModelFile::open(&resolve_model(None, false)?)?;
    let mut model = Llama::load(&file)?;
    let tok = Tokenizer::from_gguf(&file.gguf)?;
    if !no_adapter {
        model.set_adapter(Some(shipped_adapter(model.config())?))?;
    }
    // One call per window: the requests of a benign web window are not judged alone here.
    let opts = AnalyzerOptions {
        request_check: false,
        ..AnalyzerOptions::default()
    };
    let mut analyzer = Analyzer::new(&model, &tok, opts)?;
    let (mut prefilled, mut forwards, mut seconds, mut calls) = (0usize, 0usize, 0f64, 0usize);
    let raws: Vec<&[u8]> = inputs.iter().take(count).map(|i| i.as_bytes()).collect();
    for chunk in raws.chunks(batch) {
        let start = std::time::Instant::now();
        for a in analyzer.analyze_batch(chunk)? {
            prefilled += a.prompt_tokens - a.cached_tokens;
            forwards += a.stats.forward_calls;
            calls += 1;
        }
        seconds += start.elapsed().as_secs_f64();
    }
    anyhow::ensure!(calls > 0, "{path} holds no window");
    let per = |x: f64| x / calls as f64;
    println!(
        "{calls} calls ({}, batches of {batch}): {:.1} prompt tokens prefilled, {:.2} forward calls, {:.1} ms per call",
        if no_adapter {
            "no adapter"
        } else {
            "shipped adapter"
        },
        per(prefilled as f64),
        per(forwards as f64),
        1000.0 * per(seconds)
    );
    Ok(())
}
