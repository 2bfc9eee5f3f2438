//! The admin pages in a real headless browser: Debian's `chromium`, driven over the Chrome
//! DevTools Protocol (a WebSocket, tokio-tungstenite), against the server on a real socket
//! whose store was filled by a whole call placed by kav-callsim's simulator (Hebrew turns,
//! espeak-ng replies, a full-call recording transcribed by the worker with a local fake
//! OpenAI server).
//!
//! It signs in through the login form, loads `/calls`, the call's page and `/sms`, checks the DOM (the transcripts, the audio
//! players — their sources answer 200 with audio the browser decodes —, right-to-left
//! direction of the Hebrew text, no sideways scrolling on a phone) and saves screenshots at a
//! desktop and a phone width (390×844) to `artifacts/browser/` at the workspace root.
//!
//! Without chromium the test fails, saying to run `scripts/install-test-deps.sh`, unless
//! `KAV_SKIP_BROWSER=1` is set. `KAV_CHROMIUM` names another browser binary.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::TempDir;
use common::fakes::{self, ACCOUNT, TOKEN};
use futures_util::{SinkExt as _, StreamExt as _};
use kav_server::store::sms::InboundSms;
use kav_server::worker::Worker;
use kav_server::{Agent, AppState, Config, app};
use kav_twilio_sig::SecretString;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const BASE: &str = "https://agent.example.com";
const ADMIN: &str = "admin-token-0123456789";
const SID: &str = "CA0123456789abcdef0123456789abcdef";
/// What the caller says (and what the fake speech-to-text hears in the full recording).
const SAID: &str = "שלום, מה שעות הפתיחה שלכם?";
const ALSO_SAID: &str = "I want to speak to a human";
/// Every step of the browser gets this long before the test gives up.
const STEP: Duration = Duration::from_secs(60);

/// The browser at `path`; `Ok(None)` when it is missing and `skip` (`KAV_SKIP_BROWSER=1`)
/// allows that; else why the test cannot run.
fn find_browser(path: PathBuf, skip: bool) -> Result<Option<PathBuf>, String> {
    if path.is_file() {
        Ok(Some(path))
    } else if skip {
        eprintln!(
            "SKIPPED: {} is not installed and KAV_SKIP_BROWSER=1",
            path.display()
        );
        Ok(None)
    } else {
        Err(format!(
            "{} is not installed: run scripts/install-test-deps.sh (Debian's chromium), or set \
             KAV_SKIP_BROWSER=1 to skip the browser tests",
            path.display()
        ))
    }
}

/// The browser of `KAV_CHROMIUM` (default `/usr/bin/chromium`), `None` when it is missing and
/// `KAV_SKIP_BROWSER=1`; panics when it is missing otherwise.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("KAV_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let skip = std::env::var("KAV_SKIP_BROWSER").as_deref() == Ok("1");
    find_browser(path, skip).unwrap_or_else(|message| panic!("{message}"))
}

/// A headless chromium in its own process group with a fresh profile; killed (the whole
/// group) on drop.
struct Browser {
    child: Child,
    ws_url: String,
    _profile: TempDir,
}

impl Browser {
    fn launch(program: &Path) -> Self {
        let profile = TempDir::new();
        let mut child = Command::new(program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--no-proxy-server",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--disable-features=Translate,OptimizationHints,MediaRouter",
                "--hide-scrollbars",
                "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                "--lang=en-US",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        // The DevTools address is printed on stderr; the rest of stderr is drained in the
        // background so the browser never blocks on a full pipe.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(line[at..].trim().to_owned()));
                    }
                } else if tx.is_some() {
                    seen.push(line);
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });
        let mut browser = Self {
            child,
            ws_url: String::new(),
            _profile: profile,
        };
        browser.ws_url = match rx.recv_timeout(STEP) {
            Ok(Ok(url)) => url,
            Ok(Err(stderr)) => panic!("chromium exited without a DevTools address:\n{stderr}"),
            Err(_) => panic!("chromium printed no DevTools address in time"),
        };
        browser
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser, its renderers and helpers: the process group it leads.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A DevTools Protocol connection to the browser, attached to one page (flat sessions).
struct Cdp {
    socket: Socket,
    next_id: u64,
    events: VecDeque<Value>,
    session: Option<String>,
}

impl Cdp {
    async fn connect(ws_url: &str) -> Self {
        let (socket, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(ws_url))
            .await
            .expect("DevTools connection in time")
            .expect("DevTools WebSocket");
        Self {
            socket,
            next_id: 0,
            events: VecDeque::new(),
            session: None,
        }
    }

