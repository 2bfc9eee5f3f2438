//! The background worker: post-call transcription of full-call recordings.
//!
//! `POST /webhook/recording_status` (with `KAV_RECORD_CALLS=true`) queues one
//! [`TRANSCRIBE_RECORDING`] job per completed recording. A [`Worker`] claims jobs from the
//! store's durable queue, downloads the recording through kav-twilio-rest (only from the
//! `RECORDING_HOSTS` allow-list, with Basic auth, size-capped, kept in memory: no temporary
//! file is written), runs the agent's speech-to-text provider over it (in pieces the provider
//! accepts, each checked by the no-speech / hallucination guard), stores a
//! [`CallTranscript`] and completes the job.
//!
//! A failure that a retry may fix (download error, provider error or timeout, store error)
//! fails the job: it is queued again after the store's backoff and parked after
//! `KAV_JOB_MAX_ATTEMPTS`. A failure no retry can fix (a host off the allow-list, a file that
//! is not WAV, a malformed job) parks it at once. On shutdown ([`WorkerHandle::stop`]) the
//! job in progress is given back to the queue at once, without counting the attempt; if the
//! process dies instead, the job's lock expires and another worker (or this one after a
//! restart) takes it again.

use std::time::{Duration, Instant};

use kav_stt::{AudioClip, Provider, Transcript, Verdict};
use kav_twilio_rest::{RecordingFormat, RecordingSid};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::Error;
use crate::app::AppState;
use crate::metrics::Stage;
use crate::store::transcripts::{CallTranscript, TranscriptSegment};
use crate::store::{FailOutcome, Job, UnixMillis, now_millis};

/// The kind of the post-call transcription job.
pub const TRANSCRIBE_RECORDING: &str = "transcribe_recording";

/// How long a claim holds a job before another worker may take it (a dead worker's job is
/// taken again after this).
pub const JOB_LEASE: Duration = Duration::from_secs(20 * 60);

/// How long one job may run (download and every speech-to-text request); well inside
/// [`JOB_LEASE`].
const JOB_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How long one speech-to-text request may take.
const STT_TIMEOUT: Duration = Duration::from_secs(180);

/// How long the store may take for one operation.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle worker looks for work.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The input of a [`TRANSCRIBE_RECORDING`] job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscribeRecording {
    /// `RecordingSid`.
    pub recording_sid: String,
    /// `CallSid`, when Twilio sent it.
    #[serde(default)]
    pub call_sid: Option<String>,
    /// `RecordingUrl`, when Twilio sent it (else the recording is fetched by SID from
    /// `TWILIO_API_BASE_URL`).
    #[serde(default)]
    pub recording_url: Option<String>,
}

/// What one job run ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Done: the transcript is stored.
    Done {
        /// The job.
        id: String,
    },
    /// Failed; queued again.
    Retry {
        /// The job.
        id: String,
        /// When it may run again.
        run_after: UnixMillis,
        /// Why it failed.
        error: String,
    },
    /// Failed for good; parked.
    Parked {
        /// The job.
        id: String,
        /// Why it failed.
        error: String,
    },
    /// Given back unfinished (the worker is stopping).
    Released {
        /// The job.
        id: String,
    },
    /// The job's lock was lost (it ran longer than its lease and was reclaimed); its result,
    /// if any, was still stored.
    Lost {
        /// The job.
        id: String,
    },
}

impl JobOutcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Done { .. } => "done",
            Self::Retry { .. } => "retry",
            Self::Parked { .. } => "parked",
            Self::Released { .. } => "released",
            Self::Lost { .. } => "lost",
        }
    }
}

/// Why a job failed, and whether trying again could help.
#[derive(Debug)]
struct JobError {
    message: String,
    permanent: bool,
}

impl JobError {
    fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

/// Claims and runs background jobs. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Worker {
    state: AppState,
    name: String,
    poll: Duration,
}

