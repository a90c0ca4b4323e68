//! Running `check` in-process against the fixture server, with or without a fault.

use mcpspec::case::RunConfig;
use mcpspec::cases::catalogue;
use mcpspec::report::{Outcome, Report};
use mcpspec::runner::{self, NoProgress, RunError, Selection};
use mcpspec::spec::Revision;
use mcpspec_harness::CommandSpec;
use std::time::Duration;

/// The fixture binary Cargo built for this test run.
pub fn fixture_command(fault: Option<&str>) -> CommandSpec {
    let mut argv = vec![env!("CARGO_BIN_EXE_mcpspec-fixture").to_string()];
    if let Some(f) = fault {
        argv.push("--fault".into());
        argv.push(f.into());
    }
    CommandSpec::from_argv(&argv).expect("non-empty argv")
}

/// The fixture serving HTTP on the port the runner picks (`{port}`), with `flags`
/// choosing the transport (none: Streamable HTTP).
fn fixture_on_port(fault: Option<&str>, flags: &[&str]) -> CommandSpec {
    let mut command = fixture_command(fault);
    command.args.extend(
        flags
            .iter()
            .chain(&["--port", "{port}"])
            .map(|s| s.to_string()),
    );
    command
}

/// Run the selected cases against the fixture at `revision`.
pub async fn check_fixture(fault: Option<&str>, only: &[&str], revision: Revision) -> Report {
    run_fixture(
        RunConfig::new(fixture_command(fault), revision),
        fault,
        only,
    )
    .await
}

/// Run the selected cases against the fixture over Streamable HTTP at `revision`: the
/// runner starts `mcpspec-fixture --port {port}` and stops it at the end.
pub async fn check_fixture_http(fault: Option<&str>, only: &[&str], revision: Revision) -> Report {
    let command = fixture_on_port(fault, &[]);
    let config = RunConfig::http("http://127.0.0.1:{port}/mcp", Some(command), revision);
    run_fixture(config, fault, only).await
}

/// Run the selected cases against the fixture over legacy HTTP+SSE at `revision`: the
/// runner starts `mcpspec-fixture --sse --port {port}` and stops it at the end.
pub async fn check_fixture_sse(fault: Option<&str>, only: &[&str], revision: Revision) -> Report {
    try_fixture_sse(fault, only, revision)
        .await
        .unwrap_or_else(|e| panic!("check against fixture (fault {fault:?}) failed to run: {e}"))
}

/// [`check_fixture_sse`] keeping a run that stops before any case (an unusable
/// endpoint) as the error it is.
pub async fn try_fixture_sse(
    fault: Option<&str>,
    only: &[&str],
    revision: Revision,
) -> Result<Report, RunError> {
    let command = fixture_on_port(fault, &["--sse"]);
    let config = RunConfig::legacy_sse("http://127.0.0.1:{port}/sse", Some(command), revision);
    try_fixture(config, only).await
}

/// Run the selected cases against the fixture serving both HTTP transports on one
/// port (`mcpspec-fixture --both --port {port}`): Streamable HTTP at `/mcp`, the legacy
/// HTTP+SSE transport at `/sse`, one report (SSE-008).
pub async fn try_fixture_both(
    fault: Option<&str>,
    only: &[&str],
    revision: Revision,
) -> Result<Report, RunError> {
    try_fixture(fixture_both(fault, revision), only).await
}

/// The run configuration of [`try_fixture_both`], before the suite's timeouts.
pub fn fixture_both(fault: Option<&str>, revision: Revision) -> RunConfig {
    RunConfig::dual(
        "http://127.0.0.1:{port}/mcp",
        "http://127.0.0.1:{port}/sse",
        Some(fixture_on_port(fault, &["--both"])),
        revision,
    )
}

async fn run_fixture(config: RunConfig, fault: Option<&str>, only: &[&str]) -> Report {
    try_fixture(config, only)
        .await
        .unwrap_or_else(|e| panic!("check against fixture (fault {fault:?}) failed to run: {e}"))
}

async fn try_fixture(mut config: RunConfig, only: &[&str]) -> Result<Report, RunError> {
    // Short enough that faults which swallow answers do not stall the suite, long
    // enough for a loaded 2-core CI machine.
    config.request_timeout = Duration::from_secs(5);
    config.init_timeout = Duration::from_secs(20);
    config.jobs = 4;
    config.schema_dir = schema_dir();
    let selection = Selection {
        only: only.iter().map(|s| s.to_string()).collect(),
        skip: Vec::new(),
    };
    runner::run(config, &catalogue(), &selection, &NoProgress).await
}

