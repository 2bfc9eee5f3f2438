//! Runs the `transcribe` binary against local stand-ins for OpenAI and Google.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Multipart, State};
use axum::routing::post;
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<Value>>>;

async fn openai(State(seen): State<Seen>, mut mp: Multipart) -> String {
    let mut fields = serde_json::Map::new();
    while let Ok(Some(f)) = mp.next_field().await {
        let name = f.name().unwrap_or_default().to_owned();
        let bytes = f.bytes().await.unwrap();
        let value = if name == "file" {
            // The WAV's sample rate (bytes 24..28 of a canonical header).
            json!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()))
        } else {
            json!(String::from_utf8_lossy(&bytes))
        };
        fields.insert(name, value);
    }
    seen.lock().unwrap().push(Value::Object(fields));
    json!({"task": "transcribe", "language": "hebrew", "duration": 1.5, "text": "שלום",
           "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1.5, "text": " שלום",
                         "tokens": [1], "temperature": 0.0, "avg_logprob": -0.2,
                         "compression_ratio": 0.5, "no_speech_prob": 0.02}]})
    .to_string()
}

async fn google(State(seen): State<Seen>, body: String) -> String {
    let body: Value = serde_json::from_str(&body).unwrap();
    seen.lock().unwrap().push(body["config"].clone());
    json!({"results": [{"alternatives": [{"transcript": "שלום", "confidence": 0.9}],
                        "languageCode": "iw-il"}], "totalBilledTime": "2s"})
    .to_string()
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/audio/transcriptions", post(openai))
        .route("/v1/speech:recognize", post(google))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kav-transcribe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Each test writes its own file, so tests running in parallel never read a file being written.
fn speech_wav(name: &str) -> std::path::PathBuf {
    let path = dir().join(format!("{name}.wav"));
    let out = std::process::Command::new("espeak-ng")
        .args(["-v", "he", "-w"])
        .arg(&path)
        .arg("שלום, מה שלומך?")
        .output()
        .expect("espeak-ng is needed: run scripts/install-test-deps.sh");
    assert!(out.status.success());
    path
}

async fn transcribe(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_transcribe"));
    cmd.args(args)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON")
        .env_remove("GOOGLE_API_KEY")
        .env_remove("OPENAI_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn openai_at_16_khz() {
    let (base, seen) = server().await;
    let wav = speech_wav("speech1");
    let (ok, out) = transcribe(
        &[
            wav.to_str().unwrap(),
            "--base-url",
            &format!("{base}/v1"),
            "--model",
            "whisper-1",
        ],
        &[("OPENAI_API_KEY", "sk-test")],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("guard before: speech"), "{out}");
    assert!(out.contains("transcript: שלום"), "{out}");
    assert!(out.contains("language: he (Declared)"), "{out}");
    assert!(out.contains("guard after: speech"), "{out}");
    assert!(!out.contains("sk-test"), "{out}");
    let seen = seen.lock().unwrap()[0].clone();
    assert_eq!(seen["file"], json!(16_000));
    assert_eq!(seen["model"], json!("whisper-1"));
    assert_eq!(seen["language"], json!("he"));
    assert_eq!(seen["response_format"], json!("verbose_json"));
}

#[tokio::test]
async fn google_at_8_khz() {
    let (base, seen) = server().await;
    let wav = speech_wav("speech2");
    let (ok, out) = transcribe(
        &[
            wav.to_str().unwrap(),
            "--provider",
            "google",
            "--base-url",
            &base,
        ],
        &[("GOOGLE_API_KEY", "AIza-test")],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("transcript: שלום"), "{out}");
    assert!(out.contains("confidence: 0.900"), "{out}");
    let config = seen.lock().unwrap()[0].clone();
    assert_eq!(config["encoding"], json!("LINEAR16"));
    assert_eq!(config["sampleRateHertz"], json!(8_000));
    assert_eq!(config["languageCode"], json!("he-IL"));
}

#[tokio::test]
async fn silence_is_not_sent() {
    let (base, seen) = server().await;
    let path = dir().join("silence.wav");
    std::fs::write(
        &path,
        kav_audio_codec::wav::encode_pcm16(&[0; 44_100], 44_100, 1),
    )
    .unwrap();
    let (ok, out) = transcribe(
        &[path.to_str().unwrap(), "--base-url", &format!("{base}/v1")],
        &[("OPENAI_API_KEY", "sk-test")],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("guard before: no speech: too quiet"), "{out}");
    assert!(out.contains("not sent to OpenAI"), "{out}");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn errors_are_reported() {
    let (ok, out) = transcribe(&["/nonexistent.wav"], &[("OPENAI_API_KEY", "k")]).await;
    assert!(!ok);
    assert!(out.contains("error: cannot read /nonexistent.wav"), "{out}");
    let wav = speech_wav("speech3");
    let (ok, out) = transcribe(&[wav.to_str().unwrap()], &[]).await;
    assert!(!ok);
    assert!(out.contains("OPENAI_API_KEY is not set"), "{out}");
}
