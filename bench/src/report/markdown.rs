//! The markdown form of [`Results`]: one function per section, in the order they are printed
//! (run and machine, maximum throughput, CPU per request, constant rate, promise tracking,
//! failover, lose all,
//! soak, ingest, memory, micro-benchmarks, targets, errors).

use std::fmt::Write as _;

use super::{
    E2e, Failover, FrontEnd, Ingest, LoseAll, Memory, Micro, PeerRun, Peers, Results, Row, Scaling,
    Soak, System, Target, Tool, Tracking, MICRO_RECALL, MICRO_SIGN,
};
use crate::load::Report;

impl Results {
    /// The markdown form.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        run(&mut s, self);
        if let Some(e) = &self.e2e {
            max_throughput(&mut s, e);
            cpu_per_request(&mut s, e);
            constant_rate(&mut s, e);
        }
        if let Some(k) = &self.tracking {
            tracking(&mut s, k);
        }
        if let Some(p) = &self.peers {
            peers(&mut s, p);
        }
        if let Some(f) = &self.failover {
            failover(&mut s, f);
        }
        if let Some(l) = &self.lose_all {
            lose_all(&mut s, l);
        }
        if let Some(c) = &self.scaling {
            scaling(&mut s, c, &self.micro);
        }
        if let Some(k) = &self.soak {
            soak(&mut s, k);
        }
        if let Some(i) = &self.ingest {
            ingest(&mut s, i);
        }
        memory(&mut s, &self.memory);
        micro(&mut s, &self.micro);
        targets(&mut s, &self.targets);
        errors(&mut s, &self.failures);
        s
    }
}

// Writing to a `String` cannot fail: the `fmt::Result`s below are dropped.

/// The title, the machine line and the product's extra environment.
fn run(s: &mut String, r: &Results) {
    let m = &r.machine;
    let _ = writeln!(
        s,
        "## Benchmark results ({} run, {})\n\nMachine: {} CPUs ({}), {} MiB RAM, Linux {}, {}; \
         load average {} at the start. Everything (servers and load generator) shares these \
         CPUs. Run took {:.0} s.\n",
        r.mode,
        r.started,
        m.cpus,
        m.cpu_model,
        m.memory_mib,
        m.kernel,
        m.rustc,
        m.load_average,
        r.duration_s
    );
    if !r.product_env.is_empty() {
        let _ = writeln!(
            s,
            "**powersource and superpower ran with `{}`** (not as shipped).\n",
            r.product_env.join(" ")
        );
    }
}

/// The maximum-throughput table and the ratios to the references.
fn max_throughput(s: &mut String, e: &E2e) {
    let _ = writeln!(
        s,
        "### Maximum throughput (closed loop, {} connections; `GET /` as JSON, {} rotating users; generator: best of {} interleaved rounds)\n",
        e.connections, e.users, e.rounds
    );
    let _ = writeln!(
        s,
        "| system | tool | req/s | p50 ms | p99 ms | max ms | errors | server CPU µs/req |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &e.max {
        let l = &r.report.latency;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.system,
            r.tool,
            thousands(r.report.rps),
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.max_ms),
            failures_cell(&r.report),
            cpu_cell(r)
        );
    }
    let _ = writeln!(
        s,
        "\nsuperpower = **{:.3}×** the two-tier reference and **{:.3}×** the one-tier one; \
         powersource = **{:.3}×** the one-tier reference (maximum throughput, generator).\n",
        e.superpower_vs_two_tier, e.superpower_vs_one_tier, e.powersource_vs_one_tier
    );
}

/// The runs of one side, thousands grouped.
fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| thousands(*x))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table of an A/B: each side's best run, every run, and its CPU per request.
fn ab_table(s: &mut String, what: &str, sides: [(&str, f64, &Vec<f64>, f64); 2]) {
    let _ = writeln!(
        s,
        "| {what} | best req/s | each run, req/s | superpower CPU µs/req (median) |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|");
    for (side, best, runs, cpu) in sides {
        let _ = writeln!(
            s,
            "| {side} | {} | {} | {cpu:.1} |",
            thousands(best),
            list(runs)
        );
    }
}

