//! Parser behaviour: errors for what Twilio rejects, and property tests that random documents
//! round-trip and that no text or attribute value can inject markup.

mod common;

use common::{Canon, Rng, Shape, canon, canon_xml, document};
use kav_twiml::messaging::MessagingResponse;
use kav_twiml::voice::*;
use kav_twiml::*;
use proptest::prelude::*;

#[test]
fn errors_for_what_twilio_rejects() {
    let cases: &[(&str, &str)] = &[
        (
            "<Response><Dance/></Response>",
            "unknown element `<Dance>` at Response",
        ),
        (
            "<Response><Gather><Record/></Gather></Response>",
            "`<Record>` is not allowed inside Response/Gather",
        ),
        (
            "<Response><Body>x</Body></Response>",
            "unknown element `<Body>` at Response",
        ),
        (
            "<Response><Record timeout=\"soon\"/></Response>",
            "invalid value `soon` for attribute `timeout` at Response/Record: expected a non-negative integer",
        ),
        (
            "<Response><Record trim=\"yes\"/></Response>",
            "invalid value `yes` for attribute `trim` at Response/Record: expected one of: trim-silence, do-not-trim",
        ),
        (
            "<Response><Record playBeep=\"True\"/></Response>",
            "invalid value `True` for attribute `playBeep` at Response/Record: expected `true` or `false`",
        ),
        (
            "<Response><Play>example.com/static/x.mp3</Play></Response>",
            "invalid text `example.com/static/x.mp3` of Response/Play: no scheme",
        ),
        (
            "<Response><Record action=\"example.com/webhook\"/></Response>",
            "invalid value `example.com/webhook` for attribute `action` at Response/Record: no scheme",
        ),
        (
            "<Response><Connect><Stream url=\"https://h/ws\"/></Connect></Response>",
            "invalid value `https://h/ws` for attribute `url` at Response/Connect/Stream: the scheme must be wss",
        ),
        (
            "<Response><Hangup>now</Hangup></Response>",
            "unexpected text `now` at Response/Hangup",
        ),
        (
            "<Response>hello</Response>",
            "unexpected text `hello` at Response",
        ),
        (
            "<Response><Redirect/></Response>",
            "Response/Redirect needs text and has none",
        ),
        (
            "<Response><Dial><Number/></Dial></Response>",
            "Response/Dial/Number needs text and has none",
        ),
        (
            "<Reply/>",
            "the root element is `<Reply>`, expected `<Response>`",
        ),
        ("<Response><Say>", "malformed XML"),
        ("<Response></Respons>", "malformed XML"),
        ("", "malformed XML"),
        ("<Response/><Response/>", "malformed XML"),
        ("<!DOCTYPE Response><Response/>", "DOCTYPE is not allowed"),
        ("<Response><Say>&xxe;</Say></Response>", "unknown entity"),
        (
            "<Response><Gather><Say><p>x</p><Play>y</Play></Say></Gather></Response>",
            "`<Play>` is not allowed inside Response/Gather/Say",
        ),
        (
            "<Response><Say><s><p>x</p></s></Say></Response>",
            "`<p>` is not allowed inside Response/Say/s",
        ),
        (
            "<Response><Dial>+1555<Number>+1666</Number>oops</Dial></Response>",
            "unexpected text `oops` at Response/Dial",
        ),
    ];
    for (xml, expected) in cases {
        let err = VoiceResponse::parse(xml).expect_err(xml).to_string();
        assert!(
            err.contains(expected),
            "{xml}\n  got: {err}\n want: {expected}"
        );
    }
    assert!(MessagingResponse::parse("<Response><Say>x</Say></Response>").is_err());
}

#[test]
fn depth_is_bounded() {
    let deep = format!(
        "<Response>{}{}</Response>",
        "<Say>".repeat(100_000),
        "</Say>".repeat(100_000)
    );
    assert!(matches!(
        VoiceResponse::parse(&deep),
        Err(Error::TooDeep { max_depth: 32 })
    ));
    let ssml = "<Response><Say><prosody><prosody><prosody>x</prosody></prosody></prosody></Say></Response>";
    assert!(VoiceResponse::parse(ssml).is_ok());
    assert!(matches!(
        VoiceResponse::parse_with(ssml, &ParseOptions::new().max_depth(4)),
        Err(Error::TooDeep { max_depth: 4 })
    ));
}

