//! Spec page `server/utilities/logging`. Catalogue area LOG.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::server::resources::{short, unique_suffix};
use crate::cases::support::{code, expect_result, is_safe_tool, list_all, synthesize};
use crate::session::Session;
use crate::spec::{Level, Revisions, ANY_TRANSPORT};
use crate::traffic::Inbound;
use serde_json::{json, Value};

pub const CASES: &[Case] = &[
    Case {
        id: "server/utilities/logging/capability-required",
        title: "A server that does not declare logging sends no log messages",
        requirements: &["LOG-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(capability_required(ctx)),
    },
    Case {
        id: "server/utilities/logging/set-level-all",
        title: "logging/setLevel succeeds with an empty result for each of the eight levels",
        requirements: &["LOG-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Logging],
        // Changes the session's log level.
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(set_level_all(ctx)),
    },
    Case {
        id: "server/utilities/logging/respects-level",
        title: "After logging/setLevel, no log message below that level is sent",
        requirements: &["LOG-003"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Logging, Capability::Tools],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(respects_level(ctx)),
    },
    Case {
        id: "server/utilities/logging/invalid-level",
        title: "logging/setLevel with an unknown level answers -32602",
        requirements: &["LOG-004"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[Capability::Logging],
        // A server that accepts the level changes its state.
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(invalid_level(ctx)),
    },
    Case {
        id: "server/utilities/logging/message-shape",
        title: "Log messages carry a valid level, data, and a string logger if any",
        requirements: &["LOG-005"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(message_shape(ctx)),
    },
];

/// The eight levels, least severe first.
pub(crate) const LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Severity rank of a level name (0 = debug), `None` for anything else.
pub(crate) fn level_rank(level: &Value) -> Option<usize> {
    let name = level.as_str()?;
    LEVELS.iter().position(|l| *l == name)
}

/// Tools called by the LOG-001 stimulus.
const STIMULUS_TOOLS: usize = 5;
/// Problems shown in one verdict.
const SHOWN: usize = 5;

const LOG_METHOD: &str = "notifications/message";

/// Problems with one `notifications/message` (LOG-005).
fn log_message_problems(message: &Value) -> Vec<String> {
    let Some(params) = message.get("params").and_then(Value::as_object) else {
        return vec![format!("no params object: {}", short(message))];
    };
    let mut problems = Vec::new();
    match params.get("level") {
        Some(level) if level_rank(level).is_some() => {}
        Some(level) => problems.push(format!(
            "level {} is not one of the eight levels",
            short(level)
        )),
        None => problems.push("no level".to_string()),
    }
    if !params.contains_key("data") {
        problems.push("no data".to_string());
    }
    if let Some(logger) = params.get("logger").filter(|l| !l.is_string()) {
        problems.push(format!("logger is not a string: {}", short(logger)));
    }
    problems
}

fn log_messages_in_traffic(ctx: &Ctx) -> Vec<Value> {
    ctx.traffic()
        .records()
        .into_iter()
        .filter_map(|r| match r.inbound {
            Inbound::Notification(v) if v.get("method") == Some(&json!(LOG_METHOD)) => Some(v),
            _ => None,
        })
        .collect()
}

// -- cases ---------------------------------------------------------------------------

async fn capability_required(ctx: &mut Ctx) -> CaseResult {
    if ctx.profile().declares(Capability::Logging) {
        let seen = log_messages_in_traffic(ctx).len();
        return Ok(Verdict::pass(format!(
            "logging is declared, which covers the {seen} log message(s) seen in the run"
        )));
    }
    // The run's other cases may not have made the server do much: give it one more
    // chance to log, by calling a few tools it lets us call, in a process of our own.
    let stimulus = stimulate(ctx).await?;
    let messages = log_messages_in_traffic(ctx);
    if !messages.is_empty() {
        return Ok(Verdict::violation(format!(
            "the server sent {} log message(s) without declaring logging",
            messages.len()
        ))
        .expected("no notifications/message without the logging capability")
        .actual(
            messages
                .iter()
                .take(SHOWN)
                .map(short)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    Ok(Verdict::pass(format!(
        "logging is not declared and no log message was sent during the run ({stimulus})"
    )))
}

/// Call up to [`STIMULUS_TOOLS`] safe tools in a fresh process; says what was done.
async fn stimulate(ctx: &mut Ctx) -> Result<String, Verdict> {
    if !ctx.profile().declares(Capability::Tools) {
        return Ok("no tools to call as a stimulus".into());
    }
    let session = ctx.spawn_initialized(json!({})).await?;
    let tools = list_all(&session, "tools/list", "tools", ctx.timeout()).await?;
    let callable: Vec<(String, Value)> = tools
        .iter()
        .filter(|t| is_safe_tool(ctx, t))
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?.to_string();
            Some((name, synthesize(t.get("inputSchema")?, 0)?))
        })
        .take(STIMULUS_TOOLS)
        .collect();
    for (name, arguments) in &callable {
        // The answer does not matter here, only what the server says meanwhile.
        let _ = session
            .request_timeout(
                "tools/call",
                Some(json!({ "name": name, "arguments": arguments })),
                ctx.timeout(),
            )
            .await;
    }
    // Messages on one connection are processed in order: once this answer is in,
    // whatever the calls logged has been sent.
    let _ = session.request_timeout("ping", None, ctx.timeout()).await;
    Ok(format!(
        "{} safe tool(s) called as a stimulus",
        callable.len()
    ))
}

async fn set_level_all(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let mut wrong = Vec::new();
    for level in LEVELS {
        let response = session
            .request_timeout(
                "logging/setLevel",
                Some(json!({ "level": level })),
                ctx.timeout(),
            )
            .await?;
        match response.result() {
            Some(r) if r.is_object() && response.error().is_none() => {}
            _ => wrong.push(format!("{level}: {}", response.summary())),
        }
    }
    if !wrong.is_empty() {
        return Ok(Verdict::violation(format!(
            "logging/setLevel failed for {} of the eight levels",
            wrong.len()
        ))
        .expected("an empty result object for each level")
        .actual(wrong.join("\n")));
    }
    Ok(Verdict::pass(
        "logging/setLevel accepted each of the eight levels",
    ))
}

/// A safe tool named `log` taking `level` and `message`, if the server has one.
async fn find_log_tool(ctx: &Ctx, session: &Session) -> Result<Option<Value>, Verdict> {
    let tools = list_all(session, "tools/list", "tools", ctx.timeout()).await?;
    Ok(tools.into_iter().find(|t| {
        let takes = |arg: &str| {
            t.pointer(&format!("/inputSchema/properties/{arg}"))
                .is_some()
        };
        t.get("name") == Some(&json!("log"))
            && is_safe_tool(ctx, t)
            && takes("level")
            && takes("message")
    }))
}

async fn respects_level(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    if find_log_tool(ctx, &session).await?.is_none() {
        return Ok(Verdict::untestable(
            "no way to make the server log: LOG-003 needs a safe tool named `log` taking \
             {level, message} (annotated readOnlyHint, or allowed with --allow-tool log)",
        ));
    }
    let threshold = 3; // warning
    let response = session
        .request_timeout(
            "logging/setLevel",
            Some(json!({ "level": "warning" })),
            ctx.timeout(),
        )
        .await?;
    expect_result(&response, "logging/setLevel warning")?;
    let marker = format!("mcpspec-{}", unique_suffix());
    let mark = session.mark();
    for level in ["info", "error"] {
        let response = session
            .request_timeout(
                "tools/call",
                Some(json!({
                    "name": "log",
                    "arguments": { "level": level, "message": format!("{marker} {level}") }
                })),
                ctx.timeout(),
            )
            .await?;
        if response.error().is_some() {
            return Ok(Verdict::untestable(format!(
                "the log tool refused level {level}: {}",
                response.summary()
            )));
        }
    }
    // In-order processing: after this answer, the tool calls' messages have been sent.
    session.request_timeout("ping", None, ctx.timeout()).await?;
    let messages: Vec<Value> = session
        .events_since(mark)
        .into_iter()
        .filter_map(|e| match e {
            Inbound::Notification(v) if v.get("method") == Some(&json!(LOG_METHOD)) => Some(v),
            _ => None,
        })
        .collect();
    let below: Vec<String> = messages
        .iter()
        .filter(|m| {
            m.pointer("/params/level")
                .and_then(level_rank)
                .is_some_and(|r| r < threshold)
        })
        .map(short)
        .collect();
    if !below.is_empty() {
        return Ok(Verdict::violation(format!(
            "{} log message(s) below the minimum level warning were sent",
            below.len()
        ))
        .expected("only messages at warning or above after setLevel warning")
        .actual(below.join("\n")));
    }
    // Positive control: without the error message we cannot tell filtering from silence.
    let error_seen = messages.iter().any(|m| {
        m.pointer("/params/level")
            .and_then(level_rank)
            .is_some_and(|r| r >= threshold)
            || m.get("params")
                .is_some_and(|p| p.to_string().contains(&format!("{marker} error")))
    });
    if !error_seen {
        return Ok(Verdict::untestable(
            "the log tool sent no message even at level error, so level filtering cannot be told \
             apart from silence",
        ));
    }
    Ok(Verdict::pass(
        "after setLevel warning, the info message was withheld and the error message sent",
    ))
}

async fn invalid_level(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let mut wrong = Vec::new();
    for level in [json!("verbose"), json!("INFO"), json!(""), json!(5)] {
        let response = session
            .request_timeout(
                "logging/setLevel",
                Some(json!({ "level": level })),
                ctx.timeout(),
            )
            .await?;
        if response.error_code() != Some(code::INVALID_PARAMS) {
            wrong.push(format!("{level}: {}", response.summary()));
        }
    }
    if !wrong.is_empty() {
        return Ok(
            Verdict::violation("invalid log levels were not rejected with -32602")
                .expected("error -32602 for each")
                .actual(wrong.join("\n")),
        );
    }
    Ok(Verdict::pass("each invalid level was rejected with -32602"))
}

async fn message_shape(ctx: &mut Ctx) -> CaseResult {
    let messages = log_messages_in_traffic(ctx);
    if messages.is_empty() {
        return Ok(Verdict::untestable(
            "no log message was seen during the run (the respects-level case makes the server \
             log when it has a safe `log` tool)",
        ));
    }
    let problems: Vec<String> = messages
        .iter()
        .filter_map(|m| {
            let p = log_message_problems(m);
            (!p.is_empty()).then(|| format!("{}: {}", p.join(", "), short(m)))
        })
        .collect();
    if !problems.is_empty() {
        return Ok(Verdict::violation(format!(
            "{} of {} log messages are malformed",
            problems.len(),
            messages.len()
        ))
        .expected("params: {level: one of the eight levels, data: any, logger?: string}")
        .actual(
            problems
                .into_iter()
                .take(SHOWN)
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    Ok(Verdict::pass(format!(
        "all {} log messages are well formed",
        messages.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rank_in_order() {
        assert_eq!(level_rank(&json!("debug")), Some(0));
        assert_eq!(level_rank(&json!("emergency")), Some(7));
        assert_eq!(level_rank(&json!("INFO")), None);
        assert_eq!(level_rank(&json!(3)), None);
    }

    #[test]
    fn log_message_shape() {
        let good = json!({"method":"notifications/message","params":{"level":"info","data":null}});
        assert!(log_message_problems(&good).is_empty());
        let bad = json!({"method":"notifications/message","params":{"level":"verbose","logger":1}});
        assert_eq!(log_message_problems(&bad).len(), 3);
        assert_eq!(
            log_message_problems(&json!({"method":"notifications/message"})).len(),
            1
        );
    }
}
