//! Full-call recordings and their post-call transcripts.
//!
//! With `KAV_RECORD_CALLS=true`, Twilio records the whole call and posts
//! `/webhook/recording_status` when the recording is ready. The event and the transcription
//! job are stored in one transaction ([`Store::record_recording_and_enqueue`]), so a retried
//! callback never queues a second job and a crash never leaves an event without its job. The
//! worker (`crate::worker`) then stores one [`CallTranscript`] per recording.

use serde::{Deserialize, Serialize};

use super::{RecordingEvent, Store, UnixMillis, execute, random_id, with_pool};
use crate::Error;

/// A job to queue with a recording event: kind, payload and attempts allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob<'a> {
    /// What to do (`"transcribe_recording"`).
    pub kind: &'a str,
    /// The job's input.
    pub payload: &'a serde_json::Value,
    /// Attempts allowed before parking.
    pub max_attempts: u32,
}

/// One timed piece of a transcript (from providers that give segments, e.g. Whisper).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptSegment {
    /// Start, from the start of the recording, in ms.
    pub start_ms: i64,
    /// End, from the start of the recording, in ms.
    pub end_ms: i64,
    /// What was said.
    pub text: String,
}

/// The post-call transcript of one recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallTranscript {
    /// `RecordingSid`.
    pub recording_sid: String,
    /// `CallSid`, when known.
    pub call_sid: Option<String>,
    /// The whole text; `None` when nothing usable was heard (see `error`).
    pub text: Option<String>,
    /// Timed segments, when the provider gives them.
    pub segments: Vec<TranscriptSegment>,
    /// The language, detected or declared.
    pub language: Option<String>,
    /// The speech-to-text provider.
    pub provider: Option<String>,
    /// The recording's length, ms.
    pub audio_ms: Option<i64>,
    /// Speech-to-text time, ms.
    pub stt_ms: Option<i64>,
    /// Why there is no text (`no speech: …`), if so.
    pub error: Option<String>,
    /// When it was stored first.
    pub created_at: UnixMillis,
}

type TranscriptRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
);

const TRANSCRIPT_COLUMNS: &str = "recording_sid, call_sid, transcript, segments, language, \
     provider, audio_ms, stt_ms, error, created_at";

fn from_row(row: TranscriptRow) -> CallTranscript {
    CallTranscript {
        recording_sid: row.0,
        call_sid: row.1,
        text: row.2,
        // Written by save_call_transcript as JSON; a hand-edited row loses its segments only.
        segments: serde_json::from_str(&row.3).unwrap_or_default(),
        language: row.4,
        provider: row.5,
        audio_ms: row.6,
        stt_ms: row.7,
        error: row.8,
        created_at: row.9,
    }
}

impl Store {
    /// Stores a recording status event once and, when it is new and `job` is given, queues
    /// the job in the same transaction. Returns the new job's id (`None` for a replayed
    /// event, or without `job`) and whether the event was new.
    ///
    /// # Errors
    ///
    /// [`Error::Store`]; nothing is stored then.
    pub async fn record_recording_and_enqueue(
        &self,
        event: &RecordingEvent,
        job: Option<NewJob<'_>>,
        now: UnixMillis,
    ) -> Result<(bool, Option<String>), Error> {
        let params = serde_json::to_string(&event.params).unwrap_or_else(|_| "[]".to_owned());
        let job_id = random_id();
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(Error::store("begin"))?;
            let inserted = sqlx::query(
                "INSERT INTO recording_events (recording_sid, status, call_sid, recording_url, \
                 duration_s, received_at, params) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&event.recording_sid)
            .bind(&event.status)
            .bind(&event.call_sid)
            .bind(&event.recording_url)
            .bind(event.duration_s)
            .bind(now)
            .bind(&params)
            .execute(&mut *tx)
            .await
            .map_err(Error::store("insert recording event"))?
            .rows_affected()
                == 1;
            let mut queued = None;
            if inserted && let Some(job) = job {
                sqlx::query(
                    "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, \
                     run_after, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5, $5)",
                )
                .bind(&job_id)
                .bind(job.kind)
                .bind(job.payload.to_string())
                .bind(i64::from(job.max_attempts.max(1)))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(Error::store("enqueue job"))?;
                queued = Some(job_id);
            }
            tx.commit().await.map_err(Error::store("commit"))?;
            Ok((inserted, queued))
        })
    }

    /// Stores a recording's transcript; a second one for the same recording (a job run again
    /// after its lock expired) replaces the first, keeping its `created_at`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn save_call_transcript(
        &self,
        transcript: &CallTranscript,
        now: UnixMillis,
    ) -> Result<(), Error> {
        let segments =
            serde_json::to_string(&transcript.segments).unwrap_or_else(|_| "[]".to_owned());
        execute!(
            self,
            "save call transcript",
            "INSERT INTO call_transcripts (recording_sid, call_sid, transcript, segments, \
                 language, provider, audio_ms, stt_ms, error, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
                 ON CONFLICT (recording_sid) DO UPDATE SET \
                 call_sid = COALESCE(excluded.call_sid, call_transcripts.call_sid), \
                 transcript = excluded.transcript, segments = excluded.segments, \
                 language = excluded.language, provider = excluded.provider, \
                 audio_ms = excluded.audio_ms, stt_ms = excluded.stt_ms, \
                 error = excluded.error, updated_at = excluded.updated_at",
            &transcript.recording_sid,
            &transcript.call_sid,
            &transcript.text,
            &segments,
            &transcript.language,
            &transcript.provider,
            transcript.audio_ms,
            transcript.stt_ms,
            &transcript.error,
            now
        )
        .map(drop)
    }

    /// A call's post-call transcripts (one per recording), oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn call_transcripts(&self, call_sid: &str) -> Result<Vec<CallTranscript>, Error> {
        let sql = format!(
            "SELECT {TRANSCRIPT_COLUMNS} FROM call_transcripts WHERE call_sid = $1 \
             ORDER BY created_at, recording_sid"
        );
        let rows: Vec<TranscriptRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(call_sid).fetch_all(pool).await
        })
        .map_err(Error::store("select call transcripts"))?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// The transcript of one recording, if stored.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn call_transcript(
        &self,
        recording_sid: &str,
    ) -> Result<Option<CallTranscript>, Error> {
        let sql =
            format!("SELECT {TRANSCRIPT_COLUMNS} FROM call_transcripts WHERE recording_sid = $1");
        let row: Option<TranscriptRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(recording_sid)
                .fetch_optional(pool)
                .await
        })
        .map_err(Error::store("select call transcript"))?;
        Ok(row.map(from_row))
    }
}
