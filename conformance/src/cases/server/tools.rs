//! Spec page `server/tools`. Catalogue area TOOLS.
//!
//! Listing checks run on the shared session. Every case that calls a tool gets its own
//! server process: only tools `support::is_safe_tool` allows are called, but an
//! allow-listed tool may still change state.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict, VerdictKind};
use crate::cases::support::{
    code, expect_error_code, is_safe_tool, judged_verdict, list_all, listed_verdict, still_serving,
    synthesize, CallableTool,
};
use crate::session::{RequestError, Response, Session};
use crate::spec::{Level, Revision, Revisions, ANY_TRANSPORT};
use crate::util::clip;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, ReferencingError, Validator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

pub const CASES: &[Case] = &[
    Case {
        id: "server/tools/capability-matches",
        title: "tools/list works when tools are declared and answers -32601 when they are not",
        requirements: &["TOOLS-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(capability_matches(ctx)),
    },
    Case {
        id: "server/tools/list-shape",
        title: "Every listed tool has a string name, an object inputSchema and well-typed optional fields",
        requirements: &["TOOLS-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(list_shape(ctx)),
    },
    Case {
        id: "server/tools/input-schema-object",
        title: "Every inputSchema is a JSON object whose root declares type \"object\"",
        requirements: &["TOOLS-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(input_schema_object(ctx)),
    },
    Case {
        id: "server/tools/schemas-valid",
        title: "Input and output schemas are valid JSON Schemas in their dialect",
        requirements: &["TOOLS-004"],
        // MUST from 2025-11-25; earlier violations are reported at SHOULD.
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(schemas_valid(ctx)),
    },
    Case {
        id: "server/tools/unique-names",
        title: "No two tools in the full list share a name",
        requirements: &["TOOLS-005"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unique_names(ctx)),
    },
    Case {
        id: "server/tools/name-charset",
        title: "Tool names are 1 to 128 characters from letters, digits, underscore, hyphen and dot",
        requirements: &["TOOLS-006"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_11_25),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(name_charset(ctx)),
    },
    Case {
        id: "server/tools/output-schema-object",
        title: "Every declared outputSchema is an object schema with type \"object\" at the root",
        requirements: &["TOOLS-007"],
        level: Level::Must,
        revisions: Revisions::range(Revision::V2025_06_18, Revision::V2025_11_25),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(output_schema_object(ctx)),
    },
    Case {
        id: "server/tools/structured-content-conforms",
        title: "Successful calls of tools with an outputSchema return structuredContent that validates against it",
        requirements: &["TOOLS-008"],
        level: Level::Must,
        revisions: Revisions::since(Revision::V2025_06_18),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(structured_content_conforms(ctx)),
    },
    Case {
        id: "server/tools/structured-content-mirrored",
        title: "Results with structuredContent also carry it serialized in a text block",
        requirements: &["TOOLS-009"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_06_18),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(structured_content_mirrored(ctx)),
    },
    Case {
        id: "server/tools/structured-content-object",
        title: "structuredContent is a JSON object",
        requirements: &["TOOLS-010"],
        level: Level::Must,
        revisions: Revisions::range(Revision::V2025_06_18, Revision::V2025_11_25),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(structured_content_object(ctx)),
    },
    Case {
        id: "server/tools/call-result-content",
        title: "Tool call results carry a content array of well-formed blocks of the revision's types",
        requirements: &["TOOLS-012"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(call_result_content(ctx)),
    },
    Case {
        id: "server/tools/unknown-tool",
        title: "Calling a tool that does not exist is answered with a JSON-RPC error",
        requirements: &["TOOLS-013"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_tool(ctx)),
    },
    Case {
        id: "server/tools/malformed-call",
        title: "tools/call without a string name or with non-object arguments gets an error, -32602",
        requirements: &["TOOLS-014"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(malformed_call(ctx)),
    },
    Case {
        id: "server/tools/invalid-arguments",
        title: "Arguments of the wrong type are rejected, not executed",
        requirements: &["TOOLS-015"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(invalid_arguments(ctx)),
    },
    Case {
        id: "server/tools/failure-is-result",
        title: "A tool that fails reports a result with isError rather than a JSON-RPC error",
        requirements: &["TOOLS-016"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(failure_is_result(ctx)),
    },
    Case {
        id: "server/tools/arguments-optional",
        title: "A tool without required arguments is called the same with arguments omitted as with {}",
        requirements: &["TOOLS-017"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(arguments_optional(ctx)),
    },
    Case {
        id: "server/tools/annotations-typed",
        title: "Tool annotations have a string title and boolean hints",
        requirements: &["TOOLS-019"],
        level: Level::Must,
        revisions: Revisions::since(Revision::V2025_03_26),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(annotations_typed(ctx)),
    },
    Case {
        id: "server/tools/embedded-resources-capability",
        title: "A server whose tool results embed resources declares the resources capability",
        requirements: &["TOOLS-023"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_06_18),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(embedded_resources_capability(ctx)),
    },
];

/// Tools sampled by cases that call several tools.
const MAX_SAMPLE_CALLS: usize = 8;
/// Tools mutated by the invalid-arguments case.
const MAX_MUTATED_TOOLS: usize = 3;

const NO_SAFE_TOOL: &str =
    "no listed tool is safe to call (annotated readOnlyHint) with arguments \
    mcpspec can build from its inputSchema; allow one with --allow-tool NAME";

// -- listing -----------------------------------------------------------------

/// Every tool of every page. A list that cannot be walked is the business of
/// `list-shape` and the pagination cases; other cases cannot judge anything then.
async fn listed_tools(ctx: &Ctx) -> Result<Vec<Value>, Verdict> {
    list_all(ctx.session(), "tools/list", "tools", ctx.timeout())
        .await
        .map_err(|v| {
            if v.kind == VerdictKind::Violation {
                Verdict::untestable(format!(
                    "the tool list could not be read in full ({}); see server/tools/list-shape",
                    v.message
                ))
            } else {
                v
            }
        })
}

/// Display form of a tool for messages (the name, or the whole entry when it has none).
fn tool_label(tool: &Value) -> String {
    match tool.get("name") {
        Some(Value::String(name)) => format!("{name:?}"),
        _ => clip(&tool.to_string(), 120),
    }
}

/// The safe tools whose required arguments we can build, in list order.
fn callable(ctx: &Ctx, tools: &[Value]) -> Vec<CallableTool> {
    tools
        .iter()
        .filter(|t| is_safe_tool(ctx, t))
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?.to_string();
            let schema = t.get("inputSchema")?;
            if !schema.is_object() {
                return None;
            }
            let arguments = synthesize(schema, 0)?;
            Some(CallableTool {
                name,
                arguments,
                definition: t.clone(),
            })
        })
        .collect()
}

/// Either the callable tools, or an untestable verdict naming `--allow-tool`.
async fn callable_or_untestable(ctx: &Ctx) -> Result<Vec<CallableTool>, Verdict> {
    let tools = listed_tools(ctx).await?;
    let callable = callable(ctx, &tools);
    if callable.is_empty() {
        Err(Verdict::untestable(NO_SAFE_TOOL))
    } else {
        Ok(callable)
    }
}

// -- calling -----------------------------------------------------------------

fn call_params(name: &Value, arguments: Option<&Value>) -> Value {
    let mut params = json!({ "name": name });
    if let Some(arguments) = arguments {
        params["arguments"] = arguments.clone();
    }
    params
}

async fn call(
    session: &Session,
    name: &str,
    arguments: Option<&Value>,
    timeout: Duration,
) -> Result<Response, RequestError> {
    session
        .request_timeout(
            "tools/call",
            Some(call_params(&json!(name), arguments)),
            timeout,
        )
        .await
}

/// How a `tools/call` was answered.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// A result without `isError: true`.
    Success,
    /// A result with `isError: true`.
    ToolError,
    /// A JSON-RPC error, with its code when it is an integer.
    RpcError(Option<i64>),
    /// Neither a result nor an error.
    Malformed,
}

impl Answer {
    fn of(response: &Response) -> Answer {
        if response.error().is_some() {
            return Answer::RpcError(response.error_code());
        }
        match response.result() {
            Some(r) if r.get("isError") == Some(&Value::Bool(true)) => Answer::ToolError,
            Some(_) => Answer::Success,
            None => Answer::Malformed,
        }
    }

    fn describe(&self) -> String {
        match self {
            Answer::Success => "a successful result".into(),
            Answer::ToolError => "a result with isError: true".into(),
            Answer::RpcError(Some(c)) => format!("JSON-RPC error {c}"),
            Answer::RpcError(None) => "a JSON-RPC error without an integer code".into(),
            Answer::Malformed => "a response with neither result nor error".into(),
        }
    }
}

/// One answered call.
struct Call {
    tool: CallableTool,
    response: Response,
}

/// Call up to `max` of `tools` with their synthesised arguments, one after another
/// within a budget. Calls that time out are noted and skipped (a slow tool is not a
/// malformed one); a server that dies is a violation.
async fn call_sample(
    ctx: &Ctx,
    tools: &[CallableTool],
    max: usize,
) -> Result<(Vec<Call>, Vec<String>), Verdict> {
    let budget = ctx.config().case_timeout * 2 / 3;
    let deadline = tokio::time::Instant::now() + budget;
    let mut calls = Vec::new();
    let mut skipped = Vec::new();
    for tool in tools.iter().take(max) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            skipped.push(format!("{:?}: not called, time budget spent", tool.name));
            continue;
        }
        let timeout = left.min(ctx.timeout());
        match call(ctx.session(), &tool.name, Some(&tool.arguments), timeout).await {
            Ok(response) => calls.push(Call {
                tool: tool.clone(),
                response,
            }),
            Err(RequestError::Timeout(t)) => {
                skipped.push(format!("{:?}: no answer within {t:?}", tool.name))
            }
            Err(e) => {
                return Err(Verdict::violation(format!(
                    "the server stopped answering while tool {:?} was called",
                    tool.name
                ))
                .expected("a tools/call response")
                .actual(e.to_string()))
            }
        }
    }
    Ok((calls, skipped))
}

fn skipped_note(skipped: &[String]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        format!(" (skipped: {})", skipped.join("; "))
    }
}

// -- TOOLS-001 ---------------------------------------------------------------

async fn capability_matches(ctx: &mut Ctx) -> CaseResult {
    let declared = ctx.profile().declares(Capability::Tools);
    let response = ctx.session().request("tools/list", None).await?;
    let tools = response
        .result()
        .filter(|_| response.error().is_none())
        .and_then(|r| r.get("tools"))
        .and_then(Value::as_array);
    if declared {
        return match tools {
            Some(tools) => Ok(Verdict::pass(format!(
                "tools is declared and tools/list answered with {} tool(s) on the first page",
                tools.len()
            ))),
            None => Ok(
                Verdict::violation("tools is declared but tools/list did not list tools")
                    .expected("a result with a tools array")
                    .actual(response.summary()),
            ),
        };
    }
    refused_undeclared(
        &response,
        tools.is_some_and(|tools| !tools.is_empty()),
        "the server lists tools without declaring the tools capability",
        "tools in the initialize capabilities, or -32601 from tools/list",
        "tools/list without the tools capability",
    )?;
    let call = ctx
        .session()
        .request(
            "tools/call",
            Some(json!({ "name": "mcpspec-probe", "arguments": {} })),
        )
        .await?;
    refused_undeclared(
        &call,
        call.result().is_some() && call.error().is_none(),
        "the server runs tools/call without declaring the tools capability",
        "error -32601",
        "tools/call without the tools capability",
    )?;
    Ok(Verdict::pass(
        "tools is not declared and tools/list and tools/call answer -32601",
    ))
}

/// A request made without the tools capability: if the server `served` it anyway, a
/// violation (`message`, expecting `expected`); otherwise it should be refused with
/// -32601 (`what` names the request).
fn refused_undeclared(
    response: &Response,
    served: bool,
    message: &str,
    expected: &str,
    what: &str,
) -> Result<(), Verdict> {
    if served {
        return Err(Verdict::violation(message)
            .expected(expected)
            .actual(response.summary()));
    }
    expect_error_code(response, &[code::METHOD_NOT_FOUND], what)
        .map_err(|v| v.at_level(Level::Should))
}

// -- TOOLS-002 ---------------------------------------------------------------

/// What is wrong with one listed tool's shape (optional fields only when present).
fn tool_shape_problems(tool: &Value) -> Vec<String> {
    let Some(obj) = tool.as_object() else {
        return vec![format!(
            "entry {} is not an object",
            clip(&tool.to_string(), 80)
        )];
    };
    let label = tool_label(tool);
    let mut problems = Vec::new();
    let mut want =
        |field: &str, ok: fn(&Value) -> bool, what: &str, required: bool| match obj.get(field) {
            None if required => problems.push(format!("tool {label} has no {field}")),
            None => {}
            Some(v) if !ok(v) => problems.push(format!(
                "tool {label}: {field} is {} instead of {what}",
                clip(&v.to_string(), 80)
            )),
            Some(_) => {}
        };
    want("name", Value::is_string, "a string", true);
    want("inputSchema", Value::is_object, "an object", true);
    want("description", Value::is_string, "a string", false);
    want("title", Value::is_string, "a string", false);
    want("annotations", Value::is_object, "an object", false);
    want("outputSchema", Value::is_object, "an object", false);
    want("_meta", Value::is_object, "an object", false);
    want("icons", Value::is_array, "an array", false);
    want("execution", Value::is_object, "an object", false);
    if let Some(Value::Array(icons)) = obj.get("icons") {
        for icon in icons {
            if !icon.get("src").is_some_and(Value::is_string) {
                problems.push(format!(
                    "tool {label}: icon {} has no string src",
                    clip(&icon.to_string(), 80)
                ));
            }
        }
    }
    if let Some(support) = tool.pointer("/execution/taskSupport") {
        if !matches!(
            support.as_str(),
            Some("forbidden" | "optional" | "required")
        ) {
            problems.push(format!(
                "tool {label}: execution.taskSupport is {support}, not forbidden, optional or required"
            ));
        }
    }
    problems
}

async fn list_shape(ctx: &mut Ctx) -> CaseResult {
    let tools = list_all(ctx.session(), "tools/list", "tools", ctx.timeout()).await?;
    let problems: Vec<String> = tools.iter().flat_map(tool_shape_problems).collect();
    let message = format!("{} problem(s) in the tools/list result", problems.len());
    let expected =
        "tools with a string name, an object inputSchema and correctly typed optional fields";
    Ok(listed_verdict(&problems, (&message, expected), || {
        format!("{} listed tool(s), each well shaped", tools.len())
    }))
}

// -- TOOLS-003 ---------------------------------------------------------------

async fn input_schema_object(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    let problems: Vec<String> = tools
        .iter()
        .filter_map(|t| {
            let schema = t.get("inputSchema");
            match schema {
                Some(s) if s.get("type") == Some(&json!("object")) => None,
                _ => Some(format!(
                    "tool {}: inputSchema {}",
                    tool_label(t),
                    schema
                        .map(|s| clip(&s.to_string(), 200))
                        .unwrap_or_else(|| "missing".into())
                )),
            }
        })
        .collect();
    let failure = (
        "inputSchema without \"type\": \"object\" at its root",
        "inputSchema: {\"type\": \"object\", ...}",
    );
    Ok(listed_verdict(&problems, failure, || {
        format!("all {} inputSchema(s) declare type \"object\"", tools.len())
    }))
}

// -- TOOLS-004: schema dialects ------------------------------------------------

/// The dialect a tool schema is written in, per its `$schema` and the revision.
#[derive(Debug, Clone, PartialEq)]
enum Dialect {
    /// `$schema` names a dialect the validator knows.
    Declared(Draft),
    /// `$schema` names something else.
    Unknown(String),
    /// No `$schema`, from 2025-11-25: JSON Schema 2020-12.
    Default202012,
    /// No `$schema` before 2025-11-25: the spec named no dialect, so draft-07 and
    /// 2020-12 are both accepted.
    Unstated,
}

fn dialect_of(schema: &Value, revision: Revision) -> Dialect {
    match schema.get("$schema") {
        Some(Value::String(uri)) => match Draft::Draft202012.detect(schema) {
            Ok(draft) => Dialect::Declared(draft),
            Err(_) => Dialect::Unknown(uri.clone()),
        },
        // A non-string `$schema` is caught by the meta-schema of the default dialect.
        _ if revision >= Revision::V2025_11_25 => Dialect::Default202012,
        _ => Dialect::Unstated,
    }
}

fn draft_name(draft: Draft) -> &'static str {
    match draft {
        Draft::Draft4 => "draft-04",
        Draft::Draft6 => "draft-06",
        Draft::Draft7 => "draft-07",
        Draft::Draft201909 => "2019-09",
        Draft::Draft202012 => "2020-12",
        _ => "an unknown draft",
    }
}

/// mcpspec never fetches schemas: remote references are left unresolved.
struct NoFetch;

impl jsonschema::Retrieve for NoFetch {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("mcpspec does not fetch {}", uri.as_str()).into())
    }
}

