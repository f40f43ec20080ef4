//! How much memory a powersource needs for a dataset, and the warning when that is more than it
//! may use.
//!
//! A powersource keeps every eligible character in memory: its JSON answer, and
//! [`RING_BYTES_PER_CHARACTER`] of assignment ring. Images stay in sled, but sled 0.34's page
//! cache does not hold to its capacity (16 MiB here): it evicts a page only once 64 accesses
//! have queued up in the page's shard (of 256), so under traffic a powersource ends up holding
//! about every image it has served. The estimate is therefore
//! `BASE_BYTES + BYTES_PER_CHARACTER × eligible + answer bytes + IMAGE_PERCENT % of image bytes`:
//! the peak RSS (VmHWM) once every image has been asked for, fitted to the release binary from
//! 250 to 100,000 sample characters (docs/powersource.md, "Memory"). The loader warns at ingest
//! and powersource warns at start when a dataset's estimate is over the memory limit
//! (`--memory-limit-mib`, by default [`DOCUMENTED_LIMIT_MIB`], the manifests' limit), or over
//! its cgroup's limit ([`cgroup_limit_bytes`]: what the kernel enforces in a container) when
//! that is lower.

use std::fmt;
use std::path::Path;

/// The powersource container's memory limit in the Kubernetes manifests
/// (`deploy/kubernetes/base/powersource.yaml`, `limits.memory: 128Mi`) and in compose
/// (`mem_limit: 128m`): what the warning checks against unless told otherwise.
pub const DOCUMENTED_LIMIT_MIB: u64 = 128;

/// The assignment ring's bytes per character: 160 points of 12 bytes (hash and character);
/// `powersource::assign` checks it at compile time.
pub const RING_BYTES_PER_CHARACTER: usize = 160 * 12;

/// What powersource needs with any dataset: 7.6 MiB measured idle (the process, the runtime),
/// plus connection buffers and allocator slack under traffic.
pub const BASE_BYTES: u64 = 12 * MIB;

/// What each eligible character adds besides its answer and its image: the ring
/// ([`RING_BYTES_PER_CHARACTER`]), its catalog entry, sled's copy of its record. Measured:
/// 2,910 bytes per eligible character idle, answers of 360 bytes included.
pub const BYTES_PER_CHARACTER: u64 = 2_600;

/// sled's in-memory copy of the images, in percent of their bytes once all were served:
/// 98–113 % in most runs (one run of four at 50,000 characters: 164 %; one of two at 100,000:
/// 58 %).
pub const IMAGE_PERCENT: u64 = 110;

const MIB: u64 = 1024 * 1024;

/// Where the kernel mounts the cgroup hierarchies.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// cgroup v1 writes "no limit" as the largest page-aligned counter (9,223,372,036,854,771,712
/// on 4 KiB pages): any figure at or above this is no limit.
const CGROUP_V1_UNLIMITED: u64 = 1 << 62;

/// The memory limit of this process's cgroup, in bytes: cgroup v2's `memory.max`, or cgroup
/// v1's `memory.limit_in_bytes`; `None` without one (`max`, v1's "unlimited", or no cgroup file
/// to read: not Linux, no cgroup mounted).
pub fn cgroup_limit_bytes() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    cgroup_limit_in(Path::new(CGROUP_ROOT), &own)
}

/// [`cgroup_limit_bytes`] under `root` (a cgroup mount), for the process whose
/// `/proc/self/cgroup` is `own`: its own cgroup's file first (v2 `0::/PATH`, v1
/// `N:memory:/PATH`), then the mount's top (a container with its own cgroup namespace, or v1
/// inside a container, sees its cgroup there). The first file that exists decides.
pub fn cgroup_limit_in(root: &Path, own: &str) -> Option<u64> {
    let mut files = Vec::new();
    for line in own.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let path = path.trim().trim_start_matches('/');
        if controllers.is_empty() {
            files.push(root.join(path).join("memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            files.push(root.join("memory").join(path).join("memory.limit_in_bytes"));
        }
    }
    files.push(root.join("memory.max"));
    files.push(root.join("memory").join("memory.limit_in_bytes"));
    let text = files.iter().find_map(|f| std::fs::read_to_string(f).ok())?;
    match text.trim() {
        "max" => None,
        figure => figure
            .parse::<u64>()
            .ok()
            .filter(|&b| b > 0 && b < CGROUP_V1_UNLIMITED),
    }
}

/// A limit in bytes as whole MiB (rounded down: the estimate must fit under it).
pub fn bytes_to_mib(bytes: u64) -> u64 {
    bytes / MIB
}

/// Which limit the warning checks against, and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The limit, in MiB.
    pub mib: u64,
    /// `"cgroup"` (what the kernel enforces) or `"--memory-limit-mib"` (what the process was
    /// told), for the log.
    pub source: &'static str,
}

