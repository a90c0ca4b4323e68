//! The concrete form of one fuzz input: the messages and how their bytes are cut into
//! writes. This is exactly what a reproducer file stores, so a finding replays the
//! same bytes in the same shape.
//!
//! Ids are renumbered on every execution (a long-lived server must never see an id
//! twice), keeping their width so that split offsets keep pointing at the same bytes.

use base64::Engine as _;
use mcpspec_harness::Delivery;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Integer ids the fuzzer sends: ten digits, far from the small ids the session uses.
pub const INT_ID_BASE: u64 = 1_000_000_000;
/// Prefix of string ids; raw (non-JSON) payloads carry only these, so they can be
/// renumbered by plain byte replacement.
pub const STR_ID_PREFIX: &str = "fz-";
const STR_ID_DIGITS: usize = 9;
/// Marker put into string arguments: `<<TOKEN|payload>>`, TOKEN being the request id.
pub const MARKER_OPEN: &str = "<<";
pub const MARKER_SEP: char = '|';
pub const MARKER_CLOSE: &str = ">>";

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// Sessions an input may use over Streamable HTTP: the connection's own (0) and one
/// more opened for the input (1).
pub const HTTP_SESSIONS: u8 = 2;

/// One step: a message (JSON, or raw bytes) with its delivery, or closing stdin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A JSON message, written compactly followed by `\n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// Raw bytes that are valid UTF-8, written exactly (newline included if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Raw bytes that are not valid UTF-8, base64-encoded, written exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    /// Close stdin (end of input for the server). Nothing is sent after it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub close_stdin: bool,
    /// Byte offsets inside this step's bytes where a write ends and the next begins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<usize>,
    /// Milliseconds to wait before each write of this step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    /// The first piece goes out in the same write as the previous step's last piece.
    #[serde(default, skip_serializing_if = "is_false")]
    pub coalesce: bool,
    /// Before this step, wait until every request sent so far is answered.
    #[serde(default, rename = "await", skip_serializing_if = "is_false")]
    pub await_answers: bool,
    /// Only the first this many bytes are sent. Over Streamable HTTP the POST still
    /// announces the whole body as its `Content-Length`, then the connection closes:
    /// the request is owed no answer, but the server must live on. Over stdio the
    /// line ends early (those bytes, then a newline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<usize>,
    /// Over Streamable HTTP: when the answer is an SSE stream, the connection is dropped
    /// right after its first event (what followed in the same read is discarded) and,
    /// when that event had an id, the stream is resumed with GET and `Last-Event-ID`.
    /// Over stdio: no effect.
    #[serde(default, skip_serializing_if = "is_false")]
    pub drop_stream: bool,
    /// Over Streamable HTTP: 1 sends this step in a second MCP session opened for the
    /// input (its own initialize on a fresh connection, no session id shared) and
    /// ended after it. Over stdio: no effect.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub session: u8,
}

impl Step {
    pub fn json(value: Value) -> Self {
        Step {
            json: Some(value),
            ..Step::default()
        }
    }

