//! Requests that carry parameter values, the records of a window worth judging alone.
//!
//! An injection lives in a parameter value. A small model that reads one injected request
//! among ordinary ones tends to read the window as ordinary, and one injected request among
//! many probes as probing; judged alone, the request shows what it is. The analyzer
//! (`AnalyzerOptions::request_check`) and the search for a second stage (`stages`) both use
//! the records chosen here.

use std::collections::HashSet;

use crate::analyze::facts::request_of;

/// Most requests of one window judged alone: a bound on the extra model calls per window.
pub const MAX_ALONE: usize = 3;

/// The indices of the records that are requests with distinct parameter values, latest
/// first (a later request is likelier to be the attack that probing led to), at most
/// [`MAX_ALONE`].
pub fn parameter_requests(records: &[&str]) -> Vec<usize> {
    let mut targets = HashSet::new();
    (0..records.len())
        .rev()
        .filter(|&i| parameter_target(records[i]).is_some_and(|t| targets.insert(t)))
        .take(MAX_ALONE)
        .collect()
}

/// The request of an HTTP log record (`GET /item?id=7`) whose query carries a parameter
/// value, if it is one.
fn parameter_target(record: &str) -> Option<String> {
    let request = request_of(record)?;
    let query = request.split_once('?')?.1;
    query.contains('=').then_some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> String {
        format!(
            "203.0.113.9 - - [05/Mar/2025:10:00:01 +0000] \"GET {target} HTTP/1.1\" 404 12 \"-\" \"curl/8.5.0\""
        )
    }

    #[test]
    fn only_requests_with_parameter_values_count() {
        assert_eq!(
            parameter_target(&request("/item?id=7")).as_deref(),
            Some("GET /item?id=7")
        );
        assert_eq!(parameter_target(&request("/item?7")), None);
        assert_eq!(parameter_target(&request("/wp-login.php")), None);
        assert_eq!(
            parameter_target("Mar 15 02:14:01 server sshd[1234]: Failed password for root"),
            None
        );
    }

    #[test]
    fn latest_first_distinct_and_bounded() {
        let lines = [
            request("/a?x=1"),
            request("/static/site.css"),
            request("/b?y=2"),
            request("/a?x=1"),
            request("/c?z=3"),
            request("/d?w=4"),
        ];
        let records: Vec<&str> = lines.iter().map(String::as_str).collect();
        // /d, /c, then /a (index 3; its repeat at 0 is skipped), and no more than three.
        assert_eq!(parameter_requests(&records), vec![5, 4, 3]);
        assert_eq!(parameter_requests(&records[..3]), vec![2, 0]);
        assert!(parameter_requests(&records[1..2]).is_empty());
    }
}