/// The transport a fault expectation is checked over.
#[derive(Clone, Copy, Debug)]
pub enum Over {
    Stdio,
    StreamableHttp,
    LegacySse,
}

impl Over {
    /// The transport's name in a report's subject.
    pub fn name(self) -> &'static str {
        match self {
            Over::Stdio => "stdio",
            Over::StreamableHttp => "streamable-http",
            Over::LegacySse => "sse",
        }
    }

    /// The id prefix of the transport's own cases.
    pub fn cases(self) -> &'static str {
        match self {
            Over::Stdio => "basic/transports/stdio/",
            Over::StreamableHttp => "basic/transports/streamable-http/",
            Over::LegacySse => "basic/transports/http-with-sse/",
        }
    }

    /// Run the selected cases against the fixture (with `fault`, if any) over this
    /// transport at `revision`.
    pub async fn check(self, fault: Option<&str>, only: &[&str], revision: Revision) -> Report {
        match self {
            Over::Stdio => check_fixture(fault, only, revision).await,
            Over::StreamableHttp => check_fixture_http(fault, only, revision).await,
            Over::LegacySse => check_fixture_sse(fault, only, revision).await,
        }
    }
}

/// Like [`assert_faults`], over Streamable HTTP.
pub async fn assert_http_faults(expectations: &[FaultExpectation]) {
    assert_faults_over(Over::StreamableHttp, expectations).await
}

/// Every case against a real test-bed server, generous with time: real servers (a
/// Python one above all) answer slowly on a loaded 2-core CI machine, and a late
/// answer must not turn into a verdict change. `what` names the run in a panic.
pub async fn run_testbed(mut config: RunConfig, what: &str) -> Report {
    config.request_timeout = Duration::from_secs(10);
    config.init_timeout = Duration::from_secs(30);
    config.jobs = 3;
    config.schema_dir = schema_dir();
    runner::run(config, &catalogue(), &Selection::default(), &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("{what} could not run: {e}"))
}

/// One line per case that did not pass, for the test-bed snapshots (the schema case
/// only when schemas are available).
pub fn verdict_lines(report: &Report) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .filter(|r| r.id != "basic/messages-match-schema" || schema_dir().is_some())
        .map(|r| {
            format!(
                "{:<14} {} [{}]",
                r.outcome.as_str(),
                r.id,
                r.requirements.join(",")
            )
        })
        .collect()
}

/// The official schemas, when the environment points at them (.ci/run does).
pub fn schema_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("MCPSPEC_SCHEMA_DIR").map(Into::into)
}

/// One fixture fault and what it must do to the report.
pub struct FaultExpectation {
    pub fault: &'static str,
    /// Revision to negotiate (most faults show at the latest).
    pub revision: Revision,
    /// Case id prefixes or requirement ids to run (keeps each run short).
    pub only: &'static [&'static str],
    /// Case ids and the outcome each must have under this fault.
    pub outcomes: &'static [(&'static str, Outcome)],
}

/// Check every expectation over stdio.
pub async fn assert_faults(expectations: &[FaultExpectation]) {
    assert_faults_over(Over::Stdio, expectations).await
}

/// Check every expectation, and that each case a fault breaks reports the requirements
/// its catalogue entry cites; collects all mismatches before failing so one run shows
/// every broken case.
pub async fn assert_faults_over(over: Over, expectations: &[FaultExpectation]) {
    let cases = catalogue();
    let mut problems = Vec::new();
    for e in expectations {
        let report = over.check(Some(e.fault), e.only, e.revision).await;
        for (id, wanted) in e.outcomes {
            match report.results.iter().find(|r| r.id == *id) {
                None => problems.push(format!("fault {}: case {id} did not run", e.fault)),
                Some(r) if r.outcome != *wanted => problems.push(format!(
                    "fault {} over {over:?}: case {id} was {} (wanted {}): {}",
                    e.fault,
                    r.outcome.as_str(),
                    wanted.as_str(),
                    r.message
                )),
                Some(r) => {
                    let cited = cases.iter().find(|c| c.id == *id).map(|c| c.requirements);
                    let same = cited.is_some_and(|c| c.iter().eq(r.requirements.iter()));
                    if r.outcome != Outcome::Pass && !same {
                        problems.push(format!(
                            "fault {}: case {id} names {:?}, its catalogue entry {cited:?}",
                            e.fault, r.requirements
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
