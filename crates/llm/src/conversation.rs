//! Per-call conversation history with bounded size.

use serde::{Deserialize, Serialize};

use crate::{Error, Message, Role};

/// How large the kept history may be, in characters or in approximate tokens.
///
/// The system prompt is not counted: it is always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SizeBudget {
    /// At most this many characters (Unicode scalar values) of message text.
    Chars(usize),
    /// At most this many tokens, estimated with [`approx_tokens`].
    ApproxTokens(usize),
}

impl SizeBudget {
    fn cost(self, text: &str) -> usize {
        match self {
            Self::Chars(_) => text.chars().count(),
            Self::ApproxTokens(_) => approx_tokens(text),
        }
    }

    fn limit(self) -> usize {
        match self {
            Self::Chars(n) | Self::ApproxTokens(n) => n,
        }
    }
}

/// A rough, tokenizer-free token estimate for one message: one token per three characters
/// (rounded up; a conservative figure for Hebrew and other non-Latin scripts, generous for
/// English) plus four tokens of per-message overhead.
#[must_use]
pub fn approx_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(3) + 4
}

/// Configuration of a conversation: system prompt, reply language and history limits.
///
/// Deserializes from TOML/JSON (all fields optional):
///
/// ```toml
/// system_prompt = "You are the phone assistant of a bakery."
/// language = "Hebrew"
/// max_turns = 12
/// budget = { approx_tokens = 3000 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationConfig {
    system_prompt: String,
    language: Option<String>,
    max_turns: usize,
    budget: SizeBudget,
}

impl Default for ConversationConfig {
    /// No system prompt, no language instruction, 20 turns, 12 000 characters.
    fn default() -> Self {
        Self {
            system_prompt: String::new(),
            language: None,
            max_turns: 20,
            budget: SizeBudget::Chars(12_000),
        }
    }
}

impl ConversationConfig {
    /// Sets the system prompt (empty: none).
    #[must_use]
    pub fn with_system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = prompt.into();
        self
    }

    /// Sets the language the agent must answer in (e.g. `"Hebrew"` or `"he-IL"`); it is added
    /// to the system message as `Always answer in {language}.`
    #[must_use]
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets the maximum number of turns kept (a turn is a user message and the replies that
    /// follow it; an opening greeting counts as a turn of its own).
    #[must_use]
    pub fn with_max_turns(mut self, turns: usize) -> Self {
        self.max_turns = turns;
        self
    }

    /// Sets the size budget of the history.
    #[must_use]
    pub fn with_budget(mut self, budget: SizeBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The system prompt.
    #[must_use]
    pub fn system_prompt(&self) -> &str {
        &self.system_prompt
    }

    /// The reply language, if set.
    #[must_use]
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    /// The maximum number of turns kept.
    #[must_use]
    pub fn max_turns(&self) -> usize {
        self.max_turns
    }

    /// The size budget.
    #[must_use]
    pub fn budget(&self) -> SizeBudget {
        self.budget
    }

    /// Checks the values: at least one turn, a non-zero budget, a non-blank language.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_turns == 0 {
            return Err(Error::Config("max_turns must be at least 1".into()));
        }
        if self.budget.limit() == 0 {
            return Err(Error::Config("budget must be greater than 0".into()));
        }
        if self
            .language
            .as_deref()
            .is_some_and(|l| l.trim().is_empty())
        {
            return Err(Error::Config("language must not be blank".into()));
        }
        Ok(())
    }

    /// The system message built from the prompt and the language, if any.
    #[must_use]
    pub fn system_message(&self) -> Option<Message> {
        let prompt = self.system_prompt.trim();
        let text = match (prompt.is_empty(), self.language.as_deref().map(str::trim)) {
            (true, None) => return None,
            (false, None) => prompt.to_owned(),
            (true, Some(lang)) => format!("Always answer in {lang}."),
            (false, Some(lang)) => format!("{prompt}\n\nAlways answer in {lang}."),
        };
        Some(Message::system(text))
    }
}

/// The history of one call, bounded by turns and size.
///
/// Holds the system message (never dropped) and the user/assistant messages. After every push,
/// the oldest turns are dropped while there are more than `max_turns` turns or the history is
/// over the size budget — whole turns only, so a user message is never separated from the reply
/// that followed it, and the newest turn is always kept even when it alone is over budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// `[system?, history…]`.
    messages: Vec<Message>,
    has_system: bool,
    max_turns: usize,
    budget: SizeBudget,
    size: usize,
}

