//! Prints the benchmark documents, one per line (incoming call, then twenty verbs), so that
//! `scripts/twiml-bench.sh` can check that twilio-python's versions are the same XML.

#[path = "../benches/common/docs.rs"]
mod docs;

fn main() -> Result<(), kav_twiml::Error> {
    let base = "https://agent.example.com";
    println!("{}", docs::incoming_call(base)?);
    println!("{}", docs::twenty_verbs(base)?);
    Ok(())
}
