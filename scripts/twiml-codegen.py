#!/usr/bin/env python3
"""Generates crates/twiml/src/voice.rs and crates/twiml/src/messaging.rs.

The set of elements, their children and their attribute names are read from twilio-python (the
version pinned in scripts/requirements-peers.txt), so the generated code covers exactly what
Twilio's helper library offers. The value type of each attribute is chosen here (TYPES below).

Run with the project's virtual environment (the output is formatted with rustfmt):
    .venv/bin/python scripts/twiml-codegen.py
`--check` exits 1 when the committed files differ from what it would generate (the differential
test runs it).
"""
import inspect
import os
import re
import subprocess
import sys

from twilio.twiml import TwiML, messaging_response, voice_response

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "crates", "twiml", "src")

MAP = TwiML.MAP


def lower_camel(s):
    if not s or "_" not in s:
        return s
    r = "".join(x.title() for x in s.split("_"))
    return r[0].lower() + r[1:]


def xml_name(param):
    return lower_camel(MAP.get(param, param))


def snake(param):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", param).lower()
    if s in ("loop", "for", "type", "match", "move", "ref", "self", "in", "use", "async"):
        s += "_"
    if s.endswith("_") and s[:-1] in ("from", "for", "break"):
        return s
    return s


# ---------------------------------------------------------------------------------------------
# Value types. Keys: "Class.xmlName" (exact) or "xmlName" (any class). Unlisted: String.
# ---------------------------------------------------------------------------------------------
URL = "Url"
TYPES = {
    # URLs
    "action": URL, "url": URL, "statusCallback": URL, "recordingStatusCallback": URL,
    "transcribeCallback": URL, "waitUrl": URL, "partialResultCallback": URL,
    "amdStatusCallback": URL, "eventCallbackUrl": URL, "referUrl": URL, "statusCallbackUrl": URL,
    "Stream.url": "WssUrl", "ConversationRelay.url": "WssUrl",
    # HTTP methods
    "method": "HttpMethod", "statusCallbackMethod": "HttpMethod",
    "recordingStatusCallbackMethod": "HttpMethod", "waitMethod": "HttpMethod",
    "waitUrlMethod": "HttpMethod", "partialResultCallbackMethod": "HttpMethod",
    "amdStatusCallbackMethod": "HttpMethod", "referMethod": "HttpMethod",
    # Durations in seconds
    "timeout": "Seconds", "maxLength": "Seconds", "timeLimit": "Seconds",
    "maxSpeechTime": "Seconds", "machineDetectionTimeout": "Seconds",
    "routingAssignmentTimeout": "Seconds", "inboundTimeout": "Seconds", "Pause.length": "Seconds",
    "Gather.speechTimeout": "SpeechTimeout",
    # Counts and integers
    "loop": "u32", "numDigits": "u32", "maxParticipants": "u32", "maxQueueSize": "u32",
    "priority": "u32", "weight": "u32", "maxAttempts": "u32", "minPostalCodeLength": "u32",
    "sampleRate": "u32", "machineDetectionSpeechThreshold": "u32",
    "machineDetectionSpeechEndThreshold": "u32", "machineDetectionSilenceTimeout": "u32",
    "Prompt.attempt": "Vec<u32>",
    # Booleans
    "playBeep": "bool", "transcribe": "bool", "profanityFilter": "bool", "bargeIn": "bool",
    "Gather.debug": "bool", "actionOnEmptyResult": "bool", "enhanced": "bool",
    "hangupOnStar": "bool", "answerOnBridge": "bool", "sequential": "bool", "muted": "bool",
    "startConferenceOnEnter": "bool", "endConferenceOnExit": "bool", "partialResults": "bool",
    "enableAutomaticPunctuation": "bool", "requireMatchingInputs": "bool", "securityCode": "bool",
    "sentimentAnalysis": "bool", "inboundAutocreation": "bool", "copyParentTo": "bool",
    "dtmfDetection": "bool", "partialPrompts": "bool", "preemptible": "bool",
    "asrSmartFormat": "bool", "partialPromptOnHangup": "bool", "applicationReconnect": "bool",
    "echoPromptFiltering": "bool", "turnDetection": "bool", "deepgramSmartFormat": "bool",
    "Language.asrSmartFormat": "String",
    # Closed sets
    "trim": "Trim", "Conversation.record": "String",
    "Stream.track": "StreamTrack", "Siprec.track": "StreamTrack",
    "Transcription.track": "StreamTrack", "Recording.track": "RecordingTrack",
    "recordingTrack": "RecordingTrack", "Recording.channels": "RecordingChannels",
    "recordingStatusCallbackEvent": "Vec<RecordingEvent>",
    "Number.statusCallbackEvent": "Vec<CallProgressEvent>",
    "Client.statusCallbackEvent": "Vec<CallProgressEvent>",
    "Sip.statusCallbackEvent": "Vec<CallProgressEvent>",
    "Application.statusCallbackEvent": "Vec<CallProgressEvent>",
    "WhatsApp.statusCallbackEvent": "Vec<CallProgressEvent>",
    "Conference.statusCallbackEvent": "Vec<ConferenceEvent>",
    "Conversation.statusCallbackEvent": "Vec<ConversationEvent>",
    "Gather.input": "Vec<GatherInput>", "Pay.input": "PayInput",
    "finishOnKey": "DtmfKeys", "digits": "Digits", "sendDigits": "Digits",
    "Reject.reason": "RejectReason", "machineDetection": "MachineDetection",
    "Dial.record": "DialRecord", "Conference.record": "ConferenceRecord",
    "Conference.beep": "ConferenceBeep", "Conference.region": "ConferenceRegion",
    "Conference.jitterBufferSize": "JitterBufferSize",
    "Pay.paymentMethod": "PaymentMethod", "Pay.bankAccountType": "BankAccountType",
    "Pay.tokenType": "TokenType", "Pay.validCardTypes": "Vec<CardType>",
    "Prompt.cardType": "Vec<CardType>", "Prompt.for": "PayPromptFor",
    "Prompt.errorType": "Vec<PayErrorType>",
    "break.strength": "BreakStrength", "emphasis.level": "EmphasisLevel",
    "phoneme.alphabet": "PhonemeAlphabet", "say-as.interpret-as": "InterpretAs",
    "say-as.format": "SayAsFormat",
    # Secrets
    "password": "Password",
}

