//! The library's error type.
//!
//! Every variant says what failed and where, in one lowercase line, because
//! the binary prints `newsidx: {error}` and a cron log has nothing else to go
//! on. User-caused errors (a bad query, a bad schema file, a missing index, a
//! busy lock) are kept apart from internal ones by [`Error::is_user_error`].
//! tantivy's own messages embed `{:?}` dumps, so its errors are wrapped with
//! the operation and the index directory they concern.

use std::path::PathBuf;

use crate::query::QueryError;

/// A `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in newsidx.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error (already part of the message, so not a
        /// `source`: printing the chain would repeat it).
        source: std::io::Error,
    },
    /// A folder given to `ingest` does not exist.
    #[error("{}: no such file or folder", path.display())]
    NoSuchInput {
        /// The path as given.
        path: PathBuf,
    },
    /// The schema file is invalid.
    #[error("schema {file}: {}{reason}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Schema {
        /// The schema file (`<embedded>` for the shipped one).
        file: String,
        /// The field concerned, when there is one.
        field: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The index was built with a different schema.
    #[error(
        "index {} was built with a different schema; rebuild it with `newsidx ingest --full FOLDER...`",
        dir.display()
    )]
    SchemaMismatch {
        /// The index directory.
        dir: PathBuf,
    },
    /// There is no index yet.
    #[error("no index at {}; run `newsidx ingest FOLDER...` first", dir.display())]
    NoIndex {
        /// The index directory.
        dir: PathBuf,
    },
    /// The index exists but cannot be opened.
    #[error("index {} is damaged ({detail}); rebuild it with `newsidx ingest --full FOLDER...`", dir.display())]
    Corrupt {
        /// The index directory.
        dir: PathBuf,
        /// What was found wrong.
        detail: String,
    },
    /// Another ingest holds the index.
    #[error("another newsidx ingest is running on {}{}; try again later or pass --wait", dir.display(),
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The index directory.
        dir: PathBuf,
        /// The process holding the lock, when known.
        pid: Option<u32>,
    },
    /// The query could not be parsed.
    #[error("bad query: {0}")]
    Query(QueryError),
    /// A search option is invalid for this index.
    #[error("{0}")]
    Usage(String),
    /// The search engine failed.
    #[error("{context}: {message}")]
    Engine {
        /// What newsidx was doing.
        context: String,
        /// tantivy's message.
        message: String,
    },
    /// The run was interrupted.
    #[error("interrupted")]
    Interrupted,
}

impl From<QueryError> for Error {
    fn from(e: QueryError) -> Error {
        Error::Query(e)
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a tantivy error with what newsidx was doing.
    pub fn engine(context: impl Into<String>, err: tantivy::TantivyError) -> Error {
        Error::Engine {
            context: context.into(),
            message: engine_message(&err),
        }
    }

    /// Whether the error is the user's to fix (input, flags, index state)
    /// rather than a fault in newsidx or the machine.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Error::Io { .. } | Error::Engine { .. })
    }
}

/// tantivy's error messages in one line without Debug dumps where it matters.
pub(crate) fn engine_message(err: &tantivy::TantivyError) -> String {
    use tantivy::TantivyError as T;
    match err {
        T::OpenDirectoryError(e) => e.to_string(),
        T::OpenReadError(e) => e.to_string(),
        T::OpenWriteError(e) => e.to_string(),
        T::IoError(e) => e.to_string(),
        T::LockFailure(_, msg) => msg.clone().unwrap_or_else(|| "index is locked".into()),
        other => other.to_string().replace('\n', " "),
    }
}
