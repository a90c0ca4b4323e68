//! Faults of the legacy HTTP+SSE transport (`basic/transports/http-with-sse`, catalogue
//! area SSE), run against `mcpspec-fixture --sse --port`.

use crate::common::{
    assert_faults_over, check_fixture_http, check_fixture_sse, try_fixture_both, try_fixture_sse,
    FaultExpectation, Over,
};
use mcpspec::cases::catalogue;
use mcpspec::report::{CaseRecord, Outcome, Report};
use mcpspec::spec::Revision;

const LEGACY: Revision = Revision::V2024_11_05;
const P: &str = "basic/transports/http-with-sse/";

macro_rules! id {
    ($name:literal) => {
        concat!("basic/transports/http-with-sse/", $name)
    };
}

// `stream-opens` watches an idle stream for 10 s when it passes, so it runs only where
// it must fail (at once).
pub(crate) const EXPECTATIONS: &[FaultExpectation] = &[
    FaultExpectation {
        fault: "sse-wrong-content-type",
        revision: LEGACY,
        only: &[id!("stream-opens"), id!("endpoint-first")],
        outcomes: &[
            (id!("stream-opens"), Outcome::Fail),
            (id!("endpoint-first"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-stream-ends-early",
        revision: LEGACY,
        only: &[id!("stream-opens")],
        outcomes: &[(id!("stream-opens"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "sse-message-before-endpoint",
        revision: LEGACY,
        only: &[id!("endpoint-first"), id!("post-accepted")],
        outcomes: &[
            (id!("endpoint-first"), Outcome::Fail),
            (id!("post-accepted"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-notification-500",
        revision: LEGACY,
        only: &[id!("post-accepted"), id!("responses-on-stream")],
        outcomes: &[
            (id!("post-accepted"), Outcome::Fail),
            (id!("responses-on-stream"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-response-in-post-body",
        revision: LEGACY,
        only: &[id!("responses-on-stream"), id!("post-accepted")],
        outcomes: &[
            (id!("responses-on-stream"), Outcome::Fail),
            (id!("post-accepted"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-wrong-event-name",
        revision: LEGACY,
        only: &[id!("responses-on-stream"), id!("endpoint-first")],
        outcomes: &[
            (id!("responses-on-stream"), Outcome::Fail),
            (id!("endpoint-first"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-message-split-across-events",
        revision: LEGACY,
        only: &[id!("responses-on-stream")],
        outcomes: &[(id!("responses-on-stream"), Outcome::Fail)],
    },
    // A later revision negotiated over the legacy transport is held to the same rules.
    FaultExpectation {
        fault: "sse-wrong-event-name",
        revision: Revision::V2025_11_25,
        only: &[id!("responses-on-stream")],
        outcomes: &[(id!("responses-on-stream"), Outcome::Fail)],
    },
    FaultExpectation {
        fault: "sse-broadcast",
        revision: LEGACY,
        only: &[id!("connections-isolated"), id!("post-accepted")],
        outcomes: &[
            (id!("connections-isolated"), Outcome::Fail),
            (id!("post-accepted"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-stale-endpoint-accepted",
        revision: LEGACY,
        only: &[id!("stale-endpoint-refused"), id!("connections-isolated")],
        outcomes: &[
            (id!("stale-endpoint-refused"), Outcome::Warn),
            (id!("connections-isolated"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-post-to-sse-url-accepted",
        revision: LEGACY,
        only: &[id!("post-to-sse-url-refused"), id!("post-accepted")],
        outcomes: &[
            (id!("post-to-sse-url-refused"), Outcome::Warn),
            (id!("post-accepted"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-accept-foreign-origin",
        revision: LEGACY,
        only: &[
            id!("foreign-origin-forbidden"),
            id!("foreign-host-forbidden"),
        ],
        outcomes: &[
            (id!("foreign-origin-forbidden"), Outcome::Fail),
            (id!("foreign-host-forbidden"), Outcome::Pass),
        ],
    },
    FaultExpectation {
        fault: "sse-accept-foreign-host",
        revision: LEGACY,
        only: &[
            id!("foreign-host-forbidden"),
            id!("foreign-origin-forbidden"),
        ],
        outcomes: &[
            (id!("foreign-host-forbidden"), Outcome::Warn),
            (id!("foreign-origin-forbidden"), Outcome::Pass),
        ],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_faults_are_detected() {
    assert_faults_over(Over::LegacySse, EXPECTATIONS).await;
}

#[test]
fn legacy_sse_cases_cite_sse_or_sec_requirements() {
    for case in catalogue().iter().filter(|c| c.id.starts_with(P)) {
        assert!(
            case.requirements
                .iter()
                .all(|q| q.starts_with("SSE-") || q.starts_with("SEC-")),
            "{} cites {:?}",
            case.id,
            case.requirements
        );
    }
}

/// An endpoint on another origin is never contacted: the run stops before any case,
/// saying why and naming SSE-002.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_endpoint_is_not_followed() {
    let outcome = try_fixture_sse(Some("sse-foreign-endpoint"), &[P], LEGACY).await;
    let error = match outcome {
        Ok(report) => panic!(
            "the run went on with a foreign endpoint: {:?}",
            report.results.iter().map(|r| &r.id).collect::<Vec<_>>()
        ),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("another origin") && error.contains("SSE-002"),
        "{error}"
    );
    assert!(error.contains("http://localhost:"), "{error}");
}

const DUAL: &str = "basic/transports/http-with-sse/both-transports-served";

/// The one SSE-008 record of `report`.
fn dual_record(report: &Report) -> &CaseRecord {
    let dual: Vec<_> = report.results.iter().filter(|r| r.id == DUAL).collect();
    assert_eq!(dual.len(), 1, "{:?}", report.results);
    dual[0]
}

/// SSE-008 over the fixture serving both transports on one port: pass, in the
/// Streamable HTTP profile only, with the other profile's records tagged `sse`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_served_passes_on_the_clean_fixture() {
    let report = try_fixture_both(
        None,
        &[
            "SSE-008",
            id!("endpoint-first"),
            "basic/utilities/ping/empty-result",
        ],
        Revision::V2025_11_25,
    )
    .await
    .unwrap_or_else(|e| panic!("the run of both transports did not start: {e}"));
    assert_eq!(report.subject.transport, "streamable-http+sse");
    let dual = dual_record(&report);
    assert_eq!(dual.outcome, Outcome::Pass, "{}", dual.message);
    assert_eq!(dual.transport.as_deref(), Some("streamable-http"));
    let over = |t: &str| {
        report
            .results
            .iter()
            .filter(|r| r.transport.as_deref() == Some(t))
            .map(|r| (r.id.as_str(), r.outcome))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        over("sse"),
        vec![
            (id!("endpoint-first"), Outcome::Pass),
            ("basic/utilities/ping/empty-result", Outcome::Pass),
        ]
    );
    assert!(over("streamable-http").contains(&("basic/utilities/ping/empty-result", Outcome::Pass)));
}

/// `sse-no-legacy-endpoint`: the server keeps only Streamable HTTP. The legacy profile
/// cannot start; the report holds the Streamable HTTP profile and SSE-008's warning,
/// which says what the SSE URL answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_legacy_endpoint_is_an_sse008_warning() {
    let report = try_fixture_both(
        Some("sse-no-legacy-endpoint"),
        &["SSE-008", "basic/utilities/ping/empty-result"],
        Revision::V2025_11_25,
    )
    .await
    .unwrap_or_else(|e| panic!("the Streamable HTTP profile should still run: {e}"));
    let dual = dual_record(&report);
    assert_eq!(dual.outcome, Outcome::Warn, "{}", dual.message);
    assert_eq!(dual.requirements, vec!["SSE-008".to_string()]);
    assert!(
        dual.actual.as_deref().is_some_and(|a| a.contains("404")),
        "{:?}",
        dual.actual
    );
    assert!(report
        .results
        .iter()
        .all(|r| r.transport.as_deref() == Some("streamable-http")));
    assert!(
        report
            .subject
            .command
            .contains("the sse profile did not start"),
        "{}",
        report.subject.command
    );
    // Without SSE-008 selected, a profile that cannot start is the run's error.
    let error = try_fixture_both(
        Some("sse-no-legacy-endpoint"),
        &["basic/utilities/ping/empty-result"],
        Revision::V2025_11_25,
    )
    .await
    .err()
    .map(|e| e.to_string());
    assert!(
        error.as_deref().is_some_and(|e| e.contains("404")),
        "{error:?}"
    );
}

/// With one URL, SSE-008 cannot be judged: not applicable over either transport.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_served_needs_both_urls() {
    for report in [
        check_fixture_http(None, &["SSE-008"], Revision::V2025_11_25).await,
        check_fixture_sse(None, &["SSE-008"], Revision::V2025_11_25).await,
    ] {
        let dual = dual_record(&report);
        assert_eq!(dual.outcome, Outcome::NotApplicable, "{}", dual.message);
        assert!(dual.transport.is_none());
    }
}

/// The progress bar of a run of both transports counts the cases of both profiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_of_both_transports_adds_up() {
    use mcpspec::runner::{self, Progress, Selection};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Count {
        total: AtomicUsize,
        finished: AtomicUsize,
    }
    impl Progress for Count {
        fn started(&self, total: usize) {
            self.total.store(total, Ordering::SeqCst);
        }
        fn finished(&self, _record: &CaseRecord) {
            self.finished.fetch_add(1, Ordering::SeqCst);
        }
    }
    let config = crate::common::fixture_both(None, Revision::V2025_11_25);
    let selection = Selection {
        only: vec!["SSE-008".into(), "basic/utilities/ping/".into()],
        skip: Vec::new(),
    };
    let count = Count::default();
    let report = runner::run(config, &catalogue(), &selection, &count)
        .await
        .expect("run");
    // SSE-008 once, the three ping cases over each transport.
    assert_eq!(report.results.len(), 7);
    assert_eq!(count.total.load(Ordering::SeqCst), 7);
    assert_eq!(count.finished.load(Ordering::SeqCst), 7);
}
