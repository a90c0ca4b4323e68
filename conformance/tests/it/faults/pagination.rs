use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/utilities/pagination/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "numeric-cursor",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[(
            "server/utilities/pagination/next-cursor-string",
            Outcome::Fail,
        )],
    },
    FaultExpectation {
        fault: "cursor-loop",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/utilities/pagination/walk-terminates", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "invalid-cursor-restarts",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/utilities/pagination/invalid-cursor", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "require-list-params",
        revision: Revision::V2024_11_05,
        only: ONLY,
        outcomes: &[("server/utilities/pagination/params-optional", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "bad-params-internal-error",
        revision: Revision::V2025_11_25,
        only: ONLY,
        outcomes: &[("server/utilities/pagination/invalid-cursor", Outcome::Warn)],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
