//! The legacy HTTP+SSE transport of 2024-11-05 as a session link.
//!
//! The client GETs the SSE URL and keeps that stream open for the whole session. The
//! server's first event, `endpoint`, names the URI (resolved against the SSE URL) to
//! which every client message is POSTed; POSTs are merely accepted (typically 202)
//! and every server message, responses included, arrives as a `message` event on the
//! stream. An endpoint on another origin is never followed: only the URL the user
//! gave, and endpoints on its origin, are contacted.
//!
//! What the stream showed (status, media type, the endpoint event, events before it or
//! under other names, messages found in POST bodies) is kept in a
//! [`StreamObservation`] for the `basic/transports/http-with-sse` cases.

use super::{
    fail_waiters, handle_inbound, lock, mark_closed, several_messages, transport_problem,
    AbortOnDrop, ClientBehaviour, EventLog, HttpTarget, Link, MethodBook, PostInfo, RequestError,
    Session, Shared, DEFAULT_REQUEST_TIMEOUT,
};
use crate::traffic::{Inbound, TrafficLog};
use mcpspec_harness::http::legacy_sse::{origin_of, resolve_reference, EventStream};
use mcpspec_harness::{
    escape_bytes, Delivery, HttpClient, HttpError, HttpOptions, HttpRequest, ProcessControl,
    RawEvent, RawHttp, RawOptions, ResponseItem, SseItem, SseLimits, Transcript,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long the GET stream may stay open: the whole run.
const STREAM_LIFETIME: Duration = Duration::from_secs(3600);

/// Bound on the evidence kept per observation list.
const MAX_NOTED: usize = 32;

/// What the session's GET stream showed so far.
#[derive(Debug, Clone, Default)]
pub struct StreamObservation {
    /// Status of the GET, once its head arrived.
    pub status: Option<u16>,
    /// Its `Content-Type` (empty when absent).
    pub content_type: Option<String>,
    /// The data of the first `endpoint` event, as sent.
    pub endpoint_data: Option<String>,
    /// The resolved POST URL, or why it is unusable (malformed, another origin).
    pub endpoint: Option<Result<String, String>>,
    /// Types of the events that came before the `endpoint` event.
    pub events_before_endpoint: Vec<String>,
    /// Events after the endpoint under a name other than `message` (type, data clip):
    /// a standard client never sees them as messages.
    pub other_events: Vec<(String, String)>,
    /// `message` events whose data was one JSON value.
    pub messages: u64,
    /// `message` events whose data was not one JSON value (clipped data, why).
    pub unparseable: Vec<String>,
    /// JSON-RPC messages found in POST response bodies (a legacy client reads answers
    /// only from the stream), as `HTTP <status> for <what>: <message>`.
    pub post_body_messages: Vec<String>,
    /// Why the stream is over, once it is.
    pub ended: Option<String>,
}

/// The link state of one legacy HTTP+SSE session.
pub(super) struct LegacyLink {
    /// Base URL: the SSE URL. POSTs go to the (absolute) endpoint URL.
    client: HttpClient,
    sse_url: String,
    observed: Mutex<StreamObservation>,
    changed: Notify,
    /// The stream reader and POST tasks; aborted when the session goes away.
    pub(super) tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

/// A legacy session's state, for cases that speak HTTP themselves.
#[derive(Debug, Clone)]
pub struct LegacySseInfo {
    pub sse_url: String,
    /// A client recording into the session's transcript (base URL: the SSE URL).
    pub client: HttpClient,
    pub observed: StreamObservation,
}

impl LegacySseInfo {
    /// A POST of `body` to `url` as this session sends its messages.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> HttpRequest {
        HttpRequest::post(url, body).header("Content-Type", "application/json")
    }
}

impl Session {
    /// A legacy HTTP+SSE session with the SSE endpoint at `url`: the GET stream opens
    /// at once (in the background); messages are POSTed once its `endpoint` event has
    /// named where. There is no process behind it (`control()` is detached).
    pub fn connect_legacy_sse(
        url: &str,
        options: HttpOptions,
        traffic: TrafficLog,
    ) -> Result<Session, HttpError> {
        HttpTarget::parse(url).map_err(HttpError::InvalidRequest)?;
        let transcript = Transcript::new(options.transcript_limit);
        transcript.note(&format!("legacy HTTP+SSE session with {url}"));
        let client = HttpClient::new(url, options)?.with_transcript(transcript.clone());
        let session_no = traffic.next_session_no();
        let shared = Arc::new(Shared {
            control: ProcessControl::detached(transcript),
            link: Link::LegacySse(Box::new(LegacyLink {
                client,
                sse_url: url.to_string(),
                observed: Mutex::new(StreamObservation::default()),
                changed: Notify::new(),
                tasks: Mutex::new(Vec::new()),
            })),
            pending: Mutex::new(HashMap::new()),
            next_registration: AtomicU64::new(1),
            methods: Mutex::new(MethodBook::default()),
            events: Mutex::new(EventLog::default()),
            arrived: Notify::new(),
            next_id: AtomicI64::new(1),
            client: Mutex::new(ClientBehaviour::default()),
            traffic,
            session_no,
        });
        let reader = tokio::spawn(read_stream(shared.clone()));
        track(legacy_link(&shared), reader.abort_handle());
        Ok(Session {
            _dispatcher: Arc::new(AbortOnDrop {
                dispatcher: None,
                shared: shared.clone(),
            }),
            shared,
        })
    }

    /// Over legacy HTTP+SSE: the SSE URL, a client, and what the stream showed so far.
    pub fn legacy_sse(&self) -> Option<LegacySseInfo> {
        match &self.shared.link {
            Link::LegacySse(link) => Some(LegacySseInfo {
                sse_url: link.sse_url.clone(),
                client: link.client.clone(),
                observed: lock(&link.observed).clone(),
            }),
            _ => None,
        }
    }

    /// Over legacy HTTP+SSE: wait (up to `timeout`) for the `endpoint` event and
    /// return the URL to POST to, or why there is none.
    pub async fn legacy_endpoint(&self, timeout: Duration) -> Result<String, String> {
        match &self.shared.link {
            Link::LegacySse(link) => endpoint(link, timeout).await,
            _ => Err("not a legacy HTTP+SSE session".into()),
        }
    }
}

pub(super) fn legacy_link(shared: &Shared) -> &LegacyLink {
    match &shared.link {
        Link::LegacySse(link) => link,
        _ => unreachable!("legacy HTTP+SSE operation on another transport"),
    }
}

fn track(link: &LegacyLink, handle: tokio::task::AbortHandle) {
    let mut tasks = lock(&link.tasks);
    tasks.retain(|t| !t.is_finished());
    tasks.push(handle);
}

/// Stop everything: the stream (a disconnect for the server) and pending POSTs.
pub(super) fn close(shared: &Shared) {
    let link = legacy_link(shared);
    for task in lock(&link.tasks).drain(..) {
        task.abort();
    }
    {
        let mut observed = lock(&link.observed);
        observed
            .ended
            .get_or_insert_with(|| "the client closed the stream".into());
    }
    link.client
        .transcript()
        .note("client closed the event stream (end of session)");
    link.changed.notify_waiters();
    mark_closed(shared);
}

async fn endpoint(link: &LegacyLink, timeout: Duration) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = link.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let observed = lock(&link.observed);
            if let Some(endpoint) = &observed.endpoint {
                return endpoint.clone();
            }
            if let Some(why) = &observed.ended {
                return Err(format!("no endpoint event: {why}"));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(format!(
                "no endpoint event on {} within {timeout:?}",
                link.sse_url
            ));
        }
    }
}

