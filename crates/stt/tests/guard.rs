//! The speech guard on generated audio (silence, noise, tones, espeak-ng Hebrew speech) and on
//! transcripts (hallucinations, no-speech probabilities), and `Guarded` around a provider.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kav_stt::{
    AudioClip, BoxFuture, Error, Guarded, GuardedTranscript, NoSpeechReason, Provider, Segment,
    SpeechGuard, SpeechToText, Transcript, Verdict, measure,
};

fn reason(v: Verdict) -> NoSpeechReason {
    match v {
        Verdict::NoSpeech(r) => r,
        Verdict::Speech => panic!("expected no speech"),
    }
}

fn to_mulaw_8k(pcm: &[i16]) -> AudioClip {
    AudioClip::mulaw_8k(kav_audio_codec::ulaw_encode(pcm))
}

/// Decimates 22 050 Hz espeak output to 8 kHz by picking the nearest sample: crude, but all the
/// guard needs is a realistic level and duration at the telephone rate.
fn to_8k(samples: &[i16], rate: u32) -> Vec<i16> {
    let n = (samples.len() as u64 * 8_000 / u64::from(rate)) as usize;
    (0..n)
        .map(|i| samples[(i as u64 * u64::from(rate) / 8_000) as usize])
        .collect()
}

#[test]
fn silence_is_too_quiet() {
    let guard = SpeechGuard::default();
    // μ-law silence (0xFF) and PCM zeros.
    for clip in [
        AudioClip::mulaw_8k(vec![0xFF; 24_000]),
        AudioClip::pcm16(vec![0; 48_000], 16_000).unwrap(),
    ] {
        match reason(guard.before(&clip)) {
            NoSpeechReason::TooQuiet {
                active,
                loudest_frame_dbfs,
                peak_dbfs,
                ..
            } => {
                assert_eq!(active, Duration::ZERO);
                assert_eq!(loudest_frame_dbfs, kav_stt::SILENCE_DBFS);
                assert_eq!(peak_dbfs, kav_stt::SILENCE_DBFS);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn low_line_noise_is_too_quiet() {
    let guard = SpeechGuard::default();
    // -60 dBFS white noise, through μ-law as a phone line would carry it.
    let clip = to_mulaw_8k(&common::noise(8_000 * 3, -60.0, 7));
    let levels = measure(&clip, -45.0);
    assert!((levels.rms_dbfs - -60.0).abs() < 2.0, "{levels:?}");
    assert!(matches!(
        reason(guard.before(&clip)),
        NoSpeechReason::TooQuiet { .. }
    ));
    // A lower threshold lets it through the level check; the threshold is what decides there
    // (and then the detector hears no voice in it).
    let lax = SpeechGuard::default().with_level_threshold_dbfs(-70.0);
    assert!(matches!(
        reason(lax.before(&clip)),
        NoSpeechReason::NoVoicedFrames { .. }
    ));
    assert_eq!(lax.with_vad(None).before(&clip), Verdict::Speech);
}

#[test]
fn steady_loud_sounds_pass_the_level_check_but_not_the_vad() {
    let level_only = SpeechGuard::default().with_vad(None);
    let guard = SpeechGuard::default();
    let tone = to_mulaw_8k(&common::tone(8_000, 8_000, 440.0, -12.0));
    let levels = measure(&tone, -45.0);
    assert!((levels.peak_dbfs - -12.0).abs() < 0.5, "{levels:?}");
    assert!((levels.rms_dbfs - -15.0).abs() < 0.5, "{levels:?}"); // sine RMS = peak - 3 dB
    assert_eq!(levels.active, Duration::from_secs(1));
    let hum = AudioClip::pcm16(common::noise(16_000, -20.0, 3), 16_000).unwrap();
    let static_8k = to_mulaw_8k(&common::noise(16_000, -30.0, 4));
    for clip in [&tone, &hum, &static_8k] {
        // Loud enough for the level check…
        assert_eq!(level_only.before(clip), Verdict::Speech);
        // …but the detector learns a steady sound as the noise floor: no voice.
        match reason(guard.before(clip)) {
            NoSpeechReason::NoVoicedFrames {
                frames,
                speech_frames,
            } => {
                assert!(frames >= 50, "{frames}");
                assert!(speech_frames < 3, "{speech_frames}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A sound that rises out of silence is a candidate for speech.
    let mut onset = vec![0i16; 4_000];
    onset.extend(common::tone(8_000, 8_000, 440.0, -12.0));
    assert_eq!(guard.before(&to_mulaw_8k(&onset)), Verdict::Speech);
}

#[test]
fn espeak_speech_is_speech_and_quiet_speech_is_not() {
    let guard = SpeechGuard::default();
    let (speech, rate) = common::espeak_he("שלום, אני רוצה לבדוק את מצב ההזמנה שלי");
    assert_eq!(rate, 22_050);
    let wide = AudioClip::pcm16(speech.clone(), rate).unwrap();
    assert!(wide.duration() > Duration::from_secs(1));
    assert_eq!(guard.before(&wide), Verdict::Speech);

    // As Twilio would carry it: 8 kHz μ-law.
    let phone = to_mulaw_8k(&to_8k(&speech, rate));
    assert_eq!(guard.before(&phone), Verdict::Speech);

    // One short word in a long recording (a caller who says "כן" and then waits for the
    // silence timeout) is still speech: the level check works on 20 ms frames.
    let (word, rate) = common::espeak_he("כן");
    let mut padded = vec![0i16; 8_000 * 5];
    padded.extend(to_8k(&word, rate));
    padded.extend(vec![0i16; 8_000 * 5]);
    assert_eq!(guard.before(&to_mulaw_8k(&padded)), Verdict::Speech);

    // Speech from the first sample on, over line noise (-50 dBFS), at 8 kHz.
    let start = speech
        .iter()
        .position(|s| s.unsigned_abs() > 2_000)
        .unwrap();
    let mut noisy = to_8k(&speech[start..], rate);
    let hiss = common::noise(noisy.len(), -50.0, 9);
    for (s, n) in noisy.iter_mut().zip(hiss) {
        *s = s.saturating_add(n);
    }
    assert_eq!(guard.before(&to_mulaw_8k(&noisy)), Verdict::Speech);

    // The same speech 60 dB down is below the threshold.
    let quiet: Vec<i16> = speech.iter().map(|&s| s / 1_000).collect();
    let quiet = AudioClip::pcm16(quiet, rate).unwrap();
    assert!(matches!(
        reason(guard.before(&quiet)),
        NoSpeechReason::TooQuiet { .. }
    ));
}

#[test]
fn short_clips_are_too_short() {
    let guard = SpeechGuard::default();
    let (speech, rate) = common::espeak_he("שלום");
    let cut = &speech[..(rate as usize / 5)]; // 200 ms
    match reason(guard.before(&AudioClip::pcm16(cut.to_vec(), rate).unwrap())) {
        NoSpeechReason::TooShort { duration, min } => {
            assert_eq!(duration, Duration::from_millis(200));
            assert_eq!(min, Duration::from_millis(300));
        }
        other => panic!("{other:?}"),
    }
    // Configurable.
    let lenient = SpeechGuard::default().with_min_duration(Duration::from_millis(100));
    assert!(!matches!(
        lenient.before(&AudioClip::pcm16(cut.to_vec(), rate).unwrap()),
        Verdict::NoSpeech(NoSpeechReason::TooShort { .. })
    ));
    assert!(matches!(
        reason(guard.before(&AudioClip::mulaw_8k(Vec::new()))),
        NoSpeechReason::TooShort { .. }
    ));
}

fn said(text: &str) -> Transcript {
    Transcript::new(Provider::OpenAi, text)
}

#[test]
fn known_hallucinations_mean_nothing_was_said() {
    let guard = SpeechGuard::default();
    for text in [
        "תודה רבה.",
        "תודה רבה!",
        "  תודה   רבה  ",
        "תּוֹדָה רַבָּה",
        "תודה רבה. תודה רבה.",
        "תודה שצפיתם!",
        "תודה על הצפייה.",
        "כתוביות: רונית כהן",
        "ספריית הכתוביות של ישראל",
        "Thank you for watching!",
        "Thanks for watching!",
        "THANKS FOR WATCHING",
        "thank you. thank you.",
        "you",
        "Subtitles by the Amara.org community",
    ] {
        match reason(guard.after(&said(text))) {
            NoSpeechReason::KnownHallucination { phrase } => {
                assert!(!phrase.is_empty());
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    for text in [
        "תודה רבה על העזרה, אני רוצה לבטל את ההזמנה",
        "שלום, מה מצב ההזמנה שלי?",
        "Thank you for the pizza",
        "youth",
        "כן",
        "Subtitles",
    ] {
        assert_eq!(guard.after(&said(text)), Verdict::Speech, "{text}");
    }
}

#[test]
fn empty_transcripts_mean_nothing_was_said() {
    let guard = SpeechGuard::default();
    for text in ["", "   ", "...", " ?! ", "״׳"] {
        assert_eq!(
            reason(guard.after(&said(text))),
            NoSpeechReason::EmptyTranscript,
            "{text:?}"
        );
    }
}

#[test]
fn the_hallucination_list_is_configurable() {
    let guard = SpeechGuard::default()
        .with_hallucinations(["Bye", "שלום*"])
        .with_hallucination("  ");
    assert_eq!(guard.hallucinations().collect::<Vec<_>>(), ["Bye", "שלום*"]);
    assert!(
        matches!(reason(guard.after(&said("bye!"))), NoSpeechReason::KnownHallucination { phrase } if phrase == "Bye")
    );
    assert!(matches!(
        reason(guard.after(&said("שלום לכולם"))),
        NoSpeechReason::KnownHallucination { .. }
    ));
    // The defaults are gone.
    assert_eq!(guard.after(&said("תודה רבה")), Verdict::Speech);
    let guard = SpeechGuard::default().with_hallucination("Ciao");
    assert!(matches!(
        reason(guard.after(&said("CIAO."))),
        NoSpeechReason::KnownHallucination { .. }
    ));
    assert!(matches!(
        reason(guard.after(&said("תודה רבה"))),
        NoSpeechReason::KnownHallucination { .. }
    ));
}

fn seg(start: f64, end: f64, avg_logprob: f64, no_speech_prob: f64) -> Segment {
    Segment::new(
        Duration::from_secs_f64(start),
        Duration::from_secs_f64(end),
        "מה",
        avg_logprob,
        no_speech_prob,
        1.1,
    )
}

#[test]
fn high_no_speech_probability_means_nothing_was_said() {
    let guard = SpeechGuard::default();
    let t = said("מה?").with_segments(vec![seg(0.0, 1.0, -1.3, 0.9), seg(1.0, 2.0, -1.1, 0.7)]);
    match reason(guard.after(&t)) {
        NoSpeechReason::ProbablySilent {
            no_speech_prob,
            avg_logprob,
        } => {
            assert!((no_speech_prob - 0.8).abs() < 1e-9);
            assert!((avg_logprob - -1.2).abs() < 1e-9);
        }
        other => panic!("{other:?}"),
    }
    // Confident decoding: speech even with a high no_speech_prob (Whisper's rule needs both).
    let t = said("מה?").with_segments(vec![seg(0.0, 1.0, -0.3, 0.9)]);
    assert_eq!(guard.after(&t), Verdict::Speech);
    // One real segment is enough.
    let t = said("מה?").with_segments(vec![seg(0.0, 1.0, -1.3, 0.9), seg(1.0, 2.0, -0.2, 0.1)]);
    assert_eq!(guard.after(&t), Verdict::Speech);
    // Without segments, the transcript-level figures are used.
    let t = said("מה?").with_no_speech_prob(0.95).with_avg_logprob(-1.5);
    assert!(matches!(
        reason(guard.after(&t)),
        NoSpeechReason::ProbablySilent { .. }
    ));
    // Thresholds are configurable.
    let strict = SpeechGuard::default().with_no_speech_thresholds(0.5, -0.2);
    let t = said("מה?").with_segments(vec![seg(0.0, 1.0, -0.3, 0.55)]);
    assert!(matches!(
        reason(strict.after(&t)),
        NoSpeechReason::ProbablySilent { .. }
    ));
}

#[test]
fn a_confidence_minimum_is_optional() {
    let t = Transcript::new(Provider::Google, "מה").with_confidence(0.3);
    assert_eq!(SpeechGuard::default().after(&t), Verdict::Speech);
    let guard = SpeechGuard::default().with_min_confidence(Some(0.5));
    assert_eq!(
        reason(guard.after(&t)),
        NoSpeechReason::LowConfidence {
            confidence: 0.3,
            min: 0.5
        }
    );
}

#[test]
fn verdicts_say_why() {
    let guard = SpeechGuard::default();
    let v = guard.before(&AudioClip::mulaw_8k(vec![0xFF; 8_000]));
    assert_eq!(
        v.to_string(),
        "no speech: too quiet (0 ms above -45.0 dBFS < 60 ms; loudest frame -120.0 dBFS, peak -120.0 dBFS)"
    );
    let v = guard.before(&AudioClip::mulaw_8k(vec![0xFF; 800]));
    assert_eq!(v.to_string(), "no speech: clip too short (100 ms < 300 ms)");
    let v = guard.after(&said("Thanks for watching!"));
    assert_eq!(
        v.to_string(),
        "no speech: known hallucination on silence (\"thanks for watching\")"
    );
    assert_eq!(Verdict::Speech.to_string(), "speech");
    assert!(v.reason().is_some() && !v.is_speech());
}

/// A provider for the `Guarded` tests: counts calls, answers with fixed text.
struct Counting {
    calls: AtomicUsize,
    text: &'static str,
}

impl SpeechToText for Counting {
    fn provider(&self) -> Provider {
        Provider::Other("counting")
    }
    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(Transcript::new(self.provider(), self.text).with_duration(clip.duration()))
        })
    }
}

#[tokio::test]
async fn guarded_skips_the_call_on_silence_and_filters_hallucinations() {
    let inner = Arc::new(Counting {
        calls: AtomicUsize::new(0),
        text: "שלום",
    });
    let stt = Guarded::new(
        inner.clone() as Arc<dyn SpeechToText>,
        SpeechGuard::default(),
    );

    let silence = AudioClip::mulaw_8k(vec![0xFF; 16_000]);
    let out = stt.transcribe(&silence).await.unwrap();
    assert!(!out.provider_called());
    assert!(matches!(
        out,
        GuardedTranscript::NoSpeech {
            reason: NoSpeechReason::TooQuiet { .. },
            transcript: None
        }
    ));
    assert_eq!(inner.calls.load(Ordering::SeqCst), 0);

    let (speech, rate) = common::espeak_he("שלום");
    let clip = to_mulaw_8k(&to_8k(&speech, rate));
    let out = stt.transcribe(&clip).await.unwrap();
    assert_eq!(out.speech().unwrap().text, "שלום");
    assert_eq!(out.verdict(), Verdict::Speech);
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);

    let hallucinating = Guarded::new(
        Counting {
            calls: AtomicUsize::new(0),
            text: "תודה רבה.",
        },
        SpeechGuard::default(),
    );
    let out = hallucinating.transcribe(&clip).await.unwrap();
    assert!(out.provider_called());
    match out {
        GuardedTranscript::NoSpeech {
            reason: NoSpeechReason::KnownHallucination { .. },
            transcript: Some(t),
        } => assert_eq!(t.text, "תודה רבה."),
        other => panic!("{other:?}"),
    }
    assert_eq!(hallucinating.inner().calls.load(Ordering::SeqCst), 1);
}

/// A provider that always fails: `Guarded` passes its errors through.
struct Failing;

impl SpeechToText for Failing {
    fn provider(&self) -> Provider {
        Provider::Other("failing")
    }
    fn transcribe<'a>(&'a self, _clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        Box::pin(async {
            Err(Error::Api {
                provider: Provider::Other("failing"),
                status: 503,
                code: None,
                message: "unavailable".into(),
                retry_after: None,
            })
        })
    }
}

#[tokio::test]
async fn guarded_passes_provider_errors_through() {
    let stt = Guarded::new(
        Box::new(Failing) as Box<dyn SpeechToText>,
        SpeechGuard::default(),
    );
    let (speech, rate) = common::espeak_he("שלום");
    let clip = AudioClip::pcm16(speech, rate).unwrap();
    let e = stt.transcribe(&clip).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    // And a silent clip never reaches it.
    let out = stt
        .transcribe(&AudioClip::mulaw_8k(vec![0xFF; 8_000]))
        .await
        .unwrap();
    assert!(!out.provider_called());
}

#[test]
fn repetitive_text_means_the_decoder_looped() {
    let guard = SpeechGuard::default();
    let looped = |ratio: f64| {
        Segment::new(
            Duration::ZERO,
            Duration::from_secs(2),
            "שלום שלום שלום שלום שלום שלום",
            -0.4,
            0.2,
            ratio,
        )
    };
    let t = said("שלום שלום שלום שלום שלום שלום").with_segments(vec![looped(3.1), looped(2.6)]);
    assert_eq!(
        reason(guard.after(&t)),
        NoSpeechReason::Repetitive {
            compression_ratio: 3.1,
            threshold: 2.4
        }
    );
    // One ordinary segment keeps the transcript.
    let t = said("שלום").with_segments(vec![looped(3.1), looped(1.2)]);
    assert_eq!(guard.after(&t), Verdict::Speech);
    // The rule can be turned off.
    let t = said("שלום").with_segments(vec![looped(3.1)]);
    let off = SpeechGuard::default().with_compression_ratio_threshold(None);
    assert_eq!(off.after(&t), Verdict::Speech);
    assert_eq!(
        guard.after(&t).to_string(),
        "no speech: repetitive text (compression ratio 3.10 > 2.40)"
    );
}
