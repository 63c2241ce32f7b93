//! The agent's data flow over a set of paths: new log content → records → windows → the
//! template cache or the model → the store.
//!
//! Exactly once, through rotation, restarts and crashes: a window's verdict is committed in one
//! transaction with the byte spans it covers and every file's checkpoint. A checkpoint never
//! passes a line that sits in a window not yet committed, so after a crash those lines are read
//! again; lines that belong to a committed window but lie past the checkpoint (windows of
//! several entities interleave) are skipped on that re-read by their committed spans.
//!
//! Bounded whatever the input: a file is opened when it is read and closed once read to its
//! end (live files excepted, up to [`MAX_OPEN_READERS`]), so thousands of files neither run
//! into the open-file limit nor hold a read buffer each; one that cannot be opened is a
//! [`Problem`] and keeps its checkpoint.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opensoc::analyze::facts::Facts;
use opensoc::analyze::floors::{self, Floor};
use opensoc::task::prompt::clean_log;
use opensoc::task::taxonomy::{taxonomy, BENIGN_CATEGORY};
use opensoc::task::verdict::{Severity, Verdict};

use crate::store::sqlite::{
    CopyWindow, HeldRecord, NewVerdict, Span, Store, StoreError, StoredVerdict,
};
use crate::tail::compression::Compression;
use crate::tail::discover::{discover, LogFile};
use crate::tail::identity::{identify, resolve, Fingerprint, Identity, Known};
use crate::tail::journal::{JournalError, JournalQuery, Marks, Resume, Wake};
use crate::tail::line_reader::{LineReader, ReadError};
use opensoc_logs::logline::parse;
use opensoc_logs::record::{Record, RecordAssembler};
use opensoc_logs::template::signature;
use opensoc_logs::window::{Window, WindowConfig, Windower};

/// What turns a window's text into a verdict: the analyzer in the binary, a stand-in in tests.
pub trait Judge {
    /// The verdict for one window's text.
    fn judge(&mut self, input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>>;

    /// The verdicts of several windows' texts, in order, each equal to [`Judge::judge`] of
    /// it. The analyzer prefills their prompts in one batched pass; by default they are
    /// judged one after another.
    fn judge_batch(
        &mut self,
        inputs: &[&str],
    ) -> Result<Vec<Verdict>, Box<dyn std::error::Error + Send + Sync>> {
        inputs.iter().map(|input| self.judge(input)).collect()
    }

    /// A second threat type among the window's `records` besides `verdict`'s, for judges
    /// that look for one (the analyzer does: `opensoc::analyze::stages`); none by default.
    fn secondary(
        &mut self,
        _records: &[&str],
        _verdict: &Verdict,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(None)
    }

    /// The floor that the facts of a window's text set under any verdict of it
    /// ([`opensoc::analyze::floors`]); none by default. The template cache keys on it, so that a
    /// window never borrows a verdict judged under another floor, and a reused verdict is
    /// bounded by this window's own floor.
    fn floor(&self, _input: &str) -> Option<Floor> {
        None
    }
}

/// Errors that stop ingestion (a file that cannot be read is a [`Problem`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed; nothing of the window in hand was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// journalctl could not be started for `--journal`.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The model failed on a window.
    #[error("analysing a window of {log}: {message}")]
    Judge {
        /// The window's log.
        log: String,
        /// The analyzer's error.
        message: String,
    },
}

/// A file that could not be read, reported while the others go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Lines a scan reads between two looks at the windows that went idle (and two updates of
/// its progress bar; the pipeline looks at the stop flag itself, before each model call).
/// `scan` and the suite runner share it, so that a suite scores what `scan` would store.
pub const SCAN_CHUNK_LINES: usize = 2_000;

/// Knobs of ingestion.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// How lines become windows.
    pub window: WindowConfig,
    /// Reuse the verdict of an earlier window with the same masked signature.
    pub use_cache: bool,
    /// A live file's last line without a newline is taken once the file has been still this long.
    pub partial_line_after: Duration,
    /// Files never read as logs, whatever path names them: the verdict database and the files
    /// SQLite and the run lock keep beside it (a scan of the directory that holds them would
    /// otherwise judge its own pages, and grow them while it reads).
    pub exclude: Vec<PathBuf>,
    /// A benign window answered from the template cache is counted on the verdict it copies
    /// ([`Store::count_copy`]) rather than stored as a row: the database then grows with the
    /// findings and the templates, not with the traffic (a flood of one-line windows made it
    /// five times the size of its log). Off where every window's row is shown (the web page's
    /// uploads) or scored (the suites).
    pub count_benign_copies: bool,
    /// Most windows judged in one batch: windows that close together and each need the
    /// model are analysed in one pass ([`Judge::judge_batch`]), then stored one by one in the
    /// order they closed. 1 judges each window alone.
    pub batch: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            window: WindowConfig::default(),
            use_cache: true,
            partial_line_after: Duration::from_secs(60),
            exclude: Vec::new(),
            count_benign_copies: true,
            batch: DEFAULT_BATCH,
        }
    }
}

/// Windows judged together by default (`--batch`).
pub const DEFAULT_BATCH: usize = 1;

/// The (device, inode) of an existing path: a file's identity under any spelling of its path.
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Counts of one run (a scan, or a watch so far).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Files read.
    pub files: usize,
    /// Lines read (skipped re-reads excluded).
    pub lines: u64,
    /// Content bytes read.
    pub bytes: u64,
    /// Lines skipped because a committed window already covers them (re-read after a crash).
    pub skipped_lines: u64,
    /// Lines longer than [`crate::tail::line_reader::MAX_LINE`], skipped: not analysed.
    pub cut_lines: u64,
    /// Windows judged and committed: stored as verdicts, or counted as copies.
    pub windows: u64,
    /// Of those, benign windows from the template cache counted on the verdict they copy
    /// ([`IngestConfig::count_benign_copies`]).
    pub copies: u64,
    /// Windows the model analysed.
    pub model_calls: u64,
    /// Batches of more than one window that the model analysed together (their windows
    /// are counted in `model_calls`).
    pub batches: u64,
    /// Windows answered from the template cache (either kind: the window's signature, or the
    /// benign-record memory).
    pub cache_hits: u64,
    /// Of those, windows found benign by the benign-record memory: each of their templates
    /// was in a window the model judged benign.
    pub record_hits: u64,
    /// Windows per severity, LOW to CRITICAL.
    pub by_severity: [u64; 4],
    /// Records per recognised layout ([`opensoc_logs::logline::LogFormat::as_str`]); `plain`
    /// counts the records of no known layout (still analysed, without a time or an entity
    /// unless their text names one).
    pub records_by_format: std::collections::BTreeMap<&'static str, u64>,
}

/// Readers kept open between two reads of their live files, at most: the rest are closed
/// when read to their end and opened again by identity when they have grown, so that a scan
/// of thousands of files holds a bounded number of descriptors (well under the usual limit of
/// 1,024) and the memory of a few read buffers, not one of each per file.
pub const MAX_OPEN_READERS: usize = 64;

