//! `say "text" --provider espeak|google|openai|elevenlabs --out out.wav [--voice V] [--lang he]`
//!
//! Writes an 8 kHz μ-law WAV (what Twilio's `<Play>` plays most cheaply). Credentials come
//! from the environment: `GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON` (the whole key JSON) or
//! `GOOGLE_API_KEY`, `OPENAI_API_KEY`, `ELEVENLABS_API_KEY`. espeak-ng needs none.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kav_tts::google_auth::GoogleAuth;
use kav_tts::{
    CachedTts, ElevenLabsTts, EspeakTts, GoogleTts, Language, OpenAiTts, SecretString,
    SpeechRequest, TextToSpeech,
};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Provider {
    Espeak,
    Google,
    Openai,
    Elevenlabs,
}

/// Synthesizes TEXT to an 8 kHz μ-law WAV file.
#[derive(Parser, Debug)]
#[command(name = "say", version)]
struct Args {
    /// The text to speak.
    text: String,
    /// Which provider synthesizes it.
    #[arg(long, value_enum, default_value = "espeak")]
    provider: Provider,
    /// The WAV file to write.
    #[arg(long, default_value = "out.wav")]
    out: PathBuf,
    /// The voice (provider-specific: `he`, `he-IL-Wavenet-A`, `alloy`, an ElevenLabs voice id).
    #[arg(long)]
    voice: Option<String>,
    /// The language tag (`he`, `he-IL`, `en-US`…).
    #[arg(long, default_value = "he-IL")]
    lang: String,
    /// Speaking rate, 1.0 is normal.
    #[arg(long)]
    rate: Option<f32>,
    /// Send requests to this base URL instead of the provider's (a proxy or a test server).
    #[arg(long)]
    base_url: Option<String>,
    /// Keep synthesized phrases in this directory and reuse them.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

fn env(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("{name} is not set")),
    }
}

fn provider(args: &Args) -> Result<Arc<dyn TextToSpeech>, String> {
    let timeout = Duration::from_secs(args.timeout);
    let http = reqwest::Client::new();
    let base = args.base_url.as_deref();
    let tts: Arc<dyn TextToSpeech> = match args.provider {
        Provider::Espeak => Arc::new(EspeakTts::new().with_timeout(timeout)),
        Provider::Google => {
            let auth = GoogleAuth::from_env(http.clone()).map_err(|e| e.to_string())?;
            let mut tts = GoogleTts::new(auth)
                .with_http_client(http)
                .with_timeout(timeout);
            if let Some(base) = base {
                tts = tts.with_base_url(base).map_err(|e| e.to_string())?;
            }
            Arc::new(tts)
        }
        Provider::Openai => {
            let mut tts = OpenAiTts::new(SecretString::from(env("OPENAI_API_KEY")?))
                .with_http_client(http)
                .with_timeout(timeout);
            if let Some(base) = base {
                tts = tts.with_base_url(base).map_err(|e| e.to_string())?;
            }
            Arc::new(tts)
        }
        Provider::Elevenlabs => {
            let mut tts = ElevenLabsTts::new(SecretString::from(env("ELEVENLABS_API_KEY")?))
                .with_http_client(http)
                .with_timeout(timeout);
            // ElevenLabs documents Hebrew only for eleven_v3; its default model has none.
            let hebrew = Language::new(&args.lang)
                .is_ok_and(|l| matches!(l.primary().as_str(), "he" | "iw"));
            if hebrew {
                tts = tts
                    .with_model(ElevenLabsTts::HEBREW_MODEL)
                    .with_language_code(true);
            }
            if let Some(base) = base {
                tts = tts.with_base_url(base).map_err(|e| e.to_string())?;
            }
            Arc::new(tts)
        }
    };
    Ok(match &args.cache {
        Some(dir) => Arc::new(CachedTts::new(tts, dir)),
        None => tts,
    })
}

async fn run(args: Args) -> Result<(), String> {
    let tts = provider(&args)?;
    let language = Language::new(&args.lang).map_err(|e| format!("--lang: {e}"))?;
    let mut request = SpeechRequest::new(args.text.as_str())
        .map_err(|e| e.to_string())?
        .with_language(language);
    if let Some(voice) = &args.voice {
        request = request.with_voice(voice);
    }
    if let Some(rate) = args.rate {
        request = request
            .with_speaking_rate(rate)
            .map_err(|e| format!("--rate: {e}"))?;
    }
    let audio = tts.synthesize(&request).await.map_err(|e| {
        // The whole chain: "openai answered HTTP 401 …", "request to google failed: …".
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            source = s.source();
        }
        msg
    })?;
    std::fs::write(&args.out, audio.to_wav())
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    println!(
        "wrote {}: {:.2} s of 8 kHz μ-law ({}, voice {})",
        args.out.display(),
        audio.duration().as_secs_f64(),
        tts.provider(),
        tts.voice_for(&request)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("say: {e}");
            ExitCode::FAILURE
        }
    }
}
