//! Spec page `basic/index` (base protocol: JSON-RPC messages, ids, errors).
//! Catalogue area JSONRPC.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::{self, code, expect_error_code};
use crate::session::{id_key, request_message, HttpRefusal, Response, Session};
use crate::spec::{Level, Revision, Revisions, ANY_TRANSPORT};
use crate::traffic::{Inbound, TrafficRecord};
use crate::util::clip;
use mcpspec_harness::FrameError;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case {
        id: "basic/unknown-method",
        title: "Unknown and wrongly-cased methods are answered with -32601",
        requirements: &["JSONRPC-011"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_method(ctx)),
    },
    Case {
        id: "basic/id-echo",
        title: "Responses echo integer and string ids with the same type and value",
        requirements: &["JSONRPC-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(id_echo(ctx)),
    },
    Case {
        id: "basic/notifications-unanswered",
        title: "Notifications, known, unknown or malformed, get no response",
        requirements: &["JSONRPC-006"],
        level: Level::MustNot,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(notifications_unanswered(ctx)),
    },
    Case {
        id: "basic/parse-error",
        title: "Lines that are not JSON get a -32700 error",
        requirements: &["JSONRPC-007"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(parse_error(ctx)),
    },
    Case {
        id: "basic/jsonrpc-version",
        title: "Every server message carries \"jsonrpc\": \"2.0\"",
        requirements: &["JSONRPC-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(jsonrpc_version(ctx)),
    },
    Case {
        id: "basic/result-or-error",
        title: "Every response carries exactly one of result and error",
        requirements: &["JSONRPC-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(result_or_error(ctx)),
    },
    Case {
        id: "basic/error-object",
        title: "Every error has an integer code and a string message",
        requirements: &["JSONRPC-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(error_object(ctx)),
    },
    Case {
        id: "basic/result-object",
        title: "Every result is a JSON object",
        requirements: &["JSONRPC-005"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(result_object(ctx)),
    },
    Case {
        id: "basic/survives-bad-input",
        title: "After malformed, invalid or unknown messages the server keeps answering",
        requirements: &["JSONRPC-008"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(survives_bad_input(ctx)),
    },
    Case {
        id: "basic/invalid-request",
        title: "JSON that is not a valid request object gets a -32600 error",
        requirements: &["JSONRPC-009"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(invalid_request(ctx)),
    },
    Case {
        id: "basic/null-id",
        title: "A request with id null is refused with -32600",
        requirements: &["JSONRPC-010"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(null_id(ctx)),
    },
    Case {
        id: "basic/bad-params",
        title: "Known methods with missing or mistyped params get -32602",
        requirements: &["JSONRPC-012"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(bad_params(ctx)),
    },
    Case {
        id: "basic/pipelined-requests",
        title: "100 requests written at once each get exactly one matching response",
        requirements: &["JSONRPC-013"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(pipelined_requests(ctx)),
    },
    Case {
        id: "basic/extra-params",
        title: "Extra params keys and vendor _meta keys do not change the answer",
        requirements: &["JSONRPC-016"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(extra_params(ctx)),
    },
    Case {
        id: "basic/batch-accepted",
        title: "A JSON-RPC batch is answered with an array of its responses",
        requirements: &["JSONRPC-017"],
        level: Level::Must,
        revisions: Revisions::only(Revision::V2025_03_26),
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(batch_accepted(ctx)),
    },
    Case {
        id: "basic/batch-rejected",
        title: "A JSON-RPC batch is refused with -32600 instead of being executed",
        requirements: &["JSONRPC-018"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_06_18),
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(batch_rejected(ctx)),
    },
    Case {
        id: "basic/non-ascii-round-trip",
        title: "Non-ASCII text in ids and tool arguments comes back intact, as valid UTF-8",
        requirements: &["JSONRPC-021"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(non_ascii_round_trip(ctx)),
    },
    Case {
        id: "basic/utf8-output",
        title: "Everything the server writes is valid UTF-8",
        requirements: &["JSONRPC-021"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(utf8_output(ctx)),
    },
];

// ---------------------------------------------------------------------------
// Probing with raw lines
// ---------------------------------------------------------------------------

/// How long to keep listening for a probe's answer once the request written behind it
/// has been answered (the catalogue's default quiet window).
const QUIET: Duration = Duration::from_secs(2);

/// Lines that are not JSON (JSONRPC-007).
const UNPARSEABLE: &[&str] = &[
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"",
    "not json",
    "{\"a\":}",
    "[",
    "\"",
];

/// Valid JSON that is not a valid request, with the codes accepted for it (JSONRPC-009;
/// a non-object `params` may also be reported as invalid params).
const INVALID_REQUESTS: &[(&str, &[i64])] = &[
    ("{}", &[code::INVALID_REQUEST]),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":9101}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":9102,\"method\":5}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"1.0\",\"id\":9103,\"method\":\"ping\"}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
        &[code::INVALID_REQUEST],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":9104,\"method\":\"ping\",\"params\":\"x\"}",
        &[code::INVALID_REQUEST, code::INVALID_PARAMS],
    ),
    (
        "{\"jsonrpc\":\"2.0\",\"id\":9105,\"method\":\"ping\",\"params\":7}",
        &[code::INVALID_REQUEST, code::INVALID_PARAMS],
    ),
    ("42", &[code::INVALID_REQUEST]),
    ("\"str\"", &[code::INVALID_REQUEST]),
];

/// A request whose id is null (JSONRPC-010).
const NULL_ID_PING: &str = "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}";

/// A well-formed request for a method nobody implements (JSONRPC-011).
const UNKNOWN_METHOD: &str =
    "{\"jsonrpc\":\"2.0\",\"id\":9201,\"method\":\"mcpspec/unknown-method\"}";

/// What one raw line drew from the server.
#[derive(Debug, Default)]
struct ProbeOutcome {
    /// The first message after the probe that is not the sentinel's answer: a response,
    /// or JSON shaped like no message (a batch answer is an array).
    answer: Option<Inbound>,
    /// The `ping` written right behind the probe was answered: the server kept going.
    sentinel_answered: bool,
    /// The server answered a `ping` before the probe was written; when it did not, the
    /// probe was never sent (the server was gone already).
    settled: bool,
    /// Over HTTP: the probe's POST was refused with 4xx without a JSON-RPC answer.
    refusal: Option<HttpRefusal>,
}

/// Whether the session can no longer be talked to.
fn is_dead(session: &Session) -> bool {
    session.stdout_closed() || session.control().exit_status().is_some()
}

/// Short description of why a session is dead, for messages. Once stdout has closed,
/// the exit status follows shortly: wait a little for it, since it says more.
async fn death(session: &Session) -> String {
    let status = match session.control().exit_status() {
        None if session.stdout_closed() => {
            session
                .control()
                .wait_exit(Duration::from_millis(500))
                .await
        }
        status => status,
    };
    match status {
        Some(status) => format!("the server exited ({status})"),
        None if session.stdout_closed() => "the server closed stdout".to_string(),
        None => "the server stopped answering".to_string(),
    }
}

/// Write `line` (plus a newline), then a sentinel `ping`. Returns the first answer to
/// the line and whether the sentinel was answered. Servers on one stdio connection
/// answer in order, so once the sentinel is answered the probe's answer is at most
/// `listen_after` away.
async fn probe(
    session: &Session,
    line: &[u8],
    timeout: Duration,
    listen_after: Duration,
) -> ProbeOutcome {
    // Settle first: whatever earlier input drew (even a stray answer to the handshake's
    // notification) arrives before this ping's answer, so it is not taken for ours.
    let mut outcome = ProbeOutcome::default();
    if session
        .request_timeout("ping", None, timeout)
        .await
        .is_err()
    {
        return outcome;
    }
    outcome.settled = true;
    let mark = session.mark();
    let sentinel = session.next_id();
    let pending = session.expect(&sentinel, "ping");
    let is_answer = |e: &Inbound| match e {
        Inbound::Response(_) => !e.is_response_to(&sentinel),
        Inbound::Unclassifiable(_) => true,
        _ => false,
    };
    let mut bytes = line.to_vec();
    bytes.push(b'\n');
    let refusals = session.http_refusal_mark();
    let wrote = session.send_raw(&bytes).await.is_ok()
        && {
            outcome.refusal = session.http_refusals_since(refusals).into_iter().next();
            true
        }
        && session
            .send(&request_message(&sentinel, "ping", None))
            .await
            .is_ok();
    if wrote {
        let started = tokio::time::Instant::now();
        let _ = session
            .wait_for(mark, timeout, |e| {
                is_answer(e) || e.is_response_to(&sentinel)
            })
            .await;
        let left = timeout.saturating_sub(started.elapsed());
        outcome.sentinel_answered = pending.wait(left).await.is_ok();
        // A refused POST is final: no answer to it can follow.
        if outcome.sentinel_answered
            && outcome.refusal.is_none()
            && !session.events_since(mark).iter().any(is_answer)
        {
            let _ = session
                .wait_for(mark, listen_after.min(timeout), is_answer)
                .await;
        }
    }
    outcome.answer = session.events_since(mark).into_iter().find(is_answer);
    if !outcome.sentinel_answered {
        // Dying or deaf? Give the end of stdout a moment to show, so the next probe
        // does not start on a server that is already gone.
        let _ = session
            .wait_for(session.mark(), QUIET.min(timeout), |_| false)
            .await;
    }
    outcome
}

/// Replace `session` with a fresh initialized server, ending the old one.
async fn replace(ctx: &mut Ctx, session: &mut Session) -> Result<(), Verdict> {
    session.control().kill();
    *session = ctx.spawn_initialized(json!({})).await?;
    Ok(())
}

/// `probe` for cases that judge the answer. A server found gone before the line was
/// written is replaced without blame; a line after which the server died or went deaf
/// without answering is retried once on a fresh process (it may have been dying of the
/// previous line). The note says what happened to the server, if anything.
async fn probe_answer(
    ctx: &mut Ctx,
    session: &mut Session,
    line: &str,
) -> Result<(ProbeOutcome, Option<String>), Verdict> {
    let mut note = None;
    let mut last = ProbeOutcome::default();
    for _ in 0..3 {
        if is_dead(session) {
            replace(ctx, session).await?;
        }
        let outcome = probe(session, line.as_bytes(), ctx.timeout(), QUIET).await;
        if !outcome.settled {
            replace(ctx, session).await?;
            continue;
        }
        if outcome.answer.is_some() || outcome.sentinel_answered || note.is_some() {
            let note = match outcome.sentinel_answered {
                true => None,
                false => Some(death(session).await),
            };
            return Ok((outcome, note));
        }
        note = Some(death(session).await);
        last = outcome;
        replace(ctx, session).await?;
    }
    Ok((last, note))
}

fn error_code_of(v: &Value) -> Option<i64> {
    v.pointer("/error/code").and_then(Value::as_i64)
}

/// An answer to unreadable or invalid input may carry id null, no id, or the id the
/// input had when it was readable; anything else belongs to some other request.
fn acceptable_error_id(answer: &Value, sent_id: Option<&Value>) -> bool {
    match answer.get("id") {
        None | Some(Value::Null) => true,
        Some(id) => sent_id == Some(id),
    }
}

// ---------------------------------------------------------------------------
// Traffic helpers for the passive checks
// ---------------------------------------------------------------------------

/// Every JSON message the server wrote, with batch arrays opened up.
fn server_messages(records: &[TrafficRecord]) -> Vec<(&TrafficRecord, Value)> {
    let mut out = Vec::new();
    for record in records {
        match &record.inbound {
            Inbound::Unclassifiable(Value::Array(items)) => {
                out.extend(items.iter().map(|v| (record, v.clone())));
            }
            other => {
                if let Some(v) = other.value() {
                    out.push((record, v.clone()));
                }
            }
        }
    }
    out
}

/// Every response the server wrote (batch elements included).
fn server_responses(records: &[TrafficRecord]) -> Vec<(&TrafficRecord, Value)> {
    server_messages(records)
        .into_iter()
        .filter(|(_, v)| matches!(Inbound::classify(v.clone(), 0), Inbound::Response(_)))
        .collect()
}

/// Verdict of a passive check from its offenders (shows at most three). The pass
/// message carries no counts: they depend on which cases ran, and reports stay stable.
fn passive_verdict(
    checked: usize,
    what: &str,
    offenders: Vec<String>,
    problem: &str,
    expected: &str,
    pass: &str,
) -> Verdict {
    if offenders.is_empty() {
        return Verdict::pass(pass);
    }
    let shown: Vec<String> = offenders.iter().take(3).cloned().collect();
    Verdict::violation(format!(
        "{} of {checked} {what}: {problem}",
        offenders.len()
    ))
    .expected(expected)
    .actual(shown.join("\n"))
}

fn describe_response(record: &TrafficRecord, v: &Value) -> String {
    let answering = record
        .answering
        .as_deref()
        .map(|m| format!("answer to {m}: "))
        .unwrap_or_default();
    format!("{answering}{}", clip(&v.to_string(), 300))
}

// ---------------------------------------------------------------------------
// JSONRPC-011
// ---------------------------------------------------------------------------

async fn unknown_method(ctx: &mut Ctx) -> CaseResult {
    // Method names are case-sensitive and exact: near-misses of real methods must not
    // be served.
    for method in [
        "mcpspec/unknown-method",
        "tools/List",
        "TOOLS/LIST",
        "tools/list ",
        "Ping",
    ] {
        let response = ctx.session().request(method, None).await?;
        expect_error_code(
            &response,
            &[code::METHOD_NOT_FOUND],
            &format!("request for method {method:?}"),
        )?;
    }
    Ok(Verdict::pass(
        "each unknown or wrongly-spelled method was answered with -32601",
    ))
}

// ---------------------------------------------------------------------------
// JSONRPC-002
// ---------------------------------------------------------------------------

async fn id_echo(ctx: &mut Ctx) -> CaseResult {
    let ids = [
        json!(0),
        json!(-1),
        json!(9007199254740991_i64),
        json!("0"),
        json!("1"),
        json!(""),
        json!("abc"),
        json!("🦀 ü"),
        json!("x".repeat(1024)),
    ];
    let session = ctx.session();
    for (i, id) in ids.iter().enumerate() {
        // A distinct suffix keeps string ids unique within the shared session.
        let id = match id {
            Value::String(s) => json!(format!("{s}#echo{i}")),
            other => other.clone(),
        };
        for method in ["ping", "mcpspec/unknown-method"] {
            let mark = session.mark();
            match session
                .request_with_id(id.clone(), method, None, ctx.timeout())
                .await
            {
                Ok(r) if r.id() == Some(&id) => {}
                Ok(r) => {
                    return Ok(Verdict::violation(format!(
                        "the id of a {method} request was altered"
                    ))
                    .expected(id.to_string())
                    .actual(r.raw.to_string()))
                }
                Err(e) => {
                    // The answer may have come back under a changed id: show it.
                    let stray = session
                        .events_since(mark)
                        .into_iter()
                        .find(|e| matches!(e, Inbound::Response(_)));
                    let actual = stray.map(|s| s.describe()).unwrap_or_else(|| e.to_string());
                    return Ok(Verdict::violation(format!(
                        "no response carried the id of a {method} request"
                    ))
                    .expected(format!("a response with id {}", clip(&id.to_string(), 80)))
                    .actual(actual));
                }
            }
        }
    }
    Ok(Verdict::pass("every id came back with its type and value"))
}

// ---------------------------------------------------------------------------
// JSONRPC-006
// ---------------------------------------------------------------------------

async fn notifications_unanswered(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let mark = session.mark();
    session
        .notify("notifications/mcpspec-probe", Some(json!({})))
        .await?;
    session
        .notify(
            "notifications/cancelled",
            Some(json!({ "requestId": "mcpspec-never-sent", "reason": "probe" })),
        )
        .await?;
    // Malformed: a request id of the wrong type, and progress for an unknown token.
    session
        .notify(
            "notifications/cancelled",
            Some(json!({ "requestId": [1, 2] })),
        )
        .await?;
    session
        .notify(
            "notifications/progress",
            Some(json!({ "progressToken": "mcpspec-unknown-token", "progress": "x" })),
        )
        .await?;
    session.notify("notifications/initialized", None).await?;
    // A request after the notifications: once its answer is in, anything the server
    // meant to say about the notifications has been said (messages are processed in
    // order on one connection).
    let id = session.next_id();
    session
        .request_with_id(id.clone(), "ping", None, ctx.timeout())
        .await?;
    let answers: Vec<String> = session
        .events_since(mark)
        .into_iter()
        .filter(|e| matches!(e, Inbound::Response(_)) && !e.is_response_to(&id))
        .map(|e| e.describe())
        .collect();
    if answers.is_empty() {
        Ok(Verdict::pass("none of 5 notifications was answered"))
    } else {
        Ok(Verdict::violation("the server answered a notification")
            .expected("no response to notifications")
            .actual(answers.join("\n")))
    }
}

// ---------------------------------------------------------------------------
// JSONRPC-007
// ---------------------------------------------------------------------------

async fn parse_error(ctx: &mut Ctx) -> CaseResult {
    let probes: Vec<(&str, &[i64])> = UNPARSEABLE
        .iter()
        .map(|line| (*line, &[code::PARSE_ERROR][..]))
        .collect();
    let problems = wrongly_answered(ctx, &probes).await?;
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "each of {} unparseable lines got -32700{}",
            UNPARSEABLE.len(),
            http_refusal_note(ctx)
        )));
    }
    Ok(Verdict::violation(format!(
        "{} of {} unparseable lines did not get a -32700 error",
        problems.len(),
        UNPARSEABLE.len()
    ))
    .expected("error -32700 with id null or no id, for each line")
    .actual(problems.join("\n")))
}

/// Sends each raw line on its own (on a replacement process when an earlier one killed
/// the server: survival is JSONRPC-008's business) and lists the lines whose answer was
/// not an error with one of their codes and an acceptable id.
async fn wrongly_answered(
    ctx: &mut Ctx,
    probes: &[(&str, &[i64])],
) -> Result<Vec<String>, Verdict> {
    let mut session = ctx.session().clone();
    let mut problems = Vec::new();
    for (line, codes) in probes {
        let sent_id = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|v| v.get("id").cloned());
        let (outcome, died) = probe_answer(ctx, &mut session, line).await?;
        match outcome.answer {
            Some(Inbound::Response(v))
                if error_code_of(&v).is_some_and(|c| codes.contains(&c))
                    && acceptable_error_id(&v, sent_id.as_ref()) => {}
            Some(other) => problems.push(format!("{line:?} → {}", other.describe())),
            // Over HTTP, input that is no valid request may be refused with an HTTP error
            // status alone (HTTP-006, HTTP-008).
            None if outcome.refusal.is_some() => {}
            None => problems.push(format!(
                "{line:?} → no answer{}",
                died.map(|d| format!(" ({d})")).unwrap_or_default()
            )),
        }
    }
    Ok(problems)
}

// ---------------------------------------------------------------------------
// JSONRPC-001 / -003 / -004 / -005: passive
// ---------------------------------------------------------------------------

async fn jsonrpc_version(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let messages: Vec<Value> = server_messages(&records)
        .into_iter()
        .map(|(_, v)| v)
        .filter(Value::is_object)
        .collect();
    let offenders = messages
        .iter()
        .filter(|v| v.get("jsonrpc") != Some(&json!("2.0")))
        .map(|v| clip(&v.to_string(), 300))
        .collect();
    Ok(passive_verdict(
        messages.len(),
        "server messages",
        offenders,
        "no \"jsonrpc\": \"2.0\"",
        "\"jsonrpc\": \"2.0\" on every message",
        "every server message had \"jsonrpc\": \"2.0\"",
    ))
}

async fn result_or_error(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let responses = server_responses(&records);
    let offenders = responses
        .iter()
        .filter(|(_, v)| v.get("result").is_some() == v.get("error").is_some())
        .map(|(r, v)| describe_response(r, v))
        .collect();
    Ok(passive_verdict(
        responses.len(),
        "responses",
        offenders,
        "both or neither of result and error",
        "exactly one of \"result\" and \"error\"",
        "every response had exactly one of result and error",
    ))
}

/// Why an `error` member is malformed, if it is.
fn error_shape_problem(error: &Value) -> Option<&'static str> {
    let Some(obj) = error.as_object() else {
        return Some("error is not an object");
    };
    match obj.get("code") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(_) => return Some("error.code is not an integer"),
        None => return Some("error.code is missing"),
    }
    match obj.get("message") {
        Some(Value::String(_)) => None,
        Some(_) => Some("error.message is not a string"),
        None => Some("error.message is missing"),
    }
}

async fn error_object(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let errors: Vec<(&TrafficRecord, Value)> = server_responses(&records)
        .into_iter()
        .filter(|(_, v)| v.get("error").is_some())
        .collect();
    let offenders = errors
        .iter()
        .filter_map(|(r, v)| {
            let problem = error_shape_problem(v.get("error")?)?;
            Some(format!("{problem}: {}", describe_response(r, v)))
        })
        .collect();
    Ok(passive_verdict(
        errors.len(),
        "error responses",
        offenders,
        "malformed error object",
        "\"error\": {\"code\": <integer>, \"message\": <string>, optional \"data\"}",
        "every error had an integer code and a string message",
    ))
}

async fn result_object(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let results: Vec<(&TrafficRecord, Value)> = server_responses(&records)
        .into_iter()
        .filter(|(_, v)| v.get("result").is_some())
        .collect();
    let offenders = results
        .iter()
        .filter(|(_, v)| !v.get("result").is_some_and(Value::is_object))
        .map(|(r, v)| describe_response(r, v))
        .collect();
    Ok(passive_verdict(
        results.len(),
        "results",
        offenders,
        "result is not an object",
        "\"result\": {...} (an empty result is {})",
        "every result was an object",
    ))
}

// ---------------------------------------------------------------------------
// JSONRPC-008
// ---------------------------------------------------------------------------

async fn survives_bad_input(ctx: &mut Ctx) -> CaseResult {
    let mut probes: Vec<&str> = UNPARSEABLE.to_vec();
    probes.extend(INVALID_REQUESTS.iter().map(|(line, _)| *line));
    probes.push(NULL_ID_PING);
    probes.push(UNKNOWN_METHOD);
    let mut session = ctx.session().clone();
    let mut problems = Vec::new();
    for line in &probes {
        let mut outcome = probe(&session, line.as_bytes(), ctx.timeout(), Duration::ZERO).await;
        if !outcome.settled {
            // Gone before this line (late death from an earlier one): not its doing.
            replace(ctx, &mut session).await?;
            outcome = probe(&session, line.as_bytes(), ctx.timeout(), Duration::ZERO).await;
        }
        if !outcome.sentinel_answered || is_dead(&session) {
            problems.push(format!("after {line:?}: {}", death(&session).await));
            // Keep going on a fresh process to find every input that breaks the server.
            replace(ctx, &mut session).await?;
        }
    }
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "the server answered a ping after each of {} bad inputs",
            probes.len()
        )));
    }
    Ok(Verdict::violation(format!(
        "the server stopped serving after {} of {} bad inputs",
        problems.len(),
        probes.len()
    ))
    .expected("the process keeps running and answers the next request")
    .actual(problems.join("\n")))
}

// ---------------------------------------------------------------------------
// JSONRPC-009
// ---------------------------------------------------------------------------

/// Over HTTP, what counted as an answer besides the JSON-RPC error.
fn http_refusal_note(ctx: &Ctx) -> &'static str {
    if ctx.session().http().is_some() {
        " or an HTTP 4xx refusal of the POST"
    } else {
        ""
    }
}

