//! Validation of server messages against a revision's official JSON Schema.
//!
//! The schema files are reference data we do not ship: the user points `--schema-dir`
//! (or `MCPSPEC_SCHEMA_DIR`) at a folder of `<revision>/schema.json` files. Without it
//! the schema case reports untestable.

use crate::spec::Revision;
use jsonschema::{Draft, Validator};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One revision's schema, with validators built lazily per definition.
pub struct SchemaOracle {
    root: Value,
    defs_key: &'static str,
    draft: Draft,
    revision: Revision,
    cache: Mutex<HashMap<String, Arc<Validator>>>,
}

impl std::fmt::Debug for SchemaOracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaOracle")
            .field("revision", &self.revision)
            .finish()
    }
}

impl SchemaOracle {
    pub fn load(dir: &Path, revision: Revision) -> Result<Self, String> {
        let path = dir.join(revision.as_str()).join("schema.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let root: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let (defs_key, draft) = if root.get("$defs").is_some() {
            ("$defs", Draft::Draft202012)
        } else {
            ("definitions", Draft::Draft7)
        };
        Ok(SchemaOracle {
            root,
            defs_key,
            draft,
            revision,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn has_definition(&self, name: &str) -> bool {
        self.root
            .get(self.defs_key)
            .and_then(|d| d.get(name))
            .is_some()
    }

    /// Validate `instance` against definition `name`; `Err` lists up to five problems,
    /// each with the JSON pointer of the offending part.
    pub fn validate(&self, name: &str, instance: &Value) -> Result<(), Vec<String>> {
        let validator = self.validator(name)?;
        let problems: Vec<String> = validator
            .iter_errors(instance)
            .take(5)
            .map(|e| format!("at {:?}: {e}", e.instance_path.to_string()))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn validator(&self, name: &str) -> Result<Arc<Validator>, Vec<String>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(name) {
            return Ok(v.clone());
        }
        if !self.has_definition(name) {
            return Err(vec![format!(
                "the {} schema has no definition {name}",
                self.revision
            )]);
        }
        // A root that refers to the wanted definition, keeping every definition
        // resolvable from the same document.
        let mut schema = json!({ "$ref": format!("#/{}/{name}", self.defs_key) });
        schema[self.defs_key] = self.root[self.defs_key].clone();
        let validator = jsonschema::options()
            .with_draft(self.draft)
            // jsonschema 0.33 checks `uri-template` with a pattern that rejects
            // upper-case variable names (`{resourceId}`), which RFC 6570 allows.
            .with_format("uri-template", is_uri_template)
            .build(&schema)
            .map_err(|e| vec![format!("the schema for {name} does not compile: {e}")])?;
        let validator = Arc::new(validator);
        cache.insert(name.to_string(), validator.clone());
        Ok(validator)
    }
}

/// Whether `text` follows the URI Template syntax of RFC 6570 §2 (levels 1-4):
/// literals, and expressions `{[op]varspec,...}` whose variable names are letters,
/// digits, `_`, percent-escapes and inner dots, each with an optional `:N` or `*`.
pub fn is_uri_template(text: &str) -> bool {
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' => {
                let Some(end) = rest.find('}') else {
                    return false;
                };
                if !is_template_expression(&rest[1..end]) {
                    return false;
                }
                rest = &rest[end + 1..];
            }
            '%' => {
                if !is_pct_encoded(rest) {
                    return false;
                }
                rest = &rest[3..];
            }
            c if c.is_control()
                || matches!(
                    c,
                    ' ' | '"' | '\'' | '<' | '>' | '\\' | '^' | '`' | '|' | '}'
                ) =>
            {
                return false;
            }
            c => rest = &rest[c.len_utf8()..],
        }
    }
    true
}

fn is_pct_encoded(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 3 && b[0] == b'%' && b[1].is_ascii_hexdigit() && b[2].is_ascii_hexdigit()
}

