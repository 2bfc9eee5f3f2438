//! The admin HTML pages over the history: `GET /calls`, `GET /calls/{sid}`, the SMS threads
//! (`GET /sms`, `GET /sms/{number}`) and the login form (`GET`/`POST /login`).
//! Server-rendered with maud (everything escaped), no JavaScript.
//!
//! A page needs `Authorization: Bearer {ADMIN_TOKEN}` or the session cookie set by the login
//! form: `kav_admin={expiry}.{HMAC-SHA256 of the expiry}`, keyed by a key derived from
//! `ADMIN_TOKEN` (so changing the token ends every session), HttpOnly, SameSite=Strict. Without
//! either, a page redirects to `/login`. Without `ADMIN_TOKEN` every admin route answers 404.

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac as _};
use maud::{DOCTYPE, Markup, html};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::api::{
    FIRST_WORDS_CHARS, SMS_THREAD_MESSAGES, cursor, first_words, format_time, full_recordings,
    media_url, parse_list_query, parse_sms_query, valid_call_sid, valid_recording_sid,
};
use crate::app::AppState;
use crate::store::sms::SmsMessage;
use crate::store::{CALL_STATUSES, UnixMillis, now_millis};
use crate::webhooks::{admin_authorized, same_token, valid_address};

/// The session cookie's name.
const COOKIE: &str = "kav_admin";
/// How long a login lasts.
const SESSION_SECS: i64 = 12 * 3600;

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;padding:.75rem;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1rem 0 .4rem}
h1,h2,p,li{overflow-wrap:anywhere}
a{color:#0550ae}.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:start;vertical-align:top}
th{white-space:nowrap;background:#f0f0f0}td.nowrap{white-space:nowrap}
form.filters{display:flex;flex-wrap:wrap;gap:.4rem;margin-bottom:.7rem}
form.filters input,form.filters select,form.filters button{font-size:1rem;padding:.25rem}
.turn{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem .7rem;margin:.5rem 0}
.turn p{margin:.3rem 0}.who{font-weight:600}.error{color:#a40000}.muted{color:#666}
audio{width:100%;max-width:24rem;display:block;margin:.2rem 0}
.paging{margin:.7rem 0;display:flex;gap:1rem}
nav.top{display:flex;gap:1rem;margin:0 0 .4rem;font-size:.95rem}
nav.top a[aria-current]{font-weight:600;color:#222;text-decoration:none}
.msg{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.4rem .7rem;margin:.5rem 0;
max-width:34rem}.msg.outbound{margin-inline-start:auto;background:#eef5ff;border-color:#c8daf5}
.msg p{margin:.25rem 0;white-space:pre-wrap;overflow-wrap:anywhere}.meta{font-size:.8rem;color:#666}
@media (max-width:40rem){table.list thead{display:none}
table.list,table.list tbody,table.list tr{display:block}
table.list tr{border-bottom:1px solid #ddd;padding:.3rem 0}
table.list td{display:inline-block;border:0;padding:.1rem .5rem}
table.list td[data-label]::before{content:attr(data-label);margin-inline-end:.3em;color:#666;
font-size:.8rem}
table.list td.words{display:block}}
";

type HmacSha256 = Hmac<Sha256>;

fn session_mac(state: &AppState) -> Option<HmacSha256> {
    let token = state.config().admin_token()?;
    let key = Sha256::new()
        .chain_update(b"kav-server admin session v1\0")
        .chain_update(token.expose_secret().as_bytes())
        .finalize();
    HmacSha256::new_from_slice(&key).ok()
}

/// A session cookie value valid until `expires` (Unix seconds).
fn session_value(state: &AppState, expires: i64) -> Option<String> {
    let mut mac = session_mac(state)?;
    mac.update(expires.to_string().as_bytes());
    Some(format!(
        "{expires}.{}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

fn valid_session(state: &AppState, value: &str, now_secs: i64) -> bool {
    let Some((expires, tag)) = value.split_once('.') else {
        return false;
    };
    let (Ok(expires_at), Ok(tag)) = (expires.parse::<i64>(), hex::decode(tag)) else {
        return false;
    };
    let Some(mut mac) = session_mac(state) else {
        return false;
    };
    mac.update(expires.as_bytes());
    mac.verify_slice(&tag).is_ok() && expires_at > now_secs
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// `None` when the request may see admin pages, else the answer to give.
fn page_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    match admin_authorized(state, headers) {
        None => Some(off()),
        Some(true) => None,
        Some(false) => {
            let now = now_millis() / 1000;
            if session_cookie(headers).is_some_and(|v| valid_session(state, v, now)) {
                None
            } else {
                Some(Redirect::to("/login").into_response())
            }
        }
    }
}

fn off() -> Response {
    (
        StatusCode::NOT_FOUND,
        "admin routes are off: set ADMIN_TOKEN to enable them\n",
    )
        .into_response()
}

fn layout(state: &AppState, title: &str, body: &Markup) -> Markup {
    let lang = state
        .config()
        .language()
        .split(['-', '_'])
        .next()
        .unwrap_or("he");
    html! {
        (DOCTYPE)
        html lang=(lang) dir="auto" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · kav" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

fn page(state: &AppState, status: StatusCode, title: &str, body: &Markup) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'; \
                     form-action 'self'; frame-ancestors 'none'",
                ),
            ),
        ],
        axum::response::Html(layout(state, title, body).into_string()),
    )
        .into_response()
}

fn message_page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 dir="auto" { (message) }
        p { a href="/calls" { "All calls" } }
    };
    page(state, status, message, &body)
}

fn display_time(millis: UnixMillis) -> String {
    let iso = format_time(millis);
    format!("{} {} UTC", &iso[..10], &iso[11..19])
}

fn text(value: Option<&str>) -> &str {
    value.unwrap_or("—")
}

/// Which page the top navigation marks as current.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Calls,
    Sms,
}

/// The links between the admin pages.
fn nav(current: Section) -> Markup {
    html! {
        nav.top {
            a href="/calls" aria-current=[(current == Section::Calls).then_some("page")] { "Calls" }
            a href="/sms" aria-current=[(current == Section::Sms).then_some("page")] { "SMS" }
        }
    }
}

/// `/sms/{number}`, with the number percent-encoded.
fn thread_href(number: &str) -> String {
    format!(
        "/sms/{}",
        url::form_urlencoded::byte_serialize(number.as_bytes()).collect::<String>()
    )
}

fn login_form(state: &AppState, status: StatusCode, wrong: bool) -> Response {
    let body = html! {
        h1 { "kav · sign in" }
        @if wrong { p.error { "Wrong admin token." } }
        form method="post" action="/login" {
            label { "Admin token " input type="password" name="token" autocomplete="current-password" required; }
            " " button type="submit" { "Sign in" }
        }
    };
    page(state, status, "Sign in", &body)
}

/// `GET /login`.
pub(crate) async fn login_page(State(state): State<AppState>) -> Response {
    if state.config().admin_token().is_none() {
        return off();
    }
    login_form(&state, StatusCode::OK, false)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

/// `POST /login`: the admin token → the session cookie and a redirect to `/calls`.
pub(crate) async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let Some(expected) = state.config().admin_token() else {
        return off();
    };
    let expected = expected.expose_secret().as_bytes();
    let given = form.token.as_bytes();
    if !same_token(given, expected) {
        tracing::warn!("admin login refused: wrong token");
        return login_form(&state, StatusCode::UNAUTHORIZED, true);
    }
    let expires = now_millis() / 1000 + SESSION_SECS;
    let Some(value) = session_value(&state, expires) else {
        return off();
    };
    let secure = state
        .config()
        .public_base_url()
        .is_some_and(|url| url.to_string().starts_with("https:"));
    let cookie = format!(
        "{COOKIE}={value}; Path=/; Max-Age={SESSION_SECS}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to("/calls").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn query_string(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `GET /calls`.
pub(crate) async fn calls(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = page_refusal(&state, &headers) {
        return refused;
    }
    let request = match parse_list_query(raw.as_deref()) {
        Ok(request) => request,
        Err(message) => return message_page(&state, StatusCode::BAD_REQUEST, &message),
    };
    let calls = match state.store().list_calls(&request.query).await {
        Ok(calls) => calls,
        Err(error) => {
            tracing::error!(error = %crate::error_chain(&error), "cannot read the call history");
            return message_page(&state, StatusCode::SERVICE_UNAVAILABLE, "store unreachable");
        }
    };
    let filter = |name: &str| {
        request
            .filters
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let full = i64::try_from(calls.len()).unwrap_or(i64::MAX) == request.query.limit;
    let mut base: Vec<(&str, String)> = request.filters.clone();
    if request.query.limit != crate::api::DEFAULT_LIMIT {
        base.push(("limit", request.query.limit.to_string()));
    }
    let older = calls.last().filter(|_| full).map(|last| {
        let mut pairs = base.clone();
        match request.page {
            Some(page) => pairs.push(("page", (page + 1).to_string())),
            None => pairs.push(("before", cursor(last))),
        }
        format!("/calls?{}", query_string(&pairs))
    });
    let paged = request.page.is_some_and(|p| p > 1) || request.query.before.is_some();
    let newest = format!("/calls?{}", query_string(&base));
    let body = html! {
        (nav(Section::Calls))
        h1 { "Calls" }
        form.filters method="get" action="/calls" {
            input type="search" name="number" placeholder="Phone number" value=(filter("number")) dir="auto";
            label { "From " input type="date" name="from" value=(filter("from")); }
            label { "To " input type="date" name="to" value=(filter("to")); }
            select name="status" {
                option value="" { "Any status" }
                @for status in CALL_STATUSES {
                    option value=(status) selected[filter("status") == *status] { (status) }
                }
            }
            button type="submit" { "Filter" }
        }
        div.scroll {
            table.list {
                thead { tr {
                    th { "Date" } th { "Direction" } th { "From" } th { "To" }
                    th { "Status" } th { "Duration" } th { "Mode" } th { "Context" }
                    th { "First words" }
                } }
                tbody {
                    @for call in &calls {
                        tr {
                            td.nowrap { a href={ "/calls/" (call.sid) } { (display_time(call.started_at)) } }
                            td dir="auto" { (text(call.direction.as_deref())) }
                            td.nowrap dir="auto" data-label="From" { (text(call.from.as_deref())) }
                            td.nowrap dir="auto" data-label="To" { (text(call.to.as_deref())) }
                            td dir="auto" data-label="Status" { (call.status) }
                            td.nowrap dir="auto" data-label="Duration" {
                                @if let Some(d) = call.duration_s { (d) " s" } @else { "—" }
                            }
                            td dir="auto" data-label="Mode" { (text(call.mode.as_deref())) }
                            td dir="auto" data-label="Context" { (text(call.context_id.as_deref())) }
                            td.words dir="auto" {
                                (call.first_transcript.as_deref().map_or_else(String::new, |t| first_words(t, FIRST_WORDS_CHARS)))
                            }
                        }
                    }
                    @if calls.is_empty() {
                        tr { td.muted colspan="9" { "No calls." } }
                    }
                }
            }
        }
        div.paging {
            @if paged { a href=(newest) { "Newest" } }
            @if let Some(older) = &older { a href=(older) rel="next" { "Older →" } }
        }
    };
    page(&state, StatusCode::OK, "Calls", &body)
}

/// `GET /calls/{sid}`.
pub(crate) async fn call(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sid): Path<String>,
) -> Response {
    if let Some(refused) = page_refusal(&state, &headers) {
        return refused;
    }
    if !valid_call_sid(&sid) {
        return message_page(
            &state,
            StatusCode::BAD_REQUEST,
            "Not a call SID (CA and 32 hex digits)",
        );
    }
    let store = state.store();
    let unavailable = |error: &crate::Error| {
        tracing::error!(error = %crate::error_chain(error), "cannot read the call history");
        message_page(&state, StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
    };
    let call = match store.call_summary(&sid).await {
        Ok(Some(call)) => call,
        Ok(None) => return message_page(&state, StatusCode::NOT_FOUND, "No such call"),
        Err(error) => return unavailable(&error),
    };
    let (events, turns, recordings) = match tokio::try_join!(
        store.status_events(&sid),
        store.turns(&sid),
        full_recordings(store, &sid)
    ) {
        Ok(all) => all,
        Err(error) => return unavailable(&error),
    };
    let ms = |v: Option<i64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v} ms"));
    let body = html! {
        (nav(Section::Calls))
        p { a href="/calls" { "← All calls" } }
        h1 dir="auto" { "Call " (call.sid) }
        div.scroll { table {
            tbody {
                tr { th { "Started" } td { (display_time(call.started_at)) } }
                tr { th { "Direction" } td dir="auto" { (text(call.direction.as_deref())) } }
                tr { th { "From" } td dir="auto" { (text(call.from.as_deref())) } }
                tr { th { "To" } td dir="auto" { (text(call.to.as_deref())) } }
                tr { th { "Status" } td dir="auto" { (call.status) } }
                tr { th { "Duration" } td dir="auto" {
                    @if let Some(d) = call.duration_s { (d) " s" } @else { "—" }
                } }
                @if let Some(mode) = &call.mode { tr { th { "Mode" } td dir="auto" { (mode) } } }
                @if let Some(context) = &call.context_id { tr { th { "Context" } td dir="auto" { (context) } } }
            }
        } }
        h2 { "Status timeline" }
        @if events.is_empty() { p.muted { "No status events." } }
        ol {
            @for event in &events {
                li dir="auto" { (display_time(event.received_at)) " — " (event.status) }
            }
        }
        h2 { "Conversation" }
        @if turns.is_empty() { p.muted { "No turns." } }
        @for turn in &turns {
            section.turn {
                p.muted { "Turn " (turn.index + 1) }
                p.who { "Caller" }
                p dir="auto" { (text(turn.transcript.as_deref())) }
                @if let Some(url) = media_url(turn.recording_ref.as_deref()) {
                    audio controls preload="none" src=(url) {}
                }
                p.who { "Agent" }
                p dir="auto" { (text(turn.reply.as_deref())) }
                @if let Some(url) = media_url(turn.tts_audio_id.as_deref()) {
                    audio controls preload="none" src=(url) {}
                }
                p.muted dir="auto" {
                    "speech-to-text " (ms(turn.stt_ms))
                    " · language model " (ms(turn.llm_ms))
                    " · text-to-speech " (ms(turn.tts_ms))
                }
                @if let Some(error) = &turn.error {
                    p.error dir="auto" { "Error: " (error) }
                }
            }
        }
        @if !recordings.is_empty() {
            h2 { "Full-call recording" }
        }
        @for full in &recordings {
            section.turn.recording {
                p.muted {
                    "Recording " (full.recording_sid)
                    @if let Some(recording) = &full.recording {
                        " · " (recording.status)
                        @if let Some(d) = recording.duration_s { " · " (d) " s" }
                    }
                }
                @if let Some(url) = full.audio_url(&sid) {
                    audio controls preload="none" src=(url) {}
                }
                @if let Some(transcript) = &full.transcript {
                    p.who { "Transcript" }
                    @if let Some(said) = &transcript.text {
                        @if transcript.segments.len() > 1 {
                            @for segment in &transcript.segments {
                                p dir="auto" {
                                    span.muted { "[" (clock(segment.start_ms)) "] " }
                                    (segment.text)
                                }
                            }
                        } @else {
                            p.transcript dir="auto" { (said) }
                        }
                    }
                    @if let Some(error) = &transcript.error {
                        p.error dir="auto" { "No transcript: " (error) }
                    }
                    p.muted dir="auto" {
                        "speech-to-text " (ms(transcript.stt_ms))
                        @if let Some(provider) = &transcript.provider { " · " (provider) }
                        @if let Some(language) = &transcript.language { " · " (language) }
                    }
                } @else {
                    p.muted { "No transcript yet." }
                }
            }
        }
    };
    page(&state, StatusCode::OK, &format!("Call {sid}"), &body)
}

/// `m:ss` of a time in milliseconds.
fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// How long fetching a recording from Twilio may take.
const RECORDING_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `GET /calls/{sid}/recordings/{recording_sid}`: a full-call recording of the call, fetched
/// from Twilio (Basic auth, `RECORDING_HOSTS`, size cap) and passed on as WAV, for the call
/// page's player. Admin only; 404 unless Twilio reported that recording completed for that call.
pub(crate) async fn call_recording(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((sid, recording_sid)): Path<(String, String)>,
) -> Response {
    if let Some(refused) = page_refusal(&state, &headers) {
        return refused;
    }
    let plain = |status: StatusCode, message: &'static str| (status, message).into_response();
    if !valid_call_sid(&sid) || !valid_recording_sid(&recording_sid) {
        return plain(StatusCode::BAD_REQUEST, "not a call and recording SID\n");
    }
    let recordings = match state.store().call_recordings(&sid).await {
        Ok(recordings) => recordings,
        Err(error) => {
            tracing::error!(error = %crate::error_chain(&error), "cannot read the call's recordings");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n");
        }
    };
    let Some(url) = recordings
        .into_iter()
        .find(|r| r.recording_sid == recording_sid && r.status == "completed")
        .and_then(|r| r.recording_url)
    else {
        return plain(StatusCode::NOT_FOUND, "no such recording\n");
    };
    let Some(client) = state.agent().twilio() else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "recordings cannot be fetched: TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is not set\n",
        );
    };
    let fetched = tokio::time::timeout(
        RECORDING_FETCH_TIMEOUT,
        client.download_recording(&url, kav_twilio_rest::RecordingFormat::Wav),
    )
    .await;
    let media = match fetched {
        Ok(Ok(media)) => media,
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::error_chain(&error), recording_sid, "cannot fetch the recording");
            return plain(StatusCode::BAD_GATEWAY, "cannot fetch the recording\n");
        }
        Err(_) => {
            tracing::warn!(recording_sid, "fetching the recording timed out");
            return plain(
                StatusCode::GATEWAY_TIMEOUT,
                "fetching the recording timed out\n",
            );
        }
    };
    let content_type = media
        .content_type
        .as_deref()
        .filter(|t| t.starts_with("audio/"))
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("audio/wav"));
    crate::app::audio_response(&headers, content_type, "private, max-age=3600", media.bytes)
}

fn direction_label(message: &SmsMessage) -> &'static str {
    if message.is_inbound() {
        "Received"
    } else {
        "Sent"
    }
}