# Text bodies typed as URLs (all others are strings).
TEXT_TYPES = {"Play": URL, "Redirect": URL, "Media": URL}
# Elements whose `new` takes their (optional) text; `empty()` builds one without.
CTOR_TEXT = {"Play", "Enqueue", "Message"}
MIXED = {"Say", "SsmlEmphasis", "SsmlLang", "SsmlP", "SsmlProsody", "SsmlS", "SsmlW"}

ENUM_TYPES = {
    "Trim", "StreamTrack", "RecordingTrack", "RecordingChannels", "RecordingEvent",
    "CallProgressEvent", "ConferenceEvent", "ConversationEvent", "GatherInput", "PayInput",
    "RejectReason", "MachineDetection", "DialRecord", "ConferenceRecord", "ConferenceBeep",
    "ConferenceRegion", "JitterBufferSize", "PaymentMethod", "BankAccountType", "TokenType",
    "CardType", "PayPromptFor", "PayErrorType", "BreakStrength", "EmphasisLevel",
    "PhonemeAlphabet", "InterpretAs", "SayAsFormat", "HttpMethod",
}


def value_kind(t):
    if t.startswith("Vec<"):
        inner = t[4:-1]
        if inner == "u32":
            return "ValueKind::UIntList"
        return f"ValueKind::EnumList({inner}::VALUES)"
    if t in ENUM_TYPES:
        return f"ValueKind::Enum({t}::VALUES)"
    return {
        "String": "ValueKind::String", "bool": "ValueKind::Bool", "u32": "ValueKind::UInt",
        "Seconds": "ValueKind::Seconds", "Url": "ValueKind::Url", "WssUrl": "ValueKind::WssUrl",
        "SpeechTimeout": "ValueKind::SpeechTimeout", "DtmfKeys": "ValueKind::DtmfKeys",
        "Digits": "ValueKind::Digits", "Password": "ValueKind::String",
    }[t]


def setter_arg(t):
    if t == "String" or t == "Password":
        return "impl Into<" + t + ">", "value.into()"
    if t == "Seconds":
        return "impl Into<Seconds>", "value.into()"
    if t.startswith("Vec<"):
        return f"impl IntoIterator<Item = {t[4:-1]}>", "value.into_iter().collect()"
    return t, "value"


# ---------------------------------------------------------------------------------------------
# Introspection
# ---------------------------------------------------------------------------------------------
class Attr:
    def __init__(self, param, doc):
        self.param = param
        self.xml = xml_name(param)
        self.field = snake(param)
        self.doc = doc


class Elem:
    def __init__(self, cls):
        self.cls = cls
        self.name = cls.__name__
        src = inspect.getsource(cls)
        m = re.search(r'self.name = "([^"]+)"', src)
        self.tag = m.group(1)
        self.doc = (inspect.getdoc(cls) or "").strip()
        init = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        self.text_param = init[0] if init else None
        self.attrs = {}
        self.children = []  # (method, ElemName)

    @property
    def rust(self):
        return self.name