    async fn receive(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(STEP, self.socket.next())
                .await
                .expect("a DevTools message in time")
                .expect("the DevTools connection is open")
                .expect("a DevTools message");
            if let Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    }

    /// Sends a command (to the attached page, if any) and returns its result; events that
    /// arrive meanwhile are kept for [`Cdp::event`].
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            command["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::Text(command.to_string().into()))
            .await
            .unwrap();
        loop {
            let message = self.receive().await;
            if message["id"] == id {
                assert!(
                    message.get("error").is_none(),
                    "{method} failed: {}",
                    message["error"]
                );
                return message["result"].clone();
            }
            self.events.push_back(message);
        }
    }

    /// Waits for the next `method` event of the attached page (dropping earlier ones).
    async fn event(&mut self, method: &str) -> Value {
        while let Some(event) = self.events.pop_front() {
            if event["method"] == method {
                return event;
            }
        }
        loop {
            let message = self.receive().await;
            if message["method"] == method {
                return message;
            }
        }
    }

    /// Opens a page and attaches to it; every later command goes to it.
    async fn open_page(&mut self) {
        let target = self
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = self
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        self.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
        self.call("Page.enable", json!({})).await;
        self.call("Runtime.enable", json!({})).await;
        self.call("Network.enable", json!({})).await;
    }

    /// Sets the viewport: `mobile` for a phone (touch, `width=device-width` honoured).
    async fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    async fn navigate(&mut self, url: &str) {
        self.events.clear();
        let navigated = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(
            navigated.get("errorText").is_none(),
            "{url}: {}",
            navigated["errorText"]
        );
        self.event("Page.loadEventFired").await;
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// A PNG of the whole page at the current width, written to `path`.
    async fn screenshot(&mut self, path: &Path) {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": {
                        "x": 0, "y": 0,
                        "width": size["width"], "height": size["height"], "scale": 1
                    },
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

/// `artifacts/browser/` at the workspace root (git-ignored).
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artifacts/browser")
}

/// The server on a loopback socket with a store filled by a simulated call; returns its URL.
async fn served_after_a_call(dir: &TempDir) -> (String, AppState) {
    let (openai, _fake) = fakes::fake_openai(&[SAID]).await;
    // The simulator's recordings host gets a fixed address, so `RECORDING_HOSTS` can name it.
    let recordings = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("sqlite://{}", dir.path().join("kav.db").display());
    let store = kav_server::Store::connect(&url, dir.path()).await.unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let hosts = format!("http://{recordings}");
    let config = Config::from_vars([
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("PUBLIC_BASE_URL", BASE),
        ("ADMIN_TOKEN", ADMIN),
        ("CALL_MODE", "gather"),
        ("KAV_LLM", "scripted"),
        ("KAV_RECORD_CALLS", "true"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", openai.as_str()),
        ("RECORDING_HOSTS", hosts.as_str()),
        ("KAV_DATA_DIR", data.as_str()),
    ])
    .unwrap();
    let agent = Agent::from_config(&config);
    assert!(
        agent.tts().is_some(),
        "espeak-ng is not installed: run scripts/install-test-deps.sh"
    );
    let state = AppState::with_agent(config, store, agent);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let serving = state.clone();
    tokio::spawn(async move { axum::serve(listener, app(serving)).await });

    use kav_callsim::{CallScript, SimConfig, Simulator, Turn};
    let sim = SimConfig::new(&server, BASE, SecretString::from(TOKEN.to_owned()))
        .unwrap()
        .with_call_sid(SID)
        .unwrap()
        .with_account_sid(ACCOUNT)
        .unwrap()
        .with_recordings_addr(recordings)
        .with_recordings_linger(Duration::from_secs(600))
        .with_status_callback("/webhook/call_status")
        .with_timeouts(Duration::from_secs(60), Duration::from_secs(5));
    let script = CallScript::new()
        .turn(Turn::text(SAID))
        .turn(Turn::text(ALSO_SAID));
    let report = Simulator::new(sim).run(&script).await.unwrap();
    assert!(!report.has_errors(), "{}", report.transcript());

    // The full-call recording's job: downloaded from the simulator, transcribed.
    let worker = Worker::new(state.clone());
    let mut transcribed = false;
    for _ in 0..100 {
        worker.run_once().await.unwrap();
        let transcripts = state.store().call_transcripts(SID).await.unwrap();
        if transcripts.iter().any(|t| t.text.is_some()) {
            transcribed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        transcribed,
        "no post-call transcript: {:?}\n{}",
        state.store().call_transcripts(SID).await.unwrap(),
        report.transcript()
    );

    // And a text conversation, for the SMS page.
    let store = state.store();
    let (_, _) = store
        .record_inbound_sms(
            &InboundSms {
                sid: format!("SM{:032x}", 1),
                from: "+972501234567".to_owned(),
                to: "+97231234567".to_owned(),
                body: "שלום, אפשר לקבוע תור למחר?".to_owned(),
            },
            kav_server::store::now_millis(),
        )
        .await
        .unwrap();
    store
        .set_sms_reply(
            &format!("SM{:032x}", 1),
            Ok("בטח! באיזו שעה נוח לך?"),
            kav_server::store::now_millis(),
        )
        .await
        .unwrap();
    (server, state)
}

/// Every `<audio>` of the page: its source, and whether the browser could load and decode it
/// (`loadedmetadata` with a duration) or the media error code.
const AUDIO_CHECK: &str = r#"
Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(done => {
  const report = ok => done({ src: a.getAttribute('src'), ok,
    duration: isFinite(a.duration) ? a.duration : 0, error: a.error ? a.error.code : null });
  a.addEventListener('loadedmetadata', () => report(true), { once: true });
  a.addEventListener('error', () => report(false), { once: true });
  setTimeout(() => report(false), 20000);
  a.preload = 'metadata';
  a.load();
})))
"#;

/// The computed direction of the innermost element whose own text contains `text`.
fn direction_of(text: &str) -> String {
    format!(
        r#"(() => {{
  const all = [...document.querySelectorAll('body *')]
    .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.includes({text})));
  return all.length ? getComputedStyle(all[all.length - 1]).direction : null;
}})()"#,
        text = json!(text)
    )
}

