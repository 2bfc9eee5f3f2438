//! HTTP plumbing shared by the network providers: timeouts, error bodies, SSE streams.

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream;
use reqwest::header::HeaderValue;
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::{Instant, timeout, timeout_at};

use crate::sse::{SseDecoder, SseEvent};
use crate::{Error, Provider, TimeoutPhase, TokenStream};

/// The largest non-streamed response body accepted.
const MAX_BODY: usize = 8 << 20;
/// The largest error body read (the rest is ignored).
const MAX_ERROR_BODY: usize = 64 << 10;
/// The longest provider message kept in an error when the body is not the documented JSON.
const MAX_RAW_MESSAGE: usize = 500;

/// Request timeouts.
///
/// - `connect`: opening the connection; applied to the client built by the provider (an
///   injected `reqwest::Client` keeps its own connect timeout, still bounded by `first_byte`).
/// - `first_byte`: from sending the request to the response headers.
/// - `whole`: the whole exchange, including reading the body or the whole stream.
/// - `idle`: the longest silence between two chunks of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    connect: Duration,
    first_byte: Duration,
    whole: Duration,
    idle: Duration,
}

impl Default for Timeouts {
    /// connect 5 s, first byte 20 s, whole 60 s, idle 15 s.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(20),
            whole: Duration::from_secs(60),
            idle: Duration::from_secs(15),
        }
    }
}

impl Timeouts {
    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }

    /// Sets the first-byte (response headers) timeout.
    #[must_use]
    pub fn with_first_byte(mut self, d: Duration) -> Self {
        self.first_byte = d;
        self
    }

    /// Sets the whole-request timeout.
    #[must_use]
    pub fn with_whole(mut self, d: Duration) -> Self {
        self.whole = d;
        self
    }

    /// Sets the idle timeout between stream chunks.
    #[must_use]
    pub fn with_idle(mut self, d: Duration) -> Self {
        self.idle = d;
        self
    }

    /// The connect timeout.
    #[must_use]
    pub fn connect(&self) -> Duration {
        self.connect
    }

    /// The first-byte timeout.
    #[must_use]
    pub fn first_byte(&self) -> Duration {
        self.first_byte
    }

    /// The whole-request timeout.
    #[must_use]
    pub fn whole(&self) -> Duration {
        self.whole
    }

    /// The idle timeout between stream chunks.
    #[must_use]
    pub fn idle(&self) -> Duration {
        self.idle
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (name, d) in [
            ("connect", self.connect),
            ("first_byte", self.first_byte),
            ("whole", self.whole),
            ("idle", self.idle),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("timeout `{name}` must not be zero")));
            }
        }
        Ok(())
    }
}

/// Checks the generation settings every provider takes: a temperature in 0..=2, a token limit
/// (named `limit_name` in the error) of at least 1, and the timeouts.
pub(crate) fn check_settings(
    provider: Provider,
    temperature: Option<f32>,
    limit_name: &str,
    limit: Option<u32>,
    timeouts: &Timeouts,
) -> Result<(), Error> {
    if let Some(t) = temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(Error::Config(format!(
            "{provider} temperature {t} is outside 0..=2"
        )));
    }
    if limit == Some(0) {
        return Err(Error::Config(format!("{limit_name} must be at least 1")));
    }
    timeouts.validate()
}