fn observe(shared: &Shared, change: impl FnOnce(&mut StreamObservation)) {
    let link = legacy_link(shared);
    change(&mut lock(&link.observed));
    link.changed.notify_waiters();
}

fn push_bounded<T>(list: &mut Vec<T>, item: T) {
    if list.len() < MAX_NOTED {
        list.push(item);
    }
}

/// The GET stream, from its request to its end: every event is dispatched or noted.
async fn read_stream(shared: Arc<Shared>) {
    let link = legacy_link(&shared);
    let request = HttpRequest::get("")
        .header("Accept", "text/event-stream")
        .header("Cache-Control", "no-cache");
    let why_ended = match link.client.send(request).await {
        Err(e) => format!("GET {} failed: {e}", link.sse_url),
        Ok(response) => {
            let status = response.status;
            let content_type = response
                .header_str("content-type")
                .unwrap_or("")
                .to_string();
            link.client.transcript().note(&format!(
                "HTTP {status} ({}) for GET (event stream)",
                if content_type.is_empty() {
                    "no Content-Type"
                } else {
                    &content_type
                }
            ));
            observe(&shared, |o| {
                o.status = Some(status);
                o.content_type = Some(content_type.clone());
            });
            if !(200..300).contains(&status) {
                let deadline = Instant::now() + DEFAULT_REQUEST_TIMEOUT;
                let body = response.read_body(deadline).await.unwrap_or_default();
                format!(
                    "GET {} answered HTTP {status}: {}",
                    link.sse_url,
                    escape_bytes(&body, 200)
                )
            } else {
                // Read whatever the type says; the cases judge the type.
                let mut stream = EventStream::new(response, SseLimits::default());
                let deadline = Instant::now() + STREAM_LIFETIME;
                loop {
                    match stream.next(deadline).await {
                        Ok(Some(item)) => take(&shared, item),
                        Ok(None) => break "the server ended the event stream".to_string(),
                        Err(e) => break format!("the event stream broke: {e}"),
                    }
                }
            }
        }
    };
    link.client.transcript().note(&why_ended);
    observe(&shared, |o| {
        o.ended.get_or_insert(why_ended);
    });
    mark_closed(&shared);
}