async fn invalid_request(ctx: &mut Ctx) -> CaseResult {
    let problems = wrongly_answered(ctx, INVALID_REQUESTS).await?;
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "each of {} invalid requests got -32600 (or -32602 for non-object params){}",
            INVALID_REQUESTS.len(),
            http_refusal_note(ctx)
        )));
    }
    Ok(Verdict::violation(format!(
        "{} of {} invalid requests were not refused with -32600",
        problems.len(),
        INVALID_REQUESTS.len()
    ))
    .expected("error -32600 (-32602 accepted for non-object params), id echoed or null")
    .actual(problems.join("\n")))
}

// ---------------------------------------------------------------------------
// JSONRPC-010
// ---------------------------------------------------------------------------

async fn null_id(ctx: &mut Ctx) -> CaseResult {
    let mut session = ctx.session().clone();
    let (outcome, died) = probe_answer(ctx, &mut session, NULL_ID_PING).await?;
    let expected = "error -32600 with id null";
    match outcome.answer {
        Some(Inbound::Response(v))
            if error_code_of(&v) == Some(code::INVALID_REQUEST)
                && acceptable_error_id(&v, None) =>
        {
            Ok(Verdict::pass("a ping with id null was refused with -32600"))
        }
        Some(Inbound::Response(v)) if v.get("result").is_some() => Ok(Verdict::violation(
            "a ping with id null was processed as a normal request",
        )
        .expected(expected)
        .actual(v.to_string())),
        Some(other) => Ok(
            Verdict::violation("a ping with id null got the wrong answer")
                .expected(expected)
                .actual(other.describe()),
        ),
        None if outcome.refusal.is_some() => Ok(Verdict::pass(format!(
            "a ping with id null was refused with HTTP {}",
            outcome.refusal.map(|r| r.status).unwrap_or_default()
        ))),
        None => Ok(Verdict::violation("a ping with id null got no answer")
            .expected(expected)
            .actual(
                died.unwrap_or_else(|| format!("nothing within {QUIET:?} of the next answer")),
            )),
    }
}

