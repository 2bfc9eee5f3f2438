//! Generic XML elements: the escape hatch for what this crate does not model, and the first
//! stage of parsing.

use std::fmt;

use quick_xml::events::Event;

use crate::error::Error;
use crate::write::{escape_text, is_xml_char, write_extra_attrs};

/// A valid XML name (element or attribute), such as `Say`, `say-as` or `xml:lang`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct XmlName(String);

impl XmlName {
    /// Validates an XML name: a letter, `_` or `:` (or any non-ASCII character) first, then
    /// letters, digits, `-`, `.`, `_`, `:` or non-ASCII characters.
    ///
    /// # Errors
    /// [`Error::InvalidName`] otherwise.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        if is_xml_name(&name) {
            Ok(Self(name))
        } else {
            Err(Error::InvalidName { name })
        }
    }

    /// A name known at compile time to be valid (the generated code's own names).
    pub(crate) fn known(name: &'static str) -> Self {
        debug_assert!(is_xml_name(name));
        Self(name.to_owned())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for XmlName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for XmlName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for XmlName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for XmlName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| {
        c.is_ascii_alphabetic()
            || c == '_'
            || c == ':'
            || (!c.is_ascii() && is_xml_char(c) && !c.is_whitespace())
    };
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

/// An XML element of any name: the escape hatch for elements Twilio adds after this crate, and
/// what [`crate::ParseOptions::allow_unknown`] keeps unknown elements as.
///
/// ```
/// use kav_twiml::{Node, voice::{Gather, VoiceResponse}};
///
/// let future = Node::new("Whisper")?.attr("mode", "soft")?.text("psst");
/// let xml = VoiceResponse::new().push(future).to_xml();
/// assert!(xml.ends_with("<Response><Whisper mode=\"soft\">psst</Whisper></Response>"));
/// # Ok::<(), kav_twiml::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    name: XmlName,
    attributes: Vec<(XmlName, String)>,
    content: Vec<NodeContent>,
}

/// Content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeContent {
    /// Text.
    Text(String),
    /// A child element.
    Element(Node),
}

impl Node {
    /// A new element without attributes or content.
    ///
    /// # Errors
    /// [`Error::InvalidName`] when `name` is not an XML name.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        Ok(Self {
            name: XmlName::new(name)?,
            attributes: Vec::new(),
            content: Vec::new(),
        })
    }

    pub(crate) fn from_parts(
        name: XmlName,
        attributes: Vec<(XmlName, String)>,
        content: Vec<NodeContent>,
    ) -> Self {
        Self {
            name,
            attributes,
            content,
        }
    }

    /// Sets an attribute (replacing one of the same name).
    ///
    /// # Errors
    /// [`Error::InvalidName`] when `name` is not an XML name.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Result<Self, Error> {
        let name = XmlName::new(name)?;
        let value = value.into();
        match self.attributes.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
        Ok(self)
    }

    /// Appends text.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.content.push(NodeContent::Text(text.into()));
        self
    }

    /// Appends a child element.
    #[must_use]
    pub fn child(mut self, child: Node) -> Self {
        self.content.push(NodeContent::Element(child));
        self
    }

    /// The element's name.
    pub fn name(&self) -> &XmlName {
        &self.name
    }

    /// The attributes, in order.
    pub fn attributes(&self) -> &[(XmlName, String)] {
        &self.attributes
    }

    /// The value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.as_str())
    }

    /// Text and child elements, in order.
    pub fn content(&self) -> &[NodeContent] {
        &self.content
    }

    pub(crate) fn into_parts(self) -> (Vec<(String, String)>, Vec<NodeContent>) {
        (
            self.attributes.into_iter().map(|(n, v)| (n.0, v)).collect(),
            self.content,
        )
    }

    /// Appends this element's XML to `out`.
    pub fn write_xml(&self, out: &mut String) {
        out.push('<');
        out.push_str(self.name.as_str());
        write_extra_attrs(out, &self.attributes);
        if self
            .content
            .iter()
            .all(|c| matches!(c, NodeContent::Text(t) if t.is_empty()))
        {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.content {
            match c {
                NodeContent::Text(t) => escape_text(out, t),
                NodeContent::Element(n) => n.write_xml(out),
            }
        }
        out.push_str("</");
        out.push_str(self.name.as_str());
        out.push('>');
    }

    /// This element's XML (without declaration).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write_xml(&mut out);
        out
    }

    /// Parses one XML document into a generic tree, without any TwiML rules: for tools that
    /// need to look at arbitrary XML. Comments and processing instructions are dropped,
    /// adjacent text is merged; a `DOCTYPE` is refused.
    ///
    /// # Errors
    /// [`Error::Xml`], [`Error::Malformed`] or [`Error::TooDeep`].
    pub fn parse(xml: &str, max_depth: usize) -> Result<Node, Error> {
        parse_document(xml, max_depth)
    }
}

/// The most attributes one element may have (TwiML's largest element has fewer than 40).
pub(crate) const MAX_ATTRIBUTES: usize = 256;

