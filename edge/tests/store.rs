//! The SQLite store through its public API: creation and migration, atomic window commits,
//! crash-restart spans, the template cache, filters, pruning, read-only and locked files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opensoc_edge::store::sqlite::{
    template_digest, CopyWindow, NewVerdict, Span, Store, StoreError, VerdictFilter, MAX_INPUT,
    SCHEMA_VERSION,
};
use opensoc_edge::tail::identity::{Fingerprint, Identity};
use rusqlite::Connection;

fn identity(ino: u64, text: &[u8]) -> Identity {
    let head = text[..text.len().min(1024)].to_vec();
    Identity {
        dev: 7,
        ino,
        size: text.len() as u64,
        fingerprint: Fingerprint::of(&head),
        head,
    }
}

fn verdict(created_at: i64, severity: &str, category: &str, source: &str) -> NewVerdict {
    NewVerdict {
        created_at,
        first_time: Some(created_at - 60),
        last_time: Some(created_at - 1),
        source: source.to_string(),
        entity: Some("203.0.113.9".to_string()),
        records: 3,
        signature: format!("sig-{category}-{severity}"),
        cached_from: None,
        threat_type: format!("{category} — variant"),
        category: category.to_string(),
        technique: "T1110".to_string(),
        tactic: "Credential Access".to_string(),
        severity: severity.to_string(),
        risk_score: 70,
        evidence: "3 failed logins".to_string(),
        impact: "account takeover".to_string(),
        recommendation: "block the address".to_string(),
        secondary: None,
        input: "Failed password for root from 203.0.113.9".to_string(),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    store: Store,
    file: i64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state").join("opensoc.db");
    let mut store = Store::open(&db).expect("open");
    let file = store
        .add_file(
            Path::new("/var/log/auth.log"),
            "/var/log/auth.log",
            &identity(1, b"x\n"),
        )
        .expect("add");
    Fixture {
        _dir: dir,
        db,
        store,
        file,
    }
}

fn count(db: &Path, table: &str) -> i64 {
    let c = Connection::open(db).expect("open");
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

#[test]
fn creates_private_files_and_reopens_without_migrating_again() {
    let mut f = fixture();
    f.store
        .commit_window(
            &verdict(100, "HIGH", "Brute Force", "auth"),
            &[],
            &[(f.file, 10)],
        )
        .expect("commit");
    assert_eq!(mode(&f.db), 0o600);
    // The WAL side files exist while the connection is open and inherit the mode.
    for side in ["opensoc.db-wal", "opensoc.db-shm"] {
        let p = f.db.with_file_name(side);
        assert_eq!(mode(&p), 0o600, "{side}");
    }
    let c = Connection::open(&f.db).expect("open");
    let journal: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(journal, "wal");
    drop(c);
    drop(f.store);
    for _ in 0..2 {
        let s = Store::open(&f.db).expect("reopen");
        assert_eq!(s.known_files().expect("files").len(), 1);
        assert_eq!(s.verdicts(&VerdictFilter::default()).expect("v").len(), 1);
    }
    let c = Connection::open(&f.db).expect("open");
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn file_records_round_trip_and_touch_updates_them() {
    let mut f = fixture();
    let grown = identity(9, &[b'a'; 3000]);
    f.store
        .touch_file(f.file, Path::new("/var/log/auth.log.1"), &grown)
        .expect("touch");
    f.store
        .set_checkpoints(&[(f.file, 2048)])
        .expect("checkpoint");
    let rows = f.store.known_files().expect("files");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.path, Path::new("/var/log/auth.log.1"));
    assert_eq!(row.group, "/var/log/auth.log");
    assert_eq!((row.dev, row.ino, row.offset), (7, 9, 2048));
    assert_eq!(row.known().fingerprint, grown.fingerprint);
    // Full-range u64 values survive the signed column.
    let big = Identity {
        dev: u64::MAX,
        ino: u64::MAX - 1,
        ..grown.clone()
    };
    let id = f.store.add_file(Path::new("/x"), "/x", &big).expect("add");
    let row = f
        .store
        .known_files()
        .expect("files")
        .into_iter()
        .find(|r| r.id == id);
    let row = row.expect("row");
    assert_eq!(
        (row.dev, row.ino, row.fp_hash),
        (u64::MAX, u64::MAX - 1, grown.fingerprint.hash)
    );
    let missing = f.store.touch_file(999, Path::new("/y"), &grown);
    assert!(
        matches!(missing, Err(StoreError::NoSuchFile { id: 999, .. })),
        "{missing:?}"
    );
}

#[test]
fn commit_window_is_atomic() {
    let mut f = fixture();
    let v = verdict(100, "HIGH", "Brute Force", "auth");
    // A span of a file that does not exist violates the foreign key after the verdict row
    // was inserted: nothing of the window may remain.
    let err = f
        .store
        .commit_window(
            &v,
            &[
                Span {
                    file: f.file,
                    start: 0,
                    end: 10,
                },
                Span {
                    file: 4242,
                    start: 0,
                    end: 5,
                },
            ],
            &[(f.file, 10)],
        )
        .expect_err("foreign key");
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err}");
    // A checkpoint for an unknown file fails after verdict, spans and template were written.
    let err = f
        .store
        .commit_window(
            &v,
            &[Span {
                file: f.file,
                start: 0,
                end: 10,
            }],
            &[(4242, 10)],
        )
        .expect_err("no such file");
    assert!(
        matches!(err, StoreError::NoSuchFile { id: 4242, .. }),
        "{err}"
    );
    assert_eq!(count(&f.db, "verdicts"), 0);
    assert_eq!(count(&f.db, "spans"), 0);
    assert_eq!(count(&f.db, "templates"), 0);
    assert_eq!(f.store.known_files().expect("files")[0].offset, 0);
    // And a good commit stores all of it.
    let id = f
        .store
        .commit_window(
            &v,
            &[Span {
                file: f.file,
                start: 0,
                end: 10,
            }],
            &[(f.file, 10)],
        )
        .expect("commit");
    assert_eq!(count(&f.db, "verdicts"), 1);
    assert_eq!(count(&f.db, "spans"), 1);
    assert_eq!(
        f.store
            .cached_verdict(&v.signature)
            .expect("cache")
            .map(|c| c.id),
        Some(id)
    );
    assert_eq!(f.store.known_files().expect("files")[0].offset, 10);
}

#[test]
fn committed_spans_after_a_checkpoint() {
    let mut f = fixture();
    let v = verdict(100, "LOW", "Recon", "auth");
    // Two windows interleaved in one file (lines of two entities), checkpoint held back.
    f.store
        .commit_window(
            &v,
            &[
                Span {
                    file: f.file,
                    start: 30,
                    end: 40,
                },
                Span {
                    file: f.file,
                    start: 0,
                    end: 10,
                },
            ],
            &[(f.file, 0)],
        )
        .expect("commit");
    f.store
        .commit_window(
            &v,
            &[Span {
                file: f.file,
                start: 50,
                end: 60,
            }],
            &[],
        )
        .expect("commit");
    assert_eq!(
        f.store.committed_spans(f.file, 0).expect("spans"),
        [(0, 10), (30, 40), (50, 60)]
    );
    assert_eq!(
        f.store.committed_spans(f.file, 10).expect("spans"),
        [(30, 40), (50, 60)]
    );
    assert_eq!(
        f.store.committed_spans(f.file, 35).expect("spans"),
        [(30, 40), (50, 60)]
    );
    assert_eq!(f.store.committed_spans(f.file + 1, 0).expect("spans"), []);
}

#[test]
fn cached_verdict_is_the_fresh_one() {
    let mut f = fixture();
    let fresh = verdict(100, "HIGH", "Brute Force", "auth");
    let fresh_id = f.store.commit_window(&fresh, &[], &[]).expect("commit");
    let copy = NewVerdict {
        created_at: 200,
        cached_from: Some(fresh_id),
        evidence: "copied".to_string(),
        ..fresh.clone()
    };
    f.store.commit_window(&copy, &[], &[]).expect("commit");
    let hit = f
        .store
        .cached_verdict(&fresh.signature)
        .expect("cache")
        .expect("hit");
    assert_eq!(hit.id, fresh_id);
    // The cache keys on the signature's digest, which is all a verdict keeps of it.
    assert_eq!(hit.verdict.signature, template_digest(&fresh.signature));
    assert_eq!(hit.verdict.evidence, "3 failed logins");
    assert_eq!(hit.verdict.first_time, Some(40));
    assert_eq!(f.store.cached_verdict("other").expect("cache"), None);
}

#[test]
fn input_is_capped() {
    let mut f = fixture();
    let v = NewVerdict {
        input: "é".repeat(MAX_INPUT),
        ..verdict(1, "LOW", "Recon", "auth")
    };
    f.store.commit_window(&v, &[], &[]).expect("commit");
    let got = f.store.verdicts(&VerdictFilter::default()).expect("v");
    assert!(got[0].verdict.input.len() <= MAX_INPUT && got[0].verdict.input.len() > MAX_INPUT - 4);
}

#[test]
fn verdict_filters() {
    let mut f = fixture();
    let rows = [
        (100, "LOW", "Recon", "/var/log/auth.log"),
        (200, "MEDIUM", "Brute Force", "/var/log/auth.log"),
        (300, "HIGH", "SQL Injection", "/var/log/nginx/access.log"),
        (
            400,
            "CRITICAL",
            "SQL Injection",
            "/var/log/nginx/access.log",
        ),
    ];
    for (t, sev, cat, src) in rows {
        f.store
            .commit_window(&verdict(t, sev, cat, src), &[], &[])
            .expect("commit");
    }
    let times = |filter: VerdictFilter| -> Vec<i64> {
        f.store
            .verdicts(&filter)
            .expect("verdicts")
            .iter()
            .map(|v| v.verdict.created_at)
            .collect()
    };
    assert_eq!(times(VerdictFilter::default()), [400, 300, 200, 100]);
    // Log time, which the tables show: each row's window spans 60 s before it was stored.
    assert_eq!(
        times(VerdictFilter {
            since: Some(150),
            until: Some(300),
            ..Default::default()
        }),
        [300, 200]
    );
    assert_eq!(
        times(VerdictFilter {
            since: Some(390),
            until: Some(395),
            ..Default::default()
        }),
        [400],
        "stored at 400, the window covers 340..399"
    );
    assert_eq!(
        times(VerdictFilter {
            min_severity: Some("high".into()),
            ..Default::default()
        }),
        [400, 300]
    );
    assert_eq!(
        times(VerdictFilter {
            category: Some("sql injection".into()),
            ..Default::default()
        }),
        [400, 300]
    );
    assert_eq!(
        times(VerdictFilter {
            source: Some("auth".into()),
            ..Default::default()
        }),
        [200, 100]
    );
    assert_eq!(
        times(VerdictFilter {
            source: Some("%".into()),
            ..Default::default()
        }),
        Vec::<i64>::new()
    );
    assert_eq!(
        times(VerdictFilter {
            limit: Some(1),
            ..Default::default()
        }),
        [400]
    );
    assert_eq!(
        times(VerdictFilter {
            min_severity: Some("MEDIUM".into()),
            source: Some("auth".into()),
            limit: Some(5),
            ..Default::default()
        }),
        [200]
    );
    let bad = f.store.verdicts(&VerdictFilter {
        min_severity: Some("severe".into()),
        ..Default::default()
    });
    assert!(matches!(bad, Err(StoreError::BadSeverity(_))), "{bad:?}");
}

#[test]
fn prune_removes_old_verdicts_spans_below_checkpoints_and_unseen_files() {
    let mut f = fixture();
    let old = verdict(100, "LOW", "Recon", "auth");
    let new = verdict(i64::MAX / 2, "HIGH", "Brute Force", "auth");
    f.store
        .commit_window(
            &old,
            &[Span {
                file: f.file,
                start: 0,
                end: 10,
            }],
            &[],
        )
        .expect("commit");
    f.store
        .commit_window(
            &new,
            &[
                Span {
                    file: f.file,
                    start: 10,
                    end: 20,
                },
                Span {
                    file: f.file,
                    start: 40,
                    end: 50,
                },
            ],
            &[(f.file, 30)],
        )
        .expect("commit");
    assert_eq!(f.store.prune(150).expect("prune"), 1);
    assert_eq!(count(&f.db, "verdicts"), 1);
    assert_eq!(f.store.cached_verdict(&old.signature).expect("cache"), None);
    // The old verdict's span went with it; the new one's span below the checkpoint too.
    assert_eq!(
        f.store.committed_spans(f.file, 0).expect("spans"),
        [(40, 50)]
    );
    assert_eq!(f.store.known_files().expect("files").len(), 1);
    // A file not seen since the cut-off goes, with its spans; verdicts stay.
    let cutoff = f.store.known_files().expect("files")[0].last_seen + 1;
    assert_eq!(f.store.prune(cutoff).expect("prune"), 0);
    assert!(f.store.known_files().expect("files").is_empty());
    assert_eq!(count(&f.db, "spans"), 0);
    assert_eq!(count(&f.db, "verdicts"), 1);
}

#[test]
fn benign_copies_are_counted_per_source_and_day_and_keep_their_verdict() {
    let mut f = fixture();
    let day = 86_400;
    let origin = f
        .store
        .commit_window(
            &verdict(10 * day, "LOW", "No Threat Detected", "auth"),
            &[],
            &[],
        )
        .expect("commit");
    let copy = |source: &str, time: i64, records: u32| CopyWindow {
        verdict: origin,
        source: source.to_string(),
        first_time: Some(time - 5),
        last_time: Some(time),
        created_at: 99 * day,
        records,
    };
    let span = |start: u64| Span {
        file: f.file,
        start,
        end: start + 10,
    };
    // Two copies on day 10 (the checkpoint held back at 0), one on day 12 that moves it to 25.
    f.store
        .count_copy(&copy("auth", 10 * day + 100, 1), &[span(0)], &[(f.file, 0)])
        .expect("count");
    f.store
        .count_copy(&copy("auth", 10 * day + 50, 2), &[span(40)], &[])
        .expect("count");
    f.store
        .count_copy(&copy("web", 12 * day + 7, 4), &[span(10)], &[(f.file, 25)])
        .expect("count");
    // The re-read skips the copies' spans past the checkpoint; those behind it are gone.
    assert_eq!(
        f.store.committed_spans(f.file, 0).expect("spans"),
        [(40, 50)]
    );
    assert_eq!(count(&f.db, "verdicts"), 1);
    let counts = f
        .store
        .copy_counts(&VerdictFilter::default())
        .expect("copies");
    let summary: Vec<(String, i64, u64, u64)> = counts
        .iter()
        .map(|c| (c.source.clone(), c.day, c.windows, c.records))
        .collect();
    assert_eq!(
        summary,
        [
            ("auth".to_string(), 10, 2, 3),
            ("web".to_string(), 12, 1, 4)
        ]
    );
    let row = f.store.verdict(origin).expect("read").expect("stored");
    assert_eq!(row.copies, 3);
    // Filters read the copies' own log times and sources.
    let since = VerdictFilter {
        since: Some(11 * day),
        ..VerdictFilter::default()
    };
    assert_eq!(f.store.copy_counts(&since).expect("copies").len(), 1);
    let web = VerdictFilter {
        source: Some("web".to_string()),
        ..VerdictFilter::default()
    };
    assert_eq!(f.store.copy_counts(&web).expect("copies")[0].windows, 1);
    // Pruning at day 11 drops day 10's copies but keeps the verdict that day 12's copy
    // shares; once that goes too, so does the verdict.
    assert_eq!(f.store.prune(11 * day).expect("prune"), 0);
    assert_eq!(
        f.store
            .copy_counts(&VerdictFilter::default())
            .expect("copies")
            .len(),
        1
    );
    assert_eq!(f.store.prune(13 * day).expect("prune"), 1);
    assert_eq!(count(&f.db, "copies"), 0);
    assert_eq!(count(&f.db, "verdicts"), 0);
}

#[test]
fn read_only_database_file_refuses_writes_and_keeps_data() {
    let f = fixture();
    let mut store = f.store;
    store
        .commit_window(&verdict(100, "HIGH", "Brute Force", "auth"), &[], &[])
        .expect("commit");
    drop(store);
    let copy = f.db.with_file_name("copy.db");
    fs::copy(&f.db, &copy).expect("copy");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o400)).expect("chmod");
    let before = fs::read(&copy).expect("read");
    let mut ro = Store::open(&copy).expect("open read-only file");
    let err = ro
        .commit_window(&verdict(200, "LOW", "Recon", "auth"), &[], &[])
        .expect_err("read-only");
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert!(err.to_string().contains("copy.db"), "{err}");
    assert!(matches!(
        ro.set_checkpoints(&[(1, 5)]),
        Err(StoreError::ReadOnly { .. })
    ));
    assert!(matches!(
        ro.prune(i64::MAX),
        Err(StoreError::ReadOnly { .. })
    ));
    assert_eq!(
        ro.verdicts(&VerdictFilter::default()).expect("read").len(),
        1
    );
    drop(ro);
    assert_eq!(fs::read(&copy).expect("read"), before);
}

