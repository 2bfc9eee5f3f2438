//! espeak-ng, a local and offline synthesizer (`espeak-ng -v he --stdout`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::convert;
use crate::support::snippet;
use crate::{BoxFuture, Error, SpeechAudio, SpeechRequest, TextToSpeech};

const PROVIDER: &str = "espeak-ng";
/// espeak-ng's normal speed, in words per minute.
const NORMAL_WPM: f32 = 175.0;
/// The most WAV output read (far more than 4096 characters of speech at 22 kHz).
const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

/// espeak-ng run as a child process (never through a shell; the text goes through stdin).
///
/// The voice is the request's, else the configured default, else one derived from the
/// language (`he` for `he-IL`, `en-us` for `en-US`…). The 22 050 Hz WAV it writes is resampled
/// to 8 kHz and μ-law encoded. The process is killed on timeout and when the future is dropped.
#[derive(Debug, Clone)]
pub struct EspeakTts {
    program: PathBuf,
    default_voice: Option<String>,
    timeout: Duration,
}

impl Default for EspeakTts {
    fn default() -> Self {
        Self::new()
    }
}

impl EspeakTts {
    /// The program run by default (looked up in `PATH`).
    pub const DEFAULT_PROGRAM: &'static str = "espeak-ng";
    /// Default timeout of one synthesis.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

    /// Runs `espeak-ng` from `PATH`.
    pub fn new() -> Self {
        Self {
            program: PathBuf::from(Self::DEFAULT_PROGRAM),
            default_voice: None,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Runs this program instead.
    #[must_use]
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// The voice used when a request names none (otherwise derived from the language).
    #[must_use]
    pub fn with_default_voice(mut self, voice: impl Into<String>) -> Self {
        self.default_voice = Some(voice.into());
        self
    }

    /// Limits each synthesis to `timeout` (default 20 s); the process is killed after it.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn voice(&self, request: &SpeechRequest) -> String {
        if let Some(v) = request.voice().or(self.default_voice.as_deref()) {
            return v.to_owned();
        }
        let tag = request.language().as_str().to_ascii_lowercase();
        match tag.as_str() {
            // espeak-ng has regional voices for these; others use the language alone.
            "en-us" | "en-gb" | "pt-br" | "es-419" | "fr-be" | "fr-ch" => tag,
            _ => request.language().primary(),
        }
    }

    async fn run(&self, request: &SpeechRequest) -> Result<SpeechAudio, Error> {
        let voice = self.voice(request);
        if voice.starts_with('-') || voice.chars().any(char::is_control) {
            return Err(Error::InvalidRequest(format!(
                "{voice:?} is not an espeak-ng voice name"
            )));
        }
        let wpm = (NORMAL_WPM * request.speaking_rate().unwrap_or(1.0)).round() as u32;
        let mut child = tokio::process::Command::new(&self.program)
            .arg("-v")
            .arg(&voice)
            .arg("-s")
            .arg(wpm.clamp(80, 500).to_string())
            .arg("--stdout")
            .arg("--stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::EspeakNotInstalled {
                        program: self.program.display().to_string(),
                    }
                } else {
                    Error::Io {
                        provider: PROVIDER,
                        source: e,
                    }
                }
            })?;
        let io = |source| Error::Io {
            provider: PROVIDER,
            source,
        };
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::Process {
                provider: PROVIDER,
                detail: "no pipes to the process".into(),
            });
        };
        // Write, read and wait at once, so that a full pipe cannot deadlock.
        let text = request.text().to_owned();
        let write = async move {
            let r = stdin.write_all(text.as_bytes()).await;
            drop(stdin); // EOF
            r
        };
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut stdout = stdout.take(MAX_OUTPUT_BYTES as u64 + 1);
        let mut stderr = stderr.take(64 * 1024);
        let read_out = stdout.read_to_end(&mut out);
        let read_err = stderr.read_to_end(&mut err);
        let (w, o, e) = tokio::join!(write, read_out, read_err);
        o.map_err(io)?;
        e.map_err(io)?;
        let status = child.wait().await.map_err(io)?;
        if !status.success() {
            return Err(Error::Process {
                provider: PROVIDER,
                detail: format!("{status} (voice {voice:?}): {}", snippet(&err)),
            });
        }
        // A broken pipe while writing only matters if the process then failed.
        if let Err(e) = w
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(io(e));
        }
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(Error::Process {
                provider: PROVIDER,
                detail: format!("more than {MAX_OUTPUT_BYTES} bytes of output"),
            });
        }
        convert::wav_to_phone(PROVIDER, &out)
    }
}

impl TextToSpeech for EspeakTts {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn voice_for(&self, request: &SpeechRequest) -> String {
        self.voice(request)
    }

    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(async move {
            // Dropping the future on timeout drops the child, which kills it (kill_on_drop).
            tokio::time::timeout(self.timeout, self.run(request))
                .await
                .map_err(|_| Error::Timeout {
                    provider: PROVIDER,
                    after: self.timeout,
                })?
        })
    }
}
