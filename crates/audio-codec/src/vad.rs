//! Voice activity detection for 8 kHz telephone audio, with start/stop hangover for
//! turn-taking.
//!
//! [`Vad`] takes one frame at a time (designed for 20 ms = 160 samples at 8 kHz; other sizes
//! work) and returns a [`VadFrame`]: the raw per-frame decision, the smoothed "someone is
//! speaking" state and, on the frames where that state changes, a [`VadEvent`].
//!
//! The detector is a two-band energy detector with adaptive noise floors, built for what reaches
//! a phone agent: band-limited, μ-law-quantized speech over stationary line and background
//! noise. Per frame it removes DC and hum (one-pole high-pass at about 100 Hz), splits the
//! signal at 1 kHz (second-order Butterworth low-pass and its complement: voiced speech lives
//! in the low band, fricatives in the high band, while white noise spreads over both), takes
//! each band's energy in dBFS and tracks each band's noise floor (a running mean of the frames
//! that are not speech; follows drops fast; creeps up at 1 dB/s during speech, so a new
//! constant noise is learned). A frame is speech when either band exceeds its floor by
//! [`VadConfig::threshold_db`] (1 dB less right after a speech frame, so that the quiet ends of
//! syllables stay speech), the frame is louder than [`VadConfig::min_level_dbfs`] and it is
//! less than 35 dB below the loudest recent speech frame (a peak that decays at 1 dB/s; this
//! leaves out breaths, echo and faint noises between a talker's words).
//! It costs well under a microsecond per 20 ms frame and allocates nothing: [`Vad::process`]
//! and [`Vad::process_ulaw`] are real-time safe.
//!
//! Hangover: speech starts after [`VadConfig::start_frames`] consecutive speech frames and ends
//! after [`VadConfig::end_frames`] consecutive non-speech frames, so short pauses between words
//! do not end a turn and clicks do not start one.
//!
//! ```
//! use kav_audio_codec::vad::{Vad, VadConfig, VadEvent};
//!
//! let mut vad = Vad::new(VadConfig::default().start_ms(40).end_ms(300));
//! let silence = [0i16; 160];
//! let tone: Vec<i16> = (0..160).map(|i| if i % 16 < 8 { 6000 } else { -6000 }).collect();
//! let mut events = Vec::new();
//! for frame in (0..50).map(|i| if (10..30).contains(&i) { &tone[..] } else { &silence[..] }) {
//!     if let Some(e) = vad.process(frame).event {
//!         events.push(e);
//!     }
//! }
//! assert_eq!(events, [VadEvent::SpeechStart, VadEvent::SpeechEnd]);
//! ```

use crate::g711;

/// Frame length the detector is tuned for: 20 ms at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// Settings of a [`Vad`]. Durations are converted to whole 20 ms frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    start_frames: u32,
    end_frames: u32,
    threshold_db: f32,
    min_level_dbfs: f32,
}

impl Default for VadConfig {
    /// Start after 60 ms of speech, end after 400 ms of silence, 3 dB above the noise floor,
    /// nothing quieter than -55 dBFS counts as speech.
    fn default() -> Self {
        Self {
            start_frames: 3,
            end_frames: 20,
            threshold_db: 3.0,
            min_level_dbfs: -55.0,
        }
    }
}

impl VadConfig {
    /// Speech must last this long (rounded up to 20 ms frames, at least one) before
    /// [`VadEvent::SpeechStart`].
    #[must_use]
    pub fn start_ms(mut self, ms: u32) -> Self {
        self.start_frames = ms.div_ceil(20).max(1);
        self
    }

    /// Silence must last this long (rounded up to 20 ms frames, at least one) before
    /// [`VadEvent::SpeechEnd`].
    #[must_use]
    pub fn end_ms(mut self, ms: u32) -> Self {
        self.end_frames = ms.div_ceil(20).max(1);
        self
    }

    /// How far above the noise floor a frame must be to count as speech (clamped to 1–40 dB).
    #[must_use]
    pub fn threshold_db(mut self, db: f32) -> Self {
        self.threshold_db = if db.is_nan() {
            7.0
        } else {
            db.clamp(1.0, 40.0)
        };
        self
    }

