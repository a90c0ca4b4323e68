//! Spec page `basic/transports/stdio`. Catalogue area STDIO: newline framing in both
//! directions, what may appear on stdout, start-up and shutdown of the process.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::{
    callable_tools, find_slow_tool, initialize_params, is_safe_tool, list_all, still_serving,
    synthesize,
};
use crate::session::{request_message, RequestError, Response, Session};
use crate::spec::{Level, Revisions, STDIO};
use crate::traffic::Inbound;
use crate::util::clip;
use mcpspec_harness::transcript::Entry;
use mcpspec_harness::{escape_bytes, Delivery, Direction, FrameError};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// STDIO-010: how long a lone request may wait for its flushed answer.
const FLUSH_WINDOW: Duration = Duration::from_secs(5);
/// STDIO-006: pause between single-byte writes.
const BYTE_GAP: Duration = Duration::from_millis(10);
/// STDIO-006/007: pause between the pieces of a cut message, long enough for the
/// server to see each piece in a read of its own.
const PIECE_GAP: Duration = Duration::from_millis(100);
/// STDIO-006: the pause between the two halves of one request.
const HALVES_GAP: Duration = Duration::from_secs(1);
/// STDIO-011: requests written back to back, and at most this many tool calls among them.
const BURST: usize = 200;
const BURST_TOOL_CALLS: usize = 20;
/// STDIO-011: the catalogue's collection window for a burst (at least).
const BURST_WINDOW: Duration = Duration::from_secs(30);
/// A valid request this large must be answered (STDIO-006 framing, JSONRPC-013).
const LARGE_MESSAGE: usize = 1024 * 1024;
/// STDIO-009: the very long line, and the nesting depth.
const HOSTILE_LINE: usize = 8 * 1024 * 1024;
const HOSTILE_DEPTH: usize = 10_000;

