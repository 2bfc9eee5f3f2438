//! `transcribe FILE.wav [--provider openai|google] [--language he] [--model …] [--base-url …]`
//!
//! Reads any WAV (PCM 8–32 bit, float, μ-law, A-law; any channel count and rate), brings it to
//! the rate the provider wants (16 kHz for OpenAI, 8 kHz for Google), runs the speech guard,
//! transcribes, and prints the transcript with the guard's verdicts.
//!
//! Keys: `OPENAI_API_KEY` (OpenAI), `GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON` (Google; or
//! `GOOGLE_API_KEY` for an API key).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kav_google_auth::GoogleAuth;
use kav_stt::{
    AudioClip, GoogleStt, OpenAiModel, OpenAiStt, SpeechGuard, SpeechToText, Transcript, Verdict,
};
use secrecy::SecretString;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProviderArg {
    Openai,
    Google,
}

/// Transcribes a WAV file with kav-stt and prints the speech guard's verdicts.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The WAV file to transcribe.
    file: std::path::PathBuf,
    /// Which provider to use.
    #[arg(long, value_enum, default_value = "openai")]
    provider: ProviderArg,
    /// The spoken language: ISO 639-1 for OpenAI (`he`), BCP-47 for Google (`he-IL`; a bare
    /// `he` becomes `he-IL`). `auto` lets OpenAI detect it.
    #[arg(long, default_value = "he")]
    language: String,
    /// The model: `whisper-1` (default), `gpt-4o-transcribe`, `gpt-4o-mini-transcribe` for
    /// OpenAI; `default`, `phone_call`, `latest_short`, … for Google.
    #[arg(long)]
    model: Option<String>,
    /// A prompt for OpenAI (vocabulary, style).
    #[arg(long)]
    prompt: Option<String>,
    /// The provider's base URL (OpenAI: with `/v1`, as `OPENAI_BASE_URL`; Google:
    /// `https://speech.googleapis.com`). Defaults to `OPENAI_BASE_URL` for OpenAI, if set.
    #[arg(long)]
    base_url: Option<String>,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Transcribe even when the guard says the clip holds no speech.
    #[arg(long)]
    no_guard: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn google_language(language: &str) -> String {
    match language {
        "he" | "iw" => "he-IL".into(),
        "en" => "en-US".into(),
        "ar" => "ar-IL".into(),
        "ru" => "ru-RU".into(),
        other => other.into(),
    }
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{name} is not set").into())
}

fn provider(args: &Args, http: reqwest::Client) -> Result<Box<dyn SpeechToText>, BoxError> {
    let timeout = Duration::from_secs(args.timeout.max(1));
    Ok(match args.provider {
        ProviderArg::Openai => {
            let key: SecretString = env("OPENAI_API_KEY")?.into();
            let language = (args.language != "auto").then_some(args.language.as_str());
            let mut stt = OpenAiStt::new(key, http)
                .with_language(language)?
                .with_timeout(timeout);
            let base = args
                .base_url
                .clone()
                .or_else(|| env("OPENAI_BASE_URL").ok());
            if let Some(base) = base {
                stt = stt.with_base_url(&base)?;
            }
            if let Some(model) = &args.model {
                stt = stt.with_model(model.parse::<OpenAiModel>()?);
            }
            if let Some(prompt) = &args.prompt {
                stt = stt.with_prompt(prompt.clone());
            }
            Box::new(stt)
        }
        ProviderArg::Google => {
            let auth = match env("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON") {
                Ok(json) => GoogleAuth::from_service_account_json(&json, http.clone())?,
                Err(_) => GoogleAuth::api_key(
                    env("GOOGLE_API_KEY")
                        .map_err(|_| {
                            "neither GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON nor GOOGLE_API_KEY is set"
                        })?
                        .into(),
                ),
            };
            let mut stt = GoogleStt::new(auth, http)
                .with_language_code(&google_language(&args.language))?
                .with_model(args.model.as_deref())
                .with_timeout(timeout);
            if let Some(base) = &args.base_url {
                stt = stt.with_base_url(base)?;
            }
            Box::new(stt)
        }
    })
}

fn describe(t: &Transcript) {
    println!("transcript: {}", t.text);
    if let Some(lang) = &t.language {
        println!("language: {} ({:?})", lang.code, lang.source);
    }
    let fmt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    println!(
        "confidence: {}  avg_logprob: {}  no_speech_prob: {}",
        fmt(t.confidence),
        fmt(t.avg_logprob),
        fmt(t.no_speech_prob)
    );
    if let Some(d) = t.duration {
        println!("duration: {:.2} s", d.as_secs_f64());
    }
    for s in &t.segments {
        println!(
            "  [{:6.2} – {:6.2}] no_speech_prob {:.2} avg_logprob {:.2} compression {:.2}  {}",
            s.start.as_secs_f64(),
            s.end.as_secs_f64(),
            s.no_speech_prob,
            s.avg_logprob,
            s.compression_ratio,
            s.text
        );
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let rate = match args.provider {
        ProviderArg::Openai => 16_000,
        ProviderArg::Google => 8_000,
    };
    let samples = kav_audio_codec::wav::decode_mono(&bytes, rate).map_err(|e| {
        format!(
            "{} is not a WAV file kav-audio-codec reads: {e}",
            args.file.display()
        )
    })?;
    let clip = AudioClip::pcm16(samples, rate)?;
    println!(
        "audio: {} ({:.2} s, mono, {rate} Hz)",
        args.file.display(),
        clip.duration().as_secs_f64()
    );

    let stt = provider(&args, reqwest::Client::new())?;
    let guard = SpeechGuard::default();
    let before = guard.before(&clip);
    println!("guard before: {before}");
    if let Verdict::NoSpeech(_) = before
        && !args.no_guard
    {
        println!(
            "not sent to {} (use --no-guard to send anyway)",
            stt.provider()
        );
        return Ok(());
    }
    let transcript = stt.transcribe(&clip).await?;
    describe(&transcript);
    println!("guard after: {}", guard.after(&transcript));
    Ok(())
}
