//! One pass over a JSON object that hands each scalar leaf, with the keys of the objects above
//! it, to a visitor: no tree is built and nothing is copied, so reading a server's JSON line
//! costs about what reading its text line does.
//!
//! The walk is lenient where logs need it and bounded where input is hostile:
//! - Objects are descended up to [`MAX_PATH`] keys deep; anything deeper (10,000 nested arrays
//!   included) is skipped by counting brackets, without recursion, so no nesting can exhaust
//!   the stack and the fields after it are still read.
//! - Of an array only the first element is reported, under the array's key (Caddy writes each
//!   header as a list: `"User-Agent":["curl/8.5.0"]`); objects inside arrays are skipped.
//! - A line cut short (a writer killed mid-line, a record cut at its size limit) ends the walk
//!   with [`End::Truncated`] after the leaves read so far; the leaf that was being read when the
//!   text ran out is not reported, since a cut number or string would be wrong, not short.
//! - A byte that cannot start or continue JSON is a [`Syntax`] error: the line is some other
//!   text that happens to start with `{`.
//! - Text after the object's closing brace is ignored.

use std::borrow::Cow;
use std::fmt;

/// Deepest object nesting whose leaves are reported: `request.headers.User-Agent` (Caddy) and
/// `http.response.body.bytes` (ECS) are the deepest keys the log layouts need.
pub(super) const MAX_PATH: usize = 4;

/// A leaf value as the line writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar<'a> {
    /// A string's text between its quotes, still escaped when `escaped`.
    Str { raw: &'a str, escaped: bool },
    /// A number's text, not yet checked.
    Num(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl<'a> Scalar<'a> {
    /// A string's value, unescaped; None for other kinds and for a malformed escape.
    pub(super) fn text(&self) -> Option<Cow<'a, str>> {
        match *self {
            Scalar::Str {
                raw,
                escaped: false,
            } => Some(Cow::Borrowed(raw)),
            Scalar::Str { raw, escaped: true } => unescape(raw).map(Cow::Owned),
            _ => None,
        }
    }

    /// A string's value or a number's text: logs write a status as `404` or `"404"`.
    pub(super) fn text_or_number(&self) -> Option<Cow<'a, str>> {
        match *self {
            Scalar::Num(n) => Some(Cow::Borrowed(n)),
            _ => self.text(),
        }
    }
}

/// How a walk that found an object ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// The top-level object was closed.
    Closed,
    /// The text ended inside the object.
    Truncated,
}

/// The text is not a JSON object: the byte offset where it stopped being one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Syntax {
    /// Offset of the offending byte.
    pub(super) at: usize,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a JSON object at byte {}", self.at)
    }
}

impl std::error::Error for Syntax {}

/// Why the walk stopped early.
enum Stop {
    Syntax(usize),
    /// The text ran out.
    End,
}

struct Walker<'a, V> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
    visit: V,
}

