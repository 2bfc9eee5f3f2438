//! The real server on 127.0.0.1, spoken to as Twilio does: an HTTP upgrade offering the
//! `audio.twilio.com` subprotocol, then masked WebSocket text frames (RFC 6455, written by hand
//! here so that the test needs no WebSocket client library).

use std::time::Duration;

use base64::Engine as _;
use kav_media_stream::OutboundMessage;
use media_echo::{WS_PATH, app};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const MZ: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

async fn serve() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app("<Response/>".into(), Duration::from_millis(100));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends the upgrade request and returns the response head.
async fn handshake(
    socket: &mut BufReader<TcpStream>,
    addr: std::net::SocketAddr,
    offer: bool,
) -> String {
    let protocol = if offer {
        "Sec-WebSocket-Protocol: audio.twilio.com\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET {WS_PATH} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"
    );
    socket
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(socket.read_u8().await.unwrap());
    }
    String::from_utf8(head).unwrap().to_ascii_lowercase()
}

/// Writes one masked text frame.
async fn send_text(socket: &mut BufReader<TcpStream>, text: &str) {
    let payload = text.as_bytes();
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    socket.get_mut().write_all(&frame).await.unwrap();
}

/// Reads one (unmasked, unfragmented) text frame from the server.
async fn read_text(socket: &mut BufReader<TcpStream>) -> String {
    let first = socket.read_u8().await.unwrap();
    assert_eq!(first, 0x81, "a final text frame");
    let len = match socket.read_u8().await.unwrap() {
        126 => u64::from(socket.read_u16().await.unwrap()),
        127 => socket.read_u64().await.unwrap(),
        n => u64::from(n),
    };
    let mut payload = vec![0; len as usize];
    socket.read_exact(&mut payload).await.unwrap();
    String::from_utf8(payload).unwrap()
}

#[tokio::test]
async fn accepts_twilios_subprotocol_and_echoes_over_a_real_socket() {
    let addr = serve().await;
    let mut socket = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let head = handshake(&mut socket, addr, true).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-protocol: audio.twilio.com\r\n"),
        "{head}"
    );

    send_text(
        &mut socket,
        r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
    )
    .await;
    send_text(&mut socket, &format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"{MZ}","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{}}}},"streamSid":"{MZ}"}}"#
    )).await;
    let frame: Vec<u8> = (0..160u8).map(|i| i % 0x7F).collect();
    let payload = base64::engine::general_purpose::STANDARD.encode(&frame);
    send_text(&mut socket, &format!(
        r#"{{"event":"media","sequenceNumber":"2","media":{{"track":"inbound","chunk":"1","timestamp":"0","payload":"{payload}"}},"streamSid":"{MZ}"}}"#
    )).await;

    let echoed = tokio::time::timeout(Duration::from_secs(10), read_text(&mut socket))
        .await
        .expect("the echo arrives");
    match OutboundMessage::parse(&echoed).unwrap() {
        OutboundMessage::Media {
            stream_sid,
            payload,
        } => {
            assert_eq!(stream_sid, MZ);
            assert_eq!(&*payload, &frame[..]);
        }
        other => panic!("expected media, got {other:?}"),
    }
    // Then a mark, as the queue ran dry.
    let mark = read_text(&mut socket).await;
    assert!(matches!(
        OutboundMessage::parse(&mark).unwrap(),
        OutboundMessage::Mark { .. }
    ));
}

#[tokio::test]
async fn works_without_a_subprotocol_too() {
    let addr = serve().await;
    let mut socket = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let head = handshake(&mut socket, addr, false).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
}

#[tokio::test]
async fn serves_the_twiml_on_post_only() {
    let addr = serve().await;
    for (method, status) in [("POST", "200"), ("GET", "405")] {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "{method} /incoming-call HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status}")),
            "{response}"
        );
        if status == "200" {
            assert!(
                response
                    .to_ascii_lowercase()
                    .contains("content-type: text/xml")
            );
            assert!(response.ends_with("<Response/>"));
        }
    }
}
