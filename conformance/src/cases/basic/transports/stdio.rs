//! Spec page `basic/transports/stdio`. Catalogue area STDIO.

use crate::case::Case;

pub const CASES: &[Case] = &[];
