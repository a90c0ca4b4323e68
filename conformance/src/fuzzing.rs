//! Properties checked by the in-process fuzz targets in `fuzz/`. The targets are thin
//! shims over these functions, so stable `cargo test` replays every corpus input
//! through exactly the same code.

use crate::fixture::server::FixtureServer;
use crate::fuzz::finding::{Reproducer, MAX_REPEAT};
use crate::fuzz::program::{prepare, segments, IdAllocator, Segment};
use crate::traffic::Inbound;
use crate::validate::{validate_inbound, validate_outgoing_call, validate_response, RULES};
use arbitrary::Unstructured;
use serde_json::{Map, Value};

/// Lines of one fixture session input that are executed (keeps each run short).
const MAX_SESSION_LINES: usize = 64;

/// Classifying any JSON value as a JSON-RPC message never panics, and an accepted
/// message re-serialises and re-parses to the same value and the same class.
pub fn jsonrpc_message(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let class = Inbound::classify(value.clone(), data.len());
    assert_eq!(
        class.value(),
        Some(&value),
        "classification must keep the value"
    );
    let text = serde_json::to_string(&value).expect("a parsed value serialises");
    let again: Value = serde_json::from_str(&text).expect("serialised JSON parses again");
    assert_eq!(again, value, "JSON round trip changed the value");
    assert_eq!(
        std::mem::discriminant(&Inbound::classify(again, text.len())),
        std::mem::discriminant(&class),
        "round trip changed the message class"
    );
}

/// Driving the clean fixture with any sequence of lines never panics, and every message
/// it writes is a well-formed JSON-RPC message: the fixture is the reference the cases
/// are proven against, so it must stay correct on any input.
pub fn fixture_session(data: &[u8]) {
    let mut server = FixtureServer::new(None);
    for line in data.split(|b| *b == b'\n').take(MAX_SESSION_LINES) {
        // The `slow` tool sleeps on purpose; it is not what this target explores.
        if line.windows(4).any(|w| w == b"slow") {
            continue;
        }
        let dispatch = server.dispatch_line(line);
        let mut out = dispatch.replies;
        if let Some(work) = dispatch.work {
            work.run(&mut |m| out.push(m));
        }
        for message in &out {
            assert_well_formed(message);
        }
    }
}

fn assert_well_formed(message: &Value) {
    if let Value::Array(batch) = message {
        assert!(!batch.is_empty(), "empty batch response");
        batch.iter().for_each(assert_well_formed);
        return;
    }
    let obj = message.as_object().expect("every message is a JSON object");
    assert_eq!(obj.get("jsonrpc"), Some(&Value::from("2.0")), "{message}");
    if obj.contains_key("method") {
        assert!(obj["method"].is_string(), "{message}");
        return;
    }
    let id = obj.get("id").expect("a response carries an id");
    assert!(
        id.is_null() || id.is_string() || id.is_i64() || id.is_u64(),
        "{message}"
    );
    match (obj.get("result"), obj.get("error")) {
        (Some(result), None) => assert!(result.is_object(), "{message}"),
        (None, Some(error)) => {
            assert!(error["code"].is_i64(), "{message}");
            assert!(error["message"].is_string(), "{message}");
        }
        _ => panic!("a response has exactly one of result and error: {message}"),
    }
}

/// A problem's detail quotes at most this many characters (values are clipped to 120).
const MAX_DETAIL_CHARS: usize = 200;

/// The message validators never panic on any JSON value, report only named rules with
/// short details, and report exactly the rules an independent reading of the envelope
/// says are broken. Values come both from parsing the bytes as JSON and from building
/// one out of them with `arbitrary` (which reaches shapes a parser seldom yields, such
/// as NaN-free floats next to huge integers, quickly).
pub fn validate(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        validate_value(&value);
    }
    let mut u = Unstructured::new(data);
    if let Ok(value) = arbitrary_message(&mut u) {
        validate_value(&value);
    }
}

fn validate_value(value: &Value) {
    let response = validate_response(value);
    let call = validate_outgoing_call(value);
    for problem in response.iter().chain(&call) {
        assert!(
            RULES.contains(&problem.rule),
            "unnamed rule {}",
            problem.rule
        );
        assert!(
            problem.detail.chars().count() <= MAX_DETAIL_CHARS,
            "detail not bounded: {} chars",
            problem.detail.chars().count()
        );
    }
    let rules = |problems: &[crate::validate::Problem]| {
        let mut r: Vec<&str> = problems.iter().map(|p| p.rule).collect();
        r.sort_unstable();
        r
    };
    assert_eq!(rules(&response), expected_response_rules(value), "{value}");
    assert_eq!(rules(&call), expected_call_rules(value), "{value}");
    let inbound = Inbound::classify(value.clone(), 0);
    let by_class = match &inbound {
        Inbound::Response(_) => response,
        Inbound::Notification(_) | Inbound::Request(_) => call,
        Inbound::Unclassifiable(_) | Inbound::Invalid { .. } => Vec::new(),
    };
    assert_eq!(validate_inbound(&inbound), by_class);
}

fn integer(v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.is_i64() || v.is_u64())
}

