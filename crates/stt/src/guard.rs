//! The no-speech and hallucination guard used before and after speech-to-text.

use std::fmt;
use std::time::Duration;

use kav_audio_codec::vad::{FRAME_SAMPLES, Vad, VadConfig, VadEvent};

use crate::clip::samples_to_duration;
use crate::{AudioClip, Error, SpeechToText, Transcript};

/// The level floor reported for digital silence, in dBFS.
pub const SILENCE_DBFS: f64 = -120.0;

/// Whisper's well-known outputs on silence, noise and music: subtitle credits and sign-offs
/// learned from video subtitles. An entry ending in `*` matches every transcript that starts with
/// it (after normalization); the others match the whole transcript (repeated any number of times).
pub const DEFAULT_HALLUCINATIONS: &[&str] = &[
    "תודה רבה",
    "תודה רבה לכם",
    "תודה שצפיתם",
    "תודה רבה שצפיתם",
    "תודה על הצפייה",
    "כתוביות*",
    "תרגום וכתוביות*",
    "ספריית*",
    "you",
    "thank you",
    "thank you very much",
    "thank you for watching",
    "thanks for watching",
    "thank you so much for watching",
    "please subscribe",
    "subtitles by*",
    "subtitles made by*",
];

/// Why the guard decided that nothing was said.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NoSpeechReason {
    /// The clip is shorter than the configured minimum.
    TooShort {
        /// The clip's length.
        duration: Duration,
        /// The configured minimum.
        min: Duration,
    },
    /// Too little of the clip is loud enough to be speech.
    TooQuiet {
        /// How long the clip is above the level threshold (in 20 ms frames).
        active: Duration,
        /// The configured minimum of active audio.
        min_active: Duration,
        /// The RMS level of the loudest 20 ms frame, in dBFS.
        loudest_frame_dbfs: f64,
        /// The peak sample level of the clip, in dBFS.
        peak_dbfs: f64,
        /// The configured level threshold, in dBFS.
        threshold_dbfs: f64,
    },
    /// The voice activity detector (kav-audio-codec's two-band VAD, on the clip at 8 kHz) never
    /// heard speech start: the sound is steady (a tone, hum, line noise) rather than a voice.
    NoVoicedFrames {
        /// How many 20 ms frames the detector looked at.
        frames: usize,
        /// How many single frames looked like speech (too few, or not in a row, to start speech).
        speech_frames: usize,
    },
    /// The transcript is empty (or only punctuation).
    EmptyTranscript,
    /// The transcript is one of Whisper's known hallucinations on silence or noise.
    KnownHallucination {
        /// The entry of the hallucination list that matched.
        phrase: String,
    },
    /// The provider itself says the clip is most likely silent: every segment has
    /// `no_speech_prob` above the threshold and `avg_logprob` below the threshold.
    ProbablySilent {
        /// The (duration-weighted) no-speech probability.
        no_speech_prob: f64,
        /// The (duration-weighted) mean token log-probability.
        avg_logprob: f64,
    },
    /// Every segment's text is highly repetitive (Whisper's `compression_ratio` above the
    /// threshold): the decoder looped, as it does on noise ("שלום שלום שלום שלום…").
    Repetitive {
        /// The highest compression ratio among the segments.
        compression_ratio: f64,
        /// The configured threshold.
        threshold: f64,
    },
    /// The provider's confidence is below the configured minimum.
    LowConfidence {
        /// The provider's confidence.
        confidence: f64,
        /// The configured minimum.
        min: f64,
    },
}

