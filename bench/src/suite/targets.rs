//! The targets, judged against the results: a table of rows (what, target, figure and verdict).

use service::promise::{IDENTITY_OBJECTIVE, LATENCY_LIMIT};

use super::soak;
use super::timing::RATES;
use crate::load::Report;
use crate::report::{paired_medians, FrontEnd, Mode, Process, Results, System, Target, Tool};

/// A row: the figure and the verdict when measured, else "not measured" and no verdict.
fn row(
    what: impl Into<String>,
    target: impl Into<String>,
    judged: Option<(String, bool)>,
) -> Target {
    let (figure, pass) = judged.map_or(("not measured".into(), None), |(f, p)| (f, Some(p)));
    Target {
        what: what.into(),
        target: target.into(),
        figure,
        pass,
    }
}

/// A ratio `v`, at least `min`.
fn ratio(v: f64, min: f64) -> (String, bool) {
    (format!("{v:.3}×"), v >= min)
}

/// `v` ms, under `limit`.
fn ms_under(v: f64, limit: f64) -> (String, bool) {
    (format!("{v:.2} ms"), v < limit)
}

/// The slowest answer of `r`, under `limit` ms.
fn max_under(r: &Report, limit: f64) -> (String, bool) {
    (
        format!("{:.1} ms", r.latency.max_ms),
        r.latency.max_ms < limit,
    )
}

/// A count that must be 0.
fn zero<T: PartialEq + Default + ToString>(n: T) -> (String, bool) {
    (n.to_string(), n == T::default())
}

/// The target of a maximum latency: under the promise's limit ("< 1 s").
fn under_the_limit() -> String {
    format!("< {} s", LATENCY_LIMIT.as_secs_f64())
}

/// Judges the run's targets: the soak's alone in soak mode (smoke mode does not judge ingest).
pub(super) fn targets(res: &Results) -> Vec<Target> {
    if res.mode == Mode::Soak {
        return soak_targets(res);
    }
    let e2e = res.e2e.as_ref();
    let p99 = |system, tool| {
        let r = e2e.and_then(|e| e.find(system, tool, Some(RATES[1])));
        r.map(|r| r.latency.p99_ms)
    };
    // the tail at moderate load, like for like: oha at the same constant rate (latency
    // correction) against superpower and the bare two-tier pair of the same run
    let tail = p99(System::Superpower, Tool::Oha).zip(p99(System::TwoTier, Tool::Oha));
    let peers = res.peers.as_ref();
    let paired = peers.and_then(|p| Some((paired_medians(&p.max_rounds)?, p.max_rounds.len())));
    let sp = peers.and_then(|p| {
        let w = p
            .failover
            .iter()
            .find(|f| f.front_end == FrontEnd::Superpower);
        w.map(|w| (p.failover_rate, w))
    });
    let (at, w) = match sp {
        Some((rate, w)) => (format!(" at {rate:.0} req/s"), Some(w)),
        None => (String::new(), None),
    };
    let f = res.failover.as_ref();
    let limit_ms = LATENCY_LIMIT.as_secs_f64() * 1000.0;
    let mut out = vec![
        row(
            "powersource max throughput vs one-tier reference",
            "≥ 0.6×",
            e2e.map(|e| ratio(e.powersource_vs_one_tier, 0.6)),
        ),
        row(
            "powersource p99 at 1,000 req/s",
            "< 2 ms",
            p99(System::Powersource, Tool::Generator).map(|v| ms_under(v, 2.0)),
        ),
        row(
            "superpower max throughput vs two-tier reference",
            "≥ 0.6×",
            e2e.map(|e| ratio(e.superpower_vs_two_tier, 0.6)),
        ),
        row(
            "superpower p99 at 1,000 req/s vs the two-tier reference's (oha, latency correction)",
            "≤ 1.5×",
            tail.map(|(s, t)| {
                let figure = format!("{s:.2} ms vs {t:.2} ms ({:.2}×)", s / t.max(0.001));
                (figure, s <= 1.5 * t)
            }),
        ),
        row(
            "superpower p99 at 1,000 req/s",
            "< 2 ms",
            p99(System::Superpower, Tool::Generator).map(|v| ms_under(v, 2.0)),
        ),
        row(
            "superpower max throughput vs nginx (oha -c 32, access logs on; median of paired rounds)",
            "≥ 1.0×",
            paired.map(|((r, _, _), n)| (format!("{r:.3}× ({n} rounds)"), r >= 1.0)),
        ),
        row(
            "superpower p99 at saturation vs nginx's (medians of the rounds)",
            "no worse",
            paired.map(|((_, s, n), _)| (format!("{s:.2} ms vs {n:.2} ms"), s <= n)),
        ),
        row(
            format!("failover{at}: superpower errors"),
            "0",
            w.map(|w| zero(w.window.failures())),
        ),
        row(
            format!("failover{at}: superpower identity changes"),
            "0",
            w.map(|w| zero(w.changed_users)),
        ),
        row(
            format!("failover{at}: superpower max latency"),
            "< 50 ms",
            w.map(|w| max_under(&w.window, 50.0)),
        ),
        row("failover: errors", "0", f.map(|f| zero(f.window.failures()))),
        row("failover: identity changes", "0", f.map(|f| zero(f.changed_users))),
        row(
            "failover: max latency",
            under_the_limit(),
            f.map(|f| max_under(&f.window, limit_ms)),
        ),
    ];
    out.extend(returning_targets(res));
    let i = res.ingest.as_ref();
    let smoke = res.mode == Mode::Smoke;
    let what = format!(
        "ingest of the {}-character set{}",
        i.map_or(1500, |i| i.characters),
        if smoke { " (smoke: not judged)" } else { "" }
    );
    let median = i.map(|i| i.median_s);
    let mut ingest = row(
        what,
        "< 3 s (1,500 characters)",
        median.map(|s| (format!("{s:.2} s"), s < 3.0)),
    );
    if smoke {
        ingest.pass = None;
    }
    out.push(ingest);
    for m in &res.memory {
        let limit = match m.process {
            Process::Superpower | Process::SuperpowerUntracked | Process::Replica(_) => 30.0,
            Process::Powersource(_) => 50.0,
            _ => continue,
        };
        let peak = m.peak_rss_mib;
        out.push(row(
            format!("peak RSS of {}", m.process),
            format!("< {limit:.0} MiB"),
            Some((format!("{peak:.1} MiB"), peak < limit)),
        ));
    }
    out
}

