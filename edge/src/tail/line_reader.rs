//! Complete lines from a content offset, with bounded memory.
//!
//! Logs are hostile input: a line may be megabytes long, a file may hold binary garbage
//! without a newline, bytes may not be UTF-8, a gzip may be cut short. The reader keeps at
//! most [`MAX_LINE`] bytes of a line plus one read buffer, reports what it dropped, and
//! leaves a final line without newline in place until the caller says the file is done
//! with (the logger may still be writing it).
//!
//! What a file's first bytes say decides how it is read ([`sniff`]): a known binary format or
//! NUL bytes in the first line is not text and is refused ([`ReadError::NotText`]) rather than
//! fed to the model as lines of garbage; UTF-16 (a Windows export, a BOM or every other byte
//! NUL) is split on UTF-16 newlines and decoded to UTF-8. Offsets stay in the file's own
//! (decompressed) bytes either way, so checkpoints mean the same thing for every encoding.
//! A Windows event log (`.evtx`) is the exception: each of its records is one "line" whose
//! offsets are its record id and the next ([`crate::tail::evtx`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::tail::compression::read_prefix;
use crate::tail::discover::LogFile;
use crate::tail::evtx::{self, EvtxRecords};

/// The longest line kept, in bytes of the file; the rest of a longer line is dropped and
/// counted. Even, so that a cut never splits a UTF-16 code unit.
pub const MAX_LINE: usize = 64 * 1024;

/// Content bytes looked at to tell text from binary and UTF-8 from UTF-16.
pub const SNIFF: usize = 4 * 1024;

/// Bytes asked of the source per read.
const CHUNK: usize = 64 * 1024;

/// One line as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// Content offset of the line's first byte.
    pub start: u64,
    /// Content offset after the line's newline (or its last byte, for a final partial line).
    pub end: u64,
    /// The line without `\n` or `\r\n`, invalid UTF-8 replaced by U+FFFD.
    pub text: String,
    /// Bytes dropped from an over-long line.
    pub cut: usize,
}

/// How the content encodes text, decided from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 or ASCII (invalid bytes are replaced).
    Utf8,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
}

impl Encoding {
    /// The newline as this encoding writes it.
    fn newline(self) -> &'static [u8] {
        match self {
            Encoding::Utf8 => b"\n",
            Encoding::Utf16Le => b"\n\0",
            Encoding::Utf16Be => b"\0\n",
        }
    }

    /// Where the first newline of `bytes` (whole code units from a unit boundary) starts.
    /// UTF-8, nearly every log, takes memchr's vectorised byte search: this runs over every
    /// byte read. UTF-16 is searched unit by unit, since byte 0x0A also occurs inside other
    /// units there.
    fn find_newline(self, bytes: &[u8]) -> Option<usize> {
        match self {
            Encoding::Utf8 => memchr::memchr(b'\n', bytes),
            _ => {
                let nl = self.newline();
                bytes
                    .chunks_exact(nl.len())
                    .position(|u| u == nl)
                    .map(|i| i * nl.len())
            }
        }
    }
}

/// Content that is not read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotText {
    /// A Windows event log on stdin: its parser jumps between chunks, which a pipe cannot.
    #[error("a Windows event log (.evtx) is read from a file, not from stdin: name the file")]
    Evtx,
    /// NUL bytes in the first line, in no UTF-16 pattern.
    #[error("binary content (NUL bytes in its first line), not a text log: not read")]
    Binary,
}

/// How the content that starts with `head` is read: its encoding, or why it is not text.
///
/// Only NUL bytes in the first line (within [`SNIFF`] bytes) make a file binary: executables,
/// databases, archives and a gzip of zeros have them in their first bytes, while a text log
/// that picked up garbage somewhere later is still read around it, line by line.
pub fn sniff(head: &[u8]) -> Result<Encoding, NotText> {
    let head = &head[..head.len().min(SNIFF)];
    if evtx::is_evtx(head) {
        return Err(NotText::Evtx);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Ok(Encoding::Utf16Le);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Ok(Encoding::Utf16Be);
    }
    // Without a BOM: ASCII text in UTF-16 has every other byte NUL (in the first KiB).
    let units = &head[..head.len().min(1024) & !1];
    if units.len() >= 4 {
        let (even_nul, odd_nul) = units
            .chunks_exact(2)
            .fold((true, true), |(e, o), u| (e && u[0] == 0, o && u[1] == 0));
        if odd_nul && !even_nul {
            return Ok(Encoding::Utf16Le);
        }
        if even_nul && !odd_nul {
            return Ok(Encoding::Utf16Be);
        }
    }
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    if first_line.contains(&0) {
        return Err(NotText::Binary);
    }
    Ok(Encoding::Utf8)
}

