//! Arbitrary bytes as systemd journal output (`journalctl -o export` or `-o json`), converted
//! to syslog lines the ways opensoc reads it: as stdin (`text_or_journal`, which recognises the
//! format from the first bytes), and through the converter in each format, from the start and
//! resumed at a checkpoint taken from the input, read by the line reader with its cursors noted.
//! Errors are expected; panics, aborts, hangs and unbounded allocation are not.
#![no_main]

use std::io::{Cursor, Read};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use opensoc_edge::tail::journal::{
    recognise, text_or_journal, Converter, Marks, Resume, StreamFormat,
};
use opensoc_edge::tail::line_reader::LineReader;

/// More lines than any input can make: a reader that returns more loops.
const MAX_LINES: usize = 1 << 22;

/// Reads all lines of `reader`; the position after the last.
fn drain(mut reader: LineReader) -> u64 {
    let mut last = reader.position();
    for _ in 0..MAX_LINES {
        match reader.next_line(true) {
            Ok(Some(line)) => {
                assert!(line.start <= line.end, "line {}..{}", line.start, line.end);
                assert!(line.text.len() <= 4 * (line.end - line.start) as usize + 4);
                let now = reader.position();
                assert!(now >= last, "position went back from {last} to {now}");
                last = now;
            }
            Ok(None) | Err(_) => return last,
        }
    }
    panic!("more than {MAX_LINES} lines");
}

/// The converted stream, read through whole.
fn convert(data: &[u8], format: StreamFormat, resume: &Resume) -> Vec<u8> {
    let mut out = Vec::new();
    let mut c = Converter::new(Cursor::new(data), format, resume, None);
    let mut batch = Vec::new();
    for _ in 0..MAX_LINES {
        match c.next_batch(&mut batch) {
            Ok(true) => out.extend_from_slice(&batch),
            Ok(false) | Err(_) => return out,
        }
    }
    panic!("more than {MAX_LINES} batches");
}

fuzz_target!(|data: &[u8]| {
    let name = Path::new("journal");
    let _ = recognise(data);

    // Stdin: recognised (or passed through as text) and read by the line reader.
    let stdin = text_or_journal(Box::new(Cursor::new(data.to_vec())));
    drain(LineReader::from_stream(name, stdin));

    for format in [StreamFormat::Export, StreamFormat::Json] {
        // From the start, as `scan --journal` reads it; every line's cursor noted.
        let marks = Marks::default();
        let c = Converter::new(
            Cursor::new(data.to_vec()),
            format,
            &Resume::default(),
            Some(marks.clone()),
        );
        let end = drain(LineReader::from_stream_at(name, Box::new(c), 0));
        // Every mark lies at or before the end of what was read; taking them empties the queue.
        if let Some((offset, _cursor)) = marks.take_upto(u64::MAX) {
            assert!(offset <= end, "mark at {offset} past the end {end}");
        }
        assert!(marks.is_empty());

        // The whole conversion, then resumed at a checkpoint inside it (after the first line,
        // or at a place the input picks): the lines passed on are the tail of the whole.
        let whole = convert(data, format, &Resume::default());
        let picked = data.first().map_or(0, |&b| b as usize * whole.len() / 255) as u64;
        let first_line = memchr_nl(&whole).map_or(0, |i| i as u64 + 1);
        for checkpoint in [first_line, picked] {
            let resume = Resume {
                cursor: Some("s=0".into()),
                cursor_offset: 0,
                checkpoint,
            };
            let tail = convert(data, format, &resume);
            // Exactly once: the resumed stream is the whole one's lines from the checkpoint on.
            assert!(
                whole.ends_with(&tail),
                "resumed at {checkpoint}: {} bytes that are not the tail of the whole {}",
                tail.len(),
                whole.len()
            );
            let c = Converter::new(Cursor::new(data.to_vec()), format, &resume, None);
            drain(LineReader::from_stream_at(name, Box::new(c), checkpoint));
        }
        let mut rest = Vec::new();
        let _ = Converter::new(Cursor::new(data), format, &Resume::default(), None)
            .read_to_end(&mut rest);
    }
});

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}
