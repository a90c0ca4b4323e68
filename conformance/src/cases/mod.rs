//! The case catalogue. Module paths mirror the spec's page paths; each page module
//! exports `CASES`.

pub mod basic;
pub mod server;
pub mod support;

use crate::case::Case;

/// Every case, in catalogue order (the report sorts by id).
pub fn catalogue() -> Vec<Case> {
    [
        basic::index::CASES,
        basic::lifecycle::CASES,
        basic::schema::CASES,
        basic::security_best_practices::CASES,
        basic::transports::stdio::CASES,
        basic::transports::http_with_sse::CASES,
        basic::transports::streamable_http::CASES,
        basic::utilities::ping::CASES,
        server::tools::CASES,
        server::resources::CASES,
        server::prompts::CASES,
        server::utilities::logging::CASES,
        server::utilities::completion::CASES,
        server::utilities::pagination::CASES,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn case_ids_are_unique_and_cite_requirements() {
        let cases = catalogue();
        let mut ids = HashSet::new();
        for case in &cases {
            assert!(ids.insert(case.id), "duplicate case id {}", case.id);
            assert!(
                !case.requirements.is_empty(),
                "{} cites no requirement",
                case.id
            );
            for r in case.requirements {
                let (area, num) = r
                    .split_once('-')
                    .expect("requirement ids look like AREA-NNN");
                assert!(area.chars().all(|c| c.is_ascii_uppercase()), "{r}");
                assert!(
                    num.len() == 3 && num.chars().all(|c| c.is_ascii_digit()),
                    "{r}"
                );
            }
            assert!(
                case.id.starts_with("basic/") || case.id.starts_with("server/"),
                "{} should start with its spec page",
                case.id
            );
        }
    }
}
