//! `CachedTts` with a counting in-test provider.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use kav_tts::{
    AudioStream, BoxFuture, CachedTts, Error, Language, SpeechAudio, SpeechRequest,
    StreamingTextToSpeech, TextToSpeech,
};

/// Answers with the text's bytes as "audio" (after `delay`) and counts calls; fails on "fail".
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
    delay: Duration,
}

impl Counting {
    /// Takes `delay` over each call.
    fn slow(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }
}

impl TextToSpeech for Counting {
    fn provider(&self) -> &str {
        "counting"
    }
    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if request.text() == "fail" {
                return Err(Error::Provider {
                    provider: "counting",
                    status: 500,
                    code: None,
                    message: "boom".into(),
                });
            }
            Ok(SpeechAudio::from_mulaw(request.text().as_bytes().to_vec()))
        })
    }
}

fn setup(name: &str) -> (PathBuf, CachedTts<Counting>) {
    let dir = std::env::temp_dir().join(format!("kav-tts-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tts = CachedTts::new(Counting::default(), dir.join("nested"));
    (dir, tts)
}

fn calls(tts: &CachedTts<Counting>) -> usize {
    tts.inner().calls.load(Ordering::SeqCst)
}

#[tokio::test]
async fn phrases_are_synthesized_once() {
    let (dir, tts) = setup("once");
    let req = SpeechRequest::new("שלום").unwrap();
    let a = tts.synthesize(&req).await.unwrap();
    let b = tts.synthesize(&req).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(calls(&tts), 1);
    // A second wrapper on the same directory (e.g. after a restart) reads the same entry.
    let again = CachedTts::new(Counting::default(), tts.dir());
    assert_eq!(again.synthesize(&req).await.unwrap(), a);
    assert_eq!(calls(&again), 0);
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(tts.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![format!("{}.ulaw", tts.key(&req))]);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn key_covers_voice_language_rate_and_text() {
    let (dir, tts) = setup("key");
    let base = SpeechRequest::new("hello").unwrap();
    let variants = [
        base.clone(),
        base.clone().with_voice("v2"),
        base.clone().with_language(Language::new("en-US").unwrap()),
        base.clone().with_speaking_rate(1.5).unwrap(),
        SpeechRequest::new("hello!").unwrap(),
    ];
    let keys: std::collections::HashSet<_> = variants.iter().map(|r| tts.key(r)).collect();
    assert_eq!(keys.len(), variants.len());
    for r in &variants {
        tts.synthesize(r).await.unwrap();
    }
    assert_eq!(calls(&tts), variants.len());
    for r in &variants {
        tts.synthesize(r).await.unwrap();
    }
    assert_eq!(calls(&tts), variants.len());
    assert_eq!(tts.key(&base).len(), 64);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn corrupt_entries_are_synthesized_again() {
    let (dir, tts) = setup("corrupt");
    let req = SpeechRequest::new("fallback phrase").unwrap();
    let good = tts.synthesize(&req).await.unwrap();
    let path = tts.path_for(&req);
    for corruption in [b"".to_vec(), b"not a cache entry".to_vec(), {
        let mut b = std::fs::read(&path).unwrap_or_default();
        if let Some(last) = b.last_mut() {
            *last ^= 0xFF;
        }
        b
    }] {
        let before = calls(&tts);
        std::fs::write(&path, corruption).unwrap();
        assert_eq!(tts.cached(&req).await, None);
        assert_eq!(tts.synthesize(&req).await.unwrap(), good);
        assert_eq!(calls(&tts), before + 1);
        // ...and the entry is repaired.
        assert_eq!(tts.cached(&req).await, Some(good.clone()));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn errors_are_not_cached_and_unwritable_caches_still_speak() {
    let (dir, tts) = setup("errors");
    let fail = SpeechRequest::new("fail").unwrap();
    assert!(tts.synthesize(&fail).await.is_err());
    assert!(tts.synthesize(&fail).await.is_err());
    assert_eq!(calls(&tts), 2);

    // A cache "directory" that is a file: writing fails, synthesis still succeeds.
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let broken = CachedTts::new(Counting::default(), &file);
    let req = SpeechRequest::new("hi").unwrap();
    assert_eq!(broken.synthesize(&req).await.unwrap().mulaw(), b"hi");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn works_behind_arc_dyn() {
    let (dir, tts) = setup("dyn");
    let tts: Arc<dyn TextToSpeech> = Arc::new(tts);
    assert_eq!(tts.provider(), "counting");
    let boxed: Box<dyn TextToSpeech> = Box::new(tts.clone());
    let req = SpeechRequest::new("x").unwrap();
    assert_eq!(boxed.synthesize(&req).await.unwrap().mulaw(), b"x");
    std::fs::remove_dir_all(&dir).ok();
}

/// A streaming provider that yields the text's bytes in 2-byte chunks, failing on "cut".
struct Chunky {
    calls: AtomicUsize,
}

impl TextToSpeech for Chunky {
    fn provider(&self) -> &str {
        "chunky"
    }
    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(
            async move { kav_tts::collect_stream(self.synthesize_stream(request).await?).await },
        )
    }
}

impl StreamingTextToSpeech for Chunky {
    fn synthesize_stream<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<AudioStream, Error>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let text = request.text().as_bytes().to_vec();
        let cut = request.text() == "cut";
        Box::pin(async move {
            let mut items: Vec<Result<bytes::Bytes, Error>> = text
                .chunks(2)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            if cut {
                items.push(Err(Error::MalformedResponse {
                    provider: "chunky",
                    detail: "cut".into(),
                }));
            }
            Ok(Box::pin(futures_util::stream::iter(items)) as AudioStream)
        })
    }
}

#[tokio::test]
async fn streams_are_cached_only_when_complete() {
    let dir = std::env::temp_dir().join(format!("kav-tts-cache-stream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tts = CachedTts::new(
        Chunky {
            calls: AtomicUsize::new(0),
        },
        &dir,
    );
    let req = SpeechRequest::new("hello world").unwrap();
    let chunks: Vec<_> = tts.synthesize_stream(&req).await.unwrap().collect().await;
    assert_eq!(chunks.len(), 6, "passed through chunk by chunk");
    // Now cached: one chunk, no provider call.
    let chunks: Vec<_> = tts.synthesize_stream(&req).await.unwrap().collect().await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].as_ref().unwrap().as_ref(), b"hello world");
    assert_eq!(tts.inner().calls.load(Ordering::SeqCst), 1);
    // The non-streaming path reads the same entry.
    assert_eq!(tts.synthesize(&req).await.unwrap().mulaw(), b"hello world");
    assert_eq!(tts.inner().calls.load(Ordering::SeqCst), 1);

    // A broken stream is not cached.
    let cut = SpeechRequest::new("cut").unwrap();
    let items: Vec<_> = tts.synthesize_stream(&cut).await.unwrap().collect().await;
    assert!(items.last().unwrap().is_err());
    assert_eq!(tts.cached(&cut).await, None);

    // A stream dropped after its first chunk (barge-in) is not cached either.
    let other = SpeechRequest::new("barge in here").unwrap();
    let mut stream = tts.synthesize_stream(&other).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    assert_eq!(tts.cached(&other).await, None);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn concurrent_requests_for_one_phrase_make_one_call() {
    let dir = std::env::temp_dir().join(format!("kav-tts-cache-flight-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tts = Arc::new(CachedTts::new(
        Counting::slow(Duration::from_millis(50)),
        &dir,
    ));
    let greeting = SpeechRequest::new("שלום וברוכים הבאים").unwrap();
    let other = SpeechRequest::new("another phrase").unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let tts = tts.clone();
        let req = if i % 3 == 0 {
            other.clone()
        } else {
            greeting.clone()
        };
        tasks.push(tokio::spawn(
            async move { tts.synthesize(&req).await.unwrap() },
        ));
    }
    for t in tasks {
        assert!(!t.await.unwrap().is_empty());
    }
    assert_eq!(
        tts.inner().calls.load(Ordering::SeqCst),
        2,
        "one call per phrase"
    );

    // A caller cancelled while synthesizing does not block the next one.
    let fresh = SpeechRequest::new("cancelled first").unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(10), tts.synthesize(&fresh)).await;
    assert!(cancelled.is_err());
    assert_eq!(
        tts.synthesize(&fresh).await.unwrap().mulaw(),
        b"cancelled first"
    );
    std::fs::remove_dir_all(&dir).ok();
}