    pub fn raw(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Step {
                text: Some(text.to_string()),
                ..Step::default()
            },
            Err(_) => Step {
                base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..Step::default()
            },
        }
    }

    pub fn close() -> Self {
        Step {
            close_stdin: true,
            ..Step::default()
        }
    }

    /// Exactly one of json, text, base64 and close_stdin must be given.
    pub fn check(&self) -> Result<(), String> {
        let kinds = usize::from(self.json.is_some())
            + usize::from(self.text.is_some())
            + usize::from(self.base64.is_some())
            + usize::from(self.close_stdin);
        if kinds != 1 {
            return Err(
                "each step needs exactly one of \"json\", \"text\", \"base64\" or \"close_stdin\""
                    .into(),
            );
        }
        if let Some(b) = &self.base64 {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("a step's base64 does not decode: {e}"))?;
        }
        if self.close_stdin && (self.truncate.is_some() || self.drop_stream || self.session != 0) {
            return Err(
                "\"close_stdin\" takes no \"truncate\", \"drop_stream\" or \"session\"".into(),
            );
        }
        if self.session >= HTTP_SESSIONS {
            return Err(format!(
                "\"session\" is 0 or {}, not {}",
                HTTP_SESSIONS - 1,
                self.session
            ));
        }
        Ok(())
    }

    /// The number of bytes a truncated step sends (always fewer than its whole), or
    /// `None` when it is sent whole.
    pub fn truncated_len(&self) -> Option<usize> {
        self.truncate?;
        self.truncated_len_of(self.bytes_len())
    }

    /// [`Step::truncated_len`] for a step whose whole bytes are `len` long.
    fn truncated_len_of(&self, len: usize) -> Option<usize> {
        let n = self.truncate?;
        (len > 0).then(|| n.min(len - 1))
    }

    /// The bytes this step writes over stdio: a truncated step ends its line early.
    pub fn stdio_bytes(&self) -> Vec<u8> {
        let mut bytes = self.bytes();
        if let Some(n) = self.truncated_len_of(bytes.len()) {
            bytes.truncate(n);
            bytes.push(b'\n');
        }
        bytes
    }

    /// `self.bytes().len()`, without building the bytes of a JSON message.
    pub fn bytes_len(&self) -> usize {
        match &self.json {
            Some(v) => json_line_len(v),
            None => match &self.text {
                Some(t) => t.len(),
                None => self.bytes().len(),
            },
        }
    }

    /// Do this step's bytes end with a newline (`self.bytes()` ends with `\n`)?
    pub fn ends_line(&self) -> bool {
        if self.json.is_some() {
            // A JSON message is always written followed by a newline.
            return true;
        }
        match &self.text {
            Some(t) => t.ends_with('\n'),
            None => self.bytes().last() == Some(&b'\n'),
        }
    }

    /// The bytes this step writes (empty for close_stdin).
    pub fn bytes(&self) -> Vec<u8> {
        if let Some(v) = &self.json {
            let mut line = serde_json::to_vec(v).unwrap_or_default();
            line.push(b'\n');
            return line;
        }
        if let Some(t) = &self.text {
            return t.as_bytes().to_vec();
        }
        if let Some(b) = &self.base64 {
            return base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default();
        }
        Vec::new()
    }

    /// Replace the payload with other raw bytes, keeping the delivery fields.
    pub fn set_raw(&mut self, bytes: &[u8]) {
        let fresh = Step::raw(bytes);
        self.json = None;
        self.text = fresh.text;
        self.base64 = fresh.base64;
    }

    /// Short description for humans.
    pub fn label(&self) -> String {
        if self.close_stdin {
            return "close stdin".into();
        }
        if let Some(v) = &self.json {
            if let Some(m) = v.get("method").and_then(Value::as_str) {
                return if v.get("id").is_some() {
                    format!("request {m}")
                } else {
                    format!("notification {m}")
                };
            }
            return "json message".into();
        }
        format!("{} raw bytes", self.bytes().len())
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `v` written compactly plus its newline, as [`Step::bytes`] writes
/// it, counted without building the bytes.
fn json_line_len(v: &Value) -> usize {
    json_len(v) + 1
}

/// The length of `serde_json::to_vec(v)`, without writing it.
fn json_len(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(b) => 4 + usize::from(!*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => decimal_len(u),
            (None, Some(i)) => 1 + decimal_len(i.unsigned_abs()),
            // Floats are written by the serialiser's own formatter: count its output.
            _ => {
                let mut count = ByteCount(0);
                serde_json::to_writer(&mut count, n).map_or(0, |()| count.0)
            }
        },
        Value::String(s) => json_str_len(s),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(json_len).sum::<usize>()
        }
        Value::Object(obj) => {
            2 + obj.len().saturating_sub(1)
                + obj
                    .iter()
                    .map(|(k, v)| json_str_len(k) + 1 + json_len(v))
                    .sum::<usize>()
        }
    }
}

fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |digits| digits as usize + 1)
}

/// A string written as JSON: quotes, and the escapes serde_json writes (`\"`, `\\`,
/// the two-byte `\b \t \n \f \r`, `\u00XX` for the other control characters).
fn json_str_len(s: &str) -> usize {
    // Most strings have nothing to escape: a count the compiler vectorises says so.
    let special = s
        .bytes()
        .filter(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .count();
    if special == 0 {
        return s.len() + 2;
    }
    let extra: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 1,
            0x00..=0x1f => 5,
            _ => 0,
        })
        .sum();
    s.len() + 2 + extra
}

/// A sequence of steps, run `repeat` times in one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub steps: Vec<Step>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub repeat: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Program {
    pub fn new(steps: Vec<Step>) -> Self {
        Program { steps, repeat: 1 }
    }

    /// Messages (non-close steps) in the program.
    pub fn message_count(&self) -> usize {
        self.steps.iter().filter(|s| !s.close_stdin).count()
    }

    /// Several inputs run back to back as one (a batch shares one liveness ping).
    /// Returns the program and the index of each input's first step. An input that
    /// ends inside a line gets a newline so the next one starts on its own line, as
    /// the ping after a single input does; nothing follows a close.
    pub fn concat(programs: &[Program]) -> (Program, Vec<usize>) {
        let most: usize = programs.iter().map(|p| p.steps.len() + 1).sum();
        let mut steps: Vec<Step> = Vec::with_capacity(most);
        let mut starts = Vec::with_capacity(programs.len());
        for p in programs {
            if steps.last().is_some_and(|s| s.close_stdin) {
                break;
            }
            let unterminated = steps.last().is_some_and(|s| !s.ends_line());
            if unterminated {
                let mut newline = Step::raw(b"\n");
                newline.coalesce = true;
                steps.push(newline);
            }
            let start = steps.len();
            starts.push(start);
            steps.extend(p.steps.iter().cloned());
            if let Some(first) = steps.get_mut(start) {
                first.coalesce = false;
                first.await_answers = false;
            }
        }
        (Program::new(steps), starts)
    }
}

/// Hands out fresh ids of a fixed width, in the same type as the id they replace.
#[derive(Debug, Default, Clone)]
pub struct IdAllocator {
    next: u64,
}

impl IdAllocator {
    pub fn fresh_like(&mut self, old: &Value) -> Value {
        let n = self.next;
        self.next += 1;
        if old.is_number() {
            Value::from(INT_ID_BASE + n)
        } else {
            Value::String(str_id(n))
        }
    }

    pub fn fresh_string(&mut self) -> Value {
        self.fresh_like(&Value::Null)
    }
}

pub fn str_id(n: u64) -> String {
    format!("{STR_ID_PREFIX}{n:0width$}", width = STR_ID_DIGITS)
}

