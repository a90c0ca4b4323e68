//! Spec page `basic/index` (base protocol: JSON-RPC messages, ids, errors).
//! Catalogue area JSONRPC.

use crate::case::{Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::{code, expect_error_code, still_serving};
use crate::spec::{Level, Revisions, ANY_TRANSPORT};
use crate::traffic::Inbound;
use serde_json::{json, Value};

pub const CASES: &[Case] = &[
    Case {
        id: "basic/unknown-method",
        title: "Unknown and wrongly-cased methods are answered with -32601",
        requirements: &["JSONRPC-011"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(unknown_method(ctx)),
    },
    Case {
        id: "basic/id-echo",
        title: "Responses echo integer and string ids with the same type and value",
        requirements: &["JSONRPC-002"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(id_echo(ctx)),
    },
    Case {
        id: "basic/notifications-unanswered",
        title: "Notifications, known or not, get no response",
        requirements: &["JSONRPC-006"],
        level: Level::MustNot,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(notifications_unanswered(ctx)),
    },
    Case {
        id: "basic/parse-error",
        title: "Lines that are not JSON get a -32700 error and the server keeps going",
        requirements: &["JSONRPC-007"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(parse_error(ctx)),
    },
    Case {
        id: "basic/jsonrpc-version",
        title: "Every server message carries \"jsonrpc\": \"2.0\"",
        requirements: &["JSONRPC-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Passive,
        run: |ctx| Box::pin(jsonrpc_version(ctx)),
    },
];

async fn unknown_method(ctx: &mut Ctx) -> CaseResult {
    // Method names are case-sensitive and exact: near-misses of real methods must not
    // be served.
    for method in [
        "mcpspec/unknown-method",
        "tools/List",
        "TOOLS/LIST",
        "tools/list ",
    ] {
        let response = ctx.session().request(method, None).await?;
        expect_error_code(
            &response,
            &[code::METHOD_NOT_FOUND],
            &format!("request for method {method:?}"),
        )?;
    }
    Ok(Verdict::pass(
        "each unknown method was answered with -32601",
    ))
}

async fn id_echo(ctx: &mut Ctx) -> CaseResult {
    let ids = [
        json!(0),
        json!(-1),
        json!(9007199254740991_i64),
        json!("0"),
        json!("1"),
        json!(""),
        json!("🦀 ü"),
        json!("x".repeat(1024)),
    ];
    let session = ctx.session();
    for (i, id) in ids.iter().enumerate() {
        // A distinct suffix keeps string ids unique within the shared session.
        let id = match id {
            Value::String(s) => json!(format!("{s}#echo{i}")),
            other => other.clone(),
        };
        for method in ["ping", "mcpspec/unknown-method"] {
            let mark = session.mark();
            match session
                .request_with_id(id.clone(), method, None, ctx.timeout())
                .await
            {
                Ok(r) if r.id() == Some(&id) => {}
                Ok(r) => {
                    return Ok(Verdict::violation(format!(
                        "the id of a {method} request was altered"
                    ))
                    .expected(id.to_string())
                    .actual(r.raw.to_string()))
                }
                Err(e) => {
                    // The answer may have come back under a changed id: show it.
                    let stray = session
                        .events_since(mark)
                        .into_iter()
                        .find(|e| matches!(e, Inbound::Response(_)));
                    let actual = stray.map(|s| s.describe()).unwrap_or_else(|| e.to_string());
                    return Ok(Verdict::violation(format!(
                        "no response carried the id of a {method} request"
                    ))
                    .expected(format!("a response with id {id}"))
                    .actual(actual));
                }
            }
        }
    }
    Ok(Verdict::pass("every id came back with its type and value"))
}

async fn notifications_unanswered(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    let mark = session.mark();
    session
        .notify("notifications/mcpspec-probe", Some(json!({})))
        .await?;
    session
        .notify(
            "notifications/cancelled",
            Some(json!({ "requestId": "mcpspec-never-sent", "reason": "probe" })),
        )
        .await?;
    session.notify("notifications/initialized", None).await?;
    // A request after the notifications: once its answer is in, anything the server
    // meant to say about the notifications has been said (messages are processed in
    // order on one connection).
    let id = session.next_id();
    session
        .request_with_id(id.clone(), "ping", None, ctx.timeout())
        .await?;
    let answers: Vec<String> = session
        .events_since(mark)
        .into_iter()
        .filter(|e| matches!(e, Inbound::Response(_)) && !e.is_response_to(&id))
        .map(|e| e.describe())
        .collect();
    if answers.is_empty() {
        Ok(Verdict::pass("no notification was answered"))
    } else {
        Ok(Verdict::violation("the server answered a notification")
            .expected("no response to notifications")
            .actual(answers.join("\n")))
    }
}

async fn parse_error(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session();
    for line in [
        &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"\n"[..],
        b"not json\n",
        b"{\"a\":}\n",
        b"[\n",
    ] {
        let mark = session.mark();
        session.send_raw(line).await?;
        let answer = session
            .wait_for(mark, ctx.timeout(), |e| matches!(e, Inbound::Response(_)))
            .await;
        let shown = String::from_utf8_lossy(line).trim_end().to_string();
        match answer {
            Some(Inbound::Response(v))
                if v.pointer("/error/code").and_then(Value::as_i64) == Some(code::PARSE_ERROR) => {}
            Some(other) => {
                return Ok(Verdict::violation(format!(
                    "unparseable input {shown:?} got the wrong answer"
                ))
                .expected("error -32700")
                .actual(other.describe()))
            }
            None => {
                return Ok(
                    Verdict::violation(format!("unparseable input {shown:?} got no answer"))
                        .expected("error -32700")
                        .actual(format!("nothing within {:?}", ctx.timeout())),
                )
            }
        }
    }
    still_serving(session, ctx.timeout(), "unparseable input").await?;
    Ok(Verdict::pass("each unparseable line got -32700"))
}

async fn jsonrpc_version(ctx: &mut Ctx) -> CaseResult {
    let offenders: Vec<String> = ctx
        .traffic()
        .records()
        .into_iter()
        .filter_map(|r| r.inbound.value().cloned())
        .filter(|v| v.is_object() && v.get("jsonrpc") != Some(&json!("2.0")))
        .take(3)
        .map(|v| crate::util::clip(&v.to_string(), 300))
        .collect();
    if offenders.is_empty() {
        Ok(Verdict::pass("every message had jsonrpc \"2.0\""))
    } else {
        Ok(Verdict::violation("messages without \"jsonrpc\": \"2.0\"")
            .expected("\"jsonrpc\": \"2.0\" on every message")
            .actual(offenders.join("\n")))
    }
}
