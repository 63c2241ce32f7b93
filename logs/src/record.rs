//! Physical lines to records: a record is one logical entry (a line, a stack trace, a Windows
//! event block) and always a contiguous byte range of one file, so checkpoints stay exact.

/// Most lines one record keeps; later lines are consumed but not kept.
pub const MAX_RECORD_LINES: usize = 200;
/// Most bytes of text one record keeps.
pub const MAX_RECORD_BYTES: usize = 32 * 1024;

/// One logical log entry: bytes `start..end` of file `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The file's id in the store.
    pub file: i64,
    /// Offset of the first byte.
    pub start: u64,
    /// Offset just past the last byte consumed (its newline included when the caller counts it).
    pub end: u64,
    /// The lines, joined by `\n`, possibly cut (then the last line says so).
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// A line plus its indented continuations.
    Lines,
    /// `wevtutil qe /f:text`: from `Event[N]:` to the next `Event[`.
    Wevtutil,
    /// PowerShell Format-List: properties up to a blank line not followed by an indented one.
    FormatList,
}

#[derive(Debug)]
struct Pending {
    start: u64,
    end: u64,
    text: String,
    lines: usize,
    dropped: usize,
    block: Block,
    /// Format-List only: a blank line was seen; the next line decides whether the block goes on.
    blank_seen: bool,
}

/// Groups the physical lines of one file into records.
#[derive(Debug)]
pub struct RecordAssembler {
    file: i64,
    pending: Option<Pending>,
}

