//! discover, identify, resolve, the line reader and the store together, across the
//! rotation scenarios `scan` must survive: every line written is read exactly once.
//!
//! `scan_once` is a minimal stand-in for the pipeline (no parsing, no model): one line is
//! one window, committed with its span and the checkpoint.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use opensoc_edge::store::sqlite::{NewVerdict, Span, Store};
use opensoc_edge::tail::discover::discover;
use opensoc_edge::tail::identity::{identify, resolve, Known};
use opensoc_edge::tail::line_reader::LineReader;

struct Log {
    dir: tempfile::TempDir,
    store: Store,
    next: usize,
    written: Vec<String>,
    read: Vec<String>,
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db").join("opensoc.db")).expect("store");
        Log {
            dir,
            store,
            next: 0,
            written: Vec::new(),
            read: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("log").join(name)
    }

    /// Appends `n` unique lines to `name`.
    fn append(&mut self, name: &str, n: usize) {
        fs::create_dir_all(self.dir.path().join("log")).expect("mkdir");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .expect("open");
        for _ in 0..n {
            let line = format!(
                "Nov 27 10:{:02}:00 host sshd[{}]: Failed password for root from 203.0.113.{} port 22",
                self.next % 60,
                1000 + self.next,
                self.next % 250
            );
            writeln!(f, "{line}").expect("write");
            self.written.push(line);
            self.next += 1;
        }
    }

    fn rename(&self, from: &str, to: &str) {
        fs::rename(self.path(from), self.path(to)).expect("rename");
    }

    fn gzip(&self, from: &str, to: &str) {
        let text = fs::read(self.path(from)).expect("read");
        let mut enc = GzEncoder::new(
            File::create(self.path(to)).expect("create"),
            Compression::fast(),
        );
        enc.write_all(&text).expect("gz");
        enc.finish().expect("finish");
        fs::remove_file(self.path(from)).expect("rm");
    }

    fn copytruncate(&self, from: &str, to: &str) {
        fs::copy(self.path(from), self.path(to)).expect("copy");
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.path(from))
            .expect("truncate");
    }

    /// One `scan` over `auth.log` and its siblings; `crash_after` stops after that many
    /// lines of this run, as kill -9 would.
    fn scan(&mut self, crash_after: Option<usize>) {
        let found = discover(&[self.path("auth.log")]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        let known: Vec<Known> = self
            .store
            .known_files()
            .expect("known")
            .iter()
            .map(|r| r.known())
            .collect();
        let identified = found
            .files
            .into_iter()
            .map(|f| {
                let id = identify(&f).expect("identify");
                (f, id)
            })
            .collect();
        let mut taken = 0;
        for r in resolve(&known, identified) {
            let id = match r.known {
                Some(id) => {
                    self.store
                        .touch_file(id, &r.file.path, &r.identity)
                        .expect("touch");
                    id
                }
                None => self
                    .store
                    .add_file(&r.file.path, &r.file.group, &r.identity)
                    .expect("add"),
            };
            let skip = self.store.committed_spans(id, r.start).expect("spans");
            let mut reader = LineReader::open(&r.file, r.start).expect("reader");
            while let Some(line) = reader.next_line(!r.file.live).expect("line") {
                if skip.iter().any(|&(s, e)| s <= line.start && line.end <= e) {
                    self.store
                        .set_checkpoints(&[(id, line.end)])
                        .expect("checkpoint");
                    continue;
                }
                if crash_after == Some(taken) {
                    return;
                }
                taken += 1;
                self.read.push(line.text.clone());
                let verdict = window(&line.text);
                self.store
                    .commit_window(
                        &verdict,
                        &[Span {
                            file: id,
                            start: line.start,
                            end: line.end,
                        }],
                        &[(id, line.end)],
                    )
                    .expect("commit");
            }
        }
    }

    /// Every line written was read exactly once.
    fn check(&self) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for l in &self.read {
            *seen.entry(l.as_str()).or_default() += 1;
        }
        let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
        assert!(twice.is_empty(), "read more than once: {twice:?}");
        let missed: Vec<_> = self
            .written
            .iter()
            .filter(|l| !seen.contains_key(l.as_str()))
            .collect();
        assert!(missed.is_empty(), "never read: {missed:?}");
        assert_eq!(self.read.len(), self.written.len());
    }
}

