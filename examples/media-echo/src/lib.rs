//! The echo logic of the `media-echo` example, kept apart from the server so that tests can drive
//! it over channels instead of a socket.
//!
//! [`echo`] runs one Twilio media stream: it feeds every WebSocket text message to a
//! [`MediaStream`], keeps the caller's decoded audio in a delay line, and queues it back for
//! playback once the delay has passed. Pressing `*` on the phone clears what is queued (the way an
//! agent cuts its own speech on barge-in) and logs how much of it the caller heard.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use kav_media_stream::{Config, Event, FRAME_SAMPLES, MediaStream};
use tokio::time::{Instant, sleep_until};

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/ws/twilio-media";

/// The WebSocket subprotocol Twilio may offer.
pub const SUBPROTOCOL: &str = "audio.twilio.com";

/// The TwiML that connects a call to this server's WebSocket, for the given public base URL
/// (`https://host` gives `wss://host/ws/twilio-media`; `http://` gives `ws://`, for local tests).
///
/// ```
/// let twiml = media_echo::connect_stream_twiml("https://echo.example.com").unwrap();
/// assert!(twiml.contains(r#"<Stream url="wss://echo.example.com/ws/twilio-media"/>"#));
/// assert!(media_echo::connect_stream_twiml("echo.example.com").is_err());
/// ```
pub fn connect_stream_twiml(public_base_url: &str) -> Result<String, String> {
    let (scheme, rest) = if let Some(rest) = public_base_url.strip_prefix("https://") {
        ("wss://", rest)
    } else if let Some(rest) = public_base_url.strip_prefix("http://") {
        ("ws://", rest)
    } else {
        return Err(format!(
            "PUBLIC_BASE_URL={public_base_url:?} must start with https:// (or http:// for local tests)"
        ));
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "PUBLIC_BASE_URL={public_base_url:?} must be a scheme and a host, like https://echo.example.com"
        ));
    }
    let url = xml_escape(&format!("{scheme}{host}{WS_PATH}"));
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{url}"/></Connect></Response>"#
    ))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The server: the WebSocket at [`WS_PATH`] (answering with the `audio.twilio.com`
/// subprotocol when Twilio offers it) and `POST /incoming-call`, which answers with `twiml`.
pub fn app(twiml: String, delay: Duration) -> Router {
    Router::new()
        .route(WS_PATH, any(websocket))
        .route("/incoming-call", post(incoming_call))
        .with_state(AppState {
            twiml: twiml.into(),
            delay,
        })
}

#[derive(Clone)]
struct AppState {
    twiml: Arc<str>,
    delay: Duration,
}

async fn incoming_call(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml")],
        state.twiml.to_string(),
    )
        .into_response()
}

async fn websocket(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| async move {
            let (tx, rx) = socket.split();
            match echo(tx, rx, state.delay).await {
                Ok(stats) => tracing::info!(?stats, "session over"),
                Err(e) => tracing::warn!(error = %e, "session failed"),
            }
        })
}

/// What one echo session did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EchoStats {
    /// Samples of the caller's audio received.
    pub samples_in: u64,
    /// `media` messages sent back.
    pub frames_out: u64,
    /// Messages that could not be handled (logged and skipped).
    pub bad_messages: u64,
    /// Whether Twilio sent `stop`.
    pub stopped: bool,
}

/// Why a session ended early.
#[derive(Debug)]
pub struct SendError(String);

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sending to the WebSocket failed: {}", self.0)
    }
}

impl std::error::Error for SendError {}

/// Runs one media stream: reads Twilio's messages from `rx`, writes ours to `tx`, and plays the
/// caller's audio back `delay` later. Returns when Twilio sends `stop` or closes the socket.
pub async fn echo<Tx, Rx, E>(
    mut tx: Tx,
    mut rx: Rx,
    delay: Duration,
) -> Result<EchoStats, SendError>
where
    Tx: Sink<Message> + Unpin,
    Tx::Error: fmt::Display,
    Rx: Stream<Item = Result<Message, E>> + Unpin,
    E: fmt::Display,
{
    let mut stream = MediaStream::new(Config::default());
    let mut stats = EchoStats::default();
    // (when to play it, 20 ms of audio, how many samples)
    let mut delay_line: VecDeque<(Instant, [i16; FRAME_SAMPLES], usize)> = VecDeque::new();
    let mut json = String::new();
    loop {
        let now = Instant::now();
        // Audio whose delay has passed goes to the playback queue.
        while let Some((due, samples, n)) = delay_line.front() {
            if *due > now {
                break;
            }
            stream.push_pcm(&samples[..*n]);
            delay_line.pop_front();
        }
        while let Some(message) = stream.poll_transmit(now.into_std()) {
            message.write_json(&mut json);
            if matches!(message, kav_media_stream::OutboundMessage::Media { .. }) {
                stats.frames_out += 1;
            }
            tx.send(Message::Text(json.as_str().into()))
                .await
                .map_err(|e| SendError(e.to_string()))?;
        }
        let mut cleared = false;
        while let Some(event) = stream.poll_event() {
            match event {
                Event::Started {
                    stream_sid,
                    call_sid,
                } => tracing::info!(%stream_sid, %call_sid, "stream started"),
                Event::Dtmf(digit) if digit.as_char() == '*' => {
                    let heard = stream.clear(now.into_std());
                    delay_line.clear();
                    cleared = true;
                    tracing::info!(?heard, "'*' pressed: playback cleared");
                }
                Event::Dtmf(digit) => tracing::info!(%digit, "key pressed"),
                Event::SequenceGap { expected, received } => {
                    tracing::warn!(expected, received, "sequence gap");
                }
                Event::Stopped => {
                    tracing::info!(?stats, "stream stopped");
                    stats.stopped = true;
                    return Ok(stats);
                }
                other => tracing::debug!(?other, "event"),
            }
        }
        if cleared {
            // The `clear` message is due: send it before waiting.
            continue;
        }

        let wake = [
            stream.poll_timeout().map(Instant::from_std),
            delay_line.front().map(|(due, ..)| *due),
        ]
        .into_iter()
        .flatten()
        .min();
        let message = tokio::select! {
            message = rx.next() => message,
            () = sleep_until(wake.unwrap_or(now)), if wake.is_some() => continue,
        };
        let text = match message {
            None => {
                tracing::info!(?stats, "socket closed");
                return Ok(stats);
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "socket error");
                return Ok(stats);
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) => return Ok(stats),
            Some(Ok(_)) => continue,
        };
        let now = Instant::now();
        if let Err(error) = stream.handle_text(now.into_std(), text.as_str()) {
            stats.bad_messages += 1;
            tracing::warn!(%error, "message skipped");
            continue;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        loop {
            let n = stream.read_audio(&mut frame);
            if n == 0 {
                break;
            }
            stats.samples_in += n as u64;
            delay_line.push_back((now + delay, frame, n));
        }
    }
}
