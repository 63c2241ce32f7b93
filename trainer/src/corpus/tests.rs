//! Tests of a whole build over the shared data folder (skipped with a notice when it is absent).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use opensoc::task::verdict::ParsedVerdict;
use regex::Regex;

use super::*;

fn data_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the trainer crate lives in the workspace");
    let dir = opensoc::task::dataset::data_dir_beside(root);
    if dir.join("httpparams").join("payload_train.csv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no shared data at {}", dir.display());
        None
    }
}

fn config(seed: u64) -> Option<BuildConfig> {
    Some(BuildConfig {
        data_dir: data_dir()?,
        seed,
        scale: 0.05,
        structured_only: false,
        recipe: Recipe::Step5,
    })
}

/// One build at seed 42, shared by the tests that only read it.
fn built() -> Option<&'static Built> {
    static B: OnceLock<Option<Built>> = OnceLock::new();
    B.get_or_init(|| config(42).map(|c| build(&c).expect("builds")))
        .as_ref()
}

fn all_samples(b: &Built) -> impl Iterator<Item = &Sample> {
    b.train.iter().chain(b.heldout.iter().flat_map(|(_, s)| s))
}

fn json_of(samples: &[Sample]) -> String {
    let ex: Vec<Example> = samples
        .iter()
        .map(|s| s.to_example(false).expect("labels"))
        .collect();
    serde_json::to_string(&ex).expect("serialises")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (Some(a), Some(c)) = (built(), config(42)) else {
        return;
    };
    let b = build(&c).expect("builds");
    assert_eq!(json_of(&a.train), json_of(&b.train));
    for ((na, sa), (nb, sb)) in a.heldout.iter().zip(&b.heldout) {
        assert_eq!(na, nb);
        assert_eq!(json_of(sa), json_of(sb), "{na}");
    }
    let other = build(&BuildConfig { seed: 7, ..c }).expect("builds");
    assert_ne!(json_of(&a.train), json_of(&other.train));
}

