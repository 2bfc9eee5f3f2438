//! Gather mode: `POST /webhook/incoming_call` greets the caller inside a speech `<Gather>`,
//! `POST /webhook/gather` answers each `SpeechResult` with the language model and listens
//! again. Every answer is 200 with TwiML, whatever fails.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kav_llm::{Conversation, ConversationConfig};
use kav_stt::{AudioClip, Verdict};
use kav_twilio_rest::RecordingFormat;
use kav_twilio_sig::{PublicBaseUrl, candidate_urls};
use kav_twiml::voice::{Gather, Hangup, Record, Recording, Start, VoiceResponse};
use kav_twiml::{DtmfKeys, GatherInput, HttpMethod, RecordingEvent, SpeechTimeout, Trim};

use crate::agent::{AgentReply, END_CALL_INSTRUCTION, Spoken, Voice, absolute};
use crate::app::AppState;
use crate::config::CallMode;
use crate::metrics::Stage;
use crate::store::{Turn, now_millis};

/// How long the store may take for one operation inside a turn.
const STORE_TIMEOUT: Duration = Duration::from_secs(3);

/// The path Twilio posts speech results to.
pub(crate) const GATHER_PATH: &str = "/webhook/gather";
/// The path Twilio posts recordings to.
pub(crate) const RECORDING_PATH: &str = "/webhook/handle_recording";
/// The path Twilio posts full-call recording events to.
pub(crate) const RECORDING_STATUS_PATH: &str = "/webhook/recording_status";

pub(crate) fn twiml(response: &VoiceResponse) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        )],
        response.to_xml(),
    )
        .into_response()
}

