//! The SQLite store: file records with their checkpoints, verdicts, the byte spans each
//! verdict was made from, and the template cache.
//!
//! A window's verdict, its spans, its template entry and the files' checkpoints are written
//! in one transaction, so a crash (kill -9 included) leaves either all of it or none, and a
//! restart re-reads from the checkpoint and skips the committed spans. The database holds
//! log excerpts, so it is created mode 0600 (SQLite gives its -wal and -shm files the
//! database file's mode).

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::Value;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::tail::identity::{Fingerprint, Identity, Known};

/// `PRAGMA application_id` of an opensoc database ("osoc"), to refuse other SQLite files.
const APPLICATION_ID: i64 = 0x6f73_6f63;

/// How long a write waits for another process's transaction by default.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes of window text stored with a verdict.
pub const MAX_INPUT: usize = 64 * 1024;

/// Schema migrations, applied in order; the count applied is `PRAGMA user_version`.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: files, verdicts, spans, templates.
    r#"
    PRAGMA application_id = 1869836131;
    CREATE TABLE files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path BLOB NOT NULL,
        grp TEXT NOT NULL,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        fp_len INTEGER NOT NULL,
        fp_hash INTEGER NOT NULL,
        checkpoint INTEGER NOT NULL DEFAULT 0,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    CREATE INDEX files_inode ON files(dev, ino);
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        first_time INTEGER,
        last_time INTEGER,
        source TEXT NOT NULL,
        entity TEXT,
        records INTEGER NOT NULL,
        signature TEXT NOT NULL,
        cached_from INTEGER,
        threat_type TEXT NOT NULL,
        category TEXT NOT NULL,
        technique TEXT NOT NULL,
        tactic TEXT NOT NULL,
        severity TEXT NOT NULL,
        severity_rank INTEGER NOT NULL,
        risk_score INTEGER NOT NULL,
        evidence TEXT NOT NULL,
        impact TEXT NOT NULL,
        recommendation TEXT NOT NULL,
        secondary TEXT,
        input TEXT NOT NULL
    );
    CREATE INDEX verdicts_created ON verdicts(created_at);
    CREATE INDEX verdicts_rank ON verdicts(severity_rank);
    CREATE INDEX verdicts_category ON verdicts(category);
    CREATE TABLE spans (
        verdict INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE,
        file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        start_off INTEGER NOT NULL,
        end_off INTEGER NOT NULL,
        CHECK (start_off <= end_off)
    );
    CREATE INDEX spans_file_start ON spans(file, start_off);
    CREATE INDEX spans_verdict ON spans(verdict);
    CREATE TABLE templates (
        signature TEXT PRIMARY KEY,
        verdict INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE
    );
    CREATE INDEX templates_verdict ON templates(verdict);
    "#,
    // 2: records read and held in open windows when a follower stopped (they outlive their
    // file: a log deleted while opensoc is down loses nothing read).
    r#"
    CREATE TABLE held (
        file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        start_off INTEGER NOT NULL,
        end_off INTEGER NOT NULL,
        grp TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (file, start_off)
    );
    "#,
    // 3: benign windows answered from the template cache are counted on their template's
    // verdict, per source and day, instead of each taking a row (a flood of one-line windows
    // made the database five times the size of its log); the byte spans of such windows are
    // kept only until their file's checkpoint passes them, for the re-read after a crash.
    r#"
    CREATE TABLE copies (
        verdict INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        day INTEGER NOT NULL,
        windows INTEGER NOT NULL,
        records INTEGER NOT NULL,
        first_time INTEGER,
        last_time INTEGER,
        PRIMARY KEY (verdict, source, day)
    ) WITHOUT ROWID;
    CREATE TABLE copy_spans (
        file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        start_off INTEGER NOT NULL,
        end_off INTEGER NOT NULL,
        PRIMARY KEY (file, start_off, end_off)
    ) WITHOUT ROWID;
    "#,
    // 4: the template cache is keyed by the SHA-256 digest of a signature, and a verdict keeps
    // the digest, not the signature: a window's masked text was stored three times over (the
    // verdict, the cache table and its index), more than the window's own log lines. The
    // earlier cache entries go: the next window of each template is judged afresh.
    r#"
    DROP TABLE templates;
    CREATE TABLE templates (
        digest TEXT PRIMARY KEY,
        verdict INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX templates_verdict ON templates(verdict);
    "#,
    // 5: forwarding. The agent's identity (made once, when the store is created or upgraded,
    // so that a destination can tell this store's verdicts from every other agent's), and how
    // far each destination has been delivered: verdict ids only grow, so one id per
    // destination is its whole cursor.
    r#"
    CREATE TABLE agent (
        id TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    INSERT INTO agent VALUES (lower(hex(randomblob(16))), CAST(strftime('%s', 'now') AS INTEGER));
    CREATE TABLE forward_cursors (
        destination TEXT PRIMARY KEY,
        delivered INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 6: the systemd journal as a source (`--journal`). A journal is a file record of its own
    // (dev 0, ino 0, no fingerprint, so that no log file is ever taken for it) whose offsets
    // count the bytes of its entries converted to lines; `selection` is journalctl's options
    // that chose the entries (`journalctl -D /srv/web1 -u ssh`). `cursor` is the last entry at or before the file's checkpoint
    // when it was saved, and `cursor_off` where that entry's line ends: the next run asks
    // journalctl for the entries after it and numbers them from there.
    r#"
    CREATE TABLE journals (
        selection TEXT PRIMARY KEY,
        file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        cursor TEXT,
        cursor_off INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX journals_file ON journals(file);
    "#,
    // 7: the benign-record memory. Each template of the records of a window the model judged
    // benign (with the bucket of its count in that window, and the log group; see
    // `Window::record_keys`), by SHA-256 digest, with the verdict that judged it: a later
    // window all of whose templates are here is benign without a model call.
    r#"
    CREATE TABLE benign_records (
        digest TEXT PRIMARY KEY,
        verdict INTEGER NOT NULL REFERENCES verdicts(id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX benign_records_verdict ON benign_records(verdict);
    "#,
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process held the database past the busy timeout.
    #[error("database {path} is locked by another process (another opensoc scan or watch?); gave up waiting")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The database file, its directory or its filesystem is read-only.
    #[error("database {path} is read-only; nothing was written")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// The file is not an opensoc database.
    #[error("{path} is not an opensoc database: {reason}")]
    NotOpensoc {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The file has no tables yet: an agent that has just created it has not written its
    /// schema, or it is an empty file of something else. A reader may take it for an empty
    /// store; nothing writes to it without opening it with [`Store::open`].
    #[error("{path} is not an opensoc database: it has no tables")]
    NoTables {
        /// The file.
        path: PathBuf,
    },
    /// The database was written by a newer opensoc.
    #[error("database {path} has schema version {found}, newer than this opensoc understands ({supported}); upgrade opensoc")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A read-only open found an older schema that only a writing open can upgrade.
    #[error("database {path} has schema version {found}, older than {supported}; run `opensoc scan` once to upgrade it")]
    OlderSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The version this build reads.
        supported: i64,
    },
    /// A read-only open of a path that does not exist.
    #[error("database {path} does not exist (run `opensoc scan` or `opensoc watch` first)")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A file id that has no record.
    #[error("database {path} has no file record {id}")]
    NoSuchFile {
        /// The database file.
        path: PathBuf,
        /// The id asked for.
        id: i64,
    },
    /// A severity name outside LOW, MEDIUM, HIGH, CRITICAL.
    #[error("unknown severity {0:?} (expected LOW, MEDIUM, HIGH or CRITICAL)")]
    BadSeverity(String),
    /// A filesystem error around the database file.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Any other SQLite error.
    #[error("database {path}: {what}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: rusqlite::Error,
    },
}

/// A file record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Record id.
    pub id: i64,
    /// Path when last seen.
    pub path: PathBuf,
    /// Log group (base name).
    pub group: String,
    /// Device number when last seen.
    pub dev: u64,
    /// Inode number when last seen.
    pub ino: u64,
    /// Fingerprint length.
    pub fp_len: u32,
    /// Fingerprint hash.
    pub fp_hash: u64,
    /// Checkpoint: content offset up to which every line is handled.
    pub offset: u64,
    /// Unix seconds when last seen.
    pub last_seen: i64,
}

impl FileRow {
    /// The record in the form [`crate::tail::identity::resolve`] takes.
    pub fn known(&self) -> Known {
        Known {
            id: self.id,
            dev: self.dev,
            ino: self.ino,
            fingerprint: Fingerprint {
                len: self.fp_len,
                hash: self.fp_hash,
            },
            offset: self.offset,
        }
    }
}

/// A journal read through journalctl, as stored ([`Store::journal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// Its file record.
    pub file: i64,
    /// The file record's checkpoint.
    pub checkpoint: u64,
    /// The cursor saved last and where its entry's line ends; none before the first save.
    pub cursor: Option<(String, u64)>,
}

/// Bytes `[start, end)` of a file that a verdict was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// File record id.
    pub file: i64,
    /// Content offset of the first byte.
    pub start: u64,
    /// Content offset after the last byte.
    pub end: u64,
}

/// A record that was read and sat in an open window when a follower stopped: stored so that
/// the next run judges it even if its file is gone by then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRecord {
    /// The log group of its window (the file's base name).
    pub group: String,
    /// File record id.
    pub file: i64,
    /// Content offset of its first byte.
    pub start: u64,
    /// Content offset after its last byte.
    pub end: u64,
    /// Its text.
    pub text: String,
}

