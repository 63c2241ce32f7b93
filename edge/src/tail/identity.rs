//! Which file is which across rotation.
//!
//! A path says little: logrotate renames, copies, truncates and compresses files, and an
//! inode is reused after a delete. A file is therefore known by its device and inode *and*
//! a fingerprint of its first content bytes (decompressed for gzip); [`resolve`] pairs the
//! files found now with the records of earlier runs and says where to resume in each.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::tail::compression::read_prefix;
use crate::tail::discover::LogFile;
use crate::tail::evtx;

/// How many leading content bytes the fingerprint covers at most.
pub const FINGERPRINT_BYTES: usize = 1024;

/// A hash of a file's first `len` content bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// Bytes hashed: min(content length, 1024).
    pub len: u32,
    /// FNV-1a 64 of those bytes (stable across runs and builds, unlike std's hasher).
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `bytes` (the caller passes at most [`FINGERPRINT_BYTES`]).
    pub fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            len: bytes.len() as u32,
            hash: fnv1a(bytes),
        }
    }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What a file is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Content bytes readable now (decompressed length for gzip, up to a decoding error).
    pub size: u64,
    /// Fingerprint of the first min(size, 1024) content bytes.
    pub fingerprint: Fingerprint,
    /// Those first content bytes, so that a shorter fingerprint recorded earlier (when the
    /// file was smaller) can be checked against this file.
    pub head: Vec<u8>,
}

impl Identity {
    /// Whether this file starts with the content that `fp` was taken from.
    pub fn covers(&self, fp: &Fingerprint) -> bool {
        let len = fp.len as usize;
        len > 0 && len <= self.head.len() && fnv1a(&self.head[..len]) == fp.hash
    }
}

/// Why a file could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The file could not be opened or its metadata read.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Reading (or decompressing) the first bytes failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Reads a file's device, inode, content size and fingerprint.
///
/// For a compressed file the whole content is decompressed to learn its size, which is what
/// offsets count; a decoding error after the fingerprint yields the size decoded so far (the
/// reader reports the error when it gets there). A Windows event log counts in record ids
/// and is known by its channel and computer (see [`crate::tail::evtx`]).
pub fn identify(file: &LogFile) -> Result<Identity, IdentityError> {
    let open_err = |source| IdentityError::Open {
        path: file.path.clone(),
        source,
    };
    let read_err = |source| IdentityError::Read {
        path: file.path.clone(),
        source,
    };
    let f = File::open(&file.path).map_err(open_err)?;
    let meta = f.metadata().map_err(open_err)?;
    let mut content = file
        .compression
        .reader(f.try_clone().map_err(open_err)?)
        .map_err(read_err)?;
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    read_prefix(&mut content, FINGERPRINT_BYTES, &mut head).map_err(read_err)?;
    let (head, size) = if evtx::is_evtx(&head) {
        drop(content);
        let extent = evtx::seekable(f, file.compression)
            .map_err(evtx::EvtxError::from)
            .and_then(evtx::extent)
            .map_err(|e| read_err(io::Error::other(e)))?;
        (extent.head, extent.next_id)
    } else if file.compression.is_compressed() {
        let mut size = head.len() as u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => size += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (head, size)
    } else {
        // The file may have grown since the metadata call; never report less than was read.
        let size = meta.len().max(head.len() as u64);
        (head, size)
    };
    Ok(Identity {
        dev: meta.dev(),
        ino: meta.ino(),
        size,
        fingerprint: Fingerprint::of(&head),
        head,
    })
}

/// A file recorded by an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The store's file id.
    pub id: i64,
    /// Device number when last seen.
    pub dev: u64,
    /// Inode number when last seen.
    pub ino: u64,
    /// Fingerprint when last seen.
    pub fingerprint: Fingerprint,
    /// Content offset up to which the file has been handled.
    pub offset: u64,
}

/// A found file paired with its record, if any, and where to start reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The file.
    pub file: LogFile,
    /// What it is now.
    pub identity: Identity,
    /// The id of the earlier record it continues; `None` for a new file.
    pub known: Option<i64>,
    /// Content offset to start reading at.
    pub start: u64,
}