// ---------------------------------------------------------------------------
// JSONRPC-012
// ---------------------------------------------------------------------------

async fn bad_params(ctx: &mut Ctx) -> CaseResult {
    let profile = ctx.profile();
    let mut probes: Vec<(&str, Value)> = Vec::new();
    if profile.declares(Capability::Resources) {
        probes.push(("resources/read", json!({})));
        probes.push(("resources/read", json!({ "uri": 42 })));
    }
    if profile.declares(Capability::Tools) {
        probes.push(("tools/call", json!({ "arguments": {} })));
        probes.push(("tools/call", json!({ "name": 42, "arguments": {} })));
    }
    if profile.declares(Capability::Prompts) {
        probes.push(("prompts/get", json!({ "name": 42 })));
        probes.push(("prompts/get", json!({})));
    }
    if probes.is_empty() {
        return Ok(Verdict::untestable(
            "the server declares none of tools, resources and prompts, whose methods \
             take required params that could be broken",
        ));
    }
    let mut problems = Vec::new();
    for (method, params) in &probes {
        let response = ctx
            .session()
            .request_timeout(method, Some(params.clone()), ctx.timeout())
            .await?;
        if response.error_code() != Some(code::INVALID_PARAMS) {
            problems.push(format!("{method} {params} → {}", response.summary()));
        }
    }
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "each of {} requests with bad params got -32602",
            probes.len()
        )));
    }
    Ok(Verdict::violation(format!(
        "{} of {} requests with bad params did not get -32602",
        problems.len(),
        probes.len()
    ))
    .expected("error -32602")
    .actual(problems.join("\n")))
}