/// A key (or `Bearer {key}`) as a sensitive header value, never printed by `Debug`.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| Error::Config("invalid API key characters".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Builds the default client of a provider.
pub(crate) fn default_client(timeouts: &Timeouts) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// Parses and checks a base URL: absolute http(s), no query or fragment; ensures a trailing `/`
/// on the path so that relative joins append.
pub(crate) fn parse_base_url(name: &str, raw: &str) -> Result<url::Url, Error> {
    let mut url = url::Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("{name} `{raw}` is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "{name} `{raw}` must start with http:// or https://"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "{name} `{raw}` must not have a query or fragment"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Replaces any occurrence of the key in a provider message (some echo it back).
pub(crate) fn redact(message: &str, key: Option<&SecretString>) -> String {
    match key.map(ExposeSecret::expose_secret) {
        Some(k) if k.len() >= 4 && message.contains(k) => message.replace(k, "[REDACTED]"),
        _ => message.to_owned(),
    }
}

fn transport(provider: Provider, e: reqwest::Error, timeouts: &Timeouts) -> Error {
    if e.is_timeout() && e.is_connect() {
        Error::Timeout {
            provider,
            phase: TimeoutPhase::Connect,
            after: timeouts.connect,
        }
    } else {
        Error::Transport {
            provider,
            source: Box::new(e),
        }
    }
}

/// Sends the request within the first-byte timeout.
async fn send(
    provider: Provider,
    request: RequestBuilder,
    timeouts: &Timeouts,
) -> Result<Response, Error> {
    match timeout(timeouts.first_byte, request.send()).await {
        Err(_) => Err(Error::Timeout {
            provider,
            phase: TimeoutPhase::FirstByte,
            after: timeouts.first_byte,
        }),
        Ok(Err(e)) => Err(transport(provider, e, timeouts)),
        Ok(Ok(response)) => Ok(response),
    }
}

/// Reads at most `limit` bytes of the body (`Ok(None)` if it is longer).
async fn read_limited(
    provider: Provider,
    response: &mut Response,
    limit: usize,
    timeouts: &Timeouts,
) -> Result<Option<Vec<u8>>, Error> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Some(body)),
            Err(e) => return Err(transport(provider, e, timeouts)),
        }
    }
}

/// How a provider reads its error bodies.
pub(crate) type ErrorParser = fn(&Value) -> Option<(Option<String>, String)>;

/// Turns an HTTP error response into [`Error::Api`].
async fn api_error(
    provider: Provider,
    mut response: Response,
    parse: ErrorParser,
    key: Option<&SecretString>,
    timeouts: &Timeouts,
) -> Error {
    let status = response.status();
    let body = read_limited(provider, &mut response, MAX_ERROR_BODY, timeouts)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let (code, message) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| parse(&v))
        .unwrap_or_else(|| (None, raw_message(status, &body)));
    Error::Api {
        provider,
        status: status.as_u16(),
        code,
        message: redact(&message, key),
    }
}

fn raw_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no message").to_owned();
    }
    let mut end = text.len().min(MAX_RAW_MESSAGE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// One request/response exchange (non-streamed): sends, checks the status, reads the body,
/// all within the whole-request timeout. Returns the body bytes of a 2xx answer.
pub(crate) async fn exchange(
    provider: Provider,
    request: RequestBuilder,
    timeouts: &Timeouts,
    parse_error: ErrorParser,
    key: Option<&SecretString>,
) -> Result<Vec<u8>, Error> {
    let work = async {
        let mut response = send(provider, request, timeouts).await?;
        if !response.status().is_success() {
            return Err(api_error(provider, response, parse_error, key, timeouts).await);
        }
        read_limited(provider, &mut response, MAX_BODY, timeouts)
            .await?
            .ok_or_else(|| Error::InvalidResponse {
                provider,
                reason: format!("response body larger than {MAX_BODY} bytes"),
                source: None,
            })
    };
    match timeout(timeouts.whole, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            provider,
            phase: TimeoutPhase::Whole,
            after: timeouts.whole,
        }),
    }
}

/// Parses a JSON body into `T`, or [`Error::InvalidResponse`].
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    provider: Provider,
    what: &str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::InvalidResponse {
        provider,
        reason: format!("{what} is not the documented JSON"),
        source: Some(Box::new(e)),
    })
}

/// What a provider's stream handler makes of one event.
pub(crate) enum Step {
    /// Text to hand to the caller (may be empty: nothing to hand).
    Text(String),
    /// The provider signalled the end of the stream; stop reading (only OpenAI's `[DONE]` does).
    #[cfg_attr(not(feature = "openai"), allow(dead_code))]
    Done,
}

/// Turns provider SSE events into text.
pub(crate) trait StreamHandler: Send {
    /// One event.
    fn on_event(&mut self, event: SseEvent) -> Result<Step, Error>;
    /// The connection ended without [`Step::Done`]: `Ok` if the reply is complete anyway.
    fn on_end(&mut self) -> Result<(), Error>;
    /// The server ignored the stream request and answered with one JSON document (some
    /// OpenAI-compatible servers do): the whole reply text.
    fn on_whole(&mut self, body: &[u8]) -> Result<String, Error>;
}

