//! Validated identifiers, addresses and the closed sets of values Twilio documents.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

fn is_sid(s: &str, prefixes: &[&str]) -> bool {
    s.len() == 34
        && prefixes.iter().any(|p| s.starts_with(p))
        && s.as_bytes()[2..].iter().all(u8::is_ascii_hexdigit)
}

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, [$($prefix:literal),+]) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The two-letter prefixes this SID may start with.
            pub const PREFIXES: &'static [&'static str] = &[$($prefix),+];

            /// Validates `s`: one of [`Self::PREFIXES`] followed by 32 hexadecimal digits.
            pub fn new(s: impl Into<String>) -> Result<Self, Error> {
                let s = s.into();
                if is_sid(&s, Self::PREFIXES) {
                    Ok(Self(s))
                } else {
                    Err(Error::invalid(
                        stringify!($name),
                        format!(
                            "expected {} followed by 32 hex digits, got {:?}",
                            Self::PREFIXES.join(" or "),
                            s.chars().take(40).collect::<String>()
                        ),
                    ))
                }
            }

            /// The SID as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

sid_type!(
    /// An Account SID: `AC` + 32 hex digits.
    AccountSid,
    ["AC"]
);
sid_type!(
    /// A Call SID: `CA` + 32 hex digits.
    CallSid,
    ["CA"]
);
sid_type!(
    /// A Message SID: `SM` (SMS) or `MM` (MMS) + 32 hex digits.
    MessageSid,
    ["SM", "MM"]
);
sid_type!(
    /// A Recording SID: `RE` + 32 hex digits.
    RecordingSid,
    ["RE"]
);
sid_type!(
    /// An API key SID: `SK` + 32 hex digits.
    ApiKeySid,
    ["SK"]
);
sid_type!(
    /// A Messaging Service SID: `MG` + 32 hex digits.
    MessagingServiceSid,
    ["MG"]
);
sid_type!(
    /// A TwiML Application SID: `AP` + 32 hex digits.
    ApplicationSid,
    ["AP"]
);

/// A phone number in E.164 format: `+`, then 1 to 15 digits, the first not `0`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Validates an E.164 number such as `+14155552671`. Spaces, dashes and brackets are
    /// refused rather than guessed away.
    pub fn new(s: impl Into<String>) -> Result<Self, Error> {
        let s = s.into();
        let ok = match s.strip_prefix('+') {
            Some(digits) => {
                (1..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0')
            }
            None => false,
        };
        if ok {
            Ok(Self(s))
        } else {
            Err(Error::invalid(
                "PhoneNumber",
                format!(
                    "expected E.164 like +14155552671, got {:?}",
                    s.chars().take(40).collect::<String>()
                ),
            ))
        }
    }

    /// The number as a string, with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum EndpointKind {
    Phone(PhoneNumber),
    Client(String),
    Sip(String),
}

/// Who a call is to or from: an E.164 phone number, a Twilio Client identity
/// (`client:alice`) or a SIP address (`sip:alice@example.com`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(EndpointKind);

fn check_address(what: &'static str, rest: &str, full: &str) -> Result<(), Error> {
    if rest.is_empty()
        || rest.len() > 256
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(
            what,
            format!(
                "empty, too long, or containing spaces/control characters: {:?}",
                full.chars().take(40).collect::<String>()
            ),
        ));
    }
    Ok(())
}

impl Endpoint {
    /// Parses `+E164`, `client:<identity>` or `sip:<user>@<host>[…]`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if let Some(rest) = s.strip_prefix("client:") {
            check_address("Endpoint", rest, s)?;
            Ok(Self(EndpointKind::Client(s.to_owned())))
        } else if let Some(rest) = s.strip_prefix("sip:") {
            check_address("Endpoint", rest, s)?;
            if !rest.contains('@') {
                return Err(Error::invalid(
                    "Endpoint",
                    format!("a SIP address needs user@host: {s:?}"),
                ));
            }
            Ok(Self(EndpointKind::Sip(s.to_owned())))
        } else {
            Ok(Self(EndpointKind::Phone(PhoneNumber::new(s)?)))
        }
    }

    /// A Twilio Client identity, sent as `client:<identity>`.
    pub fn client(identity: &str) -> Result<Self, Error> {
        Self::parse(&format!("client:{identity}"))
    }

    /// The phone number, if this endpoint is one.
    pub fn phone_number(&self) -> Option<&PhoneNumber> {
        match &self.0 {
            EndpointKind::Phone(p) => Some(p),
            _ => None,
        }
    }

    /// The wire form (`+1415…`, `client:…`, `sip:…`).
    pub fn as_str(&self) -> &str {
        match &self.0 {
            EndpointKind::Phone(p) => p.as_str(),
            EndpointKind::Client(s) | EndpointKind::Sip(s) => s,
        }
    }
}

