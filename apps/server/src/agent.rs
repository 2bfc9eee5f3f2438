//! The conversation side of a call: the language model, the optional text-to-speech provider,
//! and how a phrase becomes `<Say>` or `<Play>`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kav_google_auth::GoogleAuth;
use kav_llm::gemini::{GeminiChat, GeminiConfig};
use kav_llm::openai::{OpenAiChat, OpenAiConfig};
use kav_llm::{ChatModel, ScriptedResponder};
use kav_stt::{GoogleStt, OpenAiStt, SpeechGuard, SpeechToText};
use kav_tts::{CachedTts, EspeakTts, Language, SpeechRequest, TextToSpeech};
use kav_twilio_rest::{AccountSid, Credentials, HostAllowList, TwilioClient};
use kav_twilio_sig::PublicBaseUrl;
use kav_twiml::Url;
use kav_twiml::voice::{Gather, Play, Say, VoiceResponse};
use secrecy::ExposeSecret as _;

use crate::config::{Config, LlmChoice};
use crate::metrics::{Metrics, Stage};
use crate::store::{AudioId, Store, now_millis};

/// What a language model appends to a reply that ends the call (see
/// [`END_CALL_INSTRUCTION`]); the server removes it before speaking the reply.
pub const END_CALL_MARKER: &str = "[END_CALL]";

/// Appended to the system prompt sent to OpenAI and Gemini, so the model can end the call.
pub const END_CALL_INSTRUCTION: &str = "When the caller says goodbye or clearly wants to end \
     the call, say a short goodbye and end your reply with [END_CALL]. Never write [END_CALL] \
     otherwise.";

/// The scripted responder's rules whose match ends the call (after their reply).
pub const ENDING_RULES: &[&str] = &["goodbye", "hangup", "end-call"];

/// The agent's answer to one caller turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReply {
    /// What to say (without [`END_CALL_MARKER`]).
    pub text: String,
    /// Whether the call ends after it (the reply, then `<Hangup/>`).
    pub end_call: bool,
}

