use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/tools/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "input-schema-no-type",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/input-schema-object", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "duplicate-tool-name",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/unique-names", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "bad-tool-name",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/name-charset", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "unknown-tool-is-result",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/unknown-tool", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "unknown-tool-success",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/unknown-tool", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "tool-content-missing",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/call-result-content", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "skip-input-validation",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/invalid-arguments", Outcome::Fail)],
    },
    // Before 2025-11-25 the clean fixture rejects with -32602 rather than isError.
    FaultExpectation {
        fault: "skip-input-validation",
        revision: Revision::V2025_06_18,
        only: ONLY,
        outcomes: &[("server/tools/invalid-arguments", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "tool-failure-as-protocol-error",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/failure-is-result", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "require-arguments",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/arguments-optional", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "bad-annotations",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/annotations-typed", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "structured-mismatch",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/tools/structured-content-conforms", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "structured-no-text",
        revision: Revision::V2025_06_18,
        only: ONLY,
        outcomes: &[("server/tools/structured-content-mirrored", Outcome::Warn)],
    },
    // -32603 where -32602 belongs: the code is the SHOULD part of these requirements
    // (TOOLS-013 reports other codes as INFO).
    FaultExpectation {
        fault: "bad-params-internal-error",
        revision: Revision::V2025_06_18,
        only: ONLY,
        outcomes: &[
            ("server/tools/malformed-call", Outcome::Warn),
            ("server/tools/invalid-arguments", Outcome::Warn),
            ("server/tools/unknown-tool", Outcome::Info),
        ],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
