//! Faults of `basic/utilities/ping` (catalogue area PING).

use crate::common::{assert_faults, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

const LATEST: Revision = Revision::V2025_11_25;
const PING: &[&str] = &["basic/utilities/ping/"];

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "null-result",
        revision: LATEST,
        only: PING,
        outcomes: &[
            ("basic/utilities/ping/empty-result", Outcome::Fail),
            ("basic/utilities/ping/with-params", Outcome::Fail),
        ],
    },
    FaultExpectation {
        fault: "ping-rejects-params",
        revision: LATEST,
        only: PING,
        outcomes: &[
            ("basic/utilities/ping/empty-result", Outcome::Pass),
            ("basic/utilities/ping/with-params", Outcome::Fail),
        ],
    },
    FaultExpectation {
        fault: "ping-blocked-by-work",
        revision: LATEST,
        only: PING,
        outcomes: &[("basic/utilities/ping/not-blocked", Outcome::Fail)],
    },
    // The oldest revision: ping and its checks exist there too.
    FaultExpectation {
        fault: "ping-blocked-by-work",
        revision: Revision::V2024_11_05,
        only: PING,
        outcomes: &[("basic/utilities/ping/not-blocked", Outcome::Fail)],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
