//! Spec vocabulary: protocol revisions, requirement levels, transports.
//!
//! Severity is derived from the level here and nowhere else.

use serde::Serialize;
use std::fmt;

/// A protocol revision of the MCP specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
    Draft,
}

impl Revision {
    pub const ALL: [Revision; 6] = [
        Revision::V2024_11_05,
        Revision::V2025_03_26,
        Revision::V2025_06_18,
        Revision::V2025_11_25,
        Revision::V2026_07_28,
        Revision::Draft,
    ];

    /// Revisions whose sessions open with `initialize`.
    pub const SESSION_ERA: [Revision; 4] = [
        Revision::V2024_11_05,
        Revision::V2025_03_26,
        Revision::V2025_06_18,
        Revision::V2025_11_25,
    ];

    /// The newest revision that `check` certifies against by default.
    pub const LATEST_SESSION: Revision = Revision::V2025_11_25;

    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2024_11_05 => "2024-11-05",
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
            Revision::Draft => "draft",
        }
    }

    pub fn parse(s: &str) -> Option<Revision> {
        Revision::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn is_session_era(self) -> bool {
        self <= Revision::V2025_11_25
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Revision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An inclusive range of revisions a case applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revisions {
    pub first: Revision,
    pub last: Revision,
}

impl Revisions {
    /// Every session-era revision (what the catalogue calls `all` for legacy checks).
    pub const SESSION_ERA: Revisions =
        Revisions::range(Revision::V2024_11_05, Revision::V2025_11_25);
    pub const ALL: Revisions = Revisions::range(Revision::V2024_11_05, Revision::Draft);

    pub const fn range(first: Revision, last: Revision) -> Self {
        Revisions { first, last }
    }

    /// `first` and every later session-era revision.
    pub const fn since(first: Revision) -> Self {
        Revisions::range(first, Revision::V2025_11_25)
    }

    pub const fn only(revision: Revision) -> Self {
        Revisions::range(revision, revision)
    }

    pub fn contains(&self, r: Revision) -> bool {
        self.first <= r && r <= self.last
    }
}

impl fmt::Display for Revisions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

/// Requirement level in the RFC 2119 sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Must,
    MustNot,
    Should,
    ShouldNot,
    May,
}

/// What a violation of a requirement means for the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A broken MUST: the case fails and the run exits 1.
    Failure,
    /// A broken SHOULD: a warning (an error only with `--strict`).
    Warning,
    /// A MAY: feature detection, never a problem.
    Info,
}

impl Level {
    /// The one place where a level becomes a severity.
    pub fn severity(self) -> Severity {
        match self {
            Level::Must | Level::MustNot => Severity::Failure,
            Level::Should | Level::ShouldNot => Severity::Warning,
            Level::May => Severity::Info,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::MustNot => "MUST NOT",
            Level::Should => "SHOULD",
            Level::ShouldNot => "SHOULD NOT",
            Level::May => "MAY",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Stdio,
    StreamableHttp,
    LegacySse,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Stdio => "stdio",
            Transport::StreamableHttp => "streamable-http",
            Transport::LegacySse => "sse",
        }
    }
}

impl Serialize for Transport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Transport sets used by case declarations.
pub const STDIO: &[Transport] = &[Transport::Stdio];
pub const ANY_TRANSPORT: &[Transport] = &[
    Transport::Stdio,
    Transport::StreamableHttp,
    Transport::LegacySse,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_parse_and_order() {
        for r in Revision::ALL {
            assert_eq!(Revision::parse(r.as_str()), Some(r));
        }
        assert!(Revision::V2024_11_05 < Revision::V2025_11_25);
        assert!(Revisions::since(Revision::V2025_06_18).contains(Revision::V2025_11_25));
        assert!(!Revisions::since(Revision::V2025_06_18).contains(Revision::V2025_03_26));
        assert!(!Revisions::SESSION_ERA.contains(Revision::V2026_07_28));
    }

    #[test]
    fn severity_follows_level() {
        assert_eq!(Level::MustNot.severity(), Severity::Failure);
        assert_eq!(Level::ShouldNot.severity(), Severity::Warning);
        assert_eq!(Level::May.severity(), Severity::Info);
    }
}
