//! Outbound calls and messages through Twilio's REST API: `POST /api/calls` and
//! `POST /api/sms` (admin bearer auth, like the rest of `/api`).
//!
//! Both need `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_PHONE_NUMBER` and a public base
//! URL (`PUBLIC_BASE_URL`, or the one the request arrived on), else they answer 503 saying
//! what is missing. A Twilio error answers 502 with Twilio's code and message.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kav_twilio_rest::{
    AccountSid, CallEvent, CallInstructions, CreateCall, CreateMessage, Credentials, PhoneNumber,
    SecretString, TwilioClient, Url,
};
use kav_twilio_sig::PublicBaseUrl;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::config::CallMode;
use crate::store::{OutboundCall, OutboundSms, now_millis};
use crate::webhooks::public_base;

/// Longest accepted `context_id`.
pub(crate) const MAX_CONTEXT_ID_LEN: usize = 128;

/// Whether `id` is an acceptable `context_id`: 1 to 128 of `A-Z a-z 0-9 - _ . :`.
pub(crate) fn valid_context_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CONTEXT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The conversation mode of a webhook's query string (`?mode=record` or `?mode=gather`, put
/// there by `POST /api/calls`), when present and valid.
pub(crate) fn query_mode(query: Option<&str>) -> Option<CallMode> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "mode")
        .and_then(|(_, v)| parse_mode(&v))
}

fn parse_mode(mode: &str) -> Option<CallMode> {
    match mode {
        "record" => Some(CallMode::Record),
        "gather" => Some(CallMode::Gather),
        _ => None,
    }
}

/// The `context_id` of a webhook's query string, when present and valid.
pub(crate) fn query_context_id(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "context_id")
        .map(|(_, v)| v.into_owned())
        .filter(|v| valid_context_id(v))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// The Twilio client, our number and the public base URL, or the 503 answer.
#[allow(clippy::result_large_err)]
fn twilio(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<(TwilioClient, PhoneNumber, PublicBaseUrl), Response> {
    let config = state.config();
    let unavailable = |what: &str| {
        tracing::warn!("outbound request refused (503): {what}");
        error(StatusCode::SERVICE_UNAVAILABLE, what)
    };
    let (Some(sid), Some(token), Some(number)) = (
        config.twilio_account_sid(),
        config.twilio_auth_token(),
        config.twilio_phone_number(),
    ) else {
        return Err(unavailable(
            "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and \
             TWILIO_PHONE_NUMBER",
        ));
    };
    let Some(base) = public_base(state, parts) else {
        return Err(unavailable(
            "no public base URL for Twilio's webhooks: set PUBLIC_BASE_URL",
        ));
    };
    let credentials = AccountSid::new(sid).and_then(|sid| {
        Credentials::auth_token(sid, SecretString::from(token.expose_secret().to_owned()))
    });
    let client = credentials.and_then(|credentials| {
        TwilioClient::builder(credentials)
            .base_url(config.twilio_api_base_url().as_str().trim_end_matches('/'))
            .build()
    });
    let number = PhoneNumber::new(number);
    match (client, number) {
        (Ok(client), Ok(number)) => Ok((client, number, base)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %crate::error_chain(&e), "cannot build the Twilio client");
            Err(unavailable(
                "Twilio is misconfigured: check TWILIO_ACCOUNT_SID and TWILIO_PHONE_NUMBER",
            ))
        }
    }
}