/// Walks the JSON object at the start of `text` (after blanks), calling `visit(path, key, value)`
/// for every scalar member of an object at most [`MAX_PATH`] levels down, `path` being the keys
/// of the enclosing objects below the top one.
pub(super) fn walk<'a, V>(text: &'a str, visit: V) -> Result<End, Syntax>
where
    V: FnMut(&[&'a str], &'a str, Scalar<'a>),
{
    let mut w = Walker {
        text,
        bytes: text.as_bytes(),
        i: 0,
        visit,
    };
    let mut path: [&'a str; MAX_PATH] = [""; MAX_PATH];
    let run = |w: &mut Walker<'a, V>, path: &mut [&'a str; MAX_PATH]| -> Result<(), Stop> {
        w.blanks()?;
        if w.bytes[w.i] != b'{' {
            return Err(Stop::Syntax(w.i));
        }
        w.object(path, 0)
    };
    match run(&mut w, &mut path) {
        Ok(()) => Ok(End::Closed),
        Err(Stop::End) => Ok(End::Truncated),
        Err(Stop::Syntax(at)) => Err(Syntax { at }),
    }
}

impl<'a, V> Walker<'a, V>
where
    V: FnMut(&[&'a str], &'a str, Scalar<'a>),
{
    /// Skips blanks; the text running out here means it was cut.
    fn blanks(&mut self) -> Result<(), Stop> {
        while let Some(&b) = self.bytes.get(self.i) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(());
            }
            self.i += 1;
        }
        Err(Stop::End)
    }

    /// The byte at the cursor, after blanks.
    fn next_byte(&mut self) -> Result<u8, Stop> {
        self.blanks()?;
        Ok(self.bytes[self.i])
    }

    /// An object's members, from its `{` to past its `}`; `depth` objects enclose it.
    fn object(&mut self, path: &mut [&'a str; MAX_PATH], depth: usize) -> Result<(), Stop> {
        self.i += 1;
        if self.next_byte()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.next_byte()? != b'"' {
                return Err(Stop::Syntax(self.i));
            }
            let (key, _) = self.string()?;
            if self.next_byte()? != b':' {
                return Err(Stop::Syntax(self.i));
            }
            self.i += 1;
            match self.next_byte()? {
                b'{' if depth < MAX_PATH => {
                    path[depth] = key;
                    self.object(path, depth + 1)?;
                }
                b'{' => self.skip(0)?,
                b'[' => self.array(&path[..depth], key)?,
                _ => {
                    let v = self.scalar()?;
                    (self.visit)(&path[..depth], key, v);
                }
            }
            match self.next_byte()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Syntax(self.i)),
            }
        }
    }

    /// An array under `key`: its first element is reported if it is a scalar, the rest skipped.
    fn array(&mut self, path: &[&'a str], key: &'a str) -> Result<(), Stop> {
        self.i += 1;
        match self.next_byte()? {
            b']' => {
                self.i += 1;
                return Ok(());
            }
            b'{' | b'[' => {}
            _ => {
                let v = self.scalar()?;
                (self.visit)(path, key, v);
            }
        }
        // Inside the array: one bracket open.
        self.skip(1)
    }

    /// Skips to past the bracket that closes the `open` containers the cursor is in (with
    /// `open == 0`, the container that starts at the cursor). Brackets are counted, not
    /// matched by kind: a loop over bytes whatever the nesting.
    fn skip(&mut self, mut open: usize) -> Result<(), Stop> {
        while let Some(&b) = self.bytes.get(self.i) {
            match b {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => open += 1,
                b'}' | b']' => {
                    open = open.checked_sub(1).ok_or(Stop::Syntax(self.i))?;
                    if open == 0 {
                        self.i += 1;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(Stop::End)
    }

    /// The string at the cursor (its opening quote): its raw text and whether it has escapes.
    fn string(&mut self) -> Result<(&'a str, bool), Stop> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match self.bytes.get(j) {
                None => return Err(Stop::End),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    j += 2;
                }
                Some(_) => j += 1,
            }
        }
        self.i = j + 1;
        // Both ends sit next to an ASCII quote, so they are character boundaries.
        let raw = self.text.get(start..j).ok_or(Stop::Syntax(start))?;
        Ok((raw, escaped))
    }

    /// A string, number or literal at the cursor.
    fn scalar(&mut self) -> Result<Scalar<'a>, Stop> {
        let at = self.i;
        match self.bytes[at] {
            b'"' => {
                let (raw, escaped) = self.string()?;
                Ok(Scalar::Str { raw, escaped })
            }
            b'-' | b'0'..=b'9' => {
                let len = self.bytes[at..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    // A number that runs to the end of the text may have lost digits.
                    .ok_or(Stop::End)?;
                self.i += len;
                Ok(Scalar::Num(&self.text[at..at + len]))
            }
            b't' => self.literal("true", Scalar::Bool(true)),
            b'f' => self.literal("false", Scalar::Bool(false)),
            b'n' => self.literal("null", Scalar::Null),
            _ => Err(Stop::Syntax(at)),
        }
    }

    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Result<Scalar<'a>, Stop> {
        let rest = &self.bytes[self.i..];
        if rest.starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(value)
        } else if word.as_bytes().starts_with(rest) {
            Err(Stop::End)
        } else {
            Err(Stop::Syntax(self.i))
        }
    }
}