/// One followed file: where it is, what is read of it, and the record being assembled.
struct Tail {
    file: LogFile,
    identity: Identity,
    /// Open while the file is being read; closed once read to its end unless the file is live
    /// and fewer than [`MAX_OPEN_READERS`] are open. Opened again by path, only if the path
    /// still names this device and inode (a rotated file is found again by the next refresh).
    reader: Option<LineReader>,
    /// Where the next read starts while `reader` is closed.
    offset: u64,
    /// A reader was opened on this file in this run: lines of it may sit in open windows, so
    /// a failure to open it again must keep the tail (and its held-back checkpoint).
    opened: bool,
    /// Reading it failed (reported once): it is not opened again.
    failed: bool,
    assembler: RecordAssembler,
    /// Committed spans at or after the reader's position, to skip on a re-read.
    skip: VecDeque<(u64, u64)>,
    /// Still found by discovery; a file that vanished is read to its end, then dropped.
    present: bool,
    /// For the systemd journal ([`Ingest::add_journal`]), which discovery never finds: where
    /// each entry's line ends, with its cursor, to save the cursor at the checkpoint.
    journal: Option<Marks>,
}

impl Tail {
    /// Content offset after the last line read.
    fn position(&self) -> u64 {
        self.reader
            .as_ref()
            .map_or(self.offset, LineReader::position)
    }

    /// Drops the reader (and its descriptor and buffers), keeping where it stood.
    fn close(&mut self) {
        if let Some(r) = self.reader.take() {
            self.offset = r.position();
        }
    }
}

/// The pipeline from paths to stored verdicts.
pub struct Ingest<J: Judge> {
    store: Store,
    judge: J,
    config: IngestConfig,
    windower: Windower,
    tails: BTreeMap<i64, Tail>,
    stats: IngestStats,
    problems: Vec<Problem>,
    /// Subdirectories of the scanned directories not reported yet; `noted` holds those that
    /// were, so that `watch` names each once rather than at every look.
    skipped_dirs: Vec<PathBuf>,
    noted: HashSet<PathBuf>,
    /// Verdicts stored in this run, in order, for the caller's alerts.
    stored: Vec<StoredVerdict>,
    /// Windows the windower closed that are not stored yet, oldest first. Their lines hold
    /// the checkpoints back like an open window's, so a stop (or a crash) between two of
    /// them reads those lines again rather than losing them.
    ready: VecDeque<Window>,
    /// Set when the caller wants to stop (SIGINT/SIGTERM): no further window goes to the
    /// model, and checkpoints stop at the lines of what is left.
    stop: Option<Arc<AtomicBool>>,
    /// Closed windows wait in `ready` until [`Ingest::store_next`] (see [`Ingest::defer_judging`]).
    deferred: bool,
    /// The latest plausible log time seen, the clock for closing windows idle in log time
    /// (see [`advance_log_clock`]).
    log_clock: Option<i64>,
    year: i32,
    /// The checkpoint last written for each file: each commit writes only those that moved,
    /// since writing every file's with every window made a scan of thousands of files
    /// quadratic (5,000 one-line files: 74 s).
    written: HashMap<i64, u64>,
    /// Records kept in the store's `held` table (by file and start) that wait in a window:
    /// they no longer hold their file's checkpoint back. Taken from the store at the first
    /// [`Ingest::refresh`] (`held_loaded`), written by [`Ingest::suspend`].
    held: HashSet<(i64, u64)>,
    held_loaded: bool,
}

/// How far ahead of the wall clock a log time may lie and still move the log clock.
///
/// Stamps without a zone are taken as UTC, so a host east of Greenwich that logs local time
/// writes lines up to 14 hours ahead (UTC+14) that are really "now"; an hour more allows for a
/// clock that runs fast. A line further ahead (a stamp dated tomorrow, a broken clock, forged
/// text) says nothing about how much time has passed.
pub const LOG_CLOCK_LEAD_SECS: i64 = 15 * 3600;

/// The log clock after a line stamped `t`, read when the wall clock says `wall`.
///
/// The clock only moves forward and is shared by every file, so one stamp far in the future
/// would make every window look idle at each later look until the wall clock caught up: a burst
/// of 30 failed logins became 30 one-line windows. Clamping such a stamp to `wall` plus the
/// lead would still put the clock hours past the lines that follow, so it is ignored instead;
/// the line itself is windowed as usual.
pub fn advance_log_clock(clock: Option<i64>, t: i64, wall: i64) -> Option<i64> {
    if t > wall.saturating_add(LOG_CLOCK_LEAD_SECS) {
        return clock;
    }
    Some(clock.map_or(t, |c| c.max(t)))
}

impl<J: Judge> Ingest<J> {
    /// A pipeline writing into `store`, analysing with `judge`.
    pub fn new(store: Store, judge: J, config: IngestConfig) -> Self {
        let windower = Windower::new(config.window);
        Ingest {
            store,
            judge,
            config,
            windower,
            tails: BTreeMap::new(),
            stats: IngestStats::default(),
            problems: Vec::new(),
            skipped_dirs: Vec::new(),
            noted: HashSet::new(),
            stored: Vec::new(),
            ready: VecDeque::new(),
            stop: None,
            deferred: false,
            log_clock: None,
            year: current_year(),
            written: HashMap::new(),
            held: HashSet::new(),
            held_loaded: false,
        }
    }

    /// Makes `stop` the signal to stop: once it is set, the pipeline judges no further window
    /// (the one with the model finishes and is stored; of a batch, the windows not stored yet
    /// stay queued, to be held for the next run), reads no further file, and writes
    /// checkpoints that stop at the first line not stored, so a stop takes one model call
    /// rather than a whole chunk of lines, and the next run reads the rest once.
    pub fn set_stop(&mut self, stop: Arc<AtomicBool>) {
        self.stop = Some(stop);
    }

    /// Whether the stop signal is set.
    pub fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// The judge (its own counters, in tests).
    pub fn judge(&self) -> &J {
        &self.judge
    }

    /// The counts so far.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }

