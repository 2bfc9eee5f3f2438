//! Request parameters for the operations this crate performs, validated before anything is
//! sent. Each builder turns into the form fields of Twilio's OpenAPI request body.

use url::Url;

use crate::error::Error;
use crate::types::{
    ApplicationSid, CallEvent, CallUpdateStatus, Endpoint, HttpMethod, MachineDetection,
    MessagingServiceSid, PhoneNumber,
};

/// Form fields in the order they will be sent. Keys may repeat (list parameters).
pub(crate) type Form = Vec<(&'static str, String)>;

/// Maximum length of inline TwiML Twilio accepts for a call.
pub const MAX_TWIML_LEN: usize = 4000;
/// Maximum length of a message body.
pub const MAX_BODY_CHARS: usize = 1600;
/// Maximum number of media URLs in one message.
pub const MAX_MEDIA_URLS: usize = 10;

pub(crate) fn check_webhook_url(what: &'static str, url: &Url) -> Result<(), Error> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::invalid(
            what,
            format!("must be an absolute http(s) URL with a host, got {url}"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Twilio does support credentials in webhook URLs, but printing them in a dry run or
        // an error would leak them; keep them out of this crate.
        return Err(Error::invalid(
            what,
            "credentials in the URL are not supported",
        ));
    }
    Ok(())
}

/// What the call does once answered: fetch TwiML from a URL, run inline TwiML, or hand the
/// call to a TwiML Application. Twilio requires exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallInstructions {
    /// `Url` (+ `Method`): Twilio requests TwiML from this absolute URL.
    Url {
        /// The absolute URL.
        url: Url,
        /// How to request it (Twilio's default is POST).
        method: Option<HttpMethod>,
    },
    /// `Twiml`: inline TwiML, at most 4000 characters.
    Twiml(String),
    /// `ApplicationSid`: the application's voice URL handles the call.
    Application(ApplicationSid),
}

impl CallInstructions {
    /// `Url`, requested with Twilio's default method (POST).
    pub fn url(url: Url) -> Self {
        Self::Url { url, method: None }
    }

    /// Inline TwiML.
    pub fn twiml(twiml: impl Into<String>) -> Self {
        Self::Twiml(twiml.into())
    }
}

fn push_instructions(form: &mut Form, ins: &CallInstructions) -> Result<(), Error> {
    match ins {
        CallInstructions::Url { url, method } => {
            check_webhook_url("Url", url)?;
            form.push(("Url", url.to_string()));
            if let Some(m) = method {
                form.push(("Method", m.as_str().to_owned()));
            }
        }
        CallInstructions::Twiml(t) => {
            if t.trim().is_empty() || t.chars().count() > MAX_TWIML_LEN {
                return Err(Error::invalid(
                    "Twiml",
                    format!("must be 1 to {MAX_TWIML_LEN} characters"),
                ));
            }
            form.push(("Twiml", t.clone()));
        }
        CallInstructions::Application(sid) => form.push(("ApplicationSid", sid.to_string())),
    }
    Ok(())
}

fn push_status_callback(
    form: &mut Form,
    url: Option<&Url>,
    method: Option<HttpMethod>,
) -> Result<(), Error> {
    if let Some(url) = url {
        check_webhook_url("StatusCallback", url)?;
        form.push(("StatusCallback", url.to_string()));
    }
    if let Some(m) = method {
        form.push(("StatusCallbackMethod", m.as_str().to_owned()));
    }
    Ok(())
}

/// Parameters of "create a call" (`POST /2010-04-01/Accounts/{AccountSid}/Calls.json`).
#[derive(Debug, Clone)]
#[must_use]
pub struct CreateCall {
    to: Endpoint,
    from: Endpoint,
    instructions: CallInstructions,
    status_callback: Option<Url>,
    status_callback_events: Vec<CallEvent>,
    status_callback_method: Option<HttpMethod>,
    fallback_url: Option<Url>,
    fallback_method: Option<HttpMethod>,
    record: Option<bool>,
    recording_status_callback: Option<Url>,
    machine_detection: Option<MachineDetection>,
    timeout: Option<u32>,
    time_limit: Option<u32>,
    send_digits: Option<String>,
}

impl CreateCall {
    /// A call from `from` (a Twilio number or verified caller id) to `to`, handled by
    /// `instructions`.
    pub fn new(
        to: impl Into<Endpoint>,
        from: impl Into<Endpoint>,
        instructions: CallInstructions,
    ) -> Self {
        Self {
            to: to.into(),
            from: from.into(),
            instructions,
            status_callback: None,
            status_callback_events: Vec::new(),
            status_callback_method: None,
            fallback_url: None,
            fallback_method: None,
            record: None,
            recording_status_callback: None,
            machine_detection: None,
            timeout: None,
            time_limit: None,
            send_digits: None,
        }
    }