// ---------------------------------------------------------------------------
// Echo-like tools (JSONRPC-013, -016, -021)
// ---------------------------------------------------------------------------

/// A safe tool named `echo` with one string argument we can fill with our own text.
#[derive(Debug, Clone)]
pub(crate) struct EchoTool {
    pub name: String,
    base: Value,
    field: String,
}

impl EchoTool {
    pub fn arguments(&self, text: &str) -> Value {
        let mut args = self.base.clone();
        if let Some(obj) = args.as_object_mut() {
            obj.insert(self.field.clone(), json!(text));
        }
        args
    }

    pub fn call_params(&self, text: &str) -> Value {
        json!({ "name": self.name, "arguments": self.arguments(text) })
    }
}

/// The string property of an input schema we would put our text in: the only required
/// string property, else the only string property.
fn echo_field(schema: &Value) -> Option<String> {
    let props = schema.get("properties")?.as_object()?;
    let strings: Vec<&String> = props
        .iter()
        .filter(|(_, p)| p.get("type") == Some(&json!("string")) && p.get("enum").is_none())
        .map(|(k, _)| k)
        .collect();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let required_strings: Vec<&&String> = strings
        .iter()
        .filter(|k| required.contains(&k.as_str()))
        .collect();
    match (required_strings.as_slice(), strings.as_slice()) {
        ([only], _) => Some((**only).clone()),
        ([], [only]) => Some((*only).clone()),
        _ => None,
    }
}

