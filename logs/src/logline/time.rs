//! Times of log records: calendar maths and the timestamp grammars logs use (ISO 8601, RFC
//! 3164, the common log format, epochs, PowerShell's US dates), read into UTC seconds.

use std::sync::LazyLock;

use regex::Regex;

pub(super) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm: exact for the proleptic Gregorian calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Year, month, day of a day count since 1970-01-01 (the inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Unix seconds as RFC 3339 in UTC, to the second (`2026-11-27T09:23:00Z`); `None` when the
/// year is not one of four digits, which RFC 3339 cannot write.
pub fn rfc3339(t: i64) -> Option<String> {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let s = t.rem_euclid(86_400);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    ))
}

/// Unix seconds from civil fields, or None when any field is out of range.
pub(super) fn unix_time(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    // Years outside 1..=9999 are garbage in logs and would only risk overflow.
    if !(1..=9999).contains(&y) || !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    // 60 allows a leap second; it lands on the next minute, which is close enough.
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

pub(super) fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// Zone offset in seconds from `Z`, `+01:00`, `+0100` or `-07`.
fn zone_offset(z: &str) -> Option<i64> {
    if z.is_empty() || z.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match z.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (num::<i64>(&digits)?, 0),
        4 => (num::<i64>(&digits[..2])?, num::<i64>(&digits[2..])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

static ISO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s?(Z|z|[+-]\d{2}(?::?\d{2})?)?",
    )
    .expect("static regex")
});

/// A leading RFC 3339 / ISO 8601 stamp: its unix time and its length in bytes.
pub(super) fn parse_iso_prefix(s: &str) -> Option<(i64, usize)> {
    let c = ISO_RE.captures(s)?;
    let field = |i: usize| c.get(i).map(|m| m.as_str()).unwrap_or("0");
    let t = unix_time(
        num(field(1))?,
        num(field(2))?,
        num(field(3))?,
        num(field(4))?,
        num(field(5))?,
        num(field(6))?,
    )?;
    let off = zone_offset(c.get(7).map(|m| m.as_str()).unwrap_or(""))?;
    Some((t - off, c.get(0)?.end()))
}

/// A whole-string RFC 3339 stamp.
pub(super) fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let (t, len) = parse_iso_prefix(s)?;
    (len == s.len()).then_some(t)
}

static CLF_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\s+([+-]\d{4}))?$")
        .expect("static regex")
});

/// `10/Oct/2026:13:55:36 -0700`, zone optional (then UTC).
pub(super) fn parse_clf_time(s: &str) -> Option<i64> {
    let c = CLF_TIME_RE.captures(s.trim())?;
    let t = unix_time(
        num(&c[3])?,
        month_number(&c[2])?,
        num(&c[1])?,
        num(&c[4])?,
        num(&c[5])?,
        num(&c[6])?,
    )?;
    let off = zone_offset(c.get(7).map(|m| m.as_str()).unwrap_or(""))?;
    Some(t - off)
}

pub(super) static BSD_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?")
        .expect("static regex")
});

/// A leading RFC 3164 stamp (`Nov 28 10:00:01`) in `year`: its time and length.
pub(super) fn parse_bsd_prefix(s: &str, year: i32) -> Option<(i64, usize)> {
    let c = BSD_TIME_RE.captures(s)?;
    let t = unix_time(
        year as i64,
        month_number(&c[1])?,
        num(&c[2])?,
        num(&c[3])?,
        num(&c[4])?,
        num(&c[5])?,
    )?;
    Some((t, c.get(0)?.end()))
}

/// Epoch seconds, or milli-, micro- or nanoseconds when the number is too large to be seconds.
pub(super) fn epoch(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    // Seconds reach 1e11 only in the year 5138; beyond that it is milliseconds, microseconds
    // (journald) or nanoseconds (Caddy's `unix_nano`).
    let secs = if n < 1e11 {
        n
    } else if n < 1e14 {
        n / 1e3
    } else if n < 1e17 {
        n / 1e6
    } else if n < 1e20 {
        n / 1e9
    } else {
        return None;
    };
    Some(secs as i64)
}

