//! Spec page `server/prompts`. Catalogue area PROMPT.

use crate::case::Case;

pub const CASES: &[Case] = &[];
