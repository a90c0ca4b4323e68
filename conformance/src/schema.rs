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
            .build(&schema)
            .map_err(|e| vec![format!("the schema for {name} does not compile: {e}")])?;
        let validator = Arc::new(validator);
        cache.insert(name.to_string(), validator.clone());
        Ok(validator)
    }
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