#[test]
fn indented_documents_parse() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- served by a framework that pretty-prints -->
<Response>
    <Gather input="speech" action="/webhook/gather" timeout="3">
        <Say language="he-IL">שלום</Say>
    </Gather>
    <Dial>
        <Number>+15551234567</Number>
    </Dial>
    <Play>
        https://h/x.wav
    </Play>
</Response>
"#;
    let doc = VoiceResponse::parse(xml).unwrap();
    assert_eq!(doc.verbs().len(), 3);
    let Verb::Gather(gather) = &doc.verbs()[0] else {
        panic!("{doc:?}")
    };
    assert_eq!(gather.input.as_deref(), Some(&[GatherInput::Speech][..]));
    assert_eq!(gather.timeout, Some(Seconds(3)));
    assert_eq!(
        gather.action.as_ref().map(Url::as_str),
        Some("/webhook/gather")
    );
    let Verb::Dial(dial) = &doc.verbs()[1] else {
        panic!()
    };
    assert_eq!(dial.number, None);
    assert!(
        matches!(&dial.children[..], [DialChild::Number(n)] if n.phone_number == "+15551234567")
    );
    let Verb::Play(play) = &doc.verbs()[2] else {
        panic!()
    };
    assert_eq!(play.url.as_ref().map(Url::as_str), Some("https://h/x.wav"));
    assert_eq!(
        doc.to_xml(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather action=\"/webhook/gather\" input=\"speech\" \
         timeout=\"3\"><Say language=\"he-IL\">שלום</Say></Gather><Dial><Number>+15551234567</Number></Dial>\
         <Play>https://h/x.wav</Play></Response>"
    );
}

#[test]
fn blank_text_before_children_is_indentation() {
    // A parser cannot tell such text from indentation, so it is not rendered either: what is
    // rendered always parses back to the same text.
    let doc = VoiceResponse::new().dial(Dial::with_number(" \n ").number(Number::new("+1555")));
    let xml = doc.to_xml();
    assert!(xml.contains("<Dial><Number>+1555</Number></Dial>"), "{xml}");
    assert_eq!(VoiceResponse::parse(&xml).unwrap().to_xml(), xml);
    let alone = VoiceResponse::new().dial(Dial::with_number(" "));
    assert!(alone.to_xml().contains("<Dial> </Dial>"));
    assert_eq!(VoiceResponse::parse(&alone.to_xml()).unwrap(), alone);
}

#[test]
fn unknown_attributes_are_kept() {
    // Twilio accepts attributes it does not know (with a warning); so does the parser.
    let xml = "<Response><Say futureAttr=\"x\">hi</Say></Response>";
    let doc = VoiceResponse::parse(xml).unwrap();
    let Verb::Say(say) = &doc.verbs()[0] else {
        panic!()
    };
    assert_eq!(say.extra_attributes()[0].0.as_str(), "futureAttr");
    assert_eq!(doc.to_xml(), format!("{XML_DECLARATION}{xml}"));
}