/// The lower of the configured limit (`--memory-limit-mib`) and the cgroup's
/// ([`cgroup_limit_bytes`]): the kernel kills at its limit whatever the flag says, and a flag
/// lower than the cgroup's is the operator's own, stricter budget.
pub fn effective_limit(configured_mib: u64, cgroup_bytes: Option<u64>) -> Limit {
    match cgroup_bytes.map(bytes_to_mib) {
        Some(cgroup) if cgroup < configured_mib => Limit {
            mib: cgroup,
            source: "cgroup",
        },
        _ => Limit {
            mib: configured_mib,
            source: "--memory-limit-mib",
        },
    }
}

/// A dataset as powersource holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    /// Eligible characters (the only ones a powersource keeps or serves).
    pub eligible: u64,
    /// The total bytes of their JSON answers.
    pub answer_bytes: u64,
    /// The total bytes of their images.
    pub image_bytes: u64,
}

impl Need {
    /// The bytes a powersource serving this dataset is estimated to need at peak, once every
    /// image has been asked for.
    pub fn bytes(&self) -> u64 {
        BASE_BYTES.saturating_add(self.variable_bytes())
    }

    /// [`bytes`](Self::bytes) in MiB, rounded up.
    pub fn mib(&self) -> u64 {
        self.bytes().div_ceil(MIB)
    }

    fn variable_bytes(&self) -> u64 {
        self.eligible
            .saturating_mul(BYTES_PER_CHARACTER)
            .saturating_add(self.answer_bytes)
            .saturating_add(self.image_bytes.saturating_mul(IMAGE_PERCENT) / 100)
    }

    /// How many characters like these (the same average answer and image) fit in `limit_mib`.
    pub fn fitting(&self, limit_mib: u64) -> u64 {
        let per_character = self
            .variable_bytes()
            .checked_div(self.eligible)
            .unwrap_or(BYTES_PER_CHARACTER);
        limit_mib.saturating_mul(MIB).saturating_sub(BASE_BYTES) / per_character.max(1)
    }

    /// The warning when this dataset needs more than `limit_mib`, else `None`.
    pub fn over(&self, limit_mib: u64) -> Option<OverLimit> {
        (self.bytes() > limit_mib.saturating_mul(MIB)).then_some(OverLimit {
            need: *self,
            limit_mib,
        })
    }
}

/// A dataset whose estimate is over the memory limit; its `Display` is the warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverLimit {
    /// The dataset.
    pub need: Need,
    /// The limit, in MiB.
    pub limit_mib: u64,
}