/// A verdict to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewVerdict {
    /// Unix seconds when the verdict was made.
    pub created_at: i64,
    /// Unix seconds of the window's first log record, when known.
    pub first_time: Option<i64>,
    /// Unix seconds of the window's last log record, when known.
    pub last_time: Option<i64>,
    /// Where the lines came from (log group or path).
    pub source: String,
    /// The window's entity (IP, user, host), if any.
    pub entity: Option<String>,
    /// Log records in the window.
    pub records: u32,
    /// Masked template signature of the window; stored as its SHA-256 digest
    /// ([`template_digest`]), which is what a stored verdict reads back.
    pub signature: String,
    /// The verdict this one was copied from, for a template cache hit.
    pub cached_from: Option<i64>,
    /// Threat type, e.g. "SQL Injection — Union/Boolean SQLi".
    pub threat_type: String,
    /// Threat type without its subtype.
    pub category: String,
    /// MITRE technique, e.g. "T1190".
    pub technique: String,
    /// MITRE tactic.
    pub tactic: String,
    /// LOW, MEDIUM, HIGH or CRITICAL.
    pub severity: String,
    /// 0 to 100.
    pub risk_score: u8,
    /// Evidence text.
    pub evidence: String,
    /// Impact text.
    pub impact: String,
    /// Recommendation text.
    pub recommendation: String,
    /// A secondary finding, if any.
    pub secondary: Option<String>,
    /// The window text (capped at 64 KiB when stored).
    pub input: String,
}

impl NewVerdict {
    /// The verdict as stored under `id`.
    pub fn stored_as(self, id: i64) -> StoredVerdict {
        StoredVerdict {
            id,
            verdict: self,
            copies: 0,
        }
    }
}

/// A verdict as stored: the verdict and the id the store gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredVerdict {
    /// Verdict id.
    pub id: i64,
    /// The verdict itself.
    #[serde(flatten)]
    pub verdict: NewVerdict,
    /// Benign windows answered from the template cache with this verdict, counted rather
    /// than stored ([`Store::count_copy`]).
    pub copies: u64,
}

