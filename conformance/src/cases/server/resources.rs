//! Spec page `server/resources`. Catalogue area RES.
//!
//! Also home of small shape helpers (typed fields, strict base64, MIME types, RFC 6570
//! templates) that the prompts and completion pages reuse.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::{
    code, expect_result, judged_verdict, list_all, report_problems, still_serving,
};
use crate::session::{Response, Session};
use crate::spec::{Level, Revisions, ANY_TRANSPORT};
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

pub const CASES: &[Case] = &[
    Case {
        id: "server/resources/capability-matches",
        title: "Resource methods work exactly when the resources capability is declared",
        requirements: &["RES-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(capability_matches(ctx)),
    },
    Case {
        id: "server/resources/list-shape",
        title: "resources/list entries carry string uri and name and correctly typed optional fields",
        requirements: &["RES-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(list_shape(ctx)),
    },
    Case {
        id: "server/resources/read-shape",
        title: "resources/read returns a contents array of text or blob entries with a uri",
        requirements: &["RES-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(read_shape(ctx)),
    },
    Case {
        id: "server/resources/blob-base64",
        title: "Binary resource contents are valid standard base64",
        requirements: &["RES-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(blob_base64(ctx)),
    },
    Case {
        id: "server/resources/listed-readable",
        title: "Resources that resources/list returns can be read",
        requirements: &["RES-005"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(listed_readable(ctx)),
    },
    Case {
        id: "server/resources/unknown-uri",
        title: "Reading a resource that does not exist answers -32002",
        requirements: &["RES-006"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_uri(ctx)),
    },
    Case {
        id: "server/resources/unknown-uri-not-empty",
        title: "A missing resource is not reported as a successful read with empty contents",
        requirements: &["RES-007"],
        level: Level::ShouldNot,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_uri_not_empty(ctx)),
    },
    Case {
        id: "server/resources/templates-list-shape",
        title: "resources/templates/list entries carry a valid uriTemplate and a name",
        requirements: &["RES-009"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(templates_list_shape(ctx)),
    },
    Case {
        id: "server/resources/templates-expand",
        title: "Reading an expanded resource template gets a clean answer and the server keeps serving",
        requirements: &["RES-010"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        // An expanded URI may be what crashes the server: keep it off the shared session.
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(templates_expand(ctx)),
    },
    Case {
        id: "server/resources/subscribe",
        title: "resources/subscribe and unsubscribe succeed when subscribe is declared, else answer -32601",
        requirements: &["RES-011"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Resources],
        // Subscribing changes server state.
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(subscribe(ctx)),
    },
];

/// Listed resources read by the sampling cases (RES-003/004/005).
const READ_SAMPLE: usize = 20;
/// Templates expanded by RES-010.
const TEMPLATE_SAMPLE: usize = 10;
/// Problems shown in one verdict.
const SHOWN: usize = 5;

// -- shape helpers (shared with prompts and completion) ------------------------------

/// JSON types a schema field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Integer,
    Boolean,
    Object,
    Array,
}

impl Kind {
    pub(crate) fn matches(self, v: &Value) -> bool {
        match self {
            Kind::String => v.is_string(),
            // JSON Schema counts 5.0 as an integer.
            Kind::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            Kind::Boolean => v.is_boolean(),
            Kind::Object => v.is_object(),
            Kind::Array => v.is_array(),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Integer => "an integer",
            Kind::Boolean => "a boolean",
            Kind::Object => "an object",
            Kind::Array => "an array",
        }
    }
}

/// Problems with `value` against required and optional typed fields, each prefixed by
/// `what` (e.g. `resources[2]`).
pub(crate) fn field_problems(
    value: &Value,
    what: &str,
    required: &[(&str, Kind)],
    optional: &[(&str, Kind)],
) -> Vec<String> {
    let Some(obj) = value.as_object() else {
        return vec![format!("{what} is not an object: {}", short(value))];
    };
    let mut problems = Vec::new();
    for (key, kind) in required {
        match obj.get(*key) {
            None => problems.push(format!("{what} lacks `{key}`")),
            Some(v) if !kind.matches(v) => {
                problems.push(format!("{what}.{key} is not {}: {}", kind.name(), short(v)))
            }
            Some(_) => {}
        }
    }
    for (key, kind) in optional {
        if let Some(v) = obj.get(*key) {
            if !kind.matches(v) {
                problems.push(format!("{what}.{key} is not {}: {}", kind.name(), short(v)));
            }
        }
    }
    problems
}

pub(crate) fn short(v: &Value) -> String {
    crate::util::clip(&v.to_string(), 120)
}

/// Decode standard base64 strictly: standard alphabet, canonical padding, no
/// whitespace (RES-004).
pub(crate) fn strict_base64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())
}

/// `type/subtype` with RFC 9110 token characters, optionally followed by parameters.
pub(crate) fn is_mime_type(s: &str) -> bool {
    let essence = s.split(';').next().unwrap_or("").trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    match essence.split_once('/') {
        Some((ty, sub)) => token(ty) && token(sub),
        None => false,
    }
}

/// Whether `uri` starts with an RFC 3986 scheme (`ALPHA *( ALPHA / DIGIT / + - . ) :`).
pub(crate) fn has_uri_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// A suffix no server has seen before, for names and URIs that must not exist.
pub(crate) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}

/// One `{...}` expression of an RFC 6570 template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expression {
    pub operator: Option<char>,
    pub variables: Vec<String>,
}

/// A parsed RFC 6570 template: literal text and expressions in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplatePart {
    Literal(String),
    Expression(Expression),
}

