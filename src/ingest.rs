//! Ingest: walk the folders, read, decode, parse and index every article,
//! commit in batches, and report what happened.
//!
//! The pipeline: a walker thread streams candidates over a bounded channel;
//! rayon workers stat each file and compare it with what the index already
//! holds (path, size, mtime, content hash, read from fast fields at start);
//! only new or changed files are read, decoded, parsed and handed to tantivy's
//! `add_document`, after waiting while 16 MiB of text is in its queue, so
//! memory stays flat however large the archive or its articles. The first
//! few hundred documents (a few MiB of text at most) are held back until
//! the run shows its size: a run that ends with fewer (a typical cron
//! re-run) is indexed by one thread into one segment, a larger one by
//! every thread. Every `commit_every`
//! documents the writer commits, so a crash loses at most one batch of work
//! and never anything committed; a re-run finds the committed files
//! unchanged and goes on.
//! Documents whose files are gone are deleted at the end, except under
//! folders that could not be read this time (an unreadable folder is not a
//! deleted one). A file the run passed over but that is still there (an
//! extension not picked this time) keeps its document.
//!
//! The library never prints: per-file problems go to [`Progress::notice`] as
//! they happen and are counted in the [`IngestReport`].

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tantivy::indexer::IndexWriterOptions;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};
use xxhash_rust::xxh3::xxh3_64;

use crate::article::{self, ParseWarning};
use crate::cluster::Clusterer;
use crate::decode::{self, DecodeError};
use crate::error::{Error, Result};
use crate::hashdir::{HashDir, Keyed};
use crate::indexdir::{IndexDir, MANAGED_FILE, META_FILE};
use crate::open::Opener;
use crate::schema::{FieldName, FileInfo, NewsSchema};
use crate::sketch::Sketch;
use crate::skiplist::{SkipList, SkippedFile};
use crate::walk::{self, Candidate, Root, WalkEvent, WalkOptions};

/// Default total memory budget of tantivy's indexing threads, in bytes.
pub const DEFAULT_MEMORY_BUDGET: usize = 128 * 1024 * 1024;
/// Default number of documents between commits.
pub const DEFAULT_COMMIT_EVERY: u64 = 50_000;
/// Default largest file ingested, in bytes.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// Everything an ingest run needs to know.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Folders (or files) to ingest.
    pub paths: Vec<PathBuf>,
    /// The index directory.
    pub index_dir: PathBuf,
    /// The schema.
    pub schema: NewsSchema,
    /// Extensions of candidate files, without the dot.
    pub extensions: Vec<String>,
    /// Worker threads for reading and parsing, and tantivy indexing threads.
    pub threads: usize,
    /// Total memory budget of the indexing threads, in bytes.
    pub memory_budget: usize,
    /// Documents between commits.
    pub commit_every: u64,
    /// Rebuild from scratch beside the live index, then swap.
    pub full: bool,
    /// Delete documents whose files are gone.
    pub delete_missing: bool,
    /// Follow symbolic links.
    pub follow_symlinks: bool,
    /// Skip files larger than this many bytes.
    pub max_file_size: u64,
    /// Wait for another ingest's lock: `None` fails at once, `Some(None)`
    /// waits forever, `Some(Some(d))` waits up to `d`.
    pub wait: Option<Option<Duration>>,
}

impl IngestOptions {
    /// Options with the documented defaults.
    pub fn new(paths: Vec<PathBuf>, index_dir: PathBuf, schema: NewsSchema) -> IngestOptions {
        IngestOptions {
            paths,
            index_dir,
            schema,
            extensions: vec!["txt".into()],
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            commit_every: DEFAULT_COMMIT_EVERY,
            full: false,
            delete_missing: true,
            follow_symlinks: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            wait: None,
        }
    }
}

/// Why a file was not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Empty or whitespace only.
    Empty,
    /// Not text.
    Binary,
    /// Larger than `--max-file-size`.
    TooLarge,
    /// Could not be read (permissions, I/O error, a broken link).
    Unreadable,
    /// Gone between the walk and the read.
    Vanished,
    /// A symbolic link, not followed.
    Symlink,
    /// The parser failed unexpectedly (a bug; reported, never fatal).
    Internal,
}

impl SkipReason {
    /// The reason as printed in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::Binary => "binary",
            SkipReason::TooLarge => "too large",
            SkipReason::Unreadable => "unreadable",
            SkipReason::Vanished => "vanished",
            SkipReason::Symlink => "symlink",
            SkipReason::Internal => "internal error",
        }
    }
}

/// Something worth telling the user about one file.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The file (or folder).
    pub path: PathBuf,
    /// What happened.
    pub kind: NoticeKind,
}

/// The kinds of per-file notices.
#[derive(Debug, Clone)]
pub enum NoticeKind {
    /// Not indexed.
    Skipped(SkipReason, String),
    /// Not indexed, for a reason an earlier run reported; the file has not
    /// changed since (see [`crate::skiplist`]).
    SkippedAgain(SkipReason, String),
    /// Decoded from a legacy encoding (informational).
    Legacy(&'static str),
    /// Some bytes were invalid in their encoding and were replaced.
    Lossy(&'static str),
    /// A few NUL bytes were dropped.
    Nuls(usize),
    /// The article's date header is invalid.
    BadDate(String),
    /// The file name is not valid UTF-8; the document key is a lossy copy.
    LossyName,
    /// The file changed while it was being read.
    Changed,
    /// An old generation of the index could not be deleted (the path is
    /// the index folder; the text says which generation and why).
    OldGeneration(String),
    /// `CURRENT` was missing and the one generation holding an index (the
    /// text names it) was made live again (the path is the index folder).
    CurrentRestored(String),
}

impl NoticeKind {
    /// Whether this is only of interest with `--verbose`.
    pub fn is_verbose(&self) -> bool {
        matches!(
            self,
            NoticeKind::Legacy(_)
                | NoticeKind::Skipped(SkipReason::Symlink, _)
                | NoticeKind::SkippedAgain(..)
        )
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            NoticeKind::Skipped(_, detail) => write!(f, "{path}: skipped, {detail}"),
            NoticeKind::SkippedAgain(_, detail) => {
                write!(
                    f,
                    "{path}: skipped, {detail} (unchanged since an earlier run)"
                )
            }
            NoticeKind::Legacy(enc) => write!(f, "{path}: decoded from {enc}"),
            NoticeKind::Lossy(enc) => write!(f, "{path}: invalid {enc} bytes replaced with U+FFFD"),
            NoticeKind::Nuls(n) => write!(f, "{path}: {n} NUL byte(s) dropped"),
            NoticeKind::BadDate(raw) => {
                write!(f, "{path}: {}", ParseWarning::BadDate(raw.clone()))
            }
            NoticeKind::LossyName => write!(
                f,
                "{path}: file name is not valid UTF-8; stored with U+FFFD in place of bad bytes"
            ),
            NoticeKind::Changed => write!(
                f,
                "{path}: changed while being read; will be re-read next run"
            ),
            NoticeKind::OldGeneration(cause) => write!(
                f,
                "{path}: an old index generation was left in place ({cause}); the next ingest removes it"
            ),
            NoticeKind::CurrentRestored(generation) => write!(
                f,
                "{path}: CURRENT was missing; {generation}, the only generation holding an index, is live again"
            ),
        }
    }
}

/// Receives progress as the ingest runs. All methods default to no-ops.
pub trait Progress: Sync {
    /// The walker has found `candidates` files so far.
    fn found(&self, _candidates: u64) {}
    /// The walk is over: `candidates` files in all.
    fn walk_finished(&self, _candidates: u64) {}
    /// One candidate is done (indexed, unchanged or skipped); `bytes` were read.
    fn file_done(&self, _bytes: u64) {}
    /// Something about one file.
    fn notice(&self, _notice: &Notice) {}
    /// A commit starts.
    fn committing(&self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Time spent per stage, summed over threads.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTimes {
    /// Walking the folders (walker thread).
    pub walk_ms: u64,
    /// stat and read calls.
    pub read_ms: u64,
    /// Hashing, decoding and parsing.
    pub parse_ms: u64,
    /// Building documents and handing them to tantivy (includes waiting
    /// while tantivy's queue is full).
    pub index_ms: u64,
    /// Commits, including the final merge wait.
    pub commit_ms: u64,
    /// Sketching bodies and looking up earlier copies of each story (the
    /// lookups also count in `index_ms`).
    pub cluster_ms: u64,
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// The index directory.
    pub index: PathBuf,
    /// Unix time the run started, in seconds.
    pub started_at: u64,
    /// Unix time the run finished, in seconds.
    pub finished_at: u64,
    /// Whether this was a `--full` rebuild.
    pub full: bool,
    /// Files considered.
    pub files: u64,
    /// New documents.
    pub added: u64,
    /// Documents re-indexed because their file changed.
    pub updated: u64,
    /// Documents removed because their file is gone.
    pub deleted: u64,
    /// Files already indexed and unchanged.
    pub unchanged: u64,
    /// Files not indexed.
    pub skipped: u64,
    /// `skipped`, by reason.
    pub skipped_by_reason: BTreeMap<SkipReason, u64>,
    /// Of `skipped`, files an earlier run skipped and reported that have
    /// not changed since: counted, not read, reported only with
    /// `--verbose`.
    pub skipped_again: u64,
    /// Files decoded from a legacy (non-Unicode) encoding.
    pub legacy_encoding: u64,
    /// Files with invalid bytes replaced.
    pub lossy: u64,
    /// Warnings reported (skips, bad dates, ...).
    pub warnings: u64,
    /// Bytes read from article files.
    pub bytes_read: u64,
    /// Documents in the index after the run.
    pub documents: u64,
    /// Commits made.
    pub commits: u64,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
    /// Indexed (added + updated) documents per second.
    pub docs_per_sec: f64,
    /// Megabytes (10^6 bytes) read per second.
    pub mb_per_sec: f64,
    /// Where the time went.
    pub stages: StageTimes,
}

impl IngestReport {
    /// Documents indexed in this run.
    pub fn indexed(&self) -> u64 {
        self.added + self.updated
    }
}

/// What the last commit recorded, for `newsidx status`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CommitPayload {
    /// Unix time of the commit, in seconds.
    pub committed_at: u64,
    /// Unix time the ingest started, in seconds.
    pub started_at: u64,
    /// Whether this was the ingest's final commit.
    pub finished: bool,
    /// The run's counts at this commit.
    pub summary: serde_json::Value,
}

/// Runs an ingest.
///
/// # Errors
///
/// [`Error::Usage`] for an empty extension list or an empty extension in
/// it and [`Error::NoSuchInput`] for a missing folder (both before
/// anything is touched), [`Error::Locked`] when another ingest runs, and
/// any error that stops the commit; the last committed index is then left
/// as it was.
pub fn ingest(opts: &IngestOptions, progress: &dyn Progress) -> Result<IngestReport> {
    check_extensions(&opts.extensions)?;
    set_malloc_threshold(Load::Full);
    let started = Instant::now();
    let started_at = unix_now();
    let roots = walk::resolve_roots(&opts.paths).map_err(|(path, e)| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NoSuchInput { path },
        _ => Error::io(path, e),
    })?;
    let dir = IndexDir::new(&opts.index_dir);
    let lock = dir.lock(opts.wait)?;
    let (index, generation, restored) = if opts.full {
        let (index, generation) = lock.open_rebuild(&opts.schema)?;
        (index, generation, false)
    } else {
        lock.open_live(&opts.schema)?
    };
    // Leftovers of a crashed or superseded rebuild; a --full run keeps (and
    // resumes) its own generation. One that cannot be deleted costs disk
    // space, not data: a warning, and the next run tries again.
    let not_removed = lock.remove_other_generations(Some(generation)).err();

