//! Arbitrary bytes as a Windows event log (`.evtx`), read the way the agent reads a log file:
//! its identity (channel, computer and next record id, from the chunk headers and the oldest
//! record), then every record from the start, then the records from a record id taken from the
//! input (a resumed checkpoint). Errors are expected; panics, aborts, hangs and unbounded
//! allocation are not.
//!
//! The evtx reader takes a seekable `File`, so the bytes go into a temporary file (in /dev/shm
//! where there is one): one per process, written for each input and removed after it.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use opensoc_edge::tail::compression::Compression;
use opensoc_edge::tail::discover::LogFile;
use opensoc_edge::tail::identity::identify;
use opensoc_edge::tail::line_reader::LineReader;

/// More records than any input of max_len bytes can hold: a reader that returns more loops.
const MAX_RECORDS: usize = 1 << 20;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() { shm } else { std::env::temp_dir() };
        dir.join(format!("opensoc-fuzz-evtx-{}.evtx", std::process::id()))
    })
}

/// Reads every record from `from` on; the record ids seen.
fn read_all(file: &LogFile, from: u64, evtx: bool) -> Vec<u64> {
    let mut ids = Vec::new();
    let Ok(mut reader) = LineReader::open(file, from) else {
        return ids;
    };
    let _ = reader.encoding();
    let mut last = reader.position();
    for _ in 0..MAX_RECORDS {
        match reader.next_line(true) {
            Ok(Some(line)) => {
                assert!(line.start <= line.end, "record {}..{}", line.start, line.end);
                // Record ids (a text file's offsets are aligned down to its code unit).
                if evtx {
                    assert!(line.start >= from, "record {} before {from}", line.start);
                }
                ids.push(line.start);
                let _ = line.text.len();
                // Positions (record ids) never go back.
                let now = reader.position();
                assert!(now >= last, "position went back from {last} to {now}");
                last = now;
            }
            Ok(None) => return ids,
            // The damaged records are reported once; after that the reader is at its end.
            Err(_) => {
                assert!(matches!(reader.next_line(true), Ok(None) | Err(_)));
                return ids;
            }
        }
    }
    panic!("more than {MAX_RECORDS} records from {} bytes", file.path.display());
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).expect("write the temporary file");
    let file = LogFile {
        path: path.clone(),
        group: path.display().to_string(),
        compression: Compression::None,
        live: false,
    };
    let identity = identify(&file).ok();
    let evtx = data.starts_with(opensoc_edge::tail::evtx::MAGIC);
    let ids = read_all(&file, 0, evtx);

    // Resumed at a record id: the header's "next record id" field as the input has it, one of
    // the ids just read, the identity's size (the checkpoint of a log read to its end).
    let mut starts = Vec::new();
    if let Some(b) = data.get(24..32) {
        starts.push(u64::from_le_bytes(b.try_into().unwrap()));
    }
    if !ids.is_empty() {
        starts.push(ids[data.len() % ids.len()]);
    }
    if let Some(id) = &identity {
        starts.push(id.size);
    }
    starts.push(u64::MAX);
    for from in starts {
        read_all(&file, from, evtx);
    }
    // Not left behind after the run (a crashing input leaves it, and the artifact has it too).
    let _ = std::fs::remove_file(path);
});