impl Conversation {
    /// A new, empty conversation.
    ///
    /// # Errors
    /// [`Error::Config`] if the configuration is invalid ([`ConversationConfig::validate`]).
    pub fn new(config: &ConversationConfig) -> Result<Self, Error> {
        config.validate()?;
        let system = config.system_message();
        Ok(Self {
            has_system: system.is_some(),
            messages: system.into_iter().collect(),
            max_turns: config.max_turns,
            budget: config.budget,
            size: 0,
        })
    }

    /// Appends a caller message and trims the history.
    pub fn push_user(&mut self, text: impl Into<String>) {
        self.push(Message::user(text));
    }

    /// Appends an agent message (a reply or a greeting) and trims the history.
    pub fn push_assistant(&mut self, text: impl Into<String>) {
        self.push(Message::assistant(text));
    }

    /// Appends a message and trims the history. A system message replaces the system prompt.
    pub fn push(&mut self, message: Message) {
        if message.role == Role::System {
            if self.has_system {
                self.messages[0] = message;
            } else {
                self.messages.insert(0, message);
                self.has_system = true;
            }
            return;
        }
        self.size += self.budget.cost(&message.content);
        self.messages.push(message);
        self.trim();
    }

    /// Everything to send to a model: the system message, then the history.
    #[must_use]
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The history without the system message.
    #[must_use]
    pub fn history(&self) -> &[Message] {
        &self.messages[self.history_start()..]
    }

    /// The system message, if any.
    #[must_use]
    pub fn system(&self) -> Option<&Message> {
        self.has_system.then(|| &self.messages[0])
    }

    /// The text of the caller's latest message.
    #[must_use]
    pub fn last_user(&self) -> Option<&str> {
        self.history()
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
    }

    /// The number of turns kept.
    #[must_use]
    pub fn turns(&self) -> usize {
        let history = self.history();
        let users = history.iter().filter(|m| m.role == Role::User).count();
        let leading = history.first().is_some_and(|m| m.role != Role::User);
        users + usize::from(leading)
    }

    /// The size of the kept history in the unit of the budget.
    #[must_use]
    pub fn size(&self) -> usize {
        self.size
    }

    /// Forgets the history, keeping the system message.
    pub fn clear_history(&mut self) {
        let start = self.history_start();
        self.messages.truncate(start);
        self.size = 0;
    }

    fn history_start(&self) -> usize {
        usize::from(self.has_system)
    }

    fn trim(&mut self) {
        let start = self.history_start();
        loop {
            let over = self.turns() > self.max_turns || self.size > self.budget.limit();
            if !over {
                return;
            }
            // The oldest turn ends where the next user message (after its first message) starts.
            let history = &self.messages[start..];
            let Some(end) = history
                .iter()
                .skip(1)
                .position(|m| m.role == Role::User)
                .map(|p| p + 1)
            else {
                return; // only the newest turn is left: keep it
            };
            let freed: usize = history[..end]
                .iter()
                .map(|m| self.budget.cost(&m.content))
                .sum();
            self.messages.drain(start..start + end);
            self.size -= freed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn conv(max_turns: usize, budget: SizeBudget) -> Conversation {
        Conversation::new(
            &ConversationConfig::default()
                .with_system_prompt("You are a helpful phone agent.")
                .with_language("Hebrew")
                .with_max_turns(max_turns)
                .with_budget(budget),
        )
        .unwrap()
    }

    #[test]
    fn system_message_includes_language() {
        let c = conv(5, SizeBudget::Chars(1000));
        assert_eq!(
            c.system().unwrap().content,
            "You are a helpful phone agent.\n\nAlways answer in Hebrew."
        );
        let none = Conversation::new(&ConversationConfig::default()).unwrap();
        assert!(none.system().is_none());
        assert!(none.messages().is_empty());
    }

    #[test]
    fn drops_oldest_turns_beyond_max_turns() {
        let mut c = conv(2, SizeBudget::Chars(10_000));
        for i in 0..4 {
            c.push_user(format!("q{i}"));
            c.push_assistant(format!("a{i}"));
        }
        let texts: Vec<_> = c.history().iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["q2", "a2", "q3", "a3"]);
        assert_eq!(c.messages()[0].role, Role::System);
        assert_eq!(c.turns(), 2);
    }

    #[test]
    fn drops_by_size_without_splitting_pairs() {
        // Each message is 10 chars; budget 35 fits one pair plus a question, not two pairs.
        let mut c = conv(100, SizeBudget::Chars(35));
        c.push_user("שאלה 1 ...");
        c.push_assistant("תשובה 1 ..");
        c.push_user("שאלה 2 ...");
        assert_eq!(c.history().len(), 3);
        c.push_assistant("תשובה 2 ..");
        let texts: Vec<_> = c.history().iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["שאלה 2 ...", "תשובה 2 .."]);
        assert_eq!(c.size(), 20);
    }

