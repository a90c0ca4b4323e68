//! Integration tests of the mcpspec crate (one test binary, one module per subject).

mod common;
mod faults;
