//! The recording fake server and canned replies.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The largest request body the server reads (bigger ones are answered 413 and not recorded).
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The HTTP method.
    pub method: Method,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query string without `?`, if there is one.
    pub query: Option<String>,
    /// All request headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Recorded {
    fn new(parts: &Parts, body: Vec<u8>) -> Self {
        Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
            body,
        }
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the client sent JSON")
    }

    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json_or_null(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header as text (`None` when absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The fields of a `multipart/form-data` body, in order.
    ///
    /// # Errors
    ///
    /// The parser's message when the body is not valid multipart.
    pub async fn multipart(&self) -> Result<Vec<FormField>, String> {
        let mut request = Request::new(Body::from(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.headers_mut() = self.headers.clone();
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| format!("bad multipart: {e}"))?;
        let mut fields = Vec::new();
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| format!("bad multipart: {e}"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| format!("bad multipart: {e}"))?
                .to_vec();
            fields.push(FormField {
                name,
                file_name,
                content_type,
                bytes,
            });
        }
        Ok(fields)
    }
}

/// One field of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The field name.
    pub name: String,
    /// The file name of a file part.
    pub file_name: Option<String>,
    /// The part's own content type.
    pub content_type: Option<String>,
    /// The value.
    pub bytes: Vec<u8>,
}

impl FormField {
    /// The value as text (`<binary>` when it is not UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap_or("<binary>")
    }
}

/// A canned answer: status, headers, body, and an optional delay before it is sent.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    delay: Option<Duration>,
}

impl Reply {
    /// `body` as `application/json`.
    ///
    /// # Panics
    ///
    /// When `status` is not a valid HTTP status (100 to 999).
    pub fn json(status: u16, body: &Value) -> Self {
        Self::raw(status, body.to_string())
    }

    /// `body` as it is, labelled `application/json` (what a provider sends when its JSON is
    /// broken, empty or replaced by a proxy's page).
    ///
    /// # Panics
    ///
    /// When `status` is not a valid HTTP status (100 to 999).
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: StatusCode::from_u16(status).expect("a valid HTTP status"),
            headers: Vec::new(),
            body: Bytes::from(body.into()),
            delay: None,
        }
        .with_header("content-type", "application/json")
    }

    /// Sets a header (replacing one of the same name).
    ///
    /// # Panics
    ///
    /// When `name` or `value` is not valid in a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("a valid header name");
        self.headers.retain(|(n, _)| *n != name);
        self.headers
            .push((name, HeaderValue::try_from(value).expect("a valid header")));
        self
    }

    /// Sends `Retry-After: value`.
    #[must_use]
    pub fn with_retry_after(self, value: &str) -> Self {
        self.with_header("retry-after", value)
    }

    /// Waits `delay` before answering.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Waits the delay, if any, then answers.
    pub async fn respond(&self) -> Response {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let mut response = (self.status, self.body.clone()).into_response();
        for (name, value) in &self.headers {
            response.headers_mut().insert(name, value.clone());
        }
        response
    }
}

type Log = Arc<Mutex<Vec<Recorded>>>;

/// A local HTTP server on `127.0.0.1` that records every request it answers.
///
/// It runs until the test's runtime shuts down.
#[derive(Debug)]
pub struct FakeServer {
    base: String,
    log: Log,
}

impl FakeServer {
    /// Serves `app`, recording every request that reaches one of its routes (the body is read
    /// whole, recorded, and handed on unchanged).
    pub async fn router(app: Router) -> Self {
        let log = Log::default();
        let recorder = log.clone();
        let app = app.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let log = recorder.clone();
                async move {
                    match record(&log, request).await {
                        Ok((request, _)) => next.run(request).await,
                        Err(response) => response,
                    }
                }
            },
        ));
        Self::serve(app, log).await
    }

    /// Answers every request, whatever its method and path, with what `handler` makes of it.
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Recorded) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let log = Log::default();
        let recorder = log.clone();
        let app = Router::new().fallback(move |request: Request| {
            let log = recorder.clone();
            let handler = handler.clone();
            async move {
                match record(&log, request).await {
                    Ok((_, recorded)) => handler(recorded).await,
                    Err(response) => response,
                }
            }
        });
        Self::serve(app, log).await
    }

    /// Answers every request with `reply`.
    pub async fn replying(reply: Reply) -> Self {
        Self::start(move |_| {
            let reply = reply.clone();
            async move { reply.respond().await }
        })
        .await
    }

    async fn serve(app: Router, log: Log) -> Self {
        let (listener, addr) = crate::raw::listen().await;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            log,
        }
    }

    /// `http://127.0.0.1:port`, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log().clone()
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.log().len()
    }

    /// The last request.
    ///
    /// # Panics
    ///
    /// When none arrived.
    pub fn last_request(&self) -> Recorded {
        self.log().last().cloned().expect("a request arrived")
    }

    /// The one request that arrived.
    ///
    /// # Panics
    ///
    /// When none or several arrived.
    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.into_iter().next().expect("one request")
    }

    fn log(&self) -> MutexGuard<'_, Vec<Recorded>> {
        // A test that panicked while holding the lock leaves the log as it was.
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads the body of `request`, records it, and gives back the request (body restored) and the
/// record; a body that cannot be read is answered here.
async fn record(log: &Log, request: Request) -> Result<(Request, Recorded), Response> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|e| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(header::CONTENT_TYPE, "text/plain")],
                format!("test server: {e}"),
            )
                .into_response()
        })?;
    let recorded = Recorded::new(&parts, bytes.to_vec());
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(recorded.clone());
    Ok((Request::from_parts(parts, Body::from(bytes)), recorded))
}