/// The language model and text-to-speech provider a call talks with. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    chat: Arc<dyn ChatModel>,
    /// The scripted responder's rules, when it is the model: a match of one of
    /// [`ENDING_RULES`] ends the call.
    rules: Option<Arc<ScriptedResponder>>,
    tts: Option<Arc<dyn TextToSpeech>>,
    stt: Option<Arc<dyn SpeechToText>>,
    guard: SpeechGuard,
    /// Downloads recordings (record mode): needs the account SID and auth token.
    twilio: Option<TwilioClient>,
    /// Fixed phrases (greeting, fallback, goodbye) already stored as audio, by text.
    phrases: Arc<Mutex<HashMap<String, AudioId>>>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("chat", &self.chat.provider())
            .field("tts", &self.tts.as_ref().map(|t| t.provider().to_owned()))
            .field("stt", &self.stt.as_ref().map(|t| t.provider().to_string()))
            .field("recordings", &self.twilio.is_some())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent answering with `chat`, speaking with `tts` (`<Play>` of its audio) or, without
    /// one, with Twilio's `<Say>`.
    #[must_use]
    pub fn new(chat: Arc<dyn ChatModel>, tts: Option<Arc<dyn TextToSpeech>>) -> Self {
        Self {
            chat,
            tts,
            rules: None,
            stt: None,
            guard: SpeechGuard::default(),
            twilio: None,
            phrases: Arc::default(),
        }
    }

    /// An agent answering with the scripted `responder`: when the caller's words match one
    /// of its [`ENDING_RULES`] (the built-in `goodbye` rule), the call ends after the reply.
    #[must_use]
    pub fn scripted(responder: ScriptedResponder, tts: Option<Arc<dyn TextToSpeech>>) -> Self {
        let rules = Arc::new(responder);
        let mut agent = Self::new(rules.clone(), tts);
        agent.rules = Some(rules);
        agent
    }

    /// The same agent speaking with `tts` (or, with `None`, with Twilio's `<Say>`).
    #[must_use]
    pub fn with_tts(mut self, tts: Option<Arc<dyn TextToSpeech>>) -> Self {
        self.tts = tts;
        self
    }

    /// Reads the model's `reply` to `caller_said`: whether it ends the call (the model wrote
    /// [`END_CALL_MARKER`], or the scripted responder answered with one of its
    /// [`ENDING_RULES`]), and the text to speak without the marker.
    #[must_use]
    pub fn interpret(&self, caller_said: &str, reply: &str) -> AgentReply {
        let mut text = reply.to_owned();
        let mut end_call = false;
        while let Some(at) = text.to_ascii_uppercase().find(END_CALL_MARKER) {
            text.replace_range(at..at + END_CALL_MARKER.len(), " ");
            end_call = true;
        }
        if let Some(rules) = &self.rules
            && rules
                .matching_rule_name(caller_said)
                .is_some_and(|name| ENDING_RULES.contains(&name))
        {
            end_call = true;
        }
        AgentReply {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            end_call,
        }
    }

    /// The same agent transcribing recordings with `stt` (record mode).
    #[must_use]
    pub fn with_stt(mut self, stt: Arc<dyn SpeechToText>) -> Self {
        self.stt = Some(stt);
        self
    }

    /// The same agent downloading recordings with `client` (record mode).
    #[must_use]
    pub fn with_twilio(mut self, client: TwilioClient) -> Self {
        self.twilio = Some(client);
        self
    }

    /// The speech-to-text provider, if any.
    #[must_use]
    pub fn stt(&self) -> Option<&dyn SpeechToText> {
        self.stt.as_deref()
    }

    /// The guard applied before and after speech-to-text.
    #[must_use]
    pub fn guard(&self) -> &SpeechGuard {
        &self.guard
    }

    /// The client recordings are downloaded with, if credentials are configured.
    #[must_use]
    pub fn twilio(&self) -> Option<&TwilioClient> {
        self.twilio.as_ref()
    }

    /// The default agent for `config`: the language model of `KAV_LLM` (OpenAI, Gemini, or
    /// the scripted responder with `KAV_RULES_FILE` or kav-llm's built-in Hebrew + English
    /// rules; a provider that cannot be built is logged and replaced by the scripted one), and
    /// espeak-ng — cached under `KAV_DATA_DIR/tts-cache` — when `KAV_TTS` is not
    /// `off` and `espeak-ng` is on the `PATH`.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        let tts: Option<Arc<dyn TextToSpeech>> =
            (config.tts_enabled() && program_on_path("espeak-ng").is_some()).then(|| {
                Arc::new(CachedTts::new(
                    EspeakTts::new(),
                    config.data_dir().join("tts-cache"),
                )) as Arc<dyn TextToSpeech>
            });
        let mut agent = match chat_model(config) {
            Ok(Model::Chat(chat)) => Self::new(chat, tts),
            Ok(Model::Scripted(responder)) => Self::scripted(responder, tts),
            Err(error) => {
                tracing::error!(%error, llm = %config.llm(), "language model unavailable: using the scripted responder");
                Self::scripted(ScriptedResponder::builtin(), tts)
            }
        };
        match openai_stt(config) {
            Ok(Some(stt)) => agent.stt = Some(Arc::new(stt)),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "OpenAI speech-to-text unavailable"),
        }
        if agent.stt.is_none() {
            match google_stt(config) {
                Ok(Some(stt)) => agent.stt = Some(Arc::new(stt)),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "Google speech-to-text unavailable"),
            }
        }
        if config.call_mode() == crate::config::CallMode::Record && agent.stt.is_none() {
            tracing::warn!(
                "record mode without a usable speech-to-text provider: every turn will get the \
                 fallback phrase"
            );
        }
        match twilio_client(config) {
            Ok(client) => agent.twilio = client,
            Err(error) => tracing::error!(%error, "recordings cannot be downloaded"),
        }
        agent
    }

    /// The language model.
    #[must_use]
    pub fn chat(&self) -> &dyn ChatModel {
        self.chat.as_ref()
    }

    /// The text-to-speech provider, if any.
    #[must_use]
    pub fn tts(&self) -> Option<&dyn TextToSpeech> {
        self.tts.as_deref()
    }
}

enum Model {
    Chat(Arc<dyn ChatModel>),
    Scripted(ScriptedResponder),
}

