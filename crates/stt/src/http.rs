//! What the HTTP providers share: the timed request, bounded body reading, URL checks.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;

use crate::{Error, Provider};

/// Answers larger than this are refused (a transcript is a few kilobytes).
pub(crate) const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// A complete answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// [`Error::Api`] for this (non-2xx) answer with what the provider's error body said: its
    /// `code`, and its `message` (when missing or blank, the start of the body).
    pub(crate) fn api_error(
        &self,
        provider: Provider,
        code: Option<String>,
        message: Option<String>,
    ) -> Error {
        Error::Api {
            provider,
            status: self.status,
            code,
            message: message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| snippet(&self.body)),
            retry_after: self.retry_after,
        }
    }
}

/// Sends `req` and reads the whole answer, all within `timeout`; a non-2xx answer becomes the
/// error `api_error` makes of it.
pub(crate) async fn exchange(
    provider: Provider,
    timeout: Duration,
    req: reqwest::RequestBuilder,
    api_error: fn(&Answer) -> Error,
) -> Result<Answer, Error> {
    let answer = send(provider, timeout, req).await?;
    if (200..300).contains(&answer.status) {
        Ok(answer)
    } else {
        Err(api_error(&answer))
    }
}

/// Sends `req` and reads the whole answer, all within `timeout`.
///
/// Cancel-safe: dropping the future drops the connection and touches nothing else.
async fn send(
    provider: Provider,
    timeout: Duration,
    req: reqwest::RequestBuilder,
) -> Result<Answer, Error> {
    let exchange = async {
        let mut resp = req.send().await.map_err(|e| Error::Request {
            provider,
            source: Box::new(e.without_url()),
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                        return Err(Error::MalformedResponse {
                            provider,
                            status,
                            detail: format!("answer larger than {MAX_ANSWER_BYTES} bytes"),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Error::ResponseBody {
                        provider,
                        status,
                        source: Box::new(e.without_url()),
                    });
                }
            }
        }
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer,
        Err(_) => Err(Error::Timeout { provider, timeout }),
    }
}

/// The start of a body, for error messages: lossy UTF-8, trimmed, at most 300 characters.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out: String = text.chars().take(300).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Parses a base URL: absolute `http`/`https`, no query or fragment, with a trailing `/` so that
/// relative paths join below it.
pub(crate) fn base_url(provider: Provider, url: &str) -> Result<reqwest::Url, Error> {
    let config = |message: String| Error::Config { provider, message };
    let mut parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| config(format!("base URL {url:?} is not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(config(format!("base URL {url:?} must use http or https")));
    }
    if parsed.host_str().is_none() {
        return Err(config(format!("base URL {url:?} has no host")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(config(format!(
            "base URL {url:?} must not have a query or fragment"
        )));
    }
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// The endpoint `path` (relative, no leading `/`) below the base URL `base` (checked as
/// [`base_url`] does).
pub(crate) fn endpoint_below(
    provider: Provider,
    base: &str,
    path: &str,
) -> Result<reqwest::Url, Error> {
    endpoint(provider, &base_url(provider, base)?, path)
}

/// Joins `path` (relative, no leading `/`) below `base`.
pub(crate) fn endpoint(
    provider: Provider,
    base: &reqwest::Url,
    path: &str,
) -> Result<reqwest::Url, Error> {
    base.join(path).map_err(|e| Error::Config {
        provider,
        message: format!("cannot join {path:?} to the base URL: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let p = Provider::OpenAi;
        let b = base_url(p, "https://api.openai.com/v1").unwrap();
        assert_eq!(
            endpoint(p, &b, "audio/transcriptions").unwrap().as_str(),
            "https://api.openai.com/v1/audio/transcriptions"
        );
        let b = base_url(p, "http://127.0.0.1:8080/v1/").unwrap();
        assert_eq!(
            endpoint(p, &b, "audio/transcriptions").unwrap().as_str(),
            "http://127.0.0.1:8080/v1/audio/transcriptions"
        );
        let b = base_url(p, "https://speech.googleapis.com").unwrap();
        assert_eq!(
            endpoint(p, &b, "v1/speech:recognize").unwrap().as_str(),
            "https://speech.googleapis.com/v1/speech:recognize"
        );
        assert!(base_url(p, "api.openai.com/v1").is_err());
        assert!(base_url(p, "ftp://example.com").is_err());
        assert!(base_url(p, "https://example.com/v1?x=1").is_err());
    }

    #[test]
    fn snippets() {
        assert_eq!(snippet(b"  "), "(empty body)");
        assert_eq!(snippet(b" bad gateway\n"), "bad gateway");
        let long = "א".repeat(400);
        let s = snippet(long.as_bytes());
        assert_eq!(s.chars().count(), 301);
    }
}
