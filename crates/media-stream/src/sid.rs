//! Validated Twilio identifiers.
//!
//! A Twilio SID is a two-letter prefix naming the resource type followed by 32 hexadecimal
//! digits. The types here hold the 34 bytes inline: they are `Copy`, compare without allocating
//! and can be built from untrusted text without ever panicking.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::error::excerpt;

/// Length of every SID: a two-letter prefix and 32 hexadecimal digits.
const SID_LEN: usize = 34;

fn validate(kind: &'static str, prefix: &[u8; 2], s: &str) -> Result<[u8; SID_LEN], Error> {
    let bytes = s.as_bytes();
    let valid = bytes.len() == SID_LEN
        && bytes[..2] == prefix[..]
        && bytes[2..].iter().all(u8::is_ascii_hexdigit);
    if !valid {
        return Err(Error::InvalidSid {
            kind,
            value: excerpt(s),
        });
    }
    let mut out = [0u8; SID_LEN];
    out.copy_from_slice(bytes);
    Ok(out)
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $example:literal) => {
        $(#[$doc])*
        ///
        /// Hexadecimal digits of either case are accepted and kept as received.
        ///
        /// ```
        #[doc = concat!("use kav_media_stream::", stringify!($name), ";")]
        ///
        #[doc = concat!("let sid: ", stringify!($name), " = \"", $example, "\".parse()?;")]
        #[doc = concat!("assert_eq!(sid.as_str(), \"", $example, "\");")]
        #[doc = concat!("assert!(\"", $prefix, "123\".parse::<", stringify!($name), ">().is_err());")]
        /// # Ok::<(), kav_media_stream::Error>(())
        /// ```
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; SID_LEN]);

        impl $name {
            /// The two-letter prefix of this kind of SID.
            pub const PREFIX: &'static str = $prefix;

            /// Validates `s` (the prefix followed by exactly 32 hexadecimal digits).
            pub fn parse(s: &str) -> Result<Self, Error> {
                let prefix = $prefix.as_bytes();
                validate(stringify!($name), &[prefix[0], prefix[1]], s).map(Self)
            }

            /// The SID as text.
            pub fn as_str(&self) -> &str {
                // The bytes were validated as ASCII on construction, so this cannot fail.
                std::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = crate::message::Str::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

sid_type!(
    /// The SID of a Media Stream: `MZ` followed by 32 hexadecimal digits.
    StreamSid,
    "MZ",
    "MZ18ad3ab5a668481ce02b83e7395059f0"
);
sid_type!(
    /// The SID of a Call: `CA` followed by 32 hexadecimal digits.
    CallSid,
    "CA",
    "CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6"
);
sid_type!(
    /// The SID of an Account: `AC` followed by 32 hexadecimal digits.
    AccountSid,
    "AC",
    "AC0123456789abcdef0123456789abcdef"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_cases_and_keeps_them() {
        let sid = StreamSid::parse("MZ0123456789ABCDEFabcdef0123456789").unwrap();
        assert_eq!(sid.as_str(), "MZ0123456789ABCDEFabcdef0123456789");
        assert_eq!(sid.to_string(), sid.as_str());
        assert_eq!(
            format!("{sid:?}"),
            "StreamSid(MZ0123456789ABCDEFabcdef0123456789)"
        );
    }

    #[test]
    fn rejects_wrong_prefix_length_and_digits() {
        for bad in [
            "",
            "MZ",
            "CA0123456789abcdef0123456789abcdef",
            "mz0123456789abcdef0123456789abcdef",
            "MZ0123456789abcdef0123456789abcde",
            "MZ0123456789abcdef0123456789abcdef0",
            "MZ0123456789abcdef0123456789abcdeg",
            "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "MZ0123456789abcdef0123456789abcdé",
        ] {
            let err = StreamSid::parse(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidSid {
                        kind: "StreamSid",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        assert!(CallSid::parse("CA0123456789abcdef0123456789abcdef").is_ok());
        assert!(AccountSid::parse("CA0123456789abcdef0123456789abcdef").is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let sid: CallSid = serde_json::from_str("\"CA0123456789abcdef0123456789abcdef\"").unwrap();
        assert_eq!(
            serde_json::to_string(&sid).unwrap(),
            "\"CA0123456789abcdef0123456789abcdef\""
        );
        assert!(serde_json::from_str::<CallSid>("\"CA12\"").is_err());
    }

    #[test]
    fn long_garbage_is_cut_in_the_error() {
        let long = "MZ".to_owned() + &"é".repeat(500);
        let Error::InvalidSid { value, .. } = StreamSid::parse(&long).unwrap_err() else {
            panic!("wrong error");
        };
        assert!(value.chars().count() <= 41);
    }
}
