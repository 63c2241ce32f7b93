//! Measures entity and event extraction on fail2ban's labelled sample logs (used as data only):
//! `OPENSOC_DATA=/path/to/data cargo test -p opensoc-edge --lib fail2ban_samples -- --ignored --nocapture`
//! (`OPENSOC_DATA` holds `fail2ban/logs/`; without it `../shared/data` next to the workspace is
//! tried, and the test passes silently when neither exists). `OPENSOC_MEASURE_DUMP=FILE` also
//! writes one line per labelled record, for comparing two versions.

use regex::Regex;
use serde_json::Value;

use super::entity::ip_of;
use super::time::unix_time;

use super::*;
use std::collections::BTreeMap;

use std::fmt::Write as _;

#[derive(Default)]
struct Tally {
    matched: usize,
    entity_ok: usize,
    signal: usize,
    request: usize,
    time_ok: usize,
    unmatched: usize,
    unmatched_failed: usize,
}

/// `2005-07-19T18:11:50` (fractions ignored) as unix seconds of that wall clock.
fn wall_time(s: &str) -> Option<i64> {
    let d: Vec<i64> = s
        .split(|c: char| !c.is_ascii_digit())
        .take(6)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    if d.len() < 6 {
        return None;
    }
    unix_time(
        d[0],
        d[1] as u32,
        d[2] as u32,
        d[3] as u32,
        d[4] as u32,
        d[5] as u32,
    )
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.0}%", 100.0 * a as f64 / b as f64)
    }
}

#[test]
#[ignore = "needs the fail2ban sample logs; run with --ignored --nocapture"]
fn fail2ban_samples() {
    let root = std::env::var_os("OPENSOC_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
        });
    let dir = root.join("fail2ban/logs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no {}: skipped", dir.display());
        return;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    let mut dump = String::new();
    let label = Regex::new(r"^#+ ?failJSON:(.+)$").unwrap();
    for path in files {
        let service = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let mut pending: Option<Value> = None;
        for line in text.lines() {
            if let Some(c) = label.captures(line) {
                pending = serde_json::from_str(c[1].trim()).ok();
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some(fj) = pending.take() else { continue };
            if fj.get("constraint").is_some() {
                continue;
            }
            let want_time = fj.get("time").and_then(|v| v.as_str()).and_then(wall_time);
            let year = want_time.map_or(2026, |t| civil_from_days(t.div_euclid(86_400)).0);
            let p = parse(line, year as i32);
            let t = per.entry(service.clone()).or_default();
            let kind = format!("{:?}", p.event);
            let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
            let failed = matches!(p.event, Event::FailedLogin { .. });
            let got = p
                .entity
                .as_ref()
                .map(|e| e.value.clone())
                .unwrap_or_default();
            if fj.get("match").and_then(|v| v.as_bool()) == Some(true) {
                let Some(host) = ["host", "ip4", "ip6"]
                    .iter()
                    .find_map(|k| fj.get(*k).and_then(|v| v.as_str()))
                else {
                    continue;
                };
                t.matched += 1;
                let ok = got == host
                    || ip_of(host).is_some_and(|h| h == got)
                    || got.eq_ignore_ascii_case(host);
                t.entity_ok += usize::from(ok);
                t.signal += usize::from(matches!(
                    kind.as_str(),
                    "FailedLogin" | "Denied" | "Connection"
                ));
                t.request += usize::from(kind == "Request");
                // The labels are local wall-clock times; stamps with a zone are converted:
                // any whole quarter-hour offset within a day counts as right.
                t.time_ok += usize::from(match (p.time, want_time) {
                    (Some(a), Some(b)) => (a - b) % 900 == 0 && (a - b).abs() <= 14 * 3600,
                    (Some(_), None) => true,
                    _ => false,
                });
                let _ = writeln!(
                    dump,
                    "{service}\ttrue\t{}\t{kind}\t{got}\t{host}\t{}\t{line}",
                    if ok { "ok" } else { "BAD" },
                    p.time.map_or("-".into(), |t| t.to_string())
                );
            } else {
                t.unmatched += 1;
                t.unmatched_failed += usize::from(failed);
                let _ = writeln!(dump, "{service}\tfalse\t-\t{kind}\t{got}\t-\t-\t{line}");
            }
        }
    }
    let mut all = Tally::default();
    let (mut macro_entity, mut macro_signal, mut services) = (0.0, 0.0, 0usize);
    println!(
        "{:<28} {:>5} {:>7} {:>7} {:>5} {:>6} {:>5} {:>8}",
        "service", "match", "entity", "signal", "req", "time", "nomat", "nm-fail"
    );
    for (name, t) in &per {
        println!(
            "{:<28} {:>5} {:>7} {:>7} {:>5} {:>6} {:>5} {:>8}",
            name,
            t.matched,
            pct(t.entity_ok, t.matched),
            pct(t.signal, t.matched),
            pct(t.request, t.matched),
            pct(t.time_ok, t.matched),
            t.unmatched,
            pct(t.unmatched_failed, t.unmatched)
        );
        all.matched += t.matched;
        all.entity_ok += t.entity_ok;
        all.signal += t.signal;
        all.request += t.request;
        all.time_ok += t.time_ok;
        all.unmatched += t.unmatched;
        all.unmatched_failed += t.unmatched_failed;
        if t.matched > 0 {
            services += 1;
            macro_entity += t.entity_ok as f64 / t.matched as f64;
            macro_signal += t.signal as f64 / t.matched as f64;
        }
    }
    println!(
        "{:<28} {:>5} {:>7} {:>7} {:>5} {:>6} {:>5} {:>8}",
        "ALL (lines)",
        all.matched,
        pct(all.entity_ok, all.matched),
        pct(all.signal, all.matched),
        pct(all.request, all.matched),
        pct(all.time_ok, all.matched),
        all.unmatched,
        pct(all.unmatched_failed, all.unmatched)
    );
    println!(
        "services: {services}; mean per service: entity {:.1}%, signal {:.1}%; \
         signal or request: {}",
        100.0 * macro_entity / services.max(1) as f64,
        100.0 * macro_signal / services.max(1) as f64,
        pct(all.signal + all.request, all.matched)
    );
    if let Some(out) = std::env::var_os("OPENSOC_MEASURE_DUMP") {
        std::fs::write(out, dump).unwrap();
    }
}

/// Events on loghub's mostly ordinary system logs (`loghub/*/*_2k.log`): how many lines
/// each kind takes, with a few examples of the security kinds, to spot false alarms.
#[test]
#[ignore = "needs the loghub samples; run with --ignored --nocapture"]
fn loghub_event_counts() {
    let root = std::env::var_os("OPENSOC_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
        });
    let Ok(dirs) = std::fs::read_dir(root.join("loghub")) else {
        eprintln!("no loghub: skipped");
        return;
    };
    let mut dirs: Vec<_> = dirs.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let Ok(text) = std::fs::read(dir.join(format!("{name}_2k.log"))) else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut examples: Vec<String> = Vec::new();
        for line in text.lines() {
            let p = parse(line, 2026);
            let kind = format!("{:?}", p.event);
            let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
            *counts.entry(kind.clone()).or_default() += 1;
            let shown = examples.iter().filter(|e| e.starts_with(&kind)).count();
            if matches!(kind.as_str(), "FailedLogin" | "Denied" | "Connection") && shown < 3 {
                let short: String = line.chars().take(150).collect();
                examples.push(format!("{kind}: {short}"));
            }
        }
        println!("{name}: {counts:?}");
        for e in examples {
            println!("    {e}");
        }
    }
}
