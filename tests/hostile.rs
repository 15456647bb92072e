//! Hostile archives and hostile queries: every bad input gets a clear,
//! one-line answer, everything else is still indexed, nothing panics.
//!
//! The hostile corpus is built here at test time (no committed binaries).
//! Tests that need an unprivileged user (permission errors) or a mount
//! (a full disk) print why they skip when the machine cannot provide one.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{Rng, TestEnv, write_articles};

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

const MELENCHON: &str = "PARIS (AP) — Jean-Luc Mélenchon said “no” to the pension plan.\n\nHis party voted against it.\n";

/// Writes the hostile corpus; returns how many files are valid articles.
fn hostile_corpus(env: &TestEnv) -> u64 {
    let mut valid = 0;
    let mut good = |name: &str, bytes: Vec<u8>| {
        env.write(&format!("h/{name}"), bytes);
        valid += 1;
    };
    good("plain.txt", MELENCHON.as_bytes().to_vec());
    good("bom.txt", format!("\u{feff}{MELENCHON}").into_bytes());
    good("utf16le.txt", utf16(MELENCHON, false));
    good("utf16be.txt", utf16(MELENCHON, true));
    good(
        "cp1252.txt",
        b"PARIS (AP) \x97 Jean-Luc M\xe9lenchon said \x93no\x94 to the pension plan.\r\n\r\nHis party\x92s deputies voted against it.\r\n".to_vec(),
    );
    good(
        "crlf.txt",
        "LONDON (AP) — A crlf article.\r\n\r\nSecond paragraph.\r\n"
            .as_bytes()
            .to_vec(),
    );
    good(
        "long_line.txt",
        format!("enormousline {}\n", "word ".repeat(200_000)).into_bytes(),
    );
    good(
        "control_chars.txt",
        b"Pemex signed a 500 mln dlr\x7funtied loan, said the \x1b[31mbank\x1b[0m.\n".to_vec(),
    );
    let deep: String = (0..120).map(|i| format!("d{i}/")).collect();
    good(
        &format!("{deep}deep.txt"),
        b"The deepword article at the bottom of a deep tree.\n".to_vec(),
    );

    env.write("h/empty.txt", "");
    env.write("h/blank.txt", " \n\t\r\n  \n");
    env.write(
        "h/nul.txt",
        b"PK\x03\x04\x00\x00\x00binary zip header\x00\x01",
    );
    let mut rng = Rng::new(42);
    let noise: Vec<u8> = (0..5000).map(|_| (rng.below(31) + 1) as u8).collect();
    env.write("h/noise.txt", noise);
    env.write("h/big.txt", "x".repeat(3 * 1024 * 1024));
    env.write("h/notes.md", "not a candidate");
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(env.path("h/missing-target.txt"), env.path("h/dangling.txt")).unwrap();
        symlink(env.path("h"), env.path("h/d0/loop")).unwrap();
    }
    valid
}

fn lines_naming(stderr: &str, name: &str) -> usize {
    stderr.lines().filter(|l| l.contains(name)).count()
}

