//! An offline responder driven by a rules file: a working agent with no API key.

use std::path::Path;

use futures_util::future::{self, BoxFuture};
use futures_util::stream;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::{ChatModel, Error, FinishReason, Message, Provider, Reply, Role, TokenStream};

/// The built-in rules file (Hebrew + English, a small business phone line).
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// Hebrew one-letter prefixes (and, the, in, as, to, from, that) that may precede a keyword.
const HEBREW_PREFIXES: [char; 7] = ['ו', 'ה', 'ב', 'כ', 'ל', 'מ', 'ש'];
const MAX_REGEX_SIZE: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    greeting: Option<String>,
    default: String,
    #[serde(default)]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    regex: Option<String>,
    reply: String,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    keywords: Vec<String>,
    regex: Option<Regex>,
    reply: String,
}

impl Rule {
    fn matches(&self, original: &str, normalized: &str) -> bool {
        self.keywords.iter().any(|k| keyword_matches(normalized, k))
            || self.regex.as_ref().is_some_and(|r| r.is_match(original))
    }
}

/// Answers from a list of rules: the first rule whose keyword or regex matches the caller's
/// latest message gives the reply; otherwise the default reply.
///
/// Rules come from a TOML file (see [`DEFAULT_RULES`] for the documented format):
///
/// ```
/// use kav_llm::ScriptedResponder;
///
/// let bot = ScriptedResponder::from_toml_str(r#"
///     default = "Sorry?"
///     [[rules]]
///     keywords = ["שעות", "hours"]
///     reply = "9 to 5"
/// "#).unwrap();
/// assert_eq!(bot.respond("מה שעות הפתיחה?"), "9 to 5");
/// assert_eq!(bot.respond("Your HOURS please"), "9 to 5");
/// assert_eq!(bot.respond("hello"), "Sorry?");
/// ```
///
/// Matching is case-insensitive and Unicode-aware. A keyword matches at the start of a word (so
/// `hi` does not match `this`, but `hour` matches `hours`); a Hebrew keyword may also follow up to
/// two of the prefix letters ו ה ב כ ל מ ש, so `שעות` matches `ובשעות`.
#[derive(Debug, Clone)]
pub struct ScriptedResponder {
    language: Option<String>,
    greeting: Option<String>,
    default_reply: String,
    rules: Vec<Rule>,
}

impl Default for ScriptedResponder {
    /// The built-in rules ([`DEFAULT_RULES`]).
    fn default() -> Self {
        Self::builtin()
    }
}

impl ScriptedResponder {
    /// The responder with the built-in Hebrew + English rules ([`DEFAULT_RULES`]).
    ///
    /// # Panics
    /// Never: the built-in file is checked by the crate's tests.
    #[must_use]
    pub fn builtin() -> Self {
        Self::from_toml_str(DEFAULT_RULES).expect("the built-in rules file is valid")
    }

