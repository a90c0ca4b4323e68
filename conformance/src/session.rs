//! A JSON-RPC session with one server process, as a well-behaved MCP client runs it.
//!
//! A dispatcher task owns the server's stdout: responses go to whoever waits for their
//! id, server requests are answered according to the capabilities the client declared,
//! and everything inbound is kept in a bounded event log that cases can inspect or wait
//! on. Every wait takes a deadline.

use crate::traffic::{Inbound, TrafficLog};
use mcpspec_harness::{
    escape_bytes, CommandSpec, Delivery, ExitInfo, Frame, FrameError, FrameReader, HttpClient,
    HttpError, HttpOptions, HttpRequest, ProcessControl, ProcessOptions, RawHttp, RawOptions,
    ServerProcess, SpawnError, SseDecoder, SseItem, SseLimits, StdinWriter, StdoutEvent,
    Transcript,
};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

mod legacy_sse;
pub use legacy_sse::{LegacySseInfo, StreamObservation};

/// Events kept per session; older ones are dropped (and counted).
const EVENT_LOG_LIMIT: usize = 20_000;

/// How long a request waits for its response unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A response as received, kept as raw JSON so checks see exact types.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub raw: Value,
}

impl Response {
    pub fn id(&self) -> Option<&Value> {
        self.raw.get("id")
    }

    pub fn result(&self) -> Option<&Value> {
        self.raw.get("result")
    }

    pub fn error(&self) -> Option<&Value> {
        self.raw.get("error")
    }

    /// The error code when it is an integer.
    pub fn error_code(&self) -> Option<i64> {
        self.error()?.get("code")?.as_i64()
    }

    pub fn is_error(&self) -> bool {
        self.error().is_some()
    }

    /// Short description for messages: `result {...}` or `error -32601 "..."`.
    pub fn summary(&self) -> String {
        match (self.result(), self.error()) {
            (Some(r), None) => format!("result {}", crate::util::clip(&r.to_string(), 300)),
            (None, Some(e)) => format!("error {}", crate::util::clip(&e.to_string(), 300)),
            _ => crate::util::clip(&self.raw.to_string(), 300),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("server closed stdout before answering{}", .0.map(|s| format!(" ({s})")).unwrap_or_default())]
    Closed(Option<ExitInfo>),
    #[error("could not write to the server: {0}")]
    Write(String),
    /// Over HTTP: the POST's HTTP response ended without the JSON-RPC response.
    #[error("the HTTP response carried no answer: {0}")]
    Http(String),
    /// Over HTTP: the POST was refused with a 4xx status and no JSON-RPC response for
    /// the request (the body may hold an error without id, or no JSON at all).
    #[error("refused with {0}")]
    Refused(HttpRefusal),
}

/// Over HTTP: a POST refused with a 4xx status instead of a JSON-RPC answer to it.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRefusal {
    pub status: u16,
    pub content_type: String,
    /// The body as text, clipped for evidence.
    pub body: String,
    /// What was POSTed: the methods, or "raw bytes".
    pub label: String,
}

impl HttpRefusal {
    /// The JSON-RPC error the body holds, if it is one.
    pub fn json_rpc_error(&self) -> Option<Value> {
        serde_json::from_str::<Value>(&self.body)
            .ok()?
            .get("error")
            .cloned()
    }
}

impl std::fmt::Display for HttpRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.content_type.is_empty() {
            write!(f, " ({})", self.content_type)?;
        }
        if !self.body.is_empty() {
            write!(f, ": {}", self.body)?;
        }
        Ok(())
    }
}

/// HTTP refusals kept per session.
const REFUSAL_LOG_LIMIT: usize = 1000;

/// The refusals of one HTTP session, oldest first; `total` counts every one ever seen.
#[derive(Debug, Default)]
struct RefusalLog {
    entries: VecDeque<HttpRefusal>,
    total: usize,
}

/// Canonical key for an id: `1` and `"1"` differ, as they must.
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

/// Client capabilities the session declared; decides how server requests are answered.
#[derive(Debug, Clone, Default)]
struct ClientBehaviour {
    capabilities: Value,
}

impl ClientBehaviour {
    fn declares(&self, key: &str) -> bool {
        self.capabilities.get(key).is_some()
    }

    /// The answer a well-behaved client gives to a server request.
    fn answer(&self, request: &Value) -> Value {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let result = match method {
            "ping" => Some(json!({})),
            "roots/list" if self.declares("roots") => Some(json!({ "roots": [] })),
            "sampling/createMessage" if self.declares("sampling") => Some(json!({
                "role": "assistant",
                "content": { "type": "text", "text": "mcpspec sampling stub" },
                "model": "mcpspec",
                "stopReason": "endTurn"
            })),
            "elicitation/create" if self.declares("elicitation") => {
                Some(json!({ "action": "decline" }))
            }
            _ => None,
        };
        match result {
            Some(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            None => json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": { "code": -32601, "message": format!("mcpspec does not offer {method}") }
            }),
        }
    }
}

#[derive(Debug, Default)]
struct EventLog {
    entries: VecDeque<(u64, Inbound)>,
    next_seq: u64,
    dropped: u64,
    closed: Option<Instant>,
}

/// How messages reach the server.
enum Link {
    Stdio(tokio::sync::Mutex<StdinWriter>),
    Http(Box<HttpLink>),
    /// Legacy HTTP+SSE (2024-11-05): POSTs to the advertised endpoint, answers on a GET stream.
    LegacySse(Box<legacy_sse::LegacyLink>),
}

/// One Streamable HTTP session: every client message is its own POST.
struct HttpLink {
    client: HttpClient,
    endpoint: HttpTarget,
    session_id: Mutex<Option<String>>,
    /// Sent as `MCP-Protocol-Version` once negotiated (2025-06-18 and later).
    protocol_version: Mutex<Option<String>>,
    /// Response readers still running; aborted when the session goes away.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// How long a response body (an SSE stream) may keep delivering.
    stream_timeout: Duration,
    /// POSTs refused with 4xx, for cases that accept a refusal as the answer.
    refusals: Mutex<RefusalLog>,
}

/// Where an HTTP endpoint is, split for the raw path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub url: String,
    /// `host:port` as written in the URL (the `Host` header).
    pub authority: String,
    /// Path and query (the request target).
    pub path: String,
    pub addr: SocketAddr,
}

