//! The training-data builder behind `opensoc-train data`: examples from the seed, labelled
//! HTTP parameter payloads placed in access-log windows, real Loghub windows and generated
//! system, Windows and web activity, every input rendered by the agent's own windower, every
//! output written from the taxonomy; plus held-out files split by source and by payload.

pub mod adversarial;
pub mod case;
pub mod generators;
pub mod labels;
pub mod loghub;
pub mod network_logs;
pub mod payload_gen;
pub mod services;
pub mod suites;
pub mod web;
pub mod windows_events;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use opensoc::model::lora::SplitMix64;
use opensoc::task::dataset::Example;
use opensoc::task::prompt::INSTRUCTION;
use opensoc_logs::logline;
use opensoc_logs::record::RecordAssembler;
use opensoc_logs::window::{Window, WindowConfig, Windower};
use serde::Serialize;

/// The year that completes syslog stamps without one, for generated and Loghub lines alike.
pub const YEAR: i32 = 2025;

/// Why a build failed; every variant that concerns a file names it.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A source file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A source file does not have the expected layout.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The seed's data set could not be loaded.
    #[error(transparent)]
    Dataset(#[from] opensoc::task::dataset::DatasetError),
    /// A label the builder uses is missing from the taxonomy (a bug or an edited taxonomy).
    #[error(transparent)]
    Label(#[from] labels::LabelError),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// An output could not be serialised.
    #[error("cannot serialise {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serialiser's failure.
        source: serde_json::Error,
    },
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// The shared data folder (`opensoc-ai/`, `loghub/`, `httpparams/`).
    pub data_dir: PathBuf,
    /// Seed of every random choice: same seed, same bytes.
    pub seed: u64,
    /// Multiplies every generated count (1.0: the full set, 0.05: a quick test set).
    pub scale: f64,
    /// The generated training examples' outputs hold only the five structured lines (what
    /// fast mode asks of the model; its text fields come from facts and the taxonomy), which
    /// makes them a quarter as long to train on. The seed's examples keep their text fields,
    /// so full mode still learns to write them; held-out files are always complete.
    pub structured_only: bool,
    /// Which shipped step's training set to write (held-out files are the same for all).
    pub recipe: Recipe,
}

/// The training sets the shipped adapter's steps were trained on; each adds to the one
/// before, and each later part draws from its own generator, so an earlier set is still
/// written byte for byte. (Step 3's set, a subset of step 4's additions, is not kept.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Recipe {
    /// Step 2: the real payloads, Loghub, the seed and the generators (5,049 examples).
    Step2,
    /// Step 4: plus the project-written payloads (`payload_gen`: SQL injections that run
    /// commands or destroy data, file inclusions, command injections, path traversals,
    /// ordinary values with the marks attacks use) and the benign web windows that keep the
    /// benign share (6,009 examples).
    Step4,
    /// Step 5: plus network, transfer, mail and VPN logs (`network_logs`) and scanners after
    /// secret files at a site's root (6,635 examples).
    Step5,
    /// Step 6: plus the real services' windows (`services`: the suites' train split, and
    /// prompt-injection carriers written with the training phrasings).
    Step6,
    /// Step 7: the same parts, with twice as many attacking windows from each real
    /// service's case (more of the Core Rule Set's command and code injections, more mail
    /// abuse). Trained and not shipped: it flagged far more benign windows.
    Step7,
    /// Step 8: step 6's parts with twice as many attacking windows from each Core Rule Set
    /// case only (single requests among ordinary visitors: the command and code injections
    /// step 6 named SQL injection or scanning), and benign bursts: an ordinary line of a
    /// fail2ban or Wazuh service repeated as an attacker's first line is in the suites, so
    /// that a burst alone does not read as an attack (step 7's failure).
    Step8,
    /// Step 10: step 8's parts with five times as many attacking windows from each Core Rule
    /// Set case of command and PHP code injection (the `932` and `933` rule files; their
    /// requests vary most: commands after separators, in headers, after encoded line breaks,
    /// of mail protocols), whose single requests steps 6 to 9 most often left unflagged or
    /// named otherwise. (Step 9 was step 8's set at half the learning rate.)
    Step10,
}

impl Recipe {
    /// Whether the project-written payloads join the training side.
    pub fn generated_payloads(self) -> bool {
        self >= Recipe::Step4
    }

