//! The engine: [`Simulator`] places a call and executes the TwiML it gets back, as Twilio does.

use std::collections::VecDeque;
use std::time::Instant;

use kav_audio_codec::{g711, wav};
use kav_twiml::voice::{
    Connect, ConnectChild, Dial, DialChild, Gather, GatherChild, Pause, Play, Record,
    Recording as RecordingNoun, Say, Start, StartChild, Stream, StreamChild, Verb, VoiceResponse,
};
use kav_twiml::{GatherInput, HttpMethod, Node, NodeContent, RecordingEvent, RejectReason};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};

use crate::callrec::CallRecorder;
use crate::codes::TwilioCode;
use crate::config::{DialOutcome, SimConfig, random_sid};
use crate::error::Error;
use crate::overrides::FailureKind;
use crate::recordings::RecordingsHost;
use crate::report::{
    CallReport, EndReason, Event, Level, Media, Notification, Purpose, REPORT_VERSION, Recording,
    RequestLog,
};
use crate::script::{CallScript, Turn};

/// The `Confidence` posted with every `SpeechResult` (the text is exact, so it is high).
pub const SPEECH_CONFIDENCE: &str = "0.9";

/// Simulated time per character of `<Say>` text (about 15 characters a second).
const SAY_MS_PER_CHAR: u64 = 65;

/// Places simulated calls against one server.
///
/// ```no_run
/// use kav_callsim::{CallScript, SimConfig, Simulator, Turn};
/// use kav_twilio_sig::SecretString;
///
/// # async fn demo() -> Result<(), kav_callsim::Error> {
/// let config = SimConfig::new(
///     "http://127.0.0.1:8080",
///     "https://agent.example.com",
///     SecretString::from("auth-token".to_owned()),
/// )?;
/// let script = CallScript::new().turn(Turn::text("I need a taxi to the airport"));
/// let report = Simulator::new(config).run(&script).await?;
/// println!("{}", report.transcript());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    client: Option<reqwest::Client>,
}

impl Simulator {
    /// A simulator with its own HTTP client (built on the first [`run`](Self::run)).
    #[must_use]
    pub fn new(config: SimConfig) -> Self {
        Self {
            config,
            client: None,
        }
    }

    /// Uses this HTTP client (shared connection pool, e.g. for load runs). It should not follow
    /// redirects differently from Twilio and should have no timeout of its own shorter than the
    /// configured ones. A URL with a `ct` connection override (`#ct=…`) other than the
    /// configured connect timeout is requested with a default client built for it instead.
    #[must_use]
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Builds the HTTP client the simulator uses by default (connect and total timeouts from the
    /// configuration).
    ///
    /// # Errors
    /// [`Error::HttpClient`].
    pub fn build_client(config: &SimConfig) -> Result<reqwest::Client, Error> {
        reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.http_timeout)
            .build()
            .map_err(Error::HttpClient)
    }

    /// Runs one call: the incoming-call webhook, then the TwiML, turn by turn, until someone
    /// hangs up. Problems on the call (unreachable URLs, bad TwiML) are in the report, not
    /// errors.
    ///
    /// # Errors
    /// Setup failures only: the HTTP client or recordings host cannot start (e.g. the address
    /// of [`SimConfig::with_recordings_addr`] is taken), caller audio
    /// cannot be decoded, espeak-ng fails.
    pub async fn run(&self, script: &CallScript) -> Result<CallReport, Error> {
        // Caller audio is checked before the call starts, so a bad file fails fast and the
        // agent sees no half call.
        for turn in script.turns() {
            if let Some(audio) = &turn.audio {
                wav::decode(&audio.wav).map_err(|source| Error::CallerAudio {
                    name: audio.name.clone(),
                    source,
                })?;
            }
        }
        let client = match &self.client {
            Some(client) => client.clone(),
            None => Self::build_client(&self.config)?,
        };
        let host = RecordingsHost::start(
            &self.config.account_sid,
            &self.config.auth_token,
            self.config.recordings_addr,
        )
        .await?;
        let call_sid = self
            .config
            .call_sid
            .clone()
            .unwrap_or_else(|| random_sid("CA"));
        let mut call = Call {
            config: &self.config,
            client,
            host,
            report: CallReport {
                version: REPORT_VERSION,
                call_sid,
                account_sid: self.config.account_sid.clone(),
                from: self.config.from.clone(),
                to: self.config.to.clone(),
                status: "completed".to_owned(),
                ended_by: EndReason::EndOfTwiml,
                duration_seconds: 0,
                events: Vec::new(),
                requests: Vec::new(),
                notifications: Vec::new(),
                media: Vec::new(),
                recordings: Vec::new(),
                event_times: Vec::new(),
                call_recordings: Vec::new(),
                fallbacks: Vec::new(),
                retries: 0,
                real_time: self.config.real_time,
                wall_ms: 0,
            },
            turns: script.turns().iter().cloned().collect(),
            hang_up_after_last_turn: script.hangs_up_after_last_turn(),
            clock_ms: 0,
            agent_requests: 0,
            sequence: 0,
            answered: false,
            stop: None,
            recorders: Vec::new(),
            clients: std::collections::HashMap::new(),
            started: Instant::now(),
        };
        call.run().await?;
        let Call {
            mut report,
            host,
            started,
            ..
        } = call;
        report.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        for url in host.mp3_requests() {
            report.notifications.push(Notification {
                level: Level::Warning,
                code: None,
                message: format!(
                    "the agent asked for {url}: the simulator cannot encode MP3 (Twilio would \
                     serve it) and answered 415; fetch the bare RecordingUrl or `.wav`"
                ),
            });
        }
        let linger = self.config.recordings_linger;
        if !linger.is_zero() {
            tokio::spawn(async move {
                tokio::time::sleep(linger).await;
                drop(host);
            });
        }
        Ok(report)
    }
}

/// What to do after a verb.
enum Flow {
    Next,
    Document(Document),
    End(EndReason),
}

struct Document {
    twiml: VoiceResponse,
    url: String,
}

struct Fetched {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

struct Call<'a> {
    config: &'a SimConfig,
    client: reqwest::Client,
    host: RecordingsHost,
    report: CallReport,
    turns: VecDeque<Turn>,
    hang_up_after_last_turn: bool,
    clock_ms: u64,
    agent_requests: usize,
    sequence: u32,
    answered: bool,
    /// Set when the call must end for a reason other than a failed request.
    stop: Option<EndReason>,
    /// Running `<Start><Recording>`s.
    recorders: Vec<CallRecorder>,
    /// Clients for `ct` connection overrides, by connect timeout.
    clients: std::collections::HashMap<std::time::Duration, reqwest::Client>,
    /// Wall-clock start of the call.
    started: Instant,
}

