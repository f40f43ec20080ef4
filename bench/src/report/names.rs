//! What the results name: the mode, the systems loaded, the load tools, the processes and the
//! soak's kinds of fault.
//! Each name's text is stated once, in its serde form; the logs print the same text (`Display`
//! where they need it), the code compares the enums, and `bench/render.py` gives the markdown
//! its labels.

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;

/// How the suite ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every scenario at full length.
    #[default]
    Full,
    /// Every scenario for a second or two (CI): catches rot, the figures mean little.
    Smoke,
    /// The soak alone: returning users for minutes while powersources are killed, frozen and
    /// restarted.
    Soak,
}

impl Mode {
    /// [`Mode::Soak`] when `soak`, else [`Mode::Smoke`] when `smoke`, else [`Mode::Full`].
    pub fn of(smoke: bool, soak: bool) -> Self {
        match (soak, smoke) {
            (true, _) => Mode::Soak,
            (false, true) => Mode::Smoke,
            (false, false) => Mode::Full,
        }
    }
}

/// A system the end-to-end scenario loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// `bench-ref one`: a bare hyper server answering a fixed body.
    OneTier,
    /// `bench-ref two`: a bare hyper front calling the one-tier reference for every request.
    TwoTier,
    /// superpower in front of its 3 powersources, `GET /`.
    Superpower,
    /// One powersource alone, `GET /characters/{id}`.
    Powersource,
}

/// The tool that loaded a system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    /// The benchmark's own load generator (rotating cookies or ids), [`crate::load`].
    Generator,
    /// oha, the reference load tool (one fixed request), [`crate::oha`].
    Oha,
}

/// A front end in the comparison with what users would pick instead: superpower, or a
/// consistent-hashing proxy in front of the same powersources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FrontEnd {
    /// superpower, `GET /`.
    Superpower,
    /// nginx, `hash $cookie_superpower_id consistent`, proxying `/assignments/{cookie}`.
    Nginx,
    /// HAProxy, `balance hash req.cook(superpower_id)`, `hash-type consistent`.
    Haproxy,
}

impl FrontEnd {
    /// Every front end, in the order the suite measures them.
    pub const ALL: [FrontEnd; 3] = [FrontEnd::Superpower, FrontEnd::Nginx, FrontEnd::Haproxy];
}

/// A process the benchmark starts, by its part in the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(into = "String")]
#[schemars(
    with = "String",
    extend("pattern" = r"^(powersource-[1-9][0-9]*|superpower(-untracked|-[a-z])?|(one|two)-tier-reference|nginx|haproxy)$")
)]
pub enum Process {
    /// `powersource-N` (N from 1).
    Powersource(usize),
    /// superpower.
    Superpower,
    /// A second superpower with `--no-promise-tracking` (the tracking scenario's "off" side).
    SuperpowerUntracked,
    /// A replica of the scaling scenario's front end of two (`A` or `B`, peers with the same
    /// cookie key).
    Replica(char),
    /// The one-tier reference server.
    OneTierReference,
    /// The two-tier reference server.
    TwoTierReference,
    /// nginx (a peer), its master and workers.
    Nginx,
    /// HAProxy (a peer).
    Haproxy,
}

impl fmt::Display for Process {
    /// Its name in the results and its log's (`var/bench/logs/NAME.log`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Powersource(n) => write!(f, "powersource-{n}"),
            Process::Superpower => f.write_str("superpower"),
            Process::SuperpowerUntracked => f.write_str("superpower-untracked"),
            Process::Replica(r) => write!(f, "superpower-{}", r.to_ascii_lowercase()),
            Process::OneTierReference => f.write_str("one-tier-reference"),
            Process::TwoTierReference => f.write_str("two-tier-reference"),
            Process::Nginx => f.write_str("nginx"),
            Process::Haproxy => f.write_str("haproxy"),
        }
    }
}

impl From<Process> for String {
    fn from(p: Process) -> Self {
        p.to_string()
    }
}

/// A fault the soak injects into one powersource: a verb of the fault vocabulary
/// (experiments/vocabulary.yaml), or `restart`, the lifecycle's stop then start.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL, then started again after a while down.
    Kill,
    /// SIGSTOP, then SIGCONT after a while: it accepts nothing and answers nothing meanwhile.
    Freeze,
    /// Its port refuses connections and resets open ones (nftables: root only).
    Partition,
    /// Every packet to its port dropped: connects hang (nftables: root only).
    Drop,
    /// Killed and started again, again and again, ending down; then started.
    Flap,
    /// Every answer late, then cleared.
    Slow,
    /// A share of answers 500, then cleared.
    Fail,
    /// SIGTERM (a graceful stop, as an orchestrator's rolling restart), then started again at
    /// once.
    Restart,
}

impl FaultKind {
    /// The soak's faults unless told otherwise, in the order the schedule draws them (so a seed
    /// gives the schedule it always gave).
    pub const SOAK_DEFAULT: [FaultKind; 3] =
        [FaultKind::Kill, FaultKind::Freeze, FaultKind::Restart];

    /// The verb that ends it (experiments/vocabulary.yaml's `undo`); none for a restart, which
    /// ends by itself.
    pub fn undo(self) -> Option<&'static str> {
        match self {
            FaultKind::Kill | FaultKind::Flap => Some("start"),
            FaultKind::Freeze => Some("thaw"),
            FaultKind::Partition => Some("heal"),
            FaultKind::Drop => Some("undrop"),
            FaultKind::Slow | FaultKind::Fail => Some("clear"),
            FaultKind::Restart => None,
        }
    }
}

/// `Display` as the serde name, for the names the logs print: the text is stated once.
macro_rules! display_as_serialized {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match serde_json::to_value(self) {
                    Ok(serde_json::Value::String(s)) => f.write_str(&s),
                    _ => Err(fmt::Error),
                }
            }
        }
    )*};
}

display_as_serialized!(System, Tool, FrontEnd, FaultKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logs_print_the_json_names() {
        assert_eq!(System::OneTier.to_string(), "one-tier");
        assert_eq!(FrontEnd::Haproxy.to_string(), "haproxy");
        assert_eq!(FaultKind::Freeze.to_string(), "freeze");
        let json = |v| serde_json::to_string(&v).unwrap();
        assert_eq!(json(Process::Powersource(2)), "\"powersource-2\"");
        assert_eq!(json(Process::Replica('B')), "\"superpower-b\"");
    }

    #[test]
    fn the_fault_kinds_are_the_vocabulary_s_verbs_with_its_undos() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../experiments/vocabulary.yaml"
        );
        let yaml = std::fs::read_to_string(path).unwrap();
        for k in <FaultKind as clap::ValueEnum>::value_variants() {
            let name = k.to_string();
            if *k == FaultKind::Restart {
                assert!(yaml.contains("\n  stop:\n") && yaml.contains("\n  start:\n"));
                continue;
            }
            let entry = yaml
                .split_once(&format!("\n  {name}:\n"))
                .unwrap_or_else(|| panic!("{name} is not in the vocabulary"))
                .1;
            let undo = entry.lines().find_map(|l| l.trim().strip_prefix("undo: "));
            assert_eq!(undo, k.undo(), "{name}");
        }
    }
}