    /// The store (for queries between passes).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Files that could not be read, taken (each is reported once).
    pub fn take_problems(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.problems)
    }

    /// Subdirectories of the scanned directories that were not read (listing is not
    /// recursive), each returned once per run.
    pub fn take_skipped_dirs(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.skipped_dirs)
    }

    /// Verdicts stored since the last call, taken.
    pub fn take_stored(&mut self) -> Vec<StoredVerdict> {
        std::mem::take(&mut self.stored)
    }

    /// Whether a record or a window is still open (lines read but not yet stored).
    pub fn has_open(&self) -> bool {
        !self.windower.is_empty()
            || !self.ready.is_empty()
            || self
                .tails
                .values()
                .any(|t| t.assembler.pending_start().is_some())
    }

    /// Content bytes that files hold beyond what has been read: the backlog.
    pub fn lag_bytes(&self) -> u64 {
        self.tails
            .values()
            .map(|t| t.identity.size.saturating_sub(t.position()))
            .sum()
    }

    /// Finds the files under `paths`, works out which is which since the last look (rotation,
    /// copies, truncation) and where to resume in each; readers are opened when read.
    pub fn refresh(&mut self, paths: &[PathBuf]) -> Result<(), IngestError> {
        if !self.held_loaded {
            self.load_held()?;
        }
        let found = discover(paths);
        for (path, message) in found.problems {
            self.problems.push(Problem { path, message });
        }
        for dir in found.subdirectories {
            if self.noted.insert(dir.clone()) {
                self.skipped_dirs.push(dir);
            }
        }
        let excluded: Vec<(u64, u64)> = self
            .config
            .exclude
            .iter()
            .filter_map(|p| file_id(p))
            .collect();
        let mut identified = Vec::new();
        for file in found.files {
            if file_id(&file.path).is_some_and(|id| excluded.contains(&id)) {
                continue;
            }
            match identify(&file) {
                Ok(id) => identified.push((file, id)),
                Err(e) => self.problems.push(Problem {
                    path: file.path.clone(),
                    message: e.to_string(),
                }),
            }
        }
        let known = self.known()?;
        // Looked up per file: a query of the store per file made a refresh of thousands of
        // files quadratic.
        let offsets: HashMap<i64, u64> = known.iter().map(|k| (k.id, k.offset)).collect();
        // A journal is no path: discovery never finds it, and it is read until the run ends.
        for t in self.tails.values_mut().filter(|t| t.journal.is_none()) {
            t.present = false;
        }
        for r in resolve(&known, identified) {
            let known_offset = r.known.and_then(|id| offsets.get(&id).copied());
            self.adopt(
                r.file,
                r.identity,
                r.known,
                r.start,
                known_offset.unwrap_or(0),
            )?;
        }
        Ok(())
    }

    /// Adds a stream read once to its end (stdin) as log `name`. It has no identity to resume
    /// by: each run stores what it reads.
    pub fn add_stream(
        &mut self,
        name: &str,
        stream: Box<dyn std::io::Read + Send>,
    ) -> Result<(), IngestError> {
        let file = LogFile {
            path: PathBuf::from(name),
            group: name.to_string(),
            compression: Compression::None,
            live: false,
        };
        let identity = Identity {
            dev: 0,
            ino: 0,
            size: 0,
            fingerprint: Fingerprint::of(&[]),
            head: Vec::new(),
        };
        let id = self.store.add_file(&file.path, &file.group, &identity)?;
        self.stats.files += 1;
        self.tails.insert(
            id,
            Tail {
                reader: Some(LineReader::from_stream(&file.path, stream)),
                offset: 0,
                opened: true,
                failed: false,
                file,
                identity,
                assembler: RecordAssembler::new(id),
                skip: VecDeque::new(),
                present: true,
                journal: None,
            },
        );
        Ok(())
    }

    /// Adds the systemd journal entries that `query` selects, read through journalctl and
    /// converted to syslog lines ([`crate::tail::journal`]), from where the last run that read
    /// the same selection stopped; `wake` is called when new entries are ready (`watch`).
    ///
    /// The journal is a file record whose offsets count its converted bytes, so windows,
    /// spans and checkpoints work as for a file; what only a journal needs is the way back to
    /// an offset: the cursor of the last entry before the checkpoint, saved with every
    /// checkpoint, from which journalctl resumes.
    pub fn add_journal(
        &mut self,
        query: &JournalQuery,
        wake: Option<Wake>,
    ) -> Result<(), IngestError> {
        let file = LogFile {
            path: PathBuf::from(query.name()),
            group: query.group(),
            compression: Compression::None,
            live: false,
        };
        let row = self.store.journal(&query.name(), &file.path, &file.group)?;
        let resume = Resume {
            cursor_offset: row.cursor.as_ref().map_or(0, |c| c.1),
            cursor: row.cursor.map(|c| c.0),
            checkpoint: row.checkpoint,
        };
        let marks = Marks::default();
        let stream = query.start(&resume, marks.clone(), wake)?;
        let identity = Identity {
            dev: 0,
            ino: 0,
            size: row.checkpoint,
            fingerprint: Fingerprint::of(&[]),
            head: Vec::new(),
        };
        // Windows of several entities interleave: lines past the checkpoint may be committed.
        let skip = self
            .store
            .committed_spans(row.file, row.checkpoint)?
            .into_iter()
            .collect();
        self.stats.files += 1;
        self.tails.insert(
            row.file,
            Tail {
                reader: Some(LineReader::from_stream_at(
                    &file.path,
                    Box::new(stream),
                    row.checkpoint,
                )),
                offset: row.checkpoint,
                opened: true,
                failed: false,
                file,
                identity,
                assembler: RecordAssembler::new(row.file),
                skip,
                present: true,
                journal: Some(marks),
            },
        );
        Ok(())
    }

    /// Saves each journal's cursor for its checkpoint as last written: the cursor of the last
    /// entry whose line ends at or before it. Saved after the checkpoint's own commit, so a
    /// crash between the two leaves the cursor behind the checkpoint, never past it; the next
    /// run then reads from the older cursor and passes by the entries up to the checkpoint
    /// ([`Resume`]).
    fn save_journal_cursors(&mut self) -> Result<(), IngestError> {
        for (id, t) in &self.tails {
            let Some(marks) = &t.journal else {
                continue;
            };
            let Some(&at) = self.written.get(id) else {
                continue;
            };
            if let Some((end, cursor)) = marks.take_upto(at) {
                self.store.set_journal_cursor(*id, &cursor, end)?;
            }
        }
        Ok(())
    }

    /// What is known of every file: the store's checkpoints, overridden by open readers.
    fn known(&self) -> Result<Vec<Known>, IngestError> {
        let mut known: Vec<Known> = Vec::new();
        for row in self.store.known_files()? {
            let k = match self.tails.get(&row.id) {
                Some(t) => Known {
                    id: row.id,
                    dev: t.identity.dev,
                    ino: t.identity.ino,
                    fingerprint: t.identity.fingerprint,
                    offset: t.position(),
                },
                None => row.known(),
            };
            known.push(k);
        }
        Ok(known)
    }

    /// Takes one resolved file into the set of tails; `known_offset` is where the record it
    /// was paired with stands (the open reader's position, else the checkpoint).
    fn adopt(
        &mut self,
        file: LogFile,
        identity: Identity,
        known: Option<i64>,
        start: u64,
        known_offset: u64,
    ) -> Result<(), IngestError> {
        let same_inode =
            |t: &Tail| t.identity.dev == identity.dev && t.identity.ino == identity.ino;
        let id = match known {
            Some(id) => {
                if let Some(t) = self.tails.get_mut(&id) {
                    if same_inode(t) && start >= t.position() {
                        // The file we follow, perhaps renamed; it may have grown.
                        self.store.touch_file(id, &file.path, &identity)?;
                        t.file = file;
                        t.identity = identity;
                        t.present = true;
                        return Ok(());
                    }
                    if !same_inode(t) {
                        // A copy of the file we follow (copytruncate's copy, the rotated file
                        // compressed): what was written after our last read is in the copy,
                        // read from where the old reader stood when it is next pumped.
                        self.store.touch_file(id, &file.path, &identity)?;
                        t.close();
                        t.file = file;
                        t.identity = identity;
                        t.present = true;
                        t.failed = false;
                        return Ok(());
                    }
                }
                if start < known_offset {
                    // Same inode, but shorter than what was read: truncated in place. Its new
                    // content is a new file; the old spans must not hide its lines.
                    if let Some(mut old) = self.tails.remove(&id) {
                        if let Some(rec) = old.assembler.finish() {
                            self.push_record(&old.file.group, rec, unix_now())?;
                        }
                    }
                    self.store.add_file(&file.path, &file.group, &identity)?
                } else {
                    self.store.touch_file(id, &file.path, &identity)?;
                    id
                }
            }
            None => self.store.add_file(&file.path, &file.group, &identity)?,
        };
        let start = if Some(id) == known { start } else { 0 };
        let skip = self.store.committed_spans(id, start)?.into_iter().collect();
        self.stats.files += 1;
        self.tails.insert(
            id,
            Tail {
                file,
                identity,
                reader: None,
                offset: start,
                opened: false,
                failed: false,
                assembler: RecordAssembler::new(id),
                skip,
                present: true,
                journal: None,
            },
        );
        Ok(())
    }

    /// Reads what the files hold now, in order (older files first: ids grow as files appear),
    /// at most `max_lines` lines in all when given; windows the lines and stores the windows
    /// that close. Returns the number of lines read.
    pub fn pump(&mut self, max_lines: Option<usize>) -> Result<u64, IngestError> {
        let ids: Vec<i64> = self.tails.keys().copied().collect();
        let mut open = self.tails.values().filter(|t| t.reader.is_some()).count();
        let mut total = 0;
        for id in ids {
            let left = max_lines.map(|m| m.saturating_sub(total as usize));
            if left == Some(0) || self.stopping() {
                break;
            }
            total += self.pump_file(id, left, &mut open)?;
        }
        // Files that vanished are done with once read to their end, or at once when no
        // reader is open on them: their path names another file now, and nothing else does.
        let gone: Vec<i64> = self
            .tails
            .iter()
            .filter(|(_, t)| !t.present && (t.identity.size <= t.position() || t.reader.is_none()))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(mut t) = self.tails.remove(&id) {
                let left = t.identity.size.saturating_sub(t.position());
                if left > 0 && !t.failed {
                    self.problems.push(Problem {
                        path: t.file.path.clone(),
                        message: format!(
                            "moved or deleted before it was read to its end: {left} bytes not read"
                        ),
                    });
                }
                if let Some(rec) = t.assembler.finish() {
                    self.push_record(&t.file.group, rec, unix_now())?;
                }
            }
        }
        self.checkpoint()?;
        Ok(total)
    }

    /// Reads one file; `open` counts the readers open, this one's included once opened.
    fn pump_file(
        &mut self,
        id: i64,
        max_lines: Option<usize>,
        open: &mut usize,
    ) -> Result<u64, IngestError> {
        let Some(t) = self.tails.get_mut(&id) else {
            return Ok(0);
        };
        if t.reader.is_none() {
            // Only a file that has grown since it was read is opened (its size is the last
            // refresh's), so a pass over thousands of files read to their end opens none.
            if t.failed || t.identity.size <= t.offset {
                return Ok(0);
            }
            match LineReader::open_same(&t.file, t.offset, t.identity.dev, t.identity.ino) {
                Ok(Some(r)) => {
                    t.reader = Some(r);
                    t.opened = true;
                    *open += 1;
                }
                // The path names another file now (rotated since the refresh): the next
                // refresh finds where this one went; its checkpoint stays where it was.
                Ok(None) => return Ok(0),
                Err(e) => {
                    self.problems.push(problem(&t.file, &e));
                    if t.opened {
                        t.failed = true;
                    } else {
                        // Nothing of it was read: its checkpoint stays at the start of what is
                        // unread, and the next run tries again.
                        self.tails.remove(&id);
                        self.stats.files = self.stats.files.saturating_sub(1);
                    }
                    return Ok(0);
                }
            }
        }
        let Some(reader) = t.reader.as_mut() else {
            return Ok(0);
        };
        let take_partial = !t.file.live || still_for(&t.file.path, self.config.partial_line_after);
        let group = t.file.group.clone();
        let mut records = Vec::new();
        let mut lines = 0u64;
        // Whether the reader has given all there is now (not stopped by the line budget).
        let mut drained = false;
        loop {
            if max_lines.is_some_and(|m| lines as usize >= m) {
                break;
            }
            let line = match reader.next_line(take_partial) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    drained = true;
                    break;
                }
                Err(e) => {
                    self.problems.push(problem(&t.file, &e));
                    t.failed = true;
                    drained = true;
                    break;
                }
            };
            while t.skip.front().is_some_and(|&(_, end)| end <= line.start) {
                t.skip.pop_front();
            }
            if t.skip
                .front()
                .is_some_and(|&(s, e)| s <= line.start && line.end <= e)
            {
                self.stats.skipped_lines += 1;
                continue;
            }
            if line.cut > 0 {
                // A line past the reader's cap (MAX_LINE) is no log line a logger writes (a
                // request line, a syslog message are kilobytes at most): a run of padding or
                // binary garbage, which the model reads as an attack. It is skipped, its bytes
                // passed by, and counted, never given to the model whole or cut.
                self.stats.bytes += line.end - line.start;
                self.stats.cut_lines += 1;
                continue;
            }
            lines += 1;
            self.stats.lines += 1;
            self.stats.bytes += line.end - line.start;
            if let Some(rec) = t.assembler.push(line.start, line.end, &line.text) {
                records.push(rec);
            }
        }
        if drained && take_partial {
            if let Some(rec) = t.assembler.finish() {
                records.push(rec);
            }
        }
        if reader.position() > t.identity.size {
            t.identity.size = reader.position();
        }
        if drained && reader.reopenable() && (t.failed || !t.file.live || *open > MAX_OPEN_READERS)
        {
            t.close();
            *open -= 1;
        }
        // One look at the clock for the chunk: it only bounds how far ahead a stamp may be.
        let wall = unix_now();
        for rec in records {
            self.push_record(&group, rec, wall)?;
        }
        Ok(lines)
    }

    /// Parses a record and hands it to the windower; `wall` is the time now.
    fn push_record(&mut self, group: &str, rec: Record, wall: i64) -> Result<(), IngestError> {
        let mut parsed = parse(&rec.text, self.year);
        if parsed.time.is_some_and(|t| t > wall + 2 * 86_400) {
            // A syslog stamp without a year read as this year lies in the future: the line is
            // from last December, read in January.
            parsed = parse(&rec.text, self.year - 1);
        }
        *self
            .stats
            .records_by_format
            .entry(parsed.format.as_str())
            .or_default() += 1;
        if let Some(t) = parsed.time {
            self.log_clock = advance_log_clock(self.log_clock, t, wall);
        }
        let closed = self.windower.push(group, rec, parsed);
        self.ready.extend(closed);
        self.store_ready()
    }

    /// Stores the windows closed so far, oldest first, until none is left or the stop signal
    /// is set (looked at before each, since each may cost a model call).
    fn store_ready(&mut self) -> Result<(), IngestError> {
        while !self.stopping() && !self.deferred && !self.ready.is_empty() {
            self.store_front()?;
        }
        Ok(())
    }

    /// Closes windows idle since `now` (unix seconds) less the idle time, and stores them.
    pub fn close_idle(&mut self, now: i64) -> Result<(), IngestError> {
        self.ready.extend(self.windower.close_idle(now));
        self.store_ready()?;
        self.checkpoint()
    }

    /// Closes windows idle in log time: the latest log time seen is the clock.
    pub fn close_idle_by_log_time(&mut self) -> Result<(), IngestError> {
        match self.log_clock {
            Some(now) => self.close_idle(now),
            None => Ok(()),
        }
    }

    /// Closes the open windows that hold at least `min_events` failed logins or refused
    /// requests ([`opensoc_logs::window::Windower::close_alerting`]), stores them, and writes
    /// checkpoints.
    pub fn close_alerting(&mut self, min_events: usize) -> Result<(), IngestError> {
        let closed = self.windower.close_alerting(min_events);
        if closed.is_empty() {
            return Ok(());
        }
        self.ready.extend(closed);
        self.store_ready()?;
        self.checkpoint()
    }

    /// Puts the records an earlier run held ([`Ingest::suspend`]) back in their windows,
    /// ahead of anything read in this run.
    fn load_held(&mut self) -> Result<(), IngestError> {
        self.held_loaded = true;
        let wall = unix_now();
        for h in self.store.held_records()? {
            self.held.insert((h.file, h.start));
            let rec = Record {
                file: h.file,
                start: h.start,
                end: h.end,
                text: h.text,
            };
            self.push_record(&h.group, rec, wall)?;
        }
        Ok(())
    }

    /// Completes the record each file's assembler holds (its last lines, which no later line
    /// has ended yet) and windows it.
    fn finish_pending(&mut self) -> Result<(), IngestError> {
        let ids: Vec<i64> = self.tails.keys().copied().collect();
        let wall = unix_now();
        for id in ids {
            let (group, rec) = match self.tails.get_mut(&id) {
                Some(t) => (t.file.group.clone(), t.assembler.finish()),
                None => continue,
            };
            if let Some(rec) = rec {
                self.push_record(&group, rec, wall)?;
            }
        }
        Ok(())
    }

    /// Stops without judging what is open, and without losing it: pending records are
    /// completed, and every record of an open window (or of a closed one not stored yet) is
    /// kept in the store, in the same transaction that moves the checkpoints past it. The
    /// next run judges them first, even when their file is gone by then (a log deleted and
    /// recreated while opensoc was down).
    pub fn suspend(&mut self) -> Result<(), IngestError> {
        self.finish_pending()?;
        let waiting = self.windower.open_records().chain(
            self.ready
                .iter()
                .flat_map(|w| w.records.iter().map(|r| (w.group.as_str(), r))),
        );
        let mut new = Vec::new();
        for (group, r) in waiting {
            if self.held.insert((r.file, r.start)) {
                new.push(HeldRecord {
                    group: group.to_string(),
                    file: r.file,
                    start: r.start,
                    end: r.end,
                    text: r.text.clone(),
                });
            }
        }
        let checkpoints = self.checkpoints(None);
        self.store.hold_records(&new, &checkpoints)?;
        self.written.extend(checkpoints);
        self.save_journal_cursors()
    }

    /// Completes every pending record and open window, stores them, and writes checkpoints.
    pub fn flush(&mut self) -> Result<(), IngestError> {
        self.close_all()?;
        while self.store_next()? {}
        self.checkpoint()
    }

    /// Whether closed windows wait, in the order they closed, instead of being judged as they
    /// close: a caller that reads a whole upload first then knows how many windows it holds,
    /// and judges them with [`Ingest::store_next`] behind a true progress bar. The verdicts
    /// are the same: windows close, and meet the template cache, in the same order.
    pub fn defer_judging(&mut self, on: bool) {
        self.deferred = on;
    }

    /// Completes every pending record and closes every open window without judging them yet;
    /// returns how many closed windows wait. [`Ingest::store_next`] then judges them one at a
    /// time, for a caller that reports progress between two model calls.
    pub fn close_all(&mut self) -> Result<usize, IngestError> {
        self.finish_pending()?;
        self.ready.extend(self.windower.flush());
        Ok(self.ready.len())
    }

    /// Judges and stores the oldest closed window that waits (and the windows judged in its
    /// batch); false when none waits or the stop flag is set.
    pub fn store_next(&mut self) -> Result<bool, IngestError> {
        if self.stopping() {
            return Ok(false);
        }
        if self.ready.is_empty() {
            return Ok(false);
        }
        self.store_front()?;
        Ok(true)
    }

    /// Writes every file's checkpoint: its read position, held back to the first line still
    /// in a pending record, an open window or a closed window not stored yet.
    fn checkpoint(&mut self) -> Result<(), IngestError> {
        let c = self.checkpoints(None);
        if !c.is_empty() {
            self.store.set_checkpoints(&c)?;
            self.written.extend(c);
        }
        self.save_journal_cursors()
    }

    /// The checkpoints that differ from what was last written (see [`Ingest::checkpoint`]),
    /// of every file or of `only` these (sorted); the caller records them in `written` once they are
    /// committed.
    ///
    /// Writing a subset is safe: a file's checkpoint only grows, so one not written yet stays
    /// behind its lines, and the next full pass writes it.
    fn checkpoints(&self, only: Option<&[i64]>) -> Vec<(i64, u64)> {
        // Records the store holds no longer keep their file's lines.
        let held = |r: &Record| !self.held.is_empty() && self.held.contains(&(r.file, r.start));
        let mut open: HashMap<i64, u64> = self.windower.open_starts(held);
        // `only` is sorted (see store_window); records of other files are passed over
        // without being hashed, as thousands of windows may be waiting.
        let wanted = |file: &i64| only.is_none_or(|ids| ids.binary_search(file).is_ok());
        for r in self
            .ready
            .iter()
            .flat_map(|w| &w.records)
            .filter(|r| wanted(&r.file) && !held(r))
        {
            let e = open.entry(r.file).or_insert(r.start);
            *e = (*e).min(r.start);
        }
        let tails: Box<dyn Iterator<Item = (&i64, &Tail)>> = match only {
            Some(ids) => Box::new(ids.iter().filter_map(|id| self.tails.get_key_value(id))),
            None => Box::new(self.tails.iter()),
        };
        tails
            .map(|(id, t)| {
                let mut at = t.position();
                if let Some(p) = t.assembler.pending_start() {
                    at = at.min(p);
                }
                if let Some(&o) = open.get(id) {
                    at = at.min(o);
                }
                (*id, at)
            })
            .filter(|(id, at)| self.written.get(id) != Some(at))
            .collect()
    }

    /// What the store knows of window `w` before any model call: its text, floor,
    /// signature, the keys of its records (made only when the signature misses and no floor
    /// applies: a window with a floor is never judged by its records, since the count that
    /// raised the floor is what the memory of single templates cannot see) and the earlier
    /// verdict it may reuse.
    fn plan(&self, w: &Window) -> Result<Planned, IngestError> {
        let input = w.input();
        let floor = self.judge.floor(&input);
        let sig = match &floor {
            Some(f) => format!(
                "{}\nfloor={} {}",
                signature(&w.records),
                f.label,
                f.severity
            ),
            None => signature(&w.records),
        };
        let mut plan = Planned {
            input,
            floor,
            sig,
            record_keys: Vec::new(),
            cached: None,
            by_records: false,
        };
        if self.config.use_cache {
            plan.cached = self.store.cached_verdict(&plan.sig)?;
            if plan.cached.is_none() && plan.floor.is_none() {
                plan.record_keys = w.record_keys();
                plan.cached = self.store.benign_records_verdict(&plan.record_keys)?;
                plan.by_records = plan.cached.is_some();
            }
        }
        Ok(plan)
    }

    /// Stores the oldest closed window. When it needs the model, the windows after it that
    /// need the model too and whose lookups its verdict cannot change (another signature,
    /// no record template in common with a window before them in the batch) are judged in
    /// the same batch, up to [`IngestConfig::batch`]; each is then stored in turn, as it
    /// would have been alone. The windows stay queued until stored, so their lines hold the
    /// checkpoints back until then.
    fn store_front(&mut self) -> Result<(), IngestError> {
        let mut batch = vec![self.plan(&self.ready[0])?];
        if batch[0].cached.is_none() {
            let mut sigs: HashSet<String> = HashSet::from([batch[0].sig.clone()]);
            let mut keys: HashSet<String> = batch[0].record_keys.iter().cloned().collect();
            while batch.len() < self.config.batch.min(self.ready.len()) {
                let next = self.plan(&self.ready[batch.len()])?;
                if next.cached.is_some()
                    || sigs.contains(&next.sig)
                    || next.record_keys.iter().any(|k| keys.contains(k))
                {
                    break;
                }
                sigs.insert(next.sig.clone());
                keys.extend(next.record_keys.iter().cloned());
                batch.push(next);
            }
        }
        if batch.len() == 1 {
            let w = self.ready.pop_front().expect("the queue is not empty");
            let plan = batch.pop().expect("one plan");
            return self.store_window(w, plan, None);
        }
        let inputs: Vec<&str> = batch.iter().map(|p| p.input.as_str()).collect();
        let verdicts = self
            .judge
            .judge_batch(&inputs)
            .map_err(|e| IngestError::Judge {
                log: self.ready[0].group.clone(),
                message: e.to_string(),
            })?;
        self.stats.batches += 1;
        for (i, (plan, verdict)) in batch.into_iter().zip(verdicts).enumerate() {
            // On a stop, the first window is stored as a window judged alone would be; the
            // others stay queued, and the next run judges them.
            if i > 0 && self.stopping() {
                break;
            }
            let w = self
                .ready
                .pop_front()
                .expect("a batch's windows are queued");
            self.store_window(w, plan, Some(verdict))?;
        }
        Ok(())
    }

    /// The verdict of one closed window (cache, the batch's verdict `judged`, or the model),
    /// committed with its spans and the checkpoints.
    fn store_window(
        &mut self,
        w: Window,
        plan: Planned,
        judged: Option<Verdict>,
    ) -> Result<(), IngestError> {
        let Planned {
            input,
            floor,
            sig,
            record_keys,
            cached,
            by_records,
        } = plan;
        self.stats.record_hits += u64::from(by_records);
        let judge_error = |e: Box<dyn std::error::Error + Send + Sync>| IngestError::Judge {
            log: w.group.clone(),
            message: e.to_string(),
        };
        let (verdict, secondary, cached_from) = match cached {
            Some(earlier) => {
                self.stats.cache_hits += 1;
                let mut v = reuse(&earlier, &input);
                if let Some(f) = &floor {
                    let facts = Facts::extract(&opensoc::task::prompt::log_lines(input.as_bytes()));
                    floors::apply(&mut v, f, |t| facts.evidence(&t.summary, None));
                }
                (v, earlier.verdict.secondary.clone(), Some(earlier.id))
            }
            None => {
                self.stats.model_calls += 1;
                let v = match judged {
                    Some(v) => v,
                    None => self.judge.judge(&input).map_err(judge_error)?,
                };
                let texts = w.record_texts();
                let records: Vec<&str> = texts.iter().map(String::as_str).collect();
                let secondary = self.judge.secondary(&records, &v).map_err(judge_error)?;
                (v, secondary, None)
            }
        };
        let spans: Vec<Span> = w
            .spans()
            .into_iter()
            .map(|(file, start, end)| Span { file, start, end })
            .collect();
        // Only the window's own files: their checkpoints are the ones its commit can move
        // (the others are written at the end of each pass), and a pass over every file with
        // every window made a scan of thousands of files quadratic.
        let mut files: Vec<i64> = spans.iter().map(|s| s.file).collect();
        files.sort_unstable();
        files.dedup();
        let checkpoints = self.checkpoints(Some(&files));
        let copy_of = cached_from.filter(|_| {
            self.config.count_benign_copies
                && verdict.severity == Severity::Low
                && verdict.category() == BENIGN_CATEGORY
        });
        if let Some(origin) = copy_of {
            let copy = CopyWindow {
                verdict: origin,
                source: w.group.clone(),
                first_time: w.first_time,
                last_time: w.last_time,
                created_at: unix_now(),
                records: w.records.len() as u32,
            };
            self.store.count_copy(&copy, &spans, &checkpoints)?;
            self.stats.copies += 1;
        } else {
            let new = NewVerdict {
                created_at: unix_now(),
                first_time: w.first_time,
                last_time: w.last_time,
                source: w.group.clone(),
                entity: w.entity.as_ref().map(|e| e.to_string()),
                records: w.records.len() as u32,
                signature: sig,
                cached_from,
                threat_type: verdict.threat_type.clone(),
                category: verdict.category().to_string(),
                technique: verdict.mitre_technique.clone(),
                tactic: verdict.mitre_tactic.clone(),
                severity: verdict.severity.as_str().to_string(),
                risk_score: verdict.risk_score,
                evidence: verdict.evidence.clone(),
                impact: verdict.impact.clone(),
                recommendation: verdict.recommendation.clone(),
                secondary,
                input,
            };
            // A benign verdict of the model's own teaches the memory the window's templates.
            let remember = if cached_from.is_none()
                && verdict.severity == Severity::Low
                && verdict.category() == BENIGN_CATEGORY
            {
                record_keys.as_slice()
            } else {
                &[]
            };
            let id = self
                .store
                .commit_window_remembering(&new, &spans, &checkpoints, remember)?;
            self.stored.push(new.stored_as(id));
        }
        self.written.extend(checkpoints);
        if !self.held.is_empty() {
            for r in &w.records {
                self.held.remove(&(r.file, r.start));
            }
        }
        self.stats.windows += 1;
        self.stats.by_severity[verdict.severity as usize] += 1;
        Ok(())
    }
}