/// The server's safe `echo` tool, if it has one we can drive.
pub(crate) async fn echo_tool(ctx: &Ctx) -> Result<Option<EchoTool>, Verdict> {
    if !ctx.profile().declares(Capability::Tools) {
        return Ok(None);
    }
    let tools = support::callable_tools(ctx).await?;
    Ok(tools.into_iter().find_map(|t| {
        if t.name != "echo" {
            return None;
        }
        let field = echo_field(t.definition.get("inputSchema")?)?;
        Some(EchoTool {
            name: t.name,
            base: t.arguments,
            field,
        })
    }))
}

/// Whether a tool result carries `text` in one of its text content items.
pub(crate) fn echoes(result: &Value, text: &str) -> bool {
    result
        .get("content")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items.iter().any(|item| {
                item.get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains(text))
            })
        })
}

// ---------------------------------------------------------------------------
// JSONRPC-013
// ---------------------------------------------------------------------------

/// Requests in the pipelined burst.
const PIPELINED: usize = 100;

/// What a pipelined request's answer must look like.
#[derive(Debug, Clone)]
enum Expect {
    Ping,
    /// A list result with this array field.
    List(&'static str),
    UnknownMethod,
    /// A tool result; for an echo tool, one that carries this text.
    Tool(Option<String>),
}

impl Expect {
    /// Why `response` cannot be the answer to a request expecting this, if it cannot.
    fn mismatch(&self, response: &Response) -> Option<String> {
        let result = response.result().filter(|_| response.error().is_none());
        let list_keys = [
            "tools",
            "resources",
            "prompts",
            "resourceTemplates",
            "content",
        ];
        let foreign = |r: &Value| list_keys.iter().find(|k| r.get(**k).is_some()).copied();
        match (self, result) {
            // Whether unknown methods get -32601 is JSONRPC-011's business; here only an
            // answer that belongs to another request counts.
            (Expect::UnknownMethod, None) => None,
            (Expect::UnknownMethod, Some(r)) => foreign(r)
                .map(|k| format!("an unknown method was answered with a result holding `{k}`")),
            (_, None) => Some(format!("answered with {}", response.summary())),
            (Expect::Ping, Some(r)) => {
                foreign(r).map(|k| format!("a ping was answered with a result holding `{k}`"))
            }
            (Expect::List(field), Some(r)) => (!r.get(*field).is_some_and(Value::is_array))
                .then(|| format!("a list request was answered without its `{field}` array")),
            (Expect::Tool(None), Some(r)) => (!r.get("content").is_some_and(Value::is_array))
                .then(|| "a tool call was answered without `content`".to_string()),
            (Expect::Tool(Some(text)), Some(r)) => (!echoes(r, text))
                .then(|| format!("an echo of {text:?} came back without that text")),
        }
    }
}

async fn pipelined_requests(ctx: &mut Ctx) -> CaseResult {
    let profile = ctx.profile();
    let mut lists = Vec::new();
    for (cap, method, field) in [
        (Capability::Tools, "tools/list", "tools"),
        (Capability::Resources, "resources/list", "resources"),
        (Capability::Prompts, "prompts/list", "prompts"),
    ] {
        if profile.declares(cap) {
            lists.push((method, field));
        }
    }
    // Tool calls run longest and concurrently in many servers: that is where answers
    // get lost or mixed up. An echo tool lets every call be told apart.
    let echo = echo_tool(ctx).await?;
    let generic = match &echo {
        Some(_) => None,
        None if profile.declares(Capability::Tools) => {
            support::callable_tools(ctx).await?.into_iter().next()
        }
        None => None,
    };

    let mut plan: Vec<(Value, String, Option<Value>, Expect)> = Vec::new();
    let mut rotation = 0usize;
    for i in 0..PIPELINED {
        // Integer and string ids alternate, so typing mix-ups show too.
        let id = if i % 2 == 0 {
            json!(100_000 + i)
        } else {
            json!(format!("mcpspec-pipe-{i}"))
        };
        let tool_turn = i % 3 == 0;
        let (method, params, expect) = match (&echo, &generic) {
            (Some(e), _) if tool_turn => {
                let text = format!("[mcpspec#{i}]");
                (
                    "tools/call".to_string(),
                    Some(e.call_params(&text)),
                    Expect::Tool(Some(text)),
                )
            }
            (None, Some(t)) if tool_turn => (
                "tools/call".to_string(),
                Some(json!({ "name": t.name, "arguments": t.arguments })),
                Expect::Tool(None),
            ),
            _ => {
                rotation += 1;
                match rotation % (2 + lists.len()) {
                    0 => ("ping".to_string(), None, Expect::Ping),
                    1 => (
                        "mcpspec/unknown-method".to_string(),
                        None,
                        Expect::UnknownMethod,
                    ),
                    n => {
                        let (method, field) = lists[n - 2];
                        (method.to_string(), None, Expect::List(field))
                    }
                }
            }
        };
        plan.push((id, method, params, expect));
    }

    let session = ctx.session().clone();
    let mark = session.mark();
    let mut pending = Vec::new();
    let mut bytes = Vec::new();
    for (id, method, params, _) in &plan {
        pending.push(session.expect(id, method));
        bytes.extend(
            serde_json::to_vec(&request_message(id, method, params.clone())).unwrap_or_default(),
        );
        bytes.push(b'\n');
    }
    // One write: the server gets the whole burst back to back.
    session.send_raw(&bytes).await?;
    let window = (ctx.timeout() * 3).min(Duration::from_secs(30));
    let deadline = Instant::now() + window;
    let mut answers: Vec<Option<Response>> = Vec::new();
    for p in pending {
        let left = deadline.saturating_duration_since(Instant::now());
        answers.push(p.wait(left).await.ok());
    }
    // A request behind everything: duplicates written before its answer are in.
    let flushed = session
        .request_timeout("ping", None, ctx.timeout())
        .await
        .is_ok();

    let planned: HashSet<String> = plan.iter().map(|(id, ..)| id_key(id)).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut strangers = Vec::new();
    for event in session.events_since(mark) {
        if let Inbound::Response(v) = &event {
            let key = v.get("id").map(id_key).unwrap_or_else(|| "(none)".into());
            if planned.contains(&key) {
                *counts.entry(key).or_default() += 1;
            } else if session
                .method_of(v.get("id").unwrap_or(&Value::Null))
                .as_deref()
                != Some("ping")
            {
                strangers.push(clip(&v.to_string(), 200));
            }
        }
    }
    let mut lost = Vec::new();
    let mut duplicated = Vec::new();
    let mut mismatched = Vec::new();
    for ((id, method, _, expect), answer) in plan.iter().zip(&answers) {
        let key = id_key(id);
        match counts.get(&key).copied().unwrap_or(0) {
            0 => lost.push(format!("{key} ({method})")),
            1 => {}
            n => duplicated.push(format!("{key} ({method}) ×{n}")),
        }
        if let Some(problem) = answer.as_ref().and_then(|r| expect.mismatch(r)) {
            // Name the request whose answer this really was, when an echo tells.
            let owner = answer.as_ref().and_then(Response::result).and_then(|r| {
                plan.iter().find_map(|(other, _, _, e)| match e {
                    Expect::Tool(Some(text)) if other != id && echoes(r, text) => {
                        Some(id_key(other))
                    }
                    _ => None,
                })
            });
            let problem = match owner {
                Some(other) => format!("{problem}: it carries the echo sent with id {other}"),
                None => problem,
            };
            mismatched.push(format!("{key} ({method}): {problem}"));
        }
    }
    let tools_used = match (&echo, &generic) {
        (Some(e), _) => format!("calls to {} with distinct texts", e.name),
        (None, Some(t)) => format!("calls to {} (answers not distinguishable)", t.name),
        (None, None) => "no tool calls (no safe callable tool)".to_string(),
    };
    if lost.is_empty() && duplicated.is_empty() && mismatched.is_empty() && strangers.is_empty() {
        return Ok(Verdict::pass(format!(
            "each of {PIPELINED} pipelined requests got exactly one matching response \
             (mix included {tools_used})"
        )));
    }
    let mut actual = Vec::new();
    let mut summary = Vec::new();
    for (label, items) in [
        ("lost", &lost),
        ("duplicated", &duplicated),
        ("mismatched", &mismatched),
        ("unrequested ids", &strangers),
    ] {
        if items.is_empty() {
            continue;
        }
        summary.push(format!("{} {label}", items.len()));
        let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
        actual.push(format!("{label}: {}", shown.join("; ")));
    }
    if !flushed {
        actual.push(format!(
            "then a ping got no answer: {}",
            death(&session).await
        ));
    }
    Ok(Verdict::violation(format!(
        "of {PIPELINED} pipelined requests: {} (answers awaited for up to {window:?})",
        summary.join(", ")
    ))
    .expected("one response per request, with its id, matching its method")
    .actual(actual.join("\n")))
}

// ---------------------------------------------------------------------------
// JSONRPC-016
// ---------------------------------------------------------------------------

/// A response reduced to what must not change when harmless extras are added.
fn outcome_shape(method: &str, echo: bool, response: &Response) -> Value {
    if let Some(error) = response.error() {
        return json!({ "error": error.get("code") });
    }
    let result = response.result().cloned().unwrap_or(Value::Null);
    let names = |field: &str, key: &str| -> Value {
        result
            .get(field)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|i| i.get(key).cloned().unwrap_or(Value::Null))
                    .collect()
            })
            .unwrap_or(Value::Null)
    };
    match method {
        "tools/list" => json!({ "tools": names("tools", "name") }),
        "resources/list" => json!({ "resources": names("resources", "uri") }),
        "prompts/list" => json!({ "prompts": names("prompts", "name") }),
        "tools/call" if echo => json!({ "content": result.get("content") }),
        "tools/call" => {
            json!({ "isError": result.get("isError").and_then(Value::as_bool).unwrap_or(false) })
        }
        _ => json!({ "result": if result.is_object() { "object" } else { "not an object" } }),
    }
}

