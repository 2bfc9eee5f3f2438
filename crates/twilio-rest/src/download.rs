//! Recording media downloads: allow-listed hosts, Basic auth to the recording's own origin
//! only, redirects checked hop by hop, a size cap, a timeout, and waiting for recordings
//! that are not ready yet.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use url::Url;

use crate::allow::{is_twilio_api_host, redact};
use crate::client::{TwilioClient, read_capped, retry_after};
use crate::error::{ApiError, Error};
use crate::types::{RecordingFormat, RecordingSid};

/// Limits for recording downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    max_bytes: u64,
    timeout: Duration,
    not_ready_wait: Duration,
    not_ready_backoff: Duration,
    max_redirects: u32,
}

impl Default for DownloadOptions {
    /// 64 MiB cap (over an hour of Twilio's 8 kHz WAV), 60 s per attempt, wait up to 30 s
    /// for a recording that is not ready (first retry after 500 ms), at most 5 redirects.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            timeout: Duration::from_secs(60),
            not_ready_wait: Duration::from_secs(30),
            not_ready_backoff: Duration::from_millis(500),
            max_redirects: 5,
        }
    }
}

impl DownloadOptions {
    /// Largest accepted media size in bytes.
    #[must_use]
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// Timeout of one download attempt (each request of a redirect chain, body included).
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// How long to keep retrying while Twilio answers 404 (the recording is still being
    /// processed right after the `RecordingStatusCallback`/`<Record action>` request).
    #[must_use]
    pub fn not_ready_wait(mut self, d: Duration) -> Self {
        self.not_ready_wait = d;
        self
    }

    /// First wait after a 404 (doubles each time, at most 4 s).
    #[must_use]
    pub fn not_ready_backoff(mut self, d: Duration) -> Self {
        self.not_ready_backoff = d;
        self
    }

    /// Maximum redirects followed.
    #[must_use]
    pub fn max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }
}

/// A downloaded recording.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingMedia {
    /// The media bytes.
    pub bytes: Vec<u8>,
    /// The answered `Content-Type`, e.g. `audio/x-wav` or `audio/mpeg`.
    pub content_type: Option<String>,
    /// The format asked for.
    pub format: RecordingFormat,
    /// The URL first requested (before any redirect).
    pub url: Url,
}

fn origin_of(u: &Url) -> (String, Option<String>, Option<u16>) {
    (
        u.scheme().to_owned(),
        u.host_str().map(str::to_owned),
        u.port_or_known_default(),
    )
}

enum Attempt {
    Done(reqwest::Response, Url),
    Status(StatusCode, Option<Duration>, Vec<u8>),
}

impl TwilioClient {
    fn allowed(&self, url: &Url) -> bool {
        let base = &self.inner.base_url;
        self.inner.allow.allows(url)
            || (url.username().is_empty()
                && url.password().is_none()
                && origin_of(url) == origin_of(base))
    }

