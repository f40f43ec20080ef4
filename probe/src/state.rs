//! The identity probe's state file: the users followed and the superpower each one had at the
//! first run, versioned and validated on read, written atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use service::promise::{UserId, ID_COOKIE as COOKIE_NAME};

/// Version of the state file's format, checked on read.
pub const STATE_VERSION: u32 = 1;

/// The state file: the users followed and the superpower each one had at the first run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The URL the users were recorded against (informative: a later run may use another
    /// address of the same superpower).
    pub url: String,
    /// The users, in the order they were made.
    pub users: Vec<Recorded>,
}

/// One followed user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The `superpower_id` cookie value.
    pub id: String,
    /// The character's name: what promise 1 is about.
    pub name: String,
    /// The character's image as superpower serves it (informative).
    #[serde(default)]
    pub image_url: Option<String>,
    /// The `superpower_last` cookie superpower set (the user's last known superpower, signed),
    /// sent back as a browser would, so a degraded answer can be given when no instance
    /// answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// Why a state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the probe's JSON.
    #[error(
        "{path} is not an identity probe state file ({reason}); delete it to record the users anew"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The first run could not record its users.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl State {
    /// Reads a state file; `Ok(None)` when it does not exist (first run).
    ///
    /// # Errors
    /// [`StateError::Read`] when the file exists but cannot be read, [`StateError::Format`] when
    /// it is not a valid state.
    pub fn load(path: &Path) -> Result<Option<State>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|reason| StateError::Format {
                path: path.to_owned(),
                reason,
            })
    }

    /// Parses and validates the JSON form.
    fn parse(text: &str) -> Result<State, String> {
        let state: State = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "version {} where {STATE_VERSION} is expected",
                state.version
            ));
        }
        if state.users.is_empty() {
            return Err("no users".into());
        }
        if let Some(bad) = state.users.iter().find(|u| UserId::parse(&u.id).is_none()) {
            return Err(format!("user id {:?} is not a valid {COOKIE_NAME}", bad.id));
        }
        Ok(state)
    }

    /// Writes the file atomically (a temporary file renamed over it), creating its folder.
    ///
    /// # Errors
    /// [`StateError::Write`] on any I/O error.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        self.write(path).map_err(|source| StateError::Write {
            path: path.to_owned(),
            source,
        })
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json + "\n")?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> Recorded {
        Recorded {
            id: id.into(),
            name: name.into(),
            image_url: Some("/images/1".into()),
            last: None,
        }
    }

    #[test]
    fn the_state_file_round_trips_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert_eq!(
            State::load(&path).unwrap(),
            None,
            "a missing file is a first run"
        );
        let ids: Vec<String> = (0..3).map(|_| UserId::random().to_string()).collect();
        let state = State {
            version: STATE_VERSION,
            url: "http://127.0.0.1:1/".into(),
            users: ids.iter().map(|id| user(id, "Hero")).collect(),
        };
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(state.clone()));

        let bad = [
            ("{}".to_string(), "missing field"),
            ("not json".to_string(), "expected"),
            (
                serde_json::to_string(&State {
                    version: 9,
                    ..state.clone()
                })
                .unwrap(),
                "version 9",
            ),
            (
                serde_json::to_string(&State {
                    users: vec![],
                    ..state.clone()
                })
                .unwrap(),
                "no users",
            ),
            (
                serde_json::to_string(&State {
                    users: vec![user("../../x", "Hero")],
                    ..state
                })
                .unwrap(),
                "valid",
            ),
        ];
        for (text, why) in bad {
            std::fs::write(&path, &text).unwrap();
            let err = State::load(&path).unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains("delete it"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn an_unwritable_state_file_is_a_write_error() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be: create_dir_all fails.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "").unwrap();
        let state = State {
            version: STATE_VERSION,
            url: "http://127.0.0.1:1/".into(),
            users: vec![user(&UserId::random().to_string(), "Hero")],
        };
        let err = state.save(&blocker.join("state.json")).unwrap_err();
        assert!(matches!(err, StateError::Write { .. }), "{err:?}");
        assert!(err.to_string().starts_with("cannot write "), "{err}");
    }
}
