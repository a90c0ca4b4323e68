//! Spec page `server/utilities/completion`. Catalogue area COMPL.
//!
//! Completion references come from the server itself: the arguments of its prompts
//! (`ref/prompt`) and the variables of its resource templates (`ref/resource`).

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::server::resources::{
    field_problems, parse_uri_template, short, template_variables, unique_suffix, Kind,
};
use crate::cases::support::{code, judged_verdict, list_all, report_problems};
use crate::session::Response;
use crate::spec::{Level, Revision, Revisions, ANY_TRANSPORT};
use serde_json::{json, Map, Value};

pub const CASES: &[Case] = &[
    Case {
        id: "server/utilities/completion/capability-matches",
        title: "completion/complete works exactly when the completions capability is declared",
        requirements: &["COMPL-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(capability_matches(ctx)),
    },
    Case {
        id: "server/utilities/completion/result-shape",
        title: "Completion results hold at most 100 string values, an integer total and a boolean hasMore",
        requirements: &["COMPL-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Completions],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(result_shape(ctx)),
    },
    Case {
        id: "server/utilities/completion/counts-consistent",
        title: "A completion total is at least the number of values returned",
        requirements: &["COMPL-003"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Completions],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(counts_consistent(ctx)),
    },
    Case {
        id: "server/utilities/completion/unknown-ref",
        title: "Completion for an unknown prompt, or without an argument, answers -32602",
        requirements: &["COMPL-004"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_03_26),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Completions],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_ref(ctx)),
    },
    Case {
        id: "server/utilities/completion/context-arguments",
        title: "Completion requests carrying context.arguments are accepted",
        requirements: &["COMPL-005"],
        level: Level::Must,
        revisions: Revisions::since(Revision::V2025_06_18),
        transports: ANY_TRANSPORT,
        needs: &[Capability::Completions],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(context_arguments(ctx)),
    },
    Case {
        id: "server/utilities/completion/bad-ref-type",
        title: "Completion with a reference type other than ref/prompt or ref/resource answers -32602",
        requirements: &["COMPL-006"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Completions],
        // Malformed references may upset the server: keep them off the shared session.
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(bad_ref_type(ctx)),
    },
];

/// Completion targets exercised per case.
const TARGET_SAMPLE: usize = 20;
/// Problems shown in one verdict.
const SHOWN: usize = 5;
/// The size limit on `completion.values`.
const MAX_VALUES: usize = 100;

/// Something the server may complete: a prompt argument or a template variable.
#[derive(Debug, Clone)]
struct Target {
    reference: Value,
    argument: String,
    /// The other arguments of the same prompt or template.
    siblings: Vec<String>,
}

