//! Raw TCP servers, for answers no HTTP library sends on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one HTTP/1.1 request (headers, then a Content-Length or chunked body); returns what
/// arrived before the client stopped sending.
pub async fn read_request(sock: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let header_end = loop {
        let n = sock.read(&mut tmp).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let content_length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &buf[header_end..];
        let done = match content_length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => true,
        };
        if done {
            return buf;
        }
        let n = sock.read(&mut tmp).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// A listener on a free port of 127.0.0.1, and its address.
pub(crate) async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free local port");
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    (listener, addr)
}

/// How the raw server misbehaves.
#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    /// Announces `Content-Length: 4096`, sends this start of a body, closes the connection.
    CutOff(&'static str),
    /// Sends the headers and this start of a body, then waits forever.
    Trickle(&'static str),
}

/// A server on 127.0.0.1 that answers every request with a 200 JSON answer that misbehaves as
/// `m` says. Returns `http://127.0.0.1:port`.
pub async fn raw_server(m: Misbehaviour) -> String {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_request(&mut sock).await;
                let (partial, close) = match m {
                    Misbehaviour::CutOff(p) => (p, true),
                    Misbehaviour::Trickle(p) => (p, false),
                };
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(partial.as_bytes()).await;
                let _ = sock.flush().await;
                if close {
                    let _ = sock.shutdown().await;
                } else {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A server that accepts one connection, reads the request, reports it on `arrived`, then
/// never answers: it waits for the client to go away and reports that on `closed`.
pub async fn stalling_server(
    arrived: tokio::sync::oneshot::Sender<()>,
    closed: tokio::sync::oneshot::Sender<()>,
) -> String {
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let _ = read_request(&mut sock).await;
        let _ = arrived.send(());
        let mut tmp = [0u8; 64];
        // A read of 0 bytes (or an error) means the client dropped the connection.
        loop {
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = closed.send(());
    });
    format!("http://{addr}")
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}
