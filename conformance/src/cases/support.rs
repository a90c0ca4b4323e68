//! Building blocks shared by cases: error-code expectations, cursor walks, and picking
//! a tool that is safe to call with arguments synthesised from its schema.

use crate::case::{Ctx, Verdict};
use crate::session::{Response, Session};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Bound on pages followed in one cursor walk.
pub const MAX_PAGES: usize = 100;

/// JSON-RPC / MCP error codes.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const RESOURCE_NOT_FOUND: i64 = -32002;
}

/// `initialize` params as mcpspec sends them, asking for protocol `version` and
/// declaring no client capabilities.
pub fn initialize_params(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": { "name": "mcpspec", "version": env!("CARGO_PKG_VERSION") }
    })
}

/// Problems listed in a violation's `actual`; the message gives the full count.
const SHOWN: usize = 5;

/// A violation listing the first few problems found across a sample of items.
pub fn report_problems(message: &str, expected: &str, problems: &[String]) -> Verdict {
    let mut shown: Vec<String> = problems.iter().take(SHOWN).cloned().collect();
    if problems.len() > SHOWN {
        shown.push(format!("… and {} more", problems.len() - SHOWN));
    }
    Verdict::violation(format!("{message} ({} problem(s))", problems.len()))
        .expected(expected)
        .actual(shown.join("\n"))
}

/// A pass (`pass`, formatted only when used) when there are no `problems`; otherwise a
/// violation (`failure`: message and expected) listing every problem, one a line.
pub fn listed_verdict(
    problems: &[String],
    failure: (&str, &str),
    pass: impl FnOnce() -> String,
) -> Verdict {
    let (message, expected) = failure;
    if problems.is_empty() {
        return Verdict::pass(pass());
    }
    Verdict::violation(message)
        .expected(expected)
        .actual(problems.join("\n"))
}

/// The usual ending of a case that inspects a sample of items: a violation listing the
/// problems; untestable when no item could be judged (we must not pass on nothing);
/// otherwise pass. The messages are closures so only the one used is formatted.
pub fn judged_verdict(
    problems: &[String],
    judged: usize,
    failure: (&str, &str),
    nothing_judged: impl FnOnce() -> String,
    pass: impl FnOnce() -> String,
) -> Verdict {
    let (message, expected) = failure;
    if !problems.is_empty() {
        report_problems(message, expected, problems)
    } else if judged == 0 {
        Verdict::untestable(nothing_judged())
    } else {
        Verdict::pass(pass())
    }
}

/// Pass when `response` is an error with one of `codes`; otherwise a violation that
/// says what came instead.
pub fn expect_error_code(response: &Response, codes: &[i64], what: &str) -> Result<(), Verdict> {
    let wanted = codes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    match response.error_code() {
        Some(c) if codes.contains(&c) => Ok(()),
        _ => Err(
            Verdict::violation(format!("{what}: expected error {wanted}"))
                .expected(format!("error {wanted}"))
                .actual(response.summary()),
        ),
    }
}

/// Result object of a successful response, or a violation naming the request.
pub fn expect_result<'r>(response: &'r Response, what: &str) -> Result<&'r Value, Verdict> {
    match response.result() {
        Some(r) if response.error().is_none() => Ok(r),
        _ => Err(Verdict::violation(format!("{what} failed"))
            .expected("a result")
            .actual(response.summary())),
    }
}

/// One page of a list method.
pub struct Page {
    pub items: Vec<Value>,
    pub next_cursor: Option<Value>,
}

/// Request one page of `method`, returning the array under `field`.
pub async fn list_page(
    session: &Session,
    method: &str,
    field: &str,
    cursor: Option<&Value>,
    timeout: Duration,
) -> Result<Page, Verdict> {
    let params = cursor.map(|c| json!({ "cursor": c }));
    let response = session.request_timeout(method, params, timeout).await?;
    let result = expect_result(&response, method)?;
    let items = match result.get(field) {
        Some(Value::Array(items)) => items.clone(),
        other => {
            return Err(
                Verdict::violation(format!("{method} result has no `{field}` array"))
                    .expected(format!("`{field}`: [...]"))
                    .actual(format!("{other:?}")),
            )
        }
    };
    Ok(Page {
        items,
        next_cursor: result.get("nextCursor").cloned(),
    })
}

