//! The durable job queue (post-call work such as transcription).
//!
//! A job is `queued` until a worker claims it; the claim sets `running`, counts an attempt and
//! takes a lock until `now + lease`. The worker then completes it (`done`) or fails it: back to
//! `queued` after an exponential backoff, or `parked` once it has used `max_attempts`. A worker
//! that dies leaves its lock to expire; the next claim after the expiry takes the job again (or
//! parks it when no attempt is left). So a restart or a crash never loses a job, and a job is
//! never run by two workers at once while its lock holds.
//!
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, so replicas never wait on each other;
//! SQLite claims with one `UPDATE … RETURNING` statement, which SQLite runs as a single write
//! transaction (writers are serialized, so two claimers never get the same job).

use std::time::Duration;

use super::{Store, UnixMillis, execute, random_id, with_pool};
use crate::Error;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for `run_after`.
    Queued,
    /// Claimed by a worker.
    Running,
    /// Finished.
    Done,
    /// Failed `max_attempts` times; needs a human.
    Parked,
}

impl JobState {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Parked => "parked",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Done, Self::Parked]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A claimed job: run it, then [`Store::complete_job`] or [`Store::fail_job`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Random id.
    pub id: String,
    /// What to do (`"transcribe_recording"`, …).
    pub kind: String,
    /// The job's input.
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// Attempts allowed before parking.
    pub max_attempts: i64,
    /// The lock this claim holds (worker name and a random suffix).
    pub lock: String,
}

/// What [`Store::fail_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailOutcome {
    /// Queued again, to run at or after this time.
    Retry {
        /// When it may be claimed again.
        run_after: UnixMillis,
    },
    /// No attempt left.
    Parked,
}

/// A job as stored, for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobRecord {
    /// Random id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// State.
    pub state: JobState,
    /// Attempts so far.
    pub attempts: i64,
    /// When it may run next.
    pub run_after: UnixMillis,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// The delay before attempt `attempts + 1`: 10 s, 20 s, 40 s… capped at one hour.
#[must_use]
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(10u64.saturating_mul(1u64 << exponent).min(3600))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `Ok` when the update touched the job's row, else [`not_held`].
fn held(job: &Job, affected: u64) -> Result<(), Error> {
    if affected == 1 {
        Ok(())
    } else {
        Err(not_held(job))
    }
}

/// [`Error::JobNotHeld`]: the worker's lock on `job` was lost (expired and reclaimed).
fn not_held(job: &Job) -> Error {
    Error::JobNotHeld {
        id: job.id.clone(),
        worker: job.lock.clone(),
    }
}

type ClaimRow = (String, String, String, i64, i64);
type JobRow = (String, String, String, i64, i64, Option<String>);

fn job_record((id, kind, state, attempts, run_after, last_error): JobRow) -> Option<JobRecord> {
    Some(JobRecord {
        id,
        kind,
        state: JobState::parse(&state)?,
        attempts,
        run_after,
        last_error,
    })
}

