//! Percent-decoding of URL text as attackers write it: escapes decoded twice, `+` as a space.

/// `s` with `%XX` escapes decoded twice (double encoding is a common evasion) and `+` read as
/// a space; invalid escapes and non-UTF-8 results are kept as they were.
pub fn decode(s: &str) -> String {
    let once = percent_decode(s);
    let twice = percent_decode(&once);
    twice.replace('+', " ")
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_twice_and_bad_escapes() {
        assert_eq!(decode("%252e%252e%2f"), "../");
        assert_eq!(decode("a+b%zz%"), "a b%zz%");
    }
}
