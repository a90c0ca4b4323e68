//! The fuzz report: data model and its renderings (human, JSON, JUnit).
//!
//! Finding records hold only what describes the finding; counts and timings live in
//! `stats` and `timings` so that reports of two runs compare finding by finding.

use crate::report::junit::xml_chars;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    pub transport: &'static str,
    pub command: String,
    /// What follows `mcpspec replay FILE` to reach the same server (human report only).
    #[serde(skip)]
    pub replay_args: String,
    pub protocol_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Failure,
    Warning,
}

/// One deduplicated finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRecord {
    pub oracle: String,
    pub severity: Severity,
    /// Deduplication key: oracle plus what broke (e.g. `hang completion/complete`).
    pub signature: String,
    pub description: String,
    /// The reproducer file, when it could be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproducer: Option<String>,
    /// The oracle fired again on the saved steps in a fresh process.
    pub reproduced: bool,
    /// Steps in the saved reproducer (after minimisation).
    pub steps: usize,
    /// Times the steps run in one process.
    pub repeat: u32,
    /// Minimisation stopped at its time limit: the reproducer may hold more steps
    /// than the finding needs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub minimisation_cut_short: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub failures: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Inputs run.
    pub execs: u64,
    /// Messages written (input steps, liveness pings and probes).
    pub messages: u64,
    /// Server processes started after the first.
    pub restarts: u64,
    pub corpus_size: usize,
    /// Distinct response and output features seen.
    pub features: usize,
    pub seeds: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub started_at_unix: u64,
    pub duration_ms: u64,
    pub execs_per_sec: f64,
    pub messages_per_sec: f64,
    /// Milliseconds from the start of fuzzing to each finding, by signature.
    pub first_found_ms: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FuzzReport {
    pub schema_version: u32,
    pub tool: Tool,
    pub subject: Subject,
    pub seed: u64,
    pub findings: Vec<FindingRecord>,
    pub summary: Summary,
    pub stats: Stats,
    pub timings: Timings,
}