/// The promise-tracking comparison: on vs off, same run.
fn tracking(s: &mut String, k: &Tracking) {
    let _ = writeln!(
        s,
        "### Promise tracking: on vs off (superpower as shipped, and with `--no-promise-tracking`; \
         same powersources and users, {} interleaved rounds, maximum throughput)\n",
        k.rounds
    );
    ab_table(
        s,
        "promise tracking",
        [
            ("on", k.on_best_rps, &k.on_rps, k.on_median_cpu_us),
            ("off", k.off_best_rps, &k.off_rps, k.off_median_cpu_us),
        ],
    );
    let _ = writeln!(
        s,
        "\non = **{:.3}×** off (best runs); {} identity checks made by the \"on\" side, {} changes.\n",
        k.on_vs_off,
        thousands(k.identity_checks as f64),
        k.identity_changes
    );
}

/// The CPU time per request of superpower and the references at the high rate.
fn cpu_per_request(s: &mut String, e: &E2e) {
    let cpu = |system| {
        e.row(system, Tool::Generator, Some(e.high_rate))
            .map(|r| {
                let parts: Vec<String> = r
                    .cpu_us_per_request
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.1}"))
                    .collect();
                format!(
                    "**{:.1} µs** ({})",
                    r.server_cpu_us_per_request,
                    parts.join(", ")
                )
            })
            .unwrap_or_else(|| "not measured".into())
    };
    let _ = writeln!(
        s,
        "CPU per request at {} req/s (what the throughput ratio comes from): superpower \
         and its powersources {}; the two-tier reference {}; the one-tier reference {}.\n",
        thousands(e.high_rate),
        cpu(System::Superpower),
        cpu(System::TwoTier),
        cpu(System::OneTier)
    );
}

/// The constant-rate table.
fn constant_rate(s: &mut String, e: &E2e) {
    let _ = writeln!(
        s,
        "### Constant rate (open loop; latency counted from when each request was due)\n"
    );
    let _ = writeln!(
        s,
        "| system | tool | asked req/s | got req/s | p50 ms | p99 ms | max ms | errors | server CPU µs/req |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &e.rates {
        let l = &r.report.latency;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.system,
            r.tool,
            thousands(r.report.rate.unwrap_or(0.0)),
            thousands(r.report.rps),
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.max_ms),
            failures_cell(&r.report),
            cpu_cell(r)
        );
    }
    s.push('\n');
}

