//! Oracles: what counts as a bug, judged only from outside the server.
//!
//! Each oracle has a stable name (used in file names, reports and signatures) and is
//! proven by a fixture fault in `tests/it/fuzz.rs`.

use super::exec::{Observation, Ping, RssHistory, Settled};
use super::program::id_token;
use crate::traffic::Inbound;
use crate::validate::validate_inbound;
use mcpspec_harness::{escape_bytes, FrameError};
use serde_json::Value;

/// Every oracle: name, whether it is only a warning, what it means.
pub const ORACLES: &[(&str, bool, &str)] = &[
    ("crash", false, "the process exited, was killed by a signal, or closed stdout while it should be serving"),
    ("hang", false, "a request stayed unanswered past the deadline while the process answered pings; sent again alone it was not answered either"),
    ("liveness", false, "the server stopped answering the ping sent after an input, or stopped reading stdin, while the process lived"),
    ("framing", false, "a stdout line was not exactly one JSON value (broken, merged, split, multi-line, empty or invalid UTF-8 lines); over HTTP, a broken SSE stream or answer body"),
    ("stdout-pollution", false, "a stdout line was plain text or JSON that is not a JSON-RPC message"),
    ("http-pollution", false, "over Streamable HTTP, an SSE event's data or a JSON answer body was plain text or JSON that is not a JSON-RPC message"),
    ("lost-response", false, "a request was never answered although the same request sent again alone was answered"),
    ("duplicate-response", false, "a request was answered more than once"),
    ("mismatched-id", false, "a response carried an id that was never sent, or the content of another request, or corrupted echoed text"),
    ("invalid-message", false, "a message broke the JSON-RPC envelope: jsonrpc member, result xor error, integer error code, object result"),
    ("memory", false, "resident memory passed --max-rss-mb, or grew steadily by more than --rss-growth-mb over --rss-window inputs"),
    ("stderr-panic", true, "stderr showed a panic, traceback or unhandled-error pattern (a warning)"),
];

pub fn is_warning(oracle: &str) -> bool {
    ORACLES.iter().any(|(n, w, _)| *n == oracle && *w)
}

/// One oracle firing on one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub oracle: &'static str,
    /// Deduplication key: the oracle name plus what kind of thing broke.
    pub signature: String,
    /// One line for humans.
    pub description: String,
}

impl Firing {
    fn new(oracle: &'static str, detail: &str, description: String) -> Self {
        let signature = if detail.is_empty() {
            oracle.to_string()
        } else {
            format!("{oracle} {detail}")
        };
        Firing {
            oracle,
            signature,
            description,
        }
    }

    pub fn is_warning(&self) -> bool {
        is_warning(self.oracle)
    }
}

/// Bounds of the memory oracle.
#[derive(Debug, Clone)]
pub struct MemoryLimits {
    pub max_rss_kb: u64,
    pub growth_kb: u64,
    pub window: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        MemoryLimits {
            max_rss_kb: 1024 * 1024,
            growth_kb: 64 * 1024,
            window: 200,
        }
    }
}

/// Patterns on stderr that show an unhandled error.
pub const PANIC_PATTERNS: &[&str] = &[
    "panicked at",
    "Traceback (most recent call last)",
    "Unhandled",
    "Uncaught",
    "panic: ",
    "Segmentation fault",
    "AddressSanitizer",
    "FATAL ERROR",
    "fatal error:",
];

