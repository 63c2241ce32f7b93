//! Token-id parity with llama.cpp on fixtures written by `scripts/reference_tokens.py`.
//!
//! Regenerate the fixtures with (llama-cpp-python 0.3.36 in the active venv):
//!     python scripts/reference_tokens.py
//! Dataset-derived entries hold only an identifier; their text is re-read here from
//! `$OPENSOC_DATA` (default `../shared/data` next to the repository).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use opensoc::gguf::file::ModelFile;
use opensoc::model::tokenizer::{Tokenizer, TokenizerKind};
use serde_json::Value;

const PROMPT_HEAD: &str = "### Instruction:\n";

fn opensoc_home() -> PathBuf {
    if let Some(h) = std::env::var_os("OPENSOC_HOME") {
        return PathBuf::from(h);
    }
    let home = std::env::var_os("HOME").expect("HOME is not set and OPENSOC_HOME is not either");
    PathBuf::from(home).join(".cache").join("opensoc")
}

/// The default SmolLM2 model (fetched into the cache on first use).
fn smollm_path() -> PathBuf {
    opensoc::model::fetch::ensure_default_model(false)
        .expect("the default model (opensoc model fetch)")
}

/// One of llama.cpp's vocabulary-only test files, put in `$OPENSOC_HOME/vocab` by the script.
fn vocab_path(name: &str) -> PathBuf {
    let p = opensoc_home()
        .join("vocab")
        .join(format!("ggml-vocab-{name}.gguf"));
    assert!(
        p.is_file(),
        "llama.cpp's test vocabulary {name} is missing at {}; run scripts/fetch-spm-vocab.sh to fetch it",
        p.display()
    );
    p
}