    /// Whether the network logs and the file-probing scanners join the training side.
    pub fn network_logs(self) -> bool {
        self >= Recipe::Step5
    }

    /// Whether the real services' windows join the training side.
    pub fn real_services(self) -> bool {
        self >= Recipe::Step6
    }

    /// Most attacking windows taken from one case of a real source (`fail2ban`, `wazuh`,
    /// `crs`).
    /// `service` is the case's service (for the CRS, its rule file: `932160`).
    pub fn service_attack_windows(self, source: &str, service: &str) -> usize {
        let code_injection =
            source == suites::CRS && (service.starts_with("932") || service.starts_with("933"));
        let times = match self {
            Recipe::Step7 => 2,
            Recipe::Step8 if source == suites::CRS => 2,
            Recipe::Step10 if code_injection => 5,
            Recipe::Step10 if source == suites::CRS => 2,
            _ => 1,
        };
        times * services::ATTACK_WINDOWS_PER_CASE
    }

    /// Whether ordinary lines of the real services join the training side as bursts.
    pub fn benign_bursts(self) -> bool {
        self >= Recipe::Step8
    }
}

impl BuildConfig {
    /// `base` scaled, at least one.
    pub fn count(&self, base: usize) -> usize {
        ((base as f64 * self.scale).round() as usize).max(1)
    }
}

/// A small seeded generator over [`SplitMix64`] with the choices the builders need.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }

    /// An independent generator for one part of the build, so that changing one part's draws
    /// leaves the others' output unchanged.
    pub fn fork(seed: u64, part: &str) -> Self {
        Rng::new(seed ^ fnv1a(part.as_bytes()))
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.0.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.0.next_u64() % (hi.saturating_sub(lo) + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// Fisher–Yates in place.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

/// FNV-1a, 64 bits: a stable hash (std's is randomised per process) for splits and seeds.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One example before its output is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The window as the agent renders it.
    pub input: String,
    /// Threat-type label from the taxonomy.
    pub label: String,
    /// Where it came from (`seed`, `web`, `loghub:Linux`, `windows`, ...), for the stats.
    pub source: String,
    /// Payload strings of the HTTP data set placed in the window (for the split checks).
    pub payloads: Vec<String>,
    /// Multi-stage windows: the earlier, lesser stage.
    pub secondary: Option<String>,
    /// The seed's own output, kept as it is.
    pub fixed_output: Option<String>,
}

impl Sample {
    /// A sample of `label` from `source`.
    pub fn new(input: String, label: &str, source: &str) -> Sample {
        Sample {
            input,
            label: label.to_string(),
            source: source.to_string(),
            payloads: Vec::new(),
            secondary: None,
            fixed_output: None,
        }
    }

    /// The seed-format example: instruction, input and the output block (only its
    /// structured lines when `structured_only`, for a generated example).
    pub fn to_example(&self, structured_only: bool) -> Result<Example, labels::LabelError> {
        let output = match &self.fixed_output {
            Some(o) => o.clone(),
            None if structured_only => {
                labels::structured_lines(&labels::output_block(&self.label, &self.input)?)
            }
            None => labels::output_block(&self.label, &self.input)?,
        };
        Ok(Example {
            instruction: INSTRUCTION.to_string(),
            input: self.input.clone(),
            output,
        })
    }
}

/// Feeds `text` (a generated or real log file's content) through the agent's record
/// assembler, line parser and windower with the default configuration, as `opensoc scan`
/// does, and returns the closed windows in order.
pub fn render(group: &str, text: &str) -> Vec<Window> {
    let mut assembler = RecordAssembler::new(0);
    let mut windower = Windower::new(WindowConfig::default());
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut push = |rec: opensoc_logs::record::Record, out: &mut Vec<Window>| {
        let parsed = logline::parse(&rec.text, YEAR);
        out.extend(windower.push(group, rec, parsed));
    };
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len() as u64;
        if let Some(rec) = assembler.push(start, offset, line.trim_end_matches('\n')) {
            push(rec, &mut out);
        }
    }
    if let Some(rec) = assembler.finish() {
        push(rec, &mut out);
    }
    out.extend(windower.flush());
    out
}

