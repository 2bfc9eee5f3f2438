//! The audio handed to a speech-to-text provider.

use std::borrow::Cow;
use std::time::Duration;

use crate::Error;

/// The lowest sample rate a clip may have (narrow-band telephony).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// The highest sample rate a clip may have.
pub const MAX_SAMPLE_RATE: u32 = 48_000;

/// How the samples of a clip are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// G.711 μ-law, one byte per sample (what Twilio sends and records).
    Mulaw,
    /// Signed 16-bit linear PCM.
    Pcm16,
}

/// The samples of a clip, in their encoding. Always mono.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Samples {
    /// G.711 μ-law codes.
    Mulaw(Vec<u8>),
    /// Signed 16-bit linear PCM samples.
    Pcm16(Vec<i16>),
}

impl std::fmt::Debug for Samples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never dump the audio itself.
        match self {
            Self::Mulaw(c) => write!(f, "Mulaw({} samples)", c.len()),
            Self::Pcm16(s) => write!(f, "Pcm16({} samples)", s.len()),
        }
    }
}

/// A mono audio clip: μ-law or PCM16 samples with their sample rate.
///
/// The sample rate is validated at construction (8 000 to 48 000 Hz). Clips are what
/// [`SpeechToText::transcribe`](crate::SpeechToText::transcribe) and
/// [`SpeechGuard::before`](crate::SpeechGuard::before) take.
///
/// ```
/// use kav_stt::AudioClip;
///
/// let clip = AudioClip::mulaw_8k(vec![0xFF; 8_000]); // one second of μ-law silence
/// assert_eq!(clip.duration().as_secs_f64(), 1.0);
/// assert!(AudioClip::pcm16(vec![0; 160], 1_000).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioClip {
    samples: Samples,
    sample_rate: u32,
}

impl AudioClip {
    /// A clip of 8 kHz μ-law codes, as found in Twilio media-stream frames and recordings.
    pub fn mulaw_8k(codes: Vec<u8>) -> Self {
        Self {
            samples: Samples::Mulaw(codes),
            sample_rate: 8_000,
        }
    }

    /// A clip of μ-law codes at `sample_rate` Hz.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClip`] when the rate is outside 8 000..=48 000 Hz.
    pub fn mulaw(codes: Vec<u8>, sample_rate: u32) -> Result<Self, Error> {
        check_rate(sample_rate)?;
        Ok(Self {
            samples: Samples::Mulaw(codes),
            sample_rate,
        })
    }

    /// A clip of 16-bit PCM samples at `sample_rate` Hz.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClip`] when the rate is outside 8 000..=48 000 Hz.
    pub fn pcm16(samples: Vec<i16>, sample_rate: u32) -> Result<Self, Error> {
        check_rate(sample_rate)?;
        Ok(Self {
            samples: Samples::Pcm16(samples),
            sample_rate,
        })
    }

    /// A clip from a WAV file in any format kav-audio-codec reads (PCM 8/16/24/32-bit, float,
    /// μ-law, A-law; e.g. a Twilio recording): channels are averaged to mono; the rate is kept
    /// when it is within 8 000..=48 000 Hz, otherwise the audio is resampled to 16 kHz.
    ///
    /// ```
    /// let wav = kav_audio_codec::wav::encode_mulaw(&[0xFF; 8_000], 8_000);
    /// let clip = kav_stt::AudioClip::from_wav(&wav)?;
    /// assert_eq!((clip.sample_rate(), clip.len()), (8_000, 8_000));
    /// assert!(kav_stt::AudioClip::from_wav(b"RIFF....").is_err());
    /// # Ok::<(), kav_stt::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Wav`] when the bytes are not a WAV file kav-audio-codec reads (or cannot be
    /// resampled).
    pub fn from_wav(bytes: &[u8]) -> Result<Self, Error> {
        let wav = kav_audio_codec::wav::decode(bytes).map_err(Error::Wav)?;
        let mono = wav.to_mono();
        if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&wav.sample_rate) {
            return Self::pcm16(mono, wav.sample_rate);
        }
        let resampled = kav_audio_codec::resample::resample(&mono, wav.sample_rate, 16_000)
            .map_err(Error::Wav)?;
        Self::pcm16(resampled, 16_000)
    }

    /// The samples, in their encoding.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// The encoding of the samples.
    pub fn encoding(&self) -> Encoding {
        match self.samples {
            Samples::Mulaw(_) => Encoding::Mulaw,
            Samples::Pcm16(_) => Encoding::Pcm16,
        }
    }

    /// The sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        match &self.samples {
            Samples::Mulaw(c) => c.len(),
            Samples::Pcm16(s) => s.len(),
        }
    }

    /// Whether the clip has no samples at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long the clip plays.
    pub fn duration(&self) -> Duration {
        samples_to_duration(self.len(), self.sample_rate)
    }

    /// The samples as 16-bit PCM (μ-law is decoded; PCM is borrowed).
    pub fn to_pcm16(&self) -> Cow<'_, [i16]> {
        match &self.samples {
            Samples::Mulaw(c) => Cow::Owned(kav_audio_codec::ulaw_decode(c)),
            Samples::Pcm16(s) => Cow::Borrowed(s),
        }
    }

    /// The samples as little-endian 16-bit PCM bytes (μ-law is decoded first).
    pub fn to_pcm16le_bytes(&self) -> Vec<u8> {
        kav_audio_codec::pcm::i16_to_pcm16le(&self.to_pcm16())
    }

    /// The clip as a 16-bit PCM mono WAV file (what OpenAI's transcription endpoint is sent).
    pub fn to_wav_pcm16(&self) -> Vec<u8> {
        kav_audio_codec::wav::encode_pcm16(&self.to_pcm16(), self.sample_rate, 1)
    }
}

