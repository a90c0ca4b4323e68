//! Spec page `basic/security_best_practices` and the security notes of other pages that
//! a client can probe without special fixtures. Catalogue area SEC (the transport rules,
//! SEC-001..005, SEC-008 and SEC-009, are in `transports/streamable_http`).
//! Both cases run over every transport; over HTTP the error scan adds refusals of a
//! body that is not JSON and of an unknown session.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::session::request_message;
use crate::spec::{Level, Revision, Revisions, ANY_TRANSPORT};
use crate::util::clip;
use serde_json::{json, Value};
use std::time::Instant;

pub const CASES: &[Case] = &[
    Case {
        id: "basic/security-best-practices/errors-hide-internals",
        title: "Error answers carry no stack traces, file paths or other internals",
        requirements: &["SEC-007"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Fresh,
        run: |ctx| Box::pin(errors_hide_internals(ctx)),
    },
    Case {
        id: "basic/security-best-practices/icons-safe",
        title: "Icons use https: or data: image URIs",
        requirements: &["SEC-006"],
        level: Level::Should,
        revisions: Revisions::since(Revision::V2025_11_25),
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(icons_safe(ctx)),
    },
];

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

/// What is wrong with one icon object, if anything (`None`: a safe image URI).
pub fn icon_problem(icon: &Value) -> Option<String> {
    use base64::Engine as _;
    let Some(src) = icon.get("src").and_then(Value::as_str) else {
        return Some("no string src".into());
    };
    let declared = icon.get("mimeType").and_then(Value::as_str);
    if let Some(m) = declared.filter(|m| !m.to_ascii_lowercase().starts_with("image/")) {
        return Some(format!("mimeType {m:?} is not an image type"));
    }
    let scheme = src
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "https" => None,
        "data" => {
            let rest = &src["data:".len()..];
            let Some((meta, payload)) = rest.split_once(',') else {
                return Some(format!("{}: a data: URI without a comma", clip(src, 80)));
            };
            let mime = meta.split(';').next().unwrap_or("").to_ascii_lowercase();
            if !mime.starts_with("image/") {
                return Some(format!(
                    "{}: data of type {mime:?}, not an image",
                    clip(src, 80)
                ));
            }
            if meta.to_ascii_lowercase().ends_with(";base64")
                && base64::engine::general_purpose::STANDARD
                    .decode(payload.trim())
                    .is_err()
            {
                return Some(format!(
                    "{}: the base64 payload does not decode",
                    clip(src, 80)
                ));
            }
            None
        }
        _ => Some(format!(
            "{}: scheme {scheme:?} (clients accept https: and data: only)",
            clip(src, 80)
        )),
    }
}

/// SEC-006: every icon of the implementation, tools, prompts, resources and templates
/// is an https: or data: image.
async fn icons_safe(ctx: &mut Ctx) -> CaseResult {
    let mut owners: Vec<(String, Value)> = Vec::new();
    if let Some(info) = ctx
        .profile()
        .handshake
        .result()
        .and_then(|r| r.get("serverInfo"))
    {
        owners.push(("serverInfo".into(), info.clone()));
    }
    for (capability, method, field) in [
        (Capability::Tools, "tools/list", "tools"),
        (Capability::Prompts, "prompts/list", "prompts"),
        (Capability::Resources, "resources/list", "resources"),
        (
            Capability::Resources,
            "resources/templates/list",
            "resourceTemplates",
        ),
    ] {
        if !ctx.profile().declares(capability) {
            continue;
        }
        let items =
            crate::cases::support::list_all(ctx.session(), method, field, ctx.timeout()).await?;
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            owners.push((format!("{field} {name:?}"), item));
        }
    }
    let mut icons = 0;
    let mut problems = Vec::new();
    for (owner, item) in &owners {
        let Some(list) = item.get("icons") else {
            continue;
        };
        let Some(list) = list.as_array() else {
            problems.push(format!("{owner}: icons is not an array"));
            continue;
        };
        for icon in list {
            icons += 1;
            if let Some(p) = icon_problem(icon) {
                problems.push(format!("{owner}: {p}"));
            }
        }
    }
    if icons == 0 && problems.is_empty() {
        return Ok(Verdict::not_applicable("the server declares no icons"));
    }
    if problems.is_empty() {
        return Ok(Verdict::pass("every icon is an https: or data: image"));
    }
    Ok(
        Verdict::violation("icons use unsafe URIs or non-image types")
            .expected("icon src https: or data:image/…, mimeType image/…")
            .actual(problems.join("\n")),
    )
}

#[cfg(test)]
mod tests {
    use super::{icon_problem, leak_in};
    use serde_json::json;

    #[test]
    fn icon_uris_are_judged() {
        for ok in [
            json!({"src": "https://example.com/i.png", "mimeType": "image/png"}),
            json!({"src": "data:image/png;base64,iVBORw0KGgo="}),
            json!({"src": "DATA:image/svg+xml,<svg/>"}),
        ] {
            assert_eq!(icon_problem(&ok), None, "{ok}");
        }
        for bad in [
            json!({"src": "javascript:alert(1)"}),
            json!({"src": "file:///etc/passwd"}),
            json!({"src": "http://example.com/i.png"}),
            json!({"src": "data:text/html;base64,PGI+"}),
            json!({"src": "data:image/png;base64,@@@"}),
            json!({"src": "https://example.com/i", "mimeType": "text/html"}),
            json!({"mimeType": "image/png"}),
        ] {
            assert!(icon_problem(&bad).is_some(), "{bad}");
        }
    }

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