/// Judge one input. Consequences of a bigger failure are left out: after a crash,
/// unanswered requests and a missing ping say nothing more.
pub fn judge(obs: &Observation, rss: &RssHistory, memory: &MemoryLimits) -> Vec<Firing> {
    let mut out = Vec::new();
    let last = obs.last_method().unwrap_or("(no request)").to_string();

    // crash
    let signalled_after_close = obs.closed_stdin && obs.exit.is_some_and(|e| e.signal.is_some());
    let died = !obs.closed_stdin
        && (obs.exit.is_some()
            || obs.stdout_closed
            || obs.write_failed
            || obs.ping == Ping::Closed);
    let crashed = died || signalled_after_close;
    if crashed {
        let (detail, what) = match obs.exit {
            Some(e) => (
                match (e.code, e.signal) {
                    (Some(c), _) => format!("exit-{c}"),
                    (None, Some(s)) => format!("signal-{s}"),
                    _ => "ended".into(),
                },
                format!("the server ended ({e})"),
            ),
            None => (
                "stdout-closed".into(),
                "the server closed stdout but kept running".into(),
            ),
        };
        let when = if signalled_after_close {
            "after stdin was closed".to_string()
        } else {
            format!("while serving (last request of the input: {last})")
        };
        out.push(Firing::new("crash", &detail, format!("{what} {when}")));
    }

    // liveness
    let stopped = !crashed && (obs.ping == Ping::Unanswered || obs.write_blocked);
    if stopped {
        let description = if obs.write_blocked {
            "the server stopped reading stdin: a write blocked past the deadline while the process lived".to_string()
        } else {
            format!("the ping sent after the input got no answer while the process lived (input ended with {last})")
        };
        out.push(Firing::new("liveness", "", description));
    }

    // hang and lost-response
    if !crashed && !stopped {
        for r in &obs.requests {
            let id = &r.info.id;
            match &r.settled {
                Settled::Lost { probe } => {
                    let how = match r.info.delivery {
                        "split" => "delivered in several writes",
                        "shared-write" if obs.http => "posted together with other messages",
                        "shared-write" => "delivered in one write with other messages",
                        "dropped-stream" => {
                            "its SSE answer dropped after the first event and resumed with Last-Event-ID"
                        }
                        "second-session" => "sent in a second session",
                        _ => "delivered whole",
                    };
                    out.push(Firing::new(
                        "lost-response",
                        r.info.delivery,
                        format!(
                            "request {} (id {id}, {how}) was never answered, yet the same request sent again alone was answered in {} ms",
                            r.info.method,
                            probe.as_millis()
                        ),
                    ))
                }
                Settled::Hang | Settled::KnownHang => {
                    // Members beyond jsonrpc/id/method/params are allowed, but a server
                    // that chokes on them drops every such request, whatever its method;
                    // so does one with a line limit every long line.
                    let extra = &r.info.extra_members;
                    let detail = r.info.hang_cause().unwrap_or(&r.info.method);
                    let size = if !extra.is_empty() {
                        format!(" (with the extra top-level member {:?})", extra[0])
                    } else if r.info.oversize {
                        " (a line of 64 KiB or more)".to_string()
                    } else {
                        String::new()
                    };
                    out.push(Firing::new(
                        "hang",
                        detail,
                        format!(
                            "request {} (id {id}){size} was never answered although the server kept answering pings",
                            r.info.method
                        ),
                    ))
                }
                _ => {}
            }
        }
    }

    if !crashed && !stopped && obs.ping == Ping::FirstLost {
        out.push(Firing::new(
            "lost-response",
            "ping",
            "the ping sent after the input was never answered, yet a second ping was".into(),
        ));
    }

    // duplicate-response
    for (key, method) in &obs.duplicates {
        let method = if method.is_empty() {
            "a request"
        } else {
            method
        };
        out.push(Firing::new(
            "duplicate-response",
            "",
            format!("{method} (id {key}) was answered more than once"),
        ));
    }

    // mismatched-id
    for id in &obs.unknown_ids {
        out.push(Firing::new(
            "mismatched-id",
            "unknown-id",
            format!(
                "a response carried id {}, which was never sent {}",
                crate::util::clip(&id.to_string(), 80),
                if obs.http {
                    "in the session it came in"
                } else {
                    "to this server"
                }
            ),
        ));
    }
    for e in &obs.events {
        let Inbound::Response(v) = e else { continue };
        let Some(own) = v.get("id").and_then(id_token) else {
            continue;
        };
        let found = super::exec::markers_of(v);
        for (token, payload) in found {
            if token != own {
                out.push(Firing::new(
                    "mismatched-id",
                    "swapped-content",
                    format!("the response with id {own} carries the content of request {token}"),
                ));
            } else if let Some(sent) = obs.markers.get(&token) {
                if payload != *sent && payload.contains('\u{FFFD}') && !sent.contains('\u{FFFD}') {
                    let (got, wanted) = first_difference(&payload, sent);
                    out.push(Firing::new(
                        "mismatched-id",
                        "corrupted-content",
                        format!(
                            "the response to request {own} echoes {got:?} where {wanted:?} was sent (characters replaced by U+FFFD)"
                        ),
                    ));
                }
            }
        }
    }

    // invalid-message
    for e in &obs.events {
        for problem in validate_inbound(e) {
            let what = match e {
                Inbound::Response(v) => v
                    .get("id")
                    .map(|id| format!("response to id {id}"))
                    .unwrap_or_else(|| "response".into()),
                other => other.method().unwrap_or("message").to_string(),
            };
            out.push(Firing::new(
                "invalid-message",
                problem.rule,
                format!("{what}: {}", problem.detail),
            ));
        }
    }

    // framing and stdout-pollution (over HTTP, http-pollution: the messages came in
    // SSE events and answer bodies, not lines)
    let pollution = if obs.http {
        "http-pollution"
    } else {
        "stdout-pollution"
    };
    for e in &obs.events {
        match e {
            // A stream or body that broke when the server died is the crash's doing.
            Inbound::Invalid { .. } if crashed && obs.http => {}
            Inbound::Invalid { error, raw } => {
                let text = escape_bytes(raw, 120);
                // Over HTTP a problem without bytes is a broken stream, not text.
                if is_plain_text(error, raw) && !(obs.http && raw.is_empty()) {
                    let description = if obs.http {
                        format!("plain text where a JSON-RPC message was due ({error}): {text}")
                    } else {
                        format!("a plain text line on stdout: {text}")
                    };
                    out.push(Firing::new(pollution, "text", description));
                } else {
                    if crashed && matches!(error, FrameError::PartialAtEof { .. }) {
                        continue;
                    }
                    out.push(Firing::new(
                        "framing",
                        frame_error_kind(error),
                        format!("{error}: {text}"),
                    ));
                }
            }
            Inbound::Unclassifiable(v) => out.push(Firing::new(
                pollution,
                "not-json-rpc",
                format!(
                    "a JSON value {} that is not a JSON-RPC message: {}",
                    if obs.http {
                        "in an SSE event or answer body"
                    } else {
                        "on stdout"
                    },
                    crate::util::clip(&v.to_string(), 120)
                ),
            )),
            _ => {}
        }
    }
    if out.iter().any(|f| f.oracle == "framing") {
        // Fragments of a broken line look like text, and answers inside broken lines
        // look lost: the framing finding covers both.
        out.retain(|f| f.oracle != pollution && f.oracle != "lost-response");
    }

    // memory
    if let Some(kb) = obs.rss_kb {
        if kb > memory.max_rss_kb {
            out.push(Firing::new(
                "memory",
                "limit",
                format!(
                    "resident memory reached {} MiB, over the {} MiB limit",
                    kb / 1024,
                    memory.max_rss_kb / 1024
                ),
            ));
        } else if let Some(growth) = steady_growth(rss, memory.window) {
            if growth > memory.growth_kb {
                out.push(Firing::new(
                    "memory",
                    "growth",
                    format!(
                        "resident memory grew steadily by {} MiB over the last {} inputs",
                        growth / 1024,
                        memory.window
                    ),
                ));
            }
        }
    }

    // stderr-panic (warning)
    if let Some((pattern, line)) = panic_line(&obs.stderr) {
        let kind = pattern
            .split(" (")
            .next()
            .unwrap_or(pattern)
            .trim()
            .to_lowercase()
            .replace(' ', "-");
        let detail = match error_type(&line) {
            "" => kind,
            t => format!("{kind} {t}"),
        };
        out.push(Firing::new(
            "stderr-panic",
            &detail,
            format!("stderr: {line}"),
        ));
    }

    // One firing per signature per input.
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert(f.signature.clone()));
    out
}

