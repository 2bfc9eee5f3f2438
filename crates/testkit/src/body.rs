//! Response bodies that arrive in pieces, slowly, or not at all.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt as _;

/// What a streamed body does after its chunks.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// Ends the body normally (the HTTP response is complete).
    Close,
    /// Aborts the connection (a network failure).
    Abort,
    /// Stays silent for this long, then closes.
    Stall(Duration),
}

/// An SSE response sending `chunks` one by one with a short pause between them (so the client
/// sees them as separate reads), then `ending`.
pub fn sse(chunks: Vec<Vec<u8>>, ending: Ending) -> Response {
    let body = futures_util::stream::iter(chunks)
        .then(|chunk| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok::<_, std::io::Error>(Bytes::from(chunk))
        })
        .chain(futures_util::stream::once(async move {
            match ending {
                Ending::Close => Ok(Bytes::new()),
                Ending::Abort => Err(std::io::Error::other("connection reset by test")),
                Ending::Stall(d) => {
                    tokio::time::sleep(d).await;
                    Ok(Bytes::new())
                }
            }
        }))
        .filter(|r| {
            let keep = !matches!(r, Ok(b) if b.is_empty());
            async move { keep }
        });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        "text/event-stream".parse().expect("valid"),
    );
    headers.insert(header::CACHE_CONTROL, "no-cache".parse().expect("valid"));
    response
}

/// A 200 JSON response whose body is sent slowly, one space every `every`, forever-ish.
pub fn dripping(every: Duration) -> Response {
    let body = futures_util::stream::unfold(0u32, move |n| async move {
        tokio::time::sleep(every).await;
        (n < 10_000).then(|| (Ok::<_, Infallible>(Bytes::from_static(b" ")), n + 1))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("valid"),
    );
    response
}

/// A body that sends `chunks`, then breaks off (the connection is aborted mid-body).
pub fn broken_body(chunks: Vec<Vec<u8>>) -> Body {
    let items = chunks
        .into_iter()
        .map(|c| Ok::<_, std::io::Error>(Bytes::from(c)))
        .chain(std::iter::once(Err(std::io::Error::other(
            "connection lost",
        ))));
    let stream = futures_util::stream::iter(items).then(|item| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        item
    });
    Body::from_stream(stream)
}

/// A body that sends `chunks` with a pause before each, then, when `stall`, stays silent (for
/// an hour) instead of ending.
pub fn slow_body(chunks: Vec<Vec<u8>>, pause: Duration, stall: bool) -> Body {
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(Some)
            .chain(std::iter::once(None).filter(move |_| stall)),
    )
    .then(move |item| async move {
        match item {
            Some(c) => {
                tokio::time::sleep(pause).await;
                Ok::<_, std::io::Error>(Bytes::from(c))
            }
            None => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Bytes::new())
            }
        }
    });
    Body::from_stream(stream)
}

/// Splits `text` into chunks of the given byte sizes, in turn (cutting UTF-8 characters where
/// they fall).
pub fn split_at_bytes(text: &str, sizes: &[usize]) -> Vec<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let size = sizes[i % sizes.len()].max(1);
        let end = (at + size).min(bytes.len());
        out.push(bytes[at..end].to_vec());
        at = end;
        i += 1;
    }
    out
}
