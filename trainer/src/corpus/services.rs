//! Real-service windows for training: the suites' train split (fail2ban's per-service samples,
//! Wazuh's decoder tests and the Core Rule Set's regression requests, of every service the
//! suite does not hold out) and the adversarial carriers written with the training phrasings.
//! Each log goes through the agent's windower, and each window is labelled as the suite's
//! scorer counts it: a window that answers for an attacker gets the attacker's first class,
//! any other window is benign.
//!
//! A case yields many windows that differ only in addresses and stamps; a few per case teach
//! its phrasing, more would crowd out the rest of the set, so each case gives at most
//! [`ATTACK_WINDOWS_PER_CASE`] attacking windows (twice as many in some recipes, see
//! [`super::Recipe::service_attack_windows`]) and [`BENIGN_WINDOWS_PER_CASE`] benign ones,
//! plus, from step 8 on, as many bursts of one ordinary line ([`benign_bursts`]).

use std::collections::HashSet;

use opensoc::eval::suite::owners;
use opensoc::task::taxonomy::taxonomy;

use super::case::{class, Draft};
use super::labels::{sqli_label, BENIGN};
use super::suites::{self, Holdout, DEFAULT_HOLDOUT};
use super::{
    adversarial, bsd_time, join_lines, lan_ip, public_ip, random_time, render, BuildConfig,
    BuildError, Rng, Sample,
};

/// Most attacking windows taken from one case.
pub const ATTACK_WINDOWS_PER_CASE: usize = 3;
/// Most benign windows taken from one case.
pub const BENIGN_WINDOWS_PER_CASE: usize = 2;
/// Rounds of the adversarial training cases (each round: every window kind with every
/// carrier it has, injected and clean).
pub const ADVERSARIAL_ROUNDS: usize = 3;

/// Generated port-scan windows, and as many windows of stray blocked packets.
pub const PORT_SCANS: usize = 60;

/// The sample source of the adversarial training cases (the suites' are `suite:fail2ban`, ...).
pub const ADVERSARIAL_SOURCE: &str = "adversarial-training";
/// The sample source of the generated firewall windows.
pub const FIREWALL_SOURCE: &str = "firewall";

/// The taxonomy label that trains a window of `class` (a category, as the suites write
/// them), given the window's text: the category's one label, or for categories with
/// subtypes the one the text shows (the SQL injection's kind, a web login's brute force).
/// A flood keeps the base label, as the generated floods have it (the floor names an HTTP
/// flood). None for a class the taxonomy lacks.
pub fn label_for(class: &str, input: &str) -> Option<String> {
    let tax = taxonomy();
    let labels: Vec<&str> = tax
        .threat_types
        .iter()
        .filter(|t| t.category.eq_ignore_ascii_case(class.trim()))
        .map(|t| t.label.as_str())
        .collect();
    let pick = |suffix: &str| labels.iter().find(|l| l.ends_with(suffix)).copied();
    let label = match class.trim() {
        class::SQLI => Some(sqli_label(&opensoc::util::percent::decode(input))),
        class::BRUTE if input.lines().any(opensoc::signals::words::is_web_login) => {
            pick("Web Application Login")
        }
        // The base label: the one without a subtype, else the first.
        _ => labels
            .iter()
            .find(|l| !l.contains(" — "))
            .or(labels.first())
            .copied(),
    };
    label.map(str::to_string)
}

/// The training windows of the suites' services that `holdout` keeps in training, and of
/// the adversarial training cases, at most a few per case (see the module's note).
pub fn train_windows(cfg: &BuildConfig) -> Result<Vec<Sample>, BuildError> {
    let (drafts, _) = suites::collect(&cfg.data_dir, cfg.seed)?;
    let holdout = Holdout::new(suites::services_of(&drafts), cfg.seed, DEFAULT_HOLDOUT);
    let mut rng = Rng::fork(cfg.seed, "services");
    let mut out = Vec::new();
    for d in drafts
        .iter()
        .filter(|d| !holdout.is_heldout(d.source, &d.service))
    {
        let source = format!("suite:{}", d.source);
        let cap = cfg.recipe.service_attack_windows(d.source, &d.service);
        out.extend(case_windows(d, &source, cap, &mut rng));
        if cfg.recipe.benign_bursts() && d.source != suites::CRS {
            out.extend(benign_bursts(d, &source, &mut rng));
        }
    }
    for case in adversarial::training_cases(cfg.seed, ADVERSARIAL_ROUNDS) {
        for d in [&case.injected, &case.clean] {
            out.extend(case_windows(
                d,
                ADVERSARIAL_SOURCE,
                ATTACK_WINDOWS_PER_CASE,
                &mut rng,
            ));
        }
    }
    out.extend(firewall_windows(
        &mut Rng::fork(cfg.seed, "firewall"),
        cfg.count(PORT_SCANS),
    ));
    Ok(out)
}

