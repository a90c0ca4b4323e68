//! Spec page `basic/lifecycle`. Catalogue area LIFE.

use crate::case::Case;

pub const CASES: &[Case] = &[];