fn window(text: &str) -> NewVerdict {
    NewVerdict {
        created_at: 1,
        first_time: None,
        last_time: None,
        source: "auth.log".to_string(),
        entity: None,
        records: 1,
        signature: text.to_string(),
        cached_from: None,
        threat_type: "Brute Force".to_string(),
        category: "Brute Force".to_string(),
        technique: "T1110".to_string(),
        tactic: "Credential Access".to_string(),
        severity: "MEDIUM".to_string(),
        risk_score: 50,
        evidence: String::new(),
        impact: String::new(),
        recommendation: String::new(),
        secondary: None,
        input: text.to_string(),
    }
}

#[test]
fn rename_and_create_rotation() {
    let mut log = Log::new();
    log.append("auth.log", 30);
    log.scan(None);
    log.append("auth.log", 5);
    log.rename("auth.log", "auth.log.1");
    log.append("auth.log", 4);
    log.scan(None);
    log.scan(None);
    log.check();
}

#[test]
fn copytruncate() {
    let mut log = Log::new();
    log.append("auth.log", 30);
    log.scan(None);
    log.append("auth.log", 5);
    log.copytruncate("auth.log", "auth.log.1");
    log.append("auth.log", 4);
    log.scan(None);
    log.check();
}

#[test]
fn delayed_gzip_and_two_rotations_between_runs() {
    let mut log = Log::new();
    log.append("auth.log", 30);
    log.scan(None);
    // First rotation (delaycompress: .1 stays plain).
    log.append("auth.log", 3);
    log.rename("auth.log", "auth.log.1");
    log.append("auth.log", 30);
    // Second rotation before the next scan: .1 is compressed to .2.gz.
    log.gzip("auth.log.1", "auth.log.2.gz");
    log.rename("auth.log", "auth.log.1");
    log.append("auth.log", 6);
    log.scan(None);
    // The next night only compresses; nothing is new.
    log.gzip("auth.log.1", "auth.log.2.gz.tmp");
    log.rename("auth.log.2.gz", "auth.log.3.gz");
    log.rename("auth.log.2.gz.tmp", "auth.log.2.gz");
    let before = log.read.len();
    log.scan(None);
    assert_eq!(log.read.len(), before);
    log.check();
}

#[test]
fn truncation_in_place_and_delete_recreate() {
    let mut log = Log::new();
    log.append("auth.log", 30);
    log.scan(None);
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(log.path("auth.log"))
        .expect("truncate");
    log.append("auth.log", 3);
    log.scan(None);
    fs::remove_file(log.path("auth.log")).expect("rm");
    log.append("auth.log", 2);
    log.scan(None);
    log.check();
}

#[test]
fn crash_mid_file_resumes_without_repeating() {
    let mut log = Log::new();
    log.append("auth.log", 20);
    log.scan(Some(7));
    assert_eq!(log.read.len(), 7);
    // A crash after a window was committed but before the checkpoint moved past earlier
    // lines: rewind the checkpoint; the committed spans must keep those lines from repeating.
    let id = log.store.known_files().expect("files")[0].id;
    log.store.set_checkpoints(&[(id, 0)]).expect("rewind");
    log.append("auth.log", 3);
    log.scan(None);
    log.check();
}

#[test]
fn partial_last_line_waits_for_its_newline() {
    let mut log = Log::new();
    log.append("auth.log", 2);
    let mut f = OpenOptions::new()
        .append(true)
        .open(log.path("auth.log"))
        .expect("open");
    f.write_all(b"Nov 27 10:59:59 host sshd[1]: half")
        .expect("write");
    log.scan(None);
    assert_eq!(log.read.len(), 2);
    f.write_all(b" a line\n").expect("write");
    log.written
        .push("Nov 27 10:59:59 host sshd[1]: half a line".to_string());
    log.scan(None);
    log.check();
}

#[test]
fn short_file_grows_past_the_fingerprint() {
    let mut log = Log::new();
    log.append("auth.log", 1);
    log.scan(None);
    log.append("auth.log", 40);
    log.scan(None);
    log.append("auth.log", 2);
    log.rename("auth.log", "auth.log.1");
    log.append("auth.log", 1);
    log.scan(None);
    log.check();
}

#[test]
fn unreadable_argument_is_reported_and_the_others_go_on() {
    let mut log = Log::new();
    log.append("auth.log", 2);
    let bad: &Path = &log.path("auth.log/not-a-dir");
    let found = discover(&[bad.to_path_buf(), log.path("auth.log")]);
    assert_eq!(found.problems.len(), 1);
    assert_eq!(found.files.len(), 1);
}
