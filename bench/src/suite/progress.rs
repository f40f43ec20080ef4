//! Progress lines on stderr, one per step of the suite.

/// Prints `[bench] what` on stderr.
pub(super) fn step(what: &str) {
    eprintln!("[bench] {what}");
}