fn check_rate(rate: u32) -> Result<(), Error> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidClip(format!(
            "sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz"
        )))
    }
}

pub(crate) fn samples_to_duration(samples: usize, rate: u32) -> Duration {
    let rate = u64::from(rate.max(1));
    let samples = samples as u64;
    let secs = samples / rate;
    let rem = samples % rate;
    // rem < rate <= 48 000, so rem * 1e9 fits in u64.
    Duration::new(secs, u32::try_from(rem * 1_000_000_000 / rate).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(samples_to_duration(8_000, 8_000), Duration::from_secs(1));
        assert_eq!(samples_to_duration(160, 8_000), Duration::from_millis(20));
        assert_eq!(samples_to_duration(0, 8_000), Duration::ZERO);
        assert_eq!(
            samples_to_duration(22_050 * 3 + 2_205, 22_050),
            Duration::from_millis(3_100)
        );
    }

    #[test]
    fn rates_are_validated() {
        assert!(AudioClip::pcm16(vec![], 7_999).is_err());
        assert!(AudioClip::pcm16(vec![], 48_001).is_err());
        assert!(AudioClip::mulaw(vec![], 0).is_err());
        assert!(AudioClip::pcm16(vec![], 16_000).is_ok());
        assert!(AudioClip::mulaw(vec![], 48_000).is_ok());
    }

    #[test]
    fn wav_header_and_data() {
        let clip = AudioClip::pcm16(vec![1, -2, 300], 16_000).unwrap();
        let wav = clip.to_wav_pcm16();
        assert_eq!(wav.len(), 44 + 6);
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 42);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 16_000);
        assert_eq!(u32::from_le_bytes(wav[28..32].try_into().unwrap()), 32_000);
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 6);
        assert_eq!(&wav[44..], &[1, 0, 0xFE, 0xFF, 0x2C, 0x01]);
    }

    #[test]
    fn wav_files_become_clips() {
        // Stereo 16 kHz: averaged to mono, rate kept.
        let stereo = kav_audio_codec::wav::encode_pcm16(&[100, 300, -100, -300], 16_000, 2);
        let clip = AudioClip::from_wav(&stereo).unwrap();
        assert_eq!(clip.sample_rate(), 16_000);
        assert_eq!(clip.to_pcm16().as_ref(), &[200, -200]);
        // 96 kHz: resampled to 16 kHz.
        let high = kav_audio_codec::wav::encode_pcm16(&vec![0; 96_000], 96_000, 1);
        let clip = AudioClip::from_wav(&high).unwrap();
        assert_eq!(clip.sample_rate(), 16_000);
        assert!((15_900..=16_100).contains(&clip.len()), "{}", clip.len());
        // Not a WAV file.
        let e = AudioClip::from_wav(b"ID3\x03 an mp3").unwrap_err();
        assert!(matches!(e, Error::Wav(_)));
        assert_eq!(e.to_string(), "cannot read the WAV file");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn mulaw_decodes_to_pcm() {
        let clip = AudioClip::mulaw_8k(vec![0xFF, 0x7F, 0x00, 0x80]);
        assert_eq!(clip.to_pcm16().as_ref(), &[0, 0, -32124, 32124]);
        assert_eq!(clip.encoding(), Encoding::Mulaw);
        assert_eq!(format!("{:?}", clip.samples()), "Mulaw(4 samples)");
    }
}
