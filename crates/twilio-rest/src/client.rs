//! The client: configuration, request preparation, sending with retries.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::allow::{HostAllowList, redact};
use crate::auth::Credentials;
use crate::download::DownloadOptions;
use crate::error::{ApiError, Error};
use crate::models::{Call, Message, Recording};
use crate::params::{CreateCall, CreateMessage, Form, UpdateCall};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::types::{AccountSid, CallSid, RecordingSid};

/// Twilio's default API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// Largest JSON answer read from the API; Twilio's resources are a few kilobytes.
const MAX_JSON_BYTES: u64 = 1 << 20;

/// What a retry may repeat: see [`RetryPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Create or change: retried only when it cannot have reached Twilio (or was refused).
    Unsafe,
    /// Read or delete: also retried on timeouts and gateway errors.
    Idempotent,
}

/// A request ready to send, for inspection or a dry run. `Display` prints method, URL, the
/// Basic-auth user and the form body, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    method: Method,
    url: Url,
    form: Option<Form>,
    auth_user: String,
    retry: Retry,
}

impl PreparedRequest {
    /// `GET`, `POST` or `DELETE`.
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// The absolute request URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The form fields, in sending order (keys repeat for list parameters).
    pub fn form(&self) -> &[(&'static str, String)] {
        self.form.as_deref().unwrap_or(&[])
    }

    /// The `application/x-www-form-urlencoded` body, if the request has one.
    pub fn form_body(&self) -> Option<String> {
        self.form.as_ref().map(|f| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(f.iter().map(|(k, v)| (*k, v.as_str())))
                .finish()
        })
    }

    /// The Basic-auth user name (Account SID or API key SID).
    pub fn auth_user(&self) -> &str {
        &self.auth_user
    }
}

impl fmt::Display for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        writeln!(f, "Authorization: Basic {}:<secret>", self.auth_user)?;
        if let Some(body) = self.form_body() {
            writeln!(f, "Content-Type: application/x-www-form-urlencoded")?;
            writeln!(f)?;
            writeln!(f, "{body}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) credentials: Credentials,
    pub(crate) base_url: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pub(crate) request_timeout: Duration,
    pub(crate) allow: HostAllowList,
    pub(crate) download: DownloadOptions,
}

/// A Twilio REST client for calls, messages and recordings. Cheap to clone (shared inside).
///
/// ```
/// use kav_twilio_rest::{Credentials, TwilioClient, AccountSid};
/// use secrecy::SecretString;
///
/// let creds = Credentials::auth_token(
///     AccountSid::new("AC0123456789abcdef0123456789abcdef")?,
///     SecretString::from("token"),
/// )?;
/// let client = TwilioClient::builder(creds).region("au1").edge("sydney").build()?;
/// assert_eq!(client.base_url().as_str(), "https://api.sydney.au1.twilio.com/");
/// # Ok::<(), kav_twilio_rest::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TwilioClient {
    pub(crate) inner: Arc<Inner>,
}

/// Builds a [`TwilioClient`].
#[derive(Debug)]
#[must_use]
pub struct TwilioClientBuilder {
    credentials: Credentials,
    base_url: Option<String>,
    region: Option<String>,
    edge: Option<String>,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    request_timeout: Duration,
    allow: HostAllowList,
    download: DownloadOptions,
}

/// A `reqwest` client configured as this crate expects: no automatic redirects (the crate
/// follows redirects itself, checking each target against the allow-list) and a 10 s connect
/// timeout. Start from this when you inject your own client.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
}

fn check_region_label(what: &'static str, s: &str) -> Result<(), Error> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!("expected a lowercase DNS label like au1 or sydney, got {s:?}"),
        ))
    }
}

impl TwilioClientBuilder {
    /// Overrides the API base URL (default `https://api.twilio.com`), e.g. a local test
    /// server. When set, [`region`](Self::region) and [`edge`](Self::edge) are ignored.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Twilio region (`us1`, `ie1`, `au1`, …): requests go to `api.{region}.twilio.com`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Twilio edge location (`ashburn`, `dublin`, `sydney`, …): requests go to
    /// `api.{edge}.{region}.twilio.com` (region `us1` when none is set).
    pub fn edge(mut self, edge: impl Into<String>) -> Self {
        self.edge = Some(edge.into());
        self
    }