/// Why a schema did not compile.
#[derive(Debug, Clone, PartialEq)]
enum CompileError {
    /// Breaks the dialect's meta-schema or cannot be compiled (bad regex, broken
    /// local reference).
    Invalid(String),
    /// Refers to a remote document we do not fetch; not judged.
    Remote(String),
}

/// Meta-validate and compile `schema` as `draft`. Never panics on hostile input.
fn compile(schema: &Value, draft: Draft) -> Result<Validator, CompileError> {
    let built = std::panic::catch_unwind(|| {
        jsonschema::options()
            .with_draft(draft)
            .with_retriever(NoFetch)
            .build(schema)
            .map_err(|e| match &e.kind {
                ValidationErrorKind::Referencing(ReferencingError::Unretrievable {
                    uri, ..
                }) => CompileError::Remote(uri.clone()),
                _ => {
                    let at = e.instance_path.to_string();
                    let at = if at.is_empty() { "/".to_string() } else { at };
                    CompileError::Invalid(format!("{e} (at {at})"))
                }
            })
    });
    built.unwrap_or_else(|_| {
        Err(CompileError::Invalid(
            "the schema crashed the validator".into(),
        ))
    })
}

/// Result of checking one schema against its dialect.
#[derive(Debug, Clone, PartialEq)]
enum SchemaCheck {
    Valid,
    Invalid(String),
    UnknownDialect(String),
    RemoteRef(String),
}

