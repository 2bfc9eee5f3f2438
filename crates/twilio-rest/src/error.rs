//! The crate's one error type.

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong in this crate.
///
/// `Display` never prints an inner error; walk [`std::error::Error::source`] for the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given to this crate was not valid (a SID, a phone number, a URL, a parameter
    /// combination Twilio would reject).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being validated, e.g. `"CallSid"`.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Twilio answered with an error (its JSON error document, or a bare HTTP error status).
    #[error("{0}")]
    Api(ApiError),
    /// The HTTP request could not be completed (connect failure, TLS, timeout, broken body).
    #[error("HTTP request to {url} failed")]
    Http {
        /// The request URL (without credentials).
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Twilio answered with a success status but a body this crate could not understand.
    #[error("unexpected response body from {url} (HTTP {status})")]
    UnexpectedBody {
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A download or redirect target is not on the host allow-list; no request (and no
    /// credential) was sent to it.
    #[error("host not allowed: {url}")]
    HostNotAllowed {
        /// The URL that was refused (without credentials).
        url: String,
    },
    /// A redirect answer without a usable `Location`, or more redirects than allowed.
    #[error("bad or too many redirects from {url}")]
    Redirect {
        /// The URL that answered the last redirect.
        url: String,
    },
    /// The response body is larger than the configured cap; it was not read further.
    #[error("response body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// A recording stayed unavailable (404) for the whole waiting window.
    #[error("recording not available after waiting {waited:?}")]
    NotReady {
        /// How long this crate waited.
        waited: Duration,
    },
}

impl Error {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }

    /// The Twilio error, if this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answered by Twilio: HTTP status plus, when Twilio sent its JSON error document,
/// the numeric error code, message and documentation link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status code of the answer.
    pub status: u16,
    /// Twilio's error code (e.g. `21211` for an invalid `To` number), when given.
    pub code: Option<u32>,
    /// Twilio's message, or the start of the body when it was not Twilio's JSON.
    pub message: String,
    /// Link to Twilio's documentation of the error code.
    pub more_info: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(
                f,
                "Twilio error {code} (HTTP {}): {}",
                self.status, self.message
            )?,
            None => write!(f, "Twilio HTTP {}: {}", self.status, self.message)?,
        }
        if let Some(more) = &self.more_info {
            write!(f, " (see {more})")?;
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
    more_info: Option<String>,
}

impl ApiError {
    /// Builds the error from an HTTP status and the answered body, accepting Twilio's JSON
    /// error document (`code`, `message`, `more_info`, `status`) or anything else.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        if let Ok(doc) = serde_json::from_slice::<ErrorBody>(body)
            && (doc.code.is_some() || doc.message.is_some())
        {
            return Self {
                status,
                code: doc.code,
                message: doc.message.unwrap_or_default(),
                more_info: doc.more_info,
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let mut message: String = text.chars().take(200).collect();
        if message.len() < text.len() {
            message.push('…');
        }
        if message.is_empty() {
            message = "(empty body)".to_owned();
        }
        Self {
            status,
            code: None,
            message,
            more_info: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_twilio_error_document() {
        let body = br#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let e = ApiError::from_response(400, body);
        assert_eq!(e.code, Some(21211));
        assert_eq!(
            e.to_string(),
            "Twilio error 21211 (HTTP 400): The 'To' number +1555 is not a valid phone number. (see https://www.twilio.com/docs/errors/21211)"
        );
        let err = Error::Api(e);
        assert!(err.to_string().contains("21211"));
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn non_json_body_is_kept_short() {
        let body = "x".repeat(1000);
        let e = ApiError::from_response(502, body.as_bytes());
        assert_eq!(e.code, None);
        assert!(e.message.chars().count() <= 201);
        assert_eq!(
            ApiError::from_response(500, b"").to_string(),
            "Twilio HTTP 500: (empty body)"
        );
    }
}
