//! The systemd journal as a log source: its entries become the syslog lines that the parser and
//! the model already read, one line per entry.
//!
//! Two ways in:
//!
//! - **stdin**: `journalctl -o json | opensoc scan -` or `journalctl -o export | opensoc scan -`.
//!   [`text_or_journal`] looks at the first bytes and converts the stream if it is journal
//!   output; any other stream passes through as text.
//! - **journalctl**: `scan --journal` and `watch --journal` run `journalctl -o export`
//!   ([`JournalQuery::start`]) and read its output through a [`JournalStream`].
//!
//! An entry becomes `<time> <host> <program>[<pid>]: <message>`: the time is
//! `__REALTIME_TIMESTAMP` in RFC 3339, UTC, to the second (UTC, so that the same entry converts
//! to the same bytes whatever the machine's zone: a resumed journal's offsets depend on it); the
//! host `_HOSTNAME`; the program `SYSLOG_IDENTIFIER`, else `_COMM`; the pid `_PID`, else
//! `SYSLOG_PID`. Control characters in the message are escaped (`\n`, `\x1b`), so one entry is
//! always one line. An entry without a message becomes an empty line, which the pipeline passes
//! by (it still moves the checkpoint).
//!
//! Bounded whatever the input: a field value is kept up to [`MAX_FIELD`] bytes and the rest is
//! read past, never held (a 1 GB binary field costs 64 KiB). A message cut there makes a line
//! longer than the line reader's [`MAX_LINE`], which skips and counts it like any over-long log
//! line: it is garbage or padding, not something a logger writes.
//!
//! Exactly once across restarts ([`crate::ingest`]): the converted lines are a virtual file,
//! whose content offsets count the converted bytes from the journal's first entry on. Each
//! entry's cursor is noted at the offset where its line ends ([`Marks`]); the pipeline saves the
//! cursor of the last entry before its checkpoint, and the next run asks journalctl for the
//! entries after that cursor and numbers them from the saved offset on, so the offsets of
//! committed windows mean the same entries in every run.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};

use crate::tail::line_reader::MAX_LINE;

/// The most bytes kept of a message; the rest of a longer one is read past. A message cut here
/// makes a line over [`MAX_LINE`], which the line reader skips and counts.
pub const MAX_FIELD: usize = MAX_LINE;

/// The most bytes kept of the other fields used (host, program, pid, times, cursor): none is
/// longer in a real journal (a cursor is about 130 bytes).
const MAX_SMALL_FIELD: usize = 1024;

/// The longest field name read: the journal allows 64 bytes.
const MAX_NAME: usize = 64;

/// The longest line of `journalctl -o json` parsed; a longer one is passed on cut, as a line
/// over [`MAX_LINE`] that the line reader skips and counts. journalctl leaves out fields over
/// 4,096 bytes unless told `--all`, so real entries are a few KiB.
pub const MAX_JSON_LINE: usize = 1024 * 1024;

/// Bytes looked at to recognise journal output on stdin: a JSON entry's keys may come after a
/// long message, in any order.
pub const SNIFF_JOURNAL: usize = 64 * 1024;

/// Converted bytes handed on at once (whole lines; fewer when journalctl has nothing more yet).
const BATCH: usize = 64 * 1024;

/// Batches that wait between the journalctl thread and the pipeline: the thread stops reading
/// when the pipeline is behind, and journalctl's own pipe then holds it up.
const BATCHES_IN_FLIGHT: usize = 16;

/// Cursors kept per journal between two saves, at most. Normally a save takes them all but the
/// newest; when a long-open window holds the checkpoint back, every other one is dropped
/// instead of growing (the saved cursor may then lie a little before the checkpoint, and the
/// next run reads past those entries again without judging them).
const MAX_MARKS: usize = 16 * 1024;

/// Why reading the journal failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// There is no `journalctl` to run.
    #[error(
        "journalctl not found on PATH: reading the systemd journal needs systemd's journalctl \
         (on another machine: copy its /var/log/journal and use --journal-dir)"
    )]
    Missing,
    /// `journalctl` could not be started.
    #[error("cannot start journalctl: {0}")]
    Spawn(#[source] io::Error),
    /// `journalctl` failed; it said why on stderr.
    #[error("journalctl failed ({status}); its message is above")]
    Failed {
        /// How it ended.
        status: ExitStatus,
    },
    /// The export stream ends inside an entry; the entries before it were read.
    #[error("the journal export stream ends inside an entry, {at} bytes in")]
    Truncated {
        /// Bytes of the stream read.
        at: u64,
    },
    /// Bytes that are no journal export format.
    #[error("not the journal export format, {at} bytes in: {what}")]
    Syntax {
        /// Bytes of the stream read before the fault.
        at: u64,
        /// What was wrong.
        what: &'static str,
    },
    /// Reading the stream failed.
    #[error("reading the journal: {0}")]
    Io(#[from] io::Error),
}

/// What a stream holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// Log text (or anything else): read as it is.
    Text,
    /// `journalctl -o json` (or `json-seq`): one JSON object per entry and line.
    Json,
    /// `journalctl -o export`.
    Export,
}

/// Recognises journalctl's output from the first bytes of a stream: the export format starts
/// with an entry's `__CURSOR=` (or, written by hand, `__REALTIME_TIMESTAMP=`); a JSON entry is
/// an object on one line naming `__CURSOR`, or `MESSAGE` and `__REALTIME_TIMESTAMP` (the keys
/// come in any order). A JSON log of an application has neither.
pub fn recognise(head: &[u8]) -> StreamFormat {
    if head.starts_with(b"__CURSOR=") || head.starts_with(b"__REALTIME_TIMESTAMP=") {
        return StreamFormat::Export;
    }
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != RECORD_SEPARATOR)
        .unwrap_or(head.len());
    let rest = &head[start..];
    let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
    let has = |key: &[u8]| memchr::memmem::find(line, key).is_some();
    if line.starts_with(b"{")
        && (has(b"\"__CURSOR\"") || has(b"\"MESSAGE\"") && has(b"\"__REALTIME_TIMESTAMP\""))
    {
        return StreamFormat::Json;
    }
    StreamFormat::Text
}

/// `journalctl -o json-seq` starts each entry with ASCII RS (RFC 7464).
const RECORD_SEPARATOR: u8 = 0x1e;