/// Why reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The content is not text (see [`sniff`]); nothing of it was read.
    #[error("{path}: {kind}")]
    NotText {
        /// The file.
        path: PathBuf,
        /// What it is.
        kind: NotText,
    },
    /// The file could not be opened or positioned.
    #[error("cannot open {path} at offset {offset}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The requested content offset.
        offset: u64,
        /// The cause.
        source: io::Error,
    },
    /// The gzip content is truncated or corrupt; the lines before `offset` were returned.
    #[error("{path}: gzip data truncated or corrupt after {offset} content bytes: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Content bytes decoded before the error.
        offset: u64,
        /// The decoder's error.
        source: io::Error,
    },
    /// Records of a Windows event log could not be decoded (a damaged chunk or record); the
    /// others were returned.
    #[error("{path}: {count} damaged records or chunks of this event log were skipped")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Records and chunks skipped.
        count: u64,
    },
    /// Reading failed.
    #[error("cannot read {path} at offset {offset}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Content offset where the read failed.
        offset: u64,
        /// The cause.
        source: io::Error,
    },
}

/// The byte source: a plain file read in place, compressed content decoded on the fly, or
/// the records of a Windows event log.
enum Source {
    Plain(File),
    Decoded(Box<dyn Read + Send>),
    /// A pipe read once to its end (stdin).
    Stream(Box<dyn Read + Send>),
    /// Records, not bytes: each is returned whole by [`LineReader::next_line`].
    Evtx(Box<EvtxRecords>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(f) => f.read(buf),
            Source::Decoded(d) => d.read(buf),
            Source::Stream(r) => r.read(buf),
            Source::Evtx(_) => Ok(0),
        }
    }
}

/// Reads complete lines from a log file, starting at a content offset.
pub struct LineReader {
    path: PathBuf,
    compressed: bool,
    source: Source,
    buf: Vec<u8>,
    buf_pos: usize,
    buf_len: usize,
    /// Content offset of the byte at `buf[buf_len]`, i.e. everything before was read.
    read_to: u64,
    /// Start of the line being assembled; also the position after the last line returned.
    line_start: u64,
    /// The kept bytes of the line being assembled (at most MAX_LINE).
    line: Vec<u8>,
    /// Bytes of the line being assembled seen so far (kept or dropped).
    line_seen: u64,
    /// Last code unit seen of the line being assembled (one byte in UTF-8, two in UTF-16),
    /// to strip a `\r` that was dropped.
    last_unit: [u8; 2],
    /// Set after a decoding error: gzip cannot resume past it.
    failed: bool,
    /// How the content encodes text.
    encoding: Encoding,
    /// A stream's encoding is decided on its first read (it cannot be read twice).
    sniff_pending: bool,
    /// In UTF-16, the first byte of a code unit whose second byte has not been read yet: the
    /// buffer only ever holds whole units.
    carry: Option<u8>,
}

impl LineReader {
    /// Opens `file` at content `offset` (for gzip: decompresses and skips `offset` bytes).
    pub fn open(file: &LogFile, offset: u64) -> Result<LineReader, ReadError> {
        let f = File::open(&file.path).map_err(|source| ReadError::Open {
            path: file.path.clone(),
            offset,
            source,
        })?;
        LineReader::from_file(f, file, offset)
    }

    /// Opens `file` at content `offset` if its path still names the file with device `dev`
    /// and inode `ino`; `Ok(None)` when it names another one now.
    ///
    /// A reader is closed between reads (a scan of thousands of files must not hold them all
    /// open), so reopening goes by path; the path may have been rotated to another file
    /// meanwhile, whose content does not start at `offset`. The identity is read from the
    /// opened descriptor, so a rename between the look and the open cannot slip through.
    pub fn open_same(
        file: &LogFile,
        offset: u64,
        dev: u64,
        ino: u64,
    ) -> Result<Option<LineReader>, ReadError> {
        use std::os::unix::fs::MetadataExt;
        let open_err = |source| ReadError::Open {
            path: file.path.clone(),
            offset,
            source,
        };
        let f = match File::open(&file.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(open_err(e)),
        };
        let meta = f.metadata().map_err(open_err)?;
        if (meta.dev(), meta.ino()) != (dev, ino) {
            return Ok(None);
        }
        LineReader::from_file(f, file, offset).map(Some)
    }