impl Target {
    fn label(&self) -> String {
        let what = self
            .reference
            .get("name")
            .or_else(|| self.reference.get("uri"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        format!("{what} / {}", self.argument)
    }
}

/// Completion targets from the server's own prompts and resource templates. A list
/// that fails is left out: the prompts and resources pages judge it.
async fn targets(ctx: &Ctx) -> Vec<Target> {
    let session = ctx.session();
    let mut out = Vec::new();
    if ctx.profile().declares(Capability::Prompts) {
        let prompts = list_all(session, "prompts/list", "prompts", ctx.timeout())
            .await
            .unwrap_or_default();
        for prompt in &prompts {
            let Some(name) = prompt.get("name").and_then(Value::as_str) else {
                continue;
            };
            let arguments: Vec<String> = prompt
                .get("arguments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            for argument in &arguments {
                out.push(Target {
                    reference: json!({ "type": "ref/prompt", "name": name }),
                    argument: argument.clone(),
                    siblings: arguments
                        .iter()
                        .filter(|a| *a != argument)
                        .cloned()
                        .collect(),
                });
            }
        }
    }
    if ctx.profile().declares(Capability::Resources) {
        let templates = list_all(
            session,
            "resources/templates/list",
            "resourceTemplates",
            ctx.timeout(),
        )
        .await
        .unwrap_or_default();
        for template in &templates {
            let Some(uri) = template.get("uriTemplate").and_then(Value::as_str) else {
                continue;
            };
            let Ok(parts) = parse_uri_template(uri) else {
                continue;
            };
            let variables = template_variables(&parts);
            for variable in &variables {
                out.push(Target {
                    reference: json!({ "type": "ref/resource", "uri": uri }),
                    argument: variable.clone(),
                    siblings: variables
                        .iter()
                        .filter(|v| *v != variable)
                        .cloned()
                        .collect(),
                });
            }
        }
    }
    out.truncate(TARGET_SAMPLE);
    out
}

async fn complete(
    ctx: &Ctx,
    reference: &Value,
    argument: Option<Value>,
    context: Option<Value>,
) -> Result<Response, Verdict> {
    let mut params = json!({ "ref": reference });
    if let Some(argument) = argument {
        params["argument"] = argument;
    }
    if let Some(context) = context {
        params["context"] = context;
    }
    Ok(ctx
        .session()
        .request_timeout("completion/complete", Some(params), ctx.timeout())
        .await?)
}

fn argument(name: &str, value: &str) -> Option<Value> {
    Some(json!({ "name": name, "value": value }))
}

/// The `completion` object of a successful answer.
fn completion_of(response: &Response) -> Option<&Value> {
    if response.error().is_some() {
        return None;
    }
    response.result()?.get("completion")
}

/// Problems with one `CompleteResult` (COMPL-002).
fn result_problems(result: &Value, what: &str) -> Vec<String> {
    let Some(completion) = result.get("completion") else {
        return vec![format!("{what}: result has no `completion` object")];
    };
    let mut problems = field_problems(
        completion,
        &format!("{what}: completion"),
        &[("values", Kind::Array)],
        &[("total", Kind::Integer), ("hasMore", Kind::Boolean)],
    );
    if let Some(Value::Array(values)) = completion.get("values") {
        if let Some(bad) = values.iter().find(|v| !v.is_string()) {
            problems.push(format!(
                "{what}: completion.values holds a non-string: {}",
                short(bad)
            ));
        }
        if values.len() > MAX_VALUES {
            problems.push(format!(
                "{what}: completion.values holds {} entries, more than {MAX_VALUES}",
                values.len()
            ));
        }
    }
    problems
}

/// Inconsistencies between `total`, `hasMore` and the values returned (COMPL-003);
/// `None` when the result carries neither count to compare.
fn count_problems(completion: &Value) -> Option<Vec<String>> {
    let returned = completion.get("values")?.as_array()?.len() as i64;
    let total = completion.get("total").and_then(Value::as_i64)?;
    let has_more = completion.get("hasMore").and_then(Value::as_bool);
    let mut problems = Vec::new();
    if total < returned {
        problems.push(format!(
            "total {total} is less than the {returned} values returned"
        ));
    }
    if has_more == Some(true) && total == returned {
        problems.push(format!(
            "hasMore is true although total equals the {returned} values returned"
        ));
    }
    Some(problems)
}

/// Ask for completions of every target with the prefixes "", "a" and the first letter
/// of a value the server offered. Returns (label, result) pairs and refused requests.
async fn sample_results(ctx: &Ctx) -> Result<(Vec<(String, Value)>, Vec<String>), Verdict> {
    let targets = targets(ctx).await;
    if targets.is_empty() {
        return Err(Verdict::untestable(
            "the server offers nothing to complete: no prompt with arguments and no resource \
             template with variables",
        ));
    }
    let mut results = Vec::new();
    let mut refused = Vec::new();
    for target in &targets {
        let mut prefixes = vec![String::new(), "a".to_string()];
        let mut i = 0;
        while i < prefixes.len() {
            let prefix = prefixes[i].clone();
            i += 1;
            let response = complete(
                ctx,
                &target.reference,
                argument(&target.argument, &prefix),
                None,
            )
            .await?;
            let label = format!("{} (prefix {prefix:?})", target.label());
            match response.result() {
                Some(result) if response.error().is_none() => {
                    if prefix.is_empty() {
                        let first = result
                            .pointer("/completion/values/0")
                            .and_then(Value::as_str)
                            .and_then(|v| v.chars().next())
                            .map(String::from);
                        if let Some(first) = first.filter(|f| !prefixes.contains(f)) {
                            prefixes.push(first);
                        }
                    }
                    results.push((label, result.clone()));
                }
                _ => refused.push(format!("{label}: {}", response.summary())),
            }
        }
    }
    if results.is_empty() {
        return Err(Verdict::untestable(format!(
            "every completion request was refused: {}",
            refused
                .into_iter()
                .take(SHOWN)
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    Ok((results, refused))
}

// -- cases ---------------------------------------------------------------------------

async fn capability_matches(ctx: &mut Ctx) -> CaseResult {
    let declared = ctx.profile().declares(Capability::Completions);
    let (reference, arg) = match targets(ctx).await.into_iter().next() {
        Some(t) => (t.reference, argument(&t.argument, "")),
        None => (
            json!({ "type": "ref/prompt", "name": format!("mcpspec-probe-{}", unique_suffix()) }),
            argument("x", ""),
        ),
    };
    let response = complete(ctx, &reference, arg, None).await?;
    let not_found = response.error_code() == Some(code::METHOD_NOT_FOUND);
    if declared {
        if not_found {
            return Ok(Verdict::violation(
                "the server declares completions but completion/complete answers -32601",
            )
            .expected("a completion result (or an error about the request)")
            .actual(response.summary()));
        }
        return Ok(Verdict::pass(
            "completions is declared and completion/complete is served",
        ));
    }
    if ctx.revision() < Revision::V2025_03_26 {
        // 2024-11-05 has no capability flag for completion: record what the server does.
        let what = if not_found {
            "does not offer completion/complete"
        } else {
            "serves completion/complete"
        };
        return Ok(Verdict::violation(format!(
            "at {} there is no completions flag; the server {what}",
            ctx.revision()
        ))
        .at_level(Level::May)
        .actual(response.summary()));
    }
    if not_found {
        return Ok(Verdict::pass(
            "completions is not declared and completion/complete answers -32601",
        ));
    }
    Ok(Verdict::violation(
        "completions is not declared, yet completion/complete does not answer -32601",
    )
    .at_level(Level::Should)
    .expected("error -32601")
    .actual(response.summary()))
}

async fn result_shape(ctx: &mut Ctx) -> CaseResult {
    let (results, refused) = sample_results(ctx).await?;
    let problems: Vec<String> = results
        .iter()
        .flat_map(|(label, result)| result_problems(result, label))
        .collect();
    if !problems.is_empty() {
        return Ok(report_problems(
            "completion results are malformed",
            "completion: {values: at most 100 strings, total?: integer, hasMore?: boolean}",
            &problems,
        ));
    }
    let mut message = format!("{} completion result(s) are well formed", results.len());
    if !refused.is_empty() {
        message.push_str(&format!("; {} request(s) were refused", refused.len()));
    }
    Ok(Verdict::pass(message))
}

async fn counts_consistent(ctx: &mut Ctx) -> CaseResult {
    let (results, _) = sample_results(ctx).await?;
    let mut judged = 0;
    let mut problems = Vec::new();
    for (label, result) in &results {
        let Some(found) = result.get("completion").and_then(count_problems) else {
            continue;
        };
        judged += 1;
        problems.extend(found.into_iter().map(|p| format!("{label}: {p}")));
    }
    Ok(judged_verdict(
        &problems,
        judged,
        (
            "completion counts are inconsistent",
            "total >= number of values; hasMore only when more values exist",
        ),
        || {
            format!(
                "none of the {} completion results carried a total to compare",
                results.len()
            )
        },
        || format!("{judged} completion result(s) have consistent counts"),
    ))
}

async fn unknown_ref(ctx: &mut Ctx) -> CaseResult {
    let suffix = unique_suffix();
    let targets = targets(ctx).await;
    let unknown_prompt =
        json!({ "type": "ref/prompt", "name": format!("mcpspec-no-such-prompt-{suffix}") });
    let mut wrong = Vec::new();
    let response = complete(ctx, &unknown_prompt, argument("x", ""), None).await?;
    if response.error_code() != Some(code::INVALID_PARAMS) {
        wrong.push(format!("unknown prompt: {}", response.summary()));
    }
    // The argument object is required; use a known reference so only it is missing.
    let reference = targets
        .first()
        .map(|t| t.reference.clone())
        .unwrap_or(unknown_prompt);
    let response = complete(ctx, &reference, None, None).await?;
    if response.error_code() != Some(code::INVALID_PARAMS) {
        wrong.push(format!("no argument object: {}", response.summary()));
    }
    if !wrong.is_empty() {
        return Ok(
            Verdict::violation("invalid completion requests were not answered with -32602")
                .expected("error -32602")
                .actual(wrong.join("\n")),
        );
    }
    // Unknown templates and argument names may be errors or empty lists; suggestions
    // for them are only worth a note.
    let mut odd = Vec::new();
    let unknown_template = json!({ "type": "ref/resource", "uri": format!("mcpspec://no-such-template/{suffix}/{{x}}") });
    let response = complete(ctx, &unknown_template, argument("x", ""), None).await?;
    if has_suggestions(&response) {
        odd.push(format!("unknown template: {}", response.summary()));
    }
    if let Some(prompt) = targets.iter().find(|t| t.reference["type"] == "ref/prompt") {
        let name = format!("mcpspec-no-such-argument-{suffix}");
        let response = complete(ctx, &prompt.reference, argument(&name, ""), None).await?;
        if has_suggestions(&response) {
            odd.push(format!("unknown argument name: {}", response.summary()));
        }
    }
    if !odd.is_empty() {
        return Ok(Verdict::violation(
            "the server suggests values for references it does not have",
        )
        .at_level(Level::May)
        .expected("an error or an empty list")
        .actual(odd.join("\n")));
    }
    Ok(Verdict::pass(
        "an unknown prompt and a missing argument were answered with -32602",
    ))
}

fn has_suggestions(response: &Response) -> bool {
    completion_of(response)
        .and_then(|c| c.get("values"))
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty())
}

async fn context_arguments(ctx: &mut Ctx) -> CaseResult {
    let targets = targets(ctx).await;
    if targets.is_empty() {
        return Ok(Verdict::untestable(
            "the server offers nothing to complete: no prompt with arguments and no resource \
             template with variables",
        ));
    }
    let mut compared = 0;
    let mut rejected = Vec::new();
    for target in &targets {
        let baseline =
            complete(ctx, &target.reference, argument(&target.argument, ""), None).await?;
        if completion_of(&baseline).is_none() {
            continue; // refused anyway: the context could not be to blame
        }
        let resolved: Map<String, Value> = target
            .siblings
            .iter()
            .take(1)
            .map(|s| (s.clone(), json!("x")))
            .collect();
        let context = json!({ "arguments": resolved });
        let response = complete(
            ctx,
            &target.reference,
            argument(&target.argument, ""),
            Some(context.clone()),
        )
        .await?;
        compared += 1;
        if completion_of(&response).is_none() {
            rejected.push(format!(
                "{} with context {context}: {}",
                target.label(),
                response.summary()
            ));
        }
    }
    if compared == 0 {
        return Ok(Verdict::untestable(
            "every completion request without context was refused, so there is nothing to compare",
        ));
    }
    if !rejected.is_empty() {
        return Ok(Verdict::violation(format!(
            "{} completion request(s) succeeded without context but failed with context.arguments",
            rejected.len()
        ))
        .expected("the same kind of result with context.arguments")
        .actual(
            rejected
                .into_iter()
                .take(SHOWN)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    Ok(Verdict::pass(format!(
        "{compared} completion request(s) were accepted with context.arguments"
    )))
}

async fn bad_ref_type(ctx: &mut Ctx) -> CaseResult {
    let target = targets(ctx).await.into_iter().next();
    let (name, arg) = match &target {
        Some(t) => (
            t.reference
                .get("name")
                .or_else(|| t.reference.get("uri"))
                .cloned()
                .unwrap_or(json!("x")),
            argument(&t.argument, ""),
        ),
        None => (json!("x"), argument("x", "")),
    };
    let mut wrong = Vec::new();
    for reference in [
        json!({ "type": "ref/tool", "name": name }),
        json!({ "type": "", "name": name }),
        json!({ "name": name }),
    ] {
        let response = complete(ctx, &reference, arg.clone(), None).await?;
        if response.error_code() != Some(code::INVALID_PARAMS) {
            wrong.push(format!("ref {reference}: {}", response.summary()));
        }
    }
    if !wrong.is_empty() {
        return Ok(
            Verdict::violation("bad reference types were not rejected with -32602")
                .expected("error -32602 for each")
                .actual(wrong.join("\n")),
        );
    }
    Ok(Verdict::pass(
        "ref/tool, an empty type and a missing type were each rejected with -32602",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_shape_limits() {
        let ok = json!({"completion":{"values":["a","b"],"total":2,"hasMore":false}});
        assert!(result_problems(&ok, "r").is_empty());
        let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        assert_eq!(
            result_problems(&json!({"completion":{"values":many}}), "r").len(),
            1
        );
        let typed = json!({"completion":{"values":[1],"total":"2","hasMore":"no"}});
        assert_eq!(result_problems(&typed, "r").len(), 3);
        assert_eq!(result_problems(&json!({}), "r").len(), 1);
    }

    #[test]
    fn counts_compare_total_with_values() {
        assert_eq!(count_problems(&json!({"values":["a"]})), None);
        assert_eq!(
            count_problems(&json!({"values":["a"],"total":5,"hasMore":true})),
            Some(vec![])
        );
        assert_eq!(
            count_problems(&json!({"values":["a","b"],"total":1})).map(|p| p.len()),
            Some(1)
        );
        assert_eq!(
            count_problems(&json!({"values":["a"],"total":1,"hasMore":true})).map(|p| p.len()),
            Some(1)
        );
    }
}
