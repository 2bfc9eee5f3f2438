//! The crate's one error type.

/// Why a request was rejected, or why a configuration value is unusable.
///
/// The `Display` text is short and safe to send back to the caller (the layer uses it as the body
/// of its 403 answer): it never contains a token, an expected signature or a body hash computed
/// with a secret. The URLs that were tried are available through [`SigError::tried_urls`] for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// The request carries no `X-Twilio-Signature` header (or an empty one).
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    /// The header is not a base64 MAC of the expected length, so it can match nothing.
    #[error("X-Twilio-Signature is not a base64 {algorithm} signature")]
    MalformedSignature {
        /// The algorithm the request asked for.
        algorithm: Algorithm,
    },
    /// The signature is well formed but matches none of the candidate URLs with any configured
    /// token.
    #[error("X-Twilio-Signature does not match the request")]
    Mismatch {
        /// The URLs (each with and without its default port) that were tried.
        tried: Vec<String>,
    },
    /// A JSON request whose URL has no `bodySHA256` query parameter: the body would not be
    /// covered by the signature.
    #[error("JSON request without a bodySHA256 query parameter")]
    MissingBodyHash {
        /// The URLs that were looked at.
        tried: Vec<String>,
    },
    /// The `bodySHA256` query parameter is not the SHA-256 of the body.
    #[error("bodySHA256 does not match the request body")]
    BodyHashMismatch {
        /// The URLs that were looked at.
        tried: Vec<String>,
    },
    /// `X-Twilio-Webhooks-Signature-Settings` names an algorithm this crate does not know.
    #[error("unsupported webhook signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A body the signature scheme cannot cover (neither form nor JSON, and not empty).
    #[error("unsupported request body type {content_type:?}")]
    UnsupportedBody {
        /// The request's `Content-Type`, if any.
        content_type: Option<String>,
    },
    /// The request body is larger than the configured limit.
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The request body could not be read.
    #[error("request body could not be read")]
    BodyRead,
    /// No host could be found for the request (no `Host` header, no authority in the URI, and no
    /// usable trusted proxy header).
    #[error("request has no host to rebuild its public URL from")]
    NoHost,
    /// A URL given to the validator is not an absolute `http`, `https`, `ws` or `wss` URL.
    #[error("invalid URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configured public base URL is unusable (for example `ai.example.com`, without scheme).
    #[error("invalid public base URL {value:?}: {reason}")]
    InvalidBaseUrl {
        /// The value as configured.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl SigError {
    /// The candidate URLs that were tried before giving up, when the error comes from matching.
    ///
    /// These are public URLs of the deployment, never secrets; log them to see why a request was
    /// refused (usually a proxy rewrote the scheme, host or port).
    #[must_use]
    pub fn tried_urls(&self) -> &[String] {
        match self {
            Self::Mismatch { tried }
            | Self::MissingBodyHash { tried }
            | Self::BodyHashMismatch { tried } => tried,
            _ => &[],
        }
    }

    /// The HTTP status the layer answers with for this error: 413 for an oversized body, 403 for
    /// everything else.
    #[must_use]
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::BodyTooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            _ => http::StatusCode::FORBIDDEN,
        }
    }
}

use crate::Algorithm;
