//! Golden strings: exact renderings of representative documents.

use kav_twiml::messaging::{Body, Media, Message, MessagingResponse, Redirect as MRedirect};
use kav_twiml::voice::*;
use kav_twiml::*;

const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[track_caller]
fn golden(doc: &VoiceResponse, body: &str) {
    let xml = doc.to_xml();
    assert_eq!(xml, format!("{DECL}{body}"));
    // And it parses back to the same tree and text.
    let parsed = VoiceResponse::parse(&xml).unwrap();
    assert_eq!(&parsed, doc);
    assert_eq!(parsed.to_xml(), xml);
}

#[test]
fn empty_response() {
    golden(&VoiceResponse::new(), "<Response/>");
    assert_eq!(
        MessagingResponse::new().to_xml(),
        format!("{DECL}<Response/>")
    );
}

#[test]
fn incoming_call_record_mode() {
    let base = url("https://agent.example.com/");
    let doc = VoiceResponse::new()
        .play(Play::new(base.join("/media/greeting.wav").unwrap()))
        .record(
            Record::new()
                .trim(Trim::DoNotTrim)
                .method(HttpMethod::Post)
                .action(base.join("/webhook/handle_recording").unwrap())
                .play_beep(true)
                .max_length(30)
                .timeout(std::time::Duration::from_secs(5))
                .finish_on_key(DtmfKeys::new("*").unwrap()),
        );
    golden(
        &doc,
        "<Response><Play>https://agent.example.com/media/greeting.wav</Play>\
         <Record action=\"https://agent.example.com/webhook/handle_recording\" finishOnKey=\"*\" \
         maxLength=\"30\" method=\"POST\" playBeep=\"true\" timeout=\"5\" trim=\"do-not-trim\"/>\
         </Response>",
    );
}

#[test]
fn gather_speech_in_hebrew() {
    let doc = VoiceResponse::new()
        .gather(
            Gather::new()
                .input([GatherInput::Speech, GatherInput::Dtmf])
                .language("he-IL")
                .speech_timeout(SpeechTimeout::Auto)
                .action(Url::relative("/webhook/gather").unwrap())
                .say(Say::new("שלום! במה אפשר לעזור?").voice("Google.he-IL-Standard-A"))
                .pause(Pause::new().length(1))
                .play(Play::empty().digits(Digits::new("ww12#").unwrap())),
        )
        .redirect(
            Redirect::new(Url::relative("/webhook/incoming_call").unwrap())
                .method(HttpMethod::Post),
        );
    golden(
        &doc,
        "<Response><Gather action=\"/webhook/gather\" input=\"speech dtmf\" language=\"he-IL\" \
         speechTimeout=\"auto\"><Say voice=\"Google.he-IL-Standard-A\">שלום! במה אפשר לעזור?</Say>\
         <Pause length=\"1\"/><Play digits=\"ww12#\"/></Gather>\
         <Redirect method=\"POST\">/webhook/incoming_call</Redirect></Response>",
    );
}

#[test]
fn escaping_text_and_attributes() {
    let doc = VoiceResponse::new().say(
        Say::new("a < b && c > \"d\" 'e' ]]> <Hangup/>")
            .voice("x\"/><Hangup/><Say a=\"")
            .language("tab\there\nnewline\rcr"),
    );
    golden(
        &doc,
        "<Response><Say language=\"tab&#9;here&#10;newline&#13;cr\" \
         voice=\"x&quot;/&gt;&lt;Hangup/&gt;&lt;Say a=&quot;\">\
         a &lt; b &amp;&amp; c &gt; \"d\" 'e' ]]&gt; &lt;Hangup/&gt;</Say></Response>",
    );
}

#[test]
fn ssml_mixed_content() {
    let doc = VoiceResponse::new().say(
        Say::new("Hello ")
            .emphasis(SsmlEmphasis::new("dear").level(EmphasisLevel::Strong))
            .text(", your code is ")
            .say_as(SsmlSayAs::new("1234").interpret_as(InterpretAs::Digits))
            .break_(
                SsmlBreak::new()
                    .strength(BreakStrength::XStrong)
                    .time("500ms"),
            )
            .lang(SsmlLang::new("שלום").xml_lang("he-IL"))
            .prosody(
                SsmlProsody::new("slowly")
                    .rate("slow")
                    .s(SsmlS::new("done")),
            ),
    );
    golden(
        &doc,
        "<Response><Say>Hello <emphasis level=\"strong\">dear</emphasis>, your code is \
         <say-as interpret-as=\"digits\">1234</say-as><break strength=\"x-strong\" time=\"500ms\"/>\
         <lang xml:lang=\"he-IL\">שלום</lang><prosody rate=\"slow\">slowly<s>done</s></prosody></Say>\
         </Response>",
    );
}