/// One decoded stream item.
fn take(shared: &Arc<Shared>, item: SseItem) {
    let link = legacy_link(shared);
    let event = match item {
        SseItem::Event(event) => event,
        SseItem::Retry(_) => return,
        problem => {
            let evidence = match &problem {
                SseItem::UnterminatedEventAtEof { data, .. } => data.as_bytes().to_vec(),
                SseItem::LineTooLong { evidence, .. } => evidence.clone(),
                _ => Vec::new(),
            };
            handle_inbound(
                shared,
                transport_problem(format!("event stream problem: {problem}"), &evidence),
            );
            return;
        }
    };
    let has_endpoint = lock(&link.observed).endpoint.is_some();
    match event.event_type.as_str() {
        "endpoint" if !has_endpoint => {
            let resolved = resolve_endpoint(&link.sse_url, event.data.trim());
            link.client.transcript().note(&match &resolved {
                Ok(url) => format!("endpoint event: POST to {url}"),
                Err(why) => format!("endpoint event unusable: {why}"),
            });
            observe(shared, |o| {
                o.endpoint_data = Some(event.data.clone());
                o.endpoint = Some(resolved);
            });
        }
        "endpoint" => {
            // Nothing says where a later one would apply; the first endpoint stays.
            link.client.transcript().note(&format!(
                "a further endpoint event ({}) was ignored",
                crate::util::clip(&event.data, 200)
            ));
        }
        "message" => {
            if !has_endpoint {
                observe(shared, |o| {
                    push_bounded(&mut o.events_before_endpoint, "message".into())
                });
            }
            match serde_json::from_str::<Value>(&event.data) {
                Ok(value) => {
                    observe(shared, |o| o.messages += 1);
                    handle_inbound(shared, Inbound::classify(value, event.data.len()));
                }
                Err(e) => {
                    let clip = crate::util::clip(&event.data, 200);
                    observe(shared, |o| {
                        push_bounded(&mut o.unparseable, format!("{clip:?}: {e}"))
                    });
                    handle_inbound(
                        shared,
                        transport_problem(
                            format!("a message event's data is not one JSON value: {e}"),
                            event.data.as_bytes(),
                        ),
                    )
                }
            }
        }
        other => {
            let other = other.to_string();
            let clip = crate::util::clip(&event.data, 200);
            observe(shared, |o| {
                if o.endpoint.is_none() {
                    push_bounded(&mut o.events_before_endpoint, other.clone());
                } else {
                    push_bounded(&mut o.other_events, (other.clone(), clip.clone()));
                }
            });
            // A standard client only hands `message` events to the protocol.
            handle_inbound(
                shared,
                transport_problem(
                    format!(
                        "an event of type '{other}' (not 'message') is not delivered as a message"
                    ),
                    event.data.as_bytes(),
                ),
            );
        }
    }
}

/// The POST URL an `endpoint` event names, if it may be used.
fn resolve_endpoint(sse_url: &str, data: &str) -> Result<String, String> {
    let url = resolve_reference(sse_url, data)
        .map_err(|e| format!("the endpoint event's data {data:?} is not a URI: {e}"))?;
    let (Some(ours), Some(theirs)) = (origin_of(sse_url), origin_of(&url)) else {
        return Err(format!("the endpoint {url} has no usable origin"));
    };
    if ours != theirs {
        return Err(format!(
            "the endpoint {url} is on another origin ({theirs}) than {sse_url}; mcpspec contacts only the origin it was given (SSE-002)"
        ));
    }
    Ok(url)
}

/// POST one message. Requests return once the POST is under way (their answers come
/// on the stream); notifications and responses wait for the POST's answer, so a
/// following message cannot overtake them.
pub(super) async fn post(
    shared: &Arc<Shared>,
    message: &Value,
    always_wait: bool,
) -> Result<(), RequestError> {
    let link = legacy_link(shared);
    let url = endpoint(link, DEFAULT_REQUEST_TIMEOUT)
        .await
        .map_err(RequestError::Write)?;
    let info = PostInfo::of(message).bind(shared);
    let body = serde_json::to_vec(message).unwrap_or_default();
    let request = LegacySseInfo::post(&url, body);
    let wait = always_wait || info.ids.is_empty();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let task_shared = shared.clone();
    let task = tokio::spawn(async move {
        let result = post_task(&task_shared, request, &info).await;
        let _ = done_tx.send(result);
    });
    track(link, task.abort_handle());
    if !wait {
        return Ok(());
    }
    match tokio::time::timeout(DEFAULT_REQUEST_TIMEOUT, done_rx).await {
        Ok(Ok(Err(e))) => Err(RequestError::Write(e)),
        _ => Ok(()),
    }
}

