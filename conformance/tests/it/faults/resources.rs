use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const ONLY: &[&str] = &["server/resources/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "resource-missing-uri",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/resources/list-shape", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "bad-base64",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[
            ("server/resources/blob-base64", Outcome::Fail),
            // The blob is still a string: the read shape itself is fine.
            ("server/resources/read-shape", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "listed-unreadable",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/resources/listed-readable", Outcome::Warn)],
    },
    FaultExpectation {
        fault: "unknown-resource-empty",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[
            ("server/resources/unknown-uri-not-empty", Outcome::Warn),
            ("server/resources/unknown-uri", Outcome::Warn),
        ],
    },
    FaultExpectation {
        fault: "unknown-resource-internal-error",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[
            ("server/resources/unknown-uri", Outcome::Warn),
            ("server/resources/unknown-uri-not-empty", Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "template-missing-uri-template",
        revision: Revision::LATEST_SESSION,
        only: ONLY,
        outcomes: &[("server/resources/templates-list-shape", Outcome::Fail)],
    },
    FaultExpectation {
        fault: "subscribe-unimplemented",
        revision: Revision::V2024_11_05,
        only: ONLY,
        outcomes: &[("server/resources/subscribe", Outcome::Fail)],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
