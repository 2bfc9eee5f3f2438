//! `<Start><Recording>`: a background recording of the whole call, as Twilio makes it.
//!
//! The call's timeline is kept as two 8 kHz tracks that always have the same length: the
//! *inbound* track (what Twilio receives: the caller's turns) and the *outbound* track (what
//! Twilio sends: `<Play>` audio). `<Say>`, `<Pause>`, ringing and the agent's stream audio are
//! silence on the outbound track (the simulator has no TTS voice of Twilio's), so the recording
//! lasts exactly as long as the simulated call.

use kav_twiml::voice::Recording as RecordingNoun;
use kav_twiml::{HttpMethod, RecordingChannels, RecordingEvent, RecordingTrack, Url};

/// Samples per millisecond at 8 kHz.
const PER_MS: usize = 8;

/// One running `<Start><Recording>`.
pub(crate) struct CallRecorder {
    pub(crate) sid: String,
    pub(crate) callback: Option<String>,
    pub(crate) method: HttpMethod,
    pub(crate) events: Vec<RecordingEvent>,
    pub(crate) dual: bool,
    pub(crate) track: RecordingTrack,
    /// RFC 2822 time the recording started.
    pub(crate) start_time: String,
    inbound: Vec<i16>,
    outbound: Vec<i16>,
}

impl CallRecorder {
    /// A recorder for `noun`; `callback` is the resolved `recordingStatusCallback`.
    pub(crate) fn new(
        noun: &RecordingNoun,
        sid: String,
        callback: Option<&Url>,
        doc_url: &str,
    ) -> Self {
        Self {
            sid,
            callback: callback.map(|u| crate::simulator::resolve(u, doc_url)),
            method: noun
                .recording_status_callback_method
                .unwrap_or(HttpMethod::Post),
            // Twilio's default event is `completed` only.
            events: noun
                .recording_status_callback_event
                .clone()
                .unwrap_or_else(|| vec![RecordingEvent::Completed]),
            // `<Recording channels>` defaults to dual.
            dual: noun.channels != Some(RecordingChannels::Mono),
            track: noun.track.unwrap_or(RecordingTrack::Both),
            start_time: crate::time::rfc2822_now(),
            inbound: Vec::new(),
            outbound: Vec::new(),
        }
    }

    /// Whether Twilio posts `event` to the callback.
    pub(crate) fn wants(&self, event: RecordingEvent) -> bool {
        self.callback.is_some() && self.events.contains(&event)
    }

    /// `ms` of call time: the caller's `inbound` and the agent's `outbound` audio (8 kHz mono;
    /// `None` or short audio is padded with silence, longer audio is cut to `ms`).
    pub(crate) fn advance(&mut self, ms: u64, inbound: Option<&[i16]>, outbound: Option<&[i16]>) {
        let n = usize::try_from(ms)
            .unwrap_or(usize::MAX / PER_MS)
            .saturating_mul(PER_MS);
        // A guard against absurd lengths (a `<Pause length>` of days): at most 4 h.
        let n = n.min(4 * 3600 * 1000 * PER_MS);
        extend(&mut self.inbound, inbound.unwrap_or_default(), n);
        extend(&mut self.outbound, outbound.unwrap_or_default(), n);
    }

    /// Length so far, in milliseconds.
    pub(crate) fn duration_ms(&self) -> u64 {
        (self.inbound.len() / PER_MS) as u64
    }

    /// The number of channels of the file (`RecordingChannels`).
    pub(crate) fn channels(&self) -> u16 {
        if self.dual { 2 } else { 1 }
    }

    /// The recording as an 8 kHz PCM16 WAV: dual puts the caller (inbound) on channel 1 and
    /// the agent (outbound) on channel 2; mono mixes them. `track="inbound"`/`"outbound"`
    /// keeps only that side (the other is silent).
    pub(crate) fn wav(&self) -> Vec<u8> {
        let keep_in = self.track != RecordingTrack::Outbound;
        let keep_out = self.track != RecordingTrack::Inbound;
        let pick = |v: i16, keep: bool| if keep { v } else { 0 };
        if self.dual {
            let mut samples = Vec::with_capacity(self.inbound.len() * 2);
            for (i, o) in self.inbound.iter().zip(&self.outbound) {
                samples.push(pick(*i, keep_in));
                samples.push(pick(*o, keep_out));
            }
            kav_audio_codec::wav::encode_pcm16(&samples, 8000, 2)
        } else {
            let samples: Vec<i16> = self
                .inbound
                .iter()
                .zip(&self.outbound)
                .map(|(i, o)| pick(*i, keep_in).saturating_add(pick(*o, keep_out)))
                .collect();
            kav_audio_codec::wav::encode_pcm16(&samples, 8000, 1)
        }
    }
}

fn extend(track: &mut Vec<i16>, audio: &[i16], n: usize) {
    let take = audio.len().min(n);
    track.extend_from_slice(&audio[..take]);
    track.resize(track.len() + (n - take), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_stay_aligned() {
        let noun = RecordingNoun::new();
        let mut rec = CallRecorder::new(&noun, "RE1".to_owned(), None, "https://a.b/");
        rec.advance(10, Some(&[1; 200]), None);
        rec.advance(5, None, Some(&[2; 10]));
        assert_eq!(rec.duration_ms(), 15);
        let wav = kav_audio_codec::wav::decode(&rec.wav()).unwrap();
        assert_eq!((wav.channels, wav.frames()), (2, 120));
        let mono = CallRecorder { dual: false, ..rec };
        let wav = kav_audio_codec::wav::decode(&mono.wav()).unwrap();
        assert_eq!((wav.channels, wav.frames()), (1, 120));
        assert!(!mono.wants(RecordingEvent::Completed));
    }
}
