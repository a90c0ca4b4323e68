//! How the steps of an input travel over Streamable HTTP.
//!
//! Every step is its own POST, its body written following the step's split points
//! and delay; a step marked `coalesce` is posted concurrently with the one before it.
//! Three schedules exist only here:
//! - `truncate`: the POST announces the whole body as its `Content-Length`, sends only
//!   the first bytes and closes the connection. Nothing is owed to it; the server must
//!   live on (the liveness ping and the crash oracle judge that).
//! - `drop_stream`: when the answer is an SSE stream, the connection is dropped right
//!   after the first event. If that event had an id, the stream is resumed with GET
//!   and `Last-Event-ID` and the answer is owed there (never delivered: a
//!   `lost-response`); without an id, or when the server refuses the resumption
//!   (resumption is optional), the answer is not owed.
//! - `session: 1`: the step goes to a second MCP session opened for the input (its own
//!   initialize on a fresh connection), so requests of two sessions are in flight
//!   together; each session's answers must carry its own ids.
//!
//! Answers read here are handed to the session ([`Session::inject`]) so that waiters,
//! the event log and the oracles see them as any other.

use crate::session::{id_key, RequestError, Session, SseFeed};
use crate::traffic::{Inbound, TrafficLog};
use mcpspec_harness::{Delivery, FrameError, RawEvent, RawHttp, RawOptions, ResponseItem, SseItem};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::program::Step;

/// Largest non-SSE answer body read on a dropped-stream POST.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long a server may take to react to a truncated body before the input goes on
/// (a server that waits for the missing bytes keeps the connection; that is its right).
const TRUNCATED_REACTION: Duration = Duration::from_millis(500);
/// Resumptions of one dropped answer at most (each must bring something new).
const MAX_RESUMPTIONS: usize = 8;
/// Reconnection delay when the server gave no `retry` (short: the wait holds up the
/// batch), and the longest one honoured.
const DEFAULT_RECONNECT: Duration = Duration::from_millis(20);
const MAX_RECONNECT: Duration = Duration::from_secs(1);

/// The HTTP side of one input: its second session and the readers of dropped answers.
#[derive(Default)]
pub struct HttpRun {
    /// The input's second session, when it has steps for one and it opened.
    pub second: Option<Session>,
    /// Steps whose request turned out to be owed no answer (a dropped SSE answer the
    /// server gave no way to resume, or a refusal of the POST).
    not_owed: Arc<Mutex<HashSet<usize>>>,
    /// Readers of dropped-and-resumed answers, still running.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for HttpRun {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

impl HttpRun {
    /// Prepare an input: open the second session when some step asks for one. A
    /// second session that cannot be opened leaves its steps on the first.
    pub async fn open(
        main: &Session,
        handshake: &Value,
        steps: &[Step],
        timeout: Duration,
    ) -> Self {
        let mut run = HttpRun::default();
        if steps.iter().any(|s| s.session != 0) {
            run.second = open_second(main, handshake, timeout).await;
        }
        run
    }

    /// The session a step is sent on.
    pub fn session_for<'a>(&'a self, main: &'a Session, step: Option<&Step>) -> &'a Session {
        match (&self.second, step) {
            (Some(second), Some(s)) if s.session != 0 => second,
            _ => main,
        }
    }

    /// Whether the request of step `index` is owed no answer after all.
    pub fn not_owed(&self, index: usize) -> bool {
        lock(&self.not_owed).contains(&index)
    }

