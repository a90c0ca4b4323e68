//! Spec page `server/utilities/pagination`. Catalogue area PAGE.
//!
//! Every case covers the list methods of the capabilities the server declares. All
//! requests are read-only and matched by id, so the shared session serves.

use crate::case::{Capability, Case, CaseResult, Ctx, Isolation, Verdict};
use crate::cases::support::code;
use crate::session::Session;
use crate::spec::{Level, Revisions, ANY_TRANSPORT};
use crate::util::clip;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

pub const CASES: &[Case] = &[
    Case {
        id: "server/utilities/pagination/next-cursor-string",
        title: "nextCursor is a string when present, on every page of every list method",
        requirements: &["PAGE-001"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(next_cursor_string(ctx)),
    },
    Case {
        id: "server/utilities/pagination/walk-terminates",
        title: "Following nextCursor ends without repeating a cursor or an item",
        requirements: &["PAGE-002"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(walk_terminates(ctx)),
    },
    Case {
        id: "server/utilities/pagination/invalid-cursor",
        title: "Cursors the server never issued are answered with -32602",
        requirements: &["PAGE-003"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(invalid_cursor(ctx)),
    },
    Case {
        id: "server/utilities/pagination/params-optional",
        title: "List methods answer the same with params omitted, {} and only _meta",
        requirements: &["PAGE-004"],
        level: Level::Must,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(params_optional(ctx)),
    },
    Case {
        id: "server/utilities/pagination/cursor-reuse",
        title: "Sending the same cursor twice returns the same page",
        requirements: &["PAGE-005"],
        level: Level::Should,
        revisions: Revisions::SESSION_ERA,
        transports: ANY_TRANSPORT,
        needs: &[],
        isolation: Isolation::Shared,
        run: |ctx| Box::pin(cursor_reuse(ctx)),
    },
];

/// A paginated list method and how its items are told apart.
struct ListMethod {
    method: &'static str,
    field: &'static str,
    key: &'static str,
    capability: Capability,
}

const LISTS: [ListMethod; 4] = [
    ListMethod {
        method: "tools/list",
        field: "tools",
        key: "name",
        capability: Capability::Tools,
    },
    ListMethod {
        method: "prompts/list",
        field: "prompts",
        key: "name",
        capability: Capability::Prompts,
    },
    ListMethod {
        method: "resources/list",
        field: "resources",
        key: "uri",
        capability: Capability::Resources,
    },
    ListMethod {
        method: "resources/templates/list",
        field: "resourceTemplates",
        key: "uriTemplate",
        capability: Capability::Resources,
    },
];

/// Pages followed in one walk (the catalogue's bound for PAGE-002).
const WALK_LIMIT: usize = 1000;

/// The list methods of the capabilities the server declares, or not-applicable.
fn declared_lists(ctx: &Ctx) -> Result<Vec<&'static ListMethod>, Verdict> {
    let lists: Vec<&ListMethod> = LISTS
        .iter()
        .filter(|l| ctx.profile().declares(l.capability))
        .collect();
    if lists.is_empty() {
        Err(Verdict::not_applicable(
            "the server declares none of tools, prompts and resources, so it has no list method",
        ))
    } else {
        Ok(lists)
    }
}

/// One page as answered: the items (when the result has the array) and `nextCursor`
/// exactly as sent (`None` when absent).
#[derive(Debug, Clone, PartialEq)]
struct Page {
    items: Vec<Value>,
    next: Option<Value>,
}

impl Page {
    /// The identifying key of each item (the whole item when it lacks the key).
    fn keys(&self, list: &ListMethod) -> Vec<String> {
        self.items.iter().map(|i| item_key(i, list)).collect()
    }
}

fn item_key(item: &Value, list: &ListMethod) -> String {
    match item.get(list.key) {
        Some(Value::String(k)) => k.clone(),
        _ => item.to_string(),
    }
}

/// How a list request was answered.
enum Fetched {
    Page(Page),
    /// An error, or a result without the items array.
    Refused(String),
}

async fn fetch(
    session: &Session,
    list: &ListMethod,
    params: Option<Value>,
    timeout: Duration,
) -> Result<Fetched, Verdict> {
    let response = session
        .request_timeout(list.method, params, timeout)
        .await?;
    let items = response
        .result()
        .filter(|_| response.error().is_none())
        .and_then(|r| r.get(list.field))
        .and_then(Value::as_array);
    Ok(match items {
        Some(items) => Fetched::Page(Page {
            items: items.clone(),
            next: response.result().and_then(|r| r.get("nextCursor")).cloned(),
        }),
        None => Fetched::Refused(response.summary()),
    })
}

fn cursor_params(cursor: &Value) -> Option<Value> {
    Some(json!({ "cursor": cursor }))
}

/// How a walk over every page of a list ended.
#[derive(Debug, Default)]
struct Walk {
    pages: usize,
    keys: Vec<String>,
    /// Every nextCursor value seen, in order.
    cursors: Vec<Value>,
    /// The nextCursor that was handed out before.
    repeated: Option<Value>,
    /// The bound was reached with a cursor still pending.
    unbounded: bool,
    /// A page request was refused: (cursor sent, answer).
    refused: Option<(Option<Value>, String)>,
}

/// Follow `nextCursor` (whatever its type; judging the type is PAGE-001's job) until
/// it is absent, repeats, a page is refused, or `limit` pages were read.
async fn walk(ctx: &Ctx, list: &ListMethod, limit: usize) -> Result<Walk, Verdict> {
    let mut walk = Walk::default();
    let mut cursor: Option<Value> = None;
    let mut seen = HashSet::new();
    while walk.pages < limit {
        let params = cursor.as_ref().and_then(cursor_params);
        let page = match fetch(ctx.session(), list, params, ctx.timeout()).await? {
            Fetched::Page(p) => p,
            Fetched::Refused(answer) => {
                walk.refused = Some((cursor, answer));
                return Ok(walk);
            }
        };
        walk.pages += 1;
        walk.keys.extend(page.keys(list));
        let next = match page.next {
            None => return Ok(walk),
            Some(next) => next,
        };
        walk.cursors.push(next.clone());
        if next.is_null() {
            // Read as "no more pages"; PAGE-001 judges the null itself.
            return Ok(walk);
        }
        if !seen.insert(next.to_string()) {
            walk.repeated = Some(next);
            return Ok(walk);
        }
        cursor = Some(next);
    }
    walk.unbounded = true;
    Ok(walk)
}

/// Keys listed more than once, with their counts.
fn duplicates(keys: &[String]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for k in keys {
        *counts.entry(k).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{:?} ×{n}", clip(k, 100)))
        .collect()
}

// -- PAGE-001 ----------------------------------------------------------------

async fn next_cursor_string(ctx: &mut Ctx) -> CaseResult {
    let lists = declared_lists(ctx)?;
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let mut refused = Vec::new();
    for list in lists {
        // A repeat stops the walk: termination is PAGE-002's concern.
        let w = walk(ctx, list, crate::cases::support::MAX_PAGES).await?;
        if w.pages == 0 {
            if let Some((_, answer)) = w.refused {
                refused.push(format!("{}: {answer}", list.method));
            }
            continue;
        }
        checked.push(format!("{} ({} page(s))", list.method, w.pages));
        if let Some(bad) = w.cursors.iter().find(|c| !c.is_string()) {
            problems.push(format!(
                "{}: nextCursor {}",
                list.method,
                clip(&bad.to_string(), 100)
            ));
        }
    }
    if !problems.is_empty() {
        return Ok(Verdict::violation("nextCursor is not a string")
            .expected("a string nextCursor, or none on the last page")
            .actual(problems.join("\n")));
    }
    if checked.is_empty() {
        return Ok(Verdict::untestable(format!(
            "no declared list method answered with a list: {}",
            refused.join("; ")
        )));
    }
    Ok(Verdict::pass(format!(
        "every nextCursor was a string or absent: {}",
        checked.join(", ")
    )))
}

// -- PAGE-002 ----------------------------------------------------------------

async fn walk_terminates(ctx: &mut Ctx) -> CaseResult {
    let lists = declared_lists(ctx)?;
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let mut refused = Vec::new();
    for list in lists {
        let w = walk(ctx, list, WALK_LIMIT).await?;
        if let Some(cursor) = &w.repeated {
            problems.push(format!(
                "{}: cursor {} came back after {} page(s), so the walk loops",
                list.method,
                clip(&cursor.to_string(), 100),
                w.pages
            ));
        }
        if w.unbounded {
            problems.push(format!(
                "{}: still a nextCursor after {WALK_LIMIT} pages",
                list.method
            ));
        }
        match &w.refused {
            Some((None, answer)) => {
                refused.push(format!("{}: {answer}", list.method));
                continue;
            }
            Some((Some(cursor), answer)) => problems.push(format!(
                "{}: the server refused its own cursor {} after {} page(s): {answer}",
                list.method,
                clip(&cursor.to_string(), 100),
                w.pages
            )),
            None => {}
        }
        let dups = duplicates(&w.keys);
        if !dups.is_empty() {
            problems.push(format!(
                "{}: items listed more than once: {}",
                list.method,
                dups.join(", ")
            ));
        }
        checked.push(format!("{} ({} page(s))", list.method, w.pages));
    }
    if !problems.is_empty() {
        return Ok(Verdict::violation("a cursor walk did not end cleanly")
            .expected("each walk ends after finitely many pages, without repeats")
            .actual(problems.join("\n")));
    }
    if checked.is_empty() {
        return Ok(Verdict::untestable(format!(
            "no declared list method answered with a list: {}",
            refused.join("; ")
        )));
    }
    Ok(Verdict::pass(format!(
        "every walk ended without repeats: {}",
        checked.join(", ")
    )))
}

// -- PAGE-003 ----------------------------------------------------------------

/// Cursors no server issues: plain junk, base64 of arbitrary bytes, and a 10 KiB string.
fn invented_cursors() -> Vec<(&'static str, Value)> {
    vec![
        ("an invented cursor", json!("mcpspec-invalid-cursor")),
        (
            "base64 of arbitrary bytes",
            json!("q83vASNFZ4mrze8BI0VniQ=="),
        ),
        ("a 10 KiB cursor", json!("c".repeat(10 * 1024))),
    ]
}

/// A corrupted form of a cursor the server issued. Appending keeps the result from
/// landing on another valid offset, as changing one character of it could.
fn corrupted(cursor: &str) -> String {
    format!("{cursor}~mcpspec-corrupted")
}

async fn invalid_cursor(ctx: &mut Ctx) -> CaseResult {
    let lists = declared_lists(ctx)?;
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for list in lists {
        let first = match fetch(ctx.session(), list, None, ctx.timeout()).await? {
            Fetched::Page(p) => p,
            Fetched::Refused(_) => continue,
        };
        let mut probes = invented_cursors();
        if let Some(Value::String(real)) = &first.next {
            probes.push(("a corrupted real cursor", json!(corrupted(real))));
        }
        let mut sent = 0;
        for (what, cursor) in probes {
            sent += 1;
            let response = ctx
                .session()
                .request_timeout(list.method, cursor_params(&cursor), ctx.timeout())
                .await?;
            if response.error_code() == Some(code::INVALID_PARAMS) {
                continue;
            }
            let restarted = response
                .result()
                .and_then(|r| r.get(list.field))
                .and_then(Value::as_array)
                .is_some_and(|items| *items == first.items);
            let how = if response.error().is_some() {
                format!("error instead of -32602: {}", response.summary())
            } else if restarted {
                "the first page was returned instead of -32602".to_string()
            } else {
                format!("a result instead of -32602: {}", response.summary())
            };
            problems.push(format!("{} with {what}: {how}", list.method));
        }
        checked.push(format!("{} ({sent} cursor(s))", list.method));
    }
    if !problems.is_empty() {
        return Ok(
            Verdict::violation("invalid cursors were not answered with -32602")
                .expected("error -32602")
                .actual(problems.join("\n")),
        );
    }
    if checked.is_empty() {
        return Ok(Verdict::untestable(
            "no declared list method answered with a list",
        ));
    }
    Ok(Verdict::pass(format!(
        "every invalid cursor got -32602: {}",
        checked.join(", ")
    )))
}

// -- PAGE-004 ----------------------------------------------------------------

async fn params_optional(ctx: &mut Ctx) -> CaseResult {
    let lists = declared_lists(ctx)?;
    let forms: [(&str, Option<Value>); 3] = [
        ("params omitted", None),
        ("params {}", Some(json!({}))),
        ("params with only _meta", Some(json!({ "_meta": {} }))),
    ];
    let mut problems = Vec::new();
    for list in &lists {
        let mut answers: Vec<(&str, Page)> = Vec::new();
        for (what, params) in &forms {
            match fetch(ctx.session(), list, params.clone(), ctx.timeout()).await? {
                Fetched::Page(p) => answers.push((what, p)),
                Fetched::Refused(answer) => {
                    problems.push(format!("{} with {what}: {answer}", list.method))
                }
            }
        }
        // Equivalent answers list the same items and agree on whether more follow.
        if let Some(((first_what, first), rest)) = answers.split_first() {
            for (what, page) in rest {
                if page.keys(list) != first.keys(list)
                    || page.next.is_some() != first.next.is_some()
                {
                    problems.push(format!(
                        "{}: {what} listed {:?}, {first_what} listed {:?}",
                        list.method,
                        page.keys(list),
                        first.keys(list)
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Ok(
            Verdict::violation("list requests without a cursor were not all served alike")
                .expected("the first page for params omitted, {} and {\"_meta\": {}}")
                .actual(problems.join("\n")),
        );
    }
    let names: Vec<&str> = lists.iter().map(|l| l.method).collect();
    Ok(Verdict::pass(format!(
        "{} served the first page alike in all three forms",
        names.join(", ")
    )))
}

// -- PAGE-005 ----------------------------------------------------------------

async fn cursor_reuse(ctx: &mut Ctx) -> CaseResult {
    let lists = declared_lists(ctx)?;
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for list in lists {
        let first = match fetch(ctx.session(), list, None, ctx.timeout()).await? {
            Fetched::Page(p) => p,
            Fetched::Refused(_) => continue,
        };
        let Some(cursor) = first.next else {
            continue;
        };
        let mut pages = Vec::new();
        for _ in 0..2 {
            match fetch(ctx.session(), list, cursor_params(&cursor), ctx.timeout()).await? {
                Fetched::Page(p) => pages.push(p),
                Fetched::Refused(answer) => {
                    problems.push(format!(
                        "{}: cursor {} was refused: {answer}",
                        list.method,
                        clip(&cursor.to_string(), 100)
                    ));
                    break;
                }
            }
        }
        if let [a, b] = pages.as_slice() {
            if a.keys(list) != b.keys(list) || a.next != b.next {
                problems.push(format!(
                    "{}: cursor {} gave {:?} (next {:?}) then {:?} (next {:?})",
                    list.method,
                    clip(&cursor.to_string(), 100),
                    a.keys(list),
                    a.next,
                    b.keys(list),
                    b.next
                ));
            } else {
                checked.push(list.method);
            }
        }
    }
    if !problems.is_empty() {
        return Ok(
            Verdict::violation("re-using a cursor did not give the same page")
                .expected("the same items and nextCursor both times")
                .actual(problems.join("\n")),
        );
    }
    if checked.is_empty() {
        return Ok(Verdict::untestable(
            "no declared list method returned a nextCursor on its first page, so there is no \
             cursor to re-use",
        ));
    }
    Ok(Verdict::pass(format!(
        "re-used cursors returned the same page: {}",
        checked.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_counted() {
        let keys: Vec<String> = ["a", "b", "a", "c", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(duplicates(&keys), vec!["\"a\" ×3".to_string()]);
        assert!(duplicates(&["x".to_string()]).is_empty());
    }

    #[test]
    fn items_are_keyed_by_their_identifier() {
        let tools = &LISTS[0];
        let templates = &LISTS[3];
        assert_eq!(item_key(&json!({"name": "echo"}), tools), "echo");
        assert_eq!(
            item_key(&json!({"uriTemplate": "x://{id}", "name": "n"}), templates),
            "x://{id}"
        );
        // Items without the key still compare by content.
        assert_eq!(item_key(&json!({"title": 1}), tools), "{\"title\":1}");
    }

    #[test]
    fn corrupted_cursors_differ_from_the_original() {
        assert_ne!(corrupted("tools:4"), "tools:4");
        assert!(corrupted("abc").starts_with("abc"));
        assert!(invented_cursors()
            .iter()
            .all(|(_, c)| c.as_str().is_some_and(|s| !s.is_empty())));
    }
}
