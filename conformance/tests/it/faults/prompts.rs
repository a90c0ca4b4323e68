use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/prompts/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "unknown-prompt-ok",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/prompts/unknown-prompt", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "missing-argument-ok",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/prompts/missing-argument", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "prompt-bad-role",
        revision: Revision::V2024_11_05,
        only: ONLY,
        outcomes: &[("server/prompts/get-renders", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "advertise-unimplemented",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/prompts/capability-matches", Outcome::Fail)],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
