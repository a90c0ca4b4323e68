//! The clean fixture server stays well-formed on any sequence of input lines.
//! Logic: `mcpspec::fuzzing::fixture_session`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec::fuzzing::fixture_session(data);
});
