//! Typed attribute values: closed sets as enums, validated newtypes.

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::write::{AttrValue, escape_attr, parse_u32, write_u32};

macro_rules! closed_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The TwiML spelling of every value, in declaration order.
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// The value as TwiML spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::InvalidValue {
                        kind: stringify!($name),
                        value: s.to_owned(),
                        reason: format!("expected one of: {}", Self::VALUES.join(", ")),
                    }),
                }
            }
        }

        impl AttrValue for $name {
            fn write_value(&self, out: &mut String) {
                out.push_str(self.as_str());
            }
            fn to_attr_string(&self) -> String {
                self.as_str().to_owned()
            }
            fn from_attr(value: &str) -> Result<Self, String> {
                value.parse().map_err(|e| crate::write::reason_of(&e))
            }
        }
    };
}

closed_enum! {
    /// HTTP method Twilio uses to request a URL.
    HttpMethod { Get = "GET", Post = "POST", }
}

closed_enum! {
    /// Whether to trim leading and trailing silence from a recording.
    Trim { TrimSilence = "trim-silence", DoNotTrim = "do-not-trim", }
}

closed_enum! {
    /// Tracks a `<Stream>`, `<Siprec>` or `<Transcription>` receives.
    StreamTrack { InboundTrack = "inbound_track", OutboundTrack = "outbound_track", BothTracks = "both_tracks", }
}

closed_enum! {
    /// Audio track of a recording.
    RecordingTrack { Inbound = "inbound", Outbound = "outbound", Both = "both", }
}

closed_enum! {
    /// Channels of a recording.
    RecordingChannels { Mono = "mono", Dual = "dual", }
}

closed_enum! {
    /// Recording status callback events.
    RecordingEvent { InProgress = "in-progress", Completed = "completed", Absent = "absent", }
}

closed_enum! {
    /// Call progress events of a dialled party.
    CallProgressEvent { Initiated = "initiated", Ringing = "ringing", Answered = "answered", Completed = "completed", }
}

closed_enum! {
    /// Conference status callback events.
    ConferenceEvent {
        Start = "start", End = "end", Join = "join", Leave = "leave", Mute = "mute", Hold = "hold",
        Modify = "modify", Speaker = "speaker", Announcement = "announcement",
    }
}

closed_enum! {
    /// `<Conversation>` status callback events.
    ConversationEvent {
        CallInitiated = "call-initiated", CallRinging = "call-ringing",
        CallAnswered = "call-answered", CallCompleted = "call-completed",
    }
}

closed_enum! {
    /// Kinds of input `<Gather>` accepts (the attribute is a space-separated set).
    GatherInput { Dtmf = "dtmf", Speech = "speech", }
}

closed_enum! {
    /// Kinds of input `<Pay>` accepts.
    PayInput { Dtmf = "dtmf", }
}

closed_enum! {
    /// Why `<Reject>` rejects the call.
    RejectReason { Rejected = "rejected", Busy = "busy", }
}

closed_enum! {
    /// Answering machine detection mode.
    MachineDetection { Enable = "Enable", DetectMessageEnd = "DetectMessageEnd", }
}

closed_enum! {
    /// Whether and how `<Dial>` records.
    DialRecord {
        DoNotRecord = "do-not-record", RecordFromAnswer = "record-from-answer",
        RecordFromRinging = "record-from-ringing", RecordFromAnswerDual = "record-from-answer-dual",
        RecordFromRingingDual = "record-from-ringing-dual",
    }
}

closed_enum! {
    /// Whether a `<Conference>` is recorded.
    ConferenceRecord { DoNotRecord = "do-not-record", RecordFromStart = "record-from-start", }
}

closed_enum! {
    /// When a `<Conference>` beeps.
    ConferenceBeep { True = "true", False = "false", OnEnter = "onEnter", OnExit = "onExit", }
}

closed_enum! {
    /// Region where a `<Conference>` is mixed.
    ConferenceRegion {
        Us1 = "us1", Us2 = "us2", Ie1 = "ie1", De1 = "de1", Sg1 = "sg1", Br1 = "br1", Au1 = "au1",
        Jp1 = "jp1",
    }
}

closed_enum! {
    /// Jitter buffer size of a conference participant.
    JitterBufferSize { Off = "off", Small = "small", Medium = "medium", Large = "large", }
}

closed_enum! {
    /// Payment method of `<Pay>`.
    PaymentMethod { CreditCard = "credit-card", AchDebit = "ach-debit", }
}