impl FuzzReport {
    pub fn exit_code(&self, strict: bool) -> i32 {
        if self.summary.failures > 0 || (strict && self.summary.warnings > 0) {
            1
        } else {
            0
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn human(&self, color: bool) -> String {
        let (red, yellow, green, reset) = if color {
            ("\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = String::new();
        let s = &self.stats;
        let t = &self.timings;
        out.push_str(&format!(
            "mcpspec fuzz: {} ({}){}\n",
            self.subject.command,
            self.subject.transport,
            self.subject
                .server_name
                .as_ref()
                .map(|n| format!(
                    ", server {n} {}",
                    self.subject.server_version.as_deref().unwrap_or("")
                ))
                .unwrap_or_default()
        ));
        out.push_str(&format!(
            "seed {}, {:.1} s, {} inputs ({:.0}/s), {} messages ({:.0}/s), corpus {}, {} restarts\n",
            self.seed,
            t.duration_ms as f64 / 1000.0,
            s.execs,
            t.execs_per_sec,
            s.messages,
            t.messages_per_sec,
            s.corpus_size,
            s.restarts
        ));
        if self.findings.is_empty() {
            out.push_str(&format!("{green}no findings{reset}\n"));
            return out;
        }
        for f in &self.findings {
            let (tag, c) = match f.severity {
                Severity::Failure => ("FAIL", red),
                Severity::Warning => ("WARN", yellow),
            };
            out.push_str(&format!(
                "{c}{tag}{reset} {:<18} {}\n",
                f.oracle, f.description
            ));
            let confirmed = if f.reproduced && f.minimisation_cut_short {
                format!(
                    "{} step(s), minimisation cut short by the time limit",
                    f.steps
                )
            } else if f.reproduced {
                format!("{} step(s)", f.steps)
            } else {
                "did not fire again in a fresh process".to_string()
            };
            let repeat = if f.repeat > 1 {
                format!(" × {}", f.repeat)
            } else {
                String::new()
            };
            match &f.reproducer {
                Some(path) => out.push_str(&format!(
                    "     reproducer: {path} ({confirmed}{repeat}); replay: mcpspec replay {path} {}\n",
                    self.subject.replay_args
                )),
                None => out.push_str("     (the reproducer could not be written)\n"),
            }
        }
        out.push_str(&format!(
            "{} finding(s): {} failure(s), {} warning(s)\n",
            self.findings.len(),
            self.summary.failures,
            self.summary.warnings
        ));
        out
    }

    /// JUnit XML: one testcase per oracle; each finding is a failure of its oracle.
    pub fn junit(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        let failures = self
            .findings
            .iter()
            .map(|f| f.oracle.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let oracles = super::oracles::ORACLES;
        let mut suites = BytesStart::new("testsuites");
        suites.push_attribute(("name", "mcpspec fuzz"));
        suites.push_attribute(("tests", oracles.len().to_string().as_str()));
        suites.push_attribute(("failures", failures.to_string().as_str()));
        suites.push_attribute(("errors", "0"));
        let _ = w.write_event(Event::Start(suites));
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", "fuzz"));
        suite.push_attribute(("tests", oracles.len().to_string().as_str()));
        suite.push_attribute(("failures", failures.to_string().as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute((
            "time",
            format!("{:.3}", self.timings.duration_ms as f64 / 1000.0).as_str(),
        ));
        let _ = w.write_event(Event::Start(suite));
        for (name, _, meaning) in oracles {
            let found: Vec<&FindingRecord> =
                self.findings.iter().filter(|f| f.oracle == *name).collect();
            let mut tc = BytesStart::new("testcase");
            tc.push_attribute(("classname", "fuzz"));
            tc.push_attribute(("name", *name));
            if found.is_empty() {
                let _ = w.write_event(Event::Empty(tc));
                continue;
            }
            let _ = w.write_event(Event::Start(tc));
            let mut failure = BytesStart::new("failure");
            let message = found
                .iter()
                .map(|f| f.description.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            // Descriptions quote server bytes; XML 1.0 cannot carry some of them at all.
            let message = xml_chars(&crate::util::clip(&message, 500));
            failure.push_attribute(("message", message.as_str()));
            let kind = if found.iter().all(|f| f.severity == Severity::Warning) {
                "warning"
            } else {
                "failure"
            };
            failure.push_attribute(("type", kind));
            let _ = w.write_event(Event::Start(failure));
            let mut body = format!("{meaning}\n");
            for f in &found {
                body.push_str(&format!(
                    "\n{}\n  reproducer: {}\n",
                    f.description,
                    f.reproducer.as_deref().unwrap_or("(not written)")
                ));
            }
            let _ = w.write_event(Event::Text(BytesText::new(&xml_chars(&body))));
            let _ = w.write_event(Event::End(BytesEnd::new("failure")));
            let _ = w.write_event(Event::End(BytesEnd::new("testcase")));
        }
        let _ = w.write_event(Event::End(BytesEnd::new("testsuite")));
        let _ = w.write_event(Event::End(BytesEnd::new("testsuites")));
        let mut s = String::from_utf8(w.into_inner()).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(findings: Vec<FindingRecord>) -> FuzzReport {
        let failures = findings
            .iter()
            .filter(|f| f.severity == Severity::Failure)
            .count();
        FuzzReport {
            schema_version: 1,
            tool: Tool {
                name: "mcpspec",
                version: "0",
            },
            subject: Subject {
                transport: "stdio",
                command: "srv".into(),
                replay_args: "-- srv".into(),
                protocol_version: "2025-11-25".into(),
                server_name: None,
                server_version: None,
            },
            seed: 1,
            summary: Summary {
                failures,
                warnings: findings.len() - failures,
            },
            findings,
            stats: Stats::default(),
            timings: Timings::default(),
        }
    }

    fn finding(oracle: &str, severity: Severity) -> FindingRecord {
        FindingRecord {
            oracle: oracle.into(),
            severity,
            signature: oracle.into(),
            description: format!("{oracle} <happened> & more"),
            reproducer: Some(format!("findings/{oracle}-00000000.json")),
            reproduced: true,
            steps: 1,
            repeat: 1,
            minimisation_cut_short: false,
        }
    }

    #[test]
    fn exit_codes_follow_severity() {
        assert_eq!(report(vec![]).exit_code(true), 0);
        let warn = report(vec![finding("stderr-panic", Severity::Warning)]);
        assert_eq!(warn.exit_code(false), 0);
        assert_eq!(warn.exit_code(true), 1);
        assert_eq!(
            report(vec![finding("crash", Severity::Failure)]).exit_code(false),
            1
        );
    }

    #[test]
    fn junit_carries_no_character_xml_forbids() {
        let mut f = finding("framing", Severity::Failure);
        f.description = "server wrote \u{0}\u{1b}[31m and \u{fffe}".into();
        let xml = report(vec![f]).junit();
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}') && !xml.contains('\u{fffe}'));
        assert!(xml.contains("\\u{0}"), "{xml}");
    }

    #[test]
    fn renderings_mention_every_finding() {
        let r = report(vec![
            finding("crash", Severity::Failure),
            finding("stderr-panic", Severity::Warning),
        ]);
        let human = r.human(false);
        assert!(human.contains("FAIL crash"), "{human}");
        assert!(human.contains("mcpspec replay findings/crash-00000000.json -- srv"));
        let xml = r.junit();
        assert!(xml.contains("name=\"crash\""));
        assert!(xml.contains("&lt;happened&gt; &amp; more"), "{xml}");
        assert!(xml.contains("failures=\"2\""));
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["findings"][1]["severity"], "warning");
        assert_eq!(json["summary"]["failures"], 1);
    }
}