/// Check that `schema` is itself a valid schema in the dialect that applies to it.
fn check_schema(schema: &Value, revision: Revision) -> SchemaCheck {
    let outcome = |draft: Draft| match compile(schema, draft) {
        Ok(_) => SchemaCheck::Valid,
        Err(CompileError::Remote(uri)) => SchemaCheck::RemoteRef(uri),
        Err(CompileError::Invalid(why)) => {
            SchemaCheck::Invalid(format!("not a valid {} schema: {why}", draft_name(draft)))
        }
    };
    match dialect_of(schema, revision) {
        Dialect::Declared(draft) => outcome(draft),
        Dialect::Default202012 => outcome(Draft::Draft202012),
        Dialect::Unknown(uri) => SchemaCheck::UnknownDialect(uri),
        Dialect::Unstated => match (outcome(Draft::Draft7), outcome(Draft::Draft202012)) {
            (SchemaCheck::Invalid(a), SchemaCheck::Invalid(b)) => {
                SchemaCheck::Invalid(format!("{a}; and {b}"))
            }
            (SchemaCheck::Valid, _) | (_, SchemaCheck::Valid) => SchemaCheck::Valid,
            (other, _) => other,
        },
    }
}

/// A validator for instances of `schema` (for structuredContent), in its dialect.
fn instance_validator(schema: &Value, revision: Revision) -> Result<Validator, String> {
    let draft = match dialect_of(schema, revision) {
        Dialect::Declared(draft) => draft,
        Dialect::Default202012 => Draft::Draft202012,
        // Schemas of the older revisions' own schema files are draft-07.
        Dialect::Unstated => Draft::Draft7,
        Dialect::Unknown(uri) => return Err(format!("unknown dialect {uri}")),
    };
    compile(schema, draft).map_err(|e| match e {
        CompileError::Invalid(why) => why,
        CompileError::Remote(uri) => format!("refers to remote schema {uri}"),
    })
}

