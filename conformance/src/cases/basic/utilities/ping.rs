//! Spec page `basic/utilities/ping`. Catalogue area PING.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support;
use crate::session::{request_message, Response};
use crate::spec::{Level, Revisions, ANY_TRANSPORT};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case {
        id: "basic/utilities/ping/empty-result",
        title: "A ping is answered promptly with an empty result, at any point of a session",
        requirements: &["PING-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(empty_result(ctx)),
    },
    Case {
        id: "basic/utilities/ping/with-params",
        title: "A ping with an empty params object or with _meta is answered like a bare ping",
        requirements: &["PING-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(with_params(ctx)),
    },
    Case {
        id: "basic/utilities/ping/not-blocked",
        title: "A ping sent while a slow tool call runs is answered before that call",
        requirements: &["PING-003"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(not_blocked(ctx)),
    },
];

/// Slower than this is not prompt (the catalogue's WARN threshold).
const PROMPT: Duration = Duration::from_secs(1);

/// How long the slow tool is asked to run, and how long after starting it the ping goes.
const SLOW_MS: u64 = 3000;
const PING_AFTER: Duration = Duration::from_millis(100);

/// Why a ping answer is not an empty result, if it is not. The result must be `{}`;
/// `_meta` alone is tolerated because every revision's schema lets any result carry it.
fn not_empty_result(response: &Response) -> Option<String> {
    if response.error().is_some() {
        return Some(format!("refused: {}", response.summary()));
    }
    match response.result() {
        Some(Value::Object(fields)) => {
            let extra: Vec<&String> = fields.keys().filter(|k| *k != "_meta").collect();
            (!extra.is_empty()).then(|| format!("result has extra members {extra:?}"))
        }
        Some(other) => Some(format!("result is {other}, not an object")),
        None => Some(format!("no result: {}", response.summary())),
    }
}

async fn empty_result(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let mut problems = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut pings = 0;
    let mut ping = |when: &'static str, response: Response, took: Duration| {
        pings += 1;
        slowest = slowest.max(took);
        if let Some(problem) = not_empty_result(&response) {
            problems.push(format!("ping {when}: {problem}"));
        }
    };

    // Right after initialization.
    let t0 = Instant::now();
    let r = session.request_timeout("ping", None, ctx.timeout()).await?;
    ping("right after initialize", r, t0.elapsed());

    // Between other calls: after a successful one (when a list method is declared)...
    let list = [
        (Capability::Tools, "tools/list"),
        (Capability::Resources, "resources/list"),
        (Capability::Prompts, "prompts/list"),
    ]
    .into_iter()
    .find(|(cap, _)| ctx.profile().declares(*cap));
    if let Some((_, method)) = list {
        session.request_timeout(method, None, ctx.timeout()).await?;
        let t0 = Instant::now();
        let r = session.request_timeout("ping", None, ctx.timeout()).await?;
        ping("after a list call", r, t0.elapsed());
    }
    // ...and after errors.
    session
        .request_timeout("mcpspec/unknown-method", None, ctx.timeout())
        .await?;
    let t0 = Instant::now();
    let r = session.request_timeout("ping", None, ctx.timeout()).await?;
    ping("after an unknown-method error", r, t0.elapsed());

    if !problems.is_empty() {
        return Ok(
            Verdict::violation("a ping was not answered with an empty result")
                .expected("result {}")
                .actual(problems.join("\n")),
        );
    }
    if slowest > PROMPT {
        return Ok(
            Verdict::violation(format!("a ping took {slowest:?} to be answered"))
                .at_level(Level::Should)
                .expected(format!("an answer within {PROMPT:?}"))
                .actual(format!("slowest of {pings} pings: {slowest:?}")),
        );
    }
    Ok(Verdict::pass(format!(
        "{pings} pings were answered with {{}} within {PROMPT:?}"
    )))
}

async fn with_params(ctx: &mut Ctx) -> CaseResult {
    let variants = [
        json!({}),
        json!({ "_meta": {} }),
        json!({ "_meta": { "progressToken": "mcpspec-ping-progress" } }),
        json!({ "_meta": { "io.github.mcpspec/probe": true } }),
    ];
    let mut problems = Vec::new();
    for params in &variants {
        let r = ctx
            .session()
            .request_timeout("ping", Some(params.clone()), ctx.timeout())
            .await?;
        if let Some(problem) = not_empty_result(&r) {
            problems.push(format!("params {params}: {problem}"));
        }
    }
    if problems.is_empty() {
        return Ok(Verdict::pass(format!(
            "{} pings with params were answered with {{}}",
            variants.len()
        )));
    }
    Ok(
        Verdict::violation("a ping with params was not answered like a bare ping")
            .expected("result {}")
            .actual(problems.join("\n")),
    )
}

async fn not_blocked(ctx: &mut Ctx) -> CaseResult {
    let slow = support::slow_tool(
        ctx,
        "PING-003 needs a request that runs for seconds while the ping is sent",
    )
    .await?;
    let arguments = slow.arguments(SLOW_MS);

    let session = ctx.session();
    let start = session.mark();
    let slow_id = session.next_id();
    let slow_pending = session.expect(&slow_id, "tools/call");
    session
        .send(&request_message(
            &slow_id,
            "tools/call",
            Some(json!({ "name": slow.name, "arguments": arguments })),
        ))
        .await?;
    // The delay is the stimulus: the ping must arrive while the call is running.
    tokio::time::sleep(PING_AFTER).await;
    if let Some(done) = session
        .events_since(start)
        .into_iter()
        .find(|e| e.is_response_to(&slow_id))
    {
        return Ok(Verdict::untestable(format!(
            "the `{}` call asked to run {SLOW_MS} ms finished within {PING_AFTER:?}, so it \
             was not in flight: {}",
            slow.name,
            done.describe()
        )));
    }
    let ping_id = session.next_id();
    let sent = Instant::now();
    let ping = session
        .request_with_id(ping_id.clone(), "ping", None, ctx.timeout())
        .await;
    let took = sent.elapsed();
    let events = session.events_since(start);
    let position = |id: &Value| events.iter().position(|e| e.is_response_to(id));
    let slow_at = position(&slow_id);
    let ping_at = position(&ping_id);
    drop(slow_pending);
    match ping {
        Err(e) => Ok(Verdict::violation(
            "a ping sent while a slow tool call was running got no answer",
        )
        .expected("an answer to the ping before the tool call's")
        .actual(e.to_string())),
        Ok(_) if slow_at.is_some() && slow_at < ping_at => Ok(Verdict::violation(
            "the ping was answered only after the slow tool call finished",
        )
        .expected("the ping's answer before the tool call's")
        .actual(format!(
            "the tool call's answer came first; the ping took {took:?}"
        ))),
        Ok(r) => match not_empty_result(&r) {
            Some(problem) => Ok(Verdict::violation(format!(
                "a ping during a slow call was not answered with an empty result: {problem}"
            ))
            .expected("result {}")
            .actual(r.summary())),
            None => Ok(Verdict::pass(format!(
                "a ping sent during a {SLOW_MS} ms tool call was answered before it"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_result_rules() {
        let r = |v: Value| Response { raw: v };
        assert_eq!(
            not_empty_result(&r(json!({"jsonrpc":"2.0","id":1,"result":{}}))),
            None
        );
        assert_eq!(
            not_empty_result(&r(json!({"jsonrpc":"2.0","id":1,"result":{"_meta":{}}}))),
            None
        );
        assert!(
            not_empty_result(&r(json!({"jsonrpc":"2.0","id":1,"result":{"ok":true}}))).is_some()
        );
        assert!(not_empty_result(&r(json!({"jsonrpc":"2.0","id":1,"result":null}))).is_some());
        assert!(not_empty_result(&r(
            json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}})
        ))
        .is_some());
    }
}