/// Short excerpts of `a` and `b` around their first differing character.
pub fn first_difference(a: &str, b: &str) -> (String, String) {
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let start = common.saturating_sub(3);
    let excerpt = |s: &str| s.chars().skip(start).take(12).collect::<String>();
    (excerpt(a), excerpt(b))
}

/// A `NotJson` line that does not even start like JSON is text someone printed.
fn is_plain_text(error: &FrameError, raw: &[u8]) -> bool {
    if !matches!(error, FrameError::NotJson { .. }) {
        return false;
    }
    let first = raw.iter().find(|b| !b.is_ascii_whitespace());
    !matches!(first, Some(b'{' | b'[' | b'"')) && !looks_like_fragment(raw)
}

/// The tail of a JSON line cut in two (`...:"x"}}`) is not someone's log line.
fn looks_like_fragment(raw: &[u8]) -> bool {
    let trimmed: Vec<u8> = raw
        .iter()
        .rev()
        .skip_while(|b| b.is_ascii_whitespace())
        .copied()
        .collect();
    matches!(trimmed.first(), Some(b'}' | b']')) && raw.contains(&b'"')
}

fn frame_error_kind(error: &FrameError) -> &'static str {
    match error {
        FrameError::EmptyLine => "empty-line",
        FrameError::InvalidUtf8 { .. } => "invalid-utf8",
        FrameError::NotJson { .. } => "not-json",
        FrameError::TrailingBytes { .. } => "trailing-bytes",
        FrameError::MultiLine { .. } => "multi-line",
        FrameError::Oversize { .. } => "oversize",
        FrameError::PartialAtEof { .. } => "partial-at-eof",
    }
}

