//! Spec page `basic/security_best_practices` and the security notes of other pages that
//! a client can probe without special fixtures. Catalogue area SEC (the transport rules,
//! SEC-001..005, SEC-008 and SEC-009, are in `transports/streamable_http`).
//!
//! Runs over Streamable HTTP for now: the checks themselves are transport-neutral, but
//! enabling stdio changes the verdict snapshots of the real test-bed servers.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::session::request_message;
use crate::spec::{Level, Revision, Revisions, Transport};
use crate::util::clip;
use serde_json::{json, Value};
use std::time::Instant;

pub const CASES: &[Case] = &[Case {
    id: "basic/security-best-practices/errors-hide-internals",
    title: "Error answers carry no stack traces, file paths or other internals",
    requirements: &["SEC-007"],
    level: Level::Should,
    revisions: Revisions::since(Revision::V2025_03_26),
    transports: &[Transport::StreamableHttp],
    needs: &[],
    isolation: Isolation::Fresh,
    run: |ctx| Box::pin(errors_hide_internals(ctx)),
}];

/// Text that gives away how the server is built, and what it reveals.
const MARKERS: &[(&str, &str)] = &[
    ("Traceback (most recent call last)", "a Python traceback"),
    ("Exception in thread", "a Java stack trace"),
    ("panicked at", "a Rust panic message"),
    ("/home/", "an absolute home-directory path"),
    ("/Users/", "an absolute home-directory path"),
    ("C:\\Users\\", "an absolute home-directory path"),
    ("node_modules/", "a path into node_modules"),
    ("site-packages/", "a path into a Python installation"),
];

/// What `text` leaks, if anything: a known marker, or a stack frame such as
/// `(/srv/app/server.js:12:7)` or `(src/main.rs:10)`.
pub fn leak_in(text: &str) -> Option<&'static str> {
    if let Some((_, what)) = MARKERS.iter().find(|(m, _)| text.contains(m)) {
        return Some(what);
    }
    let frame = text.split('(').skip(1).any(|rest| {
        let Some(inner) = rest.split(')').next() else {
            return false;
        };
        let parts: Vec<&str> = inner.rsplitn(3, ':').collect();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let file = match parts.as_slice() {
            [col, line, file] if numeric(col) && numeric(line) => *file,
            [line, file, ..] if numeric(line) => *file,
            _ => return false,
        };
        file.contains('/') || file.contains('\\') || file.contains('.')
    });
    frame.then_some("a stack frame (file:line)")
}

/// SEC-007: provoke ordinary errors (unknown method, unknown tool, resource and
/// prompt; over HTTP also a body that is not JSON and an unknown session) and scan
/// every error message, `error.data` and refusal body for internals.
async fn errors_hide_internals(ctx: &mut Ctx) -> CaseResult {
    let session = ctx.session().clone();
    let mut probes: Vec<(&str, Option<Value>)> = vec![("mcpspec/no-such-method", None)];
    if ctx.profile().declares(Capability::Tools) {
        probes.push((
            "tools/call",
            Some(json!({ "name": "mcpspec-no-such-tool", "arguments": {} })),
        ));
        probes.push(("tools/call", Some(json!({ "arguments": "not an object" }))));
    }
    if ctx.profile().declares(Capability::Resources) {
        probes.push((
            "resources/read",
            Some(json!({ "uri": "mcpspec://no-such-resource" })),
        ));
    }
    if ctx.profile().declares(Capability::Prompts) {
        probes.push((
            "prompts/get",
            Some(json!({ "name": "mcpspec-no-such-prompt" })),
        ));
    }
    let mut texts: Vec<(String, String)> = Vec::new();
    for (method, params) in probes {
        if let Ok(r) = session
            .request_timeout(method, params.clone(), ctx.timeout())
            .await
        {
            if let Some(e) = r.error() {
                texts.push((format!("the error answering {method}"), e.to_string()));
            } else if r.result().and_then(|x| x.get("isError")) == Some(&Value::Bool(true)) {
                texts.push((
                    format!("the error result of {method}"),
                    r.result().map(Value::to_string).unwrap_or_default(),
                ));
            }
        }
    }
    if let Some(info) = session.http() {
        let id = session.next_id();
        let ping = serde_json::to_vec(&request_message(&id, "ping", None)).unwrap_or_default();
        let mut unknown_session = info.post(ping);
        unknown_session
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("Mcp-Session-Id"));
        let refusals = [
            (
                "a POST body that is not JSON",
                info.post(b"{not json".to_vec()),
            ),
            (
                "a ping with a never-issued session id",
                unknown_session.header("Mcp-Session-Id", "mcpspec-never-issued-0000000000000000"),
            ),
        ];
        for (what, request) in refusals {
            let deadline = Instant::now() + ctx.timeout();
            if let Ok(response) = info.client.send_until(request, deadline).await {
                let status = response.status;
                if let Ok(body) = response.read_body(deadline).await {
                    texts.push((
                        format!("the HTTP {status} answer to {what}"),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                }
            }
        }
    }
    if texts.is_empty() {
        return Ok(Verdict::untestable(
            "no error answer was provoked, so there was nothing to scan",
        ));
    }
    let leaks: Vec<String> = texts
        .iter()
        .filter_map(|(where_, text)| {
            leak_in(text).map(|what| format!("{what} in {where_}: {}", clip(text, 300)))
        })
        .collect();
    if leaks.is_empty() {
        return Ok(Verdict::pass(format!(
            "{} error answers scanned: no stack traces, file paths or panics",
            texts.len()
        )));
    }
    Ok(
        Verdict::violation("error answers reveal the server's internals")
            .expected("error messages without stack traces, absolute paths or panic text")
            .actual(leaks.join("\n")),
    )
}

#[cfg(test)]
mod tests {
    use super::leak_in;

    #[test]
    fn internals_are_recognised() {
        for leaky in [
            "Traceback (most recent call last):\n  File \"x.py\"",
            "TypeError: x\n    at handle (/srv/app/server.js:12:7)",
            "failed (at src/main.rs:10)",
            "open /home/alice/.env: denied",
            "thread 'main' panicked at src/lib.rs:3:5",
        ] {
            assert!(leak_in(leaky).is_some(), "{leaky}");
        }
        for clean in [
            "Method not found",
            "Unknown tool: mcpspec-no-such-tool (see tools/list)",
            "Invalid params: expected object (got string)",
            "Resource mcpspec://no-such-resource not found",
        ] {
            assert_eq!(leak_in(clean), None, "{clean}");
        }
    }
}