    /// Parses rules from TOML text.
    ///
    /// # Errors
    /// [`Error::Rules`] for invalid TOML, unknown fields, an empty reply, a rule with neither
    /// keyword nor regex, an empty keyword, or an invalid regex — naming the rule.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        let file: RulesFile = toml::from_str(text).map_err(|e| Error::Rules {
            message: "the rules file is not valid".into(),
            source: Some(Box::new(e)),
        })?;
        if file.default.trim().is_empty() {
            return Err(rules_error("`default` must not be empty"));
        }
        let mut rules = Vec::with_capacity(file.rules.len());
        for (index, rule) in file.rules.into_iter().enumerate() {
            let name = rule.name.unwrap_or_else(|| format!("#{}", index + 1));
            if rule.reply.trim().is_empty() {
                return Err(rules_error(format!(
                    "rule {name}: `reply` must not be empty"
                )));
            }
            if rule.keywords.is_empty() && rule.regex.is_none() {
                return Err(rules_error(format!(
                    "rule {name}: needs `keywords` or a `regex`"
                )));
            }
            let mut keywords = Vec::with_capacity(rule.keywords.len());
            for k in &rule.keywords {
                let k = normalize(k);
                if k.is_empty() {
                    return Err(rules_error(format!("rule {name}: empty keyword")));
                }
                keywords.push(k);
            }
            let regex = match rule.regex {
                None => None,
                Some(pattern) => Some(
                    RegexBuilder::new(&pattern)
                        .case_insensitive(true)
                        .size_limit(MAX_REGEX_SIZE)
                        .build()
                        .map_err(|e| Error::Rules {
                            message: format!("rule {name}: invalid regex"),
                            source: Some(Box::new(e)),
                        })?,
                ),
            };
            rules.push(Rule {
                name,
                keywords,
                regex,
                reply: rule.reply,
            });
        }
        Ok(Self {
            language: file.language,
            greeting: file.greeting.filter(|g| !g.trim().is_empty()),
            default_reply: file.default,
            rules,
        })
    }

    /// Reads and parses a rules file.
    ///
    /// # Errors
    /// [`Error::Rules`] if the file cannot be read or is invalid.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Rules {
            message: format!("cannot read {}", path.display()),
            source: Some(Box::new(e)),
        })?;
        Self::from_toml_str(&text)
    }

    /// The greeting to say when the call starts, if the rules have one.
    #[must_use]
    pub fn greeting(&self) -> Option<&str> {
        self.greeting.as_deref()
    }

    /// The language the rules declare (informational), if any.
    #[must_use]
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    /// The reply when no rule matches.
    #[must_use]
    pub fn default_reply(&self) -> &str {
        &self.default_reply
    }

    /// The reply to one caller message.
    #[must_use]
    pub fn respond(&self, text: &str) -> &str {
        self.matching_rule(text)
            .map_or(self.default_reply.as_str(), |r| r.reply.as_str())
    }

    /// The name of the rule that matches `text` (`#n` for unnamed rules), if any.
    #[must_use]
    pub fn matching_rule_name(&self, text: &str) -> Option<&str> {
        self.matching_rule(text).map(|r| r.name.as_str())
    }

    fn matching_rule(&self, text: &str) -> Option<&Rule> {
        let normalized = normalize(text);
        self.rules.iter().find(|r| r.matches(text, &normalized))
    }

    /// The reply to a conversation: to its latest user message, or the greeting (else the
    /// default reply) when the caller has not spoken yet.
    #[must_use]
    pub fn respond_to(&self, messages: &[Message]) -> &str {
        match messages.iter().rev().find(|m| m.role == Role::User) {
            Some(m) => self.respond(&m.content),
            None => self.greeting().unwrap_or(&self.default_reply),
        }
    }
}

impl ChatModel for ScriptedResponder {
    fn provider(&self) -> Provider {
        Provider::Scripted
    }

    fn reply<'a>(&'a self, messages: &'a [Message]) -> BoxFuture<'a, Result<Reply, Error>> {
        let reply = Reply::new(self.respond_to(messages), FinishReason::Stop);
        Box::pin(future::ready(Ok(reply)))
    }

    fn reply_stream<'a>(&'a self, messages: &'a [Message]) -> TokenStream<'a> {
        let text = self.respond_to(messages);
        Box::pin(stream::iter(
            text.split_inclusive(' ').map(|t| Ok(t.to_owned())),
        ))
    }
}

fn rules_error(message: impl Into<String>) -> Error {
    Error::Rules {
        message: message.into(),
        source: None,
    }
}

/// Lower-cases and collapses runs of whitespace to one space.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

fn is_hebrew_letter(c: char) -> bool {
    ('\u{05D0}'..='\u{05EA}').contains(&c)
}