/// The marker token of an id: its digits, or the string itself.
pub fn id_token(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// Is this an id the fuzzer allocated (and so may renumber)?
fn is_ours(id: &Value) -> bool {
    match id {
        Value::Number(n) => n.as_u64().is_some_and(|v| v >= INT_ID_BASE),
        Value::String(s) => is_str_id(s),
        _ => false,
    }
}

fn is_str_id(s: &str) -> bool {
    s.len() == STR_ID_PREFIX.len() + STR_ID_DIGITS
        && s.starts_with(STR_ID_PREFIX)
        && s[STR_ID_PREFIX.len()..].bytes().all(|b| b.is_ascii_digit())
}

/// A request found in a prepared step.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub step: usize,
    pub id: Value,
    pub method: String,
    /// A well-formed request on a clean line: the server must answer it exactly once.
    pub demanded: bool,
    /// A well-formed request (whatever line it is on), not cancelled.
    pub well_formed: bool,
    /// Its line is at least this long; an error with id null also counts as its answer.
    pub oversize: bool,
    /// Cancelled by a notification in the same program: an answer is optional.
    pub cancelled: bool,
    /// Coarse description of its params, for recognising the same request shape.
    pub shape: String,
    /// Markers (token → payload) in its string arguments.
    pub markers: Vec<(String, String)>,
    /// Top-level members beyond jsonrpc, id, method and params (allowed, yet some
    /// servers choke on them).
    pub extra_members: Vec<String>,
    /// How its bytes travelled: `split` (several writes), `shared-write` (in one
    /// write with another message) or `whole`; over HTTP also `truncated` (body cut
    /// short), `dropped-stream` (SSE answer dropped and resumed) or `second-session`.
    pub delivery: &'static str,
}

impl RequestInfo {
    /// Why a hang of this request would not be its method's or shape's own: extra
    /// top-level members, or an oversize line. A server that drops one such request
    /// drops them all, whatever the method.
    pub fn hang_cause(&self) -> Option<&'static str> {
        if !self.extra_members.is_empty() {
            Some("extra-member")
        } else if self.oversize {
            Some("oversize")
        } else {
            None
        }
    }

    /// What a hang is known by, so that each costs one probe's timeout only: its
    /// cause, else its shape.
    pub fn hang_key(&self) -> &str {
        self.hang_cause().unwrap_or(&self.shape)
    }
}

/// Lines at least this long count as oversize (servers with a 64 KiB limit drop them).
pub const OVERSIZE_LINE: usize = 64 * 1024;

/// A program with fresh ids, ready to deliver.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub steps: Vec<Step>,
    pub requests: Vec<RequestInfo>,
    /// Every id that appears in a sent message (any type), as id keys.
    pub ids_sent: Vec<String>,
}

/// Renumber every id the fuzzer owns (in ids, cancellation targets, markers and raw
/// bytes) and work out which requests must be answered. Each step gets fresh ids of
/// its own, so a step copied by a mutation never repeats an id.
pub fn prepare(program: &Program, alloc: &mut IdAllocator) -> Prepared {
    prepare_owned(program.clone(), alloc)
}

/// [`prepare`] for a program the caller gives up: its steps are renumbered in place
/// instead of copied (a batch's joined program is not needed after).
pub fn prepare_owned(program: Program, alloc: &mut IdAllocator) -> Prepared {
    // Latest new id per old id key: what a later cancellation refers to.
    let mut latest: HashMap<String, Value> = HashMap::new();
    let mut steps = Vec::with_capacity(program.steps.len());
    // The whole bytes of each raw step after renumbering, built once here and read
    // again below (JSON steps need only their length, counted without building).
    let mut raw_bytes: Vec<Option<Vec<u8>>> = Vec::with_capacity(program.steps.len());
    // Keys of the ids cancellations name (after renumbering).
    let mut cancelled: Vec<String> = Vec::new();
    for mut step in program.steps {
        let mut local: HashMap<String, Value> = HashMap::new();
        let mut raw = None;
        if let Some(v) = step.json.as_mut() {
            let cancellation =
                v.get("method").and_then(Value::as_str) == Some("notifications/cancelled");
            if cancellation {
                remap_cancellation(v, &latest);
            }
            renumber_json(v, alloc, &mut local);
            let tokens: Vec<(String, String)> = local
                .iter()
                .filter_map(|(old, new)| Some((token_of_key(old)?, id_token(new)?)))
                .collect();
            if !tokens.is_empty() {
                retoken_strings(v, &tokens);
            }
            if cancellation {
                if let Some(target) = v.pointer("/params/requestId") {
                    cancelled.push(key_of(target));
                }
            }
        } else if !step.close_stdin {
            let mut bytes = step.bytes();
            let changed = renumber_raw(&mut bytes, alloc, &mut local);
            // Text that kept its bytes would be set to the very same text.
            if changed || step.text.is_none() || step.base64.is_some() {
                step.set_raw(&bytes);
            }
            raw = Some(bytes);
        }
        latest.extend(local);
        steps.push(step);
        raw_bytes.push(raw);
    }
    let mut requests = Vec::new();
    let mut ids_sent = Vec::new();
    let mut clean_start = true;
    let mut closed = false;
    for (index, (step, raw)) in steps.iter().zip(&raw_bytes).enumerate() {
        if step.close_stdin {
            closed = true;
            continue;
        }
        // What `step.stdio_bytes()` holds: its length, and whether it ends a line.
        let whole_len = match raw {
            Some(bytes) => bytes.len(),
            None => step.bytes_len(),
        };
        let truncated = step.truncated_len_of(whole_len);
        let (stdio_len, ends_line) = match (truncated, raw) {
            (Some(n), _) => (n + 1, Some(true)),
            (None, Some(bytes)) => (whole_len, bytes.last().map(|b| *b == b'\n')),
            // A JSON message ends with its newline.
            (None, None) => (whole_len, Some(true)),
        };
        if let Some(v) = &step.json {
            collect_ids(v, &mut ids_sent);
            if let Some(req) = request_info(index, v, stdio_len, clean_start && !closed) {
                let cancelled_now = !cancelled.is_empty() && cancelled.contains(&key_of(&req.id));
                // A message cut short is no request: nothing is owed to it.
                let whole = truncated.is_none();
                let shares = step.coalesce || steps.get(index + 1).is_some_and(|n| n.coalesce);
                let delivery = if !whole {
                    "truncated"
                } else if step.drop_stream {
                    "dropped-stream"
                } else if step.session != 0 {
                    "second-session"
                } else if !step.split.is_empty() {
                    "split"
                } else if shares {
                    "shared-write"
                } else {
                    "whole"
                };
                requests.push(RequestInfo {
                    cancelled: cancelled_now,
                    demanded: req.demanded && !cancelled_now && whole,
                    well_formed: req.well_formed && !cancelled_now && whole,
                    delivery,
                    ..req
                });
            }
        } else if let Some(bytes) = raw {
            // The newline a truncated line ends with is part of no id.
            collect_raw_ids(&bytes[..truncated.unwrap_or(bytes.len())], &mut ids_sent);
        }
        clean_start = ends_line.unwrap_or(clean_start);
    }
    Prepared {
        steps,
        requests,
        ids_sent,
    }
}

