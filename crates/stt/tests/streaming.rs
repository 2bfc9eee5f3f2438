//! The streaming traits are object-safe, usable from two tasks, and carry the contract their
//! documentation states. The implementation here exists only in this test: it "hears" the
//! duration of the audio it is sent, which is enough to exercise every path of the traits.

use std::sync::Arc;
use std::time::Duration;

use kav_stt::streaming::{
    AudioSink, EventSource, PartialTranscript, StreamConfig, StreamFormat, StreamingEvent,
    StreamingSession, StreamingSpeechToText,
};
use kav_stt::{AudioClip, BoxFuture, Encoding, Error, Provider, Transcript};
use tokio::sync::mpsc;

const NAME: Provider = Provider::Other("duration-counter");

struct DurationCounter;

struct Sink {
    format: StreamFormat,
    heard: Duration,
    interim: bool,
    tx: mpsc::Sender<Result<StreamingEvent, Error>>,
}

struct Source {
    rx: mpsc::Receiver<Result<StreamingEvent, Error>>,
}

impl AudioSink for Sink {
    fn send(&mut self, chunk: AudioClip) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            if !self.format.matches(&chunk) {
                return Err(Error::Stream {
                    provider: NAME,
                    message: "chunk format differs from the session's".into(),
                });
            }
            if self.heard.is_zero() {
                self.send_event(StreamingEvent::SpeechStarted { at: Duration::ZERO })
                    .await?;
            }
            self.heard += chunk.duration();
            if self.interim {
                let text = format!("{} ms", self.heard.as_millis());
                self.send_event(StreamingEvent::Partial(PartialTranscript::new(text, None)))
                    .await?;
            }
            Ok(())
        })
    }

    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            self.send_event(StreamingEvent::SpeechEnded { at: self.heard })
                .await?;
            let text = format!("{} ms", self.heard.as_millis());
            self.send_event(StreamingEvent::Final(
                Transcript::new(NAME, text).with_duration(self.heard),
            ))
            .await
            // Dropping `self` closes the channel: the event source ends.
        })
    }
}

impl Sink {
    async fn send_event(&self, e: StreamingEvent) -> Result<(), Error> {
        // A bounded channel: a slow reader makes `send` wait (back-pressure).
        self.tx.send(Ok(e)).await.map_err(|_| Error::Stream {
            provider: NAME,
            message: "the event source was dropped".into(),
        })
    }
}

impl EventSource for Source {
    fn next_event(&mut self) -> BoxFuture<'_, Option<Result<StreamingEvent, Error>>> {
        // `mpsc::Receiver::recv` is cancel-safe, so this is too.
        Box::pin(self.rx.recv())
    }
}

impl StreamingSpeechToText for DurationCounter {
    fn provider(&self) -> Provider {
        NAME
    }
    fn start(&self, config: StreamConfig) -> BoxFuture<'_, Result<StreamingSession, Error>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::channel(4);
            Ok(StreamingSession::new(
                Box::new(Sink {
                    format: config.format(),
                    heard: Duration::ZERO,
                    interim: config.interim_results(),
                    tx,
                }),
                Box::new(Source { rx }),
            ))
        })
    }
}

#[tokio::test]
async fn a_session_in_two_tasks() {
    let stt: Arc<dyn StreamingSpeechToText> = Arc::new(DurationCounter);
    let session = stt
        .start(StreamConfig::new(StreamFormat::MULAW_8K))
        .await
        .unwrap();
    let StreamingSession {
        mut audio,
        mut events,
        ..
    } = session;

    let sender = tokio::spawn(async move {
        for _ in 0..10 {
            // Twilio's 20 ms frames.
            audio
                .send(AudioClip::mulaw_8k(vec![0xFF; 160]))
                .await
                .unwrap();
        }
        // A chunk in another format is refused and the session goes on.
        let wrong = AudioClip::pcm16(vec![0; 320], 16_000).unwrap();
        assert!(matches!(audio.send(wrong).await, Err(Error::Stream { .. })));
        audio.finish().await.unwrap();
    });

    let mut got = Vec::new();
    while let Some(e) = events.next_event().await {
        got.push(e.unwrap());
    }
    sender.await.unwrap();

    assert_eq!(got.len(), 1 + 10 + 2);
    assert_eq!(got[0], StreamingEvent::SpeechStarted { at: Duration::ZERO });
    assert_eq!(
        got[10],
        StreamingEvent::Partial(PartialTranscript::new("200 ms", None))
    );
    assert_eq!(
        got[11],
        StreamingEvent::SpeechEnded {
            at: Duration::from_millis(200)
        }
    );
    match &got[12] {
        StreamingEvent::Final(t) => {
            assert_eq!(t.text, "200 ms");
            assert_eq!(t.duration, Some(Duration::from_millis(200)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn boxed_providers_and_no_interim_results() {
    let stt: Box<dyn StreamingSpeechToText> = Box::new(DurationCounter);
    assert_eq!(stt.provider(), NAME);
    let format = StreamFormat::new(Encoding::Pcm16, 16_000).unwrap();
    let mut session = stt
        .start(StreamConfig::new(format).with_interim_results(false))
        .await
        .unwrap();
    session
        .audio
        .send(AudioClip::pcm16(vec![0; 1_600], 16_000).unwrap())
        .await
        .unwrap();
    session.audio.finish().await.unwrap();
    let mut finals = 0;
    while let Some(e) = session.events.next_event().await {
        assert!(!matches!(e.unwrap(), StreamingEvent::Partial(_)));
        finals += 1;
    }
    assert_eq!(finals, 3); // started, ended, final
}

#[tokio::test]
async fn dropping_the_event_source_fails_later_sends() {
    let stt = DurationCounter;
    let StreamingSession {
        mut audio, events, ..
    } = stt
        .start(StreamConfig::new(StreamFormat::MULAW_8K))
        .await
        .unwrap();
    drop(events);
    let e = audio
        .send(AudioClip::mulaw_8k(vec![0xFF; 160]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
}

#[test]
fn stream_formats_are_validated() {
    assert!(StreamFormat::new(Encoding::Mulaw, 4_000).is_err());
    let f = StreamFormat::new(Encoding::Pcm16, 24_000).unwrap();
    assert_eq!((f.encoding(), f.sample_rate()), (Encoding::Pcm16, 24_000));
    assert!(f.matches(&AudioClip::pcm16(vec![], 24_000).unwrap()));
    assert!(!f.matches(&AudioClip::mulaw(vec![], 24_000).unwrap()));
    assert!(StreamFormat::MULAW_8K.matches(&AudioClip::mulaw_8k(vec![])));
}
