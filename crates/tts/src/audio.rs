//! Synthesized phone audio: 8 kHz μ-law.

use std::time::Duration;

use bytes::Bytes;
use kav_audio_codec::{g711, wav};

/// The sample rate of everything this crate produces: 8 kHz, the telephone rate.
pub const PHONE_SAMPLE_RATE: u32 = 8_000;

/// Synthesized speech as 8 kHz mono μ-law (G.711 PCMU) codes, one byte per sample: what a
/// Twilio media stream carries, and what [`to_wav`](Self::to_wav) wraps for `<Play>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SpeechAudio {
    mulaw: Bytes,
}

impl SpeechAudio {
    /// Wraps 8 kHz μ-law codes.
    pub fn from_mulaw(codes: impl Into<Bytes>) -> Self {
        Self {
            mulaw: codes.into(),
        }
    }

    /// Encodes 8 kHz linear 16-bit samples as μ-law.
    pub fn from_pcm16(samples: &[i16]) -> Self {
        Self::from_mulaw(g711::ulaw_encode(samples))
    }

    /// The μ-law codes.
    pub fn mulaw(&self) -> &[u8] {
        &self.mulaw
    }

    /// The μ-law codes, without copying.
    pub fn into_mulaw(self) -> Bytes {
        self.mulaw
    }

    /// Number of samples (8000 per second).
    pub fn len(&self) -> usize {
        self.mulaw.len()
    }

    /// Whether there is no audio at all.
    pub fn is_empty(&self) -> bool {
        self.mulaw.is_empty()
    }

    /// How long the audio plays.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.mulaw.len() as u64 * 1_000_000 / u64::from(PHONE_SAMPLE_RATE))
    }

    /// Decodes to linear 16-bit samples at 8 kHz.
    pub fn to_pcm16(&self) -> Vec<i16> {
        g711::ulaw_decode(&self.mulaw)
    }

    /// An 8 kHz mono μ-law WAV file (format tag 7), the cheapest format for Twilio's `<Play>`.
    pub fn to_wav(&self) -> Vec<u8> {
        wav::encode_mulaw(&self.mulaw, PHONE_SAMPLE_RATE)
    }
}

impl std::fmt::Debug for SpeechAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechAudio")
            .field("samples", &self.mulaw.len())
            .field("duration", &self.duration())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_is_mulaw_8k_mono() {
        let audio = SpeechAudio::from_pcm16(&[0, 1000, -1000, 8000, -8000]);
        assert_eq!(audio.len(), 5);
        let file = audio.to_wav();
        assert_eq!(&file[0..4], b"RIFF");
        assert_eq!(
            u16::from_le_bytes([file[20], file[21]]),
            7,
            "format tag μ-law"
        );
        let back = wav::decode(&file).unwrap();
        assert_eq!((back.sample_rate, back.channels), (8_000, 1));
        assert_eq!(back.samples, audio.to_pcm16());
        assert_eq!(
            SpeechAudio::from_mulaw(vec![0xFF; 8000]).duration(),
            Duration::from_secs(1)
        );
    }
}
