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

/// A request as the stand-in saw it: request line, lower-case headers, body.
type Seen = (String, Vec<(String, String)>, String);

/// Answers one HTTP request with `body` as `content_type`; returns what the request was.
fn one_shot_server(
    content_type: &'static str,
    body: Vec<u8>,
) -> (String, std::thread::JoinHandle<Seen>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let Some((k, v)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut request_body = vec![0; len];
        reader.read_exact(&mut request_body).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        (
            request_line.trim_end().to_owned(),
            headers,
            String::from_utf8(request_body).unwrap(),
        )
    });
    (base, handle)
}

#[test]
fn openai_through_base_url_writes_8k_mulaw() {
    // Half a second of a 440 Hz tone as OpenAI's `pcm`: 24 kHz, 16-bit little-endian, mono.
    let pcm: Vec<u8> = (0..12_000)
        .map(|n| {
            (8_000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(n) / 24_000.0).sin()) as i16
        })
        .flat_map(i16::to_le_bytes)
        .collect();
    let (base, server) = one_shot_server("audio/pcm", pcm);
    let out = out_path("openai-fake");
    let result = Command::new(env!("CARGO_BIN_EXE_say"))
        .args([
            "שלום עולם",
            "--provider",
            "openai",
            "--voice",
            "alloy",
            "--out",
        ])
        .arg(&out)
        .arg("--base-url")
        .arg(format!("{base}/v1"))
        .env("OPENAI_API_KEY", "sk-test-key")
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let (request_line, headers, body) = server.join().unwrap();
    assert_eq!(request_line, "POST /v1/audio/speech HTTP/1.1");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer sk-test-key")
    );
    assert!(body.contains(r#""voice":"alloy""#), "{body}");
    assert!(body.contains(r#""response_format":"pcm""#), "{body}");
    assert!(body.contains("שלום עולם"), "{body}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        u16::from_le_bytes([bytes[20], bytes[21]]),
        7,
        "μ-law format tag"
    );
    let wav = kav_audio_codec::wav::decode(&bytes).unwrap();
    assert_eq!((wav.sample_rate, wav.channels), (8_000, 1));
    // 0.5 s at 8 kHz, give or take the resampler's edges.
    assert!(
        (3_900..=4_100).contains(&wav.samples.len()),
        "{}",
        wav.samples.len()
    );
    assert!(
        wav.samples.iter().any(|&s| s.unsigned_abs() > 4_000),
        "not silent"
    );
    std::fs::remove_file(&out).ok();
}

#[test]
fn elevenlabs_speaks_hebrew_with_its_hebrew_model() {
    // ElevenLabs answers `ulaw_8000` as raw μ-law bytes: a quarter second of a loud square wave.
    let ulaw: Vec<u8> = (0..2_000)
        .map(|n| if n % 40 < 20 { 0x8F } else { 0x0F })
        .collect();
    let mut models = Vec::new();
    for lang in ["he-IL", "en-US"] {
        let (base, server) = one_shot_server("audio/basic", ulaw.clone());
        let out = out_path(&format!("elevenlabs-{lang}"));
        let result = Command::new(env!("CARGO_BIN_EXE_say"))
            .args(["שלום עולם", "--provider", "elevenlabs", "--lang", lang])
            .args(["--base-url", &base, "--out"])
            .arg(&out)
            .env("ELEVENLABS_API_KEY", "xi-test-key")
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let (request_line, headers, body) = server.join().unwrap();
        assert!(
            request_line.starts_with("POST /v1/text-to-speech/")
                && request_line.contains("/stream?output_format=ulaw_8000 "),
            "{request_line}"
        );
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "xi-api-key" && v == "xi-test-key")
        );
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(
            &bytes[bytes.len() - ulaw.len()..],
            &ulaw[..],
            "passed through"
        );
        std::fs::remove_file(&out).ok();
        models.push(body);
    }
    assert!(
        models[0].contains(r#""model_id":"eleven_v3""#),
        "{}",
        models[0]
    );
    assert!(
        models[0].contains(r#""language_code":"he""#),
        "{}",
        models[0]
    );
    assert!(
        models[1].contains(r#""model_id":"eleven_flash_v2_5""#),
        "{}",
        models[1]
    );
    assert!(!models[1].contains("language_code"), "{}", models[1]);
}