async fn schemas_valid(ctx: &mut Ctx) -> CaseResult {
    let revision = ctx.revision();
    let tools = listed_tools(ctx).await?;
    let mut invalid = Vec::new();
    let mut unknown = Vec::new();
    let mut remote = Vec::new();
    let mut checked = 0;
    for tool in &tools {
        for field in ["inputSchema", "outputSchema"] {
            // Non-object schemas are judged by list-shape and input-schema-object.
            let Some(schema) = tool.get(field).filter(|s| s.is_object()) else {
                continue;
            };
            checked += 1;
            let at = format!("tool {} {field}", tool_label(tool));
            match check_schema(schema, revision) {
                SchemaCheck::Valid => {}
                SchemaCheck::Invalid(why) => invalid.push(format!("{at}: {why}")),
                SchemaCheck::UnknownDialect(uri) => unknown.push(format!("{at}: $schema {uri:?}")),
                SchemaCheck::RemoteRef(uri) => remote.push(format!("{at}: {uri}")),
            }
        }
    }
    if !invalid.is_empty() {
        let verdict = Verdict::violation(format!("{} invalid tool schema(s)", invalid.len()))
            .expected(if revision >= Revision::V2025_11_25 {
                "schemas valid in the dialect named by $schema, else JSON Schema 2020-12"
            } else {
                "schemas valid as draft-07 or 2020-12 (or the dialect named by $schema)"
            })
            .actual(invalid.join("\n"));
        // Before 2025-11-25 no dialect was stated: an interoperability expectation.
        return Ok(if revision >= Revision::V2025_11_25 {
            verdict
        } else {
            verdict.at_level(Level::Should)
        });
    }
    if !unknown.is_empty() {
        return Ok(
            Verdict::violation("tool schemas name a dialect mcpspec cannot check")
                .at_level(Level::May)
                .actual(unknown.join("\n")),
        );
    }
    let note = if remote.is_empty() {
        String::new()
    } else {
        format!("; remote references left unchecked: {}", remote.join(", "))
    };
    Ok(Verdict::pass(format!(
        "{checked} schema(s) of {} tool(s) are valid in their dialect{note}",
        tools.len()
    )))
}

// -- TOOLS-005 / TOOLS-006 -----------------------------------------------------

async fn unique_names(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for tool in &tools {
        if let Some(name) = tool.get("name").and_then(Value::as_str) {
            *counts.entry(name).or_default() += 1;
        }
    }
    let duplicates: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(name, n)| format!("{name:?} listed {n} times"))
        .collect();
    let failure = (
        "tool names are repeated: tools/call cannot reach the shadowed ones",
        "each name once across all pages",
    );
    Ok(listed_verdict(&duplicates, failure, || {
        format!("{} distinct tool name(s)", counts.len())
    }))
}

/// The recommended tool name form: 1 to 128 of `A-Z a-z 0-9 _ - .`.
pub(crate) fn is_recommended_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

async fn name_charset(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    let offenders: Vec<String> = tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .filter(|n| !is_recommended_tool_name(n))
        .map(|n| format!("{:?}", clip(n, 160)))
        .collect();
    let failure = (
        "tool names outside the recommended form",
        "1 to 128 characters from A-Z a-z 0-9 _ - .",
    );
    Ok(listed_verdict(&offenders, failure, || {
        format!(
            "all {} tool name(s) use the recommended characters",
            tools.len()
        )
    }))
}

// -- TOOLS-007 -----------------------------------------------------------------

async fn output_schema_object(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    let with_schema: Vec<&Value> = tools
        .iter()
        .filter(|t| t.get("outputSchema").is_some())
        .collect();
    if with_schema.is_empty() {
        return Ok(Verdict::not_applicable("no tool declares an outputSchema"));
    }
    let problems: Vec<String> = with_schema
        .iter()
        .filter(|t| t.pointer("/outputSchema/type") != Some(&json!("object")))
        .map(|t| {
            format!(
                "tool {}: outputSchema {}",
                tool_label(t),
                clip(&t["outputSchema"].to_string(), 200)
            )
        })
        .collect();
    let failure = (
        "outputSchema without \"type\": \"object\" at its root",
        "outputSchema: {\"type\": \"object\", ...}",
    );
    Ok(listed_verdict(&problems, failure, || {
        format!(
            "{} outputSchema(s), each with type \"object\" at the root",
            with_schema.len()
        )
    }))
}

// -- TOOLS-008 / 009 / 010: structured results --------------------------------

/// Calls of the safe tools that declare an outputSchema.
async fn structured_calls(ctx: &Ctx) -> Result<(Vec<Call>, Vec<String>), Verdict> {
    let tools = listed_tools(ctx).await?;
    let candidates: Vec<CallableTool> = callable(ctx, &tools)
        .into_iter()
        .filter(|t| {
            t.definition
                .get("outputSchema")
                .is_some_and(Value::is_object)
        })
        .collect();
    if candidates.is_empty() {
        return Err(Verdict::untestable(
            "no safe tool declares an outputSchema with arguments mcpspec can build; \
             allow one with --allow-tool NAME",
        ));
    }
    call_sample(ctx, &candidates, MAX_SAMPLE_CALLS).await
}

async fn structured_content_conforms(ctx: &mut Ctx) -> CaseResult {
    let revision = ctx.revision();
    let (calls, mut skipped) = structured_calls(ctx).await?;
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for Call { tool, response } in &calls {
        if Answer::of(response) != Answer::Success {
            skipped.push(format!(
                "{:?}: answered {}",
                tool.name,
                Answer::of(response).describe()
            ));
            continue;
        }
        let schema = &tool.definition["outputSchema"];
        let validator = match instance_validator(schema, revision) {
            Ok(v) => v,
            Err(why) => {
                skipped.push(format!("{:?}: outputSchema not usable ({why})", tool.name));
                continue;
            }
        };
        checked.push(tool.name.clone());
        match response.result().and_then(|r| r.get("structuredContent")) {
            None => problems.push(format!(
                "{:?} returned no structuredContent: {}",
                tool.name,
                response.summary()
            )),
            Some(structured) => {
                let errors: Vec<String> = validator
                    .iter_errors(structured)
                    .take(5)
                    .map(|e| format!("at {:?}: {e}", e.instance_path.to_string()))
                    .collect();
                if !errors.is_empty() {
                    problems.push(format!(
                        "{:?} structuredContent {} does not validate: {}",
                        tool.name,
                        clip(&structured.to_string(), 300),
                        errors.join("; ")
                    ));
                }
            }
        }
    }
    Ok(judged_verdict(
        &problems,
        checked.len(),
        (
            "structuredContent missing or not valid against the tool's outputSchema",
            "structuredContent that validates against outputSchema",
        ),
        || {
            format!(
                "no call of a tool with an outputSchema succeeded{}",
                skipped_note(&skipped)
            )
        },
        || {
            format!(
                "structuredContent of {} validated against its outputSchema{}",
                checked.join(", "),
                skipped_note(&skipped)
            )
        },
    ))
}

/// JSON equality where numbers compare by value (`5` equals `5.0`).
pub(crate) fn json_equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equivalent(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equivalent(v, w)))
        }
        _ => a == b,
    }
}

/// Whether some text block of `result` holds `structured` serialized as JSON.
fn mirrored_as_text(result: &Value, structured: &Value) -> bool {
    result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|b| b.get("type") == Some(&json!("text")))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .any(|v| json_equivalent(&v, structured))
}

