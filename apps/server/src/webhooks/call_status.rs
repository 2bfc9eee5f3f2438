//! `POST /webhook/call_status`: store the event once, answer 200 whatever happens.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use tracing::Instrument as _;

use crate::app::AppState;
use crate::config::CallMode;
use crate::store::{CALL_STATUSES, CallStatusEvent, now_millis};

/// How long the store may take before the event is given up (Twilio waits 15 s at most).
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Validates Twilio's status-callback parameters into an event.
pub(crate) fn parse_event(params: Vec<(String, String)>) -> Result<CallStatusEvent, String> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let call_sid = get("CallSid").ok_or("no CallSid")?;
    if !crate::sid::valid("CA", &call_sid) {
        return Err("CallSid is not CA followed by 32 characters".to_owned());
    }
    let status = get("CallStatus").ok_or("no CallStatus")?;
    if !CALL_STATUSES.contains(&status.as_str()) {
        return Err("unknown CallStatus".to_owned());
    }
    let number = |name: &str| -> Result<Option<i64>, String> {
        get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("{name} is not a number"))
            })
            .transpose()
    };
    Ok(CallStatusEvent {
        sequence: number("SequenceNumber")?,
        duration_s: number("CallDuration")?,
        timestamp: get("Timestamp"),
        account_sid: get("AccountSid"),
        from: get("From"),
        to: get("To"),
        direction: get("Direction"),
        call_sid,
        status,
        params,
    })
}

pub(crate) async fn handle(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> StatusCode {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let event = match parse_event(params) {
        Ok(event) => event,
        Err(reason) => {
            tracing::warn!(%reason, "call status event ignored");
            return StatusCode::OK;
        }
    };
    let stored = super::stored(
        "call status",
        STORE_TIMEOUT,
        state.store().record_call_status(&event, now_millis()),
    )
    .instrument(tracing::error_span!("store", status = %event.status))
    .await;
    match stored {
        Some(true) => tracing::info!(status = %event.status, "call status stored"),
        Some(false) => {
            tracing::info!(status = %event.status, "call status already stored (replay)");
        }
        None => {}
    }
    store_context(&state, &event.call_sid, query.as_deref(), None).await;
    StatusCode::OK
}

/// Stores the webhook's `?context_id=` on the call (set by `POST /api/calls`), if present.
pub(crate) async fn store_context(
    state: &AppState,
    call_sid: &str,
    query: Option<&str>,
    mode: Option<CallMode>,
) {
    let context_id = crate::outbound::query_context_id(query);
    if context_id.is_none() && mode.is_none() {
        return;
    }
    super::stored(
        "call context and mode",
        STORE_TIMEOUT,
        state
            .store()
            .annotate_call(call_sid, context_id.as_deref(), mode.map(CallMode::as_str)),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_twilio_parameters() {
        let event = parse_event(params(&[
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("CallStatus", "completed"),
            ("SequenceNumber", "3"),
            ("CallDuration", "42"),
            ("From", "+972501234567"),
        ]))
        .unwrap();
        assert_eq!(event.sequence, Some(3));
        assert_eq!(event.duration_s, Some(42));
        assert_eq!(event.from.as_deref(), Some("+972501234567"));
    }

    #[test]
    fn refuses_bad_parameters() {
        let sid = ("CallSid", "CA0123456789abcdef0123456789abcdef");
        for bad in [
            params(&[("CallStatus", "completed")]),
            params(&[("CallSid", "CA1"), ("CallStatus", "completed")]),
            params(&[sid, ("CallStatus", "exploded")]),
            params(&[sid, ("CallStatus", "ringing"), ("SequenceNumber", "x")]),
        ] {
            assert!(parse_event(bad).is_err());
        }
    }
}
