//! A JSON-RPC session with one server process, as a well-behaved MCP client runs it.
//!
//! A dispatcher task owns the server's stdout: responses go to whoever waits for their
//! id, server requests are answered according to the capabilities the client declared,
//! and everything inbound is kept in a bounded event log that cases can inspect or wait
//! on. Every wait takes a deadline.

use crate::traffic::{Inbound, TrafficLog};
use mcpspec_harness::{
    CommandSpec, Delivery, ExitInfo, Frame, FrameReader, ProcessControl, ProcessOptions,
    ServerProcess, SpawnError, StdinWriter, StdoutEvent,
};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

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

struct Shared {
    control: ProcessControl,
    writer: tokio::sync::Mutex<StdinWriter>,
    pending: Mutex<HashMap<String, oneshot::Sender<Response>>>,
    /// id key → method of every request this session sent, for attribution.
    methods: Mutex<HashMap<String, String>>,
    events: Mutex<EventLog>,
    arrived: Notify,
    next_id: AtomicI64,
    client: Mutex<ClientBehaviour>,
    traffic: TrafficLog,
    session_no: u32,
}

/// A handle to one server process and its session. Cheap to clone; the process is
/// killed when the last clone is dropped.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    _dispatcher: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
    /// Spawn the server; nothing is sent yet.
    pub fn spawn(
        spec: &CommandSpec,
        options: &ProcessOptions,
        traffic: TrafficLog,
    ) -> Result<Session, SpawnError> {
        let process = ServerProcess::spawn(spec, options)?;
        let (control, writer, reader) = process.split();
        let session_no = traffic.next_session_no();
        let shared = Arc::new(Shared {
            control,
            writer: tokio::sync::Mutex::new(writer),
            pending: Mutex::new(HashMap::new()),
            methods: Mutex::new(HashMap::new()),
            events: Mutex::new(EventLog::default()),
            arrived: Notify::new(),
            next_id: AtomicI64::new(1),
            client: Mutex::new(ClientBehaviour::default()),
            traffic,
            session_no,
        });
        let dispatcher = tokio::spawn(dispatch(shared.clone(), reader));
        Ok(Session {
            shared,
            _dispatcher: Arc::new(AbortOnDrop(dispatcher)),
        })
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

    /// Serialise one message as a single line and write it in one piece.
    pub async fn send(&self, message: &Value) -> Result<(), RequestError> {
        let mut line = serde_json::to_vec(message).unwrap_or_default();
        line.push(b'\n');
        self.send_raw(&line).await
    }

    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), RequestError> {
        self.deliver(&Delivery::whole(bytes)).await
    }

    /// Write bytes following a delivery schedule.
    pub async fn deliver(&self, delivery: &Delivery) -> Result<(), RequestError> {
        let mut writer = self.shared.writer.lock().await;
        writer
            .deliver(delivery)
            .await
            .map_err(|e| RequestError::Write(e.to_string()))
    }

    /// Register interest in the response with `id` before sending it by other means
    /// (raw bytes, split deliveries). `method` is recorded for attribution.
    pub fn expect(&self, id: &Value, method: &str) -> PendingResponse {
        let key = id_key(id);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(key.clone(), tx);
        lock(&self.shared.methods).insert(key, method.to_string());
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

    /// Close stdin: end-of-file for the server.
    pub async fn close_stdin(&self) {
        self.shared.writer.lock().await.close();
    }

    /// Method of a request this session sent, by id.
    pub fn method_of(&self, id: &Value) -> Option<String> {
        lock(&self.shared.methods).get(&id_key(id)).cloned()
    }

    pub fn transcript_tail(&self, n: usize) -> Vec<(Duration, String)> {
        self.shared.control.transcript().tail(n)
    }
}

/// A response being waited for.
pub struct PendingResponse {
    rx: oneshot::Receiver<Response>,
    control: ProcessControl,
}

impl PendingResponse {
    pub async fn wait(self, timeout: Duration) -> Result<Response, RequestError> {
        match tokio::time::timeout(timeout, self.rx).await {
            Ok(Ok(response)) => Ok(response),
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
            let mut line = serde_json::to_vec(&answer).unwrap_or_default();
            line.push(b'\n');
            // Answer from a separate task: the dispatcher must keep draining stdout.
            let writer_shared = shared.clone();
            tokio::spawn(async move {
                let _ = writer_shared.writer.lock().await.write(&line).await;
            });
        }
        if let Inbound::Response(v) = &inbound {
            if let Some(id) = v.get("id") {
                let waiter = lock(&shared.pending).remove(&id_key(id));
                if let Some(tx) = waiter {
                    let _ = tx.send(Response { raw: v.clone() });
                }
            }
        }
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
        shared.arrived.notify_waiters();
    }
    // Reader gone without an explicit EOF event: treat as closed.
    lock(&shared.events).closed.get_or_insert_with(Instant::now);
    lock(&shared.pending).clear();
    shared.arrived.notify_waiters();
}