    /// Uses this HTTP client (connection pool, proxy, TLS settings). It should not follow
    /// redirects itself: build it from [`http_client_builder`]. If it does, a redirect to a
    /// host outside the allow-list still fails the download (after `reqwest` has sent it
    /// there without credentials).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Retry policy for API requests and downloads.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Timeout of one API request attempt, body included (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Hosts recordings may be downloaded from (default: Twilio's API hosts).
    pub fn allow_list(mut self, allow: HostAllowList) -> Self {
        self.allow = allow;
        self
    }

    /// Size cap, timeout and not-ready waiting for recording downloads.
    pub fn download_options(mut self, options: DownloadOptions) -> Self {
        self.download = options;
        self
    }

    /// Validates the configuration and builds the client.
    pub fn build(self) -> Result<TwilioClient, Error> {
        let base = match (&self.base_url, &self.region, &self.edge) {
            (Some(b), _, _) => b.clone(),
            (None, None, None) => DEFAULT_BASE_URL.to_owned(),
            (None, region, edge) => {
                if let Some(r) = region {
                    check_region_label("region", r)?;
                }
                if let Some(e) = edge {
                    check_region_label("edge", e)?;
                }
                // As Twilio's helper libraries do: an edge alone implies region us1.
                let region = region.as_deref().unwrap_or("us1");
                match edge {
                    Some(e) => format!("https://api.{e}.{region}.twilio.com"),
                    None => format!("https://api.{region}.twilio.com"),
                }
            }
        };
        let base_url =
            Url::parse(&base).map_err(|e| Error::invalid("base URL", format!("{base:?}: {e}")))?;
        if !matches!(base_url.scheme(), "http" | "https")
            || base_url.host_str().is_none()
            || base_url.query().is_some()
            || !base_url.username().is_empty()
            || base_url.password().is_some()
        {
            return Err(Error::invalid(
                "base URL",
                format!("{base:?}: expected http(s)://host[:port][/prefix] without credentials"),
            ));
        }
        let http = match self.http {
            Some(c) => c,
            None => http_client_builder()
                .build()
                .map_err(|source| Error::Http {
                    url: "(building the HTTP client)".to_owned(),
                    source,
                })?,
        };
        Ok(TwilioClient {
            inner: Arc::new(Inner {
                credentials: self.credentials,
                base_url,
                http,
                retry: self.retry,
                request_timeout: self.request_timeout,
                allow: self.allow,
                download: self.download,
            }),
        })
    }
}

/// A response whose body has been read (capped).
pub(crate) struct ReadResponse {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

/// Reads a body, refusing more than `limit` bytes (by `Content-Length` first, then while
/// streaming).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    limit: u64,
    url: &Url,
) -> Result<Vec<u8>, Error> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(Error::TooLarge { limit });
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(Error::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(source) => {
                return Err(Error::Http {
                    url: redact(url),
                    source,
                });
            }
        }
    }
}

pub(crate) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

impl TwilioClient {
    /// A client for `credentials` with every default (Twilio's base URL, retries, allow-list).
    pub fn new(credentials: Credentials) -> Result<Self, Error> {
        Self::builder(credentials).build()
    }

    /// Starts building a client.
    pub fn builder(credentials: Credentials) -> TwilioClientBuilder {
        TwilioClientBuilder {
            credentials,
            base_url: None,
            region: None,
            edge: None,
            http: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            allow: HostAllowList::default(),
            download: DownloadOptions::default(),
        }
    }

    /// The account whose resources this client uses.
    pub fn account_sid(&self) -> &AccountSid {
        self.inner.credentials.account_sid()
    }

