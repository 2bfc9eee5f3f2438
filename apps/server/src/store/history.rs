//! Reading the call history: the filtered, paged call list and a call's status timeline.

use super::{Store, UnixMillis, with_pool};
use crate::Error;

/// Filters and paging for [`Store::list_calls`]. Calls come newest first (by `started_at`,
/// then `sid`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallQuery {
    /// Only calls from or to this number (exact match).
    pub number: Option<String>,
    /// Only calls started at or after this time.
    pub from: Option<UnixMillis>,
    /// Only calls started before this time.
    pub to: Option<UnixMillis>,
    /// Only calls whose latest status is this one.
    pub status: Option<String>,
    /// Only calls that sort after this one (`started_at`, `sid`): the cursor of the previous
    /// page's last row.
    pub before: Option<(UnixMillis, String)>,
    /// Rows to skip (page-number paging); `0` with a cursor.
    pub offset: i64,
    /// At most this many rows.
    pub limit: i64,
}

impl CallQuery {
    /// A query for the newest `limit` calls, with no filter.
    #[must_use]
    pub fn newest(limit: i64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }
}

/// One row of the call list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSummary {
    /// `CallSid`.
    pub sid: String,
    /// First event seen.
    pub started_at: UnixMillis,
    /// `Direction`.
    pub direction: Option<String>,
    /// `From`.
    pub from: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// Latest known status.
    pub status: String,
    /// `CallDuration`, seconds.
    pub duration_s: Option<i64>,
    /// The conversation mode the call ran in, when recorded.
    pub mode: Option<String>,
    /// The caller's context id, when recorded.
    pub context_id: Option<String>,
    /// The first transcript of the call (in full; callers shorten it).
    pub first_transcript: Option<String>,
}

/// One stored status event of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusEvent {
    /// `CallStatus`.
    pub status: String,
    /// When it arrived.
    pub received_at: UnixMillis,
}

enum Param {
    Text(String),
    Int(i64),
}

type SummaryRow = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn summary_from_row(row: SummaryRow) -> CallSummary {
    CallSummary {
        sid: row.0,
        started_at: row.1,
        direction: row.2,
        from: row.3,
        to: row.4,
        status: row.5,
        duration_s: row.6,
        mode: row.7,
        context_id: row.8,
        first_transcript: row.9,
    }
}

impl Store {
    /// Calls matching `query`, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list_calls(&self, query: &CallQuery) -> Result<Vec<CallSummary>, Error> {
        let mut sql = String::from(
            "SELECT sid, started_at, direction, from_number, to_number, status, duration_s, \
             mode, context_id, (SELECT t.transcript FROM turns t WHERE t.call_sid = calls.sid \
             AND t.transcript IS NOT NULL ORDER BY t.turn_index LIMIT 1) FROM calls WHERE 1 = 1",
        );
        let mut params: Vec<Param> = Vec::new();
        let next = |params: &mut Vec<Param>, p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        if let Some(number) = &query.number {
            let a = next(&mut params, Param::Text(number.clone()));
            let b = next(&mut params, Param::Text(number.clone()));
            sql.push_str(&format!(" AND (from_number = {a} OR to_number = {b})"));
        }
        if let Some(from) = query.from {
            let p = next(&mut params, Param::Int(from));
            sql.push_str(&format!(" AND started_at >= {p}"));
        }
        if let Some(to) = query.to {
            let p = next(&mut params, Param::Int(to));
            sql.push_str(&format!(" AND started_at < {p}"));
        }
        if let Some(status) = &query.status {
            let p = next(&mut params, Param::Text(status.clone()));
            sql.push_str(&format!(" AND status = {p}"));
        }
        if let Some((at, sid)) = &query.before {
            let a = next(&mut params, Param::Int(*at));
            let b = next(&mut params, Param::Int(*at));
            let s = next(&mut params, Param::Text(sid.clone()));
            sql.push_str(&format!(
                " AND (started_at < {a} OR (started_at = {b} AND sid < {s}))"
            ));
        }
        let l = next(&mut params, Param::Int(query.limit.max(0)));
        let o = next(&mut params, Param::Int(query.offset.max(0)));
        sql.push_str(&format!(
            " ORDER BY started_at DESC, sid DESC LIMIT {l} OFFSET {o}"
        ));
        let rows: Vec<SummaryRow> = with_pool!(self, |pool| {
            let mut q = sqlx::query_as(&sql);
            for param in &params {
                q = match param {
                    Param::Text(text) => q.bind(text),
                    Param::Int(int) => q.bind(*int),
                };
            }
            q.fetch_all(pool).await
        })
        .map_err(Error::store("select calls"))?;
        Ok(rows.into_iter().map(summary_from_row).collect())
    }

    /// One call as a list row, if it is stored.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn call_summary(&self, sid: &str) -> Result<Option<CallSummary>, Error> {
        let row: Option<SummaryRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT sid, started_at, direction, from_number, to_number, status, duration_s, \
                 mode, context_id, (SELECT t.transcript FROM turns t WHERE t.call_sid = calls.sid \
                 AND t.transcript IS NOT NULL ORDER BY t.turn_index LIMIT 1) FROM calls \
                 WHERE sid = $1",
            )
            .bind(sid)
            .fetch_optional(pool)
            .await
        })
        .map_err(Error::store("select call"))?;
        Ok(row.map(summary_from_row))
    }

    /// A call's status events in arrival order.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn status_events(&self, sid: &str) -> Result<Vec<StatusEvent>, Error> {
        let rows: Vec<(String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT status, received_at FROM call_status_events WHERE call_sid = $1 \
                 ORDER BY received_at, sequence_key",
            )
            .bind(sid)
            .fetch_all(pool)
            .await
        })
        .map_err(Error::store("select status events"))?;
        Ok(rows
            .into_iter()
            .map(|(status, received_at)| StatusEvent {
                status,
                received_at,
            })
            .collect())
    }
}