impl HttpTarget {
    /// Parse `http://host:port/path`. TLS is not supported; the host must resolve.
    pub fn parse(url: &str) -> Result<HttpTarget, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("'{url}' has no usable host"));
        }
        let with_port = if authority.starts_with('[') {
            if authority.contains("]:") {
                authority.to_string()
            } else {
                format!("{authority}:80")
            }
        } else if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve '{authority}': {e}"))?
            .next()
            .ok_or_else(|| format!("'{authority}' resolves to no address"))?;
        Ok(HttpTarget {
            url: url.to_string(),
            authority: authority.to_string(),
            path,
            addr,
        })
    }
}

/// What one POST carried, to know which waiters its response must satisfy.
#[derive(Debug, Clone, Default)]
struct PostInfo {
    /// Ids of the requests in the body.
    ids: Vec<Value>,
    /// For each id, the waiter registration current when the POST went out.
    registrations: Vec<Option<u64>>,
    initialize: bool,
    /// Methods for the transcript.
    label: String,
}

impl PostInfo {
    /// Note which waiters this POST is for (before sending it).
    fn bind(mut self, shared: &Shared) -> PostInfo {
        let pending = lock(&shared.pending);
        self.registrations = self
            .ids
            .iter()
            .map(|id| pending.get(&id_key(id)).map(|(r, _)| *r))
            .collect();
        self
    }

    fn of(message: &Value) -> PostInfo {
        let items: Vec<&Value> = match message {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut info = PostInfo::default();
        let mut labels = Vec::new();
        for item in items {
            let method = item.get("method").and_then(Value::as_str);
            match (method, item.get("id")) {
                (Some(m), Some(id)) => {
                    info.ids.push(id.clone());
                    info.initialize |= m == "initialize";
                    labels.push(m.to_string());
                }
                (Some(m), None) => labels.push(m.to_string()),
                (None, _) => labels.push("response".to_string()),
            }
        }
        info.label = labels.join(", ");
        info
    }

    fn of_bytes(bytes: &[u8]) -> PostInfo {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => PostInfo::of(&v),
            Err(_) => PostInfo {
                label: "raw bytes".into(),
                ..PostInfo::default()
            },
        }
    }
}

/// Where the answer to one request goes.
type Waiter = oneshot::Sender<Result<Response, RequestError>>;

struct Shared {
    control: ProcessControl,
    link: Link,
    /// id key → (registration number, waiter). The number tells a waiter registered
    /// again for a reused id from the one an earlier POST carried.
    pending: Mutex<HashMap<String, (u64, Waiter)>>,
    next_registration: std::sync::atomic::AtomicU64,
    /// id key → method of the requests this session sent, for attribution.
    methods: Mutex<MethodBook>,
    events: Mutex<EventLog>,
    arrived: Notify,
    next_id: AtomicI64,
    client: Mutex<ClientBehaviour>,
    traffic: TrafficLog,
    session_no: u32,
}

/// Methods of the requests a session sent, by id key: the latest
/// [`METHODS_REMEMBERED`] only, so that a session fuzzed for hours stays bounded (an
/// answer to an older request is then attributed to no method).
#[derive(Default)]
struct MethodBook {
    by_key: HashMap<String, String>,
    order: VecDeque<String>,
}

const METHODS_REMEMBERED: usize = 200_000;

/// Pending answers at which (and at every doubling after) abandoned waiters are swept.
const PENDING_SWEEP_AT: usize = 4096;

impl MethodBook {
    fn insert(&mut self, key: String, method: &str) {
        if self
            .by_key
            .insert(key.clone(), method.to_string())
            .is_none()
        {
            self.order.push_back(key);
            if self.order.len() > METHODS_REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.by_key.remove(&old);
                }
            }
        }
    }

    fn get(&self, key: &str) -> Option<&String> {
        self.by_key.get(key)
    }
}

impl Shared {
    fn new(control: ProcessControl, link: Link, traffic: TrafficLog) -> Arc<Shared> {
        Arc::new(Shared {
            control,
            link,
            session_no: traffic.next_session_no(),
            pending: Mutex::new(HashMap::new()),
            next_registration: std::sync::atomic::AtomicU64::new(1),
            methods: Mutex::new(MethodBook::default()),
            events: Mutex::new(EventLog::default()),
            arrived: Notify::new(),
            next_id: AtomicI64::new(1),
            client: Mutex::new(ClientBehaviour::default()),
            traffic,
        })
    }
}

/// A handle to one server process and its session. Cheap to clone; the process is
/// killed when the last clone is dropped.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    _dispatcher: Arc<AbortOnDrop>,
}

/// Ends the session's background tasks when the last handle goes away.
struct AbortOnDrop {
    dispatcher: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(d) = &self.dispatcher {
            d.abort();
        }
        if let Link::Http(link) = &self.shared.link {
            for task in lock(&link.tasks).drain(..) {
                task.abort();
            }
        }
        if let Link::LegacySse(link) = &self.shared.link {
            for task in lock(&link.tasks).drain(..) {
                task.abort();
            }
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("pid", &self.shared.control.pid())
            .field("session_no", &self.shared.session_no)
            .finish()
    }
}

/// What the server said to `initialize`, plus what we asked for.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub requested_version: String,
    pub response: Response,
}

impl Handshake {
    pub fn result(&self) -> Option<&Value> {
        self.response.result()
    }

    pub fn protocol_version(&self) -> Option<&str> {
        self.result()?.get("protocolVersion")?.as_str()
    }

    pub fn capabilities(&self) -> Option<&Map<String, Value>> {
        self.result()?.get("capabilities")?.as_object()
    }
}

impl Session {
    /// The handle over `shared`; `dispatcher` is the task reading the server's output,
    /// ended with the last handle.
    fn assemble(shared: Arc<Shared>, dispatcher: Option<tokio::task::JoinHandle<()>>) -> Session {
        Session {
            _dispatcher: Arc::new(AbortOnDrop {
                dispatcher,
                shared: shared.clone(),
            }),
            shared,
        }
    }

    /// Spawn the server; nothing is sent yet.
    pub fn spawn(
        spec: &CommandSpec,
        options: &ProcessOptions,
        traffic: TrafficLog,
    ) -> Result<Session, SpawnError> {
        let process = ServerProcess::spawn(spec, options)?;
        let (control, writer, reader) = process.split();
        let shared = Shared::new(
            control,
            Link::Stdio(tokio::sync::Mutex::new(writer)),
            traffic,
        );
        let dispatcher = tokio::spawn(dispatch(shared.clone(), reader));
        Ok(Session::assemble(shared, Some(dispatcher)))
    }

