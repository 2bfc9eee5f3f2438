//! A phrase cache on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Weak};

use sha2::{Digest as _, Sha256};

use futures_util::StreamExt as _;

use crate::{
    AudioStream, BoxFuture, Error, SpeechAudio, SpeechRequest, StreamingTextToSpeech, TextToSpeech,
};

/// Magic bytes at the start of every cache file (format version 1).
const MAGIC: &[u8; 8] = b"KAVTTS\x00\x01";
/// Header: magic + SHA-256 of the audio.
const HEADER_LEN: usize = 8 + 32;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Wraps a provider with a cache on disk, so that fixed phrases (greetings, fallbacks) are
/// synthesized once.
///
/// The key is the SHA-256 of the provider name, its [settings](TextToSpeech::settings), the
/// [voice](TextToSpeech::voice_for), language, speaking rate and text. An entry is the μ-law
/// audio with a checksum; entries are written atomically (temporary file, then rename), and
/// unreadable or corrupt entries are ignored and synthesized again. Concurrent requests for
/// the same phrase through one `CachedTts` (or its clones) make a single provider call. A cache that cannot be
/// written only logs a warning: synthesis still succeeds.
///
/// ```
/// use kav_tts::{BoxFuture, CachedTts, Error, SpeechAudio, SpeechRequest, TextToSpeech};
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// /// A tiny provider: a 100 ms beep per call, counting calls.
/// struct Beep(AtomicUsize);
/// impl TextToSpeech for Beep {
///     fn provider(&self) -> &str { "beep" }
///     fn synthesize<'a>(&'a self, _: &'a SpeechRequest) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
///         self.0.fetch_add(1, Ordering::SeqCst);
///         let pcm: Vec<i16> = (0..800).map(|i| if i % 8 < 4 { 8000 } else { -8000 }).collect();
///         Box::pin(async move { Ok(SpeechAudio::from_pcm16(&pcm)) })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("kav-tts-doc-{}", std::process::id()));
/// let tts = CachedTts::new(Beep(AtomicUsize::new(0)), &dir);
/// let greeting = SpeechRequest::new("שלום, הגעתם לשירות הלקוחות")?;
/// let first = tts.synthesize(&greeting).await?;
/// let again = tts.synthesize(&greeting).await?; // from disk
/// assert_eq!(first, again);
/// assert_eq!(tts.inner().0.load(Ordering::SeqCst), 1);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct CachedTts<T> {
    inner: T,
    dir: PathBuf,
    /// One lock per key being synthesized, so that concurrent requests for the same phrase
    /// make one provider call (shared by clones).
    in_flight: Arc<StdMutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>>,
}

impl<T: TextToSpeech> CachedTts<T> {
    /// Caches `inner`'s audio in `dir` (created when first written).
    pub fn new(inner: T, dir: impl Into<PathBuf>) -> Self {
        Self {
            inner,
            dir: dir.into(),
            in_flight: Arc::default(),
        }
    }