/// Growth over the samples that cover the last `window` inputs (at least four
/// samples) when it is steady: every quarter of them averages higher than the one
/// before. Counted in inputs, not samples: a sample follows a batch of up to 16
/// inputs, and a server process seldom lives for hundreds of batches.
pub fn steady_growth(rss: &RssHistory, window: usize) -> Option<u64> {
    let n = rss.samples.len();
    let window = window as u64;
    let (mut covered, mut k) = (0u64, 0usize);
    while k < n && (covered < window || k < 4) {
        covered += rss.inputs.get(n - 1 - k).copied().unwrap_or(1);
        k += 1;
    }
    if covered < window || k < 4 {
        return None;
    }
    let recent: Vec<u64> = rss.samples.iter().skip(n - k).copied().collect();
    let means: Vec<u64> = (0..4)
        .map(|i| {
            let quarter = &recent[i * k / 4..(i + 1) * k / 4];
            quarter.iter().sum::<u64>() / quarter.len().max(1) as u64
        })
        .collect();
    let steady = means.windows(2).all(|w| w[1] > w[0]);
    let growth = recent[k - 1].saturating_sub(recent[0]);
    steady.then_some(growth)
}

/// The first stderr line matching a panic pattern. For a Python traceback, the
/// exception line that ends it (`ValueError: ...`) says more than the header.
pub fn panic_line(stderr: &[u8]) -> Option<(&'static str, String)> {
    if stderr.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(p) = PANIC_PATTERNS.iter().find(|p| line.contains(*p)) else {
            continue;
        };
        if p.starts_with("Traceback") {
            let exception = lines[i + 1..].iter().find(|l| {
                !l.starts_with(char::is_whitespace)
                    && !l.starts_with("Traceback")
                    && l.contains(':')
            });
            if let Some(e) = exception {
                return Some((p, crate::util::clip(e.trim(), 200)));
            }
        }
        return Some((p, crate::util::clip(line.trim(), 200)));
    }
    None
}

/// The exception or error type at the start of a panic line, for signatures:
/// `ValueError: x` → `ValueError`. Empty when the line does not start with one.
fn error_type(line: &str) -> &str {
    let head = line.split(':').next().unwrap_or_default();
    if !head.is_empty()
        && head.len() <= 60
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_')
    {
        head
    } else {
        ""
    }
}

