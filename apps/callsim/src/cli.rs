//! The `kav-callsim` command line (also usable from other binaries: [`main_with_args`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::report::CallReport;
use crate::script::{CallScript, say_argument};
use crate::{Error, SecretString, SimConfig, Simulator};

/// Plays Twilio's side of phone calls against a TwiML server.
#[derive(Debug, Parser)]
#[command(name = "kav-callsim", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Places one simulated call and prints its transcript (or JSON).
    Call(CallArgs),
    /// Places many simulated calls and prints latency percentiles per webhook.
    Load(LoadArgs),
}

/// Where and how to call.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Where the agent listens, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    pub server: String,
    /// The URL configured in Twilio for the agent, e.g. `https://agent.example.com` (signatures
    /// cover it; requests reach --server through a simulated proxy).
    #[arg(long)]
    pub public_url: String,
    /// The auth token webhooks are signed with (or env TWILIO_AUTH_TOKEN).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: String,
    /// AccountSid (AC + 32 hex digits).
    #[arg(long)]
    pub account_sid: Option<String>,
    /// The caller's number.
    #[arg(long, default_value = "+972501234567")]
    pub from: String,
    /// The number called.
    #[arg(long, default_value = "+15005550006")]
    pub to: String,
    /// Path of the voice URL under the public URL.
    #[arg(long, default_value = "/webhook/incoming_call")]
    pub voice_url_path: String,
    /// Send status callbacks (ringing, in-progress, completed) to this URL or path; without a
    /// value, to `{public-url}/webhook/call_status`.
    #[arg(long, num_args = 0..=1, default_missing_value = "/webhook/call_status")]
    pub status_callback: Option<String>,
    /// A caller turn: a .wav file, `file.wav::what it says` (audio with its transcript, the
    /// `SpeechResult` of a `<Gather>`), text (spoken with espeak-ng) or `digits:12#`. Repeatable.
    #[arg(long = "say")]
    pub say: Vec<String>,
    /// A file of turns (one per line: text, `wav:path`, `wav:path | text`, `digits:123`; or TOML).
    #[arg(long)]
    pub turns: Option<PathBuf>,
    /// Stay on the line after the last turn (default: hang up right after it).
    #[arg(long)]
    pub stay_on_line: bool,
    /// espeak-ng voice for text turns (e.g. `he`, `en-us`).
    #[arg(long)]
    pub espeak_voice: Option<String>,
    /// On a `<Stream>`, send the caller's audio in real time (20 ms per frame).
    #[arg(long)]
    pub realtime: bool,
    /// Seconds a request may take before Twilio gives up (11205).
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
    /// What the party called by `<Dial>` does: completed, busy, no-answer or failed.
    #[arg(long, default_value = "no-answer")]
    pub dial_outcome: crate::DialOutcome,
    /// The number's fallback URL (absolute, or a path under the public URL): requested with
    /// `ErrorCode` and `ErrorUrl` when a TwiML document cannot be fetched or executed.
    #[arg(long)]
    pub fallback_url: Option<String>,
    /// Wait for the length of each `<Say>`, `<Play>`, `<Pause>`, caller turn and `<Dial>`, as
    /// on a phone (default: as fast as possible); implies `--realtime` for streams.
    #[arg(long)]
    pub real_time: bool,
    /// How long a `--dial-outcome completed` call lasts, in seconds.
    #[arg(long, default_value_t = 10)]
    pub dial_duration: u64,
}

/// `call` options.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Call options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the report as JSON (see the README for its structure).
    #[arg(long)]
    pub json: bool,
    /// Write the audio played to the caller and the recordings made into this folder.
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
    /// Serve recordings at this address (e.g. `127.0.0.1:8099`, so that the agent's allow-list
    /// can name it) instead of a free port picked for the call.
    #[arg(long)]
    pub recordings_addr: Option<std::net::SocketAddr>,
    /// Keep serving recordings this many seconds after the call ends (for agents that
    /// download a recording after answering its status callback).
    #[arg(long, default_value_t = 0)]
    pub recordings_linger: u64,
}

