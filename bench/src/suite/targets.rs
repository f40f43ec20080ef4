//! The targets, judged against the results.

use super::timing::RATES;
use crate::report::{E2e, Process, Results, System, Target, Tool};

/// Judges every target against `res` (ingest is not judged in smoke mode: the dataset is
/// smaller than the target's).
pub(super) fn targets(res: &Results, smoke: bool) -> Vec<Target> {
    let mut out = Vec::new();
    let mut push = |what: &str, target: &str, figure: Option<String>, pass: Option<bool>| {
        out.push(Target {
            what: what.into(),
            target: target.into(),
            figure: figure.unwrap_or_else(|| "not measured".into()),
            pass,
        });
    };
    let e2e = res.e2e.as_ref();
    let ratio = |f: fn(&E2e) -> f64| e2e.map(f);
    let p99 = |system| {
        e2e.and_then(|e| e.find(system, Tool::Generator, Some(RATES[1])))
            .map(|r| r.latency.p99_ms)
    };
    let r = ratio(|e| e.powersource_vs_one_tier);
    push(
        "powersource max throughput vs one-tier reference",
        "≥ 0.6×",
        r.map(|v| format!("{v:.3}×")),
        r.map(|v| v >= 0.6),
    );
    let p = p99(System::Powersource);
    push(
        "powersource p99 at 1,000 req/s",
        "< 2 ms",
        p.map(|v| format!("{v:.2} ms")),
        p.map(|v| v < 2.0),
    );
    let r = ratio(|e| e.superpower_vs_two_tier);
    push(
        "superpower max throughput vs two-tier reference",
        "≥ 0.6×",
        r.map(|v| format!("{v:.3}×")),
        r.map(|v| v >= 0.6),
    );
    let p = p99(System::Superpower);
    push(
        "superpower p99 at 1,000 req/s",
        "< 2 ms",
        p.map(|v| format!("{v:.2} ms")),
        p.map(|v| v < 2.0),
    );
    let f = res.failover.as_ref();
    push(
        "failover: errors",
        "0",
        f.map(|f| f.window.failures().to_string()),
        f.map(|f| f.window.failures() == 0),
    );
    push(
        "failover: identity changes",
        "0",
        f.map(|f| f.changed_users.to_string()),
        f.map(|f| f.changed_users == 0),
    );
    push(
        "failover: max latency",
        "< 1 s",
        f.map(|f| format!("{:.1} ms", f.window.latency.max_ms)),
        f.map(|f| f.window.latency.max_ms < 1000.0),
    );
    let i = res.ingest.as_ref();
    push(
        &format!(
            "ingest of the {}-character set{}",
            i.map_or(1500, |i| i.characters),
            if smoke { " (smoke: not judged)" } else { "" }
        ),
        "< 3 s (1,500 characters)",
        i.map(|i| format!("{:.2} s", i.median_s)),
        i.filter(|_| !smoke).map(|i| i.median_s < 3.0),
    );
    for m in &res.memory {
        let limit = match m.process {
            Process::Superpower => 30.0,
            Process::Powersource(_) => 50.0,
            Process::OneTierReference | Process::TwoTierReference => continue,
        };
        push(
            &format!("peak RSS of {}", m.process),
            &format!("< {limit:.0} MiB"),
            Some(format!("{:.1} MiB", m.peak_rss_mib)),
            Some(m.peak_rss_mib < limit),
        );
    }
    out
}
