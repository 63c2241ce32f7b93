//! Requests judged alone (`AnalyzerOptions::request_check`), on the real default model with
//! the shipped adapter: an injection among ordinary requests is found, ordinary browsing stays
//! benign, and `request_check: false` judges the window whole.

use std::sync::OnceLock;

#[path = "common/real_model.rs"]
mod real_model;

use opensoc::analyze::analyzer::{Analysis, Analyzer, AnalyzerOptions};
use opensoc::model::llama::Llama;
use opensoc::model::tokenizer::Tokenizer;
use opensoc::task::taxonomy::BENIGN_CATEGORY;

fn model() -> &'static (Llama, Tokenizer) {
    static M: OnceLock<(Llama, Tokenizer)> = OnceLock::new();
    M.get_or_init(|| {
        let (_, m, tok) = real_model::load(true);
        (m, tok)
    })
}

fn analyze(input: &str, request_check: bool) -> Analysis {
    let (m, tok) = model();
    let opts = AnalyzerOptions {
        request_check,
        ..AnalyzerOptions::default()
    };
    Analyzer::new(m, tok, opts)
        .expect("analyzer")
        .analyze(input.as_bytes())
        .expect("analysis")
}

fn category(a: &Analysis) -> String {
    a.verdict
        .as_ref()
        .expect("fast mode gives a verdict")
        .category()
        .to_string()
}

const AGENT: &str =
    "\"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0\"";

fn line(second: u32, target: &str, status: u16) -> String {
    format!("198.51.100.23 - - [27/Nov/2026:09:41:{second:02} +0000] \"GET {target} HTTP/1.1\" {status} 734 {AGENT}")
}

/// The UNION injection of `data/samples/access.log`, as four requests from one client.
#[test]
fn an_injection_among_ordinary_requests_is_found() {
    let window = [
        line(0, "/products?id=1842%27", 500),
        line(7, "/products?id=1842%27%20ORDER%20BY%205--", 500),
        line(
            14,
            "/products?id=1842%27%20UNION%20SELECT%20NULL,NULL,NULL--",
            500,
        ),
        line(
            21,
            "/products?id=-1%27%20UNION%20SELECT%20username,password,email%20FROM%20users--",
            200,
        ),
    ]
    .join("\n");
    let checked = analyze(&window, true);
    assert_eq!(category(&checked), "SQL Injection", "{}", checked.output);
    let whole = analyze(&window, false);
    assert_eq!(whole.input.total_lines, 4);
    if category(&whole) == BENIGN_CATEGORY {
        // The whole window hid it: the verdict is one request's, judged alone.
        assert_eq!(checked.input.total_lines, 1, "{}", checked.input.text);
        assert!(
            checked.input.text.contains("UNION"),
            "{}",
            checked.input.text
        );
        let evidence = &checked.verdict.as_ref().expect("verdict").evidence;
        assert!(evidence.contains("UNION"), "{evidence}");
        assert!(
            evidence.ends_with("Judged alone, one request of a window of 4 log lines."),
            "{evidence}"
        );
    }
}

#[test]
fn ordinary_browsing_with_parameters_stays_benign() {
    let window = [
        line(0, "/search?q=running+shoes", 200),
        line(4, "/products?id=1842", 200),
        line(9, "/products?id=1842&tab=reviews", 200),
        line(15, "/cart", 200),
    ]
    .join("\n");
    let a = analyze(&window, true);
    assert_eq!(category(&a), BENIGN_CATEGORY, "{}", a.output);
    // Benign after every request was judged alone too: the analysis is the whole window's.
    assert_eq!(a.input.total_lines, 4);
}