#[test]
fn hostile_corpus_indexes_exactly_the_valid_articles() {
    let env = TestEnv::new();
    let valid = hostile_corpus(&env);
    let run = env.run(&[
        "ingest",
        "h",
        "--json",
        "--follow-symlinks",
        "--max-file-size",
        "2MiB",
    ]);
    run.expect_code(0);
    let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(summary["added"], valid, "{summary}\n{}", run.stderr);
    assert_eq!(
        summary["skipped_by_reason"],
        serde_json::json!({"empty": 2, "binary": 2, "too_large": 1, "unreadable": 2}),
        "{summary}\n{}",
        run.stderr
    );
    assert_eq!(summary["legacy_encoding"], 1);
    // Each bad file is reported once, with its reason, on one line.
    for (name, reason) in [
        ("empty.txt", "empty"),
        ("blank.txt", "empty"),
        ("nul.txt", "binary"),
        ("noise.txt", "binary"),
        ("big.txt", "larger than --max-file-size 2 MiB"),
        ("dangling.txt", "dangling"),
        ("loop", "loop"),
    ] {
        assert_eq!(lines_naming(&run.stderr, name), 1, "{name}: {}", run.stderr);
        let line = run.stderr.lines().find(|l| l.contains(name)).unwrap();
        assert!(line.contains(reason), "{name}: {line}");
    }
    assert!(
        run.stderr
            .contains("big.txt: skipped, 3 MiB is larger than --max-file-size 2 MiB"),
        "{}",
        run.stderr
    );
    // Every encoding gives the same characters: the four same-text copies
    // are one story (cp1252.txt has another second paragraph), and each
    // one is found.
    let collapsed = env.search("Mélenchon", &[]);
    assert_eq!(collapsed.summary()["stories"], 2, "{collapsed:?}");
    assert_eq!(collapsed.hits()[0]["similar_count"], 3);
    let hits = env
        .search("Mélenchon", &["--limit", "20", "--no-collapse"])
        .ids();
    for f in [
        "plain.txt",
        "bom.txt",
        "utf16le.txt",
        "utf16be.txt",
        "cp1252.txt",
    ] {
        assert!(hits.contains(&f.to_owned()), "{f} not found: {hits:?}");
    }
    assert_eq!(env.search("=mélenchon", &[]).summary()["total_hits"], 5);
    assert_eq!(env.search("pension plan", &[]).summary()["total_hits"], 5);
    env.search("enormousline", &[]).expect_code(0);
    env.search("deepword", &[]).expect_code(0);
    env.search("untied", &[]).expect_code(0);
    // --verbose names the file decoded from a legacy encoding.
    let verbose = env.run(&[
        "ingest",
        "h",
        "--verbose",
        "--full",
        "--follow-symlinks",
        "--max-file-size",
        "2MiB",
    ]);
    assert!(
        verbose
            .stderr
            .contains("cp1252.txt: decoded from windows-1252"),
        "{}",
        verbose.stderr
    );
    // Without --follow-symlinks, links are counted, not followed.
    let plain = env.ingest_json(&["h", "--max-file-size", "2MiB"]);
    assert_eq!(plain["skipped_by_reason"]["symlink"], 1, "{plain}");
}

#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_are_indexed_with_a_warning() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    fs::create_dir_all(env.path("n")).unwrap();
    let name = OsStr::from_bytes(b"caf\xe9 \x1b[31mred.txt");
    fs::write(env.path("n").join(name), "A story about the cafe owner.\n").unwrap();
    let run = env.run(&["ingest", "n"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("file name is not valid UTF-8"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\u{1b}'),
        "escape sequence in a warning: {:?}",
        run.stderr
    );
    let hits = env.search("owner", &[]).hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0]["id"].as_str().unwrap().starts_with("caf\u{fffd}"));
    let human = env.run(&["search", "owner", "--color", "never"]);
    assert!(!human.stdout.contains('\u{1b}'));
}

#[test]
fn utf8_with_one_bad_byte_keeps_its_accents_and_counts_as_lossy() {
    let env = TestEnv::new();
    env.write(
        "u/stray.txt",
        b" date 2022-03-28 PARIS (AP) \xe2\x80\x94 M\xc3\xa9lenchon a parl\xc3\xa9 \xff ici.\n",
    );
    let summary = env.ingest_json(&["u"]);
    assert_eq!(summary["lossy"], 1, "{summary}");
    assert_eq!(summary["legacy_encoding"], 0, "{summary}");
    let hits = env.search("Mélenchon", &[]).hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["dateline"], "PARIS");
    assert_eq!(hits[0]["agency"], "AP");
}

#[test]
fn an_article_with_a_stray_nul_is_indexed_without_it() {
    let env = TestEnv::new();
    let mut bytes = b" date 2022-03-28 PARIS (AP) \xe2\x80\x94 The negotiators met ".to_vec();
    bytes.push(0);
    bytes.extend(
        "again on Tuesday, officials said.\n\n"
            .repeat(40)
            .as_bytes(),
    );
    env.write("n/stray.txt", bytes);
    let run = env.run(&["ingest", "n", "--json"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("stray.txt: 1 NUL byte(s) dropped"),
        "{}",
        run.stderr
    );
    let summary = &run.json_lines()[0];
    assert_eq!(summary["added"], 1, "{summary}");
    assert_eq!(summary["lossy"], 1, "{summary}");
    let hits = env.search("negotiators", &[]).hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["dateline"], "PARIS");
    assert!(!hits[0].to_string().contains("\\u0000"), "{}", hits[0]);
}

