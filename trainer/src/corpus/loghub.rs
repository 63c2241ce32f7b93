//! Real system logs (Loghub): each file cut into windows by the agent's windower and labelled
//! benign, except windows of real password guessing (three or more authentication failures
//! from one remote source), which are brute force. Some systems are held out whole, and the
//! end of Linux_2k.log is held out by line range for the SSH file.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use super::{labels, render_inputs, BuildConfig, BuildError, Rng, Sample};

/// Systems whose windows train.
pub const TRAIN_SYSTEMS: [&str; 7] = [
    "Android",
    "BGL",
    "HPC",
    "HealthApp",
    "Linux",
    "Mac",
    "Spark",
];

/// Systems held out entirely (each its own benign file).
pub const HELDOUT_SYSTEMS: [&str; 3] = ["Thunderbird", "Windows", "Proxifier"];

/// Share of Linux_2k.log's lines, from the start, that may train; the rest is `heldout_ssh`.
pub const LINUX_TRAIN_SHARE: f64 = 0.7;

/// Most windows of one training system at scale 1.0 (password-guessing windows always kept):
/// long windows of one system would otherwise crowd out everything else.
const PER_SYSTEM_CAP: usize = 40;

/// Failures from one source in one window that make it password guessing.
pub const MIN_FAILURES: usize = 3;

/// The windows of a build's Loghub part.
#[derive(Debug, Clone, Default)]
pub struct LoghubSets {
    /// Training windows of the training systems (Linux up to its held-out range).
    pub train: Vec<Sample>,
    /// (system, windows) of each held-out system.
    pub heldout_systems: Vec<(String, Vec<Sample>)>,
    /// Windows of Linux_2k.log's held-out line range.
    pub heldout_ssh: Vec<Sample>,
}

/// The path of a system's 2k-line log.
pub fn log_path(data_dir: &Path, system: &str) -> std::path::PathBuf {
    data_dir
        .join("loghub")
        .join(system)
        .join(format!("{system}_2k.log"))
}

/// Reads a system's log as text (invalid UTF-8 replaced: a few Loghub files carry stray bytes).
pub fn read_log(data_dir: &Path, system: &str) -> Result<String, BuildError> {
    let path = log_path(data_dir, system);
    let bytes = std::fs::read(&path).map_err(|source| BuildError::Read { path, source })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Splits a file's text into its first `share` of lines and the rest.
pub fn split_lines(text: &str, share: f64) -> (String, String) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let cut = (lines.len() as f64 * share).round() as usize;
    (lines[..cut].concat(), lines[cut..].concat())
}

/// Labelled windows of one file's text.
pub fn windows(system: &str, text: &str) -> Vec<Sample> {
    let source = format!("loghub:{system}");
    render_inputs(&format!("{system}_2k.log"), text)
        .into_iter()
        .map(|input| {
            let label = label_window(&input);
            Sample::new(input, label, &source)
        })
        .collect()
}

struct AuthPatterns {
    failure: Regex,
    accepted: Regex,
    program: Regex,
}

fn auth_patterns() -> &'static AuthPatterns {
    static P: OnceLock<AuthPatterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("auth pattern compiles");
        AuthPatterns {
            // pam's `authentication failure; ... rhost=H`, sshd's `Failed password ... from A`,
            // klogind's `Authentication failed from A`, login's `FAILED LOGIN ... FROM H`.
            failure: re(
                r"(?i)authentication failure;.*?\brhost=(\S*)|failed (?:password|publickey) for .*? from (\S+)|authentication failed from (\S+)|FAILED LOGIN .*? FROM (\S+)",
            ),
            accepted: re(r"Accepted (?:password|publickey|keyboard-interactive\S*) for \S+ from (\S+)"),
            program: re(r"^\S+\s+\d+\s+[\d:]+\s+\S+\s+([A-Za-z_.-]+)"),
        }
    })
}

