//! The copies of the promise that cannot link `service::promise` (Python, shell, YAML, JSON,
//! JavaScript), held to it: each test reads the files as text and fails, naming the file and
//! the value, when a copy says something else than `service/src/promise.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use service::promise::{
    IDENTITY_OBJECTIVE, ID_COOKIE, LAST_COOKIE, LATENCY_LIMIT, LATENCY_LIMIT_MS, LATENCY_OBJECTIVE,
};

/// The repository's root (this crate is one level below it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("service/ is in the repository")
        .to_path_buf()
}

/// The text of a file, by its path from the root.
fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The limit in seconds (1.0).
fn limit_seconds() -> f64 {
    LATENCY_LIMIT.as_secs_f64()
}

/// Whether two figures are the same (`1 - 0.99` is not exactly `0.01`).
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The number at the start of `s` (`1`, `0.99`, `1.0`), if any.
fn leading_number(s: &str) -> Option<f64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

/// The number right after each occurrence of `prefix` in `text`; fails when there is none, so a
/// copy that was reworded is noticed rather than silently no longer checked.
fn numbers_after(path: &str, text: &str, prefix: &str) -> Vec<f64> {
    let found: Vec<f64> = text
        .match_indices(prefix)
        .map(|(i, _)| {
            leading_number(&text[i + prefix.len()..])
                .unwrap_or_else(|| panic!("{path}: no number after {prefix:?}"))
        })
        .collect();
    assert!(!found.is_empty(), "{path}: {prefix:?} not found");
    found
}

/// Asserts every number after `prefix` in the file is `expected`, the promise's `what`.
fn every_number_after(path: &str, prefix: &str, expected: f64, what: &str) {
    let text = read(path);
    for n in numbers_after(path, &text, prefix) {
        assert!(
            same(n, expected),
            "{path}: {prefix:?} is followed by {n}, but the promise's {what} is {expected} \
             (service/src/promise.rs)"
        );
    }
}

#[test]
fn the_locustfile_uses_the_cookie_and_the_limit() {
    let path = "visitors/locustfile.py";
    let text = read(path);
    let cookie = text
        .lines()
        .find_map(|l| l.strip_prefix("COOKIE = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{path}: no COOKIE = \"…\""));
    assert_eq!(cookie, ID_COOKIE, "{path}: COOKIE");
    every_number_after(path, "\nPROMISE_SECONDS = ", limit_seconds(), "limit (s)");
}

#[test]
fn the_openapi_spec_states_the_promise_and_the_cookies() {
    let path = "docs/openapi/superpower.yaml";
    let text = read(path);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    // `key:` followed by `const: VALUE`: the constants of the `/promises.json` schema
    let consts = |key: &str| -> Vec<f64> {
        let found: Vec<f64> = lines
            .windows(2)
            .filter(|w| w[0] == format!("{key}:"))
            .filter_map(|w| w[1].strip_prefix("const: "))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{path}: {key}: const {v}"))
            })
            .collect();
        assert!(!found.is_empty(), "{path}: no {key} with a const");
        found
    };
    for v in consts("limit_ms") {
        assert!(same(v, LATENCY_LIMIT_MS as f64), "{path}: limit_ms is {v}");
    }
    for v in consts("objective") {
        assert!(same(v, LATENCY_OBJECTIVE), "{path}: objective is {v}");
    }
    // the cookie parameters: `- name: NAME` then `in: cookie`
    let cookies: BTreeSet<&str> = lines
        .windows(2)
        .filter(|w| w[1] == "in: cookie")
        .filter_map(|w| w[0].strip_prefix("- name: "))
        .collect();
    assert_eq!(
        cookies,
        BTreeSet::from([ID_COOKIE, LAST_COOKIE]),
        "{path}: the cookie parameters"
    );
}

/// Every string in a JSON document.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn the_experiments_judge_the_p99_against_the_limit_and_probe_with_it() {
    let mut files = Vec::new();
    for kind in ["local", "containers", "kubernetes"] {
        let dir = root().join("experiments").join(kind);
        for e in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    assert!(!files.is_empty(), "no experiment found");
    let mut p99_probes = 0;
    for p in &files {
        let path = p.display().to_string();
        let doc: Value = serde_json::from_str(&fs::read_to_string(p).unwrap())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut all = Vec::new();
        strings(&doc, &mut all);
        for s in all {
            // `superpower probe` runs with its default timeout, the limit: no other copy of it
            assert_ne!(
                s, "--timeout-ms",
                "{path}: the probe's --timeout-ms defaults to the promise's limit; pass none"
            );
            // the p99 probe: `histogram_quantile(OBJECTIVE, …) < bool LIMIT`
            if let Some((query, bound)) = s.split_once("< bool ") {
                p99_probes += 1;
                let bound = leading_number(bound).unwrap_or_else(|| panic!("{path}: {s}"));
                assert!(same(bound, limit_seconds()), "{path}: p99 < {bound}: {s}");
                for q in numbers_after(&path, query, "histogram_quantile(") {
                    assert!(same(q, LATENCY_OBJECTIVE), "{path}: quantile {q}: {s}");
                }
            }
        }
    }
    assert!(p99_probes > 0, "no experiment judges the p99");
    every_number_after(
        "experiments/verify_journals.py",
        "histogram_quantile(",
        LATENCY_OBJECTIVE,
        "objective (the p99)",
    );
    every_number_after(
        "experiments/load.sh",
        "p99 >= ",
        limit_seconds(),
        "limit (s)",
    );
}

