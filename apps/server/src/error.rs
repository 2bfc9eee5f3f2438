//! The server's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the server outside a single request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing or invalid. `Display` is the one line printed at
    /// start-up: the variable's name and what is wrong with it (never a secret's value).
    #[error("{variable}: {problem}")]
    Config {
        /// The environment variable (or TOML key) at fault.
        variable: String,
        /// What is wrong, in one sentence.
        problem: String,
    },
    /// The configuration file could not be read or parsed.
    #[error("KAV_CONFIG: cannot read {}", path.display())]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database refused a query or could not be reached.
    #[error("store: {context}")]
    Store {
        /// What the store was doing.
        context: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The migrations could not be applied.
    #[error("store: migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A file under the data directory could not be read or written.
    #[error("{context} {}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A job was not in the state the operation expects (completed by someone else, lock
    /// lost after expiry, unknown id).
    #[error("job {id} is not held by {worker}")]
    JobNotHeld {
        /// The job.
        id: String,
        /// The worker that tried.
        worker: String,
    },
}

impl Error {
    pub(crate) fn config(variable: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Config {
            variable: variable.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn store(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Store { context, source }
    }
}