/// The label of a real window: brute force where one source failed to log in at least
/// [`MIN_FAILURES`] times (SSH when sshd saw it; with a successful login from that source, the
/// successful kind), benign otherwise.
pub fn label_window(input: &str) -> &'static str {
    let p = auth_patterns();
    // (source, failures, seen by sshd)
    let mut sources: Vec<(String, usize, bool)> = Vec::new();
    let mut accepted: Vec<String> = Vec::new();
    for line in input.lines() {
        // A collapsed line stands for `n` records (`[×n] …`).
        let (n, line) = opensoc::task::prompt::repeat_count(line);
        if let Some(c) = p.failure.captures(line) {
            let source = c
                .iter()
                .skip(1)
                .flatten()
                .next()
                .map_or("", |m| m.as_str())
                .to_string();
            let sshd = p
                .program
                .captures(line)
                .is_some_and(|m| m[1].starts_with("sshd"));
            match sources.iter_mut().find(|(s, _, _)| *s == source) {
                Some(e) => {
                    e.1 += n;
                    e.2 |= sshd;
                }
                None => sources.push((source, n, sshd)),
            }
        } else if let Some(c) = p.accepted.captures(line) {
            accepted.push(c[1].to_string());
        }
    }
    let Some((source, _, sshd)) = sources
        .iter()
        .filter(|(_, n, _)| *n >= MIN_FAILURES)
        .max_by_key(|(_, n, _)| *n)
    else {
        return labels::BENIGN;
    };
    if *sshd && accepted.iter().any(|a| a == source) {
        "SSH Brute Force Attack — SUCCESSFUL LOGIN"
    } else if *sshd {
        "SSH Brute Force Attack"
    } else {
        "Brute Force Attack"
    }
}

/// Keeps at most `cap` benign windows (a seeded choice, order kept) and every threat window.
fn cap_benign(samples: Vec<Sample>, cap: usize, rng: &mut Rng) -> Vec<Sample> {
    let benign = samples.iter().filter(|s| s.label == labels::BENIGN).count();
    if benign <= cap {
        return samples;
    }
    let mut keep: Vec<bool> = (0..benign).map(|i| i < cap).collect();
    rng.shuffle(&mut keep);
    let mut flags = keep.into_iter();
    samples
        .into_iter()
        .filter(|s| s.label != labels::BENIGN || flags.next().unwrap_or(false))
        .collect()
}

/// The Loghub part of a build.
pub fn build(cfg: &BuildConfig) -> Result<LoghubSets, BuildError> {
    let mut rng = Rng::fork(cfg.seed, "loghub");
    let mut sets = LoghubSets::default();
    for system in TRAIN_SYSTEMS {
        let text = read_log(&cfg.data_dir, system)?;
        let train_text = if system == "Linux" {
            let (train, held) = split_lines(&text, LINUX_TRAIN_SHARE);
            sets.heldout_ssh = windows(system, &held);
            if cfg.scale < 1.0 {
                sets.heldout_ssh = cap_benign(sets.heldout_ssh, cfg.count(200), &mut rng);
            }
            train
        } else {
            text
        };
        let samples = windows(system, &train_text);
        sets.train
            .extend(cap_benign(samples, cfg.count(PER_SYSTEM_CAP), &mut rng));
    }
    for system in HELDOUT_SYSTEMS {
        let text = read_log(&cfg.data_dir, system)?;
        let samples = cap_benign(windows(system, &text), cfg.count(400), &mut rng);
        sets.heldout_systems.push((system.to_string(), samples));
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_failure_bursts_are_brute_force() {
        let burst = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 \n\
            Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown\n\
            Jun 14 15:16:02 combo sshd(pam_unix)[19937]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 \n\
            Jun 14 15:16:03 combo sshd(pam_unix)[19938]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ";
        assert_eq!(label_window(burst), "SSH Brute Force Attack");
        let two: String = burst.lines().take(3).collect::<Vec<_>>().join("\n");
        assert_eq!(label_window(&two), labels::BENIGN);
        let success = format!(
            "{burst}\nJun 14 15:17:00 combo sshd[19940]: Accepted password for root from 218.188.2.4 port 2222 ssh2"
        );
        assert_eq!(
            label_window(&success),
            "SSH Brute Force Attack — SUCCESSFUL LOGIN"
        );
        let klogind = "Jun 30 20:53:04 combo klogind[19272]: Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay cache code \n".repeat(3);
        assert_eq!(label_window(&klogind), "Brute Force Attack");
        let cron = "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)\nJun 15 04:06:19 combo su(pam_unix)[21416]: session closed for user cyrus";
        assert_eq!(label_window(cron), labels::BENIGN);
    }

    #[test]
    fn split_keeps_every_line_once() {
        let text = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let (a, b) = split_lines(text, 0.7);
        assert_eq!(a, "a\nb\nc\nd\ne\nf\ng\n");
        assert_eq!(format!("{a}{b}"), text);
    }
}
