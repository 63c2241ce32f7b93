//! A verdict store filled with synthetic verdicts, without the model: what the fleet load
//! figure (`scripts/bench-fleet.sh`) forwards from fifty agents at once.
//!
//! `cargo run --release -p opensoc-edge --example synthetic_store -- PATH COUNT`
//!
//! Each verdict has every field set the way a scan sets them: a window of five sshd or web
//! lines (about 600 bytes, a typical stored window), log times a few seconds apart, severities
//! and categories in a realistic mix (most LOW "No Threat Detected"). The store must not exist
//! yet: verdicts are added to a new store, so its ids run from 1 to COUNT.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use opensoc_edge::store::sqlite::{NewVerdict, Store};

/// (threat type, category, technique, tactic, severity, risk), most common first.
const KINDS: [(&str, &str, &str, &str, &str, u8); 4] = [
    (
        "No Threat Detected — Normal Traffic",
        "No Threat Detected",
        "N/A",
        "N/A",
        "LOW",
        5,
    ),
    (
        "Brute Force — Password Guessing",
        "Brute Force",
        "T1110.001",
        "Credential Access",
        "HIGH",
        78,
    ),
    (
        "SQL Injection — Union/Boolean SQLi",
        "SQL Injection",
        "T1190",
        "Initial Access",
        "CRITICAL",
        92,
    ),
    (
        "Reconnaissance — Port Scan",
        "Reconnaissance",
        "T1046",
        "Discovery",
        "MEDIUM",
        45,
    ),
];

/// The `i`th synthetic verdict, made at unix second `t0 + i`.
fn verdict(i: u64, t0: i64) -> NewVerdict {
    // 7 in 10 benign, the rest spread over the three threats.
    let kind = match i % 10 {
        0..=6 => 0,
        7 => 1,
        8 => 2,
        _ => 3,
    };
    let (threat_type, category, technique, tactic, severity, risk) = KINDS[kind];
    let t = t0 + i as i64;
    let ip = format!("203.0.113.{}", i % 250 + 1);
    let (source, input) = if kind == 2 {
        let lines: Vec<String> = (0..5)
            .map(|n| {
                format!(
                    "{ip} - - [07/Dec/2026:04:{:02}:{:02} +0000] \"GET /shop/item.php?id={n}%27%20UNION%20SELECT%20user,password%20FROM%20users-- HTTP/1.1\" 200 {} \"-\" \"sqlmap/1.7\"",
                    (t / 60) % 60,
                    t % 60,
                    512 + n
                )
            })
            .collect();
        ("/var/log/nginx/access.log", lines.join("\n"))
    } else {
        let lines: Vec<String> = (0..5)
            .map(|n| {
                format!(
                    "Dec  7 04:{:02}:{:02} web01 sshd[{}]: Failed password for invalid user admin{n} from {ip} port {} ssh2",
                    (t / 60) % 60,
                    t % 60,
                    4000 + i % 1000,
                    40_000 + n
                )
            })
            .collect();
        ("/var/log/auth.log", lines.join("\n"))
    };
    NewVerdict {
        created_at: t,
        first_time: Some(t - 5),
        last_time: Some(t - 1),
        source: source.to_string(),
        entity: Some(ip.clone()),
        records: 5,
        signature: format!("synthetic template {}", i % 97),
        cached_from: None,
        threat_type: threat_type.to_string(),
        category: category.to_string(),
        technique: technique.to_string(),
        tactic: tactic.to_string(),
        severity: severity.to_string(),
        risk_score: risk,
        evidence: format!(
            "5 lines from {ip} in 4 s: repeated failures and probing from one address, \
             matching the {category} pattern"
        ),
        impact: "Possible unauthorised access to the service if a guess succeeds.".to_string(),
        recommendation: "1) Block the address at the firewall. 2) Review the accounts it tried."
            .to_string(),
        secondary: (kind == 1 && i.is_multiple_of(3)).then(|| "Reconnaissance".to_string()),
        input,
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(count)) = (args.next(), args.next()) else {
        bail!("usage: synthetic_store PATH COUNT");
    };
    let path = PathBuf::from(path);
    let count: u64 = count.parse().context("COUNT is a number of verdicts")?;
    if path.exists() {
        bail!("{} exists; give a new path", path.display());
    }
    let started = Instant::now();
    let mut store = Store::open(&path)?;
    let t0 = 1_796_000_000;
    for i in 0..count {
        store.commit_window(&verdict(i, t0), &[], &[])?;
    }
    eprintln!(
        "{}: {count} verdicts in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