/// The fields of one entry that its line is made of.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `__CURSOR`: where the entry is in the journal.
    pub cursor: Option<String>,
    /// `__REALTIME_TIMESTAMP`: microseconds since the epoch, when the journal received it.
    pub realtime_us: Option<u64>,
    /// `_SOURCE_REALTIME_TIMESTAMP`: when the program logged it; used without the former.
    pub source_realtime_us: Option<u64>,
    /// `_HOSTNAME`.
    pub hostname: Option<Vec<u8>>,
    /// `SYSLOG_IDENTIFIER`: the program's name as it logs it.
    pub identifier: Option<Vec<u8>>,
    /// `_COMM`: the process's name, when it gave no identifier.
    pub comm: Option<Vec<u8>>,
    /// `_PID`.
    pub pid: Option<Vec<u8>>,
    /// `SYSLOG_PID`, when there is no `_PID`.
    pub syslog_pid: Option<Vec<u8>>,
    /// `MESSAGE`, at most [`MAX_FIELD`] bytes of it.
    pub message: Option<Vec<u8>>,
}

/// The fields an entry's line uses, and how much of each is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Cursor,
    Realtime,
    SourceRealtime,
    Hostname,
    Identifier,
    Comm,
    Pid,
    SyslogPid,
    Message,
}

impl Field {
    fn of(name: &[u8]) -> Option<Field> {
        Some(match name {
            b"__CURSOR" => Field::Cursor,
            b"__REALTIME_TIMESTAMP" => Field::Realtime,
            b"_SOURCE_REALTIME_TIMESTAMP" => Field::SourceRealtime,
            b"_HOSTNAME" => Field::Hostname,
            b"SYSLOG_IDENTIFIER" => Field::Identifier,
            b"_COMM" => Field::Comm,
            b"_PID" => Field::Pid,
            b"SYSLOG_PID" => Field::SyslogPid,
            b"MESSAGE" => Field::Message,
            _ => return None,
        })
    }

    fn cap(self) -> usize {
        match self {
            Field::Message => MAX_FIELD,
            _ => MAX_SMALL_FIELD,
        }
    }
}

impl Entry {
    fn clear(&mut self) {
        *self = Entry::default();
    }

    /// Sets `field` from `value` (at most its cap), unless an earlier value of the same field
    /// set it: a field given twice in one entry is read by its first value.
    fn set(&mut self, field: Field, value: &[u8]) {
        let value = &value[..value.len().min(field.cap())];
        let number = || std::str::from_utf8(value).ok()?.trim().parse::<u64>().ok();
        let bytes = |slot: &mut Option<Vec<u8>>| {
            if slot.is_none() {
                *slot = Some(value.to_vec());
            }
        };
        match field {
            Field::Cursor => {
                if self.cursor.is_none() {
                    self.cursor = Some(String::from_utf8_lossy(value).into_owned());
                }
            }
            Field::Realtime => self.realtime_us = self.realtime_us.or_else(number),
            Field::SourceRealtime => {
                self.source_realtime_us = self.source_realtime_us.or_else(number)
            }
            Field::Hostname => bytes(&mut self.hostname),
            Field::Identifier => bytes(&mut self.identifier),
            Field::Comm => bytes(&mut self.comm),
            Field::Pid => bytes(&mut self.pid),
            Field::SyslogPid => bytes(&mut self.syslog_pid),
            Field::Message => bytes(&mut self.message),
        }
    }

    /// Whether the entry holds any field its line uses.
    fn is_empty(&self) -> bool {
        *self == Entry::default()
    }
}

/// Appends the entry's syslog line, with its newline, to `out`:
/// `2024-03-05T10:00:01Z web1 sshd[4242]: Failed password for root from 203.0.113.9 …`.
/// An entry without a message appends an empty line.
pub fn syslog_line(e: &Entry, out: &mut Vec<u8>) {
    let Some(message) = &e.message else {
        out.push(b'\n');
        return;
    };
    if let Some(us) = e.realtime_us.or(e.source_realtime_us) {
        let secs = (us / 1_000_000) as i64;
        // A stamp that no calendar year of four digits holds is garbage, written as it is.
        let stamp = opensoc_logs::logline::rfc3339(secs).unwrap_or_else(|| secs.to_string());
        out.extend_from_slice(stamp.as_bytes());
        out.push(b' ');
    }
    match &e.hostname {
        Some(h) if !h.is_empty() => push_token(out, h),
        _ => out.push(b'-'),
    }
    out.push(b' ');
    if let Some(program) = e.identifier.as_ref().or(e.comm.as_ref()) {
        push_token(out, program);
        let pid = e.pid.as_ref().or(e.syslog_pid.as_ref());
        if let Some(pid) = pid.filter(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit)) {
            out.push(b'[');
            out.extend_from_slice(pid);
            out.push(b']');
        }
        out.extend_from_slice(b": ");
    }
    push_escaped(out, message);
    out.push(b'\n');
}

/// A host or program name as one token of the line: whitespace, control characters and the
/// characters that end a syslog tag (`:`, `[`, `]`) become `_`, so that the parser finds the
/// host, the tag and the message where they are.
fn push_token(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(256)];
    if bytes
        .iter()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b':' | b'[' | b']'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for c in String::from_utf8_lossy(bytes).chars() {
        if c.is_whitespace() || c.is_control() || matches!(c, ':' | '[' | ']') {
            out.push(b'_');
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// Appends a message with its control characters escaped: `\n`, `\r`, `\x1b` (C0 and DEL),
/// `\u{85}` (C1) and the Unicode line and paragraph separators, so that no message breaks its
/// entry's line or moves a terminal's cursor. Invalid UTF-8 becomes U+FFFD. A tab stays.
pub fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    // Nearly every message is printable UTF-8: copied as it is. 0xC2 starts the C1 controls,
    // 0xE2 the line and paragraph separators; either sends the message the slow way.
    let plain = |b: &u8| (*b >= 0x20 || *b == b'\t') && !matches!(b, 0x7f | 0xc2 | 0xe2);
    if bytes.iter().all(plain) {
        if let Ok(s) = std::str::from_utf8(bytes) {
            out.extend_from_slice(s.as_bytes());
            return;
        }
    }
    use std::io::Write;
    for c in String::from_utf8_lossy(bytes).chars() {
        // Writing into a Vec cannot fail.
        let _ = match c {
            '\t' => write!(out, "\t"),
            '\n' => write!(out, "\\n"),
            '\r' => write!(out, "\\r"),
            '\0'..='\x1f' | '\x7f' => write!(out, "\\x{:02x}", c as u32),
            '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' => write!(out, "\\u{{{:x}}}", c as u32),
            c => write!(out, "{c}"),
        };
    }
}

/// Reads through the next `\n` (consumed, not kept), keeping at most `cap` bytes of the line in
/// `out` (which the caller cleared); returns the line's length without its newline, and whether
/// a newline ended it (false: the input ended first).
fn read_line_capped<R: Read>(
    r: &mut BufReader<R>,
    out: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(u64, bool)> {
    let mut len = 0u64;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((len, false));
        }
        let (take, newline) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&buf[..take.min(room)]);
        len += take as u64;
        r.consume(take + usize::from(newline));
        if newline {
            return Ok((len, true));
        }
    }
}

