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
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error (already part of the message, so not a
        /// `source`: printing the chain would repeat it).
        cause: std::io::Error,
    },
    /// The index directory cannot be written by this user.
    #[error("cannot write the index in {} ({cause}); run as a user who may write it, or pass --index DIR", dir.display())]
    NotWritable {
        /// The index directory.
        dir: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
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
    /// `--index` names something other than a folder.
    #[error("{} is not a folder; pass --index a folder, or a path that does not exist yet", dir.display())]
    IndexNotADirectory {
        /// What `--index` named.
        dir: PathBuf,
    },
    /// `CURRENT`, which names the live generation, is missing while
    /// generations holding an index are there.
    #[error("{}", current_missing(dir, generations, *building))]
    CurrentMissing {
        /// The index directory.
        dir: PathBuf,
        /// The generations holding an index, oldest first (`gen-000001`).
        generations: Vec<String>,
        /// Whether an ingest holds the lock (a first `--full` rebuild
        /// publishes `CURRENT` only when it is done).
        building: bool,
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
    /// An option is invalid: a search option for this index, an empty
    /// `--ext` for ingest.
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
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            cause,
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
        !matches!(
            self,
            Error::Io { .. } | Error::NotWritable { .. } | Error::Engine { .. }
        )
    }
}

/// The message of [`Error::CurrentMissing`], with what to do: one
/// generation is made live again by the next ingest; of several, only the
/// user can say which was live, or rebuild.
fn current_missing(dir: &std::path::Path, generations: &[String], building: bool) -> String {
    let dir = dir.display();
    if building {
        return format!(
            "no index at {dir} yet: the running ingest has not published its first one; try again when it has finished"
        );
    }
    match generations {
        [only] => format!(
            "index {dir} is damaged (CURRENT, which names the live generation, is missing; {only} holds an index); `newsidx ingest FOLDER...` makes it live again"
        ),
        several => format!(
            "index {dir} is damaged (CURRENT, which names the live generation, is missing; {} hold indexes); write the live one's name into {dir}/CURRENT, or rebuild with `newsidx ingest --full FOLDER...`",
            several.join(", ")
        ),
    }
}

/// tantivy's errors in one line, without the `{:?}` dumps some of its
/// `Display` impls embed (`IoError: 'Os { code: 13, ... }'`).
pub(crate) fn engine_message(err: &tantivy::TantivyError) -> String {
    use tantivy::TantivyError as T;
    use tantivy::directory::error::{LockError, OpenDirectoryError, OpenReadError, OpenWriteError};
    let at = |path: &std::path::Path, e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    match err {
        T::OpenDirectoryError(e) => match e {
            OpenDirectoryError::DoesNotExist(p) => at(p, &"does not exist"),
            OpenDirectoryError::NotADirectory(p) => at(p, &"not a directory"),
            OpenDirectoryError::FailedToCreateTempDir(io) => {
                format!("cannot create a temporary directory: {io}")
            }
            OpenDirectoryError::IoError {
                io_error,
                directory_path,
            } => at(directory_path, io_error),
        },
        T::OpenReadError(e) => match e {
            OpenReadError::FileDoesNotExist(p) => at(p, &"does not exist"),
            OpenReadError::IoError { io_error, filepath } => at(filepath, io_error),
            OpenReadError::IncompatibleIndex(_) => {
                "written by an incompatible version of the search engine".into()
            }
        },
        T::OpenWriteError(e) => match e {
            OpenWriteError::FileAlreadyExists(p) => at(p, &"already exists"),
            OpenWriteError::IoError { io_error, filepath } => at(filepath, io_error),
        },
        T::LockFailure(LockError::IoError(io), _) => format!("cannot take the index lock: {io}"),
        T::LockFailure(LockError::LockBusy, _) => "the index is locked by another writer".into(),
        T::IoError(e) => e.to_string(),
        other => other.to_string().replace('\n', " "),
    }
}

/// The message a panic was raised with (`panic!("...")` gives a `&str` or
/// a `String`), for the one line a caught panic is reported with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_of_both_payload_types() {
        let message = |f: fn()| {
            let payload = std::panic::catch_unwind(f).unwrap_err();
            panic_message(payload.as_ref()).to_owned()
        };
        assert_eq!(message(|| panic!("a literal")), "a literal");
        assert_eq!(message(|| panic!("formatted {}", 42)), "formatted 42");
        assert_eq!(message(|| std::panic::panic_any(7_u8)), "");
    }
}