/// Destination ports scanners try first.
const SCANNED_PORTS: [u16; 40] = [
    21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 465, 587, 993, 995, 1433, 1521,
    1723, 2049, 2375, 3306, 3389, 5060, 5432, 5900, 5985, 6379, 7001, 8000, 8080, 8081, 8443, 8888,
    9000, 9200, 11211, 27017, 50000,
];

/// `n` windows of one outside address blocked on 12–30 distinct ports within a minute
/// (a port scan), and `n` of one to three packets blocked on one port (the internet's
/// background noise, not worth an alert), each in one of three firewalls' formats (UFW,
/// iptables with a log prefix, Cisco ASA).
fn firewall_windows(rng: &mut Rng, n: usize) -> Vec<Sample> {
    let mut out = Vec::new();
    for i in 0..2 * n {
        let scan = i % 2 == 0;
        let (src, dst) = (public_ip(rng), lan_ip(rng));
        let mut ports: Vec<u16> = SCANNED_PORTS.to_vec();
        rng.shuffle(&mut ports);
        let k = if scan { rng.range(12, 30) as usize } else { 1 };
        ports.truncate(k);
        let packets = if scan { k } else { rng.range(1, 3) as usize };
        let style = rng.below(3);
        let mut t = random_time(rng);
        let lines: Vec<String> = (0..packets)
            .map(|j| {
                t += rng.range(0, 2) as i64;
                let port = ports[j % ports.len()];
                firewall_line(rng, style, t, &src, &dst, port)
            })
            .collect();
        let label = if scan { "Network Port Scan" } else { BENIGN };
        out.extend(
            render("firewall.log", &join_lines(&lines))
                .iter()
                .map(|w| Sample::new(w.input(), label, FIREWALL_SOURCE)),
        );
    }
    out
}

/// One blocked TCP SYN as UFW, iptables with a log prefix or a Cisco ASA logs it.
fn firewall_line(rng: &mut Rng, style: usize, t: i64, src: &str, dst: &str, port: u16) -> String {
    let stamp = bsd_time(t);
    let spt = rng.range(1024, 65535);
    let (ttl, id) = (rng.range(30, 250), rng.range(1, 65535));
    match style {
        0 => format!(
            "{stamp} gw kernel: [{}.{:06}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:00:1b:21:aa:bb:cc:08:00 SRC={src} DST={dst} LEN=44 TOS=0x00 PREC=0x00 TTL={ttl} ID={id} PROTO=TCP SPT={spt} DPT={port} WINDOW=1024 RES=0x00 SYN URGP=0",
            rng.range(1000, 900_000),
            rng.range(0, 999_999)
        ),
        1 => format!(
            "{stamp} router kernel: IPTABLES-DROP: IN=ppp0 OUT= SRC={src} DST={dst} LEN=40 TOS=0x00 PREC=0x00 TTL={ttl} ID={id} PROTO=TCP SPT={spt} DPT={port} WINDOW=65535 RES=0x00 SYN URGP=0"
        ),
        _ => format!(
            "{stamp} asa %ASA-4-106023: Deny tcp src outside:{src}/{spt} dst inside:{dst}/{port} by access-group \"outside_access_in\" [0x0, 0x0]"
        ),
    }
}

/// Up to [`BENIGN_WINDOWS_PER_CASE`] windows of one ordinary line of the case, each repeated
/// to a burst of [`suites::BURST`] as the suites repeat an attacker's first line, labelled
/// benign: the line's words, not the burst, make an attack. Lines that report a failed or
/// refused attempt, that an attacker owns, or whose burst reaches a floor are not used.
fn benign_bursts(d: &Draft, source: &str, rng: &mut Rng) -> Vec<Sample> {
    let group = d.file.rsplit('/').next().unwrap_or(&d.file);
    let mut ordinary: Vec<&String> = d
        .lines
        .iter()
        .filter(|l| {
            opensoc::signals::words::attempt(l).is_none()
                && owners(&d.attackers, None, l).is_empty()
        })
        .collect();
    ordinary.sort();
    ordinary.dedup();
    rng.shuffle(&mut ordinary);
    let floors = opensoc::analyze::floors::FloorConfig::default();
    let mut out = Vec::new();
    for line in ordinary {
        if out.len() == BENIGN_WINDOWS_PER_CASE {
            break;
        }
        let lines = vec![line.clone(); suites::BURST];
        for w in render(group, &join_lines(&lines)) {
            let input = w.input();
            let facts = opensoc::analyze::facts::Facts::extract(&opensoc::task::prompt::log_lines(
                input.as_bytes(),
            ));
            if opensoc::analyze::floors::floor(&facts, &floors).is_none() {
                out.push(Sample::new(input, BENIGN, source));
                break;
            }
        }
    }
    out
}

