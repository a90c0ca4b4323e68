//! `check --url` against the real test-bed servers over Streamable HTTP. Opt-in: set
//! MCPSPEC_TESTBED_HTTP=1 (each server is started on a free loopback port, once per
//! run, and stopped at the end). The expected verdicts of the HTTP cases are listed
//! here with the evidence that makes each a genuine violation.

use crate::common::{run_testbed, verdict_lines};
use mcpspec::case::RunConfig;
use mcpspec::cases::catalogue;
use mcpspec::report::{Outcome, Report};
use mcpspec::runner::{self, NoProgress, Selection};
use mcpspec::spec::Revision;
use mcpspec_harness::CommandSpec;
use std::path::PathBuf;
use std::time::Duration;

const HTTP_CASES: &str = "basic/transports/streamable-http/";
/// SEC cases of the security page (over HTTP for now).
const SECURITY_CASES: &str = "basic/security-best-practices/";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate lives in the workspace")
        .to_path_buf()
}

/// `NAME` from .testbed/servers.env as words, when the test bed is installed.
fn env_command(name: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join(".testbed/servers.env")).ok()?;
    text.lines().find_map(|line| {
        let line = line.trim_start_matches("export ").trim();
        let (key, value) = line.split_once('=')?;
        (key == name).then(|| {
            value
                .trim_matches('"')
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
    })
}

/// `NAME`'s command from the test bed with `extra` words appended, when the test bed
/// is installed and its HTTP run enabled.
fn server(name: &str, extra: &[&str]) -> Option<Vec<String>> {
    let mut argv = env_command(name).filter(|_| enabled())?;
    argv.extend(strings(extra));
    Some(argv)
}

fn enabled() -> bool {
    if std::env::var_os("MCPSPEC_TESTBED_HTTP").is_none() {
        eprintln!("set MCPSPEC_TESTBED_HTTP=1 to check the test bed over HTTP: skipped");
        return false;
    }
    true
}

async fn check_http(argv: Vec<String>, env: &[(&str, String)]) -> Report {
    check_http_only(argv, env, &[HTTP_CASES, SECURITY_CASES]).await
}

async fn check_http_only(argv: Vec<String>, env: &[(&str, String)], only: &[&str]) -> Report {
    let config = RunConfig::http(
        "http://127.0.0.1:{port}/mcp",
        Some(with_env(&argv, env)),
        Revision::V2025_11_25,
    );
    run_only(config, only, &format!("HTTP check of {argv:?}")).await
}

/// The command `argv` with the environment variables `env` added.
fn with_env(argv: &[String], env: &[(&str, String)]) -> CommandSpec {
    let mut command = CommandSpec::from_argv(argv).expect("non-empty command");
    command.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    command
}

/// The cases `only` selects, answers awaited for 5 s. `what` names the run in a panic.
async fn run_only(mut config: RunConfig, only: &[&str], what: &str) -> Report {
    config.request_timeout = Duration::from_secs(5);
    config.init_timeout = Duration::from_secs(30);
    config.jobs = 3;
    let selection = Selection {
        only: strings(only),
        skip: Vec::new(),
    };
    runner::run(config, &catalogue(), &selection, &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("{what} could not run: {e}"))
}

/// server-everything's stdio command `cmd` switched to `mode` (the command ends with
/// the transport word), and the preload without which it listens on every interface.
fn everything_in(cmd: &[String], mode: &str) -> (Vec<String>, [(&'static str, String); 1]) {
    let mut argv = cmd.to_vec();
    if argv.last().map(String::as_str) == Some("stdio") {
        argv.pop();
    }
    argv.push(mode.into());
    let loopback = repo_root().join("testbed/loopback.mjs");
    (
        argv,
        [("NODE_OPTIONS", format!("--import={}", loopback.display()))],
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn non_pass(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| {
            format!(
                "{} {}",
                r.outcome.as_str(),
                r.id.trim_start_matches(HTTP_CASES)
                    .trim_start_matches(SECURITY_CASES)
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_http() {
    let Some(argv) = server(
        "MCPSPEC_PYTHON_CMD",
        &["--transport", "streamable-http", "--port", "{port}"],
    ) else {
        return;
    };
    let report = check_http(argv, &[]).await;
    // All three servers answer requests with SSE and refuse JSON-only clients (406).
    // A foreign Host gets 421 (accepted as a refusal). SSE answers carry no event ids
    // and no priming event (the SDK primes only with an event store), so resumption
    // cannot be tried even with the `slow` tool; no `logging` capability.
    assert_eq!(
        non_pass(&report),
        strings(&[
            "info unauthenticated-exposure",
            "not-applicable event-ids-unique",
            "not-applicable icons-safe",
            "not-applicable session-state-isolated",
            "untestable dropped-stream-not-cancelled",
            "untestable json-answer-exact",
            "untestable resume-only-broken-stream",
            "warn priming-event",
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_over_http() {
    let Some(argv) = server("MCPSPEC_RMCP_CMD", &["--port", "{port}"]) else {
        return;
    };
    let report = check_http(argv, &[]).await;
    // Served a POST with `Origin: https://attacker.example` with 200 and the ping result.
    // Event ids and priming are there: a `slow` call cut midway is resumed with only its
    // own events and its result (HTTP-016/017 pass). No `logging` capability.
    assert_eq!(
        non_pass(&report),
        strings(&[
            "fail foreign-origin-forbidden",
            "info unauthenticated-exposure",
            "not-applicable icons-safe",
            "not-applicable session-state-isolated",
            "untestable json-answer-exact",
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_over_http() {
    let Some(cmd) = server("MCPSPEC_EVERYTHING_CMD", &[]) else {
        return;
    };
    let (argv, env) = everything_in(&cmd, "streamableHttp");
    let report = check_http(argv, &env).await;
    // Observed: a foreign Origin is served with 200; after DELETE → 200 the ended
    // session's id gets 400 "No valid session ID provided" (not 404), and so does a
    // never-issued id.
    // `Host: evil.example.com` is served too. With 400 instead of 404 there is no 404
    // to re-initialize after (HTTP-024); no `log` tool. Its in-memory event store
    // replays another stream's events on a Last-Event-ID resumption (HTTP-016), and a
    // `trigger-long-running-operation` call whose connection dropped never delivers its
    // result on the resumed stream (HTTP-017).
    assert_eq!(
        non_pass(&report),
        strings(&[
            "fail delete-ends-session",
            "fail foreign-origin-forbidden",
            "fail resume-only-broken-stream",
            "info unauthenticated-exposure",
            "not-applicable icons-safe",
            "untestable json-answer-exact",
            "untestable reinitialize-after-404",
            "untestable session-state-isolated",
            "warn dropped-stream-not-cancelled",
            "warn foreign-host-forbidden",
            "warn unknown-session",
        ])
    );
}

/// Transport-neutral cases whose probes a server may refuse at the HTTP level: a 4xx
/// without a JSON-RPC answer counts as the refusal (HTTP-006, HTTP-008, HTTP-022); a 4xx
/// carrying a JSON-RPC error rejects the POST it answers (LIFE-012).
const REFUSABLE: &[&str] = &[
    "JSONRPC-007",
    "JSONRPC-009",
    "JSONRPC-010",
    "JSONRPC-018",
    "LIFE-009",
    "LIFE-012",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_refusals_over_http() {
    let Some(argv) = server("MCPSPEC_RMCP_CMD", &["--port", "{port}"]) else {
        return;
    };
    let report = check_http_only(argv, &[], REFUSABLE).await;
    // rmcp answers every body it cannot deserialize with 415 and plain text, and a
    // request without a session with 400: refusals, so all of them pass over HTTP.
    assert_eq!(report.results.len(), REFUSABLE.len());
    assert_eq!(non_pass(&report), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_refusals_over_http() {
    let Some(cmd) = server("MCPSPEC_EVERYTHING_CMD", &[]) else {
        return;
    };
    let (argv, env) = everything_in(&cmd, "streamableHttp");
    let report = check_http_only(argv, &env, REFUSABLE).await;
    // Invalid messages and an id null ping get 400 with -32700 "Parse error: Invalid
    // JSON-RPC message" (not -32600), and a batch is executed. The second initialize
    // gets 400 with -32600 "Server already initialized": a rejection, so LIFE-012 passes.
    assert_eq!(
        non_pass(&report),
        strings(&[
            "fail basic/invalid-request",
            "warn basic/batch-rejected",
            "warn basic/null-id",
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_refusals_over_http() {
    let Some(argv) = server(
        "MCPSPEC_PYTHON_CMD",
        &["--transport", "streamable-http", "--port", "{port}"],
    ) else {
        return;
    };
    let report = check_http_only(argv, &[], REFUSABLE).await;
    // Invalid messages get -32602 with pydantic's validation text (not -32600); an id
    // null ping and an object id get no answer at all.
    assert_eq!(
        non_pass(&report),
        strings(&[
            "fail basic/invalid-request",
            "warn basic/batch-rejected",
            "warn basic/null-id",
        ])
    );
}

// ---------------------------------------------------------------------------
// Legacy HTTP+SSE (`check --sse`), at the transport's own revision, 2024-11-05.
// ---------------------------------------------------------------------------

/// Every case over legacy HTTP+SSE against `argv` (started with `{port}` as the port).
async fn check_sse(argv: Vec<String>, env: &[(&str, String)]) -> Report {
    let config = RunConfig::legacy_sse(
        "http://127.0.0.1:{port}/sse",
        Some(with_env(&argv, env)),
        Revision::V2024_11_05,
    );
    // As generous as the stdio test bed run: a late answer must not change a verdict.
    run_testbed(config, &format!("SSE check of {argv:?}")).await
}

/// One line per case that did not pass, for the snapshot.
fn sse_verdicts(report: &Report) -> String {
    verdict_lines(report).join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_over_sse() {
    let Some(argv) = server(
        "MCPSPEC_PYTHON_CMD",
        &["--transport", "sse", "--port", "{port}"],
    ) else {
        return;
    };
    let report = check_sse(argv, &[]).await;
    assert_eq!(report.subject.transport, "sse");
    assert_eq!(report.subject.negotiated_revision, "2024-11-05");
    insta::assert_snapshot!("testbed_sse_python_sdk", sse_verdicts(&report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_over_sse() {
    let Some(cmd) = server("MCPSPEC_EVERYTHING_CMD", &[]) else {
        return;
    };
    // PORT is set by the runner.
    let (argv, env) = everything_in(&cmd, "sse");
    let report = check_sse(argv, &env).await;
    assert_eq!(report.subject.transport, "sse");
    assert_eq!(report.subject.negotiated_revision, "2024-11-05");
    insta::assert_snapshot!("testbed_sse_server_everything", sse_verdicts(&report));
}

// ---------------------------------------------------------------------------
// Both HTTP transports of one server (`check --url … --sse …`, SSE-008).
// ---------------------------------------------------------------------------

/// SSE-008 and one transport-neutral case over both transports of the server `argv`
/// starts (`{port}` in both URLs).
async fn check_both(argv: Vec<String>, env: &[(&str, String)]) -> Report {
    let config = RunConfig::dual(
        "http://127.0.0.1:{port}/mcp",
        "http://127.0.0.1:{port}/sse",
        Some(with_env(&argv, env)),
        Revision::V2025_11_25,
    );
    let only = ["SSE-008", "basic/utilities/ping/empty-result"];
    run_only(
        config,
        &only,
        &format!("check of both transports of {argv:?}"),
    )
    .await
}

/// `(transport, outcome, case behaviour)` of every record, sorted.
fn tagged(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .results
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.transport.as_deref().unwrap_or("-"),
                r.outcome.as_str(),
                r.id.rsplit('/').next().unwrap_or(&r.id)
            )
        })
        .collect();
    out.sort();
    out
}

/// The Python SDK builds a Starlette app per transport; one app with the routes of
/// both (the test-bed server's tools) serves `/mcp` and `/sse` on one port, and
/// passes SSE-008 with the same case passing over each transport.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_serving_both_transports() {
    let Some(cmd) = server("MCPSPEC_PYTHON_CMD", &[]) else {
        return;
    };
    let python = cmd.first().cloned().expect("a python interpreter");
    let script = format!(
        "import sys; sys.path.insert(0, {dir:?}); import server, uvicorn\n\
         from starlette.applications import Starlette\n\
         modern = server.mcp.streamable_http_app(); legacy = server.mcp.sse_app()\n\
         app = Starlette(routes=list(modern.routes) + list(legacy.routes), lifespan=modern.router.lifespan_context)\n\
         uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')\n",
        dir = repo_root().join("testbed/python").display().to_string()
    );
    let report = check_both(vec![python, "-c".into(), script, "{port}".into()], &[]).await;
    assert_eq!(report.subject.transport, "streamable-http+sse");
    assert_eq!(
        tagged(&report),
        strings(&[
            "sse pass empty-result",
            "streamable-http pass both-transports-served",
            "streamable-http pass empty-result",
        ])
    );
}

/// server-everything serves one HTTP transport per mode (`streamableHttp`: `/mcp`
/// only; `sse`: `/sse` only), so declaring both URLs gets the SSE-008 warning, naming
/// what the missing endpoint answered (Express's 404 page), and a report of the
/// transport that did start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_everything_serves_one_transport_per_mode() {
    let Some(cmd) = server("MCPSPEC_EVERYTHING_CMD", &[]) else {
        return;
    };
    for (mode, ran, missing) in [
        ("streamableHttp", "streamable-http", "Cannot GET /sse"),
        ("sse", "sse", "Cannot POST /mcp"),
    ] {
        let (argv, env) = everything_in(&cmd, mode);
        let report = check_both(argv, &env).await;
        assert_eq!(
            tagged(&report),
            strings(&[
                &format!("{ran} pass empty-result"),
                &format!("{ran} warn both-transports-served"),
            ]),
            "{mode}"
        );
        let dual = report
            .results
            .iter()
            .find(|r| r.requirements == ["SSE-008"])
            .expect("SSE-008 ran");
        assert!(
            dual.actual
                .as_deref()
                .is_some_and(|a| a.contains("404") && a.contains(missing)),
            "{mode}: {:?}",
            dual.actual
        );
    }
}
