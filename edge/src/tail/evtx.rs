//! Windows event logs (`.evtx`) read natively, through the `evtx` crate.
//!
//! An `.evtx` file is a header and 64 KiB chunks of binary XML records, each with a record id
//! that only grows; a full log writes new chunks over its oldest ones. The records are therefore
//! addressed by record id, not by byte offset: a reader resumes at the first id after its
//! checkpoint, whether the file grew, wrapped around or was replaced by a newer copy of the same
//! log. Which log a file holds is its channel and computer (`Security` of `DC01`), read from its
//! oldest record: a newer copy of that log continues it, a log of another machine does not.
//!
//! Each record becomes one text record in the compact layout the model reads
//! ([`opensoc_logs::logline::compact_event`]), so windowing, templates and the store treat it
//! like any other log line.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use evtx::{EvtxChunkHeader, EvtxParser, IntoIterChunks, ParserSettings};
use opensoc_logs::logline::{compact_event, WindowsEvent};
use serde_json::Value;

use crate::tail::compression::Compression;

/// The file header's magic.
pub const MAGIC: &[u8] = b"ElfFile\0";
/// The file header's size: chunks start after it.
const FILE_HEADER: u64 = 4096;
/// A chunk's size, its header included.
const CHUNK: u64 = 65536;
/// A chunk header's size.
const CHUNK_HEADER: usize = 512;
/// Prefix of the identity of an event log (see [`Extent::head`]).
const HEAD_PREFIX: &[u8] = b"evtx\0";

/// Whether content starting with `head` is a Windows event log.
pub fn is_evtx(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Why an event log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EvtxError {
    /// Reading, decompressing or seeking failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file header is not an event log's.
    #[error("not a readable Windows event log: {0}")]
    Format(String),
}

/// An event log's content where the parser can seek in it: the file itself, or, for a
/// compressed log (`Security.evtx.gz`), its content decompressed into an anonymous temporary
/// file (removed when closed), since the parser jumps between chunks. Either way from the start.
pub fn seekable(mut file: File, compression: Compression) -> io::Result<File> {
    // The caller may have read the head through a clone, which moved this descriptor too.
    file.seek(SeekFrom::Start(0))?;
    if !compression.is_compressed() {
        return Ok(file);
    }
    let mut out = tempfile::tempfile()?;
    io::copy(&mut compression.reader(file)?, &mut out)?;
    out.seek(SeekFrom::Start(0))?;
    Ok(out)
}

/// What identifies an event log and how far its records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    /// `evtx\0CHANNEL\0COMPUTER` of the oldest readable record: the same for every copy of one
    /// machine's log, whatever it has grown to.
    pub head: Vec<u8>,
    /// One past the highest record id any chunk header names: the log's "size" in the units
    /// its checkpoints count.
    pub next_id: u64,
}

/// Reads the chunk headers (for the record ids) and the oldest record (for the identity).
pub fn extent(mut f: File) -> Result<Extent, EvtxError> {
    let len = f.seek(SeekFrom::End(0))?;
    let mut next_id = 0;
    let mut header = [0u8; CHUNK_HEADER];
    let mut offset = FILE_HEADER;
    while offset + CHUNK_HEADER as u64 <= len {
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut header)?;
        if let Ok(h) = EvtxChunkHeader::from_bytes(&header) {
            if h.first_event_record_id <= h.last_event_record_id {
                next_id = next_id.max(h.last_event_record_id.saturating_add(1));
            }
        }
        offset += CHUNK;
    }
    f.seek(SeekFrom::Start(0))?;
    let mut records = EvtxRecords::open(f, 0)?;
    let mut head = HEAD_PREFIX.to_vec();
    if let Some((_, event)) = records.next_event() {
        head.extend_from_slice(event.channel.as_bytes());
        head.push(0);
        head.extend_from_slice(event.computer.as_bytes());
        // The oldest record counts even where no chunk header names it (a damaged header).
        next_id = next_id.max(records.position());
    }
    Ok(Extent { head, next_id })
}

/// The records of an event log at and after a record id, oldest first, one chunk in memory at
/// a time.
pub struct EvtxRecords {
    chunks: IntoIterChunks<File>,
    settings: Arc<ParserSettings>,
    /// Records with lower ids were handled by an earlier run.
    from: u64,
    /// The decoded records of the current chunk not returned yet.
    pending: VecDeque<(u64, WindowsEvent)>,
    /// One past the highest record id returned (or `from`).
    position: u64,
    /// Records and chunks that could not be decoded, skipped.
    unreadable: u64,
}