/// One case's windows, labelled, at most a few of each kind, in log order.
fn case_windows(d: &Draft, source: &str, attack_cap: usize, rng: &mut Rng) -> Vec<Sample> {
    let group = d.file.rsplit('/').next().unwrap_or(&d.file);
    let mut attacks = Vec::new();
    let mut benign = Vec::new();
    let mut seen = HashSet::new();
    for w in render(group, &join_lines(&d.lines)) {
        let input = w.input();
        if !seen.insert(input.clone()) {
            continue;
        }
        let entity = w.entity.as_ref().map(|e| e.to_string());
        let owners = owners(&d.attackers, entity.as_deref(), &input);
        match owners.first().and_then(|&i| d.attackers[i].classes.first()) {
            Some(class) => {
                if let Some(label) = label_for(class, &input) {
                    attacks.push(Sample::new(input, &label, source));
                }
            }
            None => benign.push(Sample::new(input, BENIGN, source)),
        }
    }
    let mut take = |mut xs: Vec<Sample>, n: usize| {
        rng.shuffle(&mut xs);
        xs.truncate(n);
        xs
    };
    let mut out = take(attacks, attack_cap);
    out.extend(take(benign, BENIGN_WINDOWS_PER_CASE));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_labels_the_text_supports() {
        assert_eq!(
            label_for(
                class::SQLI,
                "GET /?id=1%27%20UNION%20SELECT%20pass%20FROM%20users HTTP/1.1"
            )
            .as_deref(),
            Some("SQL Injection — UNION-based SQLi")
        );
        assert_eq!(
            label_for(class::DOS, "1.2.3.4 - - [x] \"GET / HTTP/1.1\" 200 5").as_deref(),
            Some("Denial of Service / DDoS Attack")
        );
        assert_eq!(
            label_for(class::DOS, "kernel: SYN flooding on port 80").as_deref(),
            Some("Denial of Service / DDoS Attack")
        );
        assert_eq!(
            label_for(class::SSH_BRUTE, "sshd: Failed password").as_deref(),
            Some("SSH Brute Force Attack")
        );
        assert_eq!(
            label_for(class::MAIL, "postfix: reject: RCPT").as_deref(),
            Some("Mail Abuse — Spam or Relay Attempt")
        );
        assert_eq!(label_for("Not A Class", "x"), None);
    }

    #[test]
    fn benign_bursts_repeat_only_ordinary_lines_no_attacker_owns() {
        let draft = Draft {
            source: suites::FAIL2BAN,
            service: "sshd".into(),
            name: "fail2ban/sshd".into(),
            file: "fail2ban/sshd.log".into(),
            lines: vec![
                "Mar  5 10:00:00 host sshd[100]: Failed password for root from 203.0.113.5 port 4242 ssh2".into(),
                "Mar  5 10:00:05 host sshd[101]: Accepted publickey for alice from 192.0.2.10 port 5555 ssh2: RSA SHA256:abc".into(),
                "Mar  5 10:00:07 host sshd[103]: Received disconnect from 203.0.113.5 port 4242:11: disconnected by user".into(),
                "Mar  5 10:00:09 host sshd[102]: Invalid user bob from 192.0.2.11 port 6000".into(),
            ],
            attackers: vec![opensoc::eval::suite::Attacker {
                source: "203.0.113.5".into(),
                classes: vec![class::SSH_BRUTE.into()],
                any_finding: false,
            }],
        };
        let bursts = benign_bursts(&draft, "suite:fail2ban", &mut Rng::new(3));
        assert_eq!(bursts.len(), 1, "{bursts:#?}");
        let b = &bursts[0];
        assert_eq!(b.label, BENIGN);
        assert!(
            b.input.contains("Accepted publickey for alice"),
            "{}",
            b.input
        );
        assert!(
            b.input.contains(&format!("[×{}]", suites::BURST)),
            "{}",
            b.input
        );
        assert!(!b.input.contains("203.0.113.5") && !b.input.contains("Invalid user"));
    }

    #[test]
    fn port_scans_reach_the_port_floor_and_noise_does_not() {
        let samples = firewall_windows(&mut Rng::new(7), 8);
        let facts = |s: &Sample| {
            opensoc::analyze::facts::Facts::extract(&opensoc::task::prompt::log_lines(
                s.input.as_bytes(),
            ))
        };
        let cfg = opensoc::analyze::floors::FloorConfig::default();
        let (scans, noise): (Vec<&Sample>, Vec<&Sample>) =
            samples.iter().partition(|s| s.label == "Network Port Scan");
        assert_eq!(scans.len(), 8, "one window per scan");
        assert_eq!(noise.len(), 8);
        for s in scans {
            let floor = opensoc::analyze::floors::floor(&facts(s), &cfg);
            assert_eq!(
                floor.map(|f| f.label),
                Some("Network Port Scan"),
                "{}",
                s.input
            );
        }
        for s in noise {
            assert!(
                opensoc::analyze::floors::floor(&facts(s), &cfg).is_none(),
                "{}",
                s.input
            );
        }
    }
}