/// The public base URL: `PUBLIC_BASE_URL`, else derived from the request exactly as the
/// signature check derives the URL it verifies (trusted proxy headers with
/// `TRUST_PROXY_HEADERS=true`, else `http://` + `Host`), minus the request's path.
pub(crate) fn public_base(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Option<PublicBaseUrl> {
    if let Some(base) = state.config().public_base_url() {
        return Some(base.clone());
    }
    let url = candidate_urls(parts, &state.config().url_source())
        .ok()?
        .into_iter()
        .next()?;
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let origin = url.strip_suffix(path_and_query).unwrap_or(&url);
    PublicBaseUrl::parse(origin).ok()
}

/// Validates `CallSid`: `CA` + 32 alphanumerics.
pub(crate) fn call_sid(params: &[(String, String)]) -> Option<String> {
    let sid = param(params, "CallSid")?;
    crate::sid::valid("CA", &sid).then_some(sid)
}

pub(crate) fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

async fn split(request: Request) -> (axum::http::request::Parts, Vec<(String, String)>) {
    let (parts, body) = request.into_parts();
    // The observe layer already read the body within the limit.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_else(|_| Bytes::new());
    let params = url::form_urlencoded::parse(&bytes).into_owned().collect();
    (parts, params)
}

/// `spoken`, then listening for the caller the way `mode` says: a speech `<Gather>` around
/// it, or `<Record>` after it. `next_turn` is the index the caller's next turn will have.
fn listen(
    state: &AppState,
    base: &PublicBaseUrl,
    spoken: Spoken,
    mode: CallMode,
    next_turn: i64,
) -> VoiceResponse {
    listen_after(state, base, spoken, VoiceResponse::new(), mode, next_turn)
}

/// [`listen`], appended to `response`.
fn listen_after(
    state: &AppState,
    base: &PublicBaseUrl,
    spoken: Spoken,
    response: VoiceResponse,
    mode: CallMode,
    next_turn: i64,
) -> VoiceResponse {
    match mode {
        CallMode::Record => record(base, spoken, response),
        _ => gather(state, base, spoken, response, next_turn),
    }
}

/// `<Start><Recording>` of the whole call, reporting to `/webhook/recording_status` when the
/// recording is complete (`KAV_RECORD_CALLS=true`).
fn start_recording(base: &PublicBaseUrl) -> Option<Start> {
    let callback = absolute(base, RECORDING_STATUS_PATH)?;
    Some(
        Start::new().recording(
            Recording::new()
                .recording_status_callback(callback)
                .recording_status_callback_method(HttpMethod::Post)
                .recording_status_callback_event([RecordingEvent::Completed]),
        ),
    )
}

/// `spoken`, then `<Record>` posting to `/webhook/handle_recording`.
fn record(base: &PublicBaseUrl, spoken: Spoken, response: VoiceResponse) -> VoiceResponse {
    let mut record = Record::new()
        .method(HttpMethod::Post)
        .timeout(5)
        .max_length(30)
        .play_beep(true)
        .trim(Trim::DoNotTrim);
    if let Ok(star) = DtmfKeys::new("*") {
        record = record.finish_on_key(star);
    }
    if let Some(action) = absolute(base, RECORDING_PATH) {
        record = record.action(action);
    }
    spoken.speech.into_response(response).record(record)
}

/// A speech `<Gather>` posting to `/webhook/gather?turn={next_turn}`, with `speech` inside.
///
/// The turn index in the (signed) action URL lets a request Twilio sends again be recognized:
/// its turn is already stored, so it is answered again without a second model call or turn.
fn gather(
    state: &AppState,
    base: &PublicBaseUrl,
    spoken: Spoken,
    response: VoiceResponse,
    next_turn: i64,
) -> VoiceResponse {
    let mut gather = Gather::new()
        .input([GatherInput::Speech])
        .language(state.config().language())
        .method(HttpMethod::Post)
        .speech_timeout(SpeechTimeout::Auto);
    if let Some(action) = absolute(base, &format!("{GATHER_PATH}?turn={next_turn}")) {
        gather = gather.action(action);
    }
    response.gather(spoken.speech.into_gather(gather))
}

fn voice<'a>(state: &'a AppState, base: &'a PublicBaseUrl) -> Voice<'a> {
    Voice {
        agent: state.agent(),
        config: state.config(),
        store: state.store(),
        metrics: state.metrics(),
        base,
    }
}

/// The goodbye and `<Hangup/>`, synthesized within `deadline` (else `<Say>`).
async fn goodbye(
    state: &AppState,
    base: Option<&PublicBaseUrl>,
    deadline: Duration,
) -> VoiceResponse {
    let text = state.config().goodbye_text();
    let spoken = match base {
        Some(base) => voice(state, base).speak(text, true, deadline).await,
        None => return VoiceResponse::new().hangup(Hangup::new()),
    };
    spoken
        .speech
        .into_response(VoiceResponse::new())
        .hangup(Hangup::new())
}

pub(crate) async fn incoming_call(State(state): State<AppState>, request: Request) -> Response {
    let (parts, params) = split(request).await;
    let Some(base) = public_base(&state, &parts) else {
        tracing::error!("no public base URL: set PUBLIC_BASE_URL");
        return twiml(&goodbye(&state, None, Duration::ZERO).await);
    };
    // An outbound call's mode (`POST /api/calls`) rides in the signed URL; else CALL_MODE.
    let mode = crate::outbound::query_mode(parts.uri.query()).unwrap_or(state.config().call_mode());
    match super::call_status::parse_event(params) {
        Ok(event) => {
            super::stored(
                "call",
                STORE_TIMEOUT,
                state.store().record_call_status(&event, now_millis()),
            )
            .await;
            super::call_status::store_context(
                &state,
                &event.call_sid,
                parts.uri.query(),
                Some(mode),
            )
            .await;
        }
        Err(reason) => tracing::warn!(%reason, "incoming call not stored"),
    }
    twiml(&greeting(&state, &base, mode).await)
}

/// The greeting, then listening (what `incoming_call` answers); with `KAV_RECORD_CALLS=true`
/// the whole call's recording starts first.
async fn greeting(state: &AppState, base: &PublicBaseUrl, mode: CallMode) -> VoiceResponse {
    let spoken = voice(state, base)
        .speak(
            state.config().greeting_text(),
            true,
            state.config().turn_timeout(),
        )
        .await;
    let mut response = VoiceResponse::new();
    if state.config().record_calls()
        && let Some(start) = start_recording(base)
    {
        response = response.start(start);
    }
    listen_after(state, base, spoken, response, mode, 0)
}

/// Whether `headers` carry `Authorization: Bearer {ADMIN_TOKEN}` (compared in constant time
/// for tokens of the same length).
pub(crate) fn admin_authorized(state: &AppState, headers: &axum::http::HeaderMap) -> Option<bool> {
    use secrecy::ExposeSecret as _;
    let expected = state.config().admin_token()?.expose_secret().as_bytes();
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes)
        .unwrap_or_default();
    Some(same_token(given, expected))
}