impl Call<'_> {
    async fn run(&mut self) -> Result<(), Error> {
        self.status_callback("ringing").await;
        let voice_url = self.config.public_url.join(&self.config.voice_url_path);
        let params = self.call_params("ringing");
        let end = match self
            .document(Purpose::IncomingCall, HttpMethod::Post, &voice_url, params)
            .await
        {
            Some(doc) => self.execute(doc).await?,
            None => EndReason::Error,
        };
        self.report.ended_by = end;
        self.report.duration_seconds = self.clock_ms.div_ceil(1000);
        if end == EndReason::Error && !self.answered {
            self.report.status = "failed".to_owned();
        }
        let status = self.report.status.clone();
        self.status_callback(&status).await;
        self.finish_recordings().await;
        Ok(())
    }

    /// Logs an event at the current simulated and wall-clock time.
    fn event(&mut self, event: Event) {
        self.report.events.push(event);
        self.report.event_times.push(crate::report::EventTime {
            at_ms: self.clock_ms,
            wall_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }

    /// `ms` of call time pass: the caller's and the agent's audio go into the running call
    /// recordings, and in real time the simulator waits for them.
    async fn elapse(&mut self, ms: u64, inbound: Option<&[i16]>, outbound: Option<&[i16]>) {
        self.elapse_recorded(ms, inbound, outbound);
        if self.config.real_time && ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    /// Like [`elapse`](Self::elapse), without waiting (time that already passed for real).
    fn elapse_recorded(&mut self, ms: u64, inbound: Option<&[i16]>, outbound: Option<&[i16]>) {
        self.clock_ms += ms;
        for recorder in &mut self.recorders {
            recorder.advance(ms, inbound, outbound);
        }
    }

    /// `<Dial>`: no call is placed; the dialled party does what the configuration says
    /// (`no-answer` by default). With `action`, Twilio requests it with `DialCallStatus`,
    /// `DialCallSid`, `DialCallDuration` (answered calls) and `DialBridged`, and executes what
    /// it returns; without, it goes on with the next verb.
    async fn dial(&mut self, dial: &Dial, doc_url: &str) -> Result<Flow, Error> {
        let outcome = self.config.dial_outcome;
        let timeout_s = u64::from(dial.timeout.map_or(30, |s| s.0));
        let limit_s = u64::from(dial.time_limit.map_or(14_400, |s| s.0));
        let ms = match outcome {
            DialOutcome::Completed => {
                let ms = u64::try_from(self.config.dial_duration.as_millis()).unwrap_or(u64::MAX);
                ms.min(limit_s * 1000)
            }
            // It rings until the <Dial timeout> runs out.
            DialOutcome::NoAnswer => timeout_s * 1000,
            // A busy signal or a failure comes back at once.
            DialOutcome::Busy | DialOutcome::Failed => 0,
        };
        if dial
            .record
            .is_some_and(|r| r != kav_twiml::DialRecord::DoNotRecord)
        {
            self.notify(
                Level::Warning,
                None,
                "<Dial record> is not simulated: no recording of the dialled call is made"
                    .to_owned(),
            );
        }
        let dial_call_sid = random_sid("CA");
        let seconds = ms.div_ceil(1000);
        self.event(Event::Dial {
            target: dial_target(dial),
            outcome: outcome.as_str().to_owned(),
            dial_call_sid: dial_call_sid.clone(),
            duration_seconds: seconds,
        });
        // Ringing and the other party's voice are silence in call recordings.
        self.elapse(ms, None, None).await;
        let Some(action) = &dial.action else {
            return Ok(Flow::Next);
        };
        let url = resolve(action, doc_url);
        let method = dial.method.unwrap_or(HttpMethod::Post);
        let mut params = self.call_params("in-progress");
        params.push(("DialCallStatus".to_owned(), outcome.as_str().to_owned()));
        params.push(("DialCallSid".to_owned(), dial_call_sid));
        let bridged = outcome == DialOutcome::Completed;
        if bridged {
            params.push(("DialCallDuration".to_owned(), seconds.to_string()));
        }
        params.push(("DialBridged".to_owned(), bridged.to_string()));
        Ok(self.follow(Purpose::Action, method, &url, params).await)
    }

    /// `<Start>`: starts each `<Recording>`; other children are not simulated.
    async fn start(&mut self, start: &Start, doc_url: &str) {
        for child in &start.children {
            match child {
                StartChild::Recording(noun) => self.start_recording(noun, doc_url).await,
                StartChild::Stream(_) => self.unsupported("Start><Stream"),
                StartChild::Siprec(_) => self.unsupported("Start><Siprec"),
                StartChild::Transcription(_) => self.unsupported("Start><Transcription"),
                _ => self.unsupported("Start><?"),
            }
        }
    }

    async fn start_recording(&mut self, noun: &RecordingNoun, doc_url: &str) {
        let sid = random_sid("RE");
        let recorder = CallRecorder::new(
            noun,
            sid.clone(),
            noun.recording_status_callback.as_ref(),
            doc_url,
        );
        self.event(Event::StartRecording {
            recording_sid: sid.clone(),
            channels: recorder.channels(),
            track: noun.track.map_or("both", |t| t.as_str()).to_owned(),
        });
        let url = self.host.url(&sid);
        let mut outcome = crate::report::CallRecording {
            sid,
            status: "in-progress".to_owned(),
            url: None,
            duration_seconds: 0,
            channels: recorder.channels(),
            callbacks: Vec::new(),
            error_code: 0,
        };
        if recorder.wants(RecordingEvent::InProgress) {
            let mut params = self.call_recording_params(&recorder, "in-progress", 0);
            params.insert(3, ("RecordingUrl".to_owned(), url));
            self.post_recording_status(&recorder, params).await;
            outcome.callbacks.push("in-progress".to_owned());
        }
        self.report.call_recordings.push(outcome);
        self.recorders.push(recorder);
    }

    /// After the call: each `<Start><Recording>` is `completed` (served by the recordings
    /// host) or `absent` (under a second), and its status callback is posted.
    async fn finish_recordings(&mut self) {
        let recorders = std::mem::take(&mut self.recorders);
        for recorder in recorders {
            let duration_ms = recorder.duration_ms();
            let seconds = duration_ms.div_ceil(1000);
            let absent = duration_ms < 1000;
            let status = if absent { "absent" } else { "completed" };
            let url = (!absent).then(|| {
                let wav = recorder.wav();
                self.report.recordings.push(Recording {
                    sid: recorder.sid.clone(),
                    wav: wav.clone(),
                });
                self.host.add(&recorder.sid, wav)
            });
            let event = if absent {
                RecordingEvent::Absent
            } else {
                RecordingEvent::Completed
            };
            let posted = recorder.wants(event);
            if posted {
                let mut params = self.call_recording_params(&recorder, status, seconds);
                if let Some(url) = &url {
                    params.insert(3, ("RecordingUrl".to_owned(), url.clone()));
                }
                self.post_recording_status(&recorder, params).await;
            }
            if let Some(outcome) = self
                .report
                .call_recordings
                .iter_mut()
                .find(|r| r.sid == recorder.sid)
            {
                outcome.status = status.to_owned();
                outcome.url = url;
                outcome.duration_seconds = seconds;
                // 16101: the recording is too short to be processed.
                outcome.error_code = if absent { 16101 } else { 0 };
                if posted {
                    outcome.callbacks.push(status.to_owned());
                }
            }
        }
    }

    /// The parameters of a `<Start><Recording>` status callback (`RecordingUrl` is inserted
    /// at index 3 by the caller when there is a file).
    fn call_recording_params(
        &self,
        recorder: &CallRecorder,
        status: &str,
        seconds: u64,
    ) -> Vec<(String, String)> {
        let mut params = vec![
            ("AccountSid".to_owned(), self.config.account_sid.clone()),
            ("CallSid".to_owned(), self.report.call_sid.clone()),
            ("RecordingSid".to_owned(), recorder.sid.clone()),
            ("RecordingStatus".to_owned(), status.to_owned()),
        ];
        if status != "in-progress" {
            params.push(("RecordingDuration".to_owned(), seconds.to_string()));
        }
        params.push((
            "RecordingChannels".to_owned(),
            recorder.channels().to_string(),
        ));
        params.push((
            "RecordingSource".to_owned(),
            "StartCallRecordingTwiML".to_owned(),
        ));
        params.push((
            "RecordingTrack".to_owned(),
            recorder.track.as_str().to_owned(),
        ));
        params.push(("RecordingStartTime".to_owned(), recorder.start_time.clone()));
        let code = if status == "absent" { "16101" } else { "0" };
        params.push(("ErrorCode".to_owned(), code.to_owned()));
        params
    }

    async fn post_recording_status(
        &mut self,
        recorder: &CallRecorder,
        params: Vec<(String, String)>,
    ) {
        if let Some(url) = &recorder.callback {
            self.request(
                Purpose::RecordingStatusCallback,
                recorder.method,
                url,
                params,
            )
            .await;
        }
    }

    async fn execute(&mut self, mut doc: Document) -> Result<EndReason, Error> {
        'document: loop {
            let verbs = doc.twiml.verbs().to_vec();
            for verb in &verbs {
                if !matches!(verb, Verb::Reject(_)) {
                    self.answer().await;
                }
                match self.verb(verb, &doc.url).await? {
                    Flow::Next => {}
                    Flow::Document(next) => {
                        doc = next;
                        continue 'document;
                    }
                    Flow::End(reason) => return Ok(reason),
                }
            }
            return Ok(EndReason::EndOfTwiml);
        }
    }

    async fn answer(&mut self) {
        if !self.answered {
            self.answered = true;
            self.status_callback("in-progress").await;
        }
    }

    async fn verb(&mut self, verb: &Verb, doc_url: &str) -> Result<Flow, Error> {
        match verb {
            Verb::Say(say) => {
                self.say(say).await;
                Ok(Flow::Next)
            }
            Verb::Play(play) => {
                self.play(play, doc_url).await;
                Ok(Flow::Next)
            }
            Verb::Pause(pause) => {
                self.pause(pause).await;
                Ok(Flow::Next)
            }
            Verb::Record(record) => self.record(record, doc_url).await,
            Verb::Gather(gather) => self.gather(gather, doc_url).await,
            Verb::Redirect(redirect) => {
                let url = resolve(&redirect.url, doc_url);
                let method = redirect.method.unwrap_or(HttpMethod::Post);
                let params = self.call_params("in-progress");
                Ok(self.follow(Purpose::Redirect, method, &url, params).await)
            }
            Verb::Connect(connect) => {
                let stream = connect.children.iter().find_map(|c| match c {
                    ConnectChild::Stream(stream) => Some(stream),
                    _ => None,
                });
                match stream {
                    Some(stream) => self.stream(connect, stream, doc_url).await,
                    None => {
                        self.unsupported("Connect");
                        Ok(Flow::Next)
                    }
                }
            }
            Verb::Dial(dial) => self.dial(dial, doc_url).await,
            Verb::Start(start) => {
                self.start(start, doc_url).await;
                Ok(Flow::Next)
            }
            Verb::Hangup(_) => {
                self.event(Event::Hangup);
                Ok(Flow::End(EndReason::AgentHangup))
            }
            Verb::Reject(reject) => {
                let reason = reject.reason.unwrap_or(RejectReason::Rejected);
                self.event(Event::Reject {
                    reason: reason.as_str().to_owned(),
                });
                if !self.answered {
                    self.report.status = match reason {
                        RejectReason::Busy => "busy",
                        _ => "no-answer",
                    }
                    .to_owned();
                }
                Ok(Flow::End(EndReason::Rejected))
            }
            other => {
                self.unsupported(&other_name(other));
                Ok(Flow::Next)
            }
        }
    }

    fn unsupported(&mut self, name: &str) {
        self.event(Event::Unsupported {
            verb: name.to_owned(),
        });
        self.notify(
            Level::Warning,
            None,
            format!("<{name}> is not executed by the simulator; the call goes on"),
        );
    }

    /// `<Connect><Stream>`: every remaining caller turn goes through the WebSocket.
    async fn stream(
        &mut self,
        connect: &Connect,
        stream: &Stream,
        doc_url: &str,
    ) -> Result<Flow, Error> {
        let Some(url) = &stream.url else {
            self.notify(
                Level::Error,
                Some(TwilioCode::SchemaValidationWarning),
                "<Stream> without a url".to_owned(),
            );
            return Ok(Flow::Next);
        };
        let public = url.as_str().to_owned();
        let (local, proxied) = self.local_ws_url(&public);
        let mut headers = vec![
            (
                "x-twilio-signature",
                kav_twilio_sig::compute_signature(
                    &self.config.auth_token,
                    &public,
                    &[] as &[(&str, &str)],
                ),
            ),
            ("user-agent", "Twilio.TmeWs/1.0".to_owned()),
        ];
        if proxied {
            headers.push((
                "x-forwarded-proto",
                self.config.public_url.scheme().as_str().to_owned(),
            ));
            headers.push(("x-forwarded-host", self.public_host().to_owned()));
        }
        let stream_sid_text = random_sid("MZ");
        let ids = (
            kav_media_stream::StreamSid::parse(&stream_sid_text),
            kav_media_stream::AccountSid::parse(&self.config.account_sid),
            kav_media_stream::CallSid::parse(&self.report.call_sid),
        );
        let (Ok(stream_sid), Ok(account_sid), Ok(call_sid)) = ids else {
            return Err(Error::InvalidConfig {
                field: "SIDs",
                reason: "not usable on a media stream".to_owned(),
            });
        };
        let parameters = stream
            .children
            .iter()
            .filter_map(|c| match c {
                StreamChild::Parameter(p) => {
                    Some((p.name.clone()?, p.value.clone().unwrap_or_default()))
                }
                _ => None,
            })
            .collect();
        let turns: Vec<Turn> = self.turns.drain(..).collect();
        let mut audio = Vec::with_capacity(turns.len());
        for turn in &turns {
            audio.push(crate::stream::StreamTurn {
                samples: self.turn_audio(turn).await?.unwrap_or_default(),
                digits: turn.digits.clone(),
            });
        }
        self.event(Event::Stream {
            url: public.clone(),
            stream_sid: stream_sid_text,
        });
        let setup = crate::stream::StreamSetup {
            local_url: &local,
            headers,
            stream_sid,
            account_sid,
            call_sid,
            parameters,
            idle: self.config.stream_idle,
            timeout: self.config.http_timeout,
            realtime: self.config.stream_realtime,
        };
        let outcome = match crate::stream::run(setup, &audio).await {
            Ok(outcome) => outcome,
            Err(reason) => {
                // 31920 Stream - WebSocket - Handshake Error; Twilio goes on with the next verb.
                self.notify(
                    Level::Error,
                    Some(TwilioCode::StreamHandshakeError),
                    format!("{public}: {reason}"),
                );
                return Ok(Flow::Next);
            }
        };
        for (i, turn) in turns.iter().enumerate() {
            let Some(&reply_ms) = outcome.replies_ms.get(i) else {
                break;
            };
            let audio_ms = audio[i].samples.len() as u64 / 8;
            self.event(Event::Caller {
                text: turn.text.clone(),
                digits: turn.digits.clone(),
                audio_ms: Some(audio_ms),
            });
            // The stream already ran (in real time with `--realtime`): no waiting here.
            self.elapse_recorded(audio_ms, Some(&audio[i].samples), None);
            self.event(Event::AgentAudio { audio_ms: reply_ms });
            self.elapse_recorded(reply_ms, None, None);
        }
        self.event(Event::StreamEnd {
            marks: outcome.marks,
            clears: outcome.clears,
            closed_by: if outcome.closed_by_agent {
                "agent"
            } else {
                "caller"
            }
            .to_owned(),
        });
        if outcome.closed_by_agent {
            // Turns the stream never reached stay for the TwiML that follows.
            for turn in turns.into_iter().skip(outcome.replies_ms.len()).rev() {
                self.turns.push_front(turn);
            }
            // The agent ended the stream: Twilio requests <Connect action>, or goes on with the
            // verb after <Connect>.
            return Ok(match &connect.action {
                Some(action) => {
                    let url = resolve(action, doc_url);
                    let method = connect.method.unwrap_or(HttpMethod::Post);
                    let params = self.call_params("in-progress");
                    self.follow(Purpose::Action, method, &url, params).await
                }
                None => Flow::Next,
            });
        }
        self.event(Event::CallerHangup);
        Ok(Flow::End(EndReason::CallerHangup))
    }

    /// The host of the public URL (with its port, if any).
    fn public_host(&self) -> &str {
        self.config
            .public_url
            .origin()
            .split_once("://")
            .map_or("", |(_, h)| h)
    }

    /// A `wss://` URL under the public URL goes to `--server` as `ws://` (the proxy ends TLS).
    fn local_ws_url(&self, public: &str) -> (String, bool) {
        let base = format!(
            "{}://{}{}",
            self.config.public_url.scheme().websocket(),
            self.public_host(),
            self.config.public_url.path_prefix()
        );
        let rest = public
            .strip_prefix(&base)
            .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
        match rest {
            Some(rest) => {
                let server = self.config.server.as_str().trim_end_matches('/');
                let server = server
                    .strip_prefix("https://")
                    .map(|h| format!("wss://{h}"))
                    .or_else(|| server.strip_prefix("http://").map(|h| format!("ws://{h}")))
                    .unwrap_or_else(|| server.to_owned());
                (format!("{server}{rest}"), true)
            }
            None => (public.to_owned(), false),
        }
    }

    async fn say(&mut self, say: &Say) {
        let mut text = String::new();
        collect_text(&say.to_node(), &mut text);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(problem) = say_language_problem(say.voice.as_deref(), say.language.as_deref()) {
            self.notify(
                Level::Warning,
                Some(TwilioCode::SayInvalidLanguage),
                problem,
            );
        }
        let loops = say.loop_.unwrap_or(1);
        let ms = text.chars().count() as u64 * SAY_MS_PER_CHAR * u64::from(loops.max(1));
        self.event(Event::Say {
            text,
            voice: say.voice.clone(),
            language: say.language.clone(),
            loops,
        });
        // Speech is silence in call recordings (the simulator has none of Twilio's voices).
        self.elapse(ms, None, None).await;
    }

    async fn pause(&mut self, pause: &Pause) {
        let seconds = pause.length.map_or(1, |s| s.0);
        self.event(Event::Pause { seconds });
        self.elapse(u64::from(seconds) * 1000, None, None).await;
    }

    async fn play(&mut self, play: &Play, doc_url: &str) {
        let Some(url) = &play.url else {
            let digits = play.digits.as_ref().map_or("", |d| d.as_str());
            self.event(Event::Unsupported {
                verb: format!("Play digits=\"{digits}\""),
            });
            return;
        };
        let url = resolve(url, doc_url);
        let loops = play.loop_.unwrap_or(1).max(1);
        let Some(fetched) = self
            .request(Purpose::Media, HttpMethod::Get, &url, Vec::new())
            .await
        else {
            return;
        };
        self.play_fetched(url, fetched, loops).await;
    }

    /// Checks that fetched media is audio Twilio can play, keeps it and logs the event.
    async fn play_fetched(&mut self, url: String, fetched: Fetched, loops: u32) {
        let kind = fetched.content_type.as_deref().map(media_type);
        let duration_ms = match kind.as_deref() {
            Some("audio/wav" | "audio/wave" | "audio/x-wav") => match wav::decode(&fetched.body) {
                Ok(decoded) => {
                    Some(decoded.frames() as u64 * 1000 / u64::from(decoded.sample_rate.max(1)))
                }
                Err(_) => {
                    self.notify(
                        Level::Error,
                        None,
                        format!("{url}: served as WAV but is not a WAV file Twilio can play"),
                    );
                    return;
                }
            },
            Some("audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg-3") => {
                if !looks_like_mp3(&fetched.body) {
                    self.notify(
                        Level::Error,
                        None,
                        format!("{url}: served as MP3 but is not an MP3 file"),
                    );
                    return;
                }
                None
            }
            Some(
                "audio/basic" | "audio/ulaw" | "audio/aiff" | "audio/x-aiff" | "audio/x-aifc"
                | "audio/gsm" | "audio/x-gsm",
            ) => None,
            _ => {
                // 12300 Invalid Content-Type: Twilio plays only the audio types it documents.
                self.notify(
                    Level::Error,
                    Some(TwilioCode::InvalidContentType),
                    format!(
                        "{url}: Content-Type `{}` is not audio Twilio can play",
                        fetched.content_type.as_deref().unwrap_or("(none)")
                    ),
                );
                return;
            }
        };
        self.event(Event::Play {
            url: url.clone(),
            content_type: fetched.content_type.clone(),
            bytes: fetched.body.len(),
            duration_ms,
        });
        if let Some(ms) = duration_ms {
            // WAV audio goes into call recordings as the caller hears it (8 kHz, μ-law).
            let samples = if self.recorders.is_empty() {
                Vec::new()
            } else {
                wav::decode_mono(&fetched.body, 8000)
                    .map(|s| g711::ulaw_decode(&g711::ulaw_encode(&s)))
                    .unwrap_or_default()
            };
            for _ in 0..loops {
                self.elapse(ms, None, Some(&samples)).await;
            }
        }
        self.report.media.push(Media {
            url,
            content_type: fetched.content_type,
            bytes: fetched.body,
        });
    }

    async fn record(&mut self, record: &Record, doc_url: &str) -> Result<Flow, Error> {
        let Some(turn) = self.turns.pop_front() else {
            self.event(Event::CallerHangup);
            return Ok(Flow::End(EndReason::CallerHangup));
        };
        let last = self.turns.is_empty();
        let samples = match self.turn_audio(&turn).await? {
            Some(samples) if !samples.is_empty() => samples,
            _ => {
                // Twilio makes no request to the action URL for an empty recording and goes
                // on with the next verb.
                self.event(Event::Caller {
                    text: None,
                    digits: turn.digits.clone(),
                    audio_ms: Some(0),
                });
                return Ok(Flow::Next);
            }
        };
        let audio_ms = samples.len() as u64 * 1000 / 8000;
        let recording_sid = random_sid("RE");
        let recording_wav = wav::encode_pcm16(&samples, 8000, 1);
        let recording_url = self.host.add(&recording_sid, recording_wav.clone());
        self.report.recordings.push(Recording {
            sid: recording_sid.clone(),
            wav: recording_wav,
        });
        self.event(Event::Record {
            recording_sid: recording_sid.clone(),
        });
        self.event(Event::Caller {
            text: turn.text.clone(),
            digits: None,
            audio_ms: Some(audio_ms),
        });
        self.elapse(audio_ms, Some(&samples), None).await;
        let hangup = last && self.hang_up_after_last_turn;
        let digits = if hangup {
            Some("hangup".to_owned())
        } else {
            finish_key(
                record
                    .finish_on_key
                    .as_ref()
                    .map(kav_twiml::DtmfKeys::as_str),
            )
        };
        let status = if hangup { "completed" } else { "in-progress" };
        let recording_params = vec![
            ("RecordingUrl".to_owned(), recording_url),
            ("RecordingSid".to_owned(), recording_sid),
            (
                "RecordingDuration".to_owned(),
                audio_ms.div_ceil(1000).max(1).to_string(),
            ),
        ];
        let mut params = self.call_params(status);
        params.extend_from_slice(&recording_params);
        if let Some(digits) = digits {
            params.push(("Digits".to_owned(), digits));
        }
        let action = record
            .action
            .as_ref()
            .map_or_else(|| doc_url.to_owned(), |u| resolve(u, doc_url));
        let method = record.method.unwrap_or(HttpMethod::Post);
        if hangup {
            // The caller is gone: Twilio still posts the recording; the TwiML it gets back is
            // not executed.
            self.request(Purpose::Action, method, &action, params).await;
            self.recording_status(record, doc_url, &recording_params)
                .await;
            self.event(Event::CallerHangup);
            return Ok(Flow::End(EndReason::CallerHangup));
        }
        let flow = self.follow(Purpose::Action, method, &action, params).await;
        self.recording_status(record, doc_url, &recording_params)
            .await;
        Ok(flow)
    }

    /// The `recordingStatusCallback` of a `<Record>`, once the recording is available
    /// (`completed`, the default event).
    async fn recording_status(
        &mut self,
        record: &Record,
        doc_url: &str,
        recording: &[(String, String)],
    ) {
        let Some(callback) = &record.recording_status_callback else {
            return;
        };
        let wanted = record
            .recording_status_callback_event
            .as_ref()
            .is_none_or(|events| events.contains(&RecordingEvent::Completed));
        if !wanted {
            return;
        }
        let url = resolve(callback, doc_url);
        let method = record
            .recording_status_callback_method
            .unwrap_or(HttpMethod::Post);
        let mut params = vec![
            ("AccountSid".to_owned(), self.config.account_sid.clone()),
            ("CallSid".to_owned(), self.report.call_sid.clone()),
        ];
        params.extend_from_slice(recording);
        params.push(("RecordingStatus".to_owned(), "completed".to_owned()));
        params.push(("RecordingChannels".to_owned(), "1".to_owned()));
        params.push(("RecordingSource".to_owned(), "RecordVerb".to_owned()));
        params.push(("RecordingStartTime".to_owned(), crate::time::rfc2822_now()));
        self.request(Purpose::RecordingStatusCallback, method, &url, params)
            .await;
    }

    async fn gather(&mut self, gather: &Gather, doc_url: &str) -> Result<Flow, Error> {
        for child in &gather.children {
            match child {
                GatherChild::Say(say) => self.say(say).await,
                GatherChild::Play(play) => self.play(play, doc_url).await,
                GatherChild::Pause(pause) => self.pause(pause).await,
                _ => {}
            }
        }
        let inputs = gather
            .input
            .clone()
            .unwrap_or_else(|| vec![GatherInput::Dtmf]);
        let input = inputs
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.event(Event::Gather { input });
        let Some(turn) = self.turns.pop_front() else {
            self.event(Event::CallerHangup);
            return Ok(Flow::End(EndReason::CallerHangup));
        };
        let mut params = self.call_params("in-progress");
        let mut got = false;
        if let (Some(digits), true) = (&turn.digits, inputs.contains(&GatherInput::Dtmf)) {
            let finish = gather
                .finish_on_key
                .as_ref()
                .map_or("#", |k| k.as_str())
                .to_owned();
            let digits: String = digits.chars().filter(|c| !finish.contains(*c)).collect();
            params.push(("Digits".to_owned(), digits));
            got = true;
        } else if let (Some(text), true) = (&turn.text, inputs.contains(&GatherInput::Speech)) {
            params.push(("SpeechResult".to_owned(), text.clone()));
            params.push(("Confidence".to_owned(), SPEECH_CONFIDENCE.to_owned()));
            got = true;
        } else if turn.audio.is_some() && inputs.contains(&GatherInput::Speech) {
            // Twilio's speech recognizer is not available locally: the turn is heard but not
            // recognized, which Twilio treats as no input.
            let name = turn.audio.as_ref().map_or("", |a| a.name.as_str());
            let outcome = if gather.action_on_empty_result == Some(true) {
                "the action is requested without SpeechResult (actionOnEmptyResult=\"true\")"
            } else {
                "the <Gather> times out and the next verb runs"
            };
            self.notify(
                Level::Warning,
                None,
                format!(
                    "caller audio `{name}` has no transcript and Twilio's speech recognizer is not \
                     available locally, so nothing is recognized: as on Twilio with no speech \
                     result, {outcome}. Give the turn its text (`--say {name}::text`, \
                     `wav:{name} | text`, or `text` in a TOML turn) to post a SpeechResult"
                ),
            );
        }
        let (audio_ms, samples) = match (&turn.text, &turn.audio) {
            (_, Some(_)) => {
                let samples = self.turn_audio(&turn).await?.unwrap_or_default();
                (Some(samples.len() as u64 * 1000 / 8000), samples)
            }
            (Some(text), None) => {
                let estimate = text.chars().count() as u64 * SAY_MS_PER_CHAR;
                // A call recording hears the text spoken by espeak-ng when it can run;
                // otherwise silence for as long as the text would take.
                let samples = if self.recorders.is_empty() {
                    Vec::new()
                } else {
                    match self.turn_audio(&turn).await {
                        Ok(samples) => samples.unwrap_or_default(),
                        Err(err) => {
                            self.notify(
                                Level::Warning,
                                None,
                                format!("the call recording has silence for a text turn: {err}"),
                            );
                            Vec::new()
                        }
                    }
                };
                let ms = if samples.is_empty() {
                    estimate
                } else {
                    samples.len() as u64 / 8
                };
                (Some(ms), samples)
            }
            (None, None) => (None, Vec::new()),
        };
        self.event(Event::Caller {
            text: turn.text.clone(),
            digits: turn.digits.clone(),
            audio_ms,
        });
        self.elapse(audio_ms.unwrap_or(0), Some(&samples), None)
            .await;
        if !got && gather.action_on_empty_result != Some(true) {
            // No input: Twilio goes on with the verb after <Gather>.
            return Ok(Flow::Next);
        }
        let action = gather
            .action
            .as_ref()
            .map_or_else(|| doc_url.to_owned(), |u| resolve(u, doc_url));
        let method = gather.method.unwrap_or(HttpMethod::Post);
        Ok(self.follow(Purpose::Action, method, &action, params).await)
    }

    /// The caller's audio for a turn as Twilio would record it: 8 kHz mono, through G.711 μ-law.
    async fn turn_audio(&self, turn: &Turn) -> Result<Option<Vec<i16>>, Error> {
        let samples = if let Some(audio) = &turn.audio {
            wav::decode_mono(&audio.wav, 8000).map_err(|source| Error::CallerAudio {
                name: audio.name.clone(),
                source,
            })?
        } else if let Some(text) = &turn.text {
            let bytes = crate::speech::espeak(
                &self.config.espeak_program,
                self.config.espeak_voice.as_deref(),
                text,
            )
            .await?;
            wav::decode_mono(&bytes, 8000).map_err(|source| Error::CallerAudio {
                name: format!("espeak-ng speech of `{text}`"),
                source,
            })?
        } else {
            return Ok(None);
        };
        Ok(Some(g711::ulaw_decode(&g711::ulaw_encode(&samples))))
    }

    /// Requests the next document and turns it into a flow.
    async fn follow(
        &mut self,
        purpose: Purpose,
        method: HttpMethod,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Flow {
        match self.document(purpose, method, url, params).await {
            Some(doc) => Flow::Document(doc),
            None => Flow::End(self.stop.take().unwrap_or(EndReason::Error)),
        }
    }

    /// Fetches and parses a TwiML document; `None` after reporting why it cannot be used.
    /// When it cannot, and a fallback URL is configured, Twilio requests that with the same
    /// parameters plus `ErrorCode` and `ErrorUrl`, and executes what it returns.
    async fn document(
        &mut self,
        purpose: Purpose,
        method: HttpMethod,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Option<Document> {
        let fallback_params = self.config.fallback_url.is_some().then(|| params.clone());
        let notes_before = self.report.notifications.len();
        let doc = self.document_once(purpose, method, url, params).await;
        if doc.is_some() || self.stop.is_some() {
            return doc;
        }
        let (Some(fallback), Some(mut params)) =
            (self.config.fallback_url.clone(), fallback_params)
        else {
            return None;
        };
        // The failure's code: the last error reported for this document.
        let code = self.report.notifications[notes_before..]
            .iter()
            .rev()
            .find(|n| n.level == Level::Error)
            .and_then(|n| n.code)
            .unwrap_or(TwilioCode::HttpRetrievalFailure);
        let error_url = url.split_once('#').map_or(url, |(base, _)| base).to_owned();
        let fallback_url = if fallback.starts_with('/') {
            self.config.public_url.join(&fallback)
        } else {
            fallback
        };
        params.push(("ErrorCode".to_owned(), code.code().to_string()));
        params.push(("ErrorUrl".to_owned(), error_url.clone()));
        let method = self.config.fallback_method;
        let doc = self
            .document_once(Purpose::Fallback, method, &fallback_url, params)
            .await;
        self.report.fallbacks.push(crate::report::Fallback {
            error_code: code.code(),
            error_url,
            fallback_url: fallback_url
                .split_once('#')
                .map_or(fallback_url.as_str(), |(b, _)| b)
                .to_owned(),
            recovered: doc.is_some(),
        });
        doc
    }

    async fn document_once(
        &mut self,
        purpose: Purpose,
        method: HttpMethod,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Option<Document> {
        if self.agent_requests >= self.config.max_requests {
            self.notify(
                Level::Error,
                None,
                format!(
                    "more than {} requests to the agent in one call: stopping (a TwiML loop?)",
                    self.config.max_requests
                ),
            );
            self.stop = Some(EndReason::StepLimit);
            return None;
        }
        self.agent_requests += 1;
        let fetched = self.request(purpose, method, url, params).await?;
        let kind = fetched.content_type.as_deref().map(media_type);
        match kind.as_deref() {
            Some("text/xml" | "application/xml" | "text/html") => {}
            Some(audio) if audio.starts_with("audio/") => {
                // An audio document: Twilio plays it, then the call ends.
                self.play_fetched(url.to_owned(), fetched, 1).await;
                return Some(Document {
                    twiml: VoiceResponse::new(),
                    url: url.to_owned(),
                });
            }
            Some("text/plain") => {
                // Plain text: Twilio reads it out, then the call ends.
                let text = String::from_utf8_lossy(&fetched.body).into_owned();
                return Some(Document {
                    twiml: VoiceResponse::new().say(Say::new(text)),
                    url: url.to_owned(),
                });
            }
            _ => {
                // 12300 Invalid Content-Type.
                self.notify(
                    Level::Error,
                    Some(TwilioCode::InvalidContentType),
                    format!(
                        "{url}: Content-Type `{}` is not TwiML (text/xml or application/xml)",
                        fetched.content_type.as_deref().unwrap_or("(none)")
                    ),
                );
                return None;
            }
        }
        let Ok(text) = std::str::from_utf8(&fetched.body) else {
            self.notify(
                Level::Error,
                Some(TwilioCode::DocumentParseFailure),
                format!("{url}: the TwiML is not UTF-8"),
            );
            return None;
        };
        match VoiceResponse::parse(text) {
            Ok(twiml) => Some(Document {
                twiml,
                url: url.to_owned(),
            }),
            Err(err) => {
                let code = parse_error_code(&err);
                self.notify(Level::Error, Some(code), format!("{url}: {err}"));
                None
            }
        }
    }

    /// One signed request, logged; `None` after reporting a failure.
    async fn request(
        &mut self,
        purpose: Purpose,
        method: HttpMethod,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Option<Fetched> {
        let (target, overrides, problems) =
            crate::overrides::parse(url, self.config.connect_timeout, self.config.http_timeout);
        let target = target.to_owned();
        for problem in problems {
            // 11243 HTTP retry policy is invalid; other bad values have no code of their own
            // here.
            let code = problem.policy.then_some(TwilioCode::HttpRetryPolicyInvalid);
            self.notify(Level::Warning, code, format!("{url}: {}", problem.message));
        }
        let client = self.client_for(overrides.connect);
        let started = Instant::now();
        let deadline = started + overrides.total;
        let mut retries = 0u32;
        let result = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = overrides
                .read
                .min(remaining)
                .max(std::time::Duration::from_millis(1));
            let result = self.send(&client, method, &target, &params, timeout).await;
            let kind = match &result {
                Ok(f) if (200..300).contains(&f.status) => None,
                Ok(f) if (400..500).contains(&f.status) => Some(FailureKind::Status4xx),
                Ok(f) if f.status >= 500 => Some(FailureKind::Status5xx),
                Ok(_) => Some(FailureKind::Other),
                Err(failure) => Some(failure.kind),
            };
            match kind {
                Some(kind)
                    if retries < overrides.retries
                        && overrides.policy.retries(kind)
                        && Instant::now() < deadline =>
                {
                    retries += 1;
                }
                _ => break result.map_err(|f| (f.code, f.message)),
            }
        };
        self.report.retries += retries;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let url = target.as_str();
        let mut log = RequestLog {
            purpose,
            method: method.as_str().to_owned(),
            url: url.to_owned(),
            status: None,
            content_type: None,
            elapsed_ms,
            error: None,
            before_event: self.report.events.len(),
            retries,
        };
        let outcome = match result {
            Ok(fetched) if (200..300).contains(&fetched.status) => {
                log.status = Some(fetched.status);
                log.content_type.clone_from(&fetched.content_type);
                Ok(fetched)
            }
            Ok(fetched) => {
                log.status = Some(fetched.status);
                log.content_type.clone_from(&fetched.content_type);
                // 11200 HTTP retrieval failure: a non-2xx answer.
                Err((
                    TwilioCode::HttpRetrievalFailure,
                    format!("{url}: HTTP {}", fetched.status),
                ))
            }
            Err(failure) => Err(failure),
        };
        match outcome {
            Ok(fetched) => {
                self.report.requests.push(log);
                Some(fetched)
            }
            Err((code, message)) => {
                log.error = Some(code);
                self.report.requests.push(log);
                let level = if matches!(
                    purpose,
                    Purpose::StatusCallback | Purpose::RecordingStatusCallback
                ) {
                    Level::Warning
                } else {
                    Level::Error
                };
                self.notify(level, Some(code), message);
                None
            }
        }
    }

    /// The HTTP client for a connect timeout (the configured one, or one built for a `ct`
    /// override).
    fn client_for(&mut self, connect: std::time::Duration) -> reqwest::Client {
        if connect == self.config.connect_timeout {
            return self.client.clone();
        }
        if let Some(client) = self.clients.get(&connect) {
            return client.clone();
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(self.config.http_timeout)
            .build()
            .unwrap_or_else(|_| self.client.clone());
        self.clients.insert(connect, client.clone());
        client
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        method: HttpMethod,
        url: &str,
        params: &[(String, String)],
        timeout: std::time::Duration,
    ) -> Result<Fetched, SendFailure> {
        let Some((public, local, proxied)) = self.local_url(url, method, params) else {
            // 11100 Invalid URL format.
            return Err(SendFailure {
                code: TwilioCode::InvalidUrlFormat,
                message: format!("`{url}` is not an absolute http(s) URL"),
                kind: FailureKind::Other,
            });
        };
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static("TwilioProxy/1.1"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        headers.insert("cache-control", HeaderValue::from_static("max-age=259200"));
        let sign_params: &[(String, String)] = match method {
            HttpMethod::Post => params,
            _ => &[],
        };
        let signature =
            kav_twilio_sig::compute_signature(&self.config.auth_token, &public, sign_params);
        if let Ok(value) = HeaderValue::from_str(&signature) {
            headers.insert("x-twilio-signature", value);
        }
        if let Ok(value) = HeaderValue::from_str(&idempotency_token()) {
            headers.insert("i-twilio-idempotency-token", value);
        }
        if proxied {
            let scheme = self.config.public_url.scheme().as_str();
            let host = self
                .config
                .public_url
                .origin()
                .split_once("://")
                .map_or("", |(_, h)| h);
            if let (Ok(proto), Ok(host)) =
                (HeaderValue::from_str(scheme), HeaderValue::from_str(host))
            {
                headers.insert("x-forwarded-proto", proto);
                headers.insert("x-forwarded-host", host);
            }
        }
        let request = match method {
            HttpMethod::Post => {
                let body = serde_urlencoded::to_string(params).unwrap_or_default();
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                client.post(local).headers(headers).body(body)
            }
            _ => client.get(local).headers(headers),
        };
        let failure = |e: reqwest::Error| SendFailure {
            code: classify(&e),
            message: format!("{public}: {}", describe(&e)),
            kind: failure_kind(&e),
        };
        let response = request.timeout(timeout).send().await.map_err(failure)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(failure)?;
        Ok(Fetched {
            status,
            content_type,
            body: body.to_vec(),
        })
    }

    /// The URL to sign (as Twilio requests it, with GET parameters in the query), the URL to
    /// connect to, and whether it goes through the simulated proxy to `--server`.
    fn local_url(
        &self,
        url: &str,
        method: HttpMethod,
        params: &[(String, String)],
    ) -> Option<(String, reqwest::Url, bool)> {
        let mut public = reqwest::Url::parse(url).ok()?;
        if !matches!(public.scheme(), "http" | "https") || public.host_str().is_none() {
            return None;
        }
        if method == HttpMethod::Get && !params.is_empty() {
            public.query_pairs_mut().extend_pairs(params);
        }
        let public_text = public.to_string();
        let base = self.config.public_url.origin();
        let prefix = self.config.public_url.path_prefix();
        let rest = public_text.strip_prefix(base).and_then(|rest| {
            let rest = rest.strip_prefix(prefix)?;
            (rest.is_empty() || rest.starts_with(['/', '?'])).then_some(rest)
        });
        match rest {
            Some(rest) => {
                let mut local = self.config.server.as_str().trim_end_matches('/').to_owned();
                if !rest.starts_with('/') {
                    local.push('/');
                }
                local.push_str(rest);
                Some((public_text, reqwest::Url::parse(&local).ok()?, true))
            }
            None => Some((public_text, public, false)),
        }
    }

    async fn status_callback(&mut self, status: &str) {
        let Some(target) = &self.config.status_callback else {
            return;
        };
        let url = if target.starts_with('/') {
            self.config.public_url.join(target)
        } else {
            target.clone()
        };
        let mut params = self.call_params(status);
        params.push((
            "CallbackSource".to_owned(),
            "call-progress-events".to_owned(),
        ));
        params.push(("SequenceNumber".to_owned(), self.sequence.to_string()));
        params.push(("Timestamp".to_owned(), crate::time::rfc2822_now()));
        if !matches!(status, "ringing" | "in-progress") {
            let seconds = self.clock_ms.div_ceil(1000);
            params.push(("CallDuration".to_owned(), seconds.to_string()));
            params.push(("Duration".to_owned(), seconds.div_ceil(60).to_string()));
        }
        self.sequence += 1;
        self.request(Purpose::StatusCallback, HttpMethod::Post, &url, params)
            .await;
    }

    /// The parameters of every call webhook.
    fn call_params(&self, status: &str) -> Vec<(String, String)> {
        let config = self.config;
        let from_country = country(&config.from);
        let to_country = country(&config.to);
        let mut p: Vec<(String, String)> = Vec::with_capacity(32);
        let mut add = |k: &str, v: &str| p.push((k.to_owned(), v.to_owned()));
        add("AccountSid", &config.account_sid);
        add("ApiVersion", "2010-04-01");
        add("CallSid", &self.report.call_sid);
        add("CallStatus", status);
        add("Called", &config.to);
        add("CalledCity", "");
        add("CalledCountry", to_country);
        add("CalledState", "");
        add("CalledZip", "");
        add("Caller", &config.from);
        add("CallerCity", "");
        add("CallerCountry", from_country);
        add("CallerState", "");
        add("CallerZip", "");
        add("Direction", "inbound");
        add("From", &config.from);
        add("FromCity", "");
        add("FromCountry", from_country);
        add("FromState", "");
        add("FromZip", "");
        add("To", &config.to);
        add("ToCity", "");
        add("ToCountry", to_country);
        add("ToState", "");
        add("ToZip", "");
        p
    }

    fn notify(&mut self, level: Level, code: Option<TwilioCode>, message: String) {
        self.report.notifications.push(Notification {
            level,
            code,
            message,
        });
    }
}

/// The country Twilio reports for a number, from its calling code (empty when unknown).
fn country(number: &str) -> &'static str {
    const CODES: &[(&str, &str)] = &[
        ("+972", "IL"),
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+1", "US"),
    ];
    CODES
        .iter()
        .find(|(prefix, _)| number.starts_with(prefix))
        .map_or("", |(_, c)| c)
}

/// Twilio's resolution of a TwiML URL: absolute as is, a path against the document's URL.
pub(crate) fn resolve(url: &kav_twiml::Url, doc_url: &str) -> String {
    if !url.is_relative() {
        return url.as_str().to_owned();
    }
    reqwest::Url::parse(doc_url)
        .and_then(|base| base.join(url.as_str()))
        .map_or_else(|_| url.as_str().to_owned(), |u| u.to_string())
}

/// What a `<Dial>` calls: its text, or its nouns (`Number +1…`, `Client alice`, …).
fn dial_target(dial: &Dial) -> String {
    if let Some(number) = dial
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return number.to_owned();
    }
    let nouns: Vec<String> = dial
        .children
        .iter()
        .map(|child| match child {
            DialChild::Number(n) => format!("Number {}", n.phone_number.trim()),
            DialChild::Client(c) => {
                let mut text = String::new();
                collect_text(&c.to_node(), &mut text);
                format!("Client {}", c.identity.as_deref().unwrap_or(text.trim()))
            }
            DialChild::Sip(sip) => format!("Sip {}", sip.sip_url.as_deref().unwrap_or("").trim()),
            DialChild::Conference(c) => format!("Conference {}", c.name.trim()),
            DialChild::Queue(q) => format!("Queue {}", q.name.trim()),
            DialChild::Sim(_) => "Sim".to_owned(),
            DialChild::Application(_) => "Application".to_owned(),
            DialChild::WhatsApp(_) => "WhatsApp".to_owned(),
            DialChild::Other(node) => node.name().as_str().to_owned(),
            _ => "?".to_owned(),
        })
        .collect();
    if nouns.is_empty() {
        "(nobody)".to_owned()
    } else {
        nouns.join(", ")
    }
}

/// The key the caller presses to end a recording: `#` when allowed, else the first key.
fn finish_key(keys: Option<&str>) -> Option<String> {
    let keys = keys.unwrap_or("1234567890*#");
    if keys.contains('#') {
        Some("#".to_owned())
    } else {
        keys.chars().next().map(String::from)
    }
}

/// The media type of a `Content-Type`, lower case, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn looks_like_mp3(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
}

/// The Twilio code for TwiML the parser refused.
fn parse_error_code(err: &kav_twiml::Error) -> TwilioCode {
    use kav_twiml::Error as E;
    match err {
        // 11100 Invalid URL format: a URL attribute or a <Play>/<Redirect> URL without a scheme.
        E::InvalidUrl { .. } => TwilioCode::InvalidUrlFormat,
        E::InvalidAttribute { attribute, .. } if is_url_attribute(attribute) => {
            TwilioCode::InvalidUrlFormat
        }
        E::InvalidText { path, .. } if path.ends_with("Play") || path.ends_with("Redirect") => {
            TwilioCode::InvalidUrlFormat
        }
        // 12200 Schema validation warning: a value TwiML does not accept.
        E::InvalidAttribute { .. }
        | E::InvalidText { .. }
        | E::InvalidValue { .. }
        | E::MissingText { .. }
        | E::UnexpectedText { .. } => TwilioCode::SchemaValidationWarning,
        // 12100 Document parse failure: not XML, not <Response>, unknown or misplaced elements.
        _ => TwilioCode::DocumentParseFailure,
    }
}

fn is_url_attribute(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "action" || lower.ends_with("url") || lower.ends_with("callback")
}

/// A request that got no usable answer.
struct SendFailure {
    code: TwilioCode,
    message: String,
    kind: FailureKind,
}

/// The retry policy's name for a transport failure.
fn failure_kind(err: &reqwest::Error) -> FailureKind {
    if err.is_connect() {
        FailureKind::Connect
    } else if err.is_builder() || err.is_redirect() {
        FailureKind::Other
    } else {
        // Timeouts and broken answers: the connection was made.
        FailureKind::Read
    }
}

/// Classifies a transport failure as Twilio would.
fn classify(err: &reqwest::Error) -> TwilioCode {
    if err.is_timeout() {
        // 11205 HTTP connection failure: no TCP connection within 10 s or no response in 15 s.
        return TwilioCode::HttpConnectionFailure;
    }
    if err.is_connect() {
        if describe(err).contains("dns error") {
            // 11210 HTTP bad host name.
            return TwilioCode::HttpBadHostName;
        }
        return TwilioCode::HttpConnectionFailure;
    }
    if err.is_builder() {
        return TwilioCode::InvalidUrlFormat;
    }
    // 11200 HTTP retrieval failure.
    TwilioCode::HttpRetrievalFailure
}

/// The error and its sources on one line.
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn idempotency_token() -> String {
    let hex = random_sid("");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn collect_text(node: &Node, out: &mut String) {
    for content in node.content() {
        match content {
            NodeContent::Text(text) => {
                out.push_str(text);
                out.push(' ');
            }
            NodeContent::Element(child) => collect_text(child, out),
        }
    }
}

fn other_name(verb: &Verb) -> String {
    match verb {
        Verb::Other(node) => node.name().as_str().to_owned(),
        other => {
            let xml = VoiceResponse::new().push(other.clone()).to_xml();
            xml.split("<Response>")
                .nth(1)
                .and_then(|rest| rest.strip_prefix('<'))
                .map(|rest| {
                    rest.chars()
                        .take_while(char::is_ascii_alphanumeric)
                        .collect()
                })
                .unwrap_or_else(|| "unknown".to_owned())
        }
    }
}

/// Languages of Twilio's basic voices (`man`, `woman`: no `voice` attribute means `man`).
const BASIC_LANGUAGES: &[&str] = &["en-US", "en-GB", "es-ES", "fr-FR", "de-DE"];
/// Languages of the `alice` voice.
const ALICE_LANGUAGES: &[&str] = &[
    "da-DK", "de-DE", "en-AU", "en-CA", "en-GB", "en-IN", "en-US", "ca-ES", "es-ES", "es-MX",
    "fi-FI", "fr-CA", "fr-FR", "it-IT", "ja-JP", "ko-KR", "nb-NO", "nl-NL", "pl-PL", "pt-BR",
    "pt-PT", "ru-RU", "sv-SE", "zh-CN", "zh-HK", "zh-TW",
];
/// Languages no Amazon Polly voice speaks but Google voices do (Twilio then has no Polly voice).
const GOOGLE_ONLY_LANGUAGES: &[&str] = &["he-IL", "ar-XA", "uk-UA", "vi-VN", "th-TH", "el-GR"];

/// Why `<Say voice language>` is a combination Twilio's voices do not speak (warning 13512).
fn say_language_problem(voice: Option<&str>, language: Option<&str>) -> Option<String> {
    let language = language?;
    let voice_name = voice.unwrap_or("man");
    let ok = match voice_name {
        "man" | "woman" => BASIC_LANGUAGES
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language)),
        "alice" => ALICE_LANGUAGES
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language)),
        v if v.starts_with("Polly.") => !GOOGLE_ONLY_LANGUAGES
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language)),
        v if v.starts_with("Google.") => {
            // Google voice names carry their locale: Google.he-IL-Standard-A.
            let locale = &v["Google.".len()..];
            locale
                .get(..language.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(language))
        }
        _ => true,
    };
    (!ok).then(|| {
        format!(
            "<Say language=\"{language}\"> with voice `{voice_name}`: that voice does not speak {language}{}",
            if GOOGLE_ONLY_LANGUAGES.iter().any(|l| l.eq_ignore_ascii_case(language)) {
                format!(" (use a Google voice such as Google.{language}-Standard-A)")
            } else {
                String::new()
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_languages() {
        assert!(say_language_problem(None, Some("he-IL")).is_some());
        assert!(say_language_problem(Some("Polly.Joanna"), Some("he-IL")).is_some());
        assert!(say_language_problem(Some("Google.he-IL-Standard-A"), Some("he-IL")).is_none());
        assert!(say_language_problem(Some("Google.en-US-Standard-A"), Some("he-IL")).is_some());
        assert!(say_language_problem(Some("alice"), Some("ja-JP")).is_none());
        assert!(say_language_problem(None, None).is_none());
        // Untrusted values never panic (a multi-byte character where the locale would end).
        assert!(say_language_problem(Some("Google.héé"), Some("he-IL")).is_some());
        assert!(say_language_problem(Some("Google."), Some("שלום")).is_some());
    }

    #[test]
    fn parse_codes() {
        let code = |xml: &str| parse_error_code(&VoiceResponse::parse(xml).unwrap_err()).code();
        assert_eq!(code("<Response><Say>hi</Response>"), 12100);
        assert_eq!(code("<Response><Dance/></Response>"), 12100);
        assert_eq!(
            code("<Response><Record timeout=\"soon\"/></Response>"),
            12200
        );
        assert_eq!(
            code("<Response><Play>agent.example.com/a.wav</Play></Response>"),
            11100
        );
        assert_eq!(
            code("<Response><Record action=\"agent.example.com/x\"/></Response>"),
            11100
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(finish_key(None).as_deref(), Some("#"));
        assert_eq!(finish_key(Some("*")).as_deref(), Some("*"));
        assert_eq!(finish_key(Some("")), None);
        assert_eq!(media_type("Text/XML; charset=utf-8"), "text/xml");
        assert_eq!(country("+972501234567"), "IL");
        let base = "https://a.example.com/webhook/x?y=1";
        let rel = kav_twiml::Url::relative("/webhook/next").unwrap();
        assert_eq!(resolve(&rel, base), "https://a.example.com/webhook/next");
        assert_eq!(idempotency_token().len(), 36);
        assert_eq!(other_name(&Verb::Dial(Dial::new())), "Dial");
    }
}
