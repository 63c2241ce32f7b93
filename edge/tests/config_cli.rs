//! The configuration file as an admin writes it: settings fill in flags, the command line and
//! the environment win, mistakes are named with their file.

use std::path::Path;
use std::process::Output;

#[path = "common/cli.rs"]
mod cli;
use cli::{opensoc, text};

/// `opensoc ARGS` with `config` as its only configuration file.
fn with_config(config: &Path, args: &[&str]) -> Output {
    opensoc()
        .env("OPENSOC_CONFIG", config)
        .args(args)
        .output()
        .expect("run opensoc")
}

#[test]
fn settings_fill_in_flags_and_the_command_line_and_environment_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "db = \"/nonexistent/from-config.db\"\n\n[verdicts]\nmin-severity = \"HIGH\"\nall = false\n",
    )
    .unwrap();

    // The database the file names is the one opened (here: a clear error naming it).
    let out = with_config(&config, &["verdicts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/from-config.db"),
        "{}",
        text(&out.stderr)
    );
    // `report` has --db too: a top-level setting applies to every command that has the flag.
    let out = with_config(&config, &["report"]);
    assert!(
        text(&out.stderr).contains("/nonexistent/from-config.db"),
        "{}",
        text(&out.stderr)
    );

    let out = with_config(&config, &["verdicts", "--db", "/nonexistent/typed.db"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("/nonexistent/typed.db") && !err.contains("from-config"),
        "{err}"
    );

    let out = opensoc()
        .env("OPENSOC_CONFIG", &config)
        .env("OPENSOC_DB", "/nonexistent/from-env.db")
        .arg("verdicts")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(
        err.contains("/nonexistent/from-env.db") && !err.contains("from-config"),
        "{err}"
    );

    let shown = with_config(&config, &["config", "show"]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let shown = text(&shown.stdout);
    assert!(
        shown.contains(&format!("# {} (read)", config.display())),
        "{shown}"
    );
    assert!(
        shown.contains("db = \"/nonexistent/from-config.db\""),
        "{shown}"
    );
    let table = shown
        .split("[verdicts]\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(table.contains("min-severity = \"HIGH\""), "{shown}");
}

#[test]
fn a_setting_is_checked_as_the_flag_would_be() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[verdicts]\nmin-severity = \"SEVERE\"\n").unwrap();
    let out = with_config(&config, &["verdicts", "--db", "/nonexistent/x.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("SEVERE"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn mistakes_in_the_file_are_named_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    for (body, expected) in [
        (
            "colour = \"always\"\n",
            "colour: no command has a flag --colour",
        ),
        (
            "[scan]\nport = 80\n",
            "[scan] port: `opensoc scan` has no flag --port",
        ),
        ("[scna]\nquiet = true\n", "[scna] names no command"),
        ("db = \n", "is not valid TOML"),
    ] {
        std::fs::write(&config, body).unwrap();
        let out = with_config(&config, &["verdicts"]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = text(&out.stderr);
        assert!(
            err.contains(expected) && err.contains(config.to_str().unwrap()),
            "{body}: {err}"
        );
    }
    // A file named by $OPENSOC_CONFIG must exist.
    let out = with_config(&dir.path().join("missing.toml"), &["verdicts"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing.toml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definitions() {
    let out = opensoc().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = text(&out.stdout);
    assert!(
        script.contains("opensoc") && script.contains("--min-severity"),
        "{script}"
    );
    let out = opensoc().arg("manpage").output().unwrap();
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH opensoc 1"),
        "{page}"
    );
    assert!(page.contains("scan"), "{page}");
}