impl From<PhoneNumber> for Endpoint {
    fn from(p: PhoneNumber) -> Self {
        Self(EndpointKind::Phone(p))
    }
}

impl FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.as_str())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A closed set of request values: every value is known, parsing anything else fails.
macro_rules! closed_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in Twilio's documented order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value as Twilio spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($wire => Ok(Self::$variant),)+
                    _ => Err(Error::invalid(stringify!($name), format!("unknown value {s:?}"))),
                }
            }
        }
    };
}

/// An open set of response values: Twilio may add values, which parse as `Other`.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version of the crate does not know.
            Other(String),
        }

        impl $name {
            /// Every known value, in Twilio's documented order.
            pub const KNOWN: &'static [Self] = &[$(Self::$variant),+];

            /// The value as Twilio spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }

            /// Parses a value; unknown values become [`Self::Other`].
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

closed_enum!(
    /// HTTP method Twilio uses for a webhook (`Method`, `StatusCallbackMethod`, …).
    HttpMethod {
        /// `GET`
        Get = "GET",
        /// `POST` (Twilio's default)
        Post = "POST",
    }
);

closed_enum!(
    /// A call progress event to receive at `StatusCallback` (`StatusCallbackEvent`).
    CallEvent {
        /// The call was created.
        Initiated = "initiated",
        /// The called party is ringing.
        Ringing = "ringing",
        /// The call was answered.
        Answered = "answered",
        /// The call ended.
        Completed = "completed",
    }
);

closed_enum!(
    /// Answering-machine detection mode (`MachineDetection`).
    MachineDetection {
        /// Return `AnsweredBy` as soon as the callee is identified.
        Enable = "Enable",
        /// Wait for the end of the machine greeting before returning.
        DetectMessageEnd = "DetectMessageEnd",
    }
);

closed_enum!(
    /// Status values a live call can be updated to (`call_enum_update_status`).
    CallUpdateStatus {
        /// Cancel a call that is queued or ringing.
        Canceled = "canceled",
        /// Hang up a call in progress.
        Completed = "completed",
    }
);

open_enum!(
    /// The status of a call (`call_enum_status`).
    CallStatus {
        /// Waiting to be dialled.
        Queued = "queued",
        /// Ringing.
        Ringing = "ringing",
        /// Answered and in progress.
        InProgress = "in-progress",
        /// Ended normally.
        Completed = "completed",
        /// The callee was busy.
        Busy = "busy",
        /// The call could not be placed.
        Failed = "failed",
        /// Nobody answered.
        NoAnswer = "no-answer",
        /// Canceled while queued or ringing.
        Canceled = "canceled",
    }
);

impl CallStatus {
    /// Whether the call has ended (no further status changes).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::Failed | Self::NoAnswer | Self::Canceled
        )
    }
}

open_enum!(
    /// The status of a message (`message_enum_status`).
    MessageStatus {
        /// Queued for sending.
        Queued = "queued",
        /// Being sent.
        Sending = "sending",
        /// Handed to the carrier.
        Sent = "sent",
        /// Could not be sent.
        Failed = "failed",
        /// Delivered to the handset.
        Delivered = "delivered",
        /// The carrier could not deliver it.
        Undelivered = "undelivered",
        /// Inbound, being received.
        Receiving = "receiving",
        /// Inbound, received.
        Received = "received",
        /// Accepted by a Messaging Service.
        Accepted = "accepted",
        /// Scheduled for later.
        Scheduled = "scheduled",
        /// Read by the recipient (some channels).
        Read = "read",
        /// Partially delivered.
        PartiallyDelivered = "partially_delivered",
        /// Canceled.
        Canceled = "canceled",
    }
);

open_enum!(
    /// The direction of a message (`message_enum_direction`).
    MessageDirection {
        /// Received by your number.
        Inbound = "inbound",
        /// Created through the REST API.
        OutboundApi = "outbound-api",
        /// Created during a call.
        OutboundCall = "outbound-call",
        /// Created in reply to an inbound message.
        OutboundReply = "outbound-reply",
    }
);

open_enum!(
    /// The status of a recording (`recording_enum_status`).
    RecordingStatus {
        /// Recording.
        InProgress = "in-progress",
        /// Paused.
        Paused = "paused",
        /// Stopped.
        Stopped = "stopped",
        /// Being processed; the media is not available yet.
        Processing = "processing",
        /// Available.
        Completed = "completed",
        /// No audio was recorded.
        Absent = "absent",
        /// Deleted.
        Deleted = "deleted",
    }
);