    /// Frames quieter than this never count as speech (clamped to -90–0 dBFS).
    #[must_use]
    pub fn min_level_dbfs(mut self, dbfs: f32) -> Self {
        self.min_level_dbfs = if dbfs.is_nan() {
            -55.0
        } else {
            dbfs.clamp(-90.0, 0.0)
        };
        self
    }

    /// Frames of speech before [`VadEvent::SpeechStart`].
    #[must_use]
    pub fn start_frames(&self) -> u32 {
        self.start_frames
    }

    /// Frames of silence before [`VadEvent::SpeechEnd`].
    #[must_use]
    pub fn end_frames(&self) -> u32 {
        self.end_frames
    }
}

/// A change of the smoothed speaking state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VadEvent {
    /// Speech began; it has lasted [`VadConfig::start_frames`] frames, this one included (keep
    /// that much audio as pre-roll).
    SpeechStart,
    /// Speech ended; the last [`VadConfig::end_frames`] frames, this one included, were silence.
    SpeechEnd,
}

/// What [`Vad`] says about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadFrame {
    /// This frame alone looks like speech.
    pub speech: bool,
    /// The smoothed state after this frame: someone is speaking.
    pub speaking: bool,
    /// Set on the frame where `speaking` changed.
    pub event: Option<VadEvent>,
    /// Frame energy after the high-pass, in dBFS.
    pub level_dbfs: f32,
    /// The current noise-floor estimate, in dBFS.
    pub noise_dbfs: f32,
}

/// The detector; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    /// High-pass state: previous input and output.
    hp_x: f32,
    hp_y: f32,
    /// Low-pass biquad state (transposed direct form II).
    lp_s1: f32,
    lp_s2: f32,
    /// Noise floors of the low and high bands, dBFS.
    noise_db: [f32; 2],
    frames_seen: u32,
    speaking: bool,
    run: u32,
    /// The raw decision of the previous frame.
    last_speech: bool,
    /// Level of the loudest recent speech frame, dBFS, decaying at 1 dB/s.
    peak_db: f32,
}

/// Energy floor added before the logarithm (about -100 dBFS).
const EPS: f32 = 1e-10;
/// Pole of the DC/hum high-pass (about 100 Hz at 8 kHz).
const HP_POLE: f32 = 0.925;
/// Butterworth low-pass at 1 kHz (8 kHz rate) splitting the voiced band from the rest:
/// numerator `b0, b1, b2` and denominator `a1, a2`.
const LP_B: [f32; 3] = [0.097_631_07, 0.195_262_15, 0.097_631_07];
const LP_A: [f32; 2] = [-0.942_809_04, 0.333_333_33];
/// Noise floor rise per frame while the frame is speech (dB): 1 dB/s.
const RISE_SPEECH_DB: f32 = 0.02;
/// Weight of a non-speech frame above the floor in the floor's running mean.
const QUIET_WEIGHT: f32 = 0.1;
/// Weight of a frame below the floor in the floor's running mean.
const FALL_WEIGHT: f32 = 0.3;
/// Frames during which the floor is learned quickly at start-up.
const WARMUP_FRAMES: u32 = 10;
/// Where the noise floors start (dBFS).
const INITIAL_NOISE_DB: f32 = -70.0;
/// How much lower the threshold is for a frame that follows a speech frame (dB).
const HYSTERESIS_DB: f32 = 1.0;
/// Frames this far below the recent speech peak are not speech (dB).
const BELOW_PEAK_DB: f32 = 35.0;
/// Decay of the speech peak per frame (dB): 1 dB/s.
const PEAK_DECAY_DB: f32 = 0.02;

impl Default for Vad {
    fn default() -> Self {
        Self::new(VadConfig::default())
    }
}

fn to_db(mean_square: f32) -> f32 {
    // dBFS relative to a full-scale sine (mean square 0.5).
    10.0 * (mean_square * 2.0 + EPS).log10()
}

