//! Scan-level evaluation suites (`opensoc-train suites`): log files with the findings a scan
//! of them should produce, written from three real labelled sources in the shared data
//! folder, with whole services held out of training.
//!
//! - **fail2ban** (`fail2ban/logs/<service>`): every line is preceded by a `# failJSON`
//!   comment saying whether it is a failure (`match: true`) and of which host. Each attacking
//!   host's lines are repeated, cycling, to a burst of [`BURST`] lines (fail2ban bans a source
//!   after about five matches); the other lines appear once each as the service's ordinary
//!   traffic. Lines stay verbatim.
//! - **wazuh** (`wazuh-ruleset/tests/*.ini` with `rules/*.xml`): each test line with the rule
//!   it must raise; the rule's level and groups say whether it is an attack ([`wazuh_kind`]),
//!   the line itself who the attacker is ([`peer_address`]).
//! - **crs** (`coreruleset/tests/regression/tests/REQUEST-9xx-*/<rule>.yaml`): each attack
//!   request whose payload an access log shows (query, path, User-Agent, Referer) becomes one
//!   combined-format line from its own address, among the ordinary browsing of a few visitors.
//!
//! Which services are held out is decided by [`Holdout`]: by a hash of the service's family
//! (`sshd` and `sshd-journal` are one) with the seed, the same across sources, topped up so
//! that every source holds out at least [`MIN_HELDOUT_SHARE`] of its services.
//!
//! The sources are GPL-2.0 (fail2ban, Wazuh) and Apache-2.0 (CRS): their logs and test
//! requests are used as data; no rule, regular expression or code of theirs is copied here.
//! The service → class tables below are ours.

use crate::corpus::adversarial::access_escape;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use opensoc::eval::suite::{owners, Attacker, Case, Suite, ANY_SOURCE};
use opensoc::model::lora::SplitMix64;
use opensoc::signals::words::{attempt, Attempt};
use regex::Regex;
use serde::Serialize;

use super::case::{class, Draft};
use super::{fnv1a, BuildError, Rng};

/// The fail2ban source's name in suites.
pub const FAIL2BAN: &str = "fail2ban";
/// The Wazuh source's name in suites.
pub const WAZUH: &str = "wazuh";
/// The Core Rule Set source's name in suites.
pub const CRS: &str = "crs";
/// The three sources.
pub const SOURCES: [&str; 3] = [FAIL2BAN, WAZUH, CRS];

/// Share of services held out by default.
pub const DEFAULT_HOLDOUT: f64 = 0.25;
/// Each source holds out at least this share of its services (when the fraction asked for is
/// at least as large).
pub const MIN_HELDOUT_SHARE: f64 = 0.2;
/// Lines of an attacker's burst: fail2ban's default `maxretry` is 5, so a sixth line is a ban.
pub const BURST: usize = 6;

use class::*;

// ---------------------------------------------------------------- holdout

/// The family a service belongs to: its name up to the first `-` or `_`, lower-cased, a
/// `zzz-` prefix dropped (`sshd-journal` → `sshd`, `apache-badbots` → `apache`,
/// `cisco_asa` → `cisco`). Families are held out whole, across sources.
pub fn family(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    let n = n.strip_prefix("zzz-").unwrap_or(&n);
    n.split(['-', '_']).next().unwrap_or(n).to_string()
}

/// A number in [0, 1) from the service's family and the seed; families below the holdout
/// fraction are held out.
pub fn holdout_key(name: &str, seed: u64) -> f64 {
    let mut g = SplitMix64::new(fnv1a(family(&name.to_ascii_lowercase()).as_bytes()) ^ seed);
    (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// The held-out names among `names` (one source's services): every family whose key is below
/// `fraction`, then further families in key order until at least
/// `ceil(min(fraction, MIN_HELDOUT_SHARE) × n)` names are held out.
pub fn pick_heldout(names: &BTreeSet<String>, seed: u64, fraction: f64) -> BTreeSet<String> {
    let mut by_family: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for n in names {
        by_family.entry(family(n)).or_default().push(n);
    }
    let mut families: Vec<(f64, String)> = by_family
        .keys()
        .map(|f| (holdout_key(f, seed), f.clone()))
        .collect();
    families.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let target = (fraction.clamp(0.0, MIN_HELDOUT_SHARE) * names.len() as f64).ceil() as usize;
    let mut out = BTreeSet::new();
    for (key, fam) in families {
        if key >= fraction && out.len() >= target {
            break;
        }
        out.extend(by_family[&fam].iter().map(|s| (*s).clone()));
    }
    out
}

/// Which services of each source are held out of training.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holdout {
    /// The seed of the hash.
    pub seed: u64,
    /// The share asked for.
    pub fraction: f64,
    /// Per source, its services (those with at least one case).
    pub services: BTreeMap<String, BTreeSet<String>>,
    /// Per source, the held-out ones.
    pub heldout: BTreeMap<String, BTreeSet<String>>,
}

impl Holdout {
    /// The holdout over `services` (source → service names).
    pub fn new(services: BTreeMap<String, BTreeSet<String>>, seed: u64, fraction: f64) -> Self {
        let heldout = services
            .iter()
            .map(|(src, names)| (src.clone(), pick_heldout(names, seed, fraction)))
            .collect();
        Holdout {
            seed,
            fraction,
            services,
            heldout,
        }
    }

    /// The holdout of the services the shared data folder yields cases for: what
    /// `opensoc-train suites` writes, and what the training-set builder must leave out.
    pub fn from_data(data_dir: &Path, seed: u64, fraction: f64) -> Result<Holdout, BuildError> {
        let (drafts, _) = collect(data_dir, seed)?;
        Ok(Holdout::new(services_of(&drafts), seed, fraction))
    }

    /// Whether `name` of `source` (`fail2ban`, `wazuh`, `crs`) is held out.
    pub fn is_heldout(&self, source: &str, name: &str) -> bool {
        self.heldout.get(source).is_some_and(|s| s.contains(name))
    }

    /// The held-out names of `source`, sorted.
    pub fn heldout_names(&self, source: &str) -> Vec<&str> {
        self.heldout
            .get(source)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// Whether `name` of `source` is held out at the default fraction, for the data in
/// `data_dir` (parses the three sources; build a [`Holdout`] once to ask about many).
pub fn heldout(data_dir: &Path, source: &str, name: &str, seed: u64) -> Result<bool, BuildError> {
    Ok(Holdout::from_data(data_dir, seed, DEFAULT_HOLDOUT)?.is_heldout(source, name))
}

/// Per source, the services that `drafts` hold.
pub fn services_of(drafts: &[Draft]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in drafts {
        out.entry(d.source.to_string())
            .or_default()
            .insert(d.service.clone());
    }
    out
}

// ---------------------------------------------------------------- cases before writing

/// What the sources had that no case could use, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Reason → count.
    pub reasons: BTreeMap<String, usize>,
}

impl Skipped {
    fn add(&mut self, reason: &str, n: usize) {
        if n > 0 {
            *self.reasons.entry(reason.to_string()).or_default() += n;
        }
    }
}

/// Every case the data folder yields, in a fixed order (source, then service).
pub fn collect(data_dir: &Path, seed: u64) -> Result<(Vec<Draft>, Skipped), BuildError> {
    let mut skipped = Skipped::default();
    let mut drafts = Vec::new();
    drafts.extend(fail2ban_drafts(data_dir, seed, &mut skipped)?);
    drafts.extend(wazuh_drafts(data_dir, seed, &mut skipped)?);
    drafts.extend(crs_drafts(data_dir, seed, &mut skipped)?);
    Ok((drafts, skipped))
}

fn read(path: &Path) -> Result<String, BuildError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|source| BuildError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BuildError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The address as a canonical IP, if it is one (`192.030.0.6` and host names are not).
fn as_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// A source's burst: its first line repeated to `n` lines, then its other lines once each.
/// The repeats are contiguous, so that they fall in one window whatever the times of the
/// source's other lines (a sample's lines of one host may lie years apart).
fn burst(lines: &[String], n: usize) -> Vec<String> {
    let Some(first) = lines.first() else {
        return Vec::new();
    };
    let mut out = vec![first.clone(); n.max(1)];
    out.extend(lines.iter().skip(1).cloned());
    out
}

/// The units (each a source's lines, in order) one after another, in a shuffled but stable
/// order. Each unit stays contiguous: the samples' stamps come from many years, so lines of
/// different units interleaved would move the log clock back and forth and close a source's
/// window by idleness in the middle of its burst, which no real log does.
fn interleave(mut units: Vec<Vec<String>>, rng: &mut Rng) -> Vec<String> {
    for i in (1..units.len()).rev() {
        units.swap(i, rng.below(i + 1));
    }
    units.into_iter().flatten().collect()
}

// ---------------------------------------------------------------- fail2ban

/// One labelled line of a fail2ban sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail2banLine {
    /// fail2ban counts it as a failure.
    pub matched: bool,
    /// The failing host, as the comment gives it.
    pub host: Option<String>,
    /// The log line, verbatim.
    pub text: String,
}

/// The labelled lines of a fail2ban sample: each `# failJSON: {…}` comment and the one line
/// after it. Entries of several lines, comments that carry a `constraint` (they hold only in
/// some filter modes) or cannot be read, and lines without a comment are left out; the
/// second value counts them.
pub fn parse_fail2ban(text: &str) -> (Vec<Fail2banLine>, usize) {
    let mut out = Vec::new();
    let mut dropped = 0;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(json) = line.trim_end().strip_prefix("# failJSON:") else {
            i += 1;
            continue;
        };
        // The entry: every line up to the next comment or blank line.
        let mut body = Vec::new();
        let mut j = i + 1;
        while j < lines.len() && !lines[j].starts_with('#') && !lines[j].trim().is_empty() {
            body.push(lines[j]);
            j += 1;
        }
        i = j;
        let meta: serde_json::Value = match serde_json::from_str(json.trim()) {
            Ok(v) => v,
            Err(_) => {
                dropped += body.len().max(1);
                continue;
            }
        };
        let matched = meta.get("match").and_then(serde_json::Value::as_bool);
        if body.len() != 1 || meta.get("constraint").is_some() || matched.is_none() {
            dropped += body.len().max(1);
            continue;
        }
        out.push(Fail2banLine {
            matched: matched.unwrap_or(false),
            host: meta
                .get("host")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            text: body[0].trim_end_matches('\r').to_string(),
        });
    }
    (out, dropped)
}