    /// The lock of `key`, shared by everyone synthesizing it now.
    fn key_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lock) = map.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        // Forget the keys nobody holds any more.
        map.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache key of `request`: 64 hex digits.
    pub fn key(&self, request: &SpeechRequest) -> String {
        let mut h = Sha256::new();
        let rate = request
            .speaking_rate()
            .map(|r| r.to_string())
            .unwrap_or_default();
        for field in [
            "kav-tts phrase cache v1",
            self.inner.provider(),
            &self.inner.settings(),
            &self.inner.voice_for(request),
            request.language().as_str(),
            &rate,
            request.text(),
        ] {
            // Length-prefixed, so that no two field lists hash the same input.
            h.update((field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The file that holds (or would hold) the audio of `request`.
    pub fn path_for(&self, request: &SpeechRequest) -> PathBuf {
        self.dir.join(format!("{}.ulaw", self.key(request)))
    }

    /// The cached audio of `request`, if there is a valid entry.
    pub async fn cached(&self, request: &SpeechRequest) -> Option<SpeechAudio> {
        let path = self.path_for(request);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable TTS cache entry");
                return None;
            }
        };
        match decode_entry(&bytes) {
            Some(audio) => Some(audio),
            None => {
                tracing::warn!(path = %path.display(), "corrupt TTS cache entry, synthesizing again");
                None
            }
        }
    }

    /// Stores `audio` as the entry of `request` (atomically).
    ///
    /// # Errors
    ///
    /// The I/O error of creating the directory, writing or renaming.
    pub async fn store(&self, request: &SpeechRequest, audio: &SpeechAudio) -> std::io::Result<()> {
        store_entry(&self.dir, &self.key(request), audio.mulaw()).await
    }
}

async fn store_entry(dir: &Path, key: &str, mulaw: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let final_path = dir.join(format!("{key}.ulaw"));
    let temp = TempFile(dir.join(format!(
        ".{key}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )));
    tokio::fs::write(&temp.0, encode_entry(mulaw)).await?;
    tokio::fs::rename(&temp.0, &final_path).await?;
    std::mem::forget(temp);
    Ok(())
}

/// Removes a temporary file unless forgotten (when a write fails or is cancelled).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn encode_entry(mulaw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + mulaw.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&Sha256::digest(mulaw));
    out.extend_from_slice(mulaw);
    out
}

fn decode_entry(bytes: &[u8]) -> Option<SpeechAudio> {
    if bytes.len() <= HEADER_LEN || &bytes[..8] != MAGIC {
        return None;
    }
    let audio = &bytes[HEADER_LEN..];
    if Sha256::digest(audio).as_slice() != &bytes[8..HEADER_LEN] {
        return None;
    }
    Some(SpeechAudio::from_mulaw(audio.to_vec()))
}

impl<T: TextToSpeech> TextToSpeech for CachedTts<T> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn voice_for(&self, request: &SpeechRequest) -> String {
        self.inner.voice_for(request)
    }

    fn settings(&self) -> String {
        self.inner.settings()
    }

    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(async move {
            if let Some(audio) = self.cached(request).await {
                return Ok(audio);
            }
            // Single flight: the first caller synthesizes, the others wait and read its entry.
            // Dropping a waiting or synthesizing future releases the lock (cancel-safe).
            let lock = self.key_lock(&self.key(request));
            let _guard = lock.lock().await;
            if let Some(audio) = self.cached(request).await {
                return Ok(audio);
            }
            let audio = self.inner.synthesize(request).await?;
            if let Err(e) = self.store(request, &audio).await {
                tracing::warn!(dir = %self.dir.display(), error = %e, "could not write the TTS cache");
            }
            Ok(audio)
        })
    }
}

/// Streaming through the cache: a cached phrase comes back as one chunk; otherwise the
/// provider's stream is passed through as it arrives and, if it ends cleanly, stored. A stream
/// dropped early (barge-in) or ending in an error stores nothing.
impl<T: StreamingTextToSpeech> StreamingTextToSpeech for CachedTts<T> {
    fn synthesize_stream<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<AudioStream, Error>> {
        Box::pin(async move {
            if let Some(audio) = self.cached(request).await {
                let once = futures_util::stream::iter([Ok(audio.into_mulaw())]);
                return Ok(Box::pin(once) as AudioStream);
            }
            let inner = self.inner.synthesize_stream(request).await?;
            let state = Tee {
                inner: Some(inner),
                seen: Vec::new(),
                dir: self.dir.clone(),
                key: self.key(request),
            };
            let stream = futures_util::stream::unfold(state, |mut state| async move {
                let inner = state.inner.as_mut()?;
                match inner.next().await {
                    Some(Ok(chunk)) => {
                        state.seen.extend_from_slice(&chunk);
                        Some((Ok(chunk), state))
                    }
                    Some(Err(e)) => {
                        state.inner = None;
                        Some((Err(e), state))
                    }
                    None => {
                        state.inner = None;
                        if !state.seen.is_empty()
                            && let Err(e) = store_entry(&state.dir, &state.key, &state.seen).await
                        {
                            tracing::warn!(dir = %state.dir.display(), error = %e, "could not write the TTS cache");
                        }
                        None
                    }
                }
            });
            Ok(Box::pin(stream) as AudioStream)
        })
    }
}

/// State of a stream passed through the cache.
struct Tee {
    inner: Option<AudioStream>,
    seen: Vec<u8>,
    dir: PathBuf,
    key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_detect_corruption() {
        let audio = SpeechAudio::from_mulaw(vec![1, 2, 3, 4]);
        let mut e = encode_entry(audio.mulaw());
        assert_eq!(decode_entry(&e), Some(audio));
        let last = e.len() - 1;
        e[last] ^= 1;
        assert_eq!(decode_entry(&e), None);
        assert_eq!(decode_entry(&e[..HEADER_LEN]), None);
        assert_eq!(decode_entry(b"garbage"), None);
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_files_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode_entry(&bytes);
        }

        #[test]
        fn entries_round_trip(audio in proptest::collection::vec(proptest::num::u8::ANY, 1..500)) {
            let e = encode_entry(&audio);
            let back = decode_entry(&e).unwrap();
            proptest::prop_assert_eq!(back.mulaw(), &audio[..]);
        }
    }
}
