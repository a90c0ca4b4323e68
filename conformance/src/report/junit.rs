//! JUnit XML for CI systems: one testsuite per spec page, one testcase per case.

use super::{Outcome, Report};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::collections::BTreeMap;

pub fn render(report: &Report) -> String {
    let mut pages: BTreeMap<String, Vec<&super::CaseRecord>> = BTreeMap::new();
    for r in &report.results {
        pages.entry(r.group()).or_default().push(r);
    }
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let sum = &report.summary;
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "mcpspec check"));
    suites.push_attribute(("tests", sum.total.to_string().as_str()));
    suites.push_attribute(("failures", (sum.fail + sum.warn).to_string().as_str()));
    suites.push_attribute(("errors", sum.harness_error.to_string().as_str()));
    let _ = w.write_event(Event::Start(suites));
    for (page, records) in pages {
        let failures = records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Warn))
            .count();
        let errors = records
            .iter()
            .filter(|r| r.outcome == Outcome::HarnessError)
            .count();
        let skipped = records
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    Outcome::Untestable | Outcome::NotApplicable | Outcome::Info
                )
            })
            .count();
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", page.as_str()));
        suite.push_attribute(("tests", records.len().to_string().as_str()));
        suite.push_attribute(("failures", failures.to_string().as_str()));
        suite.push_attribute(("errors", errors.to_string().as_str()));
        suite.push_attribute(("skipped", skipped.to_string().as_str()));
        let _ = w.write_event(Event::Start(suite));
        for r in records {
            let name = r.behaviour();
            let mut tc = BytesStart::new("testcase");
            tc.push_attribute(("classname", page.as_str()));
            tc.push_attribute((
                "name",
                xml_chars(&format!("{name} [{}]", r.requirements.join(","))).as_str(),
            ));
            let time = report
                .timings
                .cases_ms
                .get(&r.key())
                .map(|ms| format!("{:.3}", *ms as f64 / 1000.0))
                .unwrap_or_else(|| "0".into());
            tc.push_attribute(("time", time.as_str()));
            let body = detail(r);
            let child = match r.outcome {
                Outcome::Pass => None,
                Outcome::Fail | Outcome::Warn => Some("failure"),
                Outcome::HarnessError => Some("error"),
                Outcome::Untestable | Outcome::NotApplicable | Outcome::Info => Some("skipped"),
            };
            match child {
                None => {
                    let _ = w.write_event(Event::Empty(tc));
                }
                Some(tag) => {
                    let _ = w.write_event(Event::Start(tc));
                    let mut el = BytesStart::new(tag);
                    el.push_attribute((
                        "message",
                        xml_chars(&format!("{}: {}", r.outcome.as_str(), r.message)).as_str(),
                    ));
                    if tag == "failure" {
                        el.push_attribute(("type", r.level.as_str()));
                    }
                    if tag == "skipped" {
                        let _ = w.write_event(Event::Empty(el));
                    } else {
                        let _ = w.write_event(Event::Start(el));
                        let _ = w.write_event(Event::Text(BytesText::new(&body)));
                        let _ = w.write_event(Event::End(BytesEnd::new(tag)));
                    }
                    let _ = w.write_event(Event::End(BytesEnd::new("testcase")));
                }
            }
        }
        let _ = w.write_event(Event::End(BytesEnd::new("testsuite")));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("testsuites")));
    let mut xml = String::from_utf8(w.into_inner()).unwrap_or_default();
    xml.push('\n');
    xml
}

fn detail(r: &super::CaseRecord) -> String {
    let mut s = format!(
        "{} [{}] {}\n{}\n",
        r.key(),
        r.requirements.join(", "),
        r.level,
        r.message
    );
    if let Some(e) = &r.expected {
        s.push_str(&format!("expected: {e}\n"));
    }
    if let Some(a) = &r.actual {
        s.push_str(&format!("actual: {a}\n"));
    }
    for line in &r.transcript {
        s.push_str(line);
        s.push('\n');
    }
    xml_chars(&s)
}

/// `text` with the characters XML 1.0 cannot carry at all, even escaped (most control
/// characters, U+FFFE, U+FFFF), written as `\u{..}`: messages quote server strings,
/// and one such character makes strict JUnit readers reject the whole file.
pub(crate) fn xml_chars(text: &str) -> String {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}'
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if allowed(c) {
            out.push(c);
        } else {
            out.push_str(&c.escape_unicode().to_string());
        }
    }
    out
}
