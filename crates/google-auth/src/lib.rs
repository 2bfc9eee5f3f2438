#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod jwt;
mod service_account;

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

pub use error::Error;
pub use service_account::{ServiceAccountAuth, ServiceAccountKey};

/// The OAuth scope that grants access to every Google Cloud API the key's roles allow.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The environment variable that, by kav convention, holds a whole service-account key JSON.
pub const SERVICE_ACCOUNT_JSON_ENV: &str = "GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON";

/// The environment variable read for an API key when there is no service-account JSON.
pub const API_KEY_ENV: &str = "GOOGLE_API_KEY";

/// The header Google APIs read an API key from.
pub const API_KEY_HEADER: &str = "x-goog-api-key";

/// How a request to a Google Cloud API is authenticated.
///
/// Cloning is cheap and clones share one token cache.
#[derive(Clone)]
#[non_exhaustive]
pub enum GoogleAuth {
    /// A service account: an RS256-signed JWT is exchanged for an OAuth access token, which is
    /// cached and sent as `Authorization: Bearer …`.
    ServiceAccount(ServiceAccountAuth),
    /// An API key, sent as `x-goog-api-key: …`.
    ApiKey(SecretString),
}

impl GoogleAuth {
    /// Authentication with a service account, from the whole key JSON (as downloaded from the
    /// Cloud console, or as held in `GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON`).
    ///
    /// `http` is the client used for the token requests.
    ///
    /// # Errors
    ///
    /// [`Error::KeyJson`] or [`Error::InvalidKey`] when the JSON is not a service-account key,
    /// [`Error::PrivateKey`] when its `private_key` is not a PKCS#8 RSA key in PEM.
    pub fn from_service_account_json(json: &str, http: reqwest::Client) -> Result<Self, Error> {
        Ok(Self::ServiceAccount(ServiceAccountAuth::from_json(
            json, http,
        )?))
    }

    /// Authentication with an API key.
    pub fn api_key(key: SecretString) -> Self {
        Self::ApiKey(key)
    }

    /// Authentication from the environment: the service-account JSON in
    /// `GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON`, else the API key in `GOOGLE_API_KEY`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingCredentials`] when neither is set (or both are blank), and the errors of
    /// [`from_service_account_json`](Self::from_service_account_json).
    pub fn from_env(http: reqwest::Client) -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok(), http)
    }

    /// As [`from_env`](Self::from_env), reading variables through `lookup` (for tests and
    /// configuration systems other than the process environment).
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let set = |name| lookup(name).filter(|v: &String| !v.trim().is_empty());
        if let Some(json) = set(SERVICE_ACCOUNT_JSON_ENV) {
            return Self::from_service_account_json(&json, http);
        }
        if let Some(key) = set(API_KEY_ENV) {
            return Ok(Self::api_key(SecretString::from(key.trim().to_owned())));
        }
        Err(Error::MissingCredentials)
    }

    /// Sends token requests to `url` instead of the key's `token_uri` (for tests and proxies).
    /// Has no effect on API-key authentication.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when `url` is not an absolute `http`/`https` URL.
    pub fn with_token_url(self, url: &str) -> Result<Self, Error> {
        match self {
            Self::ServiceAccount(sa) => Ok(Self::ServiceAccount(sa.with_token_url(url)?)),
            other => Ok(other),
        }
    }

    /// Reads the time from `clock` instead of [`SystemTime::now`] (for tests).
    /// Has no effect on API-key authentication.
    #[must_use]
    pub fn with_clock(self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        match self {
            Self::ServiceAccount(sa) => Self::ServiceAccount(sa.with_clock(clock)),
            other => other,
        }
    }

    /// Limits each token request to `timeout` (default 10 s).
    /// Has no effect on API-key authentication.
    #[must_use]
    pub fn with_token_timeout(self, timeout: Duration) -> Self {
        match self {
            Self::ServiceAccount(sa) => Self::ServiceAccount(sa.with_timeout(timeout)),
            other => other,
        }
    }

    /// The `project_id` of the service-account key, if it has one.
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Self::ServiceAccount(sa) => sa.project_id(),
            Self::ApiKey(_) => None,
        }
    }

    /// Adds the credentials to `req`: `Authorization: Bearer <token>` for a service account
    /// (fetching or refreshing the token first when needed), `x-goog-api-key: <key>` for an
    /// API key. The header is marked sensitive so that it is not logged.
    ///
    /// Cancel-safe: dropping the future leaves the cache consistent (another caller refreshes).
    ///
    /// # Errors
    ///
    /// For a service account, any error of [`ServiceAccountAuth::access_token`];
    /// [`Error::InvalidApiKey`] when the API key cannot be an HTTP header value.
    pub async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, Error> {
        match self {
            Self::ServiceAccount(sa) => {
                let token = sa.access_token().await?;
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                    .map_err(|_| {
                        Error::MalformedResponse("access_token is not a valid header value".into())
                    })?;
                value.set_sensitive(true);
                Ok(req.header(reqwest::header::AUTHORIZATION, value))
            }
            Self::ApiKey(key) => {
                let mut value =
                    HeaderValue::try_from(key.expose_secret()).map_err(|_| Error::InvalidApiKey)?;
                value.set_sensitive(true);
                Ok(req.header(API_KEY_HEADER, value))
            }
        }
    }
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ServiceAccount(sa) => f.debug_tuple("ServiceAccount").field(sa).finish(),
            Self::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
        }
    }
}
