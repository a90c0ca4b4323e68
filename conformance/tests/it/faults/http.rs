//! Faults of `basic/transports/streamable-http` (catalogue areas HTTP and SEC-001),
//! run over Streamable HTTP against `mcpspec-fixture --port`.

use crate::common::{assert_http_faults, FaultExpectation};
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
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_faults_are_detected() {
    assert!(EXPECTATIONS
        .iter()
        .all(|e| e.outcomes.iter().all(|(id, _)| id.starts_with(P))));
    assert_http_faults(EXPECTATIONS).await;
}