    /// A Streamable HTTP session with the endpoint at `url`; nothing is sent yet. There
    /// is no process behind it (`control()` is detached); the transcript records the
    /// HTTP traffic of this session.
    pub fn connect_http(
        url: &str,
        options: HttpOptions,
        traffic: TrafficLog,
    ) -> Result<Session, HttpError> {
        let endpoint = HttpTarget::parse(url).map_err(HttpError::InvalidRequest)?;
        let transcript = Transcript::new(options.transcript_limit);
        transcript.note(&format!("HTTP session with {url}"));
        let client = HttpClient::new(url, options)?.with_transcript(transcript.clone());
        let shared = Shared::new(
            ProcessControl::detached(transcript),
            Link::Http(Box::new(HttpLink {
                client,
                endpoint,
                session_id: Mutex::new(None),
                protocol_version: Mutex::new(None),
                tasks: Mutex::new(Vec::new()),
                stream_timeout: Duration::from_secs(600),
                refusals: Mutex::new(RefusalLog::default()),
            })),
            traffic,
        );
        Ok(Session::assemble(shared, None))
    }

    /// Over HTTP: the endpoint and the session state as this client holds it.
    pub fn http(&self) -> Option<HttpSessionInfo> {
        match &self.shared.link {
            Link::Http(link) => Some(HttpSessionInfo {
                endpoint: link.endpoint.clone(),
                session_id: lock(&link.session_id).clone(),
                protocol_version: lock(&link.protocol_version).clone(),
                client: link.client.clone(),
            }),
            Link::Stdio(_) | Link::LegacySse(_) => None,
        }
    }

    /// Over HTTP: how many POSTs were refused with 4xx so far (pass it to
    /// `http_refusals_since`); 0 on other transports.
    pub fn http_refusal_mark(&self) -> usize {
        match &self.shared.link {
            Link::Http(link) => lock(&link.refusals).total,
            _ => 0,
        }
    }

    /// Over HTTP: the 4xx refusals since `mark` still kept (a message sent with
    /// `send`/`send_raw`/`deliver` is settled, refusal included, when they return).
    pub fn http_refusals_since(&self, mark: usize) -> Vec<HttpRefusal> {
        let Link::Http(link) = &self.shared.link else {
            return Vec::new();
        };
        let log = lock(&link.refusals);
        let first = log.total - log.entries.len();
        log.entries
            .iter()
            .skip(mark.saturating_sub(first))
            .cloned()
            .collect()
    }

    pub fn control(&self) -> &ProcessControl {
        &self.shared.control
    }

    pub fn session_no(&self) -> u32 {
        self.shared.session_no
    }

