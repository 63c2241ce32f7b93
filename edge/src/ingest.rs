//! The agent's data flow over a set of paths: new log content → records → windows → the
//! template cache or the model → the store.
//!
//! Exactly once, through rotation, restarts and crashes: a window's verdict is committed in one
//! transaction with the byte spans it covers and every file's checkpoint. A checkpoint never
//! passes a line that sits in a window not yet committed, so after a crash those lines are read
//! again; lines that belong to a committed window but lie past the checkpoint (windows of
//! several entities interleave) are skipped on that re-read by their committed spans.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opensoc::facts::Facts;
use opensoc::floors::{self, Floor};
use opensoc::prompt::clean_log;
use opensoc::taxonomy::taxonomy;
use opensoc::verdict::{Severity, Verdict};

use crate::discover::{discover, LogFile};
use crate::identity::{identify, resolve, Fingerprint, Identity, Known};
use crate::line_reader::{LineReader, ReadError};
use crate::logline::parse;
use crate::record::{Record, RecordAssembler};
use crate::store::{NewVerdict, Span, Store, StoreError, StoredVerdict};
use crate::template::signature;
use crate::window::{Window, WindowConfig, Windower};

/// What turns a window's text into a verdict: the analyzer in the binary, a stand-in in tests.
pub trait Judge {
    /// The verdict for one window's text.
    fn judge(&mut self, input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>>;

    /// A second threat type among the window's `records` besides `verdict`'s, for judges
    /// that look for one (the analyzer does: `opensoc::stages`); none by default.
    fn secondary(
        &mut self,
        _records: &[&str],
        _verdict: &Verdict,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(None)
    }

    /// The floor that the facts of a window's text set under any verdict of it
    /// ([`opensoc::floors`]); none by default. The template cache keys on it, so that a
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
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            window: WindowConfig::default(),
            use_cache: true,
            partial_line_after: Duration::from_secs(60),
            exclude: Vec::new(),
        }
    }
}

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
    /// Windows stored.
    pub windows: u64,
    /// Windows the model analysed.
    pub model_calls: u64,
    /// Windows answered from the template cache.
    pub cache_hits: u64,
    /// Windows per severity, LOW to CRITICAL.
    pub by_severity: [u64; 4],
}

