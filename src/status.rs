//! `newsidx status`: what the index holds, when it was last updated, and
//! whether an ingest is running now. Read-only; never takes the lock, and
//! needs no more than read access, like a search.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::indexdir::{IndexDir, LockState};
use crate::ingest::CommitPayload;
use crate::schema::{FieldName, NewsSchema, date_from_tantivy};
use crate::skiplist::{SkipList, SkippedFile};

/// The state of an index directory.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The index directory.
    pub index: PathBuf,
    /// Documents searchable now.
    pub documents: u64,
    /// Segments of the live index (fewer is faster to search).
    pub segments: usize,
    /// Bytes of the live index on disk.
    pub size_bytes: u64,
    /// Earliest article date, `YYYY-MM-DD`.
    pub first_date: Option<String>,
    /// Latest article date, `YYYY-MM-DD`.
    pub last_date: Option<String>,
    /// Documents without a date.
    pub undated: u64,
    /// What the last commit recorded about its ingest.
    pub last_commit: Option<CommitPayload>,
    /// The report of the last finished ingest (`ingest --json` output),
    /// including runs that changed nothing and so committed nothing.
    pub last_ingest: Option<serde_json::Value>,
    /// Files ingest skipped (empty, binary, too large) and skips without
    /// reporting them again until they change, by path.
    pub skipped_files: Vec<SkippedFile>,
    /// Whether an ingest holds the lock now; `None` (`null` in JSON) when
    /// this user may not read the lock file and so cannot tell.
    pub ingest_running: Option<bool>,
    /// Its process id, when known.
    pub ingest_pid: Option<u32>,
}

/// Reads the status of the index in `dir`.
///
/// # Errors
///
/// [`Error::NoIndex`] when there is none, [`Error::CurrentMissing`] when
/// `CURRENT` is lost, and the errors of opening it.
pub fn status(dir: &std::path::Path, schema: &NewsSchema) -> Result<Status> {
    let dir = IndexDir::new(dir);
    let holder = dir.lock_holder()?;
    let open = dir.open_for_search(schema)?;
    let metas = open
        .index
        .load_metas()
        .map_err(|e| Error::engine("cannot read the index metadata", e))?;
    let last_commit = metas
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let searcher = &open.searcher;
    let mut first: Option<i64> = None;
    let mut last: Option<i64> = None;
    let mut undated = 0;
    for reader in searcher.segment_readers() {
        let dates = reader
            .fast_fields()
            .date(FieldName::Date.as_str())
            .map_err(|e| Error::engine("cannot read article dates", e))?;
        for doc in reader.doc_ids_alive() {
            match dates.first(doc) {
                Some(d) => {
                    let t = d.into_timestamp_secs();
                    first = Some(first.map_or(t, |f| f.min(t)));
                    last = Some(last.map_or(t, |l| l.max(t)));
                }
                None => undated += 1,
            }
        }
    }
    let day = |t: Option<i64>| {
        t.and_then(|t| date_from_tantivy(tantivy::DateTime::from_timestamp_secs(t)))
            .map(|d| d.to_string())
    };
    let mut skipped_files: Vec<SkippedFile> = SkipList::load(&open.path).files().cloned().collect();
    skipped_files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Status {
        index: dir.root().to_owned(),
        documents: searcher.num_docs(),
        segments: searcher.segment_readers().len(),
        size_bytes: dir.size_on_disk()?,
        first_date: day(first),
        last_date: day(last),
        undated,
        last_commit,
        last_ingest: dir.last_run(),
        skipped_files,
        ingest_running: match holder {
            LockState::Free => Some(false),
            LockState::Held(_) => Some(true),
            LockState::Unknown => None,
        },
        ingest_pid: match holder {
            LockState::Held(pid) => pid,
            LockState::Free | LockState::Unknown => None,
        },
    })
}

/// `2026-11-26 09:47:02 UTC` for a Unix time in seconds.
pub fn format_unix_time(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(0);
    let day = crate::article::Date::from_days_since_epoch(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    match day {
        Some(d) => format!(
            "{d} {:02}:{:02}:{:02} UTC",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ),
        None => format!("@{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_read_as_utc() {
        assert_eq!(format_unix_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            format_unix_time(1_648_512_000 + 3_723),
            "2022-03-29 01:02:03 UTC"
        );
    }
}