impl Vad {
    /// A detector with these settings.
    #[must_use]
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            hp_x: 0.0,
            hp_y: 0.0,
            lp_s1: 0.0,
            lp_s2: 0.0,
            noise_db: [INITIAL_NOISE_DB; 2],
            frames_seen: 0,
            speaking: false,
            run: 0,
            last_speech: false,
            peak_db: -100.0,
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> VadConfig {
        self.config
    }

    /// Whether someone is speaking (the smoothed state).
    #[must_use]
    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// Forgets everything (noise floor, filter state, speaking state).
    pub fn reset(&mut self) {
        *self = Self::new(self.config);
    }

    /// Processes one frame of linear samples (160 at 8 kHz for 20 ms). Real-time safe.
    pub fn process(&mut self, frame: &[i16]) -> VadFrame {
        let (mut low_e, mut high_e) = (0.0f32, 0.0f32);
        let (mut x1, mut y1) = (self.hp_x, self.hp_y);
        let (mut s1, mut s2) = (self.lp_s1, self.lp_s2);
        for &s in frame {
            let x = f32::from(s) * (1.0 / 32768.0);
            let y = x - x1 + HP_POLE * y1;
            x1 = x;
            y1 = y;
            let low = LP_B[0] * y + s1;
            s1 = LP_B[1] * y - LP_A[0] * low + s2;
            s2 = LP_B[2] * y - LP_A[1] * low;
            let high = y - low;
            low_e += low * low;
            high_e += high * high;
        }
        self.hp_x = x1;
        self.hp_y = y1;
        // Keep the filter finite whatever comes in.
        (self.lp_s1, self.lp_s2) = if s1.is_finite() && s2.is_finite() {
            (s1, s2)
        } else {
            (0.0, 0.0)
        };
        let n = frame.len().max(1) as f32;
        self.decide(
            to_db(low_e / n),
            to_db(high_e / n),
            to_db((low_e + high_e) / n),
        )
    }

    /// Processes one frame of μ-law codes (160 bytes for 20 ms). Real-time safe.
    pub fn process_ulaw(&mut self, codes: &[u8]) -> VadFrame {
        let mut buf = [0i16; FRAME_SAMPLES];
        if codes.is_empty() {
            return self.process(&[]);
        }
        // Frames longer than 160 bytes are processed in 160-sample pieces; the last result,
        // with any event seen on the way, is returned.
        let mut last = None;
        let mut event = None;
        for chunk in codes.chunks(FRAME_SAMPLES) {
            let n = g711::ulaw_decode_into(chunk, &mut buf);
            let f = self.process(&buf[..n]);
            event = f.event.or(event);
            last = Some(f);
        }
        let mut last = last.unwrap_or_else(|| self.process(&[]));
        last.event = event;
        last
    }

