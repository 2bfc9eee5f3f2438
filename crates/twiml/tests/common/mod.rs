//! Shared test support: random TwiML documents that follow the schema, and canonical XML.
#![allow(dead_code, unreachable_pub)]

use kav_twiml::schema::{ElementSchema, TextKind, ValueKind};
use kav_twiml::{Node, NodeContent};

/// xorshift64*: a small deterministic generator, so documents are reproducible from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings that exercise escaping and UTF-8: Hebrew, markup characters, quotes, whitespace.
pub const STRINGS: &[&str] = &[
    "hello",
    "שלום, במה אפשר לעזור?",
    "a < b && c > d",
    "\"quoted\" and 'single'",
    "<Say>inject</Say>",
    "]]> end of CDATA",
    "tab\there and\nnewline",
    "émoji 😀 and ünïcödé",
    "+15551234567",
    "x=\"1\" y='2'",
    "&amp; already escaped",
    "עברית with English",
];

pub const URLS: &[&str] = &[
    "https://agent.example.com/media/greeting.wav",
    "https://agent.example.com/webhook/x?a=1&b=2",
    "http://127.0.0.1:8080/cb",
    "/webhook/relative",
    "https://example.com/שלום.mp3",
    "wss://agent.example.com/ws",
];

pub const WSS_URLS: &[&str] = &[
    "wss://agent.example.com/ws/twilio-media",
    "wss://h:8443/ws?token=a&x=\"y\"",
];

/// A sample value for an attribute of this kind, as text.
pub fn sample(kind: ValueKind, rng: &mut Rng, strings: &[String]) -> String {
    match kind {
        ValueKind::String => rng.pick(strings).clone(),
        ValueKind::Bool => if rng.chance(50) { "true" } else { "false" }.to_owned(),
        ValueKind::UInt | ValueKind::Seconds => {
            rng.pick(&[0u32, 1, 5, 30, 3600, 4_294_967_295]).to_string()
        }
        ValueKind::UIntList => rng.pick(&["1", "1 2", "3 2 1"]).to_string(),
        ValueKind::Url => rng.pick(URLS).to_string(),
        ValueKind::WssUrl => rng.pick(WSS_URLS).to_string(),
        ValueKind::SpeechTimeout => rng.pick(&["auto", "0", "3"]).to_string(),
        ValueKind::DtmfKeys => rng.pick(&["*", "#", "1*#", ""]).to_string(),
        ValueKind::Digits => rng.pick(&["1234", "ww12#", "W*0"]).to_string(),
        ValueKind::Enum(values) => rng.pick(values).to_string(),
        ValueKind::EnumList(values) => {
            let mut chosen: Vec<&str> = Vec::new();
            for _ in 0..=rng.below(values.len().min(3)) {
                let v = *rng.pick(values);
                if !chosen.contains(&v) {
                    chosen.push(v);
                }
            }
            chosen.join(" ")
        }
        _ => rng.pick(strings).clone(),
    }
}

/// Non-empty text for a body of this kind (never whitespace only).
pub fn sample_text(kind: ValueKind, rng: &mut Rng, strings: &[String]) -> String {
    let text = sample(kind, rng, strings);
    if text.trim().is_empty() {
        format!("x{text}")
    } else {
        text
    }
}

pub fn find(schema: &'static [ElementSchema], rust_name: &str) -> &'static ElementSchema {
    schema
        .iter()
        .find(|e| e.rust_name == rust_name)
        .expect("schema element")
}

/// How to fill an element.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Percent chance to set each attribute (100: all of them).
    pub attr_percent: u64,
    /// Deepest nesting below the root.
    pub max_depth: usize,
    /// Most children per element.
    pub max_children: usize,
}

pub fn element(
    schema: &'static [ElementSchema],
    es: &'static ElementSchema,
    rng: &mut Rng,
    strings: &[String],
    shape: Shape,
    depth: usize,
) -> Node {
    let mut node = Node::new(es.tag).unwrap();
    for a in es.attributes {
        if rng.chance(shape.attr_percent) {
            node = node.attr(a.name, sample(a.kind, rng, strings)).unwrap();
        }
    }
    let kids = if depth < shape.max_depth && !es.children.is_empty() {
        rng.below(shape.max_children + 1)
    } else {
        0
    };
    match es.text {
        TextKind::Required => node = node.text(sample_text(es.text_value, rng, strings)),
        TextKind::Optional if rng.chance(60) => {
            node = node.text(sample_text(es.text_value, rng, strings));
        }
        TextKind::Mixed if rng.chance(80) => {
            node = node.text(sample_text(es.text_value, rng, strings));
        }
        _ => {}
    }
    for _ in 0..kids {
        let child = find(schema, rng.pick::<&str>(es.children));
        node = node.child(element(schema, child, rng, strings, shape, depth + 1));
        if es.text == TextKind::Mixed && rng.chance(50) {
            node = node.text(sample_text(ValueKind::String, rng, strings));
        }
    }
    node
}

/// A random document of the given schema (root first).
pub fn document(
    schema: &'static [ElementSchema],
    rng: &mut Rng,
    strings: &[String],
    shape: Shape,
) -> Node {
    element(schema, &schema[0], rng, strings, shape, 0)
}

/// Canonical form: attributes sorted, empty text dropped, adjacent text merged.
#[derive(Debug, PartialEq, Eq)]
pub enum Canon {
    Text(String),
    Element {
        tag: String,
        attrs: Vec<(String, String)>,
        content: Vec<Canon>,
    },
}

pub fn canon(node: &Node) -> Canon {
    let mut attrs: Vec<(String, String)> = node
        .attributes()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect();
    attrs.sort();
    let mut content: Vec<Canon> = Vec::new();
    for c in node.content() {
        match c {
            NodeContent::Text(t) if t.is_empty() => {}
            NodeContent::Text(t) => {
                if let Some(Canon::Text(last)) = content.last_mut() {
                    last.push_str(t);
                } else {
                    content.push(Canon::Text(t.clone()));
                }
            }
            NodeContent::Element(n) => content.push(canon(n)),
        }
    }
    Canon::Element {
        tag: node.name().as_str().to_owned(),
        attrs,
        content,
    }
}

pub fn canon_xml(xml: &str) -> Canon {
    canon(&Node::parse(xml, 64).unwrap_or_else(|e| panic!("{e}: {xml}")))
}
