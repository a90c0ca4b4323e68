//! The message validators never panic on any JSON and report exactly the broken
//! envelope rules. Logic: `mcpspec::fuzzing::validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec::fuzzing::validate(data);
});