/// A JSON string's raw text unescaped; None for a malformed escape. A lone surrogate becomes
/// U+FFFD, as a log reader should rather than drop the field.
pub(super) fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let esc = *rest.as_bytes().get(at + 1)?;
        // JSON escapes are one ASCII letter; anything else (`\é`) is invalid, and slicing past
        // it by one byte would cut a character in two.
        if !esc.is_ascii() {
            return None;
        }
        rest = &rest[at + 2..];
        match esc {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let unit = hex4(rest)?;
                rest = &rest[4..];
                let c = if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate is only whole with the low one after it.
                    match rest.strip_prefix("\\u").and_then(hex4) {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            rest = &rest[6..];
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                        }
                        _ => None,
                    }
                } else {
                    char::from_u32(unit)
                };
                out.push(c.unwrap_or('\u{fffd}'));
            }
            _ => return None,
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Four hex digits at the start of `s`.
fn hex4(s: &str) -> Option<u32> {
    let digits = s.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(text: &str) -> (Result<End, Syntax>, Vec<String>) {
        let mut out = Vec::new();
        let end = walk(text, |path: &[&str], key: &str, v: Scalar<'_>| {
            let value = match v {
                Scalar::Num(n) => n.to_string(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Null => "null".into(),
                s => format!("{:?}", s.text()),
            };
            let mut name = path.join(".");
            if !name.is_empty() {
                name.push('.');
            }
            out.push(format!("{name}{key}={value}"));
        });
        (end, out)
    }

    #[test]
    fn leaves_with_their_paths() {
        let (end, got) = leaves(
            r#" {"a":1,"b":{"c":"x\"y","d":[ "first", "second" ],"e":[{"f":1}],"g":[]},"h":true,"i":null,"j":-1.5e3} trailing"#,
        );
        assert_eq!(end, Ok(End::Closed));
        assert_eq!(
            got,
            [
                "a=1",
                "b.c=Some(\"x\\\"y\")",
                "b.d=Some(\"first\")",
                "h=true",
                "i=null",
                "j=-1.5e3"
            ]
        );
    }

    #[test]
    fn deep_objects_are_skipped_and_the_walk_goes_on() {
        let (end, got) =
            leaves(r#"{"a":{"b":{"c":{"d":{"e":{"f":1}},"k":2}}},"deep":[[[["x"]]]],"after":3}"#);
        assert_eq!(end, Ok(End::Closed));
        assert_eq!(got, ["a.b.c.k=2", "after=3"]);
        let arrays = format!(
            r#"{{"a":{}{}, "z":"end"}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let (end, got) = leaves(&arrays);
        assert_eq!(end, Ok(End::Closed));
        assert_eq!(got, [r#"z=Some("end")"#]);
        let objects = format!(
            r#"{{"a":{}1{},"z":1}}"#,
            r#"{"a":"#.repeat(10_000),
            "}".repeat(10_000)
        );
        let (end, got) = leaves(&objects);
        assert_eq!(end, Ok(End::Closed));
        assert_eq!(got, ["z=1"]);
        // Cut inside the deep part: what came before is kept.
        let (end, got) = leaves(&format!(r#"{{"z":1,"a":{}"#, "[".repeat(100_000)));
        assert_eq!((end, got), (Ok(End::Truncated), vec!["z=1".to_string()]));
    }

    #[test]
    fn truncation_and_syntax() {
        let (end, got) = leaves(r#"{"a":"x","b":17958"#);
        assert_eq!(
            (end, got),
            (Ok(End::Truncated), vec!["a=Some(\"x\")".into()])
        );
        assert_eq!(leaves(r#"{"a":"x","b":"cut"#).0, Ok(End::Truncated));
        assert_eq!(leaves(r#"{"a":tr"#).0, Ok(End::Truncated));
        assert_eq!(leaves("{").0, Ok(End::Truncated));
        assert_eq!(leaves("{not json").0, Err(Syntax { at: 1 }));
        assert_eq!(leaves(r#"{"a":tx}"#).0, Err(Syntax { at: 5 }));
        assert_eq!(leaves(r#"{"a" 1}"#).0, Err(Syntax { at: 5 }));
        assert_eq!(leaves(r#"{"a":1 "b":2}"#).0, Err(Syntax { at: 7 }));
        assert_eq!(leaves(r#"{"a":[1]]]}"#).0, Err(Syntax { at: 8 }));
        assert_eq!(leaves("[1,2]").0, Err(Syntax { at: 0 }));
        assert_eq!(leaves("").0, Ok(End::Truncated));
    }

    #[test]
    fn a_backslash_before_a_multibyte_character_is_invalid_not_a_panic() {
        // Found by fuzzing (structured_line): `{"msg":"\é"}` cut `é` in two.
        assert_eq!(unescape("\\é"), None);
        assert_eq!(unescape("ok \\\u{fffd} x"), None);
        let p = crate::logline::parse("{\"msg\":\"\\é\"}", 2026);
        assert_eq!(p.time, None);
    }

    #[test]
    fn unescaping() {
        assert_eq!(unescape(r"a\nb\t\\\/\u00e9").as_deref(), Some("a\nb\t\\/é"));
        assert_eq!(unescape(r"\ud83d\ude00").as_deref(), Some("😀"));
        assert_eq!(unescape(r"\ud83dx").as_deref(), Some("\u{fffd}x"));
        assert_eq!(unescape(r"\q"), None);
        assert_eq!(unescape(r"\u12"), None);
        assert_eq!(unescape("end\\"), None);
    }
}
