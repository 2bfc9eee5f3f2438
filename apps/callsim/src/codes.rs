//! The Twilio error and warning codes the simulator reports, as Twilio's Error and Warning
//! Dictionary (<https://www.twilio.com/docs/api/errors>) names them.

use serde::Serialize;

/// A Twilio error or warning code, as it would appear in the Twilio Console's debugger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "u16")]
#[non_exhaustive]
pub enum TwilioCode {
    /// 11100 "Invalid URL format": a URL in TwiML or the configuration that Twilio cannot use,
    /// such as a host without a scheme (`agent.example.com/x.mp3`).
    InvalidUrlFormat,
    /// 11200 "HTTP retrieval failure": the server answered with a non-2xx status (or a body that
    /// could not be read).
    HttpRetrievalFailure,
    /// 11205 "HTTP connection failure": no TCP connection (Twilio tries for 10 s), or no complete
    /// HTTP response within 15 s in total, connection time included.
    HttpConnectionFailure,
    /// 11210 "HTTP bad host name": the host name does not resolve.
    HttpBadHostName,
    /// 11243 "HTTP retry policy is invalid": an `rp` connection override Twilio does not know
    /// (the request goes on with the default policy).
    HttpRetryPolicyInvalid,
    /// 12100 "Document parse failure": the TwiML is not well-formed XML, its root is not
    /// `<Response>`, or it holds an element TwiML does not have where it stands.
    DocumentParseFailure,
    /// 12200 "Schema validation warning": an attribute or text value TwiML does not accept.
    SchemaValidationWarning,
    /// 12300 "Invalid Content-Type": a response Twilio cannot use (neither TwiML nor audio).
    InvalidContentType,
    /// 31920 "Stream - WebSocket - Handshake Error": the `<Stream>` WebSocket could not be
    /// opened (refused, not a WebSocket endpoint, signature refused).
    StreamHandshakeError,
    /// 13512 "Say: Invalid language value": a `<Say>` language the chosen voice does not speak.
    SayInvalidLanguage,
}

impl TwilioCode {
    /// The numeric code.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Self::InvalidUrlFormat => 11100,
            Self::HttpRetrievalFailure => 11200,
            Self::HttpConnectionFailure => 11205,
            Self::HttpBadHostName => 11210,
            Self::HttpRetryPolicyInvalid => 11243,
            Self::DocumentParseFailure => 12100,
            Self::SchemaValidationWarning => 12200,
            Self::InvalidContentType => 12300,
            Self::SayInvalidLanguage => 13512,
            Self::StreamHandshakeError => 31920,
        }
    }

    /// The dictionary's title for the code.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::InvalidUrlFormat => "Invalid URL format",
            Self::HttpRetrievalFailure => "HTTP retrieval failure",
            Self::HttpConnectionFailure => "HTTP connection failure",
            Self::HttpBadHostName => "HTTP bad host name",
            Self::HttpRetryPolicyInvalid => "HTTP retry policy is invalid",
            Self::DocumentParseFailure => "Document parse failure",
            Self::SchemaValidationWarning => "Schema validation warning",
            Self::InvalidContentType => "Invalid Content-Type",
            Self::SayInvalidLanguage => "Say: Invalid language value",
            Self::StreamHandshakeError => "Stream - WebSocket - Handshake Error",
        }
    }

    /// Whether Twilio logs it as a warning (the call goes on) rather than an error.
    #[must_use]
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::SayInvalidLanguage | Self::HttpRetryPolicyInvalid
        )
    }
}

impl From<TwilioCode> for u16 {
    fn from(code: TwilioCode) -> u16 {
        code.code()
    }
}

impl std::fmt::Display for TwilioCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.title())
    }
}