/// The language model `config` names (`KAV_LLM`, `KAV_LLM_MODEL`, the provider's key and base
/// URL; `KAV_RULES_FILE` for the scripted responder).
fn chat_model(config: &Config) -> Result<Model, String> {
    let text = |e: kav_llm::Error| crate::error_chain(&e);
    Ok(match config.llm() {
        LlmChoice::OpenAi => {
            let mut llm = OpenAiConfig::default()
                .with_base_url(config.openai_base_url().as_str().trim_end_matches('/'));
            if let Some(key) = config.openai_api_key() {
                llm = llm.with_api_key(key.clone());
            }
            if let Some(model) = config.llm_model() {
                llm = llm.with_model(model);
            }
            Model::Chat(Arc::new(OpenAiChat::new(llm).map_err(text)?))
        }
        LlmChoice::Gemini => {
            let key = config
                .gemini_api_key()
                .ok_or_else(|| "GEMINI_API_KEY is not set".to_owned())?;
            let mut llm = GeminiConfig::new(key.clone())
                .with_base_url(config.gemini_base_url().as_str().trim_end_matches('/'));
            if let Some(model) = config.llm_model() {
                llm = llm.with_model(model);
            }
            Model::Chat(Arc::new(GeminiChat::new(llm).map_err(text)?))
        }
        _ => Model::Scripted(match config.rules_file() {
            Some(path) => ScriptedResponder::from_file(path).map_err(text)?,
            None => ScriptedResponder::builtin(),
        }),
    })
}

/// The language model for humans: provider and model (`openai (gpt-4o-mini at …)`), and with
/// `KAV_LLM=auto` why it was chosen.
pub(crate) fn chat_summary(config: &Config) -> String {
    let model = chat_summary_model(config);
    if !config.llm_auto() {
        return model;
    }
    let why = match config.llm() {
        LlmChoice::OpenAi => "OPENAI_API_KEY is set",
        LlmChoice::Gemini => "GEMINI_API_KEY is set, OPENAI_API_KEY is not",
        _ => "neither OPENAI_API_KEY nor GEMINI_API_KEY is set",
    };
    format!("{model}; chosen by KAV_LLM=auto: {why}")
}

fn chat_summary_model(config: &Config) -> String {
    match config.llm() {
        LlmChoice::OpenAi => format!(
            "openai ({} at {})",
            config.llm_model().unwrap_or(kav_llm::openai::DEFAULT_MODEL),
            config.openai_base_url()
        ),
        LlmChoice::Gemini => format!(
            "gemini ({})",
            config.llm_model().unwrap_or(kav_llm::gemini::DEFAULT_MODEL)
        ),
        _ => match config.rules_file() {
            Some(path) => format!("scripted responder (rules from {})", path.display()),
            None => "scripted responder (kav-llm's built-in rules)".to_owned(),
        },
    }
}

/// OpenAI transcription (`OPENAI_API_KEY`, `OPENAI_BASE_URL`) in the primary language of
/// `KAV_LANGUAGE`.
fn openai_stt(config: &Config) -> Result<Option<OpenAiStt>, String> {
    let Some(key) = config.openai_api_key() else {
        return Ok(None);
    };
    let language = config.language().split('-').next().unwrap_or("he");
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| crate::error_chain(&e))?;
    OpenAiStt::new(key.expose_secret().to_owned().into(), http)
        .with_base_url(config.openai_base_url().as_str().trim_end_matches('/'))
        .and_then(|stt| stt.with_language(Some(language)))
        .map(Some)
        .map_err(|e| crate::error_chain(&e))
}

/// Google Speech-to-Text (`GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON`, `GOOGLE_OAUTH_TOKEN_URL`,
/// `GOOGLE_STT_BASE_URL`) in `KAV_LANGUAGE`.
fn google_stt(config: &Config) -> Result<Option<GoogleStt>, String> {
    let Some(json) = config.google_service_account_json() else {
        return Ok(None);
    };
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| crate::error_chain(&e))?;
    let auth = GoogleAuth::from_service_account_json(json.expose_secret(), http.clone())
        .and_then(|auth| auth.with_token_url(config.google_oauth_token_url().as_str()))
        .map_err(|e| crate::error_chain(&e))?;
    GoogleStt::new(auth, http)
        .with_base_url(config.google_stt_base_url().as_str().trim_end_matches('/'))
        .and_then(|stt| stt.with_language_code(config.language()))
        .map(Some)
        .map_err(|e| crate::error_chain(&e))
}

