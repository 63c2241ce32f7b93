//! `opensoc completions SHELL` and `opensoc manpage`: written from the command-line
//! definitions, so they never drift from `--help`.

use std::process::ExitCode;

use clap::Command;
use clap_complete::Shell;

/// Prints the completion script of `shell` for `cli`.
pub fn completions(mut cli: Command, shell: Shell) -> anyhow::Result<ExitCode> {
    clap_complete::generate(shell, &mut cli, "opensoc", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

/// Prints `cli`'s man page (section 1, roff).
pub fn manpage(cli: Command) -> anyhow::Result<ExitCode> {
    clap_mangen::Man::new(cli).render(&mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}
