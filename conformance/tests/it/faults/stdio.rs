use crate::common::{assert_faults, fixture_command, FaultExpectation};
use mcpspec::case::{Ctx, Isolation, RunConfig, RunEnv, ServerProfile};
use mcpspec::cases::catalogue;
use mcpspec::report::Outcome;
use mcpspec::session::{Handshake, Response, Session};
use mcpspec::spec::Revision;
use mcpspec::traffic::TrafficLog;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const LATEST: Revision = Revision::V2025_11_25;
const STDIO: &str = "basic/transports/stdio/";

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "read-per-chunk",
        revision: LATEST,
        only: &[
            "basic/transports/stdio/split-writes",
            "basic/transports/stdio/large-message",
        ],
        outcomes: &[
            ("basic/transports/stdio/split-writes", Outcome::Fail),
            ("basic/transports/stdio/large-message", Outcome::Fail),
        ],
    },
    FaultExpectation {
        fault: "utf8-per-chunk",
        revision: LATEST,
        only: &["basic/transports/stdio/split-writes"],
        outcomes: &[("basic/transports/stdio/split-writes", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "first-line-per-chunk",
        revision: LATEST,
        only: &["basic/transports/stdio/coalesced-writes"],
        outcomes: &[("basic/transports/stdio/coalesced-writes", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "line-limit-64k",
        revision: LATEST,
        only: &[
            "basic/transports/stdio/large-message",
            "basic/transports/stdio/hostile-input-survived",
        ],
        outcomes: &[
            ("basic/transports/stdio/large-message", Outcome::Fail),
            // Ignoring an 8 MiB line is allowed; surviving it is what counts.
            (
                "basic/transports/stdio/hostile-input-survived",
                Outcome::Pass,
            ),
        ],
    },
    FaultExpectation {
        fault: "log-to-stdout",
        revision: LATEST,
        only: &["basic/transports/stdio/stdout-only-messages"],
        outcomes: &[("basic/transports/stdio/stdout-only-messages", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "banner",
        revision: LATEST,
        only: &[
            "basic/transports/stdio/silent-before-input",
            "basic/transports/stdio/stdout-only-messages",
        ],
        outcomes: &[
            ("basic/transports/stdio/silent-before-input", Outcome::Fail),
            ("basic/transports/stdio/stdout-only-messages", Outcome::Fail),
        ],
    },
    FaultExpectation {
        fault: "empty-lines",
        revision: LATEST,
        only: &["basic/transports/stdio/stdout-only-messages"],
        outcomes: &[("basic/transports/stdio/stdout-only-messages", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "interleave-writes",
        revision: LATEST,
        only: &[
            "basic/transports/stdio/concurrent-output-not-interleaved",
            "basic/transports/stdio/one-message-per-line",
        ],
        outcomes: &[
            (
                "basic/transports/stdio/concurrent-output-not-interleaved",
                Outcome::Fail,
            ),
            ("basic/transports/stdio/one-message-per-line", Outcome::Fail),
        ],
    },
    FaultExpectation {
        fault: "invalid-utf8-output",
        revision: LATEST,
        // newlines-escaped calls the multiline tool whose output is corrupted.
        only: &[
            "basic/transports/stdio/utf8-output",
            "basic/transports/stdio/newlines-escaped",
        ],
        outcomes: &[
            ("basic/transports/stdio/utf8-output", Outcome::Fail),
            ("basic/transports/stdio/newlines-escaped", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "crash-on-invalid-utf8",
        revision: LATEST,
        only: &["basic/transports/stdio/invalid-utf8-input"],
        outcomes: &[("basic/transports/stdio/invalid-utf8-input", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "reject-crlf",
        revision: LATEST,
        only: &["basic/transports/stdio/crlf-and-blank-lines"],
        outcomes: &[("basic/transports/stdio/crlf-and-blank-lines", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "exit-on-bad-json",
        revision: LATEST,
        only: &["basic/transports/stdio/hostile-input-survived"],
        outcomes: &[(
            "basic/transports/stdio/hostile-input-survived",
            Outcome::Warn,
        )],
    },
    FaultExpectation {
        fault: "abort-on-deep-nesting",
        revision: LATEST,
        only: &["basic/transports/stdio/hostile-input-survived"],
        outcomes: &[(
            "basic/transports/stdio/hostile-input-survived",
            Outcome::Warn,
        )],
    },
    FaultExpectation {
        fault: "ignore-stdin-eof",
        revision: LATEST,
        only: &[
            "basic/transports/stdio/exit-on-stdin-eof",
            "basic/transports/stdio/sigterm-ends-server",
        ],
        outcomes: &[
            ("basic/transports/stdio/exit-on-stdin-eof", Outcome::Warn),
            ("basic/transports/stdio/sigterm-ends-server", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "ignore-sigterm",
        revision: LATEST,
        only: &["basic/transports/stdio/sigterm-ends-server"],
        outcomes: &[("basic/transports/stdio/sigterm-ends-server", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "drop-in-flight-on-eof",
        revision: LATEST,
        only: &["basic/transports/stdio/in-flight-answered-at-eof"],
        outcomes: &[(
            "basic/transports/stdio/in-flight-answered-at-eof",
            Outcome::Warn,
        )],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}

/// Run one `Raw` case directly, without the run's probe handshake: for faults that
/// break every exchange (multi-line or buffered output), where `check` cannot even
/// start, the case itself must still say why.
async fn run_raw_case(id: &str, fault: &str) -> (Outcome, String) {
    let case = catalogue()
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    assert_eq!(
        case.isolation,
        Isolation::Raw,
        "{id} must not need a probe handshake"
    );
    let mut config = RunConfig::new(fixture_command(Some(fault)), LATEST);
    config.request_timeout = Duration::from_secs(5);
    config.init_timeout = Duration::from_secs(5);
    // Stands in for the probe handshake that this fault makes impossible.
    let handshake = Handshake {
        requested_version: LATEST.as_str().into(),
        response: Response {
            raw: json!({"jsonrpc": "2.0", "id": 0, "result": {
                "protocolVersion": LATEST.as_str(), "capabilities": {}
            }}),
        },
    };
    let traffic = TrafficLog::new(10_000);
    let env = Arc::new(RunEnv {
        config,
        profile: ServerProfile {
            handshake,
            revision: LATEST,
        },
        traffic: traffic.clone(),
    });
    let session =
        Session::spawn(&env.config.target, &env.config.process, traffic).expect("fixture starts");
    let mut ctx = Ctx::new(env, session.clone());
    let verdict = match (case.run)(&mut ctx).await {
        Ok(v) | Err(v) => v,
    };
    session.control().kill();
    (Outcome::from_verdict(case.level, &verdict), verdict.message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_faults_that_stop_every_exchange_are_detected() {
    let mut problems = Vec::new();
    for (fault, case, wanted) in [
        ("pretty-print", "newlines-escaped", Outcome::Fail),
        ("block-buffered", "responses-flushed", Outcome::Fail),
    ] {
        let id = format!("{STDIO}{case}");
        let (outcome, message) = run_raw_case(&id, fault).await;
        if outcome != wanted {
            problems.push(format!(
                "fault {fault}: case {id} was {} (wanted {}): {message}",
                outcome.as_str(),
                wanted.as_str()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