/// `load` options.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Call options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of calls.
    #[arg(long, default_value_t = 10)]
    pub calls: usize,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

impl CommonArgs {
    fn config(&self) -> Result<SimConfig, Error> {
        let mut config = SimConfig::new(
            &self.server,
            &self.public_url,
            SecretString::from(self.auth_token.clone()),
        )?
        .with_from(self.from.clone())
        .with_to(self.to.clone())
        .with_voice_url_path(&self.voice_url_path)?
        .with_espeak("espeak-ng", self.espeak_voice.clone())
        .with_stream_realtime(self.realtime || self.real_time)
        .with_dial_outcome(self.dial_outcome)
        .with_dial_duration(Duration::from_secs(self.dial_duration))
        .with_timeouts(
            Duration::from_secs(self.timeout.max(1)),
            Duration::from_secs(self.timeout.clamp(1, 10)),
        );
        if let Some(sid) = &self.account_sid {
            config = config.with_account_sid(sid)?;
        }
        if let Some(url) = &self.fallback_url {
            config = config.with_fallback_url(url.clone(), kav_twiml::HttpMethod::Post);
        }
        config = config.with_real_time(self.real_time);
        if let Some(url) = &self.status_callback {
            config = config.with_status_callback(url.clone());
        }
        Ok(config)
    }

    fn script(&self) -> Result<CallScript, Error> {
        let mut script = match &self.turns {
            Some(path) => CallScript::from_file(path)?,
            None => CallScript::new(),
        };
        for arg in &self.say {
            script = script.turn(say_argument(arg)?);
        }
        Ok(script.stay_on_line(self.stay_on_line))
    }
}

/// Runs the command line; returns the process exit code (0: the call ran without errors,
/// 1: the report holds errors, 2: the simulation could not run).
pub async fn main_with_args(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Call(args) => call(args).await,
        Command::Load(args) => load(args).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kav-callsim: {}", describe(&err));
            2
        }
    }
}

async fn call(args: CallArgs) -> Result<i32, Error> {
    let mut config = args.common.config()?;
    if let Some(addr) = args.recordings_addr {
        config = config.with_recordings_addr(addr);
    }
    let linger = Duration::from_secs(args.recordings_linger);
    config = config.with_recordings_linger(linger);
    let script = args.common.script()?;
    let report = Simulator::new(config).run(&script).await?;
    if let Some(dir) = &args.save_dir {
        match report.save_audio(dir) {
            Ok(files) => {
                for file in files {
                    eprintln!("kav-callsim: wrote {}", file.display());
                }
            }
            Err(err) => eprintln!("kav-callsim: cannot write to {}: {err}", dir.display()),
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.transcript());
    }
    if !linger.is_zero() {
        // The host serves in the background; the process stays for it.
        tokio::time::sleep(linger).await;
    }
    Ok(i32::from(report.has_errors()))
}

/// Latency summary of a load run.
#[derive(Debug, serde::Serialize)]
struct LoadSummary {
    calls: usize,
    calls_with_errors: usize,
    wall_ms: u64,
    /// Per request purpose: count and percentiles in milliseconds.
    webhooks: BTreeMap<&'static str, Percentiles>,
}

#[derive(Debug, serde::Serialize)]
struct Percentiles {
    count: usize,
    p50_ms: u64,
    p90_ms: u64,
    p99_ms: u64,
    max_ms: u64,
}

async fn load(args: LoadArgs) -> Result<i32, Error> {
    let config = args.common.config()?;
    let script = Arc::new(args.common.script()?);
    let client = Simulator::build_client(&config)?;
    let simulator = Arc::new(Simulator::new(config).with_client(client));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.calls {
        let simulator = Arc::clone(&simulator);
        let script = Arc::clone(&script);
        let semaphore = Arc::clone(&semaphore);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            simulator.run(&script).await
        });
    }
    let mut reports: Vec<CallReport> = Vec::with_capacity(args.calls);
    while let Some(joined) = tasks.join_next().await {
        if let Ok(report) = joined {
            reports.push(report?);
        }
    }
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let summary = summarize(&reports, wall_ms);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "{} calls in {} ms, {} with errors",
            summary.calls, summary.wall_ms, summary.calls_with_errors
        );
        println!(
            "{:<16} {:>6} {:>8} {:>8} {:>8} {:>8}",
            "webhook", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for (name, p) in &summary.webhooks {
            println!(
                "{name:<16} {:>6} {:>8} {:>8} {:>8} {:>8}",
                p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
            );
        }
    }
    Ok(i32::from(summary.calls_with_errors > 0))
}