/// A benign window answered from the template cache with an earlier verdict: counted on that
/// verdict ([`Store::count_copy`]) rather than stored as a row of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyWindow {
    /// The verdict it copies (a fresh one, the template's).
    pub verdict: i64,
    /// Where its lines came from (log group or path).
    pub source: String,
    /// Unix seconds of its first log record, when known.
    pub first_time: Option<i64>,
    /// Unix seconds of its last log record, when known.
    pub last_time: Option<i64>,
    /// Unix seconds when it was judged: its day when it has no log time.
    pub created_at: i64,
    /// Log records in it.
    pub records: u32,
}

/// Windows counted on one verdict for one source and day, with the verdict's severity and
/// category: what `report` adds to the stored verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCount {
    /// The verdict they copy.
    pub verdict: i64,
    /// Where their lines came from.
    pub source: String,
    /// Days since the Unix epoch (UTC) of their log time (of when they were judged, without one).
    pub day: i64,
    /// How many windows.
    pub windows: u64,
    /// Log records in them.
    pub records: u64,
    /// The verdict's severity.
    pub severity: String,
    /// The verdict's category.
    pub category: String,
}

/// Seconds in a UTC day: the unit of [`CopyCount::day`] (the filters' SQL spells it out).
pub const SECS_PER_DAY: i64 = 86_400;

/// Which verdicts [`Store::verdicts`] returns; every field narrows, `None` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdictFilter {
    /// Log time (unix seconds): the window ends at or after it. Every table shows log time,
    /// so the filter reads it too; a window without log times falls back to when it was stored.
    pub since: Option<i64>,
    /// Log time (unix seconds): the window starts at or before it (same fallback).
    pub until: Option<i64>,
    /// At least this severity (LOW < MEDIUM < HIGH < CRITICAL).
    pub min_severity: Option<String>,
    /// This category exactly (case-insensitive).
    pub category: Option<String>,
    /// Source containing this text.
    pub source: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// The rank of a severity name (LOW 1 … CRITICAL 4), case-insensitive.
pub fn severity_rank(severity: &str) -> Option<i64> {
    match severity.trim().to_ascii_uppercase().as_str() {
        "LOW" => Some(1),
        "MEDIUM" => Some(2),
        "HIGH" => Some(3),
        "CRITICAL" => Some(4),
        _ => None,
    }
}

