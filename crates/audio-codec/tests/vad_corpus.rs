//! VAD accuracy on a generated, labelled corpus: espeak-ng speech in English and Hebrew with
//! silences between utterances, white noise added at several SNRs, μ-law round-tripped.
//!
//! Labels come from the clean speech: a 20 ms frame is speech when its clean energy is within
//! `LABEL_BELOW_PEAK_DB` of the loudest frames of its utterance. The corpus is generated into a
//! temporary directory on each run (nothing is committed). Requires `espeak-ng` (installed by
//! `scripts/install-test-deps.sh`).

use std::path::PathBuf;
use std::process::Command;

use kav_audio_codec::{g711, vad, wav};

const RATE: u32 = 8_000;
const FRAME: usize = 160;
/// A clean frame is labelled speech when it is at most this far below its utterance's 95th
/// percentile frame energy.
/// `frame_db` of a full-scale sine: subtract it to get dBFS as the detector reports it.
const FULL_SCALE_DB: f64 = 87.297;
const LABEL_BELOW_PEAK_DB: f64 = 25.0;

const UTTERANCES: [(&str, &str); 12] = [
    (
        "en-us",
        "Hello, thank you for calling. How can I help you today?",
    ),
    (
        "en-gb",
        "Your order will arrive on Tuesday between nine and eleven.",
    ),
    ("en-us", "Please hold while I check that for you."),
    ("en-gb", "Could you spell your last name, please?"),
    (
        "en-us",
        "Great, I have booked the appointment for three thirty.",
    ),
    ("en-gb", "Is there anything else I can do for you?"),
    ("he", "שלום, הגעתם למוקד שירות הלקוחות."),
    ("he", "במה אני יכול לעזור לך היום?"),
    ("he", "ההזמנה שלך תגיע ביום שלישי בבוקר."),
    ("he", "אפשר בבקשה את מספר תעודת הזהות שלך?"),
    ("he", "קבעתי לך תור לשעה שלוש וחצי."),
    ("he", "תודה רבה ולהתראות."),
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn frame_db(frame: &[i16]) -> f64 {
    let e: f64 = frame
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / frame.len() as f64;
    10.0 * (e + 1e-3).log10()
}

/// Clean corpus and per-frame labels.
fn corpus() -> (Vec<i16>, Vec<bool>) {
    let dir = std::env::temp_dir().join(format!("kav-vad-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = Rng(0x5eed_cafe);
    let mut audio = Vec::new();
    let mut labels = Vec::new();
    let push_silence = |audio: &mut Vec<i16>, labels: &mut Vec<bool>, frames: usize| {
        audio.extend(std::iter::repeat_n(0i16, frames * FRAME));
        labels.extend(std::iter::repeat_n(false, frames));
    };
    for round in 0..2 {
        for (i, (voice, text)) in UTTERANCES.iter().enumerate() {
            let path: PathBuf = dir.join(format!("u{round}-{i}.wav"));
            let speed = if round == 0 { "160" } else { "190" };
            let status = Command::new("espeak-ng")
                .args(["-v", voice, "-s", speed, "-w"])
                .arg(&path)
                .arg(text)
                .status()
                .expect("espeak-ng is needed for this test: run scripts/install-test-deps.sh");
            assert!(status.success(), "espeak-ng failed for {voice}");
            let bytes = std::fs::read(&path).expect("espeak-ng output");
            let mut speech = wav::decode_mono(&bytes, RATE).expect("espeak-ng WAV");
            // Vary the level by utterance (-6..+3 dB) as real callers do.
            let gain = 10f64.powf((rng.uniform() * 9.0 - 6.0) / 20.0);
            for s in &mut speech {
                *s = (f64::from(*s) * gain).round().clamp(-32768.0, 32767.0) as i16;
            }
            speech.resize(speech.len().div_ceil(FRAME) * FRAME, 0);
            let levels: Vec<f64> = speech.chunks(FRAME).map(frame_db).collect();
            let mut sorted = levels.clone();
            sorted.sort_by(f64::total_cmp);
            let peak = sorted[sorted.len() * 95 / 100];
            labels.extend(levels.iter().map(|&l| l > peak - LABEL_BELOW_PEAK_DB));
            audio.extend_from_slice(&speech);
            let gap = 15 + (rng.next() % 60) as usize; // 0.3 to 1.5 s
            push_silence(&mut audio, &mut labels, gap);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    (audio, labels)
}

fn with_noise(clean: &[i16], labels: &[bool], snr_db: f64, seed: u64) -> Vec<i16> {
    let speech_power: f64 = {
        let (sum, n) = clean
            .chunks(FRAME)
            .zip(labels)
            .filter(|(_, l)| **l)
            .flat_map(|(f, _)| f.iter())
            .fold((0.0, 0usize), |(s, n), &x| {
                (s + f64::from(x) * f64::from(x), n + 1)
            });
        sum / n as f64
    };
    let sigma = (speech_power / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut rng = Rng(seed);
    let noisy: Vec<i16> = clean
        .iter()
        .map(|&s| {
            (f64::from(s) + sigma * rng.gauss())
                .round()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    // What the agent receives: μ-law from Twilio.
    g711::ulaw_decode(&g711::ulaw_encode(&noisy))
}

#[test]
fn vad_frame_accuracy_per_snr() {
    let (clean, labels) = corpus();
    let speech_frames = labels.iter().filter(|l| **l).count();
    eprintln!(
        "corpus: {} frames ({:.1} s), {:.0}% speech",
        labels.len(),
        labels.len() as f64 * 0.02,
        100.0 * speech_frames as f64 / labels.len() as f64
    );
    assert!(speech_frames > labels.len() / 4 && speech_frames < labels.len() * 3 / 4);
    let mut results = Vec::new();
    for snr in [f64::INFINITY, 30.0, 20.0, 15.0, 10.0, 5.0, 0.0] {
        let audio = if snr.is_finite() {
            with_noise(&clean, &labels, snr, 42)
        } else {
            g711::ulaw_decode(&g711::ulaw_encode(&clean))
        };
        let mut det = vad::Vad::default();
        let (mut raw_ok, mut smooth_ok, mut events) = (0usize, 0usize, 0usize);
        let (mut miss, mut fa) = (0usize, 0usize);
        let mut hist = [0usize; 12];
        for ((frame, &label), cf) in audio
            .chunks_exact(FRAME)
            .zip(&labels)
            .zip(clean.chunks_exact(FRAME))
        {
            let f = det.process(frame);
            if label && !f.speech {
                // Clean level of the missed frame relative to the noise floor, in 3 dB bins.
                let rel = frame_db(cf) - FULL_SCALE_DB - f64::from(f.noise_dbfs);
                hist[((rel + 10.0) / 3.0).clamp(0.0, 11.0) as usize] += 1;
            }
            miss += usize::from(label && !f.speech);
            fa += usize::from(!label && f.speech);
            raw_ok += usize::from(f.speech == label);
            smooth_ok += usize::from(f.speaking == label);
            events += usize::from(f.event.is_some());
        }
        let raw = 100.0 * raw_ok as f64 / labels.len() as f64;
        let smooth = 100.0 * smooth_ok as f64 / labels.len() as f64;
        eprintln!(
            "SNR {snr:>4} dB: frame accuracy {raw:.1}% (with hangover {smooth:.1}%), {events} events, {miss} missed, {fa} false alarms"
        );
        results.push((snr, raw));
        eprintln!(
            "    missed frames by clean level over the noise floor, 3 dB bins from -10 dB: {hist:?}"
        );
    }
    for (snr, acc) in results {
        if snr >= 20.0 {
            assert!(acc >= 95.0, "SNR {snr} dB: frame accuracy {acc:.1}% < 95%");
        }
    }
}
