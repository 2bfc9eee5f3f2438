//! A command-line chat over `kav-llm`, streaming the reply tokens to stdout.
//!
//! ```sh
//! # Offline, no key: the built-in Hebrew + English rules of a small business line.
//! cargo run -p chat -- "מה שעות הפתיחה?"
//! # Interactive (one question per line; an empty line or EOF ends the chat).
//! cargo run -p chat
//! # OpenAI (OPENAI_API_KEY), or any OpenAI-compatible server with --base-url.
//! cargo run -p chat -- "Hello" --provider openai --model gpt-4o-mini
//! cargo run -p chat -- "Hello" --provider openai --base-url http://localhost:11434/v1 --model llama3.2
//! # Gemini (GEMINI_API_KEY).
//! cargo run -p chat -- "שלום" --provider gemini --model gemini-2.5-flash
//! ```
//!
//! Exit codes: 0 success, 1 the model failed, 2 bad usage or configuration.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use futures_util::StreamExt;
use kav_llm::gemini::{GeminiChat, GeminiConfig};
use kav_llm::openai::{OpenAiChat, OpenAiConfig};
use kav_llm::{ChatModel, Conversation, ConversationConfig, Error, ScriptedResponder};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProviderArg {
    /// The offline rules-based responder (no key).
    Scripted,
    /// OpenAI Chat Completions or a compatible server (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).
    Openai,
    /// Google Gemini (`GEMINI_API_KEY`).
    Gemini,
}

/// Chat with a language model; the reply streams to stdout as it arrives.
#[derive(Debug, Parser)]
#[command(name = "chat")]
struct Args {
    /// The question. Without it, the chat reads one question per line from stdin.
    question: Option<String>,
    /// Which model provider to use.
    #[arg(long, value_enum, default_value = "scripted")]
    provider: ProviderArg,
    /// The model (provider default if not given).
    #[arg(long)]
    model: Option<String>,
    /// The provider's base URL (OpenAI-compatible servers, proxies, local test servers).
    #[arg(long)]
    base_url: Option<String>,
    /// A rules file for the scripted responder (TOML; the built-in rules if not given).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The system prompt.
    #[arg(
        long,
        default_value = "You are the friendly phone assistant of a small bakery. Answer in one or two short sentences."
    )]
    system: String,
    /// The language the agent answers in.
    #[arg(long)]
    language: Option<String>,
    /// Sampling temperature (0 to 2).
    #[arg(long)]
    temperature: Option<f32>,
}

/// The model, and the greeting it opens an interactive chat with (scripted responder only).
fn build_model(args: &Args) -> Result<(Box<dyn ChatModel>, Option<String>), Error> {
    let model: Box<dyn ChatModel> = match args.provider {
        ProviderArg::Scripted => {
            let responder = match &args.rules {
                Some(path) => ScriptedResponder::from_file(path)?,
                None => ScriptedResponder::builtin(),
            };
            let greeting = responder.greeting().map(str::to_owned);
            return Ok((Box::new(responder), greeting));
        }
        ProviderArg::Openai => {
            let mut config = match &args.base_url {
                // A custom server may need no key: use OPENAI_API_KEY only if it is set.
                Some(base) => {
                    let config = OpenAiConfig::default().with_base_url(base);
                    match std::env::var("OPENAI_API_KEY") {
                        Ok(key) if !key.is_empty() => config.with_api_key(key),
                        _ => config,
                    }
                }
                None => OpenAiConfig::from_env()?,
            };
            if let Some(model) = &args.model {
                config = config.with_model(model);
            }
            if let Some(t) = args.temperature {
                config = config.with_temperature(t);
            }
            Box::new(OpenAiChat::new(config)?)
        }
        ProviderArg::Gemini => {
            let mut config = GeminiConfig::from_env()?;
            if let Some(base) = &args.base_url {
                config = config.with_base_url(base);
            }
            if let Some(model) = &args.model {
                config = config.with_model(model);
            }
            if let Some(t) = args.temperature {
                config = config.with_temperature(t);
            }
            Box::new(GeminiChat::new(config)?)
        }
    };
    Ok((model, None))
}

/// Streams one reply to stdout and returns its text.
async fn answer(model: &dyn ChatModel, conversation: &Conversation) -> Result<String, Error> {
    let mut stream = model.reply_stream(conversation.messages());
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    while let Some(token) = stream.next().await {
        let token = token?;
        // A closed stdout (e.g. `| head`) is not the model's failure: keep collecting.
        let _ = stdout
            .write_all(token.as_bytes())
            .and_then(|()| stdout.flush());
        text.push_str(&token);
    }
    println!();
    Ok(text)
}

async fn run(args: Args) -> Result<(), (ExitCode, String)> {
    let usage = |e: Error| (ExitCode::from(2), e.to_string());
    let (model, greeting) = build_model(&args).map_err(usage)?;
    let mut config = ConversationConfig::default().with_system_prompt(&args.system);
    if let Some(language) = &args.language {
        config = config.with_language(language);
    }
    let mut conversation = Conversation::new(&config).map_err(usage)?;
    let failed = |e: Error| (ExitCode::from(1), e.to_string());

    if let Some(question) = args.question {
        conversation.push_user(question);
        answer(model.as_ref(), &conversation)
            .await
            .map_err(failed)?;
        return Ok(());
    }

    // Interactive: the scripted responder greets first, as on a phone line.
    if let Some(greeting) = greeting {
        println!("{greeting}");
        conversation.push_assistant(greeting);
    }
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| (ExitCode::from(1), format!("cannot read stdin: {e}")))?;
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        conversation.push_user(line);
        let reply = answer(model.as_ref(), &conversation)
            .await
            .map_err(failed)?;
        conversation.push_assistant(reply);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("chat: {message}");
            code
        }
    }
}