/// The Twilio client for recordings: `TWILIO_ACCOUNT_SID` + `TWILIO_AUTH_TOKEN` (Basic auth),
/// `TWILIO_API_BASE_URL`, and only the `RECORDING_HOSTS` on its allow-list.
fn twilio_client(config: &Config) -> Result<Option<TwilioClient>, String> {
    let (Some(sid), Some(token)) = (config.twilio_account_sid(), config.twilio_auth_token()) else {
        return Ok(None);
    };
    let text = |e: kav_twilio_rest::Error| crate::error_chain(&e);
    let credentials = Credentials::auth_token(
        AccountSid::new(sid).map_err(text)?,
        token.expose_secret().to_owned().into(),
    )
    .map_err(text)?;
    let mut allow = HostAllowList::empty();
    for host in config.recording_hosts() {
        let entry = match host.scheme() {
            kav_twilio_sig::Scheme::Https if !host.authority().contains(':') => {
                host.authority().to_owned()
            }
            scheme => format!("{scheme}://{}", host.authority()),
        };
        allow = allow.allow(&entry).map_err(text)?;
    }
    TwilioClient::builder(credentials)
        .base_url(config.twilio_api_base_url().as_str().trim_end_matches('/'))
        .allow_list(allow)
        .build()
        .map(Some)
        .map_err(text)
}

/// The first file named `program` in a folder of `PATH`.
pub(crate) fn program_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| Path::is_file(candidate))
}

/// A phrase ready for TwiML: `<Say>` text or `<Play>` of stored audio.
#[derive(Debug, Clone)]
pub(crate) enum Speech {
    Say(Say),
    Play(Play),
}

impl Speech {
    pub(crate) fn into_gather(self, gather: Gather) -> Gather {
        match self {
            Self::Say(say) => gather.say(say),
            Self::Play(play) => gather.play(play),
        }
    }

    pub(crate) fn into_response(self, response: VoiceResponse) -> VoiceResponse {
        match self {
            Self::Say(say) => response.say(say),
            Self::Play(play) => response.play(play),
        }
    }
}

/// What speaking a phrase produced.
#[derive(Debug, Clone)]
pub(crate) struct Spoken {
    pub(crate) speech: Speech,
    /// The stored audio, when synthesized.
    pub(crate) audio_id: Option<AudioId>,
    /// Synthesis time, when synthesized.
    pub(crate) tts_ms: Option<i64>,
}

/// What [`speak`] needs from the application.
pub(crate) struct Voice<'a> {
    pub(crate) agent: &'a Agent,
    pub(crate) config: &'a Config,
    pub(crate) store: &'a Store,
    pub(crate) metrics: &'a Metrics,
    /// The public base URL (`…/media/{id}` is joined to it).
    pub(crate) base: &'a PublicBaseUrl,
}

