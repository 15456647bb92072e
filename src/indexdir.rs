//! The index directory: where an index lives, who may write it, and how a
//! rebuild replaces it without a reader ever seeing a half-built index.
//!
//! Layout of `DIR` (the `--index` directory):
//!
//! ```text
//! DIR/newsidx.lock   advisory lock held by the one running ingest; holds its pid
//! DIR/CURRENT        name of the live generation, replaced atomically (rename)
//! DIR/gen-000001/    a tantivy index
//! ```
//!
//! Readers resolve `CURRENT` once and open that generation. An incremental
//! ingest commits into the live generation (tantivy commits are atomic). A
//! `--full` rebuild writes a new generation beside it and then renames a new
//! `CURRENT` into place, so a reader sees the old index or the new one,
//! never a mix. The lock is an `flock`, which the kernel drops when its
//! process dies: a killed ingest never leaves a lock anyone must clean up.
//!
//! `CURRENT` is the only record of which generation is live, so while it
//! is missing (or unreadable) no generation holding an index is deleted:
//! readers report a damaged index, and an ingest makes the one generation
//! holding an index live again or, when there are several, refuses (see
//! [`WriteLock::open_live`]).
//!
//! This module may name tantivy only to open and create indexes.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, META_LOCK, MmapDirectory, OwnedBytes,
    WatchCallback, WatchHandle, WritePtr,
};
use tantivy::{Index, IndexReader, IndexSettings, ReloadPolicy, Searcher};

use crate::error::{Error, Result};
use crate::schema::NewsSchema;

const LOCK_FILE: &str = "newsidx.lock";
const LAST_RUN_FILE: &str = "last-ingest.json";
const CURRENT_FILE: &str = "CURRENT";
const GEN_PREFIX: &str = "gen-";

/// An index directory (which need not exist yet).
#[derive(Debug, Clone)]
pub struct IndexDir {
    root: PathBuf,
}

/// A generation number: `gen-000007` is 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generation(pub u32);

impl Generation {
    /// Its folder name, `gen-000007`.
    pub fn dir_name(self) -> String {
        format!("{GEN_PREFIX}{:06}", self.0)
    }

    fn from_dir_name(name: &str) -> Option<Generation> {
        let digits = name.strip_prefix(GEN_PREFIX)?;
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok().map(Generation))
            .flatten()
    }
}

/// Whether an ingest holds an index's lock, as [`IndexDir::lock_holder`]
/// finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Nobody holds it (or there is no lock file: no ingest ever ran).
    Free,
    /// An ingest holds it; its pid when the lock file names one.
    Held(Option<u32>),
    /// This user may not read the lock file, so nobody can tell.
    Unknown,
}

/// An opened index ready for searching.
pub struct OpenIndex {
    /// The tantivy index.
    pub index: Index,
    /// A searcher over its last commit.
    pub searcher: Searcher,
    /// Directory of the generation that was opened.
    pub path: PathBuf,
    // Keeps the segment files open for the searcher's lifetime.
    _reader: IndexReader,
}

impl IndexDir {
    /// The index directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> IndexDir {
        IndexDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of `generation`.
    pub fn generation_path(&self, generation: Generation) -> PathBuf {
        self.root.join(generation.dir_name())
    }

    /// Whether `--index` names something that exists and is not a folder
    /// (a path under a file does not exist: its error names it).
    fn root_is_not_a_folder(&self) -> bool {
        self.root.exists() && !self.root.is_dir()
    }

    /// The live generation, or `None` when no index was ever published.
    ///
    /// # Errors
    ///
    /// When `CURRENT` exists but cannot be read or names no generation.
    pub fn current(&self) -> Result<Option<Generation>> {
        let path = self.root.join(CURRENT_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotADirectory && self.root_is_not_a_folder() =>
            {
                return Err(Error::IndexNotADirectory {
                    dir: self.root.clone(),
                });
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        Generation::from_dir_name(text.trim())
            .map(Some)
            .ok_or_else(|| Error::Corrupt {
                dir: self.root.clone(),
                detail: format!(
                    "{CURRENT_FILE} holds {:?}, not a generation name",
                    text.trim()
                ),
            })
    }

    /// The live generation's directory, or `None` when there is no index.
    ///
    /// # Errors
    ///
    /// As [`IndexDir::current`].
    pub fn current_path(&self) -> Result<Option<PathBuf>> {
        Ok(self.current()?.map(|g| self.generation_path(g)))
    }

    /// Opens the live index for searching.
    ///
    /// A concurrent `--full` rebuild may swap and delete the generation
    /// between reading `CURRENT` and opening the segment files, and a
    /// concurrent incremental ingest may merge away segments that a
    /// `meta.json` just read still lists. Both show up as a failed open while
    /// `CURRENT` or `meta.json` changed under us; the open is retried then.
    ///
    /// # Errors
    ///
    /// [`Error::NoIndex`], [`Error::CurrentMissing`],
    /// [`Error::SchemaMismatch`], [`Error::Corrupt`].
    pub fn open_for_search(&self, schema: &NewsSchema) -> Result<OpenIndex> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(generation) = self.current()? else {
                return Err(self.without_current(true)?);
            };
            match self.try_open(generation, schema) {
                Ok(open) => return Ok(open),
                Err(e @ (Error::SchemaMismatch { .. } | Error::NoIndex { .. })) => return Err(e),
                Err(e) => {
                    let swapped = self.current()? != Some(generation);
                    if attempt >= 10 || !(swapped || is_transient(&e)) {
                        return Err(e);
                    }
                    thread::sleep(Duration::from_millis(5 * attempt));
                }
            }
        }
    }

