//! Spec page `basic/transports` §HTTP with SSE of revision 2024-11-05 (the legacy
//! HTTP+SSE transport), catalogue area SSE. Case ids use the section's slug,
//! `basic/transports/http-with-sse/<behaviour>`.
//!
//! The transport's rules come from 2024-11-05, but later revisions ask servers that
//! serve old clients to keep it (§Backwards Compatibility), and such servers negotiate
//! later versions over it: so the cases apply to every session-era revision a run
//! negotiates over `--sse`. SSE-008 (both transports on one server) runs when both
//! URLs are given (`--url` with `--sse`): the runner then runs one profile per
//! transport, and this case, in the first, initializes over the other endpoint.

use crate::case::{Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::initialize_params;
use crate::session::{media_type, request_message, LegacySseInfo, Session};
use crate::spec::{Level, Revision, Revisions, Transport};
use crate::traffic::Inbound;
use mcpspec_harness::http::legacy_sse::origin_of;
use mcpspec_harness::{escape_bytes, HttpRequest};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SSE: &[Transport] = &[Transport::LegacySse];
/// SSE-002: how long the first event may take.
const FIRST_EVENT: Duration = Duration::from_secs(5);
/// SSE-001: how long an idle stream must stay open.
const STAY_OPEN: Duration = Duration::from_secs(10);
/// SSE-006: how long the server may take to notice that a stream was closed.
const NOTICE_CLOSE: Duration = Duration::from_secs(3);
const RETRY_GAP: Duration = Duration::from_millis(100);

pub const CASES: &[Case] = &[
    Case {
        id: "basic/transports/http-with-sse/stream-opens",
        title: "GET on the SSE URL answers 200 text/event-stream and keeps the stream open",
        requirements: &["SSE-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(stream_opens(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/endpoint-first",
        title: "The first event is `endpoint`, naming a URI on the same origin",
        requirements: &["SSE-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(endpoint_first(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/post-accepted",
        title: "Messages POSTed to the endpoint are accepted with 2xx",
        requirements: &["SSE-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(post_accepted(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/responses-on-stream",
        title: "Responses arrive on the stream as `message` events",
        requirements: &["SSE-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(responses_on_stream(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/connections-isolated",
        title: "Two connections get distinct endpoints and only their own answers",
        requirements: &["SSE-005"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(connections_isolated(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/stale-endpoint-refused",
        title: "POSTs to a forged or closed connection's endpoint are refused with 4xx",
        requirements: &["SSE-006"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(stale_endpoint_refused(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/post-to-sse-url-refused",
        title: "A POSTed initialize on the SSE URL is refused with 400, 404 or 405",
        requirements: &["SSE-007"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(post_to_sse_url_refused(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/foreign-origin-forbidden",
        title: "A foreign Origin is refused with 403 on the SSE GET and the message POST; a loopback Origin is served",
        requirements: &["SEC-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(foreign_origin_forbidden(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/foreign-host-forbidden",
        title: "A loopback server refuses a GET of its SSE URL whose Host is not a loopback name",
        requirements: &["SEC-002"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: SSE,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(foreign_host_forbidden(ctx)),
    },
    Case {
        id: "basic/transports/http-with-sse/both-transports-served",
        title: "A server keeping old clients serves the legacy SSE endpoints beside Streamable HTTP",
        requirements: &["SSE-008"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_03_26),
        transports: BOTH_HTTP,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(both_transports_served(ctx)),
    },
];

/// SSE-008 runs over either HTTP transport (in a run of both, in the first profile).
const BOTH_HTTP: &[Transport] = &[Transport::StreamableHttp, Transport::LegacySse];

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::StreamableHttp => "Streamable HTTP",
        Transport::LegacySse => "legacy HTTP+SSE",
        Transport::Stdio => "stdio",
    }
}

/// SSE-008: this profile's endpoint completed initialize (the run's handshake); the
/// other endpoint of the same server must too. With one URL there is nothing to
/// compare: not applicable.
async fn both_transports_served(ctx: &mut Ctx) -> CaseResult {
    let Some(companion) = ctx.config().companion.clone() else {
        return Ok(Verdict::not_applicable(
            "only one endpoint was given; give both --url and --sse to check a server that keeps the legacy endpoints",
        ));
    };
    let this = ctx.config().transport();
    let this_url = ctx
        .config()
        .http
        .as_ref()
        .map(|h| h.url.clone())
        .unwrap_or_default();
    let mut other = ctx.config().clone();
    other.companion = None;
    if let Some(h) = other.http.as_mut() {
        h.url = companion.url.clone();
        h.legacy_sse = companion.transport == Transport::LegacySse;
    }
    let what = format!(
        "{} at {}",
        transport_name(companion.transport),
        companion.url
    );
    let expected = format!(
        "initialize completes over {} at {this_url} and over {what}",
        transport_name(this)
    );
    // Its own traffic log: the passive checks judge the run's profile only.
    let session = match other.open_session(crate::traffic::TrafficLog::new(1000)) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Verdict::violation(format!("{what} cannot be used: {e}"))
                .expected(expected)
                .actual(e))
        }
    };
    let outcome = initialize_other(&session, ctx.version(), ctx.config().init_timeout).await;
    session.close_stdin().await;
    match outcome {
        Ok(version) => Ok(Verdict::pass(format!(
            "both endpoints completed initialize in this run: {} (the run's session) and {what} (negotiated {version})",
            transport_name(this)
        ))),
        Err(why) => Ok(Verdict::violation(format!(
            "the server does not serve both transports: {what} did not complete initialize"
        ))
        .expected(expected)
        .actual(why)),
    }
}

/// Initialize over a session of the other transport: the negotiated version, or why not.
async fn initialize_other(
    session: &Session,
    version: &str,
    timeout: Duration,
) -> Result<String, String> {
    if session.legacy_sse().is_some() {
        session.legacy_endpoint(timeout).await?;
    }
    let handshake = session
        .handshake(version, json!({}), timeout)
        .await
        .map_err(|e| e.to_string())?;
    if handshake.result().is_none() {
        return Err(format!(
            "initialize was refused: {}",
            handshake.response.summary()
        ));
    }
    Ok(handshake
        .protocol_version()
        .unwrap_or("(no version)")
        .to_string())
}

/// SEC-001: origins no local server may serve.
const FOREIGN_ORIGINS: &[&str] = &[
    "https://attacker.example",
    "null",
    "http://localhost.attacker.example",
];

fn legacy(session: &Session) -> Result<LegacySseInfo, Verdict> {
    session.legacy_sse().ok_or_else(|| {
        Verdict::harness_error("a legacy SSE case ran on a session that is not legacy SSE")
    })
}

/// The endpoint the session's stream announced; no usable endpoint is a violation of
/// SSE-002 (judged precisely by `endpoint-first`), so other cases cannot go on.
async fn endpoint_of(session: &Session, timeout: Duration) -> Result<String, Verdict> {
    session.legacy_endpoint(timeout).await.map_err(|why| {
        Verdict::violation(format!("the stream gave no usable endpoint: {why}"))
            .expected("an `endpoint` event naming where to POST")
            .actual(why)
    })
}

/// One POST and its answer (status and a bounded body).
struct Posted {
    status: u16,
    body: Vec<u8>,
}

impl Posted {
    fn describe(&self) -> String {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, escape_bytes(&self.body, 200))
        }
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

async fn post(
    info: &LegacySseInfo,
    request: HttpRequest,
    timeout: Duration,
) -> Result<Posted, String> {
    let deadline = Instant::now() + timeout;
    let response = info
        .client
        .send_until(request, deadline)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status;
    let body = response.read_body(deadline).await.unwrap_or_default();
    Ok(Posted { status, body })
}

fn ping(id: &Value) -> Vec<u8> {
    serde_json::to_vec(&request_message(id, "ping", None)).unwrap_or_default()
}

/// SSE-001.
async fn stream_opens(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    // The first event (or the stream's end) shows that the head is in.
    let _ = session.legacy_endpoint(FIRST_EVENT).await;
    let observed = legacy(&session)?.observed;
    let Some(status) = observed.status else {
        let why = observed.ended.unwrap_or_else(|| "no response head".into());
        return Err(Verdict::violation(format!(
            "GET {} opened no stream: {why}",
            legacy(&session)?.sse_url
        ))
        .expected("HTTP 200 with Content-Type: text/event-stream")
        .actual(why));
    };
    let content_type = observed.content_type.clone().unwrap_or_default();
    if status != 200 || media_type(&content_type) != "text/event-stream" {
        return Err(Verdict::violation(format!(
            "GET on the SSE URL answered HTTP {status} with Content-Type '{content_type}'"
        ))
        .expected("HTTP 200 with Content-Type: text/event-stream")
        .actual(format!("HTTP {status} ({content_type})")));
    }
    // Staying open is the behaviour itself: watch the idle stream for the window.
    let mark = session.mark();
    session.observe(mark, STAY_OPEN).await;
    if session.stdout_closed() {
        let why = legacy(&session)?
            .observed
            .ended
            .unwrap_or_else(|| "closed".into());
        return Err(Verdict::violation(format!(
            "the event stream did not stay open for {STAY_OPEN:?}: {why}"
        ))
        .expected("the stream stays open while the client keeps it")
        .actual(why));
    }
    Ok(Verdict::pass(format!(
        "GET → HTTP 200 text/event-stream, still open after {STAY_OPEN:?}"
    )))
}

/// SSE-002.
async fn endpoint_first(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let waited = session.legacy_endpoint(FIRST_EVENT).await;
    let observed = legacy(&session)?.observed;
    if !observed.events_before_endpoint.is_empty() {
        return Err(Verdict::violation(format!(
            "{} event(s) came before the endpoint event: {}",
            observed.events_before_endpoint.len(),
            observed.events_before_endpoint.join(", ")
        ))
        .expected("`endpoint` as the first event")
        .actual(format!(
            "first events: {}",
            observed.events_before_endpoint.join(", ")
        )));
    }
    let data = observed.endpoint_data.clone().unwrap_or_default();
    match waited {
        // No URL in the message: it holds a port and a connection id.
        Ok(_) => Ok(Verdict::pass(
            "the first event is `endpoint`, naming a URI on the SSE URL's origin",
        )),
        Err(why) if observed.endpoint_data.is_some() && why.contains("another origin") => {
            Err(Verdict::violation(format!(
                "the endpoint event points at another origin, which mcpspec does not contact: {why}"
            ))
            .at_level(Level::Should)
            .expected("an endpoint on the SSE URL's origin")
            .actual(data))
        }
        Err(why) => Err(Verdict::violation(format!(
            "no usable endpoint event within {FIRST_EVENT:?}: {why}"
        ))
        .expected("a first event of type `endpoint` whose data is a URI")
        .actual(why)),
    }
}

/// SSE-003.
async fn post_accepted(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let url = endpoint_of(&session, FIRST_EVENT).await?;
    let info = legacy(&session)?;
    let id = session.next_string_id();
    let initialize = request_message(&id, "initialize", Some(initialize_params(ctx.version())));
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let answer = session.expect(&id, "initialize");
    let mut seen = Vec::new();
    let mut statuses = Vec::new();
    let mut refused = Vec::new();
    let messages = [
        ("initialize", initialize, Some(answer)),
        ("notifications/initialized", initialized, None),
        (
            "ping",
            request_message(&session.next_id(), "ping", None),
            None,
        ),
    ];
    for (what, message, answer) in messages {
        let body = serde_json::to_vec(&message).unwrap_or_default();
        let posted = post(&info, LegacySseInfo::post(&url, body), ctx.timeout())
            .await
            .map_err(|e| {
                Verdict::violation(format!("the POST of {what} got no HTTP answer: {e}"))
                    .expected("2xx (typically 202 Accepted)")
                    .actual(e)
            })?;
        if !posted.is_success() {
            refused.push(format!("{what}: {}", posted.describe()));
        }
        seen.push(format!("{what} → {}", posted.describe()));
        statuses.push(format!("{what} → HTTP {}", posted.status));
        if let Some(answer) = answer {
            // The handshake goes on once initialize was processed; where its answer
            // arrives is SSE-004's matter.
            let _ = answer.wait(ctx.timeout()).await;
        }
    }
    if refused.is_empty() {
        Ok(Verdict::pass(format!(
            "POSTs to the endpoint accepted: {}",
            statuses.join("; ")
        )))
    } else {
        Err(Verdict::violation(format!(
            "POSTs to the endpoint were refused: {}",
            refused.join("; ")
        ))
        .expected("2xx (typically 202 Accepted) for every message")
        .actual(seen.join("\n")))
    }
}

fn is_response_to(inbound: &Inbound, id: &Value) -> bool {
    matches!(inbound, Inbound::Response(v) if v.get("id") == Some(id))
}

/// SSE-004.
async fn responses_on_stream(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let url = endpoint_of(&session, FIRST_EVENT).await?;
    let info = legacy(&session)?;
    let id = session.next_id();
    let pending = session.expect(&id, "ping");
    let posted = post(&info, LegacySseInfo::post(&url, ping(&id)), ctx.timeout())
        .await
        .map_err(|e| {
            Verdict::violation(format!("the POST of ping got no HTTP answer: {e}"))
                .expected("2xx, then the response as a `message` event on the stream")
                .actual(e)
        })?;
    let answered = pending.wait(ctx.timeout()).await;
    let after = legacy(&session)?.observed;
    let mut renamed: Vec<String> = after
        .other_events
        .iter()
        .map(|(name, data)| format!("event '{name}': {data}"))
        .collect();
    // A message event that is not one JSON-RPC message is as lost as a renamed one.
    renamed.extend(
        after
            .unparseable
            .iter()
            .map(|u| format!("message event whose data is not one JSON value: {u}")),
    );
    let in_body = serde_json::from_slice::<Value>(&posted.body)
        .ok()
        .filter(|v| v.get("id") == Some(&id));
    match answered {
        Ok(_) if renamed.is_empty() => {
            let mut message = format!(
                "ping → POST answered HTTP {}, the response came as a `message` event on the stream",
                posted.status
            );
            if in_body.is_some() {
                // Harmless for a client reading the stream; worth knowing.
                message.push_str(" (the POST body carried it too)");
            }
            Ok(Verdict::pass(message))
        }
        Ok(_) => Err(Verdict::violation(format!(
            "the stream carried events a client cannot deliver as messages (another event name, or data that is not one JSON value): {}",
            renamed.join("; ")
        ))
        .expected("every server message as an event of type `message`")
        .actual(renamed.join("\n"))),
        Err(e) => {
            let mut actual = vec![format!("POST → {}", posted.describe())];
            actual.extend(renamed.iter().cloned());
            let why = if let Some(v) = &in_body {
                format!("the response came in the POST's HTTP body instead of on the stream: {v}")
            } else if !renamed.is_empty() {
                format!(
                    "the response came as an event not named `message`: {}",
                    renamed.join("; ")
                )
            } else {
                format!("no response arrived on the stream: {e}")
            };
            Err(Verdict::violation(why)
                .expected(format!("the response to ping {id} as a `message` event on the stream"))
                .actual(actual.join("\n")))
        }
    }
}

/// SSE-005.
async fn connections_isolated(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.session().clone();
    let b = ctx.spawn_initialized(json!({})).await?;
    let url_a = endpoint_of(&a, FIRST_EVENT).await?;
    let url_b = endpoint_of(&b, FIRST_EVENT).await?;
    if url_a == url_b {
        return Err(Verdict::violation(format!(
            "two connections were given the same endpoint {url_a}, so the server cannot tell their POSTs apart"
        ))
        .expected("a distinct endpoint per connection")
        .actual(format!("A: {url_a}\nB: {url_b}")));
    }
    let (mark_a, mark_b) = (a.mark(), b.mark());
    let id_a = json!("mcpspec-isolation-a");
    let id_b = json!("mcpspec-isolation-b");
    let (ra, rb) = tokio::join!(
        a.request_with_id(id_a.clone(), "ping", None, ctx.timeout()),
        b.request_with_id(id_b.clone(), "ping", None, ctx.timeout()),
    );
    ra.map_err(|e| Verdict::from(e).expected("the ping answered on connection A's stream"))?;
    rb.map_err(|e| Verdict::from(e).expected("the ping answered on connection B's stream"))?;
    // One more round trip on each: a copy sent to the wrong stream before these
    // answers has arrived by now.
    let _ = tokio::join!(a.answers(ctx.timeout()), b.answers(ctx.timeout()));
    let mut leaks = Vec::new();
    for (name, session, mark, foreign) in [("A", &a, mark_a, &id_b), ("B", &b, mark_b, &id_a)] {
        for event in session.events_since(mark) {
            if is_response_to(&event, foreign) {
                leaks.push(format!(
                    "connection {name}'s stream carried the answer to the other connection's ping: {}",
                    event.describe()
                ));
            }
        }
    }
    if leaks.is_empty() {
        Ok(Verdict::pass(
            "two connections: distinct endpoints, each ping answered only on its own stream",
        ))
    } else {
        Err(Verdict::violation(leaks.join("; "))
            .expected("each response only on the stream of the connection that POSTed the request")
            .actual(leaks.join("\n")))
    }
}

/// The endpoint with its connection-identifying part changed (query values, else the
/// last path segment); `None` when it has nothing to change.
pub fn forge_endpoint(url: &str) -> Option<String> {
    fn shift(c: char) -> char {
        match c {
            '0'..='8' | 'a'..='e' | 'A'..='E' => (c as u8 + 1) as char,
            '9' => 'a',
            'f' => '0',
            'F' => '0',
            'g'..='y' | 'G'..='Y' => (c as u8 + 1) as char,
            'z' => 'g',
            'Z' => 'G',
            other => other,
        }
    }
    let changed = |s: &str| s.chars().map(shift).collect::<String>();
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    if let Some(query) = query.filter(|q| q.chars().any(|c| c.is_ascii_alphanumeric())) {
        let forged: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => format!("{k}={}", changed(v)),
                None => pair.to_string(),
            })
            .collect();
        let forged = format!("{before_query}?{}", forged.join("&"));
        return (forged != url).then_some(forged);
    }
    let scheme_end = before_query.find("://").map_or(0, |i| i + 3);
    let path_start = before_query[scheme_end..].find('/')? + scheme_end;
    let (head, path) = before_query.split_at(path_start);
    let (dir, last) = path.rsplit_once('/')?;
    if !last.chars().any(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(format!("{head}{dir}/{}", changed(last)))
}

/// SSE-006.
async fn stale_endpoint_refused(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let url = endpoint_of(&session, FIRST_EVENT).await?;
    let info = legacy(&session)?;
    let Some(forged) = forge_endpoint(&url) else {
        return Err(Verdict::untestable(format!(
            "the endpoint {url} has no part that identifies the connection to forge"
        )));
    };
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    let id = json!("mcpspec-forged-endpoint");
    match post(
        &info,
        LegacySseInfo::post(&forged, ping(&id)),
        ctx.timeout(),
    )
    .await
    {
        Ok(p) if (400..500).contains(&p.status) => {
            seen.push(format!("forged {forged} → {}", p.describe()))
        }
        Ok(p) => {
            problems.push(format!(
                "a forged endpoint {forged} was answered {}",
                p.describe()
            ));
            seen.push(format!("forged {forged} → {}", p.describe()));
        }
        Err(e) => {
            problems.push(format!(
                "a POST to the forged endpoint {forged} got no HTTP answer: {e}"
            ));
            seen.push(format!("forged {forged} → no answer ({e})"));
        }
    }
    // Close the connection, then the old endpoint must stop accepting messages.
    session.close_stdin().await;
    let id = json!("mcpspec-closed-endpoint");
    let deadline = Instant::now() + NOTICE_CLOSE;
    let last = loop {
        let result = post(&info, LegacySseInfo::post(&url, ping(&id)), ctx.timeout()).await;
        let refused = matches!(&result, Ok(p) if (400..500).contains(&p.status));
        if refused || Instant::now() >= deadline {
            break result;
        }
        // The server learns of the disconnect asynchronously; ask again shortly.
        tokio::time::sleep(RETRY_GAP).await;
    };
    match last {
        Ok(p) if (400..500).contains(&p.status) => {
            seen.push(format!("closed connection's {url} → {}", p.describe()))
        }
        Ok(p) => {
            problems.push(format!(
                "{NOTICE_CLOSE:?} after its stream was closed, the connection's endpoint still answered {}",
                p.describe()
            ));
            seen.push(format!("closed connection's {url} → {}", p.describe()));
        }
        Err(e) => {
            problems.push(format!(
                "a POST to the closed connection's endpoint got no HTTP answer: {e}"
            ));
            seen.push(format!("closed connection's {url} → no answer ({e})"));
        }
    }
    if problems.is_empty() {
        Ok(Verdict::pass(
            "a forged endpoint and a closed connection's endpoint were both refused with 4xx",
        ))
    } else {
        Err(Verdict::violation(problems.join("; "))
            .expected("4xx (400 or 404) for a connection that does not exist")
            .actual(seen.join("\n")))
    }
}

/// SSE-007.
async fn post_to_sse_url_refused(ctx: &mut Ctx) -> CaseResult {
    let info = legacy(ctx.session())?;
    let id = json!("mcpspec-modern-probe");
    let body = serde_json::to_vec(&request_message(
        &id,
        "initialize",
        Some(initialize_params("2025-03-26")),
    ))
    .unwrap_or_default();
    // As a Streamable HTTP client probes a URL before falling back to GET.
    let request = HttpRequest::post("", body)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream");
    let posted = post(&info, request, ctx.timeout()).await.map_err(|e| {
        Verdict::violation(format!("a POST to the SSE URL got no HTTP answer: {e}"))
            .expected("400, 404 or 405, so a modern client falls back to GET")
            .actual(e)
    })?;
    if matches!(posted.status, 400 | 404 | 405) {
        Ok(Verdict::pass(format!(
            "POST initialize on the SSE URL → HTTP {}",
            posted.status
        )))
    } else {
        Err(Verdict::violation(format!(
            "a POSTed initialize on the SSE URL was answered HTTP {}, so a modern client does not fall back to the legacy transport",
            posted.status
        ))
        .expected("400, 404 or 405")
        .actual(posted.describe()))
    }
}

/// Status of a GET on the SSE URL with extra headers; an accepted stream is closed
/// at once (dropping it disconnects).
async fn get_status(
    info: &LegacySseInfo,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<u16, String> {
    let mut request = HttpRequest::get("").header("Accept", "text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = info
        .client
        .send_until(request, Instant::now() + timeout)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status)
}

/// SEC-001 on both legacy endpoints.
async fn foreign_origin_forbidden(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let url = endpoint_of(&session, FIRST_EVENT).await?;
    let info = legacy(&session)?;
    let Some(own) = origin_of(&info.sse_url) else {
        return Err(Verdict::harness_error("the SSE URL has no origin"));
    };
    let own = format!("{}://{}:{}", own.scheme, own.host, own.port);
    match get_status(&info, &[("Origin", &own)], ctx.timeout()).await {
        Ok(200) => {}
        Ok(status) => {
            return Err(Verdict::violation(format!(
                "a GET with the server's own Origin {own} was answered HTTP {status}"
            ))
            .expected("200: loopback origins are served")
            .actual(format!("HTTP {status}")))
        }
        Err(e) => {
            return Err(Verdict::untestable(format!(
                "a GET with Origin {own} failed: {e}"
            )))
        }
    }
    // Before 2025-11-25 any rejection will do; a status other than 403 is then a warning.
    let explicit_403 = ctx.revision() >= Revision::V2025_11_25;
    let mut served = Vec::new();
    let mut other_refusals = Vec::new();
    let mut seen = Vec::new();
    for origin in FOREIGN_ORIGINS {
        let get = get_status(&info, &[("Origin", origin)], ctx.timeout()).await;
        let id = json!(format!("mcpspec-origin-{}", seen.len()));
        // Registered, so that an answer the server should not have sent is matched.
        let pending = session.expect(&id, "ping");
        let request = LegacySseInfo::post(&url, ping(&id)).header("Origin", *origin);
        let posted = post(&info, request, ctx.timeout()).await.map(|p| p.status);
        drop(pending);
        for (what, status) in [
            ("GET on the SSE URL", get),
            ("POST to the endpoint", posted),
        ] {
            let line = match &status {
                Ok(s) => format!("{what} with Origin: {origin} → HTTP {s}"),
                Err(e) => format!("{what} with Origin: {origin} → no answer ({e})"),
            };
            match status {
                Ok(403) => {}
                Ok(s) if (400..500).contains(&s) => other_refusals.push(line.clone()),
                _ => served.push(line.clone()),
            }
            seen.push(line);
        }
    }
    if served.is_empty() && other_refusals.is_empty() {
        return Ok(Verdict::pass(
            "every foreign Origin was refused with 403 on the SSE GET and the message POST; the loopback Origin was served",
        ));
    }
    let verdict = if !served.is_empty() {
        Verdict::violation(format!(
            "requests with a foreign Origin were not refused (DNS rebinding stays possible): {}",
            served.join("; ")
        ))
    } else {
        let refused = Verdict::violation(format!(
            "foreign Origins were refused, but not with 403: {}",
            other_refusals.join("; ")
        ));
        if explicit_403 {
            refused
        } else {
            refused.at_level(Level::Should)
        }
    };
    Err(verdict
        .expected("403 Forbidden for every foreign Origin")
        .actual(seen.join("\n")))
}

/// SEC-002 on the SSE GET.
async fn foreign_host_forbidden(ctx: &mut Ctx) -> CaseResult {
    let info = legacy(ctx.session())?;
    let Some(own) = origin_of(&info.sse_url) else {
        return Err(Verdict::harness_error("the SSE URL has no origin"));
    };
    if !matches!(own.host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        return Ok(Verdict::not_applicable(
            "the SSE URL is not on a loopback address (the rule is for local servers)",
        ));
    }
    let local = format!("localhost:{}", own.port);
    match get_status(&info, &[("Host", &local)], ctx.timeout()).await {
        Ok(s) if (200..300).contains(&s) => {}
        Ok(s) => {
            return Ok(Verdict::untestable(format!(
                "a GET with Host: {local} was answered HTTP {s}, so a refusal would prove nothing"
            )))
        }
        Err(e) => {
            return Ok(Verdict::untestable(format!(
                "a GET with Host: {local} got no response: {e}"
            )))
        }
    }
    let foreign = "evil.example.com";
    match get_status(&info, &[("Host", foreign)], ctx.timeout()).await {
        // 421 Misdirected Request is HTTP's own status for a Host the server does not
        // serve, so it is as good a refusal as 403.
        Ok(s @ (403 | 421)) => Ok(Verdict::pass(format!(
            "a GET with Host: localhost:<port> was served; Host: {foreign} → HTTP {s}"
        ))),
        Ok(s) if (400..500).contains(&s) => Err(Verdict::violation(
            "a foreign Host was refused, but not with 403 (or 421)",
        )
        .expected("403 Forbidden (or 421 Misdirected Request)")
        .actual(format!("HTTP {s}"))),
        Ok(s) => Err(Verdict::violation(format!(
            "a GET of the SSE URL with Host: {foreign} was answered HTTP {s} (DNS rebinding stays possible)"
        ))
        .expected("403 Forbidden")
        .actual(format!("HTTP {s}"))),
        Err(e) => Ok(Verdict::untestable(format!(
            "a GET with Host: {foreign} got no response: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::forge_endpoint;

    #[test]
    fn endpoints_are_forged_in_their_identifying_part() {
        assert_eq!(
            forge_endpoint("http://h:1/messages?session_id=09af").as_deref(),
            Some("http://h:1/messages?session_id=1ab0")
        );
        assert_eq!(
            forge_endpoint("http://h:1/message?sessionId=9f-Zz").as_deref(),
            Some("http://h:1/message?sessionId=a0-Gg")
        );
        assert_eq!(
            forge_endpoint("http://h:1/s/abc12").as_deref(),
            Some("http://h:1/s/bcd23")
        );
        assert_eq!(forge_endpoint("http://h:1/"), None);
    }
}