/// Reads `n` bytes, keeping the first `keep` of them in `out`; returns the bytes read (fewer
/// than `n` when the input ended).
fn read_value<R: Read>(
    r: &mut BufReader<R>,
    mut n: u64,
    keep: usize,
    out: &mut Vec<u8>,
) -> io::Result<u64> {
    let mut read = 0;
    while n > 0 {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        let room = keep.saturating_sub(out.len()).min(take);
        out.extend_from_slice(&buf[..room]);
        r.consume(take);
        n -= take as u64;
        read += take as u64;
    }
    Ok(read)
}

/// Whether `name` is a journal field name: letters, digits and `_`, at most [`MAX_NAME`] bytes.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Entries of the journal export format (`journalctl -o export`): `NAME=value` lines, or for a
/// value that is not printable UTF-8 the name on its own line, a little-endian u64 length, the
/// bytes and a newline; an empty line ends each entry.
pub struct ExportParser<R: Read> {
    r: BufReader<R>,
    /// Bytes of the stream consumed (for errors).
    at: u64,
    line: Vec<u8>,
    /// The error that ended the stream after the entry before it was returned.
    pending: Option<JournalError>,
}

impl<R: Read> ExportParser<R> {
    /// A parser over `r`.
    pub fn new(r: R) -> Self {
        ExportParser {
            r: BufReader::with_capacity(BATCH, r),
            at: 0,
            line: Vec::new(),
            pending: None,
        }
    }

    /// Reads the next entry into `e`; false at the end of the stream. A stream that ends inside
    /// an entry returns what was read of it (when that holds a message), then
    /// [`JournalError::Truncated`].
    pub fn next_entry(&mut self, e: &mut Entry) -> Result<bool, JournalError> {
        if let Some(err) = self.pending.take() {
            return Err(err);
        }
        e.clear();
        let mut fields = 0usize;
        loop {
            self.line.clear();
            // A name, `=` and the most of a value that is kept.
            let cap = MAX_NAME + 1 + MAX_FIELD;
            let (len, newline) = read_line_capped(&mut self.r, &mut self.line, cap)?;
            self.at += len + u64::from(newline);
            if !newline {
                if len == 0 {
                    // The end of the stream; an entry without its closing empty line counts.
                    return Ok(fields > 0);
                }
                return self.truncated(e);
            }
            if len == 0 {
                if fields > 0 {
                    return Ok(true);
                }
                // Empty lines between entries.
                continue;
            }
            fields += 1;
            match memchr::memchr(b'=', &self.line[..self.line.len().min(MAX_NAME + 1)]) {
                Some(eq) => {
                    if !valid_name(&self.line[..eq]) {
                        return Err(self.syntax("a field name that is not one"));
                    }
                    if let Some(field) = Field::of(&self.line[..eq]) {
                        e.set(field, &self.line[eq + 1..]);
                    }
                }
                None => {
                    if !valid_name(&self.line) || len > self.line.len() as u64 {
                        return Err(
                            self.syntax("a line that is neither NAME=value nor a field name")
                        );
                    }
                    let field = Field::of(&self.line);
                    if !self.binary_value(e, field)? {
                        return self.truncated(e);
                    }
                }
            }
        }
    }

    /// Reads a binary field's length, value and closing newline, keeping the value in `e` if
    /// `field` is one it uses; false when the stream ends inside it.
    fn binary_value(&mut self, e: &mut Entry, field: Option<Field>) -> Result<bool, JournalError> {
        let mut size = [0u8; 8];
        let mut got = 0;
        while got < size.len() {
            match self.r.read(&mut size[got..]) {
                Ok(0) => return Ok(false),
                Ok(n) => got += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
        self.at += 8;
        let size = u64::from_le_bytes(size);
        let keep = field.map_or(0, Field::cap);
        // Kept in `line`: the name is no longer needed.
        self.line.clear();
        let read = read_value(&mut self.r, size, keep, &mut self.line)?;
        self.at += read;
        if read < size {
            return Ok(false);
        }
        let mut newline = [0u8; 1];
        match self.r.read(&mut newline) {
            Ok(0) => return Ok(false),
            Ok(_) if newline[0] == b'\n' => self.at += 1,
            Ok(_) => return Err(self.syntax("a binary field not followed by a newline")),
            Err(err) => return Err(err.into()),
        }
        if let Some(field) = field {
            e.set(field, &self.line);
        }
        Ok(true)
    }

    /// The stream ended inside an entry: what was read of it first, if it has a message.
    fn truncated(&mut self, e: &Entry) -> Result<bool, JournalError> {
        let err = JournalError::Truncated { at: self.at };
        if e.message.is_some() {
            self.pending = Some(err);
            return Ok(true);
        }
        Err(err)
    }

    fn syntax(&self, what: &'static str) -> JournalError {
        JournalError::Syntax { at: self.at, what }
    }

    /// Whether bytes of the stream are read and not yet parsed (else the next parse may wait
    /// for the writer).
    fn buffered(&self) -> bool {
        !self.r.buffer().is_empty()
    }
}

/// The fields of a `journalctl -o json` object that an entry's line uses.
#[derive(serde::Deserialize)]
struct JsonEntry {
    #[serde(rename = "__CURSOR")]
    cursor: Option<serde_json::Value>,
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime: Option<serde_json::Value>,
    #[serde(rename = "_SOURCE_REALTIME_TIMESTAMP")]
    source_realtime: Option<serde_json::Value>,
    #[serde(rename = "_HOSTNAME")]
    hostname: Option<serde_json::Value>,
    #[serde(rename = "SYSLOG_IDENTIFIER")]
    identifier: Option<serde_json::Value>,
    #[serde(rename = "_COMM")]
    comm: Option<serde_json::Value>,
    #[serde(rename = "_PID")]
    pid: Option<serde_json::Value>,
    #[serde(rename = "SYSLOG_PID")]
    syslog_pid: Option<serde_json::Value>,
    #[serde(rename = "MESSAGE")]
    message: Option<serde_json::Value>,
}

/// A JSON field's value as bytes. journalctl writes a string for printable UTF-8, an array of
/// byte values for anything else, an array of values for a field given more than once (the
/// first is taken) and null for a value over 4,096 bytes (unless `--all`): null is no value.
fn json_bytes(v: &serde_json::Value) -> Option<Vec<u8>> {
    use serde_json::Value;
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(n.to_string().into_bytes()),
        Value::Array(items) if items.iter().all(Value::is_u64) => Some(
            items
                .iter()
                .filter_map(Value::as_u64)
                .map(|b| u8::try_from(b).unwrap_or(b'?'))
                .collect(),
        ),
        Value::Array(items) => items.first().and_then(json_bytes),
        _ => None,
    }
}

/// What one line of `journalctl -o json` gave.
#[derive(Debug, PartialEq, Eq)]
enum JsonLine {
    /// An entry, in the parser's entry.
    Entry,
    /// A line that is no journal entry (not JSON, or too long to parse): passed on as text,
    /// kept in the parser's `raw`.
    Raw,
    /// The end of the stream.
    End,
}

/// Entries of `journalctl -o json` (and `-o json-seq`): one object per line.
pub struct JsonParser<R: Read> {
    r: BufReader<R>,
    line: Vec<u8>,
}

impl<R: Read> JsonParser<R> {
    /// A parser over `r`.
    pub fn new(r: R) -> Self {
        JsonParser {
            r: BufReader::with_capacity(BATCH, r),
            line: Vec::new(),
        }
    }

