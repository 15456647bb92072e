//! Files skipped for what they hold (empty, binary, too large), remembered
//! between runs.
//!
//! The index holds documents, so a skipped file used to look new to every
//! run: it was read again and reported again, and a cron job mailed the
//! same warning every night until nobody read the mails. A skipped file is
//! now listed, with its size and modification time, in the generation's
//! folder; while it stays as it was, a re-run counts it as skipped without
//! reading it and reports it only with `--verbose` (and with `--strict`,
//! where a skip is a failure). `newsidx status` lists them.
//!
//! The list is rewritten after each run that changes it (temporary file
//! and rename, not synced). A lost or damaged list only means the files on
//! it are read and reported once more; so does a list another version of
//! newsidx wrote, since this version may read what that one could not.
//! Files skipped for a passing reason (unreadable, vanished, an internal
//! error) are not listed: the next run tries them again.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::ingest::SkipReason;

/// The list's file, in the generation's folder (tantivy leaves files it
/// did not create alone).
const FILE_NAME: &str = "skipped.json";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One skipped file, as the run that skipped it saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Its path, as the index would key its document.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, in nanoseconds from the epoch.
    pub mtime: i64,
    /// Why it was skipped.
    pub reason: SkipReason,
    /// The warning, as printed when it was skipped.
    pub detail: String,
}

/// The file's content.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// The newsidx version that decided these files were no articles.
    version: String,
    files: Vec<SkippedFile>,
}

/// The list an earlier run left, by path hash.
#[derive(Debug, Default)]
pub struct SkipList {
    by_path: HashMap<u64, SkippedFile>,
}

impl SkipList {
    /// The list in the generation folder `generation`; empty when there is
    /// none or it cannot be read.
    pub fn load(generation: &Path) -> SkipList {
        let files = fs::read(generation.join(FILE_NAME))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|stored| stored.version == VERSION)
            .map_or_else(Vec::new, |stored| stored.files);
        SkipList {
            by_path: files
                .into_iter()
                .map(|f| (xxh3_64(f.path.as_bytes()), f))
                .collect(),
        }
    }

    /// The entry of `path` (whose xxh3 is `path_hash`), if any.
    pub fn get(&self, path_hash: u64, path: &str) -> Option<&SkippedFile> {
        self.by_path.get(&path_hash).filter(|f| f.path == path)
    }

    /// Its entries, in no particular order.
    pub fn files(&self) -> impl Iterator<Item = &SkippedFile> {
        self.by_path.values()
    }

    /// Writes `files` as the list of `generation` (none when empty), unless
    /// that is what it holds already.
    ///
    /// # Errors
    ///
    /// I/O errors, with the file they concern.
    pub fn store(
        &self,
        generation: &Path,
        mut files: Vec<SkippedFile>,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut old: Vec<&SkippedFile> = self.files().collect();
        old.sort_by(|a, b| a.path.cmp(&b.path));
        if old.len() == files.len() && old.iter().zip(&files).all(|(a, b)| *a == b) {
            return Ok(());
        }
        let path = generation.join(FILE_NAME);
        if files.is_empty() {
            return match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err((path, e)),
                _ => Ok(()),
            };
        }
        let tmp = generation.join(format!("{FILE_NAME}.tmp"));
        let stored = Stored {
            version: VERSION.to_owned(),
            files,
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|e| (path.clone(), e.into()))?;
        fs::write(&tmp, json).map_err(|e| (tmp.clone(), e))?;
        fs::rename(&tmp, &path).map_err(|e| (path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, reason: SkipReason) -> SkippedFile {
        SkippedFile {
            path: path.into(),
            size: 3,
            mtime: -5,
            reason,
            detail: "empty or whitespace only".into(),
        }
    }

    #[test]
    fn round_trips_and_forgets_what_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let none = SkipList::load(dir.path());
        assert_eq!(none.files().count(), 0);
        let files = vec![
            file("/a/x.txt", SkipReason::Empty),
            file("/a/y.txt", SkipReason::Binary),
        ];
        none.store(dir.path(), files.clone()).unwrap();
        let list = SkipList::load(dir.path());
        let hash = xxh3_64(b"/a/y.txt");
        assert_eq!(list.get(hash, "/a/y.txt"), Some(&files[1]));
        // Same hash, other path: not this file's entry.
        assert_eq!(list.get(hash, "/a/x.txt"), None);
        assert_eq!(list.files().count(), 2);

        // An empty list removes the file.
        list.store(dir.path(), Vec::new()).unwrap();
        assert!(!dir.path().join(FILE_NAME).exists());

        // A torn list reads as none.
        fs::write(dir.path().join(FILE_NAME), "[{\"path\": \"/a/x.t").unwrap();
        assert_eq!(SkipList::load(dir.path()).files().count(), 0);

        // So does one another version wrote.
        none.store(dir.path(), files).unwrap();
        let path = dir.path().join(FILE_NAME);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(SkipList::load(dir.path()).files().count(), 2);
        let other = text.replace(&format!("\"{VERSION}\""), "\"0.0.0-other\"");
        assert_ne!(other, text);
        fs::write(&path, other).unwrap();
        assert_eq!(SkipList::load(dir.path()).files().count(), 0);
    }

    #[test]
    fn an_unchanged_list_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            file("/b.txt", SkipReason::Empty),
            file("/a.txt", SkipReason::TooLarge),
        ];
        SkipList::default()
            .store(dir.path(), files.clone())
            .unwrap();
        let path = dir.path().join(FILE_NAME);
        let list = SkipList::load(dir.path());
        fs::remove_file(&path).unwrap();
        // In another order, the same list: nothing written.
        list.store(dir.path(), files.into_iter().rev().collect())
            .unwrap();
        assert!(!path.exists());
    }
}