/// Parse an RFC 6570 (level 4) template; literals are taken as they are, expressions
/// are checked strictly (operator, variable names, `:N` / `*` modifiers).
pub(crate) fn parse_uri_template(template: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                parts.push(TemplatePart::Literal(rest.to_string()));
                break;
            }
            Some(i) if rest.as_bytes()[i] == b'}' => {
                return Err(format!(
                    "unmatched '}}' at byte {}",
                    template.len() - rest.len() + i
                ))
            }
            Some(i) => {
                if i > 0 {
                    parts.push(TemplatePart::Literal(rest[..i].to_string()));
                }
                let body_start = i + 1;
                let Some(len) = rest[body_start..].find('}') else {
                    return Err("unterminated '{' expression".into());
                };
                let body = &rest[body_start..body_start + len];
                parts.push(TemplatePart::Expression(parse_expression(body)?));
                rest = &rest[body_start + len + 1..];
            }
        }
    }
    Ok(parts)
}

fn parse_expression(body: &str) -> Result<Expression, String> {
    if body.contains('{') {
        return Err(format!("nested '{{' in expression {{{body}}}"));
    }
    let mut chars = body.chars();
    let operator = match chars.clone().next() {
        Some(c @ ('+' | '#' | '.' | '/' | ';' | '?' | '&')) => {
            chars.next();
            Some(c)
        }
        Some(c @ ('=' | ',' | '!' | '@' | '|')) => {
            return Err(format!("reserved operator '{c}' in {{{body}}}"))
        }
        _ => None,
    };
    let list: String = chars.collect();
    let mut variables = Vec::new();
    for spec in list.split(',') {
        let name = if let Some(n) = spec.strip_suffix('*') {
            n
        } else if let Some((n, len)) = spec.split_once(':') {
            let ok = !len.is_empty()
                && len.len() <= 4
                && len.chars().all(|c| c.is_ascii_digit())
                && !len.starts_with('0');
            if !ok {
                return Err(format!("bad prefix modifier ':{len}' in {{{body}}}"));
            }
            n
        } else {
            spec
        };
        if !is_varname(name) {
            return Err(format!("bad variable name {name:?} in {{{body}}}"));
        }
        variables.push(name.to_string());
    }
    Ok(Expression {
        operator,
        variables,
    })
}