    /// Reads the next line into `e`, or, when it is no entry, into `raw`.
    fn next_line(&mut self, e: &mut Entry, raw: &mut Vec<u8>) -> Result<JsonLine, JournalError> {
        loop {
            self.line.clear();
            let (len, newline) = read_line_capped(&mut self.r, &mut self.line, MAX_JSON_LINE)?;
            if len == 0 && !newline {
                return Ok(JsonLine::End);
            }
            let text = self.line.trim_ascii();
            let text = text.strip_prefix(&[RECORD_SEPARATOR]).unwrap_or(text);
            if text.is_empty() {
                continue;
            }
            raw.clear();
            if len > self.line.len() as u64 {
                // Too long to parse with bounded memory: passed on as a line the line reader
                // skips and counts (anything over MAX_LINE is).
                raw.extend_from_slice(&self.line[..MAX_LINE + 1]);
                return Ok(JsonLine::Raw);
            }
            let parsed: JsonEntry = match serde_json::from_slice(text) {
                Ok(p) => p,
                Err(_) => {
                    raw.extend_from_slice(text);
                    return Ok(JsonLine::Raw);
                }
            };
            e.clear();
            let fields = [
                (Field::Cursor, &parsed.cursor),
                (Field::Realtime, &parsed.realtime),
                (Field::SourceRealtime, &parsed.source_realtime),
                (Field::Hostname, &parsed.hostname),
                (Field::Identifier, &parsed.identifier),
                (Field::Comm, &parsed.comm),
                (Field::Pid, &parsed.pid),
                (Field::SyslogPid, &parsed.syslog_pid),
                (Field::Message, &parsed.message),
            ];
            for (field, value) in fields {
                if let Some(bytes) = value.as_ref().and_then(json_bytes) {
                    e.set(field, &bytes);
                }
            }
            if e.is_empty() && parsed.message.is_none() {
                // Some other JSON object: passed on as it is.
                raw.extend_from_slice(text);
                return Ok(JsonLine::Raw);
            }
            return Ok(JsonLine::Entry);
        }
    }

    fn buffered(&self) -> bool {
        !self.r.buffer().is_empty()
    }
}

/// The parser of one stream's format.
enum Parser<R: Read> {
    Export(ExportParser<R>),
    Json(JsonParser<R>),
}

impl<R: Read> Parser<R> {
    /// Appends the next entry's line to `out`; its cursor, if any. None at the end.
    fn next_line(
        &mut self,
        e: &mut Entry,
        raw: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Option<Option<String>>, JournalError> {
        match self {
            Parser::Export(p) => {
                if !p.next_entry(e)? {
                    return Ok(None);
                }
            }
            Parser::Json(p) => match p.next_line(e, raw)? {
                JsonLine::End => return Ok(None),
                JsonLine::Raw => {
                    push_escaped(out, raw);
                    out.push(b'\n');
                    return Ok(Some(None));
                }
                JsonLine::Entry => {}
            },
        }
        syslog_line(e, out);
        Ok(Some(e.cursor.take()))
    }

    fn buffered(&self) -> bool {
        match self {
            Parser::Export(p) => p.buffered(),
            Parser::Json(p) => p.buffered(),
        }
    }
}

/// Where each entry's line ends in the converted stream, with the entry's cursor: the cursor to
/// save with a checkpoint. Shared by the thread that converts and the pipeline that saves.
#[derive(Debug, Clone, Default)]
pub struct Marks(Arc<Mutex<VecDeque<(u64, String)>>>);

impl Marks {
    fn push(&self, end: u64, cursor: String) {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back((end, cursor));
        if q.len() > MAX_MARKS {
            // Every other one goes, the newest stays: any mark at or before a checkpoint is a
            // correct place to resume from, the nearest just re-reads least.
            let mut i = 0;
            let last = q.len() - 1;
            q.retain(|_| {
                let keep = i % 2 == 1 || i == last;
                i += 1;
                keep
            });
        }
    }

    /// The last mark at or before content offset `at` (the cursor of the last entry wholly
    /// before it, and where that entry's line ends), taking it and every earlier one.
    pub fn take_upto(&self, at: u64) -> Option<(u64, String)> {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = None;
        while q.front().is_some_and(|(end, _)| *end <= at) {
            last = q.pop_front();
        }
        last
    }

