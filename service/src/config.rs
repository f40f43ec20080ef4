//! What both services' settings share: defaults stated once (in the clap attributes), and
//! durations given in milliseconds on the command line but held as [`Duration`]s.

use std::time::Duration;

use clap::{Args, FromArgMatches};

/// Connections a service serves at once, unless `--max-connections` says otherwise: the one
/// statement of this default (both services' flags and [`ServeOptions`](crate::http::ServeOptions)
/// use it). A connection costs up to about 32 KiB (hyper's read buffer, up to the 16 KiB head
/// limit, its write buffer, the task): 1,000 of them stay within a third of superpower's
/// 128 MiB memory budget (docs/CONTRACTS.md, Memory). Every fleet runs two replicas.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_000;

/// How long a slow client may stall before it is cut off, in milliseconds, unless
/// `--client-timeout-ms` says otherwise (both services' flags use it).
pub const DEFAULT_CLIENT_TIMEOUT_MS: &str = "10000";

/// The settings `T` with no flag and no environment variable: every field at the default its
/// clap attribute states, so a default is written once. Tests and benchmarks start from it.
///
/// # Panics
/// If `T` has a required argument (a bug: settings built in code need defaults for all).
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"))
        .mut_args(|arg| arg.env(None::<&'static str>));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every setting has a default");
    T::from_arg_matches(&matches).expect("the defaults parse")
}

/// Parses a duration given in whole milliseconds (`300` → 300 ms), for `value_parser`.
///
/// # Errors
/// When `s` is not a non-negative integer.
pub fn millis(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{s:?} is not a whole number of milliseconds"))
}

/// Like [`millis`], but refuses zero: for intervals and timeouts, where zero would spin or
/// fail every call.
///
/// # Errors
/// When `s` is not a positive integer.
pub fn positive_millis(s: &str) -> Result<Duration, String> {
    let d = millis(s)?;
    if d.is_zero() {
        return Err("must be at least 1 millisecond".into());
    }
    Ok(d)
}

/// Parses a count that must be at least 1 (a connection limit of 0 would serve nobody), for
/// `value_parser`.
///
/// # Errors
/// When `s` is not a positive integer.
pub fn positive_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a whole number")),
    }
}

/// Parses an admin token (for `value_parser`): printable ASCII only, since a client can send
/// nothing else in an `Authorization` header; a token with other bytes would lock the admin API
/// for good. An empty token is allowed (it turns the admin API off).
///
/// # Errors
/// When `s` has a character outside printable ASCII.
pub fn admin_token(s: &str) -> Result<String, String> {
    match s.chars().find(|c| !(' '..='~').contains(c)) {
        Some(c) => Err(format!(
            "{c:?} cannot be sent in an Authorization header: use printable ASCII"
        )),
        None => Ok(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Args)]
    struct Example {
        #[arg(long, env = "SERVICE_CONFIG_TEST_EXAMPLE", default_value_t = 7)]
        n: u32,
        #[arg(long, value_parser = millis, default_value = "250")]
        wait_ms: Duration,
    }

    #[test]
    fn defaults_come_from_the_attributes_and_ignore_the_environment() {
        std::env::set_var("SERVICE_CONFIG_TEST_EXAMPLE", "9");
        let d: Example = defaults();
        assert_eq!(d.n, 7);
        assert_eq!(d.wait_ms, Duration::from_millis(250));
    }

    #[test]
    fn admin_tokens_are_printable_ascii() {
        assert_eq!(admin_token("s3cret-_.~+/="), Ok("s3cret-_.~+/=".into()));
        assert_eq!(admin_token(""), Ok(String::new()));
        for bad in ["café", "tab\there", "nul\0", "emoji🦀"] {
            assert!(admin_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn milliseconds() {
        assert_eq!(millis("0"), Ok(Duration::ZERO));
        assert_eq!(millis("1500"), Ok(Duration::from_millis(1500)));
        assert!(millis("-1").is_err());
        assert!(millis("1.5").is_err());
        assert!(millis("").is_err());
        assert!(positive_millis("0").is_err());
        assert!(positive_count("0").is_err() && positive_count("x").is_err());
        assert_eq!(positive_count("1"), Ok(1));
        assert_eq!(
            millis(DEFAULT_CLIENT_TIMEOUT_MS),
            Ok(crate::http::ServeOptions::default().client_timeout)
        );
        assert_eq!(positive_millis("1"), Ok(Duration::from_millis(1)));
    }
}