fn millis(elapsed: Duration) -> i64 {
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

impl Voice<'_> {
    /// `<Say voice language>` of `text`.
    pub(crate) fn say(&self, text: &str) -> Spoken {
        Spoken {
            speech: Speech::Say(
                Say::new(text)
                    .voice(self.config.say_voice())
                    .language(self.config.language()),
            ),
            audio_id: None,
            tts_ms: None,
        }
    }

    /// `text` synthesized and stored, as `<Play>` of its `/media/{id}` URL; `<Say>` when there
    /// is no provider, or it fails or takes longer than `deadline` (logged and counted).
    /// A `fixed` phrase (greeting, fallback, goodbye) is stored once per process.
    pub(crate) async fn speak(&self, text: &str, fixed: bool, deadline: Duration) -> Spoken {
        let Some(tts) = self.agent.tts() else {
            return self.say(text);
        };
        if fixed {
            let known = self
                .agent
                .phrases
                .lock()
                .ok()
                .and_then(|map| map.get(text).cloned());
            if let Some(id) = known
                && matches!(
                    tokio::time::timeout(deadline, self.store.audio(&id)).await,
                    Ok(Ok(Some(_)))
                )
                && let Some(play) = self.play(&id)
            {
                return Spoken {
                    speech: Speech::Play(play),
                    audio_id: Some(id),
                    tts_ms: None,
                };
            }
        }
        let start = Instant::now();
        let provider = tts.provider().to_owned();
        let synthesized = tokio::time::timeout(deadline, async {
            let request = SpeechRequest::new(text)
                .and_then(|r| Ok(r.with_language(Language::new(self.config.language())?)))
                .map_err(|e| crate::error_chain(&e))?;
            let audio = tts
                .synthesize(&request)
                .await
                .map_err(|e| crate::error_chain(&e))?;
            self.store
                .save_audio(&audio.to_wav(), "audio/wav", now_millis())
                .await
                .map_err(|e| crate::error_chain(&e))
        })
        .await;
        let elapsed = start.elapsed();
        let id = match synthesized {
            Ok(Ok(id)) => id,
            Ok(Err(error)) => {
                tracing::warn!(%provider, %error, "text-to-speech failed: answering with <Say>");
                self.metrics.provider_error(&provider, Stage::Tts);
                return self.say(text);
            }
            Err(_) => {
                tracing::warn!(%provider, "text-to-speech timed out: answering with <Say>");
                self.metrics.provider_error(&provider, Stage::Tts);
                return self.say(text);
            }
        };
        self.metrics.observe_stage(Stage::Tts, elapsed);
        let Some(play) = self.play(&id) else {
            return self.say(text);
        };
        if fixed && let Ok(mut map) = self.agent.phrases.lock() {
            map.insert(text.to_owned(), id.clone());
        }
        Spoken {
            speech: Speech::Play(play),
            audio_id: Some(id),
            tts_ms: Some(millis(elapsed)),
        }
    }

    fn play(&self, id: &AudioId) -> Option<Play> {
        absolute(self.base, &format!("/media/{id}")).map(Play::new)
    }
}

/// `path` under the public base URL, as a TwiML URL (`None`, logged, if it is not one).
pub(crate) fn absolute(base: &PublicBaseUrl, path: &str) -> Option<Url> {
    let joined = base.join(path);
    match Url::parse(&joined) {
        Ok(url) => Some(url),
        Err(error) => {
            tracing::error!(url = %joined, error = %crate::error_chain(&error), "not a TwiML URL");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_that_end_the_call() {
        let model = Agent::new(Arc::new(ScriptedResponder::builtin()), None);
        assert_eq!(
            model.interpret("bye", "Goodbye!  [END_CALL]"),
            AgentReply {
                text: "Goodbye!".to_owned(),
                end_call: true
            }
        );
        assert_eq!(
            model.interpret("hi", "[end_call] להתראות"),
            AgentReply {
                text: "להתראות".to_owned(),
                end_call: true
            }
        );
        // Only the scripted agent reads the caller's words.
        assert!(!model.interpret("goodbye", "Bye").end_call);
        let scripted = Agent::scripted(ScriptedResponder::builtin(), None);
        assert!(scripted.interpret("תודה, להתראות", "x").end_call);
        assert!(scripted.interpret("OK, goodbye!", "x").end_call);
        assert!(!scripted.interpret("מה שעות הפתיחה?", "x").end_call);
        assert!(!scripted.interpret("hello", "hello").end_call);
    }

    #[test]
    fn speech_to_text_follows_the_configuration() {
        let none = Agent::from_config(&Config::from_vars([("KAV_TTS", "off")]).unwrap());
        assert!(none.stt().is_none() && none.tts().is_none() && none.twilio().is_none());

        let openai = Config::from_vars([
            ("OPENAI_API_KEY", "sk-test"),
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "token-0123456789"),
        ])
        .unwrap();
        let agent = Agent::from_config(&openai);
        assert_eq!(agent.stt().unwrap().provider(), kav_stt::Provider::OpenAi);
        assert!(agent.twilio().is_some());

        // A real (freshly generated) service-account key.
        let key = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .expect("openssl is installed");
        assert!(key.status.success());
        let json = serde_json::json!({
            "type": "service_account",
            "client_email": "kav@example.iam.gserviceaccount.com",
            "private_key": String::from_utf8(key.stdout).unwrap(),
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string();
        let google =
            Config::from_vars([("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON", json.as_str())]).unwrap();
        let agent = Agent::from_config(&google);
        assert_eq!(agent.stt().unwrap().provider(), kav_stt::Provider::Google);
    }
}