/// The opensoc database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Unix seconds now.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Stored integers are signed; device, inode and hash keep their bits.
fn to_sql_u64(v: u64) -> i64 {
    v as i64
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cap(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

const VERDICT_COLUMNS: &str = "v.id, v.created_at, v.first_time, v.last_time, v.source, v.entity, \
     v.records, v.signature, v.cached_from, v.threat_type, v.category, v.technique, v.tactic, \
     v.severity, v.risk_score, v.evidence, v.impact, v.recommendation, v.secondary, v.input, \
     (SELECT COALESCE(SUM(c.windows), 0) FROM copies c WHERE c.verdict = v.id)";

fn verdict_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredVerdict> {
    Ok(StoredVerdict {
        id: row.get(0)?,
        verdict: NewVerdict {
            created_at: row.get(1)?,
            first_time: row.get(2)?,
            last_time: row.get(3)?,
            source: row.get(4)?,
            entity: row.get(5)?,
            records: row.get(6)?,
            signature: row.get(7)?,
            cached_from: row.get(8)?,
            threat_type: row.get(9)?,
            category: row.get(10)?,
            technique: row.get(11)?,
            tactic: row.get(12)?,
            severity: row.get(13)?,
            risk_score: row.get(14)?,
            evidence: row.get(15)?,
            impact: row.get(16)?,
            recommendation: row.get(17)?,
            secondary: row.get(18)?,
            input: row.get(19)?,
        },
        copies: row.get::<_, i64>(20)?.max(0) as u64,
    })
}

/// The key of a template signature in the store: its SHA-256 digest. A collision would let
/// one window borrow another template's verdict, so the digest is a cryptographic one.
pub fn template_digest(signature: &str) -> String {
    opensoc::util::hex::sha256_hex(signature.as_bytes())
}

/// The database at `db` and the files kept beside it: SQLite's write-ahead log, shared memory
/// and rollback journal, and the run lock (`<db>.lock`).
pub fn side_files(db: &Path) -> Vec<PathBuf> {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    vec![
        db.to_path_buf(),
        with("-wal"),
        with("-shm"),
        with("-journal"),
        with(".lock"),
    ]
}

impl Store {
    /// Opens or creates the database at `path` (mode 0600, WAL, migrations applied).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_timeout(path, BUSY_TIMEOUT)
    }

    /// [`Store::open`] with another busy timeout (how long a write waits for a lock).
    pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|source| io_error("cannot create the directory of", path, source))?;
            }
        }
        // Create the file ourselves: SQLite would create it with the umask's mode (0644),
        // readable by everyone, and the database holds log excerpts.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error("cannot create", path, e)),
        }
        let meta = fs::metadata(path).map_err(|e| io_error("cannot read", path, e))?;
        // A database without write permission is opened read-only even by root, so chmod
        // a-w protects an archived database; writes then fail with StoreError::ReadOnly.
        let writable = meta.permissions().mode() & 0o222 != 0;
        let flags = if writable {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| sqlite_error(path, "cannot open", e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure(busy_timeout)?;
        let version = store.check_schema()?;
        if version < SCHEMA_VERSION {
            if !writable {
                return Err(StoreError::ReadOnly {
                    path: path.to_path_buf(),
                });
            }
            store.migrate()?;
        }
        Ok(store)
    }

    /// A database in memory, gone when the store is dropped: the web page's uploads are
    /// windowed and judged through the same pipeline as `scan`, without touching the disk.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn =
            Connection::open_in_memory().map_err(|e| sqlite_error(&path, "cannot open", e))?;
        let mut store = Store { conn, path };
        store
            .conn
            .pragma_update(None, "foreign_keys", true)
            .map_err(|e| store.err("cannot enable foreign keys", e))?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database for reading only: never creates or migrates.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_error(path, "cannot open", e))?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sqlite_error(path, "cannot set the busy timeout", e))?;
        let version = store.check_schema()?;
        if version == 0 {
            return Err(StoreError::NoTables {
                path: path.to_path_buf(),
            });
        }
        if version < SCHEMA_VERSION {
            return Err(StoreError::OlderSchema {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&self, busy_timeout: Duration) -> Result<(), StoreError> {
        let c = &self.conn;
        c.busy_timeout(busy_timeout)
            .map_err(|e| self.err("cannot set the busy timeout", e))?;
        c.pragma_update(None, "foreign_keys", true)
            .map_err(|e| self.err("cannot enable foreign keys", e))?;
        if !c.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            // WAL lets `opensoc verdicts` read while `watch` writes. NORMAL syncs the log at
            // its checkpoints rather than at every commit: a power cut may take back the last
            // commits, but each takes the file checkpoints it moved back with it (they are in
            // the same transaction), so those lines are read and judged again, and nothing is
            // lost or stored twice. An fsync per window (FULL) cost 255 µs a commit against
            // 51 µs (2,000 one-row commits, on a 2-core development machine), more than the
            // rest of a benign copy's commit.
            let mode: String = c
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .map_err(|e| self.err("cannot switch to WAL", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Sqlite {
                    path: self.path.clone(),
                    what: "cannot switch to WAL",
                    source: rusqlite::Error::InvalidQuery,
                });
            }
            c.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| self.err("cannot set synchronous", e))?;
        }
        Ok(())
    }

    /// The schema version, after checking that the file is ours and not from the future.
    fn check_schema(&self) -> Result<i64, StoreError> {
        let read = |sql: &str| -> Result<i64, StoreError> {
            self.conn
                .query_row(sql, [], |r| r.get(0))
                .map_err(|e| self.err("cannot read the schema", e))
        };
        let app = read("PRAGMA application_id")?;
        let version = read("PRAGMA user_version")?;
        let objects = read("SELECT count(*) FROM sqlite_master")?;
        if app == 0 && version == 0 && objects == 0 {
            return Ok(0);
        }
        if app != APPLICATION_ID {
            return Err(StoreError::NotOpensoc {
                path: self.path.clone(),
                reason: format!("SQLite application id {app:#x}, not opensoc's"),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(version)
    }

    /// Applies the migrations not yet applied, each in its own transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sqlite_error(&self.path, "cannot start a migration", e))?;
            // Read again under the write lock: another process may have migrated meanwhile.
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| sqlite_error(&self.path, "cannot read the schema", e))?;
            if version >= SCHEMA_VERSION {
                return Ok(());
            }
            tx.execute_batch(MIGRATIONS[version as usize])
                .map_err(|e| sqlite_error(&self.path, "migration failed", e))?;
            tx.pragma_update(None, "user_version", version + 1)
                .map_err(|e| sqlite_error(&self.path, "migration failed", e))?;
            tx.commit()
                .map_err(|e| sqlite_error(&self.path, "migration failed", e))?;
        }
    }

    fn err(&self, what: &'static str, e: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path, what, e)
    }

    /// Every file record.
    pub fn known_files(&self) -> Result<Vec<FileRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, path, grp, dev, ino, fp_len, fp_hash, checkpoint, last_seen \
                 FROM files ORDER BY id",
            )
            .map_err(|e| self.err("cannot list files", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(FileRow {
                    id: r.get(0)?,
                    path: PathBuf::from(std::ffi::OsString::from_vec(r.get::<_, Vec<u8>>(1)?)),
                    group: r.get(2)?,
                    dev: r.get::<_, i64>(3)? as u64,
                    ino: r.get::<_, i64>(4)? as u64,
                    fp_len: r.get(5)?,
                    fp_hash: r.get::<_, i64>(6)? as u64,
                    offset: r.get::<_, i64>(7)? as u64,
                    last_seen: r.get(8)?,
                })
            })
            .map_err(|e| self.err("cannot list files", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot list files", e))
    }

    /// Records a new file (checkpoint 0) and returns its id.
    pub fn add_file(
        &mut self,
        path: &Path,
        group: &str,
        identity: &Identity,
    ) -> Result<i64, StoreError> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO files (path, grp, dev, ino, fp_len, fp_hash, checkpoint, first_seen, last_seen) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)",
                params![
                    path.as_os_str().as_bytes(),
                    group,
                    to_sql_u64(identity.dev),
                    to_sql_u64(identity.ino),
                    identity.fingerprint.len,
                    to_sql_u64(identity.fingerprint.hash),
                    t
                ],
            )
            .map_err(|e| self.err("cannot add a file", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Updates a file record: its path, inode and fingerprint now, and when it was seen.
    pub fn touch_file(
        &mut self,
        id: i64,
        path: &Path,
        identity: &Identity,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "UPDATE files SET path = ?1, dev = ?2, ino = ?3, fp_len = ?4, fp_hash = ?5, \
                 last_seen = ?6 WHERE id = ?7",
                params![
                    path.as_os_str().as_bytes(),
                    to_sql_u64(identity.dev),
                    to_sql_u64(identity.ino),
                    identity.fingerprint.len,
                    to_sql_u64(identity.fingerprint.hash),
                    now(),
                    id
                ],
            )
            .map_err(|e| self.err("cannot update a file", e))?;
        if changed == 0 {
            return Err(StoreError::NoSuchFile {
                path: self.path.clone(),
                id,
            });
        }
        Ok(())
    }

    /// Stores a window's verdict, its spans, its template entry (fresh verdicts only) and
    /// the checkpoints in one transaction; returns the verdict id.
    pub fn commit_window(
        &mut self,
        verdict: &NewVerdict,
        spans: &[Span],
        checkpoints: &[(i64, u64)],
    ) -> Result<i64, StoreError> {
        self.commit_window_remembering(verdict, spans, checkpoints, &[])
    }

    /// [`Store::commit_window`], and in the same transaction the window's record keys
    /// (`Window::record_keys`) join the benign-record memory under this verdict
    /// ([`Store::benign_records_verdict`]); the caller gives keys only for a benign verdict
    /// the model made.
    pub fn commit_window_remembering(
        &mut self,
        verdict: &NewVerdict,
        spans: &[Span],
        checkpoints: &[(i64, u64)],
        benign_keys: &[String],
    ) -> Result<i64, StoreError> {
        let path = self.path.clone();
        let fail = |e| sqlite_error(&path, "cannot store a verdict", e);
        let rank = severity_rank(&verdict.severity).unwrap_or(0);
        let digest = template_digest(&verdict.signature);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute(
            "INSERT INTO verdicts (created_at, first_time, last_time, source, entity, records, \
             signature, cached_from, threat_type, category, technique, tactic, severity, \
             severity_rank, risk_score, evidence, impact, recommendation, secondary, input) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20)",
            params![
                verdict.created_at,
                verdict.first_time,
                verdict.last_time,
                verdict.source,
                verdict.entity,
                verdict.records,
                digest,
                verdict.cached_from,
                verdict.threat_type,
                verdict.category,
                verdict.technique,
                verdict.tactic,
                verdict.severity,
                rank,
                verdict.risk_score,
                verdict.evidence,
                verdict.impact,
                verdict.recommendation,
                verdict.secondary,
                cap(&verdict.input, MAX_INPUT),
            ],
        )
        .map_err(fail)?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO spans (verdict, file, start_off, end_off) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(fail)?;
            for s in spans {
                insert
                    .execute(params![id, s.file, s.start as i64, s.end as i64])
                    .map_err(fail)?;
            }
        }
        if verdict.cached_from.is_none() {
            tx.execute(
                "INSERT OR REPLACE INTO templates (digest, verdict) VALUES (?1, ?2)",
                params![digest, id],
            )
            .map_err(fail)?;
        }
        if !benign_keys.is_empty() {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO benign_records (digest, verdict) VALUES (?1, ?2)",
                )
                .map_err(fail)?;
            for key in benign_keys {
                insert
                    .execute(params![template_digest(key), id])
                    .map_err(fail)?;
            }
        }
        window_judged_in(&tx, &self.path, spans, checkpoints)?;
        tx.commit().map_err(fail)?;
        Ok(id)
    }

    /// Counts a benign window answered from the template cache on the verdict it copies (per
    /// source and day), keeps its spans until the checkpoint passes them and moves the
    /// checkpoints, in one transaction: the window is judged exactly once, like a stored one,
    /// and costs the database a few bytes, not a row.
    pub fn count_copy(
        &mut self,
        copy: &CopyWindow,
        spans: &[Span],
        checkpoints: &[(i64, u64)],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e| sqlite_error(&path, "cannot count a window", e);
        let day = copy
            .last_time
            .unwrap_or(copy.created_at)
            .div_euclid(SECS_PER_DAY);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.prepare_cached(
            "INSERT INTO copies (verdict, source, day, windows, records, first_time, last_time) \
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6) \
             ON CONFLICT (verdict, source, day) DO UPDATE SET \
             windows = windows + 1, records = records + excluded.records, \
             first_time = CASE WHEN first_time IS NULL OR excluded.first_time < first_time \
                 THEN COALESCE(excluded.first_time, first_time) ELSE first_time END, \
             last_time = CASE WHEN last_time IS NULL OR excluded.last_time > last_time \
                 THEN COALESCE(excluded.last_time, last_time) ELSE last_time END",
        )
        .and_then(|mut upsert| {
            upsert.execute(params![
                copy.verdict,
                copy.source,
                day,
                copy.records,
                copy.first_time,
                copy.last_time
            ])
        })
        .map_err(fail)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO copy_spans (file, start_off, end_off) \
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(fail)?;
            for s in spans {
                insert
                    .execute(params![s.file, s.start as i64, s.end as i64])
                    .map_err(fail)?;
            }
        }
        window_judged_in(&tx, &self.path, spans, checkpoints)?;
        {
            // Spans behind their file's checkpoint can never be read again: only the live
            // ones (about one per open window) stay.
            let mut drop = tx
                .prepare_cached(
                    "DELETE FROM copy_spans WHERE file = ?1 AND start_off < ?2 AND end_off <= ?2",
                )
                .map_err(fail)?;
            for &(file, offset) in checkpoints {
                drop.execute(params![file, offset as i64]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// Keeps `records` (read, not judged yet) and moves the checkpoints past them, in one
    /// transaction: the next run takes them from here ([`Store::held_records`]).
    pub fn hold_records(
        &mut self,
        records: &[HeldRecord],
        checkpoints: &[(i64, u64)],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e| sqlite_error(&path, "cannot keep the open windows' lines", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO held (file, start_off, end_off, grp, text) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(fail)?;
            for r in records {
                insert
                    .execute(params![
                        r.file,
                        r.start as i64,
                        r.end as i64,
                        r.group,
                        r.text
                    ])
                    .map_err(fail)?;
            }
        }
        set_checkpoints_in(&tx, &self.path, checkpoints)?;
        tx.commit().map_err(fail)
    }

    /// The records held by an earlier run, in the order they were read.
    pub fn held_records(&self) -> Result<Vec<HeldRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT grp, file, start_off, end_off, text FROM held ORDER BY rowid")
            .map_err(|e| self.err("cannot read held lines", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HeldRecord {
                    group: r.get(0)?,
                    file: r.get(1)?,
                    start: r.get::<_, i64>(2)? as u64,
                    end: r.get::<_, i64>(3)? as u64,
                    text: r.get(4)?,
                })
            })
            .map_err(|e| self.err("cannot read held lines", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot read held lines", e))
    }

    /// Moves checkpoints past lines that belong to no window (blank lines and the like).
    pub fn set_checkpoints(&mut self, checkpoints: &[(i64, u64)]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite_error(&path, "cannot store checkpoints", e))?;
        set_checkpoints_in(&tx, &path, checkpoints)?;
        tx.commit()
            .map_err(|e| sqlite_error(&path, "cannot store checkpoints", e))
    }

    /// Spans already committed in `file` (of stored verdicts and of counted copies) that end
    /// after `from`, sorted by start: the lines a re-read after a crash must skip.
    pub fn committed_spans(&self, file: i64, from: u64) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT start_off, end_off FROM spans WHERE file = ?1 AND end_off > ?2 \
                 UNION ALL \
                 SELECT start_off, end_off FROM copy_spans WHERE file = ?1 AND end_off > ?2 \
                 ORDER BY 1, 2",
            )
            .map_err(|e| self.err("cannot read spans", e))?;
        let rows = stmt
            .query_map(params![file, from as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err("cannot read spans", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot read spans", e))
    }

    /// The fresh verdict stored earlier for this template signature.
    pub fn cached_verdict(&self, signature: &str) -> Result<Option<StoredVerdict>, StoreError> {
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM templates t JOIN verdicts v ON v.id = t.verdict \
             WHERE t.digest = ?1"
        );
        self.conn
            .query_row(&sql, params![template_digest(signature)], verdict_from_row)
            .optional()
            .map_err(|e| self.err("cannot read the template cache", e))
    }

    /// The benign verdict that judged a window holding each of `keys` (`Window::record_keys`),
    /// when every one of them is in the benign-record memory: that of the first key. None when
    /// a key is missing, or `keys` is empty.
    pub fn benign_records_verdict(
        &self,
        keys: &[String],
    ) -> Result<Option<StoredVerdict>, StoreError> {
        let fail = |e| self.err("cannot read the benign-record memory", e);
        let mut first = None;
        {
            let mut lookup = self
                .conn
                .prepare_cached("SELECT verdict FROM benign_records WHERE digest = ?1")
                .map_err(fail)?;
            for key in keys {
                let id: Option<i64> = lookup
                    .query_row(params![template_digest(key)], |r| r.get(0))
                    .optional()
                    .map_err(fail)?;
                match id {
                    Some(id) => {
                        first.get_or_insert(id);
                    }
                    None => return Ok(None),
                }
            }
        }
        match first {
            Some(id) => self.verdict(id),
            None => Ok(None),
        }
    }

    /// Stored verdicts matching `filter`, newest first.
    pub fn verdicts(&self, filter: &VerdictFilter) -> Result<Vec<StoredVerdict>, StoreError> {
        let (conditions, mut args) = filter_sql(filter)?;
        let mut sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE 1{conditions} \
             ORDER BY v.created_at DESC, v.id DESC"
        );
        if let Some(limit) = filter.limit {
            args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            sql += &format!(" LIMIT ?{}", args.len());
        }
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| self.err("cannot read verdicts", e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), verdict_from_row)
            .map_err(|e| self.err("cannot read verdicts", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot read verdicts", e))
    }

    /// Verdicts stored after verdict `after` (ids grow as verdicts are stored), oldest first,
    /// at most `limit`: what a live view has not shown yet.
    pub fn verdicts_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredVerdict>, StoreError> {
        let sql = format!(
            "SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE v.id > ?1 ORDER BY v.id LIMIT ?2"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| self.err("cannot read verdicts", e))?;
        let rows = stmt
            .query_map(params![after, limit], verdict_from_row)
            .map_err(|e| self.err("cannot read verdicts", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot read verdicts", e))
    }

    /// The agent's identity: made once with the store, the same for every run on it.
    pub fn agent_id(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT id FROM agent LIMIT 1", [], |r| r.get(0))
            .map_err(|e| self.err("cannot read the agent id", e))
    }

    /// The id of the newest stored verdict (0 when there is none).
    pub fn last_verdict_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM verdicts", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err("cannot read verdicts", e))
    }

    /// The newest verdict id delivered to `destination` (0 when none was).
    pub fn forward_cursor(&self, destination: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT delivered FROM forward_cursors WHERE destination = ?1",
                [destination],
                |r| r.get(0),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err("cannot read a forwarding cursor", e))
    }

    /// Records that every verdict up to `delivered` has reached `destination`.
    pub fn set_forward_cursor(
        &mut self,
        destination: &str,
        delivered: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO forward_cursors (destination, delivered, updated_at) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (destination) \
                 DO UPDATE SET delivered = excluded.delivered, updated_at = excluded.updated_at",
                params![destination, delivered, now()],
            )
            .map(|_| ())
            .map_err(|e| self.err("cannot save a forwarding cursor", e))
    }

    /// The journal that journalctl's options `selection` choose: its file record (made on the
    /// first call, as `path` in `group`; marked seen on every call; retention never deletes
    /// it), checkpoint and saved cursor.
    pub fn journal(
        &mut self,
        selection: &str,
        path: &Path,
        group: &str,
    ) -> Result<JournalRow, StoreError> {
        let store_path = self.path.clone();
        let fail = |e| sqlite_error(&store_path, "cannot read or add a journal", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let found = tx
            .query_row(
                "SELECT j.file, f.checkpoint, j.cursor, j.cursor_off \
                 FROM journals j JOIN files f ON f.id = j.file WHERE j.selection = ?1",
                [selection],
                |r| {
                    let cursor: Option<String> = r.get(2)?;
                    let off = r.get::<_, i64>(3)? as u64;
                    Ok(JournalRow {
                        file: r.get(0)?,
                        checkpoint: r.get::<_, i64>(1)? as u64,
                        cursor: cursor.map(|c| (c, off)),
                    })
                },
            )
            .optional()
            .map_err(fail)?;
        let t = now();
        let row = match found {
            Some(row) => {
                tx.execute(
                    "UPDATE files SET last_seen = ?1 WHERE id = ?2",
                    params![t, row.file],
                )
                .map_err(fail)?;
                row
            }
            None => {
                tx.execute(
                    "INSERT INTO files (path, grp, dev, ino, fp_len, fp_hash, checkpoint, \
                     first_seen, last_seen) VALUES (?1, ?2, 0, 0, 0, 0, 0, ?3, ?3)",
                    params![path.as_os_str().as_bytes(), group, t],
                )
                .map_err(fail)?;
                let file = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO journals (selection, file) VALUES (?1, ?2)",
                    params![selection, file],
                )
                .map_err(fail)?;
                JournalRow {
                    file,
                    checkpoint: 0,
                    cursor: None,
                }
            }
        };
        tx.commit().map_err(fail)?;
        Ok(row)
    }

    /// Saves the cursor of the journal with file record `file`: the entry whose line ends at
    /// `offset`, at or before the file's checkpoint.
    pub fn set_journal_cursor(
        &mut self,
        file: i64,
        cursor: &str,
        offset: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE journals SET cursor = ?1, cursor_off = ?2 WHERE file = ?3",
                params![cursor, offset as i64, file],
            )
            .map(|_| ())
            .map_err(|e| self.err("cannot save a journal cursor", e))
    }

    /// How many stored verdicts come after verdict `after`: what a destination still lacks.
    pub fn count_verdicts_after(&self, after: i64) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM verdicts WHERE id > ?1",
                [after],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err("cannot count verdicts", e))
    }

    /// How many stored verdicts match `filter`, its limit ignored: what a listing cut by the
    /// limit left out, or what a severity threshold hid.
    pub fn count_verdicts(&self, filter: &VerdictFilter) -> Result<u64, StoreError> {
        let (conditions, args) = filter_sql(filter)?;
        let sql = format!("SELECT count(*) FROM verdicts v WHERE 1{conditions}");
        self.conn
            .query_row(&sql, rusqlite::params_from_iter(args), |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err("cannot count verdicts", e))
    }

    /// Windows counted on verdicts ([`Store::count_copy`]) that `filter` selects (its limit
    /// ignored), by verdict, source and day: what a report adds to the stored verdicts.
    pub fn copy_counts(&self, filter: &VerdictFilter) -> Result<Vec<CopyCount>, StoreError> {
        let (conditions, args) = filter_sql_on(filter, &COPY_ROWS)?;
        let sql = format!(
            "SELECT c.verdict, c.source, c.day, c.windows, c.records, v.severity, v.category \
             FROM copies c JOIN verdicts v ON v.id = c.verdict WHERE 1{conditions} \
             ORDER BY c.day, c.verdict, c.source"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| self.err("cannot read counted windows", e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(CopyCount {
                    verdict: r.get(0)?,
                    source: r.get(1)?,
                    day: r.get(2)?,
                    windows: r.get::<_, i64>(3)?.max(0) as u64,
                    records: r.get::<_, i64>(4)?.max(0) as u64,
                    severity: r.get(5)?,
                    category: r.get(6)?,
                })
            })
            .map_err(|e| self.err("cannot read counted windows", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot read counted windows", e))
    }

    /// Log records judged into this store: those of the stored verdicts and of the windows
    /// counted on them. A scan that judged every line once leaves exactly its lines here.
    pub fn records_judged(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT COALESCE(SUM(records), 0) FROM verdicts) \
                 + (SELECT COALESCE(SUM(records), 0) FROM copies)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err("cannot count judged records", e))
    }

    /// The verdict stored under `id`, if there is one.
    pub fn verdict(&self, id: i64) -> Result<Option<StoredVerdict>, StoreError> {
        let sql = format!("SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE v.id = ?1");
        self.conn
            .query_row(&sql, params![id], verdict_from_row)
            .optional()
            .map_err(|e| self.err("cannot read a verdict", e))
    }

    /// Where verdict `id` was read from: each span's file (its path when last seen) and byte
    /// range, in file order. Empty for a verdict from stdin, or once pruning took its spans
    /// (spans below a file's checkpoint go, the verdict stays).
    pub fn verdict_spans(&self, id: i64) -> Result<Vec<(PathBuf, Span)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.path, s.file, s.start_off, s.end_off FROM spans s \
                 JOIN files f ON f.id = s.file WHERE s.verdict = ?1 \
                 ORDER BY s.file, s.start_off",
            )
            .map_err(|e| self.err("cannot read spans", e))?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    PathBuf::from(std::ffi::OsString::from_vec(r.get::<_, Vec<u8>>(0)?)),
                    Span {
                        file: r.get(1)?,
                        start: r.get::<_, i64>(2)? as u64,
                        end: r.get::<_, i64>(3)? as u64,
                    },
                ))
            })
            .map_err(|e| self.err("cannot read spans", e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err("cannot read spans", e))
    }

    /// Deletes verdicts created before `before` (unix seconds) with their spans and
    /// template entries, windows counted on a day before `before`'s, spans wholly below their
    /// file's checkpoint, and file records not seen since `before` (a journal's excepted);
    /// returns how many verdicts went. A verdict that later windows were counted on stays
    /// while they do.
    pub fn prune(&mut self, before: i64) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let fail = |e| sqlite_error(&path, "cannot prune", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute(
            "DELETE FROM copies WHERE day < ?1",
            params![before.div_euclid(SECS_PER_DAY)],
        )
        .map_err(fail)?;
        let gone = tx
            .execute(
                "DELETE FROM verdicts WHERE created_at < ?1 \
                 AND id NOT IN (SELECT verdict FROM copies)",
                params![before],
            )
            .map_err(fail)?;
        for table in ["spans", "copy_spans"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE end_off <= \
                     (SELECT checkpoint FROM files WHERE files.id = {table}.file)"
                ),
                [],
            )
            .map_err(fail)?;
        }
        // A journal's record stays however long nothing was read from it: its cursor is what
        // keeps the next read from judging the whole journal again.
        tx.execute(
            "DELETE FROM files WHERE last_seen < ?1 AND id NOT IN (SELECT file FROM journals)",
            params![before],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(gone)
    }
}