open_enum!(
    /// How a recording was created (`recording_enum_source`).
    RecordingSource {
        /// `<Dial record>`.
        DialVerb = "DialVerb",
        /// A conference.
        Conference = "Conference",
        /// `Record=true` on an outbound API call.
        OutboundApi = "OutboundAPI",
        /// Elastic SIP Trunking.
        Trunking = "Trunking",
        /// `<Record>`.
        RecordVerb = "RecordVerb",
        /// The call recordings API.
        StartCallRecordingApi = "StartCallRecordingAPI",
        /// The conference recordings API.
        StartConferenceRecordingApi = "StartConferenceRecordingAPI",
    }
);

closed_enum!(
    /// Media format of a recording download (default WAV).
    #[derive(Default)]
    RecordingFormat {
        /// WAV (Twilio's default; 8 kHz μ-law-derived PCM). Served at `RecordingUrl` + `.wav`.
        #[default]
        Wav = "wav",
        /// MP3, smaller. Served at `RecordingUrl` + `.mp3`.
        Mp3 = "mp3",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    const HEX32: &str = "0123456789abcdef0123456789ABCDEF";

    #[test]
    fn sids_validate_prefix_length_and_hex() {
        assert!(CallSid::new(format!("CA{HEX32}")).is_ok());
        assert!(CallSid::new(format!("AC{HEX32}")).is_err());
        assert!(CallSid::new(format!("CA{}", &HEX32[1..])).is_err());
        assert!(CallSid::new(format!("CA{HEX32}0")).is_err());
        assert!(CallSid::new(format!("CA{}g", &HEX32[1..])).is_err());
        assert!(MessageSid::new(format!("SM{HEX32}")).is_ok());
        assert!(MessageSid::new(format!("MM{HEX32}")).is_ok());
        assert!(MessageSid::new(format!("MG{HEX32}")).is_err());
        assert!(RecordingSid::new(format!("RE{HEX32}")).is_ok());
        assert!(AccountSid::new(format!("AC{HEX32}")).is_ok());
        assert!(AccountSid::new("").is_err());
        // Multi-byte input never panics on slicing.
        assert!(AccountSid::new("ACé123456789012345678901234567890").is_err());
        let e = CallSid::new("nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CallSid: expected CA followed by 32 hex digits, got \"nope\""
        );
    }

    #[test]
    fn sid_serde_round_trip_and_rejects_bad() {
        let sid: CallSid = serde_json::from_str(&format!("\"CA{HEX32}\"")).unwrap();
        assert_eq!(
            serde_json::to_string(&sid).unwrap(),
            format!("\"CA{HEX32}\"")
        );
        assert!(serde_json::from_str::<CallSid>("\"CAxyz\"").is_err());
    }

    #[test]
    fn phone_numbers_are_e164() {
        for ok in ["+14155552671", "+972501234567", "+1", "+123456789012345"] {
            assert!(PhoneNumber::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "14155552671",
            "+",
            "+0123",
            "+1 415 555 2671",
            "+1234567890123456",
            "+1-415",
            "",
            "++1",
        ] {
            assert!(PhoneNumber::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert!(
            Endpoint::parse("+14155552671")
                .unwrap()
                .phone_number()
                .is_some()
        );
        assert_eq!(Endpoint::client("alice").unwrap().as_str(), "client:alice");
        assert!(Endpoint::parse("sip:alice@example.com;transport=tls").is_ok());
        assert!(Endpoint::parse("sip:alice").is_err());
        assert!(Endpoint::parse("client:").is_err());
        assert!(Endpoint::parse("client:a b").is_err());
        assert!(Endpoint::parse("whatever").is_err());
    }

    #[test]
    fn enums_round_trip() {
        for e in CallEvent::ALL {
            assert_eq!(e.as_str().parse::<CallEvent>().unwrap(), *e);
        }
        assert!("Ringing".parse::<CallEvent>().is_err());
        assert_eq!(CallStatus::parse("in-progress"), CallStatus::InProgress);
        assert_eq!(
            CallStatus::parse("new-status"),
            CallStatus::Other("new-status".into())
        );
        assert!(CallStatus::Busy.is_final());
        assert!(!CallStatus::Ringing.is_final());
        let s: MessageStatus = serde_json::from_str("\"partially_delivered\"").unwrap();
        assert_eq!(s, MessageStatus::PartiallyDelivered);
    }
}