    /// Wait (at most until `deadline`) for the readers of dropped answers to finish:
    /// until then it is not known whether their answers are owed. Readers still
    /// running are stopped.
    pub async fn settle(&mut self, deadline: Instant) {
        for reader in self.readers.drain(..) {
            let abort = reader.abort_handle();
            if tokio::time::timeout_at(deadline.into(), reader)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// End the second session (DELETE), so that nothing of it outlives the input.
    pub async fn close_second(&self, timeout: Duration) {
        if let Some(second) = &self.second {
            let _ = tokio::time::timeout(timeout, second.close_stdin()).await;
        }
    }

    /// Post the steps `members` of `steps`: each its own POST (or truncated POST, or
    /// dropped-stream POST) on its session; a `coalesce` step goes out concurrently
    /// with the one before it.
    pub async fn post(
        &mut self,
        main: &Session,
        steps: &[Step],
        members: &[usize],
        reader_bound: Duration,
    ) -> Result<(), RequestError> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in members {
            let Some(step) = steps.get(i) else { continue };
            if step.bytes().is_empty() {
                continue;
            }
            match groups.last_mut() {
                Some(group) if step.coalesce => group.push(i),
                _ => groups.push(vec![i]),
            }
        }
        for group in groups {
            let mut posts = tokio::task::JoinSet::new();
            for i in group {
                let step = steps[i].clone();
                let session = self.session_for(main, Some(&step)).clone();
                let not_owed = self.not_owed.clone();
                posts.spawn(async move {
                    let bytes = step.bytes();
                    let gap = Duration::from_millis(step.delay_ms.min(1000));
                    if let Some(n) = step.truncated_len() {
                        let cuts: Vec<usize> =
                            step.split.iter().copied().filter(|&c| c < n).collect();
                        let sent = Delivery::split_at(&bytes[..n], &cuts, gap);
                        post_truncated(&session, bytes.len(), &sent).await?;
                        return Ok(None);
                    }
                    let delivery = Delivery::split_at(&bytes, &step.split, gap);
                    if step.drop_stream {
                        let reader =
                            post_dropping(session, &delivery, i, not_owed, reader_bound).await?;
                        return Ok(Some(reader));
                    }
                    session.deliver(&delivery).await.map(|_| None)
                });
            }
            let mut outcome = Ok(());
            while let Some(joined) = posts.join_next().await {
                match joined {
                    Ok(Ok(Some(reader))) => self.readers.push(reader),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => outcome = Err(e),
                    Err(_) => {}
                }
            }
            outcome?;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A second session on the same endpoint: a fresh client, its own initialize.
async fn open_second(main: &Session, handshake: &Value, timeout: Duration) -> Option<Session> {
    let info = main.http()?;
    let options = info.client.options().clone();
    let second = Session::connect_http(&info.endpoint.url, options, TrafficLog::new(0)).ok()?;
    let revision = handshake
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or("2025-11-25");
    let capabilities = json!({ "roots": { "listChanged": true } });
    let opened = second
        .handshake(revision, capabilities, timeout)
        .await
        .ok()?;
    opened.result()?;
    main.control().transcript().note(&format!(
        "opened a second session{}",
        second
            .http()
            .and_then(|i| i.session_id)
            .map(|id| format!(" (Mcp-Session-Id {id})"))
            .unwrap_or_default()
    ));
    Some(second)
}

/// The request line and headers of a raw request of `session`.
fn raw_head(session: &Session, method: &str, extra: &[(&str, String)]) -> Option<String> {
    let info = session.http()?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        info.endpoint.path, info.endpoint.authority
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(id) = &info.session_id {
        head.push_str(&format!("Mcp-Session-Id: {id}\r\n"));
    }
    if let Some(v) = &info.protocol_version {
        head.push_str(&format!("MCP-Protocol-Version: {v}\r\n"));
    }
    head.push_str("\r\n");
    Some(head)
}

async fn connect(session: &Session) -> Result<RawHttp, RequestError> {
    let info = session
        .http()
        .ok_or_else(|| RequestError::Write("not a Streamable HTTP session".into()))?;
    let raw = RawHttp::connect(info.endpoint.addr, RawOptions::default())
        .await
        .map_err(|e| RequestError::Write(e.to_string()))?;
    Ok(raw.with_transcript(info.client.transcript().clone()))
}

fn post_head(session: &Session, length: usize) -> Option<String> {
    raw_head(
        session,
        "POST",
        &[
            ("Content-Type", "application/json".into()),
            ("Accept", "application/json, text/event-stream".into()),
            ("Content-Length", length.to_string()),
        ],
    )
}

/// A POST announcing `length` body bytes that sends only `sent`, then closes.
async fn post_truncated(
    session: &Session,
    length: usize,
    sent: &Delivery,
) -> Result<(), RequestError> {
    let head = post_head(session, length)
        .ok_or_else(|| RequestError::Write("not a Streamable HTTP session".into()))?;
    let mut raw = connect(session).await?;
    let write = |e: std::io::Error| RequestError::Write(e.to_string());
    raw.write(head.as_bytes()).await.map_err(write)?;
    raw.deliver(sent).await.map_err(write)?;
    raw.transcript().note(&format!(
        "ending the body after {} of the {length} bytes announced",
        sent.payload().len()
    ));
    // Half-close, then give the server a moment to react (answer, close, or die) so
    // that what the cut does is seen by the liveness ping that follows the input.
    let _ = raw.shutdown_write().await;
    let deadline = Instant::now() + TRUNCATED_REACTION;
    loop {
        match raw.next_event(deadline).await {
            RawEvent::Item(ResponseItem::End { .. })
            | RawEvent::Item(ResponseItem::Error(_))
            | RawEvent::Closed
            | RawEvent::ReadError(_)
            | RawEvent::Timeout => break,
            RawEvent::Item(_) => {}
        }
    }
    raw.close();
    Ok(())
}

/// POST the body whole (following its schedule) and read the answer in the
/// background: see [`read_dropping`].
async fn post_dropping(
    session: Session,
    delivery: &Delivery,
    step: usize,
    not_owed: Arc<Mutex<HashSet<usize>>>,
    bound: Duration,
) -> Result<tokio::task::JoinHandle<()>, RequestError> {
    let payload = delivery.payload();
    let head = post_head(&session, payload.len())
        .ok_or_else(|| RequestError::Write("not a Streamable HTTP session".into()))?;
    let ids: Vec<String> = serde_json::from_slice::<Value>(&payload)
        .ok()
        .and_then(|v| v.get("id").map(id_key))
        .into_iter()
        .collect();
    let mut raw = connect(&session).await?;
    let write = |e: std::io::Error| RequestError::Write(e.to_string());
    let mark = session.mark();
    raw.write(head.as_bytes()).await.map_err(write)?;
    raw.deliver(delivery).await.map_err(write)?;
    Ok(tokio::spawn(async move {
        let deadline = Instant::now() + bound;
        let answer = Answer { ids, mark };
        let owed = read_dropping(&session, raw, &answer, deadline).await;
        if !owed {
            lock(&not_owed).insert(step);
        }
    }))
}

/// Read the answer of a dropped-stream POST. A whole (JSON) answer is read and fed;
/// an SSE answer is fed up to its first event and then the connection is dropped
/// (whatever else that read held is discarded, as if lost with the connection). With
/// an event id the stream is resumed by GET with `Last-Event-ID` until the answer
/// comes, the stream ends without progress, or `deadline`.
///
/// Returns whether the answer is still owed: false when the server refused the POST
/// or the resumption, or gave no event id to resume from.
async fn read_dropping(
    session: &Session,
    mut raw: RawHttp,
    ids: &Answer,
    deadline: Instant,
) -> bool {
    let mut stream: Option<SseFeed> = None;
    let mut status = 0u16;
    let mut body = Vec::new();
    loop {
        match raw.next_event(deadline).await {
            RawEvent::Item(ResponseItem::Head(h)) if h.is_interim() => {}
            RawEvent::Item(ResponseItem::Head(h)) => {
                status = h.status;
                let content_type = crate::session::head_content_type(&h);
                let sse = crate::session::media_type(&content_type) == "text/event-stream";
                if !(200..300).contains(&status) {
                    // A refusal is the server's answer to this POST.
                    feed_body_later(session, &mut raw, deadline).await;
                    return false;
                }
                if sse {
                    stream = Some(SseFeed::new());
                }
            }
            RawEvent::Item(ResponseItem::Body(bytes)) => match stream.as_mut() {
                Some(state) => {
                    let mut items = Vec::new();
                    state.decoder.push(&bytes, &mut items);
                    if take_first_event(session, state, items) {
                        break;
                    }
                }
                None => {
                    if body.len() + bytes.len() > MAX_BODY {
                        return true;
                    }
                    body.extend_from_slice(&bytes);
                }
            },
            RawEvent::Item(ResponseItem::End { .. }) => {
                if let Some(state) = stream.as_mut() {
                    let mut items = Vec::new();
                    state.decoder.finish(&mut items);
                    state.feed(session, items);
                    return true;
                }
                feed_whole(session, status, &body);
                return true;
            }
            // Broken or ended before the answer: owed, as on any POST.
            RawEvent::Item(ResponseItem::Error(_))
            | RawEvent::Closed
            | RawEvent::ReadError(_)
            | RawEvent::Timeout => return true,
        }
    }
    let Some(mut state) = stream else {
        return true;
    };
    raw.transcript()
        .note("dropped the SSE answer after its first event");
    raw.reset();
    if answered(session, ids) {
        return true;
    }
    if state.last_event_id.is_empty() {
        session
            .control()
            .transcript()
            .note("no event id to resume the dropped answer from: it is not owed");
        return false;
    }
    let mut resumptions = 0;
    let mut events_before = state.events;
    while resumptions < MAX_RESUMPTIONS && !answered(session, ids) {
        resumptions += 1;
        let delay = state
            .retry
            .map_or(DEFAULT_RECONNECT, Duration::from_millis)
            .min(MAX_RECONNECT);
        // Waiting the server's own reconnection delay is the protocol step itself.
        tokio::time::sleep(delay).await;
        match resume(session, &mut state, ids, deadline).await {
            Resumption::Refused => return false,
            Resumption::Failed => return true,
            Resumption::Read => {}
        }
        if state.events == events_before {
            break;
        }
        events_before = state.events;
    }
    true
}

enum Resumption {
    /// The server refused the GET (resumption is optional): nothing is owed.
    Refused,
    /// The GET could not be made or read.
    Failed,
    /// The resumed stream was read until the answer, its end or the deadline.
    Read,
}

/// GET with `Last-Event-ID`: feed the resumed stream until the answer arrives.
async fn resume(
    session: &Session,
    state: &mut SseFeed,
    ids: &Answer,
    deadline: Instant,
) -> Resumption {
    let Some(head) = raw_head(
        session,
        "GET",
        &[
            ("Accept", "text/event-stream".into()),
            ("Last-Event-ID", state.last_event_id.clone()),
        ],
    ) else {
        return Resumption::Failed;
    };
    let Ok(mut raw) = connect(session).await else {
        return Resumption::Failed;
    };
    if raw.write(head.as_bytes()).await.is_err() {
        return Resumption::Failed;
    }
    raw.transcript().note(&format!(
        "resuming the dropped answer with Last-Event-ID {}",
        state.last_event_id
    ));
    state.reconnected();
    let mut sse = false;
    loop {
        match raw.next_event(deadline).await {
            RawEvent::Item(ResponseItem::Head(h)) if h.is_interim() => {}
            RawEvent::Item(ResponseItem::Head(h)) => {
                let content_type = crate::session::head_content_type(&h);
                sse = crate::session::media_type(&content_type) == "text/event-stream";
                if !(200..300).contains(&h.status) || !sse {
                    raw.transcript().note(&format!(
                        "the resumption was refused (HTTP {}): the answer is not owed",
                        h.status
                    ));
                    raw.close();
                    return Resumption::Refused;
                }
            }
            RawEvent::Item(ResponseItem::Body(bytes)) if sse => {
                let mut items = Vec::new();
                state.decoder.push(&bytes, &mut items);
                state.feed(session, items);
                if answered(session, ids) {
                    raw.close();
                    return Resumption::Read;
                }
            }
            RawEvent::Item(ResponseItem::Body(_)) => {}
            RawEvent::Item(ResponseItem::End { .. }) => {
                let mut items = Vec::new();
                state.decoder.finish(&mut items);
                state.feed(session, items);
                return Resumption::Read;
            }
            RawEvent::Item(ResponseItem::Error(_))
            | RawEvent::Closed
            | RawEvent::ReadError(_)
            | RawEvent::Timeout => return Resumption::Read,
        }
    }
}

/// The requests of one POST, and where the session's event log stood before it.
struct Answer {
    ids: Vec<String>,
    mark: u64,
}

/// Whether every request of this POST has its answer.
fn answered(session: &Session, answer: &Answer) -> bool {
    let events = session.events_since(answer.mark);
    answer.ids.iter().all(|key| {
        events.iter().any(|e| {
            matches!(e, Inbound::Response(v) if v.get("id").map(id_key).as_deref() == Some(key))
        })
    })
}

/// Feed events up to and including the first one; true once it came.
fn take_first_event(session: &Session, state: &mut SseFeed, items: Vec<SseItem>) -> bool {
    let mut first = Vec::new();
    for item in items {
        let is_event = matches!(item, SseItem::Event(_));
        first.push(item);
        if is_event {
            state.feed(session, first);
            return true;
        }
    }
    state.feed(session, first);
    false
}

/// A whole 2xx answer body: JSON is fed as a message, anything else is a problem.
fn feed_whole(session: &Session, status: u16, body: &[u8]) {
    if body.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => session.inject(Inbound::classify(value, body.len())),
        Err(e) => session.inject(problem(
            format!("HTTP {status} body is not JSON: {e}"),
            body,
        )),
    }
}

/// Read the rest of a refusal (bounded) and feed a JSON-RPC error it may carry.
async fn feed_body_later(session: &Session, raw: &mut RawHttp, deadline: Instant) {
    let mut body = Vec::new();
    loop {
        match raw.next_event(deadline).await {
            RawEvent::Item(ResponseItem::Body(bytes)) if body.len() + bytes.len() <= MAX_BODY => {
                body.extend_from_slice(&bytes)
            }
            RawEvent::Item(ResponseItem::Body(_)) => return,
            RawEvent::Item(ResponseItem::End { .. }) => break,
            RawEvent::Item(ResponseItem::Head(_)) => {}
            _ => return,
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(&body) {
        session.inject(Inbound::classify(value, body.len()));
    }
}

/// A transport-level problem as an inbound frame, worded as the session words them.
fn problem(text: String, raw: &[u8]) -> Inbound {
    Inbound::Invalid {
        error: FrameError::NotJson {
            reason: format!("(HTTP) {text}"),
        },
        raw: raw.iter().copied().take(4096).collect(),
    }
}