    /// Whether the reader can be dropped and opened again at [`LineReader::position`]: a file
    /// can, a stream (stdin) cannot.
    pub fn reopenable(&self) -> bool {
        !matches!(self.source, Source::Stream(_))
    }

    fn from_file(mut f: File, file: &LogFile, offset: u64) -> Result<LineReader, ReadError> {
        let open_err = |source| ReadError::Open {
            path: file.path.clone(),
            offset,
            source,
        };
        let corrupt = |offset, source| ReadError::Corrupt {
            path: file.path.clone(),
            offset,
            source,
        };
        let not_text = |kind| ReadError::NotText {
            path: file.path.clone(),
            kind,
        };
        // The head is always the content's start, whatever the offset: the encoding is the
        // whole file's, and a file refused once is refused on every run.
        let mut buf = vec![0u8; CHUNK];
        let compressed = file.compression.is_compressed();
        let mut dec = file
            .compression
            .reader(f.try_clone().map_err(open_err)?)
            .map_err(|e| corrupt(0, e))?;
        let mut head = Vec::with_capacity(SNIFF);
        read_prefix(&mut dec, SNIFF, &mut head).map_err(|e| corrupt(head.len() as u64, e))?;
        if evtx::is_evtx(&head) {
            drop(dec);
            let records = evtx::seekable(f, file.compression)
                .map_err(evtx::EvtxError::from)
                .and_then(|f| EvtxRecords::open(f, offset))
                .map_err(|e| corrupt(0, io::Error::other(e)))?;
            let mut reader = LineReader::with_source(&file.path, Source::Evtx(Box::new(records)));
            reader.compressed = compressed;
            reader.line_start = offset;
            reader.read_to = offset;
            return Ok(reader);
        }
        let (source, position, encoding, pending) = if compressed {
            let encoding = sniff(&head).map_err(not_text)?;
            let offset = unit_aligned(offset, encoding);
            // The head is decoded already: start from it, then skip the rest of the offset.
            let (position, pending) = match usize::try_from(offset) {
                Ok(o) if o <= head.len() => (offset, head.len() - o),
                _ => {
                    let rest = offset - head.len() as u64;
                    let skipped = io::copy(&mut (&mut dec).take(rest), &mut io::sink())
                        .map_err(|e| corrupt(offset, e))?;
                    // A gzip shorter than the offset has nothing new: position at its end.
                    (head.len() as u64 + skipped, 0)
                }
            };
            buf[..pending].copy_from_slice(&head[head.len() - pending..]);
            (Source::Decoded(dec), position, encoding, pending)
        } else {
            drop(dec);
            let encoding = sniff(&head).map_err(not_text)?;
            let offset = unit_aligned(offset, encoding);
            f.seek(SeekFrom::Start(offset)).map_err(open_err)?;
            (Source::Plain(f), offset, encoding, 0)
        };
        // The buffer holds whole code units only; an odd byte of the head waits for its pair.
        let (pending, carry) = if encoding != Encoding::Utf8 && pending % 2 == 1 {
            (pending - 1, Some(buf[pending - 1]))
        } else {
            (pending, None)
        };
        Ok(LineReader {
            path: file.path.clone(),
            compressed,
            source,
            buf,
            buf_pos: 0,
            buf_len: pending,
            line_start: position,
            line: Vec::new(),
            line_seen: 0,
            last_unit: [0; 2],
            failed: false,
            read_to: position + pending as u64,
            encoding,
            sniff_pending: false,
            carry,
        })
    }

    /// Reads a stream (stdin) from its start; `name` stands for it in errors.
    pub fn from_stream(name: &Path, stream: Box<dyn Read + Send>) -> LineReader {
        LineReader::with_source(name, Source::Stream(stream))
    }

    /// Reads a stream whose first byte is at content offset `start` (the systemd journal,
    /// resumed at its checkpoint: [`crate::tail::journal`]).
    pub fn from_stream_at(name: &Path, stream: Box<dyn Read + Send>, start: u64) -> LineReader {
        let mut r = LineReader::from_stream(name, stream);
        r.line_start = start;
        r.read_to = start;
        r
    }

    /// A reader of `source` from its start.
    fn with_source(name: &Path, source: Source) -> LineReader {
        let sniff_pending = matches!(source, Source::Stream(_));
        LineReader {
            path: name.to_path_buf(),
            compressed: false,
            source,
            buf: vec![0u8; CHUNK],
            buf_pos: 0,
            buf_len: 0,
            line_start: 0,
            line: Vec::new(),
            line_seen: 0,
            last_unit: [0; 2],
            failed: false,
            read_to: 0,
            encoding: Encoding::Utf8,
            sniff_pending,
            carry: None,
        }
    }