#[test]
fn dial_with_nouns() {
    let doc = VoiceResponse::new().dial(
        Dial::new()
            .caller_id("+15550001111")
            .record(DialRecord::RecordFromAnswerDual)
            .timeout(20)
            .answer_on_bridge(true)
            .number(
                Number::new("+15551234567")
                    .send_digits(Digits::new("wW1").unwrap())
                    .status_callback_event([
                        CallProgressEvent::Initiated,
                        CallProgressEvent::Answered,
                    ])
                    .status_callback(url("https://h/status?a=1&b=2")),
            )
            .client(
                Client::new()
                    .identity(Identity::new("alice"))
                    .parameter(Parameter::new().name("k").value("v")),
            )
            .sip(
                Sip::with_sip_url("sip:bob@example.com")
                    .username("bob")
                    .password("s3cret"),
            )
            .conference(
                Conference::new("room 1")
                    .beep(ConferenceBeep::OnEnter)
                    .region(ConferenceRegion::Ie1),
            )
            .queue(Queue::new("support"))
            .sim(Sim::new("DE123"))
            .application(Application::new().application_sid(ApplicationSid::new("AP123")))
            .whats_app(WhatsApp::new("+15557654321")),
    );
    golden(
        &doc,
        "<Response><Dial answerOnBridge=\"true\" callerId=\"+15550001111\" record=\"record-from-answer-dual\" \
         timeout=\"20\"><Number sendDigits=\"wW1\" statusCallback=\"https://h/status?a=1&amp;b=2\" \
         statusCallbackEvent=\"initiated answered\">+15551234567</Number><Client><Identity>alice</Identity>\
         <Parameter name=\"k\" value=\"v\"/></Client><Sip password=\"s3cret\" username=\"bob\">\
         sip:bob@example.com</Sip><Conference beep=\"onEnter\" region=\"ie1\">room 1</Conference>\
         <Queue>support</Queue><Sim>DE123</Sim><Application><ApplicationSid>AP123</ApplicationSid>\
         </Application><WhatsApp>+15557654321</WhatsApp></Dial></Response>",
    );
    // The SIP password is not in Debug output.
    assert!(!format!("{doc:?}").contains("s3cret"));
}

#[test]
fn connect_stream_and_start() {
    let doc = VoiceResponse::new()
        .start(
            Start::new()
                .stream(
                    Stream::new()
                        .url(WssUrl::parse("wss://agent.example.com/ws/rec").unwrap())
                        .track(StreamTrack::InboundTrack),
                )
                .transcription(
                    Transcription::new()
                        .track(StreamTrack::BothTracks)
                        .partial_results(false),
                )
                .recording(
                    Recording::new()
                        .track(RecordingTrack::Both)
                        .channels(RecordingChannels::Dual),
                ),
        )
        .connect(
            Connect::new()
                .action(url("https://agent.example.com/webhook/stream_ended"))
                .stream(
                    Stream::new()
                        .url(WssUrl::parse("wss://agent.example.com/ws/twilio-media").unwrap())
                        .parameter(Parameter::new().name("callSid").value("CA1")),
                ),
        );
    golden(
        &doc,
        "<Response><Start><Stream track=\"inbound_track\" url=\"wss://agent.example.com/ws/rec\"/>\
         <Transcription partialResults=\"false\" track=\"both_tracks\"/>\
         <Recording channels=\"dual\" track=\"both\"/></Start>\
         <Connect action=\"https://agent.example.com/webhook/stream_ended\">\
         <Stream url=\"wss://agent.example.com/ws/twilio-media\"><Parameter name=\"callSid\" value=\"CA1\"/>\
         </Stream></Connect></Response>",
    );
}