/// What every judged window's transaction does besides storing it: its held records are
/// released (judged now) and the checkpoints move.
fn window_judged_in(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    spans: &[Span],
    checkpoints: &[(i64, u64)],
) -> Result<(), StoreError> {
    let fail = |e| sqlite_error(path, "cannot release held lines", e);
    let mut release = tx
        .prepare_cached("DELETE FROM held WHERE file = ?1 AND start_off >= ?2 AND start_off < ?3")
        .map_err(fail)?;
    for s in spans {
        release
            .execute(params![s.file, s.start as i64, s.end as i64])
            .map_err(fail)?;
    }
    set_checkpoints_in(tx, path, checkpoints)
}

fn set_checkpoints_in(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    checkpoints: &[(i64, u64)],
) -> Result<(), StoreError> {
    let mut update = tx
        .prepare_cached("UPDATE files SET checkpoint = ?1 WHERE id = ?2")
        .map_err(|e| sqlite_error(path, "cannot store checkpoints", e))?;
    for &(file, offset) in checkpoints {
        let changed = update
            .execute(params![offset as i64, file])
            .map_err(|e| sqlite_error(path, "cannot store checkpoints", e))?;
        if changed == 0 {
            return Err(StoreError::NoSuchFile {
                path: path.to_path_buf(),
                id: file,
            });
        }
    }
    Ok(())
}