/// Merge `extra` into a params object (or start one).
fn with_extra(params: &Option<Value>, extra: &Value) -> Value {
    let mut out = params.clone().unwrap_or_else(|| json!({}));
    if let (Some(obj), Some(add)) = (out.as_object_mut(), extra.as_object()) {
        for (k, v) in add {
            obj.insert(k.clone(), v.clone());
        }
    }
    out
}

async fn extra_params(ctx: &mut Ctx) -> CaseResult {
    let profile = ctx.profile();
    let mut calls: Vec<(&str, Option<Value>, bool)> = vec![("ping", None, false)];
    for (cap, method) in [
        (Capability::Tools, "tools/list"),
        (Capability::Resources, "resources/list"),
        (Capability::Prompts, "prompts/list"),
    ] {
        if profile.declares(cap) {
            calls.push((method, None, false));
        }
    }
    if let Some(e) = echo_tool(ctx).await? {
        calls.push((
            "tools/call",
            Some(e.call_params("mcpspec extra-params")),
            true,
        ));
    } else if profile.declares(Capability::Tools) {
        if let Some(t) = support::callable_tools(ctx).await?.into_iter().next() {
            let params = json!({ "name": t.name, "arguments": t.arguments });
            calls.push(("tools/call", Some(params), false));
        }
    }
    let extras = [
        json!({ "x_conformance": true }),
        json!({ "_meta": { "com.example/x": 1 } }),
        json!({ "_meta": { "progressToken": "mcpspec-extra-params" } }),
    ];
    let session = ctx.session();
    let mut problems = Vec::new();
    for (method, params, echo) in &calls {
        let plain = session
            .request_timeout(method, params.clone(), ctx.timeout())
            .await?;
        let want = outcome_shape(method, *echo, &plain);
        for extra in &extras {
            let params = with_extra(params, extra);
            let got = session
                .request_timeout(method, Some(params.clone()), ctx.timeout())
                .await?;
            if outcome_shape(method, *echo, &got) != want {
                problems.push(format!(
                    "{method} with {extra}: {} (plain call: {})",
                    got.summary(),
                    plain.summary()
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "{} calls answered the same with an extra params key, a vendor _meta key and a progressToken",
            calls.len()
        )));
    }
    Ok(Verdict::violation(format!(
        "{} calls with harmless extras were answered differently from the plain calls",
        problems.len()
    ))
    .expected("the same outcome as without the extras")
    .actual(problems.join("\n")))
}

// ---------------------------------------------------------------------------
// JSONRPC-017 / -018
// ---------------------------------------------------------------------------

/// What a batch probe without an answer shows (the request behind it was answered, or
/// the probe would have said the server died).
const NO_ANSWER: &str = "no answer (the batch was ignored)";

/// `[ping, tools/list (or ping), notification]` with ids `a` and `b`.
fn mixed_batch(ctx: &Ctx, a: &Value, b: &Value) -> String {
    let second = if ctx.profile().declares(Capability::Tools) {
        "tools/list"
    } else {
        "ping"
    };
    json!([
        request_message(a, "ping", None),
        request_message(b, second, None),
        { "jsonrpc": "2.0", "method": "notifications/mcpspec-probe" },
    ])
    .to_string()
}

/// Every response in the events since `mark`, batch arrays opened up.
fn responses_since(session: &Session, mark: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for event in session.events_since(mark) {
        match event {
            Inbound::Response(v) => out.push(v),
            Inbound::Unclassifiable(Value::Array(items)) => out.extend(
                items
                    .into_iter()
                    .filter(|v| matches!(Inbound::classify(v.clone(), 0), Inbound::Response(_))),
            ),
            _ => {}
        }
    }
    out
}

/// Whether an answer is a -32600 error: a single response, or an array of them.
fn is_invalid_request_answer(answer: &Inbound) -> bool {
    match answer {
        Inbound::Response(v) => error_code_of(v) == Some(code::INVALID_REQUEST),
        Inbound::Unclassifiable(Value::Array(items)) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|v| error_code_of(v) == Some(code::INVALID_REQUEST))
        }
        _ => false,
    }
}