static US_TIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})([/.])(\d{1,2})[/.](\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\s*([AaPp])\.?[Mm]\.?)?$")
        .expect("static regex")
});

/// PowerShell's `TimeCreated`: `11/20/2026 10:15:02 AM` (US), or `20.11.2026 10:15:02` (dotted day first).
pub(super) fn parse_powershell_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_iso(s) {
        return Some(t);
    }
    let c = US_TIME_RE.captures(s)?;
    let (a, b): (u32, u32) = (num(&c[1])?, num(&c[3])?);
    let (month, day) = if &c[2] == "." { (b, a) } else { (a, b) };
    let mut hour: u32 = num(&c[5])?;
    if let Some(ampm) = c.get(8) {
        if hour == 0 || hour > 12 {
            return None;
        }
        let pm = ampm.as_str().eq_ignore_ascii_case("p");
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    unix_time(num(&c[4])?, month, day, hour, num(&c[6])?, num(&c[7])?)
}

struct StampPatterns {
    ymd: Regex,
    ymd_compact: Regex,
    ctime: Regex,
    mdy_named: Regex,
    dmy_named: Regex,
    numeric: Regex,
    yymmdd: Regex,
    epoch: Regex,
    audit: Regex,
}

static STAMP: LazyLock<StampPatterns> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("static regex");
    const CLOCK: &str = r"(\d{1,2}):(\d{2}):(\d{2})(?:[.,]\d+)?";
    const ZONE: &str = r"(?:\s?(Z|[+-]\d{2}:?\d{2})\b)?";
    StampPatterns {
        // nginx `2012/04/09 11:53:29`, stunnel `2011.11.21 14:29:16`, `2014:07:02-00:17:45`.
        ymd: re(&format!(
            r"^(\d{{4}})([/.:])(\d{{1,2}})[/.:](\d{{1,2}})(?:[ T]+|-){CLOCK}{ZONE}"
        )),
        // xrdp `20220407-12:11:06`.
        ymd_compact: re(&format!(r"^(\d{{4}})(\d{{2}})(\d{{2}})[-T ]{CLOCK}")),
        // apache error log and ctime: `Thu Jul 11 01:21:41.123 2013`.
        ctime: re(&format!(
            r"^[A-Z][a-z]{{2}},? +([A-Z][a-z]{{2}}) +(\d{{1,2}}) +{CLOCK} +(\d{{4}})\b"
        )),
        // `Oct 27 2015 12:35:40`, assp `Apr-07-13 07:08:36`.
        mdy_named: re(&format!(
            r"^([A-Z][a-z]{{2}})[ -]+(\d{{1,2}}),?[ -]+(\d{{4}}|\d{{2}}),? +{CLOCK}"
        )),
        // roundcube `22-Jan-2013 22:28:21 +0200`, kerio `17/Jun/2011 17:00:45`.
        dmy_named: re(&format!(
            r"^(\d{{1,2}})[-/ ]([A-Za-z]{{3}})[a-z]*\.?[-/ ](\d{{4}})[: ]{CLOCK}(?: ?([+-]\d{{4}}))?"
        )),
        // `10/06/2013 15:50:41` (month first), `11-06-2013 02:09:40 +0300` (day first).
        numeric: re(&format!(
            r"^(\d{{1,2}})([-/.])(\d{{1,2}})[-/.](\d{{4}})[ ,-]+{CLOCK}(?: ?([+-]\d{{4}}))?"
        )),
        // MySQL `130324  0:04:00`.
        yymmdd: re(&format!(r"^(\d{{2}})(\d{{2}})(\d{{2}}) +{CLOCK}")),
        // squid `1386543323.000`, nsd `[1387288694]`.
        epoch: re(r"^(\d{9,10}(?:\.\d+)?)(?:\]|\s|$)"),
        // auditd `msg=audit(1373330717.000:4070)`.
        audit: re(r"\baudit\((\d{9,10}(?:\.\d+)?):\d+\)"),
    }
});