#[test]
fn a_date_the_index_cannot_hold_is_a_warning_and_no_date() {
    let env = TestEnv::new();
    env.write(
        "d/far.txt",
        " date 9999-12-31 LONDON (AP) — A farfuture story.\n",
    );
    let run = env.run(&["ingest", "d", "--json"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("\"9999-12-31\" is not a valid date; indexed without a date"),
        "{}",
        run.stderr
    );
    let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(summary["added"], 1, "{summary}");
    let hits = env.search("farfuture", &[]).hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["date"], Value::Null);
    assert_eq!(hits[0]["dateline"], "LONDON");
}

#[test]
fn files_vanishing_and_changing_during_ingest_never_fail_the_run() {
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..1500, 5);
    let mut child = env
        .command(&["ingest", "archive", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Delete and rewrite files while the ingest runs.
    let mut rng = Rng::new(99);
    let mut deleted = 0;
    while child.try_wait().unwrap().is_none() && deleted < 600 {
        let i = rng.below(1500) as usize;
        let path = arch.join(format!("d{:03}/a{i:06}.txt", i / 100));
        if rng.below(2) == 0 {
            if fs::remove_file(&path).is_ok() {
                deleted += 1;
            }
        } else if path.exists() {
            let _ = fs::write(
                &path,
                "KYIV (AP) — rewritten while being indexed.\n".repeat(rng.below(50) as usize + 1),
            );
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The next run converges on exactly the files on disk.
    env.ingest("archive");
    let on_disk = walk_count(&arch);
    let again = env.ingest_json(&["archive"]);
    assert_eq!(
        again["added"].as_u64().unwrap() + again["updated"].as_u64().unwrap(),
        0,
        "{again}"
    );
    assert_eq!(again["unchanged"], on_disk as u64);
    assert_eq!(env.search("*", &[]).summary()["total_hits"], on_disk as u64);
}

fn walk_count(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk_count(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// The user id tests run as.
fn euid() -> Option<u32> {
    let out = Command::new("id").arg("-u").output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// A command that runs the binary without root's power to read anything:
/// as is for a normal user, through `setpriv` as `nobody` for root.
/// `None` (with the reason printed) where neither works.
fn unprivileged(env: &TestEnv, args: &[&str]) -> Option<Command> {
    match euid() {
        Some(0) => {
            let probe = Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
                .status();
            if !probe.is_ok_and(|s| s.success()) {
                eprintln!("skipped: running as root and setpriv cannot drop privileges here");
                return None;
            }
            let mut cmd = Command::new("setpriv");
            cmd.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_newsidx"),
            ]);
            cmd.args(args)
                .arg("--index")
                .arg(&env.index)
                .current_dir(env.dir.path())
                .env_remove("NEWSIDX_INDEX");
            Some(cmd)
        }
        Some(_) => Some(env.command(args)),
        None => {
            eprintln!("skipped: cannot tell which user the tests run as");
            None
        }
    }
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_folders_are_warnings_and_keep_their_documents() {
    let env = TestEnv::new();
    chmod(env.dir.path(), 0o777);
    write_articles(&env.path("a"), 0..30, 3);
    for dir in walk_dirs(&env.path("a")) {
        chmod(&dir, 0o777);
    }
    let Some(mut first) = unprivileged(&env, &["ingest", "a", "--json"]) else {
        return;
    };
    let out = first.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Change two files, then make them unreadable: their old documents
    // must survive, since the new text cannot be read.
    for f in ["a/d000/a000001.txt", "a/d000/a000002.txt"] {
        fs::write(env.path(f), "Changed, then locked away.\n").unwrap();
        chmod(&env.path(f), 0o000);
    }
    fs::create_dir_all(env.path("a/locked")).unwrap();
    fs::write(
        env.path("a/locked/inside.txt"),
        "Hidden from the indexer.\n",
    )
    .unwrap();
    chmod(&env.path("a/locked"), 0o000);
    let out = unprivileged(&env, &["ingest", "a", "--json"])
        .unwrap()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    chmod(&env.path("a/locked"), 0o755);
    assert_eq!(
        summary["deleted"], 0,
        "unreadable is not deleted: {summary}"
    );
    assert_eq!(summary["unchanged"], 28, "{summary}");
    assert_eq!(summary["skipped_by_reason"]["unreadable"], 3, "{summary}");
    for name in ["a000001.txt", "a000002.txt", "locked"] {
        let line = stderr
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default();
        assert!(line.contains("permission denied"), "{name}: {stderr}");
    }
    assert_eq!(env.search("*", &[]).summary()["total_hits"], 30);
}

fn walk_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_owned()];
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk_dirs(&e.path()));
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn an_index_directory_that_is_not_writable_is_a_clear_error() {
    let env = TestEnv::with_seeds();
    chmod(env.dir.path(), 0o777);
    env.ingest("seeds");
    chmod(&env.path("seeds"), 0o755);
    let Some(mut cmd) = unprivileged(&env, &["ingest", "seeds"]) else {
        return;
    };
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("permission denied") || stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&env.index.display().to_string()),
        "{stderr}"
    );
    // Searching (read-only) still works for that user, and for root.
    let out = unprivileged(&env, &["search", "neutrality"])
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `status` opened the lock file for writing just to test it, so a user
/// who may read the index but not write it, and can search it, got
/// "newsidx.lock: Permission denied" and exit 2.
#[cfg(unix)]
#[test]
fn status_needs_no_more_than_read_access_like_search() {
    let env = TestEnv::with_seeds();
    chmod(env.dir.path(), 0o755);
    env.ingest("seeds");
    let lock = env.index.join("newsidx.lock");
    // Read-only for its owner too, so that a normal user running the
    // tests, who owns the index, cannot open it for writing either.
    chmod(&lock, 0o444);
    let Some(mut cmd) = unprivileged(&env, &["status", "--json"]) else {
        return;
    };
    let status = |mut cmd: Command| {
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(stderr, "");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json = |text: String| -> Value { serde_json::from_str(&text).unwrap() };
    let out = json(status(cmd));
    assert_eq!(out["documents"], 7, "{out}");
    assert_eq!(out["ingest_running"], false, "{out}");
    let human = status(unprivileged(&env, &["status"]).unwrap());
    assert!(human.contains("ingest:      not running"), "{human}");
    let search = unprivileged(&env, &["search", "neutrality"])
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(search.status.code(), Some(0), "as search does");

    // A running ingest is seen, with its pid.
    chmod(&lock, 0o644);
    let held = crate::util::hold_lock(&env);
    chmod(&lock, 0o444);
    cmd = unprivileged(&env, &["status", "--json"]).unwrap();
    let out = json(status(cmd));
    assert_eq!(out["ingest_running"], true, "{out}");
    assert_eq!(out["ingest_pid"], 4242, "{out}");
    drop(held);

    // A user who may not even read the lock file cannot tell; the rest of
    // the status is still there.
    chmod(&lock, 0o000);
    let out = json(status(unprivileged(&env, &["status", "--json"]).unwrap()));
    let human = status(unprivileged(&env, &["status"]).unwrap());
    chmod(&lock, 0o644);
    assert_eq!(out["documents"], 7, "{out}");
    assert_eq!(out["ingest_running"], Value::Null, "{out}");
    assert!(human.contains("ingest:      unknown"), "{human}");
}

#[test]
fn damaged_and_foreign_indexes_are_clear_errors() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let current = fs::read_to_string(env.index.join("CURRENT")).unwrap();
    let meta = env.index.join(current.trim()).join("meta.json");
    let good = fs::read(&meta).unwrap();
    for (what, bytes) in [
        ("truncated", Some(good[..good.len() / 2].to_vec())),
        ("garbage", Some(b"\x00\xffnot json".to_vec())),
        ("empty", Some(vec![])),
        ("missing", None),
    ] {
        match bytes {
            Some(bytes) => fs::write(&meta, &bytes).unwrap(),
            None => fs::remove_file(&meta).unwrap(),
        }
        for args in [
            vec!["search", "neutrality"],
            vec!["ingest", "seeds"],
            vec!["status"],
        ] {
            let run = env.run(&args);
            run.expect_code(2);
            assert_eq!(
                run.stderr.lines().count(),
                1,
                "{what} {args:?}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains("is damaged"),
                "{what} {args:?}: {}",
                run.stderr
            );
            assert!(run.stderr.contains("--full"), "{what}: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"));
        }
    }
    // The missing file is named with its generation.
    assert!(env.run(&["status"]).stderr.contains("gen-000001/meta.json"));
    // The advice works.
    env.ingest_json(&["seeds", "--full"]);
    env.search("neutrality", &[]).expect_code(0);

    // Garbage inside a segment file, where tantivy panics rather than
    // returning an error, or where ingest reads first (the clusters): one
    // line and exit 2 too, not a panic report.
    let current = fs::read_to_string(env.index.join("CURRENT")).unwrap();
    let generation = env.index.join(current.trim());
    for entry in fs::read_dir(&generation).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "fast") {
            let mut bytes = fs::read(&path).unwrap();
            let n = bytes.len();
            for (i, b) in bytes[n / 4..n / 4 + n / 2].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(151).wrapping_add(7);
            }
            fs::write(&path, bytes).unwrap();
        }
    }
    for args in [vec!["dups"], vec!["ingest", "seeds"]] {
        let run = env.run(&args);
        run.expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("damaged") && run.stderr.contains("--full"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    env.ingest_json(&["seeds", "--full"]);
    // Exit 1: the seeds hold no copies.
    env.run(&["dups"]).expect_code(1);

    // A garbled CURRENT, too.
    fs::write(env.index.join("CURRENT"), "???").unwrap();
    let run = env.run(&["search", "neutrality"]);
    run.expect_code(2);
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    env.ingest_json(&["seeds", "--full"]);
    env.search("neutrality", &[]).expect_code(0);

    // An index built with another schema.
    let schema = fs::read_to_string(crate::util::repo().join("index-schema/newsidx.toml")).unwrap();
    let other = schema
        .replacen(
            "docstore_blocksize = 8192",
            "docstore_blocksize = 8192\n",
            1,
        )
        .replacen("record = \"basic\"", "record = \"freq\"", 1);
    let other_path = env.write("other.toml", other);
    let other_path = other_path.to_str().unwrap();
    let run = env.run(&["search", "neutrality", "--schema", other_path]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("built with a different schema") && run.stderr.contains("--full"),
        "{}",
        run.stderr
    );
    env.run(&["ingest", "seeds", "--schema", other_path])
        .expect_code(2);
    env.run(&["ingest", "seeds", "--full", "--schema", other_path])
        .expect_code(0);
    env.run(&["search", "neutrality", "--schema", other_path])
        .expect_code(0);
    // A bad schema file names the file and the field.
    let broken = env.write(
        "broken.toml",
        schema.replacen("name = \"agency\"", "name = \"agencie\"", 1),
    );
    let run = env.run(&["search", "x", "--schema", broken.to_str().unwrap()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("broken.toml") && run.stderr.contains("`agencie`"),
        "{}",
        run.stderr
    );
}

#[test]
fn full_disk_fails_cleanly_and_keeps_the_last_commit() {
    if euid() != Some(0) {
        eprintln!("skipped: mounting a small tmpfs to fill needs root");
        return;
    }
    let env = TestEnv::new();
    let mnt = env.path("small");
    fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    write_articles(&env.path("first"), 0..20, 1);
    write_articles(&env.path("more"), 20..6000, 2);
    let index = mnt.join("index");
    let run = |folder: &str| {
        Command::new(env!("CARGO_BIN_EXE_newsidx"))
            .args(["ingest", folder, "--index"])
            .arg(&index)
            .current_dir(env.dir.path())
            .output()
            .unwrap()
    };
    assert!(run("first").status.success());
    let out = run("more");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains(&index.display().to_string()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The last committed state is intact and searchable.
    let search = Command::new(env!("CARGO_BIN_EXE_newsidx"))
        .args(["search", "*", "--json", "--limit", "0", "--index"])
        .arg(&index)
        .output()
        .unwrap();
    assert!(
        search.status.success(),
        "{}",
        String::from_utf8_lossy(&search.stderr)
    );
    let summary: Value = serde_json::from_str(
        String::from_utf8_lossy(&search.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    let total = summary["total_hits"].as_u64().unwrap();
    assert!(total >= 20, "committed documents lost: {total}");
}

#[test]
fn hostile_queries_exit_2_with_a_located_one_line_message() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let long = "word ".repeat(20_000);
    let cases: [(&str, &str); 7] = [
        ("war \"peace", "unclosed quote (at column 5)"),
        ("((war)", "unclosed '(' (at column 1)"),
        ("war ) peace", "unmatched ')' (at column 5)"),
        ("war foo:bar", "unknown field 'foo' (fields:"),
        ("date:[2022-01-01 TO yesterday]", "invalid date 'yesterday'"),
        ("war \u{7} peace", "control character U+0007"),
        (&long, "query is too long (100000 bytes"),
    ];
    for (q, needle) in cases {
        let run = env.run(&["search", q]);
        run.expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(needle), "{:.80}: {}", q, run.stderr);
        assert!(
            run.stderr.len() < 400,
            "the message must not echo the query: {}",
            run.stderr.len()
        );
    }
    // --lenient runs what parses and warns about the rest.
    let run = env.run(&["search", "neutrality foo:bar \"unclosed", "--lenient"]);
    run.expect_code(1);
    let run = env.run(&["search", "neutrality foo:bar", "--lenient", "--json"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("warning: ignored part of the query: unknown field 'foo'"),
        "{}",
        run.stderr
    );
    assert_eq!(run.summary()["warnings"].as_array().unwrap().len(), 1);
    env.run(&["search", "neutrality )", "--lenient"])
        .expect_code(0);
}

#[cfg(unix)]
#[test]
fn an_old_generation_that_cannot_be_deleted_is_a_warning_and_goes_next_run() {
    let env = TestEnv::with_seeds();
    chmod(env.dir.path(), 0o777);
    chmod(&env.path("seeds"), 0o755);
    let Some(mut first) = unprivileged(&env, &["ingest", "seeds"]) else {
        return;
    };
    let out = first.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The rebuild cannot delete the files of the generation it replaces.
    let old = env.index.join("gen-000001");
    chmod(&old, 0o555);
    let out = unprivileged(&env, &["ingest", "seeds", "--full", "--json"])
        .unwrap()
        .output()
        .unwrap();
    chmod(&old, 0o755);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("an old index generation was left in place")
            && stderr.contains(&*old.to_string_lossy()),
        "{stderr}"
    );
    let summary: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(summary["warnings"], 1, "{summary}");
    assert_eq!(
        fs::read_to_string(env.index.join("CURRENT"))
            .unwrap()
            .trim(),
        "gen-000002"
    );
    assert!(env.search("*", &[]).summary()["total_hits"].as_u64() > Some(0));
    // Once it can be deleted, the next run deletes it without a word.
    let out = unprivileged(&env, &["ingest", "seeds", "--json"])
        .unwrap()
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!old.exists(), "{} is still there", old.display());
}

#[test]
fn an_index_path_naming_a_file_is_a_clear_error() {
    let env = TestEnv::with_seeds();
    fs::write(&env.index, "not an index").unwrap();
    for args in [
        vec!["ingest", "seeds"],
        vec!["search", "neutrality"],
        vec!["status"],
        vec!["dups"],
    ] {
        let run = env.run(&args);
        run.expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("{} is not a folder", env.index.display())),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(fs::read(&env.index).unwrap(), b"not an index");
    // A path under the file does not exist: its error names it.
    let under = env.index.join("sub");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsidx"))
        .args(["search", "neutrality", "--index"])
        .arg(&under)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("sub/CURRENT"), "{stderr}");
    assert!(!stderr.contains("is not a folder"), "{stderr}");
}

#[test]
fn an_unreadable_meta_json_is_a_permission_error_not_damage() {
    let env = TestEnv::with_seeds();
    chmod(env.dir.path(), 0o755);
    env.ingest("seeds");
    let current = fs::read_to_string(env.index.join("CURRENT")).unwrap();
    let meta = env.index.join(current.trim()).join("meta.json");
    // Unreadable for its owner too, for a normal user running the tests.
    chmod(&meta, 0o000);
    let Some(mut cmd) = unprivileged(&env, &["search", "neutrality"]) else {
        chmod(&meta, 0o644);
        return;
    };
    let out = cmd.output().unwrap();
    chmod(&meta, 0o644);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Named, and no advice to rebuild (which would not help, and would
    // throw the index away).
    assert!(
        stderr.contains("meta.json") && stderr.contains("ermission denied"),
        "{stderr}"
    );
    assert!(!stderr.contains("--full"), "{stderr}");
    env.search("neutrality", &[]).expect_code(0);
}

#[test]
fn a_failed_write_of_the_results_names_standard_output() {
    let Ok(full) = fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let out = env
        .command(&["search", "neutrality"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
}
