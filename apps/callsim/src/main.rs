//! `kav-callsim`: plays Twilio's side of a phone call against a TwiML server.

use clap::Parser as _;

#[tokio::main]
async fn main() {
    let cli = kav_callsim::cli::Cli::parse();
    std::process::exit(kav_callsim::cli::main_with_args(cli).await);
}
