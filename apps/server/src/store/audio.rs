//! Audio files (synthesized replies, recordings) on disk, named by random 128-bit ids.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::{Store, UnixMillis, execute, random_id, with_pool};
use crate::Error;

/// An audio id: 128 random bits as 32 lower-case hex digits. Parsing accepts nothing else,
/// so an id can never name a path outside the audio folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AudioId(String);

impl AudioId {
    /// A new random id.
    #[must_use]
    pub fn random() -> Self {
        Self(random_id())
    }

    /// The 32 hex digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AudioId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(())
        }
    }
}

impl fmt::Display for AudioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored audio file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFile {
    /// Its id.
    pub id: AudioId,
    /// Where it is on disk.
    pub path: PathBuf,
    /// `audio/wav`, `audio/mpeg`, …
    pub content_type: String,
}

fn valid_content_type(ct: &str) -> bool {
    ct.starts_with("audio/")
        && ct.len() < 100
        && ct
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-+.;= ".contains(&b))
}

impl Store {
    /// Writes `bytes` under a new random id (written to a temporary name, then renamed, so a
    /// reader never sees half a file) and records it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Store`]. A content type that is not a plain `audio/…` value is
    /// stored as `application/octet-stream`.
    pub async fn save_audio(
        &self,
        bytes: &[u8],
        content_type: &str,
        now: UnixMillis,
    ) -> Result<AudioId, Error> {
        let id = AudioId::random();
        let content_type = if valid_content_type(content_type) {
            content_type
        } else {
            "application/octet-stream"
        };
        let path = self.audio_dir.join(id.as_str());
        let temp = self.audio_dir.join(format!("{id}.tmp"));
        let io = |context| {
            let path = path.clone();
            move |source| Error::Io {
                context,
                path,
                source,
            }
        };
        tokio::fs::write(&temp, bytes)
            .await
            .map_err(io("cannot write audio file"))?;
        tokio::fs::rename(&temp, &path)
            .await
            .map_err(io("cannot rename audio file"))?;
        let inserted = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO audio (id, path, content_type, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id.as_str())
            .bind(id.as_str())
            .bind(content_type)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        if let Err(e) = inserted {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(Error::store("insert audio")(e));
        }
        Ok(id)
    }

    /// The audio file with this id, if it is recorded.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn audio(&self, id: &AudioId) -> Result<Option<AudioFile>, Error> {
        let row: Option<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT path, content_type FROM audio WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
        })
        .map_err(Error::store("select audio"))?;
        Ok(row.and_then(|(name, content_type)| {
            // The stored name is the id itself; anything else is not ours to serve.
            let name: AudioId = name.parse().ok()?;
            Some(AudioFile {
                path: self.audio_dir.join(name.as_str()),
                id: name,
                content_type,
            })
        }))
    }

    /// Deletes an audio file and its record (a missing file is not an error).
    ///
    /// # Errors
    ///
    /// [`Error::Store`], [`Error::Io`].
    pub async fn delete_audio(&self, id: &AudioId) -> Result<(), Error> {
        execute!(
            self,
            "delete audio",
            "DELETE FROM audio WHERE id = $1",
            id.as_str()
        )?;
        let path = self.audio_dir.join(id.as_str());
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                context: "cannot delete audio file",
                path,
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strict() {
        let id = AudioId::random();
        assert_eq!(id.as_str().parse::<AudioId>(), Ok(id.clone()));
        assert_ne!(AudioId::random(), id);
        for bad in [
            "",
            "../../etc/passwd",
            "0123456789abcdef0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcde/",
        ] {
            assert!(bad.parse::<AudioId>().is_err(), "{bad}");
        }
    }
}
