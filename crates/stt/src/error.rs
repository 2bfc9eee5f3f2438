use std::fmt;
use std::time::Duration;

/// A boxed error used as the `source` of transport and authentication failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which speech-to-text service an error or a transcript comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// OpenAI's `/audio/transcriptions` (Whisper, gpt-4o-transcribe).
    OpenAi,
    /// Google Cloud Speech-to-Text.
    Google,
    /// Another implementation of the traits, by name.
    Other(&'static str),
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OpenAi => f.write_str("OpenAI"),
            Self::Google => f.write_str("Google Speech-to-Text"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

/// Everything that can go wrong while transcribing.
///
/// Every provider failure names the provider; answers from the provider carry its HTTP status
/// and its own error message. No variant ever carries an API key or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The clip cannot be sent (bad sample rate, empty, longer or larger than the provider takes).
    #[error("invalid audio clip: {0}")]
    InvalidClip(String),
    /// A WAV file could not be read (see [`AudioClip::from_wav`](crate::AudioClip::from_wav)).
    #[error("cannot read the WAV file")]
    Wav(#[source] kav_audio_codec::Error),
    /// The provider is configured wrongly (bad base URL, bad language code, …).
    #[error("invalid {provider} configuration: {message}")]
    Config {
        /// The provider being configured.
        provider: Provider,
        /// What is wrong.
        message: String,
    },
    /// The provider answered with an error status.
    #[error("{provider} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Api {
        /// The provider that answered.
        provider: Provider,
        /// The HTTP status code.
        status: u16,
        /// The provider's own error code (OpenAI `error.code` or `error.type`, Google
        /// `error.status`), when the body had one.
        code: Option<String>,
        /// The provider's own error message (or the start of the body when it was not the
        /// provider's error JSON).
        message: String,
        /// The delay the provider asked for in `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The provider did not answer completely within the configured timeout.
    #[error("{provider} did not answer within {timeout:?}")]
    Timeout {
        /// The provider.
        provider: Provider,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The request could not be sent (connection refused, TLS, DNS, …).
    #[error("could not send the request to {provider}")]
    Request {
        /// The provider.
        provider: Provider,
        /// The transport error.
        #[source]
        source: BoxError,
    },
    /// The answer's body could not be read to its end (connection closed in the middle, …).
    #[error("the answer of {provider} (HTTP {status}) was cut off or unreadable")]
    ResponseBody {
        /// The provider.
        provider: Provider,
        /// The HTTP status of the answer.
        status: u16,
        /// The transport error.
        #[source]
        source: BoxError,
    },
    /// The provider answered success with a body that is not what its API documents.
    #[error("{provider} sent a malformed answer (HTTP {status}): {detail}")]
    MalformedResponse {
        /// The provider.
        provider: Provider,
        /// The HTTP status of the answer.
        status: u16,
        /// What was wrong with it.
        detail: String,
    },
    /// Getting credentials for the provider failed (e.g. Google's token endpoint refused the key).
    #[error("could not authenticate to {provider}")]
    Auth {
        /// The provider.
        provider: Provider,
        /// The authentication error.
        #[source]
        source: BoxError,
    },
    /// A streaming session failed or was used wrongly (e.g. audio after `finish`).
    #[error("{provider} streaming session: {message}")]
    Stream {
        /// The provider.
        provider: Provider,
        /// What happened.
        message: String,
    },
}

impl Error {
    /// The provider the error is about, when it is about one.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            Self::InvalidClip(_) | Self::Wav(_) => None,
            Self::Config { provider, .. }
            | Self::Api { provider, .. }
            | Self::Timeout { provider, .. }
            | Self::Request { provider, .. }
            | Self::ResponseBody { provider, .. }
            | Self::MalformedResponse { provider, .. }
            | Self::Auth { provider, .. }
            | Self::Stream { provider, .. } => Some(*provider),
        }
    }

    /// The HTTP status the provider answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. }
            | Self::ResponseBody { status, .. }
            | Self::MalformedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed: rate limiting (429), server
    /// errors (500, 502, 503, 504), timeouts and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            Self::Timeout { .. } | Self::Request { .. } | Self::ResponseBody { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_provider_status_and_message() {
        let e = Error::Api {
            provider: Provider::OpenAi,
            status: 401,
            code: Some("invalid_api_key".into()),
            message: "Incorrect API key provided".into(),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "OpenAI answered HTTP 401 (invalid_api_key): Incorrect API key provided"
        );
        assert_eq!(e.provider(), Some(Provider::OpenAi));
        assert_eq!(e.status(), Some(401));
        assert!(!e.is_retryable());
    }

    #[test]
    fn source_is_not_printed_twice() {
        let inner = std::io::Error::other("connection reset");
        let e = Error::Request {
            provider: Provider::Google,
            source: Box::new(inner),
        };
        assert_eq!(
            e.to_string(),
            "could not send the request to Google Speech-to-Text"
        );
        let src = std::error::Error::source(&e).unwrap();
        assert_eq!(src.to_string(), "connection reset");
        assert!(e.is_retryable());
    }
}