#[test]
fn conversation_relay() {
    let doc = VoiceResponse::new().connect(
        Connect::new().conversation_relay(
            ConversationRelay::new()
                .url(WssUrl::parse("wss://h/relay").unwrap())
                .language("he-IL")
                .dtmf_detection(true)
                .welcome_greeting("שלום")
                .language_element(Language::new().code("en-US").voice("en-US-Journey-O"))
                .parameter(Parameter::new().name("a").value("b")),
        ),
    );
    golden(
        &doc,
        "<Response><Connect><ConversationRelay dtmfDetection=\"true\" language=\"he-IL\" url=\"wss://h/relay\" \
         welcomeGreeting=\"שלום\"><Language code=\"en-US\" voice=\"en-US-Journey-O\"/>\
         <Parameter name=\"a\" value=\"b\"/></ConversationRelay></Connect></Response>",
    );
}

#[test]
fn short_verbs() {
    let doc = VoiceResponse::new()
        .enqueue(
            Enqueue::new("support")
                .wait_url(url("https://h/wait"))
                .task(Task::new("{\"a\":1}").priority(5)),
        )
        .leave(Leave::new())
        .hangup(Hangup::new())
        .reject(Reject::new().reason(RejectReason::Busy))
        .echo(Echo::new())
        .sms(Sms::new("hi").to("+1555").from_("+1666"))
        .refer(Refer::new().sip(ReferSip::new("sip:x@y")))
        .pay(
            Pay::new()
                .charge_amount("10.00")
                .valid_card_types([CardType::Visa, CardType::Amex])
                .prompt(
                    Prompt::new()
                        .for_(PayPromptFor::PaymentCardNumber)
                        .say(Say::new("card number")),
                ),
        )
        .stop(Stop::new().stream(Stream::new().name("s1")));
    golden(
        &doc,
        "<Response><Enqueue waitUrl=\"https://h/wait\">support<Task priority=\"5\">{\"a\":1}</Task></Enqueue>\
         <Leave/><Hangup/><Reject reason=\"busy\"/><Echo/><Sms from=\"+1666\" to=\"+1555\">hi</Sms>\
         <Refer><Sip>sip:x@y</Sip></Refer><Pay chargeAmount=\"10.00\" validCardTypes=\"visa amex\">\
         <Prompt for=\"payment-card-number\"><Say>card number</Say></Prompt></Pay>\
         <Stop><Stream name=\"s1\"/></Stop></Response>",
    );
}

#[test]
fn escape_hatch() {
    let doc = VoiceResponse::new()
        .say(
            Say::new("hi")
                .attr("futureAttr", "1")
                .unwrap()
                .attr("voice", "alice")
                .unwrap(),
        )
        .push(
            Node::new("Whisper")
                .unwrap()
                .attr("to", "agent")
                .unwrap()
                .text("psst"),
        );
    let xml = doc.to_xml();
    assert_eq!(
        xml,
        format!(
            "{DECL}<Response><Say voice=\"alice\" futureAttr=\"1\">hi</Say><Whisper to=\"agent\">psst</Whisper></Response>"
        )
    );
    // A known attribute set through the escape hatch is still typed and validated.
    assert!(Record::new().attr("timeout", "soon").is_err());
    assert!(Say::new("x").attr("bad name", "1").is_err());
    assert!(Node::new("a\"b").is_err());
    // Strict parsing refuses the unknown element; lenient parsing keeps it and round-trips.
    assert!(matches!(
        VoiceResponse::parse(&xml),
        Err(Error::UnknownElement { .. })
    ));
    let lenient =
        VoiceResponse::parse_with(&xml, &ParseOptions::new().allow_unknown(true)).unwrap();
    assert_eq!(lenient.to_xml(), xml);
}

#[test]
fn messaging() {
    let doc = MessagingResponse::new()
        .message(
            Message::empty()
                .to("+1555")
                .action(url("https://h/sms_status"))
                .body(Body::new("שלום & hi"))
                .media(Media::new(url("https://h/a.jpg?x=1&y=2"))),
        )
        .message(Message::new("plain"))
        .redirect(MRedirect::new(Url::relative("/webhook/sms").unwrap()));
    let xml = doc.to_xml();
    assert_eq!(
        xml,
        format!(
            "{DECL}<Response><Message action=\"https://h/sms_status\" to=\"+1555\"><Body>שלום &amp; hi</Body>\
             <Media>https://h/a.jpg?x=1&amp;y=2</Media></Message><Message>plain</Message>\
             <Redirect>/webhook/sms</Redirect></Response>"
        )
    );
    assert_eq!(MessagingResponse::parse(&xml).unwrap(), doc);
}