    #[test]
    fn keeps_newest_turn_even_over_budget() {
        let mut c = conv(10, SizeBudget::Chars(5));
        c.push_user("a long question over budget");
        assert_eq!(c.history().len(), 1);
        c.push_assistant("a long answer");
        assert_eq!(c.history().len(), 2);
        c.push_user("next");
        assert_eq!(c.history(), [Message::user("next")]);
        assert_eq!(c.last_user(), Some("next"));
    }

    #[test]
    fn greeting_is_a_turn_of_its_own() {
        let mut c = conv(2, SizeBudget::Chars(1000));
        c.push_assistant("שלום, במה אפשר לעזור?");
        c.push_user("q1");
        c.push_assistant("a1");
        assert_eq!(c.turns(), 2);
        c.push_user("q2");
        let texts: Vec<_> = c.history().iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["q1", "a1", "q2"]);
    }

    #[test]
    fn approx_token_budget() {
        assert_eq!(approx_tokens(""), 4);
        assert_eq!(approx_tokens("abcd"), 6);
        let mut c = conv(100, SizeBudget::ApproxTokens(20));
        c.push_user("123456789"); // 3 + 4
        c.push_assistant("123456789"); // 7
        c.push_user("123456789"); // 21 > 20: the first pair goes
        assert_eq!(c.history().len(), 1);
        assert_eq!(c.size(), 7);
    }

    #[test]
    fn config_from_toml_and_validation() {
        let cfg: ConversationConfig = toml::from_str(
            "system_prompt = \"p\"\nlanguage = \"he-IL\"\nmax_turns = 3\nbudget = { approx_tokens = 500 }\n",
        )
        .unwrap();
        assert_eq!(cfg.max_turns(), 3);
        assert_eq!(cfg.budget(), SizeBudget::ApproxTokens(500));
        assert_eq!(cfg.language(), Some("he-IL"));
        assert!(toml::from_str::<ConversationConfig>("unknown = 1").is_err());
        assert!(matches!(
            Conversation::new(&ConversationConfig::default().with_max_turns(0)),
            Err(Error::Config(_))
        ));
        assert!(
            ConversationConfig::default()
                .with_language(" ")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn system_push_replaces_prompt_and_clear_keeps_it() {
        let mut c = conv(5, SizeBudget::Chars(100));
        c.push_user("x");
        c.push(Message::system("new prompt"));
        assert_eq!(c.messages()[0], Message::system("new prompt"));
        c.clear_history();
        assert_eq!(c.messages(), [Message::system("new prompt")]);
        assert_eq!(c.size(), 0);
    }

    proptest! {
        #[test]
        fn invariants_hold(ops in proptest::collection::vec((any::<bool>(), "[a-zא-ת ]{0,30}"), 0..60),
                           max_turns in 1usize..6, budget in 1usize..120) {
            let mut c = conv(max_turns, SizeBudget::Chars(budget));
            let mut all: Vec<Message> = Vec::new();
            for (is_user, text) in ops {
                if is_user { c.push_user(text.clone()); } else { c.push_assistant(text.clone()); }
                all.push(Message::new(if is_user { Role::User } else { Role::Assistant }, text));
                // System prompt always first.
                prop_assert_eq!(c.messages()[0].role, Role::System);
                // The history is a suffix of everything pushed, cut only before a user message
                // (whole turns dropped, never a pair split), and the newest message is kept.
                let h = c.history();
                prop_assert!(!h.is_empty());
                let k = all.len() - h.len();
                prop_assert_eq!(h, &all[k..]);
                prop_assert!(k == 0 || all[k].role == Role::User);
                // Size bookkeeping is exact.
                let real: usize = h.iter().map(|m| m.content.chars().count()).sum();
                prop_assert_eq!(c.size(), real);
                // Limits hold unless only one turn is left.
                if c.turns() > 1 {
                    prop_assert!(c.turns() <= max_turns);
                    prop_assert!(c.size() <= budget);
                }
            }
        }
    }
}
