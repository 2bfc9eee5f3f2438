//! Document-level API of the two response types.

use std::fmt;

use crate::error::Error;
use crate::node::parse_document;
use crate::parse::{Cx, ParseOptions};
use crate::{MessagingResponse, VoiceResponse, XML_DECLARATION};

macro_rules! document {
    ($ty:ident, $module:ident, $child:ty, $items:ident, $what:literal) => {
        impl $ty {
            /// The whole document: the XML declaration, then the compact XML.
            pub fn to_xml(&self) -> String {
                let mut out = String::with_capacity(512);
                self.write_document(&mut out);
                out
            }

            /// Appends the whole document (declaration and XML) to `out`, so a buffer can be
            /// reused across documents.
            pub fn write_document(&self, out: &mut String) {
                out.push_str(XML_DECLARATION);
                self.write_xml(out);
            }

            #[doc = concat!("The ", $what, ", in document order.")]
            pub fn $items(&self) -> &[$child] {
                &self.children
            }

            /// Parses a TwiML document strictly: unknown elements, elements where Twilio does
            /// not allow them and attribute values of the wrong type are errors. Whitespace
            /// between elements (indentation) is ignored.
            ///
            /// # Errors
            /// Any parse variant of [`Error`].
            pub fn parse(xml: &str) -> Result<Self, Error> {
                Self::parse_with(xml, &ParseOptions::default())
            }

            /// Parses a TwiML document with the given options.
            ///
            /// # Errors
            /// Any parse variant of [`Error`].
            pub fn parse_with(xml: &str, options: &ParseOptions) -> Result<Self, Error> {
                let node = parse_document(xml, options.max_depth)?;
                if node.name().as_str() != Self::TAG {
                    return Err(Error::WrongRoot {
                        found: node.name().as_str().to_owned(),
                    });
                }
                let mut cx = Cx::new(Self::TAG, options, crate::$module::KNOWN_TAGS);
                Self::from_node(node, &mut cx)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_xml())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }
    };
}

document!(VoiceResponse, voice, crate::voice::Verb, verbs, "verbs");
document!(
    MessagingResponse,
    messaging,
    crate::messaging::Verb,
    verbs,
    "verbs"
);
