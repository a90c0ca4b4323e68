//! Faults of the JSON-RPC base protocol (`basic/index`, catalogue area JSONRPC).

use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const LATEST: Revision = Revision::V2025_11_25;
const PIPELINED: &[&str] = &["basic/pipelined-requests"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    // The handshake uses a string id, so only the integer ids of the case are altered.
    FaultExpectation {
        fault: "id-as-string",
        revision: LATEST,
        only: &["basic/id-echo"],
        outcomes: &[("basic/id-echo", Outcome::Fail)],
    },
    // Passive checks judge the traffic of the cases run beside them.
    FaultExpectation {
        fault: "null-result",
        revision: LATEST,
        only: &["basic/result-object", "basic/utilities/ping/empty-result"],
        outcomes: &[("basic/result-object", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "string-error-code",
        revision: LATEST,
        only: &["basic/error-object", "basic/unknown-method"],
        outcomes: &[("basic/error-object", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "result-and-error",
        revision: LATEST,
        only: &["basic/result-or-error", "basic/unknown-method"],
        outcomes: &[("basic/result-or-error", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "answer-notifications",
        revision: LATEST,
        only: &["basic/notifications-unanswered"],
        outcomes: &[("basic/notifications-unanswered", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "silent-parse-error",
        revision: LATEST,
        only: &["basic/parse-error"],
        outcomes: &[("basic/parse-error", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "invalid-request-internal-error",
        revision: LATEST,
        only: &["basic/invalid-request"],
        outcomes: &[("basic/invalid-request", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "null-id-accepted",
        revision: LATEST,
        only: &["basic/null-id"],
        outcomes: &[("basic/null-id", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "unknown-method-ok",
        revision: LATEST,
        only: &["basic/unknown-method"],
        outcomes: &[("basic/unknown-method", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "case-insensitive-methods",
        revision: LATEST,
        only: &["basic/unknown-method"],
        outcomes: &[("basic/unknown-method", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "bad-params-internal-error",
        revision: LATEST,
        only: &["basic/bad-params"],
        outcomes: &[("basic/bad-params", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "lose-responses-under-load",
        revision: LATEST,
        only: PIPELINED,
        outcomes: &[("basic/pipelined-requests", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "swap-ids-under-load",
        revision: LATEST,
        only: PIPELINED,
        outcomes: &[("basic/pipelined-requests", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "duplicate-responses",
        revision: LATEST,
        only: PIPELINED,
        outcomes: &[("basic/pipelined-requests", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "reject-extra-params",
        revision: LATEST,
        only: &["basic/extra-params"],
        outcomes: &[("basic/extra-params", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "batch-rejected",
        revision: Revision::V2025_03_26,
        only: &["basic/batch-accepted"],
        outcomes: &[("basic/batch-accepted", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "batch-executed",
        revision: Revision::V2025_06_18,
        only: &["basic/batch-rejected"],
        outcomes: &[("basic/batch-rejected", Outcome::Warn)],
    },
    // The server answers each bad line, then dies: survival is JSONRPC-008's finding,
    // not JSONRPC-007's.
    FaultExpectation {
        fault: "exit-on-bad-json",
        revision: LATEST,
        only: &["basic/survives-bad-input", "basic/parse-error"],
        outcomes: &[
            ("basic/survives-bad-input", Outcome::Warn),
            ("basic/parse-error", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "invalid-utf8-output",
        revision: LATEST,
        only: &["basic/non-ascii-round-trip", "basic/utf8-output"],
        outcomes: &[
            ("basic/non-ascii-round-trip", Outcome::Fail),
            ("basic/utf8-output", Outcome::Fail),
        ],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
