//! Pure validators for the JSON-RPC envelope of messages a server sends.
//!
//! Each rule has a stable name (used in fuzz finding signatures) and checks one
//! property that holds for every MCP message whatever the method: the `jsonrpc`
//! member, result xor error, the shape of an error, and that results and params are
//! objects. They look at one message and never at the conversation, so the fuzzer,
//! cases and tests can all call them.

use crate::traffic::Inbound;
use serde_json::Value;

/// One broken rule in one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable kebab-case rule name.
    pub rule: &'static str,
    /// What was wrong, with the offending value.
    pub detail: String,
}

impl Problem {
    fn new(rule: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            rule,
            detail: detail.into(),
        }
    }
}

/// Every rule name, for documentation and tests.
pub const RULES: &[&str] = &[
    "not-an-object",
    "jsonrpc-version",
    "id-type",
    "result-xor-error",
    "result-object",
    "error-object",
    "error-code-integer",
    "error-message-string",
    "params-object",
];

fn short(value: &Value) -> String {
    crate::util::clip(&value.to_string(), 120)
}

fn check_jsonrpc(message: &serde_json::Map<String, Value>, out: &mut Vec<Problem>) {
    match message.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        Some(other) => out.push(Problem::new(
            "jsonrpc-version",
            format!("jsonrpc is {} instead of \"2.0\"", short(other)),
        )),
        None => out.push(Problem::new(
            "jsonrpc-version",
            "the jsonrpc member is missing",
        )),
    }
}

fn is_integer(value: &Value) -> bool {
    value.as_i64().is_some() || value.as_u64().is_some()
}

/// A response (result or error) as the server sent it.
pub fn validate_response(value: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(message) = value.as_object() else {
        out.push(Problem::new(
            "not-an-object",
            format!("a response must be a JSON object, got {}", short(value)),
        ));
        return out;
    };
    check_jsonrpc(message, &mut out);
    let result = message.get("result");
    let error = message.get("error");
    match message.get("id") {
        Some(Value::String(_)) => {}
        Some(id) if is_integer(id) => {}
        // Null is reserved for errors about requests whose id could not be read.
        Some(Value::Null) if error.is_some() && result.is_none() => {}
        Some(Value::Null) => out.push(Problem::new(
            "id-type",
            "id is null on a response that is not an error",
        )),
        Some(other) => out.push(Problem::new(
            "id-type",
            format!("id must be a string or an integer, got {}", short(other)),
        )),
        None => out.push(Problem::new("id-type", "the id member is missing")),
    }
    match (result, error) {
        (Some(_), Some(_)) => out.push(Problem::new(
            "result-xor-error",
            "the response has both result and error",
        )),
        (None, None) => out.push(Problem::new(
            "result-xor-error",
            "the response has neither result nor error",
        )),
        _ => {}
    }
    if let Some(result) = result {
        if !result.is_object() {
            out.push(Problem::new(
                "result-object",
                format!("result must be an object, got {}", short(result)),
            ));
        }
    }
    if let Some(error) = error {
        match error.as_object() {
            None => out.push(Problem::new(
                "error-object",
                format!("error must be an object, got {}", short(error)),
            )),
            Some(body) => {
                match body.get("code") {
                    Some(code) if is_integer(code) => {}
                    Some(code) => out.push(Problem::new(
                        "error-code-integer",
                        format!("error.code must be an integer, got {}", short(code)),
                    )),
                    None => out.push(Problem::new("error-code-integer", "error.code is missing")),
                }
                match body.get("message") {
                    Some(Value::String(_)) => {}
                    Some(other) => out.push(Problem::new(
                        "error-message-string",
                        format!("error.message must be a string, got {}", short(other)),
                    )),
                    None => out.push(Problem::new(
                        "error-message-string",
                        "error.message is missing",
                    )),
                }
            }
        }
    }
    out
}

