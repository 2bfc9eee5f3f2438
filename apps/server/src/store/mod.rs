//! The store: calls, status events, turns, SMS, durable jobs and audio files.
//!
//! SQLite by default (a file, WAL journal, created if missing) or PostgreSQL
//! (`postgres://…`). Both run the same portable migrations (`apps/server/migrations/`,
//! embedded in the binary) at start-up. Queries are built at run time (no database is needed
//! to compile). Times are Unix milliseconds.

mod audio;
mod history;
mod jobs;
pub mod sms;
pub mod transcripts;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audio::{AudioFile, AudioId};
pub use history::{CallQuery, CallSummary, StatusEvent};
pub use jobs::{FailOutcome, Job, JobRecord, JobState, backoff};

use crate::Error;

/// Unix time in milliseconds.
pub type UnixMillis = i64;

/// The current time in Unix milliseconds.
#[must_use]
pub fn now_millis() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The migrations, embedded at compile time; the same SQL runs on SQLite and PostgreSQL.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "recording events",
        include_str!("../../migrations/0002_recording_events.sql"),
    ),
    (
        3,
        "call transcripts",
        include_str!("../../migrations/0003_call_transcripts.sql"),
    ),
    (
        4,
        "sms threads",
        include_str!("../../migrations/0004_sms_threads.sql"),
    ),
];

#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 'static>,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has. The SQL uses `$1`-style
/// parameters, which both SQLite and PostgreSQL understand.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Runs one statement on whichever pool the store has, its `$1`-style parameters bound in
/// order: the number of rows it touched, or a store error naming `$what`.
macro_rules! execute {
    ($store:expr, $what:expr, $sql:expr $(, $param:expr)* $(,)?) => {
        $crate::store::with_pool!($store, |pool| {
            sqlx::query($sql)
                $(.bind($param))*
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err($crate::Error::store($what))
    };
}
pub(crate) use execute;

/// A handle on the database and the audio folder; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    audio_dir: PathBuf,
}

/// One `POST /webhook/call_status` event, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStatusEvent {
    /// `CallSid`.
    pub call_sid: String,
    /// `CallStatus` (`queued`, `ringing`, `in-progress`, `completed`, …).
    pub status: String,
    /// `SequenceNumber`, when Twilio sent it.
    pub sequence: Option<i64>,
    /// `Timestamp`, when Twilio sent it.
    pub timestamp: Option<String>,
    /// `AccountSid`.
    pub account_sid: Option<String>,
    /// `From`.
    pub from: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// `Direction`.
    pub direction: Option<String>,
    /// `CallDuration` in seconds (final events).
    pub duration_s: Option<i64>,
    /// Every parameter as received, for the record.
    pub params: Vec<(String, String)>,
}

/// One `POST /webhook/recording_status` event, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingEvent {
    /// `RecordingSid` (`RE` + 32 characters).
    pub recording_sid: String,
    /// `RecordingStatus` (`in-progress`, `completed`, `absent`, `failed`).
    pub status: String,
    /// `CallSid`, when sent.
    pub call_sid: Option<String>,
    /// `RecordingUrl`, when sent.
    pub recording_url: Option<String>,
    /// `RecordingDuration` in seconds, when sent.
    pub duration_s: Option<i64>,
    /// Every parameter as received, for the record.
    pub params: Vec<(String, String)>,
}

/// The call statuses Twilio sends.
pub const CALL_STATUSES: &[&str] = &[
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
];

/// Statuses after which a call is over.
pub const FINAL_CALL_STATUSES: &[&str] = &["completed", "busy", "failed", "no-answer", "canceled"];

fn status_rank(status: &str) -> i64 {
    CALL_STATUSES
        .iter()
        .position(|s| *s == status)
        .map_or(0, |p| i64::try_from(p).unwrap_or(0))
}

