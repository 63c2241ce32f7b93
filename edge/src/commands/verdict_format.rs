//! How stored verdicts are shown to a person at a terminal: escaped text, coloured
//! severities and text tables (the formats for programs, JSON and CSV, are the library's
//! [`opensoc_edge::store::export`]).

use opensoc::task::verdict::Severity;

/// `s` safe to print on a terminal: control characters (escape sequences, newlines that would
/// start a fake row, C1 controls) and the invisible marks that reorder text are written as
/// escapes (`\x1b`, `\n`, `\u{202e}`). Log text, entities and file names are the attacker's.
pub fn terminal_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// The SGR colour of a severity on a terminal: LOW green, MEDIUM
/// yellow, HIGH red, CRITICAL bold white on red.
pub fn severity_sgr(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "32",
        Severity::Medium => "33",
        Severity::High => "31",
        Severity::Critical => "1;97;41",
    }
}

/// Whether stdout gets colour: a terminal, and no `NO_COLOR`, so that
/// a pipe, a file or a cron mail never holds escape sequences.
pub fn stdout_wants_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A recommendation shortened for a table cell: its first step (the taxonomy numbers them
/// `1) … 2) …`) or first sentence, cut at a word to at most `max` characters, with `…` when
/// anything was left out, so that the cell says `inspect` has more to show.
pub fn short_recommendation(text: &str, max: usize) -> String {
    let text = terminal_text(text.trim());
    let body = text.strip_prefix("1) ").unwrap_or(&text);
    let step = body.split(" 2) ").next().unwrap_or(body);
    let first = match step.find(". ") {
        Some(i) => &step[..=i],
        None => step,
    }
    .trim_end();
    let room = max.saturating_sub(2);
    if first.chars().count() <= room {
        return if first.len() < body.trim_end().len() {
            format!("{first} …")
        } else {
            first.to_string()
        };
    }
    let cut: String = first.chars().take(room).collect();
    // At the last space, unless that leaves almost nothing (one very long word).
    let cut = match cut.rfind(' ') {
        Some(i) if i > room / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{} …", cut.trim_end())
}

/// A text table: the header row, then rows, each column padded to its widest cell; every
/// cell goes through [`terminal_text`].
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    styled_table(header, rows, |_, _| None)
}

/// [`table`] with some cells coloured: `style(column, cell)` gives an SGR code. The code
/// wraps the text and not the padding, whose width is counted without it, so the columns
/// stay aligned.
pub fn styled_table(
    header: &[&str],
    rows: &[Vec<String>],
    style: impl Fn(usize, &str) -> Option<&'static str>,
) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal_text(c)).collect())
        .collect();
    let rows = &rows;
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>, styled: bool| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&width)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = " ".repeat(w.saturating_sub(c.chars().count()));
                match style(i, c).filter(|_| styled) {
                    Some(code) => format!("\x1b[{code}m{c}\x1b[0m{pad}"),
                    None => format!("{c}{pad}"),
                }
            })
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), false);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), true);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opensoc_edge::store::export::parse_severity;

    #[test]
    fn terminal_text_escapes_controls_and_reordering_marks() {
        assert_eq!(
            terminal_text("a\u{1b}]0;x\u{7}\u{1b}[2J\nLOW  No Threat\u{202e}b\u{9b}c"),
            "a\\x1b]0;x\\x07\\x1b[2J\\nLOW  No Threat\\u{202e}b\\u{9b}c"
        );
        assert_eq!(terminal_text("203.0.113.9 ünïcode"), "203.0.113.9 ünïcode");
        let t = table(&["entity"], &[vec!["x\ny".to_string()]]);
        assert_eq!(t.lines().count(), 2, "{t}");
    }

    #[test]
    fn table_columns_are_padded_to_the_widest_cell() {
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\nxxx  y\n");
    }

    #[test]
    fn styled_cells_keep_the_columns_aligned() {
        let rows = vec![
            vec!["1".to_string(), "HIGH".to_string(), "x".to_string()],
            vec!["2".to_string(), "CRITICAL".to_string(), "y".to_string()],
        ];
        let plain = table(&["id", "severity", "e"], &rows);
        let styled = styled_table(&["id", "severity", "e"], &rows, |col, cell| {
            (col == 1).then(|| severity_sgr(parse_severity(cell).unwrap_or(Severity::Low)))
        });
        assert!(styled.contains("\x1b[31mHIGH\x1b[0m    "), "{styled:?}");
        assert!(
            styled.contains("\x1b[1;97;41mCRITICAL\x1b[0m"),
            "{styled:?}"
        );
        let stripped = styled
            .replace("\x1b[31m", "")
            .replace("\x1b[1;97;41m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
        assert!(plain.starts_with("id  severity  e\n"), "{plain}");
    }

    #[test]
    fn recommendations_are_shortened_to_their_first_step() {
        assert_eq!(
            short_recommendation("1) Block the source IP 2) Lock accounts 3) Enable MFA", 60),
            "Block the source IP …"
        );
        assert_eq!(
            short_recommendation("block the address", 60),
            "block the address"
        );
        let long = short_recommendation(&"word ".repeat(40), 20);
        assert_eq!(long, "word word word …");
        assert_eq!(
            short_recommendation(
                "No immediate action required. Continue standard monitoring.",
                60
            ),
            "No immediate action required. …"
        );
        assert_eq!(
            short_recommendation(&"x".repeat(30), 10),
            format!("{} …", "x".repeat(8))
        );
        assert_eq!(
            short_recommendation("\u{1b}[2Jwipe", 60),
            "\\x1b[2Jwipe",
            "escaped before it is cut"
        );
    }
}