impl Worker {
    /// A worker for `state` (its store, agent, configuration and metrics), named after the
    /// host process.
    #[must_use]
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            name: format!("worker-{}", std::process::id()),
            poll: DEFAULT_POLL_INTERVAL,
        }
    }

    /// The same worker, looking for work every `interval` when idle.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(10));
        self
    }

    /// Claims one runnable job, runs it to the end and records the result. `None` when no
    /// job is runnable.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the claim fails.
    pub async fn run_once(&self) -> Result<Option<JobOutcome>, Error> {
        self.run_once_at(now_millis()).await
    }

    /// [`run_once`](Self::run_once) as if the time were `now` (the claim, the backoff and
    /// the lock are computed from it), for tests and tools.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the claim fails.
    pub async fn run_once_at(&self, now: UnixMillis) -> Result<Option<JobOutcome>, Error> {
        let Some(job) = self.claim(now).await? else {
            return Ok(None);
        };
        let span = job_span(&job);
        async {
            let result = self.execute(&job).await;
            Ok(Some(self.finish(&job, result, now).await))
        }
        .instrument(span)
        .await
    }

    /// Starts the worker on the current tokio runtime.
    #[must_use]
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        WorkerHandle { stop, task }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.name, "background worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let claimed = tokio::select! {
                biased;
                _ = stop.changed() => break,
                claimed = self.claim(now_millis()) => claimed,
            };
            let job = match claimed {
                Ok(Some(job)) => job,
                Ok(None) => {
                    if wait(&mut stop, self.poll).await {
                        break;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!(error = %crate::error_chain(&error), "cannot claim jobs");
                    if wait(&mut stop, self.poll.max(Duration::from_secs(1))).await {
                        break;
                    }
                    continue;
                }
            };
            let span = job_span(&job);
            let stopping = async {
                tokio::select! {
                    biased;
                    _ = stop.changed() => None,
                    result = self.execute(&job) => Some(result),
                }
            }
            .instrument(span.clone())
            .await;
            match stopping {
                Some(result) => {
                    self.finish(&job, result, now_millis())
                        .instrument(span)
                        .await;
                }
                None => {
                    self.release(&job).instrument(span).await;
                    break;
                }
            }
        }
        tracing::info!(worker = %self.name, "background worker stopped");
    }

    async fn claim(&self, now: UnixMillis) -> Result<Option<Job>, Error> {
        match tokio::time::timeout(
            STORE_TIMEOUT,
            self.state
                .store()
                .claim_job(TRANSCRIBE_RECORDING, &self.name, JOB_LEASE, now),
        )
        .await
        {
            Ok(claimed) => claimed,
            Err(_) => Ok(None),
        }
    }

    async fn release(&self, job: &Job) {
        let released = tokio::time::timeout(
            STORE_TIMEOUT,
            self.state.store().release_job(job, now_millis()),
        )
        .await;
        match released {
            Ok(Ok(())) => {
                tracing::info!("job given back to the queue: the worker is stopping");
                self.state.metrics().job_outcome(&job.kind, "released");
            }
            Ok(Err(error)) => tracing::warn!(
                error = %crate::error_chain(&error),
                "job not given back; it is taken again when its lock expires"
            ),
            Err(_) => tracing::warn!(
                "job not given back (store too slow); it is taken again when its lock expires"
            ),
        }
    }

    /// Records the result of a run: complete, fail (retry or park) or park.
    async fn finish(&self, job: &Job, result: Result<(), JobError>, now: UnixMillis) -> JobOutcome {
        let store = self.state.store();
        let id = job.id.clone();
        let recorded = match result {
            Ok(()) => tokio::time::timeout(STORE_TIMEOUT, store.complete_job(job, now))
                .await
                .map(|done| done.map(|()| JobOutcome::Done { id: id.clone() })),
            Err(JobError {
                message,
                permanent: true,
            }) => tokio::time::timeout(STORE_TIMEOUT, store.park_job(job, &message, now))
                .await
                .map(|parked| {
                    parked.map(|()| JobOutcome::Parked {
                        id: id.clone(),
                        error: message,
                    })
                }),
            Err(JobError {
                message,
                permanent: false,
            }) => tokio::time::timeout(STORE_TIMEOUT, store.fail_job(job, &message, now))
                .await
                .map(|failed| {
                    failed.map(|outcome| match outcome {
                        FailOutcome::Retry { run_after } => JobOutcome::Retry {
                            id: id.clone(),
                            run_after,
                            error: message,
                        },
                        _ => JobOutcome::Parked {
                            id: id.clone(),
                            error: message,
                        },
                    })
                }),
        };
        let outcome = match recorded {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(Error::JobNotHeld { .. })) => JobOutcome::Lost { id },
            Ok(Err(error)) => {
                tracing::error!(
                    error = %crate::error_chain(&error),
                    "job result NOT recorded; the job runs again when its lock expires"
                );
                JobOutcome::Lost { id }
            }
            Err(_) => {
                tracing::error!(
                    "job result NOT recorded (store too slow); the job runs again when its \
                     lock expires"
                );
                JobOutcome::Lost { id }
            }
        };
        match &outcome {
            JobOutcome::Done { .. } => tracing::info!(attempt = job.attempts, "job done"),
            JobOutcome::Retry {
                error, run_after, ..
            } => tracing::warn!(
                attempt = job.attempts,
                max_attempts = job.max_attempts,
                %error,
                retry_in_ms = run_after.saturating_sub(now),
                "job failed; it will be retried"
            ),
            JobOutcome::Parked { error, .. } => tracing::error!(
                attempt = job.attempts,
                %error,
                "job failed for good: parked"
            ),
            JobOutcome::Lost { .. } => {
                tracing::warn!("job lock lost: another worker took the job");
            }
            JobOutcome::Released { .. } => {}
        }
        self.state.metrics().job_outcome(&job.kind, outcome.label());
        outcome
    }

    async fn execute(&self, job: &Job) -> Result<(), JobError> {
        if job.kind != TRANSCRIBE_RECORDING {
            return Err(JobError::permanent(format!(
                "unknown job kind {:?}",
                job.kind
            )));
        }
        let input: TranscribeRecording = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("malformed job payload: {e}")))?;
        let transcript = tokio::time::timeout(JOB_TIMEOUT, self.transcribe(&input))
            .await
            .map_err(|_| JobError::retry("timed out"))??;
        match tokio::time::timeout(
            STORE_TIMEOUT,
            self.state
                .store()
                .save_call_transcript(&transcript, now_millis()),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(JobError::retry(format!(
                "transcript not stored: {}",
                crate::error_chain(&error)
            ))),
            Err(_) => Err(JobError::retry(
                "transcript not stored: the store did not answer in time",
            )),
        }
    }

    /// Downloads and transcribes one recording.
    async fn transcribe(&self, input: &TranscribeRecording) -> Result<CallTranscript, JobError> {
        let agent = self.state.agent();
        let client = agent.twilio().ok_or_else(|| {
            JobError::retry(
                "recordings cannot be downloaded: TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is \
                 not set",
            )
        })?;
        let stt = agent
            .stt()
            .ok_or_else(|| JobError::retry("no speech-to-text provider"))?;
        let media = match &input.recording_url {
            Some(url) => client.download_recording(url, RecordingFormat::Wav).await,
            None => {
                let sid = RecordingSid::new(input.recording_sid.clone()).map_err(|e| {
                    JobError::permanent(format!("recording: {}", crate::error_chain(&e)))
                })?;
                client
                    .download_recording_by_sid(&sid, RecordingFormat::Wav)
                    .await
            }
        }
        .map_err(|e| {
            let message = format!("download: {}", crate::error_chain(&e));
            match e {
                kav_twilio_rest::Error::Invalid { .. }
                | kav_twilio_rest::Error::HostNotAllowed { .. }
                | kav_twilio_rest::Error::TooLarge { .. }
                | kav_twilio_rest::Error::Redirect { .. } => JobError::permanent(message),
                _ => JobError::retry(message),
            }
        })?;
        let clip = AudioClip::from_wav(&media.bytes)
            .map_err(|e| JobError::permanent(format!("recording: {}", crate::error_chain(&e))))?;
        drop(media);
        let mut transcript = CallTranscript {
            recording_sid: input.recording_sid.clone(),
            call_sid: input.call_sid.clone(),
            provider: Some(stt.provider().to_string().to_ascii_lowercase()),
            audio_ms: Some(millis(clip.duration())),
            ..CallTranscript::default()
        };
        if let Verdict::NoSpeech(reason) = agent.guard().before(&clip) {
            transcript.error = Some(format!("no speech: {reason}"));
            return Ok(transcript);
        }
        let provider_label = stt.provider().to_string().to_ascii_lowercase();
        let started = Instant::now();
        let mut texts = Vec::new();
        for (offset, piece) in pieces(&clip, max_piece(stt.provider())) {
            if piece.is_empty() || !agent.guard().before(&piece).is_speech() {
                continue;
            }
            let heard = tokio::time::timeout(STT_TIMEOUT, stt.transcribe(&piece)).await;
            let heard: Transcript = match heard {
                Ok(Ok(heard)) => heard,
                Ok(Err(error)) => {
                    self.state
                        .metrics()
                        .provider_error(&provider_label, Stage::Stt);
                    return Err(JobError::retry(format!(
                        "stt: {}",
                        crate::error_chain(&error)
                    )));
                }
                Err(_) => {
                    self.state
                        .metrics()
                        .provider_error(&provider_label, Stage::Stt);
                    return Err(JobError::retry("stt: timed out"));
                }
            };
            if !agent.guard().after(&heard).is_speech() {
                continue;
            }
            if transcript.language.is_none() {
                transcript.language = heard.language.as_ref().map(|l| l.code.clone());
            }
            let offset_ms = millis(offset);
            transcript
                .segments
                .extend(heard.segments.iter().map(|s| TranscriptSegment {
                    start_ms: offset_ms.saturating_add(millis(s.start)),
                    end_ms: offset_ms.saturating_add(millis(s.end)),
                    text: s.text.trim().to_owned(),
                }));
            let text = heard.text.trim();
            if !text.is_empty() {
                texts.push(text.to_owned());
            }
        }
        transcript.stt_ms = Some(millis(started.elapsed()));
        if texts.is_empty() {
            transcript.error = Some("no speech".to_owned());
        } else {
            transcript.text = Some(texts.join(" "));
        }
        Ok(transcript)
    }
}

