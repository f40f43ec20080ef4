//! What a run of the identity probe concluded ([`Verdict`]), every way it can fail included,
//! and the exit code that says it to chaostoolkit.

use super::client::Unreachable;
use super::judge::{Figures, Problem};
use super::state::StateError;

/// How a run ended. Exit codes: 0 for [`Verdict::Recorded`] and [`Verdict::Held`], 1 for
/// [`Verdict::Broken`] and [`Verdict::Unreachable`], 2 for [`Verdict::Error`].
#[derive(Debug)]
pub enum Verdict {
    /// First run: every user answered within the limit, and they are recorded in the state file.
    Recorded {
        /// What the run measured.
        figures: Figures,
    },
    /// Later run: every followed user kept their superpower, within the limit.
    Held {
        /// What the run measured.
        figures: Figures,
    },
    /// At least one user broke a promise (a first run then records nothing).
    Broken {
        /// What the run measured.
        figures: Figures,
        /// One per user, in the order they were judged.
        problems: Vec<Problem>,
    },
    /// The first request could not connect: no user was judged.
    Unreachable(Unreachable),
    /// Nothing could be judged: bad arguments or an unusable state file.
    Error(RunError),
}

impl Verdict {
    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Recorded { .. } | Verdict::Held { .. } => 0,
            Verdict::Broken { .. } | Verdict::Unreachable(_) => 1,
            Verdict::Error(_) => 2,
        }
    }

    /// The `verdict` field of the JSON output: `ok`, `broken`, `unreachable` or `error`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Recorded { .. } | Verdict::Held { .. } => "ok",
            Verdict::Broken { .. } => "broken",
            Verdict::Unreachable(_) => "unreachable",
            Verdict::Error(_) => "error",
        }
    }

    /// What the run measured, when it judged the users.
    pub fn figures(&self) -> Option<&Figures> {
        match self {
            Verdict::Recorded { figures }
            | Verdict::Held { figures }
            | Verdict::Broken { figures, .. } => Some(figures),
            Verdict::Unreachable(_) | Verdict::Error(_) => None,
        }
    }

    /// The broken promises (none unless [`Verdict::Broken`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Verdict::Broken { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// Why a run could judge nothing (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--url` does not parse.
    #[error("--url {url:?} is not a URL: {source}")]
    BadUrl {
        /// As given.
        url: String,
        /// The parse error.
        source: http::uri::InvalidUri,
    },
    /// `--url` is a URL the probe cannot ask (https, or no host).
    #[error("--url {url:?} must be an http:// URL with a host")]
    NotHttp {
        /// As given.
        url: String,
    },
    /// The state file cannot be read, is not valid, or (first run) cannot be written.
    #[error(transparent)]
    State(#[from] StateError),
}

impl RunError {
    /// The `error.kind` field of the JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::BadUrl { .. } => "bad_url",
            RunError::NotHttp { .. } => "not_http",
            RunError::State(StateError::Read { .. }) => "state_unreadable",
            RunError::State(StateError::Format { .. }) => "state_invalid",
            RunError::State(StateError::Write { .. }) => "state_unwritable",
        }
    }
}