/// The side-by-side table of superpower, nginx and HAProxy: one row per figure, one column per
/// front end.
fn peers(s: &mut String, p: &Peers) {
    let fes = FrontEnd::ALL;
    let version = |fe: FrontEnd| p.versions.get(&fe).map_or("", String::as_str).to_owned();
    let _ = writeln!(
        s,
        "### superpower, nginx and HAProxy in front of the same 3 powersources\n\n\
         nginx: `{}`, `hash $cookie_superpower_id consistent`, proxying \
         `/assignments/{{cookie}}`; HAProxy: `{}`, `balance hash req.cook(superpower_id)` + \
         `hash-type consistent`. Both with keep-alive to the powersources, 2 workers / 2 \
         threads, superpower's timeouts (connect 100 ms, attempt 300 ms, next instance on \
         error, timeout or 5xx) and an access log line per request, as superpower has.\n",
        version(FrontEnd::Nginx),
        version(FrontEnd::Haproxy)
    );
    let _ = writeln!(s, "| figure | superpower | nginx | HAProxy |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let mut row = |what: String, cell: &dyn Fn(FrontEnd) -> String| {
        let cells: Vec<String> = fes.iter().map(|&fe| cell(fe)).collect();
        let _ = writeln!(s, "| {what} | {} |", cells.join(" | "));
    };
    let nginx_max = find(&p.max, FrontEnd::Nginx, None).map_or(0.0, |r| r.rps);
    row(
        format!(
            "users answered another character than superpower's ({} users, once)",
            thousands(p.users as f64)
        ),
        &|fe| match fe {
            FrontEnd::Superpower => "—".into(),
            _ => find(&p.same_character, fe, None)
                .map_or("not measured".into(), |r| r.changed_users.len().to_string()),
        },
    );
    let paired = super::paired_medians(&p.max_rounds);
    row(
        format!(
            "max throughput, oha -c 32, one cookie (req/s; the median of {} rounds; superpower: the median of its ratios to nginx in the same round)",
            p.max_rounds.len()
        ),
        &|fe| {
            find(&p.max, fe, None).map_or("not measured".into(), |r| match (fe, paired) {
                (FrontEnd::Superpower, Some((ratio, _, _))) => {
                    format!("{} ({ratio:.2}× nginx)", thousands(r.rps))
                }
                (FrontEnd::Haproxy, _) if nginx_max > 0.0 => {
                    format!("{} ({:.2}× nginx)", thousands(r.rps), r.rps / nginx_max)
                }
                _ => thousands(r.rps),
            })
        },
    );
    row("p99 at saturation (ms)".into(), &|fe| {
        find(&p.max, fe, None).map_or("not measured".into(), |r| ms(r.latency.p99_ms))
    });
    row(
        "server CPU per request at saturation (µs, front end + powersources)".into(),
        &|fe| {
            p.max
                .iter()
                .find(|r| r.front_end == fe)
                .map_or("not measured".into(), |r| {
                    format!("{:.1}", r.server_cpu_us_per_request)
                })
        },
    );
    let mut rates: Vec<f64> = p.rates.iter().filter_map(|r| r.report.rate).collect();
    rates.dedup();
    for rate in rates {
        row(
            format!(
                "p99 / max at {} req/s, rotating users (ms; errors)",
                thousands(rate)
            ),
            &|fe| {
                find(&p.rates, fe, Some(rate)).map_or("not measured".into(), |r| {
                    format!(
                        "{} / {}; {}",
                        ms(r.latency.p99_ms),
                        ms(r.latency.max_ms),
                        failures_cell(r)
                    )
                })
            },
        );
    }
    row(
        format!(
            "one powersource slowed by {} ms: p99 / max (ms; errors)",
            thousands(p.slow_ms as f64)
        ),
        &|fe| {
            find(&p.slow, fe, None).map_or("not measured".into(), |r| {
                format!(
                    "{} / {}; {}",
                    ms(r.latency.p99_ms),
                    ms(r.latency.max_ms),
                    failures_cell(r)
                )
            })
        },
    );
    let window = |fe: FrontEnd| p.failover.iter().find(|f| f.front_end == fe);
    row(
        format!(
            "failover at {} req/s (one of 3 SIGKILLed, restarted): errors",
            thousands(p.failover_rate)
        ),
        &|fe| window(fe).map_or("not measured".into(), |f| failures_cell(&f.window)),
    );
    row("failover: p99 / max (ms)".into(), &|fe| {
        window(fe).map_or("not measured".into(), |f| {
            format!(
                "{} / {}",
                ms(f.window.latency.p99_ms),
                ms(f.window.latency.max_ms)
            )
        })
    });
    row("failover: users whose character changed".into(), &|fe| {
        window(fe).map_or("not measured".into(), |f| f.changed_users.to_string())
    });
    row(
        "lose all (every powersource SIGKILLed): answers to known users".into(),
        &|fe| {
            find(&p.lose_all, fe, None).map_or("not measured".into(), |r| {
                let mut parts = Vec::new();
                if r.expected > 0 {
                    parts.push(format!("{}×200 ({} degraded)", r.expected, r.degraded));
                }
                parts.extend(
                    r.unexpected_status
                        .iter()
                        .map(|(st, n)| format!("{n}×{st}")),
                );
                parts.extend(r.errors.iter().map(|(e, n)| format!("{n}× {e}")));
                parts.join(", ")
            })
        },
    );
    s.push('\n');
}

/// The report of `fe`'s run among `runs` (at `rate` when given).
fn find(runs: &[PeerRun], fe: FrontEnd, rate: Option<f64>) -> Option<&Report> {
    runs.iter()
        .find(|r| r.front_end == fe && (rate.is_none() || r.report.rate == rate))
        .map(|r| &r.report)
}

