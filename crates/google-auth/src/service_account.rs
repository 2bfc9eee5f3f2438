//! Service-account key parsing and the cached, single-flight OAuth token.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey as _;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::Mutex;

use crate::jwt::{Assertion, signing_key};
use crate::{CLOUD_PLATFORM_SCOPE, Error};

/// Google's OAuth token endpoint, used when a key has no `token_uri`.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The JWT-bearer grant type (RFC 7523).
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the signed assertion; Google accepts at most one hour.
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// A token is refreshed this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Default timeout of one token request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a token-endpoint answer that is read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The public parts of a service-account key (the private key is kept inside
/// [`ServiceAccountAuth`] and never exposed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceAccountKey {
    /// `client_email`: the service account's identity, the JWT issuer.
    pub client_email: String,
    /// `private_key_id`: sent as the JWT `kid`.
    pub private_key_id: Option<String>,
    /// `token_uri`: where assertions are exchanged for tokens.
    pub token_uri: String,
    /// `project_id`, if present.
    pub project_id: Option<String>,
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
    project_id: Option<String>,
}

#[derive(Clone)]
struct Config {
    key: ServiceAccountKey,
    token_url: reqwest::Url,
    scope: String,
    signer: SigningKey<Sha256>,
    http: reqwest::Client,
    timeout: Duration,
    clock: Clock,
}

struct CachedToken {
    token: SecretString,
    /// The token is used until this instant (its expiry minus [`REFRESH_MARGIN`]).
    refresh_at: SystemTime,
}

/// Service-account authentication: signs an RS256 JWT with the key, exchanges it at the token
/// endpoint for an access token, and caches the token until shortly before it expires.
///
/// Refreshes are single-flight: concurrent callers wait for one token request and share its
/// result. Cloning is cheap; clones share the cache.
#[derive(Clone)]
pub struct ServiceAccountAuth {
    config: Arc<Config>,
    cache: Arc<Mutex<Option<CachedToken>>>,
}

