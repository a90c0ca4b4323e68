use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/utilities/logging/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "setlevel-rejects-some",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/utilities/logging/set-level-all", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "invalid-level-ok",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/utilities/logging/invalid-level", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "log-ignores-level",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/utilities/logging/respects-level", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "log-bad-shape",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[
            ("server/utilities/logging/message-shape", Outcome::Fail),
            // The level filter itself still works.
            ("server/utilities/logging/respects-level", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "log-without-capability",
        revision: Revision::V2024_11_05,
        only: ONLY,
        outcomes: &[(
            "server/utilities/logging/capability-required",
            Outcome::Fail,
        )],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
