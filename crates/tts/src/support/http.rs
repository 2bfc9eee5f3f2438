//! What the HTTP providers share: base URLs, sending with a timeout, reading bounded bodies,
//! turning error answers into [`Error::Provider`], streaming with an idle timeout.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;

use super::snippet;
use crate::{AudioStream, Error};

/// The most of an answer read into memory (audio included): 64 MiB is over an hour of μ-law
/// and over 20 minutes of 24 kHz PCM.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The most of an error answer read.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Validates a base URL (absolute http/https) and returns it without a trailing `/`.
pub(crate) fn base_url(provider: &'static str, url: &str) -> Result<String, Error> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::Config {
        provider,
        detail: format!("base URL {url:?} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::Config {
            provider,
            detail: format!("base URL {url:?} is not an absolute http(s) URL"),
        });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config {
            provider,
            detail: format!("base URL {url:?} must not have a query or fragment"),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A provider's own error message, parsed from an error body.
pub(crate) struct ProviderError {
    pub(crate) code: Option<String>,
    pub(crate) message: String,
}

/// Maps a transport error.
pub(crate) fn transport(provider: &'static str, timeout: Duration, e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            provider,
            after: timeout,
        }
    } else if e.is_body() || e.is_decode() {
        Error::Interrupted {
            provider,
            source: e,
        }
    } else {
        Error::Http {
            provider,
            source: e,
        }
    }
}

/// Sends `request`; a non-2xx answer becomes [`Error::Provider`] with the message `parse`
/// finds in the body. The caller bounds the time.
pub(crate) async fn send(
    provider: &'static str,
    timeout: Duration,
    request: reqwest::RequestBuilder,
    parse: fn(&[u8]) -> Option<ProviderError>,
) -> Result<reqwest::Response, Error> {
    let response = request
        .send()
        .await
        .map_err(|e| transport(provider, timeout, e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // The error body is best effort: a broken one still gives the status.
    let body = read_limited(response, MAX_ERROR_BYTES, true)
        .await
        .unwrap_or_default();
    let (code, message) = match parse(&body) {
        Some(e) => (e.code, e.message),
        None => (None, snippet(&body)),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    Err(Error::Provider {
        provider,
        status: status.as_u16(),
        code,
        message,
    })
}

/// Reads the whole body, failing when it exceeds `limit` (or truncating when `truncate`).
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    truncate: bool,
) -> Result<Vec<u8>, Option<reqwest::Error>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Some)? {
        if body.len() + chunk.len() > limit {
            if truncate {
                body.extend_from_slice(&chunk[..limit - body.len()]);
                return Ok(body);
            }
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a successful body of at most [`MAX_BODY_BYTES`].
pub(crate) async fn read_body(
    provider: &'static str,
    timeout: Duration,
    response: reqwest::Response,
) -> Result<Vec<u8>, Error> {
    read_limited(response, MAX_BODY_BYTES, false)
        .await
        .map_err(|e| match e {
            Some(e) => transport(provider, timeout, e),
            None => Error::MalformedResponse {
                provider,
                detail: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
            },
        })
}

/// Runs `fut` with a deadline, mapping expiry to [`Error::Timeout`].
pub(crate) async fn with_timeout<T>(
    provider: &'static str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| Error::Timeout {
            provider,
            after: timeout,
        })?
}

/// The body of `response` as a stream of chunks, each awaited at most `idle` (a stalled
/// provider ends the stream with [`Error::Timeout`]); the stream ends after its first error.
pub(crate) fn body_stream(
    provider: &'static str,
    idle: Duration,
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<Bytes, Error>> + Send + 'static {
    futures_util::stream::unfold(Some(response), move |state| async move {
        let mut response = state?;
        match tokio::time::timeout(idle, response.chunk()).await {
            Err(_) => Some((
                Err(Error::Timeout {
                    provider,
                    after: idle,
                }),
                None,
            )),
            Ok(Err(e)) => Some((Err(transport(provider, idle, e)), None)),
            Ok(Ok(None)) => None,
            Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some(response))),
        }
    })
}

/// Boxes a chunk stream, dropping empty chunks.
pub(crate) fn boxed(
    stream: impl futures_util::Stream<Item = Result<Bytes, Error>> + Send + 'static,
) -> AudioStream {
    Box::pin(stream.filter(|c| std::future::ready(!matches!(c, Ok(b) if b.is_empty()))))
}

/// A sensitive header value from a secret.
pub(crate) fn secret_header(
    provider: &'static str,
    value: &str,
) -> Result<reqwest::header::HeaderValue, Error> {
    let mut v = reqwest::header::HeaderValue::try_from(value).map_err(|_| Error::Config {
        provider,
        detail: "the API key is not a valid HTTP header value".into(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Property checks shared by the providers' tests.
#[cfg(test)]
pub(crate) mod fuzz {
    use proptest::test_runner::TestRunner;

    use super::ProviderError;

    /// Feeds `parse` arbitrary bytes, and JSON bodies in every provider's error shape (an
    /// `error` object or string, a `detail` string, list or object) with arbitrary text in
    /// them: it must never panic.
    pub(crate) fn error_parser_never_panics(parse: fn(&[u8]) -> Option<ProviderError>) {
        let bytes = proptest::collection::vec(proptest::num::u8::ANY, 0..200);
        TestRunner::default()
            .run(&bytes, |body| {
                let _ = parse(&body);
                Ok(())
            })
            .unwrap();
        let text = proptest::string::string_regex("\\PC{0,80}").unwrap();
        TestRunner::default()
            .run(&text, |s| {
                for body in [
                    format!("{{\"error\": {s:?}}}"),
                    format!("{{\"error\": {{\"message\": {s:?}, \"code\": {s:?}}}}}"),
                    format!("{{\"detail\": {s:?}}}"),
                    format!("{{\"detail\": [{{\"loc\": [{s:?}, 3], \"msg\": {s:?}}}, 7]}}"),
                    format!("{{\"detail\": {{\"status\": 5, \"message\": {s:?}}}}}"),
                ] {
                    let _ = parse(body.as_bytes());
                }
                Ok(())
            })
            .unwrap();
    }
}
