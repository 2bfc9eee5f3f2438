//! Inbound and outbound SMS messages, listed per phone number.
//!
//! Every message is a row of `sms`, keyed by its `MessageSid`: inbound ones
//! (`POST /webhook/sms`, direction `inbound`, with the agent's reply or why there was none),
//! those sent by `POST /api/sms` (direction `outbound-api`), and delivery statuses
//! (`POST /webhook/sms_status`). A thread is every message from (inbound) or to (outbound) one
//! number: the *peer*.
//!
//! Also (for the call page, next to the post-call transcripts) [`Store::call_recordings`]:
//! the full-call recordings Twilio reported for a call.

use super::{Store, UnixMillis, execute, with_pool};
use crate::Error;

/// An inbound message (`POST /webhook/sms`), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    /// `MessageSid` (`SM`/`MM` + 32 characters).
    pub sid: String,
    /// `From`: the sender, the thread's number.
    pub from: String,
    /// `To`: our number.
    pub to: String,
    /// `Body` (may be empty, e.g. a picture alone).
    pub body: String,
}

/// A delivery status (`POST /webhook/sms_status`), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDelivery {
    /// `MessageSid`.
    pub sid: String,
    /// `MessageStatus` (`queued`, `sent`, `delivered`, `undelivered`, `failed`, …).
    pub status: String,
    /// `From`, when sent.
    pub from: Option<String>,
    /// `To`, when sent.
    pub to: Option<String>,
    /// `ErrorCode`, when sent.
    pub error_code: Option<String>,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsMessage {
    /// `MessageSid`.
    pub sid: String,
    /// `inbound` or `outbound-api`.
    pub direction: String,
    /// `From`.
    pub from: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// The text.
    pub body: Option<String>,
    /// Latest known delivery status.
    pub status: Option<String>,
    /// The sender's context id (`POST /api/sms`).
    pub context_id: Option<String>,
    /// Inbound: the agent's reply, sent back as Messaging TwiML.
    pub reply: Option<String>,
    /// Inbound: why the agent did not reply (replies off, model failed, …).
    pub reply_error: Option<String>,
    /// Twilio's `ErrorCode` from a delivery status.
    pub error_code: Option<String>,
    /// When it was stored first.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

impl SmsMessage {
    /// Whether the message came in (from the peer).
    #[must_use]
    pub fn is_inbound(&self) -> bool {
        self.direction == "inbound"
    }

    /// The other party: `From` of an inbound message, `To` of an outbound one.
    #[must_use]
    pub fn peer(&self) -> Option<&str> {
        if self.is_inbound() {
            self.from.as_deref()
        } else {
            self.to.as_deref()
        }
    }
}

/// One number's conversation, as a row of the thread list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsThread {
    /// The other party's number.
    pub number: String,
    /// Its newest message.
    pub last: SmsMessage,
    /// How many messages the thread has.
    pub count: i64,
}

/// The other party's number, as SQL over a row of `sms`.
const PEER: &str = "CASE WHEN direction = 'inbound' THEN from_number ELSE to_number END";

const COLUMNS: &str = "sid, direction, from_number, to_number, body, status, context_id, \
     reply, reply_error, error_code, created_at, updated_at";

/// The tuple a row of [`COLUMNS`] decodes to, then the types of any more columns.
macro_rules! message_row {
    ($($more:ty),*) => {
        (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
            $($more),*
        )
    };
}

type Row = message_row!();

fn from_row(row: Row) -> SmsMessage {
    SmsMessage {
        sid: row.0,
        direction: row.1,
        from: row.2,
        to: row.3,
        body: row.4,
        status: row.5,
        context_id: row.6,
        reply: row.7,
        reply_error: row.8,
        error_code: row.9,
        created_at: row.10,
        updated_at: row.11,
    }
}

/// The order of delivery statuses: a status never replaces a later one (callbacks may
/// arrive out of order). Unknown statuses rank lowest.
fn delivery_rank(status: &str) -> i64 {
    match status {
        "accepted" | "scheduled" | "queued" => 1,
        "sending" | "receiving" => 2,
        "sent" | "received" => 3,
        "delivered" | "undelivered" | "failed" | "canceled" | "partially_delivered" => 4,
        "read" => 5,
        _ => 0,
    }
}