/// A row of `calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallRecord {
    /// `CallSid`.
    pub sid: String,
    /// Latest known status.
    pub status: String,
    /// `From`.
    pub from: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// `Direction`.
    pub direction: Option<String>,
    /// First event seen.
    pub started_at: UnixMillis,
    /// When a final status arrived.
    pub ended_at: Option<UnixMillis>,
    /// `CallDuration`, seconds.
    pub duration_s: Option<i64>,
    /// The caller's context id (`POST /api/calls` or the webhook's `context_id` query).
    pub context_id: Option<String>,
    /// The call mode asked for by `POST /api/calls`, if any.
    pub mode: Option<String>,
}

/// A call placed through `POST /api/calls`, as Twilio accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundCall {
    /// `CallSid`.
    pub sid: String,
    /// Status in Twilio's answer (usually `queued`).
    pub status: String,
    /// Our number.
    pub from: String,
    /// The called number.
    pub to: String,
    /// The caller's context id.
    pub context_id: Option<String>,
    /// The call mode asked for.
    pub mode: Option<String>,
}

/// A message sent through `POST /api/sms`, as Twilio accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSms {
    /// `MessageSid`.
    pub sid: String,
    /// Status in Twilio's answer (usually `queued`).
    pub status: String,
    /// Our number.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The text.
    pub body: String,
    /// The caller's context id.
    pub context_id: Option<String>,
}

/// A row of `sms`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsRecord {
    /// `MessageSid`.
    pub sid: String,
    /// `outbound-api`.
    pub direction: String,
    /// `From`.
    pub from: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// Latest known status.
    pub status: Option<String>,
    /// The caller's context id.
    pub context_id: Option<String>,
}