    // One reader for the run, reloaded by hand: tantivy's default starts a
    // thread that watches `meta.json`, and every reader opens every
    // segment's files. Three readers were about 1 ms, 3-4%, of a no-change
    // re-run of the corpus.
    let reader: IndexReader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()
        .map_err(|e| {
            Error::engine(
                format!("cannot read the index in {}", dir.root().display()),
                e,
            )
        })?;
    let searcher = reader.searcher();
    let clusters =
        Clusterer::new(&reader, &opts.schema).map_err(|e| damaged(&opts.index_dir, e))?;
    let generation_dir = lock.dir().generation_path(generation);
    let skipped_before = SkipList::load(&generation_dir);

    let run = Run {
        opts,
        roots: &roots,
        known: OnceLock::new(),
        skipped_before: &skipped_before,
        skipped_now: Mutex::new(Vec::new()),
        clusters: &clusters,
        index: &index,
        writer: RwLock::new(None),
        queue: Arc::default(),
        held: Mutex::new(Some(Held::default())),
        progress,
        counters: Counters::default(),
        failure: Mutex::new(None),
        stop: AtomicBool::new(false),
        commit_gate: Mutex::new(()),
        since_commit: AtomicU64::new(0),
        deletes_since_commit: AtomicU64::new(0),
        started_at,
        unreadable_dirs: Mutex::new(Vec::new()),
    };
    if restored {
        run.notice(
            dir.root(),
            NoticeKind::CurrentRestored(generation.dir_name()),
        );
    }
    if let Some(e) = not_removed {
        run.notice(dir.root(), NoticeKind::OldGeneration(e.to_string()));
    }
    if let Err(e) = run.process_all(&searcher).and_then(|()| run.release_hold()) {
        return Err(cause_of_failure(run.writer, e, dir.root()));
    }

    // Files a killed run left behind are collected when the writer opens;
    // a run with nothing to write opens it only for them.
    let idle = run.writer.read().is_ok_and(|w| w.is_none());
    if idle && has_orphans(&index) {
        drop(run.writer()?);
    }
    if opts.delete_missing {
        let deleted = run.delete_missing(&roots, &searcher)?;
        run.counters.deleted.fetch_add(deleted, Ordering::Relaxed);
        run.deletes_since_commit
            .fetch_add(deleted, Ordering::Relaxed);
    }

    let commit_start = Instant::now();
    let pending =
        run.since_commit.load(Ordering::Relaxed) + run.deletes_since_commit.load(Ordering::Relaxed);
    let skipped = run.skip_list(&roots, &skipped_before);
    let Run {
        writer,
        counters,
        known,
        ..
    } = run;
    let writer = writer
        .into_inner()
        .map_err(|_| internal("index writer lock poisoned"))?;
    // A run that changed nothing leaves the index files alone: no writer,
    // no commit, no fsync, so a no-op cron run costs a walk and a stat per
    // file.
    let committed = pending > 0 || opts.full;
    let writer = match writer {
        None if committed => Some(open_writer(&index, opts, Load::Small)?),
        open_or_not_needed => open_or_not_needed,
    };
    let before: Vec<_> = searcher
        .segment_readers()
        .iter()
        .map(|r| r.segment_id())
        .collect();
    // Freed before the last merges, which map their inputs: at a million
    // articles the band tables alone are 64 MB, and the merges at the end
    // made the run's peak.
    drop((clusters, known, searcher));
    if let Some(mut writer) = writer {
        if committed {
            writer.set_merge_policy(Box::new(BoundedMergePolicy::finishing(before)));
            let summary = counters.to_report(opts, started.elapsed());
            commit(
                &mut writer,
                dir.root(),
                started_at,
                true,
                &summary,
                progress,
            )?;
        }
        writer.wait_merging_threads().map_err(|e| {
            Error::engine(
                format!("cannot finish merging segments in {}", dir.root().display()),
                e,
            )
        })?;
    }
    if opts.full {
        lock.publish(generation)?;
        // The rebuild is live now: failing to delete the generation it
        // replaced must not report it as failed.
        if let Err(e) = lock.remove_other_generations(None) {
            tell(
                &counters,
                progress,
                dir.root(),
                NoticeKind::OldGeneration(e.to_string()),
            );
        }
    }
    // A list that cannot be written costs the next run a second report of
    // the files on it, nothing else: not worth failing this run for.
    let _ = skipped_before.store(&generation_dir, skipped);
    let documents = count_documents(&index)?;
    let mut report = counters.to_report(opts, started.elapsed());
    report.stages.commit_ms += ms(commit_start.elapsed());
    report.commits += u64::from(committed);
    report.documents = documents;
    report.started_at = started_at;
    report.finished_at = unix_now();
    lock.record_last_run(&report);
    Ok(report)
}

/// Passes a notice on, counting it as a warning unless it is verbose-only.
fn tell(counters: &Counters, progress: &dyn Progress, path: &Path, kind: NoticeKind) {
    if !kind.is_verbose() {
        counters.warnings.fetch_add(1, Ordering::Relaxed);
    }
    progress.notice(&Notice {
        path: path.to_owned(),
        kind,
    });
}

/// When tantivy's indexing thread dies (a full disk, most often),
/// `add_document` only says that it died; the cause is returned when the
/// thread is joined, which `prepare_commit` does. Nothing is committed: the
/// prepared commit is aborted.
fn cause_of_failure(writer: RwLock<Option<Writer>>, e: Error, root: &Path) -> Error {
    if !matches!(&e, Error::Engine { context, .. } if context.starts_with("cannot index")) {
        return e;
    }
    let Ok(Some(mut writer)) = writer.into_inner() else {
        return e;
    };
    match writer.prepare_commit() {
        Err(cause) => Error::engine(
            format!("cannot write the index in {}", root.display()),
            cause,
        ),
        Ok(prepared) => {
            let _ = prepared.abort();
            e
        }
    }
}

/// What a writer is opened for.
#[derive(Clone, Copy)]
enum Load {
    /// Fewer than [`HELD_DOCS`] documents, or deletions only: one thread
    /// with tantivy's smallest budget. The budget sizes the term table each
    /// thread allocates and fills up front; at the default it took a few
    /// milliseconds of a 1% re-run.
    Small,
    /// Everything the options allow.
    Full,
}

/// Smallest memory budget tantivy accepts per indexing thread.
const MIN_THREAD_BUDGET: usize = 15_000_000;

/// Sets glibc's threshold from which a block gets a memory map of its own
/// (and so goes back to the system when freed) for a writer with `load`;
/// a fixed threshold also stops glibc from raising it on its own.
///
/// - Full: 128 KiB, glibc's initial one. tantivy builds each segment in
///   1 MiB arena pages and frees them all when it writes the segment; once
///   glibc had raised its threshold past them, they came from the heap,
///   where freed ones stayed with the process and the heap grew with every
///   segment. Fixed, the peak RSS of a `--scale 10` ingest fell from
///   211-252 MB to 172-201 MB (six runs each), in the same time.
/// - Small: 1 MiB. A small run writes one small segment, where the cost is
///   the other way round: writing a segment builds a term dictionary per
///   field, each with a 960,000-byte table, which, mapped on its own, was
///   faulted in afresh for every field. From the heap the tables reuse
///   each other's pages: 1,300 fewer page faults in a cron run that
///   re-indexes 1% of the corpus, 3.6 ms (6%) of it. Arena pages, 1 MiB,
///   are still mapped on their own.
fn set_malloc_threshold(load: Load) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold: libc::c_int = match load {
            Load::Small => 1 << 20,
            Load::Full => 128 * 1024,
        };
        // SAFETY: mallopt only sets a tuning parameter, under glibc's own
        // lock; glibc changes this one itself while threads allocate.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, threshold);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = load;
}

/// Opens the writer and collects the files a crash left behind that no
/// commit references.
fn open_writer(index: &Index, opts: &IngestOptions, load: Load) -> Result<Writer> {
    set_malloc_threshold(load);
    let (threads, per_thread) = match load {
        Load::Small => (1, MIN_THREAD_BUDGET),
        Load::Full => {
            let threads = opts.threads.clamp(1, 8);
            (
                threads,
                (opts.memory_budget / threads).max(MIN_THREAD_BUDGET),
            )
        }
    };
    // One merge at a time: merges read their input segments through memory
    // maps, so concurrent merges would add up in the resident set.
    let options = IndexWriterOptions::builder()
        .num_worker_threads(threads)
        .memory_budget_per_thread(per_thread)
        .num_merge_threads(1)
        .build();
    let writer: Writer = index
        .writer_with_options(options)
        .map_err(|e| Error::engine("cannot open the index for writing", e))?;
    writer.set_merge_policy(Box::new(BoundedMergePolicy::default()));
    use_up_first_opstamp(&writer, opts.schema.fields.path);
    let _ = writer.garbage_collect_files().wait();
    Ok(writer)
}

