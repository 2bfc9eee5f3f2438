//! The caller's side of the conversation: [`CallScript`] and its [`Turn`]s.
//!
//! # The line format (`--turns FILE`)
//!
//! One turn per line; blank lines and lines starting with `#` are skipped.
//!
//! | line | the caller |
//! |---|---|
//! | `hello, I need a taxi` | says the text (espeak-ng speech in a recording; the `SpeechResult` of a `<Gather>`) |
//! | `text:hello` | the same, for text that starts with a prefix word |
//! | `wav:caller1.wav` | plays the WAV file (any rate, channels and PCM/G.711 format) |
//! | `wav:caller1.wav \| hello` | plays the file; `hello` is what it says (the `SpeechResult` of a `<Gather>`) |
//! | `digits:123#` | presses keys (the `Digits` of a `<Gather>`) |
//!
//! A file whose first non-blank line is `[[turn]]` is read as TOML instead:
//!
//! ```toml
//! [[turn]]
//! text = "hello"
//!
//! [[turn]]
//! wav = "caller1.wav"
//! text = "what the file says"
//!
//! [[turn]]
//! digits = "42#"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// One thing the caller does when the agent listens (`<Record>` or `<Gather>`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Turn {
    /// Audio the caller plays into the call, if any (WAV bytes).
    pub audio: Option<CallerAudio>,
    /// What the caller says: spoken with espeak-ng when there is no audio, and the
    /// `SpeechResult` of a `<Gather>`.
    pub text: Option<String>,
    /// Keys the caller presses (`Digits` of a `<Gather>`).
    pub digits: Option<String>,
}

/// Caller audio: a WAV file's bytes and a name for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerAudio {
    /// Where it came from (a path, or a name given by the caller of the API).
    pub name: String,
    /// The WAV bytes.
    pub wav: Vec<u8>,
}

impl Turn {
    /// The caller says `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            audio: None,
            text: Some(text.into()),
            digits: None,
        }
    }

    /// The caller plays WAV bytes.
    pub fn wav(name: impl Into<String>, wav: Vec<u8>) -> Self {
        Self {
            audio: Some(CallerAudio {
                name: name.into(),
                wav,
            }),
            text: None,
            digits: None,
        }
    }

    /// The caller presses keys.
    pub fn digits(digits: impl Into<String>) -> Self {
        Self {
            audio: None,
            text: None,
            digits: Some(digits.into()),
        }
    }

    /// Reads a WAV file.
    ///
    /// # Errors
    /// [`Error::Read`].
    pub fn wav_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let wav = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::wav(path.display().to_string(), wav))
    }

    /// Sets what the turn says (the transcript of a WAV turn).
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
}

/// The caller's turns, in order. When the agent listens and no turn is left, the caller hangs up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallScript {
    turns: Vec<Turn>,
    stay_on_line: bool,
}

impl CallScript {
    /// An empty script: the caller listens and hangs up when asked to speak.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a turn.
    #[must_use]
    pub fn turn(mut self, turn: Turn) -> Self {
        self.turns.push(turn);
        self
    }

    /// Keeps the caller on the line after the last turn (the default is to hang up right after
    /// it, so the last recording is posted with `Digits=hangup`). A caller who stays hangs up
    /// when the agent listens again, so the agent's own `<Hangup>` can run.
    #[must_use]
    pub fn stay_on_line(mut self, stay: bool) -> Self {
        self.stay_on_line = stay;
        self
    }

    /// Whether the caller hangs up right after the last turn of a `<Record>`.
    #[must_use]
    pub fn hangs_up_after_last_turn(&self) -> bool {
        !self.stay_on_line
    }

    /// The turns.
    #[must_use]
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// Parses the line format or TOML (see the module docs); `wav:` paths are relative to
    /// `base_dir`, and the files are read.
    ///
    /// # Errors
    /// [`Error::InvalidScript`] for a bad line or TOML document, [`Error::Read`] for a WAV
    /// file that cannot be read.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, Error> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        if first == Some("[[turn]]") {
            return Self::parse_toml(text, base_dir);
        }
        let mut script = Self::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let turn = parse_turn(line, base_dir).map_err(|e| match e {
                Error::InvalidScript { reason, .. } => Error::InvalidScript {
                    line: index + 1,
                    reason,
                },
                other => other,
            })?;
            script.turns.push(turn);
        }
        Ok(script)
    }

    /// Reads a script file (line format or TOML); `wav:` paths are relative to its folder.
    ///
    /// # Errors
    /// As [`CallScript::parse`], and [`Error::Read`] for the file itself.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
    }

    fn parse_toml(text: &str, base_dir: &Path) -> Result<Self, Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            turn: Vec<TomlTurn>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct TomlTurn {
            text: Option<String>,
            wav: Option<PathBuf>,
            digits: Option<String>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| Error::InvalidScript {
            line: 0,
            reason: e.message().to_owned(),
        })?;
        let mut script = Self::new();
        for (index, t) in doc.turn.into_iter().enumerate() {
            let mut turn = match t.wav {
                Some(path) => Turn::wav_file(base_dir.join(path))?,
                None => Turn {
                    audio: None,
                    text: None,
                    digits: None,
                },
            };
            turn.text = t.text;
            turn.digits = t.digits;
            if turn.audio.is_none() && turn.text.is_none() && turn.digits.is_none() {
                return Err(Error::InvalidScript {
                    line: 0,
                    reason: format!("turn {} has no text, wav or digits", index + 1),
                });
            }
            script.turns.push(turn);
        }
        Ok(script)
    }
}

