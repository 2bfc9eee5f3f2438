//! The crate's error type.

/// Everything that can go wrong in this crate.
///
/// Parsing errors carry the field that was wrong; the offending value is kept only when it is short
/// and safe to log (never a payload).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not JSON, or not a JSON object of the expected shape (wrong type, missing
    /// `event`, duplicate field…).
    #[error("malformed media stream message")]
    Json(#[source] serde_json::Error),

    /// The `event` is not one Twilio documents for this direction.
    #[error("unknown media stream event `{0}`")]
    UnknownEvent(String),

    /// A field that this kind of message must carry is absent.
    #[error("`{event}` message without the required field `{field}`")]
    MissingField {
        /// The message's `event`.
        event: &'static str,
        /// The missing field, as a JSON path (`media.payload`).
        field: &'static str,
    },

    /// A counter that Twilio sends as a decimal string (`sequenceNumber`, `media.chunk`,
    /// `media.timestamp`) is not a non-negative integer.
    #[error("`{field}` is not a decimal integer: {value:?}")]
    InvalidNumber {
        /// The field, as a JSON path.
        field: &'static str,
        /// The value received (cut to 40 characters).
        value: String,
    },

    /// A field holding an enumerated value (`media.track`, `dtmf.digit`, `mediaFormat.encoding`)
    /// has a value outside the documented set.
    #[error("`{field}` has an unsupported value: {value:?}")]
    InvalidValue {
        /// The field, as a JSON path.
        field: &'static str,
        /// The value received (cut to 40 characters).
        value: String,
    },

    /// A SID does not have its documented shape (two-letter prefix and 32 hexadecimal digits).
    #[error("invalid {kind}: {value:?}")]
    InvalidSid {
        /// Which SID (`StreamSid`, `CallSid`, `AccountSid`).
        kind: &'static str,
        /// The value received (cut to 40 characters).
        value: String,
    },

    /// The base64 `media.payload` could not be decoded.
    #[error("`media.payload` is not valid base64")]
    Base64(#[source] base64::DecodeError),

    /// A message carries a `streamSid` other than the one this stream was started with.
    #[error("message for stream {received}, but this is stream {expected}")]
    WrongStream {
        /// The stream this state machine serves.
        expected: crate::StreamSid,
        /// The stream named in the message.
        received: crate::StreamSid,
    },

    /// The top-level `streamSid` of a `start` message differs from `start.streamSid`.
    #[error("`start` names two different streams: {top_level} and {in_start}")]
    InconsistentStart {
        /// The top-level `streamSid`.
        top_level: crate::StreamSid,
        /// `start.streamSid`.
        in_start: crate::StreamSid,
    },

    /// A message that needs a started stream arrived before `start` (or a second `start` arrived).
    #[error("`{event}` message not allowed in state {state}")]
    UnexpectedMessage {
        /// The message's `event`.
        event: &'static str,
        /// The state the stream was in.
        state: &'static str,
    },

    /// A mark name given to [`crate::MediaStream::push_mark`] is empty or uses the prefix reserved
    /// for the marks the state machine places itself.
    #[error(
        "invalid mark name (empty, or starts with the reserved prefix `{}`)",
        crate::stream::AUTO_MARK_PREFIX
    )]
    InvalidMarkName,
}

/// Cuts a value taken from untrusted input to a size that is safe to put in an error message.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}
