//! The scaling plot (`var/bench/scaling.svg`): superpower's throughput and p99 against the
//! number of powersources and against the number of distinct users, four small charts written
//! as plain SVG (log-scaled x axis, linear y axis from 0).

use std::fmt::Write as _;

use super::markdown::thousands;
use super::Scaling;

const W: f64 = 360.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 44.0;

/// One chart: `points` (x, y) at `(ox, oy)`, titled, with its axis labels.
fn chart(
    s: &mut String,
    ox: f64,
    oy: f64,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64)],
) {
    let _ = writeln!(s, r#"<g transform="translate({ox},{oy})">"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-weight="bold">{title}</text>"#,
        W / 2.0
    );
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>"##
    );
    if points.is_empty() {
        let _ = writeln!(s, "</g>");
        return;
    }
    let lx = |x: f64| x.max(1.0).log10();
    let (x0, x1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| {
        (a.min(lx(p.0)), b.max(lx(p.0)))
    });
    let span = if x1 > x0 { x1 - x0 } else { 1.0 };
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9) * 1.15;
    let px = |x: f64| LEFT + 10.0 + (lx(x) - x0) / span * (pw - 20.0);
    let py = |y: f64| TOP + ph - y / y_max * ph;
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let y = py(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 4.0,
            y + 4.0,
            if y_max < 20.0 {
                format!("{v:.1}")
            } else {
                thousands(v)
            }
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##,
        path.join(" ")
    );
    for &(x, y) in points {
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#1f77b4"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            px(x),
            py(y),
            px(x),
            TOP + ph + 16.0,
            thousands(x)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{x_label}</text>"#,
        LEFT + pw / 2.0,
        H - 8.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(14,{}) rotate(-90)" text-anchor="middle">{y_label}</text>"#,
        TOP + ph / 2.0
    );
    let _ = writeln!(s, "</g>");
}

/// The SVG of `sc`.
pub fn svg(sc: &Scaling) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">"#,
        2.0 * W,
        2.0 * H
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let inst = |f: &dyn Fn(&super::InstancesPoint) -> f64| -> Vec<(f64, f64)> {
        sc.instances
            .iter()
            .map(|p| (p.powersources as f64, f(p)))
            .collect()
    };
    let users = |f: &dyn Fn(&super::UsersPoint) -> f64| -> Vec<(f64, f64)> {
        sc.users.iter().map(|p| (p.users as f64, f(p))).collect()
    };
    chart(
        &mut s,
        0.0,
        0.0,
        "max throughput vs powersources",
        "powersources (log scale)",
        "req/s",
        &inst(&|p| p.max.rps),
    );
    chart(
        &mut s,
        W,
        0.0,
        "p99 at 1,000 req/s vs powersources",
        "powersources (log scale)",
        "p99 ms",
        &inst(&|p| p.at_rate.latency.p99_ms),
    );
    chart(
        &mut s,
        0.0,
        H,
        "throughput vs distinct users (each once)",
        "distinct users (log scale)",
        "req/s",
        &users(&|p| p.rps),
    );
    chart(
        &mut s,
        W,
        H,
        "p99 vs distinct users (each once)",
        "distinct users (log scale)",
        "p99 ms",
        &users(&|p| p.p99_ms),
    );
    let _ = writeln!(s, "</svg>");
    s
}
