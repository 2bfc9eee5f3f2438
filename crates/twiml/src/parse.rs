//! Parsing TwiML text into the typed tree.

use crate::error::Error;
use crate::node::{Node, XmlName};
use crate::write::AttrValue;

/// How strict parsing is, and how deep documents may nest.
///
/// ```
/// use kav_twiml::{ParseOptions, voice::VoiceResponse};
/// let xml = "<Response><Whisper/></Response>";
/// assert!(VoiceResponse::parse(xml).is_err());
/// let lenient = ParseOptions::new().allow_unknown(true);
/// assert_eq!(VoiceResponse::parse_with(xml, &lenient)?.verbs().len(), 1);
/// # Ok::<(), kav_twiml::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// The deepest nesting accepted (the root counts as 1). Default 32: real TwiML nests at most
    /// about 6 levels (`Response/Say/p/s/prosody/emphasis`).
    pub max_depth: usize,
    /// Keep elements this crate does not model as [`Node`]s instead of failing. Default `false`:
    /// an unknown element is an error, as Twilio rejects it.
    pub allow_unknown: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            max_depth: 32,
            allow_unknown: false,
        }
    }
}

impl ParseOptions {
    /// The defaults: strict, depth 32.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Self::max_depth`].
    #[must_use]
    pub fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets [`Self::allow_unknown`].
    #[must_use]
    pub fn allow_unknown(mut self, allow: bool) -> Self {
        self.allow_unknown = allow;
        self
    }
}

/// Parsing context: the path for error messages and the options.
pub(crate) struct Cx {
    path: Vec<&'static str>,
    allow_unknown: bool,
    known_tags: &'static [&'static str],
}

impl Cx {
    pub(crate) fn new(
        root: &'static str,
        options: &ParseOptions,
        known_tags: &'static [&'static str],
    ) -> Self {
        Self {
            path: vec![root],
            allow_unknown: options.allow_unknown,
            known_tags,
        }
    }

    /// A context for builder calls (`attr`), where the path is the element itself.
    pub(crate) fn for_builder(tag: &'static str) -> Self {
        Self {
            path: vec![tag],
            allow_unknown: true,
            known_tags: &[],
        }
    }

    fn path(&self) -> String {
        self.path.join("/")
    }

    pub(crate) fn attr<T: AttrValue>(
        &mut self,
        attribute: &'static str,
        value: String,
    ) -> Result<T, Error> {
        T::from_attr_owned(value).map_err(|(value, reason)| Error::InvalidAttribute {
            path: self.path(),
            attribute,
            value,
            reason,
        })
    }

    pub(crate) fn attr_name(&self, name: String) -> Result<XmlName, Error> {
        XmlName::new(name)
    }

    pub(crate) fn descend<T>(
        &mut self,
        node: Node,
        tag: &'static str,
        f: fn(Node, &mut Cx) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.path.push(tag);
        let result = f(node, self);
        self.path.pop();
        result
    }

    /// An element the parent does not model: kept when unknown elements are allowed, else the
    /// error Twilio would give.
    pub(crate) fn unknown_child(
        &mut self,
        node: Node,
        _parent: &'static str,
    ) -> Result<Node, Error> {
        if self.allow_unknown {
            return Ok(node);
        }
        let name = node.name().as_str().to_owned();
        if self.known_tags.contains(&name.as_str()) {
            Err(Error::NotAllowedHere {
                path: self.path(),
                name,
            })
        } else {
            Err(Error::UnknownElement {
                path: self.path(),
                name,
            })
        }
    }

    /// Text where none is allowed: whitespace is fine (indentation), anything else an error.
    pub(crate) fn stray_text(&mut self, text: &str) -> Result<(), Error> {
        if is_blank(text) {
            return Ok(());
        }
        let mut text = text.trim().to_owned();
        if let Some((i, _)) = text.char_indices().nth(40) {
            text.truncate(i);
        }
        Err(Error::UnexpectedText {
            path: self.path(),
            text,
        })
    }

    pub(crate) fn text_required(&mut self, text: String) -> Result<String, Error> {
        if text.is_empty() {
            return Err(Error::MissingText { path: self.path() });
        }
        Ok(text)
    }

    pub(crate) fn text_url(&mut self, text: &str) -> Result<crate::url::Url, Error> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(Error::MissingText { path: self.path() });
        }
        crate::url::Url::parse_twiml(trimmed).map_err(|e| Error::InvalidText {
            path: self.path(),
            value: trimmed.to_owned(),
            reason: crate::write::reason_of(&e),
        })
    }
}

/// Sets an extra (escape-hatch) attribute, replacing one of the same name.
pub(crate) fn set_extra(extra: &mut Vec<(XmlName, String)>, name: XmlName, value: String) {
    match extra.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => extra.push((name, value)),
    }
}

/// Whether text is only XML whitespace (indentation between elements).
pub(crate) fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}
