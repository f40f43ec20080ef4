//! The targets, judged against the results.

use service::promise::{IDENTITY_OBJECTIVE, LATENCY_LIMIT};

use super::soak;
use super::timing::RATES;
use crate::report::{paired_medians, E2e, FrontEnd, Mode, Process, Results, System, Target, Tool};

/// A target row: `figure` is "not measured" when absent.
fn push(
    out: &mut Vec<Target>,
    what: &str,
    target: &str,
    figure: Option<String>,
    pass: Option<bool>,
) {
    out.push(Target {
        what: what.into(),
        target: target.into(),
        figure: figure.unwrap_or_else(|| "not measured".into()),
        pass,
    });
}

/// Judges every target of the run's mode against `res`: the soak's alone in soak mode, the
/// others' otherwise (ingest is not judged in smoke mode: the dataset is smaller than the
/// target's).
pub(super) fn targets(res: &Results) -> Vec<Target> {
    if res.mode == Mode::Soak {
        return soak_targets(res);
    }
    let smoke = res.mode == Mode::Smoke;
    let mut out = Vec::new();
    let mut push = |what: &str, target: &str, figure: Option<String>, pass: Option<bool>| {
        push(&mut out, what, target, figure, pass);
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
    // the tail at moderate load, like for like: oha at the same constant rate (latency
    // correction) against superpower and the bare two-tier pair of the same run
    let oha_p99 = |system| {
        e2e.and_then(|e| e.find(system, Tool::Oha, Some(RATES[1])))
            .map(|r| r.latency.p99_ms)
    };
    let tail = oha_p99(System::Superpower).zip(oha_p99(System::TwoTier));
    push(
        "superpower p99 at 1,000 req/s vs the two-tier reference's (oha, latency correction)",
        "≤ 1.5×",
        tail.map(|(s, t)| format!("{s:.2} ms vs {t:.2} ms ({:.2}×)", s / t.max(0.001))),
        tail.map(|(s, t)| s <= 1.5 * t),
    );
    let p = p99(System::Superpower);
    push(
        "superpower p99 at 1,000 req/s",
        "< 2 ms",
        p.map(|v| format!("{v:.2} ms")),
        p.map(|v| v < 2.0),
    );
    let peers = res.peers.as_ref();
    let paired = peers.and_then(|p| paired_medians(&p.max_rounds).map(|m| (m, p.max_rounds.len())));
    push(
        "superpower max throughput vs nginx (oha -c 32, access logs on; median of paired rounds)",
        "≥ 1.0×",
        paired.map(|((r, _, _), n)| format!("{r:.3}× ({n} rounds)")),
        paired.map(|((r, _, _), _)| r >= 1.0),
    );
    push(
        "superpower p99 at saturation vs nginx's (medians of the rounds)",
        "no worse",
        paired.map(|((_, s, n), _)| format!("{s:.2} ms vs {n:.2} ms")),
        paired.map(|((_, s, n), _)| s <= n),
    );
    let w = peers.and_then(|p| {
        p.failover
            .iter()
            .find(|f| f.front_end == FrontEnd::Superpower)
            .map(|f| (p.failover_rate, f))
    });
    let at = w.map_or(String::new(), |(rate, _)| format!(" at {rate:.0} req/s"));
    push(
        &format!("failover{at}: superpower errors"),
        "0",
        w.map(|(_, f)| f.window.failures().to_string()),
        w.map(|(_, f)| f.window.failures() == 0),
    );
    push(
        &format!("failover{at}: superpower identity changes"),
        "0",
        w.map(|(_, f)| f.changed_users.to_string()),
        w.map(|(_, f)| f.changed_users == 0),
    );
    push(
        &format!("failover{at}: superpower max latency"),
        "< 50 ms",
        w.map(|(_, f)| format!("{:.1} ms", f.window.latency.max_ms)),
        w.map(|(_, f)| f.window.latency.max_ms < 50.0),
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
        &under_the_limit(),
        f.map(|f| format!("{:.1} ms", f.window.latency.max_ms)),
        f.map(|f| f.window.latency.max_ms < LATENCY_LIMIT.as_secs_f64() * 1000.0),
    );
    returning_targets(res, &mut push);
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
            Process::Superpower | Process::SuperpowerUntracked | Process::Replica(_) => 30.0,
            Process::Powersource(_) => 50.0,
            Process::OneTierReference
            | Process::TwoTierReference
            | Process::Nginx
            | Process::Haproxy => continue,
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

/// The share of sampled returning users who must keep their superpower on each replica with
/// every powersource dead: promise 1's objective.
const KEPT: f64 = IDENTITY_OBJECTIVE;

/// The target of a maximum latency: under the promise's limit ("< 1 s").
fn under_the_limit() -> String {
    format!("< {} s", LATENCY_LIMIT.as_secs_f64())
}

/// One row per count of distinct users of the scaling scenario: the sampled returning users,
/// every powersource dead, keep their superpower on the replica they used and on the other
/// (at least [`KEPT`] of them on each, none with another superpower); one row "not measured"
/// when no count was.
fn returning_targets(
    res: &Results,
    push: &mut impl FnMut(&str, &str, Option<String>, Option<bool>),
) {
    let target = format!("≥ {:.1} % kept, 0 changed, on each", KEPT * 100.0);
    let points = res.scaling.as_ref().map_or(&[][..], |s| &s.users[..]);
    if points.is_empty() {
        push(
            "returning users, every powersource dead: kept on either replica",
            &target,
            None,
            None,
        );
    }
    for u in points {
        let figure: Vec<String> = u
            .returning
            .iter()
            .map(|r| {
                format!(
                    "{}: {}/{} ({:.2} %), {} changed",
                    r.replica,
                    r.kept,
                    u.sampled,
                    r.kept as f64 * 100.0 / u.sampled.max(1) as f64,
                    r.changed
                )
            })
            .collect();
        let pass = u.returning.len() == 2
            && u.returning
                .iter()
                .all(|r| r.changed == 0 && r.kept as f64 >= KEPT * u.sampled as f64);
        push(
            &format!(
                "returning users sampled from {} distinct, every powersource dead: kept on the \
                 replica they used and on the other",
                thousands(u.users as f64)
            ),
            &target,
            Some(figure.join("; ")),
            Some(pass),
        );
    }
}

/// The soak's verdict, one row per clause (RSS: one per process).
fn soak_targets(res: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    let s = res.soak.as_ref();
    let errors = s.map(|s| s.load.failures() + s.after.failures());
    push(
        &mut out,
        "soak: errors",
        "0",
        errors.map(|e| e.to_string()),
        errors.map(|e| e == 0),
    );
    push(
        &mut out,
        "soak: identity changes",
        "0",
        s.map(|s| s.changed_users.to_string()),
        s.map(|s| s.changed_users == 0),
    );
    push(
        &mut out,
        "soak: max latency",
        &under_the_limit(),
        s.map(|s| format!("{:.1} ms", s.load.latency.max_ms)),
        s.map(soak::fast_enough),
    );
    push(
        &mut out,
        "soak: processes that exited by themselves",
        "0",
        s.map(|s| s.unexpected_exits.len().to_string()),
        s.map(|s| s.unexpected_exits.is_empty()),
    );
    for r in s.map_or(&[][..], |s| &s.rss) {
        let rule = &s.expect("rows come from a soak").rss_rule;
        push(
            &mut out,
            &format!("soak: RSS of {} flat", r.process),
            &format!(
                "end ≤ start + max({:.0} %, {:.0} MiB); no steady growth",
                rule.tolerance_pct, rule.tolerance_mib
            ),
            Some(format!(
                "{:.1} → {:.1} MiB (peak {:.1})",
                r.start_mib, r.end_mib, r.peak_mib
            )),
            Some(r.flat),
        );
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