fn is_wevtutil_start(line: &str) -> bool {
    line.strip_prefix("Event[").is_some_and(|rest| {
        rest.split_once("]:")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn is_format_list_start(line: &str) -> bool {
    // Default view starts with TimeCreated; `Format-List *` starts with Message.
    ["TimeCreated", "Message"].iter().any(|k| {
        line.strip_prefix(k)
            .is_some_and(|rest| rest.starts_with(' ') && rest.trim_start().starts_with(':'))
    })
}

impl RecordAssembler {
    /// An assembler for the file with store id `file`.
    pub fn new(file: i64) -> Self {
        RecordAssembler {
            file,
            pending: None,
        }
    }

    /// Feeds one physical line (without its newline) covering bytes start..end; returns the record this line completed, if any.
    pub fn push(&mut self, start: u64, end: u64, line: &str) -> Option<Record> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let blank = line.trim().is_empty();
        let indented = line.starts_with(' ') || line.starts_with('\t');

        if let Some(p) = self.pending.as_mut() {
            match p.block {
                Block::Wevtutil if !is_wevtutil_start(line) => {
                    append(p, end, line);
                    return None;
                }
                Block::FormatList => {
                    if blank {
                        p.blank_seen = true;
                        p.end = end;
                        return None;
                    }
                    if !p.blank_seen || indented {
                        // Message text wraps onto indented lines, blank ones included.
                        if p.blank_seen {
                            append(p, p.end, "");
                            p.blank_seen = false;
                        }
                        append(p, end, line);
                        return None;
                    }
                }
                Block::Lines if indented && !blank => {
                    append(p, end, line);
                    return None;
                }
                Block::Lines if blank => {
                    // The blank line ends the entry; it joins its byte range so spans stay contiguous.
                    p.end = end;
                    return self.take();
                }
                _ => {}
            }
        }
        let done = self.take();
        if blank {
            // A blank line outside any record: consumed, nothing to keep.
            return done;
        }
        let block = if is_wevtutil_start(line) {
            Block::Wevtutil
        } else if is_format_list_start(line) {
            Block::FormatList
        } else {
            Block::Lines
        };
        let mut p = Pending {
            start,
            end,
            text: String::new(),
            lines: 0,
            dropped: 0,
            block,
            blank_seen: false,
        };
        append(&mut p, end, line);
        self.pending = Some(p);
        done
    }

    /// The record still being assembled, completed now (end of input, or the file went idle).
    pub fn finish(&mut self) -> Option<Record> {
        self.take()
    }

    /// Start offset of the pending record, if any (the pipeline's checkpoint must not pass it).
    pub fn pending_start(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.start)
    }

    fn take(&mut self) -> Option<Record> {
        let p = self.pending.take()?;
        let mut text = p.text;
        // A wevtutil block keeps the blank lines between events; they carry nothing.
        let kept = text.trim_end_matches(['\n', ' ', '\t']).len();
        text.truncate(kept);
        if p.dropped > 0 {
            text.push_str(&format!(
                "\n[record cut: {} more lines not kept]",
                p.dropped
            ));
        }
        Some(Record {
            file: self.file,
            start: p.start,
            end: p.end,
            text,
        })
    }
}

fn append(p: &mut Pending, end: u64, line: &str) {
    p.end = end;
    let sep = usize::from(p.lines > 0);
    let room = MAX_RECORD_BYTES.saturating_sub(p.text.len() + sep);
    if p.lines >= MAX_RECORD_LINES || (p.dropped > 0) || room == 0 {
        p.dropped += 1;
        return;
    }
    if p.lines > 0 {
        p.text.push('\n');
    }
    if line.len() <= room {
        p.text.push_str(line);
        p.lines += 1;
    } else {
        // Cut on a character boundary so the text stays valid UTF-8.
        let mut cut = room;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        p.text.push_str(&line[..cut]);
        p.lines += 1;
        p.dropped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` as a file's bytes, newline-terminated lines, and collects every record.
    fn records(input: &str) -> Vec<Record> {
        let mut a = RecordAssembler::new(7);
        let mut out = Vec::new();
        let mut off = 0u64;
        for line in input.split_inclusive('\n') {
            let start = off;
            off += line.len() as u64;
            out.extend(a.push(start, off, line.trim_end_matches('\n')));
        }
        out.extend(a.finish());
        out
    }

    #[test]
    fn single_lines_are_records_and_blank_lines_are_consumed() {
        let r = records("a\nb\n\n\nc\n");
        let texts: Vec<_> = r.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c"]);
        assert_eq!((r[0].start, r[0].end), (0, 2));
        assert_eq!(
            (r[1].start, r[1].end),
            (2, 5),
            "the blank after b joins b's range"
        );
        assert_eq!((r[2].start, r[2].end), (6, 8));
        assert!(r.iter().all(|r| r.file == 7));
    }

    #[test]
    fn indented_lines_continue_a_stack_trace() {
        let input =
            "ERROR boom\njava.lang.X: y\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)\nINFO next\n";
        let r = records(input);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[1].text,
            "java.lang.X: y\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)"
        );
        assert_eq!(r[1].end, r[2].start);
    }

    #[test]
    fn pending_record_is_reported_until_completed() {
        let mut a = RecordAssembler::new(1);
        assert_eq!(a.pending_start(), None);
        assert!(a.push(0, 4, "one").is_none());
        assert_eq!(a.pending_start(), Some(0));
        let r = a.push(4, 8, "two").expect("one completes when two starts");
        assert_eq!((r.start, r.end, r.text.as_str()), (0, 4, "one"));
        assert_eq!(a.pending_start(), Some(4));
        assert_eq!(a.finish().map(|r| r.text), Some("two".to_string()));
        assert_eq!(a.pending_start(), None);
        assert!(a.finish().is_none());
    }

    const WEVTUTIL: &str = "Event[0]:\n  Log Name: Security\n  Event ID: 4625\n  Description: \nAn account failed to log on.\n\nSubject:\n\tAccount Name:\t\t-\n\nNetwork Information:\n\tSource Network Address:\t10.0.0.9\n\nEvent[1]:\n  Log Name: Security\n  Event ID: 4624\n";

    #[test]
    fn wevtutil_blocks_keep_blank_and_unindented_lines() {
        let r = records(WEVTUTIL);
        assert_eq!(r.len(), 2);
        assert!(r[0].text.starts_with("Event[0]:"));
        assert!(r[0].text.contains("An account failed"));
        assert!(r[0].text.ends_with("Source Network Address:\t10.0.0.9"));
        assert!(r[0].text.contains("\n\nSubject:"));
        assert_eq!(r[0].end, r[1].start);
        assert!(r[1].text.starts_with("Event[1]:"));
        assert_eq!(r[1].end as usize, WEVTUTIL.len());
    }

    #[test]
    fn format_list_blocks_run_to_a_blank_line() {
        let input = "\n\nTimeCreated  : 11/20/2026 10:15:02 AM\nProviderName : Microsoft-Windows-Security-Auditing\nId           : 4625\nMessage      : An account failed to log on.\n               \n               Subject:\n               \tAccount Name:\t\t-\n\nTimeCreated  : 11/20/2026 10:15:09 AM\nId           : 4624\nMessage      : An account was successfully logged on.\n\n";
        let r = records(input);
        assert_eq!(r.len(), 2, "{r:#?}");
        assert!(r[0].text.starts_with("TimeCreated"));
        assert!(r[0].text.contains("Id           : 4625"));
        assert!(r[0].text.ends_with("Account Name:\t\t-"));
        assert!(r[1].text.contains("4624"));
        assert_eq!(r[0].end, r[1].start);
    }

    #[test]
    fn records_are_capped_but_their_lines_consumed() {
        let mut input = String::from("Event[0]:\n");
        for i in 0..500 {
            input.push_str(&format!("  line {i}\n"));
        }
        input.push_str("Event[1]:\n");
        let r = records(&input);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].text.lines().count(), MAX_RECORD_LINES + 1);
        assert!(r[0].text.ends_with("[record cut: 301 more lines not kept]"));
        assert_eq!(r[1].text, "Event[1]:");
        assert_eq!(r[0].end, r[1].start);

        let huge = format!("{}\n", "é".repeat(40_000));
        let r = records(&huge);
        assert_eq!(r.len(), 1);
        assert!(r[0].text.len() < MAX_RECORD_BYTES + 100);
        assert!(r[0].text.contains("record cut"));
        assert_eq!(r[0].end as usize, huge.len());
    }

    #[test]
    fn crlf_and_orphan_continuations() {
        let r = records("  orphan\r\nnext\r\n");
        let texts: Vec<_> = r.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["  orphan", "next"]);
    }
}