impl ServiceAccountAuth {
    /// Parses a service-account key JSON (`type` must be `service_account`; `client_email` and
    /// `private_key` are required; `token_uri` defaults to Google's endpoint).
    ///
    /// # Errors
    ///
    /// [`Error::KeyJson`], [`Error::InvalidKey`] or [`Error::PrivateKey`].
    pub fn from_json(json: &str, http: reqwest::Client) -> Result<Self, Error> {
        let raw: RawKey = serde_json::from_str(json).map_err(Error::KeyJson)?;
        match raw.kind.as_deref() {
            Some("service_account") => {}
            Some(other) => {
                return Err(Error::InvalidKey(format!(
                    "`type` is {other:?}, expected \"service_account\""
                )));
            }
            None => return Err(Error::InvalidKey("missing field `type`".into())),
        }
        let client_email = raw
            .client_email
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Error::InvalidKey("missing field `client_email`".into()))?;
        let pem = raw
            .private_key
            .ok_or_else(|| Error::InvalidKey("missing field `private_key`".into()))?;
        let private_key = RsaPrivateKey::from_pkcs8_pem(pem.trim()).map_err(Error::PrivateKey)?;
        drop(pem);
        let token_uri = raw
            .token_uri
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        let token_url = parse_http_url(&token_uri, "token_uri")?;
        Ok(Self {
            config: Arc::new(Config {
                key: ServiceAccountKey {
                    client_email,
                    private_key_id: raw.private_key_id.filter(|k| !k.is_empty()),
                    token_uri,
                    project_id: raw.project_id.filter(|p| !p.is_empty()),
                },
                token_url,
                scope: CLOUD_PLATFORM_SCOPE.to_owned(),
                signer: signing_key(private_key),
                http,
                timeout: DEFAULT_TIMEOUT,
                clock: Arc::new(SystemTime::now),
            }),
            cache: Arc::new(Mutex::new(None)),
        })
    }

    fn reconfigure(self, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        change(&mut config);
        // A changed configuration invalidates cached tokens.
        Self {
            config: Arc::new(config),
            cache: Arc::new(Mutex::new(None)),
        }
    }

    /// Sends token requests to `url` instead of the key's `token_uri`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when `url` is not an absolute `http`/`https` URL.
    pub fn with_token_url(self, url: &str) -> Result<Self, Error> {
        let url = parse_http_url(url, "token URL")?;
        Ok(self.reconfigure(|c| c.token_url = url))
    }

    /// Requests these scopes (space-separated in the JWT) instead of `cloud-platform`.
    #[must_use]
    pub fn with_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        self.reconfigure(|c| c.scope = scope)
    }

    /// Limits each token request to `timeout` (default 10 s).
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        self.reconfigure(|c| c.timeout = timeout)
    }

    /// Reads the time from `clock` instead of [`SystemTime::now`]; it drives the JWT `iat`/`exp`
    /// and the cache expiry.
    #[must_use]
    pub fn with_clock(self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        let clock: Clock = Arc::new(clock);
        self.reconfigure(|c| c.clock = clock)
    }

    /// The public parts of the key.
    pub fn key(&self) -> &ServiceAccountKey {
        &self.config.key
    }

    /// The key's `project_id`, if it has one.
    pub fn project_id(&self) -> Option<&str> {
        self.config.key.project_id.as_deref()
    }

    /// A valid access token: the cached one, or a new one when there is none or it expires
    /// within a minute. Concurrent callers share one refresh.
    ///
    /// Cancel-safe: a caller dropped mid-refresh leaves the cache untouched.
    ///
    /// # Errors
    ///
    /// [`Error::Sign`], [`Error::Http`], [`Error::Timeout`], [`Error::TokenEndpoint`] or
    /// [`Error::MalformedResponse`].
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        let mut cache = self.cache.lock().await;
        let now = (self.config.clock)();
        if let Some(cached) = cache.as_ref()
            && now < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let fresh = self.fetch(now).await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token, so that the next call fetches a new one (e.g. after a 401).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    async fn fetch(&self, now: SystemTime) -> Result<CachedToken, Error> {
        let c = &*self.config;
        let issued_at = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let assertion = Assertion {
            issuer: &c.key.client_email,
            key_id: c.key.private_key_id.as_deref(),
            scope: &c.scope,
            audience: &c.key.token_uri,
            issued_at,
            lifetime_secs: ASSERTION_LIFETIME_SECS,
        }
        .sign(&c.signer)?;
        let url = c.token_url.as_str();
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                Error::Timeout {
                    url: url.to_owned(),
                    timeout: c.timeout,
                }
            } else {
                Error::Http {
                    url: url.to_owned(),
                    source,
                }
            }
        };
        let exchange = async {
            let mut response = c
                .http
                .post(c.token_url.clone())
                .timeout(c.timeout)
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&[("grant_type", GRANT_TYPE), ("assertion", &assertion)])
                .send()
                .await
                .map_err(transport)?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_RESPONSE_BYTES {
                    break;
                }
            }
            Ok::<_, Error>((status, body))
        };
        // reqwest's own timeout covers the whole exchange; this outer one also covers a
        // client whose body stream never ends.
        let (status, body) = tokio::time::timeout(c.timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                url: url.to_owned(),
                timeout: c.timeout,
            })??;
        if !status.is_success() {
            return Err(endpoint_error(status.as_u16(), &body));
        }
        let answer: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::MalformedResponse(format!("not a token response: {e}")))?;
        if let Some(kind) = &answer.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(Error::MalformedResponse(format!(
                "token_type is {kind:?}, expected \"Bearer\""
            )));
        }
        if answer.access_token.is_empty() {
            return Err(Error::MalformedResponse("empty access_token".into()));
        }
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(ASSERTION_LIFETIME_SECS));
        tracing::debug!(
            client_email = %c.key.client_email,
            expires_in = lifetime.as_secs(),
            "fetched a Google access token"
        );
        Ok(CachedToken {
            token: SecretString::from(answer.access_token),
            refresh_at: now + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: serde_json::Value,
    error_description: Option<String>,
}

fn endpoint_error(status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => {
            let error = match e.error {
                serde_json::Value::String(s) => s,
                // Some Google endpoints answer `{"error": {"code", "message", "status"}}`.
                serde_json::Value::Object(o) => {
                    let message = o.get("message").and_then(|v| v.as_str());
                    return Error::TokenEndpoint {
                        status,
                        error: o
                            .get("status")
                            .and_then(|v| v.as_str())
                            .unwrap_or("error")
                            .to_owned(),
                        description: message.map(str::to_owned),
                    };
                }
                other => other.to_string(),
            };
            Error::TokenEndpoint {
                status,
                error,
                description: e.error_description,
            }
        }
        Err(_) => Error::TokenEndpoint {
            status,
            error: snippet(body),
            description: None,
        },
    }
}

/// The start of a non-JSON body, for error messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

fn parse_http_url(url: &str, what: &str) -> Result<reqwest::Url, Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::InvalidKey(format!("{what} {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::InvalidKey(format!(
            "{what} {url:?} is not an absolute http(s) URL"
        )));
    }
    Ok(parsed)
}

impl fmt::Debug for ServiceAccountAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &*self.config;
        f.debug_struct("ServiceAccountAuth")
            .field("client_email", &c.key.client_email)
            .field("private_key_id", &c.key.private_key_id)
            .field("private_key", &"[REDACTED]")
            .field("token_url", &c.token_url.as_str())
            .field("scope", &c.scope)
            .field("timeout", &c.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn token_endpoint_errors_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = endpoint_error(400, &body);
            let _ = serde_json::from_slice::<TokenResponse>(&body);
        }

        #[test]
        fn json_token_endpoint_errors_never_panic(s in "\\PC{0,100}") {
            for body in [
                format!("{{\"error\": {s:?}, \"error_description\": {s:?}}}"),
                format!("{{\"error\": {{\"status\": {s:?}, \"message\": 3}}}}"),
                format!("{{\"error\": [{s:?}]}}"),
            ] {
                let e = endpoint_error(401, body.as_bytes());
                let is_endpoint_error = matches!(e, Error::TokenEndpoint { status: 401, .. });
                proptest::prop_assert!(is_endpoint_error);
            }
        }
    }

    #[test]
    fn snippets_are_cut_on_char_boundaries() {
        let long = "ש".repeat(500);
        let s = snippet(long.as_bytes());
        assert!(s.ends_with('…'));
        assert!(s.len() <= 200 + '…'.len_utf8());
    }
}