async fn structured_content_mirrored(ctx: &mut Ctx) -> CaseResult {
    let (calls, skipped) = structured_calls(ctx).await?;
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for Call { tool, response } in &calls {
        let Some(result) = response.result().filter(|_| response.error().is_none()) else {
            continue;
        };
        let Some(structured) = result.get("structuredContent") else {
            continue;
        };
        checked.push(tool.name.clone());
        if !mirrored_as_text(result, structured) {
            problems.push(format!(
                "{:?}: {}",
                tool.name,
                clip(&result.to_string(), 400)
            ));
        }
    }
    Ok(judged_verdict(
        &problems,
        checked.len(),
        (
            "structuredContent is not repeated as JSON in a text block",
            "a text content block whose text parses to the structuredContent",
        ),
        || {
            format!(
                "no call result carried structuredContent{}",
                skipped_note(&skipped)
            )
        },
        || {
            format!(
                "structuredContent of {} is mirrored in a text block{}",
                checked.join(", "),
                skipped_note(&skipped)
            )
        },
    ))
}

async fn structured_content_object(ctx: &mut Ctx) -> CaseResult {
    let (calls, skipped) = structured_calls(ctx).await?;
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for Call { tool, response } in &calls {
        let Some(structured) = response
            .result()
            .filter(|_| response.error().is_none())
            .and_then(|r| r.get("structuredContent"))
        else {
            continue;
        };
        checked.push(tool.name.clone());
        if !structured.is_object() {
            problems.push(format!(
                "{:?}: structuredContent {}",
                tool.name,
                clip(&structured.to_string(), 200)
            ));
        }
    }
    Ok(judged_verdict(
        &problems,
        checked.len(),
        (
            "structuredContent is not a JSON object",
            "structuredContent: {...}",
        ),
        || {
            format!(
                "no call result carried structuredContent{}",
                skipped_note(&skipped)
            )
        },
        || {
            format!(
                "structuredContent of {} is an object{}",
                checked.join(", "),
                skipped_note(&skipped)
            )
        },
    ))
}

// -- TOOLS-012 -----------------------------------------------------------------

fn is_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

/// What is wrong with one content block, for a session at `revision`.
pub(crate) fn content_block_problems(block: &Value, revision: Revision) -> Vec<String> {
    let shown = clip(&block.to_string(), 160);
    let Some(obj) = block.as_object() else {
        return vec![format!("block {shown} is not an object")];
    };
    let string = |key: &str| obj.get(key).and_then(Value::as_str);
    let mut problems = Vec::new();
    let mut need_string = |key: &str| {
        if string(key).is_none() {
            problems.push(format!("block {shown}: {key} is missing or not a string"));
        }
    };
    let ty = string("type").unwrap_or("");
    match ty {
        "text" => need_string("text"),
        "image" | "audio" => {
            if ty == "audio" && revision < Revision::V2025_03_26 {
                return vec![format!(
                    "block {shown}: audio content exists only from 2025-03-26"
                )];
            }
            need_string("mimeType");
            need_string("data");
            if let Some(data) = string("data") {
                if !is_base64(data) {
                    problems.push(format!("block {shown}: data is not standard base64"));
                }
            }
        }
        "resource_link" => {
            if revision < Revision::V2025_06_18 {
                return vec![format!(
                    "block {shown}: resource_link content exists only from 2025-06-18"
                )];
            }
            need_string("uri");
            need_string("name");
        }
        "resource" => match obj.get("resource").and_then(Value::as_object) {
            None => problems.push(format!("block {shown}: resource is not an object")),
            Some(res) => {
                let text = res.get("text");
                let blob = res.get("blob");
                if !res.get("uri").is_some_and(Value::is_string) {
                    problems.push(format!("block {shown}: resource.uri is not a string"));
                }
                match (text, blob) {
                    (Some(Value::String(_)), None) => {}
                    (None, Some(Value::String(b))) => {
                        if !is_base64(b) {
                            problems.push(format!(
                                "block {shown}: resource.blob is not standard base64"
                            ));
                        }
                    }
                    _ => problems.push(format!(
                        "block {shown}: resource needs exactly one of a string text or blob"
                    )),
                }
            }
        },
        _ => problems.push(format!("block {shown}: unknown content type {ty:?}")),
    }
    problems
}

/// What is wrong with a `CallToolResult`'s content and isError.
fn call_result_problems(result: &Value, revision: Revision) -> Vec<String> {
    let mut problems = Vec::new();
    match result.get("content") {
        Some(Value::Array(blocks)) => {
            for block in blocks {
                problems.extend(content_block_problems(block, revision));
            }
        }
        Some(other) => problems.push(format!(
            "content is {} instead of an array",
            clip(&other.to_string(), 100)
        )),
        None => problems.push("content is missing".into()),
    }
    if let Some(flag) = result.get("isError") {
        if !flag.is_boolean() {
            problems.push(format!("isError is {flag}, not a boolean"));
        }
    }
    problems
}

async fn call_result_content(ctx: &mut Ctx) -> CaseResult {
    let revision = ctx.revision();
    let tools = callable_or_untestable(ctx).await?;
    let (calls, mut skipped) = call_sample(ctx, &tools, MAX_SAMPLE_CALLS).await?;
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for Call { tool, response } in &calls {
        let Some(result) = response.result().filter(|_| response.error().is_none()) else {
            skipped.push(format!("{:?}: answered {}", tool.name, response.summary()));
            continue;
        };
        checked.push(tool.name.clone());
        for p in call_result_problems(result, revision) {
            problems.push(format!("{:?}: {p}", tool.name));
        }
    }
    let expected =
        format!("a content array of blocks valid at {revision}, and a boolean isError if any");
    Ok(judged_verdict(
        &problems,
        checked.len(),
        ("malformed tool call results", &expected),
        || format!("no tool call returned a result{}", skipped_note(&skipped)),
        || {
            format!(
                "results of {} have well-formed content{}",
                checked.join(", "),
                skipped_note(&skipped)
            )
        },
    ))
}

// -- TOOLS-013 -----------------------------------------------------------------

async fn unknown_tool(ctx: &mut Ctx) -> CaseResult {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!("mcpspec-no-such-tool-{nonce:x}");
    let response = call(ctx.session(), &name, Some(&json!({})), ctx.timeout()).await?;
    match Answer::of(&response) {
        Answer::RpcError(Some(code::INVALID_PARAMS)) => Ok(Verdict::pass(
            "calling an unknown tool was answered with -32602",
        )),
        Answer::RpcError(_) => Ok(Verdict::violation(
            "an unknown tool got a JSON-RPC error with an unconventional code",
        )
        .at_level(Level::May)
        .expected("error -32602")
        .actual(response.summary())),
        Answer::ToolError => Ok(Verdict::violation(
            "an unknown tool was reported as a tool execution error, not a protocol error",
        )
        .at_level(Level::Should)
        .expected("a JSON-RPC error, conventionally -32602")
        .actual(response.summary())),
        Answer::Success | Answer::Malformed => Ok(Verdict::violation(format!(
            "calling the unknown tool {name:?} did not produce an error"
        ))
        .expected("a JSON-RPC error, conventionally -32602")
        .actual(response.summary())),
    }
}

// -- TOOLS-014 -----------------------------------------------------------------