/// Whether `given` is `expected`, compared in constant time for tokens of the same length.
pub(crate) fn same_token(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `GET /webhook/incoming_call_preview`: the TwiML an incoming call would get now, for an
/// administrator (`Authorization: Bearer $ADMIN_TOKEN`); nothing is stored. 404 when
/// `ADMIN_TOKEN` is unset, 401 without the right token.
pub(crate) async fn preview(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    // 404 saying how to turn admin routes on, or 401: like every admin route.
    if let Some(refused) = crate::api::refusal(&state, &parts.headers) {
        tracing::warn!("preview refused: admin routes are off, or the admin token is wrong");
        return refused;
    }
    let Some(base) = public_base(&state, &parts) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no public base URL\n").into_response();
    };
    twiml(&greeting(&state, &base, state.config().call_mode()).await)
}

/// The system prompt sent to the model: `KAV_SYSTEM_PROMPT` and how to end the call.
pub(crate) fn system_prompt(state: &AppState) -> String {
    format!(
        "{}\n\n{END_CALL_INSTRUCTION}",
        state.config().system_prompt()
    )
}

/// The model's answer to `speech` given the call's earlier turns, within `deadline`, and its
/// time in ms.
async fn answer(
    state: &AppState,
    history: &[Turn],
    speech: &str,
    deadline: Duration,
) -> Result<(AgentReply, i64), String> {
    let mut conversation =
        Conversation::new(&ConversationConfig::default().with_system_prompt(system_prompt(state)))
            .map_err(|e| crate::error_chain(&e))?;
    for turn in history.iter().filter(|t| t.error.is_none()) {
        if let (Some(said), Some(replied)) = (&turn.transcript, &turn.reply) {
            conversation.push_user(said.clone());
            conversation.push_assistant(replied.clone());
        }
    }
    conversation.push_user(speech.to_owned());
    let (text, elapsed) = super::model_reply(state, conversation.messages(), deadline).await?;
    // Only the marker gives an empty text: the call ends without more words.
    let reply = state.agent().interpret(speech, &text);
    Ok((
        reply,
        i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
    ))
}

/// What a turn starts from: the call, its earlier turns and the new turn's row.
struct TurnStart {
    base: PublicBaseUrl,
    history: Vec<Turn>,
    store_ok: bool,
    turn: Turn,
}

