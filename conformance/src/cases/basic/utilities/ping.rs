//! Spec page `basic/utilities/ping`. Catalogue area PING.

use crate::case::Case;

pub const CASES: &[Case] = &[];
