use crate::common::{assert_faults, check_fixture, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/utilities/completion/"];

const EXPECTATIONS: &[FaultExpectation] = &[
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_cases_pass_on_the_clean_fixture() {
    for revision in Revision::SESSION_ERA {
        let report = check_fixture(None, ONLY, revision).await;
        assert!(!report.results.is_empty());
        for r in &report.results {
            assert_eq!(
                r.outcome,
                Outcome::Pass,
                "{revision} {}: {}",
                r.id,
                r.message
            );
        }
    }
}