    /// Marks held now.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a journal's reading resumes: after the entry `cursor`, whose line ended at content
/// offset `cursor_offset`; entries whose lines end at or before `checkpoint` (which is never
/// before the cursor's offset) are read past without being passed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    /// The saved cursor; none: from the journal's first entry (offset 0).
    pub cursor: Option<String>,
    /// Where the saved cursor's entry ends in the converted stream.
    pub cursor_offset: u64,
    /// The pipeline's checkpoint: the converted stream is passed on from here.
    pub checkpoint: u64,
}

/// Journal entries converted to syslog lines, as a byte stream of whole lines.
pub struct Converter<R: Read> {
    parser: Parser<R>,
    entry: Entry,
    raw: Vec<u8>,
    /// Content offset where the next line starts.
    next: u64,
    /// Lines that end at or before this offset are dropped (a resumed journal).
    skip_until: u64,
    marks: Option<Marks>,
    /// An error to return after the lines converted before it.
    error: Option<JournalError>,
    done: bool,
    /// What [`Read`] hands out: a batch and how far it is read.
    out: Vec<u8>,
    pos: usize,
}

impl<R: Read> Converter<R> {
    /// Converts `r`, in `format` (not [`StreamFormat::Text`], which is taken as export), from
    /// `resume` on, noting each entry's cursor in `marks` when given.
    pub fn new(r: R, format: StreamFormat, resume: &Resume, marks: Option<Marks>) -> Self {
        let parser = match format {
            StreamFormat::Json => Parser::Json(JsonParser::new(r)),
            _ => Parser::Export(ExportParser::new(r)),
        };
        Converter {
            parser,
            entry: Entry::default(),
            raw: Vec::new(),
            next: resume.cursor_offset,
            skip_until: resume.checkpoint,
            marks,
            error: None,
            done: false,
            out: Vec::new(),
            pos: 0,
        }
    }

    /// Replaces `out` with the next whole lines: up to 64 KiB, fewer when the input
    /// has no more bytes read ahead (journalctl following the journal may not write again for
    /// hours). False at the end of the input. An error comes after the lines before it.
    pub fn next_batch(&mut self, out: &mut Vec<u8>) -> Result<bool, JournalError> {
        out.clear();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        while !self.done {
            let before = out.len();
            match self.parser.next_line(&mut self.entry, &mut self.raw, out) {
                Ok(Some(cursor)) => self.place(out, before, cursor),
                Ok(None) => self.done = true,
                Err(e) if out.is_empty() => {
                    self.done = true;
                    return Err(e);
                }
                Err(e) => {
                    self.done = true;
                    self.error = Some(e);
                }
            }
            if !out.is_empty() && (out.len() >= BATCH || !self.parser.buffered()) {
                break;
            }
        }
        Ok(!out.is_empty())
    }

    /// Gives the line just appended at `before` its offsets: dropped if it ends at or before
    /// `skip_until`, else kept, its cursor noted where it ends.
    fn place(&mut self, out: &mut Vec<u8>, before: usize, cursor: Option<String>) {
        let start = self.next;
        let end = start + (out.len() - before) as u64;
        if start < self.skip_until {
            out.truncate(before);
            // A line across the checkpoint means the journal changed under the saved cursor
            // (entries vacuumed): what follows is numbered from the checkpoint, where the line
            // reader stands.
            self.next = if end <= self.skip_until {
                end
            } else {
                self.skip_until
            };
            return;
        }
        self.next = end;
        if let (Some(marks), Some(cursor)) = (&self.marks, cursor) {
            marks.push(end, cursor);
        }
    }
}

impl<R: Read> Read for Converter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            let mut out = std::mem::take(&mut self.out);
            self.pos = 0;
            let more = self.next_batch(&mut out).map_err(io::Error::other);
            self.out = out;
            if !more? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A stream read once (stdin), replayed from its first bytes.
type Replayed = io::Chain<Cursor<Vec<u8>>, Box<dyn Read + Send>>;

/// Stdin as text, or as journal output converted (decided at the first read).
enum Sniffed {
    Undecided(Option<Box<dyn Read + Send>>),
    Text(Replayed),
    Journal(Box<Converter<Replayed>>),
}

impl Read for Sniffed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Sniffed::Undecided(input) = self {
            let Some(mut input) = input.take() else {
                return Ok(0);
            };
            // Up to the first newline (a JSON entry's keys are on its line), at most
            // SNIFF_JOURNAL bytes.
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while head.len() < SNIFF_JOURNAL && memchr::memchr(b'\n', &head).is_none() {
                match input.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        *self = Sniffed::Text(Cursor::new(head).chain(input));
                        return Err(e);
                    }
                }
            }
            let format = recognise(&head);
            let replay = Cursor::new(head).chain(input);
            *self = match format {
                StreamFormat::Text => Sniffed::Text(replay),
                f => Sniffed::Journal(Box::new(Converter::new(
                    replay,
                    f,
                    &Resume::default(),
                    None,
                ))),
            };
        }
        match self {
            Sniffed::Text(r) => r.read(buf),
            Sniffed::Journal(c) => c.read(buf),
            Sniffed::Undecided(_) => Ok(0),
        }
    }
}

/// Reads `input` as log text, or, when its first bytes are `journalctl -o json` or
/// `journalctl -o export` output, as the syslog lines of its entries. Nothing is read until the
/// first read.
pub fn text_or_journal(input: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    Box::new(Sniffed::Undecided(Some(input)))
}

/// Called by the journalctl thread when it has handed on new lines (`watch` wakes up at once
/// rather than at its next poll).
pub type Wake = Box<dyn Fn() + Send>;

/// Which entries of which journal to read, as journalctl's options say it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalQuery {
    /// `journalctl -D DIR`: the journal files in a directory (another machine's
    /// `/var/log/journal`, a copy); none: the local journal.
    pub directory: Option<PathBuf>,
    /// `journalctl --file FILE`, each.
    pub files: Vec<PathBuf>,
    /// `journalctl -u UNIT`, each: only these units' entries; none: every entry.
    pub units: Vec<String>,
    /// `journalctl --follow`: keep reading as entries arrive.
    pub follow: bool,
}