fn is_varname(name: &str) -> bool {
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return false;
    }
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(|c| c.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

/// Every variable name of a parsed template, in order, without repeats.
pub(crate) fn template_variables(parts: &[TemplatePart]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in parts {
        if let TemplatePart::Expression(e) = part {
            for v in &e.variables {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
    }
    out
}

/// Expand a parsed template, giving every variable the same plain value (which must be
/// made of unreserved characters, so no encoding is needed).
pub(crate) fn expand_uri_template(parts: &[TemplatePart], value: &str) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            TemplatePart::Literal(s) => out.push_str(s),
            TemplatePart::Expression(e) => {
                let (first, sep, named) = match e.operator {
                    None | Some('+') => ("", ",", false),
                    Some('#') => ("#", ",", false),
                    Some('.') => (".", ".", false),
                    Some('/') => ("/", "/", false),
                    Some(';') => (";", ";", true),
                    Some('?') => ("?", "&", true),
                    Some('&') => ("&", "&", true),
                    Some(_) => ("", ",", false),
                };
                let items: Vec<String> = e
                    .variables
                    .iter()
                    .map(|v| {
                        if named {
                            format!("{v}={value}")
                        } else {
                            value.to_string()
                        }
                    })
                    .collect();
                out.push_str(first);
                out.push_str(&items.join(sep));
            }
        }
    }
    out
}

/// Problems with one resource contents item (`TextResourceContents` or
/// `BlobResourceContents`): a uri, exactly one of text / blob, typed mimeType.
pub(crate) fn contents_item_problems(item: &Value, what: &str) -> Vec<String> {
    let mut problems = field_problems(
        item,
        what,
        &[("uri", Kind::String)],
        &[
            ("mimeType", Kind::String),
            ("text", Kind::String),
            ("blob", Kind::String),
            ("_meta", Kind::Object),
        ],
    );
    if let Some(obj) = item.as_object() {
        match (obj.contains_key("text"), obj.contains_key("blob")) {
            (true, true) => problems.push(format!("{what} has both `text` and `blob`")),
            (false, false) => problems.push(format!("{what} has neither `text` nor `blob`")),
            _ => {}
        }
    }
    problems
}

// -- sampling listed resources -------------------------------------------------------

/// The first [`READ_SAMPLE`] listed URIs, plus (with `templates`) up to
/// [`TEMPLATE_SAMPLE`] expanded templates, each with the answer to reading it.
async fn read_sample(ctx: &Ctx, templates: bool) -> Result<Vec<(String, Response)>, Verdict> {
    let session = ctx.session();
    let listed = list_all(session, "resources/list", "resources", ctx.timeout()).await?;
    let mut uris: Vec<String> = listed
        .iter()
        .filter_map(|r| r.get("uri").and_then(Value::as_str))
        .take(READ_SAMPLE)
        .map(str::to_string)
        .collect();
    if templates {
        // Some servers only offer binary contents behind templates. A failing template
        // list is RES-009's concern, not a reason to stop here.
        uris.extend(expanded_templates(ctx).await.unwrap_or_default());
    }
    if uris.is_empty() {
        return Err(Verdict::untestable(
            "the server lists no resource with a string uri (and no expandable template), so \
             there is nothing to read",
        ));
    }
    let mut out = Vec::new();
    for uri in uris {
        let response = session
            .request_timeout("resources/read", Some(json!({ "uri": uri })), ctx.timeout())
            .await?;
        out.push((uri, response));
    }
    Ok(out)
}

/// URIs made by expanding up to [`TEMPLATE_SAMPLE`] listed templates with the value "1"
/// (a plain value that many id-like variables accept).
async fn expanded_templates(ctx: &Ctx) -> Result<Vec<String>, Verdict> {
    let templates = list_all(
        ctx.session(),
        "resources/templates/list",
        "resourceTemplates",
        ctx.timeout(),
    )
    .await?;
    Ok(templates
        .iter()
        .filter_map(|t| t.get("uriTemplate").and_then(Value::as_str))
        .filter_map(|t| parse_uri_template(t).ok())
        .map(|parts| expand_uri_template(&parts, "1"))
        .take(TEMPLATE_SAMPLE)
        .collect())
}

// -- cases ---------------------------------------------------------------------------

