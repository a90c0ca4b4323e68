//! Spec page `server/tools`. Catalogue area TOOLS.

use crate::case::Case;

pub const CASES: &[Case] = &[];