/// The analyzer inputs of `render(group, text)`.
pub fn render_inputs(group: &str, text: &str) -> Vec<String> {
    render(group, text).iter().map(Window::input).collect()
}

/// Joins generated lines into a file's text, one line each, newline-terminated.
pub fn join_lines(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Calendar fields of unix seconds `t`: (year, month, day, hour, minute, second).
pub fn calendar(t: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, m, d) = logline::civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    (y, m, d, s / 3600, s / 60 % 60, s % 60)
}

/// `10/Oct/2025:13:55:36 +0200` (the local time at `offset_min`), or without the zone.
pub fn clf_time(t: i64, offset_min: Option<i64>) -> String {
    let local = t + offset_min.unwrap_or(0) * 60;
    let (y, m, d, hh, mm, ss) = calendar(local);
    let base = format!(
        "{d:02}/{}/{y}:{hh:02}:{mm:02}:{ss:02}",
        MONTHS[(m - 1) as usize]
    );
    match offset_min {
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            format!("{base} {sign}{:02}{:02}", o.abs() / 60, o.abs() % 60)
        }
        None => base,
    }
}

/// `Mar  5 10:00:01` (RFC 3164).
pub fn bsd_time(t: i64) -> String {
    let (_, m, d, hh, mm, ss) = calendar(t);
    format!(
        "{} {d:>2} {hh:02}:{mm:02}:{ss:02}",
        MONTHS[(m - 1) as usize]
    )
}

/// `2025-03-05T10:00:01.123` (wevtutil's `Date:`).
pub fn iso_time(t: i64, millis: u64) -> String {
    let (y, m, d, hh, mm, ss) = calendar(t);
    format!("{y}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}")
}

/// A random moment in the builder's year, in working hours more often than not.
pub fn random_time(rng: &mut Rng) -> i64 {
    // 2025-01-01T00:00:00Z; days kept clear of the year's end so windows never wrap a year.
    let day = 1_735_689_600 + rng.range(0, 350) as i64 * 86_400;
    let hour = if rng.chance(0.7) {
        rng.range(8, 18)
    } else {
        rng.range(0, 23)
    } as i64;
    day + hour * 3600 + rng.range(0, 3599) as i64
}

/// An address on the public internet (never a private, loopback or multicast range).
pub fn public_ip(rng: &mut Rng) -> String {
    loop {
        let a = rng.range(1, 223) as u8;
        let b = rng.range(0, 255) as u8;
        let private = a == 10
            || a == 127
            || a == 0
            || (a == 172 && (16..32).contains(&b))
            || (a == 192 && b == 168)
            || (a == 169 && b == 254)
            || (a == 100 && (64..128).contains(&b));
        if !private {
            return format!("{a}.{b}.{}.{}", rng.range(0, 255), rng.range(1, 254));
        }
    }
}

/// An address on an office or data-centre LAN.
pub fn lan_ip(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "10.{}.{}.{}",
            rng.range(0, 40),
            rng.range(0, 20),
            rng.range(2, 250)
        ),
        1 => format!("192.168.{}.{}", rng.range(0, 10), rng.range(2, 250)),
        _ => format!("172.16.{}.{}", rng.range(0, 15), rng.range(2, 250)),
    }
}

/// Every output file of a build, in memory.
#[derive(Debug, Clone)]
pub struct Built {
    /// `train.json`, shuffled.
    pub train: Vec<Sample>,
    /// Held-out files: (file name, samples).
    pub heldout: Vec<(String, Vec<Sample>)>,
    /// Generated examples dropped because their input equals one of `soc_eval.json`.
    pub dropped_eval: usize,
    /// Examples dropped as repeated inputs (within a file, or held-out equal to train).
    pub dropped_duplicates: usize,
}

/// The held-out file of multi-stage windows (its sidecar lists the secondary threats).
pub const MIXED_FILE: &str = "heldout_mixed.json";