#[test]
fn no_heldout_payload_in_train() {
    let (Some(b), Some(dir)) = (built(), data_dir()) else {
        return;
    };
    let p = web::Payloads::load(&dir.join("httpparams").join("payload_train.csv")).expect("loads");
    let held: HashSet<&String> = p.heldout.by_class.iter().flatten().collect();
    assert!(held.len() > 1000, "{}", held.len());
    let trained: Vec<&String> = p.train.by_class.iter().flatten().collect();
    for s in &b.train {
        for used in &s.payloads {
            assert!(!held.contains(used), "held-out payload {used:?} in train");
        }
    }
    let mixed = b
        .heldout
        .iter()
        .find(|(n, _)| n == MIXED_FILE)
        .expect("mixed file");
    let heldout_used: HashSet<&String> = b
        .heldout
        .iter()
        .flat_map(|(_, s)| s)
        .flat_map(|s| &s.payloads)
        .collect();
    assert!(mixed
        .1
        .iter()
        .flat_map(|s| &s.payloads)
        .all(|p| held.contains(p)));
    assert!(heldout_used.iter().all(|p| held.contains(*p)));
    // As text too: a long held-out attack string that no training payload contains never
    // shows up in a training input.
    let mut checked = 0;
    for class in [
        web::Class::Sqli,
        web::Class::Xss,
        web::Class::Cmdi,
        web::Class::PathTraversal,
    ] {
        for h in p
            .heldout
            .of(class)
            .iter()
            .filter(|h| h.len() >= 16)
            .take(150)
        {
            if trained.iter().any(|t| t.contains(h.as_str())) {
                continue;
            }
            checked += 1;
            for s in &b.train {
                assert!(!s.input.contains(h.as_str()), "{h:?} in {}", s.input);
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn no_heldout_loghub_line_in_train() {
    let (Some(b), Some(dir)) = (built(), data_dir()) else {
        return;
    };
    let mut held: HashSet<String> = HashSet::new();
    for system in loghub::HELDOUT_SYSTEMS {
        let text = loghub::read_log(&dir, system).expect("reads");
        held.extend(text.lines().map(|l| l.trim_end().to_string()));
    }
    let linux = loghub::read_log(&dir, "Linux").expect("reads");
    let (train_part, held_part) = loghub::split_lines(&linux, loghub::LINUX_TRAIN_SHARE);
    let train_lines: HashSet<&str> = train_part.lines().map(str::trim_end).collect();
    held.extend(
        held_part
            .lines()
            .map(str::trim_end)
            .filter(|l| !train_lines.contains(l))
            .map(str::to_string),
    );
    held.remove("");
    let mut lines = 0;
    for s in &b.train {
        for l in s.input.lines() {
            lines += 1;
            let (_, l) = opensoc::task::prompt::repeat_count(l);
            assert!(!held.contains(l.trim_end()), "held-out line in train: {l}");
        }
    }
    assert!(lines > 1000);
    let ssh = &b
        .heldout
        .iter()
        .find(|(n, _)| n == "heldout_ssh.json")
        .expect("ssh")
        .1;
    assert!(
        ssh.iter().any(|s| s.label.starts_with("SSH Brute Force")),
        "real bursts held out"
    );
    assert!(b
        .train
        .iter()
        .any(|s| s.source == "loghub:Linux" && s.label.starts_with("SSH Brute Force")));
}

#[test]
fn no_eval_input_anywhere() {
    let (Some(b), Some(dir)) = (built(), data_dir()) else {
        return;
    };
    let eval = opensoc::task::dataset::load_examples(&dir.join("opensoc-ai").join("soc_eval.json"))
        .expect("eval");
    let inputs: HashSet<&str> = eval.iter().map(|e| e.input.as_str()).collect();
    for s in all_samples(b) {
        assert!(!inputs.contains(s.input.as_str()), "{}", s.input);
    }
}

#[test]
fn outputs_parse_valid_and_consistent() {
    let Some(b) = built() else { return };
    let mut seed = 0;
    for s in all_samples(b) {
        let e = s.to_example(false).expect("labels");
        assert_eq!(e.instruction, INSTRUCTION);
        // Structured-only: the same five lines, nothing after them; the seed's stay whole.
        let short = s.to_example(true).expect("labels");
        if s.fixed_output.is_some() {
            assert_eq!(short.output, e.output);
        } else {
            assert_eq!(
                short.output,
                e.output
                    .lines()
                    .take(5)
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
            );
            assert!(
                ParsedVerdict::parse(&short.output).is_valid(),
                "{}",
                short.output
            );
            assert_eq!(
                crate::data::canonical_response(&short.output),
                short.output,
                "the trainer keeps a structured-only block as it is"
            );
        }
        let p = ParsedVerdict::parse(&e.output);
        assert!(p.is_valid(), "{}", e.output);
        assert_eq!(p.threat_type.as_deref(), Some(s.label.as_str()));
        if s.fixed_output.is_some() {
            seed += 1;
            continue;
        }
        assert!(labels::taxonomy_consistent(&p), "{}", e.output);
        assert!(p.evidence.is_some() && p.impact.is_some() && p.recommendation.is_some());
    }
    assert_eq!(seed, 450, "every seed example, as it is");
}

#[test]
fn browser_agents_are_as_common_in_attacks_as_in_browsing() {
    let Some(b) = built() else { return };
    let web: Vec<&Sample> = b.train.iter().filter(|s| s.source == "web").collect();
    let share = |attack: bool| {
        let xs: Vec<&&Sample> = web
            .iter()
            .filter(|s| (s.label != labels::BENIGN) == attack)
            .collect();
        let n = xs
            .iter()
            .filter(|s| s.input.contains("\"Mozilla/5.0 ("))
            .count();
        (n as f64 / xs.len() as f64, xs.len())
    };
    let ((attack, na), (benign, nb)) = (share(true), share(false));
    assert!(na > 40 && nb > 20, "{na} {nb}");
    assert!(
        (attack - benign).abs() < 0.15,
        "browser share: attacks {attack}, benign {benign}"
    );
    assert!(attack > 0.6, "{attack}");
}

#[test]
fn inputs_are_what_the_windower_renders() {
    let Some(b) = built() else { return };
    static SUMMARY: OnceLock<Regex> = OnceLock::new();
    let summary = SUMMARY.get_or_init(|| {
        Regex::new(r"^\[\d+ (?:requests?|failed logins?|events?|denied requests?|connection attempts?)\b.*\]$").expect("regex")
    });
    let mut checked = 0;
    for s in b.train.iter().filter(|s| s.fixed_output.is_none()) {
        if s.input.contains("EventID: ") {
            continue;
        }
        let without_summary = |input: &str| -> Vec<String> {
            let mut lines: Vec<String> = input.lines().map(str::to_string).collect();
            if lines.len() > 1 && lines.last().is_some_and(|l| summary.is_match(l)) {
                lines.pop();
            }
            lines
        };
        // A collapsed line goes back in as the records it stands for. The copies share one
        // stamp, so the windower may now close a window by idleness where the records between
        // kept it open: the windows' lines, expanded, must still be the same lines.
        let expand = |lines: Vec<String>| -> Vec<String> {
            lines
                .iter()
                .flat_map(|l| {
                    let (n, line) = opensoc::task::prompt::repeat_count(l);
                    std::iter::repeat_n(line.to_string(), n)
                })
                .collect()
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let original = expand(without_summary(&s.input));
        let text: String = original.iter().map(|l| format!("{l}\n")).collect();
        let again = render_inputs("again.log", &text);
        let again_lines: Vec<String> = again.iter().flat_map(|i| without_summary(i)).collect();
        assert_eq!(
            sorted(expand(again_lines)),
            sorted(original),
            "{}",
            s.source
        );
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn mixed_windows_name_both_stages() {
    let Some(b) = built() else { return };
    let mixed = &b
        .heldout
        .iter()
        .find(|(n, _)| n == MIXED_FILE)
        .expect("mixed")
        .1;
    assert!(!mixed.is_empty());
    for s in mixed {
        let secondary = s.secondary.as_deref().expect("secondary");
        assert_ne!(secondary, s.label);
        assert!(opensoc::task::taxonomy::taxonomy()
            .threat_type(secondary)
            .is_some());
    }
}

#[test]
fn real_service_windows_leave_heldout_services_out() {
    let Some(c) = config(42) else {
        return;
    };
    if !c.data_dir.join("fail2ban").is_dir() {
        eprintln!("skipped: no fail2ban samples in {}", c.data_dir.display());
        return;
    }
    let samples = services::train_windows(&c).expect("builds");
    let (drafts, _) = suites::collect(&c.data_dir, 42).expect("collects");
    let holdout = suites::Holdout::new(suites::services_of(&drafts), 42, suites::DEFAULT_HOLDOUT);
    let (held, kept): (Vec<&case::Draft>, Vec<&case::Draft>) = drafts
        .iter()
        .partition(|d| holdout.is_heldout(d.source, &d.service));
    assert!(!held.is_empty() && !kept.is_empty());
    let kept_lines: HashSet<&str> = kept
        .iter()
        .flat_map(|d| d.lines.iter().map(String::as_str))
        .collect();
    let text: String = samples.iter().map(|s| s.input.as_str()).collect();
    for d in held {
        for line in d.lines.iter().filter(|l| !kept_lines.contains(l.as_str())) {
            assert!(!text.contains(line.as_str()), "{}: {line}", d.name);
        }
    }
    // Every source, and every label that floors alone gave before step 6, is taught (but the
    // HTTP flood: floods keep the base label, and the floor names the HTTP flood).
    for source in [
        "suite:fail2ban",
        "suite:wazuh",
        "suite:crs",
        services::ADVERSARIAL_SOURCE,
    ] {
        assert!(samples.iter().any(|s| s.source == source), "{source}");
    }
    let taught: HashSet<&str> = samples.iter().map(|s| s.label.as_str()).collect();
    for label in [
        "Known Exploit Probe",
        "Brute Force Attack — Web Application Login",
        "Network Port Scan",
        "Mail Abuse — Spam or Relay Attempt",
        "Log Injection / Prompt Injection Attempt",
        labels::BENIGN,
    ] {
        assert!(taught.contains(label), "{label} is never taught");
    }
}