impl fmt::Display for NoSpeechReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { duration, min } => write!(
                f,
                "clip too short ({} ms < {} ms)",
                duration.as_millis(),
                min.as_millis()
            ),
            Self::TooQuiet {
                active,
                min_active,
                loudest_frame_dbfs,
                peak_dbfs,
                threshold_dbfs,
            } => write!(
                f,
                "too quiet ({} ms above {threshold_dbfs:.1} dBFS < {} ms; loudest frame \
                 {loudest_frame_dbfs:.1} dBFS, peak {peak_dbfs:.1} dBFS)",
                active.as_millis(),
                min_active.as_millis()
            ),
            Self::NoVoicedFrames {
                frames,
                speech_frames,
            } => write!(
                f,
                "no voice detected ({speech_frames} of {frames} frames looked like speech)"
            ),
            Self::EmptyTranscript => f.write_str("empty transcript"),
            Self::KnownHallucination { phrase } => {
                write!(f, "known hallucination on silence ({phrase:?})")
            }
            Self::ProbablySilent {
                no_speech_prob,
                avg_logprob,
            } => write!(
                f,
                "provider says probably silent (no_speech_prob {no_speech_prob:.2}, \
                 avg_logprob {avg_logprob:.2})"
            ),
            Self::Repetitive {
                compression_ratio,
                threshold,
            } => write!(
                f,
                "repetitive text (compression ratio {compression_ratio:.2} > {threshold:.2})"
            ),
            Self::LowConfidence { confidence, min } => {
                write!(f, "low confidence ({confidence:.2} < {min:.2})")
            }
        }
    }
}

/// The guard's decision.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Verdict {
    /// Something was (or may have been) said: go on.
    Speech,
    /// Nothing was said, and why.
    NoSpeech(NoSpeechReason),
}

impl Verdict {
    /// Whether the verdict is [`Verdict::Speech`].
    pub fn is_speech(&self) -> bool {
        matches!(self, Self::Speech)
    }

    /// The reason, when nothing was said.
    pub fn reason(&self) -> Option<&NoSpeechReason> {
        match self {
            Self::Speech => None,
            Self::NoSpeech(r) => Some(r),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Speech => f.write_str("speech"),
            Self::NoSpeech(r) => write!(f, "no speech: {r}"),
        }
    }
}

/// Level measurements of a clip, on 20 ms frames.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Levels {
    /// RMS of the whole clip, in dBFS (floored at [`SILENCE_DBFS`]).
    pub rms_dbfs: f64,
    /// Peak sample, in dBFS (floored at [`SILENCE_DBFS`]).
    pub peak_dbfs: f64,
    /// RMS of the loudest 20 ms frame, in dBFS (floored at [`SILENCE_DBFS`]).
    pub loudest_frame_dbfs: f64,
    /// Total length of the 20 ms frames whose RMS reaches the threshold.
    pub active: Duration,
}

/// Measures `clip`: whole-clip RMS, peak, loudest 20 ms frame, and how long it is at or above
/// `threshold_dbfs`.
pub fn measure(clip: &AudioClip, threshold_dbfs: f64) -> Levels {
    let pcm = clip.to_pcm16();
    let frame = (clip.sample_rate() / 50).max(1) as usize;
    let mut total_sq = 0.0f64;
    let mut peak = 0u16;
    let mut loudest_ms = 0.0f64;
    let mut active_samples = 0usize;
    // Compare mean squares to avoid a log per frame.
    let threshold_ms = dbfs_to_mean_square(threshold_dbfs);
    for chunk in pcm.chunks(frame) {
        let sq: f64 = chunk
            .iter()
            .map(|&s| {
                let x = f64::from(s);
                x * x
            })
            .sum();
        total_sq += sq;
        peak = peak.max(chunk.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0));
        let ms = sq / chunk.len() as f64;
        loudest_ms = loudest_ms.max(ms);
        if ms >= threshold_ms {
            active_samples += chunk.len();
        }
    }
    let total_ms = if pcm.is_empty() {
        0.0
    } else {
        total_sq / pcm.len() as f64
    };
    Levels {
        rms_dbfs: mean_square_to_dbfs(total_ms),
        peak_dbfs: amplitude_to_dbfs(f64::from(peak)),
        loudest_frame_dbfs: mean_square_to_dbfs(loudest_ms),
        active: samples_to_duration(active_samples, clip.sample_rate()),
    }
}

/// Runs the detector over `clip` at 8 kHz: (frames, single speech frames, whether speech
/// started). `None` when the clip cannot be brought to 8 kHz (then the VAD is not consulted).
fn run_vad(clip: &AudioClip, config: VadConfig) -> Option<(usize, usize, bool)> {
    let pcm = clip.to_pcm16();
    let resampled;
    let pcm8k: &[i16] = if clip.sample_rate() == 8_000 {
        &pcm
    } else {
        resampled = kav_audio_codec::resample::resample(&pcm, clip.sample_rate(), 8_000).ok()?;
        &resampled
    };
    let mut vad = Vad::new(config);
    let (mut frames, mut speech_frames, mut voiced) = (0, 0, false);
    for frame in pcm8k.chunks(FRAME_SAMPLES) {
        let out = vad.process(frame);
        frames += 1;
        speech_frames += usize::from(out.speech);
        voiced |= out.event == Some(VadEvent::SpeechStart);
    }
    Some((frames, speech_frames, voiced))
}