impl JournalQuery {
    /// journalctl's options that select the entries, in a stable order: the store keeps one
    /// cursor per selection (so `scan --journal` and `watch --journal` share one, and
    /// `--journal sshd` has its own).
    pub fn selection(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(dir) = &self.directory {
            args.push("-D".to_string());
            args.push(dir.display().to_string());
        }
        for f in &self.files {
            args.push("--file".to_string());
            args.push(f.display().to_string());
        }
        let mut units = self.units.clone();
        units.sort();
        units.dedup();
        for u in units {
            args.push("-u".to_string());
            args.push(u);
        }
        args
    }

    /// The source's name in the store, in problems and in `verdicts inspect`:
    /// `journalctl -D /srv/web1/journal -u sshd`.
    pub fn name(&self) -> String {
        let mut name = "journalctl".to_string();
        for a in self.selection() {
            name.push(' ');
            name.push_str(&a);
        }
        name
    }

    /// The verdicts' source: `journal`, or `journal:` and the directory or first file read.
    pub fn group(&self) -> String {
        match (&self.directory, self.files.first()) {
            (Some(p), _) | (None, Some(p)) => format!("journal:{}", p.display()),
            (None, None) => "journal".to_string(),
        }
    }

    /// journalctl's arguments, resuming after `cursor`.
    pub fn args(&self, cursor: Option<&str>) -> Vec<String> {
        let mut args: Vec<String> = ["--output=export", "--no-pager"].map(String::from).to_vec();
        args.extend(self.selection());
        if let Some(c) = cursor {
            args.push(format!("--after-cursor={c}"));
        }
        if self.follow {
            // --follow alone starts at the last 10 entries; the checkpoint says where to start.
            args.push("--follow".to_string());
            args.push("--no-tail".to_string());
        }
        args
    }

    /// Starts journalctl from `resume` and its converting thread; the entries' cursors are noted
    /// in `marks`, and `wake` is called when lines are ready.
    pub fn start(
        &self,
        resume: &Resume,
        marks: Marks,
        wake: Option<Wake>,
    ) -> Result<JournalStream, JournalError> {
        let journalctl = journalctl()?;
        let mut child = Command::new(journalctl)
            .args(self.args(resume.cursor.as_deref()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Its warnings and errors reach the user as it words them.
            .stderr(Stdio::inherit())
            // Its own process group: a Ctrl-C in the terminal stops opensoc, which stops it
            // after the checkpoints are written, rather than ending the stream under us.
            .process_group(0)
            .spawn()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => JournalError::Missing,
                _ => JournalError::Spawn(e),
            })?;
        let stdout = child.stdout.take().ok_or_else(|| {
            JournalError::Spawn(io::Error::other("journalctl's output is not a pipe"))
        })?;
        let child = Arc::new(Mutex::new(child));
        let (tx, rx) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let converter = Converter::new(stdout, StreamFormat::Export, resume, Some(marks));
        let for_thread = child.clone();
        let spawned = std::thread::Builder::new()
            .name("journalctl".into())
            .spawn(move || convert_output(converter, tx, for_thread, wake));
        if let Err(e) = spawned {
            stop(&child);
            return Err(JournalError::Spawn(e));
        }
        Ok(JournalStream {
            rx,
            batch: Vec::new(),
            pos: 0,
            wait: !self.follow,
            ended: false,
            child,
        })
    }
}