/// Whether the innermost element whose own text contains `text` lies within the first
/// `width` pixels (the viewport's width).
fn visible(text: &str, width: u32) -> String {
    format!(
        r#"(() => {{
  const all = [...document.querySelectorAll('body *')]
    .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.includes({text})));
  if (!all.length) return null;
  const box = all[all.length - 1].getBoundingClientRect();
  return box.width > 0 && box.left >= 0 && box.right <= {width};
}})()"#,
        text = json!(text)
    )
}

/// Whether the page is no wider than the viewport (nothing scrolls sideways but the tables'
/// own scroll boxes). (A phone's layout viewport may widen to fit a page that overflows, so the width the page
/// must fit is passed in rather than read from `window.innerWidth`.)
fn fits(width: u32) -> String {
    format!(
        "document.documentElement.scrollWidth <= {width} && \
         document.documentElement.getBoundingClientRect().width <= {width}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_in_a_headless_browser() {
    let Some(program) = chromium() else {
        return;
    };
    let dir = TempDir::new();
    let (server, state) = served_after_a_call(&dir).await;
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2, "{turns:?}");

    // The sources of the players answer 200 with audio (checked outside the browser too).
    let http = reqwest::Client::new();
    let audio_ok = async |path: &str| {
        let response = http
            .get(format!("{server}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert!(kind.starts_with("audio/"), "{path}: {kind}");
        assert!(bytes.starts_with(b"RIFF") && bytes.len() > 1000, "{path}");
    };

    let browser = Browser::launch(&program);
    let mut cdp = Cdp::connect(&browser.ws_url).await;
    cdp.open_page().await;
    let shots = artifacts();

    // Signing in as an administrator does: /calls sends the browser to the form, the token
    // sets the session cookie, and the browser lands on /calls (its players then load with
    // the cookie).
    cdp.navigate(&format!("{server}/calls")).await;
    assert_eq!(cdp.eval("location.pathname").await, "/login");
    cdp.eval(&format!(
        "document.querySelector('input[name=token]').value = {}; \
         document.querySelector('form').submit(); true",
        json!(ADMIN)
    ))
    .await;
    cdp.event("Page.loadEventFired").await;
    assert_eq!(cdp.eval("location.pathname").await, "/calls");

    for (width, height, mobile, label) in [(1280, 900, false, "desktop"), (390, 844, true, "phone")]
    {
        cdp.viewport(width, height, mobile).await;

        // The call list: the call, its first words in Hebrew, right to left.
        cdp.navigate(&format!("{server}/calls")).await;
        let rows = cdp
            .eval("document.querySelectorAll('tbody tr').length")
            .await;
        assert_eq!(rows, 1, "{label}");
        let link = cdp
            .eval(&format!(
                "!!document.querySelector('a[href=\"/calls/{SID}\"]')"
            ))
            .await;
        assert_eq!(link, true, "{label}");
        assert_eq!(cdp.eval(&direction_of(SAID)).await, "rtl", "{label}");
        assert_eq!(
            cdp.eval(&fits(width)).await,
            true,
            "{label}: /calls scrolls sideways"
        );
        // The first words are on screen, not in a part of the table scrolled out of view.
        assert_eq!(cdp.eval(&visible(SAID, width)).await, true, "{label}");
        cdp.screenshot(&shots.join(format!("calls-{label}.png")))
            .await;

        // The call: turns, replies, players, the full-call recording and its transcript.
        cdp.navigate(&format!("{server}/calls/{SID}")).await;
        let text = cdp.eval("document.body.innerText").await;
        let text = text.as_str().unwrap();
        for expected in [
            SAID,
            ALSO_SAID,
            "פתוחים",
            "representative",
            "Full-call recording",
            "Transcript",
            "completed",
            // The status timeline of a whole call, and the mode it was answered in.
            "in-progress",
            "gather",
        ] {
            assert!(
                text.contains(expected),
                "{label}: {expected} missing:\n{text}"
            );
        }
        let transcript = cdp
            .eval("[...document.querySelectorAll('section.recording p[dir=auto]')].map(p => p.textContent).join('\\n')")
            .await;
        assert!(
            transcript.as_str().unwrap().contains(SAID),
            "{label}: the post-call transcript: {transcript}"
        );
        // Hebrew reads right to left, English left to right, in the same page.
        assert_eq!(cdp.eval(&direction_of(SAID)).await, "rtl", "{label}");
        assert_eq!(cdp.eval(&direction_of(ALSO_SAID)).await, "ltr", "{label}");
        assert_eq!(
            cdp.eval(&fits(width)).await,
            true,
            "{label}: the call page scrolls sideways"
        );
        let players = cdp.eval(AUDIO_CHECK).await;
        let players = players.as_array().unwrap();
        // Two replies (espeak-ng audio) and the full-call recording.
        assert_eq!(players.len(), 3, "{label}: {players:?}");
        for player in players {
            assert_eq!(player["ok"], true, "{label}: {player}");
            assert!(
                player["duration"].as_f64().unwrap() > 0.2,
                "{label}: {player}"
            );
        }
        let full = players
            .iter()
            .filter(|p| p["src"].as_str().unwrap().contains("/recordings/RE"))
            .count();
        assert_eq!(full, 1, "{label}: {players:?}");
        if label == "desktop" {
            for player in players {
                audio_ok(player["src"].as_str().unwrap()).await;
            }
        }
        cdp.screenshot(&shots.join(format!("call-{label}.png")))
            .await;

        // The SMS threads and one thread.
        cdp.navigate(&format!("{server}/sms")).await;
        assert_eq!(
            cdp.eval(&direction_of("שלום, אפשר לקבוע תור למחר?")).await,
            "rtl",
            "{label}"
        );
        assert_eq!(
            cdp.eval(&visible("שלום, אפשר לקבוע תור למחר?", width))
                .await,
            true,
            "{label}"
        );
        cdp.screenshot(&shots.join(format!("sms-list-{label}.png")))
            .await;
        cdp.navigate(&format!("{server}/sms/%2B972501234567")).await;
        assert_eq!(
            cdp.eval(&direction_of("בטח! באיזו שעה נוח לך?")).await,
            "rtl"
        );
        assert_eq!(
            cdp.eval(&fits(width)).await,
            true,
            "{label}: the SMS page scrolls sideways"
        );
        cdp.screenshot(&shots.join(format!("sms-thread-{label}.png")))
            .await;
    }

    let _ = cdp.call("Browser.close", json!({})).await;
    drop(browser);
    drop(dir);
}

#[test]
fn a_missing_browser_fails_unless_skipped() {
    let missing = PathBuf::from("/nonexistent/chromium");
    let error = find_browser(missing.clone(), false).unwrap_err();
    assert!(error.contains("scripts/install-test-deps.sh"), "{error}");
    assert_eq!(find_browser(missing, true), Ok(None));
    let present = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    assert_eq!(find_browser(present.clone(), false), Ok(Some(present)));
}
