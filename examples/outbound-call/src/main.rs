//! Places an outbound Twilio call, or with `--dry-run` prints the request it would send.
//!
//! ```text
//! outbound-call --to +14155550100 --url https://agent.example.com/webhook/incoming_call --dry-run
//! TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… TWILIO_PHONE_NUMBER=+1… \
//!     outbound-call --to +14155550100 --twiml '<Response><Say>Hello</Say></Response>'
//! ```

use std::process::ExitCode;

use clap::{ArgGroup, Parser};
use kav_twilio_rest::{
    AccountSid, ApiKeySid, CallEvent, CallInstructions, CreateCall, Credentials, Endpoint,
    PreparedRequest, SecretString, TwilioClient, Url,
};

/// Account SID used by `--dry-run` when `TWILIO_ACCOUNT_SID` is not set.
const PLACEHOLDER_ACCOUNT: &str = "AC00000000000000000000000000000000";

#[derive(Debug, Parser)]
#[command(version, about)]
#[command(group(ArgGroup::new("instructions").required(true).args(["url", "twiml"])))]
struct Args {
    /// Who to call: +E164, client:IDENTITY or sip:USER@HOST.
    #[arg(long)]
    to: String,
    /// Caller id (a Twilio number of yours); defaults to $TWILIO_PHONE_NUMBER.
    #[arg(long)]
    from: Option<String>,
    /// Absolute URL Twilio fetches TwiML from when the call connects.
    #[arg(long)]
    url: Option<String>,
    /// Inline TwiML to run instead of fetching a URL.
    #[arg(long)]
    twiml: Option<String>,
    /// Absolute URL receiving call progress (initiated, ringing, answered, completed).
    #[arg(long)]
    status_callback: Option<String>,
    /// API base URL (default <https://api.twilio.com>), e.g. a local test server.
    #[arg(long)]
    base_url: Option<String>,
    /// Print the request instead of sending it (the secret is never printed).
    #[arg(long)]
    dry_run: bool,
}

type BoxError = Box<dyn std::error::Error>;

fn parse_url(what: &str, s: &str) -> Result<Url, BoxError> {
    Url::parse(s)
        .map_err(|e| format!("--{what} {s:?}: {e} (an absolute https:// URL is needed)").into())
}

/// Reads the environment through `env` so tests can supply it.
fn credentials(
    env: &dyn Fn(&str) -> Option<String>,
    dry_run: bool,
) -> Result<Credentials, BoxError> {
    let sid = env("TWILIO_ACCOUNT_SID");
    // An API key (SK…) and its secret, as `Credentials::from_env` reads them.
    if let (Some(sid), Some(key)) = (&sid, env("TWILIO_API_KEY")) {
        match env("TWILIO_API_SECRET") {
            Some(secret) => {
                return Ok(Credentials::api_key(
                    AccountSid::new(sid.clone())?,
                    &ApiKeySid::new(key)?,
                    SecretString::from(secret),
                )?);
            }
            None if !dry_run => return Err("TWILIO_API_KEY needs TWILIO_API_SECRET".into()),
            None => {}
        }
    }
    let token = env("TWILIO_AUTH_TOKEN");
    match (sid, token) {
        (Some(sid), Some(token)) => Ok(Credentials::auth_token(
            AccountSid::new(sid)?,
            SecretString::from(token),
        )?),
        (sid, _) if dry_run => Ok(Credentials::auth_token(
            AccountSid::new(sid.unwrap_or_else(|| PLACEHOLDER_ACCOUNT.to_owned()))?,
            SecretString::from("dry-run-placeholder"),
        )?),
        _ => Err(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY + TWILIO_API_SECRET) \
             must be set (or use --dry-run)"
                .into(),
        ),
    }
}