/// Whether tantivy's list of the files it created names one that the last
/// commit does not use: what a killed run leaves behind, and what the
/// writer's garbage collection deletes. An index without a readable list
/// has nothing tantivy would collect.
fn has_orphans(index: &Index) -> bool {
    let managed = Path::new(MANAGED_FILE);
    let Ok(bytes) = tantivy::Directory::atomic_read(index.directory(), managed) else {
        return false;
    };
    let Ok(managed) = serde_json::from_slice::<Vec<PathBuf>>(&bytes) else {
        return false;
    };
    let Ok(meta) = index.load_metas() else {
        return true;
    };
    let living = meta.list_segment_files();
    managed
        .iter()
        .any(|p| p != Path::new(META_FILE) && !living.contains(p))
}

/// Works around a tantivy 0.27 bug that lost updates: a new writer numbers
/// its first operation with the opstamp of the last commit, so when that
/// operation is a delete (an updated file's old version), a merge started
/// before this run's first commit can treat the delete as already applied
/// to some of its segments and keep the old version beside the new one.
/// A delete that matches no document (no path holds a NUL) takes that
/// number instead. Found by the kill -9 cron test; reproduced with tantivy
/// alone by `first_delete_of_a_session_survives_a_merge` below.
fn use_up_first_opstamp<D: tantivy::Document>(
    writer: &IndexWriter<D>,
    path: tantivy::schema::Field,
) {
    writer.delete_term(Term::from_field_text(path, "\u{0}"));
}

/// Documents a merge may combine; also the largest segment merges produce.
/// A merge maps its input segments whole, so this bounds an ingest's peak
/// memory whatever the size of the archive.
const MAX_MERGED_DOCS: u32 = 100_000;

/// tantivy's log merge policy with a cap: segments are grouped in levels of
/// similar size (as `LogMergePolicy` does), a level with at least
/// `min_segments` segments is merged in groups of at most
/// [`MAX_MERGED_DOCS`] live documents, and segments past half the cap are
/// left alone. Levels keep a cron run that changed 1% of an archive from
/// rewriting its big segments; the cap keeps a merge's memory bounded
/// whatever the size of the archive, which tantivy's default (merging up to
/// ten million documents) does not. A segment that lost a third of its
/// documents to updates is merged again to reclaim the space.
///
/// At a run's last commit the policy also tidies up after the run (see
/// [`BoundedMergePolicy::tidy`]).
#[derive(Debug)]
struct BoundedMergePolicy {
    min_segments: usize,
    /// At the last commit: the segments that were there before the run.
    before: Option<std::collections::HashSet<tantivy::index::SegmentId>>,
}

impl Default for BoundedMergePolicy {
    fn default() -> Self {
        BoundedMergePolicy {
            min_segments: 4,
            before: None,
        }
    }
}

impl BoundedMergePolicy {
    /// The policy for a run's last commit, `before` being the segments the
    /// run started with.
    fn finishing(before: impl IntoIterator<Item = tantivy::index::SegmentId>) -> Self {
        BoundedMergePolicy {
            before: Some(before.into_iter().collect()),
            ..BoundedMergePolicy::default()
        }
    }

    /// Once the levels have nothing to merge, and more than two segments
    /// are below the cap: the segments this run wrote, smallest first, in
    /// groups within the cap. Each search pays for every segment (its files
    /// opened, its dictionaries and columns read), and levels of four leave
    /// up to three segments a level: `--scale 10` ended in five segments
    /// (99k, 74k, 27k, 19k and 18k documents), and the harness queries took
    /// 11-17% longer than on the three left by merging the three smallest,
    /// which made the ingest 15% longer. Only this run's segments are
    /// merged, so a cron run, which writes one small segment, merges
    /// nothing more. Two segments are left as they are: merging the
    /// corpus's two (12k documents each) made its ingest 48% longer and its
    /// searches 8% shorter.
    fn tidy(
        &self,
        segments: &[tantivy::index::SegmentMeta],
    ) -> Vec<tantivy::indexer::MergeCandidate> {
        let Some(before) = &self.before else {
            return Vec::new();
        };
        let below_cap = |s: &&tantivy::index::SegmentMeta| s.num_docs() < MAX_MERGED_DOCS;
        if segments.iter().filter(below_cap).count() <= 2 {
            return Vec::new();
        }
        let mut ours: Vec<&tantivy::index::SegmentMeta> = segments
            .iter()
            .filter(below_cap)
            .filter(|s| !before.contains(&s.id()))
            .collect();
        ours.sort_by_key(|s| s.num_docs());
        let mut candidates = Vec::new();
        let mut group = Vec::new();
        let mut docs = 0;
        for s in ours {
            if docs + s.num_docs() > MAX_MERGED_DOCS {
                if group.len() >= 2 {
                    candidates.push(tantivy::indexer::MergeCandidate(std::mem::take(&mut group)));
                }
                group.clear();
                docs = 0;
            }
            docs += s.num_docs();
            group.push(s.id());
        }
        if group.len() >= 2 {
            candidates.push(tantivy::indexer::MergeCandidate(group));
        }
        candidates
    }
}

impl tantivy::indexer::MergePolicy for BoundedMergePolicy {
    fn compute_merge_candidates(
        &self,
        segments: &[tantivy::index::SegmentMeta],
    ) -> Vec<tantivy::indexer::MergeCandidate> {
        use tantivy::index::SegmentMeta;
        // Sizes within a factor 2^0.75 are one level (tantivy's default);
        // all below 1,000 documents, what a small cron run adds, are one.
        const LEVEL_LOG_SIZE: f64 = 0.75;
        const MIN_LAYER_SIZE: u32 = 1_000;
        let wasteful = |s: &SegmentMeta| s.num_deleted_docs() * 3 > s.max_doc();
        let mut small: Vec<&SegmentMeta> = segments
            .iter()
            .filter(|s| s.num_docs() < MAX_MERGED_DOCS / 2 || wasteful(s))
            .collect();
        small.sort_by_key(|s| std::cmp::Reverse(s.num_docs()));
        let log_size = |s: &SegmentMeta| f64::from(s.num_docs().max(MIN_LAYER_SIZE)).log2();
        let mut levels: Vec<Vec<&SegmentMeta>> = Vec::new();
        let mut level_top = f64::MAX;
        for s in small {
            if log_size(s) < level_top - LEVEL_LOG_SIZE || levels.is_empty() {
                level_top = log_size(s);
                levels.push(Vec::new());
            }
            if let Some(level) = levels.last_mut() {
                level.push(s);
            }
        }
        let mut candidates = Vec::new();
        for level in levels {
            if level.len() < self.min_segments && !level.iter().any(|s| wasteful(s)) {
                continue;
            }
            let mut group: Vec<&SegmentMeta> = Vec::new();
            let mut docs = 0;
            for s in level.into_iter().rev() {
                if docs + s.num_docs() > MAX_MERGED_DOCS && !group.is_empty() {
                    candidates.push(group.iter().map(|g| g.id()).collect());
                    group.clear();
                    docs = 0;
                }
                docs += s.num_docs();
                group.push(s);
            }
            if group.len() >= 2 || group.iter().any(|s| wasteful(s)) {
                candidates.push(group.iter().map(|g| g.id()).collect());
            }
        }
        if candidates.is_empty() {
            return self.tidy(segments);
        }
        candidates
            .into_iter()
            .map(tantivy::indexer::MergeCandidate)
            .collect()
    }
}

/// From the committed `meta.json`, which counts each segment's documents
/// and deletes: no segment needs opening.
fn count_documents(index: &Index) -> Result<u64> {
    let metas = index
        .searchable_segment_metas()
        .map_err(|e| Error::engine("cannot re-read the index's list of segments", e))?;
    Ok(metas.iter().map(|m| u64::from(m.num_docs())).sum())
}

/// An index whose committed segments cannot be read where ingest reads
/// them first (their paths, hashes, clusters): damaged, and rebuilding it
/// is the way out.
fn damaged(dir: &Path, e: Error) -> Error {
    match e {
        Error::Engine { context, message } => Error::Corrupt {
            dir: dir.to_owned(),
            detail: format!("{context}: {message}"),
        },
        other => other,
    }
}

