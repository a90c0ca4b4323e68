//! `check` against the real test-bed servers (installed by scripts/install-testbed.sh).
//!
//! The verdict list of each server is a snapshot: a change in a real server's verdicts
//! (or in ours) shows up as a reviewed diff, and each non-pass verdict is explained in
//! the README's results table.

use crate::common::{run_testbed, verdict_lines};
use mcpspec::case::RunConfig;
use mcpspec::report::{Outcome, Report};
use mcpspec::spec::Revision;
use mcpspec_harness::CommandSpec;
use std::collections::HashMap;
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate lives in the workspace")
        .to_path_buf()
}

/// Server commands from .testbed/servers.env, or `None` when the test bed is absent.
/// With MCPSPEC_REQUIRE_TESTBED=1 (set by .ci/run) an absent test bed is a failure.
fn testbed_commands() -> Option<HashMap<String, Vec<String>>> {
    let path = repo_root().join(".testbed/servers.env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var_os("MCPSPEC_REQUIRE_TESTBED").is_none(),
            "{} is missing: run bash scripts/install-testbed.sh",
            path.display()
        );
        eprintln!("test bed not installed (bash scripts/install-testbed.sh): skipped");
        return None;
    };
    let mut commands = HashMap::new();
    for line in text.lines() {
        let line = line.trim_start_matches("export ").trim();
        if let Some((name, value)) = line.split_once('=') {
            if name.ends_with("_CMD") {
                let words = value
                    .trim_matches('"')
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                commands.insert(name.to_string(), words);
            }
        }
    }
    Some(commands)
}

async fn check_server(argv: &[String]) -> Report {
    let target = CommandSpec::from_argv(argv).expect("non-empty command");
    let config = RunConfig::new(target, Revision::V2025_11_25);
    run_testbed(config, &format!("check of {argv:?}")).await
}

async fn check_testbed_server(variable: &str, snapshot: &str) {
    let Some(commands) = testbed_commands() else {
        return;
    };
    let argv = commands
        .get(variable)
        .unwrap_or_else(|| panic!("{variable} missing from .testbed/servers.env"));
    let report = check_server(argv).await;
    let harness_errors: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::HarnessError)
        .map(|r| format!("{}: {}", r.id, r.message))
        .collect();
    assert!(
        harness_errors.is_empty(),
        "harness errors:\n{}",
        harness_errors.join("\n")
    );
    insta::assert_snapshot!(snapshot, verdict_lines(&report).join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_verdicts() {
    check_testbed_server("MCPSPEC_EVERYTHING_CMD", "testbed_server_everything").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_server_verdicts() {
    check_testbed_server("MCPSPEC_PYTHON_CMD", "testbed_python_sdk").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_server_verdicts() {
    check_testbed_server("MCPSPEC_RMCP_CMD", "testbed_rmcp").await;
}
