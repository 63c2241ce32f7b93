//! Which log files to read and in which order.
//!
//! `scan` and `watch` take files, directories and glob patterns. A file argument brings its
//! rotated siblings (`NAME.1`, `NAME.2.gz`, `NAME-20261127`, `NAME.2026-11-27.gz`) so content
//! written before the last rotation is not missed; every file is put in the group of its base
//! name and each group is listed oldest first, the live file last, so windows see lines in the
//! order they were written.
//!
//! Symbolic links: a path the user names is followed wherever it points (they chose it). A
//! file found on the user's behalf is not always: opensoc often runs as root, and whoever can
//! write to a log directory could otherwise make it read any file into the store
//! (`app.log.1 -> /etc/shadow`). So a rotated sibling that is a link is never followed
//! (logrotate renames and creates regular files; a link named like a rotation is not its work),
//! and a link met by listing a directory or expanding a glob is followed only when it points at
//! a visible file in that same directory, which the listing reads anyway and so discloses
//! nothing new. Each link left out is a problem that says why, so a scan does not pass for clean.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::tail::compression::{read_prefix, Compression, MAGIC_LEN};

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Where the file is now.
    pub path: PathBuf,
    /// The base log name, e.g. "/var/log/auth.log" for auth.log.1 and auth.log-20261127.gz.
    pub group: String,
    /// How the content is compressed (decided by the magic bytes, not the name).
    pub compression: Compression,
    /// The base file itself, which a logger may still be writing to.
    pub live: bool,
}

/// The outcome of [`discover`]: the files to read and the paths that could not be used.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files in reading order: groups in argument order, each oldest first.
    pub files: Vec<LogFile>,
    /// Paths that could not be read, with the reason; the other files are still listed.
    pub problems: Vec<(PathBuf, String)>,
    /// Directories found inside a listed directory, not read: listing is not recursive, so
    /// that pointing at `/var/log` does not pull in every application's archive below it.
    pub subdirectories: Vec<PathBuf>,
}

/// Where a file stands in its rotation; the derived order is oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rotation {
    /// `NAME-YYYYMMDD` or `NAME.YYYY-MM-DD` (as a YYYYMMDD number). Placed before numbered
    /// files because a group only has both after `dateext` was switched off, and the dated
    /// files then predate the numbered ones.
    Dated(u32),
    /// `NAME.N`, stored as `u64::MAX - N` so that higher numbers (older) sort first.
    Numbered(u64),
    /// The base file.
    Live,
}

/// Lists the files to read for `paths` (files, directories, glob patterns).
pub fn discover(paths: &[PathBuf]) -> Discovery {
    let mut out = Discovery::default();
    // Groups keep their first-seen order; files are deduplicated by device and inode so
    // that two spellings of one path (or a glob that also matches a sibling) read it once.
    let mut group_order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<(Rotation, LogFile)>> = HashMap::new();
    let mut seen: HashSet<(u64, u64)> = HashSet::new();

    for arg in paths {
        let mut seeds: Vec<(PathBuf, bool)> = Vec::new();
        match fs::metadata(arg) {
            Ok(meta) if meta.is_dir() => match list_dir(arg) {
                Ok((entries, dirs)) => {
                    seeds.extend(listed_files(entries, &mut out.problems));
                    out.subdirectories.extend(dirs);
                }
                Err(e) => out.problems.push((arg.clone(), e)),
            },
            Ok(meta) if meta.is_file() => seeds.push((arg.clone(), true)),
            Ok(_) => out
                .problems
                .push((arg.clone(), "not a regular file or directory".to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_pattern(arg) => {
                expand_glob(arg, &mut seeds, &mut out)
            }
            Err(e) => out.problems.push((arg.clone(), e.to_string())),
        }

        for (seed, with_siblings) in seeds {
            let mut members = vec![seed.clone()];
            if with_siblings {
                match siblings(&seed, &mut out.problems) {
                    Ok(found) => members.extend(found),
                    Err(e) => out.problems.push((seed.clone(), e)),
                }
            }
            for path in members {
                let Some((group, rotation)) = classify(&path) else {
                    continue;
                };
                let (ident, compression) = match probe(&path) {
                    Ok(v) => v,
                    Err(e) => {
                        out.problems.push((path, e));
                        continue;
                    }
                };
                if !seen.insert(ident) {
                    continue;
                }
                if !groups.contains_key(&group) {
                    group_order.push(group.clone());
                }
                let file = LogFile {
                    path,
                    group: group.clone(),
                    compression,
                    live: rotation == Rotation::Live && !compression.is_compressed(),
                };
                groups.entry(group).or_default().push((rotation, file));
            }
        }
    }

    for group in group_order {
        if let Some(mut members) = groups.remove(&group) {
            // Equal keys only when two names give one rotation (`NAME.1` and `NAME.1.gz`
            // both present, mid-compression); path order keeps the result deterministic.
            members.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.path.cmp(&b.1.path)));
            out.files.extend(members.into_iter().map(|(_, f)| f));
        }
    }
    out
}