/// The time a line that is not syslog starts with, in the layouts that services write:
/// ISO 8601, RFC 3164 (in `year`), `2012/04/09 11:53:29`, ctime, `22-Jan-2013 22:28:21`,
/// numeric dates, MySQL's `YYMMDD`, epoch seconds, TAI64N and auditd's `audit(…)`. A leading
/// `[`, `<W>` or `t=` is skipped; stamps without a zone are taken as UTC.
pub(super) fn parse_leading_time(line: &str, year: i32) -> Option<i64> {
    let s = line.trim_start();
    // daemontools/runit: `@4000000050d8b8b1…`, TAI64 seconds plus nanoseconds in hex.
    if let Some(hex) = s.strip_prefix('@').and_then(|h| h.get(..16)) {
        if let Ok(tai) = u64::from_str_radix(hex, 16) {
            if let Some(secs) = tai.checked_sub(1 << 62).filter(|&s| s < 1 << 40) {
                return Some(secs as i64);
            }
        }
    }
    let s = s.strip_prefix('[').unwrap_or(s);
    let s = match s.split_once('>') {
        Some((pri, rest)) if s.starts_with('<') && pri.len() <= 4 => rest,
        _ => s,
    };
    let s = ["t=", "ts=", "time=", "timestamp="]
        .iter()
        .find_map(|k| s.strip_prefix(k))
        .map_or(s, |r| r.trim_start_matches('"'));
    if let Some((t, _)) = parse_iso_prefix(s) {
        return Some(t);
    }
    let p = &*STAMP;
    let n = |c: &regex::Captures<'_>, i: usize| c.get(i).and_then(|m| num::<u32>(m.as_str()));
    let zoned = |t: i64, zone: Option<regex::Match<'_>>| {
        Some(t - zone_offset(zone.map_or("", |m| m.as_str()))?)
    };
    if let Some(c) = p.ymd.captures(s) {
        let t = unix_time(
            num(&c[1])?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
            n(&c, 7)?,
        )?;
        return zoned(t, c.get(8));
    }
    if let Some(c) = p.ymd_compact.captures(s) {
        return unix_time(
            num(&c[1])?,
            n(&c, 2)?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        );
    }
    if let Some(c) = p.ctime.captures(s) {
        return unix_time(
            num(&c[6])?,
            month_number(&c[1])?,
            n(&c, 2)?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
        );
    }
    if let Some((t, _)) = parse_bsd_prefix(s, year) {
        return Some(t);
    }
    if let Some(c) = p.mdy_named.captures(s) {
        let y: i64 = num(&c[3])?;
        let y = if c[3].len() == 2 { 2000 + y } else { y };
        return unix_time(
            y,
            month_number(&c[1])?,
            n(&c, 2)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        );
    }
    if let Some(c) = p.dmy_named.captures(s) {
        let t = unix_time(
            num(&c[3])?,
            month_number(&c[2])?,
            n(&c, 1)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        )?;
        return zoned(t, c.get(7));
    }
    if let Some(c) = p.numeric.captures(s) {
        let (a, b) = (n(&c, 1)?, n(&c, 3)?);
        // Slashes are American (month first) unless the first number cannot be a month.
        let (month, day) = if &c[2] == "/" && a <= 12 {
            (a, b)
        } else {
            (b, a)
        };
        let t = unix_time(num(&c[4])?, month, day, n(&c, 5)?, n(&c, 6)?, n(&c, 7)?)?;
        return zoned(t, c.get(8));
    }
    if let Some(c) = p.yymmdd.captures(s) {
        return unix_time(
            2000 + i64::from(n(&c, 1)?),
            n(&c, 2)?,
            n(&c, 3)?,
            n(&c, 4)?,
            n(&c, 5)?,
            n(&c, 6)?,
        );
    }
    if let Some(c) = p.epoch.captures(s) {
        return c[1].parse::<f64>().ok().and_then(epoch);
    }
    p.audit
        .captures(s)
        .and_then(|c| c[1].parse::<f64>().ok())
        .and_then(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_writes_utc_to_the_second_and_refuses_other_years() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_795_860_001).as_deref(),
            Some("2026-11-28T10:00:01Z")
        );
        assert_eq!(rfc3339(-1).as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(rfc3339(253_402_300_800), None);
        assert_eq!(rfc3339(-62_167_219_201), None);
    }
}
