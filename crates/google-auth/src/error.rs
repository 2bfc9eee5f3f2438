use std::time::Duration;

/// Everything that can go wrong while authenticating to Google.
///
/// No variant ever carries key material or tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service-account key JSON could not be parsed.
    #[error("the service-account key is not valid JSON")]
    KeyJson(#[source] serde_json::Error),
    /// The service-account key JSON parsed but is not usable (wrong `type`, missing field, bad URL).
    #[error("invalid service-account key: {0}")]
    InvalidKey(String),
    /// The `private_key` of the service-account key is not a PKCS#8 RSA key in PEM.
    #[error("the service-account private_key is not a PKCS#8 RSA private key in PEM")]
    PrivateKey(#[source] rsa::pkcs8::Error),
    /// Signing the JWT failed.
    #[error("could not sign the token request")]
    Sign(#[source] rsa::signature::Error),
    /// The token request failed at the transport level (connection, TLS, body).
    #[error("token request to {url} failed")]
    Http {
        /// The token endpoint.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The token endpoint did not answer within the configured timeout.
    #[error("token request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The token endpoint.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The token endpoint refused the request (OAuth error answer, e.g. `invalid_grant`).
    #[error("token endpoint answered HTTP {status}: {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenEndpoint {
        /// The HTTP status code.
        status: u16,
        /// The OAuth `error` code, or the start of the body when it was not OAuth JSON.
        error: String,
        /// The OAuth `error_description`, if any.
        description: Option<String>,
    },
    /// The token endpoint answered 2xx with something that is not a token response.
    #[error("malformed token response: {0}")]
    MalformedResponse(String),
    /// Neither `GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON` nor `GOOGLE_API_KEY` is set.
    #[error(
        "no Google credentials: set GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON (the whole service-account \
         key JSON) or GOOGLE_API_KEY"
    )]
    MissingCredentials,
    /// The API key contains bytes that cannot be sent in an HTTP header.
    #[error("the API key is not a valid HTTP header value")]
    InvalidApiKey,
}