/// Follow every cursor of `method` to the end (bounded), returning all items. Stops
/// with a violation on a non-string cursor, a repeated cursor, or too many pages.
pub async fn list_all(
    session: &Session,
    method: &str,
    field: &str,
    timeout: Duration,
) -> Result<Vec<Value>, Verdict> {
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_PAGES {
        let page = list_page(session, method, field, cursor.as_ref(), timeout).await?;
        items.extend(page.items);
        match page.next_cursor {
            None | Some(Value::Null) => return Ok(items),
            Some(Value::String(c)) => {
                if !seen.insert(c.clone()) {
                    return Err(Verdict::violation(format!(
                        "{method} handed out cursor {c:?} twice: the walk would never end"
                    )));
                }
                cursor = Some(Value::String(c));
            }
            Some(other) => {
                return Err(Verdict::violation(format!(
                    "{method} returned a non-string nextCursor"
                ))
                .expected("a string or no nextCursor")
                .actual(other.to_string()))
            }
        }
    }
    Err(Verdict::violation(format!(
        "{method} still had a nextCursor after {MAX_PAGES} pages"
    )))
}

/// A tool the run may call, with arguments built from its input schema.
#[derive(Debug, Clone)]
pub struct CallableTool {
    pub name: String,
    pub arguments: Value,
    pub definition: Value,
}

/// Whether the user allowed calling `tool`: read-only by annotation, or allow-listed.
pub fn is_safe_tool(ctx: &Ctx, tool: &Value) -> bool {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
    tool.pointer("/annotations/readOnlyHint") == Some(&Value::Bool(true))
        || ctx.config().allow_tools.iter().any(|a| a == name)
}

/// All safe tools whose required arguments we can synthesise, in list order.
pub async fn callable_tools(ctx: &Ctx) -> Result<Vec<CallableTool>, Verdict> {
    let tools = list_all(ctx.session(), "tools/list", "tools", ctx.timeout()).await?;
    Ok(tools
        .into_iter()
        .filter(|t| is_safe_tool(ctx, t))
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?.to_string();
            let arguments = synthesize(t.get("inputSchema")?, 0)?;
            Some(CallableTool {
                name,
                arguments,
                definition: t,
            })
        })
        .collect())
}

/// A safe tool that runs for as long as it is asked to: cases that need a request in
/// flight (a ping while it runs, stdin closed under it, an SSE stream cut in the middle)
/// drive it. Recognised by a numeric duration parameter, not by a fixture name, so real
/// servers qualify (server-everything's `trigger-long-running-operation` takes
/// `duration` in seconds; the fixture's `slow` takes `ms`).
#[derive(Clone, Debug)]
pub struct SlowTool {
    pub name: String,
    /// The tool's own required arguments, synthesised from its schema.
    base: Value,
    /// The duration parameter and how many milliseconds one unit of it is.
    param: String,
    unit_ms: u64,
    integer: bool,
}

impl SlowTool {
    /// Arguments asking the tool to run for about `ms` milliseconds.
    pub fn arguments(&self, ms: u64) -> Value {
        let mut args = self.base.clone();
        let amount = if self.integer {
            json!(ms.div_ceil(self.unit_ms).max(1))
        } else {
            json!(ms as f64 / self.unit_ms as f64)
        };
        if let Some(obj) = args.as_object_mut() {
            obj.insert(self.param.clone(), amount);
        }
        args
    }
}

/// Duration parameter names and the milliseconds in one unit of each.
const DURATION_PARAMS: &[(&str, u64)] = &[
    ("ms", 1),
    ("millis", 1),
    ("milliseconds", 1),
    ("delay_ms", 1),
    ("delayMs", 1),
    ("duration_ms", 1),
    ("durationMs", 1),
    ("sleep_ms", 1),
    ("seconds", 1000),
    ("secs", 1000),
    ("duration", 1000),
    ("delay", 1000),
    ("sleep", 1000),
];

/// The slow tool of a tools list, if one is safe to call (see [`SlowTool`]).
pub fn find_slow_tool(ctx: &Ctx, tools: &[Value]) -> Option<SlowTool> {
    tools
        .iter()
        .filter(|t| is_safe_tool(ctx, t))
        .find_map(|tool| {
            let name = tool.get("name")?.as_str()?.to_string();
            let schema = tool.get("inputSchema")?;
            let props = schema.get("properties")?.as_object()?;
            let (param, unit_ms, integer) = DURATION_PARAMS.iter().find_map(|(p, unit)| {
                let ty = props.get(*p)?.get("type")?.as_str()?;
                matches!(ty, "integer" | "number").then(|| (p.to_string(), *unit, ty == "integer"))
            })?;
            Some(SlowTool {
                name,
                base: synthesize(schema, 0)?,
                param,
                unit_ms,
                integer,
            })
        })
}

