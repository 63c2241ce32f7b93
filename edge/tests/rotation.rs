//! The rotation scenario matrix: whatever happens to the files between and during runs, every
//! line written ends up in exactly one stored window.
//!
//! Each line carries a unique `seq=N`; after the scenario, the stored windows' inputs are read
//! back and every N must appear exactly once. The windower writes records of one template once
//! with a count (`[×3] …`), so each line also spells its place among its client's lines in
//! letters, which the template keeps: no two lines of one window share a template, and every
//! `seq` reaches the stored input. Which verdict a window gets does not matter here, so a
//! fixed stand-in judge replaces the model (the CLI tests run the real one).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use opensoc::task::verdict::Verdict;
use opensoc_edge::ingest::{Ingest, IngestConfig, Judge};
use opensoc_edge::store::sqlite::{Store, VerdictFilter};

#[path = "common/cli.rs"]
mod cli;

/// Answers every window with the same benign verdict, counting calls.
struct FixedJudge {
    calls: usize,
    /// Fail on this call (1-based), to stop a run midway like a crash.
    fail_at: Option<usize>,
}

impl Judge for FixedJudge {
    fn judge(&mut self, _input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
        self.calls += 1;
        if self.fail_at == Some(self.calls) {
            return Err("stand-in crash".into());
        }
        Ok(cli::stand_in_verdict())
    }
}

/// The pipeline's defaults, except that benign windows from the template cache are stored as
/// rows rather than counted on their template's verdict, so that every line's `seq` can be
/// found in a stored input (tests/store_growth.rs runs a crash and re-read with the counting).
fn every_window_stored() -> IngestConfig {
    IngestConfig {
        count_benign_copies: false,
        ..IngestConfig::default()
    }
}

/// `n` in letters (`k` for 0 up to `t` for 9): a template keeps words, and masks numbers.
fn letters(n: usize) -> String {
    n.to_string()
        .bytes()
        .map(|d| char::from(d - b'0' + b'k'))
        .collect()
}

/// A scratch log directory and database, and the lines written so far.
struct Scene {
    dir: tempfile::TempDir,
    next_seq: usize,
    written: usize,
}

