//! Tokenizer built from a GGUF file's `tokenizer.ggml.*` metadata, matching llama.cpp's output.
//!
//! Two vocabulary kinds are supported: `gpt2` (byte-level BPE with a regex pre-tokenizer, as in
//! SmolLM2) and `llama` (SentencePiece-style BPE over scores with `<0xXX>` byte fallback, as in
//! TinyLlama and Llama 2). The merging itself runs in the `tokenizers` crate; the splitting on
//! special tokens, the space prefix and BOS/EOS handling follow llama.cpp's `llama_tokenize`,
//! because that is the reference our prompts and fine-tuning data are checked against.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::SplitDelimiterBehavior;

use crate::gguf::read::{Gguf, GgufError, Value};

/// SentencePiece's visible space, which the `llama` vocabulary uses in place of ' '.
const SPM_SPACE: &str = "\u{2581}";

/// The GPT-2 pre-tokenizer regex (llama.cpp implements it by hand; onig runs it as written).
const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// Why a tokenizer could not be built or could not encode or decode.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("GGUF tokenizer metadata: {0}")]
    Metadata(#[from] GgufError),
    #[error("unsupported tokenizer model {0:?} (supported: \"gpt2\", \"llama\")")]
    UnsupportedModel(String),
    #[error("unsupported pre-tokenizer {0:?} for the gpt2 tokenizer model")]
    UnsupportedPre(String),
    #[error(
        "tokenizer metadata key {key:?} has {got} entries, expected {expected} (one per token)"
    )]
    LengthMismatch {
        key: &'static str,
        got: usize,
        expected: usize,
    },
    #[error("bad merge {index} in tokenizer.ggml.merges: {merge:?}")]
    BadMerge { index: usize, merge: String },
    #[error("special token id {id} ({what}) is outside the vocabulary of {vocab} tokens")]
    BadSpecialId {
        what: &'static str,
        id: u64,
        vocab: usize,
    },
    #[error("token id {id} is outside the vocabulary of {vocab} tokens")]
    UnknownId { id: u32, vocab: usize },
    #[error("BOS requested but the vocabulary defines no BOS token")]
    NoBos,
    #[error("tokenizers: {0}")]
    Backend(String),
}

impl From<tokenizers::Error> for TokenizerError {
    fn from(e: tokenizers::Error) -> Self {
        Self::Backend(e.to_string())
    }
}

/// The vocabulary kind named by `tokenizer.ggml.model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerKind {
    /// Byte-level BPE with merges (`gpt2`).
    Gpt2,
    /// SentencePiece-style BPE over scores with byte fallback (`llama`).
    Llama,
}

impl fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gpt2 => "gpt2",
            Self::Llama => "llama",
        })
    }
}

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// Ordinary text piece.
    Normal,
    /// The unknown token.
    Unknown,
    /// Control token such as BOS, EOS or `<|im_start|>`; parsed only when asked to.
    Control,
    /// Added token that is always matched in text, even when special tokens are not parsed.
    UserDefined,
    /// Unused slot.
    Unused,
    /// A `<0xXX>` byte-fallback token.
    Byte,
    /// Any other value.
    Undefined,
}

impl TokenType {
    fn from_i64(v: i64) -> Self {
        match v {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => Self::Undefined,
        }
    }
}

/// A tokenizer for one GGUF vocabulary, producing the same ids as llama.cpp.
pub struct Tokenizer {
    kind: TokenizerKind,
    pre: String,
    inner: tokenizers::Tokenizer,
    tokens: Vec<String>,
    types: Vec<TokenType>,
    /// Per-token attributes after llama.cpp's text-based overrides (see [`Attrs`]).
    attrs: Vec<Attrs>,
    /// Control, user-defined and unknown tokens, longest text first, as llama.cpp matches them.
    specials: Vec<u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    /// GPT-2 byte-level alphabet, reversed: char -> byte.
    byte_decoder: HashMap<char, u8>,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("kind", &self.kind)
            .field("pre", &self.pre)
            .field("vocab_size", &self.tokens.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

/// GPT-2's byte-to-char table: printable bytes map to themselves, the rest to U+0100 onwards.
fn gpt2_byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        out[b as usize] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + n).unwrap_or('\u{FFFD}');
            n += 1;
            c
        };
    }
    out
}