fn build(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(TwilioClient, PreparedRequest), BoxError> {
    let creds = credentials(env, args.dry_run)?;
    let mut builder = TwilioClient::builder(creds);
    if let Some(base) = &args.base_url {
        builder = builder.base_url(base.clone());
    }
    let client = builder.build()?;
    let from = args
        .from
        .clone()
        .or_else(|| env("TWILIO_PHONE_NUMBER"))
        .ok_or("--from or TWILIO_PHONE_NUMBER must give the caller id")?;
    let instructions = match (&args.url, &args.twiml) {
        (Some(u), _) => CallInstructions::url(parse_url("url", u)?),
        (None, Some(t)) => CallInstructions::twiml(t.clone()),
        (None, None) => return Err("one of --url or --twiml is needed".into()),
    };
    let mut call = CreateCall::new(
        Endpoint::parse(&args.to)?,
        Endpoint::parse(&from)?,
        instructions,
    );
    if let Some(cb) = &args.status_callback {
        call = call
            .status_callback(parse_url("status-callback", cb)?)
            .status_callback_events(CallEvent::ALL.iter().copied());
    }
    let request = client.prepare_create_call(&call)?;
    Ok((client, request))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (client, request) = build(&args, &env)?;
    if args.dry_run {
        print!("{request}");
        return Ok(());
    }
    let call: kav_twilio_rest::Call = client.execute_json(&request).await?;
    println!(
        "call {} is {}",
        call.sid.as_ref().map_or("(no sid)", |s| s.as_str()),
        call.status.as_ref().map_or("(unknown)", |s| s.as_str())
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["outbound-call", "--to", "+14155550100"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    fn env_with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const ENV: &[(&str, &str)] = &[
        ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
        ("TWILIO_AUTH_TOKEN", "very-secret-token"),
        ("TWILIO_PHONE_NUMBER", "+14155550199"),
    ];

    #[test]
    fn dry_run_prints_the_request_without_the_secret() {
        let a = args(&[
            "--url",
            "https://agent.example.com/webhook/incoming_call",
            "--status-callback",
            "https://agent.example.com/webhook/call_status",
            "--dry-run",
        ]);
        let (_, req) = build(&a, &env_with(ENV)).unwrap();
        let shown = req.to_string();
        assert!(shown.starts_with(
            "POST https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json\n"
        ));
        assert!(shown.contains("Authorization: Basic AC0123456789abcdef0123456789abcdef:<secret>"));
        assert!(shown.contains("To=%2B14155550100&From=%2B14155550199&Url=https%3A%2F%2Fagent.example.com%2Fwebhook%2Fincoming_call"));
        assert!(shown.contains("StatusCallbackEvent=initiated&StatusCallbackEvent=ringing"));
        assert!(!shown.contains("very-secret-token"));
    }

    #[test]
    fn dry_run_works_without_credentials_and_honours_base_url() {
        let a = args(&[
            "--from",
            "+14155550199",
            "--twiml",
            "<Response><Say>Hi</Say></Response>",
            "--base-url",
            "http://127.0.0.1:8080",
            "--dry-run",
        ]);
        let (_, req) = build(&a, &env_with(&[])).unwrap();
        assert_eq!(
            req.url().as_str(),
            format!("http://127.0.0.1:8080/2010-04-01/Accounts/{PLACEHOLDER_ACCOUNT}/Calls.json")
        );
        assert!(
            req.form()
                .contains(&("Twiml", "<Response><Say>Hi</Say></Response>".to_owned()))
        );
    }

    #[test]
    fn an_api_key_authenticates_as_the_key() {
        let a = args(&["--from", "+14155550199", "--url", "https://a.example/x"]);
        const KEY_ENV: &[(&str, &str)] = &[
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_API_KEY", "SK0123456789abcdef0123456789abcdef"),
            ("TWILIO_API_SECRET", "key-secret"),
        ];
        let (_, req) = build(&a, &env_with(KEY_ENV)).unwrap();
        assert_eq!(req.auth_user(), "SK0123456789abcdef0123456789abcdef");
        assert!(
            req.url()
                .path()
                .contains("/Accounts/AC0123456789abcdef0123456789abcdef/")
        );
        let no_secret = env_with(&[
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_API_KEY", "SK0123456789abcdef0123456789abcdef"),
        ]);
        let err = build(&a, &no_secret).err().unwrap().to_string();
        assert!(err.contains("TWILIO_API_SECRET"), "{err}");
    }

    #[test]
    fn real_calls_need_credentials_and_valid_input() {
        let a = args(&["--from", "+14155550199", "--url", "https://a.example/x"]);
        assert!(build(&a, &env_with(&[])).is_err());
        let a = args(&["--url", "agent.example.com/x", "--dry-run"]);
        let err = build(&a, &env_with(ENV)).err().unwrap().to_string();
        assert!(err.contains("absolute"), "{err}");
        assert!(Args::try_parse_from(["outbound-call", "--to", "+1415"]).is_err());
        assert!(
            Args::try_parse_from([
                "outbound-call",
                "--to",
                "+1",
                "--url",
                "https://a/",
                "--twiml",
                "x"
            ])
            .is_err()
        );
    }
}
