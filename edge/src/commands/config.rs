//! The configuration file: every long flag of every command, settable once instead of on
//! each command line. `opensoc config show` prints what is in force.
//!
//! ```toml
//! # Flags of any command that has them, by their long name.
//! db = "/var/lib/opensoc/verdicts.db"
//!
//! [scan]          # flags of one command (and of its subcommands)
//! min-severity = "HIGH"
//! keep-days = 30
//!
//! [forward]       # where verdicts go: for `forward`, and its forward* keys for scan and watch
//! forward = ["syslog+tls://logs.lan:6514", "postgres://opensoc@db.lan/fleet"]
//! forward-ca = "/etc/opensoc/ca.pem"
//! ```
//!
//! Files read, later ones winning: `/etc/opensoc/config.toml`, then
//! `$XDG_CONFIG_HOME/opensoc/config.toml` (default `~/.config/opensoc/config.toml`); or only
//! `$OPENSOC_CONFIG` when it is set. A flag on the command line wins over its environment
//! variable, which wins over the files, which win over the built-in default. A value is
//! handed to the flag as if typed, so it is checked the same way; `true` turns a switch on.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command, Subcommand};

/// `opensoc config ...` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration files looked for and the settings they hold, as in force.
    Show,
}

/// One setting of a file.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The command whose table holds it, none for the top level.
    pub section: Option<String>,
    /// The flag's long name.
    pub key: String,
    /// The value as written.
    pub value: toml::Value,
    /// The file it comes from.
    pub file: PathBuf,
}

/// The settings of every configuration file found, in the order they apply.
#[derive(Debug, Default)]
pub struct Settings {
    /// The files looked for, and whether each was there.
    pub files: Vec<(PathBuf, bool)>,
    /// Their settings, earlier files first.
    pub settings: Vec<Setting>,
}

/// The configuration files looked for, in the order they apply.
pub fn config_files() -> Vec<PathBuf> {
    if let Some(one) = std::env::var_os("OPENSOC_CONFIG").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(one)];
    }
    let user = opensoc::util::home::config_dir().map(|d| d.join("config.toml"));
    std::iter::once(PathBuf::from("/etc/opensoc/config.toml"))
        .chain(user)
        .collect()
}

/// Reads the configuration files that exist, checking each key against `cli`'s flags.
pub fn load(cli: &Command) -> anyhow::Result<Settings> {
    let mut out = Settings::default();
    let explicit = std::env::var_os("OPENSOC_CONFIG").is_some_and(|v| !v.is_empty());
    for file in config_files() {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                out.files.push((file, false));
                continue;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the configuration {}", file.display()))
            }
        };
        out.settings.extend(parse(&text, &file, cli)?);
        out.files.push((file, true));
    }
    Ok(out)
}

/// The settings of one file's text.
fn parse(text: &str, file: &Path, cli: &Command) -> anyhow::Result<Vec<Setting>> {
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("the configuration {} is not valid TOML", file.display()))?;
    let mut out = Vec::new();
    for (name, value) in table {
        match value {
            toml::Value::Table(inner) => {
                let Some(cmd) = cli.find_subcommand(&name) else {
                    bail!(
                        "{}: [{name}] names no command (one of: {})",
                        file.display(),
                        command_names(cli).join(", ")
                    );
                };
                for (key, value) in inner {
                    if value.is_table() || !has_flag(cmd, &key) {
                        bail!(
                            "{}: [{name}] {key}: `opensoc {name}` has no flag --{key}",
                            file.display()
                        );
                    }
                    out.push(Setting {
                        section: Some(name.clone()),
                        key,
                        value,
                        file: file.to_path_buf(),
                    });
                }
            }
            value => {
                if !has_flag(cli, &name) {
                    bail!("{}: {name}: no command has a flag --{name}", file.display());
                }
                out.push(Setting {
                    section: None,
                    key: name,
                    value,
                    file: file.to_path_buf(),
                });
            }
        }
    }
    Ok(out)
}

fn command_names(cli: &Command) -> Vec<&str> {
    cli.get_subcommands()
        .map(Command::get_name)
        .filter(|n| *n != "help")
        .collect()
}