/// One row per users point: its returning users keep their superpower on each replica.
fn returning_targets(res: &Results) -> Vec<Target> {
    let target = format!(
        "≥ {:.1} % kept, 0 changed, on each",
        IDENTITY_OBJECTIVE * 100.0
    );
    let points = res.scaling.as_ref().map_or(&[][..], |s| &s.users[..]);
    if points.is_empty() {
        let what = "returning users, every powersource dead: kept on either replica";
        return vec![row(what, target, None)];
    }
    let judged = |u: &crate::report::UsersPoint| {
        let of = |r: &crate::report::ReturningRun| {
            let pct = r.kept as f64 * 100.0 / u.sampled.max(1) as f64;
            let (replica, kept, sampled) = (r.replica, r.kept, u.sampled);
            format!(
                "{replica}: {kept}/{sampled} ({pct:.2} %), {} changed",
                r.changed
            )
        };
        let figure: Vec<String> = u.returning.iter().map(of).collect();
        let kept = |r: &crate::report::ReturningRun| {
            r.changed == 0 && r.kept as f64 >= IDENTITY_OBJECTIVE * u.sampled as f64
        };
        let pass = u.returning.len() == 2 && u.returning.iter().all(kept);
        (figure.join("; "), pass)
    };
    let what = |u: &crate::report::UsersPoint| {
        format!(
            "returning users sampled from {} distinct, every powersource dead: kept on the \
             replica they used and on the other",
            thousands(u.users as f64)
        )
    };
    points
        .iter()
        .map(|u| row(what(u), &target, Some(judged(u))))
        .collect()
}

