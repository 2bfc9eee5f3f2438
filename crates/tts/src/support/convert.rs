//! Provider audio to 8 kHz μ-law.

use bytes::Bytes;
use kav_audio_codec::resample::Resampler;
use kav_audio_codec::{g711, pcm, wav};

use crate::{Error, PHONE_SAMPLE_RATE, SpeechAudio};

/// Any WAV the codec reads → mono → 8 kHz → μ-law.
pub(crate) fn wav_to_phone(provider: &'static str, bytes: &[u8]) -> Result<SpeechAudio, Error> {
    let samples = wav::decode_mono(bytes, PHONE_SAMPLE_RATE)
        .map_err(|source| Error::Audio { provider, source })?;
    non_empty(provider, SpeechAudio::from_pcm16(&samples))
}

/// Raw 16-bit little-endian mono PCM at `rate` → 8 kHz μ-law.
pub(crate) fn pcm16le_to_phone(
    provider: &'static str,
    bytes: &[u8],
    rate: u32,
) -> Result<SpeechAudio, Error> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::MalformedResponse {
            provider,
            detail: format!("16-bit PCM with an odd number of bytes ({})", bytes.len()),
        });
    }
    let samples = pcm::pcm16le_to_i16(bytes);
    let samples = if rate == PHONE_SAMPLE_RATE {
        samples
    } else {
        kav_audio_codec::resample(&samples, rate, PHONE_SAMPLE_RATE)
            .map_err(|source| Error::Audio { provider, source })?
    };
    non_empty(provider, SpeechAudio::from_pcm16(&samples))
}

pub(crate) fn non_empty(provider: &'static str, audio: SpeechAudio) -> Result<SpeechAudio, Error> {
    if audio.is_empty() {
        Err(Error::MalformedResponse {
            provider,
            detail: "the answer holds no audio".into(),
        })
    } else {
        Ok(audio)
    }
}

/// Streaming 16-bit LE mono PCM at some rate → 8 kHz μ-law, chunk by chunk, aligned like the
/// one-shot conversion (the filter delay is dropped at the start and flushed at the end).
pub(crate) struct PcmStreamConverter {
    resampler: Option<Resampler>,
    /// An odd byte left over from the previous chunk.
    carry: Option<u8>,
    /// Output samples still to drop (the filter delay).
    skip: usize,
}

impl PcmStreamConverter {
    pub(crate) fn new(provider: &'static str, rate: u32) -> Result<Self, Error> {
        if rate == PHONE_SAMPLE_RATE {
            return Ok(Self {
                resampler: None,
                carry: None,
                skip: 0,
            });
        }
        let resampler = Resampler::new(rate, PHONE_SAMPLE_RATE)
            .map_err(|source| Error::Audio { provider, source })?;
        Ok(Self {
            skip: resampler.delay_frames(),
            resampler: Some(resampler),
            carry: None,
        })
    }

    /// Converts one chunk of bytes (any length) to μ-law.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Bytes {
        let mut bytes = Vec::with_capacity(chunk.len() + 1);
        if let Some(b) = self.carry.take() {
            bytes.push(b);
        }
        bytes.extend_from_slice(chunk);
        if !bytes.len().is_multiple_of(2) {
            self.carry = bytes.pop();
        }
        let samples = pcm::pcm16le_to_i16(&bytes);
        let out = match &mut self.resampler {
            Some(r) => r.process(&samples),
            None => samples,
        };
        self.emit(&out)
    }

    /// The rest of the audio at the end of the stream.
    pub(crate) fn finish(&mut self) -> Bytes {
        let out = match &mut self.resampler {
            Some(r) => r.flush(),
            None => Vec::new(),
        };
        self.emit(&out)
    }

    fn emit(&mut self, samples: &[i16]) -> Bytes {
        let drop = self.skip.min(samples.len());
        self.skip -= drop;
        Bytes::from(g711::ulaw_encode(&samples[drop..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_conversion_matches_one_shot() {
        let pcm24: Vec<i16> = (0..24_000)
            .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
            .collect();
        let bytes = pcm::i16_to_pcm16le(&pcm24);
        let whole = pcm16le_to_phone("test", &bytes, 24_000).unwrap();
        let mut conv = PcmStreamConverter::new("test", 24_000).unwrap();
        let mut streamed = Vec::new();
        // Odd chunk sizes split samples across chunks.
        for chunk in bytes.chunks(1001) {
            streamed.extend_from_slice(&conv.push(chunk));
        }
        streamed.extend_from_slice(&conv.finish());
        assert_eq!(streamed.len(), 8_000);
        assert_eq!(streamed, whole.mulaw());
    }

    proptest::proptest! {
        // Each case designs a resampler filter, slow in debug builds: fewer cases.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        #[test]
        fn any_chunking_gives_the_same_audio(
            cuts in proptest::collection::vec(1usize..700, 1..20),
            rate in proptest::sample::select(vec![8_000u32, 16_000, 22_050, 24_000, 48_000]),
        ) {
            let pcm: Vec<i16> = (0..4_000).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
            let bytes = pcm::i16_to_pcm16le(&pcm);
            let whole = pcm16le_to_phone("test", &bytes, rate).unwrap();
            let mut conv = PcmStreamConverter::new("test", rate).unwrap();
            let mut out = Vec::new();
            let mut rest = &bytes[..];
            for &c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (head, tail) = rest.split_at(c.min(rest.len()));
                out.extend_from_slice(&conv.push(head));
                rest = tail;
            }
            out.extend_from_slice(&conv.finish());
            proptest::prop_assert_eq!(&out[..], whole.mulaw());
        }

        #[test]
        fn arbitrary_provider_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = wav_to_phone("test", &bytes);
            let _ = pcm16le_to_phone("test", &bytes, 24_000);
            let mut riff = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
            riff.extend_from_slice(&bytes);
            let _ = wav_to_phone("test", &riff);
        }
    }

    #[test]
    fn odd_pcm_and_empty_audio_are_errors() {
        assert!(matches!(
            pcm16le_to_phone("test", &[1, 2, 3], 8_000),
            Err(Error::MalformedResponse { .. })
        ));
        assert!(matches!(
            pcm16le_to_phone("test", &[], 8_000),
            Err(Error::MalformedResponse { .. })
        ));
        assert!(matches!(
            wav_to_phone("test", b"ID3\x04 not a wav"),
            Err(Error::Audio { .. })
        ));
    }
}