/// The failover table.
fn failover(s: &mut String, f: &Failover) {
    let w = &f.window;
    let _ = writeln!(
        s,
        "### Failover ({} req/s for {:.0} s; one of 3 powersources SIGKILLed at {:.1} s, restarted at {:.1} s)\n",
        thousands(f.rate), w.elapsed_s, f.kill_at_s, f.restart_at_s
    );
    let _ = writeln!(s, "| requests | errors | degraded | p50 ms | p99 ms | max ms | identity changes | back on ring after restart | probe identity |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} |\n",
        thousands(w.requests as f64),
        failures_cell(w),
        w.degraded,
        ms(w.latency.p50_ms),
        ms(w.latency.p99_ms),
        ms(w.latency.max_ms),
        f.changed_users,
        f.back_on_ring_s,
        if f.probe_ok { "OK" } else { "FAILED" }
    );
}

/// The lose-all table (known and unknown users) and the fallback's identity changes.
fn lose_all(s: &mut String, l: &LoseAll) {
    let _ = writeln!(s, "### Lose all (every powersource SIGKILLed)\n");
    let _ = writeln!(
        s,
        "| users | req/s | expected answer | got it | p50 ms | p99 ms | max ms | other |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|");
    for (who, want, r) in [
        (
            "known (identity + signed cookie)",
            "200, degraded",
            &l.known,
        ),
        ("unknown", "503", &l.unknown),
    ] {
        let _ = writeln!(
            s,
            "| {who} | {} | {want} | {} | {} | {} | {} | {} |",
            thousands(r.rate.unwrap_or(0.0)),
            thousands(r.expected as f64),
            ms(r.latency.p50_ms),
            ms(r.latency.p99_ms),
            ms(r.latency.max_ms),
            failures_cell(r)
        );
    }
    let _ = writeln!(
        s,
        "\nKnown users answered degraded: {} of {}; answered another superpower: {}.\n",
        l.known.degraded, l.known.requests, l.changed_users
    );
}

/// The scaling tables: superpower with more powersources, with more distinct users (and the
/// cookie's size and signing cost, from `micro` when criterion ran), with a second replica, and
/// DNS membership.
fn scaling(s: &mut String, c: &Scaling, micro: &[Micro]) {
    let _ = writeln!(
        s,
        "### How cost grows (plot: `scaling.svg`, which the bench writes beside `results.md`: `var/bench/` by default)\n\n\
         superpower with more powersources (a fresh fleet each; generator, rotating users):\n"
    );
    let _ = writeln!(
        s,
        "| powersources | max req/s | p99 at saturation ms | p99 at 1,000 req/s ms | errors | superpower RSS MiB |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
    for p in &c.instances {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} |",
            p.powersources,
            thousands(p.max.rps),
            ms(p.max.latency.p99_ms),
            ms(p.at_rate.latency.p99_ms),
            p.max.failures() + p.at_rate.failures(),
            p.superpower_rss_mib
        );
    }
    users(s, c, micro);
    replicas(s, c);
    match (&c.dns, &c.dns_not_measured) {
        (Some(d), _) => {
            let _ = writeln!(
                s,
                "\nDNS membership: {} addresses behind one name (`--powersource-dns`, re-resolved \
                 every {} ms): all on the ring {:.2} s after superpower started; then {} req/s, \
                 p99 {} ms, {} errors.",
                d.addresses,
                d.dns_interval_ms,
                d.all_on_ring_s,
                thousands(d.max.rps),
                ms(d.max.latency.p99_ms),
                failures_cell(&d.max)
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "\nDNS membership: not measured ({why}).");
        }
        (None, None) => {}
    }
    s.push('\n');
}

