//! What to say, in which language and voice, how fast.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The longest text accepted, in characters (OpenAI's limit; Google's is 5000 bytes).
pub const MAX_TEXT_CHARS: usize = 4096;
/// The slowest speaking rate accepted (1.0 is normal).
pub const MIN_SPEAKING_RATE: f32 = 0.25;
/// The fastest speaking rate accepted (1.0 is normal).
pub const MAX_SPEAKING_RATE: f32 = 4.0;

/// A BCP-47 language tag such as `he-IL` or `en-US` (validated: ASCII letters, digits and `-`,
/// 2 to 35 characters, starting with a letter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// Validates a language tag.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when `tag` is not shaped like a BCP-47 tag.
    pub fn new(tag: &str) -> Result<Self, Error> {
        let ok = (2..=35).contains(&tag.len())
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && tag.as_bytes()[0].is_ascii_alphabetic()
            && !tag.ends_with('-')
            && !tag.contains("--");
        if ok {
            Ok(Self(tag.to_owned()))
        } else {
            Err(Error::InvalidRequest(format!(
                "{tag:?} is not a language tag like \"he-IL\""
            )))
        }
    }

    /// Hebrew (Israel), `he-IL`: the default.
    pub fn hebrew() -> Self {
        Self("he-IL".to_owned())
    }

    /// The tag as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag, lower case (`he` for `he-IL`).
    pub fn primary(&self) -> String {
        self.0
            .split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
}

impl Default for Language {
    fn default() -> Self {
        Self::hebrew()
    }
}

impl FromStr for Language {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One piece of text to synthesize.
///
/// ```
/// use kav_tts::{Language, SpeechRequest};
///
/// let req = SpeechRequest::new("שלום, איך אפשר לעזור?")?
///     .with_voice("he-IL-Wavenet-A")
///     .with_speaking_rate(1.1)?;
/// assert_eq!(req.language(), &Language::hebrew()); // he-IL unless told otherwise
/// # Ok::<(), kav_tts::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    text: String,
    language: Language,
    voice: Option<String>,
    speaking_rate: Option<f32>,
}

impl SpeechRequest {
    /// A request for `text` in `he-IL`, with the provider's default voice and normal rate.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the text is blank or longer than [`MAX_TEXT_CHARS`].
    pub fn new(text: impl Into<String>) -> Result<Self, Error> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(Error::InvalidRequest("the text is empty".into()));
        }
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(Error::InvalidRequest(format!(
                "the text has {chars} characters, more than {MAX_TEXT_CHARS}"
            )));
        }
        Ok(Self {
            text,
            language: Language::default(),
            voice: None,
            speaking_rate: None,
        })
    }

    /// Sets the language.
    #[must_use]
    pub fn with_language(mut self, language: Language) -> Self {
        self.language = language;
        self
    }

    /// Sets the voice (a provider-specific name: `he-IL-Wavenet-A`, `alloy`, an ElevenLabs
    /// voice id, an espeak-ng voice…).
    #[must_use]
    pub fn with_voice(mut self, voice: impl Into<String>) -> Self {
        let voice = voice.into();
        self.voice = (!voice.trim().is_empty()).then_some(voice);
        self
    }

    /// Sets the speaking rate (1.0 is normal).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] outside [`MIN_SPEAKING_RATE`]`..=`[`MAX_SPEAKING_RATE`].
    pub fn with_speaking_rate(mut self, rate: f32) -> Result<Self, Error> {
        if !(MIN_SPEAKING_RATE..=MAX_SPEAKING_RATE).contains(&rate) {
            return Err(Error::InvalidRequest(format!(
                "speaking rate {rate} is outside {MIN_SPEAKING_RATE}..={MAX_SPEAKING_RATE}"
            )));
        }
        self.speaking_rate = Some(rate);
        Ok(self)
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The language (default `he-IL`).
    pub fn language(&self) -> &Language {
        &self.language
    }

    /// The requested voice, if any.
    pub fn voice(&self) -> Option<&str> {
        self.voice.as_deref()
    }

    /// The requested speaking rate, if any.
    pub fn speaking_rate(&self) -> Option<f32> {
        self.speaking_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(SpeechRequest::new("  \n").is_err());
        assert!(SpeechRequest::new("x".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(SpeechRequest::new("ש".repeat(MAX_TEXT_CHARS + 1)).is_err());
        let r = SpeechRequest::new("hi").unwrap();
        assert!(r.clone().with_speaking_rate(0.2).is_err());
        assert!(r.clone().with_speaking_rate(f32::NAN).is_err());
        assert_eq!(
            r.clone().with_speaking_rate(4.0).unwrap().speaking_rate(),
            Some(4.0)
        );
        assert_eq!(r.clone().with_voice(" ").voice(), None);
        assert_eq!(r.language().as_str(), "he-IL");
        for bad in ["", "h", "-he", "he-", "he--IL", "he IL", "1he", "עב"] {
            assert!(Language::new(bad).is_err(), "{bad}");
        }
        let en: Language = "en-US".parse().unwrap();
        assert_eq!(en.primary(), "en");
        assert_eq!(en.to_string(), "en-US");
    }
}