    /// How the content encodes text.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The next complete line; `Ok(None)` at the end of what is there now.
    ///
    /// A final line without newline is returned only when `take_partial` (a rotated file, or
    /// a live file idle for long), else kept for a later call. After an error the reader
    /// returns `Ok(None)`: the lines before the error were already returned.
    pub fn next_line(&mut self, take_partial: bool) -> Result<Option<RawLine>, ReadError> {
        if matches!(self.source, Source::Evtx(_)) {
            return self.next_event_record();
        }
        loop {
            if self.buf_pos < self.buf_len {
                let avail = &self.buf[self.buf_pos..self.buf_len];
                let unit = self.encoding.newline().len();
                let (take, newline) = match self.encoding.find_newline(avail) {
                    Some(i) => (i, true),
                    None => (avail.len(), false),
                };
                let room = MAX_LINE - self.line.len();
                let keep = take.min(room);
                self.line.extend_from_slice(&avail[..keep]);
                if take >= unit {
                    self.last_unit = [avail[take - unit], avail[take - 1]];
                }
                self.line_seen += take as u64;
                self.buf_pos += take;
                if newline {
                    self.buf_pos += unit;
                    return Ok(Some(self.finish_line(unit as u64)));
                }
                continue;
            }
            if self.failed {
                return Ok(None);
            }
            let start = match self.carry.take() {
                Some(b) => {
                    self.buf[0] = b;
                    1
                }
                None => 0,
            };
            match self.source.read(&mut self.buf[start..]) {
                Ok(0) => {
                    if let Some(&b) = self.buf[..start].first() {
                        if !take_partial {
                            self.carry = Some(b);
                        } else {
                            // Half a code unit at the very end of a finished file: kept with
                            // the line (it decodes as U+FFFD) so the file is read to its end.
                            if self.line.len() < MAX_LINE {
                                self.line.push(b);
                            }
                            self.line_seen += 1;
                            self.read_to += 1;
                        }
                    }
                    if take_partial && self.line_seen > 0 {
                        return Ok(Some(self.finish_line(0)));
                    }
                    return Ok(None);
                }
                Ok(n) => {
                    let mut len = start + n;
                    if self.sniff_pending {
                        self.sniff_pending = false;
                        match sniff(&self.buf[..len]) {
                            Ok(encoding) => self.encoding = encoding,
                            Err(kind) => {
                                self.failed = true;
                                return Err(ReadError::NotText {
                                    path: self.path.clone(),
                                    kind,
                                });
                            }
                        }
                    }
                    let unit = self.encoding.newline().len();
                    if len % unit != 0 {
                        len -= 1;
                        self.carry = Some(self.buf[len]);
                    }
                    self.buf_pos = 0;
                    self.buf_len = len;
                    self.read_to += len as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = true;
                    let offset = self.read_to;
                    let path = self.path.clone();
                    return Err(if self.compressed {
                        ReadError::Corrupt {
                            path,
                            offset,
                            source: e,
                        }
                    } else {
                        ReadError::Read {
                            path,
                            offset,
                            source: e,
                        }
                    });
                }
            }
        }
    }

    /// Content offset after the last line returned.
    pub fn position(&self) -> u64 {
        self.line_start
    }

    /// The next record of an event log, as a line from its record id to the next id. Damaged
    /// records are skipped and, once the rest is read, reported once.
    fn next_event_record(&mut self) -> Result<Option<RawLine>, ReadError> {
        let Source::Evtx(records) = &mut self.source else {
            return Ok(None);
        };
        if let Some((id, text)) = records.next_record() {
            self.line_start = records.position();
            self.read_to = self.line_start;
            return Ok(Some(RawLine {
                start: id,
                end: id.saturating_add(1),
                text,
                cut: 0,
            }));
        }
        if self.failed || records.unreadable() == 0 {
            return Ok(None);
        }
        self.failed = true;
        Err(ReadError::Damaged {
            path: self.path.clone(),
            count: records.unreadable(),
        })
    }