    /// `StatusCallback`: absolute URL receiving call progress events.
    pub fn status_callback(mut self, url: Url) -> Self {
        self.status_callback = Some(url);
        self
    }

    /// `StatusCallbackEvent`: which events to send (sent as repeated keys). Without any,
    /// Twilio sends only `completed`.
    pub fn status_callback_events(mut self, events: impl IntoIterator<Item = CallEvent>) -> Self {
        self.status_callback_events.clear();
        for e in events {
            if !self.status_callback_events.contains(&e) {
                self.status_callback_events.push(e);
            }
        }
        self
    }

    /// `StatusCallbackMethod`.
    pub fn status_callback_method(mut self, method: HttpMethod) -> Self {
        self.status_callback_method = Some(method);
        self
    }

    /// `FallbackUrl` (+ `FallbackMethod` when given): used when the TwiML at `Url` fails.
    pub fn fallback_url(mut self, url: Url, method: Option<HttpMethod>) -> Self {
        self.fallback_url = Some(url);
        self.fallback_method = method;
        self
    }

    /// `Record`: record the whole call.
    pub fn record(mut self, record: bool) -> Self {
        self.record = Some(record);
        self
    }

    /// `RecordingStatusCallback`: absolute URL told when the recording is available.
    pub fn recording_status_callback(mut self, url: Url) -> Self {
        self.recording_status_callback = Some(url);
        self
    }

    /// `MachineDetection`.
    pub fn machine_detection(mut self, mode: MachineDetection) -> Self {
        self.machine_detection = Some(mode);
        self
    }

    /// `Timeout`: seconds to let the phone ring, 1 to 600.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// `TimeLimit`: maximum call duration in seconds (at least 1).
    pub fn time_limit(mut self, seconds: u32) -> Self {
        self.time_limit = Some(seconds);
        self
    }

    /// `SendDigits`: keys to dial after connecting (`0-9`, `A-D`, `#`, `*`, `w`/`W` pauses;
    /// at most 32 keys).
    pub fn send_digits(mut self, digits: impl Into<String>) -> Self {
        self.send_digits = Some(digits.into());
        self
    }

    pub(crate) fn to_form(&self) -> Result<Form, Error> {
        let mut form: Form = vec![
            ("To", self.to.as_str().to_owned()),
            ("From", self.from.as_str().to_owned()),
        ];
        push_instructions(&mut form, &self.instructions)?;
        push_status_callback(
            &mut form,
            self.status_callback.as_ref(),
            self.status_callback_method,
        )?;
        if !self.status_callback_events.is_empty() && self.status_callback.is_none() {
            return Err(Error::invalid(
                "StatusCallbackEvent",
                "events need a StatusCallback URL",
            ));
        }
        for e in &self.status_callback_events {
            form.push(("StatusCallbackEvent", e.as_str().to_owned()));
        }
        if let Some(url) = &self.fallback_url {
            check_webhook_url("FallbackUrl", url)?;
            form.push(("FallbackUrl", url.to_string()));
            if let Some(m) = self.fallback_method {
                form.push(("FallbackMethod", m.as_str().to_owned()));
            }
        }
        if let Some(r) = self.record {
            form.push(("Record", r.to_string()));
        }
        if let Some(url) = &self.recording_status_callback {
            check_webhook_url("RecordingStatusCallback", url)?;
            form.push(("RecordingStatusCallback", url.to_string()));
        }
        if let Some(m) = self.machine_detection {
            form.push(("MachineDetection", m.as_str().to_owned()));
        }
        if let Some(t) = self.timeout {
            if !(1..=600).contains(&t) {
                return Err(Error::invalid("Timeout", "must be 1 to 600 seconds"));
            }
            form.push(("Timeout", t.to_string()));
        }
        if let Some(t) = self.time_limit {
            if t == 0 {
                return Err(Error::invalid("TimeLimit", "must be at least 1 second"));
            }
            form.push(("TimeLimit", t.to_string()));
        }
        if let Some(d) = &self.send_digits {
            let keys = d.chars().filter(|c| !matches!(c, 'w' | 'W')).count();
            let valid = d
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, 'A'..='D' | '#' | '*' | 'w' | 'W'));
            if !valid || keys == 0 || keys > 32 {
                return Err(Error::invalid(
                    "SendDigits",
                    "1 to 32 keys of 0-9, A-D, #, * (w/W for pauses)",
                ));
            }
            form.push(("SendDigits", d.clone()));
        }
        Ok(form)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum UpdateAction {
    Status(CallUpdateStatus),
    Redirect(CallInstructions),
}

