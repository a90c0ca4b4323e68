//! Spec page `basic/index`, §Schema: every server message matches the official schema
//! of the revision in use. Catalogue area SCHEMA.

use crate::case::{Case, CaseResult, Ctx, Isolation, Verdict};
use crate::schema::{error_response_definition, result_definition, SchemaOracle};
use crate::spec::{Level, Revisions, ANY_TRANSPORT};
use crate::traffic::Inbound;
use serde_json::Value;

pub const CASES: &[Case] = &[Case {
    id: "basic/messages-match-schema",
    title: "Every server message validates against the revision's JSON Schema",
    requirements: &["SCHEMA-001"],
    level: Level::Must,
    revisions: Revisions::SESSION_ERA,
    transports: ANY_TRANSPORT,
    needs: &[],
    isolation: Isolation::Passive,
    run: |ctx| Box::pin(messages_match_schema(ctx)),
}];

/// Problems shown in the report; the count says how many there were in all.
const SHOWN: usize = 5;

async fn messages_match_schema(ctx: &mut Ctx) -> CaseResult {
    let Some(dir) = ctx.config().schema_dir.clone() else {
        return Ok(Verdict::untestable(
            "no schema folder given: pass --schema-dir DIR (or set MCPSPEC_SCHEMA_DIR) \
             pointing at <revision>/schema.json files",
        ));
    };
    let oracle = SchemaOracle::load(&dir, ctx.revision()).map_err(Verdict::harness_error)?;
    let mut checked = 0usize;
    let mut problems = Vec::new();
    for record in ctx.traffic().records() {
        let (definition, instance) = match &record.inbound {
            Inbound::Response(v) if v.get("error").is_some() => {
                // Errors whose id could not be read (parse errors) may carry null or no
                // id, which older schemas reject although JSON-RPC requires it: JSONRPC-007
                // judges those.
                if matches!(v.get("id"), None | Some(Value::Null)) {
                    continue;
                }
                (error_response_definition(&oracle), v)
            }
            Inbound::Response(v) => {
                let Some(def) = record.answering.as_deref().and_then(result_definition) else {
                    continue;
                };
                let Some(result) = v.get("result") else {
                    continue; // JSONRPC-003 judges a response without result or error
                };
                (def, result)
            }
            Inbound::Notification(v) => ("ServerNotification", v),
            Inbound::Request(v) => ("ServerRequest", v),
            Inbound::Unclassifiable(_) | Inbound::Invalid { .. } => continue,
        };
        checked += 1;
        if let Err(errors) = oracle.validate(definition, instance) {
            problems.push(format!(
                "{definition} ({}): {}\n  message: {}",
                record.answering.as_deref().unwrap_or("unsolicited"),
                errors.join("; "),
                crate::util::clip(&instance.to_string(), 300)
            ));
        }
    }
    if checked == 0 {
        return Ok(Verdict::untestable(
            "no server message was recorded to validate",
        ));
    }
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "{checked} messages validated against the {} schema",
            ctx.revision()
        )));
    }
    let total = problems.len();
    problems.truncate(SHOWN);
    Ok(Verdict::violation(format!(
        "{total} of {checked} messages do not match the {} schema",
        ctx.revision()
    ))
    .expected("messages valid against schema.json")
    .actual(problems.join("\n")))
}
