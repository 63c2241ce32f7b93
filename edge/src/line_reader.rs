//! Complete lines from a content offset, with bounded memory.
//!
//! Logs are hostile input: a line may be megabytes long, a file may hold binary garbage
//! without a newline, bytes may not be UTF-8, a gzip may be cut short. The reader keeps at
//! most [`MAX_LINE`] bytes of a line plus one read buffer, reports what it dropped, and
//! leaves a final line without newline in place until the caller says the file is done
//! with (the logger may still be writing it).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::discover::LogFile;

/// The longest line kept, in bytes; the rest of a longer line is dropped and counted.
pub const MAX_LINE: usize = 64 * 1024;

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

/// Why reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
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

/// The byte source: a plain file read in place, or a gzip decoded on the fly.
enum Source {
    Plain(File),
    Gzip(Box<MultiGzDecoder<File>>),
    /// A pipe read once to its end (stdin).
    Stream(Box<dyn Read + Send>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(f) => f.read(buf),
            Source::Gzip(d) => d.read(buf),
            Source::Stream(r) => r.read(buf),
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
    /// Last byte seen of the line being assembled, to strip a `\r` that was dropped.
    last_byte: Option<u8>,
    /// Set after a decoding error: gzip cannot resume past it.
    failed: bool,
}

impl LineReader {
    /// Opens `file` at content `offset` (for gzip: decompresses and skips `offset` bytes).
    pub fn open(file: &LogFile, offset: u64) -> Result<LineReader, ReadError> {
        let open_err = |source| ReadError::Open {
            path: file.path.clone(),
            offset,
            source,
        };
        let mut f = File::open(&file.path).map_err(open_err)?;
        let (source, position) = if file.compressed {
            let mut dec = MultiGzDecoder::new(f);
            let skipped = io::copy(&mut (&mut dec).take(offset), &mut io::sink()).map_err(|e| {
                ReadError::Corrupt {
                    path: file.path.clone(),
                    offset,
                    source: e,
                }
            })?;
            // A gzip shorter than the offset has nothing new: position at its end.
            (Source::Gzip(Box::new(dec)), skipped)
        } else {
            f.seek(SeekFrom::Start(offset)).map_err(open_err)?;
            (Source::Plain(f), offset)
        };
        Ok(LineReader {
            path: file.path.clone(),
            compressed: file.compressed,
            source,
            buf: vec![0u8; CHUNK],
            buf_pos: 0,
            buf_len: 0,
            line_start: position,
            line: Vec::new(),
            line_seen: 0,
            last_byte: None,
            failed: false,
            read_to: position,
        })
    }

    /// Reads a stream (stdin) from its start; `name` stands for it in errors.
    pub fn from_stream(name: &Path, stream: Box<dyn Read + Send>) -> LineReader {
        LineReader {
            path: name.to_path_buf(),
            compressed: false,
            source: Source::Stream(stream),
            buf: vec![0u8; CHUNK],
            buf_pos: 0,
            buf_len: 0,
            line_start: 0,
            line: Vec::new(),
            line_seen: 0,
            last_byte: None,
            failed: false,
            read_to: 0,
        }
    }

    /// The next complete line; `Ok(None)` at the end of what is there now.
    ///
    /// A final line without newline is returned only when `take_partial` (a rotated file, or
    /// a live file idle for long), else kept for a later call. After an error the reader
    /// returns `Ok(None)`: the lines before the error were already returned.
    pub fn next_line(&mut self, take_partial: bool) -> Result<Option<RawLine>, ReadError> {
        loop {
            if self.buf_pos < self.buf_len {
                let avail = &self.buf[self.buf_pos..self.buf_len];
                let (take, newline) = match avail.iter().position(|&b| b == b'\n') {
                    Some(i) => (i, true),
                    None => (avail.len(), false),
                };
                let room = MAX_LINE - self.line.len();
                let keep = take.min(room);
                self.line.extend_from_slice(&avail[..keep]);
                if take > 0 {
                    self.last_byte = Some(avail[take - 1]);
                }
                self.line_seen += take as u64;
                self.buf_pos += take;
                if newline {
                    self.buf_pos += 1;
                    return Ok(Some(self.finish_line(1)));
                }
                continue;
            }
            if self.failed {
                return Ok(None);
            }
            match self.source.read(&mut self.buf) {
                Ok(0) => {
                    if take_partial && self.line_seen > 0 {
                        return Ok(Some(self.finish_line(0)));
                    }
                    return Ok(None);
                }
                Ok(n) => {
                    self.buf_pos = 0;
                    self.buf_len = n;
                    self.read_to += n as u64;
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

    /// Turns the assembled line into a [`RawLine`]; `newline` is the terminator's length.
    fn finish_line(&mut self, newline: u64) -> RawLine {
        let start = self.line_start;
        let end = start + self.line_seen + newline;
        let mut cut = (self.line_seen - self.line.len() as u64) as usize;
        if newline > 0 && self.last_byte == Some(b'\r') {
            if cut > 0 {
                cut -= 1;
            } else {
                self.line.pop();
            }
        }
        if cut > 0 {
            // Don't leave half a character at the cut: it would read as a U+FFFD that was
            // never in the log.
            let keep = complete_utf8_len(&self.line);
            cut += self.line.len() - keep;
            self.line.truncate(keep);
        }
        let text = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        self.line_seen = 0;
        self.last_byte = None;
        self.line_start = end;
        RawLine {
            start,
            end,
            text,
            cut,
        }
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
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::fs;
    use std::io::Write;
    use std::path::Path;

    fn plain(path: &Path) -> LogFile {
        LogFile {
            path: path.to_path_buf(),
            group: "g".to_string(),
            compressed: false,
            live: true,
        }
    }

    fn gz_bytes(text: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
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
            compressed: true,
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
    fn truncated_gzip_returns_what_decoded_and_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cut.gz");
        let text: String = (0..5000)
            .map(|i| format!("line {i} with some words\n"))
            .collect();
        let full = gz_bytes(text.as_bytes());
        fs::write(&p, &full[..full.len() / 2]).expect("write");
        let f = LogFile {
            compressed: true,
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

    #[test]
    fn missing_file_error_names_it() {
        let f = plain(Path::new("/nonexistent/opensoc/y.log"));
        let e = LineReader::open(&f, 0).err().expect("error");
        assert!(e.to_string().contains("/nonexistent/opensoc/y.log"), "{e}");
    }
}