def collect(mod, root_name):
    elems = {}
    for name, cls in inspect.getmembers(mod, inspect.isclass):
        if issubclass(cls, TwiML) and cls.__module__ == mod.__name__:
            elems[name] = Elem(cls)
    for e in elems.values():
        for mname, m in e.cls.__dict__.items():
            if mname.startswith("_") or not callable(m):
                continue
            msrc = inspect.getsource(m)
            target = re.search(r"self\.nest\(\s*(\w+)\(", msrc).group(1)
            child = elems[target]
            e.children.append((mname, target))
            doc = inspect.getdoc(m) or ""
            for p in list(inspect.signature(m).parameters)[1:]:
                if p == "kwargs" or p == child.text_param:
                    continue
                d = re.search(r":param " + re.escape(p.rstrip("_")) + r": (.*)", doc)
                a = Attr(p, d.group(1).strip() if d else "")
                prev = child.attrs.get(a.xml)
                if prev is None or (not prev.doc and a.doc):
                    child.attrs[a.xml] = a
    return elems


VOICE = collect(voice_response, "VoiceResponse")
MESSAGING = collect(messaging_response, "MessagingResponse")

# Docs the helper library leaves empty.
EXTRA_DOCS = {
    "for": "The payment information the prompt asks for",
    "xml:lang": "Language of the enclosed words",
    "interpret-as": "How the enclosed words are to be interpreted",
}

ELEMENT_DOCS = {
    "VoiceResponse": "the root of a Voice TwiML document; its children are the verbs Twilio runs in order.",
    "MessagingResponse": "the root of a Messaging TwiML document.",
    "Say": "speaks text (with SSML children) in the given voice and language.",
    "Play": "plays an audio file (8 kHz mono μ-law WAV is the cheapest for Twilio), or DTMF digits.",
    "Pause": "waits silently.",
    "Record": "records the caller and posts the recording URL to `action`.",
    "Gather": "collects speech or DTMF while playing its nested `Say`, `Play` and `Pause`.",
    "Hangup": "ends the call.",
    "Redirect": "fetches TwiML from another URL and runs it instead of the rest of this document.",
    "Reject": "refuses an incoming call without answering it (no charge).",
    "Dial": "connects the caller to another party (a number, client, SIP URI, conference, queue, …).",
    "Number": "a phone number to dial.",
    "Client": "a Twilio Client (Voice SDK) identity to dial.",
    "Identity": "the identity of a `<Client>`.",
    "Parameter": "a custom name/value parameter passed to the other side.",
    "Sip": "a SIP URI to dial.",
    "SipUri": "one SIP URI of a `<Sip>` with several.",
    "Headers": "custom SIP headers of a `<Sip>`.",
    "Header": "one custom SIP header.",
    "Conference": "joins a named conference room.",
    "Queue": "connects to the first caller waiting in a named queue.",
    "Sim": "dials a Twilio Super SIM by SID.",
    "Application": "dials a TwiML application.",
    "ApplicationSid": "the SID of the application of an `<Application>`.",
    "WhatsApp": "dials a WhatsApp user (WhatsApp Business Calling).",
    "Enqueue": "puts the caller in a queue (or a TaskRouter workflow).",
    "Task": "TaskRouter task attributes (JSON) of an `<Enqueue>`.",
    "Leave": "takes the caller out of the queue it waits in.",
    "Connect": "hands the call over to a bidirectional service (Media Stream, ConversationRelay, Room, …).",
    "Stream": "a Media Stream: the call's audio over a WebSocket (`wss://` only).",
    "Room": "a Programmable Video room.",
    "Conversation": "a Twilio Conversations session.",
    "ConversationRelay": "Twilio's managed speech-to-text/text-to-speech relay to a WebSocket application.",
    "Language": "per-language settings of a `<ConversationRelay>`.",
    "VirtualAgent": "a Dialogflow CX virtual agent.",
    "Config": "a name/value configuration entry.",
    "Autopilot": "an Autopilot assistant (retired by Twilio; kept for completeness).",
    "AiSession": "an AI session through an AI connector add-on.",
    "ConversationRelaySession": "a ConversationRelay session from a stored configuration.",
    "Start": "starts something in the background while the call goes on (stream, SIPREC, transcription, recording).",
    "Stop": "stops a background stream, SIPREC session or transcription started with `<Start>`.",
    "Siprec": "a SIPREC session to a recording connector.",
    "Transcription": "a real-time transcription of the call.",
    "Recording": "a background recording of the call.",
    "Pay": "collects a payment (PCI compliant) through a payment connector.",
    "Prompt": "customizes what `<Pay>` says or plays for one step.",
    "Refer": "transfers a SIP call away with SIP REFER.",
    "ReferSip": "the SIP URI a `<Refer>` transfers to.",
    "Sms": "sends an SMS during the call (deprecated by Twilio in favour of the REST API).",
    "Echo": "plays the caller's audio back to them (for testing).",
    "SsmlBreak": "SSML pause.",
    "SsmlEmphasis": "SSML emphasis on the enclosed words.",
    "SsmlLang": "SSML: the enclosed words are in another language.",
    "SsmlP": "SSML paragraph.",
    "SsmlPhoneme": "SSML phonetic pronunciation.",
    "SsmlProsody": "SSML volume, rate and pitch.",
    "SsmlS": "SSML sentence.",
    "SsmlSayAs": "SSML: how to read the enclosed words (digits, date, …).",
    "SsmlSub": "SSML: say `alias` instead of the enclosed words.",
    "SsmlW": "SSML word with a part of speech.",
    "Message": "sends a message (text in `Body`, attachments in `Media`).",
    "Body": "the text of a `<Message>`.",
    "Media": "the URL of an attachment of a `<Message>`.",
}