fn internal(what: &str) -> Error {
    Error::Engine {
        context: "internal error".into(),
        message: what.into(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn commit(
    writer: &mut Writer,
    root: &Path,
    started_at: u64,
    finished: bool,
    summary: &IngestReport,
    progress: &dyn Progress,
) -> Result<()> {
    progress.committing();
    let payload = CommitPayload {
        committed_at: unix_now(),
        started_at,
        finished,
        summary: serde_json::to_value(summary).unwrap_or(serde_json::Value::Null),
    };
    let payload = serde_json::to_string(&payload).unwrap_or_default();
    let context = || format!("cannot commit to the index in {}", root.display());
    let mut prepared = writer
        .prepare_commit()
        .map_err(|e| Error::engine(context(), e))?;
    prepared.set_payload(&payload);
    prepared.commit().map_err(|e| Error::engine(context(), e))?;
    Ok(())
}

/// What the index holds before the run: one entry per document, sorted by
/// the hash of its path, so a million documents take 40 bytes each (and
/// at most 4 more for the bucket directory).
struct Known {
    entries: HashDir<KnownDoc>,
    /// Parallel to `entries`.
    seen: Vec<AtomicBool>,
}

#[derive(Debug, Clone, Copy)]
struct KnownDoc {
    path_hash: u64,
    size: u64,
    mtime: i64,
    hash: u64,
    segment: u32,
    doc: u32,
}

impl Keyed for KnownDoc {
    fn key(&self) -> u64 {
        self.path_hash
    }
}

impl Known {
    fn load(searcher: &Searcher) -> Result<Known> {
        let err = |e| Error::engine("cannot read the document list of the index", e);
        let name = |f: FieldName| f.as_str();
        let mut entries = Vec::with_capacity(usize::try_from(searcher.num_docs()).unwrap_or(0));
        for (segment, reader) in searcher.segment_readers().iter().enumerate() {
            let ff = reader.fast_fields();
            let Some(paths) = ff.str(name(FieldName::Path)).map_err(err)? else {
                continue;
            };
            let sizes = ff.u64(name(FieldName::Size)).map_err(err)?;
            let mtimes = ff.i64(name(FieldName::Mtime)).map_err(err)?;
            let hashes = ff.u64(name(FieldName::Hash)).map_err(err)?;
            // Hash each distinct path once, in dictionary order.
            let mut ord_hash = Vec::with_capacity(paths.num_terms());
            let mut stream = paths.dictionary().stream().map_err(|e| err(e.into()))?;
            while stream.advance() {
                ord_hash.push(xxh3_64(stream.key()));
            }
            for doc in reader.doc_ids_alive() {
                let Some(ord) = paths.term_ords(doc).next() else {
                    continue;
                };
                let Some(&path_hash) = usize::try_from(ord).ok().and_then(|o| ord_hash.get(o))
                else {
                    continue;
                };
                entries.push(KnownDoc {
                    path_hash,
                    size: sizes.first(doc).unwrap_or(0),
                    mtime: mtimes.first(doc).unwrap_or(0),
                    hash: hashes.first(doc).unwrap_or(0),
                    segment: u32::try_from(segment).unwrap_or(u32::MAX),
                    doc,
                });
            }
        }
        Ok(Known::new(entries))
    }

    fn new(entries: Vec<KnownDoc>) -> Known {
        let seen = (0..entries.len()).map(|_| AtomicBool::new(false)).collect();
        Known {
            entries: HashDir::new(entries),
            seen,
        }
    }

    /// Entries for a path, marked as seen. A file can have more than one
    /// (a crash between a delete and its commit never leaves two, but an
    /// older index might); all of them are compared.
    fn lookup(&self, path_hash: u64) -> &[KnownDoc] {
        let range = self.entries.range(path_hash, path_hash);
        for seen in &self.seen[range.clone()] {
            seen.store(true, Ordering::Relaxed);
        }
        &self.entries.entries()[range]
    }

    fn unseen(&self) -> impl Iterator<Item = &KnownDoc> {
        self.entries
            .entries()
            .iter()
            .zip(&self.seen)
            .filter(|(_, s)| !s.load(Ordering::Relaxed))
            .map(|(e, _)| e)
    }
}

#[derive(Default)]
struct Counters {
    files: AtomicU64,
    added: AtomicU64,
    updated: AtomicU64,
    deleted: AtomicU64,
    unchanged: AtomicU64,
    skipped: [AtomicU64; 7],
    skipped_again: AtomicU64,
    legacy: AtomicU64,
    lossy: AtomicU64,
    warnings: AtomicU64,
    bytes: AtomicU64,
    commits: AtomicU64,
    walk_ns: AtomicU64,
    read_ns: AtomicU64,
    parse_ns: AtomicU64,
    index_ns: AtomicU64,
    commit_ns: AtomicU64,
    cluster_ns: AtomicU64,
}

const REASONS: [SkipReason; 7] = [
    SkipReason::Empty,
    SkipReason::Binary,
    SkipReason::TooLarge,
    SkipReason::Unreadable,
    SkipReason::Vanished,
    SkipReason::Symlink,
    SkipReason::Internal,
];

impl Counters {
    fn to_report(&self, opts: &IngestOptions, elapsed: Duration) -> IngestReport {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let skipped_by_reason: BTreeMap<SkipReason, u64> = REASONS
            .iter()
            .zip(&self.skipped)
            .map(|(r, n)| (*r, get(n)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let added = get(&self.added);
        let updated = get(&self.updated);
        let bytes = get(&self.bytes);
        let to_ms = |a: &AtomicU64| get(a) / 1_000_000;
        IngestReport {
            index: opts.index_dir.clone(),
            started_at: 0,
            finished_at: 0,
            full: opts.full,
            files: get(&self.files),
            added,
            updated,
            deleted: get(&self.deleted),
            unchanged: get(&self.unchanged),
            skipped: skipped_by_reason.values().sum(),
            skipped_by_reason,
            skipped_again: get(&self.skipped_again),
            legacy_encoding: get(&self.legacy),
            lossy: get(&self.lossy),
            warnings: get(&self.warnings),
            bytes_read: bytes,
            documents: 0,
            commits: get(&self.commits),
            elapsed_ms: ms(elapsed),
            docs_per_sec: (added + updated) as f64 / secs,
            mb_per_sec: bytes as f64 / 1e6 / secs,
            stages: StageTimes {
                walk_ms: to_ms(&self.walk_ns),
                read_ms: to_ms(&self.read_ns),
                parse_ms: to_ms(&self.parse_ns),
                index_ms: to_ms(&self.index_ns),
                commit_ms: to_ms(&self.commit_ns),
                cluster_ms: to_ms(&self.cluster_ns),
            },
        }
    }
}

fn add_ns(counter: &AtomicU64, since: Instant) {
    counter.fetch_add(
        u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// The shared state of one run.
struct Run<'a> {
    opts: &'a IngestOptions,
    roots: &'a [Root],
    /// Loaded while the walk starts (see [`Run::process_all`]).
    known: OnceLock<Known>,
    /// Files earlier runs skipped, and those this run skips for good.
    skipped_before: &'a SkipList,
    skipped_now: Mutex<Vec<SkippedFile>>,
    clusters: &'a Clusterer,
    index: &'a Index,
    /// Opened when the hold is released, or by the first deletion after
    /// the files are done (see [`Run::with_sink`], [`Run::writer`]).
    writer: RwLock<Option<Writer>>,
    /// Text waiting in the writer's queue.
    queue: Arc<Queue>,
    /// Operations held back until the run shows its size; `None` once
    /// released.
    held: Mutex<Option<Held>>,
    progress: &'a dyn Progress,
    counters: Counters,
    failure: Mutex<Option<Error>>,
    stop: AtomicBool,
    commit_gate: Mutex<()>,
    since_commit: AtomicU64,
    /// Deletions not yet committed.
    deletes_since_commit: AtomicU64,
    started_at: u64,
    unreadable_dirs: Mutex<Vec<PathBuf>>,
}

/// Documents a run holds back before it opens the writer. A run that ends
/// with fewer (a typical cron re-run) indexes them with one thread: one
/// segment instead of one per thread, so fewer files to write and sync
/// and fewer small segments to merge later. A larger run opens every
/// thread and loses nothing but the brief delay before the first documents
/// reach tantivy.
const HELD_DOCS: u64 = 500;
/// Text a run holds back at most: a few hundred large files must not be
/// held in memory, which tantivy's bounded queue would not have done.
const HELD_BYTES: u64 = 8 << 20;

/// Index operations in the order the run made them, before the writer is
/// open. Nothing here is committed, so a crash loses no more than it would
/// lose from tantivy's own queue.
#[derive(Default)]
struct Held {
    ops: Vec<Op>,
    docs: u64,
    /// The held documents' file sizes.
    bytes: u64,
}

impl Held {
    /// Whether the run has shown itself large: time to open every thread.
    fn is_full(&self, max_docs: u64) -> bool {
        self.docs >= max_docs || self.bytes >= HELD_BYTES
    }
}

enum Op {
    Delete(Term),
    /// A document and its file's size.
    Add(TantivyDocument, u64),
}

/// Where a worker's index operations go.
enum Sink<'a> {
    Writer(&'a Writer, &'a Arc<Queue>),
    Held(&'a mut Held),
}

impl Sink<'_> {
    fn delete_term(&mut self, term: Term) {
        match self {
            Sink::Writer(w, _) => {
                w.delete_term(term);
            }
            Sink::Held(h) => h.ops.push(Op::Delete(term)),
        }
    }

    /// Adds a document made from a file of `size` bytes.
    fn add_document(&mut self, doc: TantivyDocument, size: u64) -> tantivy::Result<()> {
        match self {
            Sink::Writer(w, queue) => w.add_document(queue.enter(doc, size)).map(drop),
            Sink::Held(h) => {
                h.ops.push(Op::Add(doc, size));
                h.docs += 1;
                h.bytes += size;
                Ok(())
            }
        }
    }
}

/// tantivy's writer, fed documents that count themselves out of the queue.
type Writer = IndexWriter<QueuedDoc>;

/// Text that may wait in tantivy's queue of documents to index. Its own
/// bound is 10,000 documents whatever their size: 1,200 articles of 1 MB
/// took 1.1 GB of memory, and at the 4 MiB file limit the queue could
/// have held 40 GB. 16 MiB is about a second of indexing work, and more
/// than 10,000 articles of the usual size, so only long ones meet it.
const QUEUED_BYTES: u64 = 16 << 20;

/// The bytes of text in tantivy's queue: added before a document is
/// handed over, taken off when tantivy drops it, indexed.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    drained: Condvar,
}

#[derive(Default)]
struct QueueState {
    bytes: u64,
    /// Documents taken off so far: whether tantivy made progress.
    taken: u64,
}

/// How long a worker waits for tantivy to take a document before it hands
/// its own over anyway. A writer whose indexing threads died (a full disk)
/// takes nothing, and its queued documents are only dropped with it; the
/// worker's `add_document` then fails, and the run reports the cause.
const QUEUE_STALL: Duration = Duration::from_secs(1);

impl Queue {
    /// Waits until `size` more bytes fit, looking again when the queue is
    /// down to half or empty (a document larger than the bound waits for
    /// an empty queue), or until tantivy has taken nothing for
    /// [`QUEUE_STALL`]; then counts them in.
    fn enter(self: &Arc<Self>, doc: TantivyDocument, size: u64) -> QueuedDoc {
        // Nothing panics while holding the lock: a poisoned one is as good.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.bytes > 0 && state.bytes + size > QUEUED_BYTES {
            let taken = state.taken;
            let (next, wait) = self
                .drained
                .wait_timeout(state, QUEUE_STALL)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            if wait.timed_out() && state.taken == taken {
                break;
            }
        }
        state.bytes += size;
        QueuedDoc(Box::new((
            doc,
            Queued {
                queue: Arc::clone(self),
                size,
            },
        )))
    }
}

/// A document's place in the [`Queue`], given up when it is dropped.
struct Queued {
    queue: Arc<Queue>,
    size: u64,
}

impl Drop for Queued {
    /// Wakes the waiting workers once the queue is down to half: waking
    /// them at every document doubled an ingest's context switches and
    /// cost 13% of its CPU time on the corpus.
    fn drop(&mut self) {
        let mut state = self.queue.state.lock().unwrap_or_else(|e| e.into_inner());
        let before = state.bytes;
        state.bytes = before.saturating_sub(self.size);
        state.taken += 1;
        let half = QUEUED_BYTES / 2;
        if before > half && state.bytes <= half || state.bytes == 0 {
            self.queue.drained.notify_all();
        }
    }
}

/// A document in tantivy's queue. tantivy drops it once indexed (or when
/// its thread dies), which frees its place.
///
/// Boxed: tantivy's writer allocates its channel of documents, 10,000
/// slots of four documents each, when it opens and again at every commit,
/// and touches every slot. A document held in place made a slot about 300
/// bytes, 3 MB to fault in twice per run, which was about 2 ms of a cron
/// run that re-indexes 1% of the corpus; boxed, a slot is 80 bytes.
struct QueuedDoc(Box<(TantivyDocument, Queued)>);

impl tantivy::Document for QueuedDoc {
    type Value<'a> = <TantivyDocument as tantivy::Document>::Value<'a>;
    type FieldsValuesIter<'a> = <TantivyDocument as tantivy::Document>::FieldsValuesIter<'a>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        self.0.0.iter_fields_and_values()
    }

    fn into_tantivy_document(self) -> TantivyDocument {
        let (doc, queued) = *self.0;
        drop(queued);
        doc
    }
}

/// What happened to one candidate.
enum Outcome {
    Unchanged,
    Indexed { replaced: bool },
    Skipped(SkipReason, String),
    SkippedAgain(SkipReason, String),
}

impl Run<'_> {
    /// Walks, reads and indexes every file. What the index already holds
    /// is loaded from `searcher` once the walker has started, which fills
    /// its channel meanwhile: the load takes about 2 ms for the corpus, and
    /// overlapped, a re-run with nothing changed took 31.5 instead of 32.8
    /// ms (medians of 80 alternating runs).
    fn process_all(&self, searcher: &Searcher) -> Result<()> {
        let roots = self.roots;
        // Batches keep channel traffic low; the bound keeps the walker a
        // few thousand files ahead of the workers, no more.
        const BATCH: usize = 64;
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Candidate>>(64);
        let walk_opts = WalkOptions {
            extensions: self.opts.extensions.clone(),
            follow_symlinks: self.opts.follow_symlinks,
        };
        let threads = self.opts.threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("newsidx-read-{i}"))
            .build()
            .map_err(|e| internal(&format!("cannot start worker threads: {e}")))?;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let start = Instant::now();
                let mut found = 0u64;
                let mut batch = Vec::with_capacity(BATCH);
                walk::walk(roots, &walk_opts, |event| {
                    if self.stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    match event {
                        WalkEvent::File(c) => {
                            found += 1;
                            batch.push(c);
                            if batch.len() == BATCH {
                                self.progress.found(found);
                                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                                return tx.send(full).is_ok();
                            }
                        }
                        WalkEvent::Symlink(path) => {
                            self.counters.files.fetch_add(1, Ordering::Relaxed);
                            self.skip(
                                &path,
                                SkipReason::Symlink,
                                "symbolic link not followed (use --follow-symlinks)".into(),
                            );
                        }
                        WalkEvent::Error {
                            path,
                            reason,
                            is_dir,
                        } => {
                            if is_dir && let Ok(mut dirs) = self.unreadable_dirs.lock() {
                                dirs.push(path.clone());
                            }
                            self.skip(&path, SkipReason::Unreadable, reason);
                        }
                    }
                    true
                });
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                drop(tx);
                add_ns(&self.counters.walk_ns, start);
                self.progress.walk_finished(found);
            });
            match Known::load(searcher).map_err(|e| damaged(&self.opts.index_dir, e)) {
                Ok(known) => {
                    let _ = self.known.set(known);
                }
                Err(e) => {
                    self.fail(e);
                    // Unblocks a walker waiting on a full channel.
                    drop(rx);
                    return;
                }
            }
            // One long-lived task per worker pulling batches: no work
            // stealing needed, and no spinning while the walker catches up.
            pool.scope(|s| {
                for _ in 0..threads {
                    s.spawn(|_| {
                        let mut opener = Opener::default();
                        for batch in rx.iter() {
                            for candidate in &batch {
                                if self.stop.load(Ordering::Relaxed) {
                                    return;
                                }
                                self.handle(candidate, &mut opener);
                            }
                        }
                    });
                }
            });
        });
        match self.failure.lock().ok().and_then(|mut f| f.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// What the index held before the run; loaded before any worker starts.
    fn known(&self) -> Result<&Known> {
        self.known
            .get()
            .ok_or_else(|| internal("the index's document list is not loaded"))
    }

    fn fail(&self, e: Error) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(e);
        }
    }

    fn notice(&self, path: &Path, kind: NoticeKind) {
        tell(&self.counters, self.progress, path, kind);
    }

    fn skip(&self, path: &Path, reason: SkipReason, detail: String) {
        self.count_skip(reason);
        self.notice(path, NoticeKind::Skipped(reason, detail));
    }

    fn count_skip(&self, reason: SkipReason) {
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            self.counters.skipped[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Puts a file skipped for a reason that lasts while it does not
    /// change on the list the next run reads.
    fn remember(&self, file: SkippedFile) {
        if let Ok(mut list) = self.skipped_now.lock() {
            list.push(file);
        }
    }

    /// The skip list to leave for the next run: this run's, and the
    /// entries of files this run did not look at (outside its folders, or
    /// in one it could not read), as for [`Run::delete_missing`]. A file
    /// this run skipped was looked at, so no entry is kept twice.
    fn skip_list(&self, roots: &[Root], before: &SkipList) -> Vec<SkippedFile> {
        let mut now = self
            .skipped_now
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let unreadable = self.unreadable_dirs();
        now.extend(
            before
                .files()
                .filter(|f| !looked_at(Path::new(&f.path), roots, &unreadable))
                .cloned(),
        );
        now
    }

    /// The folders this run could not read, so far.
    fn unreadable_dirs(&self) -> Vec<PathBuf> {
        self.unreadable_dirs
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    fn handle(&self, c: &Candidate, opener: &mut Opener) {
        self.counters.files.fetch_add(1, Ordering::Relaxed);
        let before = self.counters.bytes.load(Ordering::Relaxed);
        let outcome = match catch_unwind(AssertUnwindSafe(|| self.process(c, opener))) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => {
                self.fail(e);
                return;
            }
            Err(panic) => Outcome::Skipped(
                SkipReason::Internal,
                format!(
                    "the parser panicked ({}; a bug: please report it)",
                    crate::error::panic_message(panic.as_ref())
                        .lines()
                        .next()
                        .unwrap_or("")
                ),
            ),
        };
        match outcome {
            Outcome::Unchanged => {
                self.counters.unchanged.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Indexed { replaced } => {
                let counter = if replaced {
                    &self.counters.updated
                } else {
                    &self.counters.added
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if self.since_commit.fetch_add(1, Ordering::Relaxed) + 1 >= self.opts.commit_every {
                    self.maybe_commit();
                }
            }
            Outcome::Skipped(reason, detail) => self.skip(&c.path, reason, detail),
            Outcome::SkippedAgain(reason, detail) => {
                self.count_skip(reason);
                self.counters.skipped_again.fetch_add(1, Ordering::Relaxed);
                self.notice(&c.path, NoticeKind::SkippedAgain(reason, detail));
            }
        }
        // Approximate under concurrency; it only drives the progress rate.
        let after = self.counters.bytes.load(Ordering::Relaxed);
        self.progress.file_done(after.saturating_sub(before));
    }

    /// Commits once `commit_every` documents are pending. Workers add
    /// documents under the read side of the writer lock; the commit takes
    /// the write side, so it waits for in-flight `add_document` calls and
    /// holds new ones back until it is durable.
    fn maybe_commit(&self) {
        let Ok(_gate) = self.commit_gate.try_lock() else {
            return;
        };
        if self.since_commit.load(Ordering::Relaxed) < self.opts.commit_every {
            return;
        }
        let start = Instant::now();
        let Ok(mut guard) = self.writer.write() else {
            self.fail(internal("index writer lock poisoned"));
            return;
        };
        // Documents were indexed, so the writer is open.
        let Some(writer) = guard.as_mut() else {
            return;
        };
        self.since_commit.store(0, Ordering::Relaxed);
        self.deletes_since_commit.store(0, Ordering::Relaxed);
        let summary = self.counters.to_report(self.opts, Duration::ZERO);
        let result = commit(
            writer,
            &self.opts.index_dir,
            self.started_at,
            false,
            &summary,
            self.progress,
        );
        add_ns(&self.counters.commit_ns, start);
        match result.and_then(|()| self.clusters.committed()) {
            Ok(()) => {
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.fail(e),
        }
    }

    fn process(&self, c: &Candidate, opener: &mut Opener) -> Result<Outcome> {
        let opts = self.opts;
        let t_read = Instant::now();
        // `to_str` first: it checks UTF-8 a word at a time, where
        // `to_string_lossy` goes byte by byte (8% of a no-change re-run).
        let path_str = match c.path.to_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => {
                self.notice(&c.path, NoticeKind::LossyName);
                c.path.to_string_lossy()
            }
        };
        let path_hash = xxh3_64(path_str.as_bytes());
        let known = self.known()?.lookup(path_hash);
        // A file the index does not hold may be one an earlier run skipped:
        // then its metadata decides whether to read it.
        let before = if known.is_empty() {
            self.skipped_before.get(path_hash, &path_str)
        } else {
            None
        };
        // A file the index holds is checked by its metadata first: most
        // files of a re-run are unchanged and never opened. Any other file
        // is opened at once and its metadata read from the open file,
        // which spares the kernel a second lookup of its name (statx by
        // path was 4% of a first ingest's time).
        let (stat, file) = if known.is_empty() && before.is_none() {
            match opener.open(&c.path) {
                Ok((file, stat)) => (stat, Some(file)),
                Err(e) => return Ok(io_skip(&e)),
            }
        } else {
            match opener.stat(&c.path) {
                Ok(stat) => (stat, None),
                Err(e) => return Ok(io_skip(&e)),
            }
        };
        let (size, mtime) = (stat.size, stat.mtime_ns);
        if let Some(before) = before
            && before.size == size
            && before.mtime == mtime
            && (before.reason != SkipReason::TooLarge || size > opts.max_file_size)
        {
            // The limit may be another than when it was reported.
            let detail = match before.reason {
                SkipReason::TooLarge => too_large(size, opts.max_file_size),
                _ => before.detail.clone(),
            };
            self.remember(before.clone());
            return Ok(Outcome::SkippedAgain(before.reason, detail));
        }
        let for_good = |reason, detail: String| {
            self.remember(SkippedFile {
                path: path_str.to_string(),
                size,
                mtime,
                reason,
                detail: detail.clone(),
            });
            Outcome::Skipped(reason, detail)
        };
        if let [only] = known
            && only.size == size
            && only.mtime == mtime
        {
            add_ns(&self.counters.read_ns, t_read);
            return Ok(Outcome::Unchanged);
        }
        if size > opts.max_file_size {
            return Ok(for_good(
                SkipReason::TooLarge,
                too_large(size, opts.max_file_size),
            ));
        }
        let read = match file {
            Some(f) => Ok(f),
            None => opener.open(&c.path).map(|(f, _)| f),
        }
        .and_then(|mut f| read_file(&mut f, size, opts.max_file_size));
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => return Ok(io_skip(&e)),
        };
        let mut mtime = mtime;
        if bytes.len() as u64 != size {
            if bytes.len() as u64 > opts.max_file_size {
                return Ok(Outcome::Skipped(
                    SkipReason::TooLarge,
                    "grew past --max-file-size while being read".into(),
                ));
            }
            // Store an impossible mtime so the next run re-reads it.
            self.notice(&c.path, NoticeKind::Changed);
            mtime = i64::MIN;
        }
        self.counters
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        add_ns(&self.counters.read_ns, t_read);

        let t_parse = Instant::now();
        let hash = xxh3_64(&bytes);
        if let [only] = known
            && only.hash == hash
            && only.size == bytes.len() as u64
        {
            // Touched, not changed. The stored mtime stays; the next run
            // hashes the file again, which is cheap next to re-indexing.
            add_ns(&self.counters.parse_ns, t_parse);
            return Ok(Outcome::Unchanged);
        }
        let replaced = !known.is_empty();
        let decoded = match decode::decode(&bytes) {
            Ok(d) => d,
            Err(e) => {
                if replaced {
                    // The file is no longer an article: its old text must go.
                    self.delete_path(&path_str);
                }
                let reason = match e {
                    DecodeError::Empty => SkipReason::Empty,
                    DecodeError::Binary => SkipReason::Binary,
                };
                return Ok(for_good(reason, e.to_string()));
            }
        };
        if decoded.is_legacy() {
            self.counters.legacy.fetch_add(1, Ordering::Relaxed);
            self.notice(&c.path, NoticeKind::Legacy(decoded.encoding.name()));
        }
        if decoded.lossy || decoded.nuls > 0 {
            self.counters.lossy.fetch_add(1, Ordering::Relaxed);
        }
        if decoded.lossy {
            self.notice(&c.path, NoticeKind::Lossy(decoded.encoding.name()));
        }
        if decoded.nuls > 0 {
            self.notice(&c.path, NoticeKind::Nuls(decoded.nuls));
        }
        let article = match article::parse(&decoded.text) {
            Ok(a) => a,
            Err(e) => {
                if replaced {
                    self.delete_path(&path_str);
                }
                return Ok(for_good(SkipReason::Empty, e.to_string()));
            }
        };
        for w in &article.warnings {
            match w {
                ParseWarning::BadDate(raw) => {
                    self.notice(&c.path, NoticeKind::BadDate(raw.clone()))
                }
            }
        }
        add_ns(&self.counters.parse_ns, t_parse);

        let t_cluster = Instant::now();
        let sketch = opts
            .schema
            .dedup_enabled
            .then(|| Sketch::of(&article))
            .flatten();
        add_ns(&self.counters.cluster_ns, t_cluster);

        let t_index = Instant::now();
        let id = c.id(self.roots);
        let info = FileInfo {
            path: &path_str,
            id: &id,
            size: bytes.len() as u64,
            mtime,
            hash,
        };
        self.with_sink(|sink| {
            // Under the writer lock (or the hold's), so that no commit runs
            // between looking up earlier copies and adding this one (see
            // `Clusterer::assign`).
            let t_cluster = Instant::now();
            let own = xxh3_64(path_str.as_bytes()) ^ hash.rotate_left(32);
            let cluster = sketch
                .as_ref()
                .map_or(own, |s| self.clusters.assign(s, own));
            add_ns(&self.counters.cluster_ns, t_cluster);
            let doc: TantivyDocument =
                opts.schema
                    .to_document(&article, &info, sketch.as_ref(), cluster);
            if replaced {
                sink.delete_term(Term::from_field_text(opts.schema.fields.path, &path_str));
            }
            sink.add_document(doc, info.size).map_err(|e| {
                Error::engine(
                    format!(
                        "cannot index {} into {}",
                        c.path.display(),
                        opts.index_dir.display()
                    ),
                    e,
                )
            })
        })?;
        add_ns(&self.counters.index_ns, t_index);
        Ok(Outcome::Indexed { replaced })
    }

    /// Runs `f` with the writer, or with the hold while the run is still
    /// small (see [`Held`]). The hold is released into a writer with every
    /// indexing thread once it has [`HELD_DOCS`] documents (or a commit's
    /// worth) or [`HELD_BYTES`] of text, and into a one-thread writer by
    /// [`Run::release_hold`] when the run ends smaller.
    fn with_sink<R>(&self, f: impl FnOnce(&mut Sink<'_>) -> Result<R>) -> Result<R> {
        let poisoned = || internal("index writer lock poisoned");
        {
            let guard = self.writer.read().map_err(|_| poisoned())?;
            if let Some(writer) = guard.as_ref() {
                return f(&mut Sink::Writer(writer, &self.queue));
            }
        }
        // Not under the writer's read lock: releasing the hold takes the
        // write side while holding this mutex.
        let mut held = self.held.lock().map_err(|_| poisoned())?;
        let Some(hold) = held.as_mut() else {
            // Released since the check above, so the writer is open.
            drop(held);
            let guard = self.writer.read().map_err(|_| poisoned())?;
            let Some(writer) = guard.as_ref() else {
                return Err(internal("index writer missing"));
            };
            return f(&mut Sink::Writer(writer, &self.queue));
        };
        let result = f(&mut Sink::Held(hold))?;
        if hold.is_full(HELD_DOCS.min(self.opts.commit_every)) {
            self.release(&mut held, Load::Full)?;
        }
        Ok(result)
    }

    /// Hands what the run held back to a small writer: called when the
    /// run's files are done, so the run was small.
    fn release_hold(&self) -> Result<()> {
        let mut held = self
            .held
            .lock()
            .map_err(|_| internal("index writer lock poisoned"))?;
        self.release(&mut held, Load::Small)
    }

    /// Opens the writer for `load` (unless it is open) and replays the held
    /// operations in order. Afterwards the hold is gone for good: every
    /// operation goes to the writer.
    fn release(&self, held: &mut Option<Held>, load: Load) -> Result<()> {
        let Some(hold) = held.as_ref() else {
            return Ok(());
        };
        if hold.ops.is_empty() {
            return Ok(());
        }
        let mut guard = self
            .writer
            .write()
            .map_err(|_| internal("index writer lock poisoned"))?;
        if guard.is_none() {
            *guard = Some(open_writer(self.index, self.opts, load)?);
        }
        let Some(writer) = guard.as_ref() else {
            return Err(internal("index writer missing"));
        };
        let Some(hold) = held.take() else {
            return Ok(());
        };
        for op in hold.ops {
            match op {
                Op::Delete(term) => {
                    writer.delete_term(term);
                }
                Op::Add(doc, size) => {
                    writer
                        .add_document(self.queue.enter(doc, size))
                        .map_err(|e| {
                            Error::engine(
                                format!("cannot index into {}", self.opts.index_dir.display()),
                                e,
                            )
                        })?;
                }
            }
        }
        Ok(())
    }

    /// The writer, opened on first use: a re-run that finds nothing to
    /// index or delete never starts tantivy's threads nor allocates its
    /// queue, which was a quarter of such a run's fixed cost (2.4 of 10 ms
    /// with an empty folder). Used once the files are done (after
    /// [`Run::release_hold`]), for deletions only: one thread.
    fn writer(&self) -> Result<std::sync::RwLockReadGuard<'_, Option<Writer>>> {
        let poisoned = || internal("index writer lock poisoned");
        {
            let guard = self.writer.read().map_err(|_| poisoned())?;
            if guard.is_some() {
                return Ok(guard);
            }
        }
        {
            let mut guard = self.writer.write().map_err(|_| poisoned())?;
            if guard.is_none() {
                *guard = Some(open_writer(self.index, self.opts, Load::Small)?);
            }
        }
        self.writer.read().map_err(|_| poisoned())
    }

    fn delete_path(&self, path: &str) {
        let term = Term::from_field_text(self.opts.schema.fields.path, path);
        if let Err(e) = self.with_sink(|sink| {
            sink.delete_term(term);
            Ok(())
        }) {
            return self.fail(e);
        }
        self.counters.deleted.fetch_add(1, Ordering::Relaxed);
        self.deletes_since_commit.fetch_add(1, Ordering::Relaxed);
    }

    /// Deletes documents whose files are gone: not seen by this run, under
    /// its roots, not under a folder it could not read, and no longer on
    /// disk (see [`is_gone`]). Not being seen is not enough: a file the
    /// walk passed over because this run picks other extensions (or it
    /// is now hidden, or a link not followed) still exists, and its
    /// document stays.
    fn delete_missing(&self, roots: &[Root], searcher: &Searcher) -> Result<u64> {
        let unreadable = self.unreadable_dirs();
        let mut columns = Vec::new();
        for reader in searcher.segment_readers() {
            let column = reader
                .fast_fields()
                .str(FieldName::Path.as_str())
                .map_err(|e| Error::engine("cannot read document paths", e))?;
            let under_roots = match &column {
                Some(column) => ords_under(column, roots)
                    .map_err(|e| Error::engine("cannot read document paths", e.into()))?,
                None => Vec::new(),
            };
            columns.push(column.map(|c| (c, under_roots)));
        }
        // The writer opens at the first document to delete, if any.
        let mut writer = None;
        let mut deleted = 0;
        let mut path = String::new();
        for doc in self.known()?.unseen() {
            let Some(Some((column, under_roots))) = columns.get(doc.segment as usize) else {
                continue;
            };
            let Some(ord) = column.term_ords(doc.doc).next() else {
                continue;
            };
            if !under_roots.iter().any(|r| r.contains(&ord)) {
                continue;
            }
            path.clear();
            if !column.ord_to_str(ord, &mut path).unwrap_or(false) {
                continue;
            }
            if !looked_at(Path::new(&path), roots, &unreadable) || !is_gone(Path::new(&path)) {
                continue;
            }
            if writer.is_none() {
                writer = Some(self.writer()?);
            }
            let Some(Some(w)) = writer.as_deref() else {
                return Err(internal("index writer missing"));
            };
            w.delete_term(Term::from_field_text(self.opts.schema.fields.path, &path));
            deleted += 1;
        }
        Ok(deleted)
    }
}

/// Rejects an empty list of extensions and an empty entry in it (`--ext
/// ''`, `--ext txt,`). Such a list picks no file, or not the files meant:
/// a typo, never a wish, so it is refused before the index is opened.
fn check_extensions(extensions: &[String]) -> Result<()> {
    if extensions.is_empty() {
        return Err(Error::Usage(
            "--ext needs at least one extension, e.g. `--ext txt,md`".into(),
        ));
    }
    if extensions.iter().any(|e| e.trim().is_empty()) {
        let list = extensions.join(",");
        return Err(Error::Usage(format!(
            "--ext '{list}' has an empty entry; give extensions separated by commas, e.g. `--ext txt,md`"
        )));
    }
    Ok(())
}

fn too_large(size: u64, limit: u64) -> String {
    let (s, l) = (human_bytes(size), human_bytes(limit));
    if s == l {
        // "4 MiB is larger than 4 MiB" says nothing: give the bytes.
        return format!("{size} bytes is larger than --max-file-size {limit} bytes ({l})");
    }
    format!("{s} is larger than --max-file-size {l}")
}

/// The ranges of a segment's path ordinals that may lie under `roots`.
/// Paths sort as bytes, so those under a folder are one range of the
/// dictionary, found with two lookups. Reading the path of every
/// document the walk did not see cost about 1.7 µs each, so a run over one
/// folder of an index that holds others paid for all of theirs: re-running
/// `bbc-news` (2,225 files) into the corpus's index took 40 ms, 8 ms with
/// the ranges. A range may hold more (`/a/bc` under `/a/b`); [`looked_at`]
/// decides.
fn ords_under(
    paths: &tantivy::columnar::StrColumn,
    roots: &[Root],
) -> std::io::Result<Vec<std::ops::Range<u64>>> {
    use tantivy::columnar::TermOrdHit;
    let paths = paths.dictionary();
    let ord = |hit: TermOrdHit| match hit {
        TermOrdHit::Exact(o) | TermOrdHit::Next(o) => o,
    };
    let mut ranges = Vec::new();
    for root in roots {
        let Some(prefix) = root.path.to_str() else {
            // Stored paths are UTF-8, lossily when the name was not.
            return Ok(std::iter::once(0..u64::MAX).collect());
        };
        // 0xFF never occurs in UTF-8: past every path with the prefix.
        let past: Vec<u8> = prefix.bytes().chain([0xFF]).collect();
        let start = ord(paths.term_ord_or_next(prefix)?);
        let end = ord(paths.term_ord_or_next(past)?);
        ranges.push(start..end);
    }
    Ok(ranges)
}

/// Whether this run looked where `path` would be: under one of its
/// folders, and not in one it could not read. A file it did not find there
/// is gone.
fn looked_at(path: &Path, roots: &[Root], unreadable: &[PathBuf]) -> bool {
    roots.iter().any(|r| path.starts_with(&r.path))
        && !unreadable.iter().any(|d| path.starts_with(d))
}

/// Whether the file of a document this run did not see is really gone:
/// nothing at its path any more (or a parent of it is now a file), or
/// something that is not a file (a folder now stands there). Links are
/// followed: a link that still leads to a file keeps its document, a
/// dangling one does not. Any other error (permission denied on a parent,
/// an I/O error) says nothing about the file, so its document is kept, as
/// for an unreadable folder.
///
/// One `stat` per unseen document. Unseen documents are the files deleted
/// since the last run, normally a handful; only a run with other
/// `--ext` than the last pays one `stat` per document it passed over,
/// which is what a re-run pays for every file anyway.
///
/// A document whose file name was not valid UTF-8 is stored under a lossy
/// copy of its path (see [`NoticeKind::LossyName`]), which names no file:
/// when such a file is passed over it reads as gone, as it always did.
fn is_gone(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) => !meta.is_file(),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
    }
}

