//! Spec page `basic/lifecycle`. Catalogue area LIFE (the session-era `initialize`
//! handshake: version negotiation, capability negotiation, ordering rules).

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::{code, expect_result, initialize_params};
use crate::session::{request_message, Handshake, RequestError, Response, Session};
use crate::spec::{Level, Revision, Revisions, ANY_TRANSPORT, STDIO};
use crate::traffic::Inbound;
use crate::util::clip;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Version strings no server can know (LIFE-003, LIFE-004).
const UNKNOWN_VERSIONS: [&str; 4] = ["1999-01-01", "2099-12-31", "not-a-version", ""];

/// How long LIFE-007 holds back `notifications/initialized` while watching for server
/// requests (the catalogue suggests 3 s; the window is the observation itself).
const BEFORE_INITIALIZED_WINDOW: Duration = Duration::from_millis(2500);

pub const CASES: &[Case] = &[
    Case {
        id: "basic/lifecycle/initialize-result",
        title: "The initialize result carries protocolVersion, capabilities and serverInfo with the right types",
        requirements: &["LIFE-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(initialize_result(ctx)),
    },
    Case {
        id: "basic/lifecycle/supported-version-echoed",
        title: "A protocol version the server supports is answered with the same version",
        requirements: &["LIFE-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(supported_version_echoed(ctx)),
    },
    Case {
        id: "basic/lifecycle/unknown-version-counter-proposal",
        title: "An unknown protocol version gets a supported counter-proposal, never an echo",
        requirements: &["LIFE-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(unknown_version_counter_proposal(ctx)),
    },
    Case {
        id: "basic/lifecycle/counter-proposal-latest",
        title: "The counter-proposal for an unknown version is the newest version the server supports",
        requirements: &["LIFE-004"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(counter_proposal_latest(ctx)),
    },
    Case {
        id: "basic/lifecycle/declared-capabilities-work",
        title: "Every declared capability is backed by methods that exist",
        requirements: &["LIFE-005"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(declared_capabilities_work(ctx)),
    },
    Case {
        id: "basic/lifecycle/undeclared-capabilities-refused",
        title: "Methods of capabilities the server did not declare are answered with -32601",
        requirements: &["LIFE-006"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(undeclared_capabilities_refused(ctx)),
    },
    Case {
        id: "basic/lifecycle/no-requests-before-initialized",
        title: "The server sends no request other than ping before notifications/initialized",
        requirements: &["LIFE-007"],
        level: Level::ShouldNot,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(no_requests_before_initialized(ctx)),
    },
    Case {
        id: "basic/lifecycle/ping-during-initialization",
        title: "A ping written together with initialize is answered while initialization is pending",
        requirements: &["LIFE-008"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: STDIO,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(ping_during_initialization(ctx)),
    },
    Case {
        id: "basic/lifecycle/request-before-initialize",
        title: "A request sent before initialize gets an error and initialize still works afterwards",
        requirements: &["LIFE-009"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Raw,
        run: |ctx| Box::pin(request_before_initialize(ctx)),
    },
    Case {
        id: "basic/lifecycle/notifications-match-capabilities",
        title: "The server only sends notifications for capabilities it declared",
        requirements: &["LIFE-011"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(notifications_match_capabilities(ctx)),
    },
    Case {
        id: "basic/lifecycle/repeated-initialize",
        title: "A second initialize on a running session does not break the session",
        requirements: &["LIFE-012"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(repeated_initialize(ctx)),
    },
];

// ---------------------------------------------------------------------------
// LIFE-001
// ---------------------------------------------------------------------------

async fn initialize_result(ctx: &mut Ctx) -> CaseResult {
    let requested = ctx.config().revision;
    let handshake = ctx
        .session()
        .initialize(requested.as_str(), json!({}), ctx.config().init_timeout)
        .await?;
    let result = expect_result(&handshake.response, "initialize")?;
    // Optional fields are judged by the revision the server agreed to.
    let revision = handshake
        .protocol_version()
        .and_then(Revision::parse)
        .filter(|r| r.is_session_era())
        .unwrap_or(requested);
    let problems = initialize_result_problems(result, revision);
    if problems.is_empty() {
        Ok(Verdict::pass(format!(
            "the initialize result is complete and well-typed for {revision}"
        )))
    } else {
        Err(Verdict::violation(format!(
            "the initialize result is incomplete or mistyped: {}",
            problems.join("; ")
        ))
        .expected(
            "protocolVersion (string), capabilities (object), serverInfo {name, version} (strings)",
        )
        .actual(result.to_string()))
    }
}

/// Everything wrong with an `initialize` result at `revision` (empty when nothing is).
pub fn initialize_result_problems(result: &Value, revision: Revision) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(result) = result.as_object() else {
        return vec!["the result is not an object".into()];
    };
    if !result.get("protocolVersion").is_some_and(Value::is_string) {
        problems.push(type_problem(
            "protocolVersion",
            "a string",
            result.get("protocolVersion"),
        ));
    }
    match result.get("capabilities") {
        Some(Value::Object(caps)) => capability_problems(caps, revision, &mut problems),
        other => problems.push(type_problem("capabilities", "an object", other)),
    }
    match result.get("serverInfo") {
        Some(Value::Object(info)) => implementation_problems(info, revision, &mut problems),
        other => problems.push(type_problem("serverInfo", "an object", other)),
    }
    optional_type(
        result,
        "instructions",
        Value::is_string,
        "a string",
        &mut problems,
    );
    optional_type(
        result,
        "_meta",
        Value::is_object,
        "an object",
        &mut problems,
    );
    problems
}

fn type_problem(field: &str, wanted: &str, got: Option<&Value>) -> String {
    match got {
        None => format!("`{field}` is missing"),
        Some(v) => format!(
            "`{field}` must be {wanted}, got {}",
            clip(&v.to_string(), 80)
        ),
    }
}

/// Check an optional member's type when present.
fn optional_type(
    object: &Map<String, Value>,
    field: &str,
    ok: fn(&Value) -> bool,
    wanted: &str,
    problems: &mut Vec<String>,
) {
    if let Some(v) = object.get(field) {
        if !ok(v) {
            problems.push(type_problem(field, wanted, Some(v)));
        }
    }
}

fn capability_problems(caps: &Map<String, Value>, revision: Revision, problems: &mut Vec<String>) {
    // Capability keys defined by the revision; other keys are an open set.
    let mut objects = vec!["experimental", "logging", "prompts", "resources", "tools"];
    if revision >= Revision::V2025_03_26 {
        objects.push("completions");
    }
    if revision >= Revision::V2025_11_25 {
        objects.push("tasks");
    }
    for key in objects {
        if let Some(v) = caps.get(key) {
            if !v.is_object() {
                problems.push(type_problem(
                    &format!("capabilities.{key}"),
                    "an object",
                    Some(v),
                ));
            }
        }
    }
    for (key, flag) in [
        ("prompts", "listChanged"),
        ("resources", "listChanged"),
        ("resources", "subscribe"),
        ("tools", "listChanged"),
    ] {
        if let Some(v) = caps.get(key).and_then(|c| c.get(flag)) {
            if !v.is_boolean() {
                problems.push(type_problem(
                    &format!("capabilities.{key}.{flag}"),
                    "a boolean",
                    Some(v),
                ));
            }
        }
    }
    if let Some(Value::Object(experimental)) = caps.get("experimental") {
        for (name, v) in experimental {
            if !v.is_object() {
                problems.push(type_problem(
                    &format!("capabilities.experimental.{name}"),
                    "an object",
                    Some(v),
                ));
            }
        }
    }
    if revision >= Revision::V2025_11_25 {
        if let Some(Value::Object(tasks)) = caps.get("tasks") {
            for key in ["list", "cancel", "requests"] {
                if let Some(v) = tasks.get(key) {
                    if !v.is_object() {
                        problems.push(type_problem(
                            &format!("capabilities.tasks.{key}"),
                            "an object",
                            Some(v),
                        ));
                    }
                }
            }
        }
    }
}

fn implementation_problems(
    info: &Map<String, Value>,
    revision: Revision,
    problems: &mut Vec<String>,
) {
    for key in ["name", "version"] {
        if !info.get(key).is_some_and(Value::is_string) {
            problems.push(type_problem(
                &format!("serverInfo.{key}"),
                "a string",
                info.get(key),
            ));
        }
    }
    let mut strings = Vec::new();
    if revision >= Revision::V2025_06_18 {
        strings.push("title");
    }
    if revision >= Revision::V2025_11_25 {
        strings.extend(["description", "websiteUrl"]);
    }
    for key in strings {
        if let Some(v) = info.get(key) {
            if !v.is_string() {
                problems.push(type_problem(
                    &format!("serverInfo.{key}"),
                    "a string",
                    Some(v),
                ));
            }
        }
    }
    if revision < Revision::V2025_11_25 {
        return;
    }
    match info.get("icons") {
        None => {}
        Some(Value::Array(icons)) => {
            for (i, icon) in icons.iter().enumerate() {
                let at = format!("serverInfo.icons[{i}]");
                let Some(icon) = icon.as_object() else {
                    problems.push(type_problem(&at, "an object", Some(icon)));
                    continue;
                };
                if !icon.get("src").is_some_and(Value::is_string) {
                    problems.push(type_problem(
                        &format!("{at}.src"),
                        "a string",
                        icon.get("src"),
                    ));
                }
                if let Some(v) = icon.get("mimeType").filter(|v| !v.is_string()) {
                    problems.push(type_problem(&format!("{at}.mimeType"), "a string", Some(v)));
                }
                if let Some(v) = icon.get("sizes") {
                    let ok = v.as_array().is_some_and(|s| s.iter().all(Value::is_string));
                    if !ok {
                        problems.push(type_problem(
                            &format!("{at}.sizes"),
                            "an array of strings",
                            Some(v),
                        ));
                    }
                }
                if let Some(v) = icon.get("theme") {
                    if v != "light" && v != "dark" {
                        problems.push(type_problem(
                            &format!("{at}.theme"),
                            "\"light\" or \"dark\"",
                            Some(v),
                        ));
                    }
                }
            }
        }
        Some(other) => problems.push(type_problem("serverInfo.icons", "an array", Some(other))),
    }
}

// ---------------------------------------------------------------------------
// LIFE-002 .. LIFE-004: version negotiation on fresh processes
// ---------------------------------------------------------------------------

/// What one `initialize` on a fresh process produced.
#[derive(Debug, Clone, PartialEq)]
enum InitOutcome {
    /// A result naming this protocol version.
    Agreed(String),
    /// A result without a string protocolVersion.
    Malformed(String),
    /// An error response.
    Refused(Response),
    /// No answer at all.
    Silent(String),
}

impl InitOutcome {
    fn from_handshake(r: Result<Handshake, RequestError>) -> Self {
        match r {
            Err(e) => InitOutcome::Silent(e.to_string()),
            Ok(h) => match (h.protocol_version(), h.result()) {
                (Some(v), _) => InitOutcome::Agreed(v.to_string()),
                (None, Some(r)) => InitOutcome::Malformed(clip(&r.to_string(), 200)),
                (None, None) => InitOutcome::Refused(h.response),
            },
        }
    }

    fn agreed(&self) -> Option<&str> {
        match self {
            InitOutcome::Agreed(v) => Some(v),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            InitOutcome::Agreed(v) => format!("protocolVersion {v:?}"),
            InitOutcome::Malformed(r) => format!("a result without a string protocolVersion: {r}"),
            InitOutcome::Refused(r) => r.summary(),
            InitOutcome::Silent(e) => format!("no answer ({e})"),
        }
    }
}

/// `initialize` with each version on its own fresh process, all at once. Client
/// capabilities are empty; `notifications/initialized` is never sent.
async fn initialize_each(ctx: &mut Ctx, versions: &[String]) -> Result<Vec<InitOutcome>, Verdict> {
    let mut sessions = Vec::with_capacity(versions.len());
    for _ in versions {
        sessions.push(ctx.spawn_raw()?);
    }
    let timeout = ctx.config().init_timeout;
    let mut set = tokio::task::JoinSet::new();
    for (i, (session, version)) in sessions.into_iter().zip(versions).enumerate() {
        let version = version.clone();
        set.spawn(async move {
            let outcome = session.initialize(&version, json!({}), timeout).await;
            (i, InitOutcome::from_handshake(outcome))
        });
    }
    let mut out = vec![InitOutcome::Silent("not probed".into()); versions.len()];
    while let Some(joined) = set.join_next().await {
        let (i, outcome) = joined
            .map_err(|e| Verdict::harness_error(format!("a version probe did not finish: {e}")))?;
        out[i] = outcome;
    }
    Ok(out)
}

fn known_versions() -> Vec<String> {
    Revision::SESSION_ERA
        .iter()
        .map(|r| r.as_str().to_string())
        .collect()
}

async fn supported_version_echoed(ctx: &mut Ctx) -> CaseResult {
    let known = known_versions();
    let outcomes = initialize_each(ctx, &known).await?;
    let mut answers: BTreeMap<String, InitOutcome> = known.iter().cloned().zip(outcomes).collect();
    // A version the server offers is one it supports by definition: ask for it too.
    let offered: BTreeSet<String> = answers
        .values()
        .filter_map(InitOutcome::agreed)
        .filter(|v| !answers.contains_key(*v))
        .map(str::to_string)
        .collect();
    let offered: Vec<String> = offered.into_iter().collect();
    let outcomes = initialize_each(ctx, &offered).await?;
    answers.extend(offered.into_iter().zip(outcomes));

    let mut problems = Vec::new();
    let mut supported = Vec::new();
    let mut refused = Vec::new();
    for (asked, outcome) in &answers {
        match outcome {
            InitOutcome::Agreed(v) if v == asked => supported.push(asked.clone()),
            InitOutcome::Agreed(v) => match answers.get(v) {
                Some(InitOutcome::Agreed(w)) if w == v => {}
                Some(other) => problems.push(format!(
                    "initialize {asked:?} was answered with {v:?}, but initialize {v:?} got {}",
                    other.describe()
                )),
                None => {}
            },
            InitOutcome::Refused(r) => refused.push(format!("{asked:?} ({})", r.summary())),
            other => problems.push(format!("initialize {asked:?} got {}", other.describe())),
        }
    }
    if !problems.is_empty() {
        return Err(Verdict::violation(format!(
            "version negotiation is inconsistent: {}",
            problems.join("; ")
        ))
        .expected("every version the server offers is answered with itself when asked for")
        .actual(problems.join("\n")));
    }
    if supported.is_empty() {
        return Ok(Verdict::untestable(format!(
            "the server accepted none of the versions asked for, so no supported version could be checked (refused: {})",
            refused.join(", ")
        )));
    }
    Ok(Verdict::pass(format!(
        "supported versions {supported:?} are each echoed; every counter-proposal is itself accepted"
    )))
}

/// `-32602` carrying `data.supported`: the lifecycle page's error example.
fn is_unsupported_version_error(r: &Response) -> bool {
    r.error_code() == Some(code::INVALID_PARAMS)
        && r.error()
            .and_then(|e| e.pointer("/data/supported"))
            .is_some_and(Value::is_array)
}

async fn unknown_version_counter_proposal(ctx: &mut Ctx) -> CaseResult {
    let bogus: Vec<String> = UNKNOWN_VERSIONS.iter().map(|v| v.to_string()).collect();
    let outcomes = initialize_each(ctx, &bogus).await?;
    // Each counter-proposal must be a version the server accepts when asked for it.
    let proposals: Vec<String> = outcomes
        .iter()
        .zip(&bogus)
        .filter_map(|(o, asked)| o.agreed().filter(|v| v != asked))
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let checks = initialize_each(ctx, &proposals).await?;
    let accepted: BTreeMap<&String, &InitOutcome> = proposals.iter().zip(&checks).collect();

    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut passed = Vec::new();
    for (asked, outcome) in bogus.iter().zip(&outcomes) {
        match outcome {
            InitOutcome::Agreed(v) if v == asked => failures.push(format!(
                "the unknown version {asked:?} was echoed back as if supported"
            )),
            InitOutcome::Agreed(v) => match accepted.get(v) {
                Some(InitOutcome::Agreed(w)) if w == v => passed.push(format!("{asked:?} → {v:?}")),
                Some(other) => failures.push(format!(
                    "{asked:?} got the counter-proposal {v:?}, but initialize {v:?} got {}",
                    other.describe()
                )),
                None => {}
            },
            InitOutcome::Refused(r) if is_unsupported_version_error(r) => warnings.push(format!(
                "{asked:?} was refused with -32602 naming the supported versions instead of a counter-proposal"
            )),
            InitOutcome::Refused(r) => failures.push(format!(
                "{asked:?} was refused without a counter-proposal: {}",
                r.summary()
            )),
            other => failures.push(format!("initialize {asked:?} got {}", other.describe())),
        }
    }
    if !failures.is_empty() {
        return Err(Verdict::violation(failures.join("; "))
            .expected("a result with a different protocolVersion the server supports")
            .actual(failures.join("\n")));
    }
    if !warnings.is_empty() {
        return Err(Verdict::violation(warnings.join("; "))
            .at_level(Level::Should)
            .expected("a counter-proposal (a result with a supported protocolVersion)")
            .actual(warnings.join("\n")));
    }
    Ok(Verdict::pass(format!(
        "every unknown version got a supported counter-proposal: {}",
        passed.join(", ")
    )))
}

async fn counter_proposal_latest(ctx: &mut Ctx) -> CaseResult {
    let bogus: Vec<String> = UNKNOWN_VERSIONS.iter().map(|v| v.to_string()).collect();
    let outcomes = initialize_each(ctx, &bogus).await?;
    let proposals: BTreeSet<String> = outcomes
        .iter()
        .zip(&bogus)
        .filter_map(|(o, asked)| o.agreed().filter(|v| v != asked))
        .map(str::to_string)
        .collect();
    let Some(oldest) = proposals.iter().next().cloned() else {
        return Ok(Verdict::untestable(
            "the server made no counter-proposal to an unknown version (see LIFE-003), so there is none to compare with its newest version",
        ));
    };
    // Only versions newer than a counter-proposal can show it was not the newest.
    let newer: Vec<String> = known_versions()
        .into_iter()
        .filter(|v| version_newer(v, &oldest))
        .collect();
    let outcomes = initialize_each(ctx, &newer).await?;
    let supported_newer: Vec<&String> = newer
        .iter()
        .zip(&outcomes)
        .filter(|(v, o)| o.agreed() == Some(v.as_str()))
        .map(|(v, _)| v)
        .collect();
    let mut problems = Vec::new();
    for proposal in &proposals {
        if let Some(best) = supported_newer
            .iter()
            .filter(|v| version_newer(v, proposal))
            .max()
        {
            problems.push(format!(
                "counter-proposed {proposal:?} although it supports the newer {best:?}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(Verdict::pass(format!(
            "counter-proposals {proposals:?} are the newest version the server accepts"
        )))
    } else {
        Err(Verdict::violation(problems.join("; "))
            .expected("the newest supported version as counter-proposal")
            .actual(problems.join("\n")))
    }
}

/// Protocol versions are `YYYY-MM-DD` dates, so string order is age order.
fn version_newer(a: &str, b: &str) -> bool {
    a > b
}

// ---------------------------------------------------------------------------
// LIFE-005, LIFE-006: capabilities versus methods
// ---------------------------------------------------------------------------

/// First page of a list method: the items under `field`, or why there are none.
async fn first_page(
    session: &Session,
    method: &str,
    field: &str,
    timeout: Duration,
) -> Result<Vec<Value>, String> {
    match session.request_timeout(method, None, timeout).await {
        Err(e) => Err(format!("{method}: no answer ({e})")),
        Ok(r) => match r.result().and_then(|res| res.get(field)) {
            Some(Value::Array(items)) if r.error().is_none() => Ok(items.clone()),
            _ => Err(format!("{method} → {}", r.summary())),
        },
    }
}

/// Params for `completion/complete` aimed at something the server has: a prompt
/// argument, else a resource template variable, else a made-up prompt.
fn completion_params(prompts: &[Value], templates: &[Value]) -> Value {
    let with_argument = prompts.iter().find_map(|p| {
        let name = p.get("name")?.as_str()?;
        let arg = p
            .get("arguments")?
            .as_array()?
            .first()?
            .get("name")?
            .as_str()?;
        Some((name, arg))
    });
    if let Some((name, arg)) = with_argument {
        return json!({
            "ref": { "type": "ref/prompt", "name": name },
            "argument": { "name": arg, "value": "" }
        });
    }
    let template = templates.iter().find_map(|t| {
        let uri = t.get("uriTemplate")?.as_str()?;
        Some((uri, template_variable(uri)?))
    });
    if let Some((uri, var)) = template {
        return json!({
            "ref": { "type": "ref/resource", "uri": uri },
            "argument": { "name": var, "value": "" }
        });
    }
    json!({
        "ref": { "type": "ref/prompt", "name": "mcpspec-probe" },
        "argument": { "name": "name", "value": "" }
    })
}

/// The first variable of an RFC 6570 URI template (`{+path}`, `{id*}`, `{a,b}` → name).
fn template_variable(template: &str) -> Option<String> {
    let start = template.find('{')?;
    let end = start + template[start..].find('}')?;
    let expr = template[start + 1..end].trim_start_matches(['+', '#', '.', '/', ';', '?', '&']);
    let first = expr.split(',').next()?;
    let name = first.split(':').next()?.trim_end_matches('*');
    (!name.is_empty()).then(|| name.to_string())
}

/// Arguments for `prompts/get`: every required argument set to a plain string.
fn prompt_arguments(prompt: &Value) -> Value {
    let mut args = Map::new();
    for arg in prompt
        .get("arguments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if arg.get("required") == Some(&Value::Bool(true)) {
            if let Some(name) = arg.get("name").and_then(Value::as_str) {
                args.insert(name.to_string(), json!("mcpspec"));
            }
        }
    }
    Value::Object(args)
}

/// Calls `method` and files it under `working` unless it is missing (-32601, or any
/// error when `needs_result`) or unanswered.
async fn expect_backed(
    session: &Session,
    method: &str,
    params: Option<Value>,
    needs_result: bool,
    timeout: Duration,
    working: &mut Vec<String>,
    broken: &mut Vec<String>,
) {
    match session.request_timeout(method, params, timeout).await {
        Err(e) => broken.push(format!("{method}: no answer ({e})")),
        Ok(r) if r.error_code() == Some(code::METHOD_NOT_FOUND) => {
            broken.push(format!("{method} → {}", r.summary()))
        }
        Ok(r) if needs_result && !r.result().is_some_and(Value::is_object) => {
            broken.push(format!("{method} → {}", r.summary()))
        }
        Ok(_) => working.push(method.to_string()),
    }
}

async fn declared_capabilities_work(ctx: &mut Ctx) -> CaseResult {
    let caps = ctx.profile().capabilities();
    let revision = ctx.revision();
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let mut working = Vec::new();
    let mut broken = Vec::new();
    let declared = |c: Capability| c.declared_in(&caps);

    if declared(Capability::Tools) {
        expect_backed(
            &session,
            "tools/list",
            None,
            true,
            t,
            &mut working,
            &mut broken,
        )
        .await;
    }
    let mut templates = Vec::new();
    if declared(Capability::Resources) {
        let resources = match first_page(&session, "resources/list", "resources", t).await {
            Ok(items) => {
                working.push("resources/list".into());
                items
            }
            Err(problem) => {
                broken.push(problem);
                Vec::new()
            }
        };
        match first_page(&session, "resources/templates/list", "resourceTemplates", t).await {
            Ok(items) => {
                working.push("resources/templates/list".into());
                templates = items;
            }
            Err(problem) => broken.push(problem),
        }
        // A listed resource when there is one; otherwise an unknown URI still shows
        // whether the method exists.
        let uri = resources
            .iter()
            .find_map(|r| r.get("uri")?.as_str())
            .unwrap_or("mcpspec://probe/none")
            .to_string();
        expect_backed(
            &session,
            "resources/read",
            Some(json!({ "uri": uri })),
            false,
            t,
            &mut working,
            &mut broken,
        )
        .await;
        if declared(Capability::ResourceSubscribe) {
            for method in ["resources/subscribe", "resources/unsubscribe"] {
                expect_backed(
                    &session,
                    method,
                    Some(json!({ "uri": uri })),
                    false,
                    t,
                    &mut working,
                    &mut broken,
                )
                .await;
            }
        }
    }
    let mut prompts = Vec::new();
    if declared(Capability::Prompts) {
        match first_page(&session, "prompts/list", "prompts", t).await {
            Ok(items) => {
                working.push("prompts/list".into());
                prompts = items;
            }
            Err(problem) => broken.push(problem),
        }
        let params = match prompts.first() {
            Some(p) => json!({
                "name": p.get("name").cloned().unwrap_or(Value::Null),
                "arguments": prompt_arguments(p)
            }),
            None => json!({ "name": "mcpspec-probe" }),
        };
        expect_backed(
            &session,
            "prompts/get",
            Some(params),
            false,
            t,
            &mut working,
            &mut broken,
        )
        .await;
    }
    if declared(Capability::Logging) {
        expect_backed(
            &session,
            "logging/setLevel",
            Some(json!({ "level": "info" })),
            true,
            t,
            &mut working,
            &mut broken,
        )
        .await;
    }
    if revision >= Revision::V2025_03_26 && declared(Capability::Completions) {
        let params = completion_params(&prompts, &templates);
        expect_backed(
            &session,
            "completion/complete",
            Some(params),
            false,
            t,
            &mut working,
            &mut broken,
        )
        .await;
    }
    if revision >= Revision::V2025_11_25 {
        if caps.pointer("/tasks/list").is_some_and(Value::is_object) {
            expect_backed(
                &session,
                "tasks/list",
                None,
                true,
                t,
                &mut working,
                &mut broken,
            )
            .await;
        }
        if caps.pointer("/tasks/cancel").is_some_and(Value::is_object) {
            expect_backed(
                &session,
                "tasks/cancel",
                Some(json!({ "taskId": "mcpspec-unknown-task" })),
                false,
                t,
                &mut working,
                &mut broken,
            )
            .await;
        }
    }

    if !broken.is_empty() {
        return Err(Verdict::violation(format!(
            "declared capabilities are not backed by working methods: {}",
            broken.join("; ")
        ))
        .expected("results (or at least not -32601) from the methods of every declared capability")
        .actual(format!("declared: {caps}\n{}", broken.join("\n"))));
    }
    if working.is_empty() {
        return Ok(Verdict::not_applicable(
            "the server declares no capability with methods to call",
        ));
    }
    Ok(Verdict::pass(format!(
        "methods of every declared capability exist: {}",
        working.join(", ")
    )))
}

/// How an undeclared method's answer is judged (LIFE-006).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hidden {
    /// -32601: what negotiation implies.
    Refused,
    /// An empty list or empty completion: harmless probing support.
    Empty,
    /// The feature works although undeclared, or fails with another code.
    Served,
}

/// Judge the answer to a method of an undeclared capability. `field` is the array a
/// successful answer would hold (`completion.values` for completions).
fn judge_hidden(response: &Response, field: Option<&str>) -> (Hidden, String) {
    if let Some(code) = response.error_code() {
        if code == code::METHOD_NOT_FOUND {
            return (Hidden::Refused, "-32601".into());
        }
        return (Hidden::Served, format!("error {code} instead of -32601"));
    }
    let Some(result) = response.result() else {
        return (Hidden::Served, response.summary());
    };
    match field.map(|f| result.pointer(f)) {
        Some(Some(Value::Array(items))) if items.is_empty() => {
            (Hidden::Empty, "an empty list".into())
        }
        Some(Some(Value::Array(items))) => (
            Hidden::Served,
            format!("a working answer with {} item(s)", items.len()),
        ),
        _ => (
            Hidden::Served,
            format!("a successful answer {}", clip(&result.to_string(), 120)),
        ),
    }
}

async fn undeclared_capabilities_refused(ctx: &mut Ctx) -> CaseResult {
    let caps = ctx.profile().capabilities();
    let revision = ctx.revision();
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let declared = |c: Capability| c.declared_in(&caps);

    let mut probes: Vec<(&str, Option<Value>, Option<&str>)> = Vec::new();
    if !declared(Capability::Tools) {
        probes.push(("tools/list", None, Some("/tools")));
    }
    if !declared(Capability::Resources) {
        probes.push(("resources/list", None, Some("/resources")));
        probes.push(("resources/templates/list", None, Some("/resourceTemplates")));
    }
    if !declared(Capability::Prompts) {
        probes.push(("prompts/list", None, Some("/prompts")));
    }
    if !declared(Capability::Logging) {
        probes.push(("logging/setLevel", Some(json!({ "level": "info" })), None));
    }
    if revision >= Revision::V2025_03_26 && !declared(Capability::Completions) {
        // Aim at a real prompt or template so a hidden completion feature shows.
        let prompts = if declared(Capability::Prompts) {
            first_page(&session, "prompts/list", "prompts", t)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let templates = if declared(Capability::Resources) {
            first_page(&session, "resources/templates/list", "resourceTemplates", t)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        probes.push((
            "completion/complete",
            Some(completion_params(&prompts, &templates)),
            Some("/completion/values"),
        ));
    }
    if probes.is_empty() {
        return Ok(Verdict::not_applicable(
            "the server declares every capability whose methods this case probes",
        ));
    }

    let mut served = Vec::new();
    let mut empty = Vec::new();
    let mut refused = Vec::new();
    for (method, params, field) in probes {
        match session.request_timeout(method, params, t).await {
            Err(e) => served.push(format!("{method}: no answer ({e})")),
            Ok(r) => {
                let (how, what) = judge_hidden(&r, field);
                match how {
                    Hidden::Refused => refused.push(method.to_string()),
                    Hidden::Empty => empty.push(format!("{method} → {what}")),
                    Hidden::Served => served.push(format!("{method} → {what}")),
                }
            }
        }
    }
    if !served.is_empty() {
        return Err(Verdict::violation(format!(
            "methods of undeclared capabilities were not refused with -32601: {}",
            served.join("; ")
        ))
        .expected("error -32601 for methods of capabilities the server did not declare")
        .actual(format!("declared: {caps}\n{}", served.join("\n"))));
    }
    if !empty.is_empty() {
        return Err(Verdict::violation(format!(
            "undeclared list methods answer with empty results instead of -32601: {}",
            empty.join("; ")
        ))
        .at_level(Level::May)
        .expected("error -32601")
        .actual(empty.join("\n")));
    }
    Ok(Verdict::pass(format!(
        "every method of an undeclared capability got -32601: {}",
        refused.join(", ")
    )))
}

// ---------------------------------------------------------------------------
// LIFE-007 .. LIFE-009: ordering around the handshake
// ---------------------------------------------------------------------------

async fn no_requests_before_initialized(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    // Declaring these gives the server every reason to ask something early.
    let caps = json!({ "roots": { "listChanged": true }, "sampling": {}, "elicitation": {} });
    let mark = session.mark();
    let handshake = session
        .initialize(
            ctx.config().revision.as_str(),
            caps,
            ctx.config().init_timeout,
        )
        .await?;
    if handshake.result().is_none() {
        return Ok(Verdict::untestable(format!(
            "the server refused initialize with client capabilities roots, sampling and elicitation: {}",
            handshake.response.summary()
        )));
    }
    let seen = session.observe(mark, BEFORE_INITIALIZED_WINDOW).await;
    let early: Vec<String> = seen
        .iter()
        .filter(|e| matches!(e, Inbound::Request(_)) && e.method() != Some("ping"))
        .map(Inbound::describe)
        .collect();
    // Complete the handshake the way a client would.
    session.notify("notifications/initialized", None).await?;
    if early.is_empty() {
        Ok(Verdict::pass(format!(
            "no request other than ping arrived in the {:.1} s before notifications/initialized",
            BEFORE_INITIALIZED_WINDOW.as_secs_f64()
        )))
    } else {
        Err(Verdict::violation(format!(
            "the server sent {} request(s) before notifications/initialized",
            early.len()
        ))
        .expected("no server request other than ping until notifications/initialized")
        .actual(early.join("\n")))
    }
}

fn line(message: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(message).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Write `messages` in one write and wait for the answer to the ping among them.
async fn ping_in_one_write(
    session: &Session,
    messages: &[Value],
    ping_id: &Value,
    timeout: Duration,
) -> Result<Response, RequestError> {
    let mut bytes = Vec::new();
    for m in messages {
        if let Some(id) = m.get("id") {
            let method = m.get("method").and_then(Value::as_str).unwrap_or("");
            // Registered for attribution; only the ping is awaited.
            drop(session.expect(id, method));
        }
        bytes.extend(line(m));
    }
    let pending = session.expect(ping_id, "ping");
    session.send_raw(&bytes).await?;
    pending.wait(timeout).await
}

async fn ping_during_initialization(ctx: &mut Ctx) -> CaseResult {
    let version = ctx.config().revision.as_str();
    // The ping shares the write with initialize, so the server's start-up counts too.
    let timeout = ctx.config().init_timeout;
    let first = ctx.session().clone();
    let second = ctx.spawn_raw()?;
    let init =
        |id: &str| request_message(&json!(id), "initialize", Some(initialize_params(version)));
    let ping = |id: &str| request_message(&json!(id), "ping", None);
    let after = [init("init-1"), ping("ping-after-initialize")];
    let before = [ping("ping-before-initialize"), init("init-2")];
    let (after_id, before_id) = (
        json!("ping-after-initialize"),
        json!("ping-before-initialize"),
    );
    let (after_answer, before_answer) = tokio::join!(
        ping_in_one_write(&first, &after, &after_id, timeout),
        ping_in_one_write(&second, &before, &before_id, timeout),
    );
    let mut problems = Vec::new();
    for (what, answer) in [
        (
            "a ping written right after initialize (same write)",
            after_answer,
        ),
        (
            "a ping written right before initialize (same write)",
            before_answer,
        ),
    ] {
        match answer {
            Ok(r) if r.result().is_some_and(Value::is_object) && r.error().is_none() => {}
            Ok(r) => problems.push(format!("{what} got {}", r.summary())),
            Err(e) => problems.push(format!("{what} got no answer: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(Verdict::pass(
            "pings written with a pending initialize were answered, in either order",
        ))
    } else {
        Err(Verdict::violation(problems.join("; "))
            .expected("a result {} for each ping while initialization is pending")
            .actual(problems.join("\n")))
    }
}

async fn request_before_initialize(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    // The first request of a fresh process also waits out its start-up.
    let wait = ctx.timeout().max(Duration::from_secs(5));
    let id = session.next_id();
    let answer = session.request_with_id(id, "tools/list", None, wait).await;
    let refusal = match answer {
        Ok(r) if r.is_error() => r.summary(),
        // Over HTTP a refusal of the POST itself (e.g. 400 for the missing session) is
        // the server's error answer.
        Err(RequestError::Refused(r)) => r.to_string(),
        Ok(r) => {
            return Err(
                Verdict::violation("tools/list sent before initialize was served normally")
                    .at_level(Level::May)
                    .expected("an error response, then a working initialize")
                    .actual(r.summary()),
            )
        }
        Err(RequestError::Timeout(t)) => {
            return Err(Verdict::violation(format!(
                "tools/list sent as the very first message got no answer within {t:?}"
            ))
            .expected("an error response")
            .actual("silence"))
        }
        Err(e) => {
            return Err(Verdict::violation(format!(
                "tools/list sent as the very first message got no answer: {e}"
            ))
            .expected("an error response and a running server")
            .actual(e.to_string()))
        }
    };
    let handshake = session
        .initialize(
            ctx.config().revision.as_str(),
            json!({}),
            ctx.config().init_timeout,
        )
        .await?;
    if handshake.result().is_none() {
        return Err(
            Verdict::violation("initialize failed after a request that came before it")
                .expected("a normal initialize result")
                .actual(handshake.response.summary()),
        );
    }
    Ok(Verdict::pass(format!(
        "the early tools/list got {} and a following initialize succeeded",
        crate::util::clip(&refusal, 120)
    )))
}

// ---------------------------------------------------------------------------
// LIFE-011: passive, over the run's traffic
// ---------------------------------------------------------------------------

/// A notification that needs a capability the server did not declare, with the level
/// of the rule it breaks at `revision`.
pub fn undeclared_notification(
    method: &str,
    capabilities: &Value,
    revision: Revision,
) -> Option<(Level, &'static str)> {
    // list_changed/updated rules became MUST in 2025-06-18; logging was always MUST.
    let feature_level = if revision >= Revision::V2025_06_18 {
        Level::Must
    } else {
        Level::Should
    };
    let flag = |pointer: &str| capabilities.pointer(pointer) == Some(&Value::Bool(true));
    match method {
        "notifications/message" if !Capability::Logging.declared_in(capabilities) => {
            Some((Level::Must, "logging"))
        }
        "notifications/tools/list_changed" if !flag("/tools/listChanged") => {
            Some((feature_level, "tools.listChanged"))
        }
        "notifications/prompts/list_changed" if !flag("/prompts/listChanged") => {
            Some((feature_level, "prompts.listChanged"))
        }
        "notifications/resources/list_changed" if !flag("/resources/listChanged") => {
            Some((feature_level, "resources.listChanged"))
        }
        "notifications/resources/updated" if !flag("/resources/subscribe") => {
            Some((feature_level, "resources.subscribe"))
        }
        _ => None,
    }
}

async fn notifications_match_capabilities(ctx: &mut Ctx) -> CaseResult {
    let caps = ctx.profile().capabilities();
    let revision = ctx.revision();
    let mut total = 0usize;
    let mut offences: BTreeMap<String, (Level, &'static str, usize, String)> = BTreeMap::new();
    for record in ctx.traffic().records() {
        let Inbound::Notification(v) = &record.inbound else {
            continue;
        };
        total += 1;
        let method = record.inbound.method().unwrap_or_default().to_string();
        if let Some((level, needs)) = undeclared_notification(&method, &caps, revision) {
            let entry = offences
                .entry(method)
                .or_insert_with(|| (level, needs, 0, clip(&v.to_string(), 300)));
            entry.2 += 1;
        }
    }
    if offences.is_empty() {
        return Ok(Verdict::pass(format!(
            "none of the {total} notification(s) of the run needed an undeclared capability"
        )));
    }
    let level = offences
        .values()
        .map(|(l, ..)| *l)
        .min()
        .unwrap_or(Level::Must);
    let lines: Vec<String> = offences
        .iter()
        .map(|(method, (_, needs, n, example))| {
            format!("{n} × {method} without `{needs}` declared, e.g. {example}")
        })
        .collect();
    Err(Verdict::violation(format!(
        "the server sent notifications for capabilities it did not declare: {}",
        offences
            .iter()
            .map(|(m, (_, needs, ..))| format!("{m} (needs {needs})"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .at_level(level)
    .expected(format!(
        "only notifications the declared capabilities allow: {caps}"
    ))
    .actual(lines.join("\n")))
}

// ---------------------------------------------------------------------------
// LIFE-012
// ---------------------------------------------------------------------------

async fn repeated_initialize(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let t = ctx.timeout();
    let follow_method = if ctx.profile().declares(Capability::Tools) {
        "tools/list"
    } else {
        "ping"
    };
    let init_id = json!("mcpspec-second-initialize");
    let follow_id = session.next_id();
    let init_answer = session.expect(&init_id, "initialize");
    let follow_answer = session.expect(&follow_id, follow_method);
    // Both go out at once; the follow-up is read after the second initialize.
    let mut bytes = line(&request_message(
        &init_id,
        "initialize",
        Some(initialize_params(ctx.config().revision.as_str())),
    ));
    bytes.extend(line(&request_message(&follow_id, follow_method, None)));
    session.send_raw(&bytes).await?;
    let (init_answer, follow_answer) = tokio::join!(init_answer.wait(t), follow_answer.wait(t));
    let second = match &init_answer {
        Ok(r) => r.summary(),
        Err(RequestError::Refused(r)) => r.to_string(),
        Err(e) => format!("no answer ({e})"),
    };
    match follow_answer {
        Ok(r) if r.result().is_some() && r.error().is_none() => {}
        Ok(r) => {
            return Err(Verdict::violation(format!(
                "after a second initialize, {follow_method} failed"
            ))
            .expected(format!("{follow_method} still works"))
            .actual(format!(
                "second initialize → {second}\n{follow_method} → {}",
                r.summary()
            )))
        }
        Err(e) => {
            return Err(Verdict::violation(format!(
                "after a second initialize, {follow_method} got no answer: the session is lost"
            ))
            .expected(format!("{follow_method} still works"))
            .actual(format!(
                "second initialize → {second}\n{follow_method} → {e}"
            )))
        }
    }
    // Over HTTP, a 4xx whose body is a JSON-RPC error (id null) rejects that POST.
    let rejected_over_http =
        matches!(&init_answer, Err(RequestError::Refused(r)) if r.json_rpc_error().is_some());
    match init_answer {
        Err(_) if rejected_over_http => {}
        Err(e) => {
            return Err(Verdict::violation(format!(
                "the second initialize was neither answered nor rejected: {e}"
            ))
            .expected("an error response or an idempotent result")
            .actual(e.to_string()))
        }
        Ok(_) => {}
    }
    Ok(Verdict::pass(format!(
        "the second initialize got {second} and {follow_method} still works"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> Value {
        json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {
                "tools": { "listChanged": true },
                "resources": { "subscribe": false },
                "logging": {},
                "experimental": { "x": {} }
            },
            "serverInfo": {
                "name": "s", "version": "1", "title": "S",
                "icons": [{ "src": "data:,", "sizes": ["any"], "theme": "dark" }]
            },
            "instructions": "hi"
        })
    }

    #[test]
    fn complete_result_has_no_problems() {
        for r in Revision::SESSION_ERA {
            assert_eq!(
                initialize_result_problems(&complete(), r),
                Vec::<String>::new()
            );
        }
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let mut r = complete();
        r.as_object_mut().unwrap().remove("serverInfo");
        r["protocolVersion"] = json!(20251125);
        r["capabilities"]["tools"]["listChanged"] = json!("yes");
        let p = initialize_result_problems(&r, Revision::V2025_11_25);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|s| s.contains("serverInfo")));
        assert!(p.iter().any(|s| s.contains("protocolVersion")));
        assert!(p.iter().any(|s| s.contains("tools.listChanged")));

        let mut r = complete();
        r["serverInfo"]["version"] = json!(1);
        r["serverInfo"]["icons"][0]["theme"] = json!("blue");
        let p = initialize_result_problems(&r, Revision::V2025_11_25);
        assert_eq!(p.len(), 2, "{p:?}");
        // Icons do not exist before 2025-11-25, so only the version counts there.
        assert_eq!(
            initialize_result_problems(&r, Revision::V2025_06_18).len(),
            1
        );
        assert_eq!(
            initialize_result_problems(&json!([]), Revision::V2025_06_18),
            vec!["the result is not an object".to_string()]
        );
    }

    #[test]
    fn notifications_are_matched_to_capabilities() {
        let caps = json!({ "tools": { "listChanged": true }, "resources": {} });
        let check = |m, r| undeclared_notification(m, &caps, r);
        assert_eq!(
            check("notifications/tools/list_changed", Revision::V2025_11_25),
            None
        );
        assert_eq!(
            check("notifications/message", Revision::V2024_11_05),
            Some((Level::Must, "logging"))
        );
        assert_eq!(
            check(
                "notifications/resources/list_changed",
                Revision::V2025_03_26
            ),
            Some((Level::Should, "resources.listChanged"))
        );
        assert_eq!(
            check("notifications/resources/updated", Revision::V2025_06_18),
            Some((Level::Must, "resources.subscribe"))
        );
        assert_eq!(check("notifications/progress", Revision::V2025_06_18), None);
    }

    #[test]
    fn hidden_features_are_classified() {
        let r = |raw| Response { raw };
        let judge = |raw, f| judge_hidden(&r(raw), f).0;
        assert_eq!(
            judge(
                json!({"id":1,"error":{"code":-32601,"message":"x"}}),
                Some("/tools")
            ),
            Hidden::Refused
        );
        assert_eq!(
            judge(json!({"id":1,"result":{"tools":[]}}), Some("/tools")),
            Hidden::Empty
        );
        assert_eq!(
            judge(
                json!({"id":1,"result":{"tools":[{"name":"a"}]}}),
                Some("/tools")
            ),
            Hidden::Served
        );
        assert_eq!(
            judge(json!({"id":1,"error":{"code":-32602,"message":"x"}}), None),
            Hidden::Served
        );
        assert_eq!(judge(json!({"id":1,"result":{}}), None), Hidden::Served);
    }

    #[test]
    fn completion_targets_what_exists() {
        let prompts = [
            json!({"name": "p"}),
            json!({"name": "g", "arguments": [{"name": "who"}]}),
        ];
        assert_eq!(
            completion_params(&prompts, &[])["ref"],
            json!({"type": "ref/prompt", "name": "g"})
        );
        let templates = [json!({"uriTemplate": "x://{+path}/{id}"})];
        let p = completion_params(&[], &templates);
        assert_eq!(p["argument"]["name"], json!("path"));
        assert_eq!(template_variable("a://{id*}"), Some("id".into()));
        assert_eq!(template_variable("a://{x:3,y}"), Some("x".into()));
        assert_eq!(template_variable("a://none"), None);
    }

    #[test]
    fn version_order_is_date_order() {
        assert!(version_newer("2025-11-25", "2025-06-18"));
        assert!(!version_newer("2024-11-05", "2024-11-05"));
    }
}
