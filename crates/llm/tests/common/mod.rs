//! Shared helpers of the provider tests: a local HTTP server that records requests, and a small
//! OpenAPI schema checker.
#![allow(dead_code, unreachable_pub)]

pub mod schema;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::Value;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the client sent JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub type Handler = Arc<dyn Fn(Recorded) -> BoxFuture<'static, Response> + Send + Sync>;

#[derive(Clone)]
struct AppState {
    handler: Handler,
    log: Arc<Mutex<Vec<Recorded>>>,
}

/// A running test server.
pub struct Server {
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.into_iter().next().unwrap()
    }
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    let recorded = Recorded {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    state.log.lock().unwrap().push(recorded.clone());
    (state.handler)(recorded).await
}

/// Starts a server on 127.0.0.1:0 answering every request with `handler`.
pub async fn serve<F, Fut>(handler: F) -> Server
where
    F: Fn(Recorded) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(handle).with_state(AppState {
        handler,
        log: log.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        log,
    }
}

/// A JSON response.
pub fn json(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A raw response with a content type.
pub fn raw(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// What a streamed body does after its chunks.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// Ends the body normally (the HTTP response is complete).
    Close,
    /// Aborts the connection (a network failure).
    Abort,
    /// Stays silent for this long, then closes.
    Stall(Duration),
}

/// An SSE response sending `chunks` one by one with a short pause between them (so the client
/// sees them as separate reads), then `ending`.
pub fn sse(chunks: Vec<Vec<u8>>, ending: Ending) -> Response {
    let body = futures_util::stream::iter(chunks)
        .then(|chunk| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok::<_, std::io::Error>(Bytes::from(chunk))
        })
        .chain(futures_util::stream::once(async move {
            match ending {
                Ending::Close => Ok(Bytes::new()),
                Ending::Abort => Err(std::io::Error::other("connection reset by test")),
                Ending::Stall(d) => {
                    tokio::time::sleep(d).await;
                    Ok(Bytes::new())
                }
            }
        }))
        .filter(|r| {
            let keep = !matches!(r, Ok(b) if b.is_empty());
            async move { keep }
        });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

/// A 200 JSON response whose body is sent slowly, one byte every `every`, forever-ish.
pub fn dripping(every: Duration) -> Response {
    let body = futures_util::stream::unfold(0u32, move |n| async move {
        tokio::time::sleep(every).await;
        (n < 10_000).then(|| (Ok::<_, Infallible>(Bytes::from_static(b" ")), n + 1))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap()
}

/// Splits `text` into chunks at the given byte offsets (cutting UTF-8 characters where they fall).
pub fn split_at_bytes(text: &str, sizes: &[usize]) -> Vec<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let size = sizes[i % sizes.len()].max(1);
        let end = (at + size).min(bytes.len());
        out.push(bytes[at..end].to_vec());
        at = end;
        i += 1;
    }
    out
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