/// True when the argument contains glob metacharacters.
fn is_pattern(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// Expands a glob pattern; matching directories are listed like directory arguments.
fn expand_glob(pattern: &Path, seeds: &mut Vec<(PathBuf, bool)>, out: &mut Discovery) {
    let problems = &mut out.problems;
    let text = pattern.to_string_lossy();
    let entries = match glob::glob(&text) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push((pattern.to_path_buf(), format!("bad pattern: {e}")));
            return;
        }
    };
    let mut matched = false;
    for entry in entries {
        match entry {
            Ok(path) => {
                matched = true;
                match fs::metadata(&path) {
                    Ok(m) if m.is_dir() => match list_dir(&path) {
                        Ok((found, dirs)) => {
                            seeds.extend(listed_files(found, problems));
                            out.subdirectories.extend(dirs);
                        }
                        Err(e) => problems.push((path, e)),
                    },
                    // A glob lists a directory as `ls` would: its matches were not named one
                    // by one, so a link among them is held to the listing's rule.
                    Ok(m) if m.is_file() => match link_target(&path) {
                        Some(Link::Outside(target)) => {
                            problems.push((path, link_outside_message(&target)))
                        }
                        _ => seeds.push((path, true)),
                    },
                    Ok(_) => {}
                    Err(e) => problems.push((path, e.to_string())),
                }
            }
            Err(e) => {
                matched = true;
                problems.push((e.path().to_path_buf(), e.error().to_string()));
            }
        }
    }
    if !matched {
        problems.push((
            pattern.to_path_buf(),
            "no file matches the pattern".to_string(),
        ));
    }
}

/// A symbolic link found by listing a directory, by where it points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    /// At a visible file of the link's own directory.
    Inside(PathBuf),
    /// Anywhere else (another directory, a hidden file, or nowhere that resolves).
    Outside(PathBuf),
}

/// A regular file found by listing a directory.
#[derive(Debug)]
struct Listed {
    path: PathBuf,
    /// `Some` when the entry is a symbolic link (to a regular file).
    link: Option<Link>,
}

/// The regular, non-hidden files of a directory, sorted by name, with what each link points
/// at; and its non-hidden subdirectories, sorted, which are not read.
fn list_dir(dir: &Path) -> Result<(Vec<Listed>, Vec<PathBuf>), String> {
    let entries = fs::read_dir(dir).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // metadata() follows symlinks: a link to a regular file is listed, and what it points
        // at is judged by the caller (see the module's comment).
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => {
                let link = link_target(&path);
                files.push(Listed { path, link });
            }
            Ok(m) if m.is_dir() => dirs.push(path),
            _ => {}
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    dirs.sort();
    Ok((files, dirs))
}

/// Where `path` points when it is a symbolic link; `None` for anything else.
fn link_target(path: &Path) -> Option<Link> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let Ok(target) = fs::canonicalize(path) else {
        return Some(Link::Outside(fs::read_link(path).unwrap_or_default()));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let visible = target
        .file_name()
        .is_some_and(|n| !n.to_string_lossy().starts_with('.'));
    let same_dir = fs::canonicalize(dir).is_ok_and(|d| target.parent() == Some(d.as_path()));
    Some(if visible && same_dir {
        Link::Inside(target)
    } else {
        Link::Outside(target)
    })
}

fn link_outside_message(target: &Path) -> String {
    format!(
        "skipped: a symbolic link to {}, outside its directory; links found by listing a \
         directory are not followed out of it (name the file itself to read it)",
        target.display()
    )
}