async fn batch_accepted(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let (a, b) = (json!("mcpspec-batch-a"), json!("mcpspec-batch-b"));
    let batch = mixed_batch(ctx, &a, &b);

    // 1. A mixed batch: one array holding the two responses.
    let mark = session.mark();
    let outcome = probe(&session, batch.as_bytes(), ctx.timeout(), QUIET).await;
    let answered: Vec<Value> = responses_since(&session, mark)
        .into_iter()
        .filter(|v| v.get("id") == Some(&a) || v.get("id") == Some(&b))
        .collect();
    let expected =
        "one array holding a result for id \"mcpspec-batch-a\" and one for \"mcpspec-batch-b\"";
    match &outcome.answer {
        None => {
            return Ok(Verdict::violation("a batch got no answer")
                .expected(expected)
                .actual(match outcome.sentinel_answered {
                    true => "nothing, though the next request was answered".to_string(),
                    false => format!("nothing: {}", death(&session).await),
                }))
        }
        Some(Inbound::Unclassifiable(Value::Array(items))) => {
            let ids: Vec<Option<&Value>> = items.iter().map(|v| v.get("id")).collect();
            let complete = items.len() == 2
                && ids.contains(&Some(&a))
                && ids.contains(&Some(&b))
                && items
                    .iter()
                    .all(|v| v.get("result").is_some_and(Value::is_object));
            if !complete {
                return Ok(
                    Verdict::violation("the batch answer is not the two responses")
                        .expected(expected)
                        .actual(clip(&Value::Array(items.clone()).to_string(), 1000)),
                );
            }
        }
        Some(other) => {
            let rejected = answered.is_empty() || answered.iter().any(|v| v.get("error").is_some());
            if rejected {
                return Ok(
                    Verdict::violation("a batch was refused in a 2025-03-26 session")
                        .expected(expected)
                        .actual(other.describe()),
                );
            }
            // Executed, but the responses came one by one: JSON-RPC asks for an array.
            return Ok(
                Verdict::violation("the batch's responses were not sent as one array")
                    .at_level(Level::Should)
                    .expected(expected)
                    .actual(
                        answered
                            .iter()
                            .map(|v| clip(&v.to_string(), 300))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
            );
        }
    }

    // 2. An empty batch: a single -32600.
    let outcome = probe(&session, b"[]", ctx.timeout(), QUIET).await;
    match &outcome.answer {
        Some(answer) if is_invalid_request_answer(answer) => {}
        other => {
            return Ok(
                Verdict::violation("an empty batch was not answered with -32600")
                    .expected("one error -32600")
                    .actual(
                        other
                            .as_ref()
                            .map(Inbound::describe)
                            .unwrap_or_else(|| NO_ANSWER.into()),
                    ),
            )
        }
    }

    // 3. A batch of notifications only: no answer at all.
    let line = json!([
        { "jsonrpc": "2.0", "method": "notifications/mcpspec-probe" },
        { "jsonrpc": "2.0", "method": "notifications/mcpspec-probe", "params": {} },
    ])
    .to_string();
    let outcome = probe(&session, line.as_bytes(), ctx.timeout(), QUIET).await;
    if let Some(answer) = &outcome.answer {
        return Ok(Verdict::violation("a batch of notifications was answered")
            .expected("no answer")
            .actual(answer.describe()));
    }
    if !outcome.sentinel_answered {
        return Ok(Verdict::violation(
            "the server stopped answering after a batch of notifications",
        )
        .expected("no answer to the batch, then an answer to the next request")
        .actual(death(&session).await));
    }
    Ok(Verdict::pass(
        "a mixed batch got an array of both responses, [] got -32600, and a batch of notifications got nothing",
    ))
}

async fn batch_rejected(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let (a, b) = (json!("mcpspec-batch-a"), json!("mcpspec-batch-b"));
    let batch = mixed_batch(ctx, &a, &b);
    let version = ctx.version();
    let expected = "one error -32600; none of the batch's requests executed";

    let mark = session.mark();
    let outcome = probe(&session, batch.as_bytes(), ctx.timeout(), QUIET).await;
    let executed: Vec<String> = responses_since(&session, mark)
        .into_iter()
        .filter(|v| {
            (v.get("id") == Some(&a) || v.get("id") == Some(&b)) && v.get("result").is_some()
        })
        .map(|v| clip(&v.to_string(), 300))
        .collect();
    if !executed.is_empty() {
        return Ok(
            Verdict::violation(format!("a batch was executed in a {version} session"))
                .expected(expected)
                .actual(executed.join("\n")),
        );
    }
    match &outcome.answer {
        Some(answer) if is_invalid_request_answer(answer) => {}
        // Over HTTP a 400 for the whole POST refuses the batch too.
        None if outcome.refusal.is_some() => {}
        other => {
            return Ok(Verdict::violation(format!(
                "a batch in a {version} session was not refused with -32600"
            ))
            .expected(expected)
            .actual(
                other
                    .as_ref()
                    .map(Inbound::describe)
                    .unwrap_or_else(|| NO_ANSWER.into()),
            ))
        }
    }
    let outcome = probe(&session, b"[]", ctx.timeout(), QUIET).await;
    match &outcome.answer {
        Some(answer) if is_invalid_request_answer(answer) => {}
        None if outcome.refusal.is_some() => {}
        other => {
            return Ok(
                Verdict::violation("an empty batch was not answered with -32600")
                    .expected("one error -32600")
                    .actual(
                        other
                            .as_ref()
                            .map(Inbound::describe)
                            .unwrap_or_else(|| NO_ANSWER.into()),
                    ),
            )
        }
    }
    Ok(Verdict::pass(format!(
        "batches were refused with -32600{} in a {version} session and not executed",
        http_refusal_note(ctx)
    )))
}

// ---------------------------------------------------------------------------
// JSONRPC-021
// ---------------------------------------------------------------------------

/// Text with two-, three- and four-byte UTF-8 characters.
const NON_ASCII: &str = "é 世界 🦀";

/// Invalid UTF-8 frames among `events`, described.
fn invalid_utf8_frames(events: &[Inbound]) -> Vec<String> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Inbound::Invalid {
                    error: FrameError::InvalidUtf8 { .. },
                    ..
                }
            )
        })
        .map(Inbound::describe)
        .collect()
}