pub const CASES: &[Case] = &[
    Case {
        id: "basic/transports/stdio/one-message-per-line",
        title: "Every stdout line of the run holds exactly one complete JSON message",
        requirements: &["STDIO-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(one_message_per_line(ctx)),
    },
    Case {
        id: "basic/transports/stdio/newlines-escaped",
        title: "Messages whose strings contain line breaks still arrive on one line",
        requirements: &["STDIO-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(newlines_escaped(ctx)),
    },
    Case {
        id: "basic/transports/stdio/stdout-only-messages",
        title: "stdout carries nothing but JSON-RPC messages",
        requirements: &["STDIO-002"],
        level: Level::MustNot,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(stdout_only_messages(ctx)),
    },
    Case {
        id: "basic/transports/stdio/silent-before-input",
        title: "A freshly started server writes nothing to stdout before the client speaks",
        requirements: &["STDIO-003"],
        level: Level::MustNot,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(silent_before_input(ctx)),
    },
    Case {
        id: "basic/transports/stdio/utf8-output",
        title: "Every byte the server writes to stdout is valid UTF-8",
        requirements: &["STDIO-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(utf8_output(ctx)),
    },
    Case {
        id: "basic/transports/stdio/invalid-utf8-input",
        title: "A line with invalid UTF-8 is rejected with an error and the server keeps running",
        requirements: &["STDIO-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(invalid_utf8_input(ctx)),
    },
    Case {
        id: "basic/transports/stdio/stderr-observed",
        title: "What the server wrote to stderr (informational only)",
        requirements: &["STDIO-005"],
        level: Level::May,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(stderr_observed(ctx)),
    },
    Case {
        id: "basic/transports/stdio/split-writes",
        title: "A request written in small pieces is answered as if written at once",
        requirements: &["STDIO-006"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(split_writes(ctx)),
    },
    Case {
        id: "basic/transports/stdio/large-message",
        title: "A valid 1 MiB request is answered",
        requirements: &["STDIO-006", "JSONRPC-013"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(large_message(ctx)),
    },
    Case {
        id: "basic/transports/stdio/coalesced-writes",
        title: "Several requests in one write, the last one cut short, are all answered",
        requirements: &["STDIO-007"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(coalesced_writes(ctx)),
    },
    Case {
        id: "basic/transports/stdio/crlf-and-blank-lines",
        title: "A request ending in CRLF is answered and blank lines are ignored",
        requirements: &["STDIO-008"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(crlf_and_blank_lines(ctx)),
    },
    Case {
        id: "basic/transports/stdio/hostile-input-survived",
        title: "Malformed, huge, deeply nested and NUL-laden lines do not stop the server",
        requirements: &["STDIO-009"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(hostile_input_survived(ctx)),
    },
    Case {
        id: "basic/transports/stdio/responses-flushed",
        title: "A response arrives without the client writing more or closing stdin",
        requirements: &["STDIO-010"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(responses_flushed(ctx)),
    },
    Case {
        id: "basic/transports/stdio/concurrent-output-not-interleaved",
        title:
            "Under 200 back-to-back requests every output line is whole and every id answered once",
        requirements: &["STDIO-011"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(concurrent_output(ctx)),
    },
    Case {
        id: "basic/transports/stdio/exit-on-stdin-eof",
        title: "The server exits soon after stdin is closed",
        requirements: &["STDIO-012"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(exit_on_stdin_eof(ctx)),
    },
    Case {
        id: "basic/transports/stdio/in-flight-answered-at-eof",
        title: "A request in flight when stdin closes is answered before the server exits",
        requirements: &["STDIO-012"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(in_flight_answered_at_eof(ctx)),
    },
    Case {
        id: "basic/transports/stdio/sigterm-ends-server",
        title: "SIGTERM ends the server without needing SIGKILL",
        requirements: &["STDIO-013"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(sigterm_ends_server(ctx)),
    },
    Case {
        id: "basic/transports/stdio/server-initiated-shutdown",
        title: "If the server closes stdout on its own, no request is left unanswered",
        requirements: &["STDIO-014"],
        level: Level::May,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(server_initiated_shutdown(ctx)),
    },
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn line(message: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn first_non_space(raw: &[u8]) -> Option<u8> {
    raw.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// A frame that breaks "one message per line": a value spread over lines, two values
/// on one line, or a line that starts like a message but is not valid JSON (the usual
/// sign of a raw newline inside a string, or of two writes interleaved).
pub fn breaks_framing(frame: &Inbound) -> bool {
    match frame {
        Inbound::Invalid { error, raw } => match error {
            FrameError::MultiLine { .. } | FrameError::TrailingBytes { .. } => true,
            FrameError::NotJson { .. } => matches!(first_non_space(raw), Some(b'{' | b'[')),
            _ => false,
        },
        _ => false,
    }
}

/// What a unit of stdout output is, for STDIO-002.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutKind {
    /// A JSON-RPC message (or a line judged by another requirement).
    Message,
    /// An empty or whitespace-only line.
    Blank,
    /// Anything else: text, a JSON value that is no message.
    Foreign,
}

pub fn stdout_kind(frame: &Inbound) -> StdoutKind {
    match frame {
        Inbound::Invalid { error, .. } => match error {
            FrameError::EmptyLine => StdoutKind::Blank,
            FrameError::NotJson { .. } => StdoutKind::Foreign,
            // Framing, encoding, size and truncation have their own requirements (and
            // a process we killed may leave half a line behind).
            _ => StdoutKind::Message,
        },
        Inbound::Unclassifiable(v) if is_batch_response(v) => StdoutKind::Message,
        Inbound::Unclassifiable(_) => StdoutKind::Foreign,
        _ => StdoutKind::Message,
    }
}

/// A JSON array of responses: a batch answer (valid in 2025-03-26 sessions).
fn is_batch_response(v: &Value) -> bool {
    v.as_array().is_some_and(|items| {
        !items.is_empty()
            && items.iter().all(|i| {
                i.get("id").is_some() && (i.get("result").is_some() || i.get("error").is_some())
            })
    })
}

/// Wait until `done` holds for the events since `mark`, stdout closes, or `timeout`
/// passes; returns the events seen.
async fn wait_until(
    session: &Session,
    mark: u64,
    timeout: Duration,
    done: impl Fn(&[Inbound]) -> bool,
) -> Vec<Inbound> {
    let deadline = Instant::now() + timeout;
    loop {
        let events = session.events_since(mark);
        if done(&events) || session.stdout_closed() {
            return events;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return events;
        }
        // Wakes on the next event (or closes/times out).
        let _ = session
            .wait_for(mark + events.len() as u64, left, |_| true)
            .await;
    }
}

/// How a request sent while watching the output ended.
enum Watched {
    Answer(Response),
    /// A frame that is not a usable message arrived instead.
    Broken(Inbound),
    Missing(String),
}

/// Send a request and wait for its answer, stopping early at a frame that breaks line
/// framing or is not UTF-8 (the answer may be hidden in it).
async fn ask_watching(
    session: &Session,
    id: &Value,
    method: &str,
    params: Option<Value>,
    timeout: Duration,
) -> Watched {
    let mark = session.mark();
    let _attribution = session.expect(id, method);
    if let Err(e) = session.send(&request_message(id, method, params)).await {
        return Watched::Missing(e.to_string());
    }
    let events = wait_until(session, mark, timeout, |events| {
        events.iter().any(|e| {
            e.is_response_to(id)
                || breaks_framing(e)
                || matches!(
                    e,
                    Inbound::Invalid {
                        error: FrameError::InvalidUtf8 { .. },
                        ..
                    }
                )
        })
    })
    .await;
    for e in events {
        match e {
            Inbound::Response(v) if v.get("id") == Some(id) => {
                return Watched::Answer(Response { raw: v })
            }
            Inbound::Invalid { .. } if breaks_framing(&e) => return Watched::Broken(e),
            Inbound::Invalid {
                error: FrameError::InvalidUtf8 { .. },
                ..
            } => return Watched::Broken(e),
            _ => {}
        }
    }
    Watched::Missing(if session.stdout_closed() {
        "the server closed stdout".into()
    } else {
        format!("no answer within {timeout:?}")
    })
}

/// Write with a deadline: a server that stops reading stdin would block us forever.
async fn send_raw_within(session: &Session, bytes: &[u8], timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, session.send_raw(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the server did not read {} bytes of input within {timeout:?}",
            bytes.len()
        )),
    }
}

// ---------------------------------------------------------------------------
// STDIO-001
// ---------------------------------------------------------------------------

async fn one_message_per_line(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let broken: Vec<String> = records
        .iter()
        .filter(|r| breaks_framing(&r.inbound))
        .map(|r| format!("process {}: {}", r.session, r.inbound.describe()))
        .collect();
    if broken.is_empty() {
        return Ok(Verdict::pass(
            "every unit of stdout output of the run was a single-line message or judged elsewhere",
        ));
    }
    Err(Verdict::violation(format!(
        "{} stdout line(s) did not hold exactly one JSON message",
        broken.len()
    ))
    .expected("one serialized JSON message per line, newlines inside strings escaped")
    .actual(broken.into_iter().take(5).collect::<Vec<_>>().join("\n")))
}

async fn newlines_escaped(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    // Our own handshake, so that a server whose every message is multi-line is judged
    // here instead of failing to start.
    let init = ask_watching(
        &session,
        &json!("mcpspec-init"),
        "initialize",
        Some(initialize_params(ctx.config().revision.as_str())),
        ctx.config().init_timeout,
    )
    .await;
    let capabilities = match init {
        Watched::Broken(frame) if breaks_framing(&frame) => {
            return Err(
                Verdict::violation("the initialize response was not one line")
                    .expected("the response serialized on a single line")
                    .actual(frame.describe()),
            )
        }
        Watched::Broken(frame) => {
            return Ok(Verdict::untestable(format!(
                "the initialize response could not be decoded: {}",
                frame.describe()
            )))
        }
        Watched::Missing(why) => {
            return Ok(Verdict::harness_error(format!(
                "a fresh server did not answer initialize: {why}"
            )))
        }
        Watched::Answer(r) => match r.result() {
            Some(result) => result.get("capabilities").cloned().unwrap_or(json!({})),
            None => {
                return Ok(Verdict::harness_error(format!(
                    "a fresh server refused initialize: {}",
                    r.summary()
                )))
            }
        },
    };
    session.notify("notifications/initialized", None).await?;

    // Line breaks the server has to echo: in an id (every server must echo it) and in
    // a method name (usually quoted in the error).
    let mut probes: Vec<(String, Value, String, Option<Value>)> = vec![
        (
            "a ping whose id holds line breaks".into(),
            json!("mcpspec\nline\r\nbreak\u{2028}end"),
            "ping".into(),
            None,
        ),
        (
            "an unknown method whose name holds a line break".into(),
            session.next_id(),
            "mcpspec/unknown\nmethod".into(),
            None,
        ),
    ];
    // Opportunistic: items the server itself filled with multi-line text.
    if Capability::Tools.declared_in(&capabilities) {
        if let Ok(tools) = list_all(&session, "tools/list", "tools", t).await {
            for tool in tools.iter().filter(|tool| is_multiline_item(tool, "name")) {
                let args = tool.get("inputSchema").and_then(|s| synthesize(s, 0));
                if let (true, Some(args)) = (is_safe_tool(ctx, tool), args) {
                    let name = tool.get("name").cloned().unwrap_or(Value::Null);
                    probes.push((
                        format!("tool {name}"),
                        session.next_id(),
                        "tools/call".into(),
                        Some(json!({ "name": name, "arguments": args })),
                    ));
                }
            }
        }
    }
    if Capability::Resources.declared_in(&capabilities) {
        if let Ok(resources) = list_all(&session, "resources/list", "resources", t).await {
            for r in resources
                .iter()
                .filter(|r| is_multiline_item(r, "uri"))
                .take(2)
            {
                let uri = r.get("uri").cloned().unwrap_or(Value::Null);
                probes.push((
                    format!("resource {uri}"),
                    session.next_id(),
                    "resources/read".into(),
                    Some(json!({ "uri": uri })),
                ));
            }
        }
    }

    let mut checked = Vec::new();
    let mut skipped = Vec::new();
    for (what, id, method, params) in probes {
        match ask_watching(&session, &id, &method, params, t).await {
            Watched::Answer(_) => checked.push(what),
            Watched::Broken(frame) if breaks_framing(&frame) => {
                return Err(Verdict::violation(format!(
                    "the answer to {what} was not a single line"
                ))
                .expected("line breaks inside strings escaped as \\n, one message per line")
                .actual(frame.describe()))
            }
            // Not UTF-8: the encoding case judges it; its framing cannot be read.
            Watched::Broken(frame) => skipped.push(format!("{what} ({})", frame.describe())),
            Watched::Missing(why) => skipped.push(format!("{what} ({why})")),
        }
    }
    if checked.is_empty() {
        return Ok(Verdict::untestable(format!(
            "no probe was answered with a decodable message: {}",
            skipped.join("; ")
        )));
    }
    let mut message = format!(
        "answers containing line breaks arrived as single lines: {}",
        checked.join(", ")
    );
    if !skipped.is_empty() {
        message.push_str(&format!(" (not judged: {})", skipped.join("; ")));
    }
    Ok(Verdict::pass(message))
}

/// A listed tool or resource that advertises multi-line content by its name.
fn is_multiline_item(item: &Value, key: &str) -> bool {
    ["name", key].iter().any(|k| {
        item.get(*k).and_then(Value::as_str).is_some_and(|s| {
            s.to_ascii_lowercase()
                .replace('-', "")
                .contains("multiline")
        })
    })
}

// ---------------------------------------------------------------------------
// STDIO-002 .. STDIO-005
// ---------------------------------------------------------------------------

async fn stdout_only_messages(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let mut foreign = Vec::new();
    let mut blank = 0usize;
    for r in &records {
        match stdout_kind(&r.inbound) {
            StdoutKind::Message => {}
            StdoutKind::Blank => blank += 1,
            StdoutKind::Foreign => {
                foreign.push(format!("process {}: {}", r.session, r.inbound.describe()))
            }
        }
    }
    if !foreign.is_empty() {
        return Err(Verdict::violation(format!(
            "{} stdout line(s) were not MCP messages; the first: {}",
            foreign.len(),
            clip(&foreign[0], 200)
        ))
        .expected("only JSON-RPC messages on stdout (logs belong on stderr)")
        .actual(foreign.into_iter().take(5).collect::<Vec<_>>().join("\n")));
    }
    if blank > 0 {
        return Err(Verdict::violation(format!(
            "{blank} empty line(s) on stdout between messages"
        ))
        .at_level(Level::Should)
        .expected("no empty lines")
        .actual(format!("{blank} empty line(s)")));
    }
    Ok(Verdict::pass(
        "every unit of stdout output of the run was a JSON-RPC message",
    ))
}

async fn silent_before_input(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let grace = ctx.config().startup_grace;
    let left = grace.saturating_sub(session.control().started().elapsed());
    // Waiting out the grace period is the observation itself.
    let _ = session.observe(0, left).await;
    let received: Vec<u8> = session
        .control()
        .transcript()
        .entries()
        .into_iter()
        .filter(|e| e.direction == Direction::Received)
        .flat_map(|e| e.bytes)
        .collect();
    if !received.is_empty() {
        return Err(Verdict::violation(format!(
            "the server wrote {} byte(s) to stdout before receiving anything",
            received.len()
        ))
        .expected(format!("silence for the first {grace:?}"))
        .actual(escape_bytes(&received, 300)));
    }
    if let Some(status) = session.control().exit_status() {
        return Ok(Verdict::untestable(format!(
            "the server exited during the start-up window ({status})"
        )));
    }
    Ok(Verdict::pass(format!(
        "no stdout output during the first {:.1} s",
        grace.as_secs_f64()
    )))
}

async fn utf8_output(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let bad: Vec<String> = records
        .iter()
        .filter(|r| {
            matches!(
                r.inbound,
                Inbound::Invalid {
                    error: FrameError::InvalidUtf8 { .. },
                    ..
                }
            )
        })
        .map(|r| format!("process {}: {}", r.session, r.inbound.describe()))
        .collect();
    if bad.is_empty() {
        return Ok(Verdict::pass(
            "every unit of stdout output of the run was valid UTF-8",
        ));
    }
    Err(
        Verdict::violation(format!("{} stdout line(s) were not valid UTF-8", bad.len()))
            .expected("UTF-8 only")
            .actual(bad.into_iter().take(5).collect::<Vec<_>>().join("\n")),
    )
}

async fn invalid_utf8_input(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    // A cursor holding the bad bytes: a server that decodes leniently still has to
    // reject the mangled cursor, so only silent acceptance fails.
    let caps = ctx.profile().capabilities();
    let method = [
        (Capability::Tools, "tools/list"),
        (Capability::Resources, "resources/list"),
        (Capability::Prompts, "prompts/list"),
    ]
    .into_iter()
    .find(|(c, _)| c.declared_in(&caps))
    .map(|(_, m)| m);
    let probes: [(&str, &[u8]); 2] = [
        ("an invalid two-byte sequence (C3 28)", b"\xC3\x28"),
        ("an overlong encoding of '/' (C0 AF)", b"\xC0\xAF"),
    ];
    for (i, (what, bytes)) in probes.iter().enumerate() {
        let id = format!("mcpspec-utf8-{i}");
        let mut line = match method {
            Some(m) => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":\"{id}\",\"method\":\"{m}\",\"params\":{{\"cursor\":\""
            ),
            None => format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":\"{id}\",\"method\":\"ping\",\"params\":{{\"_meta\":{{\"dev.mcpspec/probe\":\""
            ),
        }
        .into_bytes();
        line.extend_from_slice(bytes);
        line.extend_from_slice(if method.is_some() {
            b"\"}}\n"
        } else {
            b"\"}}}\n"
        });
        let mark = session.mark();
        drop(session.expect(&json!(id), method.unwrap_or("ping")));
        send_raw_within(&session, &line, t)
            .await
            .map_err(|e| Verdict::violation(format!("writing {what} failed: {e}")))?;
        let events = wait_until(&session, mark, t, |events| {
            events.iter().any(|e| matches!(e, Inbound::Response(_)))
        })
        .await;
        match events.iter().find(|e| matches!(e, Inbound::Response(_))) {
            Some(Inbound::Response(v)) if v.get("error").is_some() => {}
            Some(other) => {
                return Err(Verdict::violation(format!(
                    "a request containing {what} was served as if it were valid"
                ))
                .expected("an error response (-32700, -32600 or -32602)")
                .actual(other.describe()))
            }
            None => {
                // Say whether the line was dropped silently or took the server down.
                let state = match session.control().exit_status() {
                    Some(status) => format!("the process ended ({status})"),
                    None if session.answers(t).await => {
                        "the line was dropped silently; the server still answers".into()
                    }
                    None => "the server no longer answers".into(),
                };
                return Err(Verdict::violation(format!(
                    "a request containing {what} got no answer: {state}"
                ))
                .expected("an error response, and the server keeps running")
                .actual(format!("nothing within {t:?}; {state}")));
            }
        }
    }
    still_serving(&session, t, "lines with invalid UTF-8").await?;
    Ok(Verdict::pass(
        "both lines with invalid UTF-8 got an error response and the server kept answering",
    ))
}

/// One sentence about captured stderr: size and whether the kept bytes are UTF-8.
pub fn stderr_summary(total: u64, kept: &[u8]) -> String {
    if total == 0 {
        return "the server wrote nothing to stderr".into();
    }
    let invalid = kept
        .utf8_chunks()
        .filter(|c| !c.invalid().is_empty())
        .count();
    let truncated = total > kept.len() as u64;
    let encoding = match (invalid, truncated) {
        (0, false) => "valid UTF-8".to_string(),
        (0, true) => "valid UTF-8 in the part kept".to_string(),
        (n, false) => format!("not valid UTF-8 ({n} invalid sequence(s))"),
        (n, true) => format!(
            "{n} invalid UTF-8 sequence(s) in the part kept (cut points may split characters)"
        ),
    };
    format!("the server wrote {total} byte(s) to stderr: {encoding}")
}

async fn stderr_observed(ctx: &mut Ctx) -> CaseResult {
    // The run's shared session, which the runner has already shut down.
    let control = ctx.session().control().clone();
    control.wait_stderr_closed(Duration::from_secs(2)).await;
    Ok(Verdict::pass(stderr_summary(
        control.stderr_total(),
        &control.stderr(),
    )))
}

// ---------------------------------------------------------------------------
// STDIO-006 .. STDIO-009: how input bytes arrive
// ---------------------------------------------------------------------------

/// Deliver `delivery` (one ping request with `id`) and check the answer carries
/// exactly that id. A parse error or an altered id shows the framing failed.
async fn delivered_ping(
    session: &Session,
    delivery: &Delivery,
    id: &Value,
    what: &str,
    timeout: Duration,
) -> Result<(), Verdict> {
    let mark = session.mark();
    drop(session.expect(id, "ping"));
    session.deliver(delivery).await?;
    // The first response after the delivery decides: ours, or a sign of a bad frame.
    let events = wait_until(session, mark, timeout, |events| {
        events.iter().any(|e| matches!(e, Inbound::Response(_)))
    })
    .await;
    match events.iter().find(|e| matches!(e, Inbound::Response(_))) {
        Some(Inbound::Response(v)) if v.get("id") == Some(id) && v.get("result").is_some() => {
            Ok(())
        }
        Some(Inbound::Response(v)) if v.get("id") == Some(id) => Err(Verdict::violation(format!(
            "a ping {what} was answered with an error"
        ))
        .expected("a result")
        .actual(v.to_string())),
        Some(other) => Err(Verdict::violation(format!(
            "a ping {what} was not reassembled: the first answer was not its own"
        ))
        .expected(format!("a result with id {id}"))
        .actual(other.describe())),
        None => Err(Verdict::violation(format!("a ping {what} got no answer"))
            .expected(format!("a result with id {id}"))
            .actual(format!("nothing within {timeout:?}"))),
    }
}

async fn split_writes(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();

    // One byte per write; the id's multi-byte characters are cut too.
    let id = json!("byte-ü-🦀");
    let bytes = line(&request_message(&id, "ping", None));
    delivered_ping(
        &session,
        &Delivery::byte_by_byte(&bytes, BYTE_GAP),
        &id,
        "written one byte at a time",
        t,
    )
    .await?;

    // Cuts inside a 4-byte character, inside a \u escape and inside a 3-byte character.
    let raw = "{\"jsonrpc\":\"2.0\",\"id\":\"cut-🦀-\\u00fc-世\",\"method\":\"ping\"}\n";
    let crab = raw.find('🦀').unwrap_or(0) + 2;
    let escape = raw.find("\\u00fc").unwrap_or(0) + 3;
    let world = raw.find('世').unwrap_or(0) + 1;
    delivered_ping(
        &session,
        &Delivery::split_at(raw.as_bytes(), &[crab, escape, world], PIECE_GAP),
        &json!("cut-🦀-ü-世"),
        "cut inside multi-byte characters and a \\u escape",
        t,
    )
    .await?;

    // Two halves a second apart.
    let id = json!("halves");
    let bytes = line(&request_message(&id, "ping", None));
    delivered_ping(
        &session,
        &Delivery::split_at(&bytes, &[bytes.len() / 2], HALVES_GAP),
        &id,
        "written in two halves a second apart",
        t,
    )
    .await?;
    Ok(Verdict::pass(
        "pings written byte by byte, cut inside characters and escapes, and in two halves were all answered with their exact ids",
    ))
}

/// A ping carrying `size` bytes of padding in `params._meta`.
fn padded_ping(id: &Value, size: usize) -> Vec<u8> {
    let message = request_message(
        id,
        "ping",
        Some(json!({ "_meta": { "dev.mcpspec/padding": "x".repeat(size) } })),
    );
    line(&message)
}

async fn large_message(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let id = json!("mcpspec-large");
    let bytes = padded_ping(&id, LARGE_MESSAGE);
    let pending = session.expect(&id, "ping");
    send_raw_within(&session, &bytes, t)
        .await
        .map_err(|e| Verdict::violation(format!("writing a 1 MiB request failed: {e}")))?;
    match pending.wait(t).await {
        Ok(r) => Ok(Verdict::pass(format!(
            "a {} byte request was answered ({})",
            bytes.len(),
            clip(&r.summary(), 80)
        ))),
        Err(e) => Err(Verdict::violation(format!(
            "a valid {} byte ping was not answered",
            bytes.len()
        ))
        .expected("a response (result or error) with id \"mcpspec-large\"")
        .actual(e.to_string())),
    }
}

async fn coalesced_writes(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let ids = [
        json!(7001),
        json!("coalesced-2"),
        json!(7003),
        json!("coalesced-4"),
    ];
    let mut bytes = Vec::new();
    let mut pending = Vec::new();
    for id in &ids {
        pending.push(session.expect(id, "ping"));
        bytes.extend(line(&request_message(id, "ping", None)));
    }
    // Three whole requests and half of the fourth, then the rest.
    let last_len = line(&request_message(&ids[3], "ping", None)).len();
    let cut = bytes.len() - last_len / 2;
    session
        .deliver(&Delivery::split_at(&bytes, &[cut], PIECE_GAP))
        .await?;
    let mut missing = Vec::new();
    let deadline = Instant::now() + t;
    for (id, p) in ids.iter().zip(pending) {
        match p
            .wait(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Ok(r) if r.result().is_some() => {}
            Ok(r) => missing.push(format!("{id}: {}", r.summary())),
            Err(e) => missing.push(format!("{id}: {e}")),
        }
    }
    if missing.is_empty() {
        Ok(Verdict::pass(
            "all four pings of the coalesced write (the last one completed later) were answered",
        ))
    } else {
        Err(Verdict::violation(format!(
            "{} of 4 pings written together were not answered normally",
            missing.len()
        ))
        .expected("a result for each of ids 7001, \"coalesced-2\", 7003, \"coalesced-4\"")
        .actual(missing.join("\n")))
    }
}

async fn crlf_and_blank_lines(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let crlf_id = json!("crlf");
    let last_id = json!("after-blank-lines");
    let mark = session.mark();
    let crlf = session.expect(&crlf_id, "ping");
    let last = session.expect(&last_id, "ping");
    let mut bytes = b"\n".to_vec();
    let mut crlf_line =
        serde_json::to_vec(&request_message(&crlf_id, "ping", None)).unwrap_or_default();
    crlf_line.extend_from_slice(b"\r\n");
    bytes.extend(crlf_line);
    bytes.extend_from_slice(b"\r\n \t\n");
    bytes.extend(line(&request_message(&last_id, "ping", None)));
    session.send_raw(&bytes).await?;
    let last = last.wait(t).await?;
    if last.result().is_none() {
        return Err(Verdict::violation("a ping after blank lines failed")
            .expected("a result")
            .actual(last.summary()));
    }
    // Input is processed in order, so the CRLF ping's answer is normally in by now.
    let crlf = crlf.wait(t).await;
    let others: Vec<String> = session
        .events_since(mark)
        .into_iter()
        .filter(|e| {
            matches!(e, Inbound::Response(_))
                && !e.is_response_to(&crlf_id)
                && !e.is_response_to(&last_id)
        })
        .map(|e| e.describe())
        .collect();
    let mut problems = Vec::new();
    match crlf {
        Ok(r) if r.result().is_some() => {}
        Ok(r) => problems.push(format!("the CRLF-terminated ping got {}", r.summary())),
        Err(e) => problems.push(format!("the CRLF-terminated ping got no answer: {e}")),
    }
    if !others.is_empty() {
        problems.push(format!(
            "blank lines or CRLF were answered: {}",
            others.join(" ")
        ));
    }
    if problems.is_empty() {
        Ok(Verdict::pass(
            "a CRLF-terminated request was answered and blank lines were ignored",
        ))
    } else {
        Err(Verdict::violation(problems.join("; "))
            .expected("a normal result for the CRLF ping and nothing for blank lines")
            .actual(problems.join("\n")))
    }
}

/// The hostile lines of STDIO-009, each with a description.
fn hostile_probes() -> Vec<(&'static str, Vec<u8>)> {
    let mut nested =
        b"{\"jsonrpc\":\"2.0\",\"id\":\"deep\",\"method\":\"ping\",\"params\":{\"x\":".to_vec();
    nested.extend(std::iter::repeat_n(b'[', HOSTILE_DEPTH));
    nested.extend(std::iter::repeat_n(b']', HOSTILE_DEPTH));
    nested.extend_from_slice(b"}}\n");
    vec![
        (
            "a truncated JSON line",
            b"{\"jsonrpc\":\"2.0\",\"id\":\"truncated\",\"method\":\"ping\"\n".to_vec(),
        ),
        ("a line that is not JSON", b"this is not json\n".to_vec()),
        ("an empty JSON object", b"{}\n".to_vec()),
        ("a bare number", b"42\n".to_vec()),
        (
            "a request with an object id",
            b"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}\n".to_vec(),
        ),
        (
            "an unknown method",
            b"{\"jsonrpc\":\"2.0\",\"id\":\"unknown\",\"method\":\"mcpspec/no-such-method\"}\n"
                .to_vec(),
        ),
        ("a line of NUL bytes", b"\0\0\0\0\n".to_vec()),
        (
            "a request with a raw NUL inside a string",
            b"{\"jsonrpc\":\"2.0\",\"id\":\"nul\",\"method\":\"pi\0ng\"}\n".to_vec(),
        ),
        ("JSON nested 10 000 levels deep", nested),
        (
            "an 8 MiB line",
            padded_ping(&json!("mcpspec-8mib"), HOSTILE_LINE),
        ),
    ]
}

async fn hostile_input_survived(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let probes = hostile_probes();
    let count = probes.len();
    for (what, bytes) in probes {
        if let Err(e) = send_raw_within(&session, &bytes, t).await {
            return Err(
                Verdict::violation(format!("the server stopped reading after {what}"))
                    .expected("the server keeps reading and answering")
                    .actual(e),
            );
        }
        still_serving(&session, t, what).await?;
    }
    Ok(Verdict::pass(format!(
        "the server kept answering after each of {count} hostile lines (malformed, invalid, NUL bytes, 10 000-deep nesting, 8 MiB)"
    )))
}

// ---------------------------------------------------------------------------
// STDIO-010, STDIO-011: how output leaves
// ---------------------------------------------------------------------------

/// After a request went unanswered: close stdin and see whether the answer was
/// sitting in an output buffer.
async fn answer_after_eof(session: &Session, mark: u64, id: &Value, grace: Duration) -> Verdict {
    session.close_stdin().await;
    let late = session
        .wait_for(mark, grace, |e| e.is_response_to(id))
        .await;
    match late {
        Some(_) => Verdict::violation(
            "stdout block-buffered: the response only appeared after stdin was closed",
        )
        .expected(format!(
            "the response within {FLUSH_WINDOW:?} while stdin stays open"
        ))
        .actual("no response until stdin was closed"),
        None => {
            Verdict::violation("the request got no response at all, even after stdin was closed")
                .expected(format!("the response within {FLUSH_WINDOW:?}"))
                .actual("no response")
        }
    }
}

async fn responses_flushed(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let grace = ctx.config().shutdown_grace;
    // initialize also waits out the server's start-up, so it gets the start-up timeout.
    let init_id = json!("mcpspec-init");
    let mark = session.mark();
    let pending = session.expect(&init_id, "initialize");
    session
        .send(&request_message(
            &init_id,
            "initialize",
            Some(initialize_params(ctx.config().revision.as_str())),
        ))
        .await?;
    match pending.wait(ctx.config().init_timeout).await {
        Ok(r) if r.result().is_some() => {}
        Ok(r) => {
            return Ok(Verdict::harness_error(format!(
                "a fresh server refused initialize: {}",
                r.summary()
            )))
        }
        Err(RequestError::Timeout(_)) => {
            return Err(answer_after_eof(&session, mark, &init_id, grace).await)
        }
        Err(e) => return Err(e.into()),
    }
    session.notify("notifications/initialized", None).await?;
    // One request and nothing else.
    let ping_id = json!("mcpspec-flush");
    let mark = session.mark();
    let pending = session.expect(&ping_id, "ping");
    session
        .send(&request_message(&ping_id, "ping", None))
        .await?;
    match pending.wait(FLUSH_WINDOW).await {
        // No timing in pass messages: case records must be deterministic.
        Ok(_) => Ok(Verdict::pass(
            "initialize and a lone ping were answered without further input",
        )),
        Err(RequestError::Timeout(_)) => {
            Err(answer_after_eof(&session, mark, &ping_id, grace).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// How the answers to a burst of requests matched their ids.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub missing: Vec<String>,
    pub duplicated: Vec<String>,
    pub unexpected: Vec<String>,
}

impl Tally {
    pub fn of(sent: &[Value], responses: &[Value]) -> Tally {
        let sent_keys: BTreeSet<String> = sent.iter().map(Value::to_string).collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut tally = Tally::default();
        for r in responses {
            let key = r
                .get("id")
                .map(Value::to_string)
                .unwrap_or_else(|| "(none)".into());
            if sent_keys.contains(&key) {
                *seen.entry(key).or_default() += 1;
            } else {
                tally.unexpected.push(clip(&r.to_string(), 200));
            }
        }
        for id in sent {
            match seen.get(&id.to_string()) {
                None => tally.missing.push(id.to_string()),
                Some(n) if *n > 1 => tally.duplicated.push(format!("{id} ×{n}")),
                Some(_) => {}
            }
        }
        tally
    }

    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.duplicated.is_empty() && self.unexpected.is_empty()
    }
}

async fn concurrent_output(ctx: &mut Ctx) -> CaseResult {
    let caps = ctx.profile().capabilities();
    let mut kinds: Vec<(&str, Option<Value>)> = vec![("ping", None)];
    for (capability, method) in [
        (Capability::Tools, "tools/list"),
        (Capability::Resources, "resources/list"),
        (Capability::Prompts, "prompts/list"),
    ] {
        if capability.declared_in(&caps) {
            kinds.push((method, None));
        }
    }
    // Safe tool calls with progress tokens make output come from several places at once.
    let tool = if Capability::Tools.declared_in(&caps) {
        callable_tools(ctx)
            .await
            .ok()
            .and_then(|tools| tools.into_iter().next())
    } else {
        None
    };
    let session = ctx.session().clone();
    let mut sent = Vec::with_capacity(BURST);
    let mut bytes = Vec::new();
    let mut tool_calls = 0;
    for i in 0..BURST {
        // Integer and string ids alternate.
        let id = if i % 2 == 0 {
            json!(50_000 + i)
        } else {
            json!(format!("burst-{i}"))
        };
        let (method, params) = match &tool {
            Some(tool) if i % 5 == 4 && tool_calls < BURST_TOOL_CALLS => {
                tool_calls += 1;
                (
                    "tools/call",
                    Some(json!({
                        "name": tool.name,
                        "arguments": tool.arguments,
                        "_meta": { "progressToken": format!("burst-progress-{i}") }
                    })),
                )
            }
            _ => {
                let (m, p) = &kinds[i % kinds.len()];
                (*m, p.clone())
            }
        };
        drop(session.expect(&id, method));
        bytes.extend(line(&request_message(&id, method, params)));
        sent.push(id);
    }
    let mark = session.mark();
    send_raw_within(&session, &bytes, ctx.timeout())
        .await
        .map_err(|e| Verdict::violation(format!("writing {BURST} requests failed: {e}")))?;
    let window = BURST_WINDOW.max(ctx.timeout());
    let wanted: BTreeSet<String> = sent.iter().map(Value::to_string).collect();
    // Stop at the first broken line: the verdict is settled then.
    let events = wait_until(&session, mark, window, |events| {
        events
            .iter()
            .any(|e| matches!(e, Inbound::Invalid { error, .. } if *error != FrameError::EmptyLine))
            || wanted.iter().all(|w| {
                events.iter().any(|e| match e {
                    Inbound::Response(v) => v.get("id").map(Value::to_string).as_ref() == Some(w),
                    _ => false,
                })
            })
    })
    .await;
    let broken: Vec<String> = events
        .iter()
        .filter(|e| matches!(e, Inbound::Invalid { error, .. } if *error != FrameError::EmptyLine))
        .map(Inbound::describe)
        .collect();
    if !broken.is_empty() {
        return Err(Verdict::violation(format!(
            "under {BURST} back-to-back requests the output had broken lines"
        ))
        .expected("every line one complete JSON message")
        .actual(broken.into_iter().take(5).collect::<Vec<_>>().join("\n")));
    }
    let responses: Vec<Value> = events
        .iter()
        .filter_map(|e| match e {
            Inbound::Response(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let tally = Tally::of(&sent, &responses);
    if !tally.is_clean() {
        let mut actual = Vec::new();
        if !tally.missing.is_empty() {
            actual.push(format!(
                "{} unanswered: {}",
                tally.missing.len(),
                clip(&tally.missing.join(", "), 300)
            ));
        }
        if !tally.duplicated.is_empty() {
            actual.push(format!("answered twice: {}", tally.duplicated.join(", ")));
        }
        if !tally.unexpected.is_empty() {
            actual.push(format!(
                "answers with ids never sent: {}",
                tally.unexpected.join(" ")
            ));
        }
        return Err(Verdict::violation(format!(
            "the {BURST} back-to-back requests were not answered one-to-one"
        ))
        .expected("exactly one response per request id")
        .actual(actual.join("\n")));
    }
    Ok(Verdict::pass(format!(
        "{BURST} back-to-back requests ({tool_calls} tool calls) got one whole-line answer each"
    )))
}

// ---------------------------------------------------------------------------
// STDIO-012 .. STDIO-014: shutdown
// ---------------------------------------------------------------------------

async fn exit_on_stdin_eof(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let grace = ctx.config().shutdown_grace;
    // The handshake of the fresh session was the normal exchange before shutdown.
    session.close_stdin().await;
    match session.control().wait_exit(grace).await {
        Some(status) => Ok(Verdict::pass(format!(
            "exited within {grace:?} after stdin was closed ({status})"
        ))),
        None => Err(Verdict::violation(format!(
            "the server was still running {grace:?} after stdin was closed"
        ))
        .expected(format!("exit within {grace:?} of end-of-file on stdin"))
        .actual("still running")),
    }
}

async fn in_flight_answered_at_eof(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    // Needs a request that is still running when stdin closes.
    let tools = match list_all(&session, "tools/list", "tools", t).await {
        Ok(tools) => tools,
        Err(v) => {
            return Ok(Verdict::untestable(format!(
                "could not list the tools to find a slow one: {}",
                v.message
            )))
        }
    };
    let Some(slow) = find_slow_tool(ctx, &tools) else {
        return Ok(Verdict::untestable(
            "needs a safe tool that takes a duration (e.g. `ms` or `seconds`; readOnlyHint, \
             or --allow-tool NAME) to have a request in flight at end-of-file",
        ));
    };
    let id = json!("mcpspec-in-flight");
    let pending = session.expect(&id, "tools/call");
    session
        .send(&request_message(
            &id,
            "tools/call",
            Some(json!({ "name": slow.name, "arguments": slow.arguments(500) })),
        ))
        .await?;
    session.close_stdin().await;
    match pending.wait(t).await {
        Ok(r) => {
            let exit = match session
                .control()
                .wait_exit(ctx.config().shutdown_grace)
                .await
            {
                Some(status) => format!("then exited ({status})"),
                None => "and is still running".to_string(),
            };
            Ok(Verdict::pass(format!(
                "the in-flight tools/call was answered after stdin closed ({}), {exit}",
                clip(&r.summary(), 80)
            )))
        }
        Err(e) => {
            let status = session
                .control()
                .wait_exit(Duration::from_millis(200))
                .await
                .map(|s| s.to_string())
                .unwrap_or_else(|| "still running".into());
            Err(
                Verdict::violation("a tools/call in flight when stdin closed was never answered")
                    .expected("the response before the server exits")
                    .actual(format!("{e}; process: {status}")),
            )
        }
    }
}

async fn sigterm_ends_server(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let control = session.control().clone();
    let grace = ctx.config().shutdown_grace;
    // After the handshake, with stdin left open: only the signal can end it.
    control.signal(Signal::SIGTERM);
    if let Some(status) = control.wait_exit(grace).await {
        return Ok(Verdict::pass(format!(
            "SIGTERM ended the server within {grace:?} ({status})"
        )));
    }
    control.kill();
    let status = control
        .wait_exit(grace)
        .await
        .map(|s| s.to_string())
        .unwrap_or_else(|| "not even SIGKILL ended it".into());
    Err(Verdict::violation(format!(
        "the server ignored SIGTERM for {grace:?}; SIGKILL was needed"
    ))
    .expected(format!("exit within {grace:?} of SIGTERM"))
    .actual(status))
}

/// Ids of requests in the bytes a session sent (whole lines only).
pub fn request_ids_sent(sent: &[u8]) -> Vec<Value> {
    sent.split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .filter(|v| v.get("method").is_some())
        .filter_map(|v| v.get("id").cloned())
        .collect()
}

fn event_at(entries: &[Entry], note: &[u8]) -> Option<Duration> {
    entries
        .iter()
        .find(|e| e.direction == Direction::Event && e.bytes == note)
        .map(|e| e.at)
}

async fn server_initiated_shutdown(ctx: &mut Ctx) -> CaseResult {
    // The run's shared session: the runner closed its stdin only after every other case.
    let session = ctx.session().clone();
    let entries = session.control().transcript().entries();
    let stdout_closed = event_at(&entries, b"stdout closed");
    let stdin_closed = event_at(&entries, b"closed stdin");
    let unprompted = match (stdout_closed, stdin_closed) {
        (Some(out), Some(input)) => out < input,
        (Some(_), None) => true,
        _ => false,
    };
    if !unprompted {
        return Ok(Verdict::pass(
            "the server did not close stdout before the client closed stdin",
        ));
    }
    let sent: Vec<u8> = entries
        .iter()
        .filter(|e| e.direction == Direction::Sent)
        .flat_map(|e| e.bytes.iter().copied())
        .collect();
    let answered: BTreeSet<String> = session
        .events_since(0)
        .iter()
        .filter_map(|e| match e {
            Inbound::Response(v) => v.get("id").map(Value::to_string),
            _ => None,
        })
        .collect();
    let pending: Vec<String> = request_ids_sent(&sent)
        .iter()
        .map(Value::to_string)
        .filter(|id| !answered.contains(id))
        .collect();
    let status = session
        .control()
        .exit_status()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "still running".into());
    let at = stdout_closed.unwrap_or_default().as_secs_f64();
    if pending.is_empty() {
        return Ok(Verdict::pass(format!(
            "the server closed stdout on its own {at:.1} s into the session ({status}) with no request pending"
        )));
    }
    Err(Verdict::violation(format!(
        "the server closed stdout on its own {at:.1} s into the session ({status}) with {} request(s) unanswered",
        pending.len()
    ))
    .at_level(Level::Should)
    .expected("no unprompted shutdown while requests are pending")
    .actual(clip(&pending.join(", "), 500)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(error: FrameError, raw: &[u8]) -> Inbound {
        Inbound::Invalid {
            error,
            raw: raw.to_vec(),
        }
    }

    fn not_json() -> FrameError {
        FrameError::NotJson { reason: "x".into() }
    }

    #[test]
    fn framing_breaks_are_told_from_foreign_text() {
        assert!(breaks_framing(&invalid(
            FrameError::MultiLine { lines: 3 },
            b"{"
        )));
        assert!(breaks_framing(&invalid(
            FrameError::TrailingBytes { value_end: 2 },
            b"{}{}"
        )));
        assert!(breaks_framing(&invalid(
            not_json(),
            b"  {\"id\":1,\"result\":{\"a\":\"x"
        )));
        assert!(!breaks_framing(&invalid(not_json(), b"server ready")));
        assert!(!breaks_framing(&invalid(FrameError::EmptyLine, b"")));
        assert!(!breaks_framing(&Inbound::Response(json!({"id": 1}))));
    }

    #[test]
    fn stdout_kinds() {
        assert_eq!(
            stdout_kind(&invalid(FrameError::EmptyLine, b"")),
            StdoutKind::Blank
        );
        assert_eq!(
            stdout_kind(&invalid(not_json(), b"INFO x")),
            StdoutKind::Foreign
        );
        assert_eq!(
            stdout_kind(&invalid(
                FrameError::InvalidUtf8 { valid_up_to: 0 },
                b"\xff"
            )),
            StdoutKind::Message
        );
        assert_eq!(
            stdout_kind(&Inbound::Unclassifiable(json!([{"id": 1, "result": {}}]))),
            StdoutKind::Message
        );
        assert_eq!(
            stdout_kind(&Inbound::Unclassifiable(json!("hello"))),
            StdoutKind::Foreign
        );
        assert_eq!(
            stdout_kind(&Inbound::Notification(json!({"method": "x"}))),
            StdoutKind::Message
        );
    }

    #[test]
    fn tally_matches_ids_one_to_one() {
        let sent = [json!(1), json!("1"), json!(2)];
        let responses = [
            json!({"id": 1, "result": {}}),
            json!({"id": "1", "result": {}}),
            json!({"id": "1", "result": {}}),
            json!({"id": null, "error": {}}),
        ];
        let t = Tally::of(&sent, &responses);
        assert_eq!(t.missing, vec!["2".to_string()]);
        assert_eq!(t.duplicated, vec!["\"1\" ×2".to_string()]);
        assert_eq!(t.unexpected.len(), 1);
        assert!(!t.is_clean());
        assert!(Tally::of(&sent[..1], &responses[..1]).is_clean());
    }

    #[test]
    fn stderr_summaries() {
        assert_eq!(stderr_summary(0, b""), "the server wrote nothing to stderr");
        assert!(stderr_summary(2, "ü".as_bytes()).ends_with(": valid UTF-8"));
        assert!(stderr_summary(2, b"\xff\xfe").contains("not valid UTF-8"));
        assert!(stderr_summary(100, b"abc").contains("in the part kept"));
    }

    #[test]
    fn sent_request_ids() {
        let sent = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n{\"trunc";
        assert_eq!(request_ids_sent(sent), vec![json!(1)]);
    }

    #[test]
    fn hostile_probes_are_single_lines() {
        for (what, bytes) in hostile_probes() {
            assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1, "{what}");
            assert_eq!(bytes.last(), Some(&b'\n'), "{what}");
        }
    }
}