async fn capability_matches(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    if ctx.profile().declares(Capability::Resources) {
        let response = session
            .request_timeout("resources/list", None, ctx.timeout())
            .await?;
        if response.error().is_some() || response.result().is_none() {
            return Ok(Verdict::violation(
                "the server declares resources but resources/list does not work",
            )
            .expected("a resources/list result")
            .actual(response.summary()));
        }
        return Ok(Verdict::pass(
            "resources is declared and resources/list answers with a result",
        ));
    }
    let probes = [
        ("resources/list", None, "resources"),
        ("resources/templates/list", None, "resourceTemplates"),
        (
            "resources/read",
            Some(json!({ "uri": format!("mcpspec://probe/{}", unique_suffix()) })),
            "contents",
        ),
    ];
    let mut observations = Vec::new();
    for (method, params, field) in probes {
        let response = session
            .request_timeout(method, params, ctx.timeout())
            .await?;
        observations.push(undeclared_outcome(method, &response, field));
    }
    Ok(judge_undeclared("resources", observations))
}

/// How a method of an undeclared capability answered (LIFE-006 policy: -32601 passes,
/// an empty answer is INFO, other errors and working features WARN).
pub(crate) enum Undeclared {
    MethodNotFound,
    EmptyAnswer(String),
    Wrong(String),
}

pub(crate) fn undeclared_outcome(method: &str, response: &Response, field: &str) -> Undeclared {
    match (response.error_code(), response.result()) {
        (Some(code::METHOD_NOT_FOUND), _) => Undeclared::MethodNotFound,
        (Some(_), _) | (None, None) => Undeclared::Wrong(format!(
            "{method} answered {} instead of -32601",
            response.summary()
        )),
        (None, Some(result)) => match result.get(field) {
            Some(Value::Array(items)) if items.is_empty() => {
                Undeclared::EmptyAnswer(format!("{method} answered an empty `{field}` list"))
            }
            _ => Undeclared::Wrong(format!(
                "{method} works although its capability is not declared: {}",
                response.summary()
            )),
        },
    }
}