/// Parameters of "update a call" (`POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json`):
/// hang up, cancel, or redirect a live call to new TwiML.
#[derive(Debug, Clone)]
#[must_use]
pub struct UpdateCall {
    action: UpdateAction,
    status_callback: Option<Url>,
    status_callback_method: Option<HttpMethod>,
    time_limit: Option<u32>,
}

impl UpdateCall {
    fn with(action: UpdateAction) -> Self {
        Self {
            action,
            status_callback: None,
            status_callback_method: None,
            time_limit: None,
        }
    }

    /// `Status=completed`: hang up a call in progress.
    pub fn hang_up() -> Self {
        Self::with(UpdateAction::Status(CallUpdateStatus::Completed))
    }

    /// `Status=canceled`: cancel a call that is still queued or ringing.
    pub fn cancel() -> Self {
        Self::with(UpdateAction::Status(CallUpdateStatus::Canceled))
    }

    /// `Status=…` with an explicit value.
    pub fn status(status: CallUpdateStatus) -> Self {
        Self::with(UpdateAction::Status(status))
    }

    /// `Url` (+ `Method`): the live call continues with TwiML fetched from `url`.
    pub fn redirect(url: Url, method: Option<HttpMethod>) -> Self {
        Self::with(UpdateAction::Redirect(CallInstructions::Url {
            url,
            method,
        }))
    }

    /// `Twiml`: the live call continues with this inline TwiML.
    pub fn twiml(twiml: impl Into<String>) -> Self {
        Self::with(UpdateAction::Redirect(CallInstructions::Twiml(
            twiml.into(),
        )))
    }

    /// `StatusCallback` (+ `StatusCallbackMethod`).
    pub fn status_callback(mut self, url: Url, method: Option<HttpMethod>) -> Self {
        self.status_callback = Some(url);
        self.status_callback_method = method;
        self
    }

    /// `TimeLimit`: new maximum duration in seconds.
    pub fn time_limit(mut self, seconds: u32) -> Self {
        self.time_limit = Some(seconds);
        self
    }

    pub(crate) fn to_form(&self) -> Result<Form, Error> {
        let mut form = Form::new();
        match &self.action {
            UpdateAction::Status(s) => form.push(("Status", s.as_str().to_owned())),
            UpdateAction::Redirect(CallInstructions::Application(_)) => {
                return Err(Error::invalid(
                    "UpdateCall",
                    "a live call can be redirected to a Url or Twiml only",
                ));
            }
            UpdateAction::Redirect(ins) => push_instructions(&mut form, ins)?,
        }
        push_status_callback(
            &mut form,
            self.status_callback.as_ref(),
            self.status_callback_method,
        )?;
        if let Some(t) = self.time_limit {
            if t == 0 {
                return Err(Error::invalid("TimeLimit", "must be at least 1 second"));
            }
            form.push(("TimeLimit", t.to_string()));
        }
        Ok(form)
    }
}

/// Who a message is sent from: a number of yours, or a Messaging Service that picks one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sender {
    /// `From`: a Twilio phone number.
    From(PhoneNumber),
    /// `MessagingServiceSid`.
    MessagingService(MessagingServiceSid),
}

impl From<PhoneNumber> for Sender {
    fn from(p: PhoneNumber) -> Self {
        Self::From(p)
    }
}

impl From<MessagingServiceSid> for Sender {
    fn from(s: MessagingServiceSid) -> Self {
        Self::MessagingService(s)
    }
}

/// Parameters of "create a message" (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`).
/// A message needs a body, media, or both.
#[derive(Debug, Clone)]
#[must_use]
pub struct CreateMessage {
    to: PhoneNumber,
    sender: Sender,
    body: Option<String>,
    media_urls: Vec<Url>,
    status_callback: Option<Url>,
}

impl CreateMessage {
    /// A message to `to` from `sender`; add [`body`](Self::body) and/or
    /// [`media_url`](Self::media_url).
    pub fn new(to: PhoneNumber, sender: impl Into<Sender>) -> Self {
        Self {
            to,
            sender: sender.into(),
            body: None,
            media_urls: Vec::new(),
            status_callback: None,
        }
    }

    /// `Body`: text, up to 1600 characters.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// `MediaUrl`: add one media item (sent as repeated keys, at most 10).
    pub fn media_url(mut self, url: Url) -> Self {
        self.media_urls.push(url);
        self
    }

    /// `StatusCallback`: absolute URL receiving delivery status.
    pub fn status_callback(mut self, url: Url) -> Self {
        self.status_callback = Some(url);
        self
    }

