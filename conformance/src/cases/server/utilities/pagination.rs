//! Spec page `server/utilities/pagination`. Catalogue area PAGE.

use crate::case::Case;

pub const CASES: &[Case] = &[];