pub(crate) fn judge_undeclared(capability: &str, observations: Vec<Undeclared>) -> Verdict {
    let wrong: Vec<String> = observations
        .iter()
        .filter_map(|o| match o {
            Undeclared::Wrong(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    if !wrong.is_empty() {
        return Verdict::violation(format!(
            "{capability} is not declared, yet its methods do not answer -32601"
        ))
        .at_level(Level::Should)
        .expected("error -32601 for every method of an undeclared capability")
        .actual(wrong.join("\n"));
    }
    let empty: Vec<String> = observations
        .iter()
        .filter_map(|o| match o {
            Undeclared::EmptyAnswer(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    if !empty.is_empty() {
        return Verdict::violation(format!(
            "{capability} is not declared and its list methods answer empty lists instead of -32601 \
             (tolerated for clients that probe)"
        ))
        .at_level(Level::May)
        .expected("error -32601")
        .actual(empty.join("\n"));
    }
    Verdict::pass(format!(
        "{capability} is not declared and each of its methods answered -32601"
    ))
}

async fn list_shape(ctx: &mut Ctx) -> CaseResult {
    let listed = list_all(ctx.session(), "resources/list", "resources", ctx.timeout()).await?;
    let mut problems = Vec::new();
    for (i, resource) in listed.iter().enumerate() {
        let what = format!("resources[{i}]");
        problems.extend(field_problems(
            resource,
            &what,
            &[("uri", Kind::String), ("name", Kind::String)],
            &[
                ("description", Kind::String),
                ("mimeType", Kind::String),
                ("size", Kind::Integer),
                ("title", Kind::String),
                ("annotations", Kind::Object),
                ("icons", Kind::Array),
                ("_meta", Kind::Object),
            ],
        ));
        if let Some(uri) = resource.get("uri").and_then(Value::as_str) {
            if !has_uri_scheme(uri) {
                problems.push(format!("{what}.uri {uri:?} is not a URI with a scheme"));
            }
        }
    }
    if !problems.is_empty() {
        return Ok(report_problems(
            "resources/list entries are malformed",
            "each entry: uri (URI string), name (string); optional fields correctly typed",
            &problems,
        ));
    }
    Ok(Verdict::pass(format!(
        "all {} listed resources are well formed",
        listed.len()
    )))
}

async fn read_shape(ctx: &mut Ctx) -> CaseResult {
    let reads = read_sample(ctx, true).await?;
    let mut problems = Vec::new();
    let mut judged = 0;
    for (uri, response) in &reads {
        // A refused read is RES-005's concern; only results have a shape to judge.
        if response.error().is_some() {
            continue;
        }
        judged += 1;
        let Some(result) = response.result() else {
            problems.push(format!("reading {uri} gave neither result nor error"));
            continue;
        };
        match result.get("contents") {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    problems.extend(contents_item_problems(
                        item,
                        &format!("{uri}: contents[{i}]"),
                    ));
                }
            }
            other => problems.push(format!(
                "reading {uri}: result has no `contents` array: {}",
                other.map(short).unwrap_or_else(|| "missing".into())
            )),
        }
    }
    Ok(judged_verdict(
        &problems,
        judged,
        (
            "resources/read results are malformed",
            "contents: [{uri, text | blob, mimeType?}]",
        ),
        || {
            format!(
            "none of the {} resources read (listed or expanded templates) answered with a result",
            reads.len()
        )
        },
        || format!("{judged} resources/read results are well formed"),
    ))
}

async fn blob_base64(ctx: &mut Ctx) -> CaseResult {
    let reads = read_sample(ctx, true).await?;
    let mut problems = Vec::new();
    let mut blobs = 0;
    for (uri, response) in &reads {
        let items = response
            .result()
            .and_then(|r| r.get("contents"))
            .and_then(Value::as_array);
        for item in items.into_iter().flatten() {
            let Some(blob) = item.get("blob") else {
                continue;
            };
            blobs += 1;
            match blob.as_str().map(strict_base64) {
                Some(Ok(_)) => {}
                Some(Err(e)) => problems.push(format!(
                    "{uri}: blob {} is not standard base64 ({e})",
                    short(blob)
                )),
                None => problems.push(format!("{uri}: blob is not a string: {}", short(blob))),
            }
        }
    }
    Ok(judged_verdict(
        &problems,
        blobs,
        (
            "binary resource contents are not valid base64",
            "blob: standard base64 with canonical padding",
        ),
        || {
            format!(
            "none of the {} resources read (listed or expanded templates) returned binary (blob) contents",
            reads.len()
        )
        },
        || format!("{blobs} blob(s) decode as standard base64"),
    ))
}

async fn listed_readable(ctx: &mut Ctx) -> CaseResult {
    let reads = read_sample(ctx, false).await?;
    let failed: Vec<String> = reads
        .iter()
        .filter(|(_, r)| r.error().is_some() || r.result().is_none())
        .map(|(uri, r)| format!("{uri}: {}", r.summary()))
        .collect();
    if !failed.is_empty() {
        return Ok(Verdict::violation(format!(
            "{} of {} listed resources could not be read",
            failed.len(),
            reads.len()
        ))
        .expected("a resources/read result for every listed resource")
        .actual(
            failed
                .into_iter()
                .take(SHOWN)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    Ok(Verdict::pass(format!(
        "each of the {} listed resources read was readable",
        reads.len()
    )))
}

/// URIs that no server should have: a custom scheme and a file path.
fn missing_uris() -> [String; 2] {
    let suffix = unique_suffix();
    [
        format!("mcpspec://missing/{suffix}"),
        format!("file:///mcpspec-missing-{suffix}"),
    ]
}

async fn unknown_uri(ctx: &mut Ctx) -> CaseResult {
    let mut wrong = Vec::new();
    for uri in missing_uris() {
        let response = ctx
            .session()
            .request_timeout("resources/read", Some(json!({ "uri": uri })), ctx.timeout())
            .await?;
        if response.error_code() != Some(code::RESOURCE_NOT_FOUND) {
            // A success is also not the not-found error; RES-007 judges empty successes.
            wrong.push(format!("{uri}: {}", response.summary()));
        }
    }
    if !wrong.is_empty() {
        return Ok(
            Verdict::violation("reading a missing resource did not answer -32002")
                .expected("error -32002 (resource not found)")
                .actual(wrong.join("\n")),
        );
    }
    Ok(Verdict::pass(
        "each missing resource was answered with -32002",
    ))
}

async fn unknown_uri_not_empty(ctx: &mut Ctx) -> CaseResult {
    let mut empty = Vec::new();
    let mut served = Vec::new();
    for uri in missing_uris() {
        let response = ctx
            .session()
            .request_timeout("resources/read", Some(json!({ "uri": uri })), ctx.timeout())
            .await?;
        if response.error().is_some() {
            continue;
        }
        match response.result().and_then(|r| r.get("contents")) {
            Some(Value::Array(items)) if !items.is_empty() => served.push(uri),
            _ => empty.push(format!("{uri}: {}", response.summary())),
        }
    }
    if !empty.is_empty() {
        return Ok(Verdict::violation(
            "a missing resource was reported as a successful read without contents",
        )
        .expected("an error (-32002)")
        .actual(empty.join("\n")));
    }
    if served.is_empty() {
        Ok(Verdict::pass("missing resources were answered with errors"))
    } else {
        Ok(Verdict::pass(format!(
            "no empty success; the server served contents for {}",
            served.join(", ")
        )))
    }
}

async fn templates_list_shape(ctx: &mut Ctx) -> CaseResult {
    let templates = list_all(
        ctx.session(),
        "resources/templates/list",
        "resourceTemplates",
        ctx.timeout(),
    )
    .await?;
    let mut problems = Vec::new();
    for (i, template) in templates.iter().enumerate() {
        let what = format!("resourceTemplates[{i}]");
        problems.extend(field_problems(
            template,
            &what,
            &[("uriTemplate", Kind::String), ("name", Kind::String)],
            &[
                ("description", Kind::String),
                ("mimeType", Kind::String),
                ("title", Kind::String),
                ("annotations", Kind::Object),
                ("icons", Kind::Array),
                ("_meta", Kind::Object),
            ],
        ));
        if let Some(t) = template.get("uriTemplate").and_then(Value::as_str) {
            if let Err(e) = parse_uri_template(t) {
                problems.push(format!(
                    "{what}.uriTemplate {t:?} is not an RFC 6570 template: {e}"
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Ok(report_problems(
            "resources/templates/list entries are malformed",
            "each entry: uriTemplate (RFC 6570 string), name (string); optional fields correctly typed",
            &problems,
        ));
    }
    Ok(Verdict::pass(format!(
        "all {} listed resource templates are well formed",
        templates.len()
    )))
}

async fn templates_expand(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let expanded = expanded_templates(ctx).await?;
    if expanded.is_empty() {
        return Ok(Verdict::untestable(
            "the server lists no resource template that can be expanded",
        ));
    }
    let mut answers = Vec::new();
    for uri in &expanded {
        match session
            .request_timeout("resources/read", Some(json!({ "uri": uri })), ctx.timeout())
            .await
        {
            Ok(r) if r.result().is_some() || r.error_code().is_some() => {
                answers.push(format!("{uri}: {}", crate::util::clip(&r.summary(), 80)))
            }
            Ok(r) => {
                return Ok(Verdict::violation(format!(
                    "reading the expanded template {uri} got a malformed answer"
                ))
                .expected("a result or an error with an integer code")
                .actual(r.summary()))
            }
            Err(e) => {
                return Ok(Verdict::violation(format!(
                    "reading the expanded template {uri} got no answer"
                ))
                .expected("a result or a clean error")
                .actual(e.to_string()))
            }
        }
    }
    still_serving(session, ctx.timeout(), "reading expanded templates").await?;
    Ok(Verdict::pass(format!(
        "each of {} expanded template(s) got a clean answer: {}",
        expanded.len(),
        answers.join("; ")
    )))
}

async fn subscribe(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let declared = ctx.profile().declares(Capability::ResourceSubscribe);
    let listed = list_all(session, "resources/list", "resources", ctx.timeout()).await?;
    let listed_uri = listed
        .iter()
        .find_map(|r| r.get("uri").and_then(Value::as_str))
        .map(str::to_string);
    if !declared {
        let uri = listed_uri.unwrap_or_else(|| format!("mcpspec://probe/{}", unique_suffix()));
        let mut wrong = Vec::new();
        for method in ["resources/subscribe", "resources/unsubscribe"] {
            let response = request(session, method, json!({ "uri": uri }), ctx.timeout()).await?;
            if response.error_code() != Some(code::METHOD_NOT_FOUND) {
                wrong.push(format!("{method}: {}", response.summary()));
            }
        }
        if !wrong.is_empty() {
            return Ok(Verdict::violation(
                "resources.subscribe is not declared, yet subscribe/unsubscribe do not answer -32601",
            )
            .at_level(Level::Should)
            .expected("error -32601")
            .actual(wrong.join("\n")));
        }
        return Ok(Verdict::pass(
            "subscribe is not declared and both methods answered -32601",
        ));
    }
    let Some(uri) = listed_uri else {
        return Ok(Verdict::untestable(
            "resources.subscribe is declared but resources/list offers no URI to subscribe to",
        ));
    };
    for method in ["resources/subscribe", "resources/unsubscribe"] {
        let response = request(session, method, json!({ "uri": uri }), ctx.timeout()).await?;
        let result = expect_result(&response, &format!("{method} of {uri}"))?;
        if !result.is_object() {
            return Ok(Verdict::violation(format!(
                "{method} did not answer with an empty result object"
            ))
            .expected("{}")
            .actual(response.summary()));
        }
    }
    Ok(Verdict::pass(format!(
        "subscribing to and unsubscribing from {uri} both succeeded"
    )))
}

async fn request(
    session: &Session,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Response, Verdict> {
    Ok(session
        .request_timeout(method, Some(params), timeout)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_strict() {
        assert_eq!(
            strict_base64("AAECA/3+/w==").unwrap(),
            vec![0, 1, 2, 3, 0xfd, 0xfe, 0xff]
        );
        assert!(strict_base64("").unwrap().is_empty());
        assert!(strict_base64("AAECA/3+/w").is_err(), "missing padding");
        assert!(strict_base64("AAEC A/3+").is_err(), "whitespace");
        assert!(strict_base64("AAECA-3_").is_err(), "url-safe alphabet");
        assert!(strict_base64("***not base64***").is_err());
    }

    #[test]
    fn mime_types_and_schemes() {
        assert!(is_mime_type("image/png"));
        assert!(is_mime_type("text/plain; charset=utf-8"));
        assert!(!is_mime_type("png"));
        assert!(!is_mime_type("image/"));
        assert!(has_uri_scheme("file:///x"));
        assert!(has_uri_scheme("custom+x.y-z://a"));
        assert!(!has_uri_scheme("/etc/passwd"));
        assert!(!has_uri_scheme("1abc:x"));
        assert!(!has_uri_scheme("no scheme"));
    }

    #[test]
    fn templates_parse_and_expand() {
        let parts = parse_uri_template("fixture://items/{id}").unwrap();
        assert_eq!(template_variables(&parts), vec!["id".to_string()]);
        assert_eq!(expand_uri_template(&parts, "1"), "fixture://items/1");
        let parts = parse_uri_template("x://a{/p,q}{?r,s*}{&t:3}{#f}{.e}{;m}").unwrap();
        assert_eq!(
            expand_uri_template(&parts, "1"),
            "x://a/1/1?r=1&s=1&t=1#1.1;m=1"
        );
        assert_eq!(
            template_variables(&parts),
            ["p", "q", "r", "s", "t", "f", "e", "m"]
        );
        for bad in [
            "x://{",
            "x://}",
            "x://{}",
            "x://{a b}",
            "x://{=a}",
            "x://{a:0}",
            "x://{{a}}",
        ] {
            assert!(parse_uri_template(bad).is_err(), "{bad} should be rejected");
        }
        assert!(parse_uri_template("plain://no-variables").is_ok());
        assert!(parse_uri_template("x://{a%20b.c_d}").is_ok());
    }

    #[test]
    fn contents_need_exactly_one_payload() {
        assert!(contents_item_problems(&json!({"uri":"a:b","text":"t"}), "c").is_empty());
        assert!(contents_item_problems(&json!({"uri":"a:b","blob":"AA=="}), "c").is_empty());
        assert_eq!(
            contents_item_problems(&json!({"uri":"a:b","text":"t","blob":"AA=="}), "c").len(),
            1
        );
        assert_eq!(contents_item_problems(&json!({"uri":"a:b"}), "c").len(), 1);
        assert_eq!(contents_item_problems(&json!({"text":5}), "c").len(), 2);
    }
}
