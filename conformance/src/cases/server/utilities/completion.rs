//! Spec page `server/utilities/completion`. Catalogue area COMPL.

use crate::case::Case;

pub const CASES: &[Case] = &[];