const FULL_SCALE: f64 = 32_768.0;

fn amplitude_to_dbfs(a: f64) -> f64 {
    if a <= 0.0 {
        SILENCE_DBFS
    } else {
        (20.0 * (a / FULL_SCALE).log10()).max(SILENCE_DBFS)
    }
}

fn mean_square_to_dbfs(ms: f64) -> f64 {
    amplitude_to_dbfs(ms.sqrt())
}

fn dbfs_to_mean_square(dbfs: f64) -> f64 {
    let a = FULL_SCALE * 10f64.powf(dbfs / 20.0);
    a * a
}

/// Normalizes a transcript or a hallucination phrase for matching: lower case, Hebrew points
/// (niqqud, cantillation) removed, every character that is not a letter or a digit turned into a
/// space, runs of whitespace collapsed, trimmed.
///
/// ```
/// assert_eq!(kav_stt::normalize_text("  Thanks for   WATCHING!! "), "thanks for watching");
/// assert_eq!(kav_stt::normalize_text("תּוֹדָה רַבָּה."), "תודה רבה");
/// assert_eq!(kav_stt::normalize_text("Amara.org"), "amara org");
/// ```
pub fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        // Hebrew cantillation marks and points: U+0591..=U+05C7 except the punctuation among them
        // (maqaf U+05BE, paseq U+05C0, sof pasuq U+05C3, nun hafukha U+05C6), which separate words.
        if ('\u{0591}'..='\u{05C7}').contains(&c)
            && !matches!(c, '\u{05BE}' | '\u{05C0}' | '\u{05C3}' | '\u{05C6}')
        {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// As configured (reported in verdicts).
    original: String,
    /// Normalized, without the trailing `*`.
    normalized: String,
    prefix: bool,
}

impl Pattern {
    fn new(phrase: &str) -> Option<Self> {
        let trimmed = phrase.trim();
        let (body, prefix) = match trimmed.strip_suffix('*') {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        let normalized = normalize_text(body);
        (!normalized.is_empty()).then(|| Self {
            original: trimmed.to_owned(),
            normalized,
            prefix,
        })
    }

    fn matches(&self, text: &str) -> bool {
        if self.prefix {
            return text == self.normalized
                || text
                    .strip_prefix(&self.normalized)
                    .is_some_and(|rest| rest.starts_with(' '));
        }
        // The whole text, possibly repeated ("thank you thank you").
        let mut rest = text;
        loop {
            match rest.strip_prefix(&self.normalized) {
                Some("") => return true,
                Some(r) if r.starts_with(' ') => rest = &r[1..],
                _ => return false,
            }
        }
    }
}

/// Decides, before and after speech-to-text, whether anything was said.
///
/// Before: a clip that is too short, has too little audio above a level threshold, or in which
/// the voice activity detector never hears speech start (a steady tone, hum or line noise), is
/// not worth a provider call. After: an empty transcript, one of Whisper's known hallucinations, a
/// provider that reports silence itself (Whisper's rule: `no_speech_prob` above a threshold with
/// `avg_logprob` below one), text so repetitive that the decoder must have looped (Whisper's
/// `compression_ratio`), or (when configured) a low confidence mean "nothing was said".
///
/// ```
/// use kav_stt::{AudioClip, NoSpeechReason, SpeechGuard, Verdict};
///
/// let guard = SpeechGuard::default();
/// let silence = AudioClip::mulaw_8k(vec![0xFF; 8_000]);
/// assert!(matches!(
///     guard.before(&silence),
///     Verdict::NoSpeech(NoSpeechReason::TooQuiet { .. })
/// ));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechGuard {
    min_duration: Duration,
    level_threshold_dbfs: f64,
    min_active: Duration,
    vad: Option<VadConfig>,
    hallucinations: Vec<Pattern>,
    no_speech_prob_threshold: f64,
    logprob_threshold: f64,
    compression_ratio_threshold: Option<f64>,
    min_confidence: Option<f64>,
}