/// `crate::session::id_key`, without the serialiser for the ids the fuzzer sends
/// (integers, and strings that need no escaping).
fn key_of(id: &Value) -> String {
    match id {
        Value::String(s) if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
            let mut key = String::with_capacity(s.len() + 2);
            key.push('"');
            key.push_str(s);
            key.push('"');
            key
        }
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => crate::session::id_key(id),
    }
}

/// Point a cancellation (a `notifications/cancelled` message) at the renumbered id
/// of the request it names.
fn remap_cancellation(v: &mut Value, latest: &HashMap<String, Value>) {
    if let Some(target) = v.get_mut("params").and_then(|p| p.get_mut("requestId")) {
        if let Some(new) = latest.get(&key_of(target)) {
            *target = new.clone();
        }
    }
}

/// The marker token of the id whose key this is.
fn token_of_key(key: &str) -> Option<String> {
    // Keys of the fuzzer's own ids, read without the parser.
    if let Some(inner) = key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        if is_str_id(inner) {
            return Some(inner.to_string());
        }
    } else if !key.is_empty()
        && key.len() < 20
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'))
    {
        // At most 19 digits: always a u64, whose token is its digits.
        return Some(key.to_string());
    }
    serde_json::from_str::<Value>(key)
        .ok()
        .and_then(|v| id_token(&v))
}

fn fresh_for(old: &Value, alloc: &mut IdAllocator, map: &mut HashMap<String, Value>) -> Value {
    let new = alloc.fresh_like(old);
    map.insert(key_of(old), new.clone());
    new
}

fn renumber_json(v: &mut Value, alloc: &mut IdAllocator, map: &mut HashMap<String, Value>) {
    match v {
        Value::Array(items) => {
            for item in items {
                renumber_json(item, alloc, map);
            }
        }
        Value::Object(obj) => {
            if let Some(id) = obj.get_mut("id") {
                if is_ours(id) {
                    *id = fresh_for(id, alloc, map);
                }
            }
        }
        _ => {}
    }
}

const STR_ID_WIDTH: usize = STR_ID_PREFIX.len() + STR_ID_DIGITS;

/// Is `bytes` (exactly) a string id the fuzzer allocated? The same as `is_str_id`
/// on those bytes as text.
fn is_str_id_bytes(bytes: &[u8]) -> bool {
    bytes.len() == STR_ID_WIDTH
        && bytes.starts_with(STR_ID_PREFIX.as_bytes())
        && bytes[STR_ID_PREFIX.len()..].iter().all(u8::is_ascii_digit)
}

/// Replace every `"fz-NNNNNNNNN"` token in raw bytes with a fresh one (same width),
/// in place. Returns whether any was found.
fn renumber_raw(
    bytes: &mut [u8],
    alloc: &mut IdAllocator,
    map: &mut HashMap<String, Value>,
) -> bool {
    let mut found = false;
    let mut i = 0;
    while i + STR_ID_WIDTH <= bytes.len() {
        let candidate = &bytes[i..i + STR_ID_WIDTH];
        if candidate[0] == b'f' && is_str_id_bytes(candidate) {
            found = true;
            let old = Value::String(String::from_utf8_lossy(candidate).into_owned());
            let key = key_of(&old);
            let new = match map.get(&key) {
                Some(v) => v.clone(),
                None => fresh_for(&old, alloc, map),
            };
            if let Some(s) = new.as_str() {
                bytes[i..i + STR_ID_WIDTH].copy_from_slice(s.as_bytes());
            }
            i += STR_ID_WIDTH;
        } else {
            i += 1;
        }
    }
    found
}