/// [`delivery_rank`] as SQL over the stored `sms.status`.
const STORED_RANK: &str = "CASE sms.status \
     WHEN 'accepted' THEN 1 WHEN 'scheduled' THEN 1 WHEN 'queued' THEN 1 \
     WHEN 'sending' THEN 2 WHEN 'receiving' THEN 2 WHEN 'sent' THEN 3 WHEN 'received' THEN 3 \
     WHEN 'delivered' THEN 4 WHEN 'undelivered' THEN 4 WHEN 'failed' THEN 4 \
     WHEN 'canceled' THEN 4 WHEN 'partially_delivered' THEN 4 WHEN 'read' THEN 5 ELSE 0 END";

impl Store {
    /// Stores an inbound message once: a replayed webhook (same `MessageSid`) changes nothing.
    /// Returns whether it was new, and the stored row (with the reply given the first time,
    /// if any).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_inbound_sms(
        &self,
        sms: &InboundSms,
        now: UnixMillis,
    ) -> Result<(bool, SmsMessage), Error> {
        let inserted = execute!(
            self,
            "insert inbound sms",
            "INSERT INTO sms (sid, direction, from_number, to_number, body, status, \
                 created_at, updated_at) VALUES ($1, 'inbound', $2, $3, $4, 'received', $5, $5) \
                 ON CONFLICT (sid) DO NOTHING",
            &sms.sid,
            &sms.from,
            &sms.to,
            &sms.body,
            now
        )
        .map(|affected| affected == 1)?;
        let row = self
            .sms_message(&sms.sid)
            .await?
            .ok_or_else(|| Error::store("select inbound sms")(sqlx::Error::RowNotFound))?;
        Ok((inserted, row))
    }

    /// Stores the outcome of the agent's reply to an inbound message: the reply text, or why
    /// there was none.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn set_sms_reply(
        &self,
        sid: &str,
        outcome: Result<&str, &str>,
        now: UnixMillis,
    ) -> Result<(), Error> {
        let (reply, error) = match outcome {
            Ok(reply) => (Some(reply), None),
            Err(error) => (None, Some(error)),
        };
        execute!(
            self,
            "set sms reply",
            "UPDATE sms SET reply = $2, reply_error = $3, updated_at = $4 WHERE sid = $1",
            sid,
            reply,
            error,
            now
        )
        .map(drop)
    }

    /// Stores a delivery status. A message not seen before gets a row of its own (direction
    /// `outbound-api`, with `From`/`To` of the callback); a status never replaces a later
    /// one (`delivered` stays when a late `sent` arrives).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn record_sms_delivery(
        &self,
        delivery: &SmsDelivery,
        now: UnixMillis,
    ) -> Result<(), Error> {
        let sql = format!(
            "INSERT INTO sms (sid, direction, from_number, to_number, status, error_code, \
             created_at, updated_at) VALUES ($1, 'outbound-api', $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (sid) DO UPDATE SET status = excluded.status, \
             error_code = COALESCE(excluded.error_code, sms.error_code), \
             from_number = COALESCE(sms.from_number, excluded.from_number), \
             to_number = COALESCE(sms.to_number, excluded.to_number), \
             updated_at = excluded.updated_at \
             WHERE {STORED_RANK} <= $7"
        );
        execute!(
            self,
            "store sms delivery status",
            &sql,
            &delivery.sid,
            &delivery.from,
            &delivery.to,
            &delivery.status,
            &delivery.error_code,
            now,
            delivery_rank(&delivery.status)
        )
        .map(drop)
    }

    /// One message, if stored.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn sms_message(&self, sid: &str) -> Result<Option<SmsMessage>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM sms WHERE sid = $1");
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(sid).fetch_optional(pool).await
        })
        .map_err(Error::store("select sms"))?;
        Ok(row.map(from_row))
    }

    /// The threads, newest message first: each number with its newest message and how many
    /// it has; only `number`'s thread when given. At most `limit` rows after skipping
    /// `offset`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn sms_threads(
        &self,
        number: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<SmsThread>, Error> {
        let filter = if number.is_some() {
            " AND peer = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS}, peer, thread_size FROM (SELECT {COLUMNS}, {PEER} AS peer, \
             ROW_NUMBER() OVER (PARTITION BY {PEER} ORDER BY created_at DESC, sid DESC) AS thread_rank, \
             COUNT(*) OVER (PARTITION BY {PEER}) AS thread_size FROM sms) threads \
             WHERE thread_rank = 1 AND peer IS NOT NULL{filter} \
             ORDER BY created_at DESC, sid DESC LIMIT $1 OFFSET $2"
        );
        type ThreadRow = message_row!(String, i64);
        let rows: Vec<ThreadRow> = with_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(limit.max(0)).bind(offset.max(0));
            if let Some(number) = number {
                query = query.bind(number);
            }
            query.fetch_all(pool).await
        })
        .map_err(Error::store("select sms threads"))?;
        Ok(rows
            .into_iter()
            .map(
                |(a, b, c, d, e, f, g, h, i, j, k, l, number, count)| SmsThread {
                    number,
                    last: from_row((a, b, c, d, e, f, g, h, i, j, k, l)),
                    count,
                },
            )
            .collect())
    }

    /// The newest `limit` messages exchanged with `number`, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn sms_thread(&self, number: &str, limit: i64) -> Result<Vec<SmsMessage>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sms WHERE (direction = 'inbound' AND from_number = $1) \
             OR (direction <> 'inbound' AND to_number = $2) \
             ORDER BY created_at DESC, sid DESC LIMIT $3"
        );
        let rows: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(number)
                .bind(number)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await
        })
        .map_err(Error::store("select sms thread"))?;
        let mut messages: Vec<SmsMessage> = rows.into_iter().map(from_row).collect();
        messages.reverse();
        Ok(messages)
    }
}

