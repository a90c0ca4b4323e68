//! What the server offers, learnt once per run through a normal handshake and the
//! list calls, so generated messages name real tools, resources, prompts and cursors.

use crate::session::Session;
use serde_json::{json, Value};
use std::time::Duration;

/// Pages read per list method (bounds a server whose cursors never end).
const MAX_PAGES: usize = 10;
/// Items kept per kind.
const MAX_ITEMS: usize = 64;

#[derive(Debug, Clone)]
pub struct ToolInfo {
    pub name: String,
    pub schema: Value,
    /// Annotated read-only or allowed by the user: the fuzzer may call it.
    pub safe: bool,
}

#[derive(Debug, Clone)]
pub struct PromptInfo {
    pub name: String,
    /// Argument names with whether each is required.
    pub arguments: Vec<(String, bool)>,
}

#[derive(Debug, Clone, Default)]
pub struct Surface {
    pub protocol_version: String,
    pub server_name: Option<String>,
    pub server_version: Option<String>,
    pub capabilities: Value,
    pub tools: Vec<ToolInfo>,
    pub resources: Vec<String>,
    pub templates: Vec<String>,
    pub prompts: Vec<PromptInfo>,
    /// (list method, cursor) pairs the server handed out.
    pub cursors: Vec<(String, Value)>,
    /// Reached over Streamable HTTP: inputs may use the HTTP-only delivery schedules.
    pub http: bool,
}

impl Surface {
    pub fn declares(&self, capability: &str) -> bool {
        self.capabilities
            .get(capability)
            .is_some_and(|v| !v.is_null())
    }

    pub fn safe_tools(&self) -> Vec<&ToolInfo> {
        self.tools.iter().filter(|t| t.safe).collect()
    }

    /// Completion targets: (ref object, argument names).
    pub fn completion_refs(&self) -> Vec<(Value, Vec<String>)> {
        let mut out = Vec::new();
        for p in &self.prompts {
            let names: Vec<String> = p.arguments.iter().map(|(n, _)| n.clone()).collect();
            out.push((json!({"type": "ref/prompt", "name": p.name}), names));
        }
        for t in &self.templates {
            out.push((
                json!({"type": "ref/resource", "uri": t}),
                template_variables(t),
            ));
        }
        out
    }

    /// Learn the surface over an initialized session.
    pub async fn learn(
        session: &Session,
        handshake_result: &Value,
        allow_tools: &[String],
        timeout: Duration,
    ) -> Surface {
        let mut surface = Surface {
            protocol_version: handshake_result
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            server_name: handshake_result
                .pointer("/serverInfo/name")
                .and_then(Value::as_str)
                .map(str::to_string),
            server_version: handshake_result
                .pointer("/serverInfo/version")
                .and_then(Value::as_str)
                .map(str::to_string),
            capabilities: handshake_result
                .get("capabilities")
                .cloned()
                .unwrap_or(json!({})),
            http: session.http().is_some(),
            ..Surface::default()
        };
        if surface.declares("tools") {
            for tool in list_all(
                session,
                "tools/list",
                "tools",
                timeout,
                &mut surface.cursors,
            )
            .await
            {
                let Some(name) = tool.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let safe = tool.pointer("/annotations/readOnlyHint") == Some(&Value::Bool(true))
                    || allow_tools.iter().any(|a| a == name);
                surface.tools.push(ToolInfo {
                    name: name.to_string(),
                    schema: tool.get("inputSchema").cloned().unwrap_or(json!({})),
                    safe,
                });
            }
        }
        if surface.declares("resources") {
            for r in list_all(
                session,
                "resources/list",
                "resources",
                timeout,
                &mut surface.cursors,
            )
            .await
            {
                if let Some(uri) = r.get("uri").and_then(Value::as_str) {
                    surface.resources.push(uri.to_string());
                }
            }
            for t in list_all(
                session,
                "resources/templates/list",
                "resourceTemplates",
                timeout,
                &mut surface.cursors,
            )
            .await
            {
                if let Some(uri) = t.get("uriTemplate").and_then(Value::as_str) {
                    surface.templates.push(uri.to_string());
                }
            }
        }
        if surface.declares("prompts") {
            for p in list_all(
                session,
                "prompts/list",
                "prompts",
                timeout,
                &mut surface.cursors,
            )
            .await
            {
                let Some(name) = p.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let arguments = p
                    .get("arguments")
                    .and_then(Value::as_array)
                    .map(|args| {
                        args.iter()
                            .filter_map(|a| {
                                Some((
                                    a.get("name")?.as_str()?.to_string(),
                                    a.get("required") == Some(&Value::Bool(true)),
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                surface.prompts.push(PromptInfo {
                    name: name.to_string(),
                    arguments,
                });
            }
        }
        surface.tools.truncate(MAX_ITEMS);
        surface.resources.truncate(MAX_ITEMS);
        surface.templates.truncate(MAX_ITEMS);
        surface.prompts.truncate(MAX_ITEMS);
        surface
    }

    /// One line for the start of a run.
    pub fn describe(&self) -> String {
        format!(
            "{} tools ({} safe to call), {} resources, {} templates, {} prompts",
            self.tools.len(),
            self.safe_tools().len(),
            self.resources.len(),
            self.templates.len(),
            self.prompts.len()
        )
    }
}

async fn list_all(
    session: &Session,
    method: &str,
    key: &str,
    timeout: Duration,
    cursors: &mut Vec<(String, Value)>,
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_PAGES {
        let params = cursor.as_ref().map(|c| json!({ "cursor": c }));
        // One retry: a server with framing bugs may lose a request now and then.
        let response = match session
            .request_timeout(method, params.clone(), timeout)
            .await
        {
            Ok(r) => r,
            Err(crate::session::RequestError::Timeout(_)) => {
                match session.request_timeout(method, params, timeout).await {
                    Ok(r) => r,
                    Err(_) => break,
                }
            }
            Err(_) => break,
        };
        let Some(result) = response.result() else {
            break;
        };
        if let Some(page) = result.get(key).and_then(Value::as_array) {
            items.extend(page.iter().cloned());
        }
        match result.get("nextCursor") {
            Some(c) if !c.is_null() => {
                if cursors.len() < MAX_ITEMS {
                    cursors.push((method.to_string(), c.clone()));
                }
                cursor = Some(c.clone());
            }
            _ => break,
        }
        if items.len() >= MAX_ITEMS {
            break;
        }
    }
    items
}

/// Variable names of an RFC 6570 template, e.g. `fixture://items/{id}` → `["id"]`.
pub fn template_variables(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        for name in rest[..close]
            .trim_start_matches(['+', '#', '.', '/', ';', '?', '&'])
            .split(',')
        {
            let name = name.trim_end_matches('*');
            let name = name.split(':').next().unwrap_or_default();
            if !name.is_empty() {
                out.push(name.to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    out
}

/// Fill a template's variables with `value`.
pub fn expand_template(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        out.push_str(value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_and_name_variables() {
        assert_eq!(template_variables("fixture://items/{id}"), vec!["id"]);
        assert_eq!(
            template_variables("x://{a}/{+b}{?c,d*}"),
            vec!["a", "b", "c", "d"]
        );
        assert_eq!(
            expand_template("fixture://items/{id}", "7"),
            "fixture://items/7"
        );
        assert_eq!(expand_template("x://{a}/{b}", "v"), "x://v/v");
        assert_eq!(expand_template("x://{broken", "v"), "x://{broken");
    }
}
