//! JSON-RPC classification never panics; accepted messages round-trip unchanged.
//! Logic: `mcpspec::fuzzing::jsonrpc_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec::fuzzing::jsonrpc_message(data);
});
