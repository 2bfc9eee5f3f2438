#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod agent;
mod api;
pub mod app;
pub mod config;
mod error;
pub mod metrics;
mod outbound;
mod pages;
mod sid;
pub mod store;
mod webhooks;
pub mod worker;

use std::future::Future;

pub use agent::Agent;
pub use app::{AppState, app};
pub use config::Config;
pub use error::Error;
pub use metrics::Metrics;
pub use store::Store;

/// An error and its sources on one line, joined by `: `.
#[must_use]
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        line.push_str(": ");
        line.push_str(&inner.to_string());
        source = inner.source();
    }
    line
}

/// Serves [`app()`] on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish (axum's graceful shutdown).
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The start-up summary: one line per fact, then one warning per missing piece.
#[must_use]
pub fn startup_summary(config: &Config, store: &Store) -> (Vec<String>, Vec<String>) {
    let stt = config.stt_providers();
    let public = config
        .public_base_url()
        .map_or_else(|| "not set".to_owned(), ToString::to_string);
    let list = |names: Vec<&str>| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    // What the agent really speaks with (see `Agent::from_config`): espeak-ng when it is
    // enabled and installed, else Twilio's `<Say>`.
    let espeak = config.tts_enabled() && agent::program_on_path("espeak-ng").is_some();
    let tts = if espeak {
        "espeak-ng (replies played with <Play>)".to_owned()
    } else {
        format!(
            "none (Twilio's <Say voice=\"{}\">{})",
            config.say_voice(),
            if config.tts_enabled() {
                ": espeak-ng is not installed"
            } else {
                ": KAV_TTS=off"
            }
        )
    };
    let info = vec![
        format!("mode: {}", config.call_mode()),
        format!("speech-to-text providers: {}", list(stt)),
        format!("language model: {}", agent::chat_summary(config)),
        format!("text-to-speech providers: {tts}"),
        format!("public base URL: {public}"),
        format!(
            "store: {} ({})",
            store.backend_name(),
            config.database_display()
        ),
        format!(
            "webhook signatures: {}",
            match (
                config.signature_check(),
                config.twilio_auth_token().is_some()
            ) {
                (false, _) => "NOT CHECKED (KAV_SIGNATURE_CHECK=off)",
                (true, true) => "checked",
                (true, false) => "no token: webhooks refused",
            }
        ),
        format!("language: {}", config.language()),
        format!(
            "full-call recording: {}",
            if config.record_calls() {
                "on (KAV_RECORD_CALLS=true): transcribed after the call by the background worker"
            } else {
                "off"
            }
        ),
    ];
    let mut warnings = config.warnings();
    if config.tts_enabled() && !espeak {
        warnings.push(format!(
            "espeak-ng is not installed (not on the PATH): the agent speaks with Twilio's \
             <Say voice=\"{}\">; install espeak-ng for synthesized audio (<Play>), or set \
             KAV_TTS=off to choose <Say>.",
            config.say_voice()
        ));
    }
    (info, warnings)
}
