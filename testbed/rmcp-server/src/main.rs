//! mcpspec test-bed server built on the official Rust SDK (`rmcp`).
//!
//! Usage:
//!   mcpspec-testbed-rmcp                      serve over stdio (default)
//!   mcpspec-testbed-rmcp --port N             serve streamable HTTP on http://127.0.0.1:N/mcp
//!                                             (only when built with `--features http`)
//!
//! Exposes three read-only tools (`echo`, `add`, `slow`), one prompt with a required
//! argument (`summarize`, with completion for that argument) and one static
//! text resource (`testbed://static/hello`).

use rmcp::{
    handler::server::{
        router::prompt::PromptRouter, router::tool::ToolRouter, wrapper::Parameters,
    },
    model::{
        CompleteRequestParams, CompleteResult, CompletionInfo, Implementation, ListResourcesResult,
        PaginatedRequestParams, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, Reference, Resource, ResourceContents, Role, ServerCapabilities,
        ServerConfig,
    },
    prompt, prompt_handler, prompt_router,
    service::RequestContext,
    tool, tool_handler, tool_router, ErrorData as McpError, RoleServer, ServerHandler,
};
use serde::Deserialize;

const HELLO_URI: &str = "testbed://static/hello";
const HELLO_TEXT: &str = "Hello from the mcpspec rmcp test-bed server.";
const TOPICS: &[&str] = &["mcp", "json-rpc", "jsonschema", "stdio", "streamable-http"];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// Text to echo back.
    text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AddArgs {
    /// First addend.
    a: i64,
    /// Second addend.
    b: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SlowArgs {
    /// Milliseconds to wait (at most 10000).
    ms: u64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SummarizeArgs {
    /// Topic to summarize.
    topic: String,
}

#[derive(Debug, Clone)]
struct TestbedServer {
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl TestbedServer {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        }
    }
}

#[tool_router]
impl TestbedServer {
    #[tool(
        description = "Echo the given text back unchanged.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    #[tool(
        description = "Add two integers.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<String, McpError> {
        a.checked_add(b)
            .map(|sum| sum.to_string())
            .ok_or_else(|| McpError::invalid_params("integer overflow", None))
    }

    #[tool(
        description = "Wait `ms` milliseconds (at most 10000), then say so.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn slow(&self, Parameters(SlowArgs { ms }): Parameters<SlowArgs>) -> String {
        let ms = ms.min(10_000);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        format!("waited {ms} ms")
    }
}

#[prompt_router]
impl TestbedServer {
    #[prompt(description = "Ask for a short summary of a topic.")]
    fn summarize(
        &self,
        Parameters(SummarizeArgs { topic }): Parameters<SummarizeArgs>,
    ) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(
            Role::User,
            format!("Please write a three-sentence summary of {topic}."),
        )]
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for TestbedServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new(
            "mcpspec-testbed-rmcp",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions("mcpspec test-bed server (rmcp). Tools: echo, add.")
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            HELLO_URI, "hello",
        )
        .with_description("A static text resource.")
        .with_mime_type("text/plain")]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri == HELLO_URI {
            Ok(ReadResourceResult::new(vec![
                ResourceContents::text(HELLO_TEXT, HELLO_URI).with_mime_type("text/plain")
            ])
            .into())
        } else {
            Err(McpError::resource_not_found(
                format!("unknown resource {}", request.uri),
                None,
            ))
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let values: Vec<String> = match &request.r#ref {
            Reference::Prompt(p) if p.name == "summarize" && request.argument.name == "topic" => {
                TOPICS
                    .iter()
                    .filter(|t| t.starts_with(request.argument.value.as_str()))
                    .map(|t| t.to_string())
                    .collect()
            }
            _ => Vec::new(),
        };
        let info = CompletionInfo::with_all_values(values)
            .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }
}

fn usage() -> ! {
    eprintln!("usage: mcpspec-testbed-rmcp [--transport stdio|streamable-http] [--port N]");
    std::process::exit(2);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut port: Option<u16> = None;
    let mut http = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = Some(
                    args.next()
                        .and_then(|p| p.parse().ok())
                        .unwrap_or_else(|| usage()),
                );
                http = true;
            }
            "--transport" => match args.next().as_deref() {
                Some("stdio") => http = false,
                Some("streamable-http") => http = true,
                _ => usage(),
            },
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }

    if http {
        return serve_http(port.unwrap_or(8000)).await;
    }

    use rmcp::ServiceExt;
    let service = TestbedServer::new().serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}

#[cfg(not(feature = "http"))]
async fn serve_http(_port: u16) -> Result<(), Box<dyn std::error::Error>> {
    Err("built without the `http` feature; rebuild with `--features http`".into())
}

#[cfg(feature = "http")]
async fn serve_http(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    use http_body_util::{BodyExt, Full};
    use hyper::{
        body::Bytes, server::conn::http1, service::service_fn, Request, Response, StatusCode,
    };
    use hyper_util::rt::TokioIo;
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    use std::{convert::Infallible, net::Ipv4Addr, sync::Arc};

    let service: StreamableHttpService<TestbedServer, LocalSessionManager> =
        StreamableHttpService::new(
            || Ok(TestbedServer::new()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
    // Loopback only.
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    eprintln!(
        "mcpspec-testbed-rmcp: streamable HTTP on http://{}/mcp",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let handler = service_fn(move |req: Request<hyper::body::Incoming>| {
                let service = service.clone();
                async move {
                    if req.uri().path() == "/mcp" {
                        Ok::<_, Infallible>(service.handle(req).await)
                    } else {
                        let mut resp =
                            Response::new(Full::new(Bytes::from_static(b"not found")).boxed());
                        *resp.status_mut() = StatusCode::NOT_FOUND;
                        Ok(resp)
                    }
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}
