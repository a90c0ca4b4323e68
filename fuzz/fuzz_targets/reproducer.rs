//! Loading a reproducer file as `mcpspec replay` does never panics, and an accepted
//! file round-trips and delivers bounded bytes. Logic: `mcpspec::fuzzing::reproducer`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec::fuzzing::reproducer(data);
});