fn data_dir() -> PathBuf {
    opensoc::task::dataset::data_dir_beside(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn load_tokenizer(path: &Path) -> Tokenizer {
    let f = ModelFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    Tokenizer::from_gguf(&f.gguf).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One fixture entry with its text resolved.
struct Case {
    label: String,
    text: String,
    add_bos: bool,
    special: bool,
    ids: Vec<u32>,
}

/// Texts read from the shared data directory, cached per file.
struct DataSource {
    dir: PathBuf,
    seed: HashMap<String, Vec<Value>>,
    lines: HashMap<String, Vec<String>>,
}

impl DataSource {
    fn seed_text(&mut self, file: &str, index: usize, field: &str) -> String {
        let dir = &self.dir;
        let rows = self.seed.entry(file.to_string()).or_insert_with(|| {
            let p = dir.join(file);
            let s = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {} (set OPENSOC_DATA): {e}", p.display()));
            serde_json::from_str::<Vec<Value>>(&s)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        });
        let row = &rows[index];
        let get = |k: &str| {
            row[k]
                .as_str()
                .unwrap_or_else(|| panic!("{file}[{index}].{k} missing"))
        };
        match field {
            "prompt" => format!(
                "{PROMPT_HEAD}{}\n\n### Input:\n{}\n\n### Response:\n",
                get("instruction"),
                get("input")
            ),
            "output" => get("output").to_string(),
            other => panic!("unknown field {other}"),
        }
    }

    fn line(&mut self, file: &str, line: usize) -> String {
        let dir = &self.dir;
        let lines = self.lines.entry(file.to_string()).or_insert_with(|| {
            let p = dir.join(file);
            let s = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {} (set OPENSOC_DATA): {e}", p.display()));
            // Same split as the script: str::lines() semantics.
            s.lines().map(str::to_string).collect()
        });
        lines[line - 1].clone()
    }
}

fn load_cases(fixture: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut data = DataSource {
        dir: data_dir(),
        seed: HashMap::new(),
        lines: HashMap::new(),
    };
    let mut out = Vec::new();
    for (n, line) in r.lines().enumerate() {
        let line = line.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{fixture}:{}: {e}", n + 1));
        if v.get("meta").is_some() {
            continue;
        }
        let (label, text) = if let Some(t) = v.get("text").and_then(Value::as_str) {
            (format!("hard string #{n}"), t.to_string())
        } else {
            let file = v["file"].as_str().expect("file");
            if let Some(line) = v.get("line").and_then(Value::as_u64) {
                (format!("{file}:{line}"), data.line(file, line as usize))
            } else {
                let index = v["index"].as_u64().expect("index") as usize;
                let field = v["field"].as_str().expect("field");
                (
                    format!("{file}[{index}].{field}"),
                    data.seed_text(file, index, field),
                )
            }
        };
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let ids = v["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect();
        out.push(Case {
            label,
            text,
            add_bos: flag("add_bos"),
            special: flag("special"),
            ids,
        });
    }
    out
}

fn describe(tok: &Tokenizer, ids: &[u32], from: usize) -> String {
    ids.iter()
        .skip(from)
        .take(8)
        .map(|&i| format!("{i}:{:?}", tok.token_piece(i).unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compares every case and panics with the first mismatches, after printing the totals.
fn check_parity(tok: &Tokenizer, fixture: &str) {
    let cases = load_cases(fixture);
    assert!(!cases.is_empty(), "{fixture} has no entries");
    let (mut strings, mut tokens, mut ok_strings, mut ok_tokens) = (0usize, 0usize, 0usize, 0usize);
    let mut report = Vec::new();
    for c in &cases {
        // llama.cpp's add_special adds BOS only where the GGUF asks for it.
        let add_bos = c.add_bos && tok.add_bos_default();
        let mut got = tok
            .encode(&c.text, add_bos, c.special)
            .unwrap_or_else(|e| panic!("{}: encode failed: {e}", c.label));
        if c.add_bos && tok.add_eos_default() {
            got.extend(tok.eos_id());
        }
        strings += 1;
        tokens += c.ids.len();
        if got == c.ids {
            ok_strings += 1;
            ok_tokens += c.ids.len();
            continue;
        }
        let pos = got
            .iter()
            .zip(&c.ids)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(c.ids.len()));
        if report.len() < 10 {
            let text: String = c.text.chars().take(200).collect();
            report.push(format!(
                "{} (add_bos={}, special={}): text {text:?}\n  first difference at token {pos} \
                 (expected {} tokens, got {})\n  expected: {}\n  got:      {}",
                c.label,
                c.add_bos,
                c.special,
                c.ids.len(),
                got.len(),
                describe(tok, &c.ids, pos),
                describe(tok, &got, pos),
            ));
        }
    }
    eprintln!(
        "{fixture}: {ok_strings}/{strings} strings and {ok_tokens}/{tokens} tokens match llama.cpp"
    );
    assert!(
        report.is_empty(),
        "{} of {strings} strings differ from llama.cpp:\n{}",
        strings - ok_strings,
        report.join("\n")
    );
}

#[test]
fn smollm2_matches_llama_cpp() {
    let tok = load_tokenizer(&smollm_path());
    assert_eq!(tok.kind(), TokenizerKind::Gpt2);
    assert_eq!(tok.pre(), "smollm");
    check_parity(&tok, "tokens_smollm2.jsonl.gz");
}

#[test]
fn llama_spm_matches_llama_cpp() {
    let tok = load_tokenizer(&vocab_path("llama-spm"));
    assert_eq!(tok.kind(), TokenizerKind::Llama);
    check_parity(&tok, "tokens_llama_spm.jsonl.gz");
}

/// Parity on one of llama.cpp's extra test vocabularies (hard strings and seed texts).
fn extra_vocab(name: &str, kind: TokenizerKind, pre: &str) {
    let tok = load_tokenizer(&vocab_path(name));
    assert_eq!(tok.kind(), kind);
    assert_eq!(tok.pre(), pre);
    check_parity(&tok, &format!("tokens_vocab_{name}.jsonl.gz"));
}

#[test]
fn gpt2_vocab_matches_llama_cpp() {
    extra_vocab("gpt-2", TokenizerKind::Gpt2, "gpt-2");
}

#[test]
fn gpt_neox_vocab_default_pre_matches_llama_cpp() {
    extra_vocab("gpt-neox", TokenizerKind::Gpt2, "default");
}

#[test]
fn starcoder_vocab_matches_llama_cpp() {
    extra_vocab("starcoder", TokenizerKind::Gpt2, "starcoder");
}

#[test]
fn mpt_vocab_matches_llama_cpp() {
    extra_vocab("mpt", TokenizerKind::Gpt2, "mpt");
}

#[test]
fn phi3_spm_vocab_matches_llama_cpp() {
    extra_vocab("phi-3", TokenizerKind::Llama, "default");
}

#[test]
fn baichuan_spm_vocab_matches_llama_cpp() {
    extra_vocab("baichuan", TokenizerKind::Llama, "default");
}

/// The hard strings stored as text in a fixture, with default flags.
fn hard_strings(fixture: &str) -> Vec<String> {
    load_cases(fixture)
        .into_iter()
        .filter(|c| c.label.starts_with("hard string") && !c.add_bos && !c.special)
        .map(|c| c.text)
        .collect()
}

#[test]
fn smollm2_decode_round_trips() {
    let tok = load_tokenizer(&smollm_path());
    let strings = hard_strings("tokens_smollm2.jsonl.gz");
    assert!(strings.len() >= 200, "only {} hard strings", strings.len());
    // Bytes without a token of their own are dropped by encoding (as llama.cpp does), so the
    // round trip yields the input without them.
    let missing: Vec<u8> = (0..=255u8)
        .filter(|&b| tok.byte_token_id(b).is_none())
        .collect();
    // SmolLM2 lacks six ASCII control bytes and some UTF-8 lead bytes (0xC0, 0xC1 and 0xF5..
    // never occur in UTF-8; 0xF1 and 0xF2 only for planes 4..11, which no hard string uses).
    assert!(
        missing
            .iter()
            .filter(|b| b.is_ascii())
            .all(u8::is_ascii_control),
        "{missing:?}"
    );
    let mut lossy = 0;
    for s in &strings {
        let ids = tok.encode(s, false, false).unwrap();
        let expected: String = s
            .chars()
            .filter(|c| !(c.is_ascii() && missing.contains(&(*c as u8))))
            .collect();
        lossy += usize::from(&expected != s);
        assert_eq!(
            tok.decode(&ids).unwrap(),
            expected,
            "round trip of {s:?} via {ids:?}"
        );
        // Byte-exact too, so that streaming by token pieces reassembles the input.
        assert_eq!(tok.decode_bytes(&ids).unwrap(), expected.as_bytes());
    }
    eprintln!(
        "{} hard strings round-trip ({lossy} of them contain bytes {missing:?}, which have no token)",
        strings.len()
    );
}

#[test]
fn special_tokens_parse_only_when_asked() {
    let tok = load_tokenizer(&smollm_path());
    let im_start = tok
        .token_id("<|im_start|>")
        .expect("<|im_start|> in SmolLM2's vocabulary");
    let parsed = tok.encode("<|im_start|>user", false, true).unwrap();
    assert_eq!(parsed[0], im_start);
    let plain = tok.encode("<|im_start|>user", false, false).unwrap();
    assert!(!plain.contains(&im_start), "{plain:?}");
    assert_eq!(tok.decode(&plain).unwrap(), "<|im_start|>user");
}

#[test]
fn bad_ids_are_errors() {
    let tok = load_tokenizer(&smollm_path());
    let n = tok.vocab_size() as u32;
    assert!(tok.decode(&[n]).is_err());
    assert!(tok.token_piece(n).is_none());
}

#[test]
fn llama_spm_decode_round_trips() {
    let tok = load_tokenizer(&vocab_path("llama-spm"));
    let strings = hard_strings("tokens_llama_spm.jsonl.gz");
    assert!(strings.len() >= 200, "only {} hard strings", strings.len());
    // Every byte has a <0xXX> token, so nothing is lost; decode removes the space prefix. A
    // literal U+2581 in the input is SentencePiece's own space mark and decodes as ' ', so
    // such strings cannot round-trip in any SentencePiece tokenizer.
    for s in strings.iter().filter(|s| !s.contains('\u{2581}')) {
        let ids = tok.encode(s, false, false).unwrap();
        assert_eq!(
            &tok.decode(&ids).unwrap(),
            s,
            "round trip of {s:?} via {ids:?}"
        );
    }
}

/// The verdict schema builds under a SentencePiece vocabulary too (TinyLlama-style models):
/// every option tokenizes apart from the others, and pieces joined after a newline tokenize as
/// the whole text does.
#[test]
fn schema_builds_under_both_tokenizer_kinds() {
    use opensoc::analyze::analyzer::Schema;
    use opensoc::task::prompt::{encode_after_newline, prompt_tokens, INSTRUCTION};
    let tax = opensoc::task::taxonomy::taxonomy();
    for tok in [
        load_tokenizer(&smollm_path()),
        load_tokenizer(&vocab_path("llama-spm")),
    ] {
        let schema = Schema::build(&tok, tax).unwrap_or_else(|e| panic!("{:?}: {e}", tok.kind()));
        let learned = tax.threat_types.iter().filter(|t| t.learned).count();
        assert_eq!(schema.sizes(), (learned, 4, 101));
        let input = "Mar 15 01:05:33 server sshd[1234]: Failed password for git from 66.77.88.99";
        let p = prompt_tokens(&tok, INSTRUCTION, input).unwrap();
        let whole = tok
            .encode(
                &opensoc::task::prompt::prompt_text(INSTRUCTION, input),
                tok.add_bos_default(),
                false,
            )
            .unwrap();
        assert_eq!(p.all(), whole, "{:?}", tok.kind());
        let line = encode_after_newline(&tok, "SEVERITY: HIGH\n").unwrap();
        assert_eq!(
            tok.decode(&line).unwrap(),
            "SEVERITY: HIGH\n",
            "{:?}",
            tok.kind()
        );
    }
}