MODULE_DOCS = {
    "voice": "//! Voice TwiML: [`VoiceResponse`] and every verb and noun Twilio's helper libraries offer.\n"
    "//!\n//! Each element is one type; a parent accepts only the children Twilio allows (its\n"
    "//! `...Child` enum, or [`Verb`] for the response). Attributes are typed fields set by builder\n"
    "//! methods named after them (`finish_on_key`); [`Node`] and each element's `attr` method are\n"
    "//! the escape hatch for what Twilio adds later.\n\n",
    "messaging": "//! Messaging TwiML: [`MessagingResponse`], `<Message>` with `<Body>` and `<Media>`, and\n"
    "//! `<Redirect>`.\n\n",
}


def attr_type(e, a):
    return TYPES.get(f"{e.tag}.{a.xml}") or TYPES.get(f"{e.name}.{a.xml}") or TYPES.get(a.xml) or "String"


def doc_line(s):
    s = s.strip().replace("\n", " ")
    if s and not s.endswith("."):
        s += "."
    return s.replace("[", "\\[").replace("]", "\\]").replace("<", "`<").replace(">", ">`") if "<" in s else s.replace("[", "\\[").replace("]", "\\]")


def child_enum_name(e):
    if e.name.endswith("Response"):
        return "Verb"
    return e.name + "Child"


def text_kind(e):
    if e.name in MIXED:
        return "mixed"
    if e.text_param is None:
        return None
    init = inspect.signature(e.cls.__init__).parameters[e.text_param]
    return "opt" if init.default is None else "req"