/// The categories that name a fail2ban service's failures right (our table, by the jail's
/// name; services whose failures are logins are brute force).
pub fn fail2ban_classes(service: &str) -> Vec<&'static str> {
    let s = service.to_ascii_lowercase();
    let s = s.as_str();
    match s {
        "sshd"
        | "sshd-journal"
        | "dropbear"
        | "selinux-ssh"
        | "cowrie"
        | "zzz-sshd-obsolete-multiline" => vec![SSH_BRUTE, BRUTE],
        "postfix" | "exim-spam" | "sendmail-reject" | "courier-smtp" | "qmail" | "assp"
        | "kerio" => vec![MAIL],
        // Authentication failures and relay/spam rejections in one sample.
        "exim" => vec![MAIL, BRUTE],
        // SASL/SMTP AUTH failures.
        "sendmail-auth" | "domino-smtp" | "oracleims" => vec![BRUTE, MAIL],
        "apache-badbots"
        | "apache-botsearch"
        | "nginx-botsearch"
        | "apache-nohome"
        | "apache-noscript"
        | "apache-fakegooglebot"
        | "nginx-forbidden"
        | "nginx-bad-request"
        | "squid"
        | "named-refused"
        | "nagios" => vec![RECON],
        "apache-overflows" => vec![RECON, EXPLOIT, TRAVERSAL],
        "apache-modsecurity" | "suhosin" => vec![EXPLOIT, RECON],
        "php-url-fopen" => vec![LFI, EXPLOIT, RECON],
        "apache-shellshock" => vec![EXPLOIT, CMDI],
        "nginx-limit-req" => vec![DOS],
        "nsd" => vec![RECON, DOS],
        "portsentry" | "scanlogd" => vec![PORT_SCAN, RECON],
        // fail2ban's own bans of repeat offenders: what they did is not in the line.
        "recidive" => vec![BRUTE, RECON],
        // Knocking on a protected URL, refused service connections, TLS without a
        // certificate: none of our categories fits well.
        "apache-pass" | "xinetd-fail" | "stunnel" => vec![RECON, BRUTE],
        _ => vec![BRUTE],
    }
}

fn fail2ban_drafts(
    data_dir: &Path,
    seed: u64,
    skipped: &mut Skipped,
) -> Result<Vec<Draft>, BuildError> {
    let dir = data_dir.join("fail2ban").join("logs");
    let mut out = Vec::new();
    for path in list(&dir, |n| !n.starts_with('.'))? {
        let service = file_name(&path);
        let (lines, dropped) = parse_fail2ban(&read(&path)?);
        skipped.add(
            "fail2ban: multi-line, constrained or unlabelled entries",
            dropped,
        );
        if let Some(d) = fail2ban_draft(&service, &lines, seed, skipped) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Whether the scorer would give a window of `line` alone to the attacker `host`: its entity
/// or its text names the address.
fn names_host(line: &str, host: &str) -> bool {
    let probe = [Attacker {
        source: host.to_string(),
        classes: Vec::new(),
        any_finding: false,
    }];
    let entity = opensoc_logs::logline::parse(line, 2000)
        .entity
        .map(|e| e.to_string());
    !owners(&probe, entity.as_deref(), line).is_empty()
}

/// One fail2ban service's case from its labelled lines.
pub fn fail2ban_draft(
    service: &str,
    lines: &[Fail2banLine],
    seed: u64,
    skipped: &mut Skipped,
) -> Option<Draft> {
    let mut hosts: Vec<(String, Vec<String>)> = Vec::new();
    let mut benign: Vec<Vec<String>> = Vec::new();
    for l in lines {
        if !l.matched {
            // fail2ban leaves out some lines of an attack because it counts the same attempt
            // on another line (sshd's `Disconnecting: Too many authentication failures` after
            // each `Failed password`) or because one of its modes does not look at them. They
            // report a failed authentication, so they are not the ordinary lines the benign
            // figure is about; neither are they labelled as an attack. Left out.
            if attempt(&l.text) == Some(Attempt::AuthFailure) {
                skipped.add(
                    "fail2ban: match:false lines that report a failed authentication",
                    1,
                );
                continue;
            }
            benign.push(vec![l.text.clone()]);
            continue;
        }
        let Some(host) = l.host.as_deref().filter(|h| as_ip(h).is_some()) else {
            skipped.add("fail2ban: failures without an IP host", 1);
            continue;
        };
        // A line that does not name its host (sshd's `Disconnecting: Too many authentication
        // failures for root [preauth]` carries the address on another line of the same
        // process) cannot be told to be the host's by any reader of the log: scored, its
        // window would count as benign.
        if !names_host(&l.text, host) {
            skipped.add("fail2ban: failures whose line does not name the host", 1);
            continue;
        }
        match hosts.iter_mut().find(|(h, _)| h == host) {
            Some((_, v)) => v.push(l.text.clone()),
            None => hosts.push((host.to_string(), vec![l.text.clone()])),
        }
    }
    if hosts.is_empty() && benign.is_empty() {
        return None;
    }
    let classes: Vec<String> = fail2ban_classes(service)
        .into_iter()
        .map(str::to_string)
        .collect();
    let attackers = hosts
        .iter()
        .map(|(h, _)| Attacker {
            source: h.clone(),
            classes: classes.clone(),
            any_finding: false,
        })
        .collect();
    let mut units: Vec<Vec<String>> = hosts.iter().map(|(_, l)| burst(l, BURST)).collect();
    units.extend(benign);
    let name = format!("{FAIL2BAN}/{service}");
    let mut rng = Rng::fork(seed, &name);
    Some(Draft {
        source: FAIL2BAN,
        service: service.to_string(),
        file: format!("{name}.log"),
        name,
        lines: interleave(units, &mut rng),
        attackers,
    })
}

// ---------------------------------------------------------------- wazuh

/// What a Wazuh rule says about the lines that raise it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WazuhRule {
    /// Alert level, 0 to 15.
    pub level: u8,
    /// Its groups and those of the `<group name>` around it.
    pub groups: BTreeSet<String>,
    /// MITRE ATT&CK ids.
    pub mitre: Vec<String>,
    /// The description.
    pub description: String,
}

/// The rules of one Wazuh rules file by id (read with regular expressions: the files are
/// regular, and only id, level, groups, description and MITRE ids are needed).
pub fn parse_wazuh_rules(xml: &str) -> BTreeMap<String, WazuhRule> {
    static RE: OnceLock<[Regex; 7]> = OnceLock::new();
    let [comment, group_open, rule, attr_id, attr_level, inner_group, description] = RE
        .get_or_init(|| {
            [
                Regex::new(r"(?s)<!--.*?-->").unwrap(),
                Regex::new(r#"<group\s+name\s*=\s*"([^"]*)""#).unwrap(),
                Regex::new(r"(?s)<rule\s([^>]*)>(.*?)</rule>").unwrap(),
                Regex::new(r#"\bid\s*=\s*"(\d+)""#).unwrap(),
                Regex::new(r#"\blevel\s*=\s*"(\d+)""#).unwrap(),
                Regex::new(r"(?s)<group>(.*?)</group>").unwrap(),
                Regex::new(r"(?s)<description>(.*?)</description>").unwrap(),
            ]
        });
    static MITRE: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (mitre_block, mitre_id) = MITRE.get_or_init(|| {
        (
            Regex::new(r"(?s)<mitre>(.*?)</mitre>").unwrap(),
            Regex::new(r"<id>\s*(T[0-9.]+)\s*</id>").unwrap(),
        )
    });
    let xml = comment.replace_all(xml, "");
    let opens: Vec<(usize, String)> = group_open
        .captures_iter(&xml)
        .map(|c| (c.get(0).map_or(0, |m| m.start()), c[1].to_string()))
        .collect();
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut out = BTreeMap::new();
    for c in rule.captures_iter(&xml) {
        let start = c.get(0).map_or(0, |m| m.start());
        let (attrs, body) = (&c[1], &c[2]);
        let Some(id) = attr_id.captures(attrs).map(|m| m[1].to_string()) else {
            continue;
        };
        let level = attr_level
            .captures(attrs)
            .and_then(|m| m[1].parse().ok())
            .unwrap_or(0);
        let mut groups: BTreeSet<String> = BTreeSet::new();
        if let Some((_, names)) = opens.iter().rev().find(|(at, _)| *at < start) {
            groups.extend(split(names));
        }
        for g in inner_group.captures_iter(body) {
            groups.extend(split(&g[1]));
        }
        let description = description
            .captures_iter(body)
            .map(|d| d[1].trim().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mitre = mitre_block
            .captures_iter(body)
            .flat_map(|b| {
                mitre_id
                    .captures_iter(&b[1])
                    .map(|m| m[1].to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.insert(
            id,
            WazuhRule {
                level,
                groups,
                mitre,
                description,
            },
        );
    }
    out
}

/// One section of a Wazuh test file: its lines that must raise `rule` at level `alert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WazuhTest {
    /// The section's title.
    pub name: String,
    /// The `log N pass = …` lines (`fail` lines must not raise the rule: left out).
    pub lines: Vec<String>,
    /// The rule id.
    pub rule: String,
    /// The alert level, when given.
    pub alert: Option<u8>,
    /// The decoder.
    pub decoder: String,
}

/// The sections of a Wazuh `.ini` test file.
pub fn parse_wazuh_ini(text: &str) -> Vec<WazuhTest> {
    static LOG: OnceLock<Regex> = OnceLock::new();
    let log = LOG.get_or_init(|| Regex::new(r"^log\s+\d+\s+(pass|fail)\s*=\s?(.*)$").unwrap());
    let mut out: Vec<WazuhTest> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        if line.starts_with('[') && line.trim_end().ends_with(']') {
            out.push(WazuhTest {
                name: line
                    .trim()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                lines: Vec::new(),
                rule: String::new(),
                alert: None,
                decoder: String::new(),
            });
            continue;
        }
        let Some(t) = out.last_mut() else { continue };
        if let Some(c) = log.captures(line) {
            if &c[1] == "pass" && !c[2].trim().is_empty() {
                t.lines.push(c[2].to_string());
            }
        } else if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "rule" => t.rule = v,
                "alert" => t.alert = v.parse().ok(),
                "decoder" => t.decoder = v,
                _ => {}
            }
        }
    }
    out.retain(|t| !t.rule.is_empty() && !t.lines.is_empty());
    out
}

/// Rule groups (as the Wazuh rules name them) that mark failed authentication: such lines
/// come as bursts, like fail2ban's.
const AUTH_GROUPS: [&str; 5] = [
    "authentication_failed",
    "authentication_failures",
    "invalid_login",
    "win_authentication_failed",
    "login_denied",
];

/// Rule groups that mark an attack, a probe or abuse. Chosen from the groups the rules use:
/// `attack(s)`, `automatic_attack`, `exploit_attempt`, `recon`, `web_scan`, the SQL-injection
/// and XSS groups, `spam`, the OS-specific attack groups, `invalid_access`, and the web
/// application firewalls' `appsec` and `naxsi`. Left out: `ids` (Zeek logs every connection
/// under it), `access_denied` and `connection_attempt` (ordinary refusals and sessions).
const ATTACK_GROUPS: [&str; 16] = [
    "attack",
    "attacks",
    "automatic_attack",
    "exploit_attempt",
    "recon",
    "web_scan",
    "sql_injection",
    "sqlinjection",
    "xss",
    "spam",
    "multiple_spam",
    "osx_attacks",
    "windows_attacks",
    "invalid_access",
    "appsec",
    "naxsi",
];

/// Groups of administrative or health events: a high level with a MITRE id does not make
/// them attacks (configuration and policy changes, errors, compliance scans).
const ADMIN_GROUPS: [&str; 12] = [
    "config_changed",
    "policy_changed",
    "account_changed",
    "adduser",
    "group_changed",
    "system_error",
    "service_availability",
    "errors",
    "oscap",
    "syscheck",
    "hardware_monitoring",
    "low_diskspace",
];

/// How a suite treats a Wazuh test line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WazuhKind {
    /// An attack line; `auth` when it is a failed login (repeated to a burst).
    Attack {
        /// A failed authentication.
        auth: bool,
    },
    /// Ordinary traffic (level 3 or below).
    Benign,
    /// Neither clearly: left out of the suite.
    Neither,
}

/// Level 3 or below is benign; failed logins, the attack groups, and level 7 or more with a
/// MITRE id outside administrative groups are attacks; the rest is left out.
pub fn wazuh_kind(rule: &WazuhRule, level: u8) -> WazuhKind {
    if level <= 3 {
        return WazuhKind::Benign;
    }
    let has = |set: &[&str]| set.iter().any(|g| rule.groups.contains(*g));
    let auth = has(&AUTH_GROUPS);
    let admin = has(&ADMIN_GROUPS) || rule.groups.iter().any(|g| g.starts_with("oscap"));
    if auth || has(&ATTACK_GROUPS) || (level >= 7 && !rule.mitre.is_empty() && !admin) {
        WazuhKind::Attack { auth }
    } else {
        WazuhKind::Neither
    }
}

/// Appends classes not yet in `out`.
fn add(out: &mut Vec<&'static str>, classes: &[&'static str]) {
    for c in classes {
        if !out.contains(c) {
            out.push(c);
        }
    }
}

/// What a web request in a line shows, for rules whose description says only "web attack":
/// SQL, script, traversal or shell marks (our own short list).
fn request_classes(line: &str) -> Vec<&'static str> {
    static RES: OnceLock<[(Regex, &[&str]); 4]> = OnceLock::new();
    let res = RES.get_or_init(|| {
        [
            (
                Regex::new(r"(?i)union(\s|\+|%20)+(all(\s|\+|%20)+)?select|declare(\s|\+|%20)*@|'(\s|\+|%20)*or(\s|\+|%20)*'|sleep\(|waitfor(\s|\+|%20)+delay").unwrap(),
                &[SQLI][..],
            ),
            (
                Regex::new(r"(?i)<script|%3cscript|javascript:|onerror=|onload=").unwrap(),
                &[XSS][..],
            ),
            (
                Regex::new(r"(?i)\.\./|\.\.%2f|%2e%2e|/etc/passwd").unwrap(),
                &[TRAVERSAL, LFI][..],
            ),
            (
                Regex::new(r"(?i);\s*(cat|wget|curl|id|uname)|\|\s*(sh|bash)|\$\(").unwrap(),
                &[CMDI][..],
            ),
        ]
    });
    res.iter()
        .filter(|(re, _)| re.is_match(line))
        .flat_map(|(_, cs)| cs.iter().copied())
        .collect()
}

/// The categories for a Wazuh attack line, from its rule's description and groups (our
/// keyword table) and, for generic web-attack rules, the request in the line; most fitting
/// first; reconnaissance when nothing fits.
pub fn wazuh_classes(
    service: &str,
    rule: &WazuhRule,
    decoder: &str,
    line: &str,
) -> Vec<&'static str> {
    let d = rule.description.to_ascii_lowercase();
    let g = |name: &str| rule.groups.contains(name);
    let any = |words: &[&str]| words.iter().any(|w| d.contains(w));
    let mut out: Vec<&'static str> = Vec::new();
    if any(&["sql injection", "sqli"]) || g("sql_injection") || g("sqlinjection") {
        add(&mut out, &[SQLI]);
    }
    if any(&["xss", "cross site", "cross-site"]) || g("xss") {
        add(&mut out, &[XSS]);
    }
    if any(&["travers", "transvers"]) {
        add(&mut out, &[TRAVERSAL, LFI]);
    }
    if any(&["file inclusion", "remote file"]) {
        add(&mut out, &[LFI, EXPLOIT]);
    }
    if any(&["shellshock", "command injection", "cmd injection"]) {
        add(&mut out, &[EXPLOIT, CMDI]);
    }
    if any(&["spam", "relay", "blacklist", "rbl"]) || g("spam") || g("multiple_spam") {
        add(&mut out, &[MAIL]);
    }
    if any(&["flood", "denial of service", " dos", "dos "]) {
        add(&mut out, &[DOS]);
    }
    if any(&["port scan", "portscan"]) {
        add(&mut out, &[PORT_SCAN, RECON]);
    }
    let failed_password = any(&[
        "failed attempts",
        "incorrect password",
        "authentication fail",
        "login fail",
        "failed login",
        "brute",
    ]);
    if AUTH_GROUPS.iter().any(|a| g(a))
        || rule.mitre.iter().any(|m| m.starts_with("T1110"))
        || failed_password
    {
        let ssh = service.contains("ssh") || decoder.contains("ssh");
        if ssh {
            add(&mut out, &[SSH_BRUTE, BRUTE]);
        } else {
            add(&mut out, &[BRUTE]);
        }
    }
    if out.is_empty() {
        add(&mut out, &request_classes(line));
    }
    if any(&[
        "scan",
        "recon",
        "version gathering",
        "probe",
        "bad bot",
        "bots",
        "crawler",
    ]) || g("recon")
        || g("web_scan")
    {
        add(&mut out, &[RECON]);
    }
    if any(&["exploit", "vulnerab", "backdoor", "overflow", "attack"])
        || g("exploit_attempt")
        || g("attack")
    {
        add(&mut out, &[EXPLOIT, RECON]);
    }
    if decoder == "windows" && any(&["process"]) {
        add(&mut out, &[WIN_PROCESS]);
    }
    if out.is_empty() {
        out.push(RECON);
    }
    out
}

