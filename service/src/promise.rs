//! The product's two promises, defined once.
//!
//! 1. **The same superpower every time you come back.** A visitor is the random id
//!    ([`UserId`]) in the [`ID_COOKIE`] cookie; their last known superpower travels with them,
//!    signed, in the [`LAST_COOKIE`] cookie. Kept while at least [`IDENTITY_OBJECTIVE`] of the answers to
//!    returning visitors give them the superpower they had.
//! 2. **Your superpower in under a second.** An answer is good when it arrives within
//!    [`LATENCY_LIMIT`] and is not a 5xx; kept while at least [`LATENCY_OBJECTIVE`] of the
//!    answers are good (the p99 is under the limit).
//!
//! # Who reads these
//! - superpower: `identity` and `remembered` (the cookies), `promises` (the live view,
//!   `/promises.json`, which serves the limit and the objective to `promises.js`), and the
//!   probe (`superpower probe`: its `--timeout-ms` default is the limit; its visitors' ids are
//!   [`UserId`]s).
//! - the bench: the load generator's cookies, nginx's and HAProxy's hash cookie, the probe's
//!   timeout, and the targets "< 1 s" and "≥ 99.9 % kept".
//! - [`crate::metrics::LATENCY_BUCKETS`] has an edge exactly at the limit, which the recording
//!   rules select (`le="1"`).
//!
//! What cannot link this crate is held to it by `service/tests/promise.rs`, which fails when any
//! copy differs: the locustfile (`visitors/locustfile.py`), the OpenAPI spec
//! (`docs/openapi/superpower.yaml`), the chaos experiments (`experiments/*/*.json`, their p99
//! probe; they run `superpower probe` without `--timeout-ms`, so with the limit),
//! `experiments/load.sh` and `verify_journals.py`, the Prometheus rules
//! (`dashboards/prometheus/rules/`), the dashboard generator (`dashboards/tools/generate.mjs`),
//! and every cookie named in the scripts and docs.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Promise 1: the name of the cookie holding the visitor's id (22 characters of URL-safe base64,
/// 16 random bytes). The id alone decides the visitor's superpower.
pub const ID_COOKIE: &str = "superpower_id";

/// Promise 1: the name of the cookie holding the visitor's last known superpower, signed for
/// them (`ID.TAG`), so that any replica can answer it when no powersource does.
pub const LAST_COOKIE: &str = "superpower_last";

/// Promise 1 is kept while at least this fraction of the answers to returning visitors give the
/// superpower they had (the identity SLO of
/// `dashboards/prometheus/rules/identity-slo-alerts.yml`: an error budget of 1 − this).
pub const IDENTITY_OBJECTIVE: f64 = 0.999;

/// Promise 2: every answer within this, from the request to the whole body.
pub const LATENCY_LIMIT: Duration = Duration::from_secs(1);

/// Promise 2 is kept while at least this fraction of answers is good (within
/// [`LATENCY_LIMIT`], not a 5xx): the latency SLO of `dashboards/prometheus/rules/slo-alerts.yml`
/// (an error budget of 1 − this), and the quantile whose value must stay under the limit (p99).
pub const LATENCY_OBJECTIVE: f64 = 0.99;

/// [`LATENCY_LIMIT`] in milliseconds, as the command-line flags and the JSON views give it.
pub const LATENCY_LIMIT_MS: u64 = LATENCY_LIMIT.as_millis() as u64;

/// A user id: 16 random bytes, written as 22 characters of URL-safe base64 without padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId([u8; 16]);

impl UserId {
    /// A fresh random id.
    pub fn random() -> Self {
        UserId(rand::random())
    }

    /// Parses the cookie form; `None` for anything that is not exactly 22 URL-safe base64
    /// characters encoding 16 bytes.
    #[inline]
    pub fn parse(s: &str) -> Option<Self> {
        decode_16(s.as_bytes()).map(UserId)
    }

    /// The raw bytes (what the ring hashes).
    #[inline]
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id as a `u128` (compact cache key).
    #[inline]
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

/// 16 bytes from their 22 URL-safe base64 characters (no padding), in their one canonical
/// spelling: the last character's 4 unused bits zero, so one value has one spelling. `None` for
/// anything else. Both cookies carry 16 bytes this way (the user id and the signed tag); read
/// on every request, so decoded here directly rather than through the general engine.
#[inline]
pub fn decode_16(s: &[u8]) -> Option<[u8; 16]> {
    fn sextet(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
    if s.len() != 22 {
        return None;
    }
    let mut out = [0u8; 16];
    for (chunk, bytes) in s[..20].chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let n = sextet(chunk[0])? << 18
            | sextet(chunk[1])? << 12
            | sextet(chunk[2])? << 6
            | sextet(chunk[3])?;
        bytes.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    let (a, b) = (sextet(s[20])?, sextet(s[21])?);
    if b & 0x0f != 0 {
        return None;
    }
    out[15] = ((a << 2) | (b >> 4)) as u8;
    Some(out)
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // 16 bytes are 22 characters: encoded on the stack, no allocation per request
        let mut out = [0u8; 22];
        let n = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut out)
            .map_err(|_| std::fmt::Error)?;
        f.write_str(std::str::from_utf8(&out[..n]).map_err(|_| std::fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_in_milliseconds_is_the_limit() {
        assert_eq!(Duration::from_millis(LATENCY_LIMIT_MS), LATENCY_LIMIT);
    }

    #[test]
    fn decode_16_is_the_canonical_url_safe_base64_of_16_bytes() {
        use base64::Engine as _;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2_000 {
            let mut raw = [0u8; 16];
            for b in &mut raw {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
            assert_eq!(decode_16(text.as_bytes()), Some(raw), "{text}");
            // every other spelling of the last character, and one wrong character anywhere
            let mut bytes = text.clone().into_bytes();
            let last = bytes[21];
            for c in (0u8..=255).filter(|&c| c != last) {
                bytes[21] = c;
                let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(&bytes)
                    .ok()
                    .filter(|d| d.len() == 16);
                assert_eq!(decode_16(&bytes).map(|d| d.to_vec()), engine, "{c}");
            }
            let mut bad = text.into_bytes();
            bad[round % 21] = b'=';
            assert_eq!(decode_16(&bad), None);
        }
        assert_eq!(decode_16(b""), None);
        assert_eq!(decode_16(&[b'A'; 23]), None);
    }

    #[test]
    fn ids_round_trip_and_are_22_url_safe_chars() {
        for _ in 0..100 {
            let id = UserId::random();
            let s = id.to_string();
            assert_eq!(s.len(), 22);
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(UserId::parse(&s), Some(id));
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAA+/",
            "../../etc/passwd/aaaa",
            "AAAAAAAAAAAAAAAAAAAAA\u{e9}",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
    }
}