/// Pairs found files with known records and decides where to resume in each.
///
/// Pass 1 keeps a file that still has its device and inode and still starts with the recorded
/// content (start at the recorded offset, or 0 when it was truncated below it). Pass 2 finds,
/// for each record left over, a not yet paired file starting with the recorded content: it
/// was renamed, copied (copytruncate) or compressed. Everything else is new. Empty files are
/// left out: they have no content to identify them by yet.
pub fn resolve(known: &[Known], found: Vec<(LogFile, Identity)>) -> Vec<Resolved> {
    let found: Vec<(LogFile, Identity)> = found
        .into_iter()
        .filter(|(_, id)| id.fingerprint.len > 0)
        .collect();
    let mut pairing: Vec<Option<(usize, u64)>> = vec![None; found.len()];
    let mut used = vec![false; known.len()];

    // Pass 1. When several records share the inode (an inode reused, or a truncation that
    // created a new record), the newest record whose content the file still starts with wins.
    for (fi, (file, id)) in found.iter().enumerate() {
        if file.compression.is_compressed() {
            continue;
        }
        let best = known
            .iter()
            .enumerate()
            .filter(|(ki, k)| {
                !used[*ki] && k.dev == id.dev && k.ino == id.ino && id.covers(&k.fingerprint)
            })
            .max_by_key(|(_, k)| k.id);
        if let Some((ki, k)) = best {
            used[ki] = true;
            let start = if id.size < k.offset { 0 } else { k.offset };
            pairing[fi] = Some((ki, start));
        }
    }

    // Pass 2. Longer fingerprints first: a record whose content is a prefix of another's
    // must not take the file that only the other one matches.
    let mut rest: Vec<usize> = (0..known.len()).filter(|&ki| !used[ki]).collect();
    rest.sort_by_key(|&ki| (std::cmp::Reverse(known[ki].fingerprint.len), known[ki].id));
    for ki in rest {
        let k = &known[ki];
        // Among several candidates (equal leading bytes), prefer one that holds at least the
        // content already read, then a rotated file over a live one (a record that lost its
        // inode moved into a rotated file; a live file with the same start is more likely
        // new), then the same device, then the oldest in reading order.
        let best = found
            .iter()
            .enumerate()
            .filter(|(fi, (_, id))| pairing[*fi].is_none() && id.covers(&k.fingerprint))
            .min_by_key(|(fi, (file, id))| (id.size < k.offset, file.live, id.dev != k.dev, *fi));
        if let Some((fi, (_, id))) = best {
            pairing[fi] = Some((ki, k.offset.min(id.size)));
        }
    }

    found
        .into_iter()
        .zip(pairing)
        .map(|((file, identity), pair)| {
            let (known, start) = match pair {
                Some((ki, start)) => (Some(known[ki].id), start),
                None => (None, 0),
            };
            Resolved {
                file,
                identity,
                known,
                start,
            }
        })
        .collect()
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

    fn log_file(path: &Path, compressed: bool, live: bool) -> LogFile {
        LogFile {
            path: path.to_path_buf(),
            group: "g".to_string(),
            compression: if compressed {
                Compression::Gzip
            } else {
                Compression::None
            },
            live,
        }
    }

    fn plain(path: &Path, live: bool) -> (LogFile, Identity) {
        let f = log_file(path, false, live);
        let id = identify(&f).expect("identify");
        (f, id)
    }

    fn gzip(path: &Path, text: &[u8]) -> (LogFile, Identity) {
        let mut enc = GzEncoder::new(fs::File::create(path).expect("create"), GzLevel::fast());
        enc.write_all(text).expect("gz");
        enc.finish().expect("finish");
        let f = log_file(path, true, false);
        let id = identify(&f).expect("identify");
        (f, id)
    }

    /// The record a store would hold after reading `found` up to `offset`.
    fn record(id: i64, found: &(LogFile, Identity), offset: u64) -> Known {
        Known {
            id,
            dev: found.1.dev,
            ino: found.1.ino,
            fingerprint: found.1.fingerprint,
            offset,
        }
    }

    fn lines(prefix: &str, n: usize) -> String {
        (0..n)
            .map(|i| format!("{prefix} line {i} sshd[42]: Failed password\n"))
            .collect()
    }

    fn outcome(r: &[Resolved]) -> Vec<(String, Option<i64>, u64)> {
        r.iter()
            .map(|r| {
                (
                    r.file
                        .path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    r.known,
                    r.start,
                )
            })
            .collect()
    }

    #[test]
    fn fingerprint_is_fnv1a_and_covers_shorter_prefixes() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.log");
        fs::write(&p, lines("a", 100)).expect("write");
        let (_, id) = plain(&p, true);
        assert_eq!(id.fingerprint.len, 1024);
        assert_eq!(id.size, fs::metadata(&p).expect("meta").len());
        assert!(id.covers(&Fingerprint::of(&id.head[..10])));
        assert!(!id.covers(&Fingerprint::of(b"b line 0 s")));
        assert!(!id.covers(&Fingerprint { len: 2000, hash: 0 }));
    }

    #[test]
    fn gzip_identity_is_of_decompressed_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = lines("z", 200);
        let p = dir.path().join("a.log");
        fs::write(&p, &text).expect("write");
        let (_, plain_id) = plain(&p, true);
        let (_, gz_id) = gzip(&dir.path().join("a.log.2.gz"), text.as_bytes());
        assert_eq!(gz_id.size, text.len() as u64);
        assert_eq!(gz_id.fingerprint, plain_id.fingerprint);
    }

    #[test]
    fn restart_in_mid_file_resumes_at_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("auth.log");
        fs::write(&p, lines("a", 50)).expect("write");
        let before = plain(&p, true);
        let k = record(1, &before, 700);
        let mut f = fs::OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(lines("b", 5).as_bytes()).expect("append");
        let r = resolve(&[k], vec![plain(&p, true)]);
        assert_eq!(outcome(&r), [("auth.log".into(), Some(1), 700)]);
    }

    #[test]
    fn rename_and_create_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("auth.log");
        let rotated = dir.path().join("auth.log.1");
        fs::write(&live, lines("a", 50)).expect("write");
        let k = record(1, &plain(&live, true), 900);
        fs::rename(&live, &rotated).expect("rename");
        fs::write(&live, lines("b", 3)).expect("write");
        let r = resolve(&[k], vec![plain(&rotated, false), plain(&live, true)]);
        assert_eq!(
            outcome(&r),
            [
                ("auth.log.1".into(), Some(1), 900),
                ("auth.log".into(), None, 0)
            ]
        );
    }

    #[test]
    fn copytruncate_follows_the_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("auth.log");
        let copy = dir.path().join("auth.log.1");
        fs::write(&live, lines("a", 50)).expect("write");
        let k = record(1, &plain(&live, true), 900);
        fs::copy(&live, &copy).expect("copy");
        // Truncate in place, then the logger writes on.
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&live)
            .expect("truncate");
        fs::write(&live, lines("b", 3)).expect("write");
        let r = resolve(&[k], vec![plain(&copy, false), plain(&live, true)]);
        assert_eq!(
            outcome(&r),
            [
                ("auth.log.1".into(), Some(1), 900),
                ("auth.log".into(), None, 0)
            ]
        );
    }

    #[test]
    fn copytruncate_before_the_logger_writes_again_skips_the_empty_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = dir.path().join("auth.log");
        let copy = dir.path().join("auth.log.1");
        fs::write(&live, lines("a", 50)).expect("write");
        let k = record(1, &plain(&live, true), 900);
        fs::copy(&live, &copy).expect("copy");
        fs::write(&live, "").expect("truncate");
        let r = resolve(&[k], vec![plain(&copy, false), plain(&live, true)]);
        assert_eq!(outcome(&r), [("auth.log.1".into(), Some(1), 900)]);
    }

    #[test]
    fn delayed_gzip_keeps_both_records() {
        // Run 1 saw auth.log.1 (fully read) and auth.log (read to 500); then logrotate with
        // delaycompress: .1 becomes .2.gz, auth.log becomes .1, a new auth.log appears.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let old_text = lines("old", 40);
        fs::write(d.join("auth.log.1"), &old_text).expect("write");
        fs::write(d.join("auth.log"), lines("mid", 40)).expect("write");
        let k1 = record(
            1,
            &plain(&d.join("auth.log.1"), false),
            old_text.len() as u64,
        );
        let k2 = record(2, &plain(&d.join("auth.log"), true), 500);
        fs::remove_file(d.join("auth.log.1")).expect("rm");
        let gz = gzip(&d.join("auth.log.2.gz"), old_text.as_bytes());
        fs::rename(d.join("auth.log"), d.join("auth.log.1")).expect("rename");
        fs::write(d.join("auth.log"), lines("new", 2)).expect("write");
        let found = vec![
            gz,
            plain(&d.join("auth.log.1"), false),
            plain(&d.join("auth.log"), true),
        ];
        let r = resolve(&[k1, k2], found);
        assert_eq!(
            outcome(&r),
            [
                ("auth.log.2.gz".into(), Some(1), old_text.len() as u64),
                ("auth.log.1".into(), Some(2), 500),
                ("auth.log".into(), None, 0)
            ]
        );
    }

    #[test]
    fn compressed_copy_shorter_than_offset_starts_at_its_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = lines("a", 40);
        let p = dir.path().join("a.log");
        fs::write(&p, &text).expect("write");
        let k = record(1, &plain(&p, true), text.len() as u64 + 100);
        fs::remove_file(&p).expect("rm");
        let gz = gzip(&dir.path().join("a.log.1.gz"), text.as_bytes());
        let r = resolve(&[k], vec![gz]);
        assert_eq!(
            outcome(&r),
            [("a.log.1.gz".into(), Some(1), text.len() as u64)]
        );
    }

    #[test]
    fn truncation_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("app.log");
        let text = lines("a", 50);
        fs::write(&p, &text).expect("write");
        let k = record(1, &plain(&p, true), text.len() as u64);
        // Same inode, rewritten with the same first bytes but shorter than the offset.
        fs::write(&p, &text[..1500]).expect("rewrite");
        let r = resolve(std::slice::from_ref(&k), vec![plain(&p, true)]);
        assert_eq!(outcome(&r), [("app.log".into(), Some(1), 0)]);
        // Same inode, other content: a new file.
        fs::write(&p, lines("b", 2)).expect("rewrite");
        let r = resolve(&[k], vec![plain(&p, true)]);
        assert_eq!(outcome(&r), [("app.log".into(), None, 0)]);
    }

    #[test]
    fn delete_and_recreate_is_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("app.log");
        fs::write(&p, lines("a", 50)).expect("write");
        let k = record(1, &plain(&p, true), 800);
        fs::remove_file(&p).expect("rm");
        fs::write(&p, lines("b", 50)).expect("write");
        let r = resolve(&[k], vec![plain(&p, true)]);
        assert_eq!(outcome(&r), [("app.log".into(), None, 0)]);
    }

    #[test]
    fn two_rotations_between_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("auth.log"), lines("first", 40)).expect("write");
        let k = record(1, &plain(&d.join("auth.log"), true), 600);
        fs::rename(d.join("auth.log"), d.join("auth.log.1")).expect("rename");
        fs::write(d.join("auth.log"), lines("second", 40)).expect("write");
        let text = fs::read(d.join("auth.log.1")).expect("read");
        fs::remove_file(d.join("auth.log.1")).expect("rm");
        let gz = gzip(&d.join("auth.log.2.gz"), &text);
        fs::rename(d.join("auth.log"), d.join("auth.log.1")).expect("rename");
        fs::write(d.join("auth.log"), lines("third", 40)).expect("write");
        let found = vec![
            gz,
            plain(&d.join("auth.log.1"), false),
            plain(&d.join("auth.log"), true),
        ];
        let r = resolve(&[k], found);
        assert_eq!(
            outcome(&r),
            [
                ("auth.log.2.gz".into(), Some(1), 600),
                ("auth.log.1".into(), None, 0),
                ("auth.log".into(), None, 0)
            ]
        );
    }

    #[test]
    fn equal_first_bytes_are_decided_by_inode() {
        // A short file (fingerprint shorter than 1024) rotated by rename; the new file
        // starts with the same bytes.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let header = "# logger started\n";
        fs::write(d.join("a.log"), header).expect("write");
        let k = record(1, &plain(&d.join("a.log"), true), header.len() as u64);
        assert_eq!(k.fingerprint.len as usize, header.len());
        fs::rename(d.join("a.log"), d.join("a.log.1")).expect("rename");
        fs::write(d.join("a.log"), format!("{header}fresh line\n")).expect("write");
        // The new file comes first in `found`, so order alone would pick it.
        let found = vec![
            plain(&d.join("a.log"), true),
            plain(&d.join("a.log.1"), false),
        ];
        let r = resolve(&[k], found);
        assert_eq!(
            outcome(&r),
            [
                ("a.log".into(), None, 0),
                ("a.log.1".into(), Some(1), header.len() as u64)
            ]
        );
    }

    #[test]
    fn pass_two_gives_a_record_to_one_file_only() {
        // The record's inode is gone; two copies start with its content (a .1 and its
        // compressed twin mid-compression). One gets the record, the other is new.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let text = lines("a", 10);
        fs::write(d.join("a.log"), &text).expect("write");
        let mut k = record(1, &plain(&d.join("a.log"), true), 100);
        fs::remove_file(d.join("a.log")).expect("rm");
        // The freed inode may be reused by a.log.1 (pass 1 would then decide): rule it out.
        k.ino = u64::MAX;
        let gz = gzip(&d.join("a.log.1.gz"), text.as_bytes());
        fs::write(d.join("a.log.1"), &text).expect("write");
        let r = resolve(&[k], vec![gz, plain(&d.join("a.log.1"), false)]);
        let owners: Vec<Option<i64>> = r.iter().map(|r| r.known).collect();
        assert_eq!(owners, [Some(1), None]);
    }

    #[test]
    fn longer_record_is_matched_first() {
        // Record 2's content is a prefix of record 1's. The file only record 1 matches must
        // go to record 1 even though record 2 is listed (and numbered) first.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let long = lines("a", 10);
        fs::write(d.join("x"), &long[..20]).expect("write");
        let short = plain(&d.join("x"), true);
        fs::write(d.join("x"), &long).expect("write");
        let full = plain(&d.join("x"), true);
        let mut k_short = record(2, &short, 20);
        let mut k_long = record(1, &full, 300);
        // Neither inode exists any more.
        k_short.ino = u64::MAX;
        k_long.ino = u64::MAX - 1;
        fs::write(d.join("copy.1"), &long).expect("write");
        fs::write(d.join("copy.2"), &long[..40]).expect("write");
        let found = vec![
            plain(&d.join("copy.1"), false),
            plain(&d.join("copy.2"), false),
        ];
        let r = resolve(&[k_short, k_long], found);
        assert_eq!(
            outcome(&r),
            [
                ("copy.1".into(), Some(1), 300),
                ("copy.2".into(), Some(2), 20)
            ]
        );
    }

    #[test]
    fn short_file_grows_and_still_matches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("tiny.log");
        fs::write(&p, "one line\n").expect("write");
        let k = record(1, &plain(&p, true), 9);
        assert_eq!(k.fingerprint.len, 9);
        let mut f = fs::OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(lines("more", 40).as_bytes()).expect("append");
        let now = plain(&p, true);
        assert_eq!(now.1.fingerprint.len, 1024);
        let r = resolve(&[k], vec![now]);
        assert_eq!(outcome(&r), [("tiny.log".into(), Some(1), 9)]);
    }

    #[test]
    fn empty_files_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("empty.log");
        fs::write(&p, "").expect("write");
        let found = plain(&p, true);
        assert_eq!(found.1.fingerprint.len, 0);
        assert!(resolve(&[], vec![found]).is_empty());
    }

    #[test]
    fn missing_file_is_an_error_with_its_path() {
        let f = log_file(Path::new("/nonexistent/opensoc/x.log"), false, true);
        let e = identify(&f).expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/opensoc/x.log"), "{e}");
    }
}