/// A notification or request the server sent (a message with a `method`).
pub fn validate_outgoing_call(value: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(message) = value.as_object() else {
        out.push(Problem::new(
            "not-an-object",
            format!("a message must be a JSON object, got {}", short(value)),
        ));
        return out;
    };
    check_jsonrpc(message, &mut out);
    if let Some(id) = message.get("id") {
        if !(id.is_string() || is_integer(id)) {
            out.push(Problem::new(
                "id-type",
                format!(
                    "a request id must be a string or an integer, got {}",
                    short(id)
                ),
            ));
        }
    }
    if let Some(params) = message.get("params") {
        if !params.is_object() {
            out.push(Problem::new(
                "params-object",
                format!("params must be an object, got {}", short(params)),
            ));
        }
    }
    out
}

/// Validate one classified unit of server output. Lines that are not JSON-RPC
/// messages at all (invalid frames, unclassifiable values) are the framing and
/// pollution oracles' business and give no problem here.
pub fn validate_inbound(inbound: &Inbound) -> Vec<Problem> {
    match inbound {
        Inbound::Response(v) => validate_response(v),
        Inbound::Notification(v) | Inbound::Request(v) => validate_outgoing_call(v),
        Inbound::Unclassifiable(_) | Inbound::Invalid { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(problems: Vec<Problem>) -> Vec<&'static str> {
        problems.into_iter().map(|p| p.rule).collect()
    }

    #[test]
    fn good_responses_pass() {
        for good in [
            json!({"jsonrpc":"2.0","id":1,"result":{}}),
            json!({"jsonrpc":"2.0","id":"a","result":{"x":[1]}}),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}),
            json!({"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"bad","data":{}}}),
        ] {
            assert_eq!(validate_response(&good), vec![], "{good}");
        }
    }

    #[test]
    fn each_rule_fires_on_its_defect() {
        let cases = [
            (json!([1]), "not-an-object"),
            (json!({"id":1,"result":{}}), "jsonrpc-version"),
            (
                json!({"jsonrpc":"1.0","id":1,"result":{}}),
                "jsonrpc-version",
            ),
            (json!({"jsonrpc":2.0,"id":1,"result":{}}), "jsonrpc-version"),
            (json!({"jsonrpc":"2.0","id":1.5,"result":{}}), "id-type"),
            (json!({"jsonrpc":"2.0","id":null,"result":{}}), "id-type"),
            (json!({"jsonrpc":"2.0","result":{}}), "id-type"),
            (
                json!({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}),
                "result-xor-error",
            ),
            (json!({"jsonrpc":"2.0","id":1}), "result-xor-error"),
            (
                json!({"jsonrpc":"2.0","id":1,"result":null}),
                "result-object",
            ),
            (json!({"jsonrpc":"2.0","id":1,"result":[]}), "result-object"),
            (
                json!({"jsonrpc":"2.0","id":1,"error":"boom"}),
                "error-object",
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"error":{"code":"-32601","message":"m"}}),
                "error-code-integer",
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601.5,"message":"m"}}),
                "error-code-integer",
            ),
            (
                json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601}}),
                "error-message-string",
            ),
        ];
        for (message, rule) in cases {
            let got = rules(validate_response(&message));
            assert!(got.contains(&rule), "{message}: wanted {rule}, got {got:?}");
            assert!(RULES.contains(&rule));
        }
    }

    #[test]
    fn server_notifications_and_requests() {
        assert_eq!(
            validate_outgoing_call(&json!({"jsonrpc":"2.0","method":"notifications/x"})),
            vec![]
        );
        assert_eq!(
            rules(validate_outgoing_call(
                &json!({"jsonrpc":"2.0","method":"x","params":[1]})
            )),
            vec!["params-object"]
        );
        assert_eq!(
            rules(validate_outgoing_call(
                &json!({"jsonrpc":"2.0","id":{},"method":"roots/list"})
            )),
            vec!["id-type"]
        );
        assert_eq!(
            rules(validate_inbound(&Inbound::Notification(
                json!({"method":"x"})
            ))),
            vec!["jsonrpc-version"]
        );
        assert!(validate_inbound(&Inbound::Unclassifiable(json!(3))).is_empty());
    }
}