    /// Checks a `RecordingUrl` (as Twilio posts it to a webhook) and returns the media URL
    /// that [`download_recording`](Self::download_recording) would request: the extension
    /// for `format` appended, `http://` upgraded to `https://` for Twilio's API hosts, the
    /// host on the allow-list. Nothing is sent.
    pub fn recording_media_url(
        &self,
        recording_url: &str,
        format: RecordingFormat,
    ) -> Result<Url, Error> {
        let mut url = Url::parse(recording_url.trim()).map_err(|e| {
            Error::invalid(
                "RecordingUrl",
                format!(
                    "{e}: {:?}",
                    recording_url.chars().take(80).collect::<String>()
                ),
            )
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::invalid(
                "RecordingUrl",
                "credentials in the URL are not accepted",
            ));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid("RecordingUrl", "scheme must be https"));
        }
        url.set_fragment(None);
        // Twilio sometimes writes its own media URLs with http://; its API hosts serve HTTPS,
        // and credentials must not travel in clear text.
        if url.scheme() == "http"
            && url.port().is_none()
            && self.inner.allow.includes_twilio()
            && url.host_str().is_some_and(is_twilio_api_host)
        {
            let _ = url.set_scheme("https");
        }
        let path = url.path().trim_end_matches('/').to_owned();
        let stem = [".wav", ".mp3", ".json"]
            .iter()
            .find_map(|ext| path.strip_suffix(ext))
            .unwrap_or(&path)
            .to_owned();
        if stem.is_empty() {
            return Err(Error::invalid("RecordingUrl", "has no path"));
        }
        url.set_path(&format!("{stem}.{}", format.as_str()));
        if !self.allowed(&url) {
            return Err(Error::HostNotAllowed { url: redact(&url) });
        }
        Ok(url)
    }

    /// Downloads a recording's media from the `RecordingUrl` Twilio gave (e.g. in a
    /// `<Record>` action or `RecordingStatusCallback` request), as WAV or MP3.
    ///
    /// The URL must be on the allow-list; Basic auth is sent only to the URL's own origin;
    /// each redirect is checked against the allow-list before it is followed (and gets no
    /// credentials on another origin); 404 is retried with backoff for
    /// [`DownloadOptions::not_ready_wait`]; 429/503 follow the retry policy; bodies over
    /// [`DownloadOptions::max_bytes`] are refused.
    pub async fn download_recording(
        &self,
        recording_url: &str,
        format: RecordingFormat,
    ) -> Result<RecordingMedia, Error> {
        let url = self.recording_media_url(recording_url, format)?;
        let opts = &self.inner.download;
        let start = tokio::time::Instant::now();
        let mut not_ready_backoff = opts.not_ready_backoff;
        let mut retry_no = 0u32;
        loop {
            let (status, ra, body) = match self.attempt(&url).await {
                Ok(Attempt::Done(resp, final_url)) => {
                    let content_type = resp
                        .headers()
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let bytes = read_capped(resp, opts.max_bytes, &final_url).await?;
                    return Ok(RecordingMedia {
                        bytes,
                        content_type,
                        format,
                        url,
                    });
                }
                Ok(Attempt::Status(status, ra, body)) => (status, ra, body),
                Err(Error::Http { url: u, source })
                    if source.is_connect() || source.is_timeout() =>
                {
                    let err = Error::Http { url: u, source };
                    match self.inner.retry.delay(retry_no, None, start.elapsed()) {
                        Some(d) => {
                            tokio::time::sleep(d).await;
                            retry_no += 1;
                            continue;
                        }
                        None => return Err(err),
                    }
                }
                Err(e) => return Err(e),
            };
            let elapsed = start.elapsed();
            match status.as_u16() {
                404 => {
                    let wait = not_ready_backoff
                        .mul_f64(0.5 + 0.5 * crate::retry::jitter())
                        .max(Duration::from_millis(1));
                    if elapsed + wait > opts.not_ready_wait {
                        return Err(Error::NotReady { waited: elapsed });
                    }
                    tracing::debug!(
                        url = %redact(&url),
                        wait_ms = wait.as_millis() as u64,
                        "recording not ready yet (404), waiting"
                    );
                    tokio::time::sleep(wait).await;
                    not_ready_backoff = (not_ready_backoff * 2).min(Duration::from_secs(4));
                }
                429 | 502 | 503 | 504 => {
                    match self.inner.retry.delay(retry_no, ra, elapsed) {
                        Some(d) => {
                            tracing::debug!(
                                url = %redact(&url),
                                status = status.as_u16(),
                                wait_ms = d.as_millis() as u64,
                                "retrying recording download"
                            );
                            tokio::time::sleep(d).await;
                        }
                        None => {
                            return Err(Error::Api(ApiError::from_response(
                                status.as_u16(),
                                &body,
                            )));
                        }
                    }
                    retry_no += 1;
                }
                code => return Err(Error::Api(ApiError::from_response(code, &body))),
            }
        }
    }

    /// Downloads the media of recording `sid` of this account (from the client's base URL).
    pub async fn download_recording_by_sid(
        &self,
        sid: &RecordingSid,
        format: RecordingFormat,
    ) -> Result<RecordingMedia, Error> {
        let url = self.api_url(&format!("Recordings/{sid}"))?;
        self.download_recording(url.as_str(), format).await
    }

    /// One download attempt: the request and any redirects, each hop checked.
    async fn attempt(&self, first: &Url) -> Result<Attempt, Error> {
        let opts = &self.inner.download;
        let credential_origin = origin_of(first);
        let mut url = first.clone();
        for _ in 0..=opts.max_redirects {
            let mut rb = self.inner.http.get(url.clone()).timeout(opts.timeout);
            if origin_of(&url) == credential_origin {
                rb = rb.header(AUTHORIZATION, self.inner.credentials.basic_auth_header());
            }
            let resp = rb.send().await.map_err(|source| Error::Http {
                url: redact(&url),
                source,
            })?;
            // An injected client may have followed redirects on its own.
            if resp.url() != &url && !self.allowed(resp.url()) {
                return Err(Error::HostNotAllowed {
                    url: redact(resp.url()),
                });
            }
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| url.join(loc).ok())
                    .ok_or_else(|| Error::Redirect { url: redact(&url) })?;
                if !self.allowed(&next) {
                    return Err(Error::HostNotAllowed { url: redact(&next) });
                }
                url = next;
                continue;
            }
            if status.is_success() {
                let final_url = resp.url().clone();
                return Ok(Attempt::Done(resp, final_url));
            }
            let ra = retry_after(&resp);
            // Error bodies are small; never read a large one.
            let body = read_capped(resp, 64 << 10, &url).await.unwrap_or_default();
            return Ok(Attempt::Status(status, ra, body));
        }
        Err(Error::Redirect { url: redact(&url) })
    }
}