/// The distinct-users table, the cookie's size and the signing cost.
fn users(s: &mut String, c: &Scaling, micro: &[Micro]) {
    if c.users.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nsuperpower with more distinct users: a fresh front end of two replicas each \
         (superpower-a and superpower-b: peers, one `--cookie-key`), 3 powersources; N new users \
         once each through superpower-a (a first visit: each answer signs and sets the user's \
         `superpower_last` cookie), then N others (what the first N left as warm-up is not left \
         again: the second pass's growth is what is kept per user); then a sample spread over \
         the first N asked again, their cookies kept; every powersource killed, and the sample \
         asked on each replica (kept: the same superpower, degraded):\n"
    );
    let _ = writeln!(
        s,
        "| users (N) | req/s | p99 ms | errors | superpower-a RSS MiB: before → N → 2N | bytes \
         per user: first N / next N | superpower-b RSS MiB | returning users sampled | kept on \
         superpower-a | kept on superpower-b | changed |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for u in &c.users {
        let rss = |i: usize| {
            u.rss.get(i).map_or("not measured".into(), |r| {
                format!(
                    "{:.1} → {:.1} → {:.1}",
                    r.before_mib, r.after_mib, r.after_second_mib
                )
            })
        };
        let kept = |i: usize| {
            u.returning.get(i).map_or("not measured".into(), |r| {
                let mut cell = format!(
                    "{} ({:.2} %)",
                    thousands(r.kept as f64),
                    r.kept as f64 * 100.0 / u.sampled.max(1) as f64
                );
                if r.failed > 0 {
                    let _ = write!(cell, "; failed {}", failures_cell(&r.report));
                }
                cell
            })
        };
        let changed: Vec<String> = u.returning.iter().map(|r| r.changed.to_string()).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} / {:.1} | {} | {} | {} | {} | {} |",
            thousands(u.users as f64),
            thousands(u.rps),
            ms(u.p99_ms),
            u.errors,
            rss(0),
            u.first_bytes_per_user,
            u.bytes_per_user,
            rss(1),
            thousands(u.sampled as f64),
            kept(0),
            kept(1),
            changed.join(" / ")
        );
    }
    let value = c
        .users
        .iter()
        .map(|u| u.cookie.value_bytes)
        .max()
        .unwrap_or(0);
    let header = c
        .users
        .iter()
        .map(|u| u.cookie.set_cookie_bytes)
        .max()
        .unwrap_or(0);
    let request = c
        .users
        .iter()
        .map(|u| u.cookie.request_bytes)
        .max()
        .unwrap_or(0);
    let mean = |id: &str| micro.iter().find(|m| m.id == id).map(|m| m.mean_ns);
    let cost = match (mean(MICRO_SIGN), mean(MICRO_RECALL)) {
        (Some(sign), Some(recall)) => format!(
            "Signing it (criterion `{MICRO_SIGN}`, the `Set-Cookie` value): {} ns per answer \
             that sets it; reading and verifying it on a returning user's request, with the \
             identity check (`{MICRO_RECALL}`): {} ns.",
            thousands(sign),
            thousands(recall)
        ),
        _ => format!(
            "Signing it: not measured in this run (criterion's `{MICRO_SIGN}`; `bench/run.sh` \
             without `--no-micro` runs it)."
        ),
    };
    let _ = writeln!(
        s,
        "\nThe `superpower_last` cookie (the largest of the samples): a value of {value} bytes \
         (`ID.TAG`); the `Set-Cookie` header line carrying it, {header} bytes, on an answer \
         whose character changed (a new user's first); {request} bytes more on every later \
         request's `Cookie`. {cost}"
    );
}

/// The table of returning users' throughput on one replica and on two.
fn replicas(s: &mut String, c: &Scaling) {
    let Some(first) = c.replicas.first() else {
        return;
    };
    let users = c.users.first().map_or(0, |u| u.sampled);
    let _ = writeln!(
        s,
        "\nReturning users ({} of them, each with both cookies; closed loop, {} connections, best \
         of {} interleaved rounds) on superpower-a alone, then with the connections spread over \
         superpower-a and superpower-b, as a balancer spreads them:\n",
        thousands(users as f64),
        first.connections,
        first.rounds_rps.len()
    );
    let _ = writeln!(
        s,
        "| replicas | max req/s | p50 ms | p99 ms | errors | server CPU µs/req | each round req/s |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---|");
    for r in &c.replicas {
        let l = &r.max.latency;
        let rounds: Vec<String> = r.rounds_rps.iter().map(|x| thousands(*x)).collect();
        let ratio = if r.replicas > 1 && first.max.rps > 0.0 {
            format!(" ({:.2}× one)", r.max.rps / first.max.rps)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {} | {}{ratio} | {} | {} | {} | {:.1} | {} |",
            r.replicas,
            thousands(r.max.rps),
            ms(l.p50_ms),
            ms(l.p99_ms),
            failures_cell(&r.max),
            r.server_cpu_us_per_request,
            rounds.join(", ")
        );
    }
}

/// Incidents the soak's markdown lists (the JSON has them all).
const INCIDENTS_SHOWN: usize = 10;

