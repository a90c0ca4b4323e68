//! Spec page `basic/transports/streamable-http` (revisions 2025-03-26..2025-11-25).
//! Catalogue areas HTTP (POST semantics, GET, sessions, the version header) and SEC-001
//! (Origin). The cases speak HTTP themselves through the session's client, so they can
//! send what a well-behaved client never would (no session id, a foreign Origin, a bad
//! version header) and see the exact status and media type of each answer.

use crate::case::{Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::callable_tools;
use crate::session::{media_type, request_message, HttpSessionInfo, RequestError};
use crate::spec::{Level, Revision, Revisions, Transport};
use crate::util::clip;
use mcpspec_harness::{escape_bytes, Delivery, HttpRequest, SseDecoder, SseItem, SseLimits};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const HTTP: &[Transport] = &[Transport::StreamableHttp];
const STREAMABLE: Revisions = Revisions::since(Revision::V2025_03_26);
const VERSION_HEADER: Revisions = Revisions::since(Revision::V2025_06_18);
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

/// Send `request` and read its answer: a whole body, or SSE events until the stream
/// ends, the response to `want` arrives, or `timeout` passes.
async fn exchange(
    info: &HttpSessionInfo,
    request: HttpRequest,
    want: Option<&Value>,
    timeout: Duration,
) -> Result<Exchange, Verdict> {
    let deadline = Instant::now() + timeout;
    let what = format!("{} {}", request.method, info.endpoint.url);
    let response = info
        .client
        .send_until(request, deadline)
        .await
        .map_err(|e| {
            Verdict::violation(format!("{what} got no HTTP response: {e}"))
                .expected("an HTTP response")
                .actual(e.to_string())
        })?;
    let mut out = Exchange {
        status: response.status,
        content_type: response
            .header_str("content-type")
            .unwrap_or("")
            .to_string(),
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
    if bad.is_empty() {
        return Ok(Verdict::pass(seen.join("; ")));
    }
    Ok(
        Verdict::violation("an answer used a media type the request's Accept excludes")
            .expected("the accepted type, or 406 Not Acceptable")
            .actual(bad.join("\n")),
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
    if bad.is_empty() {
        return Ok(Verdict::pass(seen.join("; ")));
    }
    Ok(
        Verdict::violation("an invalid non-request message was not refused with an HTTP error")
            .expected("4xx, with no body or a JSON-RPC error without id")
            .actual(bad.join("\n")),
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
    let body = serde_json::to_vec(&request_message(
        &id,
        "initialize",
        Some(json!({
            "protocolVersion": ctx.version(),
            "capabilities": {},
            "clientInfo": { "name": "mcpspec", "version": env!("CARGO_PKG_VERSION") }
        })),
    ))
    .unwrap_or_default();
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
    let mut request = HttpRequest::get("").header("Accept", "text/event-stream");
    if let Some(sid) = &info.session_id {
        request = request.header("Mcp-Session-Id", sid.clone());
    }
    if let Some(v) = &info.protocol_version {
        request = request.header("MCP-Protocol-Version", v.clone());
    }
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
    let content_type = response
        .header_str("content-type")
        .unwrap_or("")
        .to_string();
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
