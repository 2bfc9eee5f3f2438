//! The crate's error type.

use std::time::Duration;

impl Error {
    /// Whether trying again later may succeed: timeouts, transport failures, broken streams,
    /// HTTP 408, 429 and 5xx. Invalid requests, configuration, authentication and other 4xx
    /// answers will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            #[cfg(any(feature = "google", feature = "openai", feature = "elevenlabs"))]
            Self::Http { .. } | Self::Interrupted { .. } => true,
            Self::Provider { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }
}

/// Everything that can go wrong while synthesizing speech.
///
/// Every provider-related variant names the provider (`"google"`, `"openai"`, `"elevenlabs"`,
/// `"espeak-ng"`, or whatever a custom provider reports). No variant carries an API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be synthesized (empty text, rate out of range, bad language tag…).
    #[error("invalid speech request: {0}")]
    InvalidRequest(String),
    /// A provider was configured with something unusable (e.g. a base URL without a scheme).
    #[error("invalid {provider} configuration: {detail}")]
    Config {
        /// The provider.
        provider: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The provider answered with an HTTP error; `message` is the provider's own error message.
    #[error("{provider} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Provider {
        /// The provider.
        provider: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The provider's error code or status string, when it gave one
        /// (e.g. `INVALID_ARGUMENT`, `invalid_api_key`).
        code: Option<String>,
        /// The provider's error message (or the start of the body when it was not JSON).
        message: String,
    },
    /// The provider did not answer (or did not finish answering) in time.
    #[error("{provider} did not answer within {after:?}")]
    Timeout {
        /// The provider.
        provider: &'static str,
        /// The timeout that expired.
        after: Duration,
    },
    /// The request could not be sent or the answer not received (connection, TLS…).
    #[cfg(any(feature = "google", feature = "openai", feature = "elevenlabs"))]
    #[error("request to {provider} failed")]
    Http {
        /// The provider.
        provider: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The audio stream broke off before its end (connection reset, truncated body).
    #[cfg(any(feature = "google", feature = "openai", feature = "elevenlabs"))]
    #[error("the answer from {provider} broke off before its end")]
    Interrupted {
        /// The provider.
        provider: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered 2xx with something that is not what its API documents
    /// (malformed JSON, bad base64, no audio).
    #[error("malformed answer from {provider}: {detail}")]
    MalformedResponse {
        /// The provider.
        provider: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The provider's audio could not be converted to 8 kHz μ-law.
    #[error("unusable audio from {provider}")]
    Audio {
        /// The provider.
        provider: &'static str,
        /// The codec error.
        #[source]
        source: kav_audio_codec::Error,
    },
    /// Authentication to Google failed.
    #[cfg(feature = "google")]
    #[error("{provider} authentication failed")]
    Auth {
        /// The provider.
        provider: &'static str,
        /// The authentication error.
        #[source]
        source: kav_google_auth::Error,
    },
    /// The espeak-ng program was not found.
    #[error(
        "the `{program}` program was not found: install the Debian package `espeak-ng` \
         (apt-get install espeak-ng) or set the program path"
    )]
    EspeakNotInstalled {
        /// The program that was looked for.
        program: String,
    },
    /// A local synthesizer process failed (non-zero exit, unknown voice…).
    #[error("{provider} failed: {detail}")]
    Process {
        /// The provider.
        provider: &'static str,
        /// Exit status and the start of its error output.
        detail: String,
    },
    /// Starting or talking to a local synthesizer process failed.
    #[error("could not run {provider}")]
    Io {
        /// The provider.
        provider: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors() {
        let provider = |status| Error::Provider {
            provider: "p",
            status,
            code: None,
            message: String::new(),
        };
        assert!(provider(429).is_retryable());
        assert!(provider(503).is_retryable());
        assert!(!provider(400).is_retryable());
        assert!(!provider(401).is_retryable());
        assert!(
            Error::Timeout {
                provider: "p",
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        assert!(!Error::InvalidRequest("x".into()).is_retryable());
    }
}
