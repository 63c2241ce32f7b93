//! Compressed logs, recognised by their magic bytes and decompressed on the fly.
//!
//! logrotate compresses with gzip by default, but `compresscmd` makes it zstd, bzip2 or xz, and
//! a file's name does not always say which (`app.log.2` after `nocompress` was switched off,
//! `.gz` renamed by hand). The first bytes do.

use std::fs::File;
use std::io::{self, Read};

use bzip2::read::MultiBzDecoder;
use flate2::read::MultiGzDecoder;
use liblzma::read::XzDecoder;

/// How a file's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Not compressed: read in place.
    #[default]
    None,
    /// gzip (RFC 1952), several members allowed.
    Gzip,
    /// Zstandard, several frames allowed.
    Zstd,
    /// bzip2, several streams allowed.
    Bzip2,
    /// xz, several streams allowed.
    Xz,
}

/// Bytes [`Compression::of`] needs to tell the formats apart.
pub const MAGIC_LEN: usize = 6;

impl Compression {
    /// The compression that a file starting with `head` uses.
    pub fn of(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }

    /// Whether the content must be decompressed (and so cannot be seeked in or grow in place).
    pub fn is_compressed(self) -> bool {
        self != Compression::None
    }

    /// The format's usual name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    /// A reader of `file`'s decompressed content (the file itself when not compressed).
    pub fn reader(self, file: File) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Compression::None => Box::new(file),
            Compression::Gzip => Box::new(MultiGzDecoder::new(file)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
            Compression::Bzip2 => Box::new(MultiBzDecoder::new(file)),
            Compression::Xz => Box::new(XzDecoder::new_multi_decoder(file)),
        })
    }
}

/// Appends up to `n` leading bytes of `r` to `head`, fewer only at its end. On an error, `head`
/// holds what was read before it (a decoder says how far it got).
pub fn read_prefix(r: &mut impl Read, n: usize, head: &mut Vec<u8>) -> io::Result<()> {
    r.take(n as u64).read_to_end(head).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &str =
        "Dec  7 07:18:14 host sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2\n";

    fn compressed(c: Compression, text: &[u8]) -> Vec<u8> {
        match c {
            Compression::None => text.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(text).expect("gzip");
                e.finish().expect("gzip")
            }
            Compression::Zstd => zstd::stream::encode_all(text, 3).expect("zstd"),
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(text).expect("bzip2");
                e.finish().expect("bzip2")
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(text).expect("xz");
                e.finish().expect("xz")
            }
        }
    }

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Zstd,
        Compression::Bzip2,
        Compression::Xz,
    ];

    /// `bytes` written to a file in `dir` and read back through `c`'s reader.
    fn read_back(dir: &std::path::Path, c: Compression, bytes: &[u8]) -> String {
        let path = dir.join(c.name());
        std::fs::write(&path, bytes).expect("write");
        let mut out = String::new();
        c.reader(File::open(&path).expect("open"))
            .expect("reader")
            .read_to_string(&mut out)
            .expect("read");
        out
    }

    #[test]
    fn each_format_is_known_by_its_magic_bytes_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        for c in ALL {
            let bytes = compressed(c, TEXT.as_bytes());
            assert_eq!(Compression::of(&bytes), c, "{}", c.name());
            assert_eq!(read_back(dir.path(), c, &bytes), TEXT, "{}", c.name());
        }
    }

    #[test]
    fn concatenated_members_are_read_whole() {
        // `cat a.zst b.zst`, or a log compressed in two sittings: every member is content.
        let dir = tempfile::tempdir().expect("tempdir");
        for c in ALL.into_iter().filter(|c| c.is_compressed()) {
            let mut bytes = compressed(c, b"first\n");
            bytes.extend(compressed(c, b"second\n"));
            let out = read_back(dir.path(), c, &bytes);
            assert_eq!(out, "first\nsecond\n", "{}", c.name());
        }
    }

    #[test]
    fn text_that_starts_like_a_magic_is_not_taken_for_one() {
        assert_eq!(Compression::of(b"BZh is a word\n"), Compression::None);
        assert_eq!(Compression::of(b"BZ"), Compression::None);
        assert_eq!(Compression::of(b""), Compression::None);
        assert_eq!(Compression::of(b"\x1f"), Compression::None);
    }
}
