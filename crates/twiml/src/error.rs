//! The crate's error type.

/// Everything that can go wrong building or parsing TwiML.
///
/// Parse errors carry the path of the offending element (for example `Response/Gather/Say`) so
/// that a developer can find it in the document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL that TwiML cannot use: no scheme (`example.com/x.mp3`, which Twilio would resolve
    /// against the webhook URL and fail), a scheme other than the allowed ones, or a malformed
    /// URL.
    #[error("invalid URL `{value}`: {reason}")]
    InvalidUrl {
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A value rejected by a validated type such as [`DtmfKeys`](crate::DtmfKeys) or an enum.
    #[error("invalid {kind} `{value}`: {reason}")]
    InvalidValue {
        /// The type that rejected it.
        kind: &'static str,
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A name that is not a valid XML name (escape-hatch attributes and elements).
    #[error("`{name}` is not a valid XML name")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The text is not well-formed XML.
    #[error("malformed XML at byte {position}")]
    Xml {
        /// Byte offset where the reader stopped.
        position: u64,
        /// What the XML reader reported.
        #[source]
        source: quick_xml::Error,
    },
    /// The text is not well-formed XML (a problem found by this crate's own checks).
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed {
        /// Byte offset where the problem was found.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// Elements nest deeper than [`ParseOptions::max_depth`](crate::ParseOptions::max_depth).
    #[error("elements nest deeper than {max_depth} levels")]
    TooDeep {
        /// The limit in force.
        max_depth: usize,
    },
    /// The root element is not `<Response>`.
    #[error("the root element is `<{found}>`, expected `<Response>`")]
    WrongRoot {
        /// The root element found.
        found: String,
    },
    /// An element TwiML does not have (Twilio rejects the document).
    #[error("unknown element `<{name}>` at {path}")]
    UnknownElement {
        /// Path of the parent element.
        path: String,
        /// The unknown element's name.
        name: String,
    },
    /// A TwiML element where Twilio does not allow it (for example `<Record>` inside `<Gather>`).
    #[error("`<{name}>` is not allowed inside {path}")]
    NotAllowedHere {
        /// Path of the parent element.
        path: String,
        /// The misplaced element's name.
        name: String,
    },
    /// An attribute whose value its type rejects.
    #[error("invalid value `{value}` for attribute `{attribute}` at {path}: {reason}")]
    InvalidAttribute {
        /// Path of the element.
        path: String,
        /// The attribute's TwiML name.
        attribute: &'static str,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The text of an element is not a valid value (a `<Play>` or `<Redirect>` URL).
    #[error("invalid text `{value}` of {path}: {reason}")]
    InvalidText {
        /// Path of the element.
        path: String,
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Text inside an element that holds no text.
    #[error("unexpected text `{text}` at {path}")]
    UnexpectedText {
        /// Path of the element.
        path: String,
        /// The text (cut to 40 characters).
        text: String,
    },
    /// An element that needs text (a phone number, a URL, a name) has none.
    #[error("{path} needs text and has none")]
    MissingText {
        /// Path of the element.
        path: String,
    },
}