def gen(elems, module, root_name, out):
    w = []
    p = w.append
    p(MODULE_DOCS[module])
    p("// @generated by scripts/twiml-codegen.py from twilio-python's helper library: do not edit.\n")
    p("// Regenerate with `.venv/bin/python scripts/twiml-codegen.py`.\n")
    p("// Elements differ a lot in size (`<Dial>` has 21 attributes); boxing them in the child enums\n")
    p("// would cost an allocation per element for no benefit. SSML's `sub` is its TwiML name.\n")
    p("#![allow(clippy::large_enum_variant, clippy::should_implement_trait)]\n\n")
    p("use crate::error::Error;\n")
    p("use crate::node::{Node, NodeContent, XmlName};\n")
    p("use crate::parse::{is_blank, set_extra, Cx};\n")
    p("use crate::schema::{AttributeSchema, ElementSchema, TextKind, ValueKind};\n")
    p("use crate::write::{write_attr, write_extra_attrs, write_text, AttrValue, TextValue};\n")
    p("#[allow(unused_imports)]\nuse crate::value::*;\n")
    p("#[allow(unused_imports)]\nuse crate::url::{Url, WssUrl};\n\n")

    order = [root_name] + sorted(n for n in elems if n != root_name)
    all_tags = sorted({elems[n].tag for n in order})
    p(f"/// Every element tag this module knows.\npub(crate) const KNOWN_TAGS: &[&str] = &{rust_list(all_tags)};\n\n")

    for n in order:
        e = elems[n]
        tk = text_kind(e)
        ttype = TEXT_TYPES.get(e.name, "String")
        attrs = [e.attrs[k] for k in sorted(e.attrs)]
        for a in attrs:
            a.type = attr_type(e, a)
        kids = e.children
        cen = child_enum_name(e)
        has_children = bool(kids) or tk == "mixed"
        methods = {m for m, _ in kids}
        fields = {a.field for a in attrs}
        # ---- child enum
        if has_children:
            p(f"/// A child of [`{e.name}`].\n")
            p("#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\n")
            p(f"pub enum {cen} {{\n")
            if tk == "mixed":
                p("    /// Text, spoken as it is.\n    Text(String),\n")
            for _, c in kids:
                p(f"    /// A `<{elems[c].tag}>` child.\n    {c}({c}),\n")
            p("    /// An element this crate does not model (escape hatch, see [`Node`]).\n    Other(Node),\n}\n\n")
            for _, c in kids:
                p(f"impl From<{c}> for {cen} {{\n    fn from(value: {c}) -> Self {{\n        {cen}::{c}(value)\n    }}\n}}\n\n")
            p(f"impl From<Node> for {cen} {{\n    fn from(value: Node) -> Self {{\n        {cen}::Other(value)\n    }}\n}}\n\n")
        # ---- struct
        doc = ELEMENT_DOCS.get(e.name) or doc_line(e.doc.replace("TwiML", "").strip())
        if module == "messaging" and e.name == "Redirect":
            doc = "fetches Messaging TwiML from another URL and runs it instead of the rest of this document."
        p(f"/// `<{e.tag}>`: {doc}\n")
        p("///\n/// Attributes are rendered in alphabetical order of their TwiML names (the order")
        p("\n/// twilio-python uses), then the extra attributes in the order they were set.\n")
        p("#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\n")
        p(f"pub struct {e.name} {{\n")
        if tk in ("req", "opt"):
            tf = snake(e.text_param)
            e.text_field = tf
            ty = ttype if tk == "req" else f"Option<{ttype}>"
            p(f"    /// The element's text: {doc_line(param_doc(e))}\n    pub {tf}: {ty},\n")
        for a in attrs:
            d = doc_line(a.doc or EXTRA_DOCS.get(a.xml, ""))
            p(f"    /// `{a.xml}`: {d}\n    pub {a.field}: Option<{a.type}>,\n")
        if has_children:
            p(f"    /// Children, in document order.\n    pub children: Vec<{cen}>,\n")
        else:
            p("    /// Child elements this crate does not model (escape hatch), rendered after the text.\n")
            p("    pub extra_children: Vec<Node>,\n")
        p("    extra_attributes: Vec<(XmlName, String)>,\n}\n\n")

        # ---- impl
        p(f"impl {e.name} {{\n")
        p(f"    /// The element's tag.\n    pub const TAG: &'static str = \"{e.tag}\";\n\n")
        init_fields = []
        for a in attrs:
            init_fields.append(f"{a.field}: None")
        init_fields.append("children: Vec::new()" if has_children else "extra_children: Vec::new()")
        init_fields.append("extra_attributes: Vec::new()")
        rest = ", ".join(init_fields)
        if tk == "req":
            arg, conv = setter_arg(ttype)
            p(f"    /// A new `<{e.tag}>` with the given text.\n")
            p(f"    pub fn new({e.text_field}: {arg}) -> Self {{\n        let value = {e.text_field};\n        Self {{ {e.text_field}: {conv}, {rest} }}\n    }}\n\n")
        elif tk == "opt":
            arg, conv = setter_arg(ttype)
            if e.name in CTOR_TEXT:
                p(f"    /// A new `<{e.tag}>` with the given text.\n")
                p(f"    pub fn new({e.text_field}: {arg}) -> Self {{\n        let value = {e.text_field};\n        Self {{ {e.text_field}: Some({conv}), {rest} }}\n    }}\n\n")
                p(f"    /// A new `<{e.tag}>` without text.\n")
                p(f"    pub fn empty() -> Self {{\n        Self {{ {e.text_field}: None, {rest} }}\n    }}\n\n")
            else:
                p(f"    /// A new, empty `<{e.tag}>`.\n")
                p(f"    pub fn new() -> Self {{\n        Self {{ {e.text_field}: None, {rest} }}\n    }}\n\n")
                p(f"    /// A new `<{e.tag}>` with the given text.\n")
                p(f"    pub fn with_{e.text_field}({e.text_field}: {arg}) -> Self {{\n        let value = {e.text_field};\n        Self {{ {e.text_field}: Some({conv}), {rest} }}\n    }}\n\n")
        elif tk == "mixed":
            p(f"    /// A new `<{e.tag}>` holding the given text.\n")
            p(f"    pub fn new(text: impl Into<String>) -> Self {{\n        Self {{ {rest} }}.text(text)\n    }}\n\n")
            p(f"    /// A new, empty `<{e.tag}>`.\n")
            p(f"    pub fn empty() -> Self {{\n        Self {{ {rest} }}\n    }}\n\n")
            p(f"    /// Appends text.\n    #[must_use]\n    pub fn text(mut self, text: impl Into<String>) -> Self {{\n        self.children.push({cen}::Text(text.into()));\n        self\n    }}\n\n")
        else:
            p(f"    /// A new `<{e.tag}>` without attributes.\n")
            p(f"    pub fn new() -> Self {{\n        Self {{ {rest} }}\n    }}\n\n")
        # setters
        for a in attrs:
            name = a.field
            arg, conv = setter_arg(a.type)
            d = doc_line(a.doc or EXTRA_DOCS.get(a.xml, ""))
            p(f"    /// Sets `{a.xml}`: {d}\n    #[must_use]\n")
            p(f"    pub fn {name}(mut self, value: {arg}) -> Self {{\n        self.{a.field} = Some({conv});\n        self\n    }}\n\n")
        # child adders
        for m, c in kids:
            mn = m
            if mn.rstrip("_") in fields or mn in fields:
                mn = mn.rstrip("_") + "_element"
            if mn == "break_":
                mn = "break_"
            p(f"    /// Appends a `<{elems[c].tag}>` child.\n    #[must_use]\n")
            p(f"    pub fn {mn}(mut self, child: {c}) -> Self {{\n        self.children.push({cen}::{c}(child));\n        self\n    }}\n\n")
        if has_children:
            p(f"    /// Appends any allowed child (or a [`Node`], the escape hatch).\n    #[must_use]\n")
            p(f"    pub fn push(mut self, child: impl Into<{cen}>) -> Self {{\n        self.children.push(child.into());\n        self\n    }}\n\n")
        else:
            p("    /// Appends a child element this crate does not model (escape hatch).\n    #[must_use]\n")
            p("    pub fn extra_child(mut self, child: Node) -> Self {\n        self.extra_children.push(child);\n        self\n    }\n\n")
        # attr escape hatch
        p("    /// Sets an attribute by its TwiML name: a known attribute is parsed into its typed\n")
        p("    /// field, any other name is kept as an extra attribute (escape hatch for attributes\n")
        p("    /// Twilio adds later) and rendered after the known ones.\n    ///\n")
        p("    /// # Errors\n    /// [`Error::InvalidName`] for a name that is not an XML name, or the error of the\n")
        p("    /// known attribute's value type.\n")
        p("    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Result<Self, Error> {\n")
        p("        let mut cx = Cx::for_builder(Self::TAG);\n        self.set_attr(name.to_owned(), value.into(), &mut cx)?;\n        Ok(self)\n    }\n\n")
        p("    /// The extra attributes set through [`Self::attr`] (or kept by the parser), in order.\n")
        p("    pub fn extra_attributes(&self) -> &[(XmlName, String)] {\n        &self.extra_attributes\n    }\n\n")
        # set_attr
        p("    fn set_attr(&mut self, name: String, value: String, cx: &mut Cx) -> Result<(), Error> {\n")
        if attrs:
            p("        match name.as_str() {\n")
            for a in attrs:
                p(f"            \"{a.xml}\" => {{\n                self.{a.field} = Some(cx.attr(\"{a.xml}\", value)?);\n            }}\n")
            p("            _ => set_extra(&mut self.extra_attributes, cx.attr_name(name)?, value),\n        }\n")
        else:
            p("        set_extra(&mut self.extra_attributes, cx.attr_name(name)?, value);\n")
        p("        Ok(())\n    }\n\n")

        # write
        p("    /// Appends this element's XML to `out`.\n")
        p("    pub fn write_xml(&self, out: &mut String) {\n")
        p(f"        out.push_str(\"<{e.tag}\");\n")
        for a in attrs:
            p(f"        write_attr(out, \" {a.xml}=\\\"\", &self.{a.field});\n")
        p("        write_extra_attrs(out, &self.extra_attributes);\n")
        empty_checks = []
        if tk == "req":
            empty_checks.append(f"self.{e.text_field}.as_text().is_empty()")
        elif tk == "opt":
            empty_checks.append(f"self.{e.text_field}.as_ref().is_none_or(|t| t.as_text().is_empty())")
        if tk == "mixed":
            empty_checks.append(f"self.children.iter().all(|c| matches!(c, {cen}::Text(t) if t.is_empty()))")
        elif has_children:
            empty_checks.append("self.children.is_empty()")
        else:
            empty_checks.append("self.extra_children.is_empty()")
        p(f"        if {' && '.join(empty_checks)} {{\n            out.push_str(\"/>\");\n            return;\n        }}\n")
        p("        out.push('>');\n")
        if tk == "req":
            p(f"        write_text(out, self.{e.text_field}.as_text());\n")
        elif tk == "opt":
            if has_children:
                # Whitespace before children is indentation to the parser: leave it out, so that
                # what is rendered parses back to the same text.
                p(f"        if let Some(text) = &self.{e.text_field}\n            && (self.children.is_empty() || !is_blank(text.as_text()))\n        {{\n            write_text(out, text.as_text());\n        }}\n")
            else:
                p(f"        if let Some(text) = &self.{e.text_field} {{\n            write_text(out, text.as_text());\n        }}\n")
        if has_children:
            p("        for child in &self.children {\n            match child {\n")
            if tk == "mixed":
                p(f"                {cen}::Text(text) => write_text(out, text),\n")
            for _, c in kids:
                p(f"                {cen}::{c}(child) => child.write_xml(out),\n")
            p(f"                {cen}::Other(node) => node.write_xml(out),\n            }}\n        }}\n")
        else:
            p("        for node in &self.extra_children {\n            node.write_xml(out);\n        }\n")
        p(f"        out.push_str(\"</{e.tag}>\");\n    }}\n\n")
        # from_node
        p("    pub(crate) fn from_node(node: Node, cx: &mut Cx) -> Result<Self, Error> {\n")
        p("        let (attributes, content) = node.into_parts();\n")
        p(f"        let mut el = Self {{ {'' if tk in (None, 'mixed') else e.text_field + ': ' + ('Default::default()' if tk == 'opt' else 'Default::default()') + ', '}{rest} }};\n" if not (tk == 'req' and ttype == URL) else f"        let mut text = String::new();\n        let mut el_children: Vec<Node> = Vec::new();\n")
        if tk == "req" and ttype == URL:
            # Build after reading text, since Url has no default.
            p("        for item in content {\n            match item {\n")
            p("                NodeContent::Text(t) => text.push_str(&t),\n")
            p("                NodeContent::Element(child) => {\n                    el_children.push(cx.unknown_child(child, Self::TAG)?);\n                }\n")
            p("            }\n        }\n")
            p(f"        let {e.text_field} = cx.text_url(&text)?;\n")
            p(f"        let mut el = Self {{ {e.text_field}, {rest} }};\n")
            p("        el.extra_children = el_children;\n")
            p("        for (name, value) in attributes {\n            el.set_attr(name, value, cx)?;\n        }\n")
            p("        Ok(el)\n    }\n")
        else:
            p("        for (name, value) in attributes {\n            el.set_attr(name, value, cx)?;\n        }\n")
            if has_children:
                p("        el.children.reserve_exact(content.len());\n")
            if tk in ("req", "opt"):
                p("        let mut text = String::new();\n")
            if tk in ("req", "opt"):
                p("        let mut seen_child = false;\n" if has_children else "")
            p("        for item in content {\n            match item {\n")
            if tk == "mixed":
                p(f"                NodeContent::Text(t) => el.children.push({cen}::Text(t)),\n")
            elif tk in ("req", "opt"):
                if has_children:
                    p("                NodeContent::Text(t) => {\n                    if seen_child {\n                        cx.stray_text(&t)?;\n                    } else {\n                        text.push_str(&t);\n                    }\n                }\n")
                else:
                    p("                NodeContent::Text(t) => text.push_str(&t),\n")
            else:
                p("                NodeContent::Text(t) => cx.stray_text(&t)?,\n")
            p("                NodeContent::Element(child) => {\n")
            if tk in ("req", "opt") and has_children:
                p("                    seen_child = true;\n")
            if has_children:
                p("                    let item = match child.name().as_str() {\n")
                for _, c in kids:
                    p(f"                        {c}::TAG => {cen}::{c}(cx.descend(child, {c}::TAG, {c}::from_node)?),\n")
                p(f"                        _ => {cen}::Other(cx.unknown_child(child, Self::TAG)?),\n")
                p("                    };\n                    el.children.push(item);\n")
            else:
                p("                    el.extra_children.push(cx.unknown_child(child, Self::TAG)?);\n")
            p("                }\n            }\n        }\n")
            if tk in ("req", "opt"):
                if has_children:
                    p("        if !el.children.is_empty() && is_blank(&text) {\n            text.clear();\n        }\n")
                if tk == "req":
                    p(f"        el.{e.text_field} = cx.text_required(text)?;\n")
                else:
                    conv = "cx.text_url(&text)?" if ttype == URL else "text"
                    p(f"        if !text.is_empty() {{\n            el.{e.text_field} = Some({conv});\n        }}\n")
            p("        Ok(el)\n    }\n")
        # to_node (for tests and generic processing)
        p("\n    /// This element as a generic [`Node`] (same XML).\n")
        p("    pub fn to_node(&self) -> Node {\n")
        p("        let mut attributes: Vec<(XmlName, String)> = Vec::new();\n")
        for a in attrs:
            p(f"        if let Some(v) = &self.{a.field} {{\n            attributes.push((XmlName::known(\"{a.xml}\"), v.to_attr_string()));\n        }}\n")
        p("        attributes.extend(self.extra_attributes.iter().cloned());\n")
        p("        let mut content: Vec<NodeContent> = Vec::new();\n")
        if tk == "req":
            p(f"        if !self.{e.text_field}.as_text().is_empty() {{\n            content.push(NodeContent::Text(self.{e.text_field}.as_text().to_owned()));\n        }}\n")
        elif tk == "opt":
            blank = " && (self.children.is_empty() || !is_blank(t.as_text()))" if has_children else ""
            p(f"        if let Some(t) = &self.{e.text_field}\n            && !t.as_text().is_empty(){blank}\n        {{\n            content.push(NodeContent::Text(t.as_text().to_owned()));\n        }}\n")
        if has_children:
            p("        for child in &self.children {\n            content.push(match child {\n")
            if tk == "mixed":
                p(f"                {cen}::Text(t) => NodeContent::Text(t.clone()),\n")
            for _, c in kids:
                p(f"                {cen}::{c}(c) => NodeContent::Element(c.to_node()),\n")
            p(f"                {cen}::Other(n) => NodeContent::Element(n.clone()),\n            }});\n        }}\n")
        else:
            p("        content.extend(self.extra_children.iter().cloned().map(NodeContent::Element));\n")
        p(f"        Node::from_parts(XmlName::known(Self::TAG), attributes, content)\n    }}\n")
        p("}\n\n")
        if tk in (None, "mixed") or (tk == "opt" and e.name not in CTOR_TEXT):
            p(f"impl Default for {e.name} {{\n    fn default() -> Self {{\n        Self::{'empty' if tk == 'mixed' else 'new'}()\n    }}\n}}\n\n")

    # schema
    p(f"/// The schema of every element of this module, the root first.\n")
    p(f"pub static SCHEMA: &[ElementSchema] = &[\n")
    for n in order:
        e = elems[n]
        tk = text_kind(e)
        tks = {None: "TextKind::None", "req": "TextKind::Required", "opt": "TextKind::Optional", "mixed": "TextKind::Mixed"}[tk]
        tv = "ValueKind::Url" if TEXT_TYPES.get(e.name) == URL else "ValueKind::String"
        p(f"    ElementSchema {{\n        tag: \"{e.tag}\",\n        rust_name: \"{e.name}\",\n        text: {tks},\n        text_value: {tv},\n")
        p("        attributes: &[\n")
        for k in sorted(e.attrs):
            a = e.attrs[k]
            p(f"            AttributeSchema {{ name: \"{a.xml}\", kind: {value_kind(a.type)} }},\n")
        p("        ],\n")
        p(f"        children: &{rust_list([c for _, c in e.children])},\n    }},\n")
    p("];\n")
    return "".join(w)