    pub(crate) fn to_form(&self) -> Result<Form, Error> {
        let mut form: Form = vec![("To", self.to.as_str().to_owned())];
        match &self.sender {
            Sender::From(p) => form.push(("From", p.as_str().to_owned())),
            Sender::MessagingService(s) => form.push(("MessagingServiceSid", s.to_string())),
        }
        if self.body.is_none() && self.media_urls.is_empty() {
            return Err(Error::invalid(
                "CreateMessage",
                "a message needs a Body or at least one MediaUrl",
            ));
        }
        if let Some(b) = &self.body {
            let n = b.chars().count();
            if n == 0 || n > MAX_BODY_CHARS {
                return Err(Error::invalid(
                    "Body",
                    format!("must be 1 to {MAX_BODY_CHARS} characters, got {n}"),
                ));
            }
            form.push(("Body", b.clone()));
        }
        if self.media_urls.len() > MAX_MEDIA_URLS {
            return Err(Error::invalid(
                "MediaUrl",
                format!("at most {MAX_MEDIA_URLS} media URLs"),
            ));
        }
        for u in &self.media_urls {
            check_webhook_url("MediaUrl", u)?;
            form.push(("MediaUrl", u.to_string()));
        }
        if let Some(u) = &self.status_callback {
            check_webhook_url("StatusCallback", u)?;
            form.push(("StatusCallback", u.to_string()));
        }
        Ok(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> PhoneNumber {
        PhoneNumber::new(s).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn create_call_form_has_repeated_events_in_order() {
        let form = CreateCall::new(
            num("+14155550100"),
            num("+14155550199"),
            CallInstructions::url(url("https://example.com/voice")),
        )
        .status_callback(url("https://example.com/status"))
        .status_callback_events([
            CallEvent::Initiated,
            CallEvent::Answered,
            CallEvent::Initiated,
            CallEvent::Completed,
        ])
        .timeout(30)
        .to_form()
        .unwrap();
        let events: Vec<_> = form
            .iter()
            .filter(|(k, _)| *k == "StatusCallbackEvent")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(events, ["initiated", "answered", "completed"]);
        assert_eq!(form[0], ("To", "+14155550100".to_owned()));
        assert!(form.contains(&("Timeout", "30".to_owned())));
    }

    #[test]
    fn create_call_rejects_bad_values() {
        let base = || {
            CreateCall::new(
                num("+14155550100"),
                num("+14155550199"),
                CallInstructions::twiml("<Response/>"),
            )
        };
        assert!(base().to_form().is_ok());
        assert!(base().timeout(0).to_form().is_err());
        assert!(base().timeout(601).to_form().is_err());
        assert!(base().send_digits("12x").to_form().is_err());
        assert!(base().send_digits("ww1234#").to_form().is_ok());
        assert!(base().send_digits("1".repeat(33)).to_form().is_err());
        assert!(
            base()
                .status_callback_events([CallEvent::Ringing])
                .to_form()
                .is_err()
        );
        assert!(
            base()
                .status_callback(url("ftp://example.com/x"))
                .to_form()
                .is_err()
        );
        assert!(
            base()
                .status_callback(url("https://u:p@example.com/x"))
                .to_form()
                .is_err()
        );
        let long = CreateCall::new(
            num("+14155550100"),
            num("+14155550199"),
            CallInstructions::twiml("x".repeat(MAX_TWIML_LEN + 1)),
        );
        assert!(long.to_form().is_err());
    }

    #[test]
    fn update_call_forms() {
        assert_eq!(
            UpdateCall::hang_up().to_form().unwrap(),
            vec![("Status", "completed".to_owned())]
        );
        assert_eq!(
            UpdateCall::cancel().to_form().unwrap(),
            vec![("Status", "canceled".to_owned())]
        );
        let f = UpdateCall::redirect(url("https://example.com/next"), Some(HttpMethod::Get))
            .to_form()
            .unwrap();
        assert_eq!(
            f,
            vec![
                ("Url", "https://example.com/next".to_owned()),
                ("Method", "GET".to_owned())
            ]
        );
    }

    #[test]
    fn message_needs_body_or_media() {
        let m = CreateMessage::new(num("+14155550100"), num("+14155550199"));
        assert!(m.clone().to_form().is_err());
        assert!(m.clone().body("").to_form().is_err());
        assert!(m.clone().body("x".repeat(1601)).to_form().is_err());
        assert!(m.clone().body("hi").to_form().is_ok());
        let f = m
            .media_url(url("https://example.com/a.png"))
            .media_url(url("https://example.com/b.png"))
            .to_form()
            .unwrap();
        assert_eq!(f.iter().filter(|(k, _)| *k == "MediaUrl").count(), 2);
    }
}