/// The files of a directory listing to read, and a problem for each link that points out of it.
fn listed_files(
    entries: Vec<Listed>,
    problems: &mut Vec<(PathBuf, String)>,
) -> Vec<(PathBuf, bool)> {
    let mut files = Vec::new();
    for e in entries {
        match e.link {
            Some(Link::Outside(target)) => problems.push((e.path, link_outside_message(&target))),
            _ => files.push((e.path, false)),
        }
    }
    files
}

/// The rotated siblings of a base file in its directory; a sibling that is a symbolic link is
/// left out, with a problem.
fn siblings(file: &Path, problems: &mut Vec<(PathBuf, String)>) -> Result<Vec<PathBuf>, String> {
    let Some(name) = file.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(Vec::new());
    };
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut found = Vec::new();
    for listed in list_dir(&dir)?.0 {
        let Some(other) = listed
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            continue;
        };
        if let Some((base, _)) = split_rotation(&other) {
            if base == name {
                // Keep the argument's spelling of the directory so groups read as given.
                let path = file.with_file_name(listed.path.file_name().unwrap_or_default());
                if let Some(Link::Inside(target) | Link::Outside(target)) = listed.link {
                    // Even a link inside the directory: it may name a file of another log
                    // (or one the user left out on purpose) under this log's rotation name.
                    problems.push((
                        path,
                        format!(
                            "skipped: a rotated file that is a symbolic link (to {}); rotated \
                             files are found by name and links among them are not followed \
                             (name the file itself to read it)",
                            target.display()
                        ),
                    ));
                    continue;
                }
                found.push(path);
            }
        }
    }
    Ok(found)
}

/// The group (base path) and rotation of a path.
fn classify(path: &Path) -> Option<(String, Rotation)> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    match split_rotation(&name) {
        Some((base, rotation)) => Some((
            path.with_file_name(base).to_string_lossy().into_owned(),
            rotation,
        )),
        None => Some((path.to_string_lossy().into_owned(), Rotation::Live)),
    }
}

/// Splits a rotated file name into its base name and rotation; `None` for a base name.
fn split_rotation(name: &str) -> Option<(&str, Rotation)> {
    // The compressor's suffix is not part of the rotation (`auth.log.2.zst` is `auth.log.2`).
    let stem = [".gz", ".zst", ".bz2", ".xz"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    // NAME.N
    if let Some((base, n)) = stem.rsplit_once('.') {
        if !base.is_empty()
            && !n.is_empty()
            && n.len() <= 6
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            let n: u64 = n.parse().ok()?;
            return Some((base, Rotation::Numbered(u64::MAX - n)));
        }
        // NAME.YYYY-MM-DD
        if !base.is_empty() {
            if let Some(date) = parse_dashed_date(n) {
                return Some((base, Rotation::Dated(date)));
            }
        }
    }
    // NAME-YYYYMMDD
    if let Some((base, d)) = stem.rsplit_once('-') {
        if !base.is_empty() && d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
            let date: u32 = d.parse().ok()?;
            if plausible_date(date) {
                return Some((base, Rotation::Dated(date)));
            }
        }
    }
    None
}

/// `YYYY-MM-DD` as the number YYYYMMDD.
fn parse_dashed_date(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let date: u32 = digits.parse().ok()?;
    plausible_date(date).then_some(date)
}

/// Rejects numbers that cannot be a YYYYMMDD date, so `app-12345678` stays a base name.
fn plausible_date(date: u32) -> bool {
    let (month, day) = ((date / 100) % 100, date % 100);
    (1..=12).contains(&month) && (1..=31).contains(&day) && date / 10000 >= 1970
}

