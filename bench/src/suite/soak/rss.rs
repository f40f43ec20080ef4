//! The soak's memory verdict: every process's `VmRSS` sampled through the run, and whether it
//! stayed flat.
//!
//! Flat means two things, after a warm-up (the image cache, the prepared answers, sled's page
//! cache, the connection pools and the allocator's arenas filling):
//! - the end is within a tolerance of the start: `end ≤ start + max(10 % of start, 2 MiB)`,
//!   where start and end are medians of 5 samples, so one odd sample does not decide;
//! - no steady growth: the samples after the warm-up, cut into 5 windows, do not have medians
//!   that rise by more than 0.5 % of start from every window to the next. A leak small enough
//!   to stay inside the tolerance over the run still shows as a staircase.
//!
//! The second clause is a rate, not "every window higher": superpower's RSS climbs in steps for
//! its first ~9 minutes under the soak (16.3 to 17.4 MiB in a 20-minute run of seed 17), then
//! stays at 17.41 MiB for the next 10. A 10-minute run sees five rising medians of that
//! warm-up, but rising less and less; a leak keeps its pace. The price: a leak slower than
//! 0.5 % of start per window (about 55 KiB a minute for superpower over 10 minutes) passes.
//!
//! A lower end is never a failure. For a powersource that was killed or restarted the samples
//! span its lives, each starting small: growth within a life shows as the staircase only if it
//! is faster than the restarts, but its peak (`VmHWM` over every life) is still reported.

use std::time::Duration;

use crate::report::{Process, Rss, RssRule};

/// The rule for a soak of `length`: warm-up of 10 % of the run, at least 10 s.
pub(super) fn rule(length: Duration, sample_every: Duration) -> RssRule {
    RssRule {
        sample_every_s: sample_every.as_secs_f64(),
        warm_up_s: (length.as_secs_f64() / 10.0).max(10.0),
        edge_samples: 5,
        tolerance_pct: 10.0,
        tolerance_mib: 2.0,
        windows: 5,
        step_pct: 0.5,
    }
}

/// One process's samples: seconds into the run and `VmRSS` in KiB.
#[derive(Debug, Default)]
pub(super) struct Samples(pub(super) Vec<(f64, u64)>);