/// Reads the call's turns; `Err` is the TwiML to answer at once (no valid call).
async fn start_turn(
    state: &AppState,
    parts: &axum::http::request::Parts,
    params: &[(String, String)],
) -> Result<TurnStart, Response> {
    let base = public_base(state, parts);
    let (Some(base), Some(sid)) = (base, call_sid(params)) else {
        tracing::warn!("turn without a valid CallSid or public URL: hanging up");
        return Err(twiml(
            &goodbye(
                state,
                state.config().public_base_url(),
                state.config().turn_timeout(),
            )
            .await,
        ));
    };
    let history = tokio::time::timeout(STORE_TIMEOUT, state.store().turns(&sid)).await;
    let (history, store_ok) = match history {
        Ok(Ok(turns)) => (turns, true),
        Ok(Err(error)) => {
            tracing::error!(error = %crate::error_chain(&error), "cannot read the call's turns");
            (Vec::new(), false)
        }
        Err(_) => {
            tracing::error!("cannot read the call's turns: the store did not answer in time");
            (Vec::new(), false)
        }
    };
    let turn = Turn {
        call_sid: sid,
        index: i64::try_from(history.len()).unwrap_or(i64::MAX),
        ..Turn::default()
    };
    Ok(TurnStart {
        base,
        history,
        store_ok,
        turn,
    })
}

/// Answers the caller (the reply, or the fallback / goodbye when `outcome` failed), stores
/// the turn and renders the TwiML.
async fn finish_turn(
    state: &AppState,
    start: TurnStart,
    started: Instant,
    outcome: Result<String, String>,
    mode: CallMode,
) -> Response {
    let TurnStart {
        base,
        history,
        store_ok,
        mut turn,
    } = start;
    let config = state.config();
    let outcome = match outcome {
        Ok(speech) => {
            turn.transcript = Some(speech.clone());
            let remaining = config.turn_timeout().saturating_sub(started.elapsed());
            answer(state, &history, &speech, remaining).await
        }
        Err(error) => Err(error),
    };
    let remaining = config.turn_timeout().saturating_sub(started.elapsed());
    let voice = voice(state, &base);
    let response = match outcome {
        Ok((AgentReply { text, .. }, llm_ms)) if text.is_empty() => {
            tracing::info!("the agent ends the call without a word");
            turn.llm_ms = Some(llm_ms);
            VoiceResponse::new().hangup(Hangup::new())
        }
        Ok((AgentReply { text, end_call }, llm_ms)) => {
            turn.llm_ms = Some(llm_ms);
            let spoken = voice.speak(&text, false, remaining).await;
            turn.reply = Some(text);
            turn.tts_audio_id = spoken.audio_id.as_ref().map(ToString::to_string);
            turn.tts_ms = spoken.tts_ms;
            if end_call {
                tracing::info!("the agent ends the call");
                spoken
                    .speech
                    .into_response(VoiceResponse::new())
                    .hangup(Hangup::new())
            } else {
                listen(state, &base, spoken, mode, turn.index + 1)
            }
        }
        Err(error) => {
            tracing::warn!(%error, "turn failed");
            turn.error = Some(error);
            let failed_before = history
                .iter()
                .rev()
                .take_while(|t| t.error.is_some())
                .count();
            let max = usize::try_from(config.max_failed_turns()).unwrap_or(usize::MAX);
            if failed_before + 1 >= max {
                tracing::info!(failed = failed_before + 1, "too many failed turns: goodbye");
                // What is left of the turn: a slow provider never pushes the answer past
                // Twilio's limit.
                goodbye(state, Some(&base), remaining).await
            } else {
                let spoken = voice.speak(config.fallback_text(), true, remaining).await;
                listen(state, &base, spoken, mode, turn.index + 1)
            }
        }
    };
    if store_ok {
        super::stored(
            "turn",
            STORE_TIMEOUT,
            state.store().save_turn(&turn, now_millis()),
        )
        .await;
    }
    twiml(&response)
}

pub(crate) async fn gather_result(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, params) = split(request).await;
    let start = match start_turn(&state, &parts, &params).await {
        Ok(start) => start,
        Err(response) => return response,
    };
    let speech = param(&params, "SpeechResult");
    if let Some(turn) = answered_gather(&start.history, parts.uri.query(), speech.as_deref()) {
        tracing::info!("a turn already answered (Twilio retried): the same answer again");
        return twiml(&replay(&state, &start, turn, CallMode::Gather).await);
    }
    let speech = speech.ok_or_else(|| "no speech".to_owned());
    finish_turn(&state, start, started, speech, CallMode::Gather).await
}

