//! mcpspec: conformance checks and black-box fuzzing for MCP servers.
//!
//! `harness` (a separate crate) moves bytes; this crate knows the protocol: sessions,
//! the case catalogue, the runner, reports and the CLI.

pub mod case;
pub mod cases;
pub mod cli;
pub mod fixture;
pub mod fuzz;
pub mod fuzzing;
pub mod report;
pub mod runner;
pub mod schema;
pub mod session;
pub mod spec;
pub mod traffic;
pub mod util;
pub mod validate;