/// The inside of one `{...}` expression.
fn is_template_expression(inner: &str) -> bool {
    let list = inner
        .strip_prefix(['+', '#', '.', '/', ';', '?', '&', '=', ',', '!', '@', '|'])
        .unwrap_or(inner);
    !list.is_empty() && list.split(',').all(is_varspec)
}

fn is_varspec(spec: &str) -> bool {
    let (name, modifier) = match spec.split_once(':') {
        Some((name, length)) => (name, Some(length)),
        None => match spec.strip_suffix('*') {
            Some(name) => (name, None),
            None => (spec, None),
        },
    };
    let length_ok = modifier.is_none_or(|n| {
        (1..=4).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
    });
    length_ok && is_varname(name)
}

fn is_varname(name: &str) -> bool {
    if name.is_empty() || name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return false;
    }
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if c == '%' {
            if !is_pct_encoded(rest) {
                return false;
            }
            rest = &rest[3..];
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            rest = &rest[1..];
        } else {
            return false;
        }
    }
    true
}

/// The result definition of each server method a client calls.
pub fn result_definition(method: &str) -> Option<&'static str> {
    Some(match method {
        "initialize" => "InitializeResult",
        "ping" | "logging/setLevel" | "resources/subscribe" | "resources/unsubscribe" => {
            "EmptyResult"
        }
        "tools/list" => "ListToolsResult",
        "tools/call" => "CallToolResult",
        "resources/list" => "ListResourcesResult",
        "resources/read" => "ReadResourceResult",
        "resources/templates/list" => "ListResourceTemplatesResult",
        "prompts/list" => "ListPromptsResult",
        "prompts/get" => "GetPromptResult",
        "completion/complete" => "CompleteResult",
        _ => return None,
    })
}

/// The definition of a whole error response in this revision.
pub fn error_response_definition(oracle: &SchemaOracle) -> &'static str {
    if oracle.has_definition("JSONRPCErrorResponse") {
        "JSONRPCErrorResponse"
    } else {
        "JSONRPCError"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_templates_follow_rfc_6570() {
        for ok in [
            "demo://resource/dynamic/text/{resourceId}",
            "file:///{path}",
            "http://example.com/{+path}{?query,page:3}{&list*}",
            "testbed://items/{id}",
            "/x/{a.b}/{%41}",
            "plain://no-expressions",
            "caf\u{e9}/{x}",
        ] {
            assert!(is_uri_template(ok), "{ok}");
        }
        for bad in [
            "a/{",
            "a/{}",
            "a/{x",
            "a/}",
            "a b/{x}",
            "a/{x y}",
            "a/{x:0}",
            "a/{x:12345}",
            "a/{x.}",
            "a/{..x}",
            "a/{x..y}",
            "a/%zz",
            "a/{x-y}",
        ] {
            assert!(!is_uri_template(bad), "{bad}");
        }
    }

    /// Uses the real schemas when MCPSPEC_SCHEMA_DIR points at them (CI sets it).
    fn oracle(revision: Revision) -> Option<SchemaOracle> {
        let dir = std::env::var_os("MCPSPEC_SCHEMA_DIR")?;
        Some(SchemaOracle::load(Path::new(&dir), revision).expect("schema loads"))
    }

    #[test]
    fn validates_results_of_every_session_revision() {
        for revision in Revision::SESSION_ERA {
            let Some(oracle) = oracle(revision) else {
                eprintln!("MCPSPEC_SCHEMA_DIR not set: schema oracle test skipped");
                return;
            };
            let good = json!({
                "protocolVersion": revision.as_str(),
                "capabilities": {},
                "serverInfo": {"name": "x", "version": "1"}
            });
            assert_eq!(oracle.validate("InitializeResult", &good), Ok(()));
            let bad = json!({"protocolVersion": 5, "capabilities": {}});
            let problems = oracle.validate("InitializeResult", &bad).unwrap_err();
            assert!(!problems.is_empty());
            assert!(oracle.validate("EmptyResult", &json!({})).is_ok());
        }
    }
}