/// The client address of a log line: the peer after `from`, `rhost=`, `rip=`, `client`,
/// `src=`/`SRC=`, `Client "…"`, a combined log line's first field, or a bracketed address;
/// not the logging host and not a destination. As written in the line, without a port.
pub fn peer_address(line: &str) -> Option<String> {
    const IP: &str = r"((?:[0-9]{1,3}\.){3}[0-9]{1,3}|(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{1,4}))";
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    let res = RES.get_or_init(|| {
        [
            // Combined/common access log: the client is the first field.
            format!(r"^{IP} \S+ \S+ \["),
            // key=value and JSON: rhost=, rip=, src=, SRC=, remoteAddr, client_ip.
            format!(
                r#"(?i)\b(?:rhost|rip|src|srcip|src_ip|client_ip|clientip|remote_?addr|remoteip)"?\s*[=:]\s*"?\[?{IP}"#
            ),
            // client 1.2.3.4, client: 1.2.3.4, [client 1.2.3.4:80], Client "1.2.3.4".
            format!(r#"(?i)\bclient:?\s+"?\[?{IP}"#),
            // from 1.2.3.4, from host[1.2.3.4], from (1.2.3.4), from 1.2.3.4/port.
            format!(r"(?i)\bfrom\s+(?:[\w.-]*\[|\()?{IP}"),
            // src outside:1.2.3.4 (Cisco ASA).
            format!(r"(?i)\bsrc\s+[\w-]+:{IP}"),
            // user(name,1.2.3.4) (Dovecot's auth workers).
            format!(r"\w\([^,()\s]*,{IP}[,)]"),
            // host[1.2.3.4] or [1.2.3.4]:port or [1.2.3.4:port ->.
            format!(r"\[{IP}(?:\]|:\d+\s*->)"),
        ]
        .iter()
        .map(|p| Regex::new(p).expect("peer address pattern"))
        .collect()
    });
    for re in res {
        for c in re.captures_iter(line) {
            let Some(m) = c.get(1) else { continue };
            let s = m.as_str();
            if as_ip(s).is_some() {
                return Some(s.to_string());
            }
            // `1.2.3.4:22`-style suffix captured by the v6 alternative.
            if let Some((h, p)) = s.rsplit_once(':') {
                if p.bytes().all(|b| b.is_ascii_digit()) && as_ip(h).is_some() {
                    return Some(h.to_string());
                }
            }
        }
    }
    None
}

/// Lines of one Wazuh attacker: its classes, attack lines and failed logins.
#[derive(Debug, Default)]
struct WazuhSource {
    /// Class → (lines naming it, first-seen order).
    votes: BTreeMap<&'static str, (usize, usize)>,
    lines: Vec<String>,
    auth: Vec<String>,
}

impl WazuhSource {
    fn vote(&mut self, classes: &[&'static str]) {
        for c in classes {
            let next = self.votes.len();
            self.votes.entry(c).or_insert((0, next)).0 += 1;
        }
    }

    /// Its classes: those of most of its lines first, then in the order first seen.
    fn classes(&self) -> Vec<String> {
        let mut v: Vec<(&&str, &(usize, usize))> = self.votes.iter().collect();
        v.sort_by_key(|(_, (n, first))| (std::cmp::Reverse(*n), *first));
        v.into_iter().map(|(c, _)| (*c).to_string()).collect()
    }

    fn lines(&self) -> Vec<String> {
        let mut out = self.lines.clone();
        out.extend(burst(&self.auth, BURST));
        out
    }
}

fn wazuh_drafts(
    data_dir: &Path,
    seed: u64,
    skipped: &mut Skipped,
) -> Result<Vec<Draft>, BuildError> {
    let root = data_dir.join("wazuh-ruleset");
    let mut rules = BTreeMap::new();
    for path in list(&root.join("rules"), |n| n.ends_with(".xml"))? {
        rules.extend(parse_wazuh_rules(&read(&path)?));
    }
    let mut out = Vec::new();
    // The `test_*` files exercise the rule engine's matchers with synthetic decoders.
    for path in list(&root.join("tests"), |n| {
        n.ends_with(".ini") && !n.starts_with("test_")
    })? {
        let service = file_name(&path).trim_end_matches(".ini").to_string();
        let tests = parse_wazuh_ini(&read(&path)?);
        out.extend(wazuh_service_drafts(
            &service, &tests, &rules, seed, skipped,
        ));
    }
    Ok(out)
}

/// One Wazuh test file's cases: the lines with addresses and the benign lines in one case;
/// attack lines without an address, if any, in a second case whose one attacker is `*`
/// (their windows cannot be told from benign ones by entity).
pub fn wazuh_service_drafts(
    service: &str,
    tests: &[WazuhTest],
    rules: &BTreeMap<String, WazuhRule>,
    seed: u64,
    skipped: &mut Skipped,
) -> Vec<Draft> {
    let mut sources: Vec<(String, WazuhSource)> = Vec::new();
    let mut anon = WazuhSource::default();
    let mut benign: Vec<Vec<String>> = Vec::new();
    for t in tests {
        let Some(rule) = rules.get(&t.rule) else {
            skipped.add("wazuh: lines of rules not in rules/", t.lines.len());
            continue;
        };
        let level = t.alert.unwrap_or(rule.level);
        match wazuh_kind(rule, level) {
            WazuhKind::Benign => benign.extend(t.lines.iter().map(|l| vec![l.clone()])),
            WazuhKind::Neither => skipped.add("wazuh: level 4-6 (or admin) lines", t.lines.len()),
            WazuhKind::Attack { auth } => {
                for line in &t.lines {
                    let classes = wazuh_classes(service, rule, &t.decoder, line);
                    let src = match peer_address(line) {
                        Some(addr) => {
                            let i = match sources.iter().position(|(a, _)| *a == addr) {
                                Some(i) => i,
                                None => {
                                    sources.push((addr, WazuhSource::default()));
                                    sources.len() - 1
                                }
                            };
                            &mut sources[i].1
                        }
                        None => &mut anon,
                    };
                    src.vote(&classes);
                    if auth {
                        src.auth.push(line.clone());
                    } else {
                        src.lines.push(line.clone());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let name = format!("{WAZUH}/{service}");
    if !sources.is_empty() || !benign.is_empty() {
        let attackers = sources
            .iter()
            .map(|(a, s)| Attacker {
                source: a.clone(),
                classes: s.classes(),
                any_finding: false,
            })
            .collect();
        let mut units: Vec<Vec<String>> = sources.iter().map(|(_, s)| s.lines()).collect();
        units.extend(benign);
        let mut rng = Rng::fork(seed, &name);
        out.push(Draft {
            source: WAZUH,
            service: service.to_string(),
            file: format!("{name}.log"),
            name: name.clone(),
            lines: interleave(units, &mut rng),
            attackers,
        });
    }
    if !anon.lines.is_empty() || !anon.auth.is_empty() {
        let anon_name = format!("{name}-noaddr");
        let mut rng = Rng::fork(seed, &anon_name);
        let mut units: Vec<Vec<String>> = anon.lines.iter().map(|l| vec![l.clone()]).collect();
        units.push(burst(&anon.auth, BURST));
        out.push(Draft {
            source: WAZUH,
            service: service.to_string(),
            file: format!("{anon_name}.log"),
            name: anon_name,
            lines: interleave(units, &mut rng),
            attackers: vec![Attacker {
                source: ANY_SOURCE.to_string(),
                classes: anon.classes(),
                any_finding: true,
            }],
        });
    }
    out
}

// ---------------------------------------------------------------- a YAML subset

/// A YAML node: what the CRS test files use (block maps and sequences, plain, quoted and
/// block scalars, flow sequences of scalars). Every scalar stays a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Yaml {
    /// An empty value.
    Null,
    /// A scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A mapping, in order.
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A scalar's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A sequence's items (none for anything else).
    pub fn items(&self) -> &[Yaml] {
        match self {
            Yaml::Seq(v) => v,
            _ => &[],
        }
    }
}

/// Parses the YAML subset [`Yaml`] describes (one document).
pub fn parse_yaml(src: &str) -> Result<Yaml, String> {
    let mut p = YamlParser {
        lines: src
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect(),
        i: 0,
    };
    p.skip_blank();
    if p.i >= p.lines.len() {
        return Ok(Yaml::Null);
    }
    let indent = p.indent(p.i);
    p.node(indent)
}

struct YamlParser {
    lines: Vec<String>,
    i: usize,
}

fn indent_of(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

fn is_seq_item(t: &str) -> bool {
    t == "-" || t.starts_with("- ")
}

impl YamlParser {
    fn indent(&self, i: usize) -> usize {
        indent_of(&self.lines[i])
    }

    fn skip_blank(&mut self) {
        while self.i < self.lines.len() {
            let t = self.lines[self.i].trim();
            if t.is_empty() || t.starts_with('#') || t == "---" || t == "..." {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn node(&mut self, indent: usize) -> Result<Yaml, String> {
        self.skip_blank();
        if self.i >= self.lines.len() {
            return Ok(Yaml::Null);
        }
        if is_seq_item(self.lines[self.i].trim_start()) {
            self.seq(indent)
        } else {
            self.map(indent)
        }
    }

    fn seq(&mut self, indent: usize) -> Result<Yaml, String> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            if self.i >= self.lines.len() || self.indent(self.i) != indent {
                break;
            }
            let line = self.lines[self.i].clone();
            let t = &line[indent..];
            if !is_seq_item(t) {
                break;
            }
            let rest = &t[1..];
            if rest.trim().is_empty() || rest.trim_start().starts_with('#') {
                self.i += 1;
                self.skip_blank();
                if self.i < self.lines.len() && self.indent(self.i) > indent {
                    let child = self.indent(self.i);
                    items.push(self.node(child)?);
                } else {
                    items.push(Yaml::Null);
                }
                continue;
            }
            let col = indent + 1 + indent_of(rest);
            let content = rest.trim_start();
            if is_seq_item(content) || map_key(content).is_some() {
                // `- key: value` opens a mapping at the content's column: blank out the dash
                // and parse the line again as that mapping's first entry.
                let mut blanked = line.clone();
                blanked.replace_range(indent..indent + 1, " ");
                self.lines[self.i] = blanked;
                items.push(self.node(col)?);
            } else {
                self.i += 1;
                items.push(self.value(content, indent)?);
            }
        }
        Ok(Yaml::Seq(items))
    }

    fn map(&mut self, indent: usize) -> Result<Yaml, String> {
        let mut entries = Vec::new();
        loop {
            self.skip_blank();
            if self.i >= self.lines.len() || self.indent(self.i) != indent {
                break;
            }
            let line = self.lines[self.i].clone();
            let t = &line[indent..];
            if is_seq_item(t) {
                break;
            }
            let Some((key, rest)) = map_key(t) else {
                return Err(format!("line {}: expected `key: value`", self.i + 1));
            };
            self.i += 1;
            let value = self.value(rest.trim_start(), indent)?;
            entries.push((key, value));
        }
        Ok(Yaml::Map(entries))
    }

    /// The value after `key:` or `- ` (the line already consumed); `indent` is the parent's.
    fn value(&mut self, rest: &str, indent: usize) -> Result<Yaml, String> {
        if rest.is_empty() || rest.starts_with('#') {
            self.skip_blank();
            if self.i < self.lines.len() {
                let next = self.indent(self.i);
                let t = self.lines[self.i].trim_start().to_string();
                if next > indent || (next == indent && is_seq_item(&t)) {
                    return self.node(next);
                }
            }
            return Ok(Yaml::Null);
        }
        match rest.as_bytes()[0] {
            b'|' | b'>' => Ok(Yaml::Str(self.block_scalar(rest, indent))),
            b'"' | b'\'' => self.quoted(rest).map(Yaml::Str),
            b'[' => self.flow_seq(rest),
            _ => Ok(Yaml::Str(self.plain(rest, indent))),
        }
    }

    fn block_scalar(&mut self, header: &str, indent: usize) -> String {
        let folded = header.starts_with('>');
        let chomp = if header.contains('-') {
            '-'
        } else if header.contains('+') {
            '+'
        } else {
            ' '
        };
        let mut raw: Vec<String> = Vec::new();
        while self.i < self.lines.len() {
            let l = &self.lines[self.i];
            if l.trim().is_empty() || indent_of(l) > indent {
                raw.push(l.clone());
                self.i += 1;
            } else {
                break;
            }
        }
        let block_indent = raw
            .iter()
            .find(|l| !l.trim().is_empty())
            .map_or(0, |l| indent_of(l));
        let body: Vec<&str> = raw
            .iter()
            .map(|l| l.get(block_indent..).unwrap_or(""))
            .collect();
        let trailing = body.iter().rev().take_while(|l| l.is_empty()).count();
        let content = &body[..body.len() - trailing];
        let mut text = if folded {
            let mut s = String::new();
            for (k, l) in content.iter().enumerate() {
                if k > 0 {
                    s.push(if l.is_empty() || content[k - 1].is_empty() {
                        '\n'
                    } else {
                        ' '
                    });
                }
                s.push_str(l);
            }
            s
        } else {
            content.join("\n")
        };
        match chomp {
            '-' => {}
            '+' => text.push_str(&"\n".repeat(trailing + 1)),
            _ => {
                if !content.is_empty() {
                    text.push('\n');
                }
            }
        }
        text
    }

    /// A quoted scalar, perhaps over several lines.
    fn quoted(&mut self, first: &str) -> Result<String, String> {
        let q = first.chars().next().unwrap_or('"');
        let mut raw = first[1..].to_string();
        loop {
            if let Some(end) = closing_quote(&raw, q) {
                raw.truncate(end);
                break;
            }
            if self.i >= self.lines.len() {
                return Err("unterminated quoted scalar".into());
            }
            raw.push('\n');
            raw.push_str(&self.lines[self.i]);
            self.i += 1;
        }
        // Line folding: a line break between text is a space, an empty line a newline.
        let parts: Vec<&str> = raw.split('\n').collect();
        let mut folded = String::new();
        for (k, p) in parts.iter().enumerate() {
            let p = match (k == 0, k + 1 == parts.len()) {
                (true, true) => *p,
                (true, false) => p.trim_end_matches([' ', '\t']),
                (false, true) => p.trim_start_matches([' ', '\t']),
                (false, false) => p.trim_matches([' ', '\t']),
            };
            if k > 0 {
                if folded.ends_with('\\') && q == '"' && !folded.ends_with("\\\\") {
                    folded.pop();
                } else if p.is_empty() {
                    folded.push('\n');
                    continue;
                } else if !folded.ends_with('\n') {
                    folded.push(' ');
                }
            }
            folded.push_str(p);
        }
        Ok(if q == '\'' {
            folded.replace("''", "'")
        } else {
            unescape_double(&folded)
        })
    }

    fn flow_seq(&mut self, first: &str) -> Result<Yaml, String> {
        let mut raw = first.to_string();
        while !raw.contains(']') && self.i < self.lines.len() {
            raw.push(' ');
            raw.push_str(self.lines[self.i].trim());
            self.i += 1;
        }
        let inner = raw
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("")
            .trim();
        if inner.is_empty() {
            return Ok(Yaml::Seq(Vec::new()));
        }
        let items = inner
            .split(',')
            .map(|s| {
                let s = s.trim();
                let unq = s
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                    .unwrap_or(s);
                Yaml::Str(unq.to_string())
            })
            .collect();
        Ok(Yaml::Seq(items))
    }

    /// A plain scalar and its continuation lines (more indented than the parent).
    fn plain(&mut self, first: &str, indent: usize) -> String {
        let mut text = strip_comment(first).trim_end().to_string();
        while self.i < self.lines.len() {
            let l = &self.lines[self.i];
            if l.trim().is_empty() || indent_of(l) <= indent || l.trim_start().starts_with('#') {
                break;
            }
            text.push(' ');
            text.push_str(strip_comment(l.trim()).trim_end());
            self.i += 1;
        }
        text
    }
}

/// `key: rest` (or `key:` at the end), with a plain or quoted key.
fn map_key(t: &str) -> Option<(String, &str)> {
    let t = t.trim_start();
    if let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = closing_quote(&t[1..], q)? + 1;
        let rest = t[end + 1..].trim_start().strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        return Some((t[1..end].to_string(), rest));
    }
    let mut from = 0;
    while let Some(k) = t[from..].find(':') {
        let at = from + k;
        let after = &t[at + 1..];
        if after.is_empty() || after.starts_with(' ') || after.starts_with('\t') {
            let key = t[..at].trim();
            if key.is_empty() || key.starts_with(['[', '{', '#', '|', '>']) {
                return None;
            }
            return Some((key.to_string(), after));
        }
        from = at + 1;
    }
    None
}

/// Where an unescaped closing quote `q` is in `s` (text after the opening quote).
fn closing_quote(s: &str, q: char) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if q == '"' && c == b'\\' {
            i += 2;
            continue;
        }
        if c == q as u8 {
            if q == '\'' && b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

fn strip_comment(s: &str) -> &str {
    match s.find(" #") {
        Some(i) => &s[..i],
        None => s,
    }
}

/// YAML double-quoted escapes.
fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        let hex = |chars: &mut std::str::Chars, n: usize| -> Option<char> {
            let h: String = chars.by_ref().take(n).collect();
            u32::from_str_radix(&h, 16).ok().and_then(char::from_u32)
        };
        match e {
            'n' => out.push('\n'),
            't' | '\t' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'e' => out.push('\u{1b}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'N' => out.push('\u{85}'),
            '_' => out.push('\u{a0}'),
            'x' => out.extend(hex(&mut chars, 2)),
            'u' => out.extend(hex(&mut chars, 4)),
            'U' => out.extend(hex(&mut chars, 8)),
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------- Core Rule Set

/// One CRS regression test as a request an access log would show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrsRequest {
    /// The rule file's id (`942100`).
    pub rule_file: String,
    /// The test's id.
    pub test_id: String,
    /// HTTP method.
    pub method: String,
    /// Request target.
    pub uri: String,
    /// Protocol version.
    pub version: String,
    /// User-Agent, when the test sets one other than the test harness's.
    pub user_agent: Option<String>,
    /// Referer.
    pub referer: Option<String>,
}

/// The User-Agent the CRS harness sends when a test does not care.
const CRS_TEST_AGENT: &str = "OWASP CRS test agent";

/// The rule groups of attack requests and the categories that name them right.
pub fn crs_classes(rule_file: &str) -> Option<Vec<&'static str>> {
    let group = rule_file.get(..3)?;
    Some(match group {
        "913" => vec![RECON],
        "930" => vec![TRAVERSAL, LFI],
        "931" => vec![LFI, EXPLOIT],
        // Shellshock is a known exploit before it is a command injection.
        "932" if rule_file.starts_with("93217") => vec![EXPLOIT, CMDI],
        "932" => vec![CMDI],
        "933" => vec![CMDI, EXPLOIT],
        // Node.js, Perl and Ruby injection, SSRF, prototype pollution: none fits well.
        "934" => vec![EXPLOIT, CMDI, RECON],
        "941" => vec![XSS],
        "942" => vec![SQLI],
        "944" => vec![EXPLOIT, CMDI],
        _ => return None,
    })
}

/// Whether a request target is one the harness sends payloads to in other places (a body
/// or a header): nothing in it is the attack.
fn harness_target(uri: &str) -> bool {
    matches!(
        uri,
        "/" | "/get" | "/post" | "/upload" | "/anything" | "/index.html" | "/status/200"
    ) || uri.starts_with("/upload") && uri[7..].bytes().all(|b| b.is_ascii_digit())
}

/// Only characters an ordinary URL has: a body-carrying test's URL with them is not the payload.
fn plain_target(uri: &str) -> bool {
    uri.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/=&_.-".contains(&b))
}

/// Tallies of CRS tests left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrsSkips {
    /// Negative tests (no `expect_ids`).
    pub negative: usize,
    /// Raw or encoded requests.
    pub raw: usize,
    /// Payload in the body or another header only.
    pub hidden: usize,
}

/// The attack requests of one CRS test file whose payload an access log shows.
pub fn parse_crs_tests(yaml: &str, skips: &mut CrsSkips) -> Result<Vec<CrsRequest>, String> {
    let doc = parse_yaml(yaml)?;
    let rule_file = doc
        .get("rule_id")
        .and_then(Yaml::as_str)
        .unwrap_or_default()
        .to_string();
    let mut out = Vec::new();
    for test in doc.get("tests").map(Yaml::items).unwrap_or_default() {
        let test_id = test
            .get("test_id")
            .and_then(Yaml::as_str)
            .unwrap_or_default()
            .to_string();
        let stage = test
            .get("stages")
            .map(Yaml::items)
            .unwrap_or_default()
            .iter()
            .find(|s| {
                s.get("output")
                    .and_then(|o| o.get("log"))
                    .and_then(|l| l.get("expect_ids"))
                    .is_some_and(|e| !e.items().is_empty())
            });
        let Some(stage) = stage else {
            skips.negative += 1;
            continue;
        };
        let Some(input) = stage.get("input") else {
            skips.hidden += 1;
            continue;
        };
        if input.get("encoded_request").is_some() || input.get("raw_request").is_some() {
            skips.raw += 1;
            continue;
        }
        let s = |k: &str| input.get(k).and_then(Yaml::as_str).map(str::to_string);
        let headers = input.get("headers");
        let header = |k: &str| {
            headers.and_then(|h| match h {
                Yaml::Map(m) => m
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_string),
                _ => None,
            })
        };
        let uri = s("uri").unwrap_or_else(|| "/".to_string());
        let data = s("data").filter(|d| !d.trim().is_empty());
        let user_agent = header("User-Agent").filter(|u| u.trim() != CRS_TEST_AGENT);
        let referer = header("Referer").filter(|r| !r.trim().is_empty());
        let in_headers = user_agent.is_some() || referer.is_some();
        let visible = if data.is_some() {
            in_headers || !plain_target(&uri)
        } else {
            in_headers || !harness_target(&uri)
        };
        if !visible {
            skips.hidden += 1;
            continue;
        }
        out.push(CrsRequest {
            rule_file: rule_file.clone(),
            test_id,
            method: s("method").unwrap_or_else(|| "GET".to_string()),
            uri,
            version: s("version").unwrap_or_else(|| "HTTP/1.1".to_string()),
            user_agent,
            referer,
        });
    }
    Ok(out)
}

/// A request target as a client sends it: spaces percent-encoded (a request line cannot
/// hold them), then escaped for the log.
fn log_target(uri: &str) -> String {
    access_escape(&uri.replace(' ', "%20"))
}

const BROWSERS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
];

const SITE: &str = "https://www.example.com";

/// 05/Mar/2025:10:00:00 +0000 plus `secs` (under a day).
fn clf_time(secs: u64) -> String {
    let t = 10 * 3600 + secs;
    let (day, t) = (5 + t / 86_400, t % 86_400);
    format!(
        "{day:02}/Mar/2025:{:02}:{:02}:{:02} +0000",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

fn clf_line(
    ip: &str,
    secs: u64,
    request: &str,
    status: u16,
    bytes: u64,
    referer: &str,
    agent: &str,
) -> String {
    format!(
        "{ip} - - [{}] \"{request}\" {status} {bytes} \"{referer}\" \"{agent}\"",
        clf_time(secs)
    )
}

/// Ordinary browsing: pages, static assets, searches with ordinary words, a login that
/// succeeds. Returns (seconds, line) for `visitors` visitors within `span` seconds.
pub fn benign_browsing(rng: &mut Rng, visitors: usize, span: u64) -> Vec<(u64, String)> {
    const PAGES: [&str; 14] = [
        "/",
        "/about",
        "/contact",
        "/pricing",
        "/blog",
        "/blog/spring-garden-tips",
        "/blog/release-notes-2025",
        "/products",
        "/products/42",
        "/products/117",
        "/faq",
        "/docs/getting-started",
        "/careers",
        "/news?page=2",
    ];
    const ASSETS: [&str; 7] = [
        "/static/css/site.css",
        "/static/js/app.js",
        "/static/js/vendor.min.js",
        "/images/logo.png",
        "/images/hero.jpg",
        "/favicon.ico",
        "/static/fonts/inter.woff2",
    ];
    const WORDS: [&str; 12] = [
        "garden",
        "invoice",
        "shipping",
        "blue+shoes",
        "return+policy",
        "coffee+grinder",
        "opening+hours",
        "gift+card",
        "warranty",
        "size+chart",
        "laptop+bag",
        "recipes",
    ];
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for _ in 0..visitors {
        let ip = loop {
            let net = if rng.chance(0.5) {
                "192.0.2"
            } else {
                "203.0.113"
            };
            let ip = format!("{net}.{}", rng.range(2, 254));
            if used.insert(ip.clone()) {
                break ip;
            }
        };
        let agent = *rng.pick(&BROWSERS);
        let mut t = rng.range(0, span);
        let mut referer = "-".to_string();
        let requests = rng.range(5, 12);
        let mut logged_in = false;
        for _ in 0..requests {
            let roll = rng.below(10);
            let (req, status, bytes, page) = if roll < 4 {
                let p = *rng.pick(&PAGES);
                (
                    format!("GET {p} HTTP/1.1"),
                    200,
                    rng.range(3_000, 40_000),
                    Some(p.to_string()),
                )
            } else if roll < 7 {
                let a = *rng.pick(&ASSETS);
                let status = if rng.chance(0.3) { 304 } else { 200 };
                let bytes = if status == 304 {
                    0
                } else {
                    rng.range(800, 90_000)
                };
                (format!("GET {a} HTTP/1.1"), status, bytes, None)
            } else if roll < 9 || logged_in {
                let w = *rng.pick(&WORDS);
                let p = format!("/search?q={w}");
                (
                    format!("GET {p} HTTP/1.1"),
                    200,
                    rng.range(2_000, 20_000),
                    Some(p),
                )
            } else {
                logged_in = true;
                out.push((
                    t,
                    clf_line(
                        &ip,
                        t,
                        "GET /login HTTP/1.1",
                        200,
                        rng.range(2_000, 6_000),
                        &referer,
                        agent,
                    ),
                ));
                t += rng.range(4, 15);
                out.push((
                    t,
                    clf_line(
                        &ip,
                        t,
                        "POST /login HTTP/1.1",
                        302,
                        0,
                        &format!("{SITE}/login"),
                        agent,
                    ),
                ));
                t += 1;
                (
                    "GET /account HTTP/1.1".to_string(),
                    200,
                    rng.range(4_000, 12_000),
                    Some("/account".to_string()),
                )
            };
            out.push((t, clf_line(&ip, t, &req, status, bytes, &referer, agent)));
            if let Some(p) = page {
                referer = format!("{SITE}{p}");
            }
            t += rng.range(2, 40);
        }
    }
    out
}

fn crs_drafts(data_dir: &Path, seed: u64, skipped: &mut Skipped) -> Result<Vec<Draft>, BuildError> {
    let root = data_dir
        .join("coreruleset")
        .join("tests")
        .join("regression")
        .join("tests");
    let mut out = Vec::new();
    let mut skips = CrsSkips::default();
    let mut next_ip: u64 = 0;
    let groups = list(&root, |n| n.starts_with("REQUEST-9"))?;
    for group in groups {
        for path in list(&group, |n| n.ends_with(".yaml"))? {
            let rule_file = file_name(&path).trim_end_matches(".yaml").to_string();
            let Some(classes) = crs_classes(&rule_file) else {
                continue;
            };
            let requests = parse_crs_tests(&read(&path)?, &mut skips).map_err(|message| {
                BuildError::Format {
                    path: path.clone(),
                    message,
                }
            })?;
            if requests.is_empty() {
                continue;
            }
            out.push(crs_draft(
                &rule_file,
                &requests,
                &classes,
                seed,
                &mut next_ip,
            ));
        }
    }
    skipped.add("crs: negative tests", skips.negative);
    skipped.add("crs: raw or encoded requests", skips.raw);
    skipped.add(
        "crs: payload in the body or another header only",
        skips.hidden,
    );
    Ok(out)
}

/// One CRS rule file's case: each request one line from its own address in 198.18.0.0/15,
/// among ordinary visitors from 192.0.2.0/24 and 203.0.113.0/24.
pub fn crs_draft(
    rule_file: &str,
    requests: &[CrsRequest],
    classes: &[&str],
    seed: u64,
    next_ip: &mut u64,
) -> Draft {
    let name = format!("{CRS}/{rule_file}");
    let mut rng = Rng::fork(seed, &name);
    let n = requests.len() as u64;
    let span = (n * 8).max(600);
    let mut events: Vec<(u64, String)> = Vec::new();
    let mut attackers = Vec::new();
    for r in requests {
        let k = *next_ip;
        *next_ip += 1;
        let ip = format!("198.{}.{}.{}", 18 + k / 62_500, k / 250 % 250, k % 250 + 1);
        let t = rng.range(0, span);
        let agent = r
            .user_agent
            .clone()
            .unwrap_or_else(|| rng.pick(&BROWSERS).to_string());
        let status = *rng.pick(&[403u16, 403, 404, 200, 400]);
        let request = format!(
            "{} {} {}",
            access_escape(&r.method),
            log_target(&r.uri),
            access_escape(&r.version)
        );
        events.push((
            t,
            clf_line(
                &ip,
                t,
                &request,
                status,
                rng.range(150, 5_000),
                &r.referer
                    .as_deref()
                    .map_or_else(|| "-".to_string(), access_escape),
                &access_escape(&agent),
            ),
        ));
        attackers.push(Attacker {
            source: ip,
            classes: classes.iter().map(|c| (*c).to_string()).collect(),
            any_finding: false,
        });
    }
    let visitors = (requests.len() / 4).clamp(3, 12);
    events.extend(benign_browsing(&mut rng, visitors, span));
    events.sort_by_key(|(t, _)| *t);
    Draft {
        source: CRS,
        service: rule_file.to_string(),
        file: format!("{name}.log"),
        name,
        lines: events.into_iter().map(|(_, l)| l).collect(),
        attackers,
    }
}

// ---------------------------------------------------------------- writing

/// Counts of one source and split.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SplitCounts {
    /// Cases.
    pub cases: usize,
    /// Cases without attackers.
    pub benign_cases: usize,
    /// Attackers.
    pub attackers: usize,
    /// Log lines.
    pub lines: usize,
}

/// What a build wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuitesSummary {
    /// (source, split) → counts.
    pub counts: BTreeMap<String, BTreeMap<String, SplitCounts>>,
    /// The holdout.
    pub holdout: Holdout,
    /// What was left out, by reason.
    pub skipped: Skipped,
}

impl SuitesSummary {
    /// A table of the counts and the held-out services.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<17} {:<8} {:>6} {:>7} {:>10} {:>7}",
            "source", "split", "cases", "benign", "attackers", "lines"
        );
        for (src, splits) in &self.counts {
            for (split, c) in splits {
                let _ = writeln!(
                    out,
                    "{:<17} {:<8} {:>6} {:>7} {:>10} {:>7}",
                    src, split, c.cases, c.benign_cases, c.attackers, c.lines
                );
            }
        }
        for src in SOURCES {
            let all = self.holdout.services.get(src).map_or(0, BTreeSet::len);
            let names = self.holdout.heldout_names(src);
            let _ = writeln!(
                out,
                "held out of {src} ({} of {all} services): {}",
                names.len(),
                names.join(", ")
            );
        }
        for (why, n) in &self.skipped.reasons {
            let _ = writeln!(out, "left out: {n} {why}");
        }
        out
    }
}

/// Builds the suite into `out`: `suite.json`, `heldout.json` and one log per case under
/// `fail2ban/`, `wazuh/` and `crs/`, and the adversarial cases under `adversarial/` and
/// `adversarial-clean/` (see [`super::adversarial`]).
pub fn build_suites(
    data_dir: &Path,
    out: &Path,
    seed: u64,
    fraction: f64,
) -> Result<SuitesSummary, BuildError> {
    build_suites_with(data_dir, out, seed, fraction, true)
}

/// [`build_suites`], with the adversarial cases only when `adversarial`.
pub fn build_suites_with(
    data_dir: &Path,
    out: &Path,
    seed: u64,
    fraction: f64,
    adversarial: bool,
) -> Result<SuitesSummary, BuildError> {
    let (mut drafts, skipped) = collect(data_dir, seed)?;
    let holdout = Holdout::new(services_of(&drafts), seed, fraction);
    // Held out whole: no phrasing of theirs is trained on.
    let adversarial_cases = if adversarial {
        super::adversarial::cases(seed)
    } else {
        Vec::new()
    };
    drafts.extend(super::adversarial::drafts(&adversarial_cases));
    let write = |path: &Path, text: &str| -> Result<(), BuildError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| BuildError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(path, text).map_err(|source| BuildError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut cases = Vec::new();
    let mut counts: BTreeMap<String, BTreeMap<String, SplitCounts>> = BTreeMap::new();
    for d in drafts {
        let split = if super::adversarial::is_adversarial(d.source)
            || holdout.is_heldout(d.source, &d.service)
        {
            "heldout"
        } else {
            "train"
        };
        let mut text = d.lines.join("\n");
        text.push('\n');
        write(&out.join(&d.file), &text)?;
        let c = counts
            .entry(d.source.to_string())
            .or_default()
            .entry(split.to_string())
            .or_default();
        c.cases += 1;
        c.benign_cases += usize::from(d.attackers.is_empty());
        c.attackers += d.attackers.len();
        c.lines += d.lines.len();
        cases.push(Case {
            name: d.name,
            source: d.source.to_string(),
            service: d.service,
            split: split.to_string(),
            log: d.file,
            benign_only: d.attackers.is_empty(),
            attackers: d.attackers,
        });
    }
    std::fs::create_dir_all(out).map_err(|source| BuildError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Suite { cases }.save(out).map_err(|e| BuildError::Format {
        path: out.join(opensoc::eval::suite::SUITE_FILE),
        message: e.to_string(),
    })?;
    if adversarial {
        super::adversarial::write_manifest(out, &adversarial_cases)?;
    }
    let heldout_json = serde_json::json!({
        "seed": seed,
        "fraction": fraction,
        "families_held_out_across_sources": true,
        "heldout": holdout.heldout,
    });
    let path = out.join("heldout.json");
    let text = serde_json::to_string_pretty(&heldout_json).map_err(|source| BuildError::Json {
        path: path.clone(),
        source,
    })?;
    write(&path, &(text + "\n"))?;
    Ok(SuitesSummary {
        counts,
        holdout,
        skipped,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use opensoc::eval::suite::{score_case, VerdictRow};
    use opensoc::task::verdict::{Severity, Verdict};

    /// A judge that finds nothing: enough to see which windows the pipeline makes.
    pub(crate) struct QuietJudge;

    impl opensoc_edge::ingest::Judge for QuietJudge {
        fn judge(
            &mut self,
            _input: &str,
        ) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Verdict {
                threat_type: "No Threat Detected".into(),
                mitre_technique: "-".into(),
                technique_name: "-".into(),
                mitre_tactic: "-".into(),
                severity: Severity::Low,
                risk_score: 0,
                evidence: String::new(),
                impact: String::new(),
                recommendation: String::new(),
            })
        }
    }

    fn data_dir() -> Option<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the trainer crate lives in the workspace");
        let dir = opensoc::task::dataset::data_dir_beside(root);
        if dir.join("fail2ban").join("logs").is_dir()
            && dir.join("wazuh-ruleset").join("tests").is_dir()
            && dir.join("coreruleset").join("tests").is_dir()
        {
            Some(dir)
        } else {
            eprintln!("skipped: no shared data at {}", dir.display());
            None
        }
    }

    #[test]
    fn fail2ban_comments_label_the_next_line() {
        let text = "# filterOptions: [{}]\n\
            # failJSON: { \"time\": \"2005-02-21T09:21:54\", \"match\": true , \"host\": \"192.0.43.10\" }\n\
            Feb 21 09:21:54 xxx postfix/smtpd[14398]: NOQUEUE: reject: RCPT from example.com[192.0.43.10]: 450\n\
            # failJSON: { \"match\": false }\n\
            Feb 21 09:21:55 xxx postfix/smtpd[14398]: connect from example.com[192.0.43.11]\n\
            # failJSON: { \"constraint\": \"name == 'sshd'\", \"match\": true, \"host\": \"192.0.2.1\" }\n\
            Nov 28 09:16:05 srv sshd[32310]: Disconnecting: Too many authentication failures\n\
            # failJSON: { \"match\": true, \"host\": \"192.0.2.2\" }\n\
            line one of two\n\
            line two of two\n\
            loose line\n";
        let (lines, dropped) = parse_fail2ban(text);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].matched);
        assert_eq!(lines[0].host.as_deref(), Some("192.0.43.10"));
        assert!(lines[0].text.starts_with("Feb 21 09:21:54 xxx postfix"));
        assert!(!lines[1].matched && lines[1].host.is_none());
        assert_eq!(dropped, 1 + 3);

        let mut skipped = Skipped::default();
        let d = fail2ban_draft("postfix", &lines, 42, &mut skipped).unwrap();
        assert_eq!(d.attackers.len(), 1);
        assert_eq!(d.attackers[0].classes, vec![MAIL]);
        assert_eq!(d.lines.len(), BURST + 1);
        assert_eq!(
            d.lines.iter().filter(|l| l.contains("192.0.43.10")).count(),
            BURST
        );
        // Stable: same seed, same order.
        assert_eq!(
            fail2ban_draft("postfix", &lines, 42, &mut skipped).unwrap(),
            d
        );
    }

    #[test]
    fn lines_the_suite_cannot_score_are_left_out() {
        let line = |matched: bool, host: Option<&str>, text: &str| Fail2banLine {
            matched,
            host: host.map(str::to_string),
            text: text.to_string(),
        };
        let lines = [
            line(
                true,
                Some("192.0.2.7"),
                "Feb 12 04:09:20 h sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2",
            ),
            // The attacker's, without its address: no reader can tell whose it is.
            line(
                true,
                Some("192.0.2.7"),
                "Feb 12 04:09:21 h sshd[1]: Disconnecting: Too many authentication failures for root [preauth]",
            ),
            // Not counted by fail2ban, yet a failed authentication: not ordinary traffic.
            line(
                false,
                None,
                "Feb 12 04:09:22 h sshd[2]: Disconnected from authenticating user admin 192.0.2.8 port 4 [preauth]",
            ),
            line(
                false,
                None,
                "Feb 12 04:09:23 h sshd[3]: Accepted publickey for deploy from 192.0.2.9 port 5 ssh2",
            ),
        ];
        let mut skipped = Skipped::default();
        let d = fail2ban_draft("sshd", &lines, 42, &mut skipped).unwrap();
        assert_eq!(d.attackers.len(), 1);
        assert_eq!(d.lines.len(), BURST + 1, "{:?}", d.lines);
        assert!(
            d.lines.iter().all(|l| !l.contains("Disconnect")),
            "{:?}",
            d.lines
        );
        let skipped_for = |why: &str| skipped.reasons.keys().any(|k| k.contains(why));
        assert!(skipped_for("failures whose line does not name the host"));
        assert!(skipped_for(
            "match:false lines that report a failed authentication"
        ));
    }

    #[test]
    fn real_fail2ban_samples_parse() {
        let Some(dir) = data_dir() else { return };
        let logs = dir.join("fail2ban").join("logs");
        let (sshd, _) = parse_fail2ban(&read(&logs.join("sshd")).unwrap());
        assert!(sshd.iter().filter(|l| l.matched).count() > 50);
        assert!(sshd.iter().any(|l| !l.matched));
        assert!(sshd.iter().all(|l| !l.text.starts_with('#')));
        let (journal, _) = parse_fail2ban(&read(&logs.join("traefik-auth")).unwrap());
        assert!(journal.iter().all(|l| !l.text.ends_with('\r')));
        assert_eq!(fail2ban_classes("sshd"), vec![SSH_BRUTE, BRUTE]);
        assert_eq!(fail2ban_classes("nginx-limit-req"), vec![DOS]);
        assert_eq!(fail2ban_classes("vsftpd"), vec![BRUTE]);
    }

    #[test]
    fn wazuh_rules_and_tests_parse() {
        let xml = r#"<!-- c -->
<group name="syslog,sshd,">
  <rule id="5700" level="0" noalert="1">
    <decoded_as>sshd</decoded_as>
    <description>SSHD messages grouped.</description>
  </rule>
  <rule id="5760" level="5">
    <if_sid>5700</if_sid>
    <description>sshd: authentication failed.</description>
    <mitre>
      <id>T1110.001</id>
    </mitre>
    <group>authentication_failed,pci_dss_10.2.4,</group>
  </rule>
</group>"#;
        let rules = parse_wazuh_rules(xml);
        let r = &rules["5760"];
        assert_eq!(r.level, 5);
        assert!(r.groups.contains("sshd") && r.groups.contains("authentication_failed"));
        assert_eq!(r.mitre, vec!["T1110.001"]);
        assert_eq!(wazuh_kind(r, 5), WazuhKind::Attack { auth: true });
        assert_eq!(wazuh_kind(&rules["5700"], 0), WazuhKind::Benign);
        assert_eq!(wazuh_classes("sshd", r, "sshd", ""), vec![SSH_BRUTE, BRUTE]);
        let web = WazuhRule {
            level: 6,
            groups: ["web", "attack"].iter().map(|s| s.to_string()).collect(),
            mitre: vec![],
            description: "A web attack returned code 200 (success).".into(),
        };
        let line =
            "2014-12-20 21:34:37 W3SVC58 X 1.2.3.4 GET /p.aspx id=1');declare%20@c%20cursor;";
        assert_eq!(
            wazuh_classes("web_rules", &web, "web-accesslog", line)[0],
            SQLI
        );

        let ini = "[ssh failed]\nlog 1 pass = Jan 1 00:00:00 h sshd[1]: Failed password for root from 192.0.2.9 port 22 ssh2\nlog 2 fail = nope\n\nrule = 5760\nalert = 5\ndecoder = sshd\n";
        let tests = parse_wazuh_ini(ini);
        assert_eq!(tests.len(), 1);
        assert_eq!(tests[0].lines.len(), 1);
        assert_eq!((tests[0].rule.as_str(), tests[0].alert), ("5760", Some(5)));
        let mut skipped = Skipped::default();
        let drafts = wazuh_service_drafts("sshd", &tests, &rules, 1, &mut skipped);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].attackers[0].source, "192.0.2.9");
        assert_eq!(drafts[0].lines.len(), BURST);
    }

    #[test]
    fn peer_addresses() {
        let cases = [
            ("Jan 1 h sshd[1]: Failed password for x from 192.0.2.1 port 22", Some("192.0.2.1")),
            ("10.0.0.5 - - [1/Apr/2014:00:00:01 -0500] \"GET / HTTP/1.1\" 403 1", Some("10.0.0.5")),
            ("pam_unix(sshd:auth): authentication failure; logname= uid=0 rhost=203.0.113.4  user=root", Some("203.0.113.4")),
            ("dovecot: auth-worker(default): sql(user@example.com,1.2.3.4): Password mismatch", Some("1.2.3.4")),
            ("pop3-login: Aborted login: user=<u>, method=PLAIN, rip=::ffff:1.2.3.4, lip=::ffff:1.2.3.5", Some("::ffff:1.2.3.4")),
            ("%ASA-2-106001: Inbound TCP connection denied from 111.93.241.59/54322 to 116.6.127.122/1433", Some("111.93.241.59")),
            ("%ASA-3-106014: Deny inbound icmp src outside:151.80.47.231 dst outside:116.6.127.112", Some("151.80.47.231")),
            ("[Thu Sep 25 09:27:18 2014] [error] [client 89.207.132.76:59635] AH01215", Some("89.207.132.76")),
            ("authenticator failed for (hydra) [10.101.1.18]:35686: 535", Some("10.101.1.18")),
            ("Sep  1 10:25:29 10.10.10.1 %IPS-4-SIGNATURE: Sig:3051 [192.168.100.11:5165 -> 10.0.0.1:80]", Some("192.168.100.11")),
            ("vsftpd: FAIL LOGIN: Client \"10.55.112.101\"", Some("10.55.112.101")),
            ("Dec 18 18:06:28 hostname smbd[832]: Denied connection from (192.168.3.23)", Some("192.168.3.23")),
            ("Feb 10 23:21:05 someserver sshd[1234]: debug1: channel 5: connection failed", None),
        ];
        for (line, want) in cases {
            assert_eq!(peer_address(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn yaml_subset() {
        let y = r#"---
meta:
  author: "someone"
  description: |
    Line one
    line two
rule_id: 942100
tests:
  - test_id: 1
    desc: 'it''s'
    stages:
      - input:
          headers:
            Host: localhost
            User-Agent: "OWASP CRS test agent"
          method: GET
          uri: "/get?x=1%20OR%201=1\"q"
          data: |-
            a=b
        output:
          log:
            expect_ids: [942100, 942101]
  - test_id: 2
    stages:
      - input:
          uri: /get?x='a'
        output:
          log:
            no_expect_ids: [942100]
"#;
        let doc = parse_yaml(y).unwrap();
        assert_eq!(doc.get("rule_id").and_then(Yaml::as_str), Some("942100"));
        assert_eq!(
            doc.get("meta")
                .and_then(|m| m.get("description"))
                .and_then(Yaml::as_str),
            Some("Line one\nline two\n")
        );
        let tests = doc.get("tests").unwrap().items();
        assert_eq!(tests.len(), 2);
        assert_eq!(tests[0].get("desc").and_then(Yaml::as_str), Some("it's"));
        let stage = &tests[0].get("stages").unwrap().items()[0];
        let input = stage.get("input").unwrap();
        assert_eq!(
            input.get("uri").and_then(Yaml::as_str),
            Some("/get?x=1%20OR%201=1\"q")
        );
        assert_eq!(input.get("data").and_then(Yaml::as_str), Some("a=b"));
        let ids = stage
            .get("output")
            .unwrap()
            .get("log")
            .unwrap()
            .get("expect_ids")
            .unwrap();
        assert_eq!(ids.items().len(), 2);
        let mut skips = CrsSkips::default();
        let reqs = parse_crs_tests(y, &mut skips).unwrap();
        // Test 1 has a body but its URL carries the payload; test 2 is negative.
        assert_eq!(reqs.len(), 1);
        assert_eq!(skips.negative, 1);
        assert_eq!(reqs[0].user_agent, None);
    }

    #[test]
    fn real_crs_tests_parse_and_render() {
        let Some(dir) = data_dir() else { return };
        let root = dir.join("coreruleset/tests/regression/tests");
        // 942100's tests all carry their payload in a POST body: none shows in a log.
        let sqli = root.join("REQUEST-942-APPLICATION-ATTACK-SQLI");
        let mut skips = CrsSkips::default();
        let reqs = parse_crs_tests(&read(&sqli.join("942100.yaml")).unwrap(), &mut skips).unwrap();
        assert!(reqs.is_empty() && skips.hidden > 0, "{skips:?}");
        let mut shown = 0;
        for f in list(&sqli, |n| n.ends_with(".yaml")).unwrap() {
            let reqs = parse_crs_tests(&read(&f).unwrap(), &mut skips).unwrap();
            assert!(reqs.iter().all(|r| r.rule_file.starts_with("942")));
            shown += reqs.len();
        }
        assert!(
            shown > 50,
            "{shown} SQL injection requests with a visible payload"
        );
        let scanners = root.join("REQUEST-913-SCANNER-DETECTION/913100.yaml");
        let reqs = parse_crs_tests(&read(&scanners).unwrap(), &mut CrsSkips::default()).unwrap();
        assert!(reqs.iter().any(|r| r.user_agent.is_some()));
        let mut next = 0;
        let d = crs_draft("913100", &reqs, &[RECON], 42, &mut next);
        assert_eq!(d.attackers.len(), reqs.len());
        let combined = Regex::new(
            r#"^\S+ - - \[\d\d/Mar/2025:\d\d:\d\d:\d\d \+0000\] "[^"\\]*(?:\\.[^"\\]*)*" \d{3} \d+ "[^"\\]*(?:\\.[^"\\]*)*" "[^"\\]*(?:\\.[^"\\]*)*"$"#,
        )
        .unwrap();
        for l in &d.lines {
            assert!(combined.is_match(l), "{l}");
        }
        for a in &d.attackers {
            assert_eq!(
                d.lines
                    .iter()
                    .filter(|l| l.starts_with(&format!("{} ", a.source)))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn real_wazuh_files_parse() {
        let Some(dir) = data_dir() else { return };
        let root = dir.join("wazuh-ruleset");
        let rules = parse_wazuh_rules(&read(&root.join("rules/0095-sshd_rules.xml")).unwrap());
        assert!(rules.len() > 20);
        let tests = parse_wazuh_ini(&read(&root.join("tests/sshd.ini")).unwrap());
        assert!(tests.len() > 10);
        assert!(tests.iter().all(|t| !t.lines.is_empty()));
    }

    #[test]
    fn holdout_is_stable_by_family_and_large_enough() {
        let names: BTreeSet<String> = (0..40)
            .map(|i| format!("svc{i}"))
            .chain(["sshd".into(), "sshd-journal".into()])
            .collect();
        for seed in [1, 42, 7, 1234] {
            let h = pick_heldout(&names, seed, DEFAULT_HOLDOUT);
            assert!(
                h.len() * 5 >= names.len(),
                "seed {seed}: {} held out",
                h.len()
            );
            assert_eq!(h.contains("sshd"), h.contains("sshd-journal"));
            assert_eq!(h, pick_heldout(&names, seed, DEFAULT_HOLDOUT));
        }
        assert!(pick_heldout(&names, 42, 0.0).is_empty());
        assert_eq!(family("zzz-sshd-obsolete-multiline"), "sshd");
        assert_eq!(family("cisco_asa"), "cisco");
    }

    #[test]
    fn whole_suite_holds_out_a_fifth_of_every_source() {
        let Some(dir) = data_dir() else { return };
        let out = tempfile::tempdir().unwrap();
        let s = build_suites(&dir, out.path(), 42, DEFAULT_HOLDOUT).unwrap();
        for src in SOURCES {
            let all = s.holdout.services[src].len();
            let held = s.holdout.heldout[src].len();
            assert!(all > 0 && held * 5 >= all, "{src}: {held} of {all}");
            assert!(held < all, "{src}: all held out");
        }
        // Families are held out together across sources.
        let fam_held = |src: &str, fam: &str| {
            s.holdout.services[src]
                .iter()
                .filter(|n| family(n) == fam)
                .map(|n| s.holdout.is_heldout(src, n))
                .collect::<BTreeSet<bool>>()
        };
        assert!(fam_held(FAIL2BAN, "sshd").len() <= 1);
        let suite = Suite::load(out.path()).unwrap();
        assert!(suite.cases.iter().any(|c| c.split == "heldout"));
        // The agent's own parser finds every attacker: each has a window of its own (or, for
        // entities other than an address, a window whose text holds it).
        let (mut unseen, mut misattributed) = (Vec::new(), Vec::new());
        for c in &suite.cases {
            let stored = opensoc_edge::suite::run_case(
                out.path(),
                c,
                QuietJudge,
                opensoc_edge::ingest::IngestConfig::default(),
            )
            .unwrap();
            let rows: Vec<VerdictRow> = stored.iter().map(VerdictRow::from).collect();
            let r = score_case(c, &rows, Severity::Medium);
            unseen.extend(
                r.attackers
                    .iter()
                    .filter(|a| a.windows == 0)
                    .map(|a| format!("{} {}", c.name, a.source)),
            );
            misattributed.extend(
                r.attackers
                    .iter()
                    .filter(|a| a.misattributed > 0)
                    .map(|a| format!("{} {}", c.name, a.source)),
            );
            if c.source == CRS {
                assert!(r.benign_windows > 0, "{}", c.name);
            }
        }
        assert!(unseen.is_empty(), "attackers without a window: {unseen:#?}");
        eprintln!("attackers keyed by another address: {misattributed:#?}");
        // Same seed, same bytes.
        let again = tempfile::tempdir().unwrap();
        build_suites(&dir, again.path(), 42, DEFAULT_HOLDOUT).unwrap();
        for c in &suite.cases {
            assert_eq!(
                std::fs::read(out.path().join(&c.log)).unwrap(),
                std::fs::read(again.path().join(&c.log)).unwrap(),
                "{}",
                c.name
            );
        }
    }
}