fn io_skip(e: &std::io::Error) -> Outcome {
    match e.kind() {
        std::io::ErrorKind::NotFound => Outcome::Skipped(
            SkipReason::Vanished,
            "vanished between the walk and the read".into(),
        ),
        std::io::ErrorKind::PermissionDenied => {
            Outcome::Skipped(SkipReason::Unreadable, "permission denied".into())
        }
        _ => Outcome::Skipped(SkipReason::Unreadable, e.to_string()),
    }
}

/// Reads a file its metadata says has `size` bytes, and no more than
/// `limit + 1`. A read that ends short of what it asked for ends at the
/// file's end, so a file of the expected size takes one `read` where
/// `read_to_end` takes two (the second to see the end). A file that grew
/// is read on.
fn read_file(file: &mut File, size: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let expected = usize::try_from(size.min(limit)).unwrap_or(0);
    let mut bytes = vec![0; expected + 1];
    let mut len = 0;
    while len < bytes.len() {
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if len == expected {
            break;
        }
    }
    let grew = len == bytes.len();
    bytes.truncate(len);
    if grew {
        let rest = (limit + 1).saturating_sub(len as u64);
        file.take(rest).read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// `4.0 MiB`, `512 KiB`, `17 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 || value.fract() < 0.05 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::index::SegmentMeta;
    use tantivy::indexer::{MergeCandidate, MergePolicy, NoMergePolicy};
    use tantivy::schema::{STORED, STRING, Schema};
    use tantivy::{Index, doc};

    #[test]
    fn the_queue_holds_back_text_past_its_bound_until_some_is_indexed() {
        use std::sync::atomic::AtomicBool;
        let queue = Arc::new(Queue::default());
        let doc = TantivyDocument::default;
        // Larger than the bound: an empty queue takes it.
        let huge = queue.enter(doc(), QUEUED_BYTES * 2);
        drop(huge);
        let first = queue.enter(doc(), QUEUED_BYTES / 2 + 1);
        let entered = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (queue, entered) = (Arc::clone(&queue), Arc::clone(&entered));
            std::thread::spawn(move || {
                let second = queue.enter(doc(), QUEUED_BYTES / 2);
                entered.store(true, Ordering::SeqCst);
                second
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!entered.load(Ordering::SeqCst), "entered a full queue");
        // What tantivy does with an indexed document.
        drop(tantivy::Document::into_tantivy_document(first));
        // Generous: a broken queue never lets it in; a correct one at once.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !waiter.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            waiter.is_finished(),
            "still waiting after the queue drained"
        );
        let second = waiter.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
        assert_eq!(queue.state.lock().unwrap().bytes, QUEUED_BYTES / 2);
        drop(second);
        assert_eq!(queue.state.lock().unwrap().bytes, 0);
    }

    #[test]
    fn a_queue_that_nothing_leaves_lets_a_document_through() {
        // A writer whose threads died keeps its queued documents.
        let queue = Arc::new(Queue::default());
        let _stuck = queue.enter(TantivyDocument::default(), QUEUED_BYTES);
        let started = Instant::now();
        let waiter = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || drop(queue.enter(TantivyDocument::default(), 1)))
        };
        let deadline = started + Duration::from_secs(60);
        while !waiter.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(waiter.is_finished(), "waits forever on a stuck queue");
        assert!(started.elapsed() >= QUEUE_STALL, "did not wait at all");
    }
    #[test]
    fn a_file_just_over_the_limit_is_told_in_bytes() {
        let mib = 1024 * 1024;
        assert_eq!(
            too_large(3 * mib, 2 * mib),
            "3 MiB is larger than --max-file-size 2 MiB"
        );
        assert_eq!(
            too_large(4 * mib + 1, 4 * mib),
            "4194305 bytes is larger than --max-file-size 4194304 bytes (4 MiB)"
        );
    }

    #[test]
    fn empty_extension_lists_and_entries_are_refused() {
        let exts = |list: &[&str]| list.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert!(check_extensions(&exts(&["txt"])).is_ok());
        assert!(check_extensions(&exts(&["txt", "md"])).is_ok());
        for bad in [&[][..], &[""], &["", ""], &["txt", ""], &[" "]] {
            let e = check_extensions(&exts(bad)).unwrap_err();
            assert!(matches!(e, Error::Usage(_)), "{bad:?}: {e}");
            assert!(e.to_string().starts_with("--ext "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_file_is_gone_only_when_nothing_is_left_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "x").unwrap();
        assert!(!is_gone(&file), "still there");
        assert!(is_gone(&dir.path().join("b.txt")), "never there");
        assert!(is_gone(&file.join("c.txt")), "a parent is a file");
        assert!(is_gone(dir.path()), "a folder is no article");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.txt");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert!(!is_gone(&link), "a link to a file");
            std::fs::remove_file(&file).unwrap();
            assert!(is_gone(&link), "a dangling link");
        }
    }

    #[test]
    fn the_hold_fills_by_documents_or_by_bytes() {
        let held = |docs, bytes| Held {
            ops: Vec::new(),
            docs,
            bytes,
        };
        assert!(!held(0, 0).is_full(500));
        assert!(!held(499, HELD_BYTES - 1).is_full(500));
        assert!(held(500, 0).is_full(500));
        assert!(held(3, 0).is_full(3), "a commit's worth under 500");
        assert!(held(2, HELD_BYTES).is_full(500), "two large files");
    }

    #[test]
    fn read_file_reads_what_is_there_whatever_the_size_it_was_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let text = b"LONDON (Reuters) - Oil rose.".repeat(100);
        std::fs::write(&path, &text).unwrap();
        let read = |size: u64, limit: u64| read_file(&mut File::open(&path).unwrap(), size, limit);
        let n = text.len() as u64;
        // As the metadata said; smaller (it grew since) or larger (it
        // shrank since): always the whole file.
        for told in [n, 0, 1, n / 2, n + 10] {
            assert_eq!(read(told, 1 << 20).unwrap(), text, "told {told}");
        }
        // A file that grew past the limit is read to one byte past it.
        assert_eq!(read(10, 100).unwrap().len(), 101);
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        assert!(
            read_file(&mut File::open(&empty).unwrap(), 0, 100)
                .unwrap()
                .is_empty()
        );
    }

    /// Merges everything it is given, segments without deletes first.
    #[derive(Debug)]
    struct MergeAll;

    impl MergePolicy for MergeAll {
        fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
            if segments.len() < 2 {
                return Vec::new();
            }
            let mut v: Vec<&SegmentMeta> = segments.iter().collect();
            v.sort_by_key(|s| s.num_deleted_docs());
            vec![MergeCandidate(v.iter().map(|s| s.id()).collect())]
        }
    }

    /// Segments of these sizes (documents, deleted documents), and the
    /// merges the policy asks for, as indexes into them, each sorted.
    fn merges_of(sizes: &[(u32, u32)]) -> Vec<Vec<usize>> {
        merges_with(sizes, None)
    }

    /// The merges at a run's last commit, for segments of these sizes
    /// (documents, and whether the segment was there before the run).
    fn last_merges_of(sizes: &[(u32, bool)]) -> Vec<Vec<usize>> {
        let sizes_only: Vec<(u32, u32)> = sizes.iter().map(|&(docs, _)| (docs, 0)).collect();
        let before: Vec<bool> = sizes.iter().map(|&(_, old)| old).collect();
        merges_with(&sizes_only, Some(&before))
    }

    fn merges_with(sizes: &[(u32, u32)], before: Option<&[bool]>) -> Vec<Vec<usize>> {
        use tantivy::index::SegmentId;
        let index = Index::create_in_ram(tantivy::schema::Schema::builder().build());
        let metas: Vec<tantivy::index::SegmentMeta> = sizes
            .iter()
            .map(|&(docs, deleted)| {
                let meta = index.new_segment_meta(SegmentId::generate_random(), docs);
                if deleted > 0 {
                    meta.with_delete_meta(deleted, 0)
                } else {
                    meta
                }
            })
            .collect();
        let policy = match before {
            None => BoundedMergePolicy::default(),
            Some(old) => BoundedMergePolicy::finishing(
                metas
                    .iter()
                    .zip(old)
                    .filter(|(_, o)| **o)
                    .map(|(m, _)| m.id()),
            ),
        };
        let mut merges: Vec<Vec<usize>> = policy
            .compute_merge_candidates(&metas)
            .into_iter()
            .map(|c| {
                let mut at: Vec<usize> =
                    c.0.iter()
                        .filter_map(|id| metas.iter().position(|m| m.id() == *id))
                        .collect();
                assert_eq!(at.len(), c.0.len(), "a candidate names an unknown segment");
                at.sort_unstable();
                at
            })
            .collect();
        merges.sort();
        merges
    }

    #[test]
    fn the_merge_policy_merges_levels_of_four_and_leaves_large_segments() {
        let small = (238, 0);
        // What cron runs leave: three small segments wait for a fourth.
        assert!(merges_of(&[small; 3]).is_empty());
        assert_eq!(merges_of(&[small; 4]), [vec![0, 1, 2, 3]]);
        // Segments past half the cap are left alone, however many.
        assert!(merges_of(&[(60_000, 0); 6]).is_empty());
        // A level merges in groups of at most the cap; a group of one
        // waits.
        assert_eq!(merges_of(&[(25_000, 0); 5]), [vec![1, 2, 3, 4]]);
        // Levels are by size: four small ones merge, the mid-sized one
        // waits for its peers, the large one stays.
        assert_eq!(
            merges_of(&[(60_000, 0), (30_000, 0), small, small, small, small]),
            [vec![2, 3, 4, 5]]
        );
        // A segment a third deleted is merged, even alone and large.
        assert_eq!(merges_of(&[(60_000, 25_000), (60_000, 0)]), [vec![0]]);
        assert!(merges_of(&[(60_000, 19_000)]).is_empty());
    }

    #[test]
    fn a_run_merges_its_own_small_segments_at_its_last_commit() {
        let (new, old) = (false, true);
        // What `--scale 10` left: the three smallest are merged.
        assert_eq!(
            last_merges_of(&[
                (99_128, new),
                (73_825, new),
                (27_073, new),
                (19_113, new),
                (18_881, new)
            ]),
            [vec![2, 3, 4]]
        );
        // Only the run's own segments: a cron run's one segment waits.
        assert!(last_merges_of(&[(12_000, old), (11_000, old), (238, new)]).is_empty());
        assert_eq!(
            last_merges_of(&[(12_000, old), (11_000, old), (238, new), (240, new)]),
            [vec![2, 3]]
        );
        // Two segments below the cap are few enough.
        assert!(last_merges_of(&[(12_000, new), (11_000, new)]).is_empty());
        // Segments at the cap do not count, and none is merged past it.
        assert!(last_merges_of(&[(60_000, new), (50_000, new), (100_000, new)]).is_empty());
        // The levels come first: four of a level merge as a level.
        assert_eq!(
            last_merges_of(&[
                (60_000, old),
                (238, new),
                (238, new),
                (238, new),
                (238, new)
            ]),
            [vec![1, 2, 3, 4]]
        );
        // Not at the other commits.
        assert!(merges_of(&[(27_073, 0), (19_113, 0), (18_881, 0)]).is_empty());
    }

    #[test]
    fn no_merge_exceeds_the_cap_or_repeats_a_segment() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..200 {
            let count = 1 + next(30) as usize;
            let sizes: Vec<(u32, u32)> = (0..count)
                .map(|_| {
                    let docs = 1 + next(80_000) as u32;
                    let deleted = if next(4) == 0 {
                        next(u64::from(docs)) as u32
                    } else {
                        0
                    };
                    (docs, deleted)
                })
                .collect();
            let merges = merges_of(&sizes);
            // At a run's last commit, with some segments older than the
            // run: the levels' merges, or else only the run's own.
            let old: Vec<bool> = sizes.iter().map(|_| next(2) == 0).collect();
            let last = merges_with(&sizes, Some(&old));
            if merges.is_empty() {
                for m in &last {
                    let docs: u32 = m.iter().map(|&i| sizes[i].0 - sizes[i].1).sum();
                    assert!(docs <= MAX_MERGED_DOCS, "{sizes:?}: {m:?} holds {docs}");
                    assert!(
                        m.len() >= 2 && m.iter().all(|&i| !old[i]),
                        "{sizes:?} {old:?}: {m:?}"
                    );
                }
            } else {
                assert_eq!(last, merges);
            }
            let mut seen = std::collections::HashSet::new();
            for m in &merges {
                let live: u32 = m.iter().map(|&i| sizes[i].0 - sizes[i].1).sum();
                let wasteful = m.iter().any(|&i| sizes[i].1 * 3 > sizes[i].0);
                assert!(m.len() >= 2 || wasteful, "{sizes:?}: {m:?}");
                assert!(
                    live <= MAX_MERGED_DOCS || m.len() == 1,
                    "{sizes:?}: {m:?} holds {live}"
                );
                for &i in m {
                    assert!(seen.insert(i), "{sizes:?}: segment {i} in two merges");
                    let (docs, deleted) = sizes[i];
                    assert!(
                        docs - deleted < MAX_MERGED_DOCS / 2 || deleted * 3 > docs,
                        "{sizes:?}: a large segment {i} merged"
                    );
                }
            }
        }
    }

    /// The table itself is tested in `hashdir`; this checks what `Known`
    /// adds: a lookup returns every entry of its path and marks exactly
    /// those as seen.
    #[test]
    fn known_marks_what_it_finds_as_seen() {
        let entry = |path_hash, size| KnownDoc {
            path_hash,
            size,
            mtime: 0,
            hash: 0,
            segment: 0,
            doc: 0,
        };
        // Two entries for one path, and the extremes of the hash range.
        let hashes = [7u64 << 60, 7 << 60, u64::MAX, 0, 12_345];
        let known = Known::new(hashes.iter().zip(0..).map(|(&h, i)| entry(h, i)).collect());
        assert_eq!(known.lookup(1).len(), 0);
        assert_eq!(known.unseen().count(), 5);
        let found = known.lookup(7 << 60);
        let mut sizes: Vec<u64> = found.iter().map(|e| e.size).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [0, 1]);
        assert_eq!(known.unseen().count(), 3);
        for h in [u64::MAX, 0, 12_345] {
            assert_eq!(known.lookup(h).len(), 1);
        }
        assert_eq!(known.unseen().count(), 0);
    }

    #[test]
    fn first_delete_of_a_session_survives_a_merge() {
        let dir = tempfile::tempdir().unwrap();
        let mut sb = Schema::builder();
        let path = sb.add_text_field("path", STRING | STORED);
        let index = Index::create_in_dir(dir.path(), sb.build()).unwrap();
        {
            // Two segments; the last commit deletes from the second.
            let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            w.set_merge_policy(Box::new(NoMergePolicy));
            for i in 0..10 {
                w.add_document(doc!(path => format!("a{i}"))).unwrap();
            }
            w.commit().unwrap();
            for i in 0..10 {
                w.add_document(doc!(path => format!("b{i}"))).unwrap();
            }
            w.commit().unwrap();
            w.delete_term(Term::from_field_text(path, "b0"));
            w.add_document(doc!(path => "b0")).unwrap();
            w.commit().unwrap();
        }
        {
            // A new session updates b1 while a merge runs.
            let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            w.set_merge_policy(Box::new(MergeAll));
            use_up_first_opstamp(&w, path);
            w.delete_term(Term::from_field_text(path, "b1"));
            w.add_document(doc!(path => "b1")).unwrap();
            w.commit().unwrap();
            w.wait_merging_threads().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        let b1 = tantivy::query::TermQuery::new(
            Term::from_field_text(path, "b1"),
            tantivy::schema::IndexRecordOption::Basic,
        );
        assert_eq!(searcher.search(&b1, &tantivy::collector::Count).unwrap(), 1);
        assert_eq!(searcher.num_docs(), 20);
    }
}
