//! Spec page `server/prompts`. Catalogue area PROMPT.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::server::resources::{
    contents_item_problems, field_problems, has_uri_scheme, is_mime_type, judge_undeclared, short,
    strict_base64, undeclared_outcome, unique_suffix, Kind,
};
use crate::cases::support::{code, judged_verdict, list_all, report_problems};
use crate::session::Response;
use crate::spec::{Level, Revision, Revisions, ANY_TRANSPORT};
use serde_json::{json, Map, Value};

pub const CASES: &[Case] = &[
    Case {
        id: "server/prompts/capability-matches",
        title: "Prompt methods work exactly when the prompts capability is declared",
        requirements: &["PROMPT-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(capability_matches(ctx)),
    },
    Case {
        id: "server/prompts/list-shape",
        title: "prompts/list entries carry a name and correctly typed arguments and optional fields",
        requirements: &["PROMPT-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Prompts],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(list_shape(ctx)),
    },
    Case {
        id: "server/prompts/get-renders",
        title: "prompts/get with its required arguments returns messages with a valid role and content block",
        requirements: &["PROMPT-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Prompts],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(get_renders(ctx)),
    },
    Case {
        id: "server/prompts/media-complete",
        title: "Image, audio and embedded resource content in prompts is complete and well encoded",
        requirements: &["PROMPT-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Prompts],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(media_complete(ctx)),
    },
    Case {
        id: "server/prompts/unknown-prompt",
        title: "prompts/get for a prompt that does not exist answers -32602",
        requirements: &["PROMPT-005"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Prompts],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_prompt(ctx)),
    },
    Case {
        id: "server/prompts/missing-argument",
        title: "prompts/get without a required argument answers -32602",
        requirements: &["PROMPT-006"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Prompts],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(missing_argument(ctx)),
    },
    Case {
        id: "server/prompts/non-string-argument",
        title: "prompts/get with number, object or null argument values answers -32602",
        requirements: &["PROMPT-007"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Prompts],
        // Ill-typed input may upset the server: keep it off the shared session.
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(non_string_argument(ctx)),
    },
];

/// Prompts rendered by the sampling cases.
const PROMPT_SAMPLE: usize = 20;
/// Problems shown in one verdict.
const SHOWN: usize = 5;
/// The plain string given to required arguments.
const ARGUMENT_VALUE: &str = "test";
/// Values tried in turn for required arguments without a completion suggestion.
const FALLBACK_VALUES: [&str; 2] = [ARGUMENT_VALUE, "1"];

// -- helpers -------------------------------------------------------------------------

/// A listed prompt: its name and argument declarations as sent.
struct PromptInfo {
    name: String,
    arguments: Vec<Value>,
}

impl PromptInfo {
    fn from_listing(prompt: &Value) -> Option<PromptInfo> {
        let name = prompt.get("name")?.as_str()?.to_string();
        let arguments = prompt
            .get("arguments")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Some(PromptInfo { name, arguments })
    }

    fn argument_names(&self) -> Vec<&str> {
        self.arguments
            .iter()
            .filter_map(|a| a.get("name").and_then(Value::as_str))
            .collect()
    }

    fn required_names(&self) -> Vec<&str> {
        self.arguments
            .iter()
            .filter(|a| a.get("required") == Some(&Value::Bool(true)))
            .filter_map(|a| a.get("name").and_then(Value::as_str))
            .collect()
    }

    /// Every required argument set to a plain string, except `omit`.
    fn filled(&self, omit: Option<&str>) -> Map<String, Value> {
        self.filled_with(&Map::new(), ARGUMENT_VALUE, omit)
    }

    /// Every required argument except `omit`: the suggested value if there is one, else
    /// `fallback`.
    fn filled_with(
        &self,
        suggested: &Map<String, Value>,
        fallback: &str,
        omit: Option<&str>,
    ) -> Map<String, Value> {
        self.required_names()
            .into_iter()
            .filter(|n| Some(*n) != omit)
            .map(|n| {
                let value = suggested.get(n).cloned().unwrap_or_else(|| json!(fallback));
                (n.to_string(), value)
            })
            .collect()
    }
}

/// First completion suggestion for each required argument, when the server offers
/// completion; earlier choices go along as context where the revision allows it.
async fn suggested_values(ctx: &Ctx, prompt: &PromptInfo) -> Map<String, Value> {
    let mut chosen = Map::new();
    if !ctx.profile().declares(Capability::Completions) {
        return chosen;
    }
    for name in prompt.required_names() {
        let mut params = json!({
            "ref": { "type": "ref/prompt", "name": prompt.name },
            "argument": { "name": name, "value": "" }
        });
        if ctx.revision() >= Revision::V2025_06_18 && !chosen.is_empty() {
            params["context"] = json!({ "arguments": chosen.clone() });
        }
        let Ok(response) = ctx
            .session()
            .request_timeout("completion/complete", Some(params), ctx.timeout())
            .await
        else {
            continue;
        };
        if let Some(first) = response
            .result()
            .and_then(|r| r.pointer("/completion/values/0"))
            .filter(|v| v.is_string())
        {
            chosen.insert(name.to_string(), first.clone());
        }
    }
    chosen
}

async fn listed_prompts(ctx: &Ctx) -> Result<Vec<PromptInfo>, Verdict> {
    let listed = list_all(ctx.session(), "prompts/list", "prompts", ctx.timeout()).await?;
    Ok(listed.iter().filter_map(PromptInfo::from_listing).collect())
}

async fn get_prompt(
    ctx: &Ctx,
    name: &str,
    arguments: Map<String, Value>,
) -> Result<Response, Verdict> {
    let mut params = json!({ "name": name });
    if !arguments.is_empty() {
        params["arguments"] = Value::Object(arguments);
    }
    Ok(ctx
        .session()
        .request_timeout("prompts/get", Some(params), ctx.timeout())
        .await?)
}

/// Render up to [`PROMPT_SAMPLE`] listed prompts with their required arguments (a
/// completion suggestion, else a plain string, else "1" for id-like arguments). Returns
/// the results and the prompts that answered an error instead.
async fn render_sample(ctx: &Ctx) -> Result<(Vec<(String, Value)>, Vec<String>), Verdict> {
    let prompts = listed_prompts(ctx).await?;
    if prompts.is_empty() {
        return Err(Verdict::untestable(
            "prompts/list offers no prompt to render",
        ));
    }
    let mut rendered = Vec::new();
    let mut refused = Vec::new();
    for prompt in prompts.iter().take(PROMPT_SAMPLE) {
        let suggested = suggested_values(ctx, prompt).await;
        let mut last = None;
        for fallback in FALLBACK_VALUES {
            let arguments = prompt.filled_with(&suggested, fallback, None);
            let response = get_prompt(ctx, &prompt.name, arguments).await?;
            match response.result() {
                Some(result) if response.error().is_none() => {
                    rendered.push((prompt.name.clone(), result.clone()));
                    last = None;
                    break;
                }
                _ => last = Some(response),
            }
            if prompt.required_names().len() == suggested.len() {
                break; // every argument had a suggestion: another fallback changes nothing
            }
        }
        if let Some(response) = last {
            refused.push(format!("{}: {}", prompt.name, response.summary()));
        }
    }
    if rendered.is_empty() {
        return Err(Verdict::untestable(format!(
            "no prompt rendered with the arguments mcpspec could supply: {}",
            refused.join("; ")
        )));
    }
    Ok((rendered, refused))
}

/// Content block types a prompt message may carry at `revision`.
fn allowed_content_types(revision: Revision) -> &'static [&'static str] {
    if revision >= Revision::V2025_06_18 {
        &["text", "image", "audio", "resource", "resource_link"]
    } else if revision >= Revision::V2025_03_26 {
        &["text", "image", "audio", "resource"]
    } else {
        &["text", "image", "resource"]
    }
}

/// Schema-level problems of one content block at `revision` (PROMPT-003).
pub(crate) fn content_block_problems(block: &Value, what: &str, revision: Revision) -> Vec<String> {
    let Some(ty) = block.get("type").and_then(Value::as_str) else {
        return vec![format!("{what} has no string `type`: {}", short(block))];
    };
    if !allowed_content_types(revision).contains(&ty) {
        return vec![format!(
            "{what} has type {ty:?}, not one of {:?} allowed in {revision}",
            allowed_content_types(revision)
        )];
    }
    let common = [("annotations", Kind::Object), ("_meta", Kind::Object)];
    match ty {
        "text" => field_problems(block, what, &[("text", Kind::String)], &common),
        "image" | "audio" => field_problems(
            block,
            what,
            &[("data", Kind::String), ("mimeType", Kind::String)],
            &common,
        ),
        "resource" => {
            let mut problems = field_problems(block, what, &[("resource", Kind::Object)], &common);
            if let Some(resource) = block.get("resource").filter(|r| r.is_object()) {
                problems.extend(contents_item_problems(
                    resource,
                    &format!("{what}.resource"),
                ));
            }
            problems
        }
        "resource_link" => field_problems(
            block,
            what,
            &[("uri", Kind::String), ("name", Kind::String)],
            &[
                ("description", Kind::String),
                ("mimeType", Kind::String),
                ("size", Kind::Integer),
                ("title", Kind::String),
                ("icons", Kind::Array),
                ("annotations", Kind::Object),
                ("_meta", Kind::Object),
            ],
        ),
        _ => Vec::new(),
    }
}

/// Completeness problems of media and embedded resources (PROMPT-004); `None` when the
/// block is neither.
fn media_problems(block: &Value, what: &str) -> Option<Vec<String>> {
    let ty = block.get("type").and_then(Value::as_str)?;
    let mut problems = Vec::new();
    match ty {
        "image" | "audio" => {
            match block.get("data").and_then(Value::as_str) {
                Some(data) => {
                    if let Err(e) = strict_base64(data) {
                        problems.push(format!("{what}.data is not standard base64 ({e})"));
                    }
                }
                None => problems.push(format!("{what} has no string `data`")),
            }
            mime_problem(
                block.get("mimeType"),
                &format!("{what}.mimeType"),
                &mut problems,
            );
        }
        "resource" => {
            let Some(resource) = block.get("resource").filter(|r| r.is_object()) else {
                return Some(vec![format!("{what} has no `resource` object")]);
            };
            let inner = format!("{what}.resource");
            match resource.get("uri").and_then(Value::as_str) {
                Some(uri) if has_uri_scheme(uri) => {}
                Some(uri) => problems.push(format!("{inner}.uri {uri:?} is not a URI")),
                None => problems.push(format!("{inner} has no string `uri`")),
            }
            // The prose asks for a MIME type even though the schema leaves it optional.
            mime_problem(
                resource.get("mimeType"),
                &format!("{inner}.mimeType"),
                &mut problems,
            );
            match (resource.get("text"), resource.get("blob")) {
                (Some(Value::String(_)), None) => {}
                (None, Some(Value::String(blob))) => {
                    if let Err(e) = strict_base64(blob) {
                        problems.push(format!("{inner}.blob is not standard base64 ({e})"));
                    }
                }
                _ => problems.push(format!("{inner} needs exactly one string `text` or `blob`")),
            }
        }
        _ => return None,
    }
    Some(problems)
}

fn mime_problem(value: Option<&Value>, what: &str, problems: &mut Vec<String>) {
    match value {
        Some(Value::String(m)) if is_mime_type(m) => {}
        Some(other) => problems.push(format!(
            "{what} is not a type/subtype MIME type: {}",
            short(other)
        )),
        None => problems.push(format!("{what} is missing")),
    }
}

/// The message array of a `GetPromptResult`, or the problem with it.
fn messages_of(result: &Value) -> Result<&Vec<Value>, String> {
    match result.get("messages") {
        Some(Value::Array(messages)) => Ok(messages),
        other => Err(format!(
            "result has no `messages` array: {}",
            other.map(short).unwrap_or_else(|| "missing".into())
        )),
    }
}

// -- cases ---------------------------------------------------------------------------

async fn capability_matches(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    if ctx.profile().declares(Capability::Prompts) {
        let response = session
            .request_timeout("prompts/list", None, ctx.timeout())
            .await?;
        let listed = match (response.result(), response.error()) {
            (Some(result), None) => result.get("prompts").and_then(Value::as_array).cloned(),
            _ => {
                return Ok(Verdict::violation(
                    "the server declares prompts but prompts/list does not work",
                )
                .expected("a prompts/list result")
                .actual(response.summary()))
            }
        };
        // A listed prompt must be gettable at least as a method (its arguments may be
        // judged differently, but "no such method" contradicts the declaration).
        if let Some(prompt) = listed.iter().flatten().find_map(PromptInfo::from_listing) {
            let response = get_prompt(ctx, &prompt.name, prompt.filled(None)).await?;
            if response.error_code() == Some(code::METHOD_NOT_FOUND) {
                return Ok(Verdict::violation(
                    "the server declares prompts but prompts/get answers -32601",
                )
                .expected("a prompts/get result")
                .actual(response.summary()));
            }
        }
        return Ok(Verdict::pass("prompts is declared and its methods answer"));
    }
    let mut observations = Vec::new();
    let response = session
        .request_timeout("prompts/list", None, ctx.timeout())
        .await?;
    observations.push(undeclared_outcome("prompts/list", &response, "prompts"));
    let name = format!("mcpspec-no-such-prompt-{}", unique_suffix());
    let response = get_prompt(ctx, &name, Map::new()).await?;
    observations.push(undeclared_outcome("prompts/get", &response, "messages"));
    Ok(judge_undeclared("prompts", observations))
}

async fn list_shape(ctx: &mut Ctx) -> CaseResult {
    let listed = list_all(ctx.session(), "prompts/list", "prompts", ctx.timeout()).await?;
    let mut problems = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut duplicates = Vec::new();
    for (i, prompt) in listed.iter().enumerate() {
        let what = format!("prompts[{i}]");
        problems.extend(field_problems(
            prompt,
            &what,
            &[("name", Kind::String)],
            &[
                ("description", Kind::String),
                ("arguments", Kind::Array),
                ("title", Kind::String),
                ("icons", Kind::Array),
                ("_meta", Kind::Object),
            ],
        ));
        if let Some(Value::Array(arguments)) = prompt.get("arguments") {
            for (j, argument) in arguments.iter().enumerate() {
                problems.extend(field_problems(
                    argument,
                    &format!("{what}.arguments[{j}]"),
                    &[("name", Kind::String)],
                    &[
                        ("description", Kind::String),
                        ("required", Kind::Boolean),
                        ("title", Kind::String),
                    ],
                ));
            }
        }
        if let Some(name) = prompt.get("name").and_then(Value::as_str) {
            if names.contains(&name) {
                duplicates.push(name.to_string());
            }
            names.push(name);
        }
    }
    if !problems.is_empty() {
        return Ok(report_problems(
            "prompts/list entries are malformed",
            "each prompt: name (string); arguments [{name, description?, required? (boolean)}]",
            &problems,
        ));
    }
    if !duplicates.is_empty() {
        return Ok(Verdict::violation("prompt names are not unique")
            .at_level(Level::Should)
            .expected("distinct names")
            .actual(duplicates.join(", ")));
    }
    Ok(Verdict::pass(format!(
        "all {} listed prompts are well formed",
        listed.len()
    )))
}

async fn get_renders(ctx: &mut Ctx) -> CaseResult {
    let (rendered, refused) = render_sample(ctx).await?;
    let revision = ctx.revision();
    let mut problems = Vec::new();
    for (name, result) in &rendered {
        let messages = match messages_of(result) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        if let Some(d) = result.get("description").filter(|d| !d.is_string()) {
            problems.push(format!("{name}: description is not a string: {}", short(d)));
        }
        for (i, message) in messages.iter().enumerate() {
            let what = format!("{name}: messages[{i}]");
            match message.get("role").and_then(Value::as_str) {
                Some("user" | "assistant") => {}
                _ => problems.push(format!(
                    "{what}.role is not \"user\" or \"assistant\": {}",
                    message
                        .get("role")
                        .map(short)
                        .unwrap_or_else(|| "missing".into())
                )),
            }
            match message.get("content") {
                Some(block) if block.is_object() => problems.extend(content_block_problems(
                    block,
                    &format!("{what}.content"),
                    revision,
                )),
                other => problems.push(format!(
                    "{what}.content is not a single content block: {}",
                    other.map(short).unwrap_or_else(|| "missing".into())
                )),
            }
        }
    }
    if !problems.is_empty() {
        return Ok(report_problems(
            "prompts/get results are malformed",
            "messages: [{role: user|assistant, content: one content block}]",
            &problems,
        ));
    }
    let mut message = format!("{} prompt(s) rendered well-formed messages", rendered.len());
    if !refused.is_empty() {
        message.push_str(&format!(
            "; {} refused the arguments mcpspec supplied and were not judged",
            refused.len()
        ));
    }
    Ok(Verdict::pass(message))
}

async fn media_complete(ctx: &mut Ctx) -> CaseResult {
    let (rendered, _) = render_sample(ctx).await?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, result) in &rendered {
        let Ok(messages) = messages_of(result) else {
            continue; // PROMPT-003 reports a missing messages array
        };
        for (i, message) in messages.iter().enumerate() {
            let Some(block) = message.get("content") else {
                continue;
            };
            if let Some(found) = media_problems(block, &format!("{name}: messages[{i}].content")) {
                checked += 1;
                problems.extend(found);
            }
        }
    }
    Ok(judged_verdict(
        &problems,
        checked,
        (
            "media or embedded resources in prompts are incomplete",
            "image/audio: base64 data and type/subtype mimeType; resource: uri, mimeType, text xor base64 blob",
        ),
        || format!(
            "none of the {} rendered prompt(s) contains image, audio or embedded resource content",
            rendered.len()
        ),
        || format!("{checked} media or embedded resource block(s) are complete"),
    ))
}

async fn unknown_prompt(ctx: &mut Ctx) -> CaseResult {
    let name = format!("mcpspec-no-such-prompt-{}", unique_suffix());
    let response = get_prompt(ctx, &name, Map::new()).await?;
    if response.error_code() == Some(code::INVALID_PARAMS) {
        return Ok(Verdict::pass(
            "an unknown prompt name was answered with -32602",
        ));
    }
    Ok(
        Verdict::violation("an unknown prompt name was not answered with -32602")
            .expected("error -32602")
            .actual(response.summary()),
    )
}

async fn missing_argument(ctx: &mut Ctx) -> CaseResult {
    let prompts = listed_prompts(ctx).await?;
    let mut wrong = Vec::new();
    let mut probes = 0;
    for prompt in prompts
        .iter()
        .filter(|p| !p.required_names().is_empty())
        .take(PROMPT_SAMPLE)
    {
        for omitted in prompt.required_names() {
            probes += 1;
            let response = get_prompt(ctx, &prompt.name, prompt.filled(Some(omitted))).await?;
            if response.error_code() != Some(code::INVALID_PARAMS) {
                wrong.push(format!(
                    "{} without {omitted:?}: {}",
                    prompt.name,
                    response.summary()
                ));
            }
        }
    }
    if probes == 0 {
        return Ok(Verdict::untestable(
            "no listed prompt has a required argument",
        ));
    }
    if !wrong.is_empty() {
        return Ok(Verdict::violation(format!(
            "{} of {probes} requests missing a required argument were not answered with -32602",
            wrong.len()
        ))
        .expected("error -32602")
        .actual(wrong.into_iter().take(SHOWN).collect::<Vec<_>>().join("\n")));
    }
    Ok(Verdict::pass(format!(
        "each of {probes} requests missing a required argument got -32602"
    )))
}

async fn non_string_argument(ctx: &mut Ctx) -> CaseResult {
    let prompts = listed_prompts(ctx).await?;
    // Prefer a prompt with a required argument: the server must look at that one.
    let chosen = prompts
        .iter()
        .find(|p| !p.required_names().is_empty())
        .or_else(|| prompts.iter().find(|p| !p.argument_names().is_empty()));
    let Some(prompt) = chosen else {
        return Ok(Verdict::untestable("no listed prompt takes arguments"));
    };
    let argument = prompt
        .required_names()
        .first()
        .copied()
        .or_else(|| prompt.argument_names().first().copied())
        .unwrap_or_default()
        .to_string();
    let mut wrong = Vec::new();
    for bad in [json!(5), json!({ "x": 1 }), Value::Null] {
        let mut arguments = prompt.filled(None);
        arguments.insert(argument.clone(), bad.clone());
        let response = get_prompt(ctx, &prompt.name, arguments).await?;
        if response.error_code() != Some(code::INVALID_PARAMS) {
            wrong.push(format!("{argument} = {bad}: {}", response.summary()));
        }
    }
    if !wrong.is_empty() {
        return Ok(Verdict::violation(format!(
            "non-string values for argument {argument:?} of prompt {:?} were not rejected with -32602",
            prompt.name
        ))
        .expected("error -32602 for each")
        .actual(wrong.join("\n")));
    }
    Ok(Verdict::pass(format!(
        "number, object and null values for {argument:?} of {:?} were each rejected with -32602",
        prompt.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_revision() {
        let audio = json!({"type":"audio","data":"AA==","mimeType":"audio/wav"});
        assert_eq!(
            content_block_problems(&audio, "c", Revision::V2024_11_05).len(),
            1
        );
        assert!(content_block_problems(&audio, "c", Revision::V2025_03_26).is_empty());
        let link = json!({"type":"resource_link","uri":"a:b","name":"n"});
        assert_eq!(
            content_block_problems(&link, "c", Revision::V2025_03_26).len(),
            1
        );
        assert!(content_block_problems(&link, "c", Revision::V2025_06_18).is_empty());
        let text = json!({"type":"text","text":5});
        assert_eq!(
            content_block_problems(&text, "c", Revision::V2025_11_25).len(),
            1
        );
    }

    #[test]
    fn media_must_be_complete() {
        let good = json!({"type":"image","data":"AAECA/3+/w==","mimeType":"image/png"});
        assert_eq!(media_problems(&good, "c"), Some(vec![]));
        let bad = json!({"type":"image","data":"not base64!","mimeType":"png"});
        assert_eq!(media_problems(&bad, "c").map(|p| p.len()), Some(2));
        let resource = json!({"type":"resource","resource":{"uri":"a:b","text":"t"}});
        assert_eq!(media_problems(&resource, "c").map(|p| p.len()), Some(1));
        let both = json!({"type":"resource","resource":{"uri":"a:b","mimeType":"text/plain","text":"t","blob":"AA=="}});
        assert_eq!(media_problems(&both, "c").map(|p| p.len()), Some(1));
        assert_eq!(
            media_problems(&json!({"type":"text","text":"t"}), "c"),
            None
        );
    }
}