/// Point the markers `<<OLD|…>>` of renumbered ids at their new tokens. Every marker
/// is rewritten once, from the string as it was.
fn retoken_strings(v: &mut Value, tokens: &[(String, String)]) {
    match v {
        Value::String(s) if s.contains(MARKER_OPEN) => retoken_str(s, tokens),
        Value::Array(items) => items.iter_mut().for_each(|i| retoken_strings(i, tokens)),
        Value::Object(obj) => obj.values_mut().for_each(|i| retoken_strings(i, tokens)),
        _ => {}
    }
}

/// Make every `<<OLD|` of `tokens` in `s` `<<NEW|`.
fn retoken_str(s: &mut String, tokens: &[(String, String)]) {
    let mut i = 0;
    while let Some(at) = s[i..].find(MARKER_OPEN) {
        let open = i + at;
        let after = open + MARKER_OPEN.len();
        let rest = &s[after..];
        let hit = tokens.iter().find(|(old, _)| {
            rest.starts_with(old.as_str()) && rest[old.len()..].starts_with(MARKER_SEP)
        });
        match hit {
            Some((old, new)) => {
                s.replace_range(after..after + old.len(), new);
                i = after + new.len() + MARKER_SEP.len_utf8();
            }
            // `<` is one byte: the next `<<` may start one byte on.
            None => i = open + 1,
        }
    }
}

/// Every id (as a key) a step sends, in its JSON or among its raw bytes.
pub fn step_ids(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    match &step.json {
        Some(v) => collect_ids(v, &mut out),
        None => collect_raw_ids(&step.bytes(), &mut out),
    }
    out
}

fn collect_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_ids(i, out)),
        Value::Object(obj) => {
            if let Some(id) = obj.get("id") {
                out.push(key_of(id));
            }
        }
        _ => {}
    }
}

fn collect_raw_ids(bytes: &[u8], out: &mut Vec<String>) {
    for window in bytes.windows(STR_ID_WIDTH) {
        if window[0] == b'f' && is_str_id_bytes(window) {
            let mut key = String::with_capacity(STR_ID_WIDTH + 2);
            key.push('"');
            // An id is ASCII.
            key.extend(window.iter().map(|&b| char::from(b)));
            key.push('"');
            out.push(key);
        }
    }
}

fn request_info(step: usize, v: &Value, line_len: usize, clean_line: bool) -> Option<RequestInfo> {
    let obj = v.as_object()?;
    // One pass over the members instead of a hashed look-up per member.
    let (mut method, mut id, mut jsonrpc, mut params, mut answer) = (None, None, None, None, false);
    let mut extra_members = Vec::new();
    for (key, member) in obj {
        match key.as_str() {
            "method" => method = Some(member),
            "id" => id = Some(member),
            "jsonrpc" => jsonrpc = Some(member),
            "params" => params = Some(member),
            "result" | "error" => {
                answer = true;
                extra_members.push(key.clone());
            }
            _ => extra_members.push(key.clone()),
        }
    }
    let method = method?.as_str()?.to_string();
    let id = id?.clone();
    let well_formed = jsonrpc.and_then(Value::as_str) == Some("2.0")
        && (id.is_string() || id.as_i64().is_some() || id.as_u64().is_some())
        && params.is_none_or(Value::is_object)
        && !answer;
    let mut markers = Vec::new();
    if let Some(params) = params {
        collect_markers(params, &mut markers);
    }
    Some(RequestInfo {
        step,
        demanded: well_formed && clean_line,
        well_formed,
        oversize: line_len >= OVERSIZE_LINE,
        cancelled: false,
        shape: shape_of(&method, params, line_len),
        markers,
        method,
        id,
        extra_members,
        delivery: "whole",
    })
}

/// `method` plus the type class of every leaf of params, e.g.
/// `completion/complete argument.value:str0 ref.type:str`. Oversize lines are one class.
pub fn shape_of(method: &str, params: Option<&Value>, line_len: usize) -> String {
    if line_len >= OVERSIZE_LINE {
        return format!("{method} oversize");
    }
    let mut leaves = Vec::new();
    if let Some(p) = params {
        leaf_classes(p, &mut String::new(), 0, &mut leaves);
    }
    leaves.sort();
    leaves.dedup();
    leaves.truncate(24);
    if leaves.is_empty() {
        method.to_string()
    } else {
        format!("{method} {}", leaves.join(" "))
    }
}

/// `path:class` of every leaf under `v`; `path` is the dotted path to `v` and is
/// left as it was found.
fn leaf_classes(v: &Value, path: &mut String, depth: usize, out: &mut Vec<String>) {
    if depth > 6 {
        return;
    }
    let class = match v {
        Value::Object(obj) => {
            for (k, child) in obj {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(k);
                leaf_classes(child, path, depth + 1, out);
                path.truncate(len);
            }
            if !obj.is_empty() {
                return;
            }
            "obj0"
        }
        Value::Array(items) if items.is_empty() => "arr0",
        Value::Array(_) => "arr",
        Value::String(s) if s.is_empty() => "str0",
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    };
    let mut leaf = String::with_capacity(path.len() + 1 + class.len());
    leaf.push_str(path);
    leaf.push(':');
    leaf.push_str(class);
    out.push(leaf);
}

