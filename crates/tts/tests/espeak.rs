//! espeak-ng provider with the real espeak-ng program (Debian package `espeak-ng`).
#![cfg(feature = "espeak")]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use kav_tts::{CachedTts, Error, EspeakTts, Language, SpeechRequest, TextToSpeech};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kav-tts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check_speech(audio: &kav_tts::SpeechAudio, min: Duration, max: Duration) {
    let d = audio.duration();
    assert!(
        d >= min && d <= max,
        "duration {d:?} not in {min:?}..{max:?}"
    );
    let rms = common::rms_mulaw(audio.mulaw());
    assert!(rms > 300.0, "speech is not silent (rms {rms})");
    // The WAV for <Play> is 8 kHz mono μ-law (format tag 7).
    let wav = audio.to_wav();
    assert_eq!(u16::from_le_bytes([wav[20], wav[21]]), 7);
    let back = kav_audio_codec::wav::decode(&wav).unwrap();
    assert_eq!((back.sample_rate, back.channels), (8_000, 1));
}

#[tokio::test]
async fn hebrew_speech() {
    let tts = EspeakTts::new();
    let req = SpeechRequest::new("שלום, הגעתם למוקד שירות הלקוחות. במה אפשר לעזור?").unwrap();
    assert_eq!(tts.voice_for(&req), "he");
    let audio = tts.synthesize(&req).await.unwrap();
    check_speech(&audio, Duration::from_secs(2), Duration::from_secs(10));
}

#[tokio::test]
async fn english_speech_and_rate() {
    let tts = EspeakTts::new();
    let req = SpeechRequest::new("Hello, thank you for calling. How can I help you today?")
        .unwrap()
        .with_language(Language::new("en-US").unwrap());
    assert_eq!(tts.voice_for(&req), "en-us");
    let normal = tts.synthesize(&req).await.unwrap();
    check_speech(&normal, Duration::from_secs(2), Duration::from_secs(8));
    let fast = tts
        .synthesize(&req.clone().with_speaking_rate(2.0).unwrap())
        .await
        .unwrap();
    assert!(
        fast.duration() < normal.duration() * 3 / 4,
        "faster speech is shorter: {:?} vs {:?}",
        fast.duration(),
        normal.duration()
    );
}

#[tokio::test]
async fn text_that_looks_like_options_is_spoken() {
    let tts = EspeakTts::new();
    let req = SpeechRequest::new("--help -v xx; rm -rf / $(reboot)")
        .unwrap()
        .with_language(Language::new("en").unwrap());
    let audio = tts.synthesize(&req).await.unwrap();
    check_speech(&audio, Duration::from_secs(1), Duration::from_secs(10));
}

#[tokio::test]
async fn unknown_voice_is_a_process_error() {
    let tts = EspeakTts::new();
    let req = SpeechRequest::new("hello").unwrap().with_voice("qq");
    let err = tts.synthesize(&req).await.unwrap_err();
    match &err {
        Error::Process { provider, detail } => {
            assert_eq!(*provider, "espeak-ng");
            assert!(detail.contains("qq"), "{detail}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let req = SpeechRequest::new("hello").unwrap().with_voice("--stdin");
    assert!(matches!(
        tts.synthesize(&req).await,
        Err(Error::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn missing_program_names_the_debian_package() {
    let tts = EspeakTts::new().with_program("/nonexistent/espeak-ng");
    let err = tts
        .synthesize(&SpeechRequest::new("שלום").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EspeakNotInstalled { .. }), "{err:?}");
    assert!(
        err.to_string().contains("Debian package `espeak-ng`"),
        "{err}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_hanging_process_is_killed_on_timeout() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("hang");
    let pid_file = dir.join("pid");
    let script = dir.join("fake-espeak");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 60\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tts = EspeakTts::new()
        .with_program(&script)
        .with_timeout(Duration::from_millis(500));
    let err = tts
        .synthesize(&SpeechRequest::new("שלום").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: "espeak-ng",
                ..
            }
        ),
        "{err:?}"
    );
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    // The process is gone (or a zombie about to be reaped) shortly after.
    let mut alive = true;
    for _ in 0..100 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        alive = state.is_some_and(|s| {
            let after = s.rsplit(')').next().unwrap_or("");
            !after.trim_start().starts_with('Z')
        });
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!alive, "process {pid} still running");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn phrase_cache_with_espeak() {
    let dir = temp_dir("espeak-cache");
    let tts = CachedTts::new(EspeakTts::new(), &dir);
    let req = SpeechRequest::new("תודה שהתקשרתם, להתראות").unwrap();
    let first = tts.synthesize(&req).await.unwrap();
    assert!(tts.path_for(&req).exists());
    let cached = tts.cached(&req).await.unwrap();
    assert_eq!(cached, first);
    std::fs::remove_dir_all(&dir).ok();
}