struct Open {
    response: Response,
    decoder: SseDecoder,
    deadline: Instant,
}

enum State<'a, H> {
    Start(BoxFuture<'a, Result<Open, Error>>, H),
    Reading(Box<Open>, H),
    Finished,
}

/// Opens an SSE stream and turns it into a [`TokenStream`] through `handler`.
pub(crate) fn sse_stream<'a, H: StreamHandler + 'a>(
    provider: Provider,
    request: Result<RequestBuilder, Error>,
    timeouts: Timeouts,
    parse_error: ErrorParser,
    key: Option<&'a SecretString>,
    handler: H,
) -> TokenStream<'a> {
    let open = async move {
        let deadline = Instant::now() + timeouts.whole;
        let request = request?;
        let work = async {
            let response = send(provider, request, &timeouts).await?;
            if response.status().is_success() {
                Ok(response)
            } else {
                Err(api_error(provider, response, parse_error, key, &timeouts).await)
            }
        };
        let response = match timeout_at(deadline, work).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Timeout {
                    provider,
                    phase: TimeoutPhase::Whole,
                    after: timeouts.whole,
                });
            }
        };
        Ok(Open {
            response,
            decoder: SseDecoder::new(),
            deadline,
        })
    };
    let state = State::Start(Box::pin(open), handler);
    Box::pin(stream::unfold(state, move |state| {
        step(provider, timeouts, state)
    }))
}

/// One item of the stream: opens it on the first call, then reads until the next text.
async fn step<'a, H: StreamHandler + 'a>(
    provider: Provider,
    timeouts: Timeouts,
    state: State<'a, H>,
) -> Option<(Result<String, Error>, State<'a, H>)> {
    let (open, handler) = match state {
        State::Finished => return None,
        State::Reading(open, handler) => (open, handler),
        State::Start(opening, mut handler) => match opening.await {
            Err(e) => return Some((Err(e), State::Finished)),
            Ok(mut open) if is_json(&open.response) => {
                let result = whole_json(provider, &timeouts, &mut open, &mut handler).await;
                return Some((result, State::Finished));
            }
            Ok(open) => (Box::new(open), handler),
        },
    };
    next_text(provider, timeouts, open, handler).await
}

/// A server that answered a stream request with one JSON document.
async fn whole_json<H: StreamHandler>(
    provider: Provider,
    timeouts: &Timeouts,
    open: &mut Open,
    handler: &mut H,
) -> Result<String, Error> {
    let read = read_limited(provider, &mut open.response, MAX_BODY, timeouts);
    match timeout_at(open.deadline, read).await {
        Err(_) => Err(Error::Timeout {
            provider,
            phase: TimeoutPhase::Whole,
            after: timeouts.whole,
        }),
        Ok(Err(e)) => Err(e),
        Ok(Ok(None)) => Err(Error::InvalidResponse {
            provider,
            reason: format!("response body larger than {MAX_BODY} bytes"),
            source: None,
        }),
        Ok(Ok(Some(body))) => handler.on_whole(&body),
    }
}