/// Every `<<TOKEN|payload>>` in the strings of `v`.
pub fn collect_markers(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.extend(markers_in(s)),
        Value::Array(items) => items.iter().for_each(|i| collect_markers(i, out)),
        Value::Object(obj) => obj.values().for_each(|i| collect_markers(i, out)),
        _ => {}
    }
}

/// Markers in one string; a marker whose closing `>>` is missing is ignored.
pub fn markers_in(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(MARKER_OPEN) {
        rest = &rest[start + MARKER_OPEN.len()..];
        let Some(sep) = rest.find(MARKER_SEP) else {
            break;
        };
        let token = &rest[..sep];
        if token.is_empty() || token.len() > 40 || token.contains(MARKER_OPEN) {
            continue;
        }
        let after = &rest[sep + MARKER_SEP.len_utf8()..];
        let Some(end) = after.find(MARKER_CLOSE) else {
            break;
        };
        out.push((token.to_string(), after[..end].to_string()));
        rest = &after[end + MARKER_CLOSE.len()..];
    }
    out
}

/// A unit of delivery: writes (optionally after waiting for answers), or closing stdin.
#[derive(Debug, Clone)]
pub enum Segment {
    Write {
        await_answers: bool,
        delivery: Delivery,
        /// Indices of the steps whose bytes this write group carries.
        steps: Vec<usize>,
    },
    Close,
}

/// Cut the steps into deliveries: pieces at the split offsets, delays before pieces,
/// coalesced steps sharing a write, a new segment at every await and at close.
pub fn segments(steps: &[Step]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut pieces: Vec<(Duration, Vec<u8>)> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    let flush = |pieces: &mut Vec<(Duration, Vec<u8>)>,
                 members: &mut Vec<usize>,
                 out: &mut Vec<Segment>| {
        if pieces.is_empty() {
            return;
        }
        let mut delivery = Delivery::default();
        for (delay, bytes) in pieces.drain(..) {
            delivery = delivery.then(delay, Delivery::whole(bytes));
        }
        out.push(Segment::Write {
            await_answers: false,
            delivery,
            steps: std::mem::take(members),
        });
    };
    for (index, step) in steps.iter().enumerate() {
        if step.close_stdin {
            flush(&mut pieces, &mut members, &mut out);
            out.push(Segment::Close);
            break;
        }
        if step.await_answers {
            flush(&mut pieces, &mut members, &mut out);
        }
        let bytes = step.stdio_bytes();
        if bytes.is_empty() {
            continue;
        }
        let delay = Duration::from_millis(step.delay_ms.min(1000));
        let mut cuts: Vec<usize> = step
            .split
            .iter()
            .copied()
            .filter(|&c| c > 0 && c < bytes.len())
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let joins_last = step.coalesce && !pieces.is_empty();
        if cuts.is_empty() && !joins_last {
            // One piece of its own: the bytes themselves.
            pieces.push((delay, bytes));
            members.push(index);
            continue;
        }
        let mut start = 0;
        for (n, end) in cuts
            .into_iter()
            .chain(std::iter::once(bytes.len()))
            .enumerate()
        {
            let piece = &bytes[start..end];
            start = end;
            match pieces.last_mut() {
                Some((_, last)) if n == 0 && step.coalesce => last.extend_from_slice(piece),
                _ => pieces.push((delay, piece.to_vec())),
            }
        }
        members.push(index);
    }
    flush(&mut pieces, &mut members, &mut out);
    recompute_awaits(steps, &mut out);
    out
}