/// One caller turn (record and gather modes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    /// The call.
    pub call_sid: String,
    /// 0, 1, 2… within the call.
    pub index: i64,
    /// What the caller said.
    pub transcript: Option<String>,
    /// What the agent answered.
    pub reply: Option<String>,
    /// Where the caller's recording is (URL or audio id).
    pub recording_ref: Option<String>,
    /// The audio id of the synthesized reply.
    pub tts_audio_id: Option<String>,
    /// Speech-to-text time, ms.
    pub stt_ms: Option<i64>,
    /// Language-model time, ms.
    pub llm_ms: Option<i64>,
    /// Text-to-speech time, ms.
    pub tts_ms: Option<i64>,
    /// What went wrong, if the turn failed.
    pub error: Option<String>,
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`), creating a SQLite file (and its folder)
    /// if missing, and runs the migrations. Audio files go under `data_dir/audio`.
    ///
    /// A PostgreSQL URL may choose a schema with
    /// `?options=-c%20search_path%3Dmyschema`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`], [`Error::Migrate`] or [`Error::Io`].
    pub async fn connect(url: &str, data_dir: &Path) -> Result<Self, Error> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(Error::store("invalid DATABASE_URL"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let file = options.get_filename();
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|source| Error::Io {
                        context: "cannot create the database folder",
                        path: parent.to_owned(),
                        source,
                    })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(Error::store("cannot open the SQLite database"))?;
            Backend::Sqlite(pool)
        } else {
            let options =
                PgConnectOptions::from_str(url).map_err(Error::store("invalid DATABASE_URL"))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(Error::store("cannot connect to PostgreSQL"))?;
            Backend::Postgres(pool)
        };
        let audio_dir = data_dir.join("audio");
        tokio::fs::create_dir_all(&audio_dir)
            .await
            .map_err(|source| Error::Io {
                context: "cannot create the audio folder",
                path: audio_dir.clone(),
                source,
            })?;
        let store = Self { backend, audio_dir };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), Error> {
        let migrator = Migrator::new(Embedded).await.map_err(Error::Migrate)?;
        with_pool!(self, |pool| migrator.run(pool).await).map_err(Error::Migrate)
    }

    /// `"sqlite"` or `"postgres"`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks the database answers.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn ping(&self) -> Result<(), Error> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map(drop)
        .map_err(Error::store("ping"))
    }

    /// Closes every connection; later queries fail. Used at shutdown.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await);
    }

    /// Stores a status event once: a replayed webhook (same call, status and
    /// `SequenceNumber`/`Timestamp`) changes nothing. Returns whether it was new. The call's
    /// row is created or updated unless a later event already arrived.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_call_status(
        &self,
        event: &CallStatusEvent,
        now: UnixMillis,
    ) -> Result<bool, Error> {
        let sequence_key = match (&event.sequence, &event.timestamp) {
            (Some(n), _) => format!("seq:{n}"),
            (None, Some(ts)) => format!("ts:{ts}"),
            (None, None) => "-".to_owned(),
        };
        let params = serde_json::to_string(&event.params).unwrap_or_else(|_| "[]".to_owned());
        let order = event.sequence.unwrap_or_else(|| status_rank(&event.status));
        let ended_at = FINAL_CALL_STATUSES
            .contains(&event.status.as_str())
            .then_some(now);
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await.map_err(Error::store("begin"))?;
            let inserted = sqlx::query(
                "INSERT INTO call_status_events (call_sid, status, sequence_key, received_at, params) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&event.call_sid)
            .bind(&event.status)
            .bind(&sequence_key)
            .bind(now)
            .bind(&params)
            .execute(&mut *tx)
            .await
            .map_err(Error::store("insert call status event"))?
            .rows_affected()
                == 1;
            if inserted {
                sqlx::query(
                    "INSERT INTO calls (sid, account_sid, from_number, to_number, direction, status, \
                     status_sequence, started_at, updated_at, ended_at, duration_s) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) \
                     ON CONFLICT (sid) DO UPDATE SET \
                     status = excluded.status, status_sequence = excluded.status_sequence, \
                     updated_at = excluded.updated_at, \
                     ended_at = COALESCE(excluded.ended_at, calls.ended_at), \
                     duration_s = COALESCE(excluded.duration_s, calls.duration_s), \
                     account_sid = COALESCE(calls.account_sid, excluded.account_sid), \
                     from_number = COALESCE(calls.from_number, excluded.from_number), \
                     to_number = COALESCE(calls.to_number, excluded.to_number), \
                     direction = COALESCE(calls.direction, excluded.direction) \
                     WHERE calls.status_sequence <= excluded.status_sequence",
                )
                .bind(&event.call_sid)
                .bind(&event.account_sid)
                .bind(&event.from)
                .bind(&event.to)
                .bind(&event.direction)
                .bind(&event.status)
                .bind(order)
                .bind(now)
                .bind(ended_at)
                .bind(event.duration_s)
                .execute(&mut *tx)
                .await
                .map_err(Error::store("upsert call"))?;
            }
            tx.commit().await.map_err(Error::store("commit"))?;
            Ok(inserted)
        })
    }

    /// Stores a recording status event once (the same recording and status again changes
    /// nothing). Returns whether it was new.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_recording_event(
        &self,
        event: &RecordingEvent,
        now: UnixMillis,
    ) -> Result<bool, Error> {
        let params = serde_json::to_string(&event.params).unwrap_or_else(|_| "[]".to_owned());
        execute!(
            self,
            "insert recording event",
            "INSERT INTO recording_events (recording_sid, status, call_sid, recording_url, \
                 duration_s, received_at, params) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT DO NOTHING",
            &event.recording_sid,
            &event.status,
            &event.call_sid,
            &event.recording_url,
            event.duration_s,
            now,
            &params
        )
        .map(|affected| affected == 1)
    }

    /// A recording's stored events as `(status, recording_url, duration_s)`, in arrival order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn recording_events(
        &self,
        recording_sid: &str,
    ) -> Result<Vec<(String, Option<String>, Option<i64>)>, Error> {
        with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT status, recording_url, duration_s FROM recording_events \
                 WHERE recording_sid = $1 ORDER BY received_at, status",
            )
            .bind(recording_sid)
            .fetch_all(pool)
            .await
        })
        .map_err(Error::store("select recording events"))
    }

    /// The call's row, if any event arrived for it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn call(&self, sid: &str) -> Result<Option<CallRecord>, Error> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT sid, status, from_number, to_number, direction, started_at, ended_at, \
                 duration_s, context_id, mode FROM calls WHERE sid = $1",
            )
            .bind(sid)
            .fetch_optional(pool)
            .await
        })
        .map_err(Error::store("select call"))?;
        Ok(row.map(
            |(
                sid,
                status,
                from,
                to,
                direction,
                started_at,
                ended_at,
                duration_s,
                context_id,
                mode,
            )| {
                CallRecord {
                    sid,
                    status,
                    from,
                    to,
                    direction,
                    started_at,
                    ended_at,
                    duration_s,
                    context_id,
                    mode,
                }
            },
        ))
    }

    /// Sets a call's context id unless it already has one (a webhook carrying
    /// `?context_id=`). Does nothing when the call has no row.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn set_call_context(&self, sid: &str, context_id: &str) -> Result<(), Error> {
        self.annotate_call(sid, Some(context_id), None).await
    }

    /// Sets a call's context id and the mode it is answered in, each only where none is stored
    /// yet (the first answer wins; `None` leaves the column as it is).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn annotate_call(
        &self,
        sid: &str,
        context_id: Option<&str>,
        mode: Option<&str>,
    ) -> Result<(), Error> {
        execute!(
            self,
            "annotate call",
            "UPDATE calls SET context_id = COALESCE(context_id, $2), \
                 mode = COALESCE(mode, $3) WHERE sid = $1",
            sid,
            context_id,
            mode
        )?;
        Ok(())
    }

    /// Stores a call placed through the API (direction `outbound-api`). Status events that
    /// already arrived for it win over the status in Twilio's answer.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_outbound_call(
        &self,
        call: &OutboundCall,
        now: UnixMillis,
    ) -> Result<(), Error> {
        execute!(
            self,
            "insert outbound call",
            "INSERT INTO calls (sid, from_number, to_number, direction, status, status_sequence, \
                 mode, context_id, started_at, updated_at) \
                 VALUES ($1, $2, $3, 'outbound-api', $4, -1, $5, $6, $7, $7) \
                 ON CONFLICT (sid) DO UPDATE SET \
                 from_number = COALESCE(calls.from_number, excluded.from_number), \
                 to_number = COALESCE(calls.to_number, excluded.to_number), \
                 direction = COALESCE(calls.direction, excluded.direction), \
                 mode = COALESCE(calls.mode, excluded.mode), \
                 context_id = COALESCE(calls.context_id, excluded.context_id)",
            &call.sid,
            &call.from,
            &call.to,
            &call.status,
            &call.mode,
            &call.context_id,
            now
        )?;
        Ok(())
    }

    /// Stores a message sent through the API (direction `outbound-api`); a delivery status
    /// that already arrived for it is kept.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_outbound_sms(
        &self,
        sms: &OutboundSms,
        now: UnixMillis,
    ) -> Result<(), Error> {
        execute!(
            self,
            "insert sms",
            "INSERT INTO sms (sid, direction, from_number, to_number, body, status, context_id, \
                 created_at, updated_at) VALUES ($1, 'outbound-api', $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (sid) DO UPDATE SET \
                 from_number = excluded.from_number, to_number = excluded.to_number, \
                 body = excluded.body, context_id = excluded.context_id",
            &sms.sid,
            &sms.from,
            &sms.to,
            &sms.body,
            &sms.status,
            &sms.context_id,
            now
        )?;
        Ok(())
    }

    /// Stores a message's delivery status (`POST /webhook/sms_status`); a message not seen
    /// before gets a row of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_sms_status(
        &self,
        sid: &str,
        status: &str,
        now: UnixMillis,
    ) -> Result<(), Error> {
        execute!(
            self,
            "update sms status",
            "INSERT INTO sms (sid, direction, status, created_at, updated_at) \
                 VALUES ($1, 'outbound-api', $2, $3, $3) \
                 ON CONFLICT (sid) DO UPDATE SET status = excluded.status, \
                 updated_at = excluded.updated_at",
            sid,
            status,
            now
        )?;
        Ok(())
    }

    /// A row of `sms`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn sms(&self, sid: &str) -> Result<Option<SmsRecord>, Error> {
        Ok(self.sms_message(sid).await?.map(|message| SmsRecord {
            sid: message.sid,
            direction: message.direction,
            from: message.from,
            to: message.to,
            body: message.body,
            status: message.status,
            context_id: message.context_id,
        }))
    }

    /// How many status events are stored for a call.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn status_event_count(&self, sid: &str) -> Result<i64, Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM call_status_events WHERE call_sid = $1")
                .bind(sid)
                .fetch_one(pool)
                .await
        })
        .map_err(Error::store("count status events"))
    }

    /// Calls whose latest status is not final (queued, ringing, in progress).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn active_call_count(&self) -> Result<i64, Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM calls WHERE status IN ('queued', 'initiated', 'ringing', 'in-progress')",
            )
            .fetch_one(pool)
            .await
        })
        .map_err(Error::store("count active calls"))
    }

    /// Stores a turn (a turn with the same call and index is replaced).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn save_turn(&self, turn: &Turn, now: UnixMillis) -> Result<(), Error> {
        execute!(self, "save turn", "INSERT INTO turns (call_sid, turn_index, created_at, transcript, reply, recording_ref, \
                 tts_audio_id, stt_ms, llm_ms, tts_ms, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (call_sid, turn_index) DO UPDATE SET transcript = excluded.transcript, \
                 reply = excluded.reply, recording_ref = excluded.recording_ref, \
                 tts_audio_id = excluded.tts_audio_id, stt_ms = excluded.stt_ms, \
                 llm_ms = excluded.llm_ms, tts_ms = excluded.tts_ms, error = excluded.error", &turn.call_sid, turn.index, now, &turn.transcript, &turn.reply, &turn.recording_ref, &turn.tts_audio_id, turn.stt_ms, turn.llm_ms, turn.tts_ms, &turn.error).map(drop)
    }

    /// A call's turns in order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn turns(&self, call_sid: &str) -> Result<Vec<Turn>, Error> {
        type Row = (
            String,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
        );
        let rows: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT call_sid, turn_index, transcript, reply, recording_ref, tts_audio_id, \
                 stt_ms, llm_ms, tts_ms, error FROM turns WHERE call_sid = $1 ORDER BY turn_index",
            )
            .bind(call_sid)
            .fetch_all(pool)
            .await
        })
        .map_err(Error::store("select turns"))?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    call_sid,
                    index,
                    transcript,
                    reply,
                    recording_ref,
                    tts_audio_id,
                    stt_ms,
                    llm_ms,
                    tts_ms,
                    error,
                )| Turn {
                    call_sid,
                    index,
                    transcript,
                    reply,
                    recording_ref,
                    tts_audio_id,
                    stt_ms,
                    llm_ms,
                    tts_ms,
                    error,
                },
            )
            .collect())
    }

    /// The column names of every table, sorted (for checking both backends define the same
    /// schema).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, Error> {
        let mut columns: Vec<(String, String)> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
            )
            .fetch_all(pool)
            .await,
            Backend::Postgres(pool) => sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
            )
            .fetch_all(pool)
            .await,
        }
        .map_err(Error::store("read schema"))?;
        columns.sort();
        Ok(columns)
    }
}

/// A random 128-bit id as 32 lower-case hex digits.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}