/// A full-call recording of a call, from its `/webhook/recording_status` events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallRecording {
    /// `RecordingSid`.
    pub recording_sid: String,
    /// The final status when one arrived (`completed`, `absent`, `failed`), else
    /// `in-progress`.
    pub status: String,
    /// `RecordingUrl` (Twilio's, behind Basic auth), when sent.
    pub recording_url: Option<String>,
    /// `RecordingDuration`, seconds, when sent.
    pub duration_s: Option<i64>,
    /// When its first event arrived.
    pub started_at: UnixMillis,
}

/// `recording_sid, status, recording_url, duration_s, received_at`.
type RecordingRow = (String, String, Option<String>, Option<i64>, i64);

impl Store {
    /// The recordings Twilio reported for `call_sid`, in the order they started.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn call_recordings(&self, call_sid: &str) -> Result<Vec<CallRecording>, Error> {
        let rows: Vec<RecordingRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT recording_sid, status, recording_url, duration_s, received_at \
                     FROM recording_events WHERE call_sid = $1 \
                     ORDER BY received_at, recording_sid",
            )
            .bind(call_sid)
            .fetch_all(pool)
            .await
        })
        .map_err(Error::store("select call recordings"))?;
        let mut recordings: Vec<CallRecording> = Vec::new();
        for (recording_sid, status, url, duration_s, at) in rows {
            let position = recordings
                .iter()
                .position(|r| r.recording_sid == recording_sid);
            let recording = match position {
                Some(i) => &mut recordings[i],
                None => {
                    recordings.push(CallRecording {
                        recording_sid,
                        status: status.clone(),
                        recording_url: None,
                        duration_s: None,
                        started_at: at,
                    });
                    let last = recordings.len() - 1;
                    &mut recordings[last]
                }
            };
            if status != "in-progress" {
                recording.status = status;
            }
            recording.recording_url = recording.recording_url.take().or(url);
            recording.duration_s = duration_s.or(recording.duration_s);
        }
        Ok(recordings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ranks_match_the_sql() {
        for status in [
            "accepted",
            "scheduled",
            "queued",
            "sending",
            "receiving",
            "sent",
            "received",
            "delivered",
            "undelivered",
            "failed",
            "canceled",
            "partially_delivered",
            "read",
        ] {
            let rank = delivery_rank(status);
            assert!(rank > 0, "{status}");
            assert!(
                STORED_RANK.contains(&format!("WHEN '{status}' THEN {rank}")),
                "{status}"
            );
        }
        assert_eq!(delivery_rank("mystery"), 0);
        assert!(delivery_rank("sent") < delivery_rank("delivered"));
    }
}
