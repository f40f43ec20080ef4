//! Placeholder; the collect benchmark is being written.
fn main() {}
