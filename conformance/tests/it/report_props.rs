//! Property tests of the report serialisers: the JSON report (schema v1) reads back to
//! the same report, and the JUnit rendering is well-formed XML whose counts are the
//! report's.

use mcpspec::report::{junit, CaseRecord, Outcome, Report, Subject, Summary, Timings, Tool};
use mcpspec::spec::Level;
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;

/// Text from servers and case messages: any characters, control characters and
/// markup included, often short.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z <>&'\"/]{0,12}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\u{0}'),
                Just('\u{1b}'),
                Just('\r'),
                Just('\u{fffe}'),
                any::<char>()
            ],
            0..8
        )
        .prop_map(|c| c.into_iter().collect()),
    ]
}

fn level() -> impl Strategy<Value = Level> {
    prop::sample::select(vec![
        Level::Must,
        Level::MustNot,
        Level::Should,
        Level::ShouldNot,
        Level::May,
    ])
}

fn record() -> impl Strategy<Value = CaseRecord> {
    (
        "[a-z]{1,6}(/[a-z-]{1,8}){0,3}",
        text(),
        proptest::collection::vec("[A-Z]{2,6}-[0-9]{3}", 0..3),
        level(),
        prop::sample::select(Outcome::ALL.to_vec()),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(
            |(id, title, requirements, level, outcome, message, expected, actual, transcript)| {
                CaseRecord {
                    id,
                    title,
                    requirements,
                    level,
                    outcome,
                    message,
                    expected,
                    actual,
                    transcript,
                    transport: None,
                }
            },
        )
}

fn report() -> impl Strategy<Value = Report> {
    (
        proptest::collection::vec(record(), 0..12),
        prop::sample::select(vec!["stdio", "streamable-http", "sse"]),
        (text(), text(), text()),
        (proptest::option::of(text()), proptest::option::of(text())),
        (any::<u64>(), any::<u64>()),
        proptest::collection::vec(any::<u64>(), 0..12),
        proptest::collection::btree_map(
            text(),
            proptest::collection::vec(proptest::option::of(any::<u64>()), 0..4),
            0..3,
        ),
    )
        .prop_map(
            |(
                results,
                transport,
                (command, requested, negotiated),
                (server_name, server_version),
                (started_at_unix, duration_ms),
                case_times,
                transcript_ms,
            )| {
                let cases_ms: BTreeMap<String, u64> = results
                    .iter()
                    .map(|r| r.id.clone())
                    .zip(case_times)
                    .collect();
                Report {
                    schema_version: 1,
                    tool: Tool::this(),
                    subject: Subject {
                        transport,
                        command,
                        requested_revision: requested,
                        negotiated_revision: negotiated,
                        server_name,
                        server_version,
                    },
                    summary: Summary::of(&results),
                    results,
                    timings: Timings {
                        started_at_unix,
                        duration_ms,
                        cases_ms,
                        transcript_ms,
                    },
                }
            },
        )
}

/// XML 1.0 allows these characters only (production 2, `Char`); a strict CI parser
/// rejects a document with any other, even escaped.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Element counts of a JUnit document, after checking it parses to its end.
#[derive(Debug, Default, PartialEq)]
struct JunitCounts {
    testcases: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    /// The `tests` and `failures` attributes of `<testsuites>`.
    declared: Option<(usize, usize)>,
}

fn parse_junit(xml: &str) -> Result<JunitCounts, String> {
    if let Some(bad) = xml.chars().find(|c| !xml_char(*c)) {
        return Err(format!("character {bad:?} is not allowed in XML 1.0"));
    }
    let mut reader = Reader::from_str(xml);
    let mut counts = JunitCounts::default();
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let start = match &event {
            Event::Start(s) | Event::Empty(s) => Some(s.clone()),
            _ => None,
        };
        if let Some(start) = start {
            for attr in start.attributes() {
                let attr = attr.map_err(|e| e.to_string())?;
                attr.unescape_value().map_err(|e| e.to_string())?;
            }
            match start.name().as_ref() {
                b"testcase" => counts.testcases += 1,
                b"failure" => counts.failures += 1,
                b"error" => counts.errors += 1,
                b"skipped" => counts.skipped += 1,
                b"testsuites" => {
                    let number = |key: &[u8]| {
                        start
                            .try_get_attribute(key)
                            .ok()
                            .flatten()
                            .and_then(|a| String::from_utf8(a.value.to_vec()).ok())
                            .and_then(|v| v.parse().ok())
                    };
                    counts.declared = number(b"tests").zip(number(b"failures"));
                }
                _ => {}
            }
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.checked_sub(1).ok_or("unbalanced end tag")?,
            Event::Text(t) => {
                t.decode().map_err(|e| e.to_string())?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("{depth} elements left open"));
    }
    Ok(counts)
}

fn leaked(text: String) -> &'static str {
    // The report's tool and transport names are `&'static str`; each case leaks a
    // few kilobytes.
    Box::leak(text.into_boxed_str())
}

proptest! {
    /// The JSON report reads back to a report that writes exactly the same JSON.
    #[test]
    fn json_report_round_trips(report in report()) {
        let text = report.to_json();
        let back: Report = serde_json::from_str(leaked(text.clone()))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back.to_json(), text);
        prop_assert_eq!(back.results.len(), report.results.len());
    }

    /// The JUnit rendering is well-formed XML with one testcase per case and one
    /// failure per failed or warned case.
    #[test]
    fn junit_is_well_formed_and_counts_match(report in report()) {
        let xml = junit::render(&report);
        let counts = parse_junit(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        let s = &report.summary;
        prop_assert_eq!(
            counts,
            JunitCounts {
                testcases: report.results.len(),
                failures: s.fail + s.warn,
                errors: s.harness_error,
                skipped: s.untestable + s.not_applicable + s.info,
                declared: Some((report.results.len(), s.fail + s.warn)),
            }
        );
    }
}

/// The checker itself rejects what a strict parser would.
#[test]
fn junit_checker_rejects_broken_documents() {
    assert!(parse_junit("<a><b></a>").is_err());
    assert!(parse_junit("<a>").is_err());
    assert!(parse_junit("<a>\u{1}</a>").is_err());
    assert!(parse_junit("<a x=\"&bogus;\"/>").is_err());
    assert!(parse_junit("<testsuites tests=\"0\" failures=\"0\"/>").is_ok());
}
