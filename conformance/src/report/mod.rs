//! Run reports: the data model and its renderings (human, JSON, JUnit).
//!
//! Case records hold only deterministic data; timings and versions live outside them,
//! so two runs against the same server give the same `results`.

pub mod human;
pub mod junit;

use crate::case::{Case, Verdict, VerdictKind};
use crate::spec::{Level, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdict of one case as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    Warn,
    Info,
    Untestable,
    NotApplicable,
    HarnessError,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Warn,
        Outcome::Info,
        Outcome::Untestable,
        Outcome::NotApplicable,
        Outcome::HarnessError,
    ];

    /// Map a case verdict to an outcome: violations take their severity from the level
    /// (the case's, or the violated part's for mixed-level requirements).
    pub fn from_verdict(case_level: Level, verdict: &Verdict) -> Outcome {
        match verdict.kind {
            VerdictKind::Pass => Outcome::Pass,
            VerdictKind::Untestable => Outcome::Untestable,
            VerdictKind::NotApplicable => Outcome::NotApplicable,
            VerdictKind::HarnessError => Outcome::HarnessError,
            VerdictKind::Violation => match verdict.level.unwrap_or(case_level).severity() {
                Severity::Failure => Outcome::Fail,
                Severity::Warning => Outcome::Warn,
                Severity::Info => Outcome::Info,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Info => "info",
            Outcome::Untestable => "untestable",
            Outcome::NotApplicable => "not-applicable",
            Outcome::HarnessError => "harness-error",
        }
    }
}

/// One case's result. Everything here is deterministic for a deterministic server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: String,
    pub title: String,
    pub requirements: Vec<String>,
    #[serde(deserialize_with = "level_from_str")]
    pub level: Level,
    pub outcome: Outcome,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Last lines of the wire transcript, for failures, warnings and harness errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<String>,
    /// Only in a report of both HTTP transports of one server (`--url` with `--sse`):
    /// the transport this record ran over (`streamable-http` or `sse`), since the same
    /// case id can run over each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
}

/// Transcript lines with the time of each (milliseconds since its process started).
pub type TimedLines = Vec<(Option<std::time::Duration>, String)>;

impl CaseRecord {
    /// The record, plus the times of its transcript lines (kept out of the record so
    /// that it stays deterministic).
    pub fn new(case: &Case, verdict: Verdict, transcript: TimedLines) -> (Self, Vec<Option<u64>>) {
        let outcome = Outcome::from_verdict(case.level, &verdict);
        let keep_transcript = matches!(
            outcome,
            Outcome::Fail | Outcome::Warn | Outcome::HarnessError
        );
        let (times, transcript): (Vec<Option<u64>>, Vec<String>) = if keep_transcript {
            transcript
                .into_iter()
                .map(|(at, line)| (at.map(|d| d.as_millis() as u64), line))
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let record = CaseRecord {
            id: case.id.to_string(),
            title: case.title.to_string(),
            requirements: case.requirements.iter().map(|r| r.to_string()).collect(),
            level: verdict.level.unwrap_or(case.level),
            outcome,
            message: verdict.message,
            expected: verdict.expected,
            actual: verdict.actual,
            transcript,
            transport: None,
        };
        (record, times)
    }

    /// The record's key in `timings`: its id, prefixed `<transport>:` in a report of
    /// two transports.
    pub fn key(&self) -> String {
        match &self.transport {
            Some(t) => format!("{t}:{}", self.id),
            None => self.id.clone(),
        }
    }

    /// The group the record is shown under: its spec page (the id up to the last
    /// `/`), prefixed `<transport>:` in a report of two transports.
    pub fn group(&self) -> String {
        let page = self.id.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        match &self.transport {
            Some(t) => format!("{t}:{page}"),
            None => page.to_string(),
        }
    }

    /// The behaviour part of the id (after the last `/`).
    pub fn behaviour(&self) -> &str {
        self.id.rsplit_once('/').map(|(_, b)| b).unwrap_or(&self.id)
    }
}

/// Counts per outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub info: usize,
    pub untestable: usize,
    #[serde(rename = "not-applicable")]
    pub not_applicable: usize,
    #[serde(rename = "harness-error")]
    pub harness_error: usize,
    /// Untestable cases whose requirement is a MUST/MUST NOT: never silently green.
    pub untestable_must: usize,
}