/// A segment waits when its first step asked to.
fn recompute_awaits(steps: &[Step], segments: &mut [Segment]) {
    for seg in segments {
        if let Segment::Write {
            await_answers,
            steps: members,
            ..
        } = seg
        {
            *await_answers = members
                .first()
                .and_then(|&i| steps.get(i))
                .is_some_and(|s| s.await_answers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Any JSON value: control characters, quotes and backslashes in strings and
    /// keys, integers of both signs, floats, nesting.
    fn any_json() -> impl Strategy<Value = Value> {
        let text = prop_oneof![any::<String>(), "[\\x00-\\x1f\"\\\\a-z\u{7f}é🦀<|>]{0,12}",];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(text.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn json_lengths_are_the_serialised_lengths(v in any_json()) {
            let line = Step::json(v.clone());
            prop_assert_eq!(line.bytes_len(), line.bytes().len());
            prop_assert_eq!(json_len(&v), serde_json::to_vec(&v).unwrap().len());
            prop_assert!(line.ends_line());
        }

        #[test]
        fn keys_are_the_sessions_keys(v in any_json()) {
            prop_assert_eq!(key_of(&v), crate::session::id_key(&v));
            let key = crate::session::id_key(&v);
            let parsed = serde_json::from_str::<Value>(&key).ok().and_then(|v| id_token(&v));
            prop_assert_eq!(token_of_key(&key), parsed);
        }

        #[test]
        fn raw_steps_know_their_length_and_line_end(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let step = Step::raw(&bytes);
            prop_assert_eq!(step.bytes_len(), bytes.len());
            prop_assert_eq!(step.ends_line(), bytes.last() == Some(&b'\n'));
        }

        /// One pass gives what replacing each `<<OLD|` in turn gives, as long as no
        /// new token is also an old one (then the turns would depend on their order).
        #[test]
        fn markers_are_retokened_as_by_replacing_each(
            parts in prop::collection::vec(
                prop_oneof![
                    Just("<<".to_string()),
                    Just("<".to_string()),
                    Just("|".to_string()),
                    Just("fz-000000001".to_string()),
                    Just("1000000002".to_string()),
                    Just(">>é".to_string()),
                    "[a-z|<]{0,3}",
                ],
                0..14,
            )
        ) {
            let s: String = parts.concat();
            let tokens = vec![
                ("fz-000000001".to_string(), "fz-000000077".to_string()),
                ("1000000002".to_string(), "1000000078".to_string()),
            ];
            let mut expected = s.clone();
            for (old, new) in &tokens {
                expected = expected.replace(
                    &format!("{MARKER_OPEN}{old}{MARKER_SEP}"),
                    &format!("{MARKER_OPEN}{new}{MARKER_SEP}"),
                );
            }
            let mut got = s.clone();
            retoken_str(&mut got, &tokens);
            prop_assert_eq!(got, expected);
        }

        /// Raw ids are found at every offset, as a check of each window as text finds them.
        #[test]
        fn raw_ids_are_found_byte_by_byte(
            parts in prop::collection::vec(
                prop_oneof![
                    Just(b"fz-000000001".to_vec()),
                    Just(b"fz-".to_vec()),
                    Just(b"f".to_vec()),
                    Just(b"123456789".to_vec()),
                    Just(vec![0xff, 0xc3]),
                    prop::collection::vec(any::<u8>(), 0..4),
                ],
                0..10,
            )
        ) {
            let bytes = parts.concat();
            let width = STR_ID_PREFIX.len() + STR_ID_DIGITS;
            let expected: Vec<String> = bytes
                .windows(width)
                .filter_map(|w| std::str::from_utf8(w).ok().filter(|s| is_str_id(s)))
                .map(|s| crate::session::id_key(&Value::String(s.to_string())))
                .collect();
            let mut got = Vec::new();
            collect_raw_ids(&bytes, &mut got);
            prop_assert_eq!(got, expected);
        }
    }

    fn ping(id: Value) -> Step {
        Step::json(json!({"jsonrpc":"2.0","id":id,"method":"ping"}))
    }

    #[test]
    fn concatenated_inputs_start_on_their_own_line_and_stop_at_a_close() {
        let unterminated = Program::new(vec![Step::raw(b"{\"jsonrpc\":")]);
        let mut awaiting = ping(json!("fz-000000001"));
        awaiting.await_answers = true;
        awaiting.coalesce = true;
        let second = Program::new(vec![awaiting, Step::close()]);
        let third = Program::new(vec![ping(json!(1))]);
        let (joined, starts) = Program::concat(&[unterminated, second, third]);
        assert_eq!(starts, vec![0, 2]);
        assert_eq!(joined.steps.len(), 4, "{:?}", joined.steps);
        assert_eq!(joined.steps[1].bytes(), b"\n");
        assert!(joined.steps[1].coalesce);
        assert!(!joined.steps[2].await_answers && !joined.steps[2].coalesce);
        assert!(joined.steps[3].close_stdin);
    }

    #[test]
    fn step_round_trips_through_json() {
        let mut s = ping(json!(INT_ID_BASE));
        s.split = vec![3, 9];
        s.delay_ms = 5;
        s.await_answers = true;
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"await\":true"), "{text}");
        let back: Step = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        let raw = Step::raw(b"\xff\xfe{\n");
        assert!(raw.base64.is_some());
        assert_eq!(raw.bytes(), b"\xff\xfe{\n");
        assert!(Step::raw(b"abc").text.is_some());
        assert!(Step::default().check().is_err());
        assert!(Step::close().check().is_ok());
    }

    #[test]
    fn http_schedules_round_trip_and_are_checked() {
        let plain = ping(json!(INT_ID_BASE));
        let text = serde_json::to_string(&plain).unwrap();
        assert!(
            !text.contains("truncate")
                && !text.contains("drop_stream")
                && !text.contains("session"),
            "{text}"
        );
        let mut s = plain.clone();
        s.truncate = Some(7);
        s.drop_stream = true;
        s.session = 1;
        let text = serde_json::to_string(&s).unwrap();
        for field in ["\"truncate\":7", "\"drop_stream\":true", "\"session\":1"] {
            assert!(text.contains(field), "{text}");
        }
        let back: Step = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert!(back.check().is_ok());
        s.session = 2;
        assert!(s.check().is_err());
        let mut close = Step::close();
        close.truncate = Some(1);
        assert!(close.check().is_err());
    }

    #[test]
    fn a_truncated_request_is_owed_nothing_and_ends_its_line_over_stdio() {
        let mut cut = ping(json!("fz-000000001"));
        cut.truncate = Some(10);
        cut.split = vec![4, 30];
        let whole = ping(json!("fz-000000002"));
        assert_eq!(cut.truncated_len(), Some(10));
        let mut beyond = whole.clone();
        beyond.truncate = Some(10_000);
        assert_eq!(beyond.truncated_len(), Some(whole.bytes().len() - 1));
        let line = cut.stdio_bytes();
        assert_eq!(line.len(), 11);
        assert_eq!(&line[..10], &cut.bytes()[..10]);
        assert_eq!(line.last(), Some(&b'\n'));

        let p = prepare(&Program::new(vec![cut, whole]), &mut IdAllocator::default());
        assert_eq!(p.requests.len(), 2);
        assert!(!p.requests[0].demanded && !p.requests[0].well_formed);
        assert_eq!(p.requests[0].delivery, "truncated");
        // The cut line ended, so the next request stands on a clean line.
        assert!(p.requests[1].demanded);
        match &segments(&p.steps)[0] {
            Segment::Write { delivery, .. } => {
                let pieces = delivery.pieces();
                assert_eq!(pieces[0].bytes.len(), 4);
                assert_eq!(pieces[1].bytes.len(), 7);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn renumbering_keeps_width_and_references() {
        let program = Program::new(vec![
            Step::json(
                json!({"jsonrpc":"2.0","id":"fz-000000000","method":"tools/call",
                "params":{"name":"echo","arguments":{"text":"<<fz-000000000|é>>"}}}),
            ),
            Step::json(json!({"jsonrpc":"2.0","method":"notifications/cancelled",
                "params":{"requestId":"fz-000000000"}})),
            Step::json(json!({"jsonrpc":"2.0","id":INT_ID_BASE,"method":"ping"})),
            Step::raw(b"{\"jsonrpc\":\"2.0\",\"id\":\"fz-000000007\",\"method\":\"ping\"}\r\n"),
        ]);
        let mut alloc = IdAllocator { next: 41 };
        let p = prepare(&program, &mut alloc);
        let first = p.steps[0].json.as_ref().unwrap();
        assert_eq!(first["id"], json!("fz-000000041"));
        assert_eq!(
            first["params"]["arguments"]["text"],
            json!("<<fz-000000041|é>>")
        );
        assert_eq!(
            p.steps[1].json.as_ref().unwrap()["params"]["requestId"],
            json!("fz-000000041")
        );
        assert_eq!(
            p.steps[2].json.as_ref().unwrap()["id"],
            json!(INT_ID_BASE + 42)
        );
        assert_eq!(
            p.steps[3].bytes(),
            b"{\"jsonrpc\":\"2.0\",\"id\":\"fz-000000043\",\"method\":\"ping\"}\r\n"
        );
        for (a, b) in program.steps.iter().zip(&p.steps) {
            assert_eq!(a.bytes().len(), b.bytes().len());
        }
        // The cancelled call need not be answered; the ping must be.
        assert_eq!(p.requests.len(), 2);
        assert!(p.requests[0].cancelled && !p.requests[0].demanded);
        assert_eq!(
            p.requests[0].markers,
            vec![("fz-000000041".into(), "é".into())]
        );
        assert!(p.requests[1].demanded);
        assert_eq!(p.ids_sent.len(), 3);
    }

    #[test]
    fn a_request_after_an_unterminated_line_is_not_demanded() {
        let program = Program::new(vec![
            Step::raw(b"garbage"),
            ping(json!(INT_ID_BASE)),
            ping(json!(INT_ID_BASE + 1)),
            Step::json(json!({"jsonrpc":"2.0","id":INT_ID_BASE + 2,"method":"ping","params":[]})),
        ]);
        let p = prepare(&program, &mut IdAllocator::default());
        let demanded: Vec<bool> = p.requests.iter().map(|r| r.demanded).collect();
        assert_eq!(demanded, vec![false, true, false]);
    }

    #[test]
    fn segments_cut_coalesce_and_await() {
        let mut a = ping(json!(INT_ID_BASE));
        a.split = vec![5];
        a.delay_ms = 3;
        let mut b = ping(json!(INT_ID_BASE + 1));
        b.coalesce = true;
        let mut c = ping(json!(INT_ID_BASE + 2));
        c.await_answers = true;
        let segs = segments(&[
            a.clone(),
            b.clone(),
            c.clone(),
            Step::close(),
            ping(json!(1)),
        ]);
        assert_eq!(segs.len(), 3);
        match &segs[0] {
            Segment::Write {
                await_answers,
                delivery,
                steps,
            } => {
                assert!(!await_answers);
                assert_eq!(steps, &vec![0, 1]);
                let pieces = delivery.pieces();
                assert_eq!(pieces.len(), 2);
                assert_eq!(pieces[0].bytes.len(), 5);
                assert_eq!(pieces[0].delay_before, Duration::from_millis(3));
                // b's bytes ride in a's last write.
                assert_eq!(pieces[1].bytes.len(), a.bytes().len() - 5 + b.bytes().len());
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&segs[1], Segment::Write { await_answers: true, steps, .. } if steps == &vec![2])
        );
        assert!(matches!(segs[2], Segment::Close));
    }

    #[test]
    fn markers_are_found_and_shapes_are_coarse() {
        assert_eq!(
            markers_in("x <<7|ab>> y <<fz-1|c>>"),
            vec![("7".into(), "ab".into()), ("fz-1".into(), "c".into())]
        );
        assert!(markers_in("<<7|unterminated").is_empty());
        assert_eq!(
            shape_of(
                "completion/complete",
                Some(&json!({"argument":{"name":"n","value":""},"ref":{"type":"x"}})),
                10
            ),
            "completion/complete argument.name:str argument.value:str0 ref.type:str"
        );
        assert_eq!(shape_of("ping", None, OVERSIZE_LINE), "ping oversize");
    }
}