/// Pre-tokenizer regexes per `tokenizer.ggml.pre`, in the order llama.cpp applies them.
fn pre_regexes(pre: &str) -> Result<Vec<&'static str>, TokenizerError> {
    Ok(match pre {
        // llama.cpp's LLAMA_VOCAB_PRE_TYPE_SMOLLM group: every digit on its own, then GPT-2.
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            vec![r"\p{N}", GPT2_REGEX]
        }
        "gpt-2" | "gpt2" | "mpt" | "olmo" | "jais" | "trillion" | "phi-2" | "roberta-bpe" => {
            vec![GPT2_REGEX]
        }
        // llama.cpp's fallback set for `default` (and a missing pre key).
        "default" | "" => vec![
            r"[\p{P}\$\+<=>\^~\|]+",
            GPT2_REGEX,
            r"\p{N}+",
            "[0-9][0-9][0-9]",
        ],
        other => return Err(TokenizerError::UnsupportedPre(other.to_string())),
    })
}

fn opt_id(g: &Gguf, key: &'static str, vocab: usize) -> Result<Option<u32>, TokenizerError> {
    let Some(v) = g.get(key) else { return Ok(None) };
    let id = v.as_u64().ok_or_else(|| GgufError::Metadata {
        key: key.to_string(),
        problem: "expected an unsigned integer".into(),
    })?;
    // -1 (as i32) is how some converters write "none"; `as_u64` already rejected negatives.
    if id >= vocab as u64 {
        return Err(TokenizerError::BadSpecialId {
            what: key,
            id,
            vocab,
        });
    }
    Ok(Some(id as u32))
}

fn opt_bool(g: &Gguf, key: &str) -> Option<bool> {
    g.get(key).and_then(Value::as_bool)
}

impl Tokenizer {
    /// Builds the tokenizer described by a GGUF header's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Self, TokenizerError> {
        let model = g.get_str("tokenizer.ggml.model")?;
        let kind = match model {
            "gpt2" => TokenizerKind::Gpt2,
            "llama" => TokenizerKind::Llama,
            other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
        };
        let tokens: Vec<String> = g
            .get_strings("tokenizer.ggml.tokens")?
            .into_iter()
            .map(str::to_string)
            .collect();
        let n = tokens.len();
        let types: Vec<TokenType> =
            match g.get("tokenizer.ggml.token_type").and_then(Value::as_array) {
                Some(a) => {
                    if a.len() != n {
                        return Err(TokenizerError::LengthMismatch {
                            key: "tokenizer.ggml.token_type",
                            got: a.len(),
                            expected: n,
                        });
                    }
                    a.iter()
                        .map(|v| TokenType::from_i64(v.as_f64().map(|f| f as i64).unwrap_or(0)))
                        .collect()
                }
                None => vec![TokenType::Normal; n],
            };
        let scores: Option<Vec<f32>> =
            match g.get("tokenizer.ggml.scores").and_then(Value::as_array) {
                Some(a) => {
                    if a.len() != n {
                        return Err(TokenizerError::LengthMismatch {
                            key: "tokenizer.ggml.scores",
                            got: a.len(),
                            expected: n,
                        });
                    }
                    Some(a.iter().map(|v| v.as_f64().unwrap_or(0.0) as f32).collect())
                }
                None => None,
            };
        let pre = g
            .get("tokenizer.ggml.pre")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();

        // Like llama.cpp's token_to_id map, a text listed twice resolves to its last id.
        let mut vocab: HashMap<String, u32> = HashMap::with_capacity(n);
        for (i, t) in tokens.iter().enumerate() {
            vocab.insert(t.clone(), i as u32);
        }