def param_doc(e):
    # The doc of the text parameter in a parent's factory method, if any.
    for parent in list(VOICE.values()) + list(MESSAGING.values()):
        for m, c in parent.children:
            if c == e.name and (VOICE.get(c) is e or MESSAGING.get(c) is e):
                doc = inspect.getdoc(getattr(parent.cls, m)) or ""
                d = re.search(r":param " + re.escape(e.text_param) + r": (.*)", doc)
                if d:
                    return d.group(1)
    return e.text_param.replace("_", " ")


def rust_list(items):
    return "[" + ", ".join(f'"{i}"' if isinstance(i, str) and not i[0].isupper() or i in () else f'"{i}"' for i in items) + "]"


def rustfmt(code):
    """Formats like `cargo fmt` does (the workspace's rustfmt.toml)."""
    return subprocess.run(
        ["rustfmt", "--edition", "2024", "--config-path", os.path.join(ROOT, "rustfmt.toml")],
        input=code, capture_output=True, text=True, check=True,
    ).stdout


if __name__ == "__main__":
    outputs = {
        os.path.join(OUT, "voice.rs"): gen(VOICE, "voice", "VoiceResponse", None),
        os.path.join(OUT, "messaging.rs"): gen(MESSAGING, "messaging", "MessagingResponse", None),
    }
    if "--check" in sys.argv:
        # Exit 1 when the committed files are not what this script generates.
        stale = [p for p, code in outputs.items() if open(p, encoding="utf-8").read() != rustfmt(code)]
        for p in stale:
            print(f"{os.path.relpath(p, ROOT)} is out of date: run scripts/twiml-codegen.py", file=sys.stderr)
        sys.exit(1 if stale else 0)
    for p, code in outputs.items():
        with open(p, "w", encoding="utf-8") as f:
            f.write(rustfmt(code))
    # Report attributes left as plain strings, for review.
    if "-v" in sys.argv:
        for elems in (VOICE, MESSAGING):
            for e in elems.values():
                for a in e.attrs.values():
                    if attr_type(e, a) == "String":
                        print(f"{e.name}.{a.xml}: String  ({a.doc})")