impl EvtxRecords {
    /// Opens an event log to read the records whose id is `from` or more.
    pub fn open(f: File, from: u64) -> Result<EvtxRecords, EvtxError> {
        // One thread: a scan already keeps the cores busy with the model, and the records of
        // one chunk at a time bound the memory.
        let settings = ParserSettings::new().num_threads(1);
        let parser = EvtxParser::from_read_seek(f)
            .map_err(|e| EvtxError::Format(e.to_string()))?
            .with_configuration(settings.clone());
        // The parser reads on past a damaged header; a file whose header is not that of any
        // Windows version's log (3.x, 4,096-byte header block) is garbage behind a magic, and
        // its zeroed chunks would read as an empty log that passes for clean.
        let h = parser.header();
        if h.major_version != 3 || h.header_block_size as u64 != FILE_HEADER {
            return Err(EvtxError::Format(format!(
                "damaged file header (version {}.{}, header block {} bytes)",
                h.major_version, h.minor_version, h.header_block_size
            )));
        }
        Ok(EvtxRecords {
            chunks: parser.into_chunks(),
            settings: Arc::new(settings),
            from,
            pending: VecDeque::new(),
            position: from,
            unreadable: 0,
        })
    }

    /// One past the highest record id returned, or where reading started.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Records and chunks skipped because they could not be decoded.
    pub fn unreadable(&self) -> u64 {
        self.unreadable
    }

    /// The next record as the model reads it: its id and text; `None` at the end.
    pub fn next_record(&mut self) -> Option<(u64, String)> {
        self.next_event().map(|(id, e)| (id, compact_event(&e)))
    }

    fn next_event(&mut self) -> Option<(u64, WindowsEvent)> {
        loop {
            if let Some((id, event)) = self.pending.pop_front() {
                self.position = self.position.max(id.saturating_add(1));
                return Some((id, event));
            }
            let mut chunk = match self.chunks.next()? {
                Ok(c) => c,
                Err(_) => {
                    self.unreadable += 1;
                    continue;
                }
            };
            // A chunk wholly before the checkpoint is not decoded at all.
            if chunk.header.last_event_record_id < self.from
                && chunk.header.first_event_record_id <= chunk.header.last_event_record_id
            {
                continue;
            }
            let mut parsed = match chunk.parse(self.settings.clone()) {
                Ok(p) => p,
                Err(_) => {
                    self.unreadable += 1;
                    continue;
                }
            };
            for record in parsed.iter() {
                let Ok(record) = record else {
                    self.unreadable += 1;
                    continue;
                };
                if record.event_record_id < self.from {
                    continue;
                }
                match record.into_json_value() {
                    Ok(r) => match event_of(&r.data) {
                        Some(e) => self.pending.push_back((r.event_record_id, e)),
                        None => self.unreadable += 1,
                    },
                    Err(_) => self.unreadable += 1,
                }
            }
        }
    }
}

/// A record's JSON rendering (`{"Event": {"System": …, "EventData": …}}`) as a [`WindowsEvent`].
fn event_of(v: &Value) -> Option<WindowsEvent> {
    let event = v.get("Event")?;
    let system = event.get("System")?;
    let id = system
        .get("EventID")
        .and_then(text)
        .and_then(|s| s.parse().ok())?;
    let attr = |node: &str, name: &str| {
        system
            .get(node)
            .and_then(|n| n.get("#attributes"))
            .and_then(|a| a.get(name))
            .and_then(text)
    };
    let mut data = Vec::new();
    for section in ["EventData", "UserData"] {
        if let Some(s) = event.get(section) {
            collect_data(s, &mut data, 0);
        }
    }
    Some(WindowsEvent {
        id,
        time: attr("TimeCreated", "SystemTime"),
        channel: system.get("Channel").and_then(text).unwrap_or_default(),
        provider: attr("Provider", "Name").unwrap_or_default(),
        computer: system.get("Computer").and_then(text).unwrap_or_default(),
        user_sid: attr("Security", "UserID"),
        data,
    })
}

/// A scalar as text: strings, numbers and booleans, or an element's `#text`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => o.get("#text").and_then(text),
        _ => None,
    }
}

/// Deepest nesting of `UserData` followed; real events nest two levels.
const MAX_DEPTH: usize = 4;

/// The named fields of an `EventData` or `UserData` section. Unnamed `<Data>` values (classic
/// providers such as PowerShell's 400) become `Data1`, `Data2` ….
fn collect_data(v: &Value, out: &mut Vec<(String, String)>, depth: usize) {
    let Value::Object(fields) = v else { return };
    for (name, value) in fields {
        if name.starts_with('#') {
            continue;
        }
        match value {
            Value::Object(o) if !o.contains_key("#text") && depth < MAX_DEPTH => {
                collect_data(value, out, depth + 1)
            }
            _ if name == "Data" => {
                let items = match value.get("#text").unwrap_or(value) {
                    Value::Array(items) => items.iter().filter_map(text).collect(),
                    other => text(other).into_iter().collect::<Vec<_>>(),
                };
                for (i, item) in items.into_iter().enumerate() {
                    out.push((format!("Data{}", i + 1), item));
                }
            }
            _ => {
                if let Some(t) = text(value) {
                    out.push((name.clone(), t));
                }
            }
        }
    }
}