        let vocab_ids = vocab.clone();
        let bos = opt_id(g, "tokenizer.ggml.bos_token_id", n)?;
        let eos = opt_id(g, "tokenizer.ggml.eos_token_id", n)?;
        let unk = opt_id(g, "tokenizer.ggml.unknown_token_id", n)?;
        let pad = opt_id(g, "tokenizer.ggml.padding_token_id", n)?;

        let (inner, add_bos_default, add_space_default) = match kind {
            TokenizerKind::Gpt2 => (Self::build_gpt2(g, &pre, vocab)?, false, false),
            TokenizerKind::Llama => {
                let scores = scores.unwrap_or_else(|| vec![0.0; n]);
                (Self::build_spm(&tokens, &scores, vocab, unk)?, true, true)
            }
        };

        let mut attrs = llama_cpp_attrs(g, &tokens, &types, &vocab_ids);
        let mut specials: Vec<u32> = (0..n as u32)
            .filter(|&i| {
                attrs[i as usize].intersects(Attrs::CONTROL | Attrs::USER_DEFINED | Attrs::UNKNOWN)
            })
            .collect();
        // Longest text first, as llama.cpp matches them. Its std::sort leaves the order of equal
        // lengths unspecified; we keep id order (it only matters for overlapping texts of one
        // length, which none of the tested vocabularies have).
        specials.sort_by(|&a, &b| tokens[b as usize].len().cmp(&tokens[a as usize].len()));
        strip_overrides(g, &specials, &vocab_ids, &mut attrs);