    /// The API base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    pub(crate) fn api_url(&self, rest: &str) -> Result<Url, Error> {
        let base = self.inner.base_url.as_str().trim_end_matches('/');
        let s = format!(
            "{base}/2010-04-01/Accounts/{}/{rest}",
            self.inner.credentials.account_sid()
        );
        Url::parse(&s).map_err(|e| Error::invalid("request URL", format!("{s}: {e}")))
    }

    fn prepared(
        &self,
        method: Method,
        url: Url,
        form: Option<Form>,
        retry: Retry,
    ) -> PreparedRequest {
        PreparedRequest {
            method,
            url,
            form,
            auth_user: self.inner.credentials.username().to_owned(),
            retry,
        }
    }

    /// The request [`create_call`](Self::create_call) would send.
    pub fn prepare_create_call(&self, params: &CreateCall) -> Result<PreparedRequest, Error> {
        Ok(self.prepared(
            Method::POST,
            self.api_url("Calls.json")?,
            Some(params.to_form()?),
            Retry::Unsafe,
        ))
    }

    /// The request [`update_call`](Self::update_call) would send.
    pub fn prepare_update_call(
        &self,
        sid: &CallSid,
        params: &UpdateCall,
    ) -> Result<PreparedRequest, Error> {
        Ok(self.prepared(
            Method::POST,
            self.api_url(&format!("Calls/{sid}.json"))?,
            Some(params.to_form()?),
            Retry::Unsafe,
        ))
    }

    /// The request [`fetch_call`](Self::fetch_call) would send.
    pub fn prepare_fetch_call(&self, sid: &CallSid) -> Result<PreparedRequest, Error> {
        Ok(self.prepared(
            Method::GET,
            self.api_url(&format!("Calls/{sid}.json"))?,
            None,
            Retry::Idempotent,
        ))
    }

    /// The request [`create_message`](Self::create_message) would send.
    pub fn prepare_create_message(&self, params: &CreateMessage) -> Result<PreparedRequest, Error> {
        Ok(self.prepared(
            Method::POST,
            self.api_url("Messages.json")?,
            Some(params.to_form()?),
            Retry::Unsafe,
        ))
    }

    /// The request [`fetch_recording`](Self::fetch_recording) would send.
    pub fn prepare_fetch_recording(&self, sid: &RecordingSid) -> Result<PreparedRequest, Error> {
        Ok(self.prepared(
            Method::GET,
            self.api_url(&format!("Recordings/{sid}.json"))?,
            None,
            Retry::Idempotent,
        ))
    }

    /// The request [`delete_recording`](Self::delete_recording) would send.
    pub fn prepare_delete_recording(&self, sid: &RecordingSid) -> Result<PreparedRequest, Error> {
        Ok(self.prepared(
            Method::DELETE,
            self.api_url(&format!("Recordings/{sid}.json"))?,
            None,
            Retry::Idempotent,
        ))
    }

    /// Places an outbound call. Never retried once it may have reached Twilio.
    pub async fn create_call(&self, params: &CreateCall) -> Result<Call, Error> {
        let req = self.prepare_create_call(params)?;
        self.execute_json(&req).await
    }

    /// Updates a live call: hang up, cancel, or redirect to new TwiML.
    pub async fn update_call(&self, sid: &CallSid, params: &UpdateCall) -> Result<Call, Error> {
        let req = self.prepare_update_call(sid, params)?;
        self.execute_json(&req).await
    }

    /// Hangs up a call in progress (`Status=completed`).
    pub async fn hang_up(&self, sid: &CallSid) -> Result<Call, Error> {
        self.update_call(sid, &UpdateCall::hang_up()).await
    }

    /// Fetches a call.
    pub async fn fetch_call(&self, sid: &CallSid) -> Result<Call, Error> {
        let req = self.prepare_fetch_call(sid)?;
        self.execute_json(&req).await
    }

    /// Sends an SMS/MMS. Never retried once it may have reached Twilio.
    pub async fn create_message(&self, params: &CreateMessage) -> Result<Message, Error> {
        let req = self.prepare_create_message(params)?;
        self.execute_json(&req).await
    }

    /// Fetches a recording's metadata.
    pub async fn fetch_recording(&self, sid: &RecordingSid) -> Result<Recording, Error> {
        let req = self.prepare_fetch_recording(sid)?;
        self.execute_json(&req).await
    }

    /// Deletes a recording (its media and metadata).
    pub async fn delete_recording(&self, sid: &RecordingSid) -> Result<(), Error> {
        let req = self.prepare_delete_recording(sid)?;
        self.execute(&req).await.map(|_| ())
    }

    /// Sends a prepared request and parses the JSON answer.
    pub async fn execute_json<T: DeserializeOwned>(
        &self,
        req: &PreparedRequest,
    ) -> Result<T, Error> {
        let resp = self.execute(req).await?;
        serde_json::from_slice(&resp.body).map_err(|source| Error::UnexpectedBody {
            url: redact(&req.url),
            status: resp.status.as_u16(),
            source,
        })
    }

    async fn execute(&self, req: &PreparedRequest) -> Result<ReadResponse, Error> {
        let inner = &*self.inner;
        let start = tokio::time::Instant::now();
        let body = req.form_body();
        let mut retry_no = 0u32;
        loop {
            let mut rb = inner
                .http
                .request(req.method.clone(), req.url.clone())
                .header(AUTHORIZATION, inner.credentials.basic_auth_header())
                .timeout(inner.request_timeout);
            if let Some(b) = &body {
                rb = rb
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    )
                    .body(b.clone());
            }
            let outcome = rb.send().await;
            let elapsed = start.elapsed();
            let (wait, err) = match outcome {
                Err(source) => {
                    let retryable = source.is_connect()
                        || (req.retry == Retry::Idempotent && source.is_timeout());
                    let err = Error::Http {
                        url: redact(&req.url),
                        source,
                    };
                    if !retryable {
                        return Err(err);
                    }
                    (inner.retry.delay(retry_no, None, elapsed), err)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let ra = retry_after(&resp);
                    let body = read_capped(resp, MAX_JSON_BYTES, &req.url).await?;
                    if status.is_success() {
                        return Ok(ReadResponse { status, body });
                    }
                    // A DELETE repeated after an attempt that may have succeeded.
                    if status == StatusCode::NOT_FOUND
                        && req.method == Method::DELETE
                        && retry_no > 0
                    {
                        return Ok(ReadResponse { status, body });
                    }
                    let retryable = match status.as_u16() {
                        429 | 503 => true,
                        502 | 504 => req.retry == Retry::Idempotent,
                        _ => false,
                    };
                    let err = Error::Api(ApiError::from_response(status.as_u16(), &body));
                    if !retryable {
                        return Err(err);
                    }
                    (inner.retry.delay(retry_no, ra, elapsed), err)
                }
            };
            match wait {
                Some(d) => {
                    tracing::debug!(
                        method = %req.method,
                        url = %redact(&req.url),
                        error = %err,
                        wait_ms = d.as_millis() as u64,
                        "retrying Twilio request"
                    );
                    tokio::time::sleep(d).await;
                }
                None => return Err(err),
            }
            retry_no += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::CallInstructions;
    use crate::types::{CallEvent, PhoneNumber};
    use secrecy::SecretString;

    fn client(builder: impl FnOnce(TwilioClientBuilder) -> TwilioClientBuilder) -> TwilioClient {
        let creds = Credentials::auth_token(
            AccountSid::new("AC0123456789abcdef0123456789abcdef").unwrap(),
            SecretString::from("s3cret"),
        )
        .unwrap();
        builder(TwilioClient::builder(creds)).build().unwrap()
    }

    #[test]
    fn base_urls() {
        assert_eq!(client(|b| b).base_url().as_str(), "https://api.twilio.com/");
        assert_eq!(
            client(|b| b.region("ie1")).base_url().as_str(),
            "https://api.ie1.twilio.com/"
        );
        assert_eq!(
            client(|b| b.edge("dublin")).base_url().as_str(),
            "https://api.dublin.us1.twilio.com/"
        );
        let c = client(|b| b.base_url("http://127.0.0.1:9999/prefix/"));
        let req = c
            .prepare_fetch_call(&CallSid::new("CA0123456789abcdef0123456789abcdef").unwrap())
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "http://127.0.0.1:9999/prefix/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/CA0123456789abcdef0123456789abcdef.json"
        );
        let creds = || {
            Credentials::auth_token(
                AccountSid::new("AC0123456789abcdef0123456789abcdef").unwrap(),
                SecretString::from("s3cret"),
            )
            .unwrap()
        };
        assert!(
            TwilioClient::builder(creds())
                .region("AU1")
                .build()
                .is_err()
        );
        assert!(TwilioClient::builder(creds()).edge("a.b").build().is_err());
        assert!(
            TwilioClient::builder(creds())
                .base_url("api.twilio.com")
                .build()
                .is_err()
        );
        assert!(
            TwilioClient::builder(creds())
                .base_url("https://u:p@api.twilio.com")
                .build()
                .is_err()
        );
    }

    #[test]
    fn dry_run_display_has_no_secret() {
        let c = client(|b| b);
        let req = c
            .prepare_create_call(
                &CreateCall::new(
                    PhoneNumber::new("+14155550100").unwrap(),
                    PhoneNumber::new("+14155550199").unwrap(),
                    CallInstructions::url(Url::parse("https://example.com/voice?a=1&b=2").unwrap()),
                )
                .status_callback(Url::parse("https://example.com/status").unwrap())
                .status_callback_events([CallEvent::Ringing, CallEvent::Completed]),
            )
            .unwrap();
        let shown = req.to_string();
        assert_eq!(
            shown,
            "POST https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json\n\
             Authorization: Basic AC0123456789abcdef0123456789abcdef:<secret>\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             To=%2B14155550100&From=%2B14155550199&Url=https%3A%2F%2Fexample.com%2Fvoice%3Fa%3D1%26b%3D2&StatusCallback=https%3A%2F%2Fexample.com%2Fstatus&StatusCallbackEvent=ringing&StatusCallbackEvent=completed\n"
        );
        assert!(!shown.contains("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
