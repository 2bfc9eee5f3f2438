//! The admin JSON API over the history: `GET /api/calls`, `GET /api/calls/{sid}` and
//! `GET /api/sms` (the SMS threads, or one number's thread with `?number=`).
//!
//! Both need `Authorization: Bearer {ADMIN_TOKEN}` (401 without it). When `ADMIN_TOKEN` is
//! not configured they answer 404 with a message saying the admin routes are off.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::store::sms::{CallRecording, SmsMessage, SmsThread};
use crate::store::transcripts::CallTranscript;
use crate::store::{AudioId, CallQuery, CallSummary, Store, Turn, UnixMillis};
use crate::webhooks::{admin_authorized, valid_address};

/// Default page size of the call list.
pub(crate) const DEFAULT_LIMIT: i64 = 50;
/// Largest page size of the call list.
pub(crate) const MAX_LIMIT: i64 = 200;
/// How many characters of the first transcript a list row shows.
pub(crate) const FIRST_WORDS_CHARS: usize = 80;

/// Why an admin request is refused, if it is.
pub(crate) fn refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    match admin_authorized(state, headers) {
        None => Some(
            (
                StatusCode::NOT_FOUND,
                "admin routes are off: set ADMIN_TOKEN to enable them\n",
            )
                .into_response(),
        ),
        Some(false) => Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "unauthorized\n",
            )
                .into_response(),
        ),
        Some(true) => None,
    }
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

fn store_unavailable(error: &crate::Error) -> Response {
    tracing::error!(error = %crate::error_chain(error), "cannot read the history");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({ "error": "store unreachable" })),
    )
        .into_response()
}

/// Whether `sid` looks like a Twilio call SID: `CA` and 32 hex digits.
pub(crate) fn valid_call_sid(sid: &str) -> bool {
    crate::sid::valid_hex("CA", sid)
}

/// The first `max` characters of `text` (whitespace collapsed), with `…` when cut.
pub(crate) fn first_words(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", collapsed[..cut].trim_end()),
        None => collapsed,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A `YYYY-MM-DD` date as days since the epoch.
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year = number(parts.next()?, 4)?;
    let month = number(parts.next()?, 2)?;
    let day = number(parts.next()?, 2)?;
    ((1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day))
        .then(|| days_from_civil(year, month, day))
}

