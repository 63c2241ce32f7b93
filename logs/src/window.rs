//! Records to windows: the records of one entity in one log within a time span, closed by span,
//! size, idleness or a flush, with a summary line in the training data's bracket style.

use crate::logline::{Entity, EntityKind, Event, LogFormat, ParsedLine};
use crate::record::Record;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// When windows close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowConfig {
    /// Longest log-time span from a window's first record to its last.
    pub span_secs: i64,
    /// Quiet time after which a window closes.
    pub idle_secs: i64,
    /// Most records in one window.
    pub max_records: usize,
    /// Most bytes of record text in one window.
    pub max_bytes: usize,
    /// Most windows open at once (a flood of distinct addresses must not grow memory without
    /// bound): past it, the oldest tenth are closed early.
    pub max_open: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            span_secs: 300,
            // A visitor reads a page for a minute or two between requests; shorter splits one
            // visit into many one-line windows that tell the model little.
            idle_secs: 120,
            max_records: 50,
            max_bytes: 8192,
            max_open: 10_000,
        }
    }
}

/// A closed window: the analyzer's unit of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The log's group (base name).
    pub group: String,
    /// The entity all records share; None when keyed by format.
    pub entity: Option<Entity>,
    /// The first record's format.
    pub format: LogFormat,
    /// The records, in arrival order.
    pub records: Vec<Record>,
    /// Earliest log time among the records.
    pub first_time: Option<i64>,
    /// Latest log time among the records.
    pub last_time: Option<i64>,
    /// The bracketed summary line, for windows of two or more records.
    pub summary: Option<String>,
}

impl Window {
    /// Each record's text as the analyzer reads it (Windows events in the compact layout).
    pub fn record_texts(&self) -> Vec<String> {
        // A JSON access record (Caddy, Traefik, nginx/Apache JSON layouts) becomes the combined
        // log line it stands for: the model and the request facts read that layout, and a
        // JSON record's year, when its stamp lacks one, is the window's.
        let year = self.first_time.map_or(1970, |t| {
            crate::logline::civil_from_days(t.div_euclid(86_400)).0 as i32
        });
        self.records
            .iter()
            .map(|r| {
                crate::logline::windows_event_compact(&r.text)
                    .or_else(|| crate::logline::json_access_line(&r.text, year))
                    .unwrap_or_else(|| r.text.clone())
            })
            .collect()
    }

    /// The analyzer's input: the records' text, then the summary line last. Records of one
    /// template are written once, so that a window of fifty near-identical lines costs the
    /// model a few lines of prefill.
    ///
    /// Records whose text masks to the same template ([`crate::template::mask`]: addresses,
    /// numbers, stamps and ids masked, words and payload punctuation kept) are written where
    /// the first of them stood, as that first record's own text behind a count marker
    /// ([`opensoc::task::prompt::repeat_prefix`]): `[×37] Mar  5 10:00:01 host sshd[123]: Failed
    /// password for root from 1.2.3.4 port 4242 ssh2`. The text is a real line, so evidence
    /// that quotes it quotes the log. The marker is a prefix because the start of a log line
    /// is the logger's (a timestamp, a client address), not the attacker's: text inside a
    /// line cannot pass for a count, and the facts ([`opensoc::analyze::facts`]) read one only at the
    /// start. Each line of a multi-line record carries it, since the reader counts by line
    /// (a Windows event's failure is on its `Description:` line). A record of its own is
    /// written as it is, unless a line of it already starts like a marker: that line gets a
    /// `[×1] ` of its own, so the reader takes the record's text for text.
    pub fn input(&self) -> String {
        let mut out = folded(&self.record_texts());
        if let Some(s) = &self.summary {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s);
        }
        out
    }

    /// One key per template of the window's records ([`template_groups`]): the log group,
    /// the bucket of the template's record count ([`crate::template::count_bucket`]) and the
    /// template, NUL-separated. A window all of whose keys an earlier window judged benign
    /// holds nothing that window did not (the store's benign-record memory).
    pub fn record_keys(&self) -> Vec<String> {
        template_groups(&self.record_texts())
            .into_iter()
            .map(|g| {
                format!(
                    "{}\0{}\0{}",
                    self.group,
                    crate::template::count_bucket(g.count),
                    g.template
                )
            })
            .collect()
    }

    /// The byte ranges covered, merged where contiguous: (file, start, end).
    pub fn spans(&self) -> Vec<(i64, u64, u64)> {
        let mut ranges: Vec<(i64, u64, u64)> = self
            .records
            .iter()
            .map(|r| (r.file, r.start, r.end))
            .collect();
        ranges.sort_unstable();
        let mut out: Vec<(i64, u64, u64)> = Vec::with_capacity(ranges.len());
        for (file, start, end) in ranges {
            match out.last_mut() {
                Some(last) if last.0 == file && start <= last.2 => last.2 = last.2.max(end),
                _ => out.push((file, start, end)),
            }
        }
        out
    }
}