/// The broken envelope rules of a response, read straight off JSON-RPC 2.0.
fn expected_response_rules(value: &Value) -> Vec<&'static str> {
    let Some(obj) = value.as_object() else {
        return vec!["not-an-object"];
    };
    let (result, error) = (obj.get("result"), obj.get("error"));
    let id_ok = match obj.get("id") {
        Some(Value::String(_)) => true,
        Some(Value::Null) => error.is_some() && result.is_none(),
        id => integer(id),
    };
    let error_obj = error.and_then(Value::as_object);
    let mut broken = vec![
        (!jsonrpc_ok(obj), "jsonrpc-version"),
        (!id_ok, "id-type"),
        (result.is_some() == error.is_some(), "result-xor-error"),
        (result.is_some_and(|r| !r.is_object()), "result-object"),
        (error.is_some() && error_obj.is_none(), "error-object"),
        (
            error_obj.is_some_and(|e| !integer(e.get("code"))),
            "error-code-integer",
        ),
        (
            error_obj.is_some_and(|e| !e.get("message").is_some_and(Value::is_string)),
            "error-message-string",
        ),
    ]
    .into_iter()
    .filter_map(|(bad, rule)| bad.then_some(rule))
    .collect::<Vec<_>>();
    broken.sort_unstable();
    broken
}

/// The broken envelope rules of a server notification or request.
fn expected_call_rules(value: &Value) -> Vec<&'static str> {
    let Some(obj) = value.as_object() else {
        return vec!["not-an-object"];
    };
    let id = obj.get("id");
    let mut broken = vec![
        (!jsonrpc_ok(obj), "jsonrpc-version"),
        (
            id.is_some_and(|i| !i.is_string()) && !integer(id),
            "id-type",
        ),
        (
            obj.get("params").is_some_and(|p| !p.is_object()),
            "params-object",
        ),
    ]
    .into_iter()
    .filter_map(|(bad, rule)| bad.then_some(rule))
    .collect::<Vec<_>>();
    broken.sort_unstable();
    broken
}

fn jsonrpc_ok(obj: &Map<String, Value>) -> bool {
    obj.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
}

/// Member names of JSON-RPC envelopes, so that generated objects look like messages
/// more often than not.
const ENVELOPE_KEYS: &[&str] = &[
    "jsonrpc", "id", "method", "params", "result", "error", "code", "message", "data",
];

/// An object built from fuzz bytes, biased towards JSON-RPC envelopes.
fn arbitrary_message(u: &mut Unstructured) -> arbitrary::Result<Value> {
    let mut obj = Map::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let key = match u.int_in_range(0..=ENVELOPE_KEYS.len())? {
            i if i < ENVELOPE_KEYS.len() => ENVELOPE_KEYS[i].to_string(),
            _ => u.arbitrary()?,
        };
        obj.insert(key, arbitrary_value(u, 3)?);
    }
    Ok(match u.int_in_range(0..=7)? {
        0 => arbitrary_value(u, 3)?,
        _ => Value::Object(obj),
    })
}

fn arbitrary_value(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth == 0 { 7 } else { 9 };
    Ok(match u.int_in_range(0..=kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        // Not finite floats become null, as serde_json cannot hold them.
        4 => Value::from(u.arbitrary::<f64>()?),
        5 => Value::from("2.0"),
        6 => Value::from(u.int_in_range(-32768i64..=-32000)?),
        7 => Value::String(u.arbitrary()?),
        8 => Value::Array(
            (0..u.int_in_range(0..=3)?)
                .map(|_| arbitrary_value(u, depth - 1))
                .collect::<arbitrary::Result<_>>()?,
        ),
        _ => {
            let mut obj = Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                let key = ENVELOPE_KEYS[u.choose_index(ENVELOPE_KEYS.len())?];
                obj.insert(key.to_string(), arbitrary_value(u, depth - 1)?);
            }
            Value::Object(obj)
        }
    })
}

/// Loading a reproducer file as `mcpspec replay` does never panics; an accepted file
/// writes back to the same reproducer, and what it delivers is bounded by its size:
/// preparing it for a server (renumbering ids) and cutting it into writes cover
/// exactly its bytes, in at most one write per byte.
pub fn reproducer(data: &[u8]) {
    // `Reproducer::load` reads at most `MAX_FILE_BYTES` of UTF-8 text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = Reproducer::parse(text) else {
        return;
    };
    // `replay` reads a file as a raw libFuzzer artifact when it is not a reproducer.
    assert!(
        !crate::fuzz::libfuzzer::is_raw_artifact(data),
        "replay would take a loadable reproducer for a raw artifact"
    );
    assert_eq!(
        Reproducer::parse(&loaded.to_json()).as_ref(),
        Ok(&loaded),
        "a loaded reproducer does not write back to itself"
    );
    let program = loaded.program();
    assert!((1..=MAX_REPEAT).contains(&program.repeat));
    let prepared = prepare(&program, &mut IdAllocator::default());
    assert_eq!(prepared.steps.len(), program.steps.len());
    let step_bytes: Vec<usize> = prepared.steps.iter().map(|s| s.bytes().len()).collect();
    // JSON steps are written compactly; only numbers can grow (`1e15` is written
    // `1000000000000000.0`), by less than five times.
    let total: usize = step_bytes.iter().sum();
    assert!(
        total <= 5 * data.len() + step_bytes.len(),
        "{total} bytes to send from a {}-byte file",
        data.len()
    );
    let before_close = prepared
        .steps
        .iter()
        .position(|s| s.close_stdin)
        .unwrap_or(prepared.steps.len());
    let mut delivered = 0;
    let mut writes = 0;
    for segment in segments(&prepared.steps) {
        if let Segment::Write { delivery, .. } = segment {
            for piece in delivery.pieces() {
                assert!(piece.delay_before.as_millis() <= 1000, "unbounded delay");
                delivered += piece.bytes.len();
                writes += 1;
            }
        }
    }
    assert_eq!(
        delivered,
        step_bytes[..before_close].iter().sum::<usize>(),
        "writes do not cover the steps before close"
    );
    assert!(writes <= delivered, "empty writes");
}
