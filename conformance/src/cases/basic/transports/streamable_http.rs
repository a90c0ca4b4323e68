//! Spec page `basic/transports/streamable-http` (revisions 2025-03-26..2025-11-25).
//! Catalogue areas HTTP (POST semantics, GET, sessions, the version header) and SEC-001
//! (Origin). The cases speak HTTP themselves through the session's client, so they can
//! send what a well-behaved client never would (no session id, a foreign Origin, a bad
//! version header) and see the exact status and media type of each answer.

use crate::case::{Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::{
    callable_tools, initialize_params, listed_verdict, slow_tool, SlowTool,
};
use crate::session::{media_type, request_message, HttpSessionInfo, RequestError};
use crate::spec::{Level, Revision, Revisions, Transport};
use crate::util::clip;
use mcpspec_harness::{
    escape_bytes, Delivery, HttpRequest, HttpResponse, SseDecoder, SseItem, SseLimits,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HTTP: &[Transport] = &[Transport::StreamableHttp];
const STREAMABLE: Revisions = Revisions::since(Revision::V2025_03_26);
const VERSION_HEADER: Revisions = Revisions::since(Revision::V2025_06_18);
/// Sessions, the GET stream and resumption (gone in the stateless revision).
const SESSIONS: Revisions = Revisions::range(Revision::V2025_03_26, Revision::V2025_11_25);
/// HTTP-009: pause between the pieces of a POST body.
const PIECE_GAP: Duration = Duration::from_millis(150);
/// SEC-001: the origins no local server may serve.
const FOREIGN_ORIGINS: &[&str] = &[
    "https://attacker.example",
    "http://localhost.attacker.example",
];

pub const CASES: &[Case] = &[
    Case {
        id: "basic/transports/streamable-http/post-answers-requests",
        title: "A POSTed request is answered with 2xx and a JSON or SSE body holding its response",
        requirements: &["HTTP-001", "HTTP-002"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(post_answers_requests(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/accept-honoured",
        title: "A request accepting only one of JSON or SSE is answered in that type or refused with 406",
        requirements: &["HTTP-007"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(accept_honoured(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/json-answer-exact",
        title: "A JSON answer to one request is exactly one response object with the request's id",
        requirements: &["HTTP-003"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(json_answer_exact(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/notification-accepted",
        title: "A POSTed notification is answered 202 Accepted with an empty body",
        requirements: &["HTTP-005"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(notification_accepted(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/invalid-notification-refused",
        title: "A POSTed invalid message that is not a request gets an HTTP error status",
        requirements: &["HTTP-006"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(invalid_notification_refused(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/version-header-optional",
        title: "A request without an MCP-Protocol-Version header is still answered",
        requirements: &["HTTP-027"],
        level: Level::Should,
        revisions: VERSION_HEADER,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(version_header_optional(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/session-id-required",
        title: "A request without the issued Mcp-Session-Id is refused with 400",
        requirements: &["HTTP-020", "HTTP-022"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(session_id_required(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/unknown-session",
        title: "A request with a session id the server never issued is answered 404",
        requirements: &["HTTP-023"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(unknown_session(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/delete-ends-session",
        title: "DELETE ends the session (its id then gets 404) or is refused with 405",
        requirements: &["HTTP-025", "HTTP-023"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(delete_ends_session(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/unsupported-protocol-version",
        title: "A request with an unsupported MCP-Protocol-Version header is refused with 400",
        requirements: &["HTTP-026"],
        level: Level::Must,
        revisions: VERSION_HEADER,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(unsupported_protocol_version(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/initialize-without-version-header",
        title: "initialize succeeds without an MCP-Protocol-Version header",
        requirements: &["HTTP-028"],
        level: Level::Must,
        revisions: VERSION_HEADER,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(initialize_without_version_header(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/get-stream-or-405",
        title: "GET on the endpoint opens an SSE stream or is refused with 405",
        requirements: &["HTTP-012"],
        level: Level::Must,
        revisions: Revisions::range(Revision::V2025_03_26, Revision::V2025_11_25),
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(get_stream_or_405(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/foreign-origin-forbidden",
        title: "A request with a foreign Origin is refused with 403; one without Origin is served",
        requirements: &["SEC-001"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(foreign_origin_forbidden(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/sse-answer-complete",
        title: "An SSE answer to a tool call carries the response in a complete event",
        requirements: &["HTTP-002", "HTTP-011"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[crate::case::Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(sse_answer_complete(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/body-in-pieces",
        title: "A POST whose body arrives in several delayed pieces is answered normally",
        requirements: &["HTTP-009"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(body_in_pieces(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/sse-answer-closes",
        title: "An SSE answer carries its response and then ends",
        requirements: &["HTTP-004"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[crate::case::Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(sse_answer_closes(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/bad-bodies-refused",
        title: "An empty body, a non-JSON body and a text/plain body are refused with 4xx",
        requirements: &["HTTP-008"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(bad_bodies_refused(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/concurrent-posts",
        title: "Many simultaneous POSTs are each answered with their own response",
        requirements: &["HTTP-010"],
        level: Level::Must,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(concurrent_posts(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/session-id-stable",
        title: "Answers after initialize do not issue a different Mcp-Session-Id",
        requirements: &["HTTP-021"],
        level: Level::Should,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(session_id_stable(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/reinitialize-after-404",
        title: "After a 404 for its session a client can initialize again and gets a new id",
        requirements: &["HTTP-024"],
        level: Level::Must,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(reinitialize_after_404(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/batch-post",
        title: "A batch of requests gets every response; a batch of notifications gets 202",
        requirements: &["HTTP-029"],
        level: Level::Must,
        revisions: Revisions::only(Revision::V2025_03_26),
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(batch_post(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/get-stream-no-responses",
        title: "The standalone GET stream carries no responses to POSTed requests",
        requirements: &["HTTP-013"],
        level: Level::Must,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(get_stream_no_responses(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/one-stream-per-message",
        title: "Each server message appears on exactly one of the open streams",
        requirements: &["HTTP-014"],
        level: Level::Must,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(one_stream_per_message(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/event-ids-unique",
        title: "SSE event ids are unique across every stream of the session",
        requirements: &["HTTP-015"],
        level: Level::Must,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(event_ids_unique(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/resume-only-broken-stream",
        title: "Resuming with Last-Event-ID replays only the broken stream's messages",
        requirements: &["HTTP-016"],
        level: Level::Must,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[crate::case::Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(resume_only_broken_stream(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/dropped-stream-not-cancelled",
        title: "A call whose SSE connection dropped still completes (its result is recoverable)",
        requirements: &["HTTP-017"],
        level: Level::Should,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[crate::case::Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(dropped_stream_not_cancelled(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/get-stream-reconnect",
        title: "A standalone GET stream can be opened again after it closed",
        requirements: &["HTTP-018"],
        level: Level::May,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(get_stream_reconnect(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/priming-event",
        title: "An SSE answer starts with a priming event (an id and empty data)",
        requirements: &["HTTP-019"],
        level: Level::Should,
        revisions: Revisions::only(Revision::V2025_11_25),
        transports: HTTP,
        needs: &[crate::case::Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(priming_event(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/foreign-host-forbidden",
        title: "A loopback server refuses a request whose Host is not a loopback name",
        requirements: &["SEC-002"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(foreign_host_forbidden(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/loopback-only",
        title: "A local server listens on loopback only, not on every interface",
        requirements: &["SEC-003"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(loopback_only(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/session-ids-unguessable",
        title: "Session ids are distinct, long and random (no counters or timestamps)",
        requirements: &["SEC-004"],
        level: Level::Must,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(session_ids_unguessable(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/session-state-isolated",
        title: "A log level set in one session does not change what another session receives",
        requirements: &["SEC-005"],
        level: Level::Should,
        revisions: SESSIONS,
        transports: HTTP,
        needs: &[crate::case::Capability::Logging, crate::case::Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(session_state_isolated(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/oversized-body-bounded",
        title: "A 50 MiB POST body is refused (413, 4xx or an error) and the server keeps serving",
        requirements: &["SEC-008"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(oversized_body_bounded(ctx)),
    },
    Case {
        id: "basic/transports/streamable-http/unauthenticated-exposure",
        title: "Report that the server serves MCP over HTTP without any credentials",
        requirements: &["SEC-009"],
        level: Level::Should,
        revisions: STREAMABLE,
        transports: HTTP,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unauthenticated_exposure(ctx)),
    },
];

/// What one HTTP exchange showed.
#[derive(Debug, Default)]
struct Exchange {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    /// JSON-RPC messages found in the body (JSON or SSE events).
    messages: Vec<Value>,
    /// SSE problems and unparseable event data, precisely.
    problems: Vec<String>,
    /// The `Mcp-Session-Id` header of the answer, if any.
    session_header: Option<String>,
}

impl Exchange {
    fn media(&self) -> String {
        media_type(&self.content_type)
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn response_to(&self, id: &Value) -> Option<&Value> {
        self.messages
            .iter()
            .find(|m| m.get("id") == Some(id) && m.get("method").is_none())
    }

    /// `HTTP 200 (application/json): {...}` for evidence.
    fn describe(&self) -> String {
        let ct = if self.content_type.is_empty() {
            "no Content-Type"
        } else {
            &self.content_type
        };
        let mut s = format!("HTTP {} ({ct})", self.status);
        if !self.body.is_empty() {
            s.push_str(&format!(": {}", escape_bytes(&self.body, 300)));
        }
        for p in &self.problems {
            s.push_str(&format!("\n{p}"));
        }
        s
    }
}

fn http_info(ctx: &Ctx) -> Result<HttpSessionInfo, Verdict> {
    ctx.session()
        .http()
        .ok_or_else(|| Verdict::harness_error("an HTTP case ran on a session that is not HTTP"))
}

/// Send `request` and wait for the answer's head by `deadline`. No HTTP response at
/// all is a violation naming the request (and `label`, if given).
async fn send(
    info: &HttpSessionInfo,
    request: HttpRequest,
    label: Option<&str>,
    deadline: Instant,
) -> Result<HttpResponse, Verdict> {
    let mut what = format!("{} {}", request.method, info.endpoint.url);
    if let Some(label) = label {
        what.push_str(&format!(" ({label})"));
    }
    info.client
        .send_until(request, deadline)
        .await
        .map_err(|e| {
            Verdict::violation(format!("{what} got no HTTP response: {e}"))
                .expected("an HTTP response")
                .actual(e.to_string())
        })
}

/// The answer's `Content-Type` header as sent, or empty.
fn content_type(response: &HttpResponse) -> String {
    response
        .header_str("content-type")
        .unwrap_or("")
        .to_string()
}

/// Send `request` and read its answer: a whole body, or SSE events until the stream
/// ends, the response to `want` arrives, or `timeout` passes.
async fn exchange(
    info: &HttpSessionInfo,
    request: HttpRequest,
    want: Option<&Value>,
    timeout: Duration,
) -> Result<Exchange, Verdict> {
    let deadline = Instant::now() + timeout;
    let response = send(info, request, None, deadline).await?;
    let mut out = Exchange {
        status: response.status,
        content_type: content_type(&response),
        session_header: response.header_str("mcp-session-id").map(str::to_string),
        ..Exchange::default()
    };
    if out.media() == "text/event-stream" {
        let mut stream = response.into_stream();
        let mut decoder = SseDecoder::new(SseLimits::default());
        let mut items = Vec::new();
        let mut ended = false;
        loop {
            if want.is_some_and(|id| out.response_to(id).is_some()) {
                break;
            }
            match stream.next_chunk(deadline).await {
                Ok(Some(chunk)) => {
                    if out.body.len() < 64 * 1024 {
                        out.body.extend_from_slice(&chunk);
                    }
                    decoder.push(&chunk, &mut items);
                }
                Ok(None) => {
                    ended = true;
                    decoder.finish(&mut items);
                }
                Err(e) => {
                    out.problems.push(format!("reading the SSE stream: {e}"));
                    decoder.finish(&mut items);
                    ended = true;
                }
            }
            take_sse(&mut out, std::mem::take(&mut items));
            if ended {
                break;
            }
        }
    } else {
        match response.read_body(deadline).await {
            Ok(body) => out.body = body,
            Err(e) => out.problems.push(format!("reading the body: {e}")),
        }
        if !out.body.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(&out.body) {
                Ok(Value::Array(items)) => out.messages.extend(items),
                Ok(v) => out.messages.push(v),
                Err(e) => out.problems.push(format!("the body is not JSON: {e}")),
            }
        }
    }
    Ok(out)
}

fn take_sse(out: &mut Exchange, items: Vec<SseItem>) {
    for item in items {
        match item {
            SseItem::Event(e) if e.data.is_empty() => {}
            SseItem::Event(e) => match serde_json::from_str::<Value>(&e.data) {
                Ok(v) => out.messages.push(v),
                Err(err) => out.problems.push(format!(
                    "an SSE event's data is not one JSON message ({err}): {}",
                    clip(&e.data, 200)
                )),
            },
            SseItem::Retry(_) => {}
            SseItem::UnterminatedEventAtEof { data, partial_line } => out.problems.push(format!(
                "the SSE stream ended inside an event (no blank line after it; {partial_line} bytes of an unfinished last line; data so far {:?}), so a client drops that event",
                clip(&data, 200)
            )),
            other => out.problems.push(format!("SSE problem: {other}")),
        }
    }
}

/// The verdict of a case that tried several probes: a pass listing what each one
/// showed (`seen`), unless any went wrong (`bad`), which is then the violation's evidence.
fn tally(seen: &[String], bad: &[String], violation: &str, expected: &str) -> CaseResult {
    Ok(listed_verdict(bad, (violation, expected), || {
        seen.join("; ")
    }))
}

fn ping(id: &Value) -> Vec<u8> {
    serde_json::to_vec(&request_message(id, "ping", None)).unwrap_or_default()
}

/// Remove a header (case-insensitively) from a prepared request.
fn without(mut request: HttpRequest, name: &str) -> HttpRequest {
    request
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    request
}

fn with(request: HttpRequest, name: &str, value: &str) -> HttpRequest {
    without(request, name).header(name, value)
}

/// HTTP-001/002: a request POSTed to the endpoint gets 2xx with one of the two media
/// types, and the body holds the response with the request's id.
async fn post_answers_requests(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let ex = exchange(&info, info.post(ping(&id)), Some(&id), ctx.timeout()).await?;
    let media = ex.media();
    if !ex.is_success() {
        return Ok(Verdict::violation(format!(
            "a ping request was answered with HTTP {}",
            ex.status
        ))
        .expected("2xx with application/json or text/event-stream")
        .actual(ex.describe()));
    }
    if media != "application/json" && media != "text/event-stream" {
        return Ok(Verdict::violation(format!(
            "a ping request was answered with Content-Type '{}'",
            ex.content_type
        ))
        .expected("Content-Type application/json or text/event-stream")
        .actual(ex.describe()));
    }
    match ex.response_to(&id) {
        Some(_) => Ok(Verdict::pass(format!(
            "HTTP {} {media} with the response to id {id}",
            ex.status
        ))),
        None => Ok(Verdict::violation(format!(
            "the {media} answer holds no response with id {id}"
        ))
        .expected(format!("a JSON-RPC response with id {id}"))
        .actual(ex.describe())),
    }
}

/// HTTP-007: with only one type in `Accept`, the answer is of that type (or 406).
async fn accept_honoured(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for only in ["application/json", "text/event-stream"] {
        let id = ctx.session().next_id();
        let request = with(info.post(ping(&id)), "Accept", only);
        let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
        let media = ex.media();
        if ex.status == 406 || media == only {
            seen.push(format!("Accept: {only} → {} {media}", ex.status));
        } else if ex.is_success() {
            bad.push(format!("Accept: {only} → {}", ex.describe()));
        } else {
            // Refusing with another 4xx is not content negotiation's business here.
            seen.push(format!("Accept: {only} → {}", ex.status));
        }
    }
    tally(
        &seen,
        &bad,
        "an answer used a media type the request's Accept excludes",
        "the accepted type, or 406 Not Acceptable",
    )
}

/// HTTP-006: bodies that are neither requests nor acceptable notifications/responses
/// get 4xx; a body, if any, is JSON without an id (or with id null).
async fn invalid_notification_refused(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for body in [r#"{"jsonrpc":"2.0","method":5}"#, r#"{"jsonrpc":"2.0"}"#] {
        let ex = exchange(&info, info.post(body), None, ctx.timeout()).await?;
        let line = format!("{body} → {}", ex.describe());
        if !(400..500).contains(&ex.status) {
            bad.push(line);
            continue;
        }
        let stray_id = ex
            .messages
            .iter()
            .any(|m| m.get("id").is_some_and(|id| !id.is_null()));
        if !ex.problems.is_empty() && !ex.body.is_empty() && ex.media() == "application/json" {
            bad.push(format!("{line} (the JSON body does not parse)"));
        } else if stray_id {
            bad.push(format!("{line} (the error names an id)"));
        } else {
            seen.push(format!("{body} → {}", ex.status));
        }
    }
    tally(
        &seen,
        &bad,
        "an invalid non-request message was not refused with an HTTP error",
        "4xx, with no body or a JSON-RPC error without id",
    )
}

/// HTTP-027: without the header the server falls back to the negotiated version.
async fn version_header_optional(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let request = without(info.post(ping(&id)), "MCP-Protocol-Version");
    let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
    match ex.response_to(&id) {
        Some(r) if ex.is_success() && r.get("result").is_some() => Ok(Verdict::pass(format!(
            "a ping without MCP-Protocol-Version → HTTP {} with its result",
            ex.status
        ))),
        _ => Ok(
            Verdict::violation("a ping without an MCP-Protocol-Version header was not served")
                .expected("the ping result (the negotiated version applies)")
                .actual(ex.describe()),
        ),
    }
}

/// HTTP-003: a JSON body answering one (non-batch) request is that request's response
/// object itself: not an array, not several messages.
async fn json_answer_exact(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    // As a client normally asks; if that draws SSE, again accepting only JSON.
    let mut id = ctx.session().next_id();
    let mut ex = exchange(&info, info.post(ping(&id)), Some(&id), ctx.timeout()).await?;
    if ex.media() != "application/json" || !ex.is_success() {
        id = ctx.session().next_id();
        let request = with(info.post(ping(&id)), "Accept", "application/json");
        ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
    }
    if ex.media() != "application/json" || !ex.is_success() {
        return Ok(Verdict::untestable(format!(
            "the server answers pings with SSE (or refuses JSON-only clients), so there is no JSON answer to check: {}",
            clip(&ex.describe(), 200)
        )));
    }
    let parsed: Option<Value> = serde_json::from_slice(&ex.body).ok();
    match parsed {
        Some(Value::Object(o)) if o.get("id") == Some(&id) && o.contains_key("result") => {
            Ok(Verdict::pass(format!(
                "HTTP {} application/json: one response with id {id}",
                ex.status
            )))
        }
        _ => Ok(Verdict::violation(
            "the JSON answer to a single ping is not exactly its response object",
        )
        .expected(format!("one JSON-RPC response object with id {id}"))
        .actual(ex.describe())),
    }
}

/// HTTP-005: `notifications/initialized`, POSTed after the initialize response, gets
/// exactly 202 and no body.
async fn notification_accepted(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let handshake = session
        .initialize(ctx.version(), json!({}), ctx.config().init_timeout)
        .await
        .map_err(|e| Verdict::harness_error(format!("initialize failed: {e}")))?;
    if handshake.result().is_none() {
        return Err(Verdict::harness_error(format!(
            "initialize was refused: {}",
            handshake.response.summary()
        )));
    }
    let info = http_info(ctx)?;
    let body =
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .unwrap_or_default();
    let ex = exchange(&info, info.post(body), None, ctx.timeout()).await?;
    if ex.status == 202 && ex.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Verdict::pass(
            "notifications/initialized → 202 with an empty body",
        ));
    }
    Ok(Verdict::violation(format!(
        "notifications/initialized was answered with HTTP {}{}",
        ex.status,
        if ex.body.is_empty() {
            ""
        } else {
            " and a body"
        }
    ))
    .expected("202 Accepted with no body")
    .actual(ex.describe()))
}

/// The session id the server issued, or the verdict for a sessionless server.
fn issued_session(info: &HttpSessionInfo) -> Result<String, Verdict> {
    info.session_id.clone().ok_or_else(|| {
        Verdict::not_applicable("the server issued no Mcp-Session-Id at initialize (sessionless)")
    })
}

/// HTTP-020 (visible ASCII) and HTTP-022: without the header a request gets 400.
async fn session_id_required(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let sid = issued_session(&info)?;
    if sid.is_empty() || !sid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Ok(Verdict::violation("the session id is not visible ASCII")
            .at_level(Level::Must)
            .expected("only characters 0x21-0x7E")
            .actual(format!("{sid:?}")));
    }
    let id = ctx.session().next_id();
    let request = without(info.post(ping(&id)), "Mcp-Session-Id");
    let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
    if ex.status == 400 {
        return Ok(Verdict::pass("a ping without Mcp-Session-Id → 400"));
    }
    Ok(Verdict::violation(format!(
        "a ping without the issued Mcp-Session-Id was answered with HTTP {}",
        ex.status
    ))
    .expected("400 Bad Request")
    .actual(ex.describe()))
}

/// HTTP-023 (never-issued ids): a made-up session id gets 404, so clients re-initialize.
async fn unknown_session(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    issued_session(&info)?;
    let id = ctx.session().next_id();
    let made_up = "mcpspec-never-issued-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let request = with(info.post(ping(&id)), "Mcp-Session-Id", made_up);
    let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
    if ex.status == 404 {
        return Ok(Verdict::pass("a ping with a never-issued session id → 404"));
    }
    Ok(Verdict::violation(format!(
        "a ping with a never-issued session id was answered with HTTP {}",
        ex.status
    ))
    .expected("404 Not Found")
    .actual(ex.describe()))
}

/// HTTP-025 then HTTP-023 (terminated ids, MUST): DELETE → 2xx and the id is dead
/// (404), or DELETE → 405.
async fn delete_ends_session(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let sid = issued_session(&info)?;
    let mut delete = HttpRequest::delete("").header("Mcp-Session-Id", sid.clone());
    if let Some(v) = &info.protocol_version {
        delete = delete.header("MCP-Protocol-Version", v.clone());
    }
    let ex = exchange(&info, delete, None, ctx.timeout()).await?;
    if ex.status == 405 {
        return Ok(Verdict::pass(
            "DELETE → 405: the server does not let clients end sessions (allowed)",
        ));
    }
    if !ex.is_success() {
        return Ok(Verdict::violation(format!(
            "DELETE with the session id was answered with HTTP {}",
            ex.status
        ))
        .expected("2xx (session ended) or 405")
        .actual(ex.describe()));
    }
    let id = ctx.session().next_id();
    let after = exchange(&info, info.post(ping(&id)), Some(&id), ctx.timeout()).await?;
    if after.status == 404 {
        return Ok(Verdict::pass(format!(
            "DELETE → {}; the ended session's id then → 404",
            ex.status
        )));
    }
    Ok(Verdict::violation(format!(
        "after DELETE → {}, a ping with the ended session's id was answered with HTTP {}",
        ex.status, after.status
    ))
    .expected("404 Not Found for a terminated session")
    .actual(after.describe()))
}

/// HTTP-026: unsupported or invalid `MCP-Protocol-Version` values → 400 each.
async fn unsupported_protocol_version(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let mut bad = Vec::new();
    for value in ["1999-01-01", "banana"] {
        let id = ctx.session().next_id();
        let request = with(info.post(ping(&id)), "MCP-Protocol-Version", value);
        let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
        if ex.status != 400 {
            bad.push(format!("MCP-Protocol-Version: {value} → {}", ex.describe()));
        }
    }
    if bad.is_empty() {
        return Ok(Verdict::pass(
            "MCP-Protocol-Version 1999-01-01 and banana → 400 each",
        ));
    }
    Ok(Verdict::violation(
        "a request with an unsupported MCP-Protocol-Version was not refused with 400",
    )
    .expected("400 Bad Request")
    .actual(bad.join("\n")))
}

/// HTTP-028: the initialize POST carries no version header and still succeeds.
async fn initialize_without_version_header(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let id = json!("mcpspec-init-no-version-header");
    let body = initialize_body(&id, ctx.version());
    let request = without(info.post(body), "MCP-Protocol-Version");
    let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
    match ex.response_to(&id) {
        Some(r) if ex.is_success() && r.get("result").is_some() => Ok(Verdict::pass(format!(
            "initialize without MCP-Protocol-Version → HTTP {} with a result",
            ex.status
        ))),
        _ => Ok(Verdict::violation(
            "initialize without an MCP-Protocol-Version header did not succeed",
        )
        .expected("2xx with an InitializeResult")
        .actual(ex.describe())),
    }
}

/// HTTP-012: GET with the proper headers → `text/event-stream` or 405.
async fn get_stream_or_405(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let request = get_request(&info, None);
    let response = info
        .client
        .send_until(request, Instant::now() + ctx.timeout())
        .await
        .map_err(|e| {
            Verdict::violation(format!("GET got no HTTP response: {e}"))
                .expected("text/event-stream or 405")
                .actual(e.to_string())
        })?;
    let status = response.status;
    let content_type = content_type(&response);
    // The stream (if any) is dropped here: only the head matters.
    drop(response);
    if status == 405 {
        return Ok(Verdict::pass("GET → 405 (no standalone stream)"));
    }
    if (200..300).contains(&status) && media_type(&content_type) == "text/event-stream" {
        return Ok(Verdict::pass(format!("GET → {status} text/event-stream")));
    }
    Ok(Verdict::violation(format!(
        "GET on the endpoint was answered with HTTP {status} ({content_type})"
    ))
    .expected("200 text/event-stream or 405 Method Not Allowed")
    .actual(format!("HTTP {status}, Content-Type '{content_type}'")))
}

/// SEC-001: a foreign `Origin` → 403 (other 4xx only a SHOULD-level miss before
/// 2025-11-25, which made 403 explicit); 2xx is a failure. No Origin → served.
async fn foreign_origin_forbidden(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let baseline = exchange(&info, info.post(ping(&id)), Some(&id), ctx.timeout()).await?;
    if baseline.response_to(&id).is_none() {
        return Ok(Verdict::untestable(format!(
            "a ping without Origin was not answered, so a refusal would prove nothing: {}",
            baseline.describe()
        )));
    }
    let explicit_403 = ctx.revision() >= Revision::V2025_11_25;
    let mut served = Vec::new();
    let mut other = Vec::new();
    for origin in FOREIGN_ORIGINS {
        let id = ctx.session().next_id();
        let request = with(info.post(ping(&id)), "Origin", origin);
        let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
        if ex.status == 403 {
            continue;
        }
        let line = format!("Origin: {origin} → {}", ex.describe());
        if ex.is_success() || !(400..500).contains(&ex.status) {
            served.push(line);
        } else {
            other.push(line);
        }
    }
    if !served.is_empty() {
        return Ok(
            Verdict::violation("a request with a foreign Origin was not rejected")
                .expected("403 Forbidden")
                .actual(served.join("\n")),
        );
    }
    if !other.is_empty() {
        let v = Verdict::violation("a foreign Origin was rejected, but not with 403")
            .expected("403 Forbidden")
            .actual(other.join("\n"));
        return Ok(if explicit_403 {
            v
        } else {
            v.at_level(Level::Should)
        });
    }
    Ok(Verdict::pass(format!(
        "no Origin → served; {} → 403",
        FOREIGN_ORIGINS.join(", ")
    )))
}

/// HTTP-002/011: a tool call answered over SSE must deliver its response in a
/// complete event; a stream that ends first (or mid-event) loses it.
async fn sse_answer_complete(ctx: &mut Ctx) -> CaseResult {
    let mut tools = callable_tools(ctx).await?;
    // A quick tool when there is one (the fixture's `echo`); otherwise the first.
    let pick = tools.iter().position(|t| t.name == "echo").unwrap_or(0);
    if tools.is_empty() {
        return Ok(Verdict::untestable(
            "no tool is safe to call (readOnlyHint) with arguments mcpspec can build; allow one with --allow-tool",
        ));
    }
    let tool = tools.swap_remove(pick);
    let arguments = tool.arguments.clone();
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let body = serde_json::to_vec(&request_message(
        &id,
        "tools/call",
        Some(json!({
            "name": tool.name,
            "arguments": arguments,
            "_meta": { "progressToken": "mcpspec-sse-check" }
        })),
    ))
    .unwrap_or_default();
    let ex = exchange(&info, info.post(body), Some(&id), ctx.timeout()).await?;
    if ex.media() != "text/event-stream" {
        return Ok(Verdict::untestable(format!(
            "the tool call was answered with {} rather than an SSE stream, so there was no stream to check",
            clip(&ex.describe(), 200)
        )));
    }
    if ex.response_to(&id).is_some() && ex.problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "tools/call {} → SSE with {} message(s), the last the response",
            tool.name,
            ex.messages.len()
        )));
    }
    let why = ex
        .problems
        .first()
        .cloned()
        .unwrap_or_else(|| "the stream ended without the response event".into());
    Ok(Verdict::violation(format!(
        "the SSE answer to tools/call {} did not deliver its response: {why}",
        tool.name
    ))
    .expected(format!("an SSE event holding the response to id {id}"))
    .actual(ex.describe()))
}

/// HTTP-009: a ping whose body comes in three pieces, `PIECE_GAP` apart.
async fn body_in_pieces(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let id = session.next_id();
    let body = ping(&id);
    let third = body.len() / 3;
    let delivery = Delivery::split_at(&body, &[third, 2 * third], PIECE_GAP);
    let pending = session.expect(&id, "ping");
    session.deliver(&delivery).await?;
    match pending.wait(ctx.timeout()).await {
        Ok(r) if r.result().is_some() => Ok(Verdict::pass(
            "a ping body sent in 3 pieces 150 ms apart was answered",
        )),
        Ok(r) => Ok(
            Verdict::violation("a ping body sent in pieces got an error")
                .expected("the ping result")
                .actual(r.summary()),
        ),
        Err(e @ RequestError::Http(_)) | Err(e @ RequestError::Timeout(_)) => Ok(
            Verdict::violation(format!("a ping body sent in pieces was not answered: {e}"))
                .expected("the ping result")
                .actual(e.to_string()),
        ),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------
// SSE streams read event by event (HTTP-004, HTTP-013..019)
// ---------------------------------------------------------------------------

/// HTTP-004: how long a stream may stay open after its response (the catalogue's
/// warning threshold), and the time within which closing counts as prompt.
const CLOSE_WINDOW: Duration = Duration::from_secs(10);
const PROMPT_CLOSE: Duration = Duration::from_secs(2);
/// HTTP-013/014/018: how long an open GET stream is watched for stray messages.
const GET_WATCH: Duration = Duration::from_millis(500);
/// HTTP-016/017: how long the call that is cut runs (long enough to cut it midway).
const CUT_CALL_MS: u64 = 1200;
/// HTTP-018: reconnection delay when the server gave no `retry`.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// HTTP-019: the longest `retry` we honour before resuming.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
/// Bytes of an SSE stream kept as evidence.
const EVIDENCE_BYTES: usize = 16 * 1024;

/// One SSE event as received.
#[derive(Debug, Clone)]
struct Seen {
    /// The event's own `id` field, if it had one.
    id: Option<String>,
    /// Its message; `None` for empty data (a priming event).
    message: Option<Value>,
}

/// A response read as a stream: SSE events as they arrive, or a whole other body.
struct OpenStream {
    label: String,
    status: u16,
    content_type: String,
    stream: Option<mcpspec_harness::BodyStream>,
    decoder: SseDecoder,
    events: Vec<Seen>,
    problems: Vec<String>,
    /// `retry` fields seen (milliseconds).
    retry: Option<u64>,
    evidence: Vec<u8>,
    received: u64,
    /// The server ended the body (or the connection broke).
    ended: bool,
    /// A non-SSE body, read whole.
    body: Vec<u8>,
}

impl OpenStream {
    /// Send `request` and wait for the head; SSE bodies are then read on demand.
    async fn open(
        info: &HttpSessionInfo,
        request: HttpRequest,
        label: &str,
        timeout: Duration,
    ) -> Result<OpenStream, Verdict> {
        let deadline = Instant::now() + timeout;
        let response = send(info, request, Some(label), deadline).await?;
        let mut out = OpenStream {
            label: label.to_string(),
            status: response.status,
            content_type: content_type(&response),
            stream: None,
            decoder: SseDecoder::new(SseLimits::default()),
            events: Vec::new(),
            problems: Vec::new(),
            retry: None,
            evidence: Vec::new(),
            received: 0,
            ended: false,
            body: Vec::new(),
        };
        if out.is_sse() {
            out.stream = Some(response.into_stream());
        } else {
            out.ended = true;
            match response.read_body(deadline).await {
                Ok(body) => out.body = body,
                Err(e) => out.problems.push(format!("reading the body: {e}")),
            }
        }
        Ok(out)
    }

    /// GET the stream again from the event `last` (sent as `Last-Event-ID`).
    async fn resume(
        info: &HttpSessionInfo,
        last: &str,
        timeout: Duration,
    ) -> Result<OpenStream, Verdict> {
        let label = format!("GET Last-Event-ID: {last}");
        OpenStream::open(info, get_request(info, Some(last)), &label, timeout).await
    }

    fn is_sse(&self) -> bool {
        (200..300).contains(&self.status) && media_type(&self.content_type) == "text/event-stream"
    }

    /// Read until `done(self)` holds, the stream ends, or `deadline`; whether `done` held.
    async fn read_until(&mut self, deadline: Instant, done: impl Fn(&OpenStream) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let Some(stream) = self.stream.as_mut() else {
                return false;
            };
            if self.ended {
                return false;
            }
            let mut items = Vec::new();
            match stream.next_chunk(deadline).await {
                Ok(Some(chunk)) => {
                    self.received += chunk.len() as u64;
                    if self.evidence.len() < EVIDENCE_BYTES {
                        let room = EVIDENCE_BYTES - self.evidence.len();
                        self.evidence
                            .extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                    self.decoder.push(&chunk, &mut items);
                }
                Ok(None) => {
                    self.ended = true;
                    self.decoder.finish(&mut items);
                }
                Err(mcpspec_harness::HttpError::Timeout { .. }) => {
                    self.take(items);
                    return done(self);
                }
                Err(e) => {
                    self.ended = true;
                    self.problems.push(format!("the stream broke: {e}"));
                    self.decoder.finish(&mut items);
                }
            }
            self.take(items);
        }
    }

    fn take(&mut self, items: Vec<SseItem>) {
        for item in items {
            match item {
                SseItem::Event(e) => {
                    let message = if e.data.is_empty() {
                        None
                    } else {
                        match serde_json::from_str::<Value>(&e.data) {
                            Ok(v) => Some(v),
                            Err(err) => {
                                self.problems.push(format!(
                                    "event {} data is not one JSON message ({err}): {}",
                                    self.events.len() + 1,
                                    clip(&e.data, 200)
                                ));
                                None
                            }
                        }
                    };
                    if e.retry.is_some() {
                        self.retry = e.retry;
                    }
                    self.events.push(Seen { id: e.id, message });
                }
                SseItem::Retry(ms) => self.retry = Some(ms),
                SseItem::DuplicateEventId { .. } => {}
                SseItem::UnterminatedEventAtEof { data, partial_line } => self.problems.push(format!(
                    "the stream ended inside an event (no blank line after it; {partial_line} bytes of an unfinished last line; data so far {:?}), which a client drops",
                    clip(&data, 200)
                )),
                other => self.problems.push(format!("SSE problem: {other}")),
            }
        }
    }

    fn messages(&self) -> impl Iterator<Item = &Value> {
        self.events.iter().filter_map(|e| e.message.as_ref())
    }

    fn response_to(&self, id: &Value) -> Option<&Value> {
        self.messages()
            .find(|m| m.get("id") == Some(id) && m.get("method").is_none())
    }

    fn has_response_to(&self, id: &Value) -> bool {
        self.response_to(id).is_some()
    }

    /// The id a reconnect would send as `Last-Event-ID`.
    fn last_event_id(&self) -> Option<String> {
        self.events
            .iter()
            .rev()
            .find_map(|e| e.id.clone().filter(|id| !id.is_empty()))
    }

    fn ids(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| e.id.clone().filter(|id| !id.is_empty()))
            .collect()
    }

    /// What arrived and where it stopped, for evidence.
    fn describe(&self) -> String {
        let ct = if self.content_type.is_empty() {
            "no Content-Type"
        } else {
            &self.content_type
        };
        let mut s = format!("{}: HTTP {} ({ct})", self.label, self.status);
        if !self.is_sse() {
            if !self.body.is_empty() {
                s.push_str(&format!(": {}", escape_bytes(&self.body, 300)));
            }
            return s;
        }
        s.push_str(&format!(
            ", {} event(s), {} byte(s)",
            self.events.len(),
            self.received
        ));
        for (i, e) in self.events.iter().enumerate() {
            let what = match &e.message {
                Some(m) => clip(&m.to_string(), 160),
                None => "(empty data)".to_string(),
            };
            s.push_str(&format!(
                "\n  event {}{}: {what}",
                i + 1,
                e.id.as_ref()
                    .map(|id| format!(" id {id:?}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(if self.ended {
            "\n  then the server ended the stream"
        } else {
            "\n  (still open)"
        });
        for p in &self.problems {
            s.push_str(&format!("\n  {p}"));
        }
        if self.received > 0 {
            s.push_str(&format!(
                "\n  last bytes: {}",
                escape_bytes(
                    &self.evidence[self.evidence.len().saturating_sub(200)..],
                    200
                )
            ));
        }
        s
    }
}

/// A GET for the standalone stream (or, with `last_event_id`, a resumption).
fn get_request(info: &HttpSessionInfo, last_event_id: Option<&str>) -> HttpRequest {
    let mut request = HttpRequest::get("").header("Accept", "text/event-stream");
    if let Some(sid) = &info.session_id {
        request = request.header("Mcp-Session-Id", sid.clone());
    }
    if let Some(v) = &info.protocol_version {
        request = request.header("MCP-Protocol-Version", v.clone());
    }
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    request
}

/// A `tools/call` body with a progress token.
fn tool_call(id: &Value, name: &str, arguments: &Value, token: &str) -> Vec<u8> {
    serde_json::to_vec(&request_message(
        id,
        "tools/call",
        Some(json!({
            "name": name,
            "arguments": arguments,
            "_meta": { "progressToken": token }
        })),
    ))
    .unwrap_or_default()
}

/// A quick safe tool (the fixture's `echo` when there is one), or untestable.
async fn quick_tool(ctx: &Ctx) -> Result<(String, Value), Verdict> {
    let mut tools = callable_tools(ctx).await?;
    if tools.is_empty() {
        return Err(Verdict::untestable(
            "no tool is safe to call (readOnlyHint) with arguments mcpspec can build; allow one with --allow-tool",
        ));
    }
    let pick = tools.iter().position(|t| t.name == "echo").unwrap_or(0);
    let tool = tools.swap_remove(pick);
    Ok((tool.name, tool.arguments))
}

/// HTTP-004: the response arrives on the stream, nothing answers another request
/// there, and the server ends the stream after it.
async fn sse_answer_closes(ctx: &mut Ctx) -> CaseResult {
    let (name, arguments) = quick_tool(ctx).await?;
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let body = tool_call(&id, &name, &arguments, "mcpspec-close-check");
    let label = format!("tools/call {name}");
    let mut stream = OpenStream::open(&info, info.post(body), &label, ctx.timeout()).await?;
    if !stream.is_sse() {
        return Ok(Verdict::untestable(format!(
            "the tool call was not answered with an SSE stream, so there was no stream to check: {}",
            clip(&stream.describe(), 300)
        )));
    }
    let deadline = Instant::now() + ctx.timeout();
    let got = stream
        .read_until(deadline, |s| s.has_response_to(&id))
        .await;
    if !got {
        let why = if stream.ended {
            "the stream ended before the response"
        } else {
            "no response arrived in time and the stream stayed open"
        };
        return Ok(Verdict::violation(format!(
            "the SSE answer to {label} did not carry its response: {why}"
        ))
        .expected(format!(
            "an event holding the response to id {id}, then the end of the stream"
        ))
        .actual(stream.describe()));
    }
    let answered_at = Instant::now();
    let closed = stream
        .read_until(answered_at + CLOSE_WINDOW, |s| s.ended)
        .await;
    let waited = answered_at.elapsed();
    let strays: Vec<String> = stream
        .messages()
        .filter(|m| m.get("method").is_none() && m.get("id").is_some_and(|i| i != &id))
        .map(|m| clip(&m.to_string(), 200))
        .collect();
    if !strays.is_empty() {
        return Ok(Verdict::violation(format!(
            "the SSE answer to {label} also carried responses to other requests"
        ))
        .expected(format!(
            "only messages about request {id}, then its response"
        ))
        .actual(stream.describe()));
    }
    if !closed {
        return Ok(Verdict::violation(format!(
            "the SSE answer to {label} stayed open {} s after its response",
            CLOSE_WINDOW.as_secs()
        ))
        .expected("the server ends the stream once the response is sent")
        .actual(stream.describe()));
    }
    Ok(Verdict::pass(if waited <= PROMPT_CLOSE {
        format!("{label} → SSE with the response, then the stream ended")
    } else {
        format!("{label} → SSE with the response; the stream ended, but only after more than 2 s")
    }))
}

/// HTTP-008: an empty body, a non-JSON body and a JSON body labelled text/plain are
/// refused with 4xx (never processed, never 5xx).
async fn bad_bodies_refused(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let probes: Vec<(&str, HttpRequest)> = vec![
        ("an empty body", info.post(Vec::new())),
        ("a body that is not JSON", info.post(b"{not json".to_vec())),
        (
            "a ping labelled Content-Type: text/plain",
            with(info.post(ping(&id)), "Content-Type", "text/plain"),
        ),
    ];
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for (what, request) in probes {
        let ex = exchange(&info, request, Some(&id), ctx.timeout()).await?;
        if (400..500).contains(&ex.status) {
            seen.push(format!("{what} → {}", ex.status));
        } else {
            bad.push(format!("{what} → {}", ex.describe()));
        }
    }
    tally(
        &seen,
        &bad,
        "a malformed or mislabelled POST body was not refused with 4xx",
        "400 or 415 (optionally a JSON-RPC error without id)",
    )
}

/// HTTP-010: 50 POSTs of mixed requests at once; each HTTP answer holds its own
/// request's response and no other.
async fn concurrent_posts(ctx: &mut Ctx) -> CaseResult {
    const POSTS: usize = 50;
    let info = http_info(ctx)?;
    let mut methods = vec!["ping"];
    for (capability, method) in [
        (crate::case::Capability::Tools, "tools/list"),
        (crate::case::Capability::Resources, "resources/list"),
        (crate::case::Capability::Prompts, "prompts/list"),
    ] {
        if ctx.profile().declares(capability) {
            methods.push(method);
        }
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..POSTS {
        let method = methods[i % methods.len()];
        let id = ctx.session().next_id();
        let body = serde_json::to_vec(&request_message(&id, method, None)).unwrap_or_default();
        let info = info.clone();
        let timeout = ctx.timeout();
        set.spawn(async move {
            let ex = exchange(&info, info.post(body), Some(&id), timeout).await;
            (id, method, ex)
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = set.join_next().await {
        let Ok((id, method, ex)) = joined else {
            return Err(Verdict::harness_error("a concurrent POST task failed"));
        };
        let ex = match ex {
            Ok(ex) => ex,
            Err(v) => {
                problems.push(format!("{method} id {id}: {}", v.message));
                continue;
            }
        };
        let foreign: Vec<&Value> = ex
            .messages
            .iter()
            .filter(|m| m.get("method").is_none())
            .filter(|m| m.get("id").is_some_and(|i| i != &id && !i.is_null()))
            .collect();
        if !foreign.is_empty() {
            problems.push(format!(
                "{method} id {id} was answered with another request's response: {}",
                clip(&ex.describe(), 300)
            ));
        } else if ex.response_to(&id).is_none() {
            problems.push(format!(
                "{method} id {id} got no response of its own: {}",
                clip(&ex.describe(), 300)
            ));
        }
    }
    problems.sort();
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "{POSTS} simultaneous POSTs ({}) each got their own response",
            methods.join(", ")
        )));
    }
    Ok(Verdict::violation(format!(
        "{} of {POSTS} simultaneous POSTs were not answered with their own response",
        problems.len()
    ))
    .expected("each HTTP answer holds exactly its request's response")
    .actual(problems.into_iter().take(10).collect::<Vec<_>>().join("\n")))
}

/// HTTP-021: later answers do not carry a different `Mcp-Session-Id`.
async fn session_id_stable(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let sid = issued_session(&info)?;
    let mut methods = vec!["ping"];
    if ctx.profile().declares(crate::case::Capability::Tools) {
        methods.push("tools/list");
    }
    let mut changed = Vec::new();
    for method in methods.iter().chain(methods.iter()) {
        let id = ctx.session().next_id();
        let body = serde_json::to_vec(&request_message(&id, method, None)).unwrap_or_default();
        let ex = exchange(&info, info.post(body), Some(&id), ctx.timeout()).await?;
        if let Some(other) = ex.session_header.as_ref().filter(|h| **h != sid) {
            changed.push(format!("{method} → Mcp-Session-Id: {other}"));
        }
    }
    if changed.is_empty() {
        return Ok(Verdict::pass(
            "no answer after initialize carried a different Mcp-Session-Id",
        ));
    }
    Ok(
        Verdict::violation("answers after initialize carried a different Mcp-Session-Id")
            .expected(format!("no Mcp-Session-Id, or the issued one ({sid})"))
            .actual(changed.join("\n")),
    )
}

/// An `initialize` body at `version`.
fn initialize_body(id: &Value, version: &str) -> Vec<u8> {
    serde_json::to_vec(&request_message(
        id,
        "initialize",
        Some(initialize_params(version)),
    ))
    .unwrap_or_default()
}

/// POST `initialize` without session or version headers: the new session's id (if
/// any) and protocol version header value, or the exchange that failed.
async fn initialize_new_session(
    info: &HttpSessionInfo,
    version: &str,
    timeout: Duration,
) -> Result<(Option<String>, Option<String>), Exchange> {
    let id = json!("mcpspec-new-session");
    let request = without(
        without(info.post(initialize_body(&id, version)), "Mcp-Session-Id"),
        "MCP-Protocol-Version",
    );
    let ex = match exchange(info, request, Some(&id), timeout).await {
        Ok(ex) => ex,
        Err(v) => {
            return Err(Exchange {
                problems: vec![v.message],
                ..Exchange::default()
            })
        }
    };
    let Some(result) = ex.response_to(&id).and_then(|r| r.get("result")) else {
        return Err(ex);
    };
    let negotiated = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .filter(|v| *v >= "2025-06-18")
        .map(str::to_string);
    Ok((ex.session_header.clone(), negotiated))
}

/// The headers of a session other than the case's own.
fn other_session(
    info: &HttpSessionInfo,
    session_id: Option<String>,
    version: Option<String>,
) -> HttpSessionInfo {
    HttpSessionInfo {
        session_id,
        protocol_version: version,
        ..info.clone()
    }
}

/// HTTP-024: once a session id got 404, `initialize` without it succeeds with a new id,
/// and the new session serves requests.
async fn reinitialize_after_404(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let sid = issued_session(&info)?;
    let id = ctx.session().next_id();
    let made_up = "mcpspec-never-issued-5a69788796a5b4c3d2e1f00f1e2d3c4b";
    let ex = exchange(
        &info,
        with(info.post(ping(&id)), "Mcp-Session-Id", made_up),
        Some(&id),
        ctx.timeout(),
    )
    .await?;
    if ex.status != 404 {
        return Ok(Verdict::untestable(format!(
            "the server did not answer a never-issued session id with 404 (HTTP-023 judges that), so there is no 404 to recover from: {}",
            clip(&ex.describe(), 200)
        )));
    }
    let (new_sid, version) = match initialize_new_session(&info, ctx.version(), ctx.timeout()).await
    {
        Ok(v) => v,
        Err(ex) => {
            return Ok(Verdict::violation(
                "after a 404, a new initialize without a session id did not succeed",
            )
            .expected("2xx with an InitializeResult and a new Mcp-Session-Id")
            .actual(ex.describe()))
        }
    };
    let Some(new_sid) = new_sid else {
        return Ok(Verdict::violation(
            "the new initialize was answered without an Mcp-Session-Id, though the server uses sessions",
        )
        .expected("a new Mcp-Session-Id")
        .actual("no Mcp-Session-Id header"));
    };
    if new_sid == sid || new_sid == made_up {
        return Ok(
            Verdict::violation("the new initialize did not issue a new session id")
                .expected(format!("an id other than {sid}"))
                .actual(format!("Mcp-Session-Id: {new_sid}")),
        );
    }
    let fresh = other_session(&info, Some(new_sid), version);
    let note =
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .unwrap_or_default();
    let _ = exchange(&fresh, fresh.post(note), None, ctx.timeout()).await?;
    let id = ctx.session().next_id();
    let ex = exchange(&fresh, fresh.post(ping(&id)), Some(&id), ctx.timeout()).await?;
    if ex.response_to(&id).and_then(|r| r.get("result")).is_some() {
        return Ok(Verdict::pass(
            "never-issued id → 404; initialize without it → a new session id that serves a ping",
        ));
    }
    Ok(
        Verdict::violation("the session issued after re-initializing does not serve requests")
            .expected("the ping result")
            .actual(ex.describe()),
    )
}

/// HTTP-029 (2025-03-26): a batch of requests gets one response per request (JSON or
/// SSE, possibly batched); a batch of notifications gets 202 with no body.
async fn batch_post(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let a = ctx.session().next_id();
    let b = ctx.session().next_id();
    let batch = serde_json::to_vec(&json!([
        request_message(&a, "ping", None),
        request_message(&b, "ping", None)
    ]))
    .unwrap_or_default();
    let mut ex = exchange(&info, info.post(batch), None, ctx.timeout()).await?;
    // A batched answer arrives as one array (JSON or one SSE event).
    let flat: Vec<Value> = std::mem::take(&mut ex.messages)
        .into_iter()
        .flat_map(|m| match m {
            Value::Array(items) => items,
            other => vec![other],
        })
        .collect();
    ex.messages = flat;
    let answered = |id: &Value| {
        ex.response_to(id)
            .is_some_and(|r| r.get("result").is_some())
    };
    if !ex.is_success() || !answered(&a) || !answered(&b) {
        return Ok(
            Verdict::violation("a batch of two pings was not answered with both results")
                .expected(format!("2xx with the responses to ids {a} and {b}"))
                .actual(ex.describe()),
        );
    }
    let notes = serde_json::to_vec(&json!([
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "mcpspec-none-1"}},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "mcpspec-none-2"}}
    ]))
    .unwrap_or_default();
    let ex = exchange(&info, info.post(notes), None, ctx.timeout()).await?;
    if ex.status == 202 && ex.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Verdict::pass(
            "a batch of two pings → both results; a batch of two notifications → 202",
        ));
    }
    Ok(
        Verdict::violation("a batch of notifications was not answered 202 with no body")
            .expected("202 Accepted, empty body")
            .actual(ex.describe()),
    )
}

/// Open the standalone GET stream; `Err` carries the verdict when there is none.
async fn open_get(ctx: &Ctx, info: &HttpSessionInfo) -> Result<OpenStream, Verdict> {
    let get = OpenStream::open(info, get_request(info, None), "GET", ctx.timeout()).await?;
    if get.status == 405 {
        return Err(Verdict::not_applicable(
            "GET → 405: the server offers no standalone stream",
        ));
    }
    if !get.is_sse() {
        return Err(Verdict::untestable(format!(
            "GET did not open an SSE stream (HTTP-012 judges that): {}",
            clip(&get.describe(), 200)
        )));
    }
    Ok(get)
}

/// HTTP-013: while a GET stream is open, 20 POSTed requests are answered on their own
/// POSTs and no response shows up on the GET stream.
async fn get_stream_no_responses(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let mut get = open_get(ctx, &info).await?;
    for _ in 0..20 {
        let id = ctx.session().next_id();
        let ex = exchange(&info, info.post(ping(&id)), Some(&id), ctx.timeout()).await?;
        if ex.response_to(&id).is_none() {
            return Ok(Verdict::untestable(format!(
                "a ping POSTed while the GET stream was open was not answered on its POST: {}",
                clip(&ex.describe(), 200)
            )));
        }
    }
    // The observation window after the last answer is the test itself.
    get.read_until(Instant::now() + GET_WATCH, |_| false).await;
    let responses: Vec<String> = get
        .messages()
        .filter(|m| m.get("method").is_none())
        .map(|m| clip(&m.to_string(), 200))
        .collect();
    if responses.is_empty() {
        return Ok(Verdict::pass(
            "20 pings answered on their POSTs; no response appeared on the open GET stream",
        ));
    }
    Ok(
        Verdict::violation("responses appeared on the standalone GET stream")
            .expected("only requests and notifications on the GET stream")
            .actual(get.describe()),
    )
}

/// A key naming a server message that is unique by construction (a response by id,
/// a progress notification by token and value), or `None` for messages that may
/// legitimately repeat (log lines).
fn unique_key(message: &Value) -> Option<String> {
    match message.get("method").and_then(Value::as_str) {
        None => message.get("id").map(|id| format!("response to id {id}")),
        Some("notifications/progress") => {
            let p = message.get("params")?;
            Some(format!(
                "progress {} = {}",
                p.get("progressToken")?,
                p.get("progress")?
            ))
        }
        Some("notifications/message") => None,
        Some(_) => Some(message.to_string()),
    }
}

/// Run `calls` tool calls (SSE answers, each with its own progress token) and
/// `pings` pings, each read to its end, while `get` (if any) stays open. Returns
/// every POST stream read.
async fn traffic_on_streams(
    ctx: &Ctx,
    info: &HttpSessionInfo,
    tool: Option<&(String, Value)>,
    calls: usize,
) -> Result<Vec<OpenStream>, Verdict> {
    let mut streams = Vec::new();
    if let Some((name, arguments)) = tool {
        for i in 0..calls {
            let id = ctx.session().next_id();
            let token = format!("mcpspec-stream-{i}");
            let body = tool_call(&id, name, arguments, &token);
            let mut s = OpenStream::open(
                info,
                info.post(body),
                &format!("POST tools/call {name} #{}", i + 1),
                ctx.timeout(),
            )
            .await?;
            s.read_until(Instant::now() + ctx.timeout(), |s| s.has_response_to(&id))
                .await;
            s.read_until(Instant::now() + PROMPT_CLOSE, |s| s.ended)
                .await;
            streams.push(s);
        }
    }
    for i in 0..3 {
        let id = ctx.session().next_id();
        let mut s = OpenStream::open(
            info,
            info.post(ping(&id)),
            &format!("POST ping #{}", i + 1),
            ctx.timeout(),
        )
        .await?;
        s.read_until(Instant::now() + ctx.timeout(), |s| s.has_response_to(&id))
            .await;
        if !s.is_sse() && !s.body.is_empty() {
            // A JSON answer: count its message like an event without id.
            if let Ok(v) = serde_json::from_slice::<Value>(&s.body) {
                s.events.push(Seen {
                    id: None,
                    message: Some(v),
                });
            }
        }
        streams.push(s);
    }
    Ok(streams)
}

/// The progress-reporting tool to drive streams with: the slow tool (quick setting) when
/// offered, else the quick tool.
async fn stream_tool(ctx: &Ctx) -> Option<(String, Value)> {
    if let Ok(slow) = slow_tool(ctx, "").await {
        return Some((slow.name.clone(), slow.arguments(50)));
    }
    quick_tool(ctx).await.ok()
}

/// HTTP-014: no message appears on two streams. The catalogue's setup: two GET streams
/// (when the server refuses a second one, a single GET) plus the POST streams of calls
/// that report progress; the verdict names the setup used.
async fn one_stream_per_message(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let (mut gets, setup) = open_two_gets(ctx, &info).await;
    let tool = stream_tool(ctx).await;
    let mut streams = traffic_on_streams(ctx, &info, tool.as_ref(), 3).await?;
    // The observation window after the last answer is the test itself; each GET
    // stream gets a whole one (what arrived meanwhile waits in its connection).
    for g in gets.iter_mut() {
        g.read_until(Instant::now() + GET_WATCH, |_| false).await;
    }
    streams.extend(gets);
    let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
    for s in &streams {
        for m in s.messages() {
            if let Some(key) = unique_key(m) {
                seen.entry(key).or_default().push(s.label.clone());
            }
        }
    }
    let mut twice: Vec<String> = seen
        .iter()
        .filter(|(_, where_)| where_.len() > 1)
        .map(|(k, where_)| format!("{k}: on {}", where_.join(" and ")))
        .collect();
    twice.sort();
    if twice.is_empty() {
        return Ok(Verdict::pass(format!(
            "{} distinct messages, each on exactly one of {} streams ({setup})",
            seen.len(),
            streams.len()
        )));
    }
    Ok(Verdict::violation(format!(
        "server messages were delivered on more than one stream ({setup})"
    ))
    .expected("each message on exactly one stream")
    .actual(twice.join("\n")))
}

/// HTTP-014's standalone streams: two GET streams when the server grants them, else
/// the one it grants (or none), and a description of that setup for the verdict.
async fn open_two_gets(ctx: &Ctx, info: &HttpSessionInfo) -> (Vec<OpenStream>, String) {
    let first = match open_get(ctx, info).await {
        Ok(g) => g,
        Err(why) => {
            return (
                Vec::new(),
                format!(
                    "no GET stream: {}; POST streams only",
                    clip(&why.message, 120)
                ),
            )
        }
    };
    let second = OpenStream::open(info, get_request(info, None), "GET #2", ctx.timeout()).await;
    match second {
        Ok(g) if g.is_sse() => {
            let mut first = first;
            first.label = "GET #1".into();
            (
                vec![first, g],
                "two GET streams plus POST streams".to_string(),
            )
        }
        Ok(g) => (
            vec![first],
            format!(
                "a second GET was refused ({}), so one GET stream plus POST streams",
                clip(&g.describe(), 120)
            ),
        ),
        Err(why) => (
            vec![first],
            format!(
                "a second GET failed ({}), so one GET stream plus POST streams",
                clip(&why.message, 120)
            ),
        ),
    }
}

/// HTTP-015: every event id seen on the session's streams is distinct.
async fn event_ids_unique(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let mut get = open_get(ctx, &info).await.ok();
    let tool = stream_tool(ctx).await;
    let mut streams = traffic_on_streams(ctx, &info, tool.as_ref(), 3).await?;
    if let Some(g) = get.as_mut() {
        g.read_until(Instant::now() + GET_WATCH, |_| false).await;
    }
    streams.extend(get);
    let mut first_seen: std::collections::HashMap<String, String> = Default::default();
    let mut duplicates = Vec::new();
    let mut total = 0;
    for s in &streams {
        for id in s.ids() {
            total += 1;
            if let Some(prev) = first_seen.insert(id.clone(), s.label.clone()) {
                duplicates.push(format!("id {id:?}: on {prev} and again on {}", s.label));
            }
        }
    }
    if total == 0 {
        return Ok(Verdict::not_applicable(
            "no SSE event carried an id (the server offers no resumption)",
        ));
    }
    if duplicates.is_empty() {
        return Ok(Verdict::pass(format!(
            "every event id was distinct across {} streams",
            streams.len()
        )));
    }
    Ok(
        Verdict::violation("SSE event ids repeat within the session")
            .expected("each event id unique across all streams of the session")
            .actual(duplicates.join("\n")),
    )
}

/// POST a call of the slow tool answered with SSE, read until an event with an id
/// arrived, then drop the stream, which closes the connection: the client went away
/// mid-call. Returns the last event id. `Err` carries the verdict when the server
/// answers otherwise or gives no ids.
async fn cut_call(
    ctx: &Ctx,
    info: &HttpSessionInfo,
    slow: &SlowTool,
    id: &Value,
    token: &str,
) -> Result<String, Verdict> {
    let body = tool_call(id, &slow.name, &slow.arguments(CUT_CALL_MS), token);
    let label = format!("POST tools/call {}", slow.name);
    let mut s = OpenStream::open(info, info.post(body), &label, ctx.timeout()).await?;
    if !s.is_sse() {
        return Err(Verdict::untestable(format!(
            "the slow call was not answered with SSE, so there is no stream to cut: {}",
            clip(&s.describe(), 200)
        )));
    }
    s.read_until(Instant::now() + ctx.timeout(), |s| {
        s.last_event_id().is_some() || s.has_response_to(id)
    })
    .await;
    if s.last_event_id().is_none() {
        return Err(Verdict::untestable(format!(
            "the SSE answer carried no event ids before its response, so it cannot be resumed: {}",
            clip(&s.describe(), 300)
        )));
    }
    Ok(s.last_event_id().unwrap_or_default())
}

/// HTTP-016: cut stream A, let stream B run to its end, resume A with its last event
/// id: only A's messages may come back.
async fn resume_only_broken_stream(ctx: &mut Ctx) -> CaseResult {
    let slow = slow_tool(
        ctx,
        "HTTP-016 needs a call that runs while its stream is cut",
    )
    .await?;
    let info = http_info(ctx)?;
    let a = ctx.session().next_id();
    let last = cut_call(ctx, &info, &slow, &a, "mcpspec-resume-A").await?;
    let b = ctx.session().next_id();
    let body = tool_call(&b, &slow.name, &slow.arguments(50), "mcpspec-resume-B");
    let mut other = OpenStream::open(
        &info,
        info.post(body),
        "POST tools/call slow (B)",
        ctx.timeout(),
    )
    .await?;
    other
        .read_until(Instant::now() + ctx.timeout(), |s| s.has_response_to(&b))
        .await;
    let mut resumed = OpenStream::resume(&info, &last, ctx.timeout()).await?;
    if !resumed.is_sse() {
        return Ok(Verdict::violation(format!(
            "resuming with Last-Event-ID was refused: HTTP {} (resumption is optional)",
            resumed.status
        ))
        .at_level(Level::May)
        .expected("the rest of stream A, or a refusal")
        .actual(resumed.describe()));
    }
    let deadline = Instant::now() + ctx.timeout() + Duration::from_millis(CUT_CALL_MS);
    resumed
        .read_until(deadline, |s| s.has_response_to(&a))
        .await;
    let foreign: Vec<String> = resumed
        .messages()
        .filter(|m| {
            m.get("id") == Some(&b)
                || m.pointer("/params/progressToken") == Some(&json!("mcpspec-resume-B"))
        })
        .map(|m| clip(&m.to_string(), 200))
        .collect();
    if !foreign.is_empty() {
        return Ok(Verdict::violation(
            "resuming stream A replayed messages that belonged to stream B",
        )
        .expected(format!(
            "only messages of request {a} (progress token mcpspec-resume-A)"
        ))
        .actual(resumed.describe()));
    }
    if !resumed.has_response_to(&a) {
        return Ok(Verdict::violation(
            "the resumed stream did not deliver the rest of stream A (resumption is optional)",
        )
        .at_level(Level::May)
        .expected(format!("stream A continued up to the response to {a}"))
        .actual(resumed.describe()));
    }
    Ok(Verdict::pass(
        "resumed stream A with Last-Event-ID: only A's messages, ending with its response",
    ))
}

/// HTTP-017: drop a call's SSE connection midway; resuming the stream still yields the
/// call's response (the server kept working).
async fn dropped_stream_not_cancelled(ctx: &mut Ctx) -> CaseResult {
    let slow = slow_tool(
        ctx,
        "HTTP-017 needs a call that runs while its connection is dropped",
    )
    .await?;
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let last = cut_call(ctx, &info, &slow, &id, "mcpspec-dropped").await?;
    let mut resumed = OpenStream::resume(&info, &last, ctx.timeout()).await?;
    if !resumed.is_sse() {
        return Ok(Verdict::untestable(format!(
            "the stream cannot be resumed, so whether the call completed is not observable: {}",
            clip(&resumed.describe(), 200)
        )));
    }
    let deadline = Instant::now() + ctx.timeout() + Duration::from_millis(CUT_CALL_MS);
    resumed
        .read_until(deadline, |s| s.has_response_to(&id))
        .await;
    match resumed.response_to(&id) {
        Some(r) if r.get("result").is_some() => Ok(Verdict::pass(
            "the call whose connection dropped completed; its result came on the resumed stream",
        )),
        _ => Ok(Verdict::violation(
            "after its SSE connection dropped, the call never delivered its result",
        )
        .expected(format!(
            "the result of request {id} on the stream resumed with Last-Event-ID"
        ))
        .actual(resumed.describe())),
    }
}

/// HTTP-018: the client closes the GET stream (or the server does) and opens it again:
/// 200 SSE or 405. 2025-11-25: a server that closed it should have sent `retry`.
async fn get_stream_reconnect(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let mut first = open_get(ctx, &info).await?;
    first
        .read_until(Instant::now() + GET_WATCH * 2, |s| s.ended)
        .await;
    let server_closed = first.ended;
    let last = first.last_event_id();
    let retry = first.retry;
    let first_described = first.describe();
    drop(first);
    let resume_from = if server_closed { last.as_deref() } else { None };
    let mut again = OpenStream::open(
        &info,
        get_request(&info, resume_from),
        "GET again",
        ctx.timeout(),
    )
    .await?;
    let mut accepted = again.is_sse() || again.status == 405;
    if !accepted {
        // The server may not have noticed the old connection's end yet (some allow one
        // GET stream per session): reconnect once more after the reconnection delay,
        // as an SSE client does.
        let delay = retry.map_or(RECONNECT_DELAY, Duration::from_millis);
        tokio::time::sleep(delay.min(MAX_RETRY_WAIT)).await;
        again = OpenStream::open(
            &info,
            get_request(&info, resume_from),
            "GET again (after the reconnection delay)",
            ctx.timeout(),
        )
        .await?;
        accepted = again.is_sse() || again.status == 405;
    }
    if !accepted {
        return Ok(Verdict::violation(format!(
            "a new GET after the standalone stream {} was answered with HTTP {}",
            if server_closed {
                "was closed by the server"
            } else {
                "was closed"
            },
            again.status
        ))
        .expected("200 text/event-stream or 405")
        .actual(format!("{first_described}\n{}", again.describe())));
    }
    if server_closed && ctx.revision() >= Revision::V2025_11_25 && retry.is_none() {
        return Ok(Verdict::violation(
            "the server closed the GET stream without sending a retry field first",
        )
        .at_level(Level::Should)
        .expected("a retry field before closing the connection")
        .actual(first_described));
    }
    Ok(Verdict::pass(format!(
        "the GET stream {}; a new GET → {}",
        if server_closed {
            "was closed by the server"
        } else {
            "stayed open until the client closed it"
        },
        if again.is_sse() {
            "a new SSE stream"
        } else {
            "405"
        }
    )))
}

/// HTTP-019 (2025-11-25): the first event of an SSE answer has an id and empty data;
/// if the server closes before the response, it sent `retry` and resumption by GET
/// yields the response.
async fn priming_event(ctx: &mut Ctx) -> CaseResult {
    // A call long enough for a server to close early and serve the rest on resumption.
    let (name, arguments) = match slow_tool(ctx, "").await {
        Ok(slow) => (slow.name.clone(), slow.arguments(CUT_CALL_MS)),
        Err(_) => quick_tool(ctx).await?,
    };
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let body = tool_call(&id, &name, &arguments, "mcpspec-priming");
    let label = format!("tools/call {name}");
    let mut s = OpenStream::open(&info, info.post(body), &label, ctx.timeout()).await?;
    if !s.is_sse() {
        return Ok(Verdict::untestable(format!(
            "the tool call was answered without SSE, so there is no stream to prime: {}",
            clip(&s.describe(), 200)
        )));
    }
    s.read_until(Instant::now() + ctx.timeout(), |s| s.has_response_to(&id))
        .await;
    let primed = s
        .events
        .first()
        .is_some_and(|e| e.message.is_none() && e.id.as_ref().is_some_and(|i| !i.is_empty()));
    if !primed {
        return Ok(Verdict::violation(format!(
            "the SSE answer to {label} did not start with a priming event"
        ))
        .expected("a first event with an id and empty data")
        .actual(s.describe()));
    }
    if s.has_response_to(&id) {
        return Ok(Verdict::pass(format!(
            "{label} → SSE starting with a priming event (id, empty data)"
        )));
    }
    if !s.ended {
        return Ok(Verdict::violation(format!(
            "the SSE answer to {label} brought no response in time"
        ))
        .expected(format!("the response to {id}"))
        .actual(s.describe()));
    }
    // Closed early: the server must have said when to come back, and serve the rest.
    let Some(retry) = s.retry else {
        return Ok(Verdict::violation(
            "the server closed the SSE answer before the response without a retry field",
        )
        .expected("retry, then the response after a GET with Last-Event-ID")
        .actual(s.describe()));
    };
    // Waiting the server's own reconnection delay is the protocol step itself.
    tokio::time::sleep(Duration::from_millis(retry).min(MAX_RETRY_WAIT)).await;
    let last = s.last_event_id().unwrap_or_default();
    let mut resumed = OpenStream::resume(&info, &last, ctx.timeout()).await?;
    resumed
        .read_until(Instant::now() + ctx.timeout(), |r| r.has_response_to(&id))
        .await;
    if resumed.has_response_to(&id) {
        return Ok(Verdict::pass(
            "primed SSE answer closed early with retry; the response came after GET with Last-Event-ID",
        ));
    }
    Ok(Verdict::violation(
        "after an early close with retry, resuming with Last-Event-ID did not deliver the response",
    )
    .expected(format!("the response to {id}"))
    .actual(format!("{}\n{}", s.describe(), resumed.describe())))
}

// ---------------------------------------------------------------------------
// Security (SEC-002..005, SEC-008, SEC-009)
// ---------------------------------------------------------------------------

/// SEC-008: the body size no server should take whole (the catalogue's example).
const OVERSIZED_BODY: usize = 50 * 1024 * 1024;
/// SEC-004: initializations whose session ids are compared.
const SESSION_SAMPLES: usize = 20;

/// A POST written on a raw connection with exactly the `Host` given, as this session
/// would send it otherwise; the whole response (bounded) or why there is none.
async fn raw_post(
    info: &HttpSessionInfo,
    host: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<mcpspec_harness::RawResponse, String> {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        info.endpoint.path,
        body.len()
    );
    if let Some(sid) = &info.session_id {
        head.push_str(&format!("Mcp-Session-Id: {sid}\r\n"));
    }
    if let Some(v) = &info.protocol_version {
        head.push_str(&format!("MCP-Protocol-Version: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = mcpspec_harness::RawHttp::connect(
        info.endpoint.addr,
        mcpspec_harness::RawOptions::default(),
    )
    .await
    .map_err(|e| e.to_string())?
    .with_transcript(info.client.transcript().clone());
    raw.write(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // A server may refuse before reading everything: read its answer anyway.
    let written = raw.write(body).await;
    match raw.read_response(Instant::now() + timeout).await {
        Ok(r) => Ok(r),
        Err(e) => Err(match written {
            Err(w) => format!("writing the body failed ({w}); then {e}"),
            Ok(()) => e.to_string(),
        }),
    }
}

fn describe_raw(r: &mcpspec_harness::RawResponse) -> String {
    format!(
        "HTTP {}{}",
        r.status(),
        if r.body.is_empty() {
            String::new()
        } else {
            format!(": {}", escape_bytes(&r.body, 300))
        }
    )
}

/// SEC-002: on a loopback endpoint, `Host: evil.example.com` → 403 (or 421), while
/// `Host: localhost:<port>` is served.
async fn foreign_host_forbidden(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    if !info.endpoint.addr.ip().is_loopback() {
        return Ok(Verdict::not_applicable(
            "the endpoint is not on a loopback address (the rule is for local servers)",
        ));
    }
    let port = info.endpoint.addr.port();
    let id = ctx.session().next_id();
    let local = format!("localhost:{port}");
    let baseline = raw_post(&info, &local, &ping(&id), ctx.timeout()).await;
    match &baseline {
        Ok(r) if (200..300).contains(&r.status()) => {}
        Ok(r) => {
            return Ok(Verdict::untestable(format!(
                "a ping with Host: {local} was not served, so a refusal would prove nothing: {}",
                describe_raw(r)
            )))
        }
        Err(e) => {
            return Ok(Verdict::untestable(format!(
                "a ping with Host: {local} got no response: {e}"
            )))
        }
    }
    let id = ctx.session().next_id();
    let foreign = "evil.example.com";
    match raw_post(&info, foreign, &ping(&id), ctx.timeout()).await {
        // 421 Misdirected Request is HTTP's own status for a Host the server does
        // not serve, so it is as good a refusal as 403.
        Ok(r) if r.status() == 403 || r.status() == 421 => Ok(Verdict::pass(format!(
            "Host: {local} → served; Host: {foreign} → {}",
            r.status()
        ))),
        Ok(r) if (400..500).contains(&r.status()) => Ok(Verdict::violation(
            "a foreign Host was refused, but not with 403 (or 421)",
        )
        .expected("403 Forbidden (or 421 Misdirected Request)")
        .actual(describe_raw(&r))),
        Ok(r) => Ok(Verdict::violation(format!(
            "a request with Host: {foreign} was not refused (DNS rebinding stays possible)"
        ))
        .expected("403 Forbidden")
        .actual(describe_raw(&r))),
        Err(e) => Ok(Verdict::untestable(format!(
            "a ping with Host: {foreign} got no HTTP response: {e}"
        ))),
    }
}

/// The addresses of LISTEN sockets on `port` in a `/proc/net/tcp` or `tcp6` table.
pub fn listening_addresses(table: &str, port: u16) -> Vec<std::net::IpAddr> {
    mcpspec_harness::process::parse_listening_sockets(table)
        .into_iter()
        .filter(|s| s.addr.port() == port)
        .map(|s| s.addr.ip())
        .collect()
}

fn is_loopback_ip(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// SEC-003: the server listens on loopback addresses only. When mcpspec started the
/// server, every listening TCP socket of its process group is judged (found through
/// the sockets each process holds open, so listeners on other ports and in child
/// processes count too); otherwise the listening sockets of the endpoint's port.
async fn loopback_only(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    match ctx.config().server_pid {
        Some(pgid) => Ok(loopback_by_group(pgid)),
        None => Ok(loopback_by_port(&info)),
    }
}

fn loopback_verdict(sockets: &[(String, std::net::IpAddr)], how: &str) -> Verdict {
    let exposed: Vec<&str> = sockets
        .iter()
        .filter(|(_, ip)| !is_loopback_ip(ip))
        .map(|(what, _)| what.as_str())
        .collect();
    if exposed.is_empty() {
        let all: Vec<&str> = sockets.iter().map(|(what, _)| what.as_str()).collect();
        return Verdict::pass(format!(
            "the server listens on loopback only ({how}): {}",
            all.join(", ")
        ));
    }
    Verdict::violation(format!(
        "the server listens beyond loopback, reachable from other machines ({how})"
    ))
    .expected("listening sockets on 127.0.0.1 or ::1 only")
    .actual(format!("listening on {}", exposed.join(", ")))
}

/// SEC-003 for a server mcpspec started: the listening sockets of its process group.
fn loopback_by_group(pgid: u32) -> Verdict {
    let group = mcpspec_harness::group_listening_sockets(pgid);
    if group.members.is_empty() {
        return Verdict::untestable(format!(
            "the started server's process group {pgid} is not visible in /proc (no procfs, or the server exited)"
        ));
    }
    if group.listening.is_empty() {
        return Verdict::untestable(format!(
            "none of the {} process(es) of the started server's group holds a listening TCP socket visible in /proc/net/tcp* (another network namespace, or unreadable descriptors?)",
            group.members.len()
        ));
    }
    let sockets: Vec<(String, std::net::IpAddr)> = group
        .listening
        .iter()
        .map(|(pid, s)| {
            let who = if *pid == pgid {
                ""
            } else {
                " (a child process)"
            };
            (format!("{}{who}", s.addr), s.addr.ip())
        })
        .collect();
    loopback_verdict(
        &sockets,
        &format!(
            "every listening socket of the {} process(es) mcpspec started",
            group.members.len()
        ),
    )
}

/// SEC-003 for a server at a given URL: mcpspec did not start it, so only the
/// listening sockets of the endpoint's port on this machine can be judged.
fn loopback_by_port(info: &HttpSessionInfo) -> Verdict {
    if !info.endpoint.addr.ip().is_loopback() {
        return Verdict::untestable(
            "the endpoint is not on this machine's loopback, so its listening sockets cannot be inspected",
        );
    }
    let port = info.endpoint.addr.port();
    let found: Vec<std::net::IpAddr> = mcpspec_harness::process::listening_sockets()
        .into_iter()
        .filter(|s| s.addr.port() == port)
        .map(|s| s.addr.ip())
        .collect();
    if found.is_empty() {
        return Verdict::untestable(format!(
            "mcpspec did not start the server and no listening socket for port {port} is visible in /proc/net/tcp* (another network namespace?)"
        ));
    }
    let sockets: Vec<(String, std::net::IpAddr)> = found
        .iter()
        .map(|ip| (std::net::SocketAddr::new(*ip, port).to_string(), *ip))
        .collect();
    loopback_verdict(
        &sockets,
        &format!(
            "mcpspec did not start the server, so only the endpoint's port {port} was looked at"
        ),
    )
}

/// What makes a set of session ids guessable, if anything: `(problem, at MUST level)`.
pub fn session_id_weakness(ids: &[String]) -> Option<(String, bool)> {
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Some((format!("the id {:?} was issued twice", w[0]), true));
    }
    let shortest = ids.iter().map(|i| i.chars().count()).min().unwrap_or(0);
    if shortest < 16 {
        return Some((
            format!("ids as short as {shortest} characters (at least 16 expected)"),
            true,
        ));
    }
    let chars: Vec<Vec<char>> = ids.iter().map(|i| i.chars().collect()).collect();
    let prefix = (0..shortest)
        .take_while(|&k| chars.iter().all(|c| c[k] == chars[0][k]))
        .count();
    if chars
        .iter()
        .all(|c| c[prefix..].iter().all(char::is_ascii_digit))
    {
        return Some((
            format!(
                "the ids differ only in a decimal number after {:?} (a counter or a timestamp)",
                chars[0][..prefix].iter().collect::<String>()
            ),
            true,
        ));
    }
    let varying: Vec<usize> = (0..shortest)
        .filter(|&k| chars.iter().any(|c| c[k] != chars[0][k]))
        .collect();
    let alphabet: std::collections::HashSet<char> = varying
        .iter()
        .flat_map(|&k| chars.iter().map(move |c| c[k]))
        .collect();
    let per_char = if alphabet.iter().all(char::is_ascii_digit) {
        10f64.log2()
    } else if alphabet.iter().all(char::is_ascii_hexdigit) {
        4.0
    } else if alphabet.iter().all(char::is_ascii_alphanumeric) {
        62f64.log2()
    } else {
        6.0
    };
    let bits = varying.len() as f64 * per_char;
    if bits < 64.0 {
        return Some((
            format!("only about {bits:.0} bits vary between ids (too few to be unguessable)"),
            true,
        ));
    }
    if bits < 112.0 {
        return Some((
            format!("only about {bits:.0} bits vary between ids (112 or more expected)"),
            false,
        ));
    }
    None
}

/// SEC-004: 20 fresh initializations give 20 distinct, long, random-looking ids.
async fn session_ids_unguessable(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let first = issued_session(&info)?;
    let mut ids = vec![first];
    let mut sessions = Vec::new();
    while ids.len() < SESSION_SAMPLES {
        match initialize_new_session(&info, ctx.version(), ctx.timeout()).await {
            Ok((Some(sid), version)) => {
                ids.push(sid.clone());
                sessions.push(other_session(&info, Some(sid), version));
            }
            Ok((None, _)) => {
                return Ok(Verdict::violation(
                    "a later initialize issued no session id, though the first one did",
                )
                .at_level(Level::Should)
                .expected("an Mcp-Session-Id on every InitializeResult")
                .actual(format!("ids so far: {}", ids.join(", "))))
            }
            Err(ex) => {
                return Ok(Verdict::untestable(format!(
                    "initialize #{} failed, so ids could not be sampled: {}",
                    ids.len() + 1,
                    clip(&ex.describe(), 200)
                )))
            }
        }
    }
    // The sampled sessions are ended again (a server may refuse DELETE: fine).
    for s in &sessions {
        let mut delete = HttpRequest::delete("")
            .header("Mcp-Session-Id", s.session_id.clone().unwrap_or_default());
        if let Some(v) = &s.protocol_version {
            delete = delete.header("MCP-Protocol-Version", v.clone());
        }
        let _ = s
            .client
            .send_until(delete, Instant::now() + ctx.timeout())
            .await;
    }
    match session_id_weakness(&ids) {
        None => Ok(Verdict::pass(format!(
            "{SESSION_SAMPLES} session ids: distinct, at least 16 characters, 112 or more varying bits"
        ))),
        Some((problem, must)) => {
            let v = Verdict::violation(format!("session ids are guessable: {problem}"))
                .expected("random ids (e.g. a UUIDv4 or 128 random bits)")
                .actual(ids.join("\n"));
            Ok(if must { v } else { v.at_level(Level::Should) })
        }
    }
}

/// The log messages at `level` among `events`.
fn logs_at(events: &[crate::traffic::Inbound], level: &str) -> usize {
    events
        .iter()
        .filter(|e| match e {
            crate::traffic::Inbound::Notification(n) => {
                n.get("method").and_then(Value::as_str) == Some("notifications/message")
                    && n.pointer("/params/level").and_then(Value::as_str) == Some(level)
            }
            _ => false,
        })
        .count()
}

/// Call the `log` tool at `level` in `session` and count the log messages at that
/// level it brought.
async fn log_through(
    session: &crate::session::Session,
    level: &str,
    timeout: Duration,
) -> Result<usize, Verdict> {
    let mark = session.mark();
    let r = session
        .request_timeout(
            "tools/call",
            Some(json!({ "name": "log", "arguments": { "level": level, "message": "mcpspec isolation probe" } })),
            timeout,
        )
        .await?;
    if r.is_error() {
        return Err(Verdict::untestable(format!(
            "the log tool failed: {}",
            r.summary()
        )));
    }
    Ok(logs_at(&session.events_since(mark), level))
}

/// SEC-005: session B sets level `error`, session A then sets `debug`; a debug log
/// reaches A but not B.
async fn session_state_isolated(ctx: &mut Ctx) -> CaseResult {
    let tools = callable_tools(ctx).await?;
    let has_log = tools.iter().any(|t| {
        t.name == "log"
            && t.definition
                .pointer("/inputSchema/properties/level")
                .is_some()
            && t.definition
                .pointer("/inputSchema/properties/message")
                .is_some()
    });
    if !has_log {
        return Ok(Verdict::untestable(
            "no safe tool named `log` taking level and message: SEC-005 needs a way to make the server log on demand",
        ));
    }
    let a = ctx.session().clone();
    let b = ctx.spawn_initialized(json!({})).await?;
    for (session, level) in [(&b, "error"), (&a, "debug")] {
        let r = session
            .request_timeout(
                "logging/setLevel",
                Some(json!({ "level": level })),
                ctx.timeout(),
            )
            .await?;
        if r.is_error() {
            return Ok(Verdict::untestable(format!(
                "logging/setLevel {level} was refused: {}",
                r.summary()
            )));
        }
    }
    if log_through(&a, "debug", ctx.timeout()).await? == 0 {
        return Ok(Verdict::untestable(
            "a debug log did not reach the session that set level debug, so its absence elsewhere would prove nothing",
        ));
    }
    let leaked = log_through(&b, "debug", ctx.timeout()).await?;
    if leaked == 0 {
        return Ok(Verdict::pass(
            "a debug log reached the session at level debug, not the one at level error",
        ));
    }
    Ok(Verdict::violation(
        "a session that set level error received a debug log after another session set level debug",
    )
    .expected("each session's log level applies to that session only")
    .actual(format!(
        "{leaked} debug log message(s) in the session at level error"
    )))
}

/// SEC-008: a 50 MiB body is refused or answered with an error, and the server keeps
/// answering afterwards.
async fn oversized_body_bounded(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let id = ctx.session().next_id();
    let head =
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping","params":{{"mcpspec-padding":""#);
    let mut body = Vec::with_capacity(OVERSIZED_BODY + 64);
    body.extend_from_slice(head.as_bytes());
    body.resize(OVERSIZED_BODY, b'x');
    body.extend_from_slice(b"\"}}");
    let authority = info.endpoint.authority.clone();
    let answer = raw_post(&info, &authority, &body, ctx.timeout() * 2).await;
    drop(body);
    let alive_id = ctx.session().next_id();
    let alive = exchange(
        &info,
        info.post(ping(&alive_id)),
        Some(&alive_id),
        ctx.timeout(),
    )
    .await
    .ok()
    .is_some_and(|ex| ex.response_to(&alive_id).is_some());
    let what = match &answer {
        Ok(r) => describe_raw(r),
        Err(e) => format!("no HTTP response: {e}"),
    };
    if !alive {
        return Ok(Verdict::violation(
            "after a 50 MiB POST body the server no longer answers a ping",
        )
        .expected("a refusal (413) and a server that keeps serving")
        .actual(what));
    }
    let Ok(r) = answer else {
        return Ok(Verdict::pass(
            "the server closed the connection before taking the whole 50 MiB body, and keeps serving",
        ));
    };
    let error_answer = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .is_some_and(|v| v.get("error").is_some())
        || String::from_utf8_lossy(&r.body).contains("\"error\"");
    if (400..500).contains(&r.status()) || ((200..300).contains(&r.status()) && error_answer) {
        return Ok(Verdict::pass(format!(
            "a 50 MiB POST body → HTTP {}{}; the server keeps serving",
            r.status(),
            if error_answer {
                " with a JSON-RPC error"
            } else {
                ""
            }
        )));
    }
    Ok(Verdict::violation(format!(
        "a 50 MiB POST body was {}",
        if (200..300).contains(&r.status()) {
            "read whole and processed"
        } else {
            "answered with a server error"
        }
    ))
    .expected("413 Payload Too Large (or another 4xx, or a JSON-RPC error)")
    .actual(clip(&what, 400)))
}

/// SEC-009: this run reached the server without any credentials; report it, with the
/// tools that are not annotated read-only.
async fn unauthenticated_exposure(ctx: &mut Ctx) -> CaseResult {
    let info = http_info(ctx)?;
    let tools = if ctx.profile().declares(crate::case::Capability::Tools) {
        crate::cases::support::list_all(ctx.session(), "tools/list", "tools", ctx.timeout()).await?
    } else {
        Vec::new()
    };
    let writable: Vec<String> = tools
        .iter()
        .filter(|t| t.pointer("/annotations/readOnlyHint") != Some(&Value::Bool(true)))
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let where_ = if info.endpoint.addr.ip().is_loopback() {
        "a loopback"
    } else {
        "a non-loopback"
    };
    let tools_note = if writable.is_empty() {
        format!("{} tool(s), all annotated read-only", tools.len())
    } else {
        format!(
            "{} tool(s); not annotated read-only: {}",
            tools.len(),
            writable.join(", ")
        )
    };
    Ok(Verdict::violation(format!(
        "the server serves MCP on {where_} HTTP endpoint to a client that sent no credentials ({tools_note})"
    ))
    .at_level(Level::May)
    .expected("authentication (e.g. a bearer token), or stdio for local use")
    .actual(format!("initialize and tools/list served without credentials at {}", info.endpoint.url)))
}

#[cfg(test)]
mod security_tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n   1: 00000000:1F91 00000000:0000 0A 0\n   2: 0100007F:1F91 0100007F:9999 01 0\n";
        assert_eq!(
            listening_addresses(tcp, 8080),
            vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            listening_addresses(tcp, 8081),
            vec!["0.0.0.0".parse::<std::net::IpAddr>().unwrap()]
        );
        let tcp6 = "  sl  local_address rem_address st\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0\n   1: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 0\n";
        let v6 = listening_addresses(tcp6, 8080);
        assert_eq!(v6, vec!["::1".parse::<std::net::IpAddr>().unwrap()]);
        assert!(is_loopback_ip(&v6[0]));
        let any = listening_addresses(tcp6, 8082);
        assert!(any[0].is_unspecified() && !is_loopback_ip(&any[0]));
    }

    #[test]
    fn guessable_session_ids_are_told_apart() {
        let counter: Vec<String> = (1..=20).map(|n| format!("session-{n}")).collect();
        assert!(session_id_weakness(&counter).is_some_and(|(_, must)| must));
        let stamps: Vec<String> = (0..20)
            .map(|n| format!("sess-{}", 1_764_000_000_000u64 + n))
            .collect();
        assert!(session_id_weakness(&stamps).is_some_and(|(p, _)| p.contains("decimal")));
        let same = vec!["a".repeat(32), "a".repeat(32)];
        assert!(session_id_weakness(&same).is_some_and(|(p, _)| p.contains("twice")));
        // UUIDv4-like: 5 fixed positions, the rest random hex.
        let uuids: Vec<String> = (0..20u64)
            .map(|n| {
                let h = |k: u64| {
                    format!(
                        "{:016x}",
                        (n + 1)
                            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                            .rotate_left(k as u32)
                            ^ (k * 0x51_7CC1_B727_220A)
                    )
                };
                let a = h(7);
                let b = h(29);
                format!(
                    "{}-{}-4{}-a{}-{}",
                    &a[..8],
                    &a[8..12],
                    &a[12..15],
                    &b[..3],
                    &b[3..15]
                )
            })
            .collect();
        assert_eq!(session_id_weakness(&uuids), None, "{uuids:?}");
    }
}