/// The `AND …` conditions of `filter` (its limit aside) and their parameters, shared by the
/// listing and the count so that "showing N of M" counts exactly what the listing filters.
fn filter_sql(filter: &VerdictFilter) -> Result<(String, Vec<Value>), StoreError> {
    filter_sql_on(filter, &VERDICT_ROWS)
}

/// Where a filter reads times and sources: stored verdicts (`v`), or windows counted on a
/// verdict (`c`, joined to the verdict `v` whose severity and category they share).
struct FilterColumns {
    first: &'static str,
    last: &'static str,
    source: &'static str,
}

const VERDICT_ROWS: FilterColumns = FilterColumns {
    first: "COALESCE(v.first_time, v.created_at)",
    last: "COALESCE(v.last_time, v.created_at)",
    source: "v.source",
};

/// A copy without log times stands for its whole day (86,400 s: [`SECS_PER_DAY`]).
const COPY_ROWS: FilterColumns = FilterColumns {
    first: "COALESCE(c.first_time, c.day * 86400)",
    last: "COALESCE(c.last_time, c.day * 86400 + 86399)",
    source: "c.source",
};

fn filter_sql_on(
    filter: &VerdictFilter,
    columns: &FilterColumns,
) -> Result<(String, Vec<Value>), StoreError> {
    let mut sql = String::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(since) = filter.since {
        args.push(Value::Integer(since));
        sql += &format!(" AND {} >= ?{}", columns.last, args.len());
    }
    if let Some(until) = filter.until {
        args.push(Value::Integer(until));
        sql += &format!(" AND {} <= ?{}", columns.first, args.len());
    }
    if let Some(min) = &filter.min_severity {
        let rank = severity_rank(min).ok_or_else(|| StoreError::BadSeverity(min.clone()))?;
        args.push(Value::Integer(rank));
        sql += &format!(" AND v.severity_rank >= ?{}", args.len());
    }
    if let Some(category) = &filter.category {
        args.push(Value::Text(category.clone()));
        sql += &format!(" AND v.category = ?{} COLLATE NOCASE", args.len());
    }
    if let Some(source) = &filter.source {
        // instr, not LIKE: no wildcard escaping to get wrong.
        args.push(Value::Text(source.clone()));
        sql += &format!(" AND instr({}, ?{}) > 0", columns.source, args.len());
    }
    Ok((sql, args))
}