/// The answer to a failed Twilio request: 502 with Twilio's code and message.
fn twilio_failed(e: &kav_twilio_rest::Error) -> Response {
    tracing::error!(error = %crate::error_chain(e), "Twilio request failed");
    let body = match e {
        kav_twilio_rest::Error::Api(api) => json!({
            "error": "Twilio refused the request",
            "twilio_status": api.status,
            "twilio_code": api.code,
            "twilio_message": api.message,
        }),
        _ => json!({ "error": "Twilio could not be reached" }),
    };
    (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
}

fn webhook_url(base: &PublicBaseUrl, path: &str, context_id: Option<&str>) -> Option<Url> {
    webhook_url_with(base, path, context_id, None)
}

/// `{base}{path}`, with `?context_id=` and `&mode=` when given.
fn webhook_url_with(
    base: &PublicBaseUrl,
    path: &str,
    context_id: Option<&str>,
    mode: Option<CallMode>,
) -> Option<Url> {
    let mut url = Url::parse(&base.join(path)).ok()?;
    if let Some(id) = context_id {
        url.query_pairs_mut().append_pair("context_id", id);
    }
    if let Some(mode) = mode {
        url.query_pairs_mut().append_pair("mode", mode.as_str());
    }
    Some(url)
}

/// Reads the admin-authorized JSON body, or the refusal.
#[allow(clippy::result_large_err)]
async fn admin_json<T: for<'de> Deserialize<'de>>(
    state: &AppState,
    request: Request,
) -> Result<(axum::http::request::Parts, T), Response> {
    let (parts, body) = request.into_parts();
    if let Some(refused) = crate::api::refusal(state, &parts.headers) {
        return Err(refused);
    }
    let bytes: Bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"))?;
    let value = serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))?;
    Ok((parts, value))
}

