//! A real MCP server over stdio, kept alive across inputs: the server is the command
//! line in `MCPSPEC_SERVER_CMD`; without it every input is a no-op.
//! Logic: `mcpspec::fuzz::libfuzzer::fuzz_stdio`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec::fuzz::libfuzzer::fuzz_stdio(data);
});
