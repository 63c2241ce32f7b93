//! `opensoc-train suites`: writes scan-level evaluation suites (log files with the findings a
//! scan of them should produce) from fail2ban's, Wazuh's and the Core Rule Set's labelled
//! samples, holding out whole services (see `opensoc_trainer::corpus::suites`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use opensoc_trainer::corpus::suites::{build_suites_with, DEFAULT_HOLDOUT};

/// Arguments of `opensoc-train suites`.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes into --out: suite.json (the cases), heldout.json (the held-out \
                  services per source) and one log per case under fail2ban/, wazuh/ and crs/, \
                  and the adversarial cases under adversarial/ and adversarial-clean/ with \
                  adversarial/manifest.json.\n\
                  Run it with: opensoc eval --suite DIR --split heldout"
)]
pub struct SuitesArgs {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The shared data folder [default: $OPENSOC_DATA, else ../shared/data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Seed of the holdout hash and of every shuffle (same seed, same files).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of each source's services held out (by family; at least a fifth when this is
    /// 0.2 or more).
    #[arg(long, default_value_t = DEFAULT_HOLDOUT, value_name = "FRACTION")]
    holdout: f64,
    /// Leave out the adversarial cases (prompt-injection carriers in attacker-written fields,
    /// with their clean twins; `opensoc_trainer::corpus::adversarial`).
    #[arg(long)]
    no_adversarial: bool,
}

/// Runs the command.
pub fn run(args: SuitesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.holdout),
        "--holdout must be between 0 and 1"
    );
    let data = args
        .data
        .unwrap_or_else(opensoc::task::dataset::default_data_dir);
    let summary = build_suites_with(
        &data,
        &args.out,
        args.seed,
        args.holdout,
        !args.no_adversarial,
    )
    .with_context(|| format!("building suites from {}", data.display()))?;
    print!("{}", summary.table());
    println!("wrote {}", args.out.join("suite.json").display());
    Ok(())
}