/// The stored turn a `/webhook/gather` request already produced, when Twilio sends it again:
/// the action URL's `turn` index is stored, with the same `SpeechResult`.
fn answered_gather<'a>(
    history: &'a [Turn],
    query: Option<&str>,
    speech: Option<&str>,
) -> Option<&'a Turn> {
    let index = url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "turn")
        .and_then(|(_, value)| value.parse::<i64>().ok())?;
    history
        .iter()
        .find(|turn| turn.index == index && turn.transcript.as_deref() == speech)
}

/// The recording → what the caller said, or why nothing usable was heard.
async fn transcribe(
    state: &AppState,
    params: &[(String, String)],
    turn: &mut Turn,
    deadline: Duration,
) -> Result<String, String> {
    let agent = state.agent();
    if let Some(sid) = param(params, "RecordingSid")
        && !crate::sid::valid("RE", &sid)
    {
        return Err("malformed RecordingSid".to_owned());
    }
    let url = param(params, "RecordingUrl").ok_or("no recording")?;
    let client = agent.twilio().ok_or(
        "recordings cannot be downloaded: TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is not set",
    )?;
    let media_url = client
        .recording_media_url(&url, RecordingFormat::Wav)
        .map_err(|e| format!("recording refused: {}", crate::error_chain(&e)))?;
    turn.recording_ref = Some(media_url.to_string());
    let stt = agent.stt().ok_or("no speech-to-text provider")?;
    let start = Instant::now();
    let heard = tokio::time::timeout(deadline, async {
        let media = client
            .download_recording(&url, RecordingFormat::Wav)
            .await
            .map_err(|e| format!("download: {}", crate::error_chain(&e)))?;
        let clip = AudioClip::from_wav(&media.bytes)
            .map_err(|e| format!("recording: {}", crate::error_chain(&e)))?;
        if let Verdict::NoSpeech(reason) = agent.guard().before(&clip) {
            return Err(format!("no speech: {reason}"));
        }
        let stt_start = Instant::now();
        let transcript = stt.transcribe(&clip).await.map_err(|e| {
            state
                .metrics()
                .provider_error(&stt.provider().to_string().to_ascii_lowercase(), Stage::Stt);
            format!("stt: {}", crate::error_chain(&e))
        })?;
        state
            .metrics()
            .observe_stage(Stage::Stt, stt_start.elapsed());
        if let Verdict::NoSpeech(reason) = agent.guard().after(&transcript) {
            return Err(format!("no speech: {reason}"));
        }
        Ok(transcript.text.trim().to_owned())
    })
    .await;
    turn.stt_ms = Some(i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX));
    match heard {
        Ok(result) => result,
        Err(_) => {
            state
                .metrics()
                .provider_error(&stt.provider().to_string().to_ascii_lowercase(), Stage::Stt);
            Err("stt: timed out".to_owned())
        }
    }
}

/// The stored turn of this request's recording, when Twilio posts a `RecordingSid` it posted
/// before (a retry of a request already answered): its turn is not downloaded, transcribed,
/// answered or stored a second time.
fn answered_recording<'a>(history: &'a [Turn], params: &[(String, String)]) -> Option<&'a Turn> {
    let sid = param(params, "RecordingSid").filter(|sid| crate::sid::valid("RE", sid))?;
    let same = |reference: &str| {
        reference
            .rsplit('/')
            .next()
            .is_some_and(|file| file.split('.').next() == Some(sid.as_str()))
    };
    history
        .iter()
        .rev()
        .find(|turn| turn.recording_ref.as_deref().is_some_and(same))
}

