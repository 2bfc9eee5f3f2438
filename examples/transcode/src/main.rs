//! `transcode IN.wav OUT.wav --to mulaw|alaw|pcm16 --rate 8000`
//!
//! Reads any WAV that `kav-audio-codec` decodes (PCM 8/16/24/32-bit, float, μ-law, A-law; any
//! rate and channel count), mixes it down to mono, resamples it and writes it in the chosen
//! encoding. 8 kHz μ-law is what Twilio's `<Play>` plays most cheaply.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use kav_audio_codec::{g711, wav};

/// Output encodings.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Encoding {
    /// G.711 μ-law (WAV format tag 7).
    Mulaw,
    /// G.711 A-law (WAV format tag 6).
    Alaw,
    /// Linear 16-bit PCM.
    Pcm16,
}

/// Converts a WAV file to mono μ-law, A-law or PCM16 at the given rate.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Input WAV file.
    input: PathBuf,
    /// Output WAV file.
    output: PathBuf,
    /// Output encoding.
    #[arg(long, value_enum, default_value = "mulaw")]
    to: Encoding,
    /// Output sample rate in Hz.
    #[arg(long, default_value_t = 8_000)]
    rate: u32,
}

fn run(args: &Args) -> Result<String, String> {
    let bytes = std::fs::read(&args.input)
        .map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    let info = wav::decode(&bytes).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let mono = wav::decode_mono(&bytes, args.rate)
        .map_err(|e| format!("{}: {e}", args.input.display()))?;
    let out = match args.to {
        Encoding::Mulaw => wav::encode_mulaw(&g711::ulaw_encode(&mono), args.rate),
        Encoding::Alaw => wav::encode_alaw(&g711::alaw_encode(&mono), args.rate),
        Encoding::Pcm16 => wav::encode_pcm16(&mono, args.rate, 1),
    };
    std::fs::write(&args.output, &out)
        .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    Ok(format!(
        "{}: {} Hz, {} channel(s), {:.2} s -> {}: {:?}, {} Hz, mono, {} bytes",
        args.input.display(),
        info.sample_rate,
        info.channels,
        info.frames() as f64 / f64::from(info.sample_rate),
        args.output.display(),
        args.to,
        args.rate,
        out.len()
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("transcode: {message}");
            ExitCode::FAILURE
        }
    }
}