/// A window's lookups before judging ([`Ingest::plan`]).
struct Planned {
    input: String,
    floor: Option<Floor>,
    sig: String,
    record_keys: Vec<String>,
    cached: Option<StoredVerdict>,
    /// `cached` came from the benign-record memory.
    by_records: bool,
}

/// An earlier verdict applied to a window with the same signature: the same judgement, with
/// evidence read from this window's own lines (its addresses and accounts differ).
fn reuse(earlier: &StoredVerdict, input: &str) -> Verdict {
    let earlier = &earlier.verdict;
    let tax = taxonomy();
    let summary = tax
        .threat_type(&earlier.threat_type)
        .map_or("finding", |t| t.summary.as_str());
    let clean = clean_log(input.as_bytes());
    let severity = Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == earlier.severity)
        .unwrap_or(Severity::Low);
    Verdict {
        threat_type: earlier.threat_type.clone(),
        mitre_technique: earlier.technique.clone(),
        technique_name: tax
            .technique(&earlier.technique)
            .map_or_else(|| earlier.technique.clone(), |t| t.name.clone()),
        mitre_tactic: earlier.tactic.clone(),
        severity,
        risk_score: earlier.risk_score,
        evidence: Facts::extract(&clean.lines).evidence(summary, None),
        impact: earlier.impact.clone(),
        recommendation: earlier.recommendation.clone(),
    }
}