/// Whether `cmd` or one of its subcommands has the long flag `--key`.
fn has_flag(cmd: &Command, key: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_long() == Some(key))
        || cmd.get_subcommands().any(|c| has_flag(c, key))
}

/// The command line `argv` with the flags the settings give and it does not: each is added
/// when the command that runs has it and neither the command line nor its environment
/// variable set it. An argv that does not parse is returned as it is (the parse reports it).
pub fn apply(cli: &Command, argv: Vec<OsString>, settings: &Settings) -> Vec<OsString> {
    if settings.settings.is_empty() {
        return argv;
    }
    let mut root = cli.clone();
    root.build();
    let Ok(matches) = root.clone().try_get_matches_from(&argv) else {
        return argv;
    };
    // The command that runs, its matches, and the top-level command it belongs to.
    let Some((top, mut sub)) = matches.subcommand() else {
        return argv;
    };
    let Some(mut leaf) = root.find_subcommand(top) else {
        return argv;
    };
    while let Some((name, next)) = sub.subcommand() {
        match leaf.find_subcommand(name) {
            Some(c) => {
                leaf = c;
                sub = next;
            }
            None => break,
        }
    }
    // Top-level settings first, then the [forward] table's destinations for the commands
    // that forward as they go, then the command's own table: the later wins.
    let forwarding = |s: &&Setting| {
        s.section.as_deref() == Some(FORWARD_SECTION)
            && top != FORWARD_SECTION
            && s.key.starts_with("forward")
    };
    let mut chosen: Vec<&Setting> = Vec::new();
    for s in settings
        .settings
        .iter()
        .filter(|s| s.section.is_none())
        .chain(settings.settings.iter().filter(forwarding))
        .chain(
            settings
                .settings
                .iter()
                .filter(|s| s.section.as_deref() == Some(top)),
        )
    {
        chosen.retain(|c| c.key != s.key);
        chosen.push(s);
    }
    let mut added: Vec<OsString> = Vec::new();
    for s in chosen {
        let Some(arg) = leaf.get_arguments().find(|a| a.get_long() == Some(&s.key)) else {
            continue;
        };
        if given(sub, arg.get_id().as_str()) {
            continue;
        }
        let flag = OsString::from(format!("--{}", s.key));
        let switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::Count);
        let values: Vec<&toml::Value> = match &s.value {
            toml::Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for v in values {
            match v {
                toml::Value::Boolean(true) if switch => added.push(flag.clone()),
                toml::Value::Boolean(false) if switch => {}
                other => {
                    added.push(flag.clone());
                    added.push(OsString::from(plain(other)));
                }
            }
        }
    }
    let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
    let mut out = argv;
    out.splice(at..at, added);
    out
}

/// The table of `opensoc forward`, whose `forward*` settings (destinations, TLS files) are
/// also those of `scan` and `watch`: one place says where verdicts go.
const FORWARD_SECTION: &str = "forward";

/// Whether the command line or the environment set the argument `id`.
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// A value as it would be typed: strings without their quotes.
fn plain(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `opensoc config show`: the files looked for and the settings in force, as TOML.
pub fn show(settings: &Settings) -> anyhow::Result<std::process::ExitCode> {
    for (file, found) in &settings.files {
        let state = if *found { "read" } else { "absent" };
        println!("# {} ({state})", file.display());
    }
    if settings.settings.is_empty() {
        println!("# no settings: every flag has its built-in default");
        return Ok(std::process::ExitCode::SUCCESS);
    }
    // A later file's setting replaces an earlier one's; top-level settings first.
    let mut in_force: Vec<&Setting> = Vec::new();
    for s in &settings.settings {
        in_force.retain(|c| (&c.section, &c.key) != (&s.section, &s.key));
        in_force.push(s);
    }
    in_force.sort_by(|a, b| a.section.cmp(&b.section));
    let mut section: Option<&str> = None;
    for s in in_force {
        if s.section.as_deref() != section {
            section = s.section.as_deref();
            println!("\n[{}]", section.unwrap_or_default());
        }
        println!("{} = {}  # {}", s.key, s.value, s.file.display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}