fn summarize(reports: &[CallReport], wall_ms: u64) -> LoadSummary {
    let mut by_purpose: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for report in reports {
        for request in &report.requests {
            let name = request.purpose.as_str();
            by_purpose.entry(name).or_default().push(request.elapsed_ms);
        }
    }
    let webhooks = by_purpose
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_unstable();
            (
                name,
                Percentiles {
                    count: values.len(),
                    p50_ms: percentile(&values, 50),
                    p90_ms: percentile(&values, 90),
                    p99_ms: percentile(&values, 99),
                    max_ms: values.last().copied().unwrap_or(0),
                },
            )
        })
        .collect();
    LoadSummary {
        calls: reports.len(),
        calls_with_errors: reports.iter().filter(|r| r.has_errors()).count(),
        wall_ms,
        webhooks,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&[7], 90), 7);
        assert_eq!(percentile(&[], 90), 0);
    }

    #[test]
    fn parses_arguments() {
        let cli = Cli::try_parse_from([
            "kav-callsim",
            "call",
            "--server",
            "http://127.0.0.1:8080",
            "--public-url",
            "https://agent.example.com",
            "--auth-token",
            "T",
            "--say",
            "hello",
            "--status-callback",
            "--json",
            "--recordings-addr",
            "127.0.0.1:8099",
        ])
        .unwrap();
        let Command::Call(args) = cli.command else {
            panic!("expected call");
        };
        assert!(args.json);
        assert_eq!(
            args.recordings_addr,
            Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8099)))
        );
        assert!(
            Cli::try_parse_from([
                "kav-callsim",
                "call",
                "--server",
                "http://h",
                "--public-url",
                "https://a.b",
                "--auth-token",
                "T",
                "--recordings-addr",
                "localhost",
            ])
            .is_err()
        );
        assert_eq!(
            args.common.status_callback.as_deref(),
            Some("/webhook/call_status")
        );
        assert_eq!(args.common.script().unwrap().turns().len(), 1);
        assert_eq!(args.common.dial_outcome, crate::DialOutcome::NoAnswer);
        assert!(!args.common.real_time);
    }

    #[test]
    fn parses_new_flags() {
        let cli = Cli::try_parse_from([
            "kav-callsim",
            "call",
            "--server",
            "http://127.0.0.1:8080",
            "--public-url",
            "https://agent.example.com",
            "--auth-token",
            "T",
            "--dial-outcome",
            "completed",
            "--dial-duration",
            "42",
            "--fallback-url",
            "/webhook/fallback",
            "--real-time",
            "--recordings-linger",
            "5",
        ])
        .unwrap();
        let Command::Call(args) = cli.command else {
            panic!("expected call");
        };
        assert_eq!(args.common.dial_outcome, crate::DialOutcome::Completed);
        assert_eq!(args.common.dial_duration, 42);
        assert_eq!(args.recordings_linger, 5);
        let config = args.common.config().unwrap();
        assert!(config.real_time && config.stream_realtime);
        assert_eq!(config.fallback_url.as_deref(), Some("/webhook/fallback"));
        assert_eq!(config.dial_duration, Duration::from_secs(42));
        let bad = Cli::try_parse_from([
            "kav-callsim",
            "call",
            "--server",
            "http://h",
            "--public-url",
            "https://a.b",
            "--auth-token",
            "T",
            "--dial-outcome",
            "voicemail",
        ]);
        assert!(bad.is_err());
    }
}
