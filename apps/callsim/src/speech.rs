//! Text turns spoken with espeak-ng (`espeak-ng --stdout`), a local offline synthesizer.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

use crate::error::Error;

/// How long espeak-ng may take for one turn.
const ESPEAK_TIMEOUT: Duration = Duration::from_secs(30);

/// Synthesizes `text` and returns espeak-ng's WAV output. The text goes through stdin, so it
/// can never be taken for an option.
pub(crate) async fn espeak(
    program: &str,
    voice: Option<&str>,
    text: &str,
) -> Result<Vec<u8>, Error> {
    let mut command = tokio::process::Command::new(program);
    command.arg("--stdout");
    if let Some(voice) = voice {
        command.arg("-v").arg(voice);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| Error::Espeak {
        reason: format!("cannot run `{program}`: {e} (install the Debian package espeak-ng)"),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| Error::Espeak {
                reason: format!("writing the text: {e}"),
            })?;
    }
    let output = tokio::time::timeout(ESPEAK_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| Error::Espeak {
            reason: format!("no result after {} s", ESPEAK_TIMEOUT.as_secs()),
        })?
        .map_err(|e| Error::Espeak {
            reason: e.to_string(),
        })?;
    if !output.status.success() || output.stdout.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Espeak {
            reason: format!("{}: {}", output.status, stderr.trim()),
        });
    }
    Ok(output.stdout)
}
