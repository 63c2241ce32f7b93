//! RFC 4180 CSV text read into records: the labelled data the agent's checks and the trainer's
//! builder read (Loghub's structured files, the HTTP payload set) is small and quoted simply,
//! so a few lines serve where a crate would add a dependency.

/// Every record of `text`; quoted fields may hold commas, doubled quotes and newlines, and a
/// `\r` outside quotes is dropped.
pub fn records(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_hold_commas_quotes_and_newlines() {
        let rows = records("a,b\r\n\"x, \"\"y\"\"\",2\n\"multi\nline\",3\nlast,4");
        assert_eq!(rows[0], vec!["a", "b"]);
        assert_eq!(rows[1], vec!["x, \"y\"", "2"]);
        assert_eq!(rows[2], vec!["multi\nline", "3"]);
        assert_eq!(rows[3], vec!["last", "4"]);
        assert_eq!(rows.len(), 4);
        assert!(records("").is_empty());
    }
}