impl Samples {
    /// Adds one sample, when the process was running.
    pub(super) fn push(&mut self, at: Duration, kib: Option<u64>) {
        if let Some(kib) = kib {
            self.0.push((at.as_secs_f64(), kib));
        }
    }
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn median(kib: &[u64]) -> f64 {
    let mut v = kib.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

/// Judges `samples` of `process` by `rule`; `hwm_kib` is its `VmHWM` over every life.
pub(super) fn judge(
    rule: &RssRule,
    process: Process,
    lives: usize,
    samples: &Samples,
    hwm_kib: Option<u64>,
) -> Rss {
    let all: Vec<u64> = samples.0.iter().map(|&(_, k)| k).collect();
    let after: Vec<u64> = samples
        .0
        .iter()
        .filter(|&&(t, _)| t >= rule.warm_up_s)
        .map(|&(_, k)| k)
        .collect();
    let peak = all.iter().copied().max().max(hwm_kib).unwrap_or(0);
    let mut rss = Rss {
        process,
        lives,
        samples: all.len(),
        start_mib: 0.0,
        peak_mib: mib(peak as f64),
        end_mib: 0.0,
        window_mib: Vec::new(),
        flat: false,
        why: None,
    };
    let edge = rule.edge_samples;
    if after.len() < (2 * edge).max(rule.windows) {
        rss.why = Some(format!(
            "{} samples after the warm-up, too few to judge",
            after.len()
        ));
        return rss;
    }
    let start = median(&after[..edge]);
    let end = median(&after[after.len() - edge..]);
    let windows: Vec<f64> = (0..rule.windows)
        .map(|i| {
            let n = after.len();
            median(&after[i * n / rule.windows..(i + 1) * n / rule.windows])
        })
        .collect();
    rss.start_mib = mib(start);
    rss.end_mib = mib(end);
    rss.window_mib = windows.iter().map(|&k| mib(k)).collect();
    let tolerance = (start * rule.tolerance_pct / 100.0).max(rule.tolerance_mib * 1024.0);
    let step = start * rule.step_pct / 100.0;
    let staircase = windows.windows(2).all(|w| w[1] - w[0] > step);
    rss.why = if end > start + tolerance {
        Some(format!(
            "end {:.1} MiB is more than {:.1} MiB above start {:.1} MiB",
            mib(end),
            mib(tolerance),
            mib(start)
        ))
    } else if staircase {
        Some(format!(
            "rose in every window ({} MiB)",
            rss.window_mib
                .iter()
                .map(|m| format!("{m:.1}"))
                .collect::<Vec<_>>()
                .join(" → ")
        ))
    } else {
        None
    };
    rss.flat = rss.why.is_none();
    rss
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: Duration = Duration::from_secs(600);

    /// One sample a second for the run, `f(t)` KiB.
    fn series(f: impl Fn(f64) -> u64) -> Samples {
        Samples((0..600).map(|t| (f64::from(t), f(f64::from(t)))).collect())
    }

    fn judged(s: &Samples) -> Rss {
        judge(
            &rule(RUN, Duration::from_secs(1)),
            Process::Superpower,
            1,
            s,
            None,
        )
    }

    #[test]
    fn noise_after_a_warm_up_is_flat() {
        // climbs to 20 MiB in the first 30 s, then wobbles by 300 KiB
        let s = series(|t| {
            if t < 30.0 {
                8_000 + (t * 400.0) as u64
            } else {
                20_480 + ((t * 7.0) as u64 % 300)
            }
        });
        let r = judged(&s);
        assert!(r.flat, "{r:?}");
        assert!((r.start_mib - 20.1).abs() < 0.3, "{r:?}");
        assert_eq!(r.window_mib.len(), 5);
        assert!(r.peak_mib >= r.end_mib);
    }

    #[test]
    fn an_end_above_the_tolerance_is_not_flat() {
        // flat, then a jump of 4 MiB for the last minute
        let s = series(|t| if t < 540.0 { 20_480 } else { 24_576 });
        let r = judged(&s);
        assert!(!r.flat);
        assert!(r.why.unwrap().contains("above start"));
    }

    #[test]
    fn a_slow_steady_leak_inside_the_tolerance_is_caught() {
        // 1 MiB over nine minutes on 20 MiB: inside the 2 MiB tolerance, but every window higher
        let s = series(|t| 20_480 + (t * 2.0) as u64);
        let r = judged(&s);
        assert!(!r.flat, "{r:?}");
        assert!(r.why.unwrap().contains("every window"));
    }

    /// Samples holding each of `medians` (KiB) for a fifth of the time after the warm-up.
    fn windows(medians: [u64; 5]) -> Samples {
        Samples(
            (0..600)
                .map(|t| {
                    (
                        f64::from(t),
                        medians[((t.max(60) - 60) * 5 / 540).min(4) as usize],
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn a_warm_up_that_slows_down_is_flat() {
        // superpower's window medians in the 10-minute soak of seed 17: each above the last,
        // but by 125, 51, 199 and 72 KiB, two steps under 0.5 % of start (85 KiB); 20 minutes
        // showed it level at 17.41 MiB from minute 9
        let r = judged(&windows([17_520, 17_648, 17_700, 17_904, 17_976]));
        assert!(r.flat, "{r:?}");
    }

    #[test]
    fn a_leak_at_a_steady_pace_is_caught() {
        // +150 KiB every window on 17 MiB
        let r = judged(&windows([17_520, 17_670, 17_820, 17_970, 18_120]));
        assert!(!r.flat, "{r:?}");
    }

    #[test]
    fn a_lower_end_and_restarts_are_flat() {
        // a powersource restarted every 100 s, each life climbing from 10 to 14 MiB
        let s = series(|t| 10_240 + ((t % 100.0) * 40.0) as u64);
        let r = judge(
            &rule(RUN, Duration::from_secs(1)),
            Process::Powersource(1),
            6,
            &s,
            Some(15_000),
        );
        assert!(r.flat, "{r:?}");
        assert_eq!(r.lives, 6);
        assert!((r.peak_mib - 15_000.0 / 1024.0).abs() < 1e-9);
    }

    #[test]
    fn too_few_samples_are_not_judged_flat() {
        let s = Samples(vec![(20.0, 1000), (21.0, 1000)]);
        let r = judged(&s);
        assert!(!r.flat);
        assert!(r.why.unwrap().contains("too few"));
    }

    #[test]
    fn the_warm_up_is_a_tenth_at_least_ten_seconds() {
        let one = Duration::from_secs(1);
        assert_eq!(rule(RUN, one).warm_up_s, 60.0);
        assert_eq!(rule(Duration::from_secs(60), one).warm_up_s, 10.0);
    }
}
