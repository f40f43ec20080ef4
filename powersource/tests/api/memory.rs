//! The memory warning at start: the real binary, over a store of the sample dataset, says in its
//! log when the dataset is estimated to need more than its memory limit, and serves it anyway.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::sample::{dataset, ingest_into};

/// Starts `powersource` over `store` with `args` and returns its log lines up to the one that
/// says it listens; then stops it.
fn start_up_log(store: &Path, args: &[&str]) -> Vec<String> {
    // sled may hold the store's lock for a moment after the ingest closed it: the binary then
    // exits at once ("cannot start"), and is started again
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_powersource"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--name",
                "memory-test",
                "--store",
            ])
            .arg(store)
            .args(args)
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "json")
            .env_remove("POWERSOURCE_MEMORY_LIMIT_MIB")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("powersource starts");
        let stderr = BufReader::new(child.stderr.take().expect("piped"));
        let mut lines = Vec::new();
        for line in stderr.lines() {
            let line = line.expect("log line");
            let listening = line.contains("powersource listening");
            lines.push(line);
            if listening {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        if lines.iter().any(|l| l.contains("powersource listening")) {
            return lines;
        }
        assert!(
            Instant::now() < deadline && lines.iter().any(|l| l.contains("cannot start")),
            "powersource did not start: {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_dataset_over_the_memory_limit_is_served_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    drop(ingest_into(&path));
    let need = dataset().need();

    // the sample fits the manifests' limit (the default): the estimate is logged, no warning
    let log = start_up_log(&path, &[]);
    let loaded = log.iter().find(|l| l.contains("dataset loaded")).unwrap();
    assert!(
        loaded.contains(&format!("\"memory_estimate_mib\":{}", need.mib())),
        "{loaded}"
    );
    assert!(!log.iter().any(|l| l.contains("memory limit")), "{log:#?}");

    // told a limit the dataset does not fit in: a warning with the figures, and it serves
    let log = start_up_log(&path, &["--memory-limit-mib", "13"]);
    let warning = log
        .iter()
        .find(|l| l.contains("over its memory limit"))
        .unwrap_or_else(|| panic!("no warning in {log:#?}"));
    assert!(warning.contains("\"level\":\"WARN\""), "{warning}");
    let expected = need.over(13).expect("over 13 MiB").to_string();
    let text = serde_json::to_string(&expected).unwrap();
    assert!(warning.contains(text.trim_matches('"')), "{warning}");
    assert!(warning.contains("\"memory_limit_mib\":13"), "{warning}");
}
