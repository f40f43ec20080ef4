//! docs/CONTRACTS.md's flag tables are the binaries' flags: each table is rendered from the clap
//! definitions and compared with the document (`UPDATE_FLAG_TABLES=1` writes them).

use clap::{Command, CommandFactory};
use testkit::flags::{assert_documented, contracts, table};

/// Every command under `cmd` (itself included) that takes flags, with its marker name
/// (`loader-collect-characters`).
fn commands(cmd: &Command, prefix: &str, out: &mut Vec<(String, Command)>) {
    let name = if prefix.is_empty() {
        cmd.get_name().to_owned()
    } else {
        format!("{prefix}-{}", cmd.get_name())
    };
    if cmd.get_arguments().any(|a| !a.is_global_set()) {
        out.push((name.clone(), cmd.clone()));
    }
    for sub in cmd.get_subcommands() {
        commands(sub, &name, out);
    }
}

fn check(cmd: Command) {
    let mut all = Vec::new();
    commands(&cmd, "", &mut all);
    assert!(!all.is_empty());
    for (name, cmd) in all {
        assert_documented(&contracts(), &name, &table(&cmd));
    }
}

#[test]
fn superpower_and_its_probe() {
    check(superpower::cli::Cli::command());
}

#[test]
fn powersource() {
    check(powersource::config::Settings::command());
}

#[test]
fn loader() {
    check(loader::cli::Cli::command());
}

/// The other tables of flags in the docs (README.md, docs/*.md: rows that start with a flag)
/// name only flags a binary has, with that flag's environment variable.
#[test]
fn every_flag_row_in_the_docs_is_a_flag_with_its_env() {
    let mut envs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for root in [
        superpower::cli::Cli::command(),
        powersource::config::Settings::command(),
        loader::cli::Cli::command(),
    ] {
        let mut all = Vec::new();
        commands(&root, "", &mut all);
        for (_, cmd) in all {
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long() {
                    let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                    envs.entry(long.to_owned()).or_default().extend(env);
                }
            }
        }
    }
    let root = contracts().parent().unwrap().parent().unwrap().to_owned();
    let mut docs = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut rows = 0;
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for line in text.lines().filter(|l| l.starts_with("| `--")) {
            rows += 1;
            let cells: Vec<&str> = line.split(" | ").collect();
            // the flags the first cell names (`--traces-sampler(-arg)` names `--traces-sampler`)
            let mut row_envs = Vec::new();
            for flag in cells[0].split('`').skip(1).step_by(2) {
                let name: String = flag
                    .trim_start_matches("--")
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                let known = envs.get(&name);
                assert!(
                    known.is_some(),
                    "{}: `--{name}` is no binary's flag:\n{line}",
                    doc.display()
                );
                row_envs.extend(known.unwrap().iter().cloned());
            }
            // the variables the second cell names are those flags' (`A(_B)` is `A` or `A_B`;
            // `OTEL_BSP_*` any of them)
            let Some(cell) = cells.get(1) else { continue };
            for var in cell.split('`').skip(1).step_by(2) {
                let (base, full) = match var.split_once('(') {
                    Some((b, rest)) => (b.to_owned(), format!("{b}{}", rest.replace(')', ""))),
                    None => (var.to_owned(), var.to_owned()),
                };
                let ok = match var.strip_suffix('*') {
                    Some(prefix) => envs.values().flatten().any(|e| e.starts_with(prefix)),
                    None => row_envs.iter().any(|e| *e == base || *e == full),
                };
                assert!(
                    ok,
                    "{}: `{var}` is not the variable of the row's flags:\n{line}",
                    doc.display()
                );
            }
        }
    }
    assert!(rows > 20, "only {rows} flag rows found in the docs");
}
