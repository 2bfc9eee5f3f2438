//! `<Connect><Stream>`: the Media Streams WebSocket, as Twilio opens it.
//!
//! The simulator connects to the stream URL (signed like Twilio's handshake: the `wss://` URL,
//! no parameters), sends `connected` and `start`, then for each caller turn the turn's audio as
//! 20 ms μ-law `media` frames (after a `dtmf` message per key of a digits turn) followed by one
//! second of silence (so the agent's voice activity
//! detection sees the turn end), and collects the agent's answer: its `media` frames, its `mark`s
//! (echoed back at once, as if played) and its `clear`s, until the agent has been quiet for the
//! configured idle time. When the turns run out the caller hangs up: `stop`, then close.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use kav_audio_codec::g711;
use kav_media_stream::{
    AccountSid, CallSid, Connected, Dtmf, DtmfDigit, DtmfTrack, Encoding, InboundMessage, Mark,
    Media, MediaFormat, OutboundMessage, Start, Stop, StreamSid, Track,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// What the agent did on the stream.
#[derive(Debug, Default)]
pub(crate) struct StreamOutcome {
    /// Agent audio per caller turn (after turn N), in milliseconds.
    pub(crate) replies_ms: Vec<u64>,
    /// Marks the agent placed (all echoed back).
    pub(crate) marks: usize,
    /// `clear` messages from the agent.
    pub(crate) clears: usize,
    /// The agent closed the socket before the caller hung up.
    pub(crate) closed_by_agent: bool,
}

pub(crate) struct StreamSetup<'a> {
    pub(crate) local_url: &'a str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) stream_sid: StreamSid,
    pub(crate) account_sid: AccountSid,
    pub(crate) call_sid: CallSid,
    pub(crate) parameters: BTreeMap<String, String>,
    pub(crate) idle: Duration,
    pub(crate) timeout: Duration,
    /// Send one frame every 20 ms (as a phone line does) instead of as fast as possible.
    pub(crate) realtime: bool,
}

/// One caller turn on the stream: audio (8 kHz) and keys pressed first.
pub(crate) struct StreamTurn {
    pub(crate) samples: Vec<i16>,
    pub(crate) digits: Option<String>,
}

const FRAME: usize = 160;

/// Runs the stream; `Err` is a handshake failure (Twilio's 31920).
pub(crate) async fn run(
    setup: StreamSetup<'_>,
    turns: &[StreamTurn],
) -> Result<StreamOutcome, String> {
    let mut request = setup
        .local_url
        .into_client_request()
        .map_err(|e| e.to_string())?;
    for (name, value) in &setup.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            request.headers_mut().insert(*name, value);
        }
    }
    let (mut socket, _) =
        tokio::time::timeout(setup.timeout, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| "no WebSocket handshake within the time limit".to_owned())?
            .map_err(|e| e.to_string())?;
    let mut seq = 0u64;
    let mut next_seq = || {
        seq += 1;
        seq
    };
    let mut outcome = StreamOutcome::default();
    let connected = InboundMessage::Connected(Connected {
        protocol: "Call".to_owned(),
        version: "1.0.0".to_owned(),
    });
    let start = InboundMessage::Start(Start {
        sequence_number: next_seq(),
        stream_sid: setup.stream_sid,
        account_sid: setup.account_sid,
        call_sid: setup.call_sid,
        tracks: vec![Track::Inbound],
        media_format: MediaFormat {
            encoding: Encoding::MuLaw,
            sample_rate: 8000,
            channels: 1,
        },
        custom_parameters: setup.parameters.clone(),
    });
    for message in [connected, start] {
        if socket.send(Message::text(message.to_json())).await.is_err() {
            outcome.closed_by_agent = true;
            return Ok(outcome);
        }
    }
    let mut chunk = 0u64;
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'turns: for turn in turns {
        for key in turn.digits.as_deref().unwrap_or_default().chars() {
            let Ok(digit) = DtmfDigit::new(key) else {
                continue;
            };
            let dtmf = InboundMessage::Dtmf(Dtmf {
                sequence_number: next_seq(),
                stream_sid: setup.stream_sid,
                track: DtmfTrack::InboundTrack,
                digit,
            });
            if socket.send(Message::text(dtmf.to_json())).await.is_err() {
                outcome.closed_by_agent = true;
                break 'turns;
            }
        }
        let mut codes = g711::ulaw_encode(&turn.samples);
        codes.resize(codes.len().div_ceil(FRAME) * FRAME + 50 * FRAME, 0xFF);
        for frame in codes.chunks(FRAME) {
            if setup.realtime {
                pace.tick().await;
            }
            chunk += 1;
            let media = InboundMessage::Media(Media {
                sequence_number: next_seq(),
                stream_sid: setup.stream_sid,
                track: Track::Inbound,
                chunk,
                timestamp: (chunk - 1) * 20,
                payload: base64::engine::general_purpose::STANDARD
                    .encode(frame)
                    .into(),
            });
            if socket.send(Message::text(media.to_json())).await.is_err() {
                outcome.closed_by_agent = true;
                break 'turns;
            }
        }
        // The agent's answer: until it has been quiet for `idle` (or `timeout` with nothing).
        let mut reply_ms = 0u64;
        let mut heard = false;
        loop {
            let wait = if heard { setup.idle } else { setup.timeout };
            let Ok(next) = tokio::time::timeout(wait, socket.next()).await else {
                break;
            };
            let text = match next {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    outcome.replies_ms.push(reply_ms);
                    outcome.closed_by_agent = true;
                    break 'turns;
                }
                Some(Ok(_)) => continue,
            };
            match OutboundMessage::parse(text.as_str()) {
                Ok(OutboundMessage::Media { payload, .. }) => {
                    heard = true;
                    reply_ms += payload.len() as u64 / 8;
                }
                Ok(OutboundMessage::Mark { name, .. }) => {
                    outcome.marks += 1;
                    let echo = InboundMessage::Mark(Mark {
                        sequence_number: next_seq(),
                        stream_sid: setup.stream_sid,
                        name: name.into_owned().into(),
                    });
                    let _ = socket.send(Message::text(echo.to_json())).await;
                }
                Ok(OutboundMessage::Clear { .. }) => outcome.clears += 1,
                _ => {}
            }
        }
        outcome.replies_ms.push(reply_ms);
    }
    if !outcome.closed_by_agent {
        let stop = InboundMessage::Stop(Stop {
            sequence_number: next_seq(),
            stream_sid: setup.stream_sid,
            account_sid: setup.account_sid,
            call_sid: setup.call_sid,
        });
        let _ = socket.send(Message::text(stop.to_json())).await;
        let _ = socket.close(None).await;
    }
    Ok(outcome)
}