    /// Turns the assembled line into a [`RawLine`]; `newline` is the terminator's length.
    fn finish_line(&mut self, newline: u64) -> RawLine {
        let start = self.line_start;
        let end = start + self.line_seen + newline;
        let mut cut = (self.line_seen - self.line.len() as u64) as usize;
        let (cr, unit): (&[u8], usize) = match self.encoding {
            Encoding::Utf8 => (b"\r", 1),
            Encoding::Utf16Le => (b"\r\0", 2),
            Encoding::Utf16Be => (b"\0\r", 2),
        };
        if newline > 0 && self.line_seen >= unit as u64 && self.last_unit[2 - unit..] == *cr {
            if cut > 0 {
                cut -= unit;
            } else {
                self.line.truncate(self.line.len() - unit);
            }
        }
        if cut > 0 {
            // Don't leave half a character at the cut: it would read as a U+FFFD that was
            // never in the log.
            let keep = match self.encoding {
                Encoding::Utf8 => complete_utf8_len(&self.line),
                _ => complete_utf16_len(&self.line, self.encoding),
            };
            cut += self.line.len() - keep;
            self.line.truncate(keep);
        }
        let text = match self.encoding {
            Encoding::Utf8 => String::from_utf8_lossy(&self.line).into_owned(),
            _ => {
                let text = decode_utf16(&self.line, self.encoding);
                // The BOM is no part of the first line.
                match text.strip_prefix('\u{feff}') {
                    Some(rest) if start == 0 => rest.to_string(),
                    _ => text,
                }
            }
        };
        self.line.clear();
        self.line_seen = 0;
        self.last_unit = [0; 2];
        self.line_start = end;
        RawLine {
            start,
            end,
            text,
            cut,
        }
    }
}

/// A start offset on a code-unit boundary: an odd offset in UTF-16 (a checkpoint written
/// before the file was read as UTF-16) moves to the next unit rather than read every
/// character shifted by a byte.
fn unit_aligned(offset: u64, encoding: Encoding) -> u64 {
    match encoding {
        Encoding::Utf8 => offset,
        _ => offset + offset % 2,
    }
}

/// The code units of UTF-16 `bytes` (an odd last byte is dropped by the caller or decodes as
/// U+FFFD).
fn utf16_units(bytes: &[u8], encoding: Encoding) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(move |u| match encoding {
        Encoding::Utf16Be => u16::from_be_bytes([u[0], u[1]]),
        _ => u16::from_le_bytes([u[0], u[1]]),
    })
}

