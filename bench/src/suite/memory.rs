//! The memory figures: peak resident memory of every process of the fleet, after all the load.

use super::fleet::Fleet;
use crate::report::Memory;

/// `VmHWM` of each process (the largest of its lives), when measured.
pub(super) fn peak(fleet: &Fleet) -> Vec<Memory> {
    fleet
        .all()
        .filter_map(|(process, p)| {
            p.peak_rss_kib().map(|kib| Memory {
                process,
                peak_rss_mib: kib as f64 / 1024.0,
            })
        })
        .collect()
}
