//! The HTTP application: [`app`] builds the router from an [`AppState`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
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

async fn media(State(state): State<AppState>, Path(id): Path<String>) -> Response {
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
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response()
}