impl Default for SpeechGuard {
    /// Minimum 300 ms of audio, of which at least 60 ms (three 20 ms frames) at or above
    /// −45 dBFS RMS; the voice activity detector with its default settings;
    /// [`DEFAULT_HALLUCINATIONS`]; silent when `no_speech_prob > 0.6` and
    /// `avg_logprob < −1`; repetitive when every segment's `compression_ratio > 2.4`; no
    /// confidence minimum.
    fn default() -> Self {
        Self {
            min_duration: Duration::from_millis(300),
            level_threshold_dbfs: -45.0,
            min_active: Duration::from_millis(60),
            vad: Some(VadConfig::default()),
            hallucinations: DEFAULT_HALLUCINATIONS
                .iter()
                .filter_map(|p| Pattern::new(p))
                .collect(),
            no_speech_prob_threshold: 0.6,
            logprob_threshold: -1.0,
            compression_ratio_threshold: Some(2.4),
            min_confidence: None,
        }
    }
}

impl SpeechGuard {
    /// The default guard (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Clips shorter than `min` are "too short" (default 300 ms).
    #[must_use]
    pub fn with_min_duration(mut self, min: Duration) -> Self {
        self.min_duration = min;
        self
    }

    /// A 20 ms frame whose RMS is at or above `dbfs` counts as active (default −45 dBFS;
    /// clamped to −120..=0, NaN means −120).
    #[must_use]
    pub fn with_level_threshold_dbfs(mut self, dbfs: f64) -> Self {
        self.level_threshold_dbfs = if dbfs.is_nan() {
            SILENCE_DBFS
        } else {
            dbfs.clamp(SILENCE_DBFS, 0.0)
        };
        self
    }

    /// Clips with less active audio than `min` are "too quiet" (default 60 ms).
    #[must_use]
    pub fn with_min_active(mut self, min: Duration) -> Self {
        self.min_active = min;
        self
    }

    /// The voice activity detector settings, or `None` to rely on the level check alone
    /// (default: [`VadConfig::default`]). Clips that are not at 8 kHz are resampled to 8 kHz
    /// for the detector.
    #[must_use]
    pub fn with_vad(mut self, vad: Option<VadConfig>) -> Self {
        self.vad = vad;
        self
    }

    /// Replaces the hallucination list (entries ending in `*` match as prefixes; entries that
    /// normalize to nothing are ignored).
    #[must_use]
    pub fn with_hallucinations<I, S>(mut self, phrases: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.hallucinations = phrases
            .into_iter()
            .filter_map(|p| Pattern::new(p.as_ref()))
            .collect();
        self
    }

    /// Adds one entry to the hallucination list.
    #[must_use]
    pub fn with_hallucination(mut self, phrase: &str) -> Self {
        self.hallucinations.extend(Pattern::new(phrase));
        self
    }

    /// A transcript is "probably silent" when `no_speech_prob > no_speech_prob` and
    /// `avg_logprob < avg_logprob` (defaults 0.6 and −1.0, as in Whisper's own decoder).
    #[must_use]
    pub fn with_no_speech_thresholds(mut self, no_speech_prob: f64, avg_logprob: f64) -> Self {
        self.no_speech_prob_threshold = no_speech_prob;
        self.logprob_threshold = avg_logprob;
        self
    }

    /// A transcript all of whose segments have a `compression_ratio` above `threshold` is
    /// "repetitive" (default `Some(2.4)`, Whisper's own limit; `None` turns the rule off).
    #[must_use]
    pub fn with_compression_ratio_threshold(mut self, threshold: Option<f64>) -> Self {
        self.compression_ratio_threshold = threshold;
        self
    }

    /// A transcript whose confidence is below `min` is "low confidence" (default: no minimum).
    #[must_use]
    pub fn with_min_confidence(mut self, min: Option<f64>) -> Self {
        self.min_confidence = min;
        self
    }

    /// The hallucination list, as configured.
    pub fn hallucinations(&self) -> impl Iterator<Item = &str> {
        self.hallucinations.iter().map(|p| p.original.as_str())
    }