/// Marker tokens, response ids: used by features too.
pub fn response_id(v: &Value) -> Option<&Value> {
    v.get("id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::exec::RequestOutcome;
    use crate::fuzz::program::RequestInfo;
    use mcpspec_harness::ExitInfo;
    use serde_json::json;
    use std::collections::HashMap;
    use std::time::Duration;

    fn obs() -> Observation {
        Observation {
            requests: Vec::new(),
            events: Vec::new(),
            closed_stdin: false,
            exit: None,
            stdout_closed: false,
            ping: Ping::Answered(Duration::from_millis(1)),
            write_blocked: false,
            write_failed: false,
            stderr: Vec::new(),
            rss_kb: None,
            elapsed: Duration::ZERO,
            messages: 1,
            markers: HashMap::new(),
            duplicates: Vec::new(),
            unknown_ids: Vec::new(),
            http: false,
        }
    }

    fn oracles(o: &Observation) -> Vec<&'static str> {
        judge(o, &RssHistory::default(), &MemoryLimits::default())
            .into_iter()
            .map(|f| f.oracle)
            .collect()
    }

    fn request(settled: Settled) -> RequestOutcome {
        RequestOutcome {
            info: RequestInfo {
                step: 0,
                id: json!("fz-000000001"),
                method: "tools/call".into(),
                demanded: true,
                well_formed: true,
                oversize: false,
                cancelled: false,
                shape: "tools/call".into(),
                markers: vec![],
                extra_members: Vec::new(),
                delivery: "whole",
            },
            key: "\"fz-000000001\"".into(),
            settled,
        }
    }

    #[test]
    fn quiet_input_fires_nothing() {
        let mut o = obs();
        o.events.push(Inbound::Response(
            json!({"jsonrpc":"2.0","id":1,"result":{}}),
        ));
        o.requests
            .push(request(Settled::Answered(Duration::from_millis(3))));
        assert!(oracles(&o).is_empty());
    }

    #[test]
    fn crash_hides_its_consequences() {
        let mut o = obs();
        o.exit = Some(ExitInfo {
            code: Some(101),
            signal: None,
        });
        o.ping = Ping::Closed;
        o.requests.push(request(Settled::Unsettled));
        o.events.push(Inbound::Invalid {
            error: FrameError::PartialAtEof { len: 3 },
            raw: b"{\"a".to_vec(),
        });
        let fired = judge(&o, &RssHistory::default(), &MemoryLimits::default());
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].signature, "crash exit-101");
        // Exiting after we closed stdin is normal; a signal is not.
        let mut closed = obs();
        closed.closed_stdin = true;
        closed.exit = Some(ExitInfo {
            code: Some(0),
            signal: None,
        });
        assert!(oracles(&closed).is_empty());
        closed.exit = Some(ExitInfo {
            code: None,
            signal: Some(11),
        });
        assert_eq!(oracles(&closed), vec!["crash"]);
    }

    #[test]
    fn hangs_of_long_lines_and_extra_members_are_one_finding_whatever_the_method() {
        let signature = |method: &str, oversize: bool, extra: &[&str]| {
            let mut r = request(Settled::Hang);
            r.info.method = method.into();
            r.info.shape = method.into();
            r.info.oversize = oversize;
            r.info.extra_members = extra.iter().map(|m| m.to_string()).collect();
            let mut o = obs();
            o.ping = Ping::Answered(Duration::from_millis(1));
            o.requests.push(r);
            let fired = judge(&o, &RssHistory::default(), &MemoryLimits::default());
            assert_eq!(fired.len(), 1, "{fired:?}");
            fired[0].signature.clone()
        };
        assert_eq!(signature("ping", true, &[]), "hang oversize");
        assert_eq!(signature("tools/call", true, &[]), "hang oversize");
        assert_eq!(signature("ping", false, &["x"]), "hang extra-member");
        assert_eq!(signature("tools/call", true, &["x"]), "hang extra-member");
        assert_eq!(signature("tools/call", false, &[]), "hang tools/call");
    }

    #[test]
    fn liveness_hang_and_lost() {
        let mut o = obs();
        o.ping = Ping::Unanswered;
        o.requests.push(request(Settled::Unsettled));
        assert_eq!(oracles(&o), vec!["liveness"]);
        let mut o = obs();
        o.requests.push(request(Settled::Hang));
        assert_eq!(oracles(&o), vec!["hang"]);
        let mut o = obs();
        o.requests.push(request(Settled::Lost {
            probe: Duration::from_millis(2),
        }));
        assert_eq!(oracles(&o), vec!["lost-response"]);
    }

    #[test]
    fn ids_and_content() {
        let mut o = obs();
        o.unknown_ids.push(json!("1000000007"));
        o.duplicates.push(("1".into(), "ping".into()));
        o.markers.insert("fz-000000001".into(), "é世".into());
        o.events.push(Inbound::Response(
            json!({"jsonrpc":"2.0","id":"fz-000000002",
            "result":{"content":[{"type":"text","text":"<<fz-000000001|é世>>"}]}}),
        ));
        o.events.push(Inbound::Response(
            json!({"jsonrpc":"2.0","id":"fz-000000001",
            "result":{"content":[{"type":"text","text":"<<fz-000000001|\u{FFFD}\u{FFFD}世>>"}]}}),
        ));
        let fired = judge(&o, &RssHistory::default(), &MemoryLimits::default());
        let sigs: Vec<&str> = fired.iter().map(|f| f.signature.as_str()).collect();
        assert_eq!(
            sigs,
            vec![
                "duplicate-response",
                "mismatched-id unknown-id",
                "mismatched-id swapped-content",
                "mismatched-id corrupted-content"
            ]
        );
    }

    #[test]
    fn framing_versus_pollution() {
        let invalid = |raw: &[u8]| Inbound::Invalid {
            error: FrameError::NotJson { reason: "x".into() },
            raw: raw.to_vec(),
        };
        let mut o = obs();
        o.events.push(invalid(b"INFO handled ping"));
        assert_eq!(oracles(&o), vec!["stdout-pollution"]);
        let mut o = obs();
        o.events.push(Inbound::Unclassifiable(json!(42)));
        assert_eq!(oracles(&o), vec!["stdout-pollution"]);
        let mut o = obs();
        o.events
            .push(invalid(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"re{\"jsonrpc\""));
        o.events.push(invalid(b"sult\":{}}"));
        assert_eq!(oracles(&o), vec!["framing"]);
        let mut o = obs();
        o.events.push(Inbound::Invalid {
            error: FrameError::MultiLine { lines: 3 },
            raw: b"{".to_vec(),
        });
        assert_eq!(oracles(&o), vec!["framing"]);
    }

    #[test]
    fn over_http_pollution_is_named_for_what_it_is() {
        let mut o = obs();
        o.http = true;
        o.events.push(Inbound::Invalid {
            error: FrameError::NotJson {
                reason: "(HTTP) SSE event 2 data is not one JSON value".into(),
            },
            raw: b"INFO handled ping".to_vec(),
        });
        o.events.push(Inbound::Unclassifiable(json!([1])));
        let firings = judge(&o, &RssHistory::default(), &MemoryLimits::default());
        let names: Vec<&str> = firings.iter().map(|f| f.oracle).collect();
        assert_eq!(names, vec!["http-pollution", "http-pollution"]);
        assert!(
            firings.iter().all(|f| !f.description.contains("stdout")),
            "{firings:?}"
        );
        assert!(ORACLES.iter().any(|(n, _, _)| *n == "http-pollution"));
    }

    #[test]
    fn invalid_messages_and_panics() {
        let mut o = obs();
        o.events.push(Inbound::Response(
            json!({"jsonrpc":"2.0","id":1,"error":{"code":"-1","message":"m"}}),
        ));
        o.stderr = b"thread 'main' panicked at src/x.rs:1:1:\nboom\n".to_vec();
        let fired = judge(&o, &RssHistory::default(), &MemoryLimits::default());
        let sigs: Vec<&str> = fired.iter().map(|f| f.signature.as_str()).collect();
        assert_eq!(
            sigs,
            vec![
                "invalid-message error-code-integer",
                "stderr-panic panicked-at"
            ]
        );
        assert!(fired[1].is_warning() && !fired[0].is_warning());
    }

    #[test]
    fn tracebacks_are_named_by_their_exception() {
        let tb = b"handler raised\nTraceback (most recent call last):\n  File \"x.py\", line 1\n    raise ValueError(n)\nValueError: Unknown prompt: x\n";
        assert_eq!(
            panic_line(tb),
            Some((
                "Traceback (most recent call last)",
                "ValueError: Unknown prompt: x".into()
            ))
        );
        let mut o = obs();
        o.stderr = tb.to_vec();
        let fired = judge(&o, &RssHistory::default(), &MemoryLimits::default());
        assert_eq!(fired[0].signature, "stderr-panic traceback ValueError");
        assert_eq!(panic_line(b"all good\n"), None);
    }

    #[test]
    fn memory_limit_and_steady_growth() {
        let mut rss = RssHistory::default();
        for i in 0..8u64 {
            rss.samples.push_back(10_000 + i * 20_000);
        }
        let limits = MemoryLimits {
            max_rss_kb: 1_000_000,
            growth_kb: 50_000,
            window: 8,
        };
        assert_eq!(steady_growth(&rss, 8), Some(140_000));
        let mut o = obs();
        o.rss_kb = Some(150_000);
        let fired = judge(&o, &rss, &limits);
        assert_eq!(fired[0].signature, "memory growth");
        o.rss_kb = Some(2_000_000);
        assert_eq!(judge(&o, &rss, &limits)[0].signature, "memory limit");
        // A jump followed by a plateau is not steady growth.
        let mut flat = RssHistory::default();
        for v in [
            10_000u64, 200_000, 200_000, 200_000, 200_000, 200_000, 200_000, 200_000,
        ] {
            flat.samples.push_back(v);
        }
        assert_eq!(steady_growth(&flat, 8), None);
        // Batches of 16 inputs: 64 inputs are the last four samples.
        let mut batches = RssHistory::default();
        for i in 0..6u64 {
            batches
                .samples
                .push_back(if i < 2 { 500_000 } else { 10_000 + i * 20_000 });
            batches.inputs.push_back(16);
        }
        assert_eq!(steady_growth(&batches, 64), Some(60_000));
        assert_eq!(
            steady_growth(&batches, 96),
            None,
            "the jump is in the window"
        );
        assert_eq!(steady_growth(&batches, 200), None, "too few inputs yet");
    }
}
