//! Reaching a candidate file through a handle on its folder.
//!
//! The kernel resolves a path component by component, with a permission
//! check at each one, every time a file is stat-ed or opened by its full
//! path. On a cron re-run with nothing changed, that walk down
//! `/archive/2024/03/...` was about a quarter of the run (perf, corpus: the
//! dentry lookups of every component of 23,800 paths). The walker hands
//! out a folder's files one after another, so each ingest worker keeps the
//! last folder it saw open and names files relative to it: one lookup per
//! file instead of one per component.
//!
//! Wherever the handle cannot be used (another OS, a kernel without
//! `statx`, any error at all), the file is reached by its path as before,
//! so the handle only ever saves time; errors are always those of the
//! path-based call.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// What ingest needs to know of a file to decide whether to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, in nanoseconds from the epoch (negative before).
    pub mtime_ns: i64,
}

impl FileStat {
    fn of(meta: &std::fs::Metadata) -> FileStat {
        let mtime_ns = match meta.modified() {
            Ok(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
            },
            Err(_) => 0,
        };
        FileStat {
            size: meta.len(),
            mtime_ns,
        }
    }
}

/// Stats and opens files, relative to the folder of the previous one when
/// it is the same folder. One per worker thread.
#[derive(Default)]
pub struct Opener {
    #[cfg(target_os = "linux")]
    folder: Option<linux::Folder>,
}

impl Opener {
    /// The size and modification time of the file at `path`, following
    /// symbolic links (as [`std::fs::metadata`]).
    pub fn stat(&mut self, path: &Path) -> io::Result<FileStat> {
        #[cfg(target_os = "linux")]
        if let Some(stat) = self
            .folder(path)
            .and_then(|(folder, name)| folder.stat(name))
        {
            return Ok(stat);
        }
        std::fs::metadata(path).map(|m| FileStat::of(&m))
    }

    /// Opens the file at `path` for reading, with its size and modification
    /// time.
    pub fn open(&mut self, path: &Path) -> io::Result<(File, FileStat)> {
        #[cfg(target_os = "linux")]
        if let Some(opened) = self
            .folder(path)
            .and_then(|(folder, name)| folder.open(name))
        {
            return Ok(opened);
        }
        let file = File::open(path)?;
        let stat = FileStat::of(&file.metadata()?);
        Ok((file, stat))
    }

    /// The open folder of `path` and the file's name in it; `None` where
    /// the folder cannot be opened.
    #[cfg(target_os = "linux")]
    fn folder<'p>(&mut self, path: &'p Path) -> Option<(&linux::Folder, &'p std::ffi::OsStr)> {
        let (parent, name) = crate::walk::split_name(path)?;
        let same = self
            .folder
            .as_ref()
            .is_some_and(|f| f.path.as_os_str() == parent.as_os_str());
        if !same {
            self.folder = linux::Folder::new(parent);
        }
        Some((self.folder.as_ref()?, name))
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::OsStr;
    use std::fs::File;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};

    use rustix::fs::{AtFlags, Mode, OFlags, Statx, StatxFlags};

    use super::FileStat;

    /// A folder opened for naming files in it (`O_PATH`: no read
    /// permission needed, nothing read).
    pub(super) struct Folder {
        pub(super) path: PathBuf,
        fd: OwnedFd,
    }

    impl Folder {
        pub(super) fn new(path: &Path) -> Option<Folder> {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rustix::fs::open(path, flags, Mode::empty()).ok()?;
            Some(Folder {
                path: path.to_owned(),
                fd,
            })
        }

        pub(super) fn stat(&self, name: &OsStr) -> Option<FileStat> {
            let stat = rustix::fs::statx(&self.fd, name, AtFlags::empty(), wanted()).ok()?;
            file_stat(&stat)
        }

        pub(super) fn open(&self, name: &OsStr) -> Option<(File, FileStat)> {
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).ok()?;
            let stat = rustix::fs::statx(&fd, "", AtFlags::EMPTY_PATH, wanted()).ok()?;
            Some((File::from(fd), file_stat(&stat)?))
        }
    }

    fn wanted() -> StatxFlags {
        StatxFlags::SIZE | StatxFlags::MTIME
    }

    /// As [`FileStat::of`] computes it from `std::fs::Metadata`, which
    /// comes from the same system call.
    fn file_stat(stat: &Statx) -> Option<FileStat> {
        if !StatxFlags::from_bits_retain(stat.stx_mask).contains(wanted()) {
            return None;
        }
        let ns =
            i128::from(stat.stx_mtime.tv_sec) * 1_000_000_000 + i128::from(stat.stx_mtime.tv_nsec);
        let max = i128::from(i64::MAX);
        Some(FileStat {
            size: stat.stx_size,
            mtime_ns: i64::try_from(ns.clamp(-max, max)).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::{Duration, SystemTime};

    fn by_path(path: &Path) -> FileStat {
        FileStat::of(&std::fs::metadata(path).unwrap())
    }

    #[test]
    fn stat_and_open_agree_with_the_path_based_calls() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a");
        std::fs::create_dir(&sub).unwrap();
        let times = [
            SystemTime::now(),
            UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789),
            UNIX_EPOCH + Duration::from_millis(1_500),
            // Before the epoch: the nanoseconds count up from a negative second.
            UNIX_EPOCH - Duration::from_millis(1_500),
        ];
        let mut opener = Opener::default();
        // Files alternate between two folders, so the kept folder changes.
        for (i, t) in times.iter().enumerate() {
            let folder = if i % 2 == 0 { dir.path() } else { &sub };
            let path = folder.join(format!("{i}.txt"));
            std::fs::write(&path, "x".repeat(i * 100)).unwrap();
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(*t)
                .unwrap();
            let expected = by_path(&path);
            assert_eq!(expected.size, i as u64 * 100);
            // The handle itself, not the fallback to the path.
            #[cfg(target_os = "linux")]
            {
                let folder = linux::Folder::new(folder).unwrap();
                let name = path.file_name().unwrap();
                assert_eq!(folder.stat(name), Some(expected), "{t:?}");
                assert_eq!(folder.open(name).map(|(_, s)| s), Some(expected));
            }
            assert_eq!(opener.stat(&path).unwrap(), expected, "{t:?}");
            let (mut file, stat) = opener.open(&path).unwrap();
            assert_eq!(stat, expected);
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert_eq!(text.len(), i * 100);
        }
    }

    #[test]
    fn follows_links_and_reports_what_is_missing_as_the_path_would() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "linked").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut opener = Opener::default();
        assert_eq!(opener.stat(&link).unwrap(), by_path(&target));
        assert_eq!(opener.open(&link).unwrap().1.size, 6);
        let gone = dir.path().join("gone.txt");
        assert_eq!(
            opener.stat(&gone).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            opener.open(&gone).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let in_missing_folder = dir.path().join("nope").join("x.txt");
        assert_eq!(
            opener.stat(&in_missing_folder).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
