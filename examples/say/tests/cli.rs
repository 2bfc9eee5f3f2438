//! Runs the `say` binary with the real espeak-ng.

use std::process::Command;

fn out_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kav-say-{name}-{}.wav", std::process::id()))
}

#[test]
fn espeak_writes_an_8k_mulaw_wav() {
    let out = out_path("espeak");
    let status = Command::new(env!("CARGO_BIN_EXE_say"))
        .args(["שלום עולם, זו בדיקה", "--provider", "espeak", "--out"])
        .arg(&out)
        .args(["--lang", "he"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("espeak-ng, voice he"), "{stdout}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        u16::from_le_bytes([bytes[20], bytes[21]]),
        7,
        "μ-law format tag"
    );
    let wav = kav_audio_codec::wav::decode(&bytes).unwrap();
    assert_eq!((wav.sample_rate, wav.channels), (8_000, 1));
    assert!(wav.samples.len() > 8_000, "more than a second of speech");
    assert!(
        wav.samples.iter().any(|&s| s.unsigned_abs() > 2_000),
        "not silent"
    );
    std::fs::remove_file(&out).ok();
}

#[test]
fn missing_credentials_name_the_variable() {
    let out = out_path("openai");
    let result = Command::new(env!("CARGO_BIN_EXE_say"))
        .args(["hello", "--provider", "openai", "--out"])
        .arg(&out)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("OPENAI_API_KEY is not set"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn bad_language_is_reported() {
    let result = Command::new(env!("CARGO_BIN_EXE_say"))
        .args(["hello", "--lang", "not a tag", "--out"])
        .arg(out_path("lang"))
        .output()
        .unwrap();
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("--lang"));
}

#[test]
fn missing_google_credentials_name_both_variables() {
    let result = Command::new(env!("CARGO_BIN_EXE_say"))
        .args(["hello", "--provider", "google", "--out"])
        .arg(out_path("google"))
        .env_remove("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON")
        .env_remove("GOOGLE_API_KEY")
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON") && stderr.contains("GOOGLE_API_KEY"),
        "{stderr}"
    );
}
