//! The CLI test harness: every test gets a fresh temporary directory (with
//! the seeds copied in when asked), runs the real `newsidx` binary there,
//! and asserts on exit code, stdout and stderr. A failed assertion prints
//! the whole command output, so a CI log says what went wrong.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// The repository root (where `seeds/` and `tests/fixtures/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory with an index location inside it.
pub struct TestEnv {
    pub dir: TempDir,
    pub index: PathBuf,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the full output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        if self.code != code {
            panic!(
                "`newsidx {}` exited with {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
                self.args.join(" "),
                self.code,
                self.stdout,
                self.stderr
            );
        }
        self
    }

    /// The stdout lines parsed as JSON.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{self:?}"))
            })
            .collect()
    }

    /// The `hit` objects of `--json` output.
    pub fn hits(&self) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v["type"] == "hit")
            .collect()
    }

    /// The `summary` object of `--json` output.
    #[track_caller]
    pub fn summary(&self) -> Value {
        self.json_lines()
            .into_iter()
            .find(|v| v["type"] == "summary")
            .unwrap_or_else(|| panic!("no summary line\n{self:?}"))
    }

    /// The ids of the hits, in rank order.
    pub fn ids(&self) -> Vec<String> {
        self.hits()
            .iter()
            .map(|h| h["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl TestEnv {
    /// An empty scratch directory.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("newsidx-test")
            .tempdir()
            .expect("temp dir");
        let index = dir.path().join("index");
        TestEnv { dir, index }
    }

    /// A scratch directory holding a copy of `seeds/` at `seeds/`.
    pub fn with_seeds() -> TestEnv {
        let env = TestEnv::new();
        copy_dir(&repo().join("seeds"), &env.path("seeds"));
        env
    }

    /// A path inside the scratch directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating folders), returning its path.
    #[allow(dead_code)]
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&p, contents).expect("write");
        p
    }

    /// A `Command` for the binary with `--index` set and a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsidx"));
        cmd.args(args)
            .arg("--index")
            .arg(&self.index)
            .current_dir(self.dir.path())
            .env_remove("NEWSIDX_INDEX")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run newsidx");
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `newsidx ingest FOLDER` that must succeed.
    #[track_caller]
    pub fn ingest(&self, folder: &str) -> Run {
        let run = self.run(&["ingest", folder]);
        run.expect_code(0);
        run
    }

    /// `newsidx ingest --json FOLDER` summary object, which must succeed.
    #[track_caller]
    pub fn ingest_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["ingest", "--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        run.expect_code(0);
        serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("ingest --json: {e}\n{run:?}"))
    }

    /// `newsidx search --json QUERY [args]`.
    pub fn search(&self, query: &str, args: &[&str]) -> Run {
        let mut all = vec!["search", "--json", query];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

/// Holds the index lock the way a running ingest does (flock + pid 4242)
/// until the file is dropped.
pub fn hold_lock(env: &TestEnv) -> fs::File {
    use std::io::Write;
    fs::create_dir_all(&env.index).unwrap();
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.index.join("newsidx.lock"))
        .unwrap();
    f.try_lock().expect("lock free");
    f.set_len(0).unwrap();
    writeln!(f, "4242").unwrap();
    f
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A small deterministic pseudo-random generator (xorshift64*), so tests
/// that vary kill points or content are repeatable from their seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "ukraine", "talks", "minister", "market", "prices", "council", "budget", "rally", "court",
    "harbor", "election", "weather", "grain", "exports", "union", "strike", "police", "museum",
    "river", "bridge",
];

/// The text of generated article `i`: AP style, with a date header, a
/// dateline, three paragraphs (one holding the unique word `uniq{i}`), a
/// caption and a contributors block. About 1.5 KB.
pub fn article(i: usize, rng: &mut Rng) -> String {
    let mut para = |n: usize| {
        (0..n)
            .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        " date 2022-03-{:02} KYIV, Ukraine (AP) — Report number {i} on everyday matters {}.\n\n\
         The common word newsroom appears in every article, with uniq{i} once. {}.\n\n\
         {}.\n\n\
         A view of the harbor at dawn, Monday. (AP Photo/Test Writer)\n\n___\n\nTest Writer contributed.\n",
        1 + i % 28,
        para(40),
        para(60),
        para(60),
    )
}

/// Writes `n` generated articles into `dir`, 100 per sub-folder.
pub fn write_articles(dir: &Path, range: std::ops::Range<usize>, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in range {
        let sub = dir.join(format!("d{:03}", i / 100));
        fs::create_dir_all(&sub).expect("mkdir");
        fs::write(sub.join(format!("a{i:06}.txt")), article(i, &mut rng)).expect("write");
    }
}
