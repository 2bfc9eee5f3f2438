//! `POST /webhook/recording_status`: store the recording event once, answer 200 whatever
//! happens. With `KAV_RECORD_CALLS=true`, a `completed` recording also queues one post-call
//! transcription job, in the same transaction as the event (so Twilio's retries never queue
//! a second one).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use tracing::Instrument as _;

use crate::app::AppState;
use crate::store::transcripts::NewJob;
use crate::store::{RecordingEvent, now_millis};
use crate::worker::{TRANSCRIBE_RECORDING, TranscribeRecording};

/// How long the store may take before the event is given up.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `RecordingStatus` values Twilio sends.
const RECORDING_STATUSES: &[&str] = &["in-progress", "completed", "absent", "failed"];

/// Validates Twilio's recording status callback parameters into an event.
pub(crate) fn parse_event(params: Vec<(String, String)>) -> Result<RecordingEvent, String> {
    let get = |name: &str| super::conversation::param(&params, name);
    let recording_sid = get("RecordingSid").ok_or("no RecordingSid")?;
    if !crate::sid::valid("RE", &recording_sid) {
        return Err("RecordingSid is not RE followed by 32 characters".to_owned());
    }
    let status = get("RecordingStatus").ok_or("no RecordingStatus")?;
    if !RECORDING_STATUSES.contains(&status.as_str()) {
        return Err("unknown RecordingStatus".to_owned());
    }
    let call_sid = get("CallSid");
    if call_sid
        .as_deref()
        .is_some_and(|sid| !crate::sid::valid("CA", sid))
    {
        return Err("CallSid is not CA followed by 32 characters".to_owned());
    }
    let recording_url = get("RecordingUrl");
    if recording_url
        .as_deref()
        .is_some_and(|u| u.len() > 2048 || url::Url::parse(u).is_err())
    {
        return Err("RecordingUrl is not a URL".to_owned());
    }
    let duration_s = get("RecordingDuration")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| "RecordingDuration is not a number".to_owned())
        })
        .transpose()?;
    Ok(RecordingEvent {
        recording_sid,
        status,
        call_sid,
        recording_url,
        duration_s,
        params,
    })
}

pub(crate) async fn handle(State(state): State<AppState>, body: Bytes) -> StatusCode {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let event = match parse_event(params) {
        Ok(event) => event,
        Err(reason) => {
            tracing::warn!(%reason, "recording status event ignored");
            return StatusCode::OK;
        }
    };
    let payload = (state.config().record_calls() && event.status == "completed").then(|| {
        serde_json::to_value(TranscribeRecording {
            recording_sid: event.recording_sid.clone(),
            call_sid: event.call_sid.clone(),
            recording_url: event.recording_url.clone(),
        })
        .unwrap_or_default()
    });
    let job = payload.as_ref().map(|payload| NewJob {
        kind: TRANSCRIBE_RECORDING,
        payload,
        max_attempts: state.config().job_max_attempts(),
    });
    let stored = super::stored(
        "recording status",
        STORE_TIMEOUT,
        state
            .store()
            .record_recording_and_enqueue(&event, job, now_millis()),
    )
    .instrument(tracing::error_span!("store", status = %event.status))
    .await;
    match stored {
        Some((true, Some(job))) => tracing::info!(
            status = %event.status,
            %job,
            "recording status stored; post-call transcription queued"
        ),
        Some((true, None)) => tracing::info!(status = %event.status, "recording status stored"),
        Some((false, _)) => {
            tracing::info!(status = %event.status, "recording status already stored (replay)");
        }
        None => {}
    }
    StatusCode::OK
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
    fn parses_and_refuses() {
        let rec = ("RecordingSid", "RE0123456789abcdef0123456789abcdef");
        let event = parse_event(params(&[
            rec,
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "7"),
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ]))
        .unwrap();
        assert_eq!(event.duration_s, Some(7));
        for bad in [
            params(&[("RecordingStatus", "completed")]),
            params(&[("RecordingSid", "RE1"), ("RecordingStatus", "completed")]),
            params(&[rec, ("RecordingStatus", "exploded")]),
            params(&[rec, ("RecordingStatus", "completed"), ("CallSid", "x")]),
            params(&[
                rec,
                ("RecordingStatus", "completed"),
                ("RecordingUrl", "no url"),
            ]),
            params(&[
                rec,
                ("RecordingStatus", "completed"),
                ("RecordingDuration", "x"),
            ]),
        ] {
            assert!(parse_event(bad).is_err());
        }
    }
}