async fn malformed_call(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    // Non-object arguments go to a tool that is safe in case the server runs it anyway.
    let target = callable(ctx, &tools).into_iter().next();
    let mut probes: Vec<(String, Value)> = vec![
        ("params without name".into(), json!({})),
        ("name 7".into(), json!({ "name": 7 })),
        ("name null".into(), json!({ "name": null, "arguments": {} })),
    ];
    if let Some(tool) = &target {
        for (what, args) in [
            ("arguments []", json!([])),
            ("arguments \"x\"", json!("x")),
            ("arguments null", Value::Null),
        ] {
            probes.push((
                format!("{what} for tool {:?}", tool.name),
                call_params(&json!(tool.name), Some(&args)),
            ));
        }
    }
    let mut accepted = Vec::new();
    let mut other_codes = Vec::new();
    for (what, params) in &probes {
        let response = ctx
            .session()
            .request_timeout("tools/call", Some(params.clone()), ctx.timeout())
            .await?;
        match Answer::of(&response) {
            Answer::RpcError(Some(code::INVALID_PARAMS)) => {}
            Answer::RpcError(_) => other_codes.push(format!("{what}: {}", response.summary())),
            _ => accepted.push(format!("{what}: {}", response.summary())),
        }
    }
    still_serving(
        ctx.session(),
        ctx.timeout(),
        "malformed tools/call requests",
    )
    .await?;
    if !accepted.is_empty() {
        return Ok(
            Verdict::violation("malformed tools/call requests were not rejected")
                .expected("a JSON-RPC error (-32602) for each")
                .actual(accepted.join("\n")),
        );
    }
    if !other_codes.is_empty() {
        return Ok(Verdict::violation(
            "malformed tools/call requests got an error other than -32602",
        )
        .at_level(Level::Should)
        .expected("error -32602")
        .actual(other_codes.join("\n")));
    }
    let note = if target.is_none() {
        format!(" (non-object arguments not sent: {NO_SAFE_TOOL})")
    } else {
        String::new()
    };
    Ok(Verdict::pass(format!(
        "{} malformed tools/call request(s) each got -32602{note}",
        probes.len()
    )))
}

// -- TOOLS-015 -----------------------------------------------------------------

/// A value of the wrong JSON type for a property declaring `type`, or `None` when the
/// property's schema is not a single plain type.
pub(crate) fn wrong_type_value(property: &Value) -> Option<Value> {
    // Other keywords only narrow what `type` allows, so breaking `type` is enough.
    Some(match property.get("type")?.as_str()? {
        "string" => json!(12345),
        "number" | "integer" => json!("mcpspec-not-a-number"),
        "boolean" => json!("mcpspec-not-a-boolean"),
        "array" => json!("mcpspec-not-an-array"),
        "object" => json!("mcpspec-not-an-object"),
        _ => return None,
    })
}

/// Valid arguments with one required property replaced by a value of the wrong type.
fn mutated_arguments(tool: &CallableTool) -> Option<(String, Value)> {
    let schema = tool.definition.get("inputSchema")?;
    let properties = schema.get("properties")?.as_object()?;
    let required = schema.get("required")?.as_array()?;
    required.iter().filter_map(Value::as_str).find_map(|name| {
        let wrong = wrong_type_value(properties.get(name)?)?;
        let mut arguments = tool.arguments.clone();
        arguments.as_object_mut()?.insert(name.to_string(), wrong);
        Some((name.to_string(), arguments))
    })
}

async fn invalid_arguments(ctx: &mut Ctx) -> CaseResult {
    let revision = ctx.revision();
    let tools = callable_or_untestable(ctx).await?;
    let targets: Vec<(CallableTool, String, Value)> = tools
        .into_iter()
        .filter_map(|t| {
            let (property, arguments) = mutated_arguments(&t)?;
            Some((t, property, arguments))
        })
        .take(MAX_MUTATED_TOOLS)
        .collect();
    if targets.is_empty() {
        return Ok(Verdict::untestable(
            "no safe tool has a required argument with a plain JSON type to get wrong; \
             allow one with --allow-tool NAME",
        ));
    }
    let mut executed = Vec::new();
    let mut bad_form = Vec::new();
    let mut protocol_errors = Vec::new();
    let mut tool_errors = Vec::new();
    for (tool, property, arguments) in &targets {
        let response = call(ctx.session(), &tool.name, Some(arguments), ctx.timeout()).await?;
        let what = format!(
            "{:?} with {property} = {}",
            tool.name,
            arguments.get(property).cloned().unwrap_or_default()
        );
        match Answer::of(&response) {
            Answer::ToolError => tool_errors.push(what),
            Answer::RpcError(Some(code::INVALID_PARAMS)) => protocol_errors.push(what),
            Answer::RpcError(_) => bad_form.push(format!("{what}: {}", response.summary())),
            Answer::Success | Answer::Malformed => {
                executed.push(format!("{what}: {}", response.summary()))
            }
        }
    }
    if !executed.is_empty() {
        return Ok(
            Verdict::violation("arguments that break the inputSchema were not rejected")
                .expected(if revision >= Revision::V2025_11_25 {
                    "a result with isError: true (or error -32602)"
                } else {
                    "error -32602"
                })
                .actual(executed.join("\n")),
        );
    }
    if !bad_form.is_empty() {
        return Ok(Verdict::violation(
            "invalid arguments were rejected with an unsuitable error code",
        )
        .at_level(Level::Should)
        .expected(if revision >= Revision::V2025_11_25 {
            "a result with isError: true (or error -32602)"
        } else {
            "error -32602"
        })
        .actual(bad_form.join("\n")));
    }
    if revision >= Revision::V2025_11_25 && !protocol_errors.is_empty() {
        // From 2025-11-25 the preferred form is a tool execution error; the schema's
        // own examples still show -32602, so this is only reported.
        return Ok(Verdict::violation(
            "invalid arguments were rejected as protocol errors rather than isError results",
        )
        .at_level(Level::May)
        .expected("a result with isError: true")
        .actual(protocol_errors.join("\n")));
    }
    let mut forms = Vec::new();
    if !protocol_errors.is_empty() {
        forms.push(format!("-32602 for {}", protocol_errors.join(", ")));
    }
    if !tool_errors.is_empty() {
        forms.push(format!("isError result for {}", tool_errors.join(", ")));
    }
    Ok(Verdict::pass(format!(
        "wrongly typed arguments were rejected: {}",
        forms.join("; ")
    )))
}

// -- TOOLS-016 -----------------------------------------------------------------