/// Builds every file's samples.
pub fn build(cfg: &BuildConfig) -> Result<Built, BuildError> {
    let seed_path = cfg.data_dir.join("opensoc-ai").join("soc_train.json");
    let eval_path = cfg.data_dir.join("opensoc-ai").join("soc_eval.json");
    // soc_eval.json is read for one thing only: dropping generated windows equal to its inputs.
    let eval_inputs: HashSet<String> = opensoc::task::dataset::load_examples(&eval_path)?
        .into_iter()
        .map(|e| e.input)
        .collect();

    // The seed's examples go in as they are; their label (for the stats) is their THREAT_TYPE.
    let mut train: Vec<Sample> = opensoc::task::dataset::load_examples(&seed_path)?
        .into_iter()
        .map(|e| {
            let label = opensoc::task::verdict::ParsedVerdict::parse(&e.output)
                .threat_type
                .unwrap_or_default();
            Sample {
                fixed_output: Some(e.output),
                ..Sample::new(e.input, &label, "seed")
            }
        })
        .collect();

    let mut payloads =
        web::Payloads::load(&cfg.data_dir.join("httpparams").join("payload_train.csv"))?;
    if cfg.recipe.generated_payloads() {
        // The SQL injection subtypes the real set lacks join the training side only.
        payloads.train.extend(
            web::Class::Sqli,
            payload_gen::sql_injections(&mut Rng::fork(cfg.seed, "sqli-gen"), cfg.count(150)),
        );
        // Varied command injections and traversals, and ordinary values with their marks. A
        // generated string that falls in the held-out bucket is dropped, as a real one would
        // be held out: no training payload can equal a held-out one.
        let generated = [
            (
                web::Class::Cmdi,
                "cmdi-gen",
                payload_gen::command_injection as fn(&mut Rng) -> String,
            ),
            (
                web::Class::PathTraversal,
                "traversal-gen",
                payload_gen::path_traversal,
            ),
            (web::Class::Norm, "norm-gen", payload_gen::ordinary_value),
        ];
        for (class, part, make) in generated {
            let mut rng = Rng::fork(cfg.seed, part);
            let made: Vec<String> = (0..cfg.count(150)).map(|_| make(&mut rng)).collect();
            payloads
                .train
                .extend(class, made.into_iter().filter(|p| !web::is_heldout(p)));
        }
    }
    let mut heldout: Vec<(String, Vec<Sample>)> = Vec::new();

    train.extend(web::train_windows(cfg, &payloads.train));
    heldout.push((
        "heldout_payloads.json".into(),
        web::heldout_windows(cfg, &payloads.heldout),
    ));

    let lh = loghub::build(cfg)?;
    train.extend(lh.train);
    for (system, samples) in lh.heldout_systems {
        heldout.push((format!("heldout_benign_{system}.json"), samples));
    }
    heldout.push(("heldout_ssh.json".into(), lh.heldout_ssh));

    train.extend(windows_events::generate(
        cfg,
        &mut Rng::fork(cfg.seed, "windows"),
        &windows_events::TRAIN_POOL,
    ));
    heldout.push((
        "heldout_windows_events.json".into(),
        windows_events::generate(
            // An evaluation file need not be as large as the training part.
            &BuildConfig {
                scale: cfg.scale * 0.25,
                ..cfg.clone()
            },
            &mut Rng::fork(cfg.seed ^ 0x5eed_0ff5, "windows-heldout"),
            &windows_events::HELDOUT_POOL,
        ),
    ));

    train.extend(generators::generate(cfg, &payloads.train));
    if cfg.recipe.network_logs() {
        train.extend(network_logs::generate(cfg));
    }
    if cfg.recipe.real_services() {
        train.extend(services::train_windows(cfg)?);
    }
    heldout.push((
        MIXED_FILE.into(),
        generators::heldout_mixed(cfg, &payloads.heldout),
    ));

    let mut dropped_eval = 0;
    let mut dropped_duplicates = 0;
    let mut keep = |samples: &mut Vec<Sample>, seen: &mut HashSet<String>| {
        samples.retain(|s| {
            if s.fixed_output.is_none() && eval_inputs.contains(&s.input) {
                dropped_eval += 1;
                return false;
            }
            if !seen.insert(s.input.clone()) {
                dropped_duplicates += 1;
                return false;
            }
            true
        });
    };
    let mut train_seen = HashSet::new();
    keep(&mut train, &mut train_seen);
    for (_, samples) in &mut heldout {
        // A held-out window the training set already holds would measure memory, not skill.
        let mut seen = train_seen.clone();
        keep(samples, &mut seen);
    }
    Rng::fork(cfg.seed, "train-order").shuffle(&mut train);
    Ok(Built {
        train,
        heldout,
        dropped_eval,
        dropped_duplicates,
    })
}

