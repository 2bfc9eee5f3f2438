//! The echo session driven over channels on tokio's paused clock: Twilio's messages in, ours out.

use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{sink, stream};
use kav_media_stream::{InboundMessage, OutboundMessage};
use media_echo::echo;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

const MZ: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn start() -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"{MZ}","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{}}}},"streamSid":"{MZ}"}}"#
    )
}

fn media(seq: u64, ulaw: &[u8]) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{}"}},"streamSid":"{MZ}"}}"#,
        seq - 1,
        (seq - 2) * 20,
        b64(ulaw)
    )
}

#[tokio::test(start_paused = true)]
async fn plays_the_callers_audio_back_one_second_later() {
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<Result<Message, axum::Error>>();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<(Instant, Message)>();
    let rx = stream::poll_fn(move |cx| in_rx.poll_recv(cx));
    let tx = sink::unfold(out_tx, |tx, message: Message| async move {
        tx.send((Instant::now(), message)).map_err(|_| "closed")?;
        Ok::<_, &str>(tx)
    });
    let session = tokio::spawn(echo(Box::pin(tx), Box::pin(rx), Duration::from_secs(1)));

    let t0 = Instant::now();
    let send = |text: String| in_tx.send(Ok(Message::Text(text.into()))).unwrap();
    send(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_owned());
    send(start());
    // Half a second of the caller's audio, in 20 ms frames, in real time. μ-law bytes other than
    // 0x7F (negative zero, which re-encodes as 0xFF) survive decoding and re-encoding unchanged.
    let mut spoken = Vec::new();
    for k in 0..25u64 {
        let frame: Vec<u8> = (0..160u64).map(|i| ((k * 160 + i) % 0x7F) as u8).collect();
        send(media(k + 2, &frame));
        spoken.extend_from_slice(&frame);
        sleep(Duration::from_millis(20)).await;
    }
    sleep(Duration::from_secs(2)).await;
    send(format!(
        r#"{{"event":"stop","sequenceNumber":"27","stop":{{"accountSid":"AC0123456789abcdef0123456789abcdef","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6"}},"streamSid":"{MZ}"}}"#
    ));
    let stats = session.await.unwrap().unwrap();
    assert!(stats.stopped);
    assert_eq!(stats.samples_in, 25 * 160);
    assert_eq!(stats.frames_out, 25);
    assert_eq!(stats.bad_messages, 0);

    let mut played = Vec::new();
    let mut first_media = None;
    while let Ok((at, message)) = out_rx.try_recv() {
        let Message::Text(text) = message else {
            panic!("text frames only")
        };
        match OutboundMessage::parse(text.as_str()).unwrap() {
            OutboundMessage::Media {
                stream_sid,
                payload,
            } => {
                assert_eq!(stream_sid, MZ);
                first_media.get_or_insert(at);
                played.extend_from_slice(&payload);
            }
            OutboundMessage::Mark { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(played, spoken, "the caller hears exactly what they said");
    assert_eq!(
        first_media.unwrap().duration_since(t0),
        Duration::from_secs(1)
    );
    // Inbound messages are valid for the parser too (sanity check of the test's own JSON).
    assert!(InboundMessage::parse(&media(2, &[0])).is_ok());
}

#[tokio::test(start_paused = true)]
async fn star_clears_the_playback() {
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<Result<Message, axum::Error>>();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
    let rx = stream::poll_fn(move |cx| in_rx.poll_recv(cx));
    let tx = sink::unfold(out_tx, |tx, message: Message| async move {
        tx.send(message).map_err(|_| "closed")?;
        Ok::<_, &str>(tx)
    });
    let session = tokio::spawn(echo(Box::pin(tx), Box::pin(rx), Duration::from_secs(1)));
    let send = |text: String| in_tx.send(Ok(Message::Text(text.into()))).unwrap();
    send(start());
    for k in 0..50u64 {
        send(media(k + 2, &[0x10; 160]));
        sleep(Duration::from_millis(20)).await;
    }
    // The caller presses '*' at 1.21 s, when the echo (audio arriving in real time, played one
    // second later) has handed out the frames due at 1.00, 1.02, …, 1.20 s.
    sleep(Duration::from_millis(210)).await;
    send(format!(
        r#"{{"event":"dtmf","streamSid":"{MZ}","sequenceNumber":"52","dtmf":{{"track":"inbound_track","digit":"*"}}}}"#
    ));
    sleep(Duration::from_secs(2)).await;
    drop(in_tx);
    let stats = session.await.unwrap().unwrap();
    assert!(!stats.stopped);
    let mut kinds = Vec::new();
    while let Ok(Message::Text(text)) = out_rx.try_recv() {
        kinds.push(OutboundMessage::parse(text.as_str()).unwrap().event());
    }
    let clear = kinds
        .iter()
        .position(|k| *k == "clear")
        .expect("a clear was sent");
    let media_before = kinds[..clear].iter().filter(|k| **k == "media").count();
    assert_eq!(media_before, 11);
    // The rest of the caller's audio (the delay line) was dropped with the queue.
    assert!(!kinds[clear..].contains(&"media"));
    assert_eq!(stats.frames_out, 11);
}