impl fmt::Display for OverLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let need = &self.need;
        let limit = self.limit_mib;
        let whose = if limit == DOCUMENTED_LIMIT_MIB {
            " (the Kubernetes and compose limit)"
        } else {
            ""
        };
        write!(
            f,
            "{} eligible characters with {:.1} MiB of images need about {} MiB in powersource \
             once their images are served, over its memory limit of {limit} MiB{whose}, which \
             fits about {} such characters: raise the container's memory limit (and \
             --memory-limit-mib) to at least {} MiB, or use a smaller dataset \
             (docs/powersource.md, \"Memory\")",
            need.eligible,
            need.image_bytes as f64 / MIB as f64,
            need.mib(),
            need.fitting(limit),
            need.mib(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `eligible` characters like the sample's: 360-byte answers, 8,000-byte images.
    fn need(eligible: u64) -> Need {
        Need {
            eligible,
            answer_bytes: eligible * 360,
            image_bytes: eligible * 8_000,
        }
    }

    #[test]
    fn the_estimate_grows_with_the_characters_their_answers_and_images() {
        assert_eq!(Need::default().bytes(), BASE_BYTES);
        assert_eq!(
            need(1000).bytes(),
            BASE_BYTES + 1000 * (BYTES_PER_CHARACTER + 360 + 8_800)
        );
        assert!(need(1000).mib() * MIB >= need(1000).bytes());
        // the figures docs/powersource.md quotes: the sample's 250 characters (238 eligible)
        // and the 100,000 (95,000 eligible)
        assert_eq!(need(238).mib(), 15);
        assert_eq!(need(95_000).mib(), 1_078);
    }

    #[test]
    fn the_manifests_limit_fits_about_10000_characters_like_the_samples() {
        // the figure the manifests' comment quotes
        assert_eq!(need(1).fitting(DOCUMENTED_LIMIT_MIB), 10_343);
        assert!(need(10_343).over(DOCUMENTED_LIMIT_MIB).is_none());
        assert!(need(10_344).over(DOCUMENTED_LIMIT_MIB).is_some());
    }

    #[test]
    fn a_dataset_over_the_limit_is_named_with_what_fits() {
        let fits = need(1).fitting(DOCUMENTED_LIMIT_MIB);
        assert!(need(fits).over(DOCUMENTED_LIMIT_MIB).is_none());
        let over = need(fits + 1).over(DOCUMENTED_LIMIT_MIB).expect("over");
        let text = over.to_string();
        assert!(
            text.starts_with(&format!("{} eligible characters", fits + 1)),
            "{text}"
        );
        assert!(text.contains("limit of 128 MiB (the Kubernetes"), "{text}");
        assert!(
            text.contains(&format!("fits about {fits} such characters")),
            "{text}"
        );
        // another limit is not called the manifests'
        let text = need(100_000).over(64).expect("over").to_string();
        assert!(text.contains("limit of 64 MiB, which fits"), "{text}");
    }

    /// A cgroup mount under a temp dir with `files` (relative path, content).
    fn mount(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        dir
    }

    #[test]
    fn the_cgroup_v2_limit_of_the_process_own_cgroup() {
        let root = mount(&[
            ("kubepods/pod1/ctr/memory.max", "134217728\n"),
            ("memory.max", "max\n"),
        ]);
        let own = "0::/kubepods/pod1/ctr\n";
        assert_eq!(cgroup_limit_in(root.path(), own), Some(128 * MIB));
        assert_eq!(bytes_to_mib(128 * MIB + 5), 128);
        // a container with its own cgroup namespace sees its cgroup at the top
        let root = mount(&[("memory.max", "536870912")]);
        assert_eq!(cgroup_limit_in(root.path(), "0::/\n"), Some(512 * MIB));
        // no limit
        let root = mount(&[("memory.max", "max\n")]);
        assert_eq!(cgroup_limit_in(root.path(), "0::/\n"), None);
    }

    #[test]
    fn the_cgroup_v1_limit_and_its_unlimited() {
        // a hybrid host: v2 holds no memory controller, v1's memory controller has the limit
        let root = mount(&[("memory/ctr/memory.limit_in_bytes", "268435456\n")]);
        let own = "4:memory:/ctr\n0::/\n";
        assert_eq!(cgroup_limit_in(root.path(), own), Some(256 * MIB));
        let root = mount(&[("memory/ctr/memory.limit_in_bytes", "9223372036854771712\n")]);
        assert_eq!(cgroup_limit_in(root.path(), own), None);
        // the controller among others, and v1 inside a container (its cgroup at the top)
        let root = mount(&[("memory/memory.limit_in_bytes", "67108864")]);
        assert_eq!(
            cgroup_limit_in(root.path(), "7:cpu,memory:/elsewhere\n"),
            Some(64 * MIB)
        );
    }

    #[test]
    fn the_lower_of_the_flag_and_the_cgroup_is_checked() {
        // a container of 64 MiB told nothing: the kernel's limit
        let limit = effective_limit(DOCUMENTED_LIMIT_MIB, Some(64 * MIB));
        assert_eq!((limit.mib, limit.source), (64, "cgroup"));
        // a larger container (the dataset component's 512Mi) and the flag left at 128: the flag
        let limit = effective_limit(DOCUMENTED_LIMIT_MIB, Some(512 * MIB));
        assert_eq!((limit.mib, limit.source), (128, "--memory-limit-mib"));
        // no cgroup limit (a native process): the flag
        assert_eq!(effective_limit(13, None).mib, 13);
        // the sample over a 13 MiB cgroup: a warning names it
        let over = need(238).over(effective_limit(128, Some(13 * MIB)).mib);
        assert!(over.expect("over").to_string().contains("limit of 13 MiB"));
    }

    #[test]
    fn no_cgroup_no_limit() {
        let root = mount(&[]);
        assert_eq!(cgroup_limit_in(root.path(), ""), None);
        assert_eq!(cgroup_limit_in(root.path(), "garbage\n::\n"), None);
        let root = mount(&[("memory.max", "not a number")]);
        assert_eq!(cgroup_limit_in(root.path(), "0::/\n"), None);
    }

    #[test]
    fn a_character_costs_more_than_its_ring() {
        assert!(BYTES_PER_CHARACTER > RING_BYTES_PER_CHARACTER as u64);
    }
}