    /// A fresh integer id (this session never reuses one).
    pub fn next_id(&self) -> Value {
        json!(self.shared.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// A fresh string id (shares the counter with integer ids, so never collides).
    pub fn next_string_id(&self) -> Value {
        json!(format!(
            "mcpspec-{}",
            self.shared.next_id.fetch_add(1, Ordering::Relaxed)
        ))
    }

    /// Send `initialize` and wait for its response; does not send `initialized`.
    pub async fn initialize(
        &self,
        version: &str,
        capabilities: Value,
        timeout: Duration,
    ) -> Result<Handshake, RequestError> {
        lock(&self.shared.client).capabilities = capabilities.clone();
        let params = json!({
            "protocolVersion": version,
            "capabilities": capabilities,
            "clientInfo": { "name": "mcpspec", "version": env!("CARGO_PKG_VERSION") }
        });
        // A string id: the handshake must not depend on the integer-id handling that
        // the id-echo case judges.
        let id = self.next_string_id();
        let response = self
            .request_with_id(id, "initialize", Some(params), timeout)
            .await?;
        Ok(Handshake {
            requested_version: version.to_string(),
            response,
        })
    }

    /// `initialize` then `notifications/initialized`: the normal handshake.
    pub async fn handshake(
        &self,
        version: &str,
        capabilities: Value,
        timeout: Duration,
    ) -> Result<Handshake, RequestError> {
        let handshake = self.initialize(version, capabilities, timeout).await?;
        if handshake.result().is_some() {
            self.notify("notifications/initialized", None).await?;
        }
        Ok(handshake)
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<Value>,
    ) -> Result<Response, RequestError> {
        self.request_timeout(method, params, DEFAULT_REQUEST_TIMEOUT)
            .await
    }

    pub async fn request_timeout(
        &self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Response, RequestError> {
        let id = self.next_id();
        self.request_with_id(id, method, params, timeout).await
    }

    pub async fn request_with_id(
        &self,
        id: Value,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Response, RequestError> {
        let message = request_message(&id, method, params);
        let pending = self.expect(&id, method);
        self.send(&message).await?;
        pending.wait(timeout).await
    }

    /// Send a notification.
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<(), RequestError> {
        let mut message = json!({ "jsonrpc": "2.0", "method": method });
        if let Some(p) = params {
            message["params"] = p;
        }
        self.send(&message).await
    }

    /// Serialise one message as a single line and write it in one piece (stdio), or
    /// POST it (HTTP).
    pub async fn send(&self, message: &Value) -> Result<(), RequestError> {
        if let Link::LegacySse(_) = &self.shared.link {
            return legacy_sse::post(&self.shared, message, false).await;
        }
        if let Link::Http(_) = &self.shared.link {
            let body = serde_json::to_vec(message).unwrap_or_default();
            return http_post(&self.shared, body, PostInfo::of(message), false).await;
        }
        let mut line = serde_json::to_vec(message).unwrap_or_default();
        line.push(b'\n');
        self.send_raw(&line).await
    }

    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), RequestError> {
        self.deliver(&Delivery::whole(bytes)).await
    }

    /// Write bytes following a delivery schedule. Over HTTP: one POST whose body is
    /// written on a raw connection following the schedule.
    pub async fn deliver(&self, delivery: &Delivery) -> Result<(), RequestError> {
        match &self.shared.link {
            Link::Stdio(writer) => writer
                .lock()
                .await
                .deliver(delivery)
                .await
                .map_err(|e| RequestError::Write(e.to_string())),
            Link::Http(_) => http_deliver(&self.shared, delivery).await,
            Link::LegacySse(_) => legacy_sse::deliver(&self.shared, delivery).await,
        }
    }

    /// Register interest in the response with `id` before sending it by other means
    /// (raw bytes, split deliveries). `method` is recorded for attribution.
    pub fn expect(&self, id: &Value, method: &str) -> PendingResponse {
        let key = id_key(id);
        let (tx, rx) = oneshot::channel();
        let registration = self
            .shared
            .next_registration
            .fetch_add(1, Ordering::Relaxed);
        {
            let mut pending = lock(&self.shared.pending);
            // Requests never answered, whose waiters gave up, would pile up for as
            // long as the session lives: drop them now and then.
            if pending.len() >= PENDING_SWEEP_AT && pending.len().is_power_of_two() {
                pending.retain(|_, (_, waiter)| !waiter.is_closed());
            }
            pending.insert(key.clone(), (registration, tx));
        }
        lock(&self.shared.methods).insert(key, method);
        PendingResponse {
            rx,
            control: self.shared.control.clone(),
        }
    }

    /// Sequence number of the next inbound event: pass it to `events_since`/`wait_for`.
    pub fn mark(&self) -> u64 {
        lock(&self.shared.events).next_seq
    }

    /// Inbound events with sequence ≥ `mark` still in the log.
    pub fn events_since(&self, mark: u64) -> Vec<Inbound> {
        lock(&self.shared.events)
            .entries
            .iter()
            .filter(|(seq, _)| *seq >= mark)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Like [`Session::events_since`], but the log gives the events up, with every
    /// older one: for a caller that reads each event once (the fuzzer, after each
    /// batch), so that the log does not keep (and copy) what was read already.
    pub fn take_events_since(&self, mark: u64) -> Vec<Inbound> {
        let entries = std::mem::take(&mut lock(&self.shared.events).entries);
        entries
            .into_iter()
            .filter(|(seq, _)| *seq >= mark)
            .map(|(_, e)| e)
            .collect()
    }

    /// Wait until an event at or after `mark` matches `pred`, or `timeout` passes, or
    /// stdout closes.
    pub async fn wait_for(
        &self,
        mark: u64,
        timeout: Duration,
        pred: impl Fn(&Inbound) -> bool,
    ) -> Option<Inbound> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let log = lock(&self.shared.events);
                if let Some((_, e)) = log.entries.iter().find(|(s, e)| *s >= mark && pred(e)) {
                    return Some(e.clone());
                }
                if log.closed.is_some() {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Everything that arrives during `window`: the catalogue's `quiet(t)` observation.
    /// Waiting out the window is the test itself, not a substitute for synchronisation.
    pub async fn observe(&self, mark: u64, window: Duration) -> Vec<Inbound> {
        let _ = self.wait_for(mark, window, |_| false).await;
        self.events_since(mark)
    }

    /// True once the server closed stdout.
    pub fn stdout_closed(&self) -> bool {
        lock(&self.shared.events).closed.is_some()
    }

    /// Whether the server still answers: a `ping` (or, when `ping` is refused, any
    /// well-formed answer at all counts as alive).
    pub async fn answers(&self, timeout: Duration) -> bool {
        self.request_timeout("ping", None, timeout).await.is_ok()
    }

    /// Close stdin: end-of-file for the server. Over HTTP: end the session (DELETE
    /// when the server issued a session id); nothing more will arrive.
    pub async fn close_stdin(&self) {
        match &self.shared.link {
            Link::Stdio(writer) => writer.lock().await.close(),
            Link::Http(link) => {
                let id = lock(&link.session_id).clone();
                if let Some(id) = id {
                    let request = HttpRequest::delete("")
                        .header("Mcp-Session-Id", id)
                        .timeout(Duration::from_secs(5));
                    let request = with_version(link, request);
                    match link.client.send(request).await {
                        Ok(r) => link
                            .client
                            .transcript()
                            .note(&format!("HTTP {} for DELETE (end of session)", r.status)),
                        Err(e) => link
                            .client
                            .transcript()
                            .note(&format!("DELETE (end of session) failed: {e}")),
                    }
                }
                for task in lock(&link.tasks).drain(..) {
                    task.abort();
                }
                mark_closed(&self.shared);
            }
            Link::LegacySse(_) => legacy_sse::close(&self.shared),
        }
    }

    /// Take in a message read outside this session's own connections (a fuzz schedule
    /// that reads an answer itself) as if it had arrived on one of them: it is logged
    /// and wakes its waiter.
    pub fn inject(&self, inbound: Inbound) {
        handle_inbound(&self.shared, inbound);
    }

    /// Method of a request this session sent, by id.
    pub fn method_of(&self, id: &Value) -> Option<String> {
        lock(&self.shared.methods).get(&id_key(id)).cloned()
    }

    pub fn transcript_tail(&self, n: usize) -> Vec<(Duration, String)> {
        self.shared.control.transcript().tail(n)
    }
}

/// The session state of an HTTP session, for cases that speak HTTP themselves.
#[derive(Debug, Clone)]
pub struct HttpSessionInfo {
    pub endpoint: HttpTarget,
    /// The `Mcp-Session-Id` the server issued at initialize, if any.
    pub session_id: Option<String>,
    /// The `MCP-Protocol-Version` this client sends, if any.
    pub protocol_version: Option<String>,
    /// A client recording into the session's transcript.
    pub client: HttpClient,
}

impl HttpSessionInfo {
    /// A POST as this session sends it: both Accept types, JSON content type, the
    /// session id and the protocol version header when in use.
    pub fn post(&self, body: impl Into<Vec<u8>>) -> HttpRequest {
        let mut request = HttpRequest::post("", body)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json");
        if let Some(id) = &self.session_id {
            request = request.header("Mcp-Session-Id", id.clone());
        }
        if let Some(v) = &self.protocol_version {
            request = request.header("MCP-Protocol-Version", v.clone());
        }
        request
    }
}

/// A response being waited for.
pub struct PendingResponse {
    rx: oneshot::Receiver<Result<Response, RequestError>>,
    control: ProcessControl,
}

impl PendingResponse {
    /// Wait with no deadline of its own: the caller bounds the wait (one timer for
    /// many responses instead of one each).
    pub async fn wait_unbounded(self) -> Result<Response, RequestError> {
        match self.rx.await {
            Ok(response) => response,
            Err(_) => Err(RequestError::Closed(self.control.exit_status())),
        }
    }

    pub async fn wait(self, timeout: Duration) -> Result<Response, RequestError> {
        match tokio::time::timeout(timeout, self.rx).await {
            Ok(Ok(response)) => response,
            // The dispatcher dropped the sender: stdout closed.
            Ok(Err(_)) => Err(RequestError::Closed(self.control.exit_status())),
            Err(_) => Err(RequestError::Timeout(timeout)),
        }
    }
}

pub fn request_message(id: &Value, method: &str, params: Option<Value>) -> Value {
    let mut message = json!({ "jsonrpc": "2.0", "id": id, "method": method });
    if let Some(p) = params {
        message["params"] = p;
    }
    message
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn dispatch(shared: Arc<Shared>, mut reader: FrameReader) {
    while let Some(event) = reader.next_event().await {
        let inbound = match event {
            StdoutEvent::Eof { at } => {
                lock(&shared.events).closed = Some(at);
                // Dropping the senders tells every waiter that no answer will come.
                lock(&shared.pending).clear();
                shared.arrived.notify_waiters();
                break;
            }
            StdoutEvent::Frame { frame, .. } => match frame {
                Frame::Message { value, raw } => Inbound::classify(value, raw.len()),
                Frame::Invalid { error, raw } => Inbound::Invalid { error, raw },
            },
        };
        handle_inbound(&shared, inbound);
    }
    // Reader gone without an explicit EOF event: treat as closed.
    mark_closed(&shared);
}

fn mark_closed(shared: &Shared) {
    lock(&shared.events).closed.get_or_insert_with(Instant::now);
    lock(&shared.pending).clear();
    shared.arrived.notify_waiters();
}

/// One unit of server output: record it, answer server requests, wake waiters.
fn handle_inbound(shared: &Arc<Shared>, inbound: Inbound) {
    let answering = match &inbound {
        Inbound::Response(v) => v
            .get("id")
            .and_then(|id| lock(&shared.methods).get(&id_key(id)).cloned()),
        _ => None,
    };
    shared
        .traffic
        .record(shared.session_no, &inbound, answering.as_deref());
    if let Inbound::Request(request) = &inbound {
        let answer = lock(&shared.client).answer(request);
        // Answer from a separate task: the reader must keep draining.
        let writer_shared = shared.clone();
        match &shared.link {
            Link::Stdio(_) => {
                let mut line = serde_json::to_vec(&answer).unwrap_or_default();
                line.push(b'\n');
                tokio::spawn(async move {
                    if let Link::Stdio(writer) = &writer_shared.link {
                        let _ = writer.lock().await.write(&line).await;
                    }
                });
            }
            Link::Http(_) => {
                tokio::spawn(async move {
                    let body = serde_json::to_vec(&answer).unwrap_or_default();
                    let _ = http_post(&writer_shared, body, PostInfo::of(&answer), false).await;
                });
            }
            Link::LegacySse(_) => legacy_sse::answer(writer_shared, answer),
        }
    }
    if let Inbound::Response(v) = &inbound {
        if let (Link::Http(link), Some("initialize")) = (&shared.link, answering.as_deref()) {
            // The header is for requests after initialization, from 2025-06-18 on.
            if let Some(version) = v.pointer("/result/protocolVersion").and_then(Value::as_str) {
                if version >= "2025-06-18" {
                    *lock(&link.protocol_version) = Some(version.to_string());
                }
            }
        }
    }
    // Logged before the waiter wakes: a mark taken after a response was received must
    // never see that response as new.
    let waiter = match &inbound {
        Inbound::Response(v) => v
            .get("id")
            .and_then(|id| lock(&shared.pending).remove(&id_key(id)))
            .map(|(_, tx)| (tx, v.clone())),
        _ => None,
    };
    {
        let mut log = lock(&shared.events);
        let seq = log.next_seq;
        log.next_seq += 1;
        log.entries.push_back((seq, inbound));
        if log.entries.len() > EVENT_LOG_LIMIT {
            log.entries.pop_front();
            log.dropped += 1;
        }
    }
    if let Some((tx, raw)) = waiter {
        let _ = tx.send(Ok(Response { raw }));
    }
    shared.arrived.notify_waiters();
}

/// A transport-level problem as an inbound frame (the traffic log has no HTTP variant;
/// the reason says precisely what was wrong).
fn transport_problem(problem: String, raw: &[u8]) -> Inbound {
    Inbound::Invalid {
        error: FrameError::NotJson {
            reason: format!("(HTTP) {problem}"),
        },
        raw: raw.iter().copied().take(4096).collect(),
    }
}

fn http_link(shared: &Shared) -> &HttpLink {
    match &shared.link {
        Link::Http(link) => link,
        _ => unreachable!("HTTP operation on a session that is not Streamable HTTP"),
    }
}

fn with_version(link: &HttpLink, request: HttpRequest) -> HttpRequest {
    match lock(&link.protocol_version).clone() {
        Some(v) => request.header("MCP-Protocol-Version", v),
        None => request,
    }
}

/// The headers every POST of this session carries.
fn mcp_headers(link: &HttpLink) -> Vec<(String, String)> {
    let mut headers = vec![
        (
            "Accept".to_string(),
            "application/json, text/event-stream".to_string(),
        ),
        ("Content-Type".to_string(), "application/json".to_string()),
    ];
    if let Some(id) = lock(&link.session_id).clone() {
        headers.push(("Mcp-Session-Id".into(), id));
    }
    if let Some(v) = lock(&link.protocol_version).clone() {
        headers.push(("MCP-Protocol-Version".into(), v));
    }
    headers
}

fn track(link: &HttpLink, handle: tokio::task::AbortHandle) {
    let mut tasks = lock(&link.tasks);
    tasks.retain(|t| !t.is_finished());
    tasks.push(handle);
}

/// POST one body. Requests return once the POST is under way (their answers arrive
/// through the waiters); notifications and responses wait for the response head, so a
/// following message cannot overtake them.
async fn http_post(
    shared: &Arc<Shared>,
    body: Vec<u8>,
    info: PostInfo,
    always_wait_head: bool,
) -> Result<(), RequestError> {
    let info = info.bind(shared);
    let link = http_link(shared);
    let mut request = HttpRequest::post("", body);
    for (name, value) in mcp_headers(link) {
        request = request.header(name, value);
    }
    let (head_tx, head_rx) = oneshot::channel();
    let wait_head = always_wait_head || info.ids.is_empty();
    let task = tokio::spawn(post_task(shared.clone(), request, info, head_tx));
    track(link, task.abort_handle());
    if !wait_head {
        return Ok(());
    }
    match tokio::time::timeout(DEFAULT_REQUEST_TIMEOUT, head_rx).await {
        Ok(Ok(Err(e))) => Err(RequestError::Write(e)),
        _ => Ok(()),
    }
}

async fn post_task(
    shared: Arc<Shared>,
    request: HttpRequest,
    info: PostInfo,
    head_tx: oneshot::Sender<Result<(), String>>,
) {
    let link = http_link(&shared);
    let response = match link.client.send(request).await {
        Ok(r) => r,
        Err(e) => {
            link.client
                .transcript()
                .note(&format!("POST ({}) failed: {e}", info.label));
            let _ = head_tx.send(Err(e.to_string()));
            fail_waiters(&shared, &info, || {
                RequestError::Write(format!("POST failed: {e}"))
            });
            return;
        }
    };
    let status = response.status;
    let content_type = response
        .header_str("content-type")
        .unwrap_or("")
        .to_string();
    let session = response.header_str("mcp-session-id").map(str::to_string);
    on_head(&shared, status, &content_type, session, &info);
    let deadline = std::time::Instant::now() + link.stream_timeout;
    let summary = if media_type(&content_type) == "text/event-stream" && is_success(status) {
        // A stream may stay open: the sender is settled once the head is in.
        let _ = head_tx.send(Ok(()));
        let mut stream = response.into_stream();
        let mut feed = SseFeed::new();
        let mut resumptions = 0;
        let mut events_before_resume = 0;
        loop {
            match stream.next_chunk(deadline).await {
                Ok(Some(chunk)) => {
                    feed.push(&shared, &chunk);
                    continue;
                }
                Ok(None) => feed.finish(&shared, None),
                Err(e) => feed.finish(&shared, Some(e.to_string())),
            }
            // Ended before this POST's answers (2025-11-25 servers may close early and
            // serve the rest after a GET with Last-Event-ID): resume, as clients do.
            // A resumption that brought nothing new will not bring the answer either.
            let progressed = resumptions == 0 || feed.events > events_before_resume;
            if resumptions >= MAX_RESUMPTIONS
                || !progressed
                || feed.last_event_id.is_empty()
                || !waiting_for(&shared, &info)
            {
                break;
            }
            resumptions += 1;
            events_before_resume = feed.events;
            match resume_stream(&shared, &feed, deadline).await {
                Some(next) => {
                    stream = next;
                    feed.reconnected();
                }
                None => break,
            }
        }
        feed.summary(status)
    } else {
        // A whole body is fed before the sender goes on, so a later message's answer
        // cannot overtake this one's.
        let outcome = match response.read_body(deadline).await {
            Ok(body) => {
                let refusal = note_refusal(&shared, status, &content_type, &body, &info);
                (
                    consume_whole(&shared, status, &content_type, &body),
                    refusal,
                )
            }
            Err(e) => (
                format!("HTTP {status} ({content_type}): reading the body failed: {e}"),
                None,
            ),
        };
        let _ = head_tx.send(Ok(()));
        if let (_, Some(refusal)) = &outcome {
            fail_waiters(&shared, &info, || RequestError::Refused(refusal.clone()));
        }
        outcome.0
    };
    fail_waiters(&shared, &info, || RequestError::Http(summary.clone()));
}

/// Resumptions of one POST's SSE answer at most.
const MAX_RESUMPTIONS: usize = 8;
/// Reconnection delay when the server gave no `retry`, and the longest one honoured.
const DEFAULT_RECONNECT: Duration = Duration::from_millis(100);
const MAX_RECONNECT: Duration = Duration::from_secs(5);

/// Whether some request of this POST still waits for its answer.
fn waiting_for(shared: &Shared, info: &PostInfo) -> bool {
    let pending = lock(&shared.pending);
    info.ids.iter().zip(&info.registrations).any(|(id, r)| {
        r.is_some_and(|r| pending.get(&id_key(id)).is_some_and(|(now, _)| *now == r))
    })
}

/// GET with `Last-Event-ID` after the server's reconnection delay: the continued
/// stream, or `None` when the server refuses (noted in the transcript).
async fn resume_stream(
    shared: &Shared,
    feed: &SseFeed,
    deadline: std::time::Instant,
) -> Option<mcpspec_harness::BodyStream> {
    let link = http_link(shared);
    let delay = feed
        .retry
        .map_or(DEFAULT_RECONNECT, Duration::from_millis)
        .min(MAX_RECONNECT);
    // Waiting the server's own reconnection delay is the protocol step itself.
    tokio::time::sleep(delay).await;
    let mut request = HttpRequest::get("")
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", feed.last_event_id.clone());
    if let Some(id) = lock(&link.session_id).clone() {
        request = request.header("Mcp-Session-Id", id);
    }
    let request = with_version(link, request);
    match link.client.send_until(request, deadline).await {
        Ok(r)
            if is_success(r.status)
                && media_type(r.header_str("content-type").unwrap_or(""))
                    == "text/event-stream" =>
        {
            link.client.transcript().note(&format!(
                "resumed the SSE answer with Last-Event-ID {}",
                feed.last_event_id
            ));
            Some(r.into_stream())
        }
        Ok(r) => {
            link.client.transcript().note(&format!(
                "resuming with Last-Event-ID {} was refused: HTTP {}",
                feed.last_event_id, r.status
            ));
            None
        }
        Err(e) => {
            link.client
                .transcript()
                .note(&format!("resuming with Last-Event-ID failed: {e}"));
            None
        }
    }
}

/// A 4xx answer to a POST: kept in the session's refusal log (before the sender goes
/// on, so a case sees it once its send returned).
fn note_refusal(
    shared: &Shared,
    status: u16,
    content_type: &str,
    body: &[u8],
    info: &PostInfo,
) -> Option<HttpRefusal> {
    if !(400..500).contains(&status) {
        return None;
    }
    let refusal = HttpRefusal {
        status,
        content_type: content_type.to_string(),
        body: crate::util::clip(&String::from_utf8_lossy(body), 500),
        label: info.label.clone(),
    };
    let mut log = lock(&http_link(shared).refusals);
    log.total += 1;
    log.entries.push_back(refusal.clone());
    if log.entries.len() > REFUSAL_LOG_LIMIT {
        log.entries.pop_front();
    }
    Some(refusal)
}

/// Status line and session id of a POST's response.
fn on_head(
    shared: &Shared,
    status: u16,
    content_type: &str,
    session: Option<String>,
    info: &PostInfo,
) {
    let link = http_link(shared);
    link.client.transcript().note(&format!(
        "HTTP {status} ({}) for POST {}",
        if content_type.is_empty() {
            "no Content-Type"
        } else {
            content_type
        },
        info.label
    ));
    if info.initialize && is_success(status) {
        if let Some(id) = session {
            *lock(&link.session_id) = Some(id);
        }
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The media type without parameters, lowercased.
/// A raw response head's Content-Type, as text ("" when absent).
pub(crate) fn head_content_type(head: &mcpspec_harness::ResponseHead) -> String {
    head.header("content-type")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Feed a whole (non-streamed) body; returns a summary for waiters left unanswered.
fn consume_whole(shared: &Arc<Shared>, status: u16, content_type: &str, body: &[u8]) -> String {
    let media = media_type(content_type);
    let shown = if content_type.is_empty() {
        "no Content-Type"
    } else {
        content_type
    };
    if media == "text/event-stream" {
        let mut feed = SseFeed::new();
        feed.push(shared, body);
        feed.finish(shared, None);
        return feed.summary(status);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return format!("HTTP {status} ({shown}) with an empty body");
    }
    match serde_json::from_slice::<Value>(body) {
        // Error statuses may carry a JSON-RPC error: feed it whatever the media type.
        Ok(value) if media == "application/json" || !is_success(status) => {
            handle_inbound(shared, Inbound::classify(value, body.len()));
            format!("HTTP {status} ({shown}) whose body did not answer this request")
        }
        Ok(_) => {
            let problem = format!(
                "HTTP {status} answered with Content-Type '{shown}', neither application/json nor text/event-stream"
            );
            handle_inbound(shared, transport_problem(problem.clone(), body));
            problem
        }
        Err(e) if is_success(status) => {
            let problem = format!("HTTP {status} ({shown}) body is not JSON: {e}");
            handle_inbound(shared, transport_problem(problem.clone(), body));
            problem
        }
        Err(_) => format!("HTTP {status} ({shown}): {}", escape_bytes(body, 200)),
    }
}

/// An SSE body being decoded: each event's data is one JSON-RPC message. The fuzzer's
/// raw HTTP deliveries feed their streams through it too, so both word problems alike.
pub(crate) struct SseFeed {
    pub(crate) decoder: SseDecoder,
    pub(crate) events: usize,
    problems: Vec<String>,
    /// The stream's last event id (what a resumption sends as `Last-Event-ID`).
    pub(crate) last_event_id: String,
    /// The server's reconnection delay, if it gave one (milliseconds).
    pub(crate) retry: Option<u64>,
}

impl SseFeed {
    pub(crate) fn new() -> Self {
        SseFeed {
            decoder: SseDecoder::new(SseLimits::default()),
            events: 0,
            problems: Vec::new(),
            last_event_id: String::new(),
            retry: None,
        }
    }

    /// The same logical stream continues on a new connection (a resumption): a new
    /// byte stream to decode, the same counts and last event id.
    pub(crate) fn reconnected(&mut self) {
        self.decoder = SseDecoder::new(SseLimits::default());
    }

    /// Hand decoded items to `session` as if its own connection had read them.
    pub(crate) fn feed(&mut self, session: &Session, items: Vec<SseItem>) {
        self.take(&session.shared, items);
    }

    fn push(&mut self, shared: &Arc<Shared>, bytes: &[u8]) {
        let mut items = Vec::new();
        self.decoder.push(bytes, &mut items);
        self.take(shared, items);
    }

    fn finish(&mut self, shared: &Arc<Shared>, error: Option<String>) {
        let mut items = Vec::new();
        self.decoder.finish(&mut items);
        self.take(shared, items);
        if let Some(e) = error {
            let problem = format!("SSE stream broke after {} event(s): {e}", self.events);
            handle_inbound(shared, transport_problem(problem.clone(), b""));
            self.problems.push(problem);
        }
    }

    fn take(&mut self, shared: &Arc<Shared>, items: Vec<SseItem>) {
        for item in items {
            match item {
                SseItem::Event(event) => {
                    self.events += 1;
                    self.last_event_id = event.last_event_id.clone();
                    if event.retry.is_some() {
                        self.retry = event.retry;
                    }
                    // Priming events (an id and empty data) carry no message.
                    if event.data.is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(&event.data) {
                        Ok(value) => {
                            handle_inbound(shared, Inbound::classify(value, event.data.len()))
                        }
                        Err(e) => {
                            let problem = format!(
                                "SSE event {} data is not one JSON value: {e}",
                                self.events
                            );
                            handle_inbound(
                                shared,
                                transport_problem(problem.clone(), event.data.as_bytes()),
                            );
                            self.problems.push(problem);
                        }
                    }
                }
                SseItem::Retry(ms) => self.retry = Some(ms),
                problem => {
                    let text = match &problem {
                        SseItem::UnterminatedEventAtEof { .. } => format!(
                            "SSE stream ended inside an event (no blank line after it), so it is lost: {problem}"
                        ),
                        _ => format!("SSE stream problem: {problem}"),
                    };
                    let evidence = match &problem {
                        SseItem::UnterminatedEventAtEof { data, .. } => data.as_bytes().to_vec(),
                        SseItem::LineTooLong { evidence, .. } => evidence.clone(),
                        _ => Vec::new(),
                    };
                    handle_inbound(shared, transport_problem(text.clone(), &evidence));
                    self.problems.push(text);
                }
            }
        }
    }

    fn summary(&self, status: u16) -> String {
        let mut s = format!(
            "HTTP {status} SSE stream ended after {} event(s) without this response",
            self.events
        );
        if let Some(p) = self.problems.last() {
            s.push_str(&format!(" ({p})"));
        }
        s
    }
}

/// Remove the waiters of this POST's requests that are still unanswered and tell them.
fn fail_waiters(shared: &Shared, info: &PostInfo, error: impl Fn() -> RequestError) {
    for (i, id) in info.ids.iter().enumerate() {
        let Some(registration) = info.registrations.get(i).copied().flatten() else {
            continue;
        };
        let mut pending = lock(&shared.pending);
        let key = id_key(id);
        // Only the waiter this POST was for: the id may have been reused since.
        if pending.get(&key).is_some_and(|(r, _)| *r == registration) {
            if let Some((_, tx)) = pending.remove(&key) {
                drop(pending);
                let _ = tx.send(Err(error()));
            }
        }
    }
}

/// Two or more JSON values, one per line; `None` for anything else.
fn several_messages(payload: &[u8]) -> Option<Vec<Value>> {
    let lines: Vec<&[u8]> = payload
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    if lines.len() < 2 {
        return None;
    }
    lines
        .into_iter()
        .map(|l| serde_json::from_slice::<Value>(l).ok())
        .collect()
}

/// One POST on a raw connection, its body written following `delivery`.
async fn http_deliver(shared: &Arc<Shared>, delivery: &Delivery) -> Result<(), RequestError> {
    let link = http_link(shared);
    let payload = delivery.payload();
    // Several newline-delimited messages (stdio pipelining) become one POST each, in
    // order: over HTTP every message is its own request.
    if let Some(messages) = several_messages(&payload) {
        for message in messages {
            let body = serde_json::to_vec(&message).unwrap_or_default();
            http_post(shared, body, PostInfo::of(&message), true).await?;
        }
        return Ok(());
    }
    let info = PostInfo::of_bytes(&payload).bind(shared);
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        link.endpoint.path,
        link.endpoint.authority,
        payload.len()
    );
    for (name, value) in mcp_headers(link) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = RawHttp::connect(link.endpoint.addr, RawOptions::default())
        .await
        .map_err(|e| RequestError::Write(e.to_string()))?
        .with_transcript(link.client.transcript().clone());
    raw.write(head.as_bytes())
        .await
        .map_err(|e| RequestError::Write(e.to_string()))?;
    raw.deliver(delivery)
        .await
        .map_err(|e| RequestError::Write(e.to_string()))?;
    let reader_shared = shared.clone();
    let stream_timeout = link.stream_timeout;
    // Settled once the whole answer was fed (or, for an SSE answer, once its head is
    // in): later messages then cannot overtake this one's answer.
    let (settled_tx, settled_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let deadline = std::time::Instant::now() + stream_timeout;
        let summary =
            read_raw_response(&reader_shared, &mut raw, &info, deadline, settled_tx).await;
        fail_waiters(&reader_shared, &info, || {
            RequestError::Http(summary.clone())
        });
    });
    track(link, task.abort_handle());
    let _ = tokio::time::timeout(DEFAULT_REQUEST_TIMEOUT, settled_rx).await;
    Ok(())
}

/// Read one response from a raw connection and feed it; SSE bodies are fed event by
/// event as they arrive. Returns the summary for waiters left unanswered.
async fn read_raw_response(
    shared: &Arc<Shared>,
    raw: &mut RawHttp,
    info: &PostInfo,
    deadline: std::time::Instant,
    settled: oneshot::Sender<()>,
) -> String {
    use mcpspec_harness::{RawEvent, ResponseItem};
    let mut settled = Some(settled);
    let mut head: Option<(u16, String)> = None;
    let mut sse: Option<SseFeed> = None;
    let mut body = Vec::new();
    loop {
        match raw.next_event(deadline).await {
            RawEvent::Item(ResponseItem::Head(h)) if h.is_interim() => {}
            RawEvent::Item(ResponseItem::Head(h)) => {
                let content_type = head_content_type(&h);
                let session = h
                    .header("mcp-session-id")
                    .map(|v| String::from_utf8_lossy(v).into_owned());
                on_head(shared, h.status, &content_type, session, info);
                if media_type(&content_type) == "text/event-stream" && is_success(h.status) {
                    sse = Some(SseFeed::new());
                    if let Some(tx) = settled.take() {
                        let _ = tx.send(());
                    }
                }
                head = Some((h.status, content_type));
            }
            RawEvent::Item(ResponseItem::Body(bytes)) => match sse.as_mut() {
                Some(feed) => feed.push(shared, &bytes),
                None => body.extend_from_slice(&bytes),
            },
            RawEvent::Item(ResponseItem::End { .. }) => {
                let Some((status, content_type)) = head else {
                    continue;
                };
                return match sse.as_mut() {
                    Some(feed) => {
                        feed.finish(shared, None);
                        feed.summary(status)
                    }
                    None => {
                        let summary = consume_whole(shared, status, &content_type, &body);
                        if let Some(refusal) =
                            note_refusal(shared, status, &content_type, &body, info)
                        {
                            fail_waiters(shared, info, || RequestError::Refused(refusal.clone()));
                        }
                        summary
                    }
                };
            }
            RawEvent::Item(ResponseItem::Error(e)) => {
                if let Some(feed) = sse.as_mut() {
                    feed.finish(shared, Some(e.to_string()));
                }
                return format!("the HTTP response is malformed: {e}");
            }
            RawEvent::Closed | RawEvent::ReadError(_) => {
                if let Some(feed) = sse.as_mut() {
                    feed.finish(shared, Some("connection closed".into()));
                }
                return match head {
                    Some((status, _)) => {
                        format!("HTTP {status}: the connection closed before the body ended")
                    }
                    None => "the connection closed before a response".into(),
                };
            }
            RawEvent::Timeout => return "no complete HTTP response in time".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_book_forgets_the_oldest_requests_past_its_bound() {
        let mut book = MethodBook::default();
        for i in 0..=METHODS_REMEMBERED {
            book.insert(i.to_string(), if i == 0 { "first" } else { "ping" });
        }
        // The same id sent again takes no second place.
        book.insert(METHODS_REMEMBERED.to_string(), "ping");
        assert_eq!(book.get("0"), None);
        assert_eq!(book.get("1").map(String::as_str), Some("ping"));
        assert_eq!(book.by_key.len(), METHODS_REMEMBERED);
        assert_eq!(book.order.len(), METHODS_REMEMBERED);
    }

    #[test]
    fn http_targets_parse() {
        let t = HttpTarget::parse("http://127.0.0.1:8080/mcp").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.path, "/mcp");
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        let t = HttpTarget::parse("http://127.0.0.1:9?x=1").unwrap();
        assert_eq!(t.path, "/?x=1");
        let t = HttpTarget::parse("http://[::1]:7/").unwrap();
        assert_eq!(t.addr.port(), 7);
        assert!(HttpTarget::parse("https://127.0.0.1/").is_err());
        assert!(HttpTarget::parse("http:///mcp").is_err());
    }

    #[test]
    fn post_info_finds_request_ids() {
        let info = PostInfo::of(&json!([
            {"jsonrpc":"2.0","id":1,"method":"initialize"},
            {"jsonrpc":"2.0","method":"notifications/initialized"},
            {"jsonrpc":"2.0","id":"a","result":{}}
        ]));
        assert_eq!(info.ids, vec![json!(1)]);
        assert!(info.initialize);
        assert!(PostInfo::of_bytes(b"{nope").ids.is_empty());
    }

    #[test]
    fn pipelined_lines_are_split_into_messages() {
        assert_eq!(
            several_messages(b"{\"a\":1}\n{\"b\":2}\n").map(|v| v.len()),
            Some(2)
        );
        assert_eq!(several_messages(b"{\"a\":1}\n"), None);
        assert_eq!(several_messages(b"{\"a\":1}\n{nope\n"), None);
    }

    #[test]
    fn media_types_drop_parameters() {
        assert_eq!(
            media_type("Text/Event-Stream; charset=utf-8"),
            "text/event-stream"
        );
        assert_eq!(media_type(""), "");
    }
}
