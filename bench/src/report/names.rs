//! What the results name: the mode, the systems loaded, the load tools, the processes and the
//! soak's kinds of fault.
//! Each name's text is stated once, in its `as_str` (or `Display`); the JSON and the markdown
//! both print it, and the code compares the enums, never the text.

use std::fmt;

use serde::Serialize;

/// How the suite ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
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

    /// Its name in the results: `full`, `smoke` or `soak`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Smoke => "smoke",
            Mode::Soak => "soak",
        }
    }
}

/// A system the end-to-end scenario loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
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

impl System {
    /// Its name in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            System::OneTier => "one-tier reference",
            System::TwoTier => "two-tier reference",
            System::Superpower => "superpower (3 powersources)",
            System::Powersource => "powersource GET /characters/{id}",
        }
    }
}

/// The tool that loaded a system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
pub enum Tool {
    /// The benchmark's own load generator (rotating cookies or ids), [`crate::load`].
    Generator,
    /// oha, the reference load tool (one fixed request), [`crate::oha`].
    Oha,
}

impl Tool {
    /// Its name in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Generator => "generator",
            Tool::Oha => "oha",
        }
    }
}

/// A front end in the comparison with what users would pick instead: superpower, or a
/// consistent-hashing proxy in front of the same powersources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub enum FrontEnd {
    /// superpower, `GET /`.
    Superpower,
    /// nginx, `hash $cookie_superpower_id consistent`, proxying `/assignments/{cookie}`.
    Nginx,
    /// HAProxy, `balance hash req.cook(superpower_id)`, `hash-type consistent`.
    Haproxy,
}

impl FrontEnd {
    /// Every front end, in the order the report lists them.
    pub const ALL: [FrontEnd; 3] = [FrontEnd::Superpower, FrontEnd::Nginx, FrontEnd::Haproxy];

    /// Its name in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            FrontEnd::Superpower => "superpower",
            FrontEnd::Nginx => "nginx",
            FrontEnd::Haproxy => "HAProxy",
        }
    }
}

/// A process the benchmark starts, by its part in the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
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

/// A fault the soak injects into one powersource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub enum FaultKind {
    /// SIGKILL, then started again after a while down.
    Kill,
    /// SIGSTOP, then SIGCONT after a while: it accepts nothing and answers nothing meanwhile.
    Freeze,
    /// SIGTERM (a graceful stop, as an orchestrator's rolling restart), then started again at
    /// once.
    Restart,
}

impl FaultKind {
    /// Every kind, in the order the report lists them.
    pub const ALL: [FaultKind; 3] = [FaultKind::Kill, FaultKind::Freeze, FaultKind::Restart];

    /// Its name in the results.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Freeze => "freeze",
            FaultKind::Restart => "restart",
        }
    }
}

macro_rules! str_forms {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$t> for &'static str {
            fn from(v: $t) -> Self {
                v.as_str()
            }
        }
    )*};
}

str_forms!(Mode, System, Tool, FaultKind, FrontEnd);

impl From<Process> for String {
    fn from(p: Process) -> Self {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: impl Serialize) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn the_json_names_are_the_display_names() {
        for m in [Mode::Full, Mode::Smoke, Mode::Soak] {
            assert_eq!(json(m), format!("\"{m}\""));
        }
        for s in [
            System::OneTier,
            System::TwoTier,
            System::Superpower,
            System::Powersource,
        ] {
            assert_eq!(json(s), format!("\"{s}\""));
        }
        for t in [Tool::Generator, Tool::Oha] {
            assert_eq!(json(t), format!("\"{t}\""));
        }
        for k in FaultKind::ALL {
            assert_eq!(json(k), format!("\"{k}\""));
        }
        for f in FrontEnd::ALL {
            assert_eq!(json(f), format!("\"{f}\""));
        }
        assert_eq!(json(Process::Powersource(2)), "\"powersource-2\"");
        assert_eq!(json(Process::TwoTierReference), "\"two-tier-reference\"");
        assert_eq!(json(Process::Replica('B')), "\"superpower-b\"");
    }
}