/// A time bound: RFC 3339 (`2026-11-22T06:30:00Z`, `…+02:00`, fractions allowed) or a date
/// `YYYY-MM-DD` (midnight UTC; with `end_of_day`, the next midnight, so a `to` date includes
/// the whole day). Unix milliseconds.
pub(crate) fn parse_time(text: &str, end_of_day: bool) -> Option<UnixMillis> {
    const DAY_MS: i64 = 86_400_000;
    if text.len() == 10 {
        let days = parse_date(text)?;
        return Some((days + i64::from(end_of_day)) * DAY_MS);
    }
    let (date, rest) = text.split_at_checked(10)?;
    let days = parse_date(date)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, zone) = rest.split_at_checked(8)?;
    let mut hms = clock.split(':');
    let (h, m, s) = (
        number(hms.next()?, 2)?,
        number(hms.next()?, 2)?,
        number(hms.next()?, 2)?,
    );
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let (millis, zone) = match zone.strip_prefix('.') {
        Some(fraction) => {
            let end = fraction
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            if end == 0 {
                return None;
            }
            let digits = format!("{:0<3}", &fraction[..end.min(3)]);
            (digits.parse::<i64>().ok()?, &fraction[end..])
        }
        None => (0, zone),
    };
    let offset_min = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = zone[1..].split_once(':')?;
            let (oh, om) = (number(oh, 2)?, number(om, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    Some(days * DAY_MS + ((h * 60 + m - offset_min) * 60 + s) * 1000 + millis)
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2026-11-22T06:30:00.000Z`).
pub(crate) fn format_time(millis: UnixMillis) -> String {
    let days = millis.div_euclid(86_400_000);
    let ms = millis.rem_euclid(86_400_000);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The list query parsed from a URL query string, with the page number it asked for.
#[derive(Debug, Default)]
pub(crate) struct ListRequest {
    pub(crate) query: CallQuery,
    pub(crate) page: Option<i64>,
    /// The raw filter values, to echo in paging links.
    pub(crate) filters: Vec<(&'static str, String)>,
}

/// Parses `limit`, `before`, `page`, `number`, `from`, `to` and `status`; a message on error.
pub(crate) fn parse_list_query(raw: Option<&str>) -> Result<ListRequest, String> {
    let mut request = ListRequest {
        query: CallQuery::newest(DEFAULT_LIMIT),
        ..ListRequest::default()
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match &*key {
            "limit" => {
                let limit: i64 = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or(format!("limit must be between 1 and {MAX_LIMIT}"))?;
                request.query.limit = limit;
            }
            "before" => {
                let (at, sid) = value
                    .split_once('_')
                    .and_then(|(at, sid)| Some((at.parse::<i64>().ok()?, sid)))
                    .filter(|(_, sid)| valid_call_sid(sid))
                    .ok_or("before must be a cursor from next_before")?;
                request.query.before = Some((at, sid.to_owned()));
            }
            "page" => {
                let page: i64 = value
                    .parse()
                    .ok()
                    .filter(|p| (1..=1_000_000).contains(p))
                    .ok_or("page must be a number from 1")?;
                request.page = Some(page);
            }
            "number" => {
                request.query.number = Some(value.to_owned());
                request.filters.push(("number", value.to_owned()));
            }
            "from" => {
                request.query.from = Some(
                    parse_time(value, false)
                        .ok_or("from must be an RFC 3339 time or a YYYY-MM-DD date")?,
                );
                request.filters.push(("from", value.to_owned()));
            }
            "to" => {
                request.query.to = Some(
                    parse_time(value, true)
                        .ok_or("to must be an RFC 3339 time or a YYYY-MM-DD date")?,
                );
                request.filters.push(("to", value.to_owned()));
            }
            "status" => {
                if !crate::store::CALL_STATUSES.contains(&value) {
                    return Err(format!(
                        "status must be one of {}",
                        crate::store::CALL_STATUSES.join(", ")
                    ));
                }
                request.query.status = Some(value.to_owned());
                request.filters.push(("status", value.to_owned()));
            }
            _ => {}
        }
    }
    if request.page.is_some() && request.query.before.is_some() {
        return Err("use either before or page, not both".to_owned());
    }
    if let Some(page) = request.page {
        request.query.offset = (page - 1) * request.query.limit;
    }
    Ok(request)
}

/// The paging cursor that continues after `call`.
pub(crate) fn cursor(call: &CallSummary) -> String {
    format!("{}_{}", call.started_at, call.sid)
}

/// A store reference as a `/media/{id}` URL, when it is an audio id.
pub(crate) fn media_url(reference: Option<&str>) -> Option<String> {
    reference
        .and_then(|r| r.parse::<AudioId>().ok())
        .map(|id| format!("/media/{id}"))
}

/// Whether `sid` looks like a Twilio recording SID: `RE` and 32 alphanumerics.
pub(crate) fn valid_recording_sid(sid: &str) -> bool {
    crate::sid::valid("RE", sid)
}

/// A full-call recording of a call and its post-call transcript; either may be missing (a
/// recording not transcribed yet, a transcript whose status event was not stored).
#[derive(Debug)]
pub(crate) struct FullRecording {
    pub(crate) recording_sid: String,
    pub(crate) recording: Option<CallRecording>,
    pub(crate) transcript: Option<CallTranscript>,
}

impl FullRecording {
    /// Where the page plays it (`/calls/{sid}/recordings/{RE…}`), when Twilio has it.
    pub(crate) fn audio_url(&self, call_sid: &str) -> Option<String> {
        self.recording
            .as_ref()
            .filter(|r| r.status == "completed" && r.recording_url.is_some())
            .filter(|_| valid_call_sid(call_sid) && valid_recording_sid(&self.recording_sid))
            .map(|_| format!("/calls/{call_sid}/recordings/{}", self.recording_sid))
    }
}

/// A call's full-call recordings with their transcripts, in the order they started.
pub(crate) async fn full_recordings(
    store: &Store,
    call_sid: &str,
) -> Result<Vec<FullRecording>, crate::Error> {
    let (recordings, transcripts) = tokio::try_join!(
        store.call_recordings(call_sid),
        store.call_transcripts(call_sid)
    )?;
    let mut all: Vec<FullRecording> = recordings
        .into_iter()
        .map(|recording| FullRecording {
            recording_sid: recording.recording_sid.clone(),
            recording: Some(recording),
            transcript: None,
        })
        .collect();
    for transcript in transcripts {
        match all
            .iter_mut()
            .find(|r| r.recording_sid == transcript.recording_sid)
        {
            Some(full) => full.transcript = Some(transcript),
            None => all.push(FullRecording {
                recording_sid: transcript.recording_sid.clone(),
                recording: None,
                transcript: Some(transcript),
            }),
        }
    }
    Ok(all)
}

fn recording_json(call_sid: &str, full: &FullRecording) -> Value {
    json!({
        "recording_sid": full.recording_sid,
        "status": full.recording.as_ref().map(|r| r.status.as_str()),
        "duration": full.recording.as_ref().and_then(|r| r.duration_s),
        "audio_url": full.audio_url(call_sid),
        "transcript": full.transcript.as_ref().map(|t| json!({
            "text": t.text,
            "segments": t.segments.iter().map(|s| json!({
                "start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text,
            })).collect::<Vec<_>>(),
            "language": t.language,
            "provider": t.provider,
            "audio_ms": t.audio_ms,
            "stt_ms": t.stt_ms,
            "error": t.error,
        })),
    })
}

fn summary_json(call: &CallSummary) -> Value {
    json!({
        "sid": call.sid,
        "started_at": format_time(call.started_at),
        "direction": call.direction,
        "from": call.from,
        "to": call.to,
        "status": call.status,
        "duration": call.duration_s,
        "mode": call.mode,
        "context_id": call.context_id,
        "first_words": call.first_transcript.as_deref().map(|t| first_words(t, FIRST_WORDS_CHARS)),
    })
}

fn turn_json(turn: &Turn) -> Value {
    json!({
        "index": turn.index,
        "transcript": turn.transcript,
        "reply": turn.reply,
        "recording_url": media_url(turn.recording_ref.as_deref()),
        "reply_audio_url": media_url(turn.tts_audio_id.as_deref()),
        "timings_ms": {
            "stt": turn.stt_ms,
            "llm": turn.llm_ms,
            "tts": turn.tts_ms,
        },
        "error": turn.error,
    })
}

/// Default page size of the SMS thread list.
pub(crate) const DEFAULT_SMS_THREADS: i64 = 50;
/// How many messages of one thread are shown (the newest).
pub(crate) const SMS_THREAD_MESSAGES: i64 = 200;

/// The SMS list query: `number` (one thread), `limit` and `page`.
#[derive(Debug, Default)]
pub(crate) struct SmsRequest {
    pub(crate) number: Option<String>,
    pub(crate) limit: i64,
    pub(crate) page: i64,
}

/// Parses `number`, `limit` and `page` of `/sms` and `/api/sms`; a message on error.
pub(crate) fn parse_sms_query(raw: Option<&str>) -> Result<SmsRequest, String> {
    let mut request = SmsRequest {
        number: None,
        limit: DEFAULT_SMS_THREADS,
        page: 1,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match &*key {
            "number" => {
                if !valid_address(value) {
                    return Err("number must be a phone number like +972501234567".to_owned());
                }
                request.number = Some(value.to_owned());
            }
            "limit" => {
                request.limit = value
                    .parse()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or(format!("limit must be between 1 and {MAX_LIMIT}"))?;
            }
            "page" => {
                request.page = value
                    .parse()
                    .ok()
                    .filter(|p| (1..=1_000_000).contains(p))
                    .ok_or("page must be a number from 1")?;
            }
            _ => {}
        }
    }
    Ok(request)
}

pub(crate) fn sms_json(message: &SmsMessage) -> Value {
    json!({
        "sid": message.sid,
        "direction": message.direction,
        "from": message.from,
        "to": message.to,
        "number": message.peer(),
        "body": message.body,
        "status": message.status,
        "error_code": message.error_code,
        "context_id": message.context_id,
        "reply": message.reply,
        "reply_error": message.reply_error,
        "created_at": format_time(message.created_at),
        "updated_at": format_time(message.updated_at),
    })
}

fn thread_json(thread: &SmsThread) -> Value {
    json!({
        "number": thread.number,
        "messages": thread.count,
        "last": sms_json(&thread.last),
    })
}

/// `GET /api/sms`: the threads, newest first (`{threads, next_page}`); with `?number=`, that
/// number's newest messages, oldest first (`{number, messages}`).
pub(crate) async fn sms(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    let request = match parse_sms_query(raw.as_deref()) {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    let store = state.store();
    if let Some(number) = &request.number {
        return match store.sms_thread(number, SMS_THREAD_MESSAGES).await {
            Ok(messages) => axum::Json(json!({
                "number": number,
                "messages": messages.iter().map(sms_json).collect::<Vec<_>>(),
            }))
            .into_response(),
            Err(error) => store_unavailable(&error),
        };
    }
    let offset = (request.page - 1) * request.limit;
    match store.sms_threads(None, request.limit, offset).await {
        Ok(threads) => {
            let full = i64::try_from(threads.len()).unwrap_or(i64::MAX) == request.limit;
            axum::Json(json!({
                "threads": threads.iter().map(thread_json).collect::<Vec<_>>(),
                "next_page": full.then_some(request.page + 1),
            }))
            .into_response()
        }
        Err(error) => store_unavailable(&error),
    }
}

/// `GET /api/calls`.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    let request = match parse_list_query(raw.as_deref()) {
        Ok(request) => request,
        Err(message) => return bad_request(&message),
    };
    let calls = match state.store().list_calls(&request.query).await {
        Ok(calls) => calls,
        Err(error) => return store_unavailable(&error),
    };
    let full = i64::try_from(calls.len()).unwrap_or(i64::MAX) == request.query.limit;
    let next_before = calls.last().filter(|_| full).map(cursor);
    let next_page = request.page.filter(|_| full).map(|p| p + 1);
    axum::Json(json!({
        "calls": calls.iter().map(summary_json).collect::<Vec<_>>(),
        "next_before": next_before,
        "next_page": next_page,
    }))
    .into_response()
}

/// `GET /api/calls/{sid}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sid): Path<String>,
) -> Response {
    if let Some(refused) = refusal(&state, &headers) {
        return refused;
    }
    if !valid_call_sid(&sid) {
        return bad_request("not a call SID (CA and 32 hex digits)");
    }
    let store = state.store();
    let call = match store.call_summary(&sid).await {
        Ok(Some(call)) => call,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({ "error": "no such call" })),
            )
                .into_response();
        }
        Err(error) => return store_unavailable(&error),
    };
    let (events, turns, recordings) = match tokio::try_join!(
        store.status_events(&sid),
        store.turns(&sid),
        full_recordings(store, &sid)
    ) {
        Ok(all) => all,
        Err(error) => return store_unavailable(&error),
    };
    let mut body = summary_json(&call);
    body["recordings"] = recordings.iter().map(|r| recording_json(&sid, r)).collect();
    body["timeline"] = events
        .iter()
        .map(|e| json!({ "status": e.status, "at": format_time(e.received_at) }))
        .collect();
    body["turns"] = turns.iter().map(turn_json).collect();
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_format() {
        assert_eq!(parse_time("1970-01-01", false), Some(0));
        assert_eq!(parse_time("1970-01-01", true), Some(86_400_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", false),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-15T00:13:20.5+02:00", false),
            Some(1_700_000_000_500)
        );
        assert_eq!(format_time(1_700_000_000_500), "2023-11-14T22:13:20.500Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for bad in [
            "",
            "2023-13-01",
            "2023-02-29",
            "2023-1-01",
            "2023-11-14T25:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20+2:00",
            "2023-11-14T22:13:20.Z",
            "２０２３-11-14",
        ] {
            assert_eq!(parse_time(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn first_words_cut_on_char_boundaries() {
        assert_eq!(first_words("  שלום   עולם ", 80), "שלום עולם");
        let long = "א".repeat(100);
        let cut = first_words(&long, 80);
        assert_eq!(cut.chars().count(), 81);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn call_sids_are_checked() {
        assert!(valid_call_sid("CA0123456789abcdef0123456789abcdef"));
        assert!(!valid_call_sid("CA0123456789abcdef0123456789abcde"));
        assert!(!valid_call_sid("XX0123456789abcdef0123456789abcdef"));
        assert!(!valid_call_sid("CA0123456789abcdef0123456789abcdeg"));
    }
}