/// `GET /sms`: every number with its newest message, newest first.
pub(crate) async fn sms_threads(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = page_refusal(&state, &headers) {
        return refused;
    }
    let request = match parse_sms_query(raw.as_deref()) {
        Ok(request) => request,
        Err(message) => return message_page(&state, StatusCode::BAD_REQUEST, &message),
    };
    let offset = (request.page - 1) * request.limit;
    let threads = match state
        .store()
        .sms_threads(request.number.as_deref(), request.limit, offset)
        .await
    {
        Ok(threads) => threads,
        Err(error) => {
            tracing::error!(error = %crate::error_chain(&error), "cannot read the sms history");
            return message_page(&state, StatusCode::SERVICE_UNAVAILABLE, "store unreachable");
        }
    };
    let full = i64::try_from(threads.len()).unwrap_or(i64::MAX) == request.limit;
    let mut base: Vec<(&str, String)> = Vec::new();
    if let Some(number) = &request.number {
        base.push(("number", number.clone()));
    }
    if request.limit != crate::api::DEFAULT_SMS_THREADS {
        base.push(("limit", request.limit.to_string()));
    }
    let older = full.then(|| {
        let mut pairs = base.clone();
        pairs.push(("page", (request.page + 1).to_string()));
        format!("/sms?{}", query_string(&pairs))
    });
    let body = html! {
        (nav(Section::Sms))
        h1 { "SMS" }
        form.filters method="get" action="/sms" {
            input type="search" name="number" placeholder="Phone number"
                value=(request.number.as_deref().unwrap_or_default()) dir="auto";
            button type="submit" { "Find" }
        }
        div.scroll {
            table.list {
                thead { tr {
                    th { "Number" } th { "Last message" } th { "Date" } th { "Direction" }
                    th { "Status" } th { "Messages" }
                } }
                tbody {
                    @for thread in &threads {
                        @let last = &thread.last;
                        tr {
                            td.nowrap dir="auto" {
                                @if valid_address(&thread.number) {
                                    a href=(thread_href(&thread.number)) { (thread.number) }
                                } @else { (thread.number) }
                            }
                            td.words dir="auto" {
                                (last.body.as_deref().map_or_else(String::new, |t| first_words(t, FIRST_WORDS_CHARS)))
                            }
                            td.nowrap { (display_time(last.created_at)) }
                            td { (direction_label(last)) }
                            td dir="auto" data-label="Status" { (text(last.status.as_deref())) }
                            td data-label="Messages" { (thread.count) }
                        }
                    }
                    @if threads.is_empty() {
                        tr { td.muted colspan="6" { "No messages." } }
                    }
                }
            }
        }
        div.paging {
            @if request.page > 1 {
                a href={ "/sms?" (query_string(&base)) } { "Newest" }
            }
            @if let Some(older) = &older { a href=(older) rel="next" { "Older →" } }
        }
    };
    page(&state, StatusCode::OK, "SMS", &body)
}