/// The server's slow tool, or an `untestable` verdict saying what `needed_for` lacks.
pub async fn slow_tool(ctx: &Ctx, needed_for: &str) -> Result<SlowTool, Verdict> {
    let tools = list_all(ctx.session(), "tools/list", "tools", ctx.timeout()).await?;
    find_slow_tool(ctx, &tools).ok_or_else(|| {
        Verdict::untestable(format!(
            "{needed_for}, and no safe tool takes a duration (a numeric `ms`, `seconds`, \
             `duration` or `delay` parameter; a tool not annotated readOnlyHint can be \
             allowed with --allow-tool NAME)"
        ))
    })
}

/// The first callable tool, or an `untestable` verdict explaining how to allow one.
pub async fn first_callable_tool(ctx: &Ctx) -> Result<CallableTool, Verdict> {
    callable_tools(ctx)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Verdict::untestable(
                "no tool is safe to call: none is annotated readOnlyHint, or none has arguments \
             mcpspec can build; allow one with --allow-tool NAME",
            )
        })
}

/// A value satisfying simple JSON Schemas (type, required, enum, const, defaults).
/// `None` when the schema needs something we cannot build with confidence.
pub fn synthesize(schema: &Value, depth: usize) -> Option<Value> {
    if depth > 8 {
        return None;
    }
    if let Some(c) = schema.get("const") {
        return Some(c.clone());
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        return options.first().cloned();
    }
    if let Some(d) = schema.get("default") {
        return Some(d.clone());
    }
    if let Some(Value::Array(examples)) = schema.get("examples") {
        if let Some(e) = examples.first() {
            return Some(e.clone());
        }
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null")?,
        None if schema.get("properties").is_some() => "object",
        _ => return None,
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(required)) = schema.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    let prop = props.and_then(|p| p.get(name))?;
                    out.insert(name.to_string(), synthesize(prop, depth + 1)?);
                }
            }
            Some(Value::Object(out))
        }
        "string" => {
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            if schema.get("pattern").is_some() || schema.get("format").is_some() {
                return None;
            }
            Some(Value::String("mcpspec".repeat(min / 7 + 1)))
        }
        "integer" => Some(json!(number_in(schema, 1.0) as i64)),
        "number" => Some(json!(number_in(schema, 1.0))),
        "boolean" => Some(json!(false)),
        "array" => Some(json!([])),
        "null" => Some(Value::Null),
        _ => None,
    }
}

fn number_in(schema: &Value, preferred: f64) -> f64 {
    let min = schema.get("minimum").and_then(Value::as_f64);
    let max = schema.get("maximum").and_then(Value::as_f64);
    match (min, max) {
        (Some(lo), _) if preferred < lo => lo,
        (_, Some(hi)) if preferred > hi => hi,
        _ => preferred,
    }
}

/// Check that a session still answers after something hostile: alive and responsive.
pub async fn still_serving(
    session: &Session,
    timeout: Duration,
    after: &str,
) -> Result<(), Verdict> {
    if let Some(status) = session.control().exit_status() {
        return Err(
            Verdict::violation(format!("the server exited after {after}"))
                .expected("the process keeps running")
                .actual(status.to_string()),
        );
    }
    match session.request_timeout("ping", None, timeout).await {
        Ok(_) => Ok(()),
        Err(e) => Err(
            Verdict::violation(format!("the server stopped answering after {after}"))
                .expected("an answer to a ping sent afterwards")
                .actual(e.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_verdict_lists_every_problem_or_passes() {
        let failure = ("names repeat", "each name once");
        let pass = listed_verdict(&[], failure, || "3 names".to_string());
        assert_eq!(pass.kind, crate::case::VerdictKind::Pass);
        assert_eq!(pass.message, "3 names");
        let problems = ["a twice".to_string(), "b twice".to_string()];
        let v = listed_verdict(&problems, failure, || unreachable!("no pass to format"));
        assert_eq!(v.kind, crate::case::VerdictKind::Violation);
        assert_eq!(v.message, "names repeat");
        assert_eq!(v.expected.as_deref(), Some("each name once"));
        assert_eq!(v.actual.as_deref(), Some("a twice\nb twice"));
    }

    #[test]
    fn synthesizes_required_arguments_only() {
        let schema = json!({
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "n": {"type": "integer", "minimum": 3},
                "mode": {"enum": ["a", "b"]},
                "optional": {"type": "string"}
            },
            "required": ["text", "n", "mode"]
        });
        assert_eq!(
            synthesize(&schema, 0),
            Some(json!({"text": "mcpspec", "n": 3, "mode": "a"}))
        );
    }

    #[test]
    fn refuses_what_it_cannot_build() {
        let schema = json!({
            "type": "object",
            "properties": {"id": {"type": "string", "pattern": "^[0-9a-f]{8}$"}},
            "required": ["id"]
        });
        assert_eq!(synthesize(&schema, 0), None);
    }
}
