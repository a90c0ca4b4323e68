//! A real MCP server over Streamable HTTP at `MCPSPEC_SERVER_URL` (started from
//! `MCPSPEC_SERVER_CMD` when set, `{port}` substituted); without the URL every input
//! is a no-op. Logic: `mcpspec::fuzz::libfuzzer::fuzz_http`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec::fuzz::libfuzzer::fuzz_http(data);
});