/// Examples per threat type and per source of one file.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FileStats {
    /// Examples in the file.
    pub examples: usize,
    /// Per threat type.
    pub by_threat_type: BTreeMap<String, usize>,
    /// Per source.
    pub by_source: BTreeMap<String, usize>,
}

/// The counts of one file's samples.
pub fn file_stats(samples: &[Sample]) -> FileStats {
    let mut st = FileStats {
        examples: samples.len(),
        ..FileStats::default()
    };
    for s in samples {
        *st.by_threat_type.entry(s.label.clone()).or_default() += 1;
        *st.by_source.entry(s.source.clone()).or_default() += 1;
    }
    st
}

/// What `write` produced: per file its counts, in file order.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// The build's seed.
    pub seed: u64,
    /// The build's scale.
    pub scale: f64,
    /// (file name, counts).
    pub files: Vec<(String, FileStats)>,
    /// Generated examples dropped as equal to a `soc_eval.json` input.
    pub dropped_eval: usize,
    /// Examples dropped as repeated inputs.
    pub dropped_duplicates: usize,
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), BuildError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| BuildError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|source| BuildError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn examples(samples: &[Sample], structured_only: bool) -> Result<Vec<Example>, BuildError> {
    samples
        .iter()
        .map(|s| s.to_example(structured_only).map_err(BuildError::from))
        .collect()
}

/// Writes `train.json`, the held-out files, the mixed file's sidecar and `stats.json` into
/// `out` (created if missing) and returns the stats.
pub fn write(cfg: &BuildConfig, built: &Built, out: &Path) -> Result<Stats, BuildError> {
    std::fs::create_dir_all(out).map_err(|source| BuildError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    write_json(
        &out.join("train.json"),
        &examples(&built.train, cfg.structured_only)?,
    )?;
    let mut files = vec![("train.json".to_string(), file_stats(&built.train))];
    for (name, samples) in &built.heldout {
        write_json(&out.join(name), &examples(samples, false)?)?;
        if name == MIXED_FILE {
            let secondary: Vec<&str> = samples
                .iter()
                .map(|s| s.secondary.as_deref().unwrap_or(""))
                .collect();
            write_json(&out.join("heldout_mixed.secondary.json"), &secondary)?;
        }
        files.push((name.clone(), file_stats(samples)));
    }
    let stats = Stats {
        seed: cfg.seed,
        scale: cfg.scale,
        files,
        dropped_eval: built.dropped_eval,
        dropped_duplicates: built.dropped_duplicates,
    };
    write_json(&out.join("stats.json"), &stats)?;
    Ok(stats)
}

/// The printed table: one row per threat type (then per source), one column per file.
pub fn stats_table(stats: &Stats) -> String {
    let short = |name: &str| {
        name.trim_end_matches(".json")
            .trim_start_matches("heldout_")
            .to_string()
    };
    let mut out = String::new();
    for (title, pick) in [
        (
            "threat type",
            (|f: &FileStats| &f.by_threat_type) as fn(&FileStats) -> &BTreeMap<String, usize>,
        ),
        ("source", |f: &FileStats| &f.by_source),
    ] {
        let mut rows: Vec<&String> = stats
            .files
            .iter()
            .flat_map(|(_, f)| pick(f).keys())
            .collect();
        rows.sort();
        rows.dedup();
        let width = rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len());
        out.push_str(&format!("{title:<width$}"));
        for (name, _) in &stats.files {
            out.push_str(&format!(" {:>9}", excerpt(&short(name), 9)));
        }
        out.push('\n');
        for row in rows {
            let pad = width.saturating_sub(row.chars().count());
            out.push_str(row);
            out.push_str(&" ".repeat(pad));
            for (_, f) in &stats.files {
                let n = pick(f).get(row).copied().unwrap_or(0);
                out.push_str(&format!(" {n:>9}"));
            }
            out.push('\n');
        }
        out.push_str(&format!("{:<width$}", "total"));
        for (_, f) in &stats.files {
            out.push_str(&format!(" {:>9}", f.examples));
        }
        out.push_str("\n\n");
    }
    out
}

fn excerpt(s: &str, n: usize) -> String {
    s.chars()
        .rev()
        .take(n)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

#[cfg(test)]
mod tests;
