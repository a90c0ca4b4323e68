use crate::common::{assert_faults, schema_dir, FaultExpectation};
use mcpspec::report::Outcome;
use mcpspec::spec::Revision;

pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[FaultExpectation {
    fault: "no-server-info",
    revision: Revision::V2025_11_25,
    only: &["basic/messages-match-schema"],
    outcomes: &[("basic/messages-match-schema", Outcome::Fail)],
}];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_faults_are_detected() {
    if schema_dir().is_none() {
        eprintln!("MCPSPEC_SCHEMA_DIR is not set: the schema oracle cannot run (.ci/run sets it)");
        return;
    }
    assert_faults(EXPECTATIONS).await;
}