#[test]
fn locked_database_gives_the_locked_error() {
    let f = fixture();
    let other = Connection::open(&f.db).expect("open");
    other.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let mut store = Store::open_with_timeout(&f.db, Duration::from_millis(100)).expect("open");
    let err = store
        .commit_window(
            &verdict(100, "HIGH", "Brute Force", "auth"),
            &[],
            &[(f.file, 3)],
        )
        .expect_err("locked");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    // Reads still work under WAL while another process writes.
    assert_eq!(store.known_files().expect("files").len(), 1);
    other.execute_batch("ROLLBACK").expect("unlock");
    store
        .commit_window(
            &verdict(100, "HIGH", "Brute Force", "auth"),
            &[],
            &[(f.file, 3)],
        )
        .expect("commit after unlock");
}

#[test]
fn read_only_open_never_creates_or_migrates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.db");
    assert!(matches!(
        Store::open_read_only(&missing),
        Err(StoreError::Missing { .. })
    ));
    assert!(!missing.exists());

    let empty = dir.path().join("empty.db");
    fs::write(&empty, "").expect("write");
    let err = Store::open_read_only(&empty).expect_err("empty");
    assert!(matches!(err, StoreError::NoTables { .. }), "{err}");
    assert_eq!(fs::metadata(&empty).expect("meta").len(), 0);

    let text = dir.path().join("notes.txt");
    fs::write(
        &text,
        "this is not a database, just some text that is long enough",
    )
    .expect("write");
    let err = Store::open(&text).expect_err("text");
    assert!(matches!(err, StoreError::NotOpensoc { .. }), "{err}");

    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
        .expect("foreign db");
    for err in [
        Store::open(&foreign).expect_err("rw"),
        Store::open_read_only(&foreign).expect_err("ro"),
    ] {
        assert!(matches!(err, StoreError::NotOpensoc { .. }), "{err}");
    }

    let db = dir.path().join("ok.db");
    drop(Store::open(&db).expect("create"));
    let ro = Store::open_read_only(&db).expect("read-only");
    assert!(ro.known_files().expect("files").is_empty());
    drop(ro);

    let c = Connection::open(&db).expect("open");
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(c);
    for err in [
        Store::open(&db).expect_err("rw"),
        Store::open_read_only(&db).expect_err("ro"),
    ] {
        assert!(
            matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
            "{err}"
        );
    }
}