async fn failure_is_result(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    // Only a tool known to fail can show how failures are reported; by convention
    // it is named `fail`.
    let Some(tool) = callable(ctx, &tools).into_iter().find(|t| t.name == "fail") else {
        return Ok(Verdict::untestable(
            "needs a safe tool named `fail` that always fails; none is listed, or it is not \
             annotated readOnlyHint (allow it with --allow-tool fail)",
        ));
    };
    let response = call(
        ctx.session(),
        &tool.name,
        Some(&tool.arguments),
        ctx.timeout(),
    )
    .await?;
    match Answer::of(&response) {
        Answer::ToolError => Ok(Verdict::pass(
            "the failing tool reported a result with isError: true",
        )),
        Answer::RpcError(_) => Ok(Verdict::violation(
            "a tool failure was reported as a JSON-RPC error",
        )
        .expected("a result with isError: true")
        .actual(response.summary())),
        Answer::Success => Ok(Verdict::untestable(format!(
            "the tool named `fail` succeeded, so it shows nothing about failures: {}",
            response.summary()
        ))),
        Answer::Malformed => Ok(
            Verdict::violation("the failing tool got a malformed answer")
                .expected("a result with isError: true")
                .actual(response.summary()),
        ),
    }
}

// -- TOOLS-017 -----------------------------------------------------------------

fn has_required(schema: &Value) -> bool {
    schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
}

async fn arguments_optional(ctx: &mut Ctx) -> CaseResult {
    let tools = callable_or_untestable(ctx).await?;
    let mut candidates: Vec<CallableTool> = tools
        .into_iter()
        .filter(|t| !t.definition.get("inputSchema").is_some_and(has_required))
        .collect();
    // A tool that always fails says less about argument handling: try it last.
    candidates.sort_by_key(|t| t.name == "fail");
    if candidates.is_empty() {
        return Ok(Verdict::untestable(
            "every safe tool has required arguments; needs a safe tool without any \
             (allow one with --allow-tool NAME)",
        ));
    }
    let mut notes = Vec::new();
    for tool in candidates.iter().take(MAX_MUTATED_TOOLS) {
        let with_empty = call(ctx.session(), &tool.name, Some(&json!({})), ctx.timeout()).await?;
        let baseline = Answer::of(&with_empty);
        if !matches!(baseline, Answer::Success | Answer::ToolError) {
            notes.push(format!(
                "{:?} with arguments {{}}: {}",
                tool.name,
                with_empty.summary()
            ));
            continue;
        }
        let omitted = call(ctx.session(), &tool.name, None, ctx.timeout()).await?;
        let answer = Answer::of(&omitted);
        if answer == baseline {
            return Ok(Verdict::pass(format!(
                "tool {:?} gave {} both with arguments omitted and with {{}}",
                tool.name,
                answer.describe()
            )));
        }
        return Ok(Verdict::violation(format!(
            "tool {:?} was handled differently when arguments were omitted",
            tool.name
        ))
        .expected(format!("{}, as with arguments {{}}", baseline.describe()))
        .actual(omitted.summary()));
    }
    Ok(Verdict::untestable(format!(
        "no tool without required arguments could be called with {{}}: {}",
        notes.join("; ")
    )))
}

// -- TOOLS-019 -----------------------------------------------------------------

async fn annotations_typed(ctx: &mut Ctx) -> CaseResult {
    let tools = listed_tools(ctx).await?;
    let annotated: Vec<&Value> = tools
        .iter()
        .filter(|t| t.get("annotations").is_some())
        .collect();
    if annotated.is_empty() {
        return Ok(Verdict::not_applicable("no tool carries annotations"));
    }
    let mut problems = Vec::new();
    let mut contradictory = Vec::new();
    for tool in &annotated {
        let label = tool_label(tool);
        let Some(a) = tool["annotations"].as_object() else {
            problems.push(format!(
                "tool {label}: annotations is {}",
                clip(&tool["annotations"].to_string(), 100)
            ));
            continue;
        };
        if let Some(title) = a.get("title") {
            if !title.is_string() {
                problems.push(format!("tool {label}: annotations.title is {title}"));
            }
        }
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            if let Some(v) = a.get(hint) {
                if !v.is_boolean() {
                    problems.push(format!(
                        "tool {label}: annotations.{hint} is {}",
                        clip(&v.to_string(), 60)
                    ));
                }
            }
        }
        if a.get("readOnlyHint") == Some(&json!(true))
            && a.get("destructiveHint") == Some(&json!(true))
        {
            contradictory.push(label);
        }
    }
    if !problems.is_empty() {
        return Ok(Verdict::violation("tool annotations are wrongly typed")
            .expected("annotations.title a string; the four hints booleans")
            .actual(problems.join("\n")));
    }
    if !contradictory.is_empty() {
        return Ok(
            Verdict::violation("tools are annotated both read-only and destructive")
                .at_level(Level::May)
                .actual(contradictory.join(", ")),
        );
    }
    Ok(Verdict::pass(format!(
        "annotations of {} tool(s) are well typed",
        annotated.len()
    )))
}

// -- TOOLS-023 -----------------------------------------------------------------

