use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/utilities/completion/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "completion-too-many",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/utilities/completion/result-shape", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "completion-bad-total",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[(
            "server/utilities/completion/counts-consistent",
            Outcome::Warn,
        )],
    },
    FaultExpectation {
        fault: "completion-unknown-ref-ok",
        revision: Revision::V2025_03_26,
        only: ONLY,
        outcomes: &[("server/utilities/completion/unknown-ref", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "completion-rejects-context",
        revision: Revision::V2025_06_18,
        only: ONLY,
        outcomes: &[(
            "server/utilities/completion/context-arguments",
            Outcome::Fail,
        )],
    },
    FaultExpectation {
        fault: "undeclared-completions",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[(
            "server/utilities/completion/capability-matches",
            Outcome::Warn,
        )],
    },
    // 2024-11-05 has no completions flag: serving the method undeclared is only noted.
    FaultExpectation {
        fault: "undeclared-completions",
        revision: Revision::V2024_11_05,
        only: ONLY,
        outcomes: &[(
            "server/utilities/completion/capability-matches",
            Outcome::Info,
        )],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
