//! Spec page `server/resources`. Catalogue area RES.

use crate::case::Case;

pub const CASES: &[Case] = &[];