async fn embedded_resources_capability(ctx: &mut Ctx) -> CaseResult {
    if ctx.profile().declares(Capability::Resources) {
        return Ok(Verdict::pass(
            "the server declares resources, so tool results may embed them",
        ));
    }
    let tools = callable_or_untestable(ctx).await?;
    let (calls, skipped) = call_sample(ctx, &tools, MAX_SAMPLE_CALLS).await?;
    let mut results = 0;
    let mut embedding = Vec::new();
    for Call { tool, response } in &calls {
        let Some(result) = response.result() else {
            continue;
        };
        results += 1;
        let embeds = result
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|blocks| {
                blocks
                    .iter()
                    .any(|b| b.get("type") == Some(&json!("resource")))
            });
        if embeds {
            embedding.push(tool.name.clone());
        }
    }
    if !embedding.is_empty() {
        return Ok(Verdict::violation(
            "tool results embed resources but the server does not declare resources",
        )
        .expected("resources in the initialize capabilities")
        .actual(format!("embedded resources from {}", embedding.join(", "))));
    }
    if results == 0 {
        return Ok(Verdict::untestable(format!(
            "no tool call returned a result{}",
            skipped_note(&skipped)
        )));
    }
    Ok(Verdict::pass(format!(
        "none of {results} tool result(s) embedded a resource{}",
        skipped_note(&skipped)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_tools_are_refused_with_method_not_found() {
        let answer = |raw: Value| Response { raw };
        let refused =
            answer(json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}}));
        assert!(refused_undeclared(&refused, false, "served", "-32601", "tools/list").is_ok());
        // Served anyway: a violation at the case's own level, with the caller's words.
        let served = answer(json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{}]}}));
        let v = refused_undeclared(&served, true, "served", "-32601", "tools/list").unwrap_err();
        assert_eq!(v.kind, VerdictKind::Violation);
        assert_eq!((v.message.as_str(), v.level), ("served", None));
        assert_eq!(v.expected.as_deref(), Some("-32601"));
        // Refused with another code: a SHOULD-level violation naming the request.
        let other =
            answer(json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32600, "message": "no"}}));
        let v = refused_undeclared(&other, false, "served", "-32601", "tools/list").unwrap_err();
        assert_eq!(v.kind, VerdictKind::Violation);
        assert_eq!(v.level, Some(Level::Should));
        assert!(
            v.message.starts_with("tools/list: expected error -32601"),
            "{}",
            v.message
        );
    }

    #[test]
    fn recommended_tool_names() {
        for ok in ["echo", "get-sum", "a.b_c-D9", &"x".repeat(128)] {
            assert!(is_recommended_tool_name(ok), "{ok}");
        }
        for bad in ["", "bad name/!", "a,b", "tool:x", "é", &"x".repeat(129)] {
            assert!(!is_recommended_tool_name(bad), "{bad}");
        }
    }

    #[test]
    fn dialect_follows_dollar_schema_and_revision() {
        let plain = json!({"type": "object"});
        assert_eq!(
            dialect_of(&plain, Revision::V2025_11_25),
            Dialect::Default202012
        );
        assert_eq!(dialect_of(&plain, Revision::V2025_06_18), Dialect::Unstated);
        let draft7 = json!({"$schema": "http://json-schema.org/draft-07/schema#"});
        assert_eq!(
            dialect_of(&draft7, Revision::V2025_11_25),
            Dialect::Declared(Draft::Draft7)
        );
        let odd = json!({"$schema": "https://example.com/my-dialect"});
        assert!(matches!(
            dialect_of(&odd, Revision::V2025_11_25),
            Dialect::Unknown(_)
        ));
    }

    #[test]
    fn meta_validation_catches_broken_schemas() {
        let r = Revision::V2025_11_25;
        let good = json!({
            "type": "object",
            "properties": {"a": {"type": "number"}},
            "required": ["a"],
            "additionalProperties": false
        });
        assert_eq!(check_schema(&good, r), SchemaCheck::Valid);
        for bad in [
            json!({"type": "objekt"}),
            json!({"type": "object", "required": "a"}),
            json!({"type": "object", "properties": {"a": 5}}),
            json!({"type": "object", "minProperties": -1}),
        ] {
            assert!(
                matches!(check_schema(&bad, r), SchemaCheck::Invalid(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn older_revisions_accept_draft7_or_2020_12() {
        // Array-form `items` is draft-07 only; `prefixItems` is 2020-12 only.
        let draft7_only =
            json!({"type": "object", "properties": {"p": {"items": [{"type": "string"}]}}});
        assert_eq!(
            check_schema(&draft7_only, Revision::V2025_06_18),
            SchemaCheck::Valid
        );
        assert!(matches!(
            check_schema(&draft7_only, Revision::V2025_11_25),
            SchemaCheck::Invalid(_)
        ));
        let declared = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"p": {"items": [{"type": "string"}]}}});
        assert_eq!(
            check_schema(&declared, Revision::V2025_11_25),
            SchemaCheck::Valid
        );
    }

    #[test]
    fn unknown_dialects_and_remote_refs_are_not_judged() {
        let r = Revision::V2025_11_25;
        let odd = json!({"$schema": "https://example.com/dialect", "type": "object"});
        assert!(matches!(
            check_schema(&odd, r),
            SchemaCheck::UnknownDialect(_)
        ));
        let remote =
            json!({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}});
        assert!(matches!(
            check_schema(&remote, r),
            SchemaCheck::RemoteRef(_)
        ));
        let dangling = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}});
        assert!(matches!(
            check_schema(&dangling, r),
            SchemaCheck::Invalid(_)
        ));
    }

    #[test]
    fn instance_validation_uses_the_dialect() {
        let schema = json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]});
        let v = instance_validator(&schema, Revision::V2025_11_25).expect("compiles");
        assert!(v.is_valid(&json!({"sum": 5})));
        assert!(!v.is_valid(&json!({"sum": "5"})));
        assert!(!v.is_valid(&json!({})));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_equivalent(&json!({"a": [5]}), &json!({"a": [5.0]})));
        assert!(!json_equivalent(&json!({"a": 5}), &json!({"a": "5"})));
        assert!(!json_equivalent(&json!({"a": 5}), &json!({"a": 5, "b": 1})));
        let result = json!({"content": [{"type": "text", "text": "5"}, {"type": "text", "text": "{\"sum\": 5.0}"}]});
        assert!(mirrored_as_text(&result, &json!({"sum": 5})));
        assert!(!mirrored_as_text(
            &json!({"content": []}),
            &json!({"sum": 5})
        ));
    }

    #[test]
    fn content_blocks_by_revision() {
        let r = Revision::V2025_11_25;
        assert!(content_block_problems(&json!({"type": "text", "text": "hi"}), r).is_empty());
        assert!(!content_block_problems(&json!({"type": "text"}), r).is_empty());
        let image = json!({"type": "image", "data": "AAECA/3+/w==", "mimeType": "image/png"});
        assert!(content_block_problems(&image, r).is_empty());
        let bad_image = json!({"type": "image", "data": "not base64!", "mimeType": "image/png"});
        assert!(!content_block_problems(&bad_image, r).is_empty());
        let audio = json!({"type": "audio", "data": "AAAA", "mimeType": "audio/wav"});
        assert!(content_block_problems(&audio, r).is_empty());
        assert!(!content_block_problems(&audio, Revision::V2024_11_05).is_empty());
        let link = json!({"type": "resource_link", "uri": "x://a", "name": "a"});
        assert!(content_block_problems(&link, r).is_empty());
        assert!(!content_block_problems(&link, Revision::V2025_03_26).is_empty());
        let embedded = json!({"type": "resource", "resource": {"uri": "x://a", "text": "t"}});
        assert!(content_block_problems(&embedded, r).is_empty());
        let both =
            json!({"type": "resource", "resource": {"uri": "x://a", "text": "t", "blob": "AAAA"}});
        assert!(!content_block_problems(&both, r).is_empty());
        assert!(!content_block_problems(&json!({"type": "video"}), r).is_empty());
        assert_eq!(
            call_result_problems(&json!({"isError": false}), r),
            vec!["content is missing".to_string()]
        );
    }

    #[test]
    fn wrong_types_break_the_declared_type() {
        assert_eq!(
            wrong_type_value(&json!({"type": "string"})),
            Some(json!(12345))
        );
        assert!(wrong_type_value(&json!({"type": "integer"})).is_some_and(|v| v.is_string()));
        assert_eq!(wrong_type_value(&json!({"enum": ["a"]})), None);
        assert_eq!(wrong_type_value(&json!({"type": ["string", "null"]})), None);
        let tool = CallableTool {
            name: "echo".into(),
            arguments: json!({"text": "mcpspec"}),
            definition: json!({"name": "echo", "inputSchema": {
                "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}),
        };
        assert_eq!(
            mutated_arguments(&tool),
            Some(("text".to_string(), json!({"text": 12345})))
        );
    }

    #[test]
    fn tool_shapes() {
        assert!(
            tool_shape_problems(&json!({"name": "a", "inputSchema": {"type": "object"}}))
                .is_empty()
        );
        assert!(!tool_shape_problems(&json!({"inputSchema": {}})).is_empty());
        assert!(!tool_shape_problems(&json!({"name": "a", "inputSchema": null})).is_empty());
        assert!(
            !tool_shape_problems(&json!({"name": "a", "inputSchema": {}, "title": 3})).is_empty()
        );
        assert!(!tool_shape_problems(
            &json!({"name": "a", "inputSchema": {}, "execution": {"taskSupport": "always"}})
        )
        .is_empty());
    }
}