    fn try_open(&self, generation: Generation, schema: &NewsSchema) -> Result<OpenIndex> {
        let path = self.generation_path(generation);
        let index = open_index(&path, &self.root, Access::Search)?;
        schema.attach(&index, &self.root)?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| corrupt_or_engine(&self.root, "cannot open the index for reading", e))?;
        let searcher = reader.searcher();
        Ok(OpenIndex {
            index,
            searcher,
            path,
            _reader: reader,
        })
    }

    /// Why there is no `CURRENT`: no index yet ([`Error::NoIndex`]), or a
    /// damaged one ([`Error::CurrentMissing`]) when generations holding an
    /// index are there. `check_lock` (readers only: the writer holds the
    /// lock itself) tells a first `--full` rebuild, which publishes
    /// `CURRENT` only when it is done, from a lost `CURRENT`.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    fn without_current(&self, check_lock: bool) -> Result<Error> {
        let generations = self.indexed_generations()?;
        if generations.is_empty() {
            return Ok(Error::NoIndex {
                dir: self.root.clone(),
            });
        }
        Ok(Error::CurrentMissing {
            dir: self.root.clone(),
            generations: generations.into_iter().map(Generation::dir_name).collect(),
            building: check_lock && matches!(self.lock_holder(), Ok(LockState::Held(_))),
        })
    }

    /// The generation folders, oldest first (none when the directory does
    /// not exist).
    fn generations(&self) -> Result<Vec<Generation>> {
        let root = self.root();
        let entries = match fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(root, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(root, e))?;
            if let Some(g) = entry
                .file_name()
                .to_str()
                .and_then(Generation::from_dir_name)
            {
                out.push(g);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The generations holding an index: those with a `meta.json`, which
    /// tantivy writes as it creates an index, before `CURRENT` can name
    /// it. A folder without one is what a crash between creating the
    /// folder and the index leaves, and holds nothing. A `meta.json` that
    /// cannot be checked counts as one.
    fn indexed_generations(&self) -> Result<Vec<Generation>> {
        let mut generations = self.generations()?;
        generations.retain(|g| {
            let meta = self.generation_path(*g).join(META_FILE);
            !matches!(fs::symlink_metadata(meta), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        });
        Ok(generations)
    }

    /// Takes the writer lock, waiting up to `wait` (forever for
    /// `Some(None)`), or failing at once for `None`.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when another process holds it; I/O errors when the
    /// directory cannot be created or written.
    pub fn lock(&self, wait: Option<Option<Duration>>) -> Result<WriteLock> {
        let not_writable = |e: std::io::Error, path: &Path| match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                Error::NotWritable {
                    dir: self.root.clone(),
                    cause: e,
                }
            }
            _ if self.root_is_not_a_folder() => Error::IndexNotADirectory {
                dir: self.root.clone(),
            },
            _ => Error::io(path, e),
        };
        fs::create_dir_all(&self.root).map_err(|e| not_writable(e, &self.root))?;
        let path = self.root.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| not_writable(e, &path))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let expired = match wait {
                        None => true,
                        Some(None) => false,
                        Some(Some(limit)) => start.elapsed() >= limit,
                    };
                    if expired {
                        return Err(Error::Locked {
                            dir: self.root.clone(),
                            pid: read_pid(&mut file),
                        });
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                Err(fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
        // Record who holds it, for the message a second ingest prints.
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(WriteLock {
            dir: self.clone(),
            _file: file,
        })
    }

    /// Whether an ingest holds the lock now, and its pid when known.
    ///
    /// The lock file is opened read-only: a shared `flock` needs no more,
    /// and a user who may search a shared index (built by a cron user)
    /// usually may not write it. One who may not even read the lock file
    /// gets [`LockState::Unknown`], not an error: whether an ingest runs
    /// is the least of what `newsidx status` reports.
    ///
    /// # Errors
    ///
    /// When the lock file cannot be opened for another reason than its
    /// permissions, or cannot be tested.
    pub fn lock_holder(&self) -> Result<LockState> {
        let path = self.root.join(LOCK_FILE);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockState::Free),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Ok(LockState::Unknown);
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::NotADirectory && self.root_is_not_a_folder() =>
            {
                return Err(Error::IndexNotADirectory {
                    dir: self.root.clone(),
                });
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(LockState::Free),
            Err(fs::TryLockError::WouldBlock) => Ok(LockState::Held(read_pid(&mut file))),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// The report of the last finished ingest, as JSON, if any.
    pub fn last_run(&self) -> Option<serde_json::Value> {
        let text = fs::read_to_string(self.root.join(LAST_RUN_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Bytes used by the live generation.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub fn size_on_disk(&self) -> Result<u64> {
        let Some(path) = self.current_path()? else {
            return Ok(0);
        };
        let mut total = 0;
        for entry in fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
            let entry = entry.map_err(|e| Error::io(&path, e))?;
            total += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
        Ok(total)
    }
}

/// Failures that a concurrent writer can cause in a reader.
fn is_transient(e: &Error) -> bool {
    match e {
        Error::Engine { message, .. }
        | Error::Corrupt {
            detail: message, ..
        } => {
            message.contains("does not exist")
                || message.contains("No such file")
                || message.contains("not found")
        }
        Error::Io { cause, .. } => cause.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn open_index(path: &Path, root: &Path, access: Access) -> Result<Index> {
    if !path.is_dir() {
        return Err(Error::Corrupt {
            dir: root.to_owned(),
            detail: format!("{CURRENT_FILE} names {}, which is missing", path.display()),
        });
    }
    let dir = NewsDirectory::open(path, access)
        .map_err(|e| corrupt_or_engine(root, "cannot open the index", e))?;
    Index::open(dir).map_err(|e| {
        // A meta.json this user may not read is a permissions problem, not
        // a damaged index: "rebuild it" would be the wrong advice.
        let meta = path.join(META_FILE);
        match File::open(&meta) {
            Err(io) if io.kind() == std::io::ErrorKind::NotFound => Error::Corrupt {
                dir: root.to_owned(),
                detail: format!(
                    "{} does not exist",
                    meta.strip_prefix(root).unwrap_or(&meta).display()
                ),
            },
            Err(io) => Error::io(meta, io),
            _ => corrupt_or_engine(root, "cannot open the index", e),
        }
    })
}

/// Creates an empty tantivy index in `path`.
pub(crate) fn create_index(
    path: &Path,
    schema: tantivy::schema::Schema,
    settings: IndexSettings,
) -> tantivy::Result<Index> {
    Index::create(NewsDirectory::open(path, Access::Ingest)?, schema, settings)
}

/// tantivy's list of the files it manages, in each index generation.
pub(crate) const MANAGED_FILE: &str = ".managed.json";
/// tantivy's record of the last commit, in each index generation (its own
/// constant is private).
pub(crate) const META_FILE: &str = "meta.json";

/// tantivy's `MmapDirectory` with two changes an archive shared by several
/// users needs, and two for speed. Atomic writes (`meta.json`,
/// `.managed.json`) create their file with the process umask like every
/// other index file; tantivy's
/// temporary files are mode 0600, which makes an index built by a cron user
/// unreadable to everyone else. And a reader that may not write the
/// directory can still open the index: tantivy takes the write lock
/// `.tantivy-meta.lock` even to read, to keep the garbage collector from
/// deleting files mid-open; without write access that lock is skipped and
/// [`IndexDir::open_for_search`] retries an open that loses that race.
/// Also, tantivy's list of managed files is written without a sync (see
/// `atomic_write`), and a search does not read it (see `atomic_read`).
///
/// An ingest reads segment files by range (see [`RangeFile`]).
#[derive(Debug, Clone)]
struct NewsDirectory {
    inner: MmapDirectory,
    path: PathBuf,
    access: Access,
}

/// Which process opens an index, which decides how it reads the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Search,
    Ingest,
}

impl NewsDirectory {
    fn open(path: &Path, access: Access) -> tantivy::Result<NewsDirectory> {
        Ok(NewsDirectory {
            inner: MmapDirectory::open(path)?,
            path: path.to_owned(),
            access,
        })
    }
}

/// A segment file as an ingest reads it: through maps of parts of the
/// file, each unmapped when tantivy drops the last bytes read from it.
/// `MmapDirectory` maps a file whole for as long as its segment is open, so
/// a merge, which reads every input's postings, positions and stored
/// documents, kept every page it read resident until it finished, on top
/// of the indexing threads' memory (at `--scale 10`, up to 70 MB of a
/// 170-180 MB peak; whole-file maps of all but the stored documents cost
/// 25 MB of it).
///
/// A read of [`WINDOW`] bytes or more is mapped on its own (a merge reads
/// one input's stored documents at a time). Smaller reads (a term's
/// postings, a block of documents) share the map of the aligned
/// [`WINDOW`]-sized part of the file they fall in, so a merge's sequential
/// reads cost one map per window rather than one per term. Searches keep
/// the whole-file map: they read a few blocks, and a map costs nothing
/// until read.
#[derive(Debug)]
struct RangeFile {
    file: File,
    len: usize,
    /// The last window mapped, and where in the file it starts.
    window: std::sync::Mutex<Option<(usize, OwnedBytes)>>,
}

/// Bytes of a file mapped together for small reads.
const WINDOW: usize = 1 << 20;

impl RangeFile {
    fn open(path: &Path) -> std::io::Result<RangeFile> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
        Ok(RangeFile {
            file,
            len,
            window: std::sync::Mutex::new(None),
        })
    }

    /// Maps `len` bytes from `start`, which the caller keeps in the file.
    fn map(&self, start: usize, len: usize) -> std::io::Result<OwnedBytes> {
        // memmap2 aligns the offset to a page itself.
        // SAFETY: as in tantivy's `MmapDirectory`, the map is of a segment
        // file, which is written once and never changed in place.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(start as u64)
                .len(len)
                .map(&self.file)?
        };
        Ok(OwnedBytes::new(map))
    }
}

impl tantivy::HasLen for RangeFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for RangeFile {
    fn read_bytes(&self, range: std::ops::Range<usize>) -> std::io::Result<OwnedBytes> {
        if range.end > self.len || range.start > range.end {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("range {range:?} past the end of a {}-byte file", self.len),
            ));
        }
        if range.is_empty() {
            return Ok(OwnedBytes::empty());
        }
        if range.len() >= WINDOW {
            return self.map(range.start, range.len());
        }
        // A poisoned lock only loses the cache: the read maps its own window.
        let mut window = self.window.lock().ok();
        if let Some(Some((start, bytes))) = window.as_deref()
            && *start <= range.start
            && range.end <= start + bytes.len()
        {
            return Ok(bytes.slice(range.start - start..range.end - start));
        }
        // Windows start at multiples of their size, so reads in any order
        // share them, and a file smaller than one is mapped once.
        let start = range.start / WINDOW * WINDOW;
        let end = range.end.max(start + WINDOW).min(self.len);
        let bytes = self.map(start, end - start)?;
        let read = bytes.slice(range.start - start..range.end - start);
        if let Some(window) = window.as_deref_mut() {
            *window = Some((start, bytes));
        }
        Ok(read)
    }
}

impl Directory for NewsDirectory {
    fn get_file_handle(
        &self,
        path: &Path,
    ) -> std::result::Result<std::sync::Arc<dyn FileHandle>, OpenReadError> {
        if self.access == Access::Ingest {
            return RangeFile::open(&self.path.join(path))
                .map(|f| std::sync::Arc::new(f) as std::sync::Arc<dyn FileHandle>)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        OpenReadError::FileDoesNotExist(path.to_owned())
                    }
                    _ => OpenReadError::wrap_io_error(e, path.to_owned()),
                });
        }
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> std::result::Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> std::result::Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> std::result::Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> std::result::Result<Vec<u8>, OpenReadError> {
        // Only tantivy's writers and garbage collector use the list of
        // managed files, so a search need not read and parse it (twice:
        // here and in tantivy) at every start.
        if self.access == Access::Search && path == Path::new(MANAGED_FILE) {
            return Err(OpenReadError::FileDoesNotExist(path.to_owned()));
        }
        let data = self.inner.atomic_read(path)?;
        // See `atomic_write`: a list torn by a power cut reads as no list.
        if path == Path::new(MANAGED_FILE)
            && serde_json::from_slice::<std::collections::HashSet<PathBuf>>(&data).is_err()
        {
            return Err(OpenReadError::FileDoesNotExist(path.to_owned()));
        }
        Ok(data)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        let target = self.path.join(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self
            .path
            .join(format!(".{name}.{}.tmp", std::process::id()));
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        // tantivy rewrites its list of managed files each time it creates
        // one, a dozen times in a small commit; syncing each cost a cron
        // re-run of 1% of the corpus about a sixth of its time. The list
        // only tells tantivy's garbage collector which files it may delete:
        // after a power cut an old list leaves files uncollected, never a
        // committed one lost (`meta.json` is still synced), and a torn list
        // reads as none (see `atomic_read`).
        if path != Path::new(MANAGED_FILE) {
            f.sync_data()?;
        }
        fs::rename(&tmp, &target)
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> std::result::Result<DirectoryLock, LockError> {
        match self.inner.acquire_lock(lock) {
            Err(LockError::IoError(e))
                if lock.filepath == META_LOCK.filepath
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                    ) =>
            {
                Ok(DirectoryLock::from(Box::new(())))
            }
            other => other,
        }
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// tantivy reports a truncated or garbled `meta.json` as a deserialization
/// or corruption error: that is a damaged index, not an engine fault.
fn corrupt_or_engine(root: &Path, context: &str, e: tantivy::TantivyError) -> Error {
    use tantivy::TantivyError as T;
    match e {
        T::DataCorruption(_) | T::SchemaError(_) | T::IncompatibleIndex(_) => Error::Corrupt {
            dir: root.to_owned(),
            detail: crate::error::engine_message(&e),
        },
        T::OpenReadError(ref r) if r.to_string().contains("does not exist") => {
            Error::engine(context, e)
        }
        other => {
            let message = other.to_string();
            if message.contains("meta.json")
                || message.contains("Deserializ")
                || message.contains("EOF")
            {
                Error::Corrupt {
                    dir: root.to_owned(),
                    detail: "meta.json is unreadable".into(),
                }
            } else {
                Error::engine(context, other)
            }
        }
    }
}

/// Proof that this process is the one writer of an index directory.
pub struct WriteLock {
    dir: IndexDir,
    _file: File,
}

impl WriteLock {
    /// The locked directory.
    pub fn dir(&self) -> &IndexDir {
        &self.dir
    }

    /// Opens the live generation for writing, creating and publishing a
    /// first, empty one when there is none.
    ///
    /// Without `CURRENT`, a generation holding an index may still be the
    /// live one (`CURRENT` lost) or the work of a first ingest or first
    /// `--full` that died before publishing it. Exactly one is made live
    /// again, once it opens with this schema: whichever it was, it holds
    /// nothing that should not be live, and the run goes on from it. With
    /// several, nobody can tell which was live, and starting afresh would
    /// delete them all when the new generation is published: the run is
    /// refused. The returned flag says whether `CURRENT` was restored.
    ///
    /// # Errors
    ///
    /// [`Error::CurrentMissing`] for several generations and no `CURRENT`,
    /// [`Error::SchemaMismatch`] for an index built with another schema,
    /// [`Error::Corrupt`] for a damaged one, I/O errors.
    pub fn open_live(&self, schema: &NewsSchema) -> Result<(Index, Generation, bool)> {
        let open = |generation: Generation| -> Result<Index> {
            let index = open_index(
                &self.dir.generation_path(generation),
                self.dir.root(),
                Access::Ingest,
            )?;
            schema.attach(&index, self.dir.root())?;
            Ok(index)
        };
        if let Some(generation) = self.dir.current()? {
            return Ok((open(generation)?, generation, false));
        }
        match self.dir.indexed_generations()?.as_slice() {
            [] => {
                let generation = self.next_generation()?;
                let index = self.create(generation, schema)?;
                self.publish(generation)?;
                Ok((index, generation, false))
            }
            [only] => {
                let index = open(*only)?;
                self.publish(*only)?;
                Ok((index, *only, true))
            }
            _ => Err(self.dir.without_current(false)?),
        }
    }

    /// A generation to rebuild into: the one a crashed `--full` left
    /// behind (resumed), or a new empty one.
    ///
    /// # Errors
    ///
    /// I/O and engine errors.
    pub fn open_rebuild(&self, schema: &NewsSchema) -> Result<(Index, Generation)> {
        // A damaged CURRENT is what a rebuild is for: start afresh rather
        // than guess which generation was live.
        let current = self.dir.current();
        let partial = match current {
            Ok(current) => self
                .dir
                .generations()?
                .into_iter()
                .filter(|g| Some(*g) > current)
                .max(),
            Err(_) => None,
        };
        if let Some(partial) = partial {
            let path = self.dir.generation_path(partial);
            let resumed = open_index(&path, self.dir.root(), Access::Ingest)
                .ok()
                .filter(|index| schema.attach(index, self.dir.root()).is_ok());
            if let Some(index) = resumed {
                return Ok((index, partial));
            }
            // Newer than a readable CURRENT, it is a dead rebuild. Without
            // CURRENT it may be the live index: it stays, and the rebuild
            // goes into a new generation (published, then the rest go).
            if matches!(current, Ok(Some(_))) {
                remove_dir(&path)?;
            }
        }
        let generation = self.next_generation()?;
        Ok((self.create(generation, schema)?, generation))
    }

    fn create(&self, generation: Generation, schema: &NewsSchema) -> Result<Index> {
        let path = self.dir.generation_path(generation);
        if path.exists() {
            remove_dir(&path)?;
        }
        fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        schema.create_index(&path)
    }

    fn next_generation(&self) -> Result<Generation> {
        let newest = self
            .dir
            .generations()?
            .into_iter()
            .chain(self.dir.current().ok().flatten())
            .max();
        Ok(Generation(newest.map_or(1, |g| g.0 + 1)))
    }

    /// Makes `generation` the live index: writes `CURRENT` atomically
    /// (temporary file, fsync, rename, fsync of the directory).
    ///
    /// # Errors
    ///
    /// I/O errors; the previous `CURRENT` is then still in place.
    pub fn publish(&self, generation: Generation) -> Result<()> {
        let root = self.dir.root();
        let tmp = root.join(format!("{CURRENT_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(format!("{}\n", generation.dir_name()).as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, root.join(CURRENT_FILE))?;
            File::open(root)?.sync_all()
        };
        write().map_err(|e| Error::io(root.join(CURRENT_FILE), e))
    }

    /// Records the report of a finished run for `newsidx status`
    /// (temporary file and rename; not fsynced: it is informational, and a
    /// run that changed nothing should not pay for a disk flush).
    pub fn record_last_run(&self, report: &impl serde::Serialize) {
        let root = self.dir.root();
        let tmp = root.join(format!("{LAST_RUN_FILE}.tmp"));
        let Ok(json) = serde_json::to_vec(report) else {
            return;
        };
        if fs::write(&tmp, json).is_ok() {
            let _ = fs::rename(&tmp, root.join(LAST_RUN_FILE));
        }
    }

    /// Deletes every generation but the live one (and `keep`): leftovers of
    /// a rebuild that was swapped out or of one that crashed. Does nothing
    /// while `CURRENT` is missing or unreadable.
    ///
    /// # Errors
    ///
    /// I/O errors while deleting.
    pub fn remove_other_generations(&self, keep: Option<Generation>) -> Result<()> {
        // Without a readable CURRENT nobody knows which generation is live:
        // delete nothing (a rebuild publishes a new CURRENT, then cleans
        // up). A missing one is no exception: a first `--full` rebuild
        // resumed with it missing must not delete the live index it lost.
        let Ok(Some(current)) = self.dir.current() else {
            return Ok(());
        };
        for g in self.dir.generations()? {
            if g != current && Some(g) != keep {
                remove_dir(&self.dir.generation_path(g))?;
            }
        }
        Ok(())
    }
}

/// Deletes a generation's folder. A search that read `CURRENT` before a
/// rebuild was published may still be opening the old generation, and
/// tantivy creates its lock file there as it does; that file then appears
/// between `remove_dir_all`'s listing and its final `rmdir`. So a folder
/// that is "not empty" is tried again a few times before giving up.
fn remove_dir(path: &Path) -> Result<()> {
    const ATTEMPTS: u64 = 5;
    let mut attempt = 1;
    loop {
        match fs::remove_dir_all(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && attempt < ATTEMPTS => {
                thread::sleep(Duration::from_millis(10 * attempt));
                attempt += 1;
            }
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_names_round_trip() {
        assert_eq!(
            Generation::from_dir_name("gen-000012"),
            Some(Generation(12))
        );
        assert_eq!(Generation(3).dir_name(), "gen-000003");
        for bad in ["gen-12", "gen-00001x", "x-000001", "gen-", "gen-0000001"] {
            assert_eq!(Generation::from_dir_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn second_lock_is_refused_with_the_pid_and_released_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(tmp.path().join("idx"));
        let held = dir.lock(None).unwrap();
        match dir.lock(None) {
            Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("second lock granted"),
        }
        assert_eq!(
            dir.lock_holder().unwrap(),
            LockState::Held(Some(std::process::id()))
        );
        let waited = Instant::now();
        assert!(dir.lock(Some(Some(Duration::from_millis(120)))).is_err());
        assert!(waited.elapsed() >= Duration::from_millis(100));
        drop(held);
        assert_eq!(dir.lock_holder().unwrap(), LockState::Free);
        assert!(dir.lock(None).is_ok());
    }

    #[test]
    fn publish_swaps_current_and_cleanup_keeps_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(tmp.path());
        let schema = NewsSchema::embedded().unwrap();
        assert!(matches!(
            dir.open_for_search(&schema),
            Err(Error::NoIndex { .. })
        ));
        let lock = dir.lock(None).unwrap();
        let (_, first, restored) = lock.open_live(&schema).unwrap();
        assert!(!restored);
        assert_eq!(dir.current().unwrap(), Some(first));
        let (_, second) = lock.open_rebuild(&schema).unwrap();
        assert!(second > first);
        assert_eq!(dir.current().unwrap(), Some(first));
        lock.publish(second).unwrap();
        lock.remove_other_generations(None).unwrap();
        assert_eq!(dir.current().unwrap(), Some(second));
        assert!(!tmp.path().join(first.dir_name()).exists());
        assert!(dir.open_for_search(&schema).is_ok());
    }

    /// Following "no index; run ingest first" with a plain ingest deleted
    /// the generation a lost CURRENT had named, and every document in it.
    #[test]
    fn a_missing_current_never_costs_a_generation_holding_an_index() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(tmp.path());
        let schema = NewsSchema::embedded().unwrap();
        let lock = dir.lock(None).unwrap();
        let (_, first, _) = lock.open_live(&schema).unwrap();
        let current = tmp.path().join(CURRENT_FILE);
        fs::remove_file(&current).unwrap();

        // Readers: damaged, not "no index".
        let e = dir.open_for_search(&schema).err().unwrap();
        assert!(
            matches!(&e, Error::CurrentMissing { generations, building: true, .. }
                if generations == &["gen-000001"]),
            "under our own lock: {e}"
        );
        drop(lock);
        let e = dir.open_for_search(&schema).err().unwrap();
        assert!(
            matches!(
                &e,
                Error::CurrentMissing {
                    building: false,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("is damaged"), "{e}");

        // The writer deletes nothing, and makes the only one live again.
        let lock = dir.lock(None).unwrap();
        lock.remove_other_generations(None).unwrap();
        assert!(dir.generation_path(first).join(META_FILE).exists());
        let (_, live, restored) = lock.open_live(&schema).unwrap();
        assert_eq!((live, restored), (first, true));
        assert_eq!(dir.current().unwrap(), Some(first));
        assert!(dir.open_for_search(&schema).is_ok());

        // Two, and no CURRENT: nothing to go by, so refused, and a
        // rebuild resumes one without deleting the other until it is live.
        let (_, second) = lock.open_rebuild(&schema).unwrap();
        fs::remove_file(&current).unwrap();
        let e = lock.open_live(&schema).err().unwrap();
        assert!(
            matches!(&e, Error::CurrentMissing { generations, building: false, .. }
                if generations == &["gen-000001", "gen-000002"]),
            "{e}"
        );
        assert!(e.to_string().contains("--full"), "{e}");
        assert!(!current.exists());
        let (_, rebuilt) = lock.open_rebuild(&schema).unwrap();
        assert_eq!(rebuilt, second);
        lock.remove_other_generations(Some(rebuilt)).unwrap();
        assert!(dir.generation_path(first).join(META_FILE).exists());
        lock.publish(rebuilt).unwrap();
        lock.remove_other_generations(None).unwrap();
        assert!(!dir.generation_path(first).exists());
    }

    /// What a crash between creating a generation's folder and its index
    /// leaves holds nothing: a first ingest starts afresh and removes it.
    #[test]
    fn a_generation_folder_without_an_index_is_no_index() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(tmp.path());
        let schema = NewsSchema::embedded().unwrap();
        fs::create_dir(tmp.path().join("gen-000001")).unwrap();
        assert!(matches!(
            dir.open_for_search(&schema),
            Err(Error::NoIndex { .. })
        ));
        let lock = dir.lock(None).unwrap();
        let (_, generation, restored) = lock.open_live(&schema).unwrap();
        assert_eq!((generation, restored), (Generation(2), false));
        lock.remove_other_generations(Some(generation)).unwrap();
        assert!(!tmp.path().join("gen-000001").exists());
    }

    #[test]
    fn a_torn_list_of_managed_files_reads_as_none() {
        use tantivy::schema::{STORED, STRING, Schema};
        let tmp = tempfile::tempdir().unwrap();
        let mut sb = Schema::builder();
        let path = sb.add_text_field("path", STRING | STORED);
        let index = create_index(tmp.path(), sb.build(), IndexSettings::default()).unwrap();
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.add_document(tantivy::doc!(path => "a.txt")).unwrap();
        writer.commit().unwrap();
        drop(writer);
        let managed = tmp.path().join(MANAGED_FILE);
        let list = fs::read(&managed).unwrap();
        assert!(serde_json::from_slice::<Vec<String>>(&list).unwrap().len() > 1);
        let dir = NewsDirectory::open(tmp.path(), Access::Ingest).unwrap();
        assert_eq!(dir.atomic_read(Path::new(MANAGED_FILE)).unwrap(), list);
        for torn in [&b""[..], &list[..list.len() / 2], b"\0\0\0"] {
            fs::write(&managed, torn).unwrap();
            assert!(matches!(
                dir.atomic_read(Path::new(MANAGED_FILE)),
                Err(OpenReadError::FileDoesNotExist(_))
            ));
            for access in [Access::Ingest, Access::Search] {
                let index = open_index(tmp.path(), tmp.path(), access).unwrap();
                let reader = index.reader().unwrap();
                assert_eq!(reader.searcher().num_docs(), 1);
            }
        }
    }

    #[test]
    fn a_search_does_not_read_the_list_of_managed_files() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(MANAGED_FILE), r#"["meta.json"]"#).unwrap();
        let search = NewsDirectory::open(tmp.path(), Access::Search).unwrap();
        assert!(matches!(
            search.atomic_read(Path::new(MANAGED_FILE)),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
        let ingest = NewsDirectory::open(tmp.path(), Access::Ingest).unwrap();
        assert_eq!(
            ingest.atomic_read(Path::new(MANAGED_FILE)).unwrap(),
            br#"["meta.json"]"#
        );
    }

    #[test]
    fn range_reads_match_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.store");
        const MIB: usize = 1 << 20;
        let bytes: Vec<u8> = (0..3 * MIB + 12_345).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&path, &bytes).unwrap();
        let file = RangeFile::open(&path).unwrap();
        let len = bytes.len();
        // Within a page, from a page boundary, from mid-page, whole; small
        // reads inside the last window, past its end, before its start, at
        // the file's end, and a window cut short by the end of the file.
        let windowed = [
            0..10,
            20..4_000,
            WINDOW - 5..WINDOW + 5,
            30..40,
            len - 3..len,
        ];
        let mapped = [100..MIB - 1, 65_536..65_536 + MIB, 1..len, 0..len];
        let past_end = [len - WINDOW / 2..len - 1, len - 10..len - 2];
        for range in windowed.into_iter().chain(mapped).chain(past_end) {
            let read = file.read_bytes(range.clone()).unwrap();
            assert_eq!(read.as_slice(), &bytes[range.clone()], "{range:?}");
        }
        // Bytes read earlier stay valid after their window is replaced.
        let first = file.read_bytes(7..17).unwrap();
        let _ = file.read_bytes(2 * MIB..2 * MIB + 9).unwrap();
        assert_eq!(first.as_slice(), &bytes[7..17]);
        assert!(file.read_bytes(5..5).unwrap().is_empty());
        assert!(file.read_bytes(len - 1..len + 1).is_err());
    }

    /// An ingest reads segment files through `RangeFile`; merges read
    /// stored documents whole (segments without deletes) and block by block
    /// (with), and postings term by term.
    #[test]
    fn merges_keep_documents_when_reading_by_range() {
        use tantivy::schema::{STORED, STRING, Schema, TEXT, Value};
        let tmp = tempfile::tempdir().unwrap();
        let mut sb = Schema::builder();
        let path = sb.add_text_field("path", STRING | STORED);
        let body = sb.add_text_field("body", TEXT | STORED);
        let index = create_index(tmp.path(), sb.build(), IndexSettings::default()).unwrap();
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        // Bodies lz4 cannot shrink: megabytes of stored documents, and of
        // postings and positions (two- and three-letter words).
        let text = |i: usize| {
            let mut x = i as u64 + 1;
            (0..1_000 + i % 97)
                .map(|n| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    match n % 4 == 3 || x >> 63 == 1 && n % 4 == 2 {
                        true => ' ',
                        false => char::from(b'a' + (x >> 59 & 15) as u8),
                    }
                })
                .collect::<String>()
        };
        for batch in 0..3 {
            for i in batch * 1_500..(batch + 1) * 1_500 {
                let doc = tantivy::doc!(path => i.to_string(), body => text(i));
                writer.add_document(doc).unwrap();
            }
            writer.commit().unwrap();
        }
        writer.delete_term(tantivy::Term::from_field_text(path, "5"));
        writer.commit().unwrap();
        let ids = index.searchable_segment_ids().unwrap();
        assert!(ids.len() >= 3, "{}", ids.len());
        writer.merge(&ids).wait().unwrap();
        writer.wait_merging_threads().unwrap();

        let index = open_index(tmp.path(), tmp.path(), Access::Search).unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let segment = searcher.segment_reader(0);
        let mut stored: Vec<(usize, String)> = segment
            .get_store_reader(0)
            .unwrap()
            .iter::<tantivy::TantivyDocument>(segment.alive_bitset())
            .map(|d| {
                let d = d.unwrap();
                let field = |f| d.get_first(f).unwrap().as_str().unwrap().to_owned();
                (field(path).parse().unwrap(), field(body))
            })
            .collect();
        stored.sort();
        let expected: Vec<(usize, String)> = (0..4_500)
            .filter(|&i| i != 5)
            .map(|i| (i, text(i)))
            .collect();
        assert_eq!(stored, expected);

        // Every word's postings: how often it occurs in each document that
        // holds it (document order follows the merge's order of segments).
        use tantivy::{DocSet, postings::Postings};
        let mut holders: std::collections::HashMap<&str, Vec<u32>> = Default::default();
        for (_, text) in &expected {
            let mut words: Vec<&str> = text.split_whitespace().collect();
            words.sort_unstable();
            for run in words.chunk_by(|a, b| a == b) {
                holders.entry(run[0]).or_default().push(run.len() as u32);
            }
        }
        assert!(holders.len() > 4_000, "{}", holders.len());
        let index = segment.inverted_index(body).unwrap();
        assert!(index.total_num_tokens() > 1_000_000);
        for (word, freqs_expected) in holders.iter_mut().step_by(7) {
            let term = tantivy::Term::from_field_text(body, word);
            let doc_freq = index.doc_freq(&term).unwrap();
            assert_eq!(doc_freq, freqs_expected.len() as u32, "{word}");
            let mut postings = index
                .read_postings(
                    &term,
                    tantivy::schema::IndexRecordOption::WithFreqsAndPositions,
                )
                .unwrap()
                .unwrap();
            let mut freqs = Vec::new();
            while postings.doc() != tantivy::TERMINATED {
                freqs.push(postings.term_freq());
                postings.advance();
            }
            freqs.sort_unstable();
            freqs_expected.sort_unstable();
            assert_eq!(&freqs, freqs_expected, "{word}");
        }
    }

    #[test]
    fn garbage_current_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(CURRENT_FILE), "nonsense").unwrap();
        let e = IndexDir::new(tmp.path()).current().unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("nonsense"), "{e}");
    }
}
