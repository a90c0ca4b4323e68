//! Integration tests of the mcpspec crate (one test binary, one module per subject).

mod clean;
mod cli;
mod common;
mod faults;
mod fuzz;
mod fuzz_corpus;
mod report_props;
mod testbed;
mod testbed_http;