    /// Decides from the audio alone whether a provider call is worth it.
    pub fn before(&self, clip: &AudioClip) -> Verdict {
        let duration = clip.duration();
        if duration < self.min_duration {
            return Verdict::NoSpeech(NoSpeechReason::TooShort {
                duration,
                min: self.min_duration,
            });
        }
        let levels = measure(clip, self.level_threshold_dbfs);
        if levels.active < self.min_active {
            return Verdict::NoSpeech(NoSpeechReason::TooQuiet {
                active: levels.active,
                min_active: self.min_active,
                loudest_frame_dbfs: levels.loudest_frame_dbfs,
                peak_dbfs: levels.peak_dbfs,
                threshold_dbfs: self.level_threshold_dbfs,
            });
        }
        if let Some(config) = self.vad
            && let Some((frames, speech_frames, voiced)) = run_vad(clip, config)
            && !voiced
        {
            return Verdict::NoSpeech(NoSpeechReason::NoVoicedFrames {
                frames,
                speech_frames,
            });
        }
        Verdict::Speech
    }

    /// Decides from the transcript whether anything was said.
    pub fn after(&self, transcript: &Transcript) -> Verdict {
        let text = normalize_text(&transcript.text);
        if text.is_empty() {
            return Verdict::NoSpeech(NoSpeechReason::EmptyTranscript);
        }
        if let Some(p) = self.hallucinations.iter().find(|p| p.matches(&text)) {
            return Verdict::NoSpeech(NoSpeechReason::KnownHallucination {
                phrase: p.original.clone(),
            });
        }
        let silent =
            |nsp: f64, lp: f64| nsp > self.no_speech_prob_threshold && lp < self.logprob_threshold;
        let probably_silent = if transcript.segments.is_empty() {
            matches!((transcript.no_speech_prob, transcript.avg_logprob), (Some(n), Some(l)) if silent(n, l))
        } else {
            transcript
                .segments
                .iter()
                .all(|s| silent(s.no_speech_prob, s.avg_logprob))
        };
        if probably_silent {
            return Verdict::NoSpeech(NoSpeechReason::ProbablySilent {
                no_speech_prob: transcript.no_speech_prob.unwrap_or(f64::NAN),
                avg_logprob: transcript.avg_logprob.unwrap_or(f64::NAN),
            });
        }
        if let Some(threshold) = self.compression_ratio_threshold
            && !transcript.segments.is_empty()
            && transcript
                .segments
                .iter()
                .all(|s| s.compression_ratio > threshold)
        {
            let compression_ratio = transcript
                .segments
                .iter()
                .map(|s| s.compression_ratio)
                .fold(f64::MIN, f64::max);
            return Verdict::NoSpeech(NoSpeechReason::Repetitive {
                compression_ratio,
                threshold,
            });
        }
        if let (Some(min), Some(confidence)) = (self.min_confidence, transcript.confidence)
            && confidence < min
        {
            return Verdict::NoSpeech(NoSpeechReason::LowConfidence { confidence, min });
        }
        Verdict::Speech
    }
}

/// What a [`Guarded`] transcription found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GuardedTranscript {
    /// Something was said.
    Speech(Transcript),
    /// Nothing was said.
    NoSpeech {
        /// Why.
        reason: NoSpeechReason,
        /// The provider's transcript, when the provider was called (rejected after STT); `None`
        /// when the clip was rejected before any call.
        transcript: Option<Transcript>,
    },
}

impl GuardedTranscript {
    /// The verdict this outcome stands for.
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Speech(_) => Verdict::Speech,
            Self::NoSpeech { reason, .. } => Verdict::NoSpeech(reason.clone()),
        }
    }

    /// The accepted transcript, when something was said.
    pub fn speech(&self) -> Option<&Transcript> {
        match self {
            Self::Speech(t) => Some(t),
            Self::NoSpeech { .. } => None,
        }
    }

    /// Whether the provider was called.
    pub fn provider_called(&self) -> bool {
        !matches!(
            self,
            Self::NoSpeech {
                transcript: None,
                ..
            }
        )
    }
}