impl Scene {
    fn new() -> Scene {
        Scene {
            dir: tempfile::tempdir().unwrap(),
            next_seq: 0,
            written: 0,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> PathBuf {
        self.path("verdicts.db")
    }

    /// Appends `n` syslog lines from a few hosts (several entities interleave, so windows
    /// close out of file order).
    fn append(&mut self, name: &str, n: usize) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap();
        for _ in 0..n {
            let s = self.next_seq;
            self.next_seq += 1;
            self.written += 1;
            // The client is `s % 4`, so `s / 4` counts that client's lines. The four clients'
            // windows still share templates with each other, which the template cache test
            // needs.
            let place = letters(s / 4);
            writeln!(
                f,
                "Nov 28 10:{:02}:{:02} web{} app[42]: request handled seq={s} part {place} from 10.0.0.{}",
                (s / 60) % 60,
                s % 60,
                s % 3,
                s % 4
            )
            .unwrap();
        }
    }

    fn rename(&self, from: &str, to: &str) {
        fs::rename(self.path(from), self.path(to)).unwrap();
    }

    fn gzip(&self, from: &str, to: &str) {
        let data = fs::read(self.path(from)).unwrap();
        let mut enc = flate2::write::GzEncoder::new(
            fs::File::create(self.path(to)).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(&data).unwrap();
        enc.finish().unwrap();
        fs::remove_file(self.path(from)).unwrap();
    }

    /// One scan run over the live file `name` (its rotated siblings come along).
    fn scan(&self, name: &str) -> usize {
        self.scan_with(
            name,
            FixedJudge {
                calls: 0,
                fail_at: None,
            },
            true,
        )
        .unwrap()
    }

    fn scan_with(&self, name: &str, judge: FixedJudge, use_cache: bool) -> Result<usize, String> {
        let store = Store::open(&self.db()).map_err(|e| e.to_string())?;
        let config = IngestConfig {
            window: opensoc_logs::window::WindowConfig {
                max_records: 7,
                ..Default::default()
            },
            use_cache,
            ..every_window_stored()
        };
        let mut ingest = Ingest::new(store, judge, config);
        ingest
            .refresh(&[self.path(name)])
            .map_err(|e| e.to_string())?;
        loop {
            let n = ingest.pump(Some(13)).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
        }
        ingest.flush().map_err(|e| e.to_string())?;
        let problems = ingest.take_problems();
        assert!(problems.is_empty(), "{problems:?}");
        Ok(ingest.stats().windows as usize)
    }

    /// Every sequence number written, with how many stored windows hold it.
    fn stored_counts(&self) -> BTreeMap<usize, usize> {
        let store = Store::open_read_only(&self.db()).unwrap();
        let all = store.verdicts(&VerdictFilter::default()).unwrap();
        let mut counts = BTreeMap::new();
        for v in &all {
            for part in v.verdict.input.split("seq=").skip(1) {
                let n: usize = part
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                *counts.entry(n).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Every line written is stored exactly once.
    fn assert_exactly_once(&self) {
        let counts = self.stored_counts();
        let missing: Vec<usize> = (0..self.next_seq)
            .filter(|s| !counts.contains_key(s))
            .collect();
        let repeated: Vec<(usize, usize)> = counts
            .iter()
            .filter(|(_, &n)| n != 1)
            .map(|(&s, &n)| (s, n))
            .collect();
        assert!(missing.is_empty(), "lines never stored: {missing:?}");
        assert!(
            repeated.is_empty(),
            "lines stored more than once: {repeated:?}"
        );
        assert_eq!(counts.len(), self.written);
    }
}

#[test]
fn rename_and_create_rotation() {
    let mut s = Scene::new();
    s.append("app.log", 30);
    s.scan("app.log");
    s.append("app.log", 10);
    s.rename("app.log", "app.log.1");
    s.append("app.log", 20);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn copytruncate() {
    let mut s = Scene::new();
    s.append("app.log", 30);
    s.scan("app.log");
    s.append("app.log", 10);
    fs::copy(s.path("app.log"), s.path("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(s.path("app.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    s.append("app.log", 15);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn rotation_with_delayed_gzip() {
    let mut s = Scene::new();
    s.append("app.log", 30);
    s.scan("app.log");
    s.append("app.log", 5);
    s.rename("app.log", "app.log.1");
    s.append("app.log", 10);
    s.scan("app.log");
    s.append("app.log", 5);
    // logrotate with delaycompress: the previous .1 is compressed only at the next rotation.
    s.gzip("app.log.1", "app.log.2.gz");
    s.rename("app.log", "app.log.1");
    s.append("app.log", 10);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn truncation_in_place() {
    let mut s = Scene::new();
    s.append("app.log", 30);
    s.scan("app.log");
    OpenOptions::new()
        .write(true)
        .open(s.path("app.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    s.append("app.log", 12);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn delete_and_recreate() {
    let mut s = Scene::new();
    s.append("app.log", 30);
    s.scan("app.log");
    fs::remove_file(s.path("app.log")).unwrap();
    s.append("app.log", 12);
    s.scan("app.log");
    s.append("app.log", 40);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn two_rotations_between_two_scans() {
    let mut s = Scene::new();
    s.append("app.log", 30);
    s.scan("app.log");
    s.append("app.log", 5);
    s.rename("app.log", "app.log.1");
    s.append("app.log", 10);
    s.rename("app.log.1", "app.log.2");
    s.rename("app.log", "app.log.1");
    s.append("app.log", 7);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn restart_in_mid_file() {
    let mut s = Scene::new();
    s.append("app.log", 50);
    s.scan("app.log");
    s.append("app.log", 25);
    s.scan("app.log");
    s.scan("app.log");
    s.append("app.log", 25);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn a_crash_midway_repeats_and_loses_nothing() {
    let mut s = Scene::new();
    s.append("app.log", 60);
    // The run dies on its fourth window (the cache off, so that every window asks the judge):
    // three are committed, the rest are not.
    let err = s
        .scan_with(
            "app.log",
            FixedJudge {
                calls: 0,
                fail_at: Some(4),
            },
            false,
        )
        .unwrap_err();
    assert!(err.contains("stand-in crash"), "{err}");
    let before = s.stored_counts();
    assert!(!before.is_empty() && before.len() < 60, "{}", before.len());
    s.append("app.log", 10);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn a_rotated_file_whose_first_bytes_equal_the_new_files() {
    let mut s = Scene::new();
    // Both files start with the same 1,100-byte banner: their fingerprints are equal, only the
    // inode tells them apart.
    let banner = format!("# {}\n", "x".repeat(1_097));
    fs::write(s.path("app.log"), &banner).unwrap();
    s.append("app.log", 30);
    s.scan("app.log");
    s.append("app.log", 4);
    s.rename("app.log", "app.log.1");
    fs::write(s.path("app.log"), &banner).unwrap();
    s.append("app.log", 30);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn a_file_shorter_than_the_fingerprint() {
    let mut s = Scene::new();
    s.append("app.log", 1);
    s.scan("app.log");
    s.append("app.log", 1);
    s.scan("app.log");
    s.rename("app.log", "app.log.1");
    s.append("app.log", 1);
    s.scan("app.log");
    s.append("app.log", 2);
    s.scan("app.log");
    s.assert_exactly_once();
}

#[test]
fn bad_bytes_are_read_and_nothing_is_lost_around_them() {
    let mut s = Scene::new();
    s.append("app.log", 5);
    let mut f = OpenOptions::new()
        .append(true)
        .open(s.path("app.log"))
        .unwrap();
    f.write_all(b"Nov 28 10:00:00 web0 app[1]: bad \xff\xfe bytes\n")
        .unwrap();
    let mut garbage = vec![0u8; 4096];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    f.write_all(&garbage).unwrap();
    f.write_all(b"\n").unwrap();
    f.write_all(&vec![b'A'; 10 << 20]).unwrap();
    f.write_all(b"\n").unwrap();
    drop(f);
    s.append("app.log", 5);
    s.scan("app.log");
    s.assert_exactly_once();
    let store = Store::open_read_only(&s.db()).unwrap();
    let all = store.verdicts(&VerdictFilter::default()).unwrap();
    let biggest = all.iter().map(|v| v.verdict.input.len()).max().unwrap();
    assert!(biggest <= 64 * 1024, "a stored input of {biggest} bytes");
    assert!(all.iter().any(|v| v.verdict.input.contains('\u{fffd}')));
}

#[test]
fn an_unreadable_path_is_reported_and_the_others_are_read() {
    let mut s = Scene::new();
    s.append("app.log", 10);
    std::os::unix::fs::symlink("/nonexistent/target.log", s.path("broken.log")).unwrap();
    let store = Store::open(&s.db()).unwrap();
    let mut ingest = Ingest::new(
        store,
        FixedJudge {
            calls: 0,
            fail_at: None,
        },
        every_window_stored(),
    );
    ingest
        .refresh(&[
            s.path("app.log"),
            s.path("broken.log"),
            s.path("missing.log"),
        ])
        .unwrap();
    ingest.pump(None).unwrap();
    ingest.flush().unwrap();
    let problems = ingest.take_problems();
    let paths: Vec<&Path> = problems.iter().map(|p| p.path.as_path()).collect();
    assert!(
        paths.contains(&s.path("broken.log").as_path()),
        "{problems:?}"
    );
    assert!(
        paths.contains(&s.path("missing.log").as_path()),
        "{problems:?}"
    );
    drop(ingest);
    s.assert_exactly_once();
}

#[test]
fn repeated_windows_come_from_the_template_cache() {
    let mut s = Scene::new();
    s.append("app.log", 70);
    let store = Store::open(&s.db()).unwrap();
    let config = IngestConfig {
        window: opensoc_logs::window::WindowConfig {
            max_records: 5,
            ..Default::default()
        },
        ..every_window_stored()
    };
    let mut ingest = Ingest::new(
        store,
        FixedJudge {
            calls: 0,
            fail_at: None,
        },
        config,
    );
    ingest.refresh(&[s.path("app.log")]).unwrap();
    ingest.pump(None).unwrap();
    ingest.flush().unwrap();
    let st = ingest.stats().clone();
    assert_eq!(st.windows, st.model_calls + st.cache_hits);
    assert!(st.cache_hits > st.model_calls, "{st:?}");
    drop(ingest);
    s.assert_exactly_once();
}

#[test]
fn a_backlog_is_counted_and_caught_up() {
    let mut s = Scene::new();
    s.append("app.log", 200);
    let store = Store::open(&s.db()).unwrap();
    let mut ingest = Ingest::new(
        store,
        FixedJudge {
            calls: 0,
            fail_at: None,
        },
        every_window_stored(),
    );
    ingest.refresh(&[s.path("app.log")]).unwrap();
    let size = fs::metadata(s.path("app.log")).unwrap().len();
    assert_eq!(ingest.lag_bytes(), size);
    // A reader held to 50 lines a pass (the model slower than the log): the rest waits in the
    // file, counted as lag, and is read by later passes.
    ingest.pump(Some(50)).unwrap();
    let lag = ingest.lag_bytes();
    assert!(lag > 0 && lag < size, "{lag} of {size}");
    while ingest.pump(Some(50)).unwrap() > 0 {}
    assert_eq!(ingest.lag_bytes(), 0);
    ingest.flush().unwrap();
    drop(ingest);
    s.assert_exactly_once();
}

/// One pass of a long-running watcher: look at the files again, read what is new.
fn watch_pass(ingest: &mut Ingest<FixedJudge>, s: &Scene) {
    ingest.refresh(&[s.path("app.log")]).unwrap();
    while ingest.pump(Some(17)).unwrap() > 0 {}
    let problems = ingest.take_problems();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_watcher_that_keeps_its_readers_open_follows_every_kind_of_rotation() {
    let mut s = Scene::new();
    let store = Store::open(&s.db()).unwrap();
    let config = IngestConfig {
        window: opensoc_logs::window::WindowConfig {
            max_records: 5,
            ..Default::default()
        },
        ..every_window_stored()
    };
    let mut w = Ingest::new(
        store,
        FixedJudge {
            calls: 0,
            fail_at: None,
        },
        config,
    );
    s.append("app.log", 20);
    watch_pass(&mut w, &s);
    // Lines written just before a rename reach the watcher through its open descriptor.
    s.append("app.log", 6);
    s.rename("app.log", "app.log.1");
    s.append("app.log", 9);
    watch_pass(&mut w, &s);
    // copytruncate.
    s.append("app.log", 4);
    fs::copy(s.path("app.log"), s.path("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(s.path("app.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    s.append("app.log", 8);
    watch_pass(&mut w, &s);
    // Delayed compression of the previous .1, then a rename.
    s.append("app.log", 3);
    s.gzip("app.log.1", "app.log.2.gz");
    s.rename("app.log", "app.log.1");
    s.append("app.log", 11);
    watch_pass(&mut w, &s);
    // Truncation in place, then delete and re-create.
    OpenOptions::new()
        .write(true)
        .open(s.path("app.log"))
        .unwrap()
        .set_len(0)
        .unwrap();
    s.append("app.log", 5);
    watch_pass(&mut w, &s);
    fs::remove_file(s.path("app.log")).unwrap();
    s.append("app.log", 7);
    watch_pass(&mut w, &s);
    w.flush().unwrap();
    drop(w);
    // Lines lost by truncating unread content are the one loss no reader can prevent; every
    // pass above read the file before it was cut, so nothing is lost here.
    s.assert_exactly_once();
}

#[test]
fn a_stream_is_read_to_its_end_in_chunks() {
    let s = Scene::new();
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!(
            "Nov 28 10:00:{:02} web0 app[1]: request seq={i} part {} from 10.0.0.{}\n",
            i % 60,
            letters(i),
            i % 3
        ));
    }
    let store = Store::open(&s.db()).unwrap();
    let mut ingest = Ingest::new(
        store,
        FixedJudge {
            calls: 0,
            fail_at: None,
        },
        every_window_stored(),
    );
    ingest
        .add_stream("-", Box::new(std::io::Cursor::new(text.into_bytes())))
        .unwrap();
    while ingest.pump(Some(7)).unwrap() > 0 {}
    ingest.flush().unwrap();
    assert_eq!(ingest.stats().lines, 100);
    drop(ingest);
    let mut s = s;
    s.next_seq = 100;
    s.written = 100;
    s.assert_exactly_once();
}