    fn decide(&mut self, low: f32, high: f32, level: f32) -> VadFrame {
        let cfg = self.config;
        let bands = [low, high];
        let excess = (low - self.noise_db[0]).max(high - self.noise_db[1]);
        // Hysteresis: speech continues more easily than it starts (quiet ends of syllables).
        let threshold = if self.last_speech {
            cfg.threshold_db - HYSTERESIS_DB
        } else {
            cfg.threshold_db
        };
        let speech = excess > threshold
            && level > cfg.min_level_dbfs
            && level > self.peak_db - BELOW_PEAK_DB;
        self.peak_db = if speech {
            level.max(self.peak_db - PEAK_DECAY_DB)
        } else {
            (self.peak_db - PEAK_DECAY_DB).max(-100.0)
        };
        if !self.peak_db.is_finite() {
            self.peak_db = -100.0;
        }
        self.last_speech = speech;
        // Noise floors: a running mean (in dB) of the frames that are not speech, so that each
        // sits in the middle of the noise's frame-to-frame spread; drops below it are followed
        // fast; during speech it creeps up (1 dB/s), so a new constant noise is learned.
        let warm = self.frames_seen < WARMUP_FRAMES;
        self.frames_seen = self.frames_seen.saturating_add(1);
        for (noise, &band) in self.noise_db.iter_mut().zip(&bands) {
            if warm {
                if self.frames_seen == 1 || band < *noise {
                    *noise = band;
                } else {
                    *noise += 0.25 * (band - *noise).min(10.0);
                }
            } else if band < *noise {
                *noise += FALL_WEIGHT * (band - *noise);
            } else if speech {
                *noise += (band - *noise).min(RISE_SPEECH_DB);
            } else {
                *noise += QUIET_WEIGHT * (band - *noise);
            }
            if !noise.is_finite() {
                *noise = INITIAL_NOISE_DB;
            }
        }
        let mut event = None;
        if speech == self.speaking {
            self.run = 0;
        } else {
            self.run += 1;
            let needed = if self.speaking {
                cfg.end_frames
            } else {
                cfg.start_frames
            };
            if self.run >= needed {
                self.speaking = speech;
                self.run = 0;
                event = Some(if speech {
                    VadEvent::SpeechStart
                } else {
                    VadEvent::SpeechEnd
                });
            }
        }
        let noise_ms =
            (10f32.powf(self.noise_db[0] / 10.0) + 10f32.powf(self.noise_db[1] / 10.0)) * 0.5;
        VadFrame {
            speech,
            speaking: self.speaking,
            event,
            level_dbfs: level,
            noise_dbfs: to_db(noise_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangover_counts_frames() {
        let mut vad = Vad::new(VadConfig::default().start_ms(60).end_ms(100));
        assert_eq!(
            (vad.config().start_frames(), vad.config().end_frames()),
            (3, 5)
        );
        let loud: Vec<i16> = (0..160)
            .map(|i| ((i as f32 * 0.7).sin() * 8000.0) as i16)
            .collect();
        let quiet = [0i16; 160];
        for _ in 0..20 {
            assert_eq!(vad.process(&quiet).event, None);
        }
        assert_eq!(vad.process(&loud).event, None);
        assert_eq!(vad.process(&loud).event, None);
        let f = vad.process(&loud);
        assert_eq!(f.event, Some(VadEvent::SpeechStart));
        assert!(f.speaking && f.speech);
        // A short gap does not end the turn.
        for _ in 0..4 {
            assert!(vad.process(&quiet).speaking);
        }
        assert!(vad.process(&loud).speaking);
        // The end comes 5 frames into the silence (6 if the high-pass's decay makes the first
        // quiet frame count as speech).
        let end = (1..=10)
            .find(|_| vad.process(&quiet).event == Some(VadEvent::SpeechEnd))
            .unwrap();
        assert!((5..=6).contains(&end), "{end}");
        assert!(!vad.is_speaking());
        vad.reset();
        assert!(!vad.is_speaking());
    }

    #[test]
    fn faint_frames_right_after_loud_speech_are_not_speech() {
        let tone = |amplitude: f32| -> Vec<i16> {
            (0..160)
                .map(|i| ((i as f32 * 0.7).sin() * amplitude) as i16)
                .collect()
        };
        let (loud, faint, quiet) = (tone(8000.0), tone(100.0), [0i16; 160]);
        let mut vad = Vad::default();
        for _ in 0..20 {
            vad.process(&quiet);
        }
        assert!(vad.process(&faint).speech, "faint tone after silence");
        for _ in 0..10 {
            assert!(vad.process(&loud).speech);
        }
        // About 38 dB below the loud frames: breath or echo level, not the same talker.
        for _ in 0..5 {
            vad.process(&faint);
        }
        assert!(!vad.process(&faint).speech, "faint tone after loud speech");
        // The peak decays (1 dB/s): after 10 s of silence the faint tone counts again.
        for _ in 0..500 {
            vad.process(&quiet);
        }
        assert!(vad.process(&faint).speech, "faint tone 10 s later");
    }

    #[test]
    fn odd_frames_do_not_panic() {
        let mut vad = Vad::default();
        let _ = vad.process(&[]);
        let _ = vad.process(&[i16::MIN; 7]);
        let _ = vad.process_ulaw(&[0u8; 1000]);
        let _ = vad.process_ulaw(&[]);
    }
}