/// Device and inode, and how the content is compressed, read from the file itself.
fn probe(path: &Path) -> Result<((u64, u64), Compression), String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let mut magic = Vec::with_capacity(MAGIC_LEN);
    read_prefix(&mut file, MAGIC_LEN, &mut magic).map_err(|e| e.to_string())?;
    Ok(((meta.dev(), meta.ino()), Compression::of(&magic)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression as GzLevel;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).expect("write");
        path
    }

    fn write_gz(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut enc = GzEncoder::new(File::create(&path).expect("create"), GzLevel::fast());
        enc.write_all(text.as_bytes()).expect("gz");
        enc.finish().expect("finish");
        path
    }

    fn names(d: &Discovery) -> Vec<String> {
        d.files
            .iter()
            .map(|f| {
                f.path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn subdirectories_of_a_listed_directory_are_named_and_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "auth.log", "live\n");
        for sub in ["nginx", ".cache"] {
            fs::create_dir(d.join(sub)).unwrap();
            write(&d.join(sub), "access.log", "below\n");
        }
        let got = discover(&[d.to_path_buf()]);
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        assert_eq!(names(&got), ["auth.log"]);
        // Hidden directories are left out as hidden files are.
        assert_eq!(got.subdirectories, [d.join("nginx")]);
        // A pattern that matches a directory lists it the same way.
        let got = discover(&[d.join("ngin*")]);
        assert_eq!(names(&got), ["access.log"]);
        assert!(got.subdirectories.is_empty());
        // A file named directly has no subdirectories to report.
        assert!(discover(&[d.join("auth.log")]).subdirectories.is_empty());
    }

    #[test]
    fn file_argument_brings_rotated_siblings_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "auth.log", "live\n");
        write(d, "auth.log.1", "one\n");
        write_gz(d, "auth.log.2.gz", "two\n");
        write_gz(d, "auth.log.10.gz", "ten\n");
        write(d, "auth.logger", "other\n");
        write(d, "syslog.1", "other group\n");
        let got = discover(&[d.join("auth.log")]);
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        assert_eq!(
            names(&got),
            ["auth.log.10.gz", "auth.log.2.gz", "auth.log.1", "auth.log"]
        );
        let group = d.join("auth.log").to_string_lossy().into_owned();
        assert!(got.files.iter().all(|f| f.group == group));
        let flags: Vec<(bool, bool)> = got
            .files
            .iter()
            .map(|f| (f.compression.is_compressed(), f.live))
            .collect();
        assert_eq!(
            flags,
            [(true, false), (true, false), (false, false), (false, true)]
        );
    }

    #[test]
    fn dated_names_sort_by_date() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "secure", "live\n");
        write_gz(d, "secure-20261127.gz", "b\n");
        write(d, "secure-20261103", "a\n");
        write(d, "secure.2026-12-01", "c\n");
        write(d, "secure-12345678", "not a date: its own group\n");
        let got = discover(&[d.join("secure")]);
        assert_eq!(
            names(&got),
            [
                "secure-20261103",
                "secure-20261127.gz",
                "secure.2026-12-01",
                "secure"
            ]
        );
    }

    #[test]
    fn directory_groups_in_order_and_skips_hidden() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "b.log", "b\n");
        write(d, "b.log.1", "b1\n");
        write(d, "a.log", "a\n");
        write(d, ".hidden", "h\n");
        fs::create_dir(d.join("sub")).expect("mkdir");
        write(&d.join("sub"), "inner.log", "no recursion\n");
        let got = discover(&[d.to_path_buf()]);
        assert_eq!(names(&got), ["a.log", "b.log.1", "b.log"]);
    }

    #[test]
    fn groups_follow_argument_order_and_no_file_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "z.log", "z\n");
        write(d, "a.log", "a\n");
        write(d, "a.log.1", "a1\n");
        let pattern = d.join("a.log*");
        let got = discover(&[d.join("z.log"), pattern, d.join("a.log"), d.to_path_buf()]);
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        assert_eq!(names(&got), ["z.log", "a.log.1", "a.log"]);
    }

    #[test]
    fn zstd_bzip2_and_xz_rotations_join_their_group_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "app.log", "live\n");
        write(d, "app.log.1", "one\n");
        let zst = zstd::stream::encode_all(&b"two\n"[..], 3).expect("zstd");
        fs::write(d.join("app.log.2.zst"), zst).expect("write");
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(b"three\n").expect("bzip2");
        fs::write(d.join("app.log.3.bz2"), bz.finish().expect("bzip2")).expect("write");
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(b"four\n").expect("xz");
        fs::write(d.join("app.log-20261101.xz"), xz.finish().expect("xz")).expect("write");
        let got = discover(&[d.join("app.log")]);
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        assert_eq!(
            names(&got),
            [
                "app.log-20261101.xz",
                "app.log.3.bz2",
                "app.log.2.zst",
                "app.log.1",
                "app.log"
            ]
        );
        let kinds: Vec<Compression> = got.files.iter().map(|f| f.compression).collect();
        assert_eq!(
            kinds,
            [
                Compression::Xz,
                Compression::Bzip2,
                Compression::Zstd,
                Compression::None,
                Compression::None
            ]
        );
        assert!(got.files.iter().all(|f| f.group == got.files[4].group));
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "app.log", "x\n");
        write_gz(d, "app.log.2", "compressed without the name\n");
        write(d, "app.log.1.gz", "plain text named .gz\n");
        let got = discover(&[d.join("app.log")]);
        let compressed: Vec<(String, bool)> = got
            .files
            .iter()
            .map(|f| {
                (
                    f.path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    f.compression.is_compressed(),
                )
            })
            .collect();
        assert_eq!(
            compressed,
            [
                ("app.log.2".to_string(), true),
                ("app.log.1.gz".to_string(), false),
                ("app.log".to_string(), false)
            ]
        );
    }

    #[test]
    fn missing_paths_and_empty_globs_are_problems_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "ok.log", "fine\n");
        let got = discover(&[
            d.join("missing.log"),
            d.join("nothing*.log"),
            d.join("ok.log"),
        ]);
        assert_eq!(names(&got), ["ok.log"]);
        let bad: Vec<PathBuf> = got.problems.iter().map(|p| p.0.clone()).collect();
        assert_eq!(bad, [d.join("missing.log"), d.join("nothing*.log")]);
    }

    #[test]
    fn a_rotated_sibling_that_is_a_symlink_is_skipped_with_a_problem() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        fs::create_dir(&logs).expect("mkdir");
        let secret = write(dir.path(), "secret.txt", "root:$6$hash\n");
        write(&logs, "app.log", "live\n");
        write(&logs, "app.log.2", "two\n");
        symlink(&secret, logs.join("app.log.1")).expect("symlink");
        // A link inside the directory is no rotation either.
        write(&logs, "other.log", "another log\n");
        symlink("other.log", logs.join("app.log.3")).expect("symlink");
        let got = discover(&[logs.join("app.log")]);
        assert_eq!(
            names(&got),
            ["app.log.2", "app.log"],
            "a symlinked rotated sibling must not be read"
        );
        let bad: Vec<&Path> = got.problems.iter().map(|p| p.0.as_path()).collect();
        assert_eq!(bad, [logs.join("app.log.1"), logs.join("app.log.3")]);
        assert!(
            got.problems[0].1.contains("symbolic link") && got.problems[0].1.contains("secret.txt"),
            "{:?}",
            got.problems
        );
        // Named by the user, the link is followed as before.
        let got = discover(&[logs.join("app.log.1")]);
        assert_eq!(names(&got), ["app.log.1"]);
        assert!(got.problems.is_empty(), "{:?}", got.problems);
    }

    #[test]
    fn a_listed_symlink_is_followed_only_inside_its_directory() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        fs::create_dir(&logs).expect("mkdir");
        let secret = write(dir.path(), "secret.txt", "private\n");
        write(&logs, "a.log", "a\n");
        write(&logs, ".hidden", "h\n");
        symlink(&secret, logs.join("b.log")).expect("symlink");
        symlink("a.log", logs.join("c.log")).expect("symlink");
        symlink(".hidden", logs.join("d.log")).expect("symlink");
        let got = discover(std::slice::from_ref(&logs));
        // c.log is a.log again (one inode, read once).
        assert_eq!(names(&got), ["a.log"]);
        let bad: Vec<&Path> = got.problems.iter().map(|p| p.0.as_path()).collect();
        assert_eq!(bad, [logs.join("b.log"), logs.join("d.log")]);
        assert!(got.problems[0].1.contains("outside its directory"));
        // A glob is a listing too.
        let got = discover(&[logs.join("b*")]);
        assert!(got.files.is_empty(), "{:?}", got.files);
        assert_eq!(got.problems.len(), 1, "{:?}", got.problems);
        // Named by the user, it is followed.
        let got = discover(&[logs.join("b.log")]);
        assert_eq!(names(&got), ["b.log"]);
    }

    #[test]
    fn unreadable_file_is_reported_and_others_go_on() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        write(d, "ok.log", "fine\n");
        // A path through a regular file fails to open for root too, unlike chmod 000.
        let got = discover(&[d.join("ok.log/inner"), d.join("ok.log")]);
        assert_eq!(names(&got), ["ok.log"]);
        assert_eq!(got.problems.len(), 1);
        // And a mode-000 file, when the test does not run as root.
        let secret = write(d, "secret.log", "x\n");
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).expect("chmod");
        if File::open(&secret).is_err() {
            let got = discover(&[d.to_path_buf()]);
            assert_eq!(names(&got), ["ok.log"]);
            assert_eq!(got.problems[0].0, secret);
        }
    }
}