closed_enum! {
    /// Bank account type of an ACH payment.
    BankAccountType {
        ConsumerChecking = "consumer-checking", ConsumerSavings = "consumer-savings",
        CommercialChecking = "commercial-checking", CommercialSavings = "commercial-savings",
    }
}

closed_enum! {
    /// Token type of `<Pay>`.
    TokenType { OneTime = "one-time", Reusable = "reusable", PaymentMethod = "payment-method", }
}

closed_enum! {
    /// Card types `<Pay>` accepts.
    CardType {
        Visa = "visa", Mastercard = "mastercard", Amex = "amex", Maestro = "maestro",
        Discover = "discover", Optima = "optima", Jcb = "jcb", DinersClub = "diners-club",
        Enroute = "enroute",
    }
}

closed_enum! {
    /// What a `<Pay>` `<Prompt>` asks for.
    PayPromptFor {
        PaymentCardNumber = "payment-card-number", ExpirationDate = "expiration-date",
        SecurityCode = "security-code", PostalCode = "postal-code",
        PaymentProcessing = "payment-processing", BankAccountNumber = "bank-account-number",
        BankRoutingNumber = "bank-routing-number",
    }
}

closed_enum! {
    /// Errors a `<Pay>` `<Prompt>` is played for.
    PayErrorType {
        Timeout = "timeout", InvalidCardNumber = "invalid-card-number",
        InvalidCardType = "invalid-card-type", InvalidDate = "invalid-date",
        InvalidSecurityCode = "invalid-security-code", InvalidPostalCode = "invalid-postal-code",
        InvalidBankRoutingNumber = "invalid-bank-routing-number",
        InvalidBankAccountNumber = "invalid-bank-account-number",
        InputMatchingFailed = "input-matching-failed",
    }
}

closed_enum! {
    /// Strength of an SSML `<break>`.
    BreakStrength {
        None = "none", XWeak = "x-weak", Weak = "weak", Medium = "medium", Strong = "strong",
        XStrong = "x-strong",
    }
}

closed_enum! {
    /// Level of an SSML `<emphasis>`.
    EmphasisLevel { Strong = "strong", Moderate = "moderate", Reduced = "reduced", }
}

closed_enum! {
    /// Phonetic alphabet of an SSML `<phoneme>`.
    PhonemeAlphabet {
        Ipa = "ipa", XSampa = "x-sampa", XAmazonJyutping = "x-amazon-jyutping",
        XAmazonPinyin = "x-amazon-pinyin", XAmazonPronKana = "x-amazon-pron-kana",
        XAmazonYomigana = "x-amazon-yomigana",
    }
}

closed_enum! {
    /// How an SSML `<say-as>` interprets its words.
    InterpretAs {
        Characters = "characters", SpellOut = "spell-out", Cardinal = "cardinal",
        Number = "number", Ordinal = "ordinal", Digits = "digits", Fraction = "fraction",
        Unit = "unit", Date = "date", Time = "time", Address = "address",
        Expletive = "expletive", Telephone = "telephone",
    }
}

closed_enum! {
    /// Date format of an SSML `<say-as interpret-as="date">`.
    SayAsFormat {
        Mdy = "mdy", Dmy = "dmy", Ymd = "ymd", Md = "md", Dm = "dm", Ym = "ym", My = "my",
        D = "d", M = "m", Y = "y", Yyyymmdd = "yyyymmdd",
    }
}

/// A whole number of seconds, the unit of TwiML timeouts and lengths.
///
/// Converts from `u32` and from [`Duration`] (sub-second parts are dropped; durations beyond
/// `u32::MAX` seconds saturate).
///
/// ```
/// use kav_twiml::Seconds;
/// use std::time::Duration;
/// assert_eq!(Seconds::from(5), Seconds::from(Duration::from_millis(5_900)));
/// assert_eq!(Seconds::from(5).as_duration(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seconds(pub u32);

impl Seconds {
    /// The value as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_secs(self.0 as u64)
    }
}

impl From<u32> for Seconds {
    fn from(value: u32) -> Self {
        Self(value)
    }
}

impl From<Duration> for Seconds {
    fn from(value: Duration) -> Self {
        Self(u32::try_from(value.as_secs()).unwrap_or(u32::MAX))
    }
}

