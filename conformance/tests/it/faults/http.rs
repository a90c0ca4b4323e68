//! Faults of `basic/transports/streamable-http` (catalogue areas HTTP and SEC-001),
//! run over Streamable HTTP against `mcpspec-fixture --port`.

use crate::common::{assert_http_faults, check_fixture_http, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const LATEST: Revision = Revision::V2025_11_25;
const HTTP: &[&str] = &["basic/transports/streamable-http/"];
const P: &str = "basic/transports/streamable-http/";

macro_rules! id {
    ($name:literal) => {
        concat!("basic/transports/streamable-http/", $name)
    };
}

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "http-no-session-check",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("session-id-required"), Outcome::Warn),
            (id!("unknown-session"), Outcome::Warn),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-accept-foreign-origin",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("foreign-origin-forbidden"), Outcome::Fail),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    // 2025-03-26 too: the Origin rule applies retroactively.
    FaultExpectation {
        fault: "http-accept-foreign-origin",
        revision: Revision::V2025_03_26,
        only: HTTP,
        outcomes: &[(id!("foreign-origin-forbidden"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-notification-not-202",
        revision: LATEST,
        only: HTTP,
        outcomes: &[(id!("notification-accepted"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-wrong-content-type",
        revision: LATEST,
        only: HTTP,
        outcomes: &[(id!("post-answers-requests"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-ignore-protocol-version",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("unsupported-protocol-version"), Outcome::Fail),
            (id!("initialize-without-version-header"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-ignore-protocol-version",
        revision: Revision::V2025_06_18,
        only: HTTP,
        outcomes: &[(id!("unsupported-protocol-version"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-sse-cut-before-response",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("sse-answer-complete"), Outcome::Fail),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-get-not-405",
        revision: LATEST,
        only: HTTP,
        outcomes: &[(id!("get-stream-or-405"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-delete-keeps-session",
        revision: LATEST,
        only: HTTP,
        outcomes: &[(id!("delete-ends-session"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-ignore-accept",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("accept-honoured"), Outcome::Warn),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-require-version-header",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("version-header-optional"), Outcome::Warn),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-accept-invalid-notification",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("invalid-notification-refused"), Outcome::Fail),
            (id!("notification-accepted"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-json-array",
        revision: LATEST,
        only: HTTP,
        outcomes: &[
            (id!("json-answer-exact"), Outcome::Fail),
            (id!("notification-accepted"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-split-body-first-read",
        revision: Revision::V2025_03_26,
        only: HTTP,
        outcomes: &[
            (id!("body-in-pieces"), Outcome::Fail),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-sse-stays-open",
        revision: LATEST,
        only: &[id!("sse-answer-closes")],
        outcomes: &[(id!("sse-answer-closes"), Outcome::Warn)],
    },
    // A stream cut inside the response event: reported with what arrived.
    FaultExpectation {
        fault: "http-sse-cut-before-response",
        revision: LATEST,
        only: &[id!("sse-answer-closes")],
        outcomes: &[(id!("sse-answer-closes"), Outcome::Warn)],
    },
    FaultExpectation {
        fault: "http-ignore-content-type",
        revision: LATEST,
        only: &[id!("bad-bodies-refused"), id!("post-answers-requests")],
        outcomes: &[
            (id!("bad-bodies-refused"), Outcome::Warn),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-crossed-answers",
        revision: LATEST,
        only: &[id!("concurrent-posts")],
        outcomes: &[(id!("concurrent-posts"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-rotate-session-id",
        revision: LATEST,
        only: &[id!("session-id-stable"), id!("post-answers-requests")],
        outcomes: &[
            (id!("session-id-stable"), Outcome::Warn),
            (id!("post-answers-requests"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-fixed-session-id",
        revision: LATEST,
        only: &[id!("reinitialize-after-404")],
        outcomes: &[(id!("reinitialize-after-404"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "batch-rejected",
        revision: Revision::V2025_03_26,
        only: &[id!("batch-post")],
        outcomes: &[(id!("batch-post"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-responses-on-get",
        revision: LATEST,
        only: &[
            id!("get-stream-no-responses"),
            id!("one-stream-per-message"),
        ],
        outcomes: &[
            (id!("get-stream-no-responses"), Outcome::Fail),
            (id!("one-stream-per-message"), Outcome::Fail),
        ],
    },
    FaultExpectation {
        fault: "http-broadcast-notifications",
        revision: LATEST,
        only: &[
            id!("one-stream-per-message"),
            id!("get-stream-no-responses"),
        ],
        outcomes: &[
            (id!("one-stream-per-message"), Outcome::Fail),
            (id!("get-stream-no-responses"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-event-ids-per-stream",
        revision: Revision::V2025_06_18,
        only: &[id!("event-ids-unique")],
        outcomes: &[(id!("event-ids-unique"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-replay-all-streams",
        revision: LATEST,
        only: &[
            id!("resume-only-broken-stream"),
            id!("dropped-stream-not-cancelled"),
        ],
        outcomes: &[
            (id!("resume-only-broken-stream"), Outcome::Fail),
            (id!("dropped-stream-not-cancelled"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-cancel-on-disconnect",
        revision: Revision::V2025_03_26,
        only: &[id!("dropped-stream-not-cancelled")],
        outcomes: &[(id!("dropped-stream-not-cancelled"), Outcome::Warn)],
    },
    FaultExpectation {
        // 2025-11-25: closed without a retry field first (SHOULD).
        fault: "http-get-closed-no-reconnect",
        revision: LATEST,
        only: &[id!("get-stream-reconnect")],
        outcomes: &[(id!("get-stream-reconnect"), Outcome::Warn)],
    },
    // Before 2025-11-25 no retry is expected: only the refused reconnect (a MAY) shows.
    FaultExpectation {
        fault: "http-get-closed-no-reconnect",
        revision: Revision::V2025_06_18,
        only: &[id!("get-stream-reconnect")],
        outcomes: &[(id!("get-stream-reconnect"), Outcome::Info)],
    },
    FaultExpectation {
        fault: "http-no-priming-event",
        revision: LATEST,
        only: &[id!("priming-event"), id!("resume-only-broken-stream")],
        outcomes: &[
            (id!("priming-event"), Outcome::Warn),
            (id!("resume-only-broken-stream"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "http-accept-foreign-host",
        revision: LATEST,
        only: &[id!("foreign-host-forbidden")],
        outcomes: &[(id!("foreign-host-forbidden"), Outcome::Warn)],
    },
    // SEC-003: the extra listener is on another port, so only the process-group
    // look-up (the runner started the server) sees it.
    FaultExpectation {
        fault: "http-listen-all-interfaces",
        revision: LATEST,
        only: &[id!("loopback-only")],
        outcomes: &[(id!("loopback-only"), Outcome::Warn)],
    },
    FaultExpectation {
        fault: "http-sequential-session-id",
        revision: LATEST,
        only: &[id!("session-ids-unguessable")],
        outcomes: &[(id!("session-ids-unguessable"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "http-shared-log-level",
        revision: LATEST,
        only: &[id!("session-state-isolated")],
        outcomes: &[(id!("session-state-isolated"), Outcome::Warn)],
    },
    FaultExpectation {
        fault: "http-error-internals",
        revision: LATEST,
        only: &["basic/security-best-practices/errors-hide-internals"],
        outcomes: &[(
            "basic/security-best-practices/errors-hide-internals",
            Outcome::Warn,
        )],
    },
    FaultExpectation {
        fault: "http-unsafe-icons",
        revision: LATEST,
        only: &["basic/security-best-practices/icons-safe"],
        outcomes: &[("basic/security-best-practices/icons-safe", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "http-close-without-retry",
        revision: LATEST,
        only: &[id!("priming-event")],
        outcomes: &[(id!("priming-event"), Outcome::Warn)],
    },
    FaultExpectation {
        fault: "http-unbounded-body",
        revision: LATEST,
        only: &[id!("oversized-body-bounded")],
        outcomes: &[(id!("oversized-body-bounded"), Outcome::Warn)],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_faults_are_detected() {
    assert!(EXPECTATIONS.iter().all(|e| e
        .outcomes
        .iter()
        .all(|(id, _)| id.starts_with(P) || id.starts_with("basic/security-best-practices/"))));
    assert_http_faults(EXPECTATIONS).await;
}

/// The session (mcpspec's own client) resumes an SSE answer that a 2025-11-25 server
/// closed early (the fixture polls long `slow` calls): the call's result still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_resumes_an_sse_answer_closed_early() {
    use mcpspec::session::Session;
    use mcpspec::traffic::TrafficLog;
    use mcpspec_harness::{CommandSpec, HttpOptions, ProcessOptions, ServerProcess};
    use std::time::{Duration, Instant};

    let port = mcpspec_harness::free_loopback_port().expect("a free port");
    let argv = [
        env!("CARGO_BIN_EXE_mcpspec-fixture").to_string(),
        "--port".into(),
        port.to_string(),
    ];
    let spec = CommandSpec::from_argv(&argv).expect("argv");
    let (control, _stdin, _stdout) = ServerProcess::spawn(&spec, &ProcessOptions::default())
        .expect("fixture starts")
        .split();
    let addr = format!("127.0.0.1:{port}").parse().expect("address");
    mcpspec_harness::wait_until_listening(addr, Instant::now() + Duration::from_secs(20))
        .await
        .expect("fixture listens");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let session =
        Session::connect_http(&url, HttpOptions::default(), TrafficLog::new(1000)).expect("url");
    let timeout = Duration::from_secs(10);
    let handshake = session
        .handshake("2025-11-25", serde_json::json!({}), timeout)
        .await
        .expect("initialize");
    assert!(handshake.result().is_some());
    let answer = session
        .request_timeout(
            "tools/call",
            Some(serde_json::json!({ "name": "slow", "arguments": { "ms": 1200 } })),
            timeout,
        )
        .await;
    let transcript: Vec<String> = session
        .transcript_tail(200)
        .into_iter()
        .map(|(_, line)| line)
        .collect();
    control.kill();
    let _ = control.wait_exit(Duration::from_secs(5)).await;
    let answer = answer.unwrap_or_else(|e| panic!("no answer: {e}\n{}", transcript.join("\n")));
    assert!(answer.result().is_some(), "{}", answer.summary());
    assert!(
        transcript
            .iter()
            .any(|l| l.contains("resumed the SSE answer with Last-Event-ID")),
        "the answer did not come through a resumption:\n{}",
        transcript.join("\n")
    );
}

/// HTTP-014 opens two GET streams when the server grants them (the clean fixture
/// does), and falls back to one GET plus POST streams when the second is refused
/// (`http-get-closed-no-reconnect` refuses every later GET); the verdict names the
/// setup either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_per_message_tries_two_get_streams() {
    let case = id!("one-stream-per-message");
    let clean = check_fixture_http(None, &[case], LATEST).await;
    let r = clean.results.iter().find(|r| r.id == case).expect("ran");
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(r.message.contains("two GET streams"), "{}", r.message);

    let refused = check_fixture_http(Some("http-get-closed-no-reconnect"), &[case], LATEST).await;
    let r = refused.results.iter().find(|r| r.id == case).expect("ran");
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.contains("a second GET was refused")
            && r.message.contains("HTTP 400")
            && r.message.contains("one GET stream plus POST streams"),
        "{}",
        r.message
    );

    let broadcast = check_fixture_http(Some("http-broadcast-notifications"), &[case], LATEST).await;
    let r = broadcast
        .results
        .iter()
        .find(|r| r.id == case)
        .expect("ran");
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    assert!(r.message.contains("two GET streams"), "{}", r.message);
    assert!(
        r.actual
            .as_deref()
            .is_some_and(|a| a.contains("GET #1") && a.contains("GET #2")),
        "{:?}",
        r.actual
    );
}

/// SEC-003 for a server mcpspec did not start: only the endpoint's port can be looked
/// at, and the verdict says so (the fault's extra all-interfaces listener on another
/// port stays invisible that way, which is why a started server is judged by its
/// process group instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_only_falls_back_to_the_port_without_a_started_server() {
    use mcpspec::case::RunConfig;
    use mcpspec::cases::catalogue;
    use mcpspec::runner::{self, NoProgress, Selection};
    use mcpspec_harness::{CommandSpec, ProcessOptions, ServerProcess};
    use std::time::{Duration, Instant};

    let port = mcpspec_harness::free_loopback_port().expect("a free port");
    let argv = [
        env!("CARGO_BIN_EXE_mcpspec-fixture").to_string(),
        "--port".into(),
        port.to_string(),
        "--fault".into(),
        "http-listen-all-interfaces".into(),
    ];
    let spec = CommandSpec::from_argv(&argv).expect("argv");
    let (control, _stdin, _stdout) = ServerProcess::spawn(&spec, &ProcessOptions::default())
        .expect("fixture starts")
        .split();
    let addr = format!("127.0.0.1:{port}").parse().expect("address");
    mcpspec_harness::wait_until_listening(addr, Instant::now() + Duration::from_secs(20))
        .await
        .expect("fixture listens");
    let config = RunConfig::http(&format!("http://127.0.0.1:{port}/mcp"), None, LATEST);
    let selection = Selection {
        only: vec![id!("loopback-only").to_string()],
        skip: Vec::new(),
    };
    let report = runner::run(config, &catalogue(), &selection, &NoProgress).await;
    control.kill();
    let _ = control.wait_exit(Duration::from_secs(5)).await;
    let report = report.expect("run");
    let r = report
        .results
        .iter()
        .find(|r| r.id == id!("loopback-only"))
        .expect("ran");
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.contains("mcpspec did not start the server")
            && r.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        r.message
    );
}
