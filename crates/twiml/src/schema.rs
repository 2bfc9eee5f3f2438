//! A description of every element this crate models: tags, attributes with their value kinds,
//! and allowed children. Generated together with the types, so it is always in step with them;
//! useful for tools (and the crate's own tests) that walk TwiML generically.

/// What text an element holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextKind {
    /// No text.
    None,
    /// Text is required (a phone number, a URL, a name).
    Required,
    /// Text is optional.
    Optional,
    /// Text mixed with child elements (`<Say>` and SSML).
    Mixed,
}

/// The kind of value an attribute (or a text body) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// Free text.
    String,
    /// `true` or `false`.
    Bool,
    /// A non-negative integer.
    UInt,
    /// Space-separated non-negative integers.
    UIntList,
    /// A whole number of seconds.
    Seconds,
    /// A [`crate::Url`].
    Url,
    /// A [`crate::WssUrl`].
    WssUrl,
    /// `auto` or a number of seconds.
    SpeechTimeout,
    /// A [`crate::DtmfKeys`].
    DtmfKeys,
    /// A [`crate::Digits`].
    Digits,
    /// One of these values.
    Enum(&'static [&'static str]),
    /// A space-separated set of these values.
    EnumList(&'static [&'static str]),
}

/// One attribute of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttributeSchema {
    /// The TwiML name (`finishOnKey`).
    pub name: &'static str,
    /// Its value kind.
    pub kind: ValueKind,
}

/// One element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ElementSchema {
    /// The TwiML tag (`Record`, `say-as`).
    pub tag: &'static str,
    /// The Rust type's name (the same as twilio-python's class name).
    pub rust_name: &'static str,
    /// The text it holds.
    pub text: TextKind,
    /// The kind of its text, when it has text.
    pub text_value: ValueKind,
    /// Its attributes, in rendering (alphabetical) order.
    pub attributes: &'static [AttributeSchema],
    /// The Rust names of the element types it accepts as children.
    pub children: &'static [&'static str],
}

pub use crate::messaging::SCHEMA as MESSAGING;
pub use crate::voice::SCHEMA as VOICE;
