//! Generating and mutating fuzz inputs.
//!
//! A [`Plan`] is drawn with the `arbitrary` crate from bytes the seeded engine RNG
//! produces; it only says *what kind* of message each step is and how it is delivered.
//! [`materialise`] turns it into a concrete [`Program`] using the server's own surface
//! (tool names and schemas, resource URIs, prompt arguments, cursors). Mutations work
//! on concrete programs, so corpus entries and reproducers share one format.

use super::program::{str_id, IdAllocator, Program, Step, MARKER_CLOSE, MARKER_OPEN, MARKER_SEP};
use super::surface::{expand_template, Surface};
use arbitrary::{Arbitrary, Unstructured};
use rand::{Rng, RngExt};
use serde_json::{json, Map, Value};

/// Steps in one generated input, and the most a mutated input may have.
pub const MAX_GENERATED_STEPS: usize = 8;
pub const MAX_STEPS: usize = 16;

/// What each step of an input is and how it travels.
#[derive(Debug, Clone, Arbitrary)]
pub struct Plan {
    pub steps: Vec<StepPlan>,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct StepPlan {
    pub what: What,
    pub delivery: DeliveryPlan,
    /// Integer id instead of a string id.
    pub int_id: bool,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum What {
    Ping {
        with_params: bool,
    },
    List {
        kind: u8,
        cursor: u8,
    },
    CallTool {
        tool: u8,
        args: ArgsPlan,
    },
    ReadResource {
        pick: u8,
        template: bool,
        value: u8,
    },
    GetPrompt {
        pick: u8,
        args: ArgsPlan,
    },
    Complete {
        pick: u8,
        argument: u8,
        value: u8,
        context: bool,
    },
    SetLevel {
        level: u8,
    },
    Subscribe {
        pick: u8,
        unsubscribe: bool,
    },
    UnknownMethod {
        pick: u8,
    },
    Notify {
        kind: NotifyKind,
    },
    NearValid {
        base: u8,
        defect: Defect,
    },
    Invalid {
        kind: InvalidKind,
        depth: u8,
    },
    Oversize {
        pad: u8,
    },
    CloseStdin {
        chance: u8,
    },
    /// Several tool calls (or pings) in one write: requests in flight together.
    Burst {
        tool: u8,
        count: u8,
        args: ArgsPlan,
    },
}

#[derive(Debug, Clone, Arbitrary)]
pub struct ArgsPlan {
    /// Below 170: valid arguments; then missing required, wrong type, extra key,
    /// no arguments at all, arguments not an object.
    pub variant: u8,
    /// Which optional properties to include (bit per property).
    pub optional: u8,
    pub picks: [u8; 4],
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum NotifyKind {
    Initialized,
    RootsListChanged,
    CancelInFlight,
    CancelUnknown,
    CancelWithoutParams,
    Progress,
    Unknown,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Defect {
    ParamsArray,
    ParamsString,
    ParamsNull,
    NoJsonrpc,
    JsonrpcWrong,
    IdNull,
    IdFloat,
    IdObject,
    IdBool,
    MethodNumber,
    MethodMissing,
    MethodCase,
    MethodWhitespace,
    ExtraMember,
    ResultAndMethod,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum InvalidKind {
    NotJson,
    Truncated,
    EmptyLine,
    WhitespaceLine,
    InvalidUtf8InString,
    InvalidUtf8Bare,
    DeepNesting,
    CrlfRequest,
    BomPrefix,
    TrailingGarbage,
    NulByte,
    Batch,
    EmptyBatch,
    NotAnObject,
    TwoOnOneLine,
    NoNewline,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct DeliveryPlan {
    pub cut: Cut,
    /// 255: 1 ms before each piece, otherwise none. Delays are idle time for both
    /// sides, so they are kept rare and short.
    pub delay: u8,
    pub coalesce: bool,
    /// Below 4: wait for every answer of the input so far before this step.
    pub await_answers: u8,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum Cut {
    Whole,
    WholeToo,
    InsideMultibyte(u16),
    InsideToken(u16),
    Anywhere(u16),
    Several(u16, u16, u16),
    Halves,
}

/// Strings that tend to break things (kept printable and harmless: no paths).
const STRINGS: &[&str] = &[
    "",
    "a",
    "é世🦀",
    " ",
    "\u{0}",
    "\\",
    "\"quoted\"",
    "line\nbreak",
    "%00%ff",
    "{}",
    "null",
    "\u{202e}rtl\u{feff}",
    "𝕏𝕐ℤ",
    "0",
];

/// Marker payloads: multi-byte characters so that splits land inside them.
const PAYLOADS: &[&str] = &["é世🦀", "ü", "日本語テキスト", "🦀🦀", "ascii", "ñ€𐍈"];

const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
    "INFO",
    "verbose",
];

const UNKNOWN_METHODS: &[&str] = &[
    "mcpspec/unknown",
    "tools/unknown",
    "resources/delete",
    "",
    "rpc.discover",
    "Ping",
];

/// Generate a fresh program from engine randomness.
pub fn generate(rng: &mut impl Rng, surface: &Surface, alloc: &mut IdAllocator) -> Program {
    let count = rng.random_range(1..=MAX_GENERATED_STEPS);
    let mut bytes = vec![0u8; 64 * count];
    rng.fill_bytes(&mut bytes);
    let mut u = Unstructured::new(&bytes);
    let mut plan = Plan { steps: Vec::new() };
    for _ in 0..count {
        match StepPlan::arbitrary(&mut u) {
            Ok(step) => plan.steps.push(step),
            Err(_) => break,
        }
    }
    if plan.steps.is_empty() {
        plan.steps.push(StepPlan {
            what: What::Ping { with_params: false },
            delivery: DeliveryPlan {
                cut: Cut::Whole,
                delay: 0,
                coalesce: false,
                await_answers: 255,
            },
            int_id: true,
        });
    }
    let mut program = materialise(&plan, surface, alloc);
    if surface.http {
        // Drawn after the plan, and only over HTTP: stdio inputs stay as they were.
        http_schedules(&mut program, rng);
    }
    program
}

/// Is this step a request (something owed an answer when sent whole)?
fn is_request(step: &Step) -> bool {
    step.json
        .as_ref()
        .is_some_and(|v| v.get("method").is_some() && v.get("id").is_some())
}

/// The HTTP-only delivery schedules, drawn for a generated input: a POST body cut
/// short of its `Content-Length`, an SSE answer dropped after its first event and
/// resumed, and a second session whose steps are posted concurrently with the
/// first session's. Each costs connections and waits (together about a tenth of the
/// clean fixture's HTTP rate), so each is rare and most inputs stay plain.
fn http_schedules(program: &mut Program, rng: &mut impl Rng) {
    let n = program.steps.len();
    for step in program.steps.iter_mut() {
        if step.close_stdin {
            continue;
        }
        match rng.random_range(0..32) {
            0 => {
                let len = step.bytes_len();
                if len > 1 {
                    step.truncate = Some(rng.random_range(0..len));
                }
            }
            1 | 2 if is_request(step) => step.drop_stream = true,
            _ => {}
        }
    }
    if n > 1 && rng.random_range(0..8) == 0 {
        // A second session: some later steps go there, each posted together with the
        // step before it (concurrent requests on both sessions).
        for i in 1..n {
            let step = &mut program.steps[i];
            if !step.close_stdin && rng.random_bool(0.5) {
                step.session = 1;
                step.coalesce = true;
            }
        }
    }
}

/// Decode raw bytes (a libFuzzer input) into a program: the first byte sets the number
/// of steps, the rest is drawn with `arbitrary` exactly as [`generate`] draws from the
/// engine RNG. Any bytes give a program; the same bytes and surface give the same one.
pub fn from_bytes(bytes: &[u8], surface: &Surface, alloc: &mut IdAllocator) -> Program {
    let (count, rest) = match bytes.split_first() {
        Some((first, rest)) => (1 + usize::from(*first) % MAX_GENERATED_STEPS, rest),
        None => (1, bytes),
    };
    let mut u = Unstructured::new(rest);
    let mut plan = Plan { steps: Vec::new() };
    for _ in 0..count {
        if u.is_empty() {
            break;
        }
        match StepPlan::arbitrary(&mut u) {
            Ok(step) => plan.steps.push(step),
            Err(_) => break,
        }
    }
    materialise(&plan, surface, alloc)
}

/// Turn a plan into concrete messages and delivery.
pub fn materialise(plan: &Plan, surface: &Surface, alloc: &mut IdAllocator) -> Program {
    let mut steps = Vec::new();
    let mut in_flight: Vec<Value> = Vec::new();
    for sp in &plan.steps {
        let id = if sp.int_id {
            alloc.fresh_like(&json!(0))
        } else {
            alloc.fresh_string()
        };
        if let What::Burst { tool, count, args } = &sp.what {
            let n = 3 + usize::from(*count % 4);
            for k in 0..n {
                let id = if k == 0 {
                    id.clone()
                } else {
                    alloc.fresh_like(&id)
                };
                let what = What::CallTool {
                    tool: *tool,
                    args: args.clone(),
                };
                let plan = StepPlan {
                    what,
                    delivery: sp.delivery.clone(),
                    int_id: sp.int_id,
                };
                if let Some(mut step) = build_step(&plan, &id, surface, &in_flight, alloc) {
                    in_flight.push(id.clone());
                    apply_delivery(&mut step, &sp.delivery, !steps.is_empty());
                    // Every call after the first rides in the same write.
                    step.coalesce = k > 0 || step.coalesce;
                    step.split.clear();
                    step.delay_ms = 0;
                    steps.push(step);
                }
            }
            continue;
        }
        let Some(mut step) = build_step(sp, &id, surface, &in_flight, alloc) else {
            continue;
        };
        if step.close_stdin {
            steps.push(step);
            break;
        }
        if step
            .json
            .as_ref()
            .is_some_and(|v| v.get("id") == Some(&id) && v.get("method").is_some())
        {
            in_flight.push(id.clone());
        }
        apply_delivery(&mut step, &sp.delivery, !steps.is_empty());
        steps.push(step);
    }
    steps.truncate(MAX_STEPS);
    if steps.is_empty() {
        steps.push(Step::json(request(&alloc.fresh_string(), "ping", None)));
    }
    Program::new(steps)
}

fn request(id: &Value, method: &str, params: Option<Value>) -> Value {
    crate::session::request_message(id, method, params)
}

fn pick<T>(items: &[T], n: u8) -> Option<&T> {
    if items.is_empty() {
        None
    } else {
        items.get(n as usize % items.len())
    }
}

fn marker(id: &Value, payload: &str) -> String {
    let token = super::program::id_token(id).unwrap_or_default();
    format!("{MARKER_OPEN}{token}{MARKER_SEP}{payload}{MARKER_CLOSE}")
}

fn build_step(
    sp: &StepPlan,
    id: &Value,
    surface: &Surface,
    in_flight: &[Value],
    alloc: &mut IdAllocator,
) -> Option<Step> {
    let message = match &sp.what {
        What::Ping { with_params } => {
            request(id, "ping", with_params.then(|| json!({ "_meta": {} })))
        }
        What::List { kind, cursor } => {
            let methods = [
                "tools/list",
                "resources/list",
                "resources/templates/list",
                "prompts/list",
            ];
            let method = pick(&methods, *kind)?;
            let valid: Vec<&Value> = surface
                .cursors
                .iter()
                .filter(|(m, _)| m == method)
                .map(|(_, c)| c)
                .collect();
            let params = match cursor % 8 {
                0..=3 => None,
                4 | 5 => pick(&valid, *cursor).map(|c| json!({ "cursor": c })),
                6 => Some(json!({ "cursor": "bogus-cursor" })),
                _ => Some(json!({ "cursor": "" })),
            };
            request(id, method, params)
        }
        What::CallTool { tool, args } => {
            let tools = surface.safe_tools();
            match pick(&tools, *tool) {
                Some(t) => {
                    let arguments = tool_arguments(&t.schema, args, id);
                    let mut params = json!({ "name": t.name });
                    if let Some(a) = arguments {
                        params["arguments"] = a;
                    }
                    request(id, "tools/call", Some(params))
                }
                // No tool is safe to call: ask for one that does not exist.
                None => request(
                    id,
                    "tools/call",
                    Some(json!({"name": "mcpspec-no-such-tool", "arguments": {}})),
                ),
            }
        }
        What::ReadResource {
            pick: n,
            template,
            value,
        } => {
            let uri = if *template && !surface.templates.is_empty() {
                let t = pick(&surface.templates, *n)?;
                let v = ["1", "2", "0", "999999", "", "é", "a b"];
                expand_template(t, pick(&v, *value).copied().unwrap_or("1"))
            } else {
                match pick(&surface.resources, *n) {
                    Some(uri) => uri.clone(),
                    None => "mcpspec://no-such-resource".into(),
                }
            };
            request(id, "resources/read", Some(json!({ "uri": uri })))
        }
        What::GetPrompt { pick: n, args } => match pick(&surface.prompts, *n) {
            Some(p) => {
                let mut arguments = Map::new();
                for (i, (name, required)) in p.arguments.iter().enumerate() {
                    if *required || args.optional & (1 << (i % 8)) != 0 {
                        let choice = args.picks[i % 4];
                        let text = if choice % 3 == 0 {
                            marker(id, pick(PAYLOADS, choice).copied().unwrap_or("x"))
                        } else {
                            pick(STRINGS, choice).copied().unwrap_or("x").to_string()
                        };
                        arguments.insert(name.clone(), json!(text));
                    }
                }
                let mut params = json!({ "name": p.name });
                match args.variant {
                    0..=199 => params["arguments"] = Value::Object(arguments),
                    200..=219 => {}
                    220..=239 => params["arguments"] = json!({ "x": 1 }),
                    _ => params["arguments"] = json!(["not", "an", "object"]),
                }
                request(id, "prompts/get", Some(params))
            }
            None => request(
                id,
                "prompts/get",
                Some(json!({"name": "mcpspec-no-such-prompt"})),
            ),
        },
        What::Complete {
            pick: n,
            argument,
            value,
            context,
        } => {
            let refs = surface.completion_refs();
            let (reference, names) = pick(&refs, *n).cloned().unwrap_or((
                json!({"type": "ref/prompt", "name": "mcpspec-none"}),
                vec![],
            ));
            let name = pick(&names, *argument)
                .cloned()
                .unwrap_or_else(|| "x".into());
            let values = ["", "a", "A", "1", "é", "zz", "\u{0}"];
            let mut params = json!({
                "ref": reference,
                "argument": { "name": name, "value": pick(&values, *value).copied().unwrap_or("") }
            });
            if *context {
                params["context"] = json!({ "arguments": {} });
            }
            request(id, "completion/complete", Some(params))
        }
        What::SetLevel { level } => request(
            id,
            "logging/setLevel",
            Some(json!({ "level": pick(LOG_LEVELS, *level).copied().unwrap_or("info") })),
        ),
        What::Subscribe {
            pick: n,
            unsubscribe,
        } => {
            let uri = pick(&surface.resources, *n)
                .cloned()
                .unwrap_or_else(|| "mcpspec://no-such-resource".into());
            let method = if *unsubscribe {
                "resources/unsubscribe"
            } else {
                "resources/subscribe"
            };
            request(id, method, Some(json!({ "uri": uri })))
        }
        What::UnknownMethod { pick: n } => request(
            id,
            pick(UNKNOWN_METHODS, *n).copied().unwrap_or("x/y"),
            None,
        ),
        What::Notify { kind } => notification(*kind, in_flight, alloc),
        What::NearValid { base, defect } => near_valid(base_request(*base, id, surface), *defect),
        What::Invalid { kind, depth } => return Some(invalid(*kind, *depth, id)),
        What::Oversize { pad } => oversize(*pad, id, surface),
        // Expanded by `materialise`.
        What::Burst { .. } => return None,
        What::CloseStdin { chance } => {
            // Rare: every close costs a restart.
            return (*chance < 6).then(Step::close);
        }
    };
    Some(Step::json(message))
}

fn notification(kind: NotifyKind, in_flight: &[Value], alloc: &mut IdAllocator) -> Value {
    let note = |method: &str, params: Option<Value>| {
        let mut m = json!({ "jsonrpc": "2.0", "method": method });
        if let Some(p) = params {
            m["params"] = p;
        }
        m
    };
    match kind {
        NotifyKind::Initialized => note("notifications/initialized", None),
        NotifyKind::RootsListChanged => note("notifications/roots/list_changed", None),
        NotifyKind::CancelInFlight => match in_flight.last() {
            Some(target) => note(
                "notifications/cancelled",
                Some(json!({ "requestId": target, "reason": "mcpspec fuzz" })),
            ),
            None => note(
                "notifications/cancelled",
                Some(json!({ "requestId": alloc.fresh_string() })),
            ),
        },
        NotifyKind::CancelUnknown => note(
            "notifications/cancelled",
            Some(json!({ "requestId": str_id(999_999_999) })),
        ),
        NotifyKind::CancelWithoutParams => note("notifications/cancelled", None),
        NotifyKind::Progress => note(
            "notifications/progress",
            Some(json!({ "progressToken": "mcpspec-token", "progress": 1, "total": 2 })),
        ),
        NotifyKind::Unknown => note("notifications/mcpspec_fuzz", Some(json!({}))),
    }
}

/// A well-formed request to damage.
fn base_request(n: u8, id: &Value, surface: &Surface) -> Value {
    match n % 4 {
        0 => request(id, "ping", None),
        1 => request(id, "tools/list", None),
        2 => match surface.safe_tools().first() {
            Some(t) => request(
                id,
                "tools/call",
                Some(json!({"name": t.name, "arguments": {}})),
            ),
            None => request(id, "resources/list", None),
        },
        _ => request(id, "prompts/list", Some(json!({}))),
    }
}

fn near_valid(mut m: Value, defect: Defect) -> Value {
    let Some(obj) = m.as_object_mut() else {
        return m;
    };
    match defect {
        Defect::ParamsArray => {
            obj.insert("params".into(), json!([]));
        }
        Defect::ParamsString => {
            obj.insert("params".into(), json!("params"));
        }
        Defect::ParamsNull => {
            obj.insert("params".into(), Value::Null);
        }
        Defect::NoJsonrpc => {
            obj.remove("jsonrpc");
        }
        Defect::JsonrpcWrong => {
            obj.insert("jsonrpc".into(), json!("1.0"));
        }
        Defect::IdNull => {
            obj.insert("id".into(), Value::Null);
        }
        Defect::IdFloat => {
            obj.insert("id".into(), json!(1.5));
        }
        Defect::IdObject => {
            obj.insert("id".into(), json!({}));
        }
        Defect::IdBool => {
            obj.insert("id".into(), json!(true));
        }
        Defect::MethodNumber => {
            obj.insert("method".into(), json!(42));
        }
        Defect::MethodMissing => {
            obj.remove("method");
        }
        Defect::MethodCase => {
            let upper = obj
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_uppercase();
            obj.insert("method".into(), json!(upper));
        }
        Defect::MethodWhitespace => {
            let padded = format!(
                " {} ",
                obj.get("method")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            obj.insert("method".into(), json!(padded));
        }
        Defect::ExtraMember => {
            obj.insert("mcpspecExtra".into(), json!(1));
        }
        Defect::ResultAndMethod => {
            obj.insert("result".into(), json!({}));
        }
    }
    m
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn invalid(kind: InvalidKind, depth: u8, id: &Value) -> Step {
    // Raw lines only ever carry string ids, which renumbering finds by their bytes.
    let sid = match id {
        Value::String(_) => id.clone(),
        _ => json!(str_id(0)),
    };
    let ping = compact(&request(&sid, "ping", None));
    let bytes: Vec<u8> = match kind {
        InvalidKind::NotJson => b"hello from mcpspec fuzz\n".to_vec(),
        InvalidKind::Truncated => format!("{}\n", &ping[..ping.len() - 1]).into_bytes(),
        InvalidKind::EmptyLine => b"\n".to_vec(),
        InvalidKind::WhitespaceLine => b" \t \n".to_vec(),
        InvalidKind::InvalidUtf8InString => {
            let mut b =
                br#"{"jsonrpc":"2.0","method":"notifications/mcpspec_fuzz","params":{"s":""#
                    .to_vec();
            b.extend_from_slice(b"\xff\xfe\xc3");
            b.extend_from_slice(b"\"}}\n");
            b
        }
        InvalidKind::InvalidUtf8Bare => b"\xc3\x28\xa0\xa1\n".to_vec(),
        InvalidKind::DeepNesting => {
            let levels = match depth % 4 {
                0 => 100,
                1 => 600,
                2 => 5_000,
                _ => 60_000,
            };
            let mut s = String::from(
                r#"{"jsonrpc":"2.0","method":"notifications/mcpspec_fuzz","params":{"deep":"#,
            );
            s.push_str(&"[".repeat(levels));
            s.push_str(&"]".repeat(levels));
            s.push_str("}}\n");
            s.into_bytes()
        }
        InvalidKind::CrlfRequest => format!("{ping}\r\n").into_bytes(),
        InvalidKind::BomPrefix => format!("\u{feff}{ping}\n").into_bytes(),
        InvalidKind::TrailingGarbage => format!("{ping} trailing\n").into_bytes(),
        InvalidKind::NulByte => b"\0\n".to_vec(),
        InvalidKind::Batch => format!("[{ping}]\n").into_bytes(),
        InvalidKind::EmptyBatch => b"[]\n".to_vec(),
        InvalidKind::NotAnObject => b"42\n".to_vec(),
        InvalidKind::TwoOnOneLine => format!("{ping}{ping}\n").into_bytes(),
        InvalidKind::NoNewline => ping.into_bytes(),
    };
    Step::raw(&bytes)
}

fn oversize(pad: u8, id: &Value, surface: &Surface) -> Value {
    // One in eight is past 64 KiB; the others are merely long (1–5 KiB): every
    // oversize line costs the server a full parse and the pipe several round trips.
    let len = if pad < 32 {
        70_000 + usize::from(pad) * 128
    } else {
        1024 + usize::from(pad) * 16
    };
    let tools = surface.safe_tools();
    let text_tool = tools
        .iter()
        .find(|t| first_string_property(&t.schema).is_some());
    match text_tool {
        Some(t) if pad.is_multiple_of(2) => {
            let mut args = tool_arguments(
                &t.schema,
                &ArgsPlan {
                    variant: 0,
                    optional: 0,
                    picks: [0; 4],
                },
                id,
            )
            .unwrap_or(json!({}));
            if let Some(prop) = first_string_property(&t.schema) {
                args[prop] = json!(marker(id, &"é".repeat(len / 2)));
            }
            request(
                id,
                "tools/call",
                Some(json!({"name": t.name, "arguments": args})),
            )
        }
        _ => request(
            id,
            "ping",
            Some(json!({ "_meta": { "mcpspec/padding": "x".repeat(len) } })),
        ),
    }
}

fn first_string_property(schema: &Value) -> Option<String> {
    let props = schema.get("properties")?.as_object()?;
    props
        .iter()
        .find(|(_, p)| p.get("type") == Some(&json!("string")) && p.get("enum").is_none())
        .map(|(k, _)| k.clone())
}

/// Arguments for a tool call from its input schema, valid or deliberately not.
fn tool_arguments(schema: &Value, plan: &ArgsPlan, id: &Value) -> Option<Value> {
    let mut marked = false;
    let mut args = match gen_object(schema, plan, id, &mut marked, 0) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // Defects never touch a duration: a tool left to its default duration (often a
    // tenth of a second or more) holds the whole batch for it.
    let props = schema.get("properties").and_then(Value::as_object);
    let is_duration = |name: &str| {
        props
            .and_then(|p| p.get(name))
            .is_some_and(|p| is_duration_like(name, p))
    };
    let has_duration = props.is_some_and(|p| p.iter().any(|(k, v)| is_duration_like(k, v)));
    match plan.variant {
        0..=169 => {}
        170..=189 => {
            if let Some(r) = required.iter().find(|r| !is_duration(r)) {
                args.remove(r);
            }
        }
        190..=209 => {
            if let Some((_, v)) = args.iter_mut().find(|(k, _)| !is_duration(k)) {
                *v = match v {
                    Value::String(_) => json!(12),
                    _ => json!("wrong type"),
                };
            }
        }
        210..=229 => {
            args.insert("mcpspecExtra".into(), json!(true));
        }
        230..=244 if !has_duration => return None,
        230..=244 => {}
        _ => return Some(json!(["not", "an", "object"])),
    }
    Some(Value::Object(args))
}

fn gen_object(
    schema: &Value,
    plan: &ArgsPlan,
    id: &Value,
    marked: &mut bool,
    depth: usize,
) -> Value {
    let mut out = Map::new();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Value::Object(out);
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (i, (name, prop)) in props.iter().enumerate().take(16) {
        if is_duration_like(name, prop) {
            // Never leave a duration to its default (often seconds): ask for the least.
            out.insert(name.clone(), least_number(prop));
            continue;
        }
        let wanted = required.contains(&name.as_str()) || plan.optional & (1 << (i % 8)) != 0;
        if wanted {
            out.insert(
                name.clone(),
                gen_value(prop, plan, i, id, marked, depth + 1),
            );
        }
    }
    Value::Object(out)
}

fn gen_value(
    schema: &Value,
    plan: &ArgsPlan,
    i: usize,
    id: &Value,
    marked: &mut bool,
    depth: usize,
) -> Value {
    let choice = plan.picks[i % 4];
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if let Some(v) = pick(options, choice) {
            return v.clone();
        }
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    match ty {
        "string" => {
            if !*marked {
                *marked = true;
                return json!(marker(id, pick(PAYLOADS, choice).copied().unwrap_or("x")));
            }
            json!(pick(STRINGS, choice).copied().unwrap_or("x"))
        }
        "integer" | "number" => {
            // Small values only: a readOnly tool taking a duration must not look hung.
            let candidates: [f64; 5] = [0.0, 1.0, 2.0, -1.0, 0.5];
            let mut v = candidates[choice as usize % candidates.len()];
            if ty == "integer" {
                v = v.trunc();
            }
            if let Some(min) = bound("minimum") {
                v = v.max(min);
            }
            if let Some(max) = bound("maximum") {
                v = v.min(max);
            }
            if ty == "integer" || v.fract() == 0.0 {
                json!(v as i64)
            } else {
                json!(v)
            }
        }
        "boolean" => json!(choice.is_multiple_of(2)),
        "array" if depth < 4 => match (choice % 3, schema.get("items")) {
            (0, _) | (_, None) => json!([]),
            (_, Some(items)) => json!([gen_value(items, plan, i + 1, id, marked, depth + 1)]),
        },
        "object" if depth < 4 => gen_object(schema, plan, id, marked, depth),
        "null" => Value::Null,
        _ => json!({}),
    }
}

/// A numeric property that sets how long a tool works (or how much it repeats).
fn is_duration_like(name: &str, schema: &Value) -> bool {
    let numeric = matches!(
        schema.get("type").and_then(Value::as_str),
        Some("integer" | "number")
    );
    let lower = name.to_ascii_lowercase();
    numeric
        && [
            "duration",
            "delay",
            "sleep",
            "wait",
            "timeout",
            "ms",
            "millis",
            "seconds",
            "secs",
            "interval",
            "steps",
            "count",
            "repeat",
            "iterations",
        ]
        .iter()
        .any(|w| lower == *w || lower.ends_with(w) || lower.starts_with(w))
}

/// The smallest sensible value for a numeric property: 0, or its minimum.
fn least_number(schema: &Value) -> Value {
    let min = schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
    let v = min.max(0.0);
    if schema.get("type").and_then(Value::as_str) == Some("integer") || v.fract() == 0.0 {
        json!(v.ceil() as i64)
    } else {
        json!(v)
    }
}

/// Offsets inside multi-byte UTF-8 sequences of `bytes`.
fn multibyte_offsets(bytes: &[u8]) -> Vec<usize> {
    (1..bytes.len())
        .filter(|&i| in_multibyte(bytes, i))
        .collect()
}

/// Offsets inside JSON tokens (strings, keys, numbers, literals), never on a boundary.
#[cfg(test)]
fn token_offsets(bytes: &[u8]) -> Vec<usize> {
    (1..bytes.len()).filter(|&i| in_token(bytes, i)).collect()
}

#[cfg(test)]
fn choose(offsets: &[usize], n: u16) -> Option<usize> {
    if offsets.is_empty() {
        None
    } else {
        Some(offsets[n as usize % offsets.len()])
    }
}

/// `choose(&offsets, n)` for the offsets `1..len` that `inside` accepts, without
/// collecting them.
fn choose_where(len: usize, inside: impl Fn(usize) -> bool, n: u16) -> Option<usize> {
    let count = (1..len).filter(|&i| inside(i)).count();
    if count == 0 {
        return None;
    }
    (1..len).filter(|&i| inside(i)).nth(n as usize % count)
}

/// Inside a multi-byte UTF-8 sequence (see [`multibyte_offsets`]).
fn in_multibyte(bytes: &[u8], i: usize) -> bool {
    bytes[i] & 0xC0 == 0x80
}

/// Inside a JSON token (see [`token_offsets`]).
fn in_token(bytes: &[u8], i: usize) -> bool {
    bytes[i - 1].is_ascii_alphanumeric() && bytes[i].is_ascii_alphanumeric()
}

fn apply_delivery(step: &mut Step, plan: &DeliveryPlan, has_previous: bool) {
    // Only cuts inside characters or tokens read the bytes; the others need their
    // length alone.
    let bytes = match &plan.cut {
        Cut::InsideMultibyte(_) | Cut::InsideToken(_) => step.bytes(),
        _ => Vec::new(),
    };
    let len = match &plan.cut {
        Cut::InsideMultibyte(_) | Cut::InsideToken(_) => bytes.len(),
        Cut::Whole | Cut::WholeToo => 0,
        _ => step.bytes_len(),
    };
    let multibyte = |i| in_multibyte(&bytes, i);
    let token = |i| in_token(&bytes, i);
    step.split = match &plan.cut {
        Cut::Whole | Cut::WholeToo => Vec::new(),
        Cut::InsideMultibyte(n) => choose_where(len, multibyte, *n)
            .or_else(|| choose_where(len, token, *n))
            .into_iter()
            .collect(),
        Cut::InsideToken(n) => choose_where(len, token, *n).into_iter().collect(),
        Cut::Anywhere(n) if len > 1 => vec![1 + *n as usize % (len - 1)],
        Cut::Several(a, b, c) if len > 1 => {
            let mut v: Vec<usize> = [a, b, c]
                .iter()
                .map(|n| 1 + **n as usize % (len - 1))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        Cut::Halves if len > 1 => vec![len / 2],
        _ => Vec::new(),
    };
    // Separate writes of the pieces are separate reads often enough; a delay idles
    // both sides (and a batch holds a hundred steps), so one step in 256 waits 1 ms.
    step.delay_ms = u64::from(plan.delay == u8::MAX);
    step.coalesce = has_previous && plan.coalesce;
    // Each await is a round trip: one step in 64.
    step.await_answers = has_previous && plan.await_answers < 4;
}

/// Mutate a corpus program: 1–3 random edits of steps, delivery or values.
pub fn mutate(
    program: &Program,
    other: Option<&Program>,
    rng: &mut impl Rng,
    surface: &Surface,
    alloc: &mut IdAllocator,
) -> Program {
    mutate_owned(program.clone(), other, rng, surface, alloc)
}

/// [`mutate`] of a program the caller gives up (saves copying it).
pub fn mutate_owned(
    program: Program,
    other: Option<&Program>,
    rng: &mut impl Rng,
    surface: &Surface,
    alloc: &mut IdAllocator,
) -> Program {
    let mut p = program;
    p.repeat = 1;
    let edits = rng.random_range(1..=3);
    for _ in 0..edits {
        let n = p.steps.len();
        let i = if n == 0 { 0 } else { rng.random_range(0..n) };
        // Over HTTP three more edits toggle the HTTP-only schedules; over stdio the
        // draw is what it always was.
        let kinds = if surface.http { 14 } else { 11 };
        match rng.random_range(0..kinds) {
            0 => {
                if let Some(step) = p.steps.get_mut(i) {
                    let bytes = step.bytes();
                    let len = bytes.len();
                    let offsets = multibyte_offsets(&bytes);
                    step.split = if !offsets.is_empty() && rng.random_bool(0.5) {
                        vec![offsets[rng.random_range(0..offsets.len())]]
                    } else if len > 1 {
                        let cuts = rng.random_range(1..=3);
                        let mut v: Vec<usize> =
                            (0..cuts).map(|_| rng.random_range(1..len)).collect();
                        v.sort_unstable();
                        v.dedup();
                        v
                    } else {
                        Vec::new()
                    };
                }
            }
            1 => {
                if let Some(step) = p.steps.get_mut(i) {
                    step.split.clear();
                }
            }
            2 => {
                if let Some(step) = p.steps.get_mut(i) {
                    // Mostly none (delays idle both sides), sometimes 1 ms, rarely more.
                    step.delay_ms = match rng.random_range(0..100) {
                        0..=84 => 0,
                        85..=96 => 1,
                        _ => rng.random_range(2..=20),
                    };
                }
            }
            3 => {
                if let Some(step) = p.steps.get_mut(i) {
                    step.coalesce = i > 0 && !step.coalesce;
                }
            }
            4 => {
                if let Some(step) = p.steps.get_mut(i) {
                    step.await_answers = i > 0 && !step.await_answers;
                }
            }
            5 if n > 1 => {
                p.steps.remove(i);
            }
            6 if n > 0 => {
                let copy = p.steps[i].clone();
                p.steps.insert(i + 1, copy);
            }
            7 => {
                let fresh = generate(rng, surface, alloc);
                let at = if n == 0 { 0 } else { rng.random_range(0..=n) };
                for (k, step) in fresh.steps.into_iter().take(3).enumerate() {
                    p.steps.insert(at + k, step);
                }
            }
            8 => {
                if let Some(o) = other {
                    let take = rng.random_range(1..=o.steps.len().clamp(1, 4));
                    let start = rng.random_range(0..o.steps.len().max(1));
                    p.steps
                        .extend(o.steps.iter().skip(start).take(take).cloned());
                }
            }
            9 => {
                if let Some(v) = p.steps.get_mut(i).and_then(|s| s.json.as_mut()) {
                    mutate_value(v, rng);
                }
            }
            11 => {
                if let Some(step) = p.steps.get_mut(i).filter(|s| !s.close_stdin) {
                    let len = step.bytes_len();
                    step.truncate = match step.truncate {
                        None if len > 1 => Some(rng.random_range(0..len)),
                        _ => None,
                    };
                }
            }
            12 => {
                if let Some(step) = p.steps.get_mut(i).filter(|s| is_request(s)) {
                    step.drop_stream = !step.drop_stream;
                }
            }
            13 => {
                if let Some(step) = p.steps.get_mut(i).filter(|s| !s.close_stdin) {
                    step.session = (step.session + 1) % super::program::HTTP_SESSIONS;
                    step.coalesce = i > 0 && step.session != 0;
                }
            }
            _ if n > 1 => {
                let j = (i + 1) % n;
                p.steps.swap(i, j);
            }
            _ => {}
        }
    }
    // A close ends the input: drop anything after it, and keep the input bounded.
    // Most mutants drop it again: every close costs a server restart.
    if let Some(close) = p.steps.iter().position(|s| s.close_stdin) {
        let keep = if rng.random_bool(0.2) {
            close + 1
        } else {
            close
        };
        p.steps.truncate(keep);
    }
    p.steps.truncate(MAX_STEPS);
    if p.steps.is_empty() {
        p.steps
            .push(Step::json(request(&alloc.fresh_string(), "ping", None)));
    }
    if let Some(first) = p.steps.first_mut() {
        first.coalesce = false;
        first.await_answers = false;
    }
    p
}

/// Replace one leaf inside `params` with an interesting value.
fn mutate_value(v: &mut Value, rng: &mut impl Rng) {
    let Some(params) = v.get_mut("params") else {
        return;
    };
    let mut leaves = Vec::new();
    collect_leaf_paths(params, String::new(), &mut leaves);
    if leaves.is_empty() {
        return;
    }
    let path = leaves[rng.random_range(0..leaves.len())].clone();
    let Some(leaf) = params.pointer_mut(&path) else {
        return;
    };
    *leaf = match leaf {
        // Keep markers recognisable: only change their payload.
        Value::String(s) if s.starts_with(MARKER_OPEN) => {
            let token = s[MARKER_OPEN.len()..]
                .split(MARKER_SEP)
                .next()
                .unwrap_or_default()
                .to_string();
            let payload = PAYLOADS[rng.random_range(0..PAYLOADS.len())];
            json!(format!(
                "{MARKER_OPEN}{token}{MARKER_SEP}{payload}{MARKER_CLOSE}"
            ))
        }
        Value::String(_) => json!(STRINGS[rng.random_range(0..STRINGS.len())]),
        Value::Number(_) => json!([0, 1, -1, 2][rng.random_range(0..4)]),
        Value::Bool(b) => json!(!*b),
        _ => Value::Null,
    };
}

fn collect_leaf_paths(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::Object(obj) => {
            for (k, child) in obj {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_leaf_paths(child, format!("{path}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_leaf_paths(child, format!("{path}/{i}"), out);
            }
        }
        _ if !path.is_empty() => out.push(path),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::program::prepare;
    use crate::fuzz::surface::{PromptInfo, ToolInfo};
    use rand::SeedableRng;

    fn surface() -> Surface {
        Surface {
            protocol_version: "2025-11-25".into(),
            capabilities: json!({"tools":{},"resources":{},"prompts":{},"completions":{}}),
            tools: vec![ToolInfo {
                name: "echo".into(),
                schema: json!({"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}),
                safe: true,
            }],
            resources: vec!["fixture://text/1".into()],
            templates: vec!["fixture://items/{id}".into()],
            prompts: vec![PromptInfo {
                name: "greeting".into(),
                arguments: vec![("name".into(), true)],
            }],
            ..Surface::default()
        }
    }

    #[test]
    fn generation_is_reproducible_from_the_seed() {
        let s = surface();
        let run = |seed| {
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut alloc = IdAllocator::default();
            (0..50)
                .map(|_| generate(&mut rng, &s, &mut alloc))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn generated_programs_are_valid_and_varied() {
        let s = surface();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        let mut alloc = IdAllocator::default();
        let mut methods = std::collections::BTreeSet::new();
        let (mut split, mut raw, mut marked) = (0, 0, 0);
        for _ in 0..400 {
            let p = generate(&mut rng, &s, &mut alloc);
            assert!(!p.steps.is_empty() && p.steps.len() <= MAX_STEPS);
            for step in &p.steps {
                step.check().unwrap();
                let len = step.bytes().len();
                assert!(step.split.iter().all(|&c| c > 0 && c < len.max(1)));
                split += usize::from(!step.split.is_empty());
                raw += usize::from(step.json.is_none() && !step.close_stdin);
                if let Some(m) = step
                    .json
                    .as_ref()
                    .and_then(|v| v.get("method"))
                    .and_then(Value::as_str)
                {
                    methods.insert(m.to_string());
                }
                if let Some(v) = &step.json {
                    if v.to_string().contains(MARKER_OPEN) {
                        marked += 1;
                    }
                }
            }
            // Every program survives preparation.
            let prepared = prepare(&p, &mut IdAllocator::default());
            assert_eq!(prepared.steps.len(), p.steps.len());
        }
        for m in [
            "ping",
            "tools/call",
            "resources/read",
            "prompts/get",
            "completion/complete",
        ] {
            assert!(methods.contains(m), "{m} never generated: {methods:?}");
        }
        assert!(
            split > 100 && raw > 50 && marked > 20,
            "{split} {raw} {marked}"
        );
    }

    #[test]
    fn http_schedules_are_drawn_only_over_http() {
        let uses = |p: &Program| {
            p.steps
                .iter()
                .any(|s| s.truncate.is_some() || s.drop_stream || s.session != 0)
        };
        let stdio = surface();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(5);
        let mut alloc = IdAllocator::default();
        let mut p = generate(&mut rng, &stdio, &mut alloc);
        for _ in 0..400 {
            assert!(!uses(&p), "{p:?}");
            p = if rng.random_bool(0.5) {
                generate(&mut rng, &stdio, &mut alloc)
            } else {
                mutate(&p, None, &mut rng, &stdio, &mut alloc)
            };
        }

        let http = Surface {
            http: true,
            ..surface()
        };
        let (mut truncated, mut dropped, mut second) = (0, 0, 0);
        for _ in 0..400 {
            let p = generate(&mut rng, &http, &mut alloc);
            assert_eq!(p.steps[0].session, 0, "{p:?}");
            for step in &p.steps {
                step.check().unwrap();
                if let Some(n) = step.truncate {
                    assert!(n < step.bytes().len(), "{step:?}");
                    truncated += 1;
                }
                if step.drop_stream {
                    assert!(step.json.as_ref().is_some_and(|v| v.get("id").is_some()));
                    dropped += 1;
                }
                if step.session != 0 {
                    assert!(step.coalesce, "{step:?}");
                    second += 1;
                }
            }
            let prepared = prepare(&p, &mut IdAllocator::default());
            assert_eq!(prepared.steps.len(), p.steps.len());
        }
        assert!(
            truncated > 20 && dropped > 20 && second > 20,
            "{truncated} {dropped} {second}"
        );
    }

    #[test]
    fn mutation_keeps_programs_well_formed() {
        let s = surface();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(3);
        let mut alloc = IdAllocator::default();
        let mut p = generate(&mut rng, &s, &mut alloc);
        let other = generate(&mut rng, &s, &mut alloc);
        for _ in 0..500 {
            p = mutate(&p, Some(&other), &mut rng, &s, &mut alloc);
            assert!(!p.steps.is_empty() && p.steps.len() <= MAX_STEPS);
            assert!(!p.steps[0].coalesce && !p.steps[0].await_answers);
            let closes = p.steps.iter().filter(|s| s.close_stdin).count();
            assert!(closes <= 1);
            if closes == 1 {
                assert!(p.steps.last().unwrap().close_stdin);
            }
        }
    }

    /// What preparation works out without building each step's bytes agrees with
    /// those bytes, over generated and mutated inputs joined as the engine joins them.
    #[test]
    fn prepared_batches_agree_with_their_bytes() {
        use crate::fuzz::program::{shape_of, step_ids, OVERSIZE_LINE};
        for http in [false, true] {
            let s = Surface { http, ..surface() };
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(11);
            let mut alloc = IdAllocator::default();
            let mut programs: Vec<Program> = Vec::new();
            for k in 0..320 {
                let p = if k > 10 && rng.random_bool(0.6) {
                    let base = &programs[rng.random_range(0..programs.len())];
                    mutate(base, programs.last(), &mut rng, &s, &mut alloc)
                } else {
                    generate(&mut rng, &s, &mut alloc)
                };
                programs.push(p);
            }
            let (mut requests, mut truncated) = (0, 0);
            for batch in programs.chunks(16) {
                let (joined, _) = Program::concat(batch);
                let prepared = prepare(&joined, &mut IdAllocator::default());
                let mut ids = Vec::new();
                for step in prepared.steps.iter().filter(|s| !s.close_stdin) {
                    let bytes = step.bytes();
                    assert_eq!(step.bytes_len(), bytes.len(), "{step:?}");
                    assert_eq!(step.ends_line(), bytes.last() == Some(&b'\n'));
                    ids.extend(match &step.json {
                        Some(_) => step_ids(step),
                        None => step_ids(&Step::raw(&step.stdio_bytes())),
                    });
                }
                assert_eq!(prepared.ids_sent, ids);
                for r in &prepared.requests {
                    let step = &prepared.steps[r.step];
                    let len = step.stdio_bytes().len();
                    assert_eq!(r.oversize, len >= OVERSIZE_LINE);
                    let message = step.json.as_ref().expect("a request is a JSON step");
                    assert_eq!(r.shape, shape_of(&r.method, message.get("params"), len));
                    assert_eq!(message.get("id"), Some(&r.id));
                    assert_eq!(r.delivery == "truncated", step.truncated_len().is_some());
                    requests += 1;
                    truncated += usize::from(r.delivery == "truncated");
                }
            }
            assert!(requests > 500, "{requests}");
            assert!(!http || truncated > 5, "{truncated}");
        }
    }

    proptest::proptest! {
        /// Choosing among offsets counted in place picks what choosing among the
        /// collected offsets picked.
        #[test]
        fn offsets_are_chosen_as_from_a_list(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'a'),
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(0xC3),
                    proptest::strategy::Just(0xA9),
                    proptest::arbitrary::any::<u8>(),
                ],
                0..40,
            ),
            n in proptest::arbitrary::any::<u16>(),
        ) {
            let len = bytes.len();
            proptest::prop_assert_eq!(
                choose_where(len, |i| in_multibyte(&bytes, i), n),
                choose(&multibyte_offsets(&bytes), n)
            );
            proptest::prop_assert_eq!(
                choose_where(len, |i| in_token(&bytes, i), n),
                choose(&token_offsets(&bytes), n)
            );
        }
    }

    #[test]
    fn durations_are_always_the_least() {
        let schema = json!({"type":"object","properties":{
            "duration":{"type":"number","default":10},
            "steps":{"type":"integer","minimum":1,"default":5},
            "text":{"type":"string"}
        }});
        let plan = ArgsPlan {
            variant: 0,
            optional: 0,
            picks: [3; 4],
        };
        let args = tool_arguments(&schema, &plan, &json!(1)).unwrap();
        assert_eq!(args["duration"], json!(0));
        assert_eq!(args["steps"], json!(1));
        assert!(args.get("text").is_none());
    }

    #[test]
    fn schema_arguments_respect_bounds_and_carry_a_marker() {
        let schema = json!({"type":"object","properties":{
            "ms":{"type":"integer","minimum":5,"maximum":10000},
            "text":{"type":"string"},
            "mode":{"enum":["a","b"]}
        },"required":["ms","text","mode"]});
        let id = json!("fz-000000003");
        for variant in [0u8, 100] {
            for c in 0..5u8 {
                let plan = ArgsPlan {
                    variant,
                    optional: 0,
                    picks: [c; 4],
                };
                let args = tool_arguments(&schema, &plan, &id).unwrap();
                let ms = args["ms"].as_i64().unwrap();
                assert!((5..=10).contains(&ms), "{args}");
                assert!(args["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("<<fz-000000003|"));
                assert!(["a", "b"].contains(&args["mode"].as_str().unwrap()));
            }
        }
    }
}