/// One followed file: where it is, what is read of it, and the record being assembled.
struct Tail {
    file: LogFile,
    identity: Identity,
    reader: LineReader,
    assembler: RecordAssembler,
    /// Committed spans at or after the reader's position, to skip on a re-read.
    skip: VecDeque<(u64, u64)>,
    /// Still found by discovery; a file that vanished is read to its end, then dropped.
    present: bool,
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
    /// Verdicts stored in this run, in order, for the caller's alerts.
    stored: Vec<StoredVerdict>,
    /// The latest log time seen, the clock for closing windows idle in log time.
    log_clock: Option<i64>,
    year: i32,
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
            stored: Vec::new(),
            log_clock: None,
            year: current_year(),
        }
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

    /// Verdicts stored since the last call, taken.
    pub fn take_stored(&mut self) -> Vec<StoredVerdict> {
        std::mem::take(&mut self.stored)
    }

    /// Whether a record or a window is still open (lines read but not yet stored).
    pub fn has_open(&self) -> bool {
        !self.windower.is_empty()
            || self
                .tails
                .values()
                .any(|t| t.assembler.pending_start().is_some())
    }

    /// Content bytes that files hold beyond what has been read: the backlog.
    pub fn lag_bytes(&self) -> u64 {
        self.tails
            .values()
            .map(|t| t.identity.size.saturating_sub(t.reader.position()))
            .sum()
    }

    /// Finds the files under `paths`, works out which is which since the last look (rotation,
    /// copies, truncation) and opens a reader on each at the right offset.
    pub fn refresh(&mut self, paths: &[PathBuf]) -> Result<(), IngestError> {
        let found = discover(paths);
        for (path, message) in found.problems {
            self.problems.push(Problem { path, message });
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
        for t in self.tails.values_mut() {
            t.present = false;
        }
        for r in resolve(&known, identified) {
            self.adopt(r.file, r.identity, r.known, r.start)?;
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
            compressed: false,
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
                reader: LineReader::from_stream(&file.path, stream),
                file,
                identity,
                assembler: RecordAssembler::new(id),
                skip: VecDeque::new(),
                present: true,
            },
        );
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
                    offset: t.reader.position(),
                },
                None => row.known(),
            };
            known.push(k);
        }
        Ok(known)
    }

    /// Takes one resolved file into the set of tails.
    fn adopt(
        &mut self,
        file: LogFile,
        identity: Identity,
        known: Option<i64>,
        start: u64,
    ) -> Result<(), IngestError> {
        let same_inode =
            |t: &Tail| t.identity.dev == identity.dev && t.identity.ino == identity.ino;
        let id = match known {
            Some(id) => {
                if let Some(t) = self.tails.get_mut(&id) {
                    if same_inode(t) && start >= t.reader.position() {
                        // The file we follow, perhaps renamed; it may have grown.
                        self.store.touch_file(id, &file.path, &identity)?;
                        t.file = file;
                        t.identity = identity;
                        t.present = true;
                        return Ok(());
                    }
                    if !same_inode(t) {
                        // A copy of the file we follow (copytruncate's copy, the rotated file
                        // compressed): what was written after our last read is in the copy.
                        let position = t.reader.position();
                        match LineReader::open(&file, position) {
                            Ok(reader) => {
                                self.store.touch_file(id, &file.path, &identity)?;
                                t.reader = reader;
                                t.file = file;
                                t.identity = identity;
                                t.present = true;
                            }
                            Err(e) => self.problems.push(problem(&file, &e)),
                        }
                        return Ok(());
                    }
                }
                if start < self.known_offset(id)? {
                    // Same inode, but shorter than what was read: truncated in place. Its new
                    // content is a new file; the old spans must not hide its lines.
                    if let Some(mut old) = self.tails.remove(&id) {
                        if let Some(rec) = old.assembler.finish() {
                            self.push_record(&old.file.group, rec)?;
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
        let reader = match LineReader::open(&file, start) {
            Ok(r) => r,
            Err(e) => {
                self.problems.push(problem(&file, &e));
                return Ok(());
            }
        };
        let skip = self.store.committed_spans(id, start)?.into_iter().collect();
        self.stats.files += 1;
        self.tails.insert(
            id,
            Tail {
                file,
                identity,
                reader,
                assembler: RecordAssembler::new(id),
                skip,
                present: true,
            },
        );
        Ok(())
    }

    fn known_offset(&self, id: i64) -> Result<u64, IngestError> {
        if let Some(t) = self.tails.get(&id) {
            return Ok(t.reader.position());
        }
        Ok(self
            .store
            .known_files()?
            .into_iter()
            .find(|r| r.id == id)
            .map_or(0, |r| r.offset))
    }

    /// Reads what the files hold now, in order (older files first: ids grow as files appear),
    /// at most `max_lines` lines in all when given; windows the lines and stores the windows
    /// that close. Returns the number of lines read.
    pub fn pump(&mut self, max_lines: Option<usize>) -> Result<u64, IngestError> {
        let ids: Vec<i64> = self.tails.keys().copied().collect();
        let mut total = 0;
        for id in ids {
            let left = max_lines.map(|m| m.saturating_sub(total as usize));
            if left == Some(0) {
                break;
            }
            total += self.pump_file(id, left)?;
        }
        // Files that vanished and are read to their end are done with.
        let gone: Vec<i64> = self
            .tails
            .iter()
            .filter(|(_, t)| !t.present && t.identity.size <= t.reader.position())
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(mut t) = self.tails.remove(&id) {
                if let Some(rec) = t.assembler.finish() {
                    self.push_record(&t.file.group, rec)?;
                }
            }
        }
        self.checkpoint()?;
        Ok(total)
    }

    fn pump_file(&mut self, id: i64, max_lines: Option<usize>) -> Result<u64, IngestError> {
        let Some(t) = self.tails.get_mut(&id) else {
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
            let line = match t.reader.next_line(take_partial) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    drained = true;
                    break;
                }
                Err(e) => {
                    self.problems.push(problem(&t.file, &e));
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
        if t.reader.position() > t.identity.size {
            t.identity.size = t.reader.position();
        }
        for rec in records {
            self.push_record(&group, rec)?;
        }
        Ok(lines)
    }

    fn push_record(&mut self, group: &str, rec: Record) -> Result<(), IngestError> {
        let mut parsed = parse(&rec.text, self.year);
        if parsed.time.is_some_and(|t| t > unix_now() + 2 * 86_400) {
            // A syslog stamp without a year read as this year lies in the future: the line is
            // from last December, read in January.
            parsed = parse(&rec.text, self.year - 1);
        }
        if let Some(t) = parsed.time {
            self.log_clock = Some(self.log_clock.map_or(t, |c| c.max(t)));
        }
        let closed = self.windower.push(group, rec, parsed);
        for w in closed {
            self.store_window(w)?;
        }
        Ok(())
    }

    /// Closes windows idle since `now` (unix seconds) less the idle time, and stores them.
    pub fn close_idle(&mut self, now: i64) -> Result<(), IngestError> {
        for w in self.windower.close_idle(now) {
            self.store_window(w)?;
        }
        self.checkpoint()
    }

    /// Closes windows idle in log time: the latest log time seen is the clock.
    pub fn close_idle_by_log_time(&mut self) -> Result<(), IngestError> {
        match self.log_clock {
            Some(now) => self.close_idle(now),
            None => Ok(()),
        }
    }

    /// Completes every pending record and open window, stores them, and writes checkpoints.
    pub fn flush(&mut self) -> Result<(), IngestError> {
        let ids: Vec<i64> = self.tails.keys().copied().collect();
        for id in ids {
            let (group, rec) = match self.tails.get_mut(&id) {
                Some(t) => (t.file.group.clone(), t.assembler.finish()),
                None => continue,
            };
            if let Some(rec) = rec {
                self.push_record(&group, rec)?;
            }
        }
        for w in self.windower.flush() {
            self.store_window(w)?;
        }
        self.checkpoint()
    }

    /// Writes every file's checkpoint: its read position, held back to the first line still
    /// in a pending record or an open window.
    fn checkpoint(&mut self) -> Result<(), IngestError> {
        let c = self.checkpoints();
        if !c.is_empty() {
            self.store.set_checkpoints(&c)?;
        }
        Ok(())
    }

    fn checkpoints(&self) -> Vec<(i64, u64)> {
        let open = self.windower.open_starts();
        self.tails
            .iter()
            .map(|(id, t)| {
                let mut at = t.reader.position();
                if let Some(p) = t.assembler.pending_start() {
                    at = at.min(p);
                }
                if let Some(&o) = open.get(id) {
                    at = at.min(o);
                }
                (*id, at)
            })
            .collect()
    }

    /// The verdict of one closed window (cache or model), committed with its spans and the
    /// checkpoints.
    fn store_window(&mut self, w: Window) -> Result<(), IngestError> {
        let input = w.input();
        let floor = self.judge.floor(&input);
        let sig = match &floor {
            Some(f) => format!("{}\nfloor={} {}", signature(&w), f.label, f.severity),
            None => signature(&w),
        };
        let cached = if self.config.use_cache {
            self.store.cached_verdict(&sig)?
        } else {
            None
        };
        let judge_error = |e: Box<dyn std::error::Error + Send + Sync>| IngestError::Judge {
            log: w.group.clone(),
            message: e.to_string(),
        };
        let (verdict, secondary, cached_from) = match cached {
            Some(earlier) => {
                self.stats.cache_hits += 1;
                let mut v = reuse(&earlier, &input);
                if let Some(f) = &floor {
                    let facts = Facts::extract(&opensoc::prompt::log_lines(input.as_bytes()));
                    floors::apply(&mut v, f, |t| facts.evidence(&t.summary, None));
                }
                (v, earlier.verdict.secondary.clone(), Some(earlier.id))
            }
            None => {
                self.stats.model_calls += 1;
                let v = self.judge.judge(&input).map_err(judge_error)?;
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
        let checkpoints = self.checkpoints();
        let id = self.store.commit_window(&new, &spans, &checkpoints)?;
        self.stats.windows += 1;
        self.stats.by_severity[verdict.severity as usize] += 1;
        self.stored.push(new.stored_as(id));
        Ok(())
    }
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
        message: e.to_string(),
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