/// `GET /sms/{number}`: the messages exchanged with one number, oldest first, with the
/// agent's replies.
pub(crate) async fn sms_thread(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    if let Some(refused) = page_refusal(&state, &headers) {
        return refused;
    }
    if !valid_address(&number) {
        return message_page(
            &state,
            StatusCode::BAD_REQUEST,
            "Not a phone number (like +972501234567)",
        );
    }
    let messages = match state.store().sms_thread(&number, SMS_THREAD_MESSAGES).await {
        Ok(messages) => messages,
        Err(error) => {
            tracing::error!(error = %crate::error_chain(&error), "cannot read the sms history");
            return message_page(&state, StatusCode::SERVICE_UNAVAILABLE, "store unreachable");
        }
    };
    if messages.is_empty() {
        return message_page(
            &state,
            StatusCode::NOT_FOUND,
            "No messages with this number",
        );
    }
    let body = html! {
        (nav(Section::Sms))
        p { a href="/sms" { "← All SMS" } }
        h1 { "SMS with " bdi { (number) } }
        p { a href={ "/calls?" (query_string(&[("number", number.clone())])) } { "Calls with this number" } }
        @for message in &messages {
            section.msg.inbound[message.is_inbound()].outbound[!message.is_inbound()] {
                p.meta {
                    (direction_label(message)) " · " (display_time(message.created_at))
                    @if let Some(status) = &message.status { " · " bdi { (status) } }
                    @if let Some(code) = &message.error_code { " · " span.error { "error " (code) } }
                    @if let Some(context) = &message.context_id { " · context " bdi { (context) } }
                }
                p dir="auto" { (text(message.body.as_deref())) }
            }
            @if let Some(reply) = &message.reply {
                section.msg.outbound {
                    p.meta { "Agent reply (TwiML) · " (display_time(message.updated_at)) }
                    p dir="auto" { (reply) }
                }
            }
            @if let Some(why) = &message.reply_error {
                p.meta dir="auto" { "No reply: " (why) }
            }
        }
    };
    page(&state, StatusCode::OK, &format!("SMS {number}"), &body)
}