#[test]
fn the_prometheus_rules_use_the_limit_and_the_objectives() {
    // the latency SLI reads the bucket whose edge is the limit: `le=~"1|1\\.0"`
    let path = "dashboards/prometheus/rules/sli-recording.yml";
    let text = read(path);
    let mut edges = 0;
    for (i, _) in text.match_indices("le=~\"") {
        let matcher = text[i + 5..].split('"').next().unwrap();
        for alt in matcher.split('|') {
            let v: f64 = alt
                .replace('\\', "")
                .parse()
                .unwrap_or_else(|_| panic!("{path}: le=~{matcher:?}"));
            assert!(same(v, limit_seconds()), "{path}: le=~{matcher:?}");
            edges += 1;
        }
    }
    assert!(edges > 0, "{path}: no le=~ matcher");
    // the burn-rate alerts: `(1 - SLI) > (RATE * BUDGET)`, the budget being 1 - the objective
    for (path, objective) in [
        (
            "dashboards/prometheus/rules/slo-alerts.yml",
            LATENCY_OBJECTIVE,
        ),
        (
            "dashboards/prometheus/rules/identity-slo-alerts.yml",
            IDENTITY_OBJECTIVE,
        ),
    ] {
        let text = read(path);
        let exprs: String = text
            .lines()
            .filter(|l| l.contains("_sli:ratio_rate") && l.contains(" > ("))
            .collect();
        for budget in numbers_after(path, &exprs, " * ") {
            assert!(
                same(budget, 1.0 - objective),
                "{path}: an error budget of {budget}, but the objective is {objective}"
            );
        }
    }
}

#[test]
fn the_dashboards_use_the_limit_and_the_objectives() {
    let path = "dashboards/tools/generate.mjs";
    for (prefix, expected, what) in [
        (
            "const ONE_SECOND = steps(['green', null], ['red', ",
            limit_seconds(),
            "limit (s)",
        ),
        (
            "const SLI = steps(['red', null], ['green', ",
            LATENCY_OBJECTIVE,
            "latency objective",
        ),
        (
            "const IDENTITY_SLI = steps(['red', null], ['green', ",
            IDENTITY_OBJECTIVE,
            "identity objective",
        ),
        (
            "const IDENTITY_BUDGET = ",
            1.0 - IDENTITY_OBJECTIVE,
            "identity budget",
        ),
        (
            "const LATENCY = { sli: 'superpower:latency_sli:ratio_rate', budget: ",
            1.0 - LATENCY_OBJECTIVE,
            "latency budget",
        ),
    ] {
        every_number_after(path, prefix, expected, what);
    }
}

/// The files, from the root, that are neither built nor generated: what a scan reads.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    const SKIP: [&str; 7] = [
        "target",
        "var",
        "node_modules",
        ".git",
        "__pycache__",
        "corpus",
        "artifacts",
    ];
    const EXTENSIONS: [&str; 11] = [
        "py", "sh", "json", "yaml", "yml", "mjs", "js", "md", "toml", "txt", "conf",
    ];
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let e = e.unwrap();
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if e.file_type().unwrap().is_dir() {
            if !SKIP.contains(&name.as_ref()) && !name.starts_with('.') {
                text_files(&p, out);
            }
        } else if p
            .extension()
            .is_some_and(|x| EXTENSIONS.contains(&x.to_string_lossy().as_ref()))
        {
            out.push(p);
        }
    }
}

/// Whether `b` may be part of a name (so `xsuperpower_id=` is not the cookie).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[test]
fn every_cookie_the_scripts_and_docs_name_is_one_of_the_two() {
    let known = [ID_COOKIE, LAST_COOKIE];
    let mut files = Vec::new();
    text_files(&root(), &mut files);
    let mut named = 0;
    for p in &files {
        let Ok(text) = fs::read_to_string(p) else {
            continue;
        };
        let bytes = text.as_bytes();
        // a cookie as a header or a script writes it: `superpower_NAME=`
        for (i, _) in text.match_indices("superpower_") {
            if i > 0 && is_name_byte(bytes[i - 1]) {
                continue;
            }
            let end = i + text[i..]
                .bytes()
                .position(|b| !is_name_byte(b))
                .unwrap_or(text.len() - i);
            if bytes.get(end) == Some(&b'=') {
                let name = &text[i..end];
                assert!(
                    known.contains(&name),
                    "{}: the cookie {name}= is not one of {known:?} (service/src/promise.rs)",
                    p.display()
                );
                named += 1;
            }
        }
    }
    assert!(named > 0, "no file names a cookie");
    // the cookies the container fleet's test asks for by name, quoted: both, and no other
    let path = "deploy/containers/test-fleet.sh";
    let text = read(path);
    let quoted: BTreeSet<&str> = text
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("superpower_") && s.bytes().all(is_name_byte))
        .collect();
    assert_eq!(
        quoted,
        BTreeSet::from(known),
        "{path}: the cookies asked for"
    );
}
