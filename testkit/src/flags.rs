//! The flag tables of docs/CONTRACTS.md, made from the binaries' own clap definitions: a test
//! of each binary renders its table with [`table`] and holds the document to it with
//! [`assert_documented`], so a flag, an environment variable or a default cannot change
//! without the document.
//!
//! A table sits between `<!-- flags:NAME -->` and `<!-- /flags:NAME -->`. Run the tests with
//! `UPDATE_FLAG_TABLES=1` to write the tables instead of checking them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use clap::Command;

/// The markdown table of `cmd`'s flags: one row per flag (`--help` and `--version` left out),
/// with its environment variable, its default and the first line of its help, in the order
/// `--help` lists them. Subcommands get a table of their own (call this on each).
pub fn table(cmd: &Command) -> String {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut out = String::from("| flag | env | default | what |\n|---|---|---|---|\n");
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" || arg.is_hide_set() {
            continue;
        }
        let flag = match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("`--{long}`"),
            (None, Some(short)) => format!("`-{short}`"),
            // a positional argument
            (None, None) => format!("`{}`", id.to_uppercase()),
        };
        let env = arg
            .get_env()
            .map_or("—".to_owned(), |e| format!("`{}`", e.to_string_lossy()));
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if defaults.is_empty() {
            "—".to_owned()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let first = help.lines().next().unwrap_or("").trim().replace('|', "\\|");
        let _ = writeln!(out, "| {flag} | {env} | {default} | {first} |");
    }
    out
}

/// The repository's docs/CONTRACTS.md.
pub fn contracts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CONTRACTS.md")
}

/// Asserts that `doc` holds `table` between the markers of `name` (see the module doc); with
/// `UPDATE_FLAG_TABLES=1` set, writes it there instead.
pub fn assert_documented(doc: &Path, name: &str, table: &str) {
    // the tests of one run update the one document in turn (a read, then a write)
    static DOC: Mutex<()> = Mutex::new(());
    let _turn = DOC.lock().unwrap_or_else(PoisonError::into_inner);
    let text = std::fs::read_to_string(doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
    let (open, close) = (
        format!("<!-- flags:{name} -->\n"),
        format!("<!-- /flags:{name} -->"),
    );
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("{} has no `{}` marker", doc.display(), open.trim()))
        + open.len();
    let end = start
        + text[start..]
            .find(&close)
            .unwrap_or_else(|| panic!("{} has no `{close}` marker", doc.display()));
    if std::env::var_os("UPDATE_FLAG_TABLES").is_some() {
        let updated = format!("{}{table}{}", &text[..start], &text[end..]);
        std::fs::write(doc, updated).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        return;
    }
    assert!(
        text[start..end] == *table,
        "the flags of `{name}` in {} are not the binary's (rerun with UPDATE_FLAG_TABLES=1 to write them):\n\
         documented:\n{}\nthe binary's:\n{table}",
        doc.display(),
        &text[start..end],
    );
}

#[cfg(test)]
mod tests {
    use clap::{Arg, ArgAction};

    use super::*;

    #[test]
    fn a_row_per_flag_with_its_env_default_and_first_help_line() {
        let cmd = clap::Command::new("x")
            .arg(
                Arg::new("listen")
                    .long("listen")
                    .env("X_LISTEN")
                    .default_value("127.0.0.1:1")
                    .help("Where to listen.\nMore text."),
            )
            .arg(
                Arg::new("naive")
                    .long("naive")
                    .action(ArgAction::SetTrue)
                    .help("a | b"),
            )
            .arg(Arg::new("secret").long("secret").hide(true));
        // SetTrue has the implicit default "false"
        assert_eq!(
            table(&cmd),
            "| flag | env | default | what |\n|---|---|---|---|\n\
             | `--listen` | `X_LISTEN` | `127.0.0.1:1` | Where to listen. |\n\
             | `--naive` | — | `false` | a \\| b |\n"
        );
    }

    #[test]
    fn a_table_that_differs_from_the_document_fails_and_names_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("doc.md");
        std::fs::write(
            &doc,
            "intro\n<!-- flags:x -->\n| old |\n<!-- /flags:x -->\nend\n",
        )
        .unwrap();
        let same = std::panic::catch_unwind(|| assert_documented(&doc, "x", "| old |\n"));
        assert!(same.is_ok());
        let differs = std::panic::catch_unwind(|| assert_documented(&doc, "x", "| new |\n"));
        let message = *differs.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.contains("`x`") && message.contains("| new |"),
            "{message}"
        );
        let missing = std::panic::catch_unwind(|| assert_documented(&doc, "y", ""));
        assert!(missing.is_err());
    }
}
