//! Helpers shared by the fuzz targets in `fuzz_targets/` (one file per parser that takes
//! outside input). docs/fuzzing.md lists the targets, their invariants and how to run them.
//!
//! # Layout
//! - [`headers`]: a `HeaderMap` from fuzzer bytes, the way hyper would have accepted them.
//! - [`split_nul`], [`lines`]: the input formats: two parts split at a NUL, header values one a line.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// A header map with one `name` header per value in `values` that is a valid header value
/// (hyper refuses the rest before any parser of ours sees them, so they are skipped).
pub fn headers<'a>(name: HeaderName, values: impl IntoIterator<Item = &'a [u8]>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(name.clone(), value);
        }
    }
    map
}

/// Splits an input at its first NUL byte: `(before, Some(after))`, or `(all, None)` without one.
/// Two-part inputs use it (a header list and an ETag; a `characters.json` and an image) so that
/// seeds stay files a person can write: JSON and header text never contain a raw NUL.
pub fn split_nul(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// Splits header text into the values of repeated headers, one per line.
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
}