async fn post_task(
    shared: &Arc<Shared>,
    request: HttpRequest,
    info: &PostInfo,
) -> Result<(), String> {
    let link = legacy_link(shared);
    let deadline = Instant::now() + DEFAULT_REQUEST_TIMEOUT;
    let response = match link.client.send_until(request, deadline).await {
        Ok(r) => r,
        Err(e) => {
            let why = format!("POST ({}) failed: {e}", info.label);
            link.client.transcript().note(&why);
            fail_waiters(shared, info, || RequestError::Write(why.clone()));
            return Err(why);
        }
    };
    let status = response.status;
    let body = response.read_body(deadline).await.unwrap_or_default();
    settle_post(shared, info, status, &body);
    Ok(())
}

/// A POST's answer: accepted (the answer comes on the stream) or refused (its requests
/// get no answer). JSON-RPC messages in the body are noted, not delivered.
fn settle_post(shared: &Shared, info: &PostInfo, status: u16, body: &[u8]) {
    let link = legacy_link(shared);
    link.client
        .transcript()
        .note(&format!("HTTP {status} for POST {}", info.label));
    let in_body = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(|v| v.get("jsonrpc").is_some() || v.is_array());
    if let Some(message) = in_body {
        let text = format!(
            "HTTP {status} for POST {}: {}",
            info.label,
            crate::util::clip(&message.to_string(), 300)
        );
        observe(shared, |o| push_bounded(&mut o.post_body_messages, text));
    }
    if !(200..300).contains(&status) {
        let summary = format!(
            "HTTP {status} for the POST to the endpoint: {}",
            escape_bytes(body, 200)
        );
        fail_waiters(shared, info, || RequestError::Http(summary.clone()));
    }
}

/// Raw bytes following `delivery`, as one POST to the endpoint (several
/// newline-delimited messages become one POST each, in order).
pub(super) async fn deliver(shared: &Arc<Shared>, delivery: &Delivery) -> Result<(), RequestError> {
    let link = legacy_link(shared);
    let payload = delivery.payload();
    if let Some(messages) = several_messages(&payload) {
        for message in messages {
            post(shared, &message, true).await?;
        }
        return Ok(());
    }
    let url = endpoint(link, DEFAULT_REQUEST_TIMEOUT)
        .await
        .map_err(RequestError::Write)?;
    let target = HttpTarget::parse(&url).map_err(RequestError::Write)?;
    let info = PostInfo::of_bytes(&payload).bind(shared);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        payload.len()
    );
    let write_error = |e: String| RequestError::Write(e);
    let mut raw = RawHttp::connect(target.addr, RawOptions::default())
        .await
        .map_err(|e| write_error(e.to_string()))?
        .with_transcript(link.client.transcript().clone());
    raw.write(head.as_bytes())
        .await
        .map_err(|e| write_error(e.to_string()))?;
    raw.deliver(delivery)
        .await
        .map_err(|e| write_error(e.to_string()))?;
    // The answer is only an acknowledgement: wait for it, so that what follows cannot
    // overtake this message.
    let deadline = Instant::now() + DEFAULT_REQUEST_TIMEOUT;
    let mut status = None;
    let mut body = Vec::new();
    loop {
        match raw.next_event(deadline).await {
            RawEvent::Item(ResponseItem::Head(h)) if h.is_interim() => {}
            RawEvent::Item(ResponseItem::Head(h)) => status = Some(h.status),
            RawEvent::Item(ResponseItem::Body(bytes)) => {
                if body.len() < 64 * 1024 {
                    body.extend_from_slice(&bytes);
                }
            }
            RawEvent::Item(ResponseItem::End { .. }) if status.is_some() => break,
            RawEvent::Item(ResponseItem::End { .. }) => {}
            RawEvent::Item(ResponseItem::Error(e)) => {
                let why = format!("the POST's HTTP response is malformed: {e}");
                fail_waiters(shared, &info, || RequestError::Http(why.clone()));
                return Ok(());
            }
            RawEvent::Closed | RawEvent::ReadError(_) if status.is_some() => break,
            RawEvent::Closed | RawEvent::ReadError(_) | RawEvent::Timeout => {
                let why = "no HTTP response to the POST".to_string();
                link.client.transcript().note(&why);
                fail_waiters(shared, &info, || RequestError::Http(why.clone()));
                return Ok(());
            }
        }
    }
    if let Some(status) = status {
        settle_post(shared, &info, status, &body);
    }
    Ok(())
}

/// Answer a server request by POSTing the answer.
pub(super) fn answer(shared: Arc<Shared>, answer: Value) {
    tokio::spawn(async move {
        let _ = post(&shared, &answer, true).await;
    });
}
