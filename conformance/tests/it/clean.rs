//! The clean fixture passes every case at every session-era revision, and its JSON
//! report is stable (snapshot).

use crate::common::{check_fixture, schema_dir, Over};
use mcpspec::report::{Outcome, Report};
use mcpspec::spec::Revision;

/// Run the clean fixture over `over` at each of `revisions`: its own cases run, no case
/// of the `foreign` transports does, and every case passes (or does not apply, or only
/// informs). Each report is handed to `each` before the next run.
async fn assert_clean_over(
    over: Over,
    foreign: &[Over],
    revisions: impl IntoIterator<Item = Revision>,
    mut each: impl FnMut(Revision, &Report),
) {
    let mut problems = Vec::new();
    for revision in revisions {
        let report = over.check(None, &[], revision).await;
        assert_eq!(report.subject.transport, over.name());
        assert!(
            report
                .results
                .iter()
                .any(|r| r.id.starts_with(over.cases())),
            "{revision}: no {over:?} case ran"
        );
        for r in &report.results {
            let other = foreign.iter().find(|o| r.id.starts_with(o.cases()));
            assert!(
                other.is_none(),
                "{revision}: {other:?} case {} ran over {over:?}",
                r.id
            );
            let acceptable = match r.outcome {
                Outcome::Pass | Outcome::NotApplicable | Outcome::Info => true,
                // Only the schema oracle may be untestable, and only without schemas.
                Outcome::Untestable => {
                    r.id == "basic/messages-match-schema" && schema_dir().is_none()
                }
                Outcome::Fail | Outcome::Warn | Outcome::HarnessError => false,
            };
            if !acceptable {
                problems.push(format!(
                    "{revision} {}: {} — {}",
                    r.id,
                    r.outcome.as_str(),
                    r.message
                ));
            }
        }
        each(revision, &report);
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_fixture_passes_every_case_at_every_revision() {
    assert_clean_over(Over::Stdio, &[], Revision::SESSION_ERA, |_, _| {}).await;
}

/// The same over Streamable HTTP, at every revision that has it (2025-03-26 on): the
/// HTTP cases and every transport-neutral case (SSE-008, filed with the SSE cases,
/// runs here too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_fixture_passes_every_case_over_http() {
    let revisions = Revision::SESSION_ERA
        .into_iter()
        .filter(|r| *r >= Revision::V2025_03_26);
    assert_clean_over(Over::StreamableHttp, &[Over::Stdio], revisions, |_, _| {}).await;
}

/// `report` as JSON for a snapshot, with the command shown as `command`. Timings and
/// versions live outside the case records precisely so they can be redacted here; the
/// schema case depends on whether schemas are available, so it is left out.
fn redacted(report: &Report, command: &str) -> serde_json::Value {
    let mut json = serde_json::to_value(report).expect("report serialises");
    json["timings"] = serde_json::json!("[timings]");
    json["tool"]["version"] = serde_json::json!("[version]");
    json["subject"]["server_version"] = serde_json::json!("[version]");
    json["subject"]["command"] = serde_json::json!(command);
    if let Some(results) = json["results"].as_array_mut() {
        results.retain(|r| r["id"] != "basic/messages-match-schema");
    }
    if let Some(summary) = json.get_mut("summary") {
        *summary = serde_json::json!("[summary: see results]");
    }
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_fixture_report_snapshot() {
    let report = check_fixture(None, &[], Revision::V2025_11_25).await;
    let json = redacted(&report, "[fixture]");
    insta::assert_json_snapshot!("clean_fixture_2025_11_25", json);
}

/// The same over the legacy HTTP+SSE transport, at every session-era revision (the
/// fixture serves each over it): the SSE cases and every transport-neutral case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_fixture_passes_every_case_over_sse() {
    assert_clean_over(
        Over::LegacySse,
        &[Over::Stdio, Over::StreamableHttp],
        Revision::SESSION_ERA,
        |revision, report| {
            if revision == Revision::V2024_11_05 {
                let json = redacted(report, "[fixture over SSE]");
                insta::assert_json_snapshot!("clean_fixture_sse_2024_11_05", json);
            }
        },
    )
    .await;
}
