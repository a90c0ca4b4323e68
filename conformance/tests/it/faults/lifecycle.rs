use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const LATEST: Revision = Revision::V2025_11_25;

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "no-server-info",
        revision: LATEST,
        only: &["basic/lifecycle/initialize-result"],
        outcomes: &[("basic/lifecycle/initialize-result", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "echo-unknown-version",
        revision: LATEST,
        only: &[
            "basic/lifecycle/unknown-version-counter-proposal",
            "basic/lifecycle/supported-version-echoed",
        ],
        outcomes: &[
            (
                "basic/lifecycle/unknown-version-counter-proposal",
                Outcome::Fail,
            ),
            // Known versions are still echoed correctly.
            ("basic/lifecycle/supported-version-echoed", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "oldest-counter-proposal",
        revision: LATEST,
        only: &[
            "basic/lifecycle/counter-proposal-latest",
            "basic/lifecycle/unknown-version-counter-proposal",
        ],
        outcomes: &[
            ("basic/lifecycle/counter-proposal-latest", Outcome::Warn),
            // The oldest version is still a supported one.
            (
                "basic/lifecycle/unknown-version-counter-proposal",
                Outcome::Pass,
            ),
        ],
    },
    FaultExpectation {
        fault: "advertise-unimplemented",
        revision: LATEST,
        only: &["basic/lifecycle/declared-capabilities-work"],
        outcomes: &[("basic/lifecycle/declared-capabilities-work", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "undeclared-completions",
        revision: LATEST,
        only: &["basic/lifecycle/undeclared-capabilities-refused"],
        outcomes: &[(
            "basic/lifecycle/undeclared-capabilities-refused",
            Outcome::Warn,
        )],
    },
    FaultExpectation {
        fault: "request-before-initialized",
        revision: LATEST,
        only: &["basic/lifecycle/no-requests-before-initialized"],
        outcomes: &[(
            "basic/lifecycle/no-requests-before-initialized",
            Outcome::Warn,
        )],
    },
    FaultExpectation {
        fault: "ping-requires-init",
        revision: LATEST,
        only: &["basic/lifecycle/ping-during-initialization"],
        outcomes: &[("basic/lifecycle/ping-during-initialization", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "reinitialize-breaks",
        revision: LATEST,
        only: &["basic/lifecycle/repeated-initialize"],
        outcomes: &[("basic/lifecycle/repeated-initialize", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "log-without-capability",
        // Logging needs its capability in every revision, not only from 2025-06-18;
        // the log messages follow tool calls, which the burst case makes.
        revision: Revision::V2025_03_26,
        only: &[
            "basic/lifecycle/notifications-match-capabilities",
            "basic/lifecycle/undeclared-capabilities-refused",
            "basic/transports/stdio/concurrent-output-not-interleaved",
        ],
        outcomes: &[
            (
                "basic/lifecycle/notifications-match-capabilities",
                Outcome::Fail,
            ),
            // logging/setLevel works although logging is not declared.
            (
                "basic/lifecycle/undeclared-capabilities-refused",
                Outcome::Warn,
            ),
        ],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