fn problem(file: &LogFile, e: &ReadError) -> Problem {
    Problem {
        path: file.path.clone(),
        // The problem is printed after its path already.
        message: match e {
            ReadError::NotText { kind, .. } => kind.to_string(),
            other => other.to_string(),
        },
    }
}

/// Whether the file has not been modified for `d` (a writer has finished its last line).
fn still_for(path: &std::path::Path, d: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= d)
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// This year in UTC: RFC 3164 timestamps carry no year.
fn current_year() -> i32 {
    time::OffsetDateTime::from_unix_timestamp(unix_now()).map_or(1970, |t| t.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Answers every window the same way: which verdict does not matter here.
    struct FixedJudge;

    impl Judge for FixedJudge {
        fn judge(
            &mut self,
            _input: &str,
        ) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Verdict {
                threat_type: "No Threat Detected — Normal Traffic".into(),
                mitre_technique: "N/A".into(),
                technique_name: "N/A".into(),
                mitre_tactic: "N/A".into(),
                severity: Severity::Low,
                risk_score: 5,
                evidence: "test".into(),
                impact: "none".into(),
                recommendation: "none".into(),
            })
        }
    }

    /// Calls a window with "evil" in it a threat and any other benign, and counts its calls.
    #[derive(Default)]
    struct CountingJudge {
        inputs: Vec<String>,
    }

    impl Judge for CountingJudge {
        fn judge(
            &mut self,
            input: &str,
        ) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
            self.inputs.push(input.to_string());
            let mut v = FixedJudge.judge(input)?;
            if input.contains("evil") {
                v.threat_type = "Log Injection / Prompt Injection Attempt".into();
                v.severity = Severity::High;
            }
            Ok(v)
        }
    }

    /// A window whose every record template (with its count's bucket) was in a window the
    /// model judged benign is benign without a model call; a new template, a template only a
    /// threat held, or another bucket of a known one goes to the model.
    #[test]
    fn windows_of_templates_judged_benign_skip_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("syslog");
        let lines = [
            // host a: two templates, judged benign by the model.
            "Mar  5 10:00:01 a kernel: eth0 link is up at 1000 Mbps",
            "Mar  5 10:00:02 a ntpd[411]: clock synchronised to stratum 2",
            // host b: one of them, with other numbers: from the memory.
            "Mar  5 10:00:03 b ntpd[977]: clock synchronised to stratum 3",
            // host c: a known template beside a new one: the model.
            "Mar  5 10:00:04 c kernel: eth1 link is up at 100 Mbps",
            "Mar  5 10:00:05 c cron[12]: job backup finished",
            // host d: a threat, whose templates the memory does not learn.
            "Mar  5 10:00:06 d app[5]: evil thing happened",
            "Mar  5 10:00:07 d kernel: eth3 link is up at 10 Mbps",
            // host e: the threat's template alone: the model.
            "Mar  5 10:00:08 e app[6]: evil thing happened",
            // host f: a known template three times (bucket 2-4, not 1): the model.
            "Mar  5 10:00:09 f kernel: eth0 link is up at 1000 Mbps",
            "Mar  5 10:00:10 f kernel: eth1 link is up at 1000 Mbps",
            "Mar  5 10:00:11 f kernel: eth2 link is up at 1000 Mbps",
            // host g: a window of templates from two benign windows: from the memory.
            "Mar  5 10:00:12 g cron[13]: job backup finished",
            "Mar  5 10:00:13 g ntpd[8]: clock synchronised to stratum 1",
        ];
        for l in lines {
            append(&log, l);
        }
        let store = Store::open(&dir.path().join("v.db")).unwrap();
        let mut ingest = Ingest::new(store, CountingJudge::default(), IngestConfig::default());
        ingest.refresh(std::slice::from_ref(&log)).unwrap();
        ingest.pump(None).unwrap();
        ingest.flush().unwrap();
        let judged: Vec<&str> = ingest
            .judge()
            .inputs
            .iter()
            .map(|i| i.lines().next().unwrap_or(""))
            .collect();
        assert_eq!(judged.len(), 5, "{judged:#?}");
        for (input, host) in judged.iter().zip([" a ", " c ", " d ", " e ", " f "]) {
            assert!(input.contains(host), "{input} is not host{host}'s window");
        }
        let stats = ingest.stats();
        assert_eq!((stats.windows, stats.model_calls), (7, 5));
        assert_eq!((stats.cache_hits, stats.record_hits), (2, 2));
        // Without the cache every window goes to the model.
        let store = Store::open(&dir.path().join("w.db")).unwrap();
        let config = IngestConfig {
            use_cache: false,
            ..IngestConfig::default()
        };
        let mut ingest = Ingest::new(store, CountingJudge::default(), config);
        ingest.refresh(std::slice::from_ref(&log)).unwrap();
        ingest.pump(None).unwrap();
        ingest.flush().unwrap();
        assert_eq!(ingest.stats().model_calls, 7);
    }

    /// Judges like [`CountingJudge`] and records the size of every batch it is given.
    #[derive(Default)]
    struct BatchingJudge {
        inner: CountingJudge,
        batches: Vec<usize>,
    }

    impl Judge for BatchingJudge {
        fn judge(
            &mut self,
            input: &str,
        ) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
            self.batches.push(1);
            self.inner.judge(input)
        }

        fn judge_batch(
            &mut self,
            inputs: &[&str],
        ) -> Result<Vec<Verdict>, Box<dyn std::error::Error + Send + Sync>> {
            self.batches.push(inputs.len());
            inputs.iter().map(|i| self.inner.judge(i)).collect()
        }
    }

    /// Windows judged in batches are stored in the order they closed, with the verdicts and
    /// cache answers they get one at a time: a window that the memory could answer once an
    /// earlier window of the batch is stored is left for after it.
    #[test]
    fn windows_judged_in_a_batch_are_stored_as_if_judged_alone() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("syslog");
        let mut lines = Vec::new();
        for (i, host) in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .iter()
            .enumerate()
        {
            let stamp = format!("Mar  5 10:00:{:02} {host}", 10 + i);
            match i {
                // Host a's window holds two templates; host c's holds one of them alone: the
                // memory answers c once a is stored.
                0 => {
                    lines.push(format!("{stamp} kernel: eth1 link is up at 1000 Mbps"));
                    lines.push(format!("{stamp} ntpd[5]: clock synchronised to stratum 2"));
                }
                2 => lines.push(format!("{stamp} kernel: eth0 link is up at 1000 Mbps")),
                // Host g repeats host f's line with another pid: the same signature.
                5 => lines.push(format!("{stamp} app[66]: evil request seen")),
                6 => lines.push(format!("{stamp} app[77]: evil request seen")),
                _ => lines.push(format!("{stamp} svc{i}[{i}]: task {host} done")),
            }
        }
        for l in &lines {
            append(&log, l);
        }
        let run = |batch: usize, db: &str| {
            let store = Store::open(&dir.path().join(db)).unwrap();
            let config = IngestConfig {
                batch,
                ..IngestConfig::default()
            };
            let mut ingest = Ingest::new(store, BatchingJudge::default(), config);
            ingest.refresh(std::slice::from_ref(&log)).unwrap();
            ingest.pump(None).unwrap();
            ingest.flush().unwrap();
            let stored: Vec<(Option<String>, String, String, Option<i64>)> = ingest
                .take_stored()
                .into_iter()
                .map(|v| {
                    (
                        v.verdict.entity,
                        v.verdict.threat_type,
                        v.verdict.severity,
                        v.verdict.cached_from,
                    )
                })
                .collect();
            let s = ingest.stats().clone();
            (
                stored,
                (s.windows, s.model_calls, s.cache_hits, s.record_hits),
                ingest.judge().batches.clone(),
                ingest.judge().inner.inputs.clone(),
            )
        };
        let (alone, alone_stats, alone_batches, alone_inputs) = run(1, "one.db");
        let (together, stats, batches, inputs) = run(4, "four.db");
        assert_eq!(together, alone);
        assert_eq!(stats, alone_stats);
        assert_eq!(
            inputs, alone_inputs,
            "the model saw other windows, or in another order"
        );
        // Ten windows: c from the memory, g from the signature cache, eight from the model.
        assert_eq!(alone_stats, (10, 8, 2, 1));
        assert!(alone_batches.iter().all(|&n| n == 1));
        assert!(batches.iter().all(|&n| n <= 4), "{batches:?}");
        assert!(batches.iter().any(|&n| n > 1), "{batches:?}");
        assert_eq!(batches.iter().sum::<usize>(), 8);
    }

    fn iso(t: i64) -> String {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    fn append(path: &std::path::Path, line: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }

    /// A subdirectory of a scanned directory is reported once per run, not at every look.
    #[test]
    fn a_skipped_subdirectory_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(logs.join("archive")).unwrap();
        append(
            &logs.join("app.log"),
            "Mar  5 10:00:01 web1 CRON[2211]: (root) CMD (true)",
        );
        let store = Store::open(&dir.path().join("v.db")).unwrap();
        let mut ingest = Ingest::new(store, FixedJudge, IngestConfig::default());
        let paths = vec![logs.clone()];
        ingest.refresh(&paths).unwrap();
        assert_eq!(ingest.take_skipped_dirs(), [logs.join("archive")]);
        ingest.refresh(&paths).unwrap();
        assert!(ingest.take_skipped_dirs().is_empty());
        assert!(ingest.take_problems().is_empty());
    }

    /// Readers of files read to their end are closed (beyond the live files kept open), and a
    /// closed file that grows is opened again by identity and read from where it stood.
    #[test]
    fn open_readers_stay_bounded_and_a_closed_file_that_grows_is_read_on() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let files = MAX_OPEN_READERS * 3;
        let line = "Mar  5 10:00:01 web1 CRON[2211]: (root) CMD (run-parts /etc/cron.hourly)";
        for i in 0..files {
            append(&logs.join(format!("app{i:04}.log")), line);
        }
        let store = Store::open(&dir.path().join("v.db")).unwrap();
        let mut ingest = Ingest::new(store, FixedJudge, IngestConfig::default());
        let paths = vec![logs.clone()];
        let open = |ingest: &Ingest<FixedJudge>| {
            ingest.tails.values().filter(|t| t.reader.is_some()).count()
        };
        ingest.refresh(&paths).unwrap();
        assert_eq!(open(&ingest), 0, "refresh opens no reader");
        assert_eq!(ingest.pump(None).unwrap(), files as u64);
        assert!(open(&ingest) <= MAX_OPEN_READERS, "{} open", open(&ingest));
        // The last file read was closed: more than the cap were read before it.
        append(&logs.join(format!("app{:04}.log", files - 1)), line);
        ingest.refresh(&paths).unwrap();
        assert_eq!(ingest.pump(None).unwrap(), 1);
        assert!(open(&ingest) <= MAX_OPEN_READERS);
        ingest.flush().unwrap();
        // Every line is judged once: in a stored verdict, or in a benign copy counted on one.
        assert_eq!(ingest.store().records_judged().unwrap(), files as u64 + 1);
    }

    #[test]
    fn the_log_clock_ignores_stamps_far_ahead_of_the_wall_clock() {
        let wall = 1_800_000_000;
        assert_eq!(advance_log_clock(None, wall - 10, wall), Some(wall - 10));
        assert_eq!(advance_log_clock(Some(wall), wall - 10, wall), Some(wall));
        // Local time of a host at UTC+14 read as UTC: the present, not the future.
        let east = wall + 14 * 3600;
        assert_eq!(advance_log_clock(Some(wall), east, wall), Some(east));
        assert_eq!(
            advance_log_clock(Some(wall), wall + 86_400, wall),
            Some(wall)
        );
        assert_eq!(advance_log_clock(None, wall + 86_400, wall), None);
    }

    /// `watch`'s loop, line by line: a stamp dated tomorrow must not drag the shared log clock
    /// a day ahead, or every later look would close every window as idle and a burst of 30
    /// failed logins would become 30 one-line windows.
    #[test]
    fn a_line_stamped_tomorrow_does_not_split_the_windows_that_follow() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        let store = Store::open(&dir.path().join("v.db")).unwrap();
        let mut ingest = Ingest::new(store, FixedJudge, IngestConfig::default());
        let paths = vec![log.clone()];
        let now = unix_now();
        let look = |ingest: &mut Ingest<FixedJudge>| {
            ingest.refresh(&paths).unwrap();
            ingest.pump(None).unwrap();
            ingest.close_idle_by_log_time().unwrap();
        };
        append(
            &log,
            &format!(
                "{} host sshd[7]: Accepted publickey for backup from 198.51.100.7 port 50022 ssh2",
                iso(now + 86_400)
            ),
        );
        look(&mut ingest);
        for n in 0..30 {
            append(
                &log,
                &format!(
                    "{} host sshd[8]: Failed password for root from 203.0.113.9 port {} ssh2",
                    iso(now - 60 + n),
                    40_000 + n
                ),
            );
            look(&mut ingest);
        }
        ingest.flush().unwrap();
        let attacker: Vec<u32> = ingest
            .take_stored()
            .into_iter()
            .filter(|v| v.verdict.entity.as_deref() == Some("ip 203.0.113.9"))
            .map(|v| v.verdict.records)
            .collect();
        assert_eq!(
            attacker,
            vec![30],
            "the 30 failed logins of 203.0.113.9 must share one window (lines per window stored)"
        );
    }
}
