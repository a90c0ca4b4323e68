//! Each fixture fault must make the case that targets it fail (or warn, for SHOULDs)
//! naming the right requirement. One module per case family.

mod completion;
mod http;
mod index;
mod lifecycle;
mod logging;
mod pagination;
mod ping;
mod prompts;
mod resources;
mod schema;
pub(crate) mod sse;
mod stdio;
mod tools;

use crate::common::FaultExpectation;
use mcpspec::fixture::Fault;

/// Faults proven elsewhere, each with where and why.
const PROVEN_ELSEWHERE: &[(&str, &str)] = &[
    (
        "pretty-print",
        "stdio.rs runs its raw case directly: it breaks every handshake",
    ),
    (
        "block-buffered",
        "stdio.rs runs its raw case directly: it breaks every handshake",
    ),
    (
        "crash-on-malformed",
        "a `mcpspec fuzz` oracle (tests/it/fuzz.rs)",
    ),
    (
        "stop-reading-after-malformed",
        "a `mcpspec fuzz` oracle (tests/it/fuzz.rs)",
    ),
    ("never-answer", "a `mcpspec fuzz` oracle (tests/it/fuzz.rs)"),
    ("memory-leak", "a `mcpspec fuzz` oracle (tests/it/fuzz.rs)"),
    (
        "http-truncated-body-crash",
        "a `mcpspec fuzz --url` schedule, truncated POST bodies (tests/it/fuzz.rs)",
    ),
    (
        "http-dropped-stream-loses-answer",
        "a `mcpspec fuzz --url` schedule, dropped and resumed SSE answers (tests/it/fuzz.rs)",
    ),
    (
        "http-session-crosstalk",
        "a `mcpspec fuzz --url` schedule, concurrent sessions (tests/it/fuzz.rs)",
    ),
    (
        "sse-foreign-endpoint",
        "sse.rs: the run stops before any case, naming SSE-002 (mcpspec never follows it)",
    ),
    (
        "sse-no-legacy-endpoint",
        "sse.rs: a run of both HTTP transports (`--both`) reports the SSE-008 warning",
    ),
    (
        "fixed-version",
        "indistinguishable from a conformant server that supports only 2024-11-05",
    ),
];

fn all_expectations() -> Vec<&'static FaultExpectation> {
    [
        completion::EXPECTATIONS,
        http::EXPECTATIONS,
        index::EXPECTATIONS,
        lifecycle::EXPECTATIONS,
        logging::EXPECTATIONS,
        pagination::EXPECTATIONS,
        ping::EXPECTATIONS,
        prompts::EXPECTATIONS,
        resources::EXPECTATIONS,
        schema::EXPECTATIONS,
        sse::EXPECTATIONS,
        stdio::EXPECTATIONS,
        tools::EXPECTATIONS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every deliberate fault of the fixture is caught by some case (or, where noted, by
/// the fuzzer): a fault nobody detects is a hole in the suite.
#[test]
fn every_fixture_fault_is_proven() {
    let expected: Vec<&str> = all_expectations().iter().map(|e| e.fault).collect();
    let unproven: Vec<&str> = Fault::ALL
        .iter()
        .map(|f| f.name())
        .filter(|name| !expected.contains(name))
        .filter(|name| !PROVEN_ELSEWHERE.iter().any(|(n, _)| n == name))
        .collect();
    assert!(
        unproven.is_empty(),
        "faults no case is proven against: {unproven:?}"
    );
    for e in all_expectations() {
        assert!(
            Fault::from_name(e.fault).is_some(),
            "unknown fault {}",
            e.fault
        );
        assert!(!e.outcomes.is_empty(), "fault {} expects nothing", e.fault);
    }
}
