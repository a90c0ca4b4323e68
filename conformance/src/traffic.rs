//! Everything the server sent during a run, classified, for the passive checks.

use mcpspec_harness::FrameError;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// One unit of server output, classified by JSON-RPC shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Has an `id` and no `method` (result, error, or a malformed response).
    Response(Value),
    /// Has a `method` and no `id`.
    Notification(Value),
    /// Has a `method` and an `id`: the server asks the client something.
    Request(Value),
    /// Valid JSON that is not shaped like any JSON-RPC message (arrays included).
    Unclassifiable(Value),
    /// A line that is not one JSON value.
    Invalid { error: FrameError, raw: Vec<u8> },
}

impl Inbound {
    pub fn classify(value: Value, _raw_len: usize) -> Inbound {
        let Some(obj) = value.as_object() else {
            return Inbound::Unclassifiable(value);
        };
        match (obj.get("method"), obj.contains_key("id")) {
            (Some(Value::String(_)), true) => Inbound::Request(value),
            (Some(Value::String(_)), false) => Inbound::Notification(value),
            (None, true) => Inbound::Response(value),
            (None, false) if obj.contains_key("result") || obj.contains_key("error") => {
                Inbound::Response(value)
            }
            _ => Inbound::Unclassifiable(value),
        }
    }

    /// The JSON value, when the frame held one.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Inbound::Response(v)
            | Inbound::Notification(v)
            | Inbound::Request(v)
            | Inbound::Unclassifiable(v) => Some(v),
            Inbound::Invalid { .. } => None,
        }
    }

    pub fn method(&self) -> Option<&str> {
        self.value()?.get("method")?.as_str()
    }

    pub fn is_response_to(&self, id: &Value) -> bool {
        matches!(self, Inbound::Response(v) if v.get("id") == Some(id))
    }

    /// Short human description for evidence.
    pub fn describe(&self) -> String {
        match self {
            Inbound::Invalid { error, raw } => {
                format!("{error}: {}", mcpspec_harness::escape_bytes(raw, 200))
            }
            other => crate::util::clip(
                &other.value().map(Value::to_string).unwrap_or_default(),
                300,
            ),
        }
    }
}

/// One recorded unit of server output.
#[derive(Debug, Clone)]
pub struct TrafficRecord {
    /// Which server process of the run produced it.
    pub session: u32,
    pub inbound: Inbound,
    /// For responses: the method of the request it answers, when known.
    pub answering: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    records: Vec<TrafficRecord>,
    dropped: u64,
}

/// Shared by every session of a run. Bounded: past the limit new records are counted
/// but not kept.
#[derive(Debug, Clone)]
pub struct TrafficLog {
    inner: Arc<Mutex<Inner>>,
    sessions: Arc<AtomicU32>,
    limit: usize,
}

impl TrafficLog {
    pub fn new(limit: usize) -> Self {
        TrafficLog {
            inner: Arc::new(Mutex::new(Inner::default())),
            sessions: Arc::new(AtomicU32::new(0)),
            limit,
        }
    }

    pub fn next_session_no(&self) -> u32 {
        self.sessions.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn record(&self, session: u32, inbound: &Inbound, answering: Option<&str>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.records.len() >= self.limit {
            inner.dropped += 1;
            return;
        }
        inner.records.push(TrafficRecord {
            session,
            inbound: inbound.clone(),
            answering: answering.map(str::to_string),
        });
    }

    pub fn records(&self) -> Vec<TrafficRecord> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .records
            .clone()
    }

    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classification_follows_json_rpc_shape() {
        let c = |v| Inbound::classify(v, 0);
        assert!(matches!(
            c(json!({"id":1,"result":{}})),
            Inbound::Response(_)
        ));
        assert!(matches!(
            c(json!({"id":null,"error":{}})),
            Inbound::Response(_)
        ));
        assert!(matches!(c(json!({"error":{}})), Inbound::Response(_)));
        assert!(matches!(c(json!({"method":"x"})), Inbound::Notification(_)));
        assert!(matches!(
            c(json!({"method":"x","id":"a"})),
            Inbound::Request(_)
        ));
        assert!(matches!(c(json!([1])), Inbound::Unclassifiable(_)));
        assert!(matches!(c(json!({"method":5})), Inbound::Unclassifiable(_)));
    }
}
