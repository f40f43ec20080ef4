//! A representative [`Results`]: every section filled in and every branch of the markdown's
//! cells taken, for the tests that pin the JSON and markdown forms byte for byte
//! (`bench/testdata/results.{json,md}`).

use super::{
    CookieSize, DnsPoint, E2e, Failover, Fault, FaultKind, FrontEnd, Ingest, InstancesPoint,
    LoseAll, Machine, Memory, Micro, Mode, PairedRound, PeerFailover, PeerRun, Peers, Process,
    ReplicaRss, ReplicasRun, Report, Results, ReturningRun, Row, Rss, RssRule, Scaling, Soak,
    System, Target, Tool, Tracking, UsersPoint,
};

/// A run with every section filled in and every branch of the cells taken.
pub(super) fn results() -> Results {
    use crate::load::Latency;
    use std::collections::{BTreeMap, BTreeSet};

    let report = |requests: u64, rate: Option<f64>, rps: f64, p50: f64| Report {
        requests,
        expected: requests,
        rate,
        rps,
        elapsed_s: 4.0,
        latency: Latency {
            p50_ms: p50,
            p90_ms: p50 * 2.0,
            p99_ms: p50 * 4.0,
            max_ms: p50 * 40.0,
            mean_ms: p50 * 1.2,
        },
        ..Report::default()
    };
    let row = |system: System, tool: Tool, report: Report, cpu: &[(&str, f64)]| {
        let cpu: BTreeMap<String, f64> = cpu.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        Row {
            system,
            tool,
            server_cpu_us_per_request: cpu.values().sum(),
            cpu_us_per_request: cpu,
            report,
        }
    };
    use System::{OneTier as ONE, Powersource as PS, Superpower as SP, TwoTier as TWO};
    use Tool::{Generator, Oha};
    let mut failing = report(40_000, None, 10_012.4, 2.345);
    failing.expected = 39_990;
    failing.unexpected_status = BTreeMap::from([(502, 7), (503, 1)]);
    failing.errors = BTreeMap::from([("timeout".to_owned(), 2)]);
    let sp_max = row(
        SP,
        Generator,
        failing,
        &[
            ("powersource-1", 20.25),
            ("powersource-2", 20.0),
            ("superpower", 60.5),
        ],
    );
    let e2e = E2e {
        users: 1000,
        connections: 32,
        rounds: 2,
        max: vec![
            row(
                ONE,
                Generator,
                report(90_000, None, 22_500.0, 0.9),
                &[("one-tier-reference", 30.0)],
            ),
            row(TWO, Generator, report(60_000, None, 15_000.0, 1.5), &[]),
            sp_max,
            row(
                PS,
                Generator,
                report(9_999, None, 2_499.75, 12.5),
                &[("powersource-1", 40.0)],
            ),
            row(ONE, Oha, report(100_000, None, 25_000.0, 0.8), &[]),
        ],
        rates: vec![
            row(ONE, Generator, report(125, Some(25.0), 25.0, 0.25), &[]),
            row(
                SP,
                Generator,
                report(25_000, Some(5000.0), 4_999.6, 0.456),
                &[("powersource-1", 11.0), ("superpower", 33.3)],
            ),
            row(
                TWO,
                Generator,
                report(25_000, Some(5000.0), 5_000.0, 0.321),
                &[("one-tier-reference", 9.95), ("two-tier-reference", 20.0)],
            ),
            row(PS, Oha, report(5_000, Some(1000.0), 1_000.0, 123.4), &[]),
        ],
        high_rate: 5000.0,
        superpower_vs_two_tier: 0.66749,
        superpower_vs_one_tier: 0.4449,
        powersource_vs_one_tier: 0.111,
    };
    let mut window = report(5_000, Some(500.0), 500.0, 0.7);
    window.elapsed_s = 10.0;
    window.degraded = 42;
    window.errors = BTreeMap::from([("connect".to_owned(), 3)]);
    let mut after = report(1000, None, 900.0, 0.5);
    after.changed_users = BTreeSet::from([4]);
    let mut known = report(1_500, Some(500.0), 500.0, 0.4);
    known.degraded = 1_500;
    known.changed_users = BTreeSet::from([1, 2]);
    known.checked = 1_500;
    let mut unknown = report(600, Some(200.0), 200.0, 0.3);
    unknown.expected = 590;
    unknown.unexpected_status = BTreeMap::from([(200, 10)]);
    let mut soaked = report(300_000, Some(500.0), 500.0, 0.3);
    soaked.elapsed_s = 600.0;
    soaked.expected = 299_999;
    soaked.degraded = 7;
    soaked.checked = 299_999;
    soaked.errors = BTreeMap::from([("timeout".to_owned(), 1)]);
    soaked.changed_users = BTreeSet::from([9]);
    soaked.degraded_by_second = BTreeMap::from([(7, 400), (8, 3), (9, 2), (120, 2)]);
    soaked.incidents = vec![
        crate::load::Incident {
            at_s: 12.3456,
            user: 9,
            latency_ms: Some(3.5),
            what: "name \"Ada\", expected \"Bo\"".into(),
        },
        crate::load::Incident {
            at_s: 99.0,
            user: 10,
            latency_ms: None,
            what: "timeout".into(),
        },
    ];
    let soak = Soak {
        seconds: 600.0,
        rate: 500.0,
        users: 1000,
        seed: 17,
        slow_ms: 500.0,
        max_impaired: 2,
        faults: BTreeMap::from([
            (FaultKind::Kill, 41),
            (FaultKind::Freeze, 40),
            (FaultKind::Restart, 39),
        ]),
        slow_stops: 1,
        load: soaked,
        after: report(1000, None, 900.0, 0.5),
        changed_users: 1,
        unexpected_exits: vec!["powersource-3 exited by itself (signal: 11) at 77.0 s".into()],
        rss_rule: RssRule {
            sample_every_s: 1.0,
            warm_up_s: 60.0,
            edge_samples: 5,
            tolerance_pct: 10.0,
            tolerance_mib: 2.0,
            windows: 5,
            step_pct: 0.5,
        },
        rss: vec![
            Rss {
                process: Process::Superpower,
                lives: 1,
                samples: 600,
                start_mib: 18.25,
                peak_mib: 21.6,
                end_mib: 18.4,
                window_mib: vec![18.2, 18.3, 18.2, 18.4, 18.4],
                flat: true,
                why: None,
            },
            Rss {
                process: Process::Powersource(1),
                lives: 14,
                samples: 560,
                start_mib: 12.0,
                peak_mib: 16.5,
                end_mib: 15.0,
                window_mib: vec![12.0, 12.5, 13.0, 14.0, 15.0],
                flat: false,
                why: Some("end 15.0 MiB is more than 2.0 MiB above start 12.0 MiB".into()),
            },
        ],
        fault_log: vec![
            Fault {
                at_s: 3.0012,
                process: Process::Powersource(2),
                kind: FaultKind::Freeze,
                recovered_at_s: 5.5,
            },
            Fault {
                at_s: 4.25,
                process: Process::Powersource(1),
                kind: FaultKind::Restart,
                recovered_at_s: 4.4,
            },
        ],
    };
    let run = |front_end, report| PeerRun {
        front_end,
        report,
        server_cpu_us_per_request: 40.5,
    };
    let mut bad = report(1000, Some(1000.0), 990.0, 0.5);
    bad.expected = 0;
    bad.unexpected_status.insert(502, 1000);
    let mut changed = report(1000, None, 900.0, 0.5);
    changed.changed_users.insert(3);
    let peers = Peers {
        versions: [
            (FrontEnd::Nginx, "nginx/1.22.1".to_owned()),
            (FrontEnd::Haproxy, "HAProxy version 2.6.12".to_owned()),
        ]
        .into(),
        users: 1000,
        same_character: vec![
            run(FrontEnd::Nginx, report(1000, None, 900.0, 0.5)),
            run(FrontEnd::Haproxy, changed),
        ],
        max: FrontEnd::ALL
            .iter()
            .zip([36_000.0, 50_000.0, 52_000.0])
            .map(|(&fe, rps)| run(fe, report(200_000, None, rps, 0.6)))
            .collect(),
        max_rounds: [(0.70, 0.6, 0.5), (0.72, 0.6, 0.6), (0.75, 0.7, 0.6)]
            .into_iter()
            .map(|(rps_ratio, sp, ng)| PairedRound {
                rps_ratio,
                superpower_p99_ms: sp,
                nginx_p99_ms: ng,
            })
            .collect(),
        rates: [1000.0, 10_000.0]
            .iter()
            .flat_map(|&rate| {
                FrontEnd::ALL
                    .iter()
                    .map(move |&fe| (fe, rate))
                    .collect::<Vec<_>>()
            })
            .map(|(fe, rate)| run(fe, report(5000, Some(rate), rate, 0.4)))
            .collect(),
        slow_ms: 2000,
        slow: FrontEnd::ALL
            .iter()
            .map(|&fe| run(fe, report(5000, Some(1000.0), 1000.0, 0.7)))
            .collect(),
        failover_rate: 10_000.0,
        failover: FrontEnd::ALL
            .iter()
            .map(|&fe| PeerFailover {
                front_end: fe,
                kill_at_s: 3.0,
                restart_at_s: 6.0,
                window: report(100_000, Some(10_000.0), 10_000.0, 0.5),
                changed_users: 0,
            })
            .collect(),
        lose_all: vec![
            run(FrontEnd::Superpower, {
                let mut r = report(3000, Some(1000.0), 1000.0, 0.2);
                r.degraded = 3000;
                r
            }),
            run(FrontEnd::Nginx, bad),
        ],
    };
    let returning = |name, kept: u64, changed: u64, r: Report| ReturningRun {
        replica: Process::Replica(name),
        kept,
        changed,
        failed: r.failures(),
        report: r,
    };
    let mut refused = report(2000, None, 3_000.0, 0.3);
    refused.expected = 1_998;
    refused.unexpected_status = BTreeMap::from([(503, 2)]);
    let replicas_run = |replicas, rps: f64, rounds: Vec<f64>| ReplicasRun {
        replicas,
        connections: 32,
        max: report(120_000, None, rps, 1.1),
        rounds_rps: rounds,
        server_cpu_us_per_request: 61.25,
    };
    let scaling = Scaling {
        instances: [3, 10, 30]
            .iter()
            .map(|&n| InstancesPoint {
                powersources: n,
                max: report(100_000, None, 30_000.0 - n as f64 * 100.0, 0.8),
                at_rate: report(5000, Some(1000.0), 1000.0, 0.5),
                superpower_rss_mib: 20.5,
            })
            .collect(),
        users: vec![
            UsersPoint {
                users: 1000,
                rps: 16_000.0,
                p99_ms: 5.5,
                errors: 0,
                rss: vec![
                    ReplicaRss {
                        replica: Process::Replica('A'),
                        before_mib: 20.0,
                        after_mib: 21.3,
                        after_second_mib: 21.3,
                    },
                    ReplicaRss {
                        replica: Process::Replica('B'),
                        before_mib: 19.0,
                        after_mib: 19.0,
                        after_second_mib: 19.1,
                    },
                ],
                first_bytes_per_user: 1363.1,
                bytes_per_user: 0.0,
                sampled: 1000,
                cookie: CookieSize {
                    value_bytes: 30,
                    set_cookie_bytes: 103,
                    request_bytes: 47,
                },
                returning: vec![
                    returning('A', 1000, 0, report(1000, None, 3_000.0, 0.3)),
                    returning('B', 1000, 0, report(1000, None, 3_000.0, 0.3)),
                ],
            },
            UsersPoint {
                users: 1_000_000,
                rps: 25_000.0,
                p99_ms: 3.25,
                errors: 0,
                rss: vec![
                    ReplicaRss {
                        replica: Process::Replica('A'),
                        before_mib: 20.0,
                        after_mib: 28.25,
                        after_second_mib: 28.5,
                    },
                    ReplicaRss {
                        replica: Process::Replica('B'),
                        before_mib: 19.5,
                        after_mib: 19.4,
                        after_second_mib: 19.4,
                    },
                ],
                first_bytes_per_user: 8.65,
                bytes_per_user: 0.26,
                sampled: 2000,
                cookie: CookieSize {
                    value_bytes: 30,
                    set_cookie_bytes: 103,
                    request_bytes: 47,
                },
                returning: vec![
                    returning('A', 2000, 0, report(2000, None, 3_000.0, 0.3)),
                    returning('B', 1_997, 1, refused),
                ],
            },
        ],
        replicas: vec![
            replicas_run(1, 24_000.0, vec![24_000.0, 23_500.5]),
            replicas_run(2, 22_800.0, vec![22_100.0, 22_800.0]),
        ],
        dns: Some(DnsPoint {
            addresses: 30,
            dns_interval_ms: 1000,
            all_on_ring_s: 1.25,
            max: report(100_000, None, 27_000.0, 0.8),
        }),
        dns_not_measured: None,
        failures: Vec::new(),
    };
    Results {
        mode: Mode::Full,
        started: "Wed, 25 Nov 2026 01:00:00 GMT".into(),
        duration_s: 301.6,
        machine: Machine {
            cpus: 2,
            cpu_model: "Some CPU @ 2.00GHz".into(),
            memory_mib: 7_950,
            kernel: "6.1.0".into(),
            rustc: "rustc 1.85.0".into(),
            load_average: "1.50 1.20 0.90".into(),
        },
        product_env: vec!["RUST_LOG=info,access=off".into(), "A=b".into()],
        e2e: Some(e2e),
        tracking: Some(Tracking {
            rounds: 2,
            on_rps: vec![4_100.5, 4_210.0],
            off_rps: vec![4_250.0, 4_180.25],
            on_best_rps: 4_210.0,
            off_best_rps: 4_250.0,
            on_vs_off: 0.9906,
            on_cpu_us_per_request: vec![120.5, 118.0],
            off_cpu_us_per_request: vec![119.0, 117.5],
            on_median_cpu_us: 119.25,
            off_median_cpu_us: 118.25,
            identity_checks: 33_000,
            identity_changes: 0,
        }),
        peers: Some(peers),
        scaling: Some(scaling),
        failover: Some(Failover {
            rate: 500.0,
            kill_at_s: 3.0004,
            restart_at_s: 6.05,
            back_on_ring_s: 0.26,
            window,
            after,
            changed_users: 1,
            probe_ok: false,
        }),
        lose_all: Some(LoseAll {
            changed_users: 2,
            known,
            unknown,
        }),
        soak: Some(soak),
        ingest: Some(Ingest {
            characters: 1500,
            image_bytes: 76_800_000,
            runs_s: vec![1.234, 1.1, 1.3],
            median_s: 1.234,
            characters_per_s: 1215.6,
            mb_per_s: 62.2,
        }),
        memory: vec![
            Memory {
                process: Process::Powersource(1),
                peak_rss_mib: 13.14,
            },
            Memory {
                process: Process::Superpower,
                peak_rss_mib: 9.96,
            },
        ],
        micro: vec![
            Micro {
                id: "ring/candidates".into(),
                mean_ns: 61.4,
            },
            Micro {
                id: "render/json_answer".into(),
                mean_ns: 1_234.5,
            },
            Micro {
                id: super::MICRO_SIGN.into(),
                mean_ns: 1_012.7,
            },
            Micro {
                id: super::MICRO_RECALL.into(),
                mean_ns: 1_105.2,
            },
        ],
        targets: vec![
            Target {
                what: "a".into(),
                target: "≥ 0.6×".into(),
                figure: "0.667×".into(),
                pass: Some(true),
            },
            Target {
                what: "b".into(),
                target: "< 2 ms".into(),
                figure: "2.50 ms".into(),
                pass: Some(false),
            },
            Target {
                what: "c".into(),
                target: "0".into(),
                figure: "not measured".into(),
                pass: None,
            },
        ],
        failures: vec![
            "failover: 3 of 5000\nrequests failed".into(),
            "lose all: x".into(),
        ],
    }
}