/// The answer `turn` got, again: its reply (the stored audio, else `<Say>`) and the next
/// `<Record>` or `<Gather>`, or `<Hangup/>` after it when it ended the call; for a failed
/// turn, the fallback phrase (or the goodbye, when it was one failure too many). Nothing is
/// stored.
async fn replay(state: &AppState, start: &TurnStart, turn: &Turn, mode: CallMode) -> VoiceResponse {
    let base = &start.base;
    let voice = voice(state, base);
    let deadline = state.config().turn_timeout();
    let Some(reply) = turn.reply.as_deref().filter(|_| turn.error.is_none()) else {
        let earlier = start
            .history
            .iter()
            .take_while(|t| t.index < turn.index)
            .collect::<Vec<_>>();
        let failed = 1 + earlier
            .iter()
            .rev()
            .take_while(|t| t.error.is_some())
            .count();
        let max = usize::try_from(state.config().max_failed_turns()).unwrap_or(usize::MAX);
        if turn.error.is_some() && failed >= max {
            return goodbye(state, Some(base), deadline).await;
        }
        let spoken = voice
            .speak(state.config().fallback_text(), true, deadline)
            .await;
        return listen(state, base, spoken, mode, turn.index + 1);
    };
    let played = turn
        .tts_audio_id
        .as_deref()
        .and_then(|id| absolute(base, &format!("/media/{id}")));
    let spoken = match played {
        Some(url) => Spoken {
            speech: crate::agent::Speech::Play(kav_twiml::voice::Play::new(url)),
            audio_id: None,
            tts_ms: None,
        },
        None => voice.say(reply),
    };
    let said = turn.transcript.as_deref().unwrap_or_default();
    if state.agent().interpret(said, reply).end_call {
        return spoken
            .speech
            .into_response(VoiceResponse::new())
            .hangup(Hangup::new());
    }
    listen(state, base, spoken, mode, turn.index + 1)
}

pub(crate) async fn handle_recording(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, params) = split(request).await;
    if param(&params, "Digits").as_deref() == Some("hangup") {
        tracing::info!("the caller hung up");
        if param(&params, "RecordingUrl").is_some() {
            last_words(&state, &parts, &params).await;
        }
        return twiml(&VoiceResponse::new().hangup(Hangup::new()));
    }
    let mut start = match start_turn(&state, &parts, &params).await {
        Ok(start) => start,
        Err(response) => return response,
    };
    if let Some(turn) = answered_recording(&start.history, &params) {
        tracing::info!("a recording already answered (Twilio retried): the same answer again");
        return twiml(&replay(&state, &start, turn, CallMode::Record).await);
    }
    let remaining = state
        .config()
        .turn_timeout()
        .saturating_sub(started.elapsed());
    let heard = transcribe(&state, &params, &mut start.turn, remaining).await;
    finish_turn(&state, start, started, heard, CallMode::Record).await
}

/// The recording Twilio posts when the caller hangs up during `<Record>`: what they said last
/// is transcribed and stored as a turn without a reply (nobody is left to hear one). Silence
/// or a too short recording stores nothing; a failure stores the turn with its error.
async fn last_words(
    state: &AppState,
    parts: &axum::http::request::Parts,
    params: &[(String, String)],
) {
    let Ok(mut start) = start_turn(state, parts, params).await else {
        return;
    };
    if answered_recording(&start.history, params).is_some() {
        tracing::info!("the caller's last words are already stored");
        return;
    }
    let heard = transcribe(
        state,
        params,
        &mut start.turn,
        state.config().turn_timeout(),
    )
    .await;
    match heard {
        Ok(speech) => {
            tracing::info!("the caller's last words are stored");
            start.turn.transcript = Some(speech);
        }
        Err(error) if error.starts_with("no speech") => {
            tracing::info!(%error, "nothing said before hanging up");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "the caller's last words are lost");
            start.turn.error = Some(error);
        }
    }
    if !start.store_ok {
        return;
    }
    super::stored(
        "turn",
        STORE_TIMEOUT,
        state.store().save_turn(&start.turn, now_millis()),
    )
    .await;
}