        Ok(Self {
            kind,
            pre,
            inner,
            tokens,
            types,
            attrs,
            specials,
            bos,
            eos,
            unk,
            pad,
            add_bos: opt_bool(g, "tokenizer.ggml.add_bos_token").unwrap_or(add_bos_default),
            add_eos: opt_bool(g, "tokenizer.ggml.add_eos_token").unwrap_or(false),
            add_space_prefix: opt_bool(g, "tokenizer.ggml.add_space_prefix")
                .unwrap_or(add_space_default),
            byte_decoder: gpt2_byte_chars()
                .iter()
                .enumerate()
                .map(|(b, &c)| (c, b as u8))
                .collect(),
        })
    }

    fn build_gpt2(
        g: &Gguf,
        pre: &str,
        vocab: HashMap<String, u32>,
    ) -> Result<tokenizers::Tokenizer, TokenizerError> {
        let raw = g.get_strings("tokenizer.ggml.merges")?;
        let mut merges = Vec::with_capacity(raw.len());
        for (index, m) in raw.iter().enumerate() {
            // Byte-level pieces never contain ' ' (it is encoded as 'Ġ'), so one space separates.
            let (a, b) = m.split_once(' ').ok_or_else(|| TokenizerError::BadMerge {
                index,
                merge: m.to_string(),
            })?;
            // The tokenizers crate rejects merges whose parts or result are not tokens; llama.cpp
            // could never emit such a result as one token either, so they are dropped.
            if vocab.contains_key(a)
                && vocab.contains_key(b)
                && vocab.contains_key(&format!("{a}{b}"))
            {
                merges.push((a.to_string(), b.to_string()));
            }
        }
        let bpe = BPE::builder()
            .vocab_and_merges(to_ahash(vocab), merges)
            .build()?;
        let mut pts: Vec<PreTokenizerWrapper> = Vec::new();
        for re in pre_regexes(pre)? {
            pts.push(
                Split::new(
                    SplitPattern::Regex(re.to_string()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )?
                .into(),
            );
        }
        // The regexes above did the splitting; ByteLevel only maps bytes to its alphabet.
        pts.push(ByteLevel::new(false, false, false).into());
        let mut tok = tokenizers::Tokenizer::new(bpe);
        tok.with_pre_tokenizer(Some(Sequence::new(pts)));
        Ok(tok)
    }

    fn build_spm(
        tokens: &[String],
        scores: &[f32],
        vocab: HashMap<String, u32>,
        unk: Option<u32>,
    ) -> Result<tokenizers::Tokenizer, TokenizerError> {
        // llama.cpp merges the adjacent pair whose concatenation is the highest-scoring token.
        // As BPE merges (the way HF's SentencePiece converter derives them): every split of a
        // token into two tokens is a merge, ranked by the merged token's score, best first;
        // within one token, splits are ordered by the ids of their parts.
        let mut merges: Vec<(f32, u32, u32, u32)> = Vec::new();
        for (id, text) in tokens.iter().enumerate() {
            // llama.cpp looks merged texts up in the whole vocabulary, so every token counts.
            if vocab.get(text) != Some(&(id as u32)) {
                continue;
            }
            for (cut, _) in text.char_indices().skip(1) {
                let (l, r) = text.split_at(cut);
                if let (Some(&li), Some(&ri)) = (vocab.get(l), vocab.get(r)) {
                    merges.push((scores[id], id as u32, li, ri));
                }
            }
        }
        merges.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        let merges = merges
            .into_iter()
            .map(|(_, _, l, r)| (tokens[l as usize].clone(), tokens[r as usize].clone()))
            .collect();
        let mut b = BPE::builder()
            .vocab_and_merges(to_ahash(vocab), merges)
            .byte_fallback(true);
        if let Some(u) = unk {
            b = b.unk_token(tokens[u as usize].clone());
        }
        let bpe = b.build()?;
        let mut tok = tokenizers::Tokenizer::new(bpe);
        // No pre-tokenizer: llama.cpp's SPM session merges over the whole fragment at once.
        tok.with_normalizer(Some(Replace::new(" ", SPM_SPACE)?));
        Ok(tok)
    }

    /// Splits `text` on special tokens the way llama.cpp's `tokenizer_st_partition` does.
    fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        // llama.cpp starts from no fragment at all for empty input, so "" never gets a space
        // prefix token.
        if text.is_empty() {
            return Vec::new();
        }
        let mut frags = vec![Fragment::Text(text)];
        for &id in &self.specials {
            let attr = self.attrs[id as usize];
            if !parse_special && attr.intersects(Attrs::CONTROL | Attrs::UNKNOWN) {
                continue;
            }
            let needle = self.tokens[id as usize].as_str();
            if needle.is_empty() {
                continue;
            }
            let mut out = Vec::with_capacity(frags.len());
            for f in frags {
                let Fragment::Text(mut rest) = f else {
                    out.push(f);
                    continue;
                };
                while let Some(pos) = rest.find(needle) {
                    let mut left = &rest[..pos];
                    if attr.contains(Attrs::LSTRIP) {
                        left = left.trim_end_matches(is_c_space);
                    }
                    if !left.is_empty() {
                        out.push(Fragment::Text(left));
                    }
                    out.push(Fragment::Token(id));
                    rest = &rest[pos + needle.len()..];
                    if attr.contains(Attrs::RSTRIP) {
                        rest = rest.trim_start_matches(is_c_space);
                    }
                }
                if !rest.is_empty() {
                    out.push(Fragment::Text(rest));
                }
            }
            frags = out;
        }
        frags
    }

    fn encode_fragment(&self, text: &str, out: &mut Vec<u32>) -> Result<(), TokenizerError> {
        if text.is_empty() {
            return Ok(());
        }
        let enc = self.inner.encode_fast(text, false)?;
        out.extend_from_slice(enc.get_ids());
        Ok(())
    }

    /// Token ids of `text`, optionally after BOS; `parse_special` matches control tokens in the
    /// text (user-defined tokens are always matched, as in llama.cpp).
    ///
    /// llama.cpp's `add_special` corresponds to `add_bos = self.add_bos_default()` (and EOS when
    /// [`Tokenizer::add_eos_default`] holds, which callers append themselves).
    pub fn encode(
        &self,
        text: &str,
        add_bos: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos {
            out.push(self.bos.ok_or(TokenizerError::NoBos)?);
        }
        let frags = self.partition(text, parse_special);
        let mut prev_special = true;
        for f in frags {
            match f {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text(t) => {
                    if self.kind == TokenizerKind::Llama && self.add_space_prefix && prev_special {
                        // llama.cpp prefixes a space to the text and after every special token.
                        let mut s = String::with_capacity(t.len() + 1);
                        s.push(' ');
                        s.push_str(t);
                        self.encode_fragment(&s, &mut out)?;
                    } else {
                        self.encode_fragment(t, &mut out)?;
                    }
                    prev_special = false;
                }
            }
        }
        Ok(out)
    }

    /// The bytes that token `id` stands for in text (control tokens render as their text).
    pub fn token_bytes(&self, id: u32) -> Result<Cow<'_, [u8]>, TokenizerError> {
        let text = self
            .tokens
            .get(id as usize)
            .ok_or(TokenizerError::UnknownId {
                id,
                vocab: self.tokens.len(),
            })?;
        let ty = self.types[id as usize];
        if self.attrs[id as usize].intersects(Attrs::CONTROL | Attrs::USER_DEFINED | Attrs::UNKNOWN)
        {
            return Ok(Cow::Borrowed(text.as_bytes()));
        }
        Ok(match self.kind {
            TokenizerKind::Gpt2 => Cow::Owned(
                text.chars()
                    .flat_map(|c| match self.byte_decoder.get(&c) {
                        Some(&b) => vec![b],
                        // Not in the byte alphabet: keep the char itself rather than lose it.
                        None => c.to_string().into_bytes(),
                    })
                    .collect(),
            ),
            TokenizerKind::Llama => {
                if ty == TokenType::Byte {
                    if let Some(b) = parse_byte_token(text) {
                        return Ok(Cow::Owned(vec![b]));
                    }
                }
                Cow::Owned(text.replace(SPM_SPACE, " ").into_bytes())
            }
        })
    }

    /// The bytes of a token sequence, concatenated (no space stripping).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::new();
        for &id in ids {
            out.extend_from_slice(&self.token_bytes(id)?);
        }
        Ok(out)
    }

    /// Text of a token sequence; invalid UTF-8 becomes U+FFFD, and for SentencePiece
    /// vocabularies the space prefix added by encoding is removed from the start.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let bytes = self.decode_bytes(ids)?;
        let s = String::from_utf8_lossy(&bytes).into_owned();
        if self.kind == TokenizerKind::Llama && self.add_space_prefix {
            if let Some(rest) = s.strip_prefix(' ') {
                return Ok(rest.to_string());
            }
        }
        Ok(s)
    }

    /// The vocabulary text of token `id` (in the vocabulary's own alphabet).
    pub fn token_piece(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a token text, if it is in the vocabulary.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// The token that stands for the single byte `b`, if the vocabulary has one (SmolLM2's, for
    /// instance, lacks a few control bytes, which llama.cpp then drops from the input).
    pub fn byte_token_id(&self, b: u8) -> Option<u32> {
        match self.kind {
            TokenizerKind::Gpt2 => self.token_id(&gpt2_byte_chars()[b as usize].to_string()),
            TokenizerKind::Llama => self.token_id(&format!("<0x{b:02X}>")),
        }
    }

    /// The type of token `id`.
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// Beginning-of-sequence token.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-sequence token.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// Unknown token.
    pub fn unk_id(&self) -> Option<u32> {
        self.unk
    }

    /// Padding token.
    pub fn pad_id(&self) -> Option<u32> {
        self.pad
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Vocabulary kind.
    pub fn kind(&self) -> TokenizerKind {
        self.kind
    }

    /// Pre-tokenizer name from `tokenizer.ggml.pre` (`default` when absent).
    pub fn pre(&self) -> &str {
        &self.pre
    }

    /// Whether the GGUF asks for a BOS token in front of prompts (llama.cpp's `add_special`).
    pub fn add_bos_default(&self) -> bool {
        self.add_bos && self.bos.is_some()
    }

    /// Whether the GGUF asks for an EOS token after prompts.
    pub fn add_eos_default(&self) -> bool {
        self.add_eos && self.eos.is_some()
    }
}

/// llama.cpp's per-token attribute bits (`llama_token_attr`), the subset that tokenizing reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Attrs(u16);

impl Attrs {
    const UNKNOWN: Self = Self(1);
    const NORMAL: Self = Self(4);
    const CONTROL: Self = Self(8);
    const USER_DEFINED: Self = Self(16);
    const LSTRIP: Self = Self(128);
    const RSTRIP: Self = Self(256);

    fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    fn set(&mut self, other: Self, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

impl std::ops::BitOr for Attrs {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// C's `isspace` in the "C" locale, which llama.cpp uses for LSTRIP/RSTRIP.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Texts llama.cpp recognises as FIM/EOT/EOM tokens when the GGUF names no id for that role;
/// it marks the one it finds as a control token.
const ROLE_TEXTS: &[(&str, &[&str])] = &[
    (
        "tokenizer.ggml.eot_token_id",
        &[
            "<|eot_id|>",
            "<|im_end|>",
            "<|end|>",
            "<end_of_turn>",
            "<|endoftext|>",
            "<|end_of_text|>",
            "<EOT>",
            "_<EOT>",
            "[EOT]",
            "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
            "<end_of_utterance>",
        ],
    ),
    ("tokenizer.ggml.eom_token_id", &["<|eom_id|>"]),
    (
        "tokenizer.ggml.fim_pre_token_id",
        &[
            "<|fim_prefix|>",
            "<fim-prefix>",
            "<fim_prefix>",
            "<\u{ff5c}fim\u{2581}begin\u{ff5c}>",
            "<PRE>",
            "\u{2581}<PRE>",
            "<|code_prefix|>",
            "<|prefix|>",
        ],
    ),
    (
        "tokenizer.ggml.fim_suf_token_id",
        &[
            "<|fim_suffix|>",
            "<fim-suffix>",
            "<fim_suffix>",
            "<\u{ff5c}fim\u{2581}hole\u{ff5c}>",
            "<SUF>",
            "\u{2581}<SUF>",
            "<|code_suffix|>",
            "<|suffix|>",
        ],
    ),
    (
        "tokenizer.ggml.fim_mid_token_id",
        &[
            "<|fim_middle|>",
            "<fim-middle>",
            "<fim_middle>",
            "<\u{ff5c}fim\u{2581}end\u{ff5c}>",
            "<MID>",
            "\u{2581}<MID>",
            "<|code_middle|>",
            "<|middle|>",
        ],
    ),
    (
        "tokenizer.ggml.fim_pad_token_id",
        &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
    ),
    (
        "tokenizer.ggml.fim_rep_token_id",
        &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
    ),
    ("tokenizer.ggml.fim_sep_token_id", &["<|file_sep|>"]),
];

/// Texts llama.cpp treats as end-of-generation, always made control tokens.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "[e~[",
];

/// Token attributes as llama.cpp derives them: the GGUF's token types, then its text-based
/// overrides (which decide whether a token is matched when special tokens are not parsed).
fn llama_cpp_attrs(
    g: &Gguf,
    tokens: &[String],
    types: &[TokenType],
    vocab: &HashMap<String, u32>,
) -> Vec<Attrs> {
    let mut attrs: Vec<Attrs> = types
        .iter()
        .map(|t| match t {
            TokenType::Normal => Attrs::NORMAL,
            TokenType::Unknown => Attrs::UNKNOWN,
            TokenType::Control => Attrs::CONTROL,
            TokenType::UserDefined => Attrs::USER_DEFINED,
            TokenType::Unused => Attrs(2),
            TokenType::Byte => Attrs(32),
            TokenType::Undefined => Attrs(0),
        })
        .collect();
    let id_of = |t: &str| vocab.get(t).map(|&i| i as usize);
    // Roles without an explicit id: llama.cpp marks the first match in its (unordered) map;
    // vocabularies hold at most one of each list in practice, so marking every match is the same.
    for (key, texts) in ROLE_TEXTS {
        let explicit = g.get(key).is_some()
            || (key.ends_with("fim_pre_token_id")
                && g.get("tokenizer.ggml.prefix_token_id").is_some())
            || (key.ends_with("fim_suf_token_id")
                && g.get("tokenizer.ggml.suffix_token_id").is_some())
            || (key.ends_with("fim_mid_token_id")
                && g.get("tokenizer.ggml.middle_token_id").is_some());
        if !explicit {
            for i in texts.iter().filter_map(|t| id_of(t)) {
                attrs[i].set(Attrs::CONTROL, true);
            }
        }
    }
    for i in EOG_TEXTS.iter().filter_map(|t| id_of(t)) {
        attrs[i].set(Attrs::CONTROL, true);
    }
    // gpt-oss: these are always rendered, so llama.cpp makes them user-defined.
    for t in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(i) = id_of(t) {
            attrs[i] = Attrs::USER_DEFINED;
        }
    }
    // o200k_harmony and solar-open: "<|end|>" is not end-of-generation there.
    let has = |t: &str| id_of(t).is_some();
    if has("<|end|>")
        && ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")))
    {
        if let Some(i) = id_of("<|end|>") {
            attrs[i] = Attrs::USER_DEFINED;
        }
    }
    // gemma4 and plamo have an ordinary "</s>".
    if has("</s>") && (has("<|tool_response>") || has("<|plamo:eos|>")) {
        if let Some(i) = id_of("</s>") {
            attrs[i] = Attrs::NORMAL;
        }
    }
    debug_assert_eq!(attrs.len(), tokens.len());
    attrs
}

/// llama.cpp's whitespace-stripping overrides, keyed on the model name (Phi-3 strips spaces
/// after its special tokens).
fn strip_overrides(g: &Gguf, specials: &[u32], vocab: &HashMap<String, u32>, attrs: &mut [Attrs]) {
    let name = g
        .get("general.name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    if name.contains("phi-3") || name.contains("phi3") {
        for &id in specials {
            attrs[id as usize].set(Attrs::RSTRIP, true);
        }
        let mut set = |t: &str, on: bool| {
            if let Some(&i) = vocab.get(t) {
                attrs[i as usize].set(Attrs::RSTRIP, on);
            }
        };
        set("</s>", true);
        for t in ["<unk>", "<s>", "<|endoftext|>"] {
            set(t, false);
        }
    }
}

/// The tokenizers crate wants its own hash map type for the vocabulary.
fn to_ahash(vocab: HashMap<String, u32>) -> tokenizers::models::bpe::Vocab {
    vocab.into_iter().collect()
}

/// A piece of input after splitting on special tokens.
#[derive(Debug, Clone, Copy)]
enum Fragment<'t> {
    Text(&'t str),
    Token(u32),
}

/// The byte of a `<0xXX>` token.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_a_bijection() {
        let t = gpt2_byte_chars();
        let set: std::collections::HashSet<char> = t.iter().copied().collect();
        assert_eq!(set.len(), 256);
        assert_eq!(t[b' ' as usize], '\u{120}');
        assert_eq!(t[b'a' as usize], 'a');
    }

    #[test]
    fn byte_tokens_parse() {
        assert_eq!(parse_byte_token("<0x0A>"), Some(10));
        assert_eq!(parse_byte_token("<0xFF>"), Some(255));
        assert_eq!(parse_byte_token("<0x1>"), None);
        assert_eq!(parse_byte_token("a"), None);
    }

    #[test]
    fn unsupported_model_is_named() {
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert(
            "tokenizer.ggml.model".to_string(),
            Value::String("bert".into()),
        );
        let g = Gguf {
            version: 3,
            metadata,
            tensors: vec![],
            data_offset: 0,
            alignment: 32,
        };
        let e = Tokenizer::from_gguf(&g).unwrap_err();
        assert!(matches!(&e, TokenizerError::UnsupportedModel(m) if m == "bert"));
        assert!(e.to_string().contains("bert"));
    }
}