/// The thread that converts journalctl's output and hands it to the pipeline; when the output
/// ends, it waits for journalctl and hands on its failure, if it failed.
fn convert_output(
    mut converter: Converter<ChildStdout>,
    tx: SyncSender<Result<Vec<u8>, JournalError>>,
    child: Arc<Mutex<Child>>,
    wake: Option<Wake>,
) {
    let mut failure = None;
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        match converter.next_batch(&mut batch) {
            Ok(true) => {
                if tx.send(Ok(batch)).is_err() {
                    // The pipeline is gone (its stream dropped, which stops journalctl).
                    break;
                }
                if let Some(wake) = &wake {
                    wake();
                }
            }
            Ok(false) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(converter);
    let status = child.lock().unwrap_or_else(|p| p.into_inner()).wait();
    let failure = match (failure, status) {
        // journalctl's own failure explains a cut stream better than the cut.
        (_, Ok(status)) if !status.success() => Some(JournalError::Failed { status }),
        (f, Err(e)) => f.or(Some(JournalError::Io(e))),
        (f, Ok(_)) => f,
    };
    if let Some(f) = failure {
        let _ = tx.send(Err(f));
    }
    if let Some(wake) = &wake {
        wake();
    }
}

/// Ends journalctl (when it still runs).
fn stop(child: &Mutex<Child>) {
    let mut c = child.lock().unwrap_or_else(|p| p.into_inner());
    // Fails only when it has ended already: nothing to stop.
    let _ = c.kill();
}

/// The lines of a running journalctl, as the line reader reads them: whole lines; while
/// following, a read with nothing ready returns 0 (the line reader's "nothing more now"), and
/// the next read looks again. Dropping it stops journalctl.
pub struct JournalStream {
    rx: Receiver<Result<Vec<u8>, JournalError>>,
    batch: Vec<u8>,
    pos: usize,
    /// Wait for the next batch (a scan, which reads to the end) rather than return 0.
    wait: bool,
    ended: bool,
    child: Arc<Mutex<Child>>,
}

impl Read for JournalStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.batch.len() {
            if self.ended {
                return Ok(0);
            }
            let next = if self.wait {
                self.rx.recv().ok()
            } else {
                match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => return Ok(0),
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            match next {
                Some(Ok(batch)) => {
                    self.batch = batch;
                    self.pos = 0;
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Err(io::Error::other(e));
                }
                None => self.ended = true,
            }
        }
        let n = buf.len().min(self.batch.len() - self.pos);
        buf[..n].copy_from_slice(&self.batch[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for JournalStream {
    fn drop(&mut self) {
        stop(&self.child);
    }
}

/// The `journalctl` that `--journal` runs: the first on `PATH`.
pub fn journalctl() -> Result<PathBuf, JournalError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("journalctl"))
        .find(|p| is_executable(p))
        .ok_or(JournalError::Missing)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURSOR: &str =
        "s=d8d8a01d5c7349129bdda3cc5a35d010;i=1;b=0123;m=3e8;t=612e6e7ccca40;x=82f6";

    fn export_entry(message: &str) -> String {
        format!(
            "__CURSOR={CURSOR}\n__REALTIME_TIMESTAMP=1709632801000000\n_HOSTNAME=web1\n\
             SYSLOG_IDENTIFIER=sshd\n_PID=4242\n_COMM=sshd\nMESSAGE={message}\n\n"
        )
    }

    /// Every line a stream converts to.
    fn convert(bytes: &[u8]) -> (String, Option<io::Error>) {
        let mut r = text_or_journal(Box::new(Cursor::new(bytes.to_vec())));
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).err();
        (String::from_utf8(out).unwrap(), err)
    }

    #[test]
    fn an_export_entry_becomes_a_syslog_line() {
        let (text, err) = convert(export_entry("Failed password for root").as_bytes());
        assert!(err.is_none());
        assert_eq!(
            text,
            "2024-03-05T10:00:01Z web1 sshd[4242]: Failed password for root\n"
        );
        let p = opensoc_logs::logline::parse(text.trim_end(), 2024);
        assert_eq!(p.format, opensoc_logs::logline::LogFormat::Syslog);
        assert_eq!(p.time, Some(1_709_632_801));
    }

    #[test]
    fn the_program_falls_back_to_comm_and_the_pid_to_syslog_pid() {
        let e = Entry {
            realtime_us: Some(0),
            comm: Some(b"cron".to_vec()),
            syslog_pid: Some(b"77".to_vec()),
            message: Some(b"(root) CMD (true)".to_vec()),
            ..Entry::default()
        };
        let mut out = Vec::new();
        syslog_line(&e, &mut out);
        assert_eq!(out, b"1970-01-01T00:00:00Z - cron[77]: (root) CMD (true)\n");
        // No message: an empty line, which the pipeline passes by.
        let mut out = Vec::new();
        syslog_line(&Entry::default(), &mut out);
        assert_eq!(out, b"\n");
    }

    #[test]
    fn names_with_spaces_or_colons_stay_one_token() {
        let e = Entry {
            realtime_us: Some(1_709_632_801_000_000),
            hostname: Some(b"web 1".to_vec()),
            identifier: Some(b"my:app[x]".to_vec()),
            pid: Some(b"12; rm".to_vec()),
            message: Some(b"hello".to_vec()),
            ..Entry::default()
        };
        let mut out = Vec::new();
        syslog_line(&e, &mut out);
        assert_eq!(out, b"2024-03-05T10:00:01Z web_1 my_app_x_: hello\n");
    }

    #[test]
    fn control_characters_never_make_a_second_line() {
        let mut out = Vec::new();
        push_escaped(
            &mut out,
            "a\nb\r\x1b[31mc\td\u{85}e\u{2028}f\x7f\u{0}".as_bytes(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\nb\\r\\x1b[31mc\td\\u{85}e\\u{2028}f\\x7f\\x00"
        );
        let mut out = Vec::new();
        push_escaped(&mut out, b"bad \xff utf8");
        assert_eq!(String::from_utf8(out).unwrap(), "bad \u{fffd} utf8");
    }

    #[test]
    fn a_binary_field_is_read_by_its_length() {
        let mut s = format!(
            "__CURSOR={CURSOR}\n__REALTIME_TIMESTAMP=1709632801000000\n_HOSTNAME=web1\n\
             SYSLOG_IDENTIFIER=app\nMESSAGE\n"
        )
        .into_bytes();
        let value = b"line one\nline two\x1b\0end";
        s.extend_from_slice(&(value.len() as u64).to_le_bytes());
        s.extend_from_slice(value);
        s.extend_from_slice(b"\n_PID=9\n\n");
        s.extend_from_slice(export_entry("second").as_bytes());
        let (text, err) = convert(&s);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            text,
            "2024-03-05T10:00:01Z web1 app[9]: line one\\nline two\\x1b\\x00end\n\
             2024-03-05T10:00:01Z web1 sshd[4242]: second\n"
        );
    }

    #[test]
    fn a_huge_binary_field_is_read_past_and_its_line_is_over_the_line_cap() {
        let mut s = b"__REALTIME_TIMESTAMP=1709632801000000\nMESSAGE\n".to_vec();
        let size = 10 * MAX_FIELD;
        s.extend_from_slice(&(size as u64).to_le_bytes());
        s.extend(std::iter::repeat_n(b'A', size));
        s.extend_from_slice(b"\n\n");
        // Another binary field that the line does not use: read past, not kept.
        s.extend_from_slice(b"__REALTIME_TIMESTAMP=1709632802000000\nBLOB\n");
        s.extend_from_slice(&(size as u64).to_le_bytes());
        s.extend(std::iter::repeat_n(b'B', size));
        s.extend_from_slice(b"\nMESSAGE=after\n\n");
        let (text, err) = convert(&s);
        assert!(err.is_none(), "{err:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].len() > MAX_LINE && lines[0].len() < MAX_LINE + 100);
        assert_eq!(lines[1], "2024-03-05T10:00:02Z - after");
    }

    #[test]
    fn a_truncated_entry_gives_what_was_read_then_an_error() {
        let full = export_entry("first");
        let mut s = full.clone().into_bytes();
        s.extend_from_slice(&full.as_bytes()[..full.len() - 10]);
        let (text, err) = convert(&s);
        // The second entry's message line was cut: its fields before it hold no message.
        assert_eq!(text.lines().count(), 1, "{text}");
        let err = err.expect("an error for the cut entry");
        assert!(err.to_string().contains("ends inside an entry"), "{err}");

        // Cut inside a binary message: the message is lost, the error says so.
        let mut s = b"__REALTIME_TIMESTAMP=1\nMESSAGE\n".to_vec();
        s.extend_from_slice(&100u64.to_le_bytes());
        s.extend_from_slice(b"only a little");
        let (text, err) = convert(&s);
        assert_eq!(text, "");
        assert!(err.is_some());

        // An entry whose closing empty line is missing is whole.
        let whole = export_entry("last");
        let (text, err) = convert(&whole.as_bytes()[..whole.len() - 1]);
        assert!(err.is_none());
        assert!(text.ends_with("sshd[4242]: last\n"));
    }

    #[test]
    fn garbage_after_an_export_start_is_an_error_not_lines() {
        let mut s = export_entry("first").into_bytes();
        s.extend_from_slice(b"this is not a field name at all\n\n");
        let (text, err) = convert(&s);
        assert_eq!(text.lines().count(), 1);
        assert!(err
            .unwrap()
            .to_string()
            .contains("not the journal export format"));
    }

    #[test]
    fn json_messages_as_strings_byte_arrays_null_and_several_values() {
        let lines = [
            r#"{"_HOSTNAME":"web1","__CURSOR":"s=1;i=1","__REALTIME_TIMESTAMP":"1709632801000000","MESSAGE":"Failed password for root from 203.0.113.9 port 40000 ssh2","_PID":"4242","SYSLOG_IDENTIFIER":"sshd"}"#,
            r#"{"MESSAGE":[97,10,98,27,99,255],"__REALTIME_TIMESTAMP":"1709632802000000","_HOSTNAME":"web1","_COMM":"cron","__CURSOR":"s=1;i=2"}"#,
            r#"{"MESSAGE":null,"__REALTIME_TIMESTAMP":"1709632803000000","_HOSTNAME":"web1","_COMM":"big","__CURSOR":"s=1;i=3"}"#,
            r#"{"MESSAGE":["first","second"],"__REALTIME_TIMESTAMP":"1709632804000000","_HOSTNAME":"web1","_COMM":"two","__CURSOR":"s=1;i=4"}"#,
            "not json at all",
        ];
        let (text, err) = convert(lines.join("\n").as_bytes());
        assert!(err.is_none());
        assert_eq!(
            text,
            "2024-03-05T10:00:01Z web1 sshd[4242]: Failed password for root from 203.0.113.9 port 40000 ssh2\n\
             2024-03-05T10:00:02Z web1 cron: a\\nb\\x1bc\u{fffd}\n\
             \n\
             2024-03-05T10:00:04Z web1 two: first\n\
             not json at all\n"
        );
    }

    #[test]
    fn json_seq_and_an_over_long_json_line() {
        let seq = "\x1e{\"__CURSOR\":\"c\",\"__REALTIME_TIMESTAMP\":\"0\",\"MESSAGE\":\"hi\"}\n";
        assert_eq!(convert(seq.as_bytes()).0, "1970-01-01T00:00:00Z - hi\n");
        let long = format!(
            "{{\"__CURSOR\":\"c\",\"MESSAGE\":\"{}\"}}\n{{\"__CURSOR\":\"d\",\"MESSAGE\":\"ok\"}}\n",
            "x".repeat(MAX_JSON_LINE)
        );
        let (text, err) = convert(long.as_bytes());
        assert!(err.is_none());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE + 1, "over the line reader's cap");
        assert_eq!(lines[1], "- ok");
    }

    #[test]
    fn text_passes_through_and_json_logs_of_applications_are_text() {
        let text = "Mar  5 10:00:01 web1 sshd[1]: hello\n";
        assert_eq!(convert(text.as_bytes()).0, text);
        let app = "{\"level\":\"info\",\"msg\":\"MESSAGE\"}\n";
        assert_eq!(convert(app.as_bytes()).0, app);
        assert_eq!(recognise(b"__CURSOR=s=1\n"), StreamFormat::Export);
        assert_eq!(recognise(b" {\"__CURSOR\" : \"s\"}"), StreamFormat::Json);
        assert_eq!(
            recognise(b"{\"MESSAGE\":\"x\",\"__REALTIME_TIMESTAMP\":\"1\"}"),
            StreamFormat::Json
        );
        assert_eq!(recognise(b""), StreamFormat::Text);
        assert_eq!(convert(b"").0, "");
    }

    #[test]
    fn offsets_resume_after_the_saved_cursor_and_marks_follow_the_lines() {
        let mut s = String::new();
        for m in ["one", "two", "three"] {
            s.push_str(&export_entry(m).replace(CURSOR, &format!("c-{m}")));
        }
        let marks = Marks::default();
        let mut c = Converter::new(
            Cursor::new(s.clone().into_bytes()),
            StreamFormat::Export,
            &Resume::default(),
            Some(marks.clone()),
        );
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        let ends: Vec<u64> = String::from_utf8(all.clone())
            .unwrap()
            .split_inclusive('\n')
            .scan(0u64, |at, l| {
                *at += l.len() as u64;
                Some(*at)
            })
            .collect();
        assert_eq!(marks.len(), 3);
        // The checkpoint between the second and third lines: the second's cursor.
        assert_eq!(
            marks.take_upto(ends[1] + 5),
            Some((ends[1], "c-two".into()))
        );
        assert_eq!(marks.len(), 1);
        assert_eq!(marks.take_upto(ends[1] + 5), None);

        // Resumed after the first entry with the checkpoint after the second: journalctl
        // gives the second and third, the second is read past, the third keeps its offsets.
        let after_first = s.split_inclusive("\n\n").skip(1).collect::<String>();
        let marks = Marks::default();
        let resume = Resume {
            cursor: Some("c-one".into()),
            cursor_offset: ends[0],
            checkpoint: ends[1],
        };
        let mut c = Converter::new(
            Cursor::new(after_first.into_bytes()),
            StreamFormat::Export,
            &resume,
            Some(marks.clone()),
        );
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &all[ends[1] as usize..]);
        assert_eq!(marks.take_upto(u64::MAX), Some((ends[2], "c-three".into())));
    }

    #[test]
    fn marks_stay_bounded_and_keep_the_newest() {
        let marks = Marks::default();
        for i in 1..=(3 * MAX_MARKS as u64) {
            marks.push(i * 10, format!("c{i}"));
        }
        assert!(marks.len() <= MAX_MARKS);
        let (end, cursor) = marks.take_upto(u64::MAX).unwrap();
        assert_eq!((end, cursor.as_str()), (30 * MAX_MARKS as u64, "c49152"));
    }

    #[test]
    fn journalctl_arguments_for_a_query() {
        let q = JournalQuery {
            directory: Some(PathBuf::from("/srv/j")),
            files: vec![],
            units: vec!["sshd".into(), "nginx".into(), "sshd".into()],
            follow: true,
        };
        assert_eq!(q.name(), "journalctl -D /srv/j -u nginx -u sshd");
        assert_eq!(q.group(), "journal:/srv/j");
        assert_eq!(
            q.args(Some("s=1")),
            [
                "--output=export",
                "--no-pager",
                "-D",
                "/srv/j",
                "-u",
                "nginx",
                "-u",
                "sshd",
                "--after-cursor=s=1",
                "--follow",
                "--no-tail"
            ]
        );
        assert_eq!(JournalQuery::default().group(), "journal");
    }
}