async fn non_ascii_round_trip(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let start = session.mark();
    let mut problems = Vec::new();
    let mut checked = Vec::new();

    // Ids: sent as UTF-8, and once as an escaped surrogate pair (which must come back
    // as the crab it encodes).
    let mut ids: Vec<(Value, Option<String>)> = ["é", "世界", "🦀"]
        .iter()
        .map(|s| (json!(format!("mcpspec-{s}")), None))
        .collect();
    ids.push((
        json!("mcpspec-🦀-escaped"),
        Some(
            r#"{"jsonrpc":"2.0","id":"mcpspec-\ud83e\udd80-escaped","method":"ping"}"#.to_string(),
        ),
    ));
    for (id, raw) in &ids {
        let mark = session.mark();
        let pending = session.expect(id, "ping");
        let sent = match raw {
            Some(line) => session.send_raw(format!("{line}\n").as_bytes()).await,
            None => session.send(&request_message(id, "ping", None)).await,
        };
        sent?;
        if pending.wait(ctx.timeout()).await.is_err() {
            let stray = session
                .events_since(mark)
                .into_iter()
                .find(|e| !matches!(e, Inbound::Notification(_) | Inbound::Request(_)));
            problems.push(format!(
                "ping with id {id}: {}",
                stray
                    .map(|s| s.describe())
                    .unwrap_or_else(|| "no response carried that id".into())
            ));
        }
    }
    checked.push(format!("{} non-ASCII ids", ids.len()));

    // Tool text through an echo tool, as UTF-8 and as \u escapes.
    if let Some(echo) = echo_tool(ctx).await? {
        for escaped in [false, true] {
            let id = session.next_id();
            let pending = session.expect(&id, "tools/call");
            let message = request_message(&id, "tools/call", Some(echo.call_params(NON_ASCII)));
            let line = if escaped {
                // serde_json writes non-ASCII as UTF-8; spell it as JSON escapes instead.
                message
                    .to_string()
                    .chars()
                    .map(|c| {
                        if c.is_ascii() {
                            c.to_string()
                        } else {
                            c.encode_utf16(&mut [0; 2])
                                .iter()
                                .map(|u| format!("\\u{u:04x}"))
                                .collect()
                        }
                    })
                    .collect::<String>()
            } else {
                message.to_string()
            };
            session.send_raw(format!("{line}\n").as_bytes()).await?;
            let how = if escaped {
                "as \\u escapes"
            } else {
                "as UTF-8"
            };
            match pending.wait(ctx.timeout()).await {
                Ok(r) if r.result().is_some_and(|res| echoes(res, NON_ASCII)) => {}
                Ok(r) => problems.push(format!(
                    "{} echo of {NON_ASCII:?} sent {how}: {}",
                    echo.name,
                    r.summary()
                )),
                Err(e) => problems.push(format!(
                    "{} echo of {NON_ASCII:?} sent {how}: {e}",
                    echo.name
                )),
            }
        }
        checked.push(format!("echoes through {}", echo.name));
    }

    // A tool known to answer with non-ASCII text (the fixture's `multiline`), when safe.
    if ctx.profile().declares(Capability::Tools) {
        let multiline = support::callable_tools(ctx)
            .await?
            .into_iter()
            .find(|t| t.name == "multiline");
        if let Some(t) = multiline {
            let mark = session.mark();
            let id = session.next_id();
            session
                .send(&request_message(
                    &id,
                    "tools/call",
                    Some(json!({ "name": t.name, "arguments": t.arguments })),
                ))
                .await?;
            // An answer that is not UTF-8 never reaches the id: wait for either.
            let _ = session
                .wait_for(mark, ctx.timeout(), |e| {
                    e.is_response_to(&id) || matches!(e, Inbound::Invalid { .. })
                })
                .await;
            checked.push("multiline output".to_string());
        }
    }

    let bad = invalid_utf8_frames(&session.events_since(start));
    problems.extend(bad.into_iter().map(|b| format!("output line with {b}")));
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "non-ASCII text came back intact ({}) and every line was valid UTF-8",
            checked.join(", ")
        )));
    }
    Ok(
        Verdict::violation("non-ASCII text did not round-trip as valid UTF-8")
            .expected(format!(
                "ids and echoes unchanged ({NON_ASCII:?}), valid UTF-8 output"
            ))
            .actual(problems.join("\n")),
    )
}

async fn utf8_output(ctx: &mut Ctx) -> CaseResult {
    let records = ctx.traffic().records();
    let offenders: Vec<String> = records
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
    Ok(passive_verdict(
        records.len(),
        "output lines",
        offenders,
        "not valid UTF-8",
        "every line valid UTF-8",
        "every line the server wrote was valid UTF-8",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_field_prefers_the_single_required_string() {
        let schema = json!({
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "note": {"type": "string"},
                "n": {"type": "integer"}
            },
            "required": ["message", "n"]
        });
        assert_eq!(echo_field(&schema).as_deref(), Some("message"));
        let only = json!({"properties": {"text": {"type": "string"}}});
        assert_eq!(echo_field(&only).as_deref(), Some("text"));
        let ambiguous = json!({"properties": {"a": {"type": "string"}, "b": {"type": "string"}}});
        assert_eq!(echo_field(&ambiguous), None);
        let enumerated = json!({"properties": {"mode": {"type": "string", "enum": ["x"]}}});
        assert_eq!(echo_field(&enumerated), None);
    }

    #[test]
    fn error_shapes() {
        assert_eq!(
            error_shape_problem(&json!({"code": -32600, "message": "x"})),
            None
        );
        assert_eq!(
            error_shape_problem(&json!({"code": -32600, "message": "x", "data": [1]})),
            None
        );
        assert!(error_shape_problem(&json!({"code": "-32600", "message": "x"})).is_some());
        assert!(error_shape_problem(&json!({"code": -32600.5, "message": "x"})).is_some());
        assert!(error_shape_problem(&json!({"code": -32600})).is_some());
        assert!(error_shape_problem(&json!("boom")).is_some());
    }

    #[test]
    fn pipelined_expectations_tell_answers_apart() {
        let r = |v: Value| Response { raw: v };
        let ping = r(json!({"jsonrpc":"2.0","id":1,"result":{}}));
        let list = r(json!({"jsonrpc":"2.0","id":1,"result":{"tools":[]}}));
        let error = r(json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}));
        let echo = r(
            json!({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Echo: [mcpspec#3]"}]}}),
        );
        assert!(Expect::Ping.mismatch(&ping).is_none());
        assert!(Expect::Ping.mismatch(&list).is_some());
        assert!(Expect::List("tools").mismatch(&list).is_none());
        assert!(Expect::List("tools").mismatch(&ping).is_some());
        assert!(Expect::UnknownMethod.mismatch(&error).is_none());
        assert!(Expect::UnknownMethod.mismatch(&ping).is_none());
        assert!(Expect::UnknownMethod.mismatch(&list).is_some());
        assert!(Expect::Tool(Some("[mcpspec#3]".into()))
            .mismatch(&echo)
            .is_none());
        assert!(Expect::Tool(Some("[mcpspec#30]".into()))
            .mismatch(&echo)
            .is_some());
        assert!(Expect::Tool(None).mismatch(&echo).is_none());
        assert!(Expect::Tool(None).mismatch(&error).is_some());
    }

    #[test]
    fn error_ids_for_unreadable_input() {
        let e = |id: Value| json!({"jsonrpc":"2.0","id":id,"error":{"code":-32600,"message":"x"}});
        assert!(acceptable_error_id(&e(Value::Null), None));
        assert!(acceptable_error_id(&json!({"error":{}}), None));
        assert!(!acceptable_error_id(&e(json!(1)), None));
        assert!(acceptable_error_id(&e(json!(9103)), Some(&json!(9103))));
        assert!(!acceptable_error_id(&e(json!("9103")), Some(&json!(9103))));
    }

    #[test]
    fn batch_rejection_shapes() {
        let err = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}});
        assert!(is_invalid_request_answer(&Inbound::Response(err.clone())));
        assert!(is_invalid_request_answer(&Inbound::Unclassifiable(json!(
            [err]
        ))));
        assert!(!is_invalid_request_answer(&Inbound::Unclassifiable(json!(
            []
        ))));
        assert!(!is_invalid_request_answer(&Inbound::Response(
            json!({"jsonrpc":"2.0","id":"a","result":{}})
        )));
    }
}
