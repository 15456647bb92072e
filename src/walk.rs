//! Finding the files to ingest.
//!
//! One function decides what a candidate is (extension allow-list, no
//! hidden entries, symlinks only when asked) and turns every walk error
//! into a report naming its path, so one unreadable folder never stops an
//! ingest. walkdir iterates without recursion, so very deep trees cost
//! memory proportional to their depth, not a stack overflow.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use walkdir::{DirEntry, WalkDir};

/// What to look for.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// File extensions to ingest, lower-case, without the dot.
    pub extensions: Vec<String>,
    /// Follow symbolic links (loops are reported, not followed forever).
    pub follow_symlinks: bool,
}

/// A folder (or file) given on the command line.
#[derive(Debug, Clone)]
pub struct Root {
    /// The canonical absolute path.
    pub path: PathBuf,
}

/// A file to ingest.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its path (under a canonical root, so absolute).
    pub path: PathBuf,
    /// Index of its root in the slice given to [`walk`].
    pub root: usize,
}

impl Candidate {
    /// Its path relative to its root, `/`-separated: the document id.
    /// Computed on demand: most candidates of a re-run are unchanged and
    /// never need one.
    pub fn id(&self, roots: &[Root]) -> String {
        roots.get(self.root).map_or_else(
            || self.path.display().to_string(),
            |r| relative_id(&self.path, &r.path),
        )
    }
}

/// Something the walk found.
#[derive(Debug)]
pub enum WalkEvent {
    /// A file to ingest.
    File(Candidate),
    /// A symbolic link that was not followed.
    Symlink(PathBuf),
    /// An entry that could not be read: permission denied, a dangling link,
    /// a link loop. `is_dir` is set when a whole folder was missed.
    Error {
        /// The entry.
        path: PathBuf,
        /// What went wrong, in a few words.
        reason: String,
        /// Whether a folder (and so everything under it) was missed.
        is_dir: bool,
    },
}

/// Walks `roots` in directory order and hands every event to `sink`;
/// `sink` returns `false` to stop early. Entries are not sorted: ingest
/// order does not matter (search breaks ties by path), and sorting every
/// directory cost a tenth of a no-change re-run.
pub fn walk(roots: &[Root], opts: &WalkOptions, mut sink: impl FnMut(WalkEvent) -> bool) {
    for (index, root) in roots.iter().enumerate() {
        let walker = WalkDir::new(&root.path)
            .follow_links(opts.follow_symlinks)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(file_name(e.path())));
        for entry in walker {
            let event = match entry {
                Ok(entry) => match classify(entry, index, opts) {
                    Some(event) => event,
                    None => continue,
                },
                Err(err) => error_event(&err, &root.path),
            };
            if !sink(event) {
                return;
            }
        }
    }
}

fn classify(entry: DirEntry, root: usize, opts: &WalkOptions) -> Option<WalkEvent> {
    let ft = entry.file_type();
    if ft.is_symlink() {
        // Only reached when not following links.
        return has_extension(file_name(entry.path()), &opts.extensions)
            .then(|| WalkEvent::Symlink(entry.into_path()));
    }
    if !ft.is_file() || !has_extension(file_name(entry.path()), &opts.extensions) {
        return None;
    }
    Some(WalkEvent::File(Candidate {
        path: entry.into_path(),
        root,
    }))
}

fn error_event(err: &walkdir::Error, root: &Path) -> WalkEvent {
    let path = err.path().unwrap_or(root).to_owned();
    let reason = if let Some(ancestor) = err.loop_ancestor() {
        format!("symlink loop back to {}", ancestor.display())
    } else if let Some(io) = err.io_error() {
        match io.kind() {
            std::io::ErrorKind::NotFound => "dangling symlink or vanished entry".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => io.to_string(),
        }
    } else {
        err.to_string()
    };
    // A folder we could not list: walkdir reports it with the folder's path.
    let is_dir = err.loop_ancestor().is_some() || path.is_dir();
    WalkEvent::Error {
        path,
        reason,
        is_dir,
    }
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Whether the file name `name` ends in one of `extensions` (as
/// [`Path::extension`] finds it: after the last dot, not a leading one).
fn has_extension(name: &OsStr, extensions: &[String]) -> bool {
    let name = name.as_encoded_bytes();
    let Some(dot) = memchr::memrchr(b'.', name).filter(|&i| i > 0) else {
        return false;
    };
    let ext = &name[dot + 1..];
    extensions
        .iter()
        .any(|e| e.as_bytes().eq_ignore_ascii_case(ext))
}

/// The folder and file name of a path the walker built. The same as
/// [`Path::parent`] and [`Path::file_name`], which parse components from
/// the end: with four such calls per file they were a sixth of the
/// instructions of a re-run with nothing changed (callgrind, corpus). A
/// walked path is its folder's path, one separator and a name, so on Unix
/// the last separator splits it; anything else goes to the `Path` methods.
pub fn split_name(path: &Path) -> Option<(&Path, &OsStr)> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if let Some(i) = memchr::memrchr(b'/', bytes) {
            let (folder, name) = (&bytes[..i], &bytes[i + 1..]);
            let plain = |b: &[u8]| !b.is_empty() && b != b"." && b != b"..";
            if plain(name) && plain(folder) && !folder.ends_with(b"/") && !folder.ends_with(b"/.") {
                return Some((
                    Path::new(OsStr::from_bytes(folder)),
                    OsStr::from_bytes(name),
                ));
            }
        }
    }
    Some((path.parent()?, path.file_name()?))
}

