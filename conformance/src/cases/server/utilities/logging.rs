//! Spec page `server/utilities/logging`. Catalogue area LOG.

use crate::case::Case;

pub const CASES: &[Case] = &[];
