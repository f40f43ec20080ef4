//! Tests of the `loader` binary and library, one module per feature. They run the real binary
//! (`CARGO_BIN_EXE_loader`) on datasets in temp folders and check the stores with
//! `common::store::Store`.

mod bad_input;
mod crash;
mod ingest;
mod sample;
mod support;