impl Store {
    /// Queues a job that may run from `run_after` on, with `max_attempts` attempts.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        max_attempts: u32,
        run_after: UnixMillis,
        now: UnixMillis,
    ) -> Result<String, Error> {
        let id = random_id();
        execute!(
            self,
            "enqueue job",
            "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_after, \
                 created_at, updated_at) VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6)",
            &id,
            kind,
            payload.to_string(),
            i64::from(max_attempts.max(1)),
            run_after,
            now
        )?;
        Ok(id)
    }

    /// Claims the oldest runnable job of `kind` for `worker`, locking it for `lease`. A job
    /// whose lock expired (its worker died) is runnable again; one that had no attempt left is
    /// parked instead.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn claim_job(
        &self,
        kind: &str,
        worker: &str,
        lease: Duration,
        now: UnixMillis,
    ) -> Result<Option<Job>, Error> {
        execute!(
            self,
            "park expired jobs",
            "UPDATE jobs SET state = 'parked', locked_by = NULL, locked_until = NULL, \
                 updated_at = $2, last_error = COALESCE(last_error || '; ', '') || \
                 'lock expired during the last attempt' \
                 WHERE kind = $1 AND state = 'running' AND locked_until < $2 \
                 AND attempts >= max_attempts",
            kind,
            now
        )?;

        let lock = format!("{worker}/{}", &random_id()[..8]);
        let locked_until = now.saturating_add(millis(lease));
        let select_lock = match self.backend {
            super::Backend::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            super::Backend::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $2, \
             locked_until = $3, updated_at = $4 \
             WHERE id = (SELECT id FROM jobs WHERE kind = $1 AND attempts < max_attempts AND \
             ((state = 'queued' AND run_after <= $4) OR (state = 'running' AND locked_until < $4)) \
             ORDER BY run_after, created_at, id LIMIT 1{select_lock}) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let row: Option<ClaimRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(kind)
                .bind(&lock)
                .bind(locked_until)
                .bind(now)
                .fetch_optional(pool)
                .await
        })
        .map_err(Error::store("claim job"))?;
        Ok(row.map(|(id, kind, payload, attempts, max_attempts)| Job {
            id,
            kind,
            // The payload was written by enqueue_job as JSON; a hand-edited row that is not
            // JSON is handed over as a string rather than lost.
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload)),
            attempts,
            max_attempts,
            lock,
        }))
    }

    /// Marks a claimed job done.
    ///
    /// # Errors
    ///
    /// [`Error::JobNotHeld`] when the lock was lost (expired and reclaimed); [`Error::Store`].
    pub async fn complete_job(&self, job: &Job, now: UnixMillis) -> Result<(), Error> {
        let affected = execute!(
            self,
            "complete job",
            "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, \
                 updated_at = $3 WHERE id = $1 AND state = 'running' AND locked_by = $2",
            &job.id,
            &job.lock,
            now
        )?;
        held(job, affected)
    }

    /// Records a failed attempt: the job is queued again after [`backoff`], or parked when
    /// it has used all its attempts.
    ///
    /// # Errors
    ///
    /// [`Error::JobNotHeld`] when the lock was lost; [`Error::Store`].
    pub async fn fail_job(
        &self,
        job: &Job,
        error: &str,
        now: UnixMillis,
    ) -> Result<FailOutcome, Error> {
        let run_after = now.saturating_add(millis(backoff(job.attempts)));
        let row: Option<(String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'parked' ELSE 'queued' END, \
                 run_after = $3, last_error = $4, locked_by = NULL, locked_until = NULL, updated_at = $5 \
                 WHERE id = $1 AND state = 'running' AND locked_by = $2 RETURNING state, run_after",
            )
            .bind(&job.id)
            .bind(&job.lock)
            .bind(run_after)
            .bind(error)
            .bind(now)
            .fetch_optional(pool)
            .await
        })
        .map_err(Error::store("fail job"))?;
        match row {
            Some((state, _)) if state == "parked" => Ok(FailOutcome::Parked),
            Some((_, run_after)) => Ok(FailOutcome::Retry { run_after }),
            None => Err(not_held(job)),
        }
    }

    /// Parks a claimed job at once (a failure that no retry can fix, such as a recording on a
    /// host that is not allowed).
    ///
    /// # Errors
    ///
    /// [`Error::JobNotHeld`] when the lock was lost; [`Error::Store`].
    pub async fn park_job(&self, job: &Job, error: &str, now: UnixMillis) -> Result<(), Error> {
        let affected = execute!(
            self,
            "park job",
            "UPDATE jobs SET state = 'parked', last_error = $3, locked_by = NULL, \
                 locked_until = NULL, updated_at = $4 \
                 WHERE id = $1 AND state = 'running' AND locked_by = $2",
            &job.id,
            &job.lock,
            error,
            now
        )?;
        held(job, affected)
    }

    /// Gives a claimed job back without counting the attempt (the worker is stopping): it is
    /// queued again at once, for this or another worker.
    ///
    /// # Errors
    ///
    /// [`Error::JobNotHeld`] when the lock was lost; [`Error::Store`].
    pub async fn release_job(&self, job: &Job, now: UnixMillis) -> Result<(), Error> {
        let affected = execute!(
            self,
            "release job",
            "UPDATE jobs SET state = 'queued', attempts = CASE WHEN attempts > 0 \
                 THEN attempts - 1 ELSE 0 END, run_after = $3, locked_by = NULL, \
                 locked_until = NULL, updated_at = $3 \
                 WHERE id = $1 AND state = 'running' AND locked_by = $2",
            &job.id,
            &job.lock,
            now
        )?;
        held(job, affected)
    }

    /// Every job of `kind`, oldest first (for inspection and tests).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn jobs_of_kind(&self, kind: &str) -> Result<Vec<JobRecord>, Error> {
        let rows: Vec<JobRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, kind, state, attempts, run_after, last_error FROM jobs \
                 WHERE kind = $1 ORDER BY created_at, id",
            )
            .bind(kind)
            .fetch_all(pool)
            .await
        })
        .map_err(Error::store("select jobs"))?;
        Ok(rows.into_iter().filter_map(job_record).collect())
    }

    /// A job as stored.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, Error> {
        let row: Option<JobRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, kind, state, attempts, run_after, last_error FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
        .map_err(Error::store("select job"))?;
        Ok(row.and_then(job_record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(4), Duration::from_secs(80));
        assert_eq!(backoff(30), Duration::from_secs(3600));
        assert_eq!(backoff(0), Duration::from_secs(10));
    }
}
