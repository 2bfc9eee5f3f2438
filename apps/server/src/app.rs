//! The HTTP application: [`app`] builds the router from an [`AppState`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kav_twilio_sig::{RequestValidator, SecretString};
use secrecy::ExposeSecret as _;

use crate::agent::Agent;
use crate::api;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbound;
use crate::pages;
use crate::store::{AudioId, Store};
use crate::webhooks;

/// What every handler shares: configuration, store, metrics and the signature validator.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Store,
    metrics: Metrics,
    validator: Option<RequestValidator>,
    agent: Agent,
}

impl AppState {
    /// The state for `config` and `store`. The validator holds `TWILIO_AUTH_TOKEN` (and the
    /// secondary token, if set); without a token there is none and webhooks are refused,
    /// unless `KAV_SIGNATURE_CHECK=off`.
    ///
    /// The agent is [`Agent::from_config`]: the scripted responder, and espeak-ng when it is
    /// installed.
    #[must_use]
    pub fn new(config: Config, store: Store) -> Self {
        let agent = Agent::from_config(&config);
        Self::with_agent(config, store, agent)
    }

    /// The state with the given language model and text-to-speech provider.
    #[must_use]
    pub fn with_agent(config: Config, store: Store, agent: Agent) -> Self {
        let validator = config.twilio_auth_token().map(|token| {
            let validator =
                RequestValidator::new(SecretString::from(token.expose_secret().to_owned()));
            match config.twilio_auth_token_secondary() {
                Some(old) => {
                    validator.with_secondary(SecretString::from(old.expose_secret().to_owned()))
                }
                None => validator,
            }
        });
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                metrics: Metrics::new(),
                validator,
                agent,
            }),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The metrics registry.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The language model and text-to-speech provider.
    #[must_use]
    pub fn agent(&self) -> &Agent {
        &self.inner.agent
    }

    /// The webhook signature validator, when a token is configured.
    #[must_use]
    pub fn validator(&self) -> Option<&RequestValidator> {
        self.inner.validator.as_ref()
    }
}

/// How long `/ready` and `/metrics` wait for the store.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The router: `/health`, `/ready`, `/metrics`, `/media/{id}`, the admin `/api/calls` and
/// `/api/sms` routes, the admin pages (`/calls`, `/sms`, `/login`) and the signed `/webhook/*`
/// routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/media/{id}", get(media))
        .route("/webhook/incoming_call_preview", get(webhooks::preview))
        .route("/api/calls", get(api::list).post(outbound::place_call))
        .route("/api/sms", get(api::sms).post(outbound::send_sms))
        .route("/api/calls/{sid}", get(api::show))
        .route("/calls", get(pages::calls))
        .route("/calls/{sid}", get(pages::call))
        .route(
            "/calls/{sid}/recordings/{recording_sid}",
            get(pages::call_recording),
        )
        .route("/sms", get(pages::sms_threads))
        .route("/sms/{number}", get(pages::sms_thread))
        .route("/login", get(pages::login_page).post(pages::login))
        .merge(webhooks::router(&state))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(STORE_PROBE_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::error_chain(&error), "not ready: the store is unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
        Err(_) => {
            tracing::warn!("not ready: the store did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let active = tokio::time::timeout(STORE_PROBE_TIMEOUT, state.store().active_call_count())
        .await
        .ok()
        .and_then(Result::ok);
    let mut response = state.metrics().render(active).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The byte range a `Range` header asks of a body of `len` bytes: `Ok(None)` for the whole
/// body (no header, or one this server does not serve partially: several ranges, another
/// unit, a malformed value), `Err(())` when the range cannot be satisfied.
pub(crate) fn byte_range(
    headers: &HeaderMap,
    len: usize,
) -> Result<Option<std::ops::RangeInclusive<usize>>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let number = |text: &str| text.trim().parse::<usize>().ok();
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => return Err(()),
            Some(n) => len.saturating_sub(n)..=len.saturating_sub(1),
            None => return Ok(None),
        },
        // `bytes=A-`: from A to the end.
        (false, true) => match number(first) {
            Some(a) => a..=len.saturating_sub(1),
            None => return Ok(None),
        },
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a <= b => a..=b.min(len.saturating_sub(1)),
            _ => return Ok(None),
        },
        (true, true) => return Ok(None),
    };
    if len == 0 || *range.start() >= len {
        return Err(());
    }
    Ok(Some(range))
}

/// An audio answer: the whole body (200), or the single byte range the request asks for
/// (206 with `Content-Range`, so players can seek), or 416; `Accept-Ranges: bytes` always.
pub(crate) fn audio_response(
    headers: &HeaderMap,
    content_type: HeaderValue,
    cache_control: &'static str,
    bytes: Vec<u8>,
) -> Response {
    let len = bytes.len();
    let common = [
        (header::CONTENT_TYPE, content_type),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
    ];
    match byte_range(headers, len) {
        Ok(None) => (common, bytes).into_response(),
        Ok(Some(range)) => {
            let content_range = format!("bytes {}-{}/{len}", range.start(), range.end());
            let part = bytes[range].to_vec();
            (
                StatusCode::PARTIAL_CONTENT,
                common,
                [(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&content_range)
                        .unwrap_or(HeaderValue::from_static("bytes */0")),
                )],
                part,
            )
                .into_response()
        }
        Err(()) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            )],
        )
            .into_response(),
    }
}

async fn media(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found\n").into_response();
    let Ok(id) = id.parse::<AudioId>() else {
        return not_found();
    };
    let file = match state.store().audio(&id).await {
        Ok(Some(file)) => file,
        Ok(None) => return not_found(),
        Err(error) => {
            tracing::error!(error = %crate::error_chain(&error), "cannot look up audio");
            return (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response();
        }
    };
    let bytes = match tokio::fs::read(&file.path).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return not_found(),
        Err(error) => {
            tracing::error!(%error, path = %file.path.display(), "cannot read audio file");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read audio\n").into_response();
        }
    };
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    audio_response(&headers, content_type, "private, max-age=3600", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, len: usize) -> Result<Option<std::ops::RangeInclusive<usize>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        byte_range(&headers, len)
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(range("bytes=0-", 10), Ok(Some(0..=9)));
        assert_eq!(range("bytes=2-4", 10), Ok(Some(2..=4)));
        assert_eq!(range("bytes=8-100", 10), Ok(Some(8..=9)));
        assert_eq!(range("bytes=-3", 10), Ok(Some(7..=9)));
        assert_eq!(range("bytes=-30", 10), Ok(Some(0..=9)));
        assert_eq!(range("bytes=10-", 10), Err(()));
        assert_eq!(range("bytes=-0", 10), Err(()));
        assert_eq!(range("bytes=0-", 0), Err(()));
        for whole in [
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=4-2",
            "bytes=x-",
            "bytes=-",
            "nope",
        ] {
            assert_eq!(range(whole, 10), Ok(None), "{whole}");
        }
    }
}
