use crate::common::{assert_faults, FaultExpectation};
#[allow(unused_imports)]
use mcpspec::report::Outcome;
#[allow(unused_imports)]
use mcpspec::spec::Revision;

const EXPECTATIONS: &[FaultExpectation] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_faults_are_detected() {
    assert_faults(EXPECTATIONS).await;
}