/// The soak's table, its RSS table with the rule it is judged by, and its first incidents.
fn soak(s: &mut String, k: &Soak) {
    let faults: Vec<String> = k.faults.iter().map(|(f, n)| format!("{n} {f}")).collect();
    let _ = writeln!(
        s,
        "### Soak ({} req/s for {:.0} s, {} returning users; faults from seed {}: {}; at most {} of 3 powersources impaired at once)\n",
        thousands(k.rate),
        k.seconds,
        thousands(k.users as f64),
        k.seed,
        faults.join(", "),
        k.max_impaired
    );
    let l = &k.load;
    let a = &k.after;
    let _ = writeln!(s, "| requests | errors | degraded | p50 ms | p99 ms | max ms | identity changes | after: every user once | SIGTERM needed SIGKILL | exited by themselves |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} | {} users, {} errors | {} | {} |\n",
        thousands(l.requests as f64),
        failures_cell(l),
        l.degraded,
        ms(l.latency.p50_ms),
        ms(l.latency.p99_ms),
        ms(l.latency.max_ms),
        k.changed_users,
        thousands(a.requests as f64),
        failures_cell(a),
        k.slow_stops,
        k.unexpected_exits.len()
    );
    if !l.degraded_by_second.is_empty() {
        let _ = writeln!(
            s,
            "Degraded answers (the fallback's) were due in these seconds of the run: {}.\n",
            ranges(l.degraded_by_second.keys().copied())
        );
    }
    let r = &k.rss_rule;
    let _ = writeln!(
        s,
        "RSS (`VmRSS` every {:.0} s; start and end: medians of {} samples right after the {:.0} s \
         warm-up and at the end; peak: the largest `VmHWM` of its lives; flat: end ≤ start + \
         max({:.0} % of start, {:.0} MiB), and the medians of {} equal windows after the warm-up \
         not rising by more than {} % of start every time):\n",
        r.sample_every_s,
        r.edge_samples,
        r.warm_up_s,
        r.tolerance_pct,
        r.tolerance_mib,
        r.windows,
        r.step_pct
    );
    let _ = writeln!(
        s,
        "| process | lives | start MiB | peak MiB | end MiB | window medians MiB | flat |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|---|");
    for m in &k.rss {
        let windows: Vec<String> = m.window_mib.iter().map(|w| format!("{w:.1}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {} |",
            m.process,
            m.lives,
            m.start_mib,
            m.peak_mib,
            m.end_mib,
            windows.join(", "),
            match &m.why {
                None => "yes".to_owned(),
                Some(why) => format!("**no**: {why}"),
            }
        );
    }
    s.push('\n');
    for e in &k.unexpected_exits {
        let _ = writeln!(s, "- **{e}**");
    }
    if !k.unexpected_exits.is_empty() {
        s.push('\n');
    }
    if !l.incidents.is_empty() {
        let _ = writeln!(
            s,
            "Incidents (failed, slower than {:.0} ms, or another name; the first {} of {} kept, seconds into the run):\n",
            k.slow_ms,
            l.incidents.len().min(INCIDENTS_SHOWN),
            l.incidents.len()
        );
        for i in l.incidents.iter().take(INCIDENTS_SHOWN) {
            let latency = i
                .latency_ms
                .map(|m| format!(" after {} ms", ms(m)))
                .unwrap_or_default();
            let _ = writeln!(s, "- {:.3} s, user {}: {}{latency}", i.at_s, i.user, i.what);
        }
        s.push('\n');
    }
}

/// Seconds as ranges: `1, 2, 3, 7` → `1–3, 7`.
fn ranges(seconds: impl IntoIterator<Item = u32>) -> String {
    let mut spans: Vec<(u32, u32)> = Vec::new();
    for s in seconds {
        match spans.last_mut() {
            Some((_, hi)) if *hi + 1 == s => *hi = s,
            _ => spans.push((s, s)),
        }
    }
    spans
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}–{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ingest table.
fn ingest(s: &mut String, i: &Ingest) {
    let _ = writeln!(
        s,
        "### Ingest (`loader ingest`, {} characters, {:.1} MB of images)\n\n\
         | runs (s) | median s | characters/s | MB/s |\n|---|---:|---:|---:|\n| {} | {:.2} | {} | {:.0} |\n",
        thousands(i.characters as f64),
        i.image_bytes as f64 / 1e6,
        i.runs_s.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
        i.median_s,
        thousands(i.characters_per_s),
        i.mb_per_s
    );
}

/// The peak-memory table (nothing when no process was measured).
fn memory(s: &mut String, memory: &[Memory]) {
    if memory.is_empty() {
        return;
    }
    let _ = writeln!(s, "### Peak memory (VmHWM, after all the load)\n");
    let _ = writeln!(s, "| process | peak RSS MiB |\n|---|---:|");
    for m in memory {
        let _ = writeln!(s, "| {} | {:.1} |", m.process, m.peak_rss_mib);
    }
    s.push('\n');
}

/// The micro-benchmark table (nothing when none was read).
fn micro(s: &mut String, micro: &[Micro]) {
    if micro.is_empty() {
        return;
    }
    let _ = writeln!(s, "### Micro-benchmarks (criterion, mean per call)\n");
    let _ = writeln!(s, "| benchmark | ns |\n|---|---:|");
    for m in micro {
        let _ = writeln!(s, "| {} | {:.0} |", m.id, m.mean_ns);
    }
    s.push('\n');
}

/// The targets table, always printed.
fn targets(s: &mut String, targets: &[Target]) {
    let _ = writeln!(
        s,
        "### Targets\n\n| what | target | figure | verdict |\n|---|---|---|---|"
    );
    for t in targets {
        let verdict = match t.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "—",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {verdict} |",
            t.what, t.target, t.figure
        );
    }
}

/// What went wrong, one line each (nothing when all went well).
fn errors(s: &mut String, failures: &[String]) {
    if failures.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n### Errors\n");
    for f in failures {
        let _ = writeln!(s, "- {}", f.replace('\n', " "));
    }
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `12345.6` → `12,346`.
pub fn thousands(v: f64) -> String {
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

fn failures_cell(r: &Report) -> String {
    let f = r.failures();
    if f == 0 {
        "0".into()
    } else {
        let mut parts: Vec<String> = r
            .unexpected_status
            .iter()
            .map(|(s, n)| format!("{n}×{s}"))
            .collect();
        parts.extend(r.errors.iter().map(|(e, n)| format!("{n}× {e}")));
        format!("{f} ({})", parts.join(", "))
    }
}

/// CPU per request, shown only when the run was long enough for the clock ticks (10 ms) and
/// the background work (health checks) to be small next to it.
fn cpu_cell(r: &Row) -> String {
    if r.report.requests >= 10_000 {
        format!("{:.1}", r.server_cpu_us_per_request)
    } else {
        "—".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_of_a_full_run_is_unchanged() {
        let md = crate::report::sample::results().markdown();
        crate::report::golden("results.md", &md, include_str!("../../testdata/results.md"));
    }

    #[test]
    fn without_criterion_the_signing_cost_says_where_it_comes_from() {
        let mut r = crate::report::sample::results();
        r.micro.clear();
        let md = r.markdown();
        assert!(md.contains("Signing it: not measured in this run (criterion's `promises/sign`"));
        r.scaling.as_mut().unwrap().users.clear();
        r.scaling.as_mut().unwrap().replicas.clear();
        let md = r.markdown();
        assert!(!md.contains("superpower_last") && !md.contains("replicas |"));
    }

    #[test]
    fn seconds_are_shown_as_ranges() {
        assert_eq!(ranges([1, 2, 3, 7, 9, 10]), "1–3, 7, 9–10");
        assert_eq!(ranges([]), "");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-4500.0), "-4,500");
    }

    #[test]
    fn a_miss_and_an_error_show_in_the_markdown() {
        let r = Results {
            mode: crate::report::Mode::Smoke,
            targets: vec![Target {
                what: "x".into(),
                target: "< 1".into(),
                figure: "2".into(),
                pass: Some(false),
            }],
            failures: vec!["scenario y failed".into()],
            ..Results::default()
        };
        let md = r.markdown();
        assert!(md.contains("| x | < 1 | 2 | MISS |"));
        assert!(md.contains("- scenario y failed"));
    }
}