impl Summary {
    pub fn of(results: &[CaseRecord]) -> Self {
        let mut s = Summary {
            total: results.len(),
            ..Summary::default()
        };
        for r in results {
            match r.outcome {
                Outcome::Pass => s.pass += 1,
                Outcome::Fail => s.fail += 1,
                Outcome::Warn => s.warn += 1,
                Outcome::Info => s.info += 1,
                Outcome::Untestable => {
                    s.untestable += 1;
                    if r.level.severity() == Severity::Failure {
                        s.untestable_must += 1;
                    }
                }
                Outcome::NotApplicable => s.not_applicable += 1,
                Outcome::HarnessError => s.harness_error += 1,
            }
        }
        s
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        match outcome {
            Outcome::Pass => self.pass,
            Outcome::Fail => self.fail,
            Outcome::Warn => self.warn,
            Outcome::Info => self.info,
            Outcome::Untestable => self.untestable,
            Outcome::NotApplicable => self.not_applicable,
            Outcome::HarnessError => self.harness_error,
        }
    }
}

/// What was tested.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    pub transport: &'static str,
    pub command: String,
    /// Revision the user asked to certify against.
    pub requested_revision: String,
    /// Revision the server agreed to in `initialize`.
    pub negotiated_revision: String,
    pub server_name: Option<String>,
    pub server_version: Option<String>,
}

/// Non-deterministic facts, kept apart from the case records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timings {
    /// Seconds since the Unix epoch when the run started.
    pub started_at_unix: u64,
    pub duration_ms: u64,
    /// Wall time per case id (per `<transport>:<id>` in a report of two transports,
    /// see [`CaseRecord::key`]).
    pub cases_ms: BTreeMap<String, u64>,
    /// Per case id (or record key): the time of each transcript line in its record (ms since that
    /// server process started; null for separators).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transcript_ms: BTreeMap<String, Vec<Option<u64>>>,
}

/// The whole report. JSON schema version 1 (see README "JSON report"). It reads back
/// (from a `'static` text, as its tool and transport names are static) for tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "'de: 'static"))]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub subject: Subject,
    pub results: Vec<CaseRecord>,
    pub summary: Summary,
    pub timings: Timings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Tool {
    pub fn this() -> Self {
        Tool {
            name: "mcpspec",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

impl Report {
    /// Exit status of `mcpspec check`: 1 when a MUST failed (or, strict, a SHOULD
    /// warned), else 0.
    pub fn exit_code(&self, strict: bool) -> i32 {
        if self.summary.fail > 0 || (strict && self.summary.warn > 0) {
            1
        } else {
            0
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A level as the report writes it (`"MUST NOT"`).
fn level_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    let text = String::deserialize(d)?;
    [
        Level::Must,
        Level::MustNot,
        Level::Should,
        Level::ShouldNot,
        Level::May,
    ]
    .into_iter()
    .find(|l| l.as_str() == text)
    .ok_or_else(|| serde::de::Error::custom(format!("unknown level {text:?}")))
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
}

pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => report.to_json() + "\n",
        Format::Junit => junit::render(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_level_of_the_violated_part() {
        let v = Verdict::violation("x");
        assert_eq!(Outcome::from_verdict(Level::Must, &v), Outcome::Fail);
        assert_eq!(Outcome::from_verdict(Level::Should, &v), Outcome::Warn);
        assert_eq!(Outcome::from_verdict(Level::May, &v), Outcome::Info);
        let partial = Verdict::violation("x").at_level(Level::Should);
        assert_eq!(Outcome::from_verdict(Level::Must, &partial), Outcome::Warn);
        assert_eq!(
            Outcome::from_verdict(Level::Must, &Verdict::untestable("x")),
            Outcome::Untestable
        );
    }
}