/// Parses one turn of the line format (also used for `--say` arguments).
pub(crate) fn parse_turn(line: &str, base_dir: &Path) -> Result<Turn, Error> {
    if let Some(rest) = line.strip_prefix("wav:") {
        let (path, text) = match rest.split_once('|') {
            Some((p, t)) => (p.trim(), Some(t.trim())),
            None => (rest.trim(), None),
        };
        if path.is_empty() {
            return Err(Error::InvalidScript {
                line: 0,
                reason: "`wav:` needs a path".to_owned(),
            });
        }
        let mut turn = Turn::wav_file(base_dir.join(path))?;
        turn.text = text.filter(|t| !t.is_empty()).map(str::to_owned);
        return Ok(turn);
    }
    if let Some(digits) = line.strip_prefix("digits:") {
        let digits = digits.trim();
        if digits.is_empty()
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#' || c == 'w')
        {
            return Err(Error::InvalidScript {
                line: 0,
                reason: format!("`{digits}` is not a key sequence (0-9, *, #)"),
            });
        }
        return Ok(Turn::digits(digits));
    }
    let text = line.strip_prefix("text:").unwrap_or(line).trim();
    if text.is_empty() {
        return Err(Error::InvalidScript {
            line: 0,
            reason: "empty text turn".to_owned(),
        });
    }
    Ok(Turn::text(text))
}

/// A `--say` argument: a path to an existing `.wav` file, `file.wav::what it says` (the file
/// with its transcript), or a line of the turn format (text, `wav:…`, `digits:…`).
pub(crate) fn say_argument(arg: &str) -> Result<Turn, Error> {
    if let Some((file, text)) = arg.split_once("::")
        && file.to_ascii_lowercase().ends_with(".wav")
    {
        let mut turn = Turn::wav_file(file.trim())?;
        let text = text.trim().trim_matches('"').trim();
        if !text.is_empty() {
            turn.text = Some(text.to_owned());
        }
        return Ok(turn);
    }
    let path = Path::new(arg);
    if arg.to_ascii_lowercase().ends_with(".wav") && path.is_file() {
        return Turn::wav_file(path);
    }
    parse_turn(arg, Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let dir = std::env::temp_dir().join(format!("callsim-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.wav"), b"RIFF").unwrap();
        let script = CallScript::parse(
            "# comment\nhello there\n\nwav:a.wav | hi\ndigits:12#\ntext:wav: literally\n",
            &dir,
        )
        .unwrap();
        let turns = script.turns();
        assert_eq!(turns.len(), 4);
        assert_eq!(turns[0], Turn::text("hello there"));
        assert_eq!(turns[1].text.as_deref(), Some("hi"));
        assert_eq!(turns[1].audio.as_ref().unwrap().wav, b"RIFF");
        assert_eq!(turns[2], Turn::digits("12#"));
        assert_eq!(turns[3], Turn::text("wav: literally"));
        let err = CallScript::parse("ok\ndigits:abc\n", &dir).unwrap_err();
        assert!(matches!(err, Error::InvalidScript { line: 2, .. }), "{err}");
        assert!(matches!(
            CallScript::parse("wav:missing.wav", &dir),
            Err(Error::Read { .. })
        ));
    }

    #[test]
    fn toml_format() {
        let dir = std::env::temp_dir().join(format!("callsim-toml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.wav"), b"RIFF").unwrap();
        let script = CallScript::parse(
            "[[turn]]\ntext = \"hello\"\n[[turn]]\nwav = \"b.wav\"\ntext = \"said\"\n[[turn]]\ndigits = \"9\"\n",
            &dir,
        )
        .unwrap();
        assert_eq!(script.turns().len(), 3);
        assert_eq!(script.turns()[1].text.as_deref(), Some("said"));
        assert!(matches!(
            CallScript::parse("[[turn]]\n", &dir),
            Err(Error::InvalidScript { .. })
        ));
        assert!(matches!(
            CallScript::parse("[[turn]]\nvoice = 1\n", &dir),
            Err(Error::InvalidScript { .. })
        ));
    }

    #[test]
    fn say_with_transcript() {
        let dir = std::env::temp_dir().join(format!("callsim-say-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("turn.WAV");
        std::fs::write(&file, b"RIFF").unwrap();
        let turn = say_argument(&format!("{}::\"to the airport\"", file.display())).unwrap();
        assert_eq!(turn.text.as_deref(), Some("to the airport"));
        assert_eq!(turn.audio.unwrap().wav, b"RIFF");
        let turn = say_argument(&format!("{}::", file.display())).unwrap();
        assert_eq!(turn.text, None);
        assert!(matches!(
            say_argument("missing.wav::hello"),
            Err(Error::Read { .. })
        ));
        // Text with `::` that is not a WAV file stays text.
        assert_eq!(say_argument("a::b").unwrap(), Turn::text("a::b"));
    }

    proptest::proptest! {
        /// Any text is a script or a typed error, never a panic.
        #[test]
        fn any_text_parses_or_errs(text in "(?s).{0,200}") {
            let _ = CallScript::parse(&text, Path::new("/nonexistent-callsim-dir"));
        }

        /// Lines in the documented forms give one turn each.
        #[test]
        fn turn_lines(lines in proptest::collection::vec("(text:)?[a-z][a-z ]{0,20}|digits:[0-9*#]{1,6}", 0..8)) {
            let script = CallScript::parse(&lines.join("\n"), Path::new(".")).unwrap();
            proptest::prop_assert_eq!(script.turns().len(), lines.len());
        }
    }
}
