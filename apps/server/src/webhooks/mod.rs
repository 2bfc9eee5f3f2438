//! The `/webhook/*` routes Twilio calls: POST only, signed, observed.
//!
//! Every webhook route goes through, from the outside in:
//! 1. [`observe`]: reads the body (up to `KAV_WEBHOOK_BODY_LIMIT`, else 413), opens a
//!    `webhook` span carrying the route and the `CallSid` (so every log line of the request
//!    names the call), and counts the request and its duration in the metrics;
//! 2. the method check (anything but POST answers 405, before any signature check);
//! 3. the signature guard: [`kav_twilio_sig::TwilioSignatureLayer`], or a refusal (403) when
//!    no `TWILIO_AUTH_TOKEN` is configured, or nothing when `KAV_SIGNATURE_CHECK=off`;
//! 4. the handler.

mod call_status;
mod conversation;
mod recording_status;
mod sms;
mod sms_status;

pub(crate) use conversation::{admin_authorized, preview, public_base, same_token};
pub(crate) use sms::valid_address;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http_body_util::LengthLimitError;
use kav_twilio_sig::TwilioSignatureLayer;
use tracing::Instrument as _;

use crate::app::AppState;
use crate::metrics::Stage;

/// The webhook routes, to merge into the application router.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/webhook/call_status",
            guarded(state, post(call_status::handle)),
        )
        .route("/webhook/sms", guarded(state, post(sms::handle)))
        .route(
            "/webhook/sms_status",
            guarded(state, post(sms_status::handle)),
        )
        .route(
            "/webhook/incoming_call",
            guarded(state, post(conversation::incoming_call)),
        )
        .route(
            conversation::RECORDING_PATH,
            guarded(state, post(conversation::handle_recording)),
        )
        .route(
            "/webhook/recording_status",
            guarded(state, post(recording_status::handle)),
        )
        .route(
            conversation::GATHER_PATH,
            guarded(state, post(conversation::gather_result)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
}

/// Puts the signature guard on a POST-only method router (on the POST handler only, so other
/// methods get 405 without a signature check).
fn guarded(state: &AppState, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    let config = state.config();
    let limit = config.webhook_body_limit();
    let route = route.layer(DefaultBodyLimit::max(limit));
    if !config.signature_check() {
        return route;
    }
    match state.validator() {
        Some(validator) => route.route_layer(
            TwilioSignatureLayer::new(validator.clone(), config.url_source()).body_limit(limit),
        ),
        None => route.route_layer(middleware::from_fn(refuse_unconfigured)),
    }
}

async fn refuse_unconfigured(_request: Request, _next: Next) -> Response {
    tracing::warn!(
        "webhook refused (403): TWILIO_AUTH_TOKEN is not set, so signatures cannot be checked; \
         set TWILIO_AUTH_TOKEN to your Twilio auth token (or KAV_SIGNATURE_CHECK=off, for \
         development only)"
    );
    (
        StatusCode::FORBIDDEN,
        "webhooks are disabled: TWILIO_AUTH_TOKEN is not set\n",
    )
        .into_response()
}

/// Runs a store operation within `limit`. A store error or a timeout is logged as an error
/// (`{what} NOT stored: …`) and gives `None`: a webhook never fails because of the store.
async fn stored<T>(
    what: &str,
    limit: Duration,
    operation: impl Future<Output = Result<T, crate::Error>>,
) -> Option<T> {
    match tokio::time::timeout(limit, operation).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::error!(error = %crate::error_chain(&error), "{what} NOT stored: store error");
            None
        }
        Err(_) => {
            tracing::error!("{what} NOT stored: the store did not answer in time");
            None
        }
    }
}

/// The model's answer to `messages` within `deadline`: its trimmed text (never empty) and how
/// long it took, observed as the LLM stage; or why there is none (an empty reply, a provider
/// error, a timeout), counted as an LLM provider error.
async fn model_reply(
    state: &AppState,
    messages: &[kav_llm::Message],
    deadline: Duration,
) -> Result<(String, Duration), String> {
    let chat = state.agent().chat();
    let start = Instant::now();
    let reply = tokio::time::timeout(deadline, chat.reply(messages)).await;
    let elapsed = start.elapsed();
    let failure = match reply {
        Ok(Ok(reply)) if !reply.text.trim().is_empty() => {
            state.metrics().observe_stage(Stage::Llm, elapsed);
            return Ok((reply.text.trim().to_owned(), elapsed));
        }
        Ok(Ok(_)) => "llm: empty reply".to_owned(),
        Ok(Err(error)) => format!("llm: {}", crate::error_chain(&error)),
        Err(_) => "llm: timed out".to_owned(),
    };
    let provider = chat.provider().to_string().to_ascii_lowercase();
    state.metrics().provider_error(&provider, Stage::Llm);
    Err(failure)
}

/// A `CallSid` fit for logs: Twilio's are `CA` + 32 hex digits; anything odd is replaced.
fn loggable_sid(value: &str) -> &str {
    if !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        value
    } else {
        "invalid"
    }
}

fn find_call_sid(query: Option<&str>, body: &[u8]) -> Option<String> {
    let from = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "CallSid")
            .map(|(_, v)| loggable_sid(&v).to_owned())
    };
    from(body).or_else(|| query.and_then(|q| from(q.as_bytes())))
}

async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let limit = state.config().webhook_body_limit();
    let (parts, body) = request.into_parts();
    let span = tracing::info_span!(
        "webhook",
        route = %route,
        call_sid = tracing::field::Empty
    );
    let response = async {
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(bytes) => bytes,
            Err(error) => {
                let too_large = std::error::Error::source(&error)
                    .is_some_and(<dyn std::error::Error>::is::<LengthLimitError>);
                return if too_large {
                    tracing::warn!(limit, "webhook refused (413): body too large");
                    (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response()
                } else {
                    tracing::warn!(%error, "webhook refused (400): cannot read the body");
                    (StatusCode::BAD_REQUEST, "cannot read the request body\n").into_response()
                };
            }
        };
        if let Some(sid) = find_call_sid(parts.uri.query(), &bytes) {
            tracing::Span::current().record("call_sid", tracing::field::display(&sid));
        }
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            "webhook answered"
        );
        response
    }
    .instrument(span)
    .await;
    state
        .metrics()
        .observe_webhook(&route, response.status().as_u16(), start.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_sid_for_logs() {
        assert_eq!(
            find_call_sid(None, b"From=%2B1&CallSid=CA0123"),
            Some("CA0123".to_owned())
        );
        assert_eq!(
            find_call_sid(Some("CallSid=CAq"), b"x=1"),
            Some("CAq".to_owned())
        );
        assert_eq!(
            find_call_sid(None, b"CallSid=CA%0Afake%20line"),
            Some("invalid".to_owned())
        );
        assert_eq!(find_call_sid(None, b""), None);
    }
}