/// A speech-to-text provider behind a [`SpeechGuard`]: clips the guard rejects are never sent,
/// and transcripts it rejects are reported as "nothing was said".
///
/// ```
/// # use kav_stt::{AudioClip, BoxFuture, Error, Guarded, Provider, SpeechGuard, SpeechToText, Transcript};
/// # struct Never;
/// # impl SpeechToText for Never {
/// #     fn provider(&self) -> Provider { Provider::Other("never") }
/// #     fn transcribe<'a>(&'a self, _: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
/// #         Box::pin(async { panic!("not called for silence") })
/// #     }
/// # }
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     use std::task::{Context, Poll, Waker};
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(Waker::noop())) { return v; } }
/// # }
/// let stt = Guarded::new(Never, SpeechGuard::default());
/// let outcome = block_on(stt.transcribe(&AudioClip::mulaw_8k(vec![0xFF; 16_000])))?;
/// assert!(!outcome.provider_called());
/// println!("{}", outcome.verdict()); // "no speech: too quiet (0 ms above -45.0 dBFS < 60 ms; …)"
/// # Ok::<(), kav_stt::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Guarded<T> {
    inner: T,
    guard: SpeechGuard,
}

impl<T: SpeechToText> Guarded<T> {
    /// `inner` behind `guard`.
    pub fn new(inner: T, guard: SpeechGuard) -> Self {
        Self { inner, guard }
    }

    /// The provider.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The guard.
    pub fn guard(&self) -> &SpeechGuard {
        &self.guard
    }

    /// Checks `clip`, transcribes it if it may hold speech, and checks the transcript.
    ///
    /// # Errors
    ///
    /// The provider's errors (the guard itself never fails).
    pub async fn transcribe(&self, clip: &AudioClip) -> Result<GuardedTranscript, Error> {
        if let Verdict::NoSpeech(reason) = self.guard.before(clip) {
            return Ok(GuardedTranscript::NoSpeech {
                reason,
                transcript: None,
            });
        }
        let transcript = self.inner.transcribe(clip).await?;
        Ok(match self.guard.after(&transcript) {
            Verdict::Speech => GuardedTranscript::Speech(transcript),
            Verdict::NoSpeech(reason) => GuardedTranscript::NoSpeech {
                reason,
                transcript: Some(transcript),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbfs_conversions() {
        assert!((amplitude_to_dbfs(32_768.0)).abs() < 1e-9);
        assert!((amplitude_to_dbfs(16_384.0) + 6.0206).abs() < 1e-3);
        assert_eq!(amplitude_to_dbfs(0.0), SILENCE_DBFS);
        let ms = dbfs_to_mean_square(-20.0);
        assert!((mean_square_to_dbfs(ms) + 20.0).abs() < 1e-9);
    }

    proptest::proptest! {
        #[test]
        fn normalization_is_idempotent_and_total(text in "\\PC{0,60}") {
            let once = normalize_text(&text);
            proptest::prop_assert_eq!(normalize_text(&once), once.clone());
            proptest::prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            proptest::prop_assert!(!once.contains("  "));
            let _ = SpeechGuard::default().after(&Transcript::new(crate::Provider::OpenAi, text));
        }

        #[test]
        fn any_audio_gets_a_verdict(samples in proptest::collection::vec(proptest::num::i16::ANY, 0..4_000),
                                    rate in 8_000u32..=48_000) {
            let clip = AudioClip::pcm16(samples.clone(), rate).unwrap();
            let _ = SpeechGuard::default().with_min_duration(Duration::ZERO).before(&clip);
            let codes: Vec<u8> = samples.iter().map(|&s| s as u8).collect();
            let _ = SpeechGuard::default().before(&AudioClip::mulaw_8k(codes));
        }
    }

    #[test]
    fn prefix_patterns_need_a_word_boundary() {
        let p = Pattern::new("Subtitles by*").unwrap();
        assert!(p.matches("subtitles by the amara org community"));
        assert!(p.matches("subtitles by"));
        assert!(!p.matches("subtitles bypass"));
        let p = Pattern::new("thank you").unwrap();
        assert!(p.matches("thank you"));
        assert!(p.matches("thank you thank you thank you"));
        assert!(!p.matches("thank you for the pizza"));
        assert!(!p.matches("thank youth"));
        assert!(Pattern::new(" ?! ").is_none());
        assert!(Pattern::new("*").is_none());
    }
}