/// UTF-16 `bytes` as UTF-8, unpaired surrogates and an odd last byte replaced by U+FFFD.
fn decode_utf16(bytes: &[u8], encoding: Encoding) -> String {
    let mut text: String = char::decode_utf16(utf16_units(bytes, encoding))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if bytes.len() % 2 == 1 {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    text
}

/// Length of UTF-16 `bytes` without a trailing high surrogate (half of a character).
fn complete_utf16_len(bytes: &[u8], encoding: Encoding) -> usize {
    let n = bytes.len() & !1;
    match utf16_units(&bytes[..n], encoding).last() {
        Some(u) if (0xD800..0xDC00).contains(&u) => n - 2,
        _ => n,
    }
}

/// Length of `bytes` without a trailing incomplete UTF-8 sequence.
fn complete_utf8_len(bytes: &[u8]) -> usize {
    let n = bytes.len();
    // The last character starts within the last four bytes.
    for back in 1..=n.min(4) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if back < need { n - back } else { n };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::compression::Compression;
    use flate2::write::GzEncoder;
    use flate2::Compression as GzLevel;
    use std::fs;
    use std::io::Write;
    use std::path::Path;

    fn plain(path: &Path) -> LogFile {
        LogFile {
            path: path.to_path_buf(),
            group: "g".to_string(),
            compression: Compression::None,
            live: true,
        }
    }

    fn gz_bytes(text: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), GzLevel::fast());
        enc.write_all(text).expect("gz");
        enc.finish().expect("finish")
    }

    fn all(r: &mut LineReader, take_partial: bool) -> Vec<RawLine> {
        let mut out = Vec::new();
        while let Some(l) = r.next_line(take_partial).expect("line") {
            out.push(l);
        }
        out
    }

    fn texts(lines: &[RawLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn lines_with_offsets_and_crlf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        fs::write(&p, "one\r\ntwo\n\nthree\n").expect("write");
        let mut r = LineReader::open(&plain(&p), 0).expect("open");
        let got = all(&mut r, false);
        assert_eq!(texts(&got), ["one", "two", "", "three"]);
        let spans: Vec<(u64, u64)> = got.iter().map(|l| (l.start, l.end)).collect();
        assert_eq!(spans, [(0, 5), (5, 9), (9, 10), (10, 16)]);
        assert_eq!(r.position(), 16);
        // Resuming at an offset gives the same lines from there.
        let mut r = LineReader::open(&plain(&p), 9).expect("open");
        assert_eq!(texts(&all(&mut r, false)), ["", "three"]);
    }

    #[test]
    fn partial_line_waits_for_its_newline_then_reading_continues() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        fs::write(&p, "done\nhalf").expect("write");
        let mut r = LineReader::open(&plain(&p), 0).expect("open");
        assert_eq!(texts(&all(&mut r, false)), ["done"]);
        assert_eq!(r.position(), 5);
        let mut f = fs::OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(b" written\nnext\n").expect("append");
        let got = all(&mut r, false);
        assert_eq!(texts(&got), ["half written", "next"]);
        assert_eq!((got[0].start, got[0].end), (5, 18));
        f.write_all(b"tail").expect("append");
        assert_eq!(r.next_line(false).expect("read"), None);
        let last = r.next_line(true).expect("read").expect("partial");
        assert_eq!((last.text.as_str(), last.start, last.end), ("tail", 23, 27));
        assert_eq!(r.position(), 27);
    }

    #[test]
    fn ten_megabyte_line_is_cut_to_64k() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big.log");
        let mut content = vec![b'x'; 10 * 1024 * 1024];
        content.extend_from_slice(b"\r\nafter\n");
        fs::write(&p, &content).expect("write");
        let mut r = LineReader::open(&plain(&p), 0).expect("open");
        let got = all(&mut r, false);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text.len(), MAX_LINE);
        assert_eq!(got[0].cut, 10 * 1024 * 1024 - MAX_LINE);
        assert_eq!(got[0].end, 10 * 1024 * 1024 + 2);
        assert_eq!((got[1].text.as_str(), got[1].cut), ("after", 0));
        // Memory stays bounded: nothing grew past one line and one chunk.
        assert!(r.line.capacity() <= 2 * MAX_LINE && r.buf.capacity() <= 2 * CHUNK);
    }

    #[test]
    fn binary_garbage_and_invalid_utf8() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bin.log");
        let mut content = b"ok \xff\xfe bytes\n".to_vec();
        // 200 KiB of bytes without a newline, as a final partial line.
        content.extend((0..200 * 1024u32).map(|i| (i % 251) as u8 | 0x80));
        fs::write(&p, &content).expect("write");
        let mut r = LineReader::open(&plain(&p), 0).expect("open");
        let first = r.next_line(false).expect("read").expect("line");
        assert_eq!(first.text, "ok \u{fffd}\u{fffd} bytes");
        assert_eq!(r.next_line(false).expect("read"), None);
        let rest = r.next_line(true).expect("read").expect("partial");
        assert_eq!(rest.end, content.len() as u64);
        assert_eq!(rest.end - rest.start, 200 * 1024);
        // At most MAX_LINE kept; up to 3 more dropped to end on a character boundary.
        assert!((200 * 1024 - MAX_LINE..=200 * 1024 - MAX_LINE + 3).contains(&rest.cut));
    }

    #[test]
    fn cut_does_not_split_a_character() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("utf.log");
        let mut content = vec![b'a'; MAX_LINE - 1];
        content.extend("é and more".as_bytes());
        content.push(b'\n');
        fs::write(&p, &content).expect("write");
        let mut r = LineReader::open(&plain(&p), 0).expect("open");
        let line = r.next_line(false).expect("read").expect("line");
        assert_eq!(line.text.len(), MAX_LINE - 1);
        assert!(!line.text.contains('\u{fffd}'));
        assert_eq!(line.cut, "é and more".len());
    }

    #[test]
    fn gzip_reads_from_a_content_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log.2.gz");
        fs::write(&p, gz_bytes(b"alpha\nbeta\ngamma\n")).expect("write");
        let f = LogFile {
            compression: Compression::Gzip,
            live: false,
            ..plain(&p)
        };
        let mut r = LineReader::open(&f, 6).expect("open");
        let got = all(&mut r, true);
        assert_eq!(texts(&got), ["beta", "gamma"]);
        assert_eq!((got[0].start, got[1].end), (6, 17));
        // Past the end: nothing new, positioned at the content's end.
        let mut r = LineReader::open(&f, 1000).expect("open");
        assert_eq!(r.next_line(true).expect("read"), None);
        assert_eq!(r.position(), 17);
    }

    #[test]
    fn zstd_bzip2_and_xz_read_from_a_content_offset_like_gzip() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Enough lines for several compressed blocks, so that a cut falls after some of them.
        let text: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
        let text = text.as_bytes();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(text).expect("bzip2");
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(text).expect("xz");
        for (compression, bytes) in [
            (
                Compression::Zstd,
                zstd::stream::encode_all(text, 3).expect("zstd"),
            ),
            (Compression::Bzip2, bz.finish().expect("bzip2")),
            (Compression::Xz, xz.finish().expect("xz")),
        ] {
            let name = compression.name();
            let p = dir.path().join(name);
            fs::write(&p, &bytes).expect("write");
            let f = LogFile {
                compression,
                live: false,
                ..plain(&p)
            };
            let mut r = LineReader::open(&f, 7).expect("open");
            let got = all(&mut r, true);
            assert_eq!(got.len(), 39_999, "{name}");
            assert_eq!(
                (got[0].text.as_str(), got[0].start),
                ("line 1", 7),
                "{name}"
            );
            assert_eq!(r.position(), text.len() as u64, "{name}");
            // Cut short: the lines before the cut, in order, then a decoding error.
            fs::write(&p, &bytes[..bytes.len() * 3 / 4]).expect("write");
            let mut r = LineReader::open(&f, 0).expect("open");
            let mut lines = Vec::new();
            let err = loop {
                match r.next_line(true) {
                    Ok(Some(l)) => lines.push(l.text),
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            assert!(
                !lines.is_empty() && lines.len() < 40_000,
                "{name}: {}",
                lines.len()
            );
            let last = lines.len() - 1;
            assert!(
                lines[..last]
                    .iter()
                    .enumerate()
                    .all(|(i, l)| *l == format!("line {i}")),
                "{name}: lines out of order or garbled"
            );
            assert!(
                matches!(err, Some(ReadError::Corrupt { .. })),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn truncated_gzip_returns_what_decoded_and_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cut.gz");
        let text: String = (0..5000)
            .map(|i| format!("line {i} with some words\n"))
            .collect();
        let full = gz_bytes(text.as_bytes());
        fs::write(&p, &full[..full.len() / 2]).expect("write");
        let f = LogFile {
            compression: Compression::Gzip,
            live: false,
            ..plain(&p)
        };
        let mut r = LineReader::open(&f, 0).expect("open");
        let mut got = 0usize;
        let err = loop {
            match r.next_line(true) {
                Ok(Some(l)) => {
                    assert_eq!(l.text, format!("line {got} with some words"));
                    got += 1;
                }
                Ok(None) => panic!("a truncated gzip must report an error"),
                Err(e) => break e,
            }
        };
        assert!(got > 100, "decoded lines came first: {got}");
        assert!(matches!(err, ReadError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("cut.gz"), "{err}");
        assert_eq!(r.next_line(true).expect("after error"), None);
    }

    fn utf16(text: &str, encoding: Encoding, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let units = if bom { Some(0xFEFF) } else { None }
            .into_iter()
            .chain(text.encode_utf16());
        for u in units {
            out.extend(match encoding {
                Encoding::Utf16Be => u.to_be_bytes(),
                _ => u.to_le_bytes(),
            });
        }
        out
    }

    #[test]
    fn binary_heads_are_not_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let evtx = dir.path().join("Security.evtx");
        let mut content = b"ElfFile\0".to_vec();
        // A header and one chunk of zeros: a log whose only chunk is destroyed.
        content.extend(vec![0u8; 4096 + 65536]);
        fs::write(&evtx, &content).expect("write");
        // Read as an event log, never as text: no line, and an error that names the log.
        let first =
            |offset| LineReader::open(&plain(&evtx), offset).and_then(|mut r| r.next_line(true));
        let e = first(0).expect_err("an empty event log is refused");
        assert!(e.to_string().contains("event log"), "{e}");
        // Refused at any offset: the head decides, not where the last run stopped.
        assert!(first(4096).is_err());

        let zeros = dir.path().join("zeros.gz");
        fs::write(&zeros, gz_bytes(&vec![0u8; 1 << 20])).expect("write");
        let f = LogFile {
            compression: Compression::Gzip,
            live: false,
            ..plain(&zeros)
        };
        let e = LineReader::open(&f, 0).err().expect("not text");
        assert!(
            matches!(
                e,
                ReadError::NotText {
                    kind: NotText::Binary,
                    ..
                }
            ),
            "{e}"
        );

        let elf = dir.path().join("a.out");
        fs::write(&elf, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\n").expect("write");
        assert!(LineReader::open(&plain(&elf), 0).is_err());

        // Garbage after a text first line is read around, as before.
        let mixed = dir.path().join("mixed.log");
        fs::write(&mixed, b"a text line\nbad \0\0 bytes\nmore\n").expect("write");
        let mut r = LineReader::open(&plain(&mixed), 0).expect("text");
        assert_eq!(
            texts(&all(&mut r, false)),
            ["a text line", "bad \0\0 bytes", "more"]
        );
    }

    #[test]
    fn a_binary_stream_is_not_text() {
        let stream = Box::new(io::Cursor::new(b"ElfFile\0\0\0\0\n".to_vec()));
        let mut r = LineReader::from_stream(Path::new("-"), stream);
        let e = r.next_line(true).expect_err("not text");
        assert!(matches!(e, ReadError::NotText { .. }), "{e}");
        assert_eq!(r.next_line(true).expect("after"), None);
    }

    #[test]
    fn utf16_is_decoded_with_offsets_in_the_files_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        // U+010A is 0A 01 in UTF-16LE: a 0x0A byte that is no newline.
        let text = "sshd[1]: Accepted for \u{10a}lice\r\nsecond \u{1F600} line\nthird\n";
        // Without a BOM only ASCII is recognised (every other byte NUL).
        let ascii = "sshd[1]: Accepted for alice\r\nsecond line\nthird\n";
        for (encoding, bom) in [
            (Encoding::Utf16Le, true),
            (Encoding::Utf16Be, true),
            (Encoding::Utf16Le, false),
            (Encoding::Utf16Be, false),
        ] {
            let p = dir.path().join("u16.log");
            let text = if bom { text } else { ascii };
            let bytes = utf16(text, encoding, bom);
            fs::write(&p, &bytes).expect("write");
            let mut r = LineReader::open(&plain(&p), 0).expect("open");
            assert_eq!(r.encoding(), encoding, "bom {bom}");
            let got = all(&mut r, false);
            let want: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
            assert_eq!(texts(&got), want, "{encoding:?} bom {bom}");
            let b = if bom { 2 } else { 0 };
            let first_end = b + 2 * (want[0].encode_utf16().count() as u64 + 2);
            assert_eq!((got[0].start, got[0].end), (0, first_end));
            assert_eq!(got[2].end, bytes.len() as u64);
            assert_eq!(r.position(), bytes.len() as u64);
            // Resuming at a checkpoint gives the same lines from there.
            let mut r = LineReader::open(&plain(&p), got[1].start).expect("open");
            assert_eq!(texts(&all(&mut r, false)), want[1..]);
        }
        // Gzipped, read from an offset inside the sniffed head.
        let p = dir.path().join("u16.log.1.gz");
        fs::write(&p, gz_bytes(&utf16(text, Encoding::Utf16Le, true))).expect("write");
        let f = LogFile {
            compression: Compression::Gzip,
            live: false,
            ..plain(&p)
        };
        let mut r = LineReader::open(&f, 0).expect("open");
        let got = all(&mut r, true);
        assert_eq!(got.len(), 3);
        let mut r = LineReader::open(&f, got[1].start).expect("open");
        assert_eq!(
            texts(&all(&mut r, true)),
            ["second \u{1F600} line", "third"]
        );
        // On stdin too.
        let stream = Box::new(io::Cursor::new(utf16(
            "one\ntwo\n",
            Encoding::Utf16Le,
            true,
        )));
        let mut r = LineReader::from_stream(Path::new("-"), stream);
        assert_eq!(texts(&all(&mut r, true)), ["one", "two"]);
    }

    #[test]
    fn utf16_written_half_a_unit_at_a_time_and_cut_long() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("u16.log");
        let bytes = utf16("first\nsecond\n", Encoding::Utf16Le, true);
        // The writer has written half of the second line's first unit.
        fs::write(&p, &bytes[..15]).expect("write");
        let mut r = LineReader::open(&plain(&p), 0).expect("open");
        assert_eq!(texts(&all(&mut r, false)), ["first"]);
        let mut f = fs::OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(&bytes[15..]).expect("append");
        assert_eq!(texts(&all(&mut r, false)), ["second"]);
        assert_eq!(r.position(), bytes.len() as u64);

        let long = dir.path().join("long16.log");
        let mut content = utf16(&"x".repeat(MAX_LINE), Encoding::Utf16Le, true);
        content.extend(utf16("\nafter\n", Encoding::Utf16Le, false));
        fs::write(&long, &content).expect("write");
        let mut r = LineReader::open(&plain(&long), 0).expect("open");
        let got = all(&mut r, false);
        assert_eq!(texts(&got)[1], "after");
        assert_eq!(got[0].text.len(), MAX_LINE / 2 - 1);
        assert_eq!(got[0].cut, MAX_LINE + 2);
    }

    #[test]
    fn missing_file_error_names_it() {
        let f = plain(Path::new("/nonexistent/opensoc/y.log"));
        let e = LineReader::open(&f, 0).err().expect("error");
        assert!(e.to_string().contains("/nonexistent/opensoc/y.log"), "{e}");
    }
}