/// The soak's verdict, one row per clause (RSS: one per process).
fn soak_targets(res: &Results) -> Vec<Target> {
    let s = res.soak.as_ref();
    let mut out = vec![
        row(
            "soak: errors",
            "0",
            s.map(|s| zero(s.load.failures() + s.after.failures())),
        ),
        row(
            "soak: identity changes",
            "0",
            s.map(|s| zero(s.changed_users)),
        ),
        row(
            "soak: max latency",
            under_the_limit(),
            s.map(|s| {
                (
                    format!("{:.1} ms", s.load.latency.max_ms),
                    soak::fast_enough(s),
                )
            }),
        ),
        row(
            "soak: processes that exited by themselves",
            "0",
            s.map(|s| zero(s.unexpected_exits.len())),
        ),
    ];
    if let Some(s) = s {
        let (pct, mib) = (s.rss_rule.tolerance_pct, s.rss_rule.tolerance_mib);
        let target = format!("end ≤ start + max({pct:.0} %, {mib:.0} MiB); no steady growth");
        for r in &s.rss {
            let figure = format!(
                "{:.1} → {:.1} MiB (peak {:.1})",
                r.start_mib, r.end_mib, r.peak_mib
            );
            let what = format!("soak: RSS of {} flat", r.process);
            out.push(row(what, &target, Some((figure, r.flat))));
        }
    }
    out
}

/// `12345.6` → `12,346`.
fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ReturningRun, Rss, Scaling, Soak, UsersPoint};

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-4500.0), "-4,500");
    }

    #[test]
    fn returning_users_keep_their_superpower_on_both_replicas_or_miss() {
        let run = |name, kept, changed| ReturningRun {
            replica: Process::Replica(name),
            kept,
            changed,
            failed: 2000 - kept - changed,
            report: crate::load::Report::default(),
        };
        let verdict = |b: ReturningRun| {
            let res = Results {
                scaling: Some(Scaling {
                    users: vec![UsersPoint {
                        users: 1_000_000,
                        sampled: 2000,
                        returning: vec![run('A', 2000, 0), b],
                        ..UsersPoint::default()
                    }],
                    ..Scaling::default()
                }),
                ..Results::default()
            };
            let t = targets(&res);
            let row = t
                .iter()
                .find(|t| t.what.starts_with("returning users"))
                .unwrap();
            assert!(row.what.contains("1,000,000 distinct"), "{}", row.what);
            (row.pass, row.figure.clone())
        };
        let (pass, figure) = verdict(run('B', 1998, 0));
        assert_eq!(pass, Some(true), "99.9 % is enough");
        assert_eq!(
            figure,
            "superpower-a: 2000/2000 (100.00 %), 0 changed; superpower-b: 1998/2000 (99.90 %), 0 changed"
        );
        assert_eq!(verdict(run('B', 1997, 0)).0, Some(false), "99.85 % is not");
        assert_eq!(verdict(run('B', 1999, 1)).0, Some(false), "one changed");

        let t = targets(&Results::default());
        let row = t
            .iter()
            .find(|t| t.what.starts_with("returning users"))
            .unwrap();
        assert_eq!((row.pass, row.figure.as_str()), (None, "not measured"));
    }

    #[test]
    fn a_soak_run_is_judged_on_the_soak_alone() {
        let rss = |process, flat| Rss {
            process,
            lives: 1,
            samples: 60,
            start_mib: 10.0,
            peak_mib: 12.0,
            end_mib: 10.5,
            window_mib: vec![10.0; 5],
            flat,
            why: None,
        };
        let res = Results {
            mode: Mode::Soak,
            soak: Some(Soak {
                rss: vec![
                    rss(Process::Superpower, true),
                    rss(Process::Powersource(1), false),
                ],
                ..Soak::default()
            }),
            ..Results::default()
        };
        let t = targets(&res);
        let verdicts: Vec<(&str, Option<bool>)> =
            t.iter().map(|t| (t.what.as_str(), t.pass)).collect();
        assert_eq!(
            verdicts,
            [
                ("soak: errors", Some(true)),
                ("soak: identity changes", Some(true)),
                ("soak: max latency", Some(true)),
                ("soak: processes that exited by themselves", Some(true)),
                ("soak: RSS of superpower flat", Some(true)),
                ("soak: RSS of powersource-1 flat", Some(false)),
            ]
        );
        assert_eq!(t[4].figure, "10.0 → 10.5 MiB (peak 12.0)");
    }

    #[test]
    fn a_failed_soak_is_not_measured() {
        let res = Results {
            mode: Mode::Soak,
            ..Results::default()
        };
        let t = targets(&res);
        assert_eq!(t.len(), 4);
        assert!(t
            .iter()
            .all(|t| t.pass.is_none() && t.figure == "not measured"));
    }
}