#[allow(clippy::result_large_err)]
fn validate(to: &str, context_id: Option<&str>) -> Result<(PhoneNumber, Option<String>), Response> {
    let to = PhoneNumber::new(to).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "`to` must be an E.164 number like +972501234567",
        )
    })?;
    if let Some(id) = context_id
        && !valid_context_id(id)
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "`context_id` must be 1 to 128 of A-Z a-z 0-9 - _ . :",
        ));
    }
    Ok((to, context_id.map(str::to_owned)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallRequest {
    to: String,
    context_id: Option<String>,
    mode: Option<String>,
}

/// `POST /api/calls` `{to, context_id?, mode?}`: places a call whose TwiML comes from
/// `{base}/webhook/incoming_call` (with `?context_id=` and `&mode=` when given, so the call
/// runs in the mode asked for) and whose progress goes to `{base}/webhook/call_status` (with
/// `?context_id=`); with `KAV_RECORD_CALLS=true` the whole call is recorded (`Record=true`)
/// and `{base}/webhook/recording_status` is told when the recording is ready. Answers 201
/// `{sid, status}`; the call is stored with its mode and context id.
pub(crate) async fn place_call(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = match admin_json::<CallRequest>(&state, request).await {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let (to, context_id) = match validate(&body.to, body.context_id.as_deref()) {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let mode = match body.mode.as_deref().map(parse_mode) {
        None => None,
        Some(Some(mode)) => Some(mode),
        Some(None) => return error(StatusCode::BAD_REQUEST, "`mode` must be record or gather"),
    };
    if mode == Some(CallMode::Record) && state.agent().stt().is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "`mode` record needs a speech-to-text provider (OPENAI_API_KEY or Google)",
        );
    }
    let (client, from, base) = match twilio(&state, &parts) {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let (Some(url), Some(status_url), Some(recording_url)) = (
        webhook_url_with(&base, "/webhook/incoming_call", context_id.as_deref(), mode),
        webhook_url(&base, "/webhook/call_status", context_id.as_deref()),
        webhook_url(&base, "/webhook/recording_status", context_id.as_deref()),
    ) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the public base URL does not make valid webhook URLs",
        );
    };
    let mut params = CreateCall::new(
        to.clone(),
        from.clone(),
        CallInstructions::Url { url, method: None },
    )
    .status_callback(status_url)
    .status_callback_events([
        CallEvent::Initiated,
        CallEvent::Ringing,
        CallEvent::Answered,
        CallEvent::Completed,
    ]);
    if state.config().record_calls() {
        params = params.record(true).recording_status_callback(recording_url);
    }
    let call = match client.create_call(&params).await {
        Ok(call) => call,
        Err(e) => return twilio_failed(&e),
    };
    let Some(sid) = call.sid else {
        tracing::error!("Twilio accepted the call but sent no sid");
        return error(StatusCode::BAD_GATEWAY, "Twilio's answer had no call sid");
    };
    let status = call
        .status
        .map_or_else(|| "queued".to_owned(), |s| s.as_str().to_owned());
    let record = OutboundCall {
        sid: sid.as_str().to_owned(),
        status: status.clone(),
        from: from.as_str().to_owned(),
        to: to.as_str().to_owned(),
        context_id,
        mode: mode.map(|m| m.as_str().to_owned()),
    };
    if let Err(e) = state
        .store()
        .record_outbound_call(&record, now_millis())
        .await
    {
        tracing::error!(error = %crate::error_chain(&e), call_sid = %record.sid, "outbound call NOT stored");
    }
    tracing::info!(call_sid = %record.sid, %status, "outbound call placed");
    (
        StatusCode::CREATED,
        axum::Json(json!({ "sid": record.sid, "status": status })),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsRequest {
    to: String,
    body: String,
    context_id: Option<String>,
}

/// `POST /api/sms` `{to, body, context_id?}`: sends a message whose delivery status goes to
/// `{base}/webhook/sms_status`; answers 201 `{sid, status}`.
pub(crate) async fn send_sms(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = match admin_json::<SmsRequest>(&state, request).await {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let (to, context_id) = match validate(&body.to, body.context_id.as_deref()) {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let chars = body.body.chars().count();
    if chars == 0 || chars > kav_twilio_rest::MAX_BODY_CHARS {
        return error(
            StatusCode::BAD_REQUEST,
            "`body` must be 1 to 1600 characters",
        );
    }
    let (client, from, base) = match twilio(&state, &parts) {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let Some(status_url) = webhook_url(&base, "/webhook/sms_status", None) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the public base URL does not make valid webhook URLs",
        );
    };
    let params = CreateMessage::new(to.clone(), from.clone())
        .body(body.body.clone())
        .status_callback(status_url);
    let message = match client.create_message(&params).await {
        Ok(message) => message,
        Err(e) => return twilio_failed(&e),
    };
    let Some(sid) = message.sid else {
        tracing::error!("Twilio accepted the message but sent no sid");
        return error(
            StatusCode::BAD_GATEWAY,
            "Twilio's answer had no message sid",
        );
    };
    let status = message
        .status
        .map_or_else(|| "queued".to_owned(), |s| s.as_str().to_owned());
    let record = OutboundSms {
        sid: sid.as_str().to_owned(),
        status: status.clone(),
        from: from.as_str().to_owned(),
        to: to.as_str().to_owned(),
        body: body.body,
        context_id,
    };
    if let Err(e) = state
        .store()
        .record_outbound_sms(&record, now_millis())
        .await
    {
        tracing::error!(error = %crate::error_chain(&e), message_sid = %record.sid, "outbound sms NOT stored");
    }
    tracing::info!(message_sid = %record.sid, %status, "sms sent");
    (
        StatusCode::CREATED,
        axum::Json(json!({ "sid": record.sid, "status": status })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_context_ids_of_a_query() {
        assert_eq!(
            query_mode(Some("context_id=order-42&mode=gather")),
            Some(CallMode::Gather)
        );
        assert_eq!(query_mode(Some("mode=record")), Some(CallMode::Record));
        assert_eq!(query_mode(Some("mode=stream")), None);
        assert_eq!(query_mode(Some("context_id=x")), None);
        assert_eq!(query_mode(None), None);
        assert_eq!(
            query_context_id(Some("context_id=order-42&mode=gather")).as_deref(),
            Some("order-42")
        );
        let base = PublicBaseUrl::parse("https://kav.example.com/p").unwrap();
        assert_eq!(
            webhook_url_with(
                &base,
                "/webhook/incoming_call",
                Some("a:1"),
                Some(CallMode::Gather)
            )
            .unwrap()
            .as_str(),
            "https://kav.example.com/p/webhook/incoming_call?context_id=a%3A1&mode=gather"
        );
    }
}
