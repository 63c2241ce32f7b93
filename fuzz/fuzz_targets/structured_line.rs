//! Arbitrary bytes as one log record (a JSON server log line, an auditd record, a Windows event
//! exported as text, or anything else) through the record parser, the compact JSON access-line
//! rendering and the compact Windows-event rendering. None may panic, overflow or run away.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opensoc_logs::logline::{json_access_line, parse, windows_event_compact};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let p = parse(&text, 2026);
    let _ = (p.format.as_str(), p.time, p.host.as_deref());
    if let Some(e) = &p.entity {
        let _ = e.to_string();
    }
    let _ = format!("{:?}", p.event);
    if let Some(line) = json_access_line(&text, 2026) {
        // The compact line is read by the same parser.
        let _ = parse(&line, 2026);
    }
    if let Some(line) = windows_event_compact(&text) {
        let _ = parse(&line, 2026);
    }
});