fn keyword_matches(text: &str, keyword: &str) -> bool {
    let Some(first) = keyword.chars().next() else {
        return false;
    };
    if !first.is_alphanumeric() {
        return text.contains(keyword);
    }
    let hebrew = is_hebrew_letter(first);
    text.match_indices(keyword).any(|(at, _)| {
        let mut before = text[..at].chars().rev();
        let mut prefixes = 0;
        loop {
            match before.next() {
                None => return true,
                Some(c) if !c.is_alphanumeric() => return true,
                Some(c) if hebrew && prefixes < 2 && HEBREW_PREFIXES.contains(&c) => {
                    prefixes += 1;
                }
                Some(_) => return false,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{FutureExt, StreamExt};

    #[test]
    fn builtin_rules_parse_and_cover_the_phone_line() {
        let bot = ScriptedResponder::builtin();
        assert_eq!(bot.language(), Some("he-IL"));
        assert!(bot.greeting().unwrap().starts_with("שלום"));
        let cases = [
            ("מה שעות הפתיחה שלכם?", Some("opening-hours")),
            ("ובשעות הערב אתם פתוחים?", Some("opening-hours")),
            ("When do you OPEN on Friday?", Some("opening-hours")),
            ("מה מצב ההזמנה שלי", Some("order-status")),
            ("Where is my parcel?", Some("order-status")),
            ("I want to track it", Some("order-status")),
            ("אני רוצה לדבר עם נציג", Some("human")),
            ("Can I speak to a human please", Some("human")),
            ("להתראות", Some("goodbye")),
            ("OK, Goodbye!", Some("goodbye")),
            ("אני רוצה עוגה", None),
            ("this is nothing", None),
        ];
        for (text, expected) in cases {
            assert_eq!(bot.matching_rule_name(text), expected, "{text}");
        }
        assert_eq!(bot.respond("אני רוצה עוגה"), bot.default_reply());
    }

    #[test]
    fn first_match_wins_in_file_order() {
        let bot = ScriptedResponder::from_toml_str(
            r#"
            default = "d"
            [[rules]]
            keywords = ["order"]
            reply = "first"
            [[rules]]
            keywords = ["order", "status"]
            reply = "second"
            "#,
        )
        .unwrap();
        assert_eq!(bot.respond("order status"), "first");
        assert_eq!(bot.respond("status"), "second");
        assert_eq!(bot.matching_rule_name("status"), Some("#2"));
    }

    #[test]
    fn keyword_matching_is_word_start_and_unicode_case_insensitive() {
        assert!(keyword_matches(&normalize("Hi there"), "hi"));
        assert!(!keyword_matches(&normalize("this"), "hi"));
        assert!(keyword_matches(&normalize("HOURS?"), "hour"));
        assert!(keyword_matches(&normalize("ÉTÉ"), &normalize("été")));
        assert!(keyword_matches(&normalize("ΣΟΦΙΑ"), &normalize("σοφια")));
        assert!(keyword_matches("ההזמנה", "הזמנה"));
        assert!(!keyword_matches("וכשההזמנה", "הזמנה"));
        assert!(keyword_matches("ובשעות", "שעות"));
        assert!(!keyword_matches("אבשעות", "שעות"));
        assert!(keyword_matches("a+b", "+b"));
    }

    #[test]
    fn regex_rules_are_case_insensitive_and_unicode() {
        let bot = ScriptedResponder::from_toml_str(
            r#"
            default = "d"
            [[rules]]
            regex = "order\\s*#?\\d+|הזמנה\\s+מספר\\s+\\d+"
            reply = "found"
            "#,
        )
        .unwrap();
        assert_eq!(bot.respond("ORDER #123"), "found");
        assert_eq!(bot.respond("הזמנה מספר 42"), "found");
        assert_eq!(bot.respond("order"), "d");
    }

    #[test]
    fn invalid_rules_are_typed_errors() {
        let bad = [
            "default = \"\"",
            "greeting = \"x\"",
            "default = \"d\"\n[[rules]]\nreply = \"r\"",
            "default = \"d\"\n[[rules]]\nkeywords = [\" \"]\nreply = \"r\"",
            "default = \"d\"\n[[rules]]\nname = \"x\"\nregex = \"(\"\nreply = \"r\"",
            "default = \"d\"\n[[rules]]\nkeywords = [\"a\"]\nreply = \"\"",
            "default = \"d\"\nunknown = 1",
            "not toml at all [",
        ];
        for text in bad {
            assert!(
                matches!(
                    ScriptedResponder::from_toml_str(text),
                    Err(Error::Rules { .. })
                ),
                "{text}"
            );
        }
        let err = ScriptedResponder::from_toml_str(bad[4]).unwrap_err();
        assert_eq!(err.to_string(), "invalid rules: rule x: invalid regex");
        assert!(matches!(
            ScriptedResponder::from_file("/nonexistent/rules.toml"),
            Err(Error::Rules { .. })
        ));
    }

    #[test]
    fn chat_model_replies_and_streams() {
        let bot = ScriptedResponder::builtin();
        let greeting = bot.reply(&[]).now_or_never().unwrap().unwrap();
        assert_eq!(greeting.text, bot.greeting().unwrap());
        let messages = [
            Message::system("ignored"),
            Message::user("להתראות"),
            Message::assistant("x"),
        ];
        let reply = bot.reply(&messages).now_or_never().unwrap().unwrap();
        assert_eq!(reply.text, bot.respond("להתראות"));
        assert_eq!(reply.finish, FinishReason::Stop);
        let tokens: Vec<String> = bot
            .reply_stream(&messages)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .now_or_never()
            .unwrap();
        assert!(tokens.len() > 3);
        assert_eq!(tokens.concat(), reply.text);
        let model: std::sync::Arc<dyn ChatModel> = std::sync::Arc::new(bot);
        assert_eq!(model.provider(), Provider::Scripted);
    }

    proptest::proptest! {
        #[test]
        fn untrusted_rules_and_input_never_panic(rules in ".{0,300}", text in "\\PC{0,80}") {
            let _ = ScriptedResponder::from_toml_str(&rules);
            let bot = ScriptedResponder::builtin();
            let reply = bot.respond(&text);
            proptest::prop_assert!(!reply.is_empty());
        }
    }
}
