//! The terminal report: a tree by spec page, then every failure again in full.

use super::{CaseRecord, Outcome, Report};

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn outcome(&self, outcome: Outcome) -> String {
        let (code, label) = match outcome {
            Outcome::Pass => ("32", "PASS"),
            Outcome::Fail => ("1;31", "FAIL"),
            Outcome::Warn => ("33", "WARN"),
            Outcome::Info => ("36", "INFO"),
            Outcome::Untestable => ("35", "UNTESTABLE"),
            Outcome::NotApplicable => ("2", "N/A"),
            Outcome::HarnessError => ("1;35", "HARNESS-ERROR"),
        };
        self.paint(code, &format!("{label:<13}"))
    }
}

pub fn render(report: &Report, color: bool) -> String {
    let style = Style { color };
    let mut out = String::new();
    let s = &report.subject;
    out.push_str(&format!(
        "mcpspec {} · {} · {}\n",
        report.tool.version, s.transport, s.command
    ));
    out.push_str(&format!(
        "server: {} {} · revision requested {} · negotiated {}\n\n",
        s.server_name.as_deref().unwrap_or("(unnamed)"),
        s.server_version.as_deref().unwrap_or(""),
        s.requested_revision,
        s.negotiated_revision
    ));

    let mut page = String::new();
    for r in &report.results {
        let this_page = r.group();
        if this_page != page {
            out.push_str(&style.paint("1", &this_page));
            out.push('\n');
            page = this_page;
        }
        out.push_str(&format!(
            "  {} {:<40} {} {}\n",
            style.outcome(r.outcome),
            r.behaviour(),
            style.paint("2", &r.requirements.join(",")),
            style.paint("2", r.level.as_str()),
        ));
        if !matches!(r.outcome, Outcome::Pass | Outcome::Fail | Outcome::Warn) {
            out.push_str(&format!("      {}\n", r.message));
        }
    }

    let problems: Vec<&CaseRecord> = report
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Fail | Outcome::Warn | Outcome::HarnessError
            )
        })
        .collect();
    if !problems.is_empty() {
        out.push_str(&format!("\n{}\n", style.paint("1", "Problems")));
        for r in problems {
            out.push_str(&format!(
                "\n{} {} [{}] {}\n",
                style.outcome(r.outcome),
                r.key(),
                r.requirements.join(", "),
                r.level
            ));
            out.push_str(&format!("  {}\n", r.message));
            if let Some(e) = &r.expected {
                out.push_str(&format!("  expected: {e}\n"));
            }
            if let Some(a) = &r.actual {
                out.push_str(&format!("  actual:   {a}\n"));
            }
            if !r.transcript.is_empty() {
                out.push_str("  transcript (>> sent, << received, !! stderr, -- event):\n");
                let times = report.timings.transcript_ms.get(&r.key());
                for (i, line) in r.transcript.iter().enumerate() {
                    match times.and_then(|t| t.get(i).copied().flatten()) {
                        Some(ms) => {
                            out.push_str(&format!("    {:>8.3}s {line}\n", ms as f64 / 1000.0))
                        }
                        None => out.push_str(&format!("              {line}\n")),
                    }
                }
            }
        }
    }

    let sum = &report.summary;
    let counts: Vec<String> = Outcome::ALL
        .iter()
        .filter(|o| sum.count(**o) > 0)
        .map(|o| format!("{} {}", sum.count(*o), o.as_str()))
        .collect();
    out.push_str(&format!(
        "\n{} cases: {} ({:.1} s)\n",
        sum.total,
        counts.join(", "),
        report.timings.duration_ms as f64 / 1000.0
    ));
    if sum.untestable_must > 0 {
        out.push_str(&format!(
            "{} MUST requirement(s) could not be tested: see the UNTESTABLE lines above.\n",
            sum.untestable_must
        ));
    }
    out
}