/// Record texts written once per template, each group's first text behind its count
/// ([`Window::input`] says why so), one line per line, without a final newline.
pub fn folded(texts: &[String]) -> String {
    let mut out = String::new();
    for (n, text) in collapsed(texts) {
        for line in text.split('\n') {
            let looks_marked = opensoc::task::prompt::repeat_count(line).1.len() < line.len();
            if n > 1 || looks_marked {
                out.push_str(&opensoc::task::prompt::repeat_prefix(n));
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out.pop();
    out
}

/// Record texts grouped by template, in order of first appearance: how many records each
/// group holds and its first record's text.
pub fn collapsed(texts: &[String]) -> Vec<(usize, &str)> {
    template_groups(texts)
        .into_iter()
        .map(|g| (g.count, g.first))
        .collect()
}

/// One template's records in a window: see [`template_groups`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateGroup<'a> {
    /// Every line of the record masked ([`crate::template::mask`]) with the magnitudes of its
    /// large numbers ([`crate::template::magnitudes`]), lines joined by newlines.
    pub template: String,
    /// Records of this template.
    pub count: usize,
    /// The first such record's text.
    pub first: &'a str,
}

/// Record texts grouped by template, in order of first appearance.
///
/// The template is every line masked with [`crate::template::mask`], plus the magnitude of
/// each large number ([`crate::template::magnitudes`]): a flow that moved 27 GB must not hide
/// behind the first line's 41 kB, while stamps, ports and pids still fold together. A
/// multi-line record (a Windows event) is one template as a whole, never line by line.
pub fn template_groups(texts: &[String]) -> Vec<TemplateGroup<'_>> {
    let mut groups: Vec<TemplateGroup<'_>> = Vec::new();
    let mut by_template: HashMap<String, usize> = HashMap::new();
    for text in texts {
        let template: Vec<String> = text
            .lines()
            .map(|l| {
                format!(
                    "{}\u{1f}{}",
                    crate::template::mask(l),
                    crate::template::magnitudes(l)
                )
            })
            .collect();
        match by_template.entry(template.join("\n")) {
            Entry::Occupied(group) => groups[*group.get()].count += 1,
            Entry::Vacant(slot) => {
                groups.push(TemplateGroup {
                    template: slot.key().clone(),
                    count: 1,
                    first: text,
                });
                slot.insert(groups.len() - 1);
            }
        }
    }
    groups
}

#[derive(Debug)]
struct Open {
    window: Window,
    events: Vec<Event>,
    bytes: usize,
    /// Arrival number of the first record: the output order.
    seq: u64,
    /// For windows without log times: the latest `close_idle` clock seen while it was active.
    seen_at: Option<i64>,
}

/// Groups records into windows per (log group, entity).
#[derive(Debug)]
pub struct Windower {
    config: WindowConfig,
    open: HashMap<String, Open>,
    /// Per group, a lower bound of its open windows' last times: skips scans that would close nothing.
    group_min_last: HashMap<String, i64>,
    seq: u64,
    clock: Option<i64>,
}

fn key(group: &str, parsed: &ParsedLine) -> String {
    match &parsed.entity {
        Some(e) => format!("{group}\u{0}{}\u{0}{}", e.kind.as_str(), e.value),
        None => format!("{group}\u{0}format\u{0}{}", parsed.format.as_str()),
    }
}

impl Windower {
    /// A windower with `config`.
    pub fn new(config: WindowConfig) -> Self {
        Windower {
            config,
            open: HashMap::new(),
            group_min_last: HashMap::new(),
            seq: 0,
            clock: None,
        }
    }

    /// Adds a record of log `group` (the log's base name, so `auth.log.1` and `auth.log` share windows); returns the windows this closed.
    pub fn push(&mut self, group: &str, record: Record, parsed: ParsedLine) -> Vec<Window> {
        let mut closed = Vec::new();
        if let Some(t) = parsed.time {
            self.close_group_idle(group, t, &mut closed);
        }
        let k = key(group, &parsed);
        let full = self.open.get(&k).is_some_and(|o| {
            let w = &o.window;
            let past_span = match (parsed.time, w.first_time) {
                (Some(t), Some(first)) => t.saturating_sub(first) > self.config.span_secs,
                _ => false,
            };
            past_span
                || w.records.len() >= self.config.max_records
                || o.bytes + record.text.len() > self.config.max_bytes
        });
        if full {
            if let Some(o) = self.open.remove(&k) {
                closed.push(o);
            }
        }
        let seq = self.seq;
        self.seq += 1;
        let clock = self.clock;
        let o = self.open.entry(k).or_insert_with(|| Open {
            window: Window {
                group: group.to_string(),
                entity: parsed.entity.clone(),
                format: parsed.format,
                records: Vec::new(),
                first_time: None,
                last_time: None,
                summary: None,
            },
            events: Vec::new(),
            bytes: 0,
            seq,
            seen_at: None,
        });
        o.seen_at = clock;
        if let Some(t) = parsed.time {
            let w = &mut o.window;
            w.first_time = Some(w.first_time.map_or(t, |f| f.min(t)));
            w.last_time = Some(w.last_time.map_or(t, |l| l.max(t)));
            let min = self.group_min_last.entry(group.to_string()).or_insert(t);
            *min = (*min).min(t);
        }
        o.bytes += record.text.len();
        o.window.records.push(record);
        o.events.push(parsed.event);
        if self.open.len() > self.config.max_open {
            let mut by_age: Vec<(u64, String)> =
                self.open.iter().map(|(k, o)| (o.seq, k.clone())).collect();
            by_age.sort_unstable();
            for (_, k) in by_age.into_iter().take(self.config.max_open / 10 + 1) {
                if let Some(o) = self.open.remove(&k) {
                    closed.push(o);
                }
            }
        }
        finish(closed)
    }

    /// Closes windows idle since before `now - idle_secs` (unix seconds; the watcher passes wall-clock time, the scanner log time).
    pub fn close_idle(&mut self, now: i64) -> Vec<Window> {
        let cutoff = now.saturating_sub(self.config.idle_secs);
        let mut closed = Vec::new();
        let keys: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| match o.window.last_time {
                Some(last) => last < cutoff,
                // No log time: idle once a whole idle period of this clock passed over it.
                None => o.seen_at.is_some_and(|seen| seen < cutoff),
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            closed.extend(self.open.remove(&k));
        }
        for o in self.open.values_mut() {
            if o.seen_at.is_none() {
                o.seen_at = Some(now);
            }
        }
        self.clock = Some(now);
        self.recompute_min();
        finish(closed)
    }

    /// Closes the windows that hold at least `min_events` failed logins or refused requests:
    /// the follower calls this once the log has been quiet for a few seconds, so that a burst
    /// of guesses is judged then rather than after the whole idle time.
    pub fn close_alerting(&mut self, min_events: usize) -> Vec<Window> {
        let keys: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| {
                o.events
                    .iter()
                    .filter(|e| matches!(e, Event::FailedLogin { .. } | Event::Denied))
                    .count()
                    >= min_events.max(1)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let closed: Vec<Open> = keys.iter().filter_map(|k| self.open.remove(k)).collect();
        if !closed.is_empty() {
            self.recompute_min();
        }
        finish(closed)
    }

    /// Closes every open window (end of a scan, shutdown).
    pub fn flush(&mut self) -> Vec<Window> {
        self.group_min_last.clear();
        finish(self.open.drain().map(|(_, o)| o).collect())
    }

    /// Per file, the smallest start offset of a record held in an open window, leaving out
    /// the records `skip` names (those kept elsewhere).
    pub fn open_starts(&self, skip: impl Fn(&Record) -> bool) -> HashMap<i64, u64> {
        let mut out: HashMap<i64, u64> = HashMap::new();
        for r in self.open_records().map(|(_, r)| r).filter(|r| !skip(r)) {
            let e = out.entry(r.file).or_insert(r.start);
            *e = (*e).min(r.start);
        }
        out
    }

    /// The records of the open windows, each with its window's log group.
    pub fn open_records(&self) -> impl Iterator<Item = (&str, &Record)> {
        self.open.values().flat_map(|o| {
            o.window
                .records
                .iter()
                .map(|r| (o.window.group.as_str(), r))
        })
    }

    /// Whether no window is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    fn close_group_idle(&mut self, group: &str, t: i64, closed: &mut Vec<Open>) {
        let cutoff = t.saturating_sub(self.config.idle_secs);
        match self.group_min_last.get(group) {
            Some(min) if *min < cutoff => {}
            _ => return,
        }
        let keys: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| {
                o.window.group == group && o.window.last_time.is_some_and(|l| l < cutoff)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            closed.extend(self.open.remove(&k));
        }
        let min = self
            .open
            .values()
            .filter(|o| o.window.group == group)
            .filter_map(|o| o.window.last_time)
            .min();
        match min {
            Some(m) => self.group_min_last.insert(group.to_string(), m),
            None => self.group_min_last.remove(group),
        };
    }

    fn recompute_min(&mut self) {
        self.group_min_last.clear();
        for o in self.open.values() {
            if let Some(l) = o.window.last_time {
                let e = self
                    .group_min_last
                    .entry(o.window.group.clone())
                    .or_insert(l);
                *e = (*e).min(l);
            }
        }
    }
}

/// Orders closed windows by first arrival and writes their summaries.
fn finish(mut closed: Vec<Open>) -> Vec<Window> {
    closed.sort_by_key(|o| o.seq);
    closed
        .into_iter()
        .map(|mut o| {
            o.window.summary = summarize(&o.window, &o.events);
            o.window
        })
        .collect()
}

fn subject(entity: &Option<Entity>) -> String {
    match entity {
        Some(Entity {
            kind: EntityKind::Ip,
            value,
        }) => format!(" from {value}"),
        Some(Entity {
            kind: EntityKind::User,
            value,
        }) => format!(" by user {value}"),
        Some(Entity {
            kind: EntityKind::Host,
            value,
        }) => format!(" on host {value}"),
        None => String::new(),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The bracketed summary line; None for a single record.
fn summarize(w: &Window, events: &[Event]) -> Option<String> {
    let n = w.records.len();
    if n < 2 {
        return None;
    }
    let during = match (w.first_time, w.last_time) {
        (Some(f), Some(l)) => format!(" in {} s", l.saturating_sub(f)),
        _ => String::new(),
    };
    let from = subject(&w.entity);

    let mut requests = 0usize;
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut paths: Vec<&str> = Vec::new();
    let mut bytes: u64 = 0;
    let mut failed = 0usize;
    let mut failed_users: Vec<&str> = Vec::new();
    let mut accepted_after_failure: Option<Option<&str>> = None;
    let mut denied = 0usize;
    let mut connections = 0usize;
    let mut ports: Vec<u16> = Vec::new();
    for e in events {
        match e {
            Event::Request {
                path,
                status,
                bytes: b,
                ..
            } => {
                requests += 1;
                *statuses.entry(*status).or_default() += 1;
                if !paths.contains(&path.as_str()) {
                    paths.push(path);
                }
                bytes = bytes.saturating_add(*b);
            }
            Event::FailedLogin { user } => {
                failed += 1;
                if let Some(u) = user {
                    if !failed_users.contains(&u.as_str()) {
                        failed_users.push(u);
                    }
                }
            }
            Event::AcceptedLogin { user } if failed > 0 => {
                accepted_after_failure = Some(user.as_deref());
            }
            Event::Denied => denied += 1,
            Event::Connection { port } => {
                connections += 1;
                if !ports.contains(port) {
                    ports.push(*port);
                }
            }
            _ => {}
        }
    }
    let among = |counted: usize| {
        if counted < n {
            format!(" among {n} events")
        } else {
            String::new()
        }
    };

    if let Some(user) = accepted_after_failure {
        let who = match user {
            Some(u) => format!(" for {u}"),
            None => String::new(),
        };
        return Some(format!(
            "[{} then an accepted login{who}{from}{during}]",
            plural(failed, "failed login")
        ));
    }
    if failed > 0 {
        let users = if failed_users.is_empty() {
            String::new()
        } else {
            format!(" for {}", plural(failed_users.len(), "user"))
        };
        return Some(format!(
            "[{}{users}{from}{during}{}]",
            plural(failed, "failed login"),
            among(failed)
        ));
    }
    if connections > denied && connections >= requests {
        let to = match ports.as_slice() {
            [port] => format!(" to port {port}"),
            _ => format!(" to {} distinct ports", ports.len()),
        };
        return Some(format!(
            "[{}{to}{from}{during}{}]",
            plural(connections, "connection attempt"),
            among(connections)
        ));
    }
    if denied > 0 && denied >= requests {
        return Some(format!(
            "[{}{from}{during}{}]",
            plural(denied, "denied request"),
            among(denied)
        ));
    }
    if requests > 0 {
        let mut by_count: Vec<(u16, usize)> = statuses.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let codes: Vec<String> = by_count
            .iter()
            .take(6)
            .map(|(code, count)| format!("{code} ×{count}"))
            .collect();
        let paths = if paths.len() > 1 {
            format!(", {} distinct paths", paths.len())
        } else {
            String::new()
        };
        let kb = if bytes >= 1024 * 1024 {
            format!(", {} KB sent", bytes / 1024)
        } else {
            String::new()
        };
        return Some(format!(
            "[{}{during}{from} — {}{paths}{kb}]",
            plural(requests, "request"),
            codes.join(", ")
        ));
    }
    Some(format!("[{}{during}{from}]", plural(n, "event")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logline::parse;

    struct Feed {
        w: Windower,
        off: u64,
    }

    impl Feed {
        fn new(config: WindowConfig) -> Self {
            Feed {
                w: Windower::new(config),
                off: 0,
            }
        }

        fn push(&mut self, group: &str, line: &str) -> Vec<Window> {
            let start = self.off;
            self.off += line.len() as u64 + 1;
            let record = Record {
                file: 1,
                start,
                end: self.off,
                text: line.to_string(),
            };
            let parsed = parse(line, 2026);
            self.w.push(group, record, parsed)
        }
    }

    fn access(ip: &str, secs: u32, path: &str, status: u16) -> String {
        format!(
            "{ip} - - [28/Nov/2026:10:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" {status} 0 \"-\" \"curl\"",
            secs / 60,
            secs % 60
        )
    }

    #[test]
    fn requests_of_one_ip_share_a_window_with_a_summary() {
        let mut f = Feed::new(WindowConfig::default());
        for i in 0..5 {
            assert!(f
                .push("access.log", &access("1.2.3.4", i, "/login", 401))
                .is_empty());
        }
        assert!(f
            .push("access.log", &access("5.6.7.8", 5, "/", 200))
            .is_empty());
        assert!(f
            .push("access.log", &access("1.2.3.4", 6, "/x", 404))
            .is_empty());
        let closed = f.w.flush();
        assert_eq!(closed.len(), 2);
        let w = &closed[0];
        assert_eq!(
            w.entity.as_ref().map(|e| e.to_string()).as_deref(),
            Some("ip 1.2.3.4")
        );
        assert_eq!(w.records.len(), 6);
        assert_eq!(
            w.summary.as_deref(),
            Some("[6 requests in 6 s from 1.2.3.4 — 401 ×5, 404 ×1, 2 distinct paths]")
        );
        // The five 401s to /login share a template: one line with its count.
        let input = w.input();
        assert_eq!(input.lines().count(), 3, "{input}");
        assert!(input.starts_with(&format!(
            "[\u{d7}5] {}\n",
            access("1.2.3.4", 0, "/login", 401)
        )));
        assert!(input.ends_with("2 distinct paths]"));
        assert_eq!(closed[1].summary, None, "a single record has no summary");
        assert_eq!(closed[1].input(), access("5.6.7.8", 5, "/", 200));
        assert!(f.w.is_empty());
    }

    #[test]
    fn windows_with_enough_failures_close_early_and_the_rest_stay_open() {
        let mut f = Feed::new(WindowConfig::default());
        for i in 0..5 {
            let line = format!(
                "Nov 28 10:00:0{i} host sshd[{i}]: Failed password for root from 203.0.113.9 port 4{i} ssh2"
            );
            assert!(f.push("auth.log", &line).is_empty());
        }
        let ok = "Nov 28 10:00:06 host sshd[9]: Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2";
        assert!(f.push("auth.log", ok).is_empty());
        assert!(
            f.w.close_alerting(6).is_empty(),
            "five failures are below six"
        );
        let closed = f.w.close_alerting(5);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].records.len(), 5);
        assert_eq!(
            closed[0].entity.as_ref().map(|e| e.to_string()).as_deref(),
            Some("ip 203.0.113.9")
        );
        assert!(!f.w.is_empty(), "the accepted login's window stays open");
    }

    #[test]
    fn span_and_caps_start_new_windows() {
        let config = WindowConfig {
            span_secs: 10,
            idle_secs: 1000,
            max_records: 3,
            max_bytes: 100_000,
            ..WindowConfig::default()
        };
        let mut f = Feed::new(config);
        assert!(f.push("a", &access("1.2.3.4", 0, "/", 200)).is_empty());
        assert!(f.push("a", &access("1.2.3.4", 10, "/", 200)).is_empty());
        let closed = f.push("a", &access("1.2.3.4", 11, "/", 200));
        assert_eq!(closed.len(), 1, "11 s after the first passes a 10 s span");
        assert_eq!(closed[0].records.len(), 2);
        f.push("a", &access("1.2.3.4", 12, "/", 200));
        f.push("a", &access("1.2.3.4", 13, "/", 200));
        let closed = f.push("a", &access("1.2.3.4", 14, "/", 200));
        assert_eq!(closed.len(), 1, "max_records");
        assert_eq!(closed[0].records.len(), 3);

        let line = access("1.2.3.4", 0, "/", 200);
        let mut f = Feed::new(WindowConfig {
            max_bytes: 2 * line.len() + 1,
            ..config
        });
        assert!(f.push("a", &line).is_empty());
        assert!(f.push("a", &line).is_empty());
        assert_eq!(f.push("a", &line).len(), 1, "max_bytes");
    }

    #[test]
    fn idle_windows_close_on_later_log_time_of_the_same_group_only() {
        let mut f = Feed::new(WindowConfig {
            idle_secs: 60,
            ..WindowConfig::default()
        });
        f.push("access.log", &access("1.2.3.4", 0, "/", 200));
        f.push("access.log", &access("9.9.9.9", 1, "/", 200));
        f.push("other.log", &access("1.2.3.4", 0, "/", 200));
        assert!(
            f.push("access.log", &access("5.6.7.8", 60, "/", 200))
                .is_empty(),
            "60 s is not more than idle_secs"
        );
        let closed = f.push("access.log", &access("5.6.7.8", 62, "/", 200));
        let ips: Vec<String> = closed
            .iter()
            .map(|w| {
                w.entity
                    .as_ref()
                    .map(|e| e.value.clone())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(ips, ["1.2.3.4", "9.9.9.9"], "in first-arrival order");
        assert!(closed.iter().all(|w| w.group == "access.log"));
        let left = f.w.flush();
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].group, "other.log");
    }

    #[test]
    fn a_flood_of_entities_closes_the_oldest_windows_early() {
        let mut f = Feed::new(WindowConfig {
            max_open: 20,
            ..WindowConfig::default()
        });
        let mut closed = Vec::new();
        for i in 0..100 {
            closed.extend(f.push("access.log", &access(&format!("10.0.0.{i}"), 0, "/", 200)));
            assert!(f.w.open.len() <= 20);
        }
        assert!(!closed.is_empty());
        let first = closed[0].entity.as_ref().map(|e| e.value.clone());
        assert_eq!(first.as_deref(), Some("10.0.0.0"), "the oldest goes first");
        closed.extend(f.w.flush());
        assert_eq!(closed.len(), 100, "every record in exactly one window");
    }

    #[test]
    fn close_idle_uses_the_given_clock_also_for_untimed_windows() {
        let mut f = Feed::new(WindowConfig {
            idle_secs: 60,
            ..WindowConfig::default()
        });
        f.push("app.log", "no time here at all");
        f.push("access.log", &access("1.2.3.4", 0, "/", 200));
        let t0 =
            f.w.open
                .values()
                .find_map(|o| o.window.first_time)
                .unwrap_or_default();
        assert!(f.w.close_idle(t0 + 30).is_empty());
        let closed = f.w.close_idle(t0 + 61);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].group, "access.log");
        assert!(
            f.w.close_idle(t0 + 80).is_empty(),
            "untimed: seen at +30, not yet idle"
        );
        let closed = f.w.close_idle(t0 + 95);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].format, LogFormat::Plain);
        assert!(f.w.is_empty());
    }

    #[test]
    fn open_starts_and_spans() {
        let mut f = Feed::new(WindowConfig::default());
        let a = access("1.2.3.4", 0, "/", 200);
        let b = access("5.6.7.8", 0, "/", 200);
        f.push("x", &a);
        f.push("x", &a);
        f.push("x", &b);
        f.push("x", &a);
        let starts = f.w.open_starts(|_| false);
        assert_eq!(starts.get(&1), Some(&0));
        let closed = f.w.flush();
        let l = a.len() as u64 + 1;
        assert_eq!(
            closed[0].spans(),
            vec![
                (1, 0, 2 * l),
                (1, 2 * l + b.len() as u64 + 1, 3 * l + b.len() as u64 + 1)
            ]
        );
        assert!(f.w.open_starts(|_| false).is_empty());
    }

    #[test]
    fn login_summaries() {
        let mut f = Feed::new(WindowConfig::default());
        for (i, user) in ["root", "admin", "root"].iter().enumerate() {
            f.push(
                "auth.log",
                &format!("Nov 28 10:00:0{i} web sshd[1]: Failed password for {user} from 203.0.113.9 port 22 ssh2"),
            );
        }
        let w = f.w.flush();
        assert_eq!(
            w[0].summary.as_deref(),
            Some("[3 failed logins for 2 users from 203.0.113.9 in 2 s]")
        );

        for i in 0..4 {
            f.push(
                "auth.log",
                &format!("Nov 28 10:00:0{i} web sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2"),
            );
        }
        f.push(
            "auth.log",
            "Nov 28 10:00:09 web sshd[1]: Accepted password for root from 203.0.113.9 port 22 ssh2",
        );
        let w = f.w.flush();
        assert_eq!(
            w[0].summary.as_deref(),
            Some("[4 failed logins then an accepted login for root from 203.0.113.9 in 9 s]")
        );
    }

    #[test]
    fn failed_logins_of_other_services_share_the_wording() {
        let mut f = Feed::new(WindowConfig::default());
        for (i, user) in ["xyz", "admin", "xyz"].iter().enumerate() {
            f.push(
                "error.log",
                &format!("2026/11/28 10:00:0{i} [error] 2865#0: *1 user \"{user}\" was not found in \"/var/www/.htpasswd\", client: 203.0.113.9, server: www.example.com, request: \"GET / HTTP/1.1\", host: \"www.example.com\""),
            );
        }
        f.push(
            "error.log",
            "2026/11/28 10:00:05 [error] 2865#0: *1 limiting requests, excess: 1.852 by zone \"one\", client: 203.0.113.9, server: www.example.com",
        );
        let w = f.w.flush();
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].summary.as_deref(),
            Some("[3 failed logins for 2 users from 203.0.113.9 in 5 s among 4 events]")
        );
        for i in 0..4 {
            f.push(
                "mail.log",
                &format!("Nov 28 10:00:0{i} mail postfix/smtpd[1]: warning: unknown[198.51.100.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"),
            );
        }
        assert_eq!(
            f.w.flush()[0].summary.as_deref(),
            Some("[4 failed logins from 198.51.100.4 in 3 s]")
        );
    }

    #[test]
    fn denial_summaries() {
        let mut f = Feed::new(WindowConfig::default());
        for i in 0..7 {
            f.push(
                "mail.log",
                &format!("Nov 28 10:00:{:02} mail postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@b.c> to=<x@example.org> proto=ESMTP helo=<spam>", i * 6 + 2),
            );
        }
        f.push(
            "mail.log",
            "Nov 28 10:00:45 mail postfix/smtpd[1]: disconnect from unknown[192.0.2.9] ehlo=1 mail=7 rcpt=0/7 quit=1 commands=9/16",
        );
        let w = f.w.flush();
        assert_eq!(
            w[0].summary.as_deref(),
            Some("[7 denied requests from 192.0.2.9 in 43 s among 8 events]")
        );
        for i in 0..3 {
            f.push(
                "error.log",
                &format!("[Sat Nov 28 10:00:0{i}.1 2026] [authz_core:error] [pid 1] [client 192.0.2.9:5000{i}] AH01630: client denied by server configuration: /srv/private"),
            );
        }
        assert_eq!(
            f.w.flush()[0].summary.as_deref(),
            Some("[3 denied requests from 192.0.2.9 in 2 s]")
        );
    }

    #[test]
    fn connection_summaries() {
        let mut f = Feed::new(WindowConfig::default());
        for i in 0..40u32 {
            let port = [22, 23, 80, 443, 3389][i as usize % 5] + (i / 5) * 1000;
            f.push(
                "kern.log",
                &format!("Nov 28 10:00:{:02} fw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=44 PROTO=TCP SPT=40000 DPT={port} WINDOW=1024 SYN URGP=0", i * 12 / 39),
            );
        }
        let w = f.w.flush();
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].summary.as_deref(),
            Some("[40 connection attempts to 40 distinct ports from 203.0.113.9 in 12 s]")
        );
        for i in 0..5 {
            f.push(
                "kern.log",
                &format!("Nov 28 10:01:0{i} fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.1 PROTO=TCP SPT=4000{i} DPT=22 SYN"),
            );
        }
        assert_eq!(
            f.w.flush()[0].summary.as_deref(),
            Some("[5 connection attempts to port 22 from 203.0.113.7 in 4 s]")
        );
    }

    fn facts_of(w: &Window) -> opensoc::analyze::facts::Facts {
        opensoc::analyze::facts::Facts::extract(&opensoc::task::prompt::log_lines(
            w.input().as_bytes(),
        ))
    }

    #[test]
    fn repeated_templates_reach_the_model_once_with_a_count() {
        let mut f = Feed::new(WindowConfig::default());
        let failure = |i: u32| {
            format!(
                "Mar  5 10:00:{i:02} host sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2",
                100 + i,
                4000 + i
            )
        };
        for i in 0..20 {
            f.push("auth.log", &failure(i));
        }
        let accepted =
            "Mar  5 10:00:30 host sshd[200]: Accepted password for root from 203.0.113.9 port 5000 ssh2";
        f.push("auth.log", accepted);
        let w = f.w.flush();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].records.len(), 21);
        let input = w[0].input();
        let lines: Vec<&str> = input.lines().collect();
        assert_eq!(lines.len(), 3, "{input}");
        assert_eq!(
            lines[0],
            format!("[\u{d7}20] {}", failure(0)),
            "the first real line"
        );
        assert_eq!(lines[1], accepted, "a line of its own has no marker");
        assert_eq!(
            lines[2],
            "[20 failed logins then an accepted login for root from 203.0.113.9 in 30 s]"
        );
        // The facts read from the short input count every record.
        let facts = facts_of(&w[0]);
        assert_eq!(facts.failed_logins, 20);
        assert_eq!(facts.accepted_logins, 1);
        assert_eq!(
            facts.auth_failures.items(),
            [("203.0.113.9".to_string(), 20)]
        );
        assert_eq!(
            facts.lines, 21,
            "20 + 1 records; the summary is no log line"
        );
    }

    #[test]
    fn collapsed_keeps_templates_in_first_seen_order() {
        let texts: Vec<String> = [
            "conn from 1.2.3.4 port 1",
            "bye 3",
            "conn from 5.6.7.8 port 2",
            "hello world",
            "bye 4",
            "conn from 9.9.9.9 port 3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            collapsed(&texts),
            [
                (3, "conn from 1.2.3.4 port 1"),
                (2, "bye 3"),
                (1, "hello world")
            ]
        );
        // Payload characters keep templates apart: they are what a verdict rests on.
        let payloads: Vec<String> = ["GET /q?page=1", "GET /q?page=1'--", "GET /q?page=2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            collapsed(&payloads),
            [(2, "GET /q?page=1"), (1, "GET /q?page=1'--")]
        );
        // So do orders of magnitude: a 27 GB upload is not one more 41 kB flow.
        let flows: Vec<String> = [
            "conn 192.168.3.234 50385 120.18.127.98 443 tcp 41857 13901926",
            "conn 192.168.3.234 60232 10.14.5.56 443 tcp 27905945112 4298088",
            "conn 192.168.3.234 52927 96.250.227.175 443 tcp 86711 15848416",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let groups = collapsed(&flows);
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[0].0, 2);
        assert_eq!(groups[1], (1, flows[1].as_str()));
        assert!(collapsed(&[]).is_empty());
    }

    fn window_of(texts: &[&str]) -> Window {
        Window {
            group: "g".into(),
            entity: None,
            format: LogFormat::Plain,
            records: texts
                .iter()
                .enumerate()
                .map(|(i, t)| Record {
                    file: 1,
                    start: i as u64 * 100,
                    end: i as u64 * 100 + 99,
                    text: t.to_string(),
                })
                .collect(),
            first_time: None,
            last_time: None,
            summary: None,
        }
    }

    #[test]
    fn every_line_of_a_repeated_multi_line_record_carries_the_count() {
        let event = |ip: &str| format!("EventID: 4625\nSource IP: {ip}\nUser: admin");
        let w = window_of(&[&event("10.0.0.5"), &event("10.0.0.6"), &event("10.0.0.7")]);
        assert_eq!(
            w.input(),
            "[\u{d7}3] EventID: 4625\n[\u{d7}3] Source IP: 10.0.0.5\n[\u{d7}3] User: admin"
        );
        let facts = facts_of(&w);
        assert_eq!(facts.event_ids.items(), [("4625".to_string(), 3)]);
        assert_eq!(facts.users.items(), [("admin".to_string(), 3)]);
    }

    #[test]
    fn a_record_that_starts_like_a_marker_cannot_pass_for_a_count() {
        let forged = "[\u{d7}500] Failed password for root from 203.0.113.9 port 22 ssh2";
        let w = window_of(&[forged]);
        assert_eq!(w.input(), format!("[\u{d7}1] {forged}"));
        assert_eq!(facts_of(&w).failed_logins, 1);
        // An ordinary single record is written as it is.
        let plain = "Failed password for root from 203.0.113.9 port 22 ssh2";
        assert_eq!(window_of(&[plain]).input(), plain);
    }

    #[test]
    fn a_collapsed_port_scan_still_reads_as_one() {
        let mut f = Feed::new(WindowConfig::default());
        for i in 0..40u32 {
            f.push(
                "kern.log",
                &format!("Nov 28 10:00:{:02} fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.1 PROTO=TCP SPT=40000 DPT={} SYN", i / 4, 1000 + i),
            );
        }
        let w = f.w.flush();
        assert_eq!(w[0].input().lines().count(), 2, "{}", w[0].input());
        // The ports hidden by the collapse come from the summary line.
        let facts = facts_of(&w[0]);
        assert_eq!(facts.ports.items(), [("203.0.113.9".to_string(), 40)]);
        let floor = opensoc::analyze::floors::floor(
            &facts,
            &opensoc::analyze::floors::FloorConfig::default(),
        );
        assert_eq!(floor.map(|f| f.label), Some("Network Port Scan"));
    }

    #[test]
    fn a_pf_filterlog_scan_is_one_window_of_many_ports() {
        let mut f = Feed::new(WindowConfig::default());
        for i in 0..15u32 {
            f.push(
                "filter.log",
                &format!("Feb 24 10:28:{:02} pfsense filterlog[82846]: 5,,,1000000103,igb0,match,block,in,4,0x0,,171,53114,0,none,6,tcp,44,188.28.2.180,192.168.7.192,{},{},0,S,2920947368,,1024,,mss", i * 2, 40000 + i, 20 + i),
            );
        }
        let w = f.w.flush();
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0].summary.as_deref(),
            Some("[15 connection attempts to 15 distinct ports from 188.28.2.180 in 28 s]")
        );
        let floor = opensoc::analyze::floors::floor(
            &facts_of(&w[0]),
            &opensoc::analyze::floors::FloorConfig::default(),
        );
        assert_eq!(floor.map(|f| f.label), Some("Network Port Scan"));
    }
}