fn xml_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            2 => prop::sample::select(vec!['<', '>', '&', '"', '\'', '\t', '\n', '\r', ' ', 'ש', ']']),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().filter(|c| is_xml_char(*c)).collect())
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_round_trip<R: PartialEq + std::fmt::Debug>(
    node: &Node,
    parse: impl Fn(&str) -> Result<R, Error>,
    render: impl Fn(&R) -> String,
    to_node: impl Fn(&R) -> Node,
) -> Result<(), TestCaseError> {
    let xml0 = format!("{XML_DECLARATION}{}", node.to_xml());
    let typed = parse(&xml0).map_err(|e| TestCaseError::fail(format!("{e}\n{xml0}")))?;
    let xml1 = render(&typed);
    // Nothing is lost between the generic document and the typed tree.
    prop_assert_eq!(canon_xml(&xml1), canon(node));
    // render → parse → render is the identity, and parse gives back the same tree.
    let again = parse(&xml1).map_err(|e| TestCaseError::fail(format!("{e}\n{xml1}")))?;
    prop_assert_eq!(&again, &typed);
    prop_assert_eq!(render(&again), xml1.clone());
    // The generic view of the typed tree is the same document.
    prop_assert_eq!(canon(&to_node(&typed)), canon_xml(&xml1));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_voice_documents_round_trip(seed in any::<u64>(), strings in prop::collection::vec(xml_string(), 1..6)) {
        let mut rng = Rng::new(seed);
        let shape = Shape { attr_percent: 30, max_depth: 4, max_children: 4 };
        let node = document(schema::VOICE, &mut rng, &strings, shape);
        check_round_trip(&node, VoiceResponse::parse, VoiceResponse::to_xml, VoiceResponse::to_node)?;
    }

    #[test]
    fn random_messaging_documents_round_trip(seed in any::<u64>(), strings in prop::collection::vec(xml_string(), 1..6)) {
        let mut rng = Rng::new(seed);
        let shape = Shape { attr_percent: 50, max_depth: 3, max_children: 3 };
        let node = document(schema::MESSAGING, &mut rng, &strings, shape);
        check_round_trip(&node, MessagingResponse::parse, MessagingResponse::to_xml, MessagingResponse::to_node)?;
    }

    /// Whatever a caller or an LLM puts in text or attribute values, the document keeps its
    /// structure: one `<Say>` with one text, the values come back unchanged (characters XML
    /// cannot hold become U+FFFD).
    #[test]
    fn no_markup_injection(text in any::<String>(), value in any::<String>(), name in "[a-zA-Z][a-zA-Z0-9]{0,8}") {
        let doc = VoiceResponse::new()
            .say(Say::new(text.clone()).voice(value.clone()).attr(&format!("x{name}"), value.clone()).unwrap())
            .pause(Pause::new())
            .dial(Dial::new().client(Client::new().parameter(Parameter::new().name(value.clone()).value(text.clone()))));
        let xml = doc.to_xml();
        let clean = |s: &str| -> String { s.chars().map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' }).collect() };
        let root = Node::parse(&xml, 8).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        let Canon::Element { content, .. } = canon(&root) else { unreachable!() };
        prop_assert_eq!(content.len(), 3);
        let Canon::Element { tag, attrs, content: say } = &content[0] else { unreachable!() };
        prop_assert_eq!(tag, "Say");
        let mut want = vec![("voice".to_owned(), clean(&value)), (format!("x{name}"), clean(&value))];
        want.sort();
        prop_assert_eq!(attrs, &want);
        let want_text: Vec<Canon> = if text.is_empty() { vec![] } else { vec![Canon::Text(clean(&text))] };
        prop_assert_eq!(say, &want_text);
        // And the typed parser agrees.
        let parsed = VoiceResponse::parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert_eq!(parsed.to_xml(), xml);
    }

    /// Arbitrary bytes never make the parser panic.
    #[test]
    fn parser_never_panics(input in any::<String>()) {
        let _ = VoiceResponse::parse(&input);
        let _ = MessagingResponse::parse(&input);
        let wrapped = format!("<Response>{input}</Response>");
        let _ = VoiceResponse::parse_with(&wrapped, &ParseOptions::new().allow_unknown(true));
    }

    #[test]
    fn parser_never_panics_on_near_twiml(seed in any::<u64>(), cut in any::<prop::sample::Index>(), junk in "[<>&\"/= a-z]{0,4}") {
        let mut rng = Rng::new(seed);
        let strings = vec!["x".to_owned()];
        let node = document(schema::VOICE, &mut rng, &strings, Shape { attr_percent: 30, max_depth: 3, max_children: 3 });
        let xml = node.to_xml();
        let mut at = cut.index(xml.len() + 1);
        while !xml.is_char_boundary(at) { at -= 1; }
        let mutated = format!("{}{junk}{}", &xml[..at], &xml[at..]);
        let _ = VoiceResponse::parse(&mutated);
    }
}