/// Reads events until the handler produces text, the stream ends or fails.
async fn next_text<'a, H: StreamHandler + 'a>(
    provider: Provider,
    timeouts: Timeouts,
    mut open: Box<Open>,
    mut handler: H,
) -> Option<(Result<String, Error>, State<'a, H>)> {
    let fail = |e: Error| Some((Err(e), State::Finished));
    loop {
        while let Some(event) = open.decoder.next_event() {
            match handler.on_event(event) {
                Ok(Step::Text(text)) if text.is_empty() => {}
                Ok(Step::Text(text)) => return Some((Ok(text), State::Reading(open, handler))),
                Ok(Step::Done) => return None,
                Err(e) => return fail(e),
            }
        }
        // Wait for the next chunk: at most `idle`, and never past the whole-request deadline.
        let idle_deadline = Instant::now() + timeouts.idle;
        let (deadline, phase, after) = if idle_deadline < open.deadline {
            (idle_deadline, TimeoutPhase::Idle, timeouts.idle)
        } else {
            (open.deadline, TimeoutPhase::Whole, timeouts.whole)
        };
        match timeout_at(deadline, open.response.chunk()).await {
            Err(_) => {
                return fail(Error::Timeout {
                    provider,
                    phase,
                    after,
                });
            }
            Ok(Err(e)) => return fail(transport(provider, e, &timeouts)),
            Ok(Ok(Some(bytes))) => {
                if let Err(e) = open.decoder.feed(&bytes) {
                    return fail(Error::InvalidResponse {
                        provider,
                        reason: "invalid event stream".into(),
                        source: Some(Box::new(e)),
                    });
                }
            }
            // The body ended without the provider's end marker. An unterminated last event is
            // discarded (SSE rules); the handler decides whether the reply was complete.
            Ok(Ok(None)) => {
                return match handler.on_end() {
                    Ok(()) => None,
                    Err(e) => fail(e),
                };
            }
        }
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// Reads `{"error": {"message", "code"|"status"|"type"}}` and the common variants used by
/// OpenAI-compatible servers (`{"error": "text"}`, `{"detail": "text"}`, `{"message": "text"}`),
/// also inside a one-element array (Gemini's non-SSE streaming errors).
pub(crate) fn common_error_shape(value: &Value) -> Option<(Option<String>, String)> {
    let value = match value {
        Value::Array(items) => items.first()?,
        v => v,
    };
    let scalar = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value.get("error") {
        Some(Value::Object(err)) => {
            let message = err.get("message").and_then(scalar)?;
            let code = ["status", "code", "type"]
                .iter()
                .find_map(|k| err.get(*k).and_then(scalar));
            Some((code, message))
        }
        Some(Value::String(s)) => Some((None, s.clone())),
        _ => ["detail", "message"]
            .iter()
            .find_map(|k| value.get(*k).and_then(scalar))
            .map(|m| (None, m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_shapes() {
        let openai = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
        assert_eq!(
            common_error_shape(&openai),
            Some((
                Some("invalid_api_key".into()),
                "Incorrect API key provided".into()
            ))
        );
        let gemini =
            json!({"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}});
        assert_eq!(
            common_error_shape(&gemini),
            Some((Some("RESOURCE_EXHAUSTED".into()), "Quota".into()))
        );
        assert_eq!(
            common_error_shape(&json!([gemini])),
            Some((Some("RESOURCE_EXHAUSTED".into()), "Quota".into()))
        );
        assert_eq!(
            common_error_shape(&json!({"error": "model not found"})),
            Some((None, "model not found".into()))
        );
        assert_eq!(
            common_error_shape(&json!({"detail": "Not Found"})),
            Some((None, "Not Found".into()))
        );
        assert_eq!(common_error_shape(&json!({"foo": 1})), None);
    }

    #[test]
    fn raw_messages_are_cut_on_char_boundaries() {
        let body = "ש".repeat(400);
        let m = raw_message(StatusCode::BAD_GATEWAY, body.as_bytes());
        assert!(m.len() <= MAX_RAW_MESSAGE);
        assert_eq!(raw_message(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
    }

    #[test]
    fn base_urls_are_validated() {
        assert_eq!(
            parse_base_url("b", "https://api.openai.com/v1")
                .unwrap()
                .as_str(),
            "https://api.openai.com/v1/"
        );
        assert!(parse_base_url("b", "api.openai.com/v1").is_err());
        assert!(parse_base_url("b", "ftp://x/").is_err());
        assert!(parse_base_url("b", "https://x/v1?api-version=1").is_err());
    }

    #[test]
    fn redaction() {
        let key = SecretString::from("sk-secret-123");
        assert_eq!(
            redact("bad key sk-secret-123 given", Some(&key)),
            "bad key [REDACTED] given"
        );
        assert_eq!(redact("fine", None), "fine");
    }

    #[test]
    fn zero_timeouts_are_rejected() {
        assert!(Timeouts::default().validate().is_ok());
        assert!(
            Timeouts::default()
                .with_idle(Duration::ZERO)
                .validate()
                .is_err()
        );
    }
}