/// Parses an XML document into a generic tree, bounding the depth.
pub(crate) fn parse_document(xml: &str, max_depth: usize) -> Result<Node, Error> {
    // Some servers start their UTF-8 output with a byte order mark.
    let xml = xml.strip_prefix('\u{FEFF}').unwrap_or(xml);
    let mut reader = quick_xml::Reader::from_str(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|source| Error::Xml { position, source })?;
        let malformed = |reason: &str| Error::Malformed {
            position,
            reason: reason.to_owned(),
        };
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(malformed("content after the root element"));
            }
            Event::Start(start) => {
                if stack.len() >= max_depth {
                    return Err(Error::TooDeep { max_depth });
                }
                stack.push(open(&start, position)?);
            }
            Event::Empty(start) => {
                if stack.len() >= max_depth {
                    return Err(Error::TooDeep { max_depth });
                }
                let node = open(&start, position)?;
                match stack.last_mut() {
                    Some(parent) => parent.content.push(NodeContent::Element(node)),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                // quick-xml checks that the end name matches the open element.
                let Some(node) = stack.pop() else {
                    return Err(malformed("unexpected end tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.content.push(NodeContent::Element(node)),
                    None => root = Some(node),
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content();
                push_text(&mut stack, &text, position)?;
            }
            Event::CData(data) => {
                let text = data.xml10_content();
                push_text(&mut stack, &text, position)?;
            }
            Event::GeneralRef(reference) => {
                let c = match reference.resolve_char_ref() {
                    Ok(Some(c)) if is_xml_char(c) => c,
                    Ok(Some(_)) | Err(_) => return Err(malformed("invalid character reference")),
                    Ok(None) => match &*reference {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(malformed("unknown entity")),
                    },
                };
                let mut buf = [0u8; 4];
                push_text(&mut stack, c.encode_utf8(&mut buf), position)?;
            }
            Event::DocType(_) => return Err(malformed("DOCTYPE is not allowed in TwiML")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(malformed("unclosed element at end of input"));
                }
                return root.ok_or_else(|| malformed("no root element"));
            }
        }
    }
}

fn push_text(stack: &mut [Node], text: &str, position: u64) -> Result<(), Error> {
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(Error::Malformed {
            position,
            reason: format!(
                "character {:?} is not allowed in XML",
                c.escape_default().to_string()
            ),
        });
    }
    match stack.last_mut() {
        Some(parent) => {
            if let Some(NodeContent::Text(last)) = parent.content.last_mut() {
                last.push_str(text);
            } else {
                parent.content.push(NodeContent::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.chars().all(|c| c.is_ascii_whitespace()) => Ok(()),
        None => Err(Error::Malformed {
            position,
            reason: "text outside the root element".to_owned(),
        }),
    }
}

fn open(start: &quick_xml::events::BytesStart<'_>, position: u64) -> Result<Node, Error> {
    let malformed = |reason: String| Error::Malformed { position, reason };
    let name = start.name().as_ref().to_owned();
    let name = XmlName::new(name).map_err(|e| malformed(e.to_string()))?;
    let mut attributes: Vec<(XmlName, String)> = Vec::new();
    // Duplicates are checked here rather than by quick-xml, with a bound on the count so that a
    // hostile element with thousands of attributes cannot make the check quadratic.
    for attr in start.attributes().with_checks(false) {
        let attr = attr.map_err(|e| malformed(format!("bad attribute: {e}")))?;
        if attributes.len() == MAX_ATTRIBUTES {
            return Err(malformed(format!(
                "more than {MAX_ATTRIBUTES} attributes on one element"
            )));
        }
        let key = attr.key.as_ref().to_owned();
        let key = XmlName::new(key).map_err(|e| malformed(e.to_string()))?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| malformed(format!("bad value of attribute `{key}`: {e}")))?;
        if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
            return Err(malformed(format!(
                "character {:?} is not allowed in XML",
                c.escape_default().to_string()
            )));
        }
        if attributes.iter().any(|(k, _)| *k == key) {
            return Err(malformed(format!("duplicate attribute `{key}`")));
        }
        attributes.push((key, value.into_owned()));
    }
    Ok(Node {
        name,
        attributes,
        content: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_generic_xml() {
        let n = parse_document(
            "<?xml version=\"1.0\"?><!-- c --><a x=\"1&amp;2&#10;\">t&lt;&#x5d0;<b/>u<![CDATA[<v>]]></a>",
            8,
        )
        .unwrap();
        assert_eq!(n.name().as_str(), "a");
        assert_eq!(n.attribute("x"), Some("1&2\n"));
        assert_eq!(n.content().len(), 3);
        assert_eq!(n.content()[0], NodeContent::Text("t<א".into()));
        assert_eq!(n.content()[2], NodeContent::Text("u<v>".into()));
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        assert_eq!(
            parse_document("\u{FEFF}<a/>", 8).unwrap().name().as_str(),
            "a"
        );
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text",
            "<a>&bogus;</a>",
            "<a>&#0;</a>",
            "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
            "<a x=\"1\" x=\"2\"/>",
            "<a x=\"&#1;\"/>",
        ] {
            assert!(parse_document(bad, 8).is_err(), "{bad}");
        }
        let many: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"\""))
            .collect();
        let err = parse_document(&format!("<a{many}/>"), 8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 256 attributes"), "{err}");
        let err = parse_document("<a x=\"1\" y=\"\" x=\"2\"/>", 8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate attribute `x`"), "{err}");
        assert!(matches!(
            parse_document(&"<a>".repeat(9), 8),
            Err(Error::TooDeep { max_depth: 8 })
        ));
    }

    #[test]
    fn names() {
        for ok in ["a", "say-as", "xml:lang", "_x", "שלום", "a.b1"] {
            assert!(XmlName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "a b", "a\"", "a=", "-a", "a>"] {
            assert!(XmlName::new(bad).is_err(), "{bad}");
        }
    }
}