/// The file name of a walked path (the whole path where it has none, as
/// walkdir's `DirEntry::file_name`).
fn file_name(path: &Path) -> &OsStr {
    split_name(path).map_or(path.as_os_str(), |(_, name)| name)
}

/// The `/`-separated path of `path` below `root`; a root that is itself a
/// file gets its file name.
pub fn relative_id(path: &Path, root: &Path) -> String {
    let rel = match path.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel,
        _ => Path::new(path.file_name().unwrap_or(path.as_os_str())),
    };
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

/// Canonicalizes the roots given on the command line and drops any root
/// that lies inside another, so no file is ingested twice in one run.
///
/// # Errors
///
/// The first path that does not exist or cannot be resolved, with the
/// I/O error.
pub fn resolve_roots(paths: &[PathBuf]) -> Result<Vec<Root>, (PathBuf, std::io::Error)> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for p in paths {
        let canonical = p.canonicalize().map_err(|e| (p.clone(), e))?;
        roots.push(canonical);
    }
    roots.sort();
    roots.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for r in roots {
        if !kept.iter().any(|k| r.starts_with(k)) {
            kept.push(r);
        }
    }
    Ok(kept.into_iter().map(|path| Root { path }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn collect(roots: &[Root], follow: bool) -> Vec<WalkEvent> {
        let opts = WalkOptions {
            extensions: vec!["txt".into()],
            follow_symlinks: follow,
        };
        let mut out = Vec::new();
        walk(roots, &opts, |e| {
            out.push(e);
            true
        });
        out
    }

    #[test]
    fn names_and_extensions_are_those_the_path_methods_find() {
        let paths = [
            "/archive/2024/03/story.txt",
            "/story.TXT",
            "/",
            "story.txt",
            "a/b",
            "a//b/c.txt",
            "a/b/",
            "a/b/.",
            "a/./b.txt",
            "./b.txt",
            "../b.txt",
            "a/../b.txt",
            "a/..",
            "a/.hidden",
            "a/.txt",
            "a/..txt",
            "a/b.",
            "a/b.tar.gz",
            "a/é/ü.txt",
            "",
        ];
        let exts = ["txt".to_owned(), "gz".to_owned()];
        for p in paths {
            let path = Path::new(p);
            let expected = path.parent().zip(path.file_name());
            let got = split_name(path);
            assert_eq!(got, expected, "{p:?}");
            assert_eq!(
                file_name(path),
                path.file_name().unwrap_or(path.as_os_str()),
                "{p:?}"
            );
            let by_std = path
                .extension()
                .and_then(OsStr::to_str)
                .is_some_and(|ext| exts.iter().any(|e| e.eq_ignore_ascii_case(ext)));
            if let Some(name) = path.file_name() {
                assert_eq!(has_extension(name, &exts), by_std, "{p:?}");
            }
        }
    }

    fn files(events: &[WalkEvent], roots: &[Root]) -> Vec<String> {
        let mut ids: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                WalkEvent::File(c) => Some(c.id(roots)),
                _ => None,
            })
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn candidates_are_filtered_and_relative() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("b/deep")).unwrap();
        fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in [
            "b/deep/z.txt",
            "a.TXT",
            "b/x.txt",
            "notes.md",
            ".secret.txt",
            ".hidden/h.txt",
        ] {
            fs::write(root.join(f), "x").unwrap();
        }
        let roots = resolve_roots(&[root.to_owned()]).unwrap();
        assert_eq!(
            files(&collect(&roots, false), &roots),
            vec!["a.TXT", "b/deep/z.txt", "b/x.txt"]
        );
    }

    #[test]
    fn nested_roots_are_merged_and_missing_roots_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("sub")).unwrap();
        let roots = resolve_roots(&[
            tmp.path().join("sub"),
            tmp.path().to_owned(),
            tmp.path().join("sub/.."),
        ])
        .unwrap();
        assert_eq!(roots.len(), 1);
        let (path, _) = resolve_roots(&[tmp.path().join("nope")]).unwrap_err();
        assert!(path.ends_with("nope"));
    }

    #[test]
    fn a_file_root_is_its_own_candidate() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("one.txt"), "x").unwrap();
        let roots = resolve_roots(&[tmp.path().join("one.txt")]).unwrap();
        assert_eq!(files(&collect(&roots, false), &roots), vec!["one.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_loops_and_dangling_links() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("d")).unwrap();
        fs::write(root.join("d/real.txt"), "x").unwrap();
        symlink(root.join("d/real.txt"), root.join("link.txt")).unwrap();
        symlink(root.join("missing.txt"), root.join("dangling.txt")).unwrap();
        symlink(root, root.join("d/loop")).unwrap();
        let roots = resolve_roots(&[root.to_owned()]).unwrap();

        let plain = collect(&roots, false);
        assert_eq!(files(&plain, &roots), vec!["d/real.txt"]);
        assert_eq!(
            plain
                .iter()
                .filter(|e| matches!(e, WalkEvent::Symlink(_)))
                .count(),
            2
        );

        let followed = collect(&roots, true);
        assert_eq!(files(&followed, &roots), vec!["d/real.txt", "link.txt"]);
        let errors: Vec<&String> = followed
            .iter()
            .filter_map(|e| match e {
                WalkEvent::Error { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|r| r.contains("loop")));
        assert!(errors.iter().any(|r| r.contains("dangling")));
    }
}
