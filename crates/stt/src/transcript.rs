//! What a provider heard.

use std::time::Duration;

use crate::Provider;

/// Whether the language of a transcript was detected by the provider or declared by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LanguageSource {
    /// The provider detected the language from the audio.
    Detected,
    /// The language was given in the request; the provider transcribed in that language.
    Declared,
}

/// The language of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language {
    /// The language code: ISO 639-1 (`he`) or BCP-47 (`he-IL`) as the provider reports it; OpenAI's
    /// language names (`hebrew`) are mapped to ISO 639-1 codes where known.
    pub code: String,
    /// Detected or declared.
    pub source: LanguageSource,
}

impl Language {
    /// A language with its code and source.
    pub fn new(code: impl Into<String>, source: LanguageSource) -> Self {
        Self {
            code: code.into(),
            source,
        }
    }
}

/// A stretch of a transcript with Whisper's per-segment decoding statistics
/// (OpenAI `verbose_json`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Segment {
    /// Start of the segment, from the start of the clip.
    pub start: Duration,
    /// End of the segment, from the start of the clip.
    pub end: Duration,
    /// The text of the segment.
    pub text: String,
    /// The mean log-probability of the segment's tokens (below −1: decoding was unsure).
    pub avg_logprob: f64,
    /// The probability that the segment holds no speech at all.
    pub no_speech_prob: f64,
    /// The gzip compression ratio of the text (above 2.4: repetitive, likely a hallucination).
    pub compression_ratio: f64,
}

impl Segment {
    /// A segment with its timing, text and statistics.
    pub fn new(
        start: Duration,
        end: Duration,
        text: impl Into<String>,
        avg_logprob: f64,
        no_speech_prob: f64,
        compression_ratio: f64,
    ) -> Self {
        Self {
            start,
            end,
            text: text.into(),
            avg_logprob,
            no_speech_prob,
            compression_ratio,
        }
    }
}

/// What a provider heard in a clip.
///
/// Fields are public for reading; build one with [`Transcript::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transcript {
    /// The provider that produced it.
    pub provider: Provider,
    /// The text, trimmed. May be empty when the provider heard nothing.
    pub text: String,
    /// The language, detected or declared, when known.
    pub language: Option<Language>,
    /// A confidence in 0..=1, when the provider gives one: Google's `confidence` (mean over
    /// results), or for OpenAI `exp(avg_logprob)` (the geometric-mean token probability).
    pub confidence: Option<f64>,
    /// The mean token log-probability, when the provider gives it: Whisper's segments'
    /// `avg_logprob` weighted by segment duration, or the mean of gpt-4o's token `logprobs`.
    pub avg_logprob: Option<f64>,
    /// The probability that the clip holds no speech, when the provider gives it: Whisper's
    /// segments' `no_speech_prob` weighted by segment duration.
    pub no_speech_prob: Option<f64>,
    /// Whisper's segments (OpenAI `verbose_json`); empty for other providers and models.
    pub segments: Vec<Segment>,
    /// How long the transcribed audio is: as reported by the provider, else the clip's length.
    pub duration: Option<Duration>,
    /// How much audio the provider billed, when it says (Google `totalBilledTime`).
    pub billed_duration: Option<Duration>,
}

impl Transcript {
    /// A transcript of `text` (trimmed) from `provider`, with nothing else known.
    pub fn new(provider: Provider, text: impl Into<String>) -> Self {
        let text: String = text.into();
        Self {
            provider,
            text: text.trim().to_owned(),
            language: None,
            confidence: None,
            avg_logprob: None,
            no_speech_prob: None,
            segments: Vec::new(),
            duration: None,
            billed_duration: None,
        }
    }

    /// Sets the language.
    #[must_use]
    pub fn with_language(mut self, language: Language) -> Self {
        self.language = Some(language);
        self
    }

    /// Sets the confidence (clamped to 0..=1; NaN is dropped).
    #[must_use]
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = (!confidence.is_nan()).then(|| confidence.clamp(0.0, 1.0));
        self
    }

    /// Sets the mean token log-probability.
    #[must_use]
    pub fn with_avg_logprob(mut self, avg_logprob: f64) -> Self {
        self.avg_logprob = Some(avg_logprob);
        self
    }

    /// Sets the no-speech probability.
    #[must_use]
    pub fn with_no_speech_prob(mut self, no_speech_prob: f64) -> Self {
        self.no_speech_prob = Some(no_speech_prob);
        self
    }

    /// Sets the segments and derives [`avg_logprob`](Self::avg_logprob),
    /// [`no_speech_prob`](Self::no_speech_prob) and [`confidence`](Self::confidence) from them
    /// (duration-weighted means; plain means when every segment is empty in time).
    #[must_use]
    pub fn with_segments(mut self, segments: Vec<Segment>) -> Self {
        if !segments.is_empty() {
            let weights: Vec<f64> = segments
                .iter()
                .map(|s| s.end.saturating_sub(s.start).as_secs_f64())
                .collect();
            let total: f64 = weights.iter().sum();
            let mean = |f: &dyn Fn(&Segment) -> f64| -> f64 {
                if total > 0.0 {
                    segments
                        .iter()
                        .zip(&weights)
                        .map(|(s, w)| f(s) * w)
                        .sum::<f64>()
                        / total
                } else {
                    segments.iter().map(f).sum::<f64>() / segments.len() as f64
                }
            };
            let avg_logprob = mean(&|s| s.avg_logprob);
            self.avg_logprob = Some(avg_logprob);
            self.no_speech_prob = Some(mean(&|s| s.no_speech_prob));
            self = self.with_confidence(avg_logprob.exp());
        }
        self.segments = segments;
        self
    }

    /// Sets the duration of the transcribed audio.
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Sets the billed duration.
    #[must_use]
    pub fn with_billed_duration(mut self, duration: Duration) -> Self {
        self.billed_duration = Some(duration);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_give_weighted_statistics() {
        let t = Transcript::new(Provider::OpenAi, "  שלום  ").with_segments(vec![
            Segment::new(Duration::ZERO, Duration::from_secs(3), "a", -0.2, 0.1, 1.0),
            Segment::new(
                Duration::from_secs(3),
                Duration::from_secs(4),
                "b",
                -0.6,
                0.5,
                1.0,
            ),
        ]);
        assert_eq!(t.text, "שלום");
        assert!((t.avg_logprob.unwrap() - (-0.3)).abs() < 1e-12);
        assert!((t.no_speech_prob.unwrap() - 0.2).abs() < 1e-12);
        assert!((t.confidence.unwrap() - (-0.3f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn confidence_is_clamped() {
        let t = Transcript::new(Provider::Google, "x").with_confidence(1.5);
        assert_eq!(t.confidence, Some(1.0));
        let t = Transcript::new(Provider::Google, "x").with_confidence(f64::NAN);
        assert_eq!(t.confidence, None);
    }
}