fn io_error(what: &'static str, path: &Path, source: std::io::Error) -> StoreError {
    if matches!(
        source.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    ) {
        return StoreError::ReadOnly {
            path: path.to_path_buf(),
        };
    }
    StoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Maps the SQLite errors a user can act on to their own variants.
fn sqlite_error(path: &Path, what: &'static str, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::Locked { path }
            }
            ErrorCode::ReadOnly => return StoreError::ReadOnly { path },
            ErrorCode::NotADatabase => {
                return StoreError::NotOpensoc {
                    path,
                    reason: "not an SQLite database".to_string(),
                }
            }
            ErrorCode::CannotOpen => {
                // SQLite says "unable to open" when it cannot create the -wal or -shm file
                // next to the database: the directory is read-only.
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !dir_writable(dir) {
                    return StoreError::ReadOnly { path };
                }
            }
            _ => {}
        }
    }
    StoreError::Sqlite {
        path,
        what,
        source: e,
    }
}

fn dir_writable(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_ranks_order_and_reject_unknown() {
        let ranks: Vec<Option<i64>> = ["low", "MEDIUM", " High ", "CRITICAL", "severe"]
            .iter()
            .map(|s| severity_rank(s))
            .collect();
        assert_eq!(ranks, [Some(1), Some(2), Some(3), Some(4), None]);
    }

    #[test]
    fn cap_keeps_whole_characters() {
        assert_eq!(cap("abc", 5), "abc");
        assert_eq!(cap("aé", 2), "a");
        assert_eq!(cap("aéb", 3), "aé");
    }

    #[test]
    fn migrations_are_numbered_by_their_position() {
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
        assert!(MIGRATIONS[0].contains(&APPLICATION_ID.to_string()));
    }
}