impl From<Seconds> for Duration {
    fn from(value: Seconds) -> Self {
        value.as_duration()
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl AttrValue for Seconds {
    fn write_value(&self, out: &mut String) {
        write_u32(out, self.0);
    }
    fn to_attr_string(&self) -> String {
        self.0.to_string()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        parse_u32(value).map(Self)
    }
}

/// `<Gather speechTimeout>`: `auto` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpeechTimeout {
    /// `auto`: Twilio decides when the caller has finished.
    Auto,
    /// A fixed silence, in seconds.
    Seconds(Seconds),
}

impl From<Seconds> for SpeechTimeout {
    fn from(value: Seconds) -> Self {
        Self::Seconds(value)
    }
}

impl From<u32> for SpeechTimeout {
    fn from(value: u32) -> Self {
        Self::Seconds(Seconds(value))
    }
}

impl AttrValue for SpeechTimeout {
    fn write_value(&self, out: &mut String) {
        match self {
            Self::Auto => out.push_str("auto"),
            Self::Seconds(s) => write_u32(out, s.0),
        }
    }
    fn to_attr_string(&self) -> String {
        match self {
            Self::Auto => "auto".to_owned(),
            Self::Seconds(s) => s.0.to_string(),
        }
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        if value == "auto" {
            return Ok(Self::Auto);
        }
        parse_u32(value)
            .map(|n| Self::Seconds(Seconds(n)))
            .map_err(|_| "expected `auto` or a number of seconds".to_owned())
    }
}

macro_rules! key_string {
    ($(#[$meta:meta])* $name:ident, $allowed:expr, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates the keys.
            ///
            /// # Errors
            #[doc = concat!("[`Error::InvalidValue`] when a character is not ", $what, ".")]
            pub fn new(keys: &str) -> Result<Self, Error> {
                if let Some(c) = keys.chars().find(|c| !$allowed.contains(*c)) {
                    return Err(Error::InvalidValue {
                        kind: stringify!($name),
                        value: keys.to_owned(),
                        reason: format!(concat!("`{}` is not ", $what), c.escape_default()),
                    });
                }
                Ok(Self(keys.to_owned()))
            }

            /// The keys as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl AttrValue for $name {
            fn write_value(&self, out: &mut String) {
                out.push_str(&self.0);
            }
            fn to_attr_string(&self) -> String {
                self.0.clone()
            }
            fn from_attr(value: &str) -> Result<Self, String> {
                Self::new(value).map_err(|e| crate::write::reason_of(&e))
            }
        }
    };
}

key_string! {
    /// Keys that end input (`finishOnKey`): any of `0`–`9`, `*`, `#`; empty disables the key.
    ///
    /// ```
    /// use kav_twiml::DtmfKeys;
    /// assert_eq!(DtmfKeys::new("*")?.as_str(), "*");
    /// assert!(DtmfKeys::new("x").is_err());
    /// # Ok::<(), kav_twiml::Error>(())
    /// ```
    DtmfKeys, "0123456789*#", "a DTMF key (0-9, *, #)"
}

key_string! {
    /// DTMF digits to play (`digits`, `sendDigits`): `0`–`9`, `*`, `#`, and `w` (half a second
    /// pause) or `W` (one second).
    ///
    /// ```
    /// use kav_twiml::Digits;
    /// assert!(Digits::new("ww1234#").is_ok());
    /// assert!(Digits::new("12a").is_err());
    /// ```
    Digits, "0123456789*#wW", "a DTMF digit (0-9, *, #) or a pause (w, W)"
}

/// A password placed in TwiML (SIP credentials). Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl AttrValue for Password {
    fn write_value(&self, out: &mut String) {
        escape_attr(out, &self.0);
    }
    fn to_attr_string(&self) -> String {
        self.0.clone()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        Ok(Self(value.to_owned()))
    }
    fn from_attr_owned(value: String) -> Result<Self, (String, String)> {
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for v in Trim::ALL {
            assert_eq!(v.as_str().parse::<Trim>().unwrap(), *v);
        }
        assert_eq!(Trim::VALUES, ["trim-silence", "do-not-trim"]);
        let err = "nope".parse::<HttpMethod>().unwrap_err().to_string();
        assert_eq!(err, "invalid HttpMethod `nope`: expected one of: GET, POST");
    }

    #[test]
    fn password_is_redacted() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2")),
            "Password(<redacted>)"
        );
    }

    #[test]
    fn speech_timeout() {
        assert_eq!(SpeechTimeout::from_attr("auto"), Ok(SpeechTimeout::Auto));
        assert_eq!(SpeechTimeout::from_attr("3"), Ok(SpeechTimeout::from(3)));
        assert!(SpeechTimeout::from_attr("soon").is_err());
    }
}