/// A running [`Worker`]: stop it with [`WorkerHandle::stop`].
#[derive(Debug)]
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops the worker and waits for it: a job in progress is given back to the queue.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "background worker failed");
        }
    }
}

/// Starts a [`Worker`] for `state` on the current tokio runtime.
#[must_use]
pub fn spawn(state: AppState) -> WorkerHandle {
    Worker::new(state).spawn()
}

/// Waits `interval`; `true` when the worker was told to stop meanwhile.
async fn wait(stop: &mut watch::Receiver<bool>, interval: Duration) -> bool {
    tokio::select! {
        biased;
        _ = stop.changed() => true,
        () = tokio::time::sleep(interval) => false,
    }
}

fn job_span(job: &Job) -> tracing::Span {
    let call_sid = job
        .payload
        .get("call_sid")
        .and_then(serde_json::Value::as_str)
        .filter(|s| s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or("-")
        .to_owned();
    tracing::info_span!("job", kind = %job.kind, id = %job.id, attempt = job.attempts, call_sid = %call_sid)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The longest piece `provider` takes in one request: Google's synchronous recognition takes
/// one minute; OpenAI takes 25 MB, ten minutes of 16 kHz PCM16 stays well below.
fn max_piece(provider: Provider) -> Duration {
    match provider {
        Provider::Google => Duration::from_secs(55),
        _ => Duration::from_secs(10 * 60),
    }
}

/// `clip` cut into pieces of at most `max`, each cut placed at the quietest 100 ms of the
/// last five seconds before the limit (so words are rarely split), with each piece's offset.
fn pieces(clip: &AudioClip, max: Duration) -> Vec<(Duration, AudioClip)> {
    if clip.duration() <= max {
        return vec![(Duration::ZERO, clip.clone())];
    }
    let rate = clip.sample_rate();
    let rate_usize = usize::try_from(rate).unwrap_or(usize::MAX);
    let samples = clip.to_pcm16();
    let max_len = usize::try_from(u128::from(rate) * max.as_millis() / 1000)
        .unwrap_or(usize::MAX)
        .max(rate_usize);
    let window = (rate_usize / 10).max(1);
    let search = rate_usize.saturating_mul(5).min(max_len / 2);
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < samples.len() {
        let mut end = start.saturating_add(max_len).min(samples.len());
        if end < samples.len() {
            // The quietest window in [end - search, end).
            let from = end.saturating_sub(search).max(start + window);
            let mut best = (u64::MAX, end);
            let mut at = from;
            while at + window <= end {
                let energy: u64 = samples[at..at + window]
                    .iter()
                    .map(|&s| u64::from(s.unsigned_abs()))
                    .sum();
                if energy < best.0 {
                    best = (energy, at + window / 2);
                }
                at += window;
            }
            end = best.1;
        }
        let offset_ms = u64::try_from(start)
            .unwrap_or(u64::MAX)
            .saturating_mul(1000)
            / u64::from(rate.max(1));
        if let Ok(piece) = AudioClip::pcm16(samples[start..end].to_vec(), rate) {
            out.push((Duration::from_millis(offset_ms), piece));
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_clips_are_cut_at_quiet_places() {
        // 150 s of a loud tone with a silent 100 ms gap around 52 s.
        let rate = 8_000u32;
        let mut samples: Vec<i16> = (0..150 * 8_000)
            .map(|i| if i % 16 < 8 { 8_000 } else { -8_000 })
            .collect();
        for s in &mut samples[52 * 8_000..52 * 8_000 + 800] {
            *s = 0;
        }
        let clip = AudioClip::pcm16(samples.clone(), rate).unwrap();
        let cut = pieces(&clip, Duration::from_secs(55));
        assert!(cut.len() >= 3, "{}", cut.len());
        let (second_at, _) = &cut[1];
        assert!(
            (Duration::from_millis(52_000)..=Duration::from_millis(52_100)).contains(second_at),
            "{second_at:?}"
        );
        let total: usize = cut.iter().map(|(_, c)| c.len()).sum();
        assert_eq!(total, samples.len());
        assert!(
            cut.iter()
                .all(|(_, c)| c.duration() <= Duration::from_secs(55))
        );
        let short = AudioClip::pcm16(vec![0; 800], rate).unwrap();
        assert_eq!(pieces(&short, Duration::from_secs(55)).len(), 1);
    }

    #[test]
    fn payload_round_trips() {
        let input = TranscribeRecording {
            recording_sid: "RE0123456789abcdef0123456789abcdef".to_owned(),
            call_sid: None,
            recording_url: Some("https://api.twilio.com/x".to_owned()),
        };
        let value = serde_json::to_value(&input).unwrap();
        assert_eq!(
            serde_json::from_value::<TranscribeRecording>(value).unwrap(),
            input
        );
    }
}
