//! The micro-benchmarks: criterion's estimates of the benchmarks the suite reports (criterion
//! itself runs before, from `bench/run.sh`).

use std::path::Path;

use anyhow::Context;

use crate::report::{Micro, MICRO_RECALL, MICRO_SIGN};

/// The criterion benchmarks reported (`cargo bench -p superpower -p powersource --bench micro`).
pub const MICRO: &[&str] = &[
    "ring/candidates",
    "ring/build_3",
    "ring/build_10",
    "ring/build_30",
    "ring/build_100",
    "ring/build_300",
    "assign/assign_1500",
    "identity/from_headers",
    "render/json_answer",
    "render/html_character_page",
    MICRO_SIGN,
    "promises/recall_untracked",
    MICRO_RECALL,
];

/// Reads criterion's mean of each of [`MICRO`] under `dir`.
pub(super) fn micro(dir: &Path) -> anyhow::Result<Vec<Micro>> {
    MICRO
        .iter()
        .map(|id| {
            // criterion names a lone benchmark's folder after the id with `/` made `_`, and
            // a group's benchmark `group/name` (the ring rebuilds) by its id
            let folder = if id.starts_with("ring/build_") {
                dir.join(id)
            } else {
                dir.join(id.replace('/', "_"))
            };
            let path = folder.join("new").join("estimates.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no criterion estimate at {} (did cargo bench run?)",
                    path.display()
                )
            })?;
            let e: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("unreadable {}", path.display()))?;
            let mean = e["mean"]["point_estimate"].as_f64();
            Ok(Micro {
                id: (*id).to_owned(),
                mean_ns: mean.with_context(|| format!("no mean in {}", path.display()))?,
            })
        })
        .collect()
}
