//! Cron-grade ingest: incremental re-runs, one writer at a time, readers
//! never disturbed, and kill -9 at any moment losing nothing committed.

use std::fs;
use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Rng, TestEnv, copy_dir, hold_lock, write_articles};

fn count(env: &TestEnv) -> u64 {
    let run = env.search("*", &["--limit", "0"]);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    run.summary()["total_hits"].as_u64().unwrap_or(0)
}

fn counts(summary: &Value) -> [u64; 5] {
    ["added", "updated", "deleted", "unchanged", "skipped"]
        .map(|k| summary[k].as_u64().unwrap_or(u64::MAX))
}

#[test]
fn incremental_runs_count_exactly_what_changed() {
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..20, 1);
    let first = env.ingest_json(&["archive"]);
    assert_eq!(counts(&first), [20, 0, 0, 0, 0]);

    // Add two, modify one, touch one without changing it, delete one, rename one.
    write_articles(&arch, 20..22, 2);
    let modified = arch.join("d000/a000003.txt");
    fs::write(
        &modified,
        "KYIV (AP) — Rewritten: the word zanzibarite is new here.\n",
    )
    .unwrap();
    let touched = arch.join("d000/a000004.txt");
    let text = fs::read(&touched).unwrap();
    thread::sleep(Duration::from_millis(20));
    fs::write(&touched, &text).unwrap();
    fs::remove_file(arch.join("d000/a000005.txt")).unwrap();
    fs::rename(arch.join("d000/a000006.txt"), arch.join("d000/renamed.txt")).unwrap();

    let second = env.ingest_json(&["archive"]);
    // added: 2 new + 1 renamed; updated: 1; deleted: 1 removed + 1 renamed away;
    // unchanged: 20 - 4 (modified, deleted, renamed; the touched one counts as unchanged).
    assert_eq!(counts(&second), [3, 1, 2, 17, 0], "{second}");
    assert_eq!(second["documents"], 21);
    assert_eq!(count(&env), 21);
    assert_eq!(
        env.search("zanzibarite", &[]).ids(),
        vec!["d000/a000003.txt"]
    );
    env.search("uniq3", &[]).expect_code(1);
    env.search("uniq5", &[]).expect_code(1);
    assert_eq!(env.search("uniq6", &[]).ids(), vec!["d000/renamed.txt"]);

    let third = env.ingest_json(&["archive"]);
    assert_eq!(counts(&third), [0, 0, 0, 21, 0]);
    assert_eq!(
        third["commits"], 0,
        "a run that changes nothing commits nothing"
    );

    // --no-delete keeps documents whose files are gone.
    fs::remove_file(arch.join("d000/a000007.txt")).unwrap();
    let kept = env.ingest_json(&["archive", "--no-delete"]);
    assert_eq!(counts(&kept), [0, 0, 0, 20, 0]);
    assert_eq!(count(&env), 21);
    let gone = env.ingest_json(&["archive"]);
    assert_eq!(counts(&gone), [0, 0, 1, 20, 0]);
}

fn segments(env: &TestEnv) -> u64 {
    let run = env.run(&["status", "--json"]);
    run.expect_code(0);
    let status: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    status["segments"].as_u64().unwrap()
}

#[test]
fn a_small_run_writes_one_segment_and_a_large_one_keeps_its_updates_in_order() {
    // A run smaller than what ingest holds back before opening the writer
    // is indexed by one thread, whatever --threads says: one segment.
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..40, 1);
    env.ingest_json(&["archive", "--threads", "2"]);
    assert_eq!(segments(&env), 1);
    for i in 0..4 {
        fs::write(
            arch.join(format!("d000/a{i:06}.txt")),
            "KYIV (AP) — Rewritten.\n",
        )
        .unwrap();
    }
    let small = env.ingest_json(&["archive", "--threads", "2"]);
    assert_eq!(counts(&small), [0, 4, 0, 36, 0], "{small}");
    assert_eq!(segments(&env), 2);

    // A run larger than the hold: its first updates (delete, then add)
    // are replayed to the writer in order, the rest go straight to it.
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..1200, 1);
    env.ingest_json(&["archive", "--threads", "2"]);
    for i in (0..1200).step_by(2) {
        fs::write(
            arch.join(format!("d{:03}/a{i:06}.txt", i / 100)),
            format!("KYIV (AP) — Rewritten as zanzibarite {i}.\n"),
        )
        .unwrap();
    }
    let large = env.ingest_json(&["archive", "--threads", "2"]);
    assert_eq!(counts(&large), [0, 600, 0, 600, 0], "{large}");
    assert_eq!(large["documents"], 1200, "{large}");
    assert_eq!(count(&env), 1200);
    let hits = |q: &str| {
        env.search(q, &["--limit", "0"]).summary()["total_hits"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(hits("zanzibarite"), 600);
    assert_eq!(hits("newsroom"), 600);
}

#[test]
fn deletes_stay_within_the_folders_of_the_run() {
    let env = TestEnv::new();
    write_articles(&env.path("a"), 0..3, 1);
    write_articles(&env.path("b"), 3..5, 2);
    env.ingest("a");
    env.ingest("b");
    assert_eq!(count(&env), 5);
    // Re-ingesting `a` alone must not delete `b`'s documents.
    let run = env.ingest_json(&["a"]);
    assert_eq!(counts(&run), [0, 0, 0, 3, 0]);
    assert_eq!(count(&env), 5);
}

/// A run deletes the documents of files gone from its own folders and no
/// others: not those of a folder whose name starts with the run's (`ab`
/// beside `a`), which sorts among its paths, nor those of another folder.
/// One run per folder leaves three segments, each looked up on its own.
#[test]
fn a_run_deletes_what_is_gone_from_its_folders_and_no_more() {
    let env = TestEnv::new();
    write_articles(&env.path("a"), 0..3, 1);
    write_articles(&env.path("ab"), 3..6, 2);
    write_articles(&env.path("b"), 6..9, 3);
    for folder in ["a", "ab", "b"] {
        env.ingest(folder);
    }
    assert_eq!(count(&env), 9);
    for gone in [
        "a/d000/a000001.txt",
        "ab/d000/a000004.txt",
        "b/d000/a000007.txt",
    ] {
        fs::remove_file(env.path(gone)).unwrap();
    }
    let run = env.ingest_json(&["a"]);
    assert_eq!(counts(&run), [0, 0, 1, 2, 0], "{run}");
    env.search("uniq1", &[]).expect_code(1);
    for kept in ["uniq4", "uniq7"] {
        assert_eq!(env.search(kept, &[]).hits().len(), 1, "{kept}");
    }
    let run = env.ingest_json(&["ab", "b"]);
    assert_eq!(counts(&run), [0, 0, 2, 4, 0], "{run}");
    assert_eq!(count(&env), 6);
}

/// Documents are deleted when their files are gone, not when a run picks
/// other files: `ingest --ext md` after `ingest` deleted every `.txt`
/// document, and `ingest FILE --ext md` the document of FILE.
#[test]
fn another_ext_keeps_documents_whose_files_are_still_there() {
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..5, 1);
    env.write(
        "archive/notes.md",
        "BERLIN (AP) — The quillwort notes are an article too.\n",
    );
    assert_eq!(counts(&env.ingest_json(&["archive"])), [5, 0, 0, 0, 0]);

    let md = env.ingest_json(&["archive", "--ext", "md"]);
    assert_eq!(counts(&md), [1, 0, 0, 0, 0], "{md}");
    assert_eq!(count(&env), 6);
    // A single file given as the root, passed over for its extension.
    let one = env.ingest_json(&["archive/d000/a000002.txt", "--ext", "md"]);
    assert_eq!(counts(&one), [0, 0, 0, 0, 0], "{one}");
    assert_eq!(env.search("uniq2", &[]).ids(), vec!["d000/a000002.txt"]);

    // A file really deleted goes, in the same run as another --ext.
    fs::remove_file(arch.join("d000/a000001.txt")).unwrap();
    let gone = env.ingest_json(&["archive", "--ext", "md"]);
    assert_eq!(counts(&gone), [0, 0, 1, 1, 0], "{gone}");
    assert_eq!(count(&env), 5);
    env.search("uniq1", &[]).expect_code(1);
    for i in [0, 2, 3, 4] {
        assert_eq!(env.search(&format!("uniq{i}"), &[]).hits().len(), 1, "{i}");
    }
    assert_eq!(env.search("quillwort", &[]).hits().len(), 1);
}

/// The live generation's files that say what the index holds.
fn index_state(env: &TestEnv) -> Vec<(String, Vec<u8>)> {
    let current = fs::read_to_string(env.index.join("CURRENT")).unwrap();
    let generation = env.index.join(current.trim());
    ["meta.json", ".managed.json"]
        .iter()
        .map(|f| (f.to_string(), fs::read(generation.join(f)).unwrap()))
        .chain([(
            "last-ingest.json".to_string(),
            fs::read(env.index.join("last-ingest.json")).unwrap(),
        )])
        .collect()
}

/// `--ext ''`, `--ext ,` and `--ext txt,` picked no file (or not those
/// meant) and then deleted every document; now they are usage errors.
#[test]
fn an_empty_ext_is_a_usage_error_and_changes_nothing() {
    let env = TestEnv::new();
    write_articles(&env.path("archive"), 0..5, 1);
    env.ingest_json(&["archive"]);
    let before = index_state(&env);
    for ext in ["", ",", "txt,", ",txt", "txt,,md", "."] {
        let run = env.run(&["ingest", "archive", "--ext", ext]);
        run.expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{ext:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("--ext") && run.stderr.contains("empty entry"),
            "{ext:?}: {}",
            run.stderr
        );
        assert!(index_state(&env) == before, "{ext:?} changed the index");
    }
    assert_eq!(count(&env), 5);

    // --no-delete with --full was ignored (a rebuild holds only the files
    // there): refused now.
    let run = env.run(&["ingest", "archive", "--full", "--no-delete"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--no-delete"), "{}", run.stderr);
    assert!(
        index_state(&env) == before,
        "--full --no-delete changed the index"
    );

    // Nor is an index created for it.
    let fresh = TestEnv::new();
    write_articles(&fresh.path("archive"), 0..1, 1);
    fresh
        .run(&["ingest", "archive", "--ext", ""])
        .expect_code(2);
    assert!(!fresh.index.exists());
}

#[test]
fn full_rebuild_swaps_in_a_new_generation() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let before: Vec<_> = fs::read_dir(&env.index)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let full = env.ingest_json(&["seeds", "--full"]);
    assert_eq!(counts(&full), [7, 0, 0, 0, 0]);
    assert_eq!(count(&env), 7);
    let gens: Vec<String> = fs::read_dir(&env.index)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    assert_eq!(
        gens.len(),
        1,
        "old generation removed: {gens:?} (before: {before:?})"
    );
    let current = fs::read_to_string(env.index.join("CURRENT")).unwrap();
    assert_eq!(current.trim(), gens[0]);
    assert_ne!(gens[0], "gen-000001");
}

#[test]
fn a_second_ingest_exits_3_at_once_naming_the_holder() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let lock = hold_lock(&env);
    let start = Instant::now();
    let run = env.run(&["ingest", "seeds"]);
    run.expect_code(3);
    assert!(start.elapsed() < Duration::from_secs(10), "did not wait");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("another newsidx ingest is running on"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(pid 4242)"), "{}", run.stderr);
    assert!(run.stderr.contains(&env.index.display().to_string()));
    // --wait=1 gives up after a second, still with code 3.
    env.run(&["ingest", "seeds", "--wait=1"]).expect_code(3);
    // status sees the running ingest.
    let status = env.run(&["status", "--json"]);
    status.expect_code(0);
    let s: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(s["ingest_running"], true);
    assert_eq!(s["ingest_pid"], 4242);
    // Searches are not blocked by the lock.
    env.search("neutrality", &[]).expect_code(0);
    // A lock whose holder is gone blocks nobody: flock dies with its process.
    drop(lock);
    env.ingest("seeds");
}

/// Each generation's `meta.json`, by generation name.
fn generation_metas(env: &TestEnv) -> Vec<(String, Vec<u8>)> {
    let mut metas: Vec<(String, Vec<u8>)> = fs::read_dir(&env.index)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("gen-"))
        .map(|n| {
            let meta = fs::read(env.index.join(&n).join("meta.json")).unwrap();
            (n, meta)
        })
        .collect();
    metas.sort();
    metas
}

/// With CURRENT gone, search said "no index; run `newsidx ingest
/// FOLDER...` first", and that plain ingest deleted the intact generation
/// with every document in it.
#[test]
fn a_lost_current_is_reported_and_restored_never_deleted() {
    let env = TestEnv::with_seeds();
    write_articles(&env.path("a"), 0..3, 1);
    env.ingest("a");
    env.ingest("seeds");
    assert_eq!(count(&env), 10);
    let current = env.index.join("CURRENT");
    let index = env.index.display().to_string();
    fs::remove_file(&current).unwrap();
    for args in [&["search", "neutrality"][..], &["status"], &["dups"]] {
        let run = env.run(args);
        run.expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        for part in [
            "is damaged",
            "CURRENT",
            "gen-000001",
            "`newsidx ingest FOLDER...`",
        ] {
            assert!(run.stderr.contains(part), "{args:?}: {}", run.stderr);
        }
        assert!(run.stderr.contains(&index), "{args:?}: {}", run.stderr);
    }

    // The advice: a plain ingest makes the one generation live again.
    let run = env.run(&["ingest", "a", "--json"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(
            "CURRENT was missing; gen-000001, the only generation holding an index, is live again"
        ),
        "{}",
        run.stderr
    );
    let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(counts(&summary), [0, 0, 0, 3, 0], "{summary}");
    assert_eq!(summary["documents"], 10, "{summary}");
    assert_eq!(fs::read_to_string(&current).unwrap().trim(), "gen-000001");
    assert_eq!(count(&env), 10);
    env.search("neutrality", &[]).expect_code(0);

    // Two generations and no CURRENT: which one was live? Refused, and
    // nothing is touched.
    copy_dir(&env.index.join("gen-000001"), &env.index.join("gen-000002"));
    fs::remove_file(&current).unwrap();
    let before = generation_metas(&env);
    assert_eq!(before.len(), 2);
    let run = env.run(&["ingest", "a"]);
    run.expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for part in ["is damaged", "gen-000001, gen-000002", "CURRENT", "--full"] {
        assert!(run.stderr.contains(part), "{}", run.stderr);
    }
    assert!(run.stderr.contains(&index), "{}", run.stderr);
    assert!(
        generation_metas(&env) == before,
        "a refused run changed them"
    );
    assert!(!current.exists());
    let run = env.run(&["search", "neutrality"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("gen-000001, gen-000002"),
        "{}",
        run.stderr
    );

    // Naming the live one is enough; the next run removes the other.
    fs::write(&current, "gen-000001\n").unwrap();
    assert_eq!(counts(&env.ingest_json(&["a"])), [0, 0, 0, 3, 0]);
    assert_eq!(generation_metas(&env).len(), 1);
    assert_eq!(count(&env), 10);
}

/// A first `--full` rebuild publishes CURRENT only when it is done: until
/// then readers hear that the index is being built, not that it is
/// damaged.
#[test]
fn a_first_rebuild_in_progress_is_not_called_damaged() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    fs::remove_file(env.index.join("CURRENT")).unwrap();
    let lock = hold_lock(&env);
    let run = env.run(&["search", "neutrality"]);
    run.expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no index at") && run.stderr.contains("the running ingest"),
        "{}",
        run.stderr
    );
    drop(lock);
}

#[test]
fn concurrent_ingests_one_waits_the_total_is_exact() {
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..2500, 7);
    let mut first = env
        .command(&["ingest", "archive", "--quiet"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first ingest holds the lock.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lock = env.index.join("newsidx.lock");
        let text = fs::read_to_string(&lock).unwrap_or_default();
        if text.trim() == first.id().to_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "first ingest never took the lock"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let second = env.run(&["ingest", "archive"]);
    let first_still_running = first.try_wait().unwrap().is_none();
    if first_still_running {
        second.expect_code(3);
        assert!(
            second.stderr.contains(&format!("(pid {})", first.id())),
            "{}",
            second.stderr
        );
    } else {
        // The machine was fast enough to finish first; then the second run is a no-op.
        second.expect_code(0);
    }
    let waiter = env.run(&["ingest", "archive", "--wait", "--json"]);
    waiter.expect_code(0);
    assert!(first.wait().unwrap().success());
    let summary: Value = serde_json::from_str(waiter.stdout.trim()).unwrap();
    assert_eq!(
        summary["added"], 0,
        "the waiting run came after the first: {summary}"
    );
    assert_eq!(summary["unchanged"], 2500);
    assert_eq!(count(&env), 2500);
}

#[test]
fn searches_during_ingest_and_full_rebuild_always_succeed() {
    let env = Arc::new(TestEnv::new());
    let arch = env.path("archive");
    write_articles(&arch, 0..1500, 3);
    env.ingest("archive");
    write_articles(&arch, 1500..2500, 4);

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(i32, u64)>::new()));
    let reader = {
        let (env, stop, seen) = (env.clone(), stop.clone(), seen.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let run = env.search("newsroom", &["--limit", "1"]);
                let total = if run.code == 0 {
                    run.summary()["total_hits"].as_u64().unwrap_or(0)
                } else {
                    0
                };
                if run.code != 0 {
                    eprintln!("failed search during ingest: {run:?}");
                }
                seen.lock().unwrap().push((run.code, total));
            }
        })
    };
    env.run(&["ingest", "archive", "--commit-every", "200"])
        .expect_code(0);
    env.run(&["ingest", "archive", "--full", "--commit-every", "300"])
        .expect_code(0);
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();

    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "too few searches ran: {}", seen.len());
    let mut previous = 0;
    for (code, total) in seen.iter() {
        assert_eq!(*code, 0, "a search failed during ingest");
        // Old state, a committed batch of the incremental run, or the new
        // state; the runs only add, so what readers see never shrinks.
        assert!((1500..=2500).contains(total), "impossible total {total}");
        assert!(*total >= previous, "a reader saw {total} after {previous}");
        previous = *total;
    }
    assert_eq!(count(&env), 2500);
}

/// The live generation's folder and its committed segment ids.
fn live_segments(env: &TestEnv) -> (std::path::PathBuf, Vec<String>) {
    let current = fs::read_to_string(env.index.join("CURRENT")).unwrap();
    let gen_dir = env.index.join(current.trim());
    let meta: Value =
        serde_json::from_str(&fs::read_to_string(gen_dir.join("meta.json")).unwrap()).unwrap();
    let ids = meta["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment_id"].as_str().unwrap().replace('-', ""))
        .collect();
    (gen_dir, ids)
}

/// A run killed before its commit leaves segment files that tantivy
/// listed in `.managed.json` and no commit references; the next run
/// collects them, even when it has nothing to index.
#[test]
fn a_rerun_collects_what_a_killed_run_left() {
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..50, 7);
    env.ingest_json(&["archive"]);
    let (gen_dir, live) = live_segments(&env);

    let orphan = "0123456789abcdef0123456789abcdef.store";
    fs::write(gen_dir.join(orphan), b"partial").unwrap();
    let list = gen_dir.join(".managed.json");
    let mut managed: Vec<String> =
        serde_json::from_str(&fs::read_to_string(&list).unwrap()).unwrap();
    managed.push(orphan.to_owned());
    fs::write(&list, serde_json::to_string(&managed).unwrap()).unwrap();
    assert_eq!(orphans(&env), vec![orphan.to_owned()]);

    let again = env.ingest_json(&["archive"]);
    assert_eq!(counts(&again), [0, 0, 0, 50, 0], "{again}");
    assert_eq!(orphans(&env), Vec::<String>::new());
    assert_eq!(
        live_segments(&env).1,
        live,
        "a run with nothing to do rewrote segments"
    );
}

/// Segment files of the live generation that no commit references.
fn orphans(env: &TestEnv) -> Vec<String> {
    let (gen_dir, live) = live_segments(env);
    fs::read_dir(&gen_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "meta.json")
        .filter(|n| !live.iter().any(|id| n.starts_with(id.as_str())))
        .collect()
}

/// Runs an ingest and SIGKILLs it after `delay`; returns whether it was
/// killed (rather than finishing first).
fn ingest_killed_after(env: &TestEnv, extra: &[&str], delay: Duration) -> bool {
    let mut args = vec!["ingest", "archive", "--quiet", "--commit-every", "100"];
    args.extend_from_slice(extra);
    let mut child: Child = env
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    thread::sleep(delay);
    let _ = child.kill(); // SIGKILL; a no-op if it already exited
    let status = child.wait().unwrap();
    !status.success()
}

#[test]
fn kill_9_at_seeded_moments_loses_nothing_committed() {
    const FILES: usize = 1200;
    let env = TestEnv::new();
    let arch = env.path("archive");
    write_articles(&arch, 0..FILES, 11);

    // Calibrate: how long does a whole run take on this machine and build?
    let scratch = TestEnv::new();
    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsidx"))
        .args(["ingest", "--quiet", "--commit-every", "100", "--index"])
        .arg(&scratch.index)
        .arg(&arch)
        .status()
        .unwrap();
    assert!(out.success());
    let whole = start.elapsed().as_millis() as u64;
    let mut rng = Rng::new(0x5eed_0009);

    // 1. A first ingest killed mid-run: the next run keeps every committed
    //    document and indexes only the rest.
    let delay = whole / 5 + rng.below(whole * 3 / 5 + 1);
    let killed = ingest_killed_after(&env, &[], Duration::from_millis(delay));
    let committed = count(&env);
    assert!(committed <= FILES as u64);
    let resumed = env.ingest_json(&["archive"]);
    if killed {
        assert_eq!(resumed["unchanged"], committed, "{resumed}");
        assert_eq!(resumed["added"], FILES as u64 - committed, "{resumed}");
    }
    assert_eq!(count(&env), FILES as u64);

    // 2. Twelve more kills while half the archive is being rewritten (and,
    //    every fourth time, during a --full rebuild). Updates replace
    //    documents within one commit, so the count must stay exact after
    //    every kill: nothing lost, nothing doubled.
    let mut revision = vec![0usize; FILES];
    let mut kills = usize::from(killed);
    // Keep going until at least 12 more runs died mid-way (runs that beat
    // their kill still count as checks of the invariant).
    let mut k = 0usize;
    while kills < 13 && k < 40 {
        k += 1;
        for (i, rev) in revision.iter_mut().enumerate() {
            if rng.below(2) == 0 {
                let path = arch.join(format!("d{:03}/a{i:06}.txt", i / 100));
                let mut text = fs::read_to_string(&path).unwrap();
                text.push_str(&format!("\nRevision r{k}f{i}.\n"));
                fs::write(&path, text).unwrap();
                *rev = k;
            }
        }
        let full = k.is_multiple_of(4);
        let extra: &[&str] = if full { &["--full"] } else { &[] };
        // A rebuild does the whole job; an update run about half of it.
        let span = if full { whole } else { whole / 2 };
        let delay = rng.below(span + 1);
        kills += usize::from(ingest_killed_after(
            &env,
            extra,
            Duration::from_millis(delay),
        ));
        assert_eq!(
            count(&env),
            FILES as u64,
            "after kill {k} at {delay} ms of ~{whole} ms"
        );
        env.run(&["status"]).expect_code(0);
    }
    assert!(
        kills >= 10,
        "only {kills} runs were killed before finishing"
    );

    // 3. A clean run converges on exactly the files on disk, and a second
    //    one has nothing left to do.
    env.ingest_json(&["archive"]);
    let again = env.ingest_json(&["archive"]);
    assert_eq!(counts(&again), [0, 0, 0, FILES as u64, 0], "{again}");
    for i in [0, 1, 599, FILES - 1] {
        if revision[i] > 0 {
            assert_eq!(
                env.search(&format!("r{}f{i}", revision[i]), &[])
                    .hits()
                    .len(),
                1,
                "file {i}"
            );
        }
        assert_eq!(
            env.search(&format!("uniq{i}"), &[]).hits().len(),
            1,
            "uniq{i}"
        );
    }
    assert_eq!(orphans(&env), Vec::<String>::new());
    let gens = fs::read_dir(&env.index).unwrap().filter(|e| {
        e.as_ref()
            .map(|e| e.file_name().to_string_lossy().starts_with("gen-"))
            .unwrap_or(false)
    });
    assert_eq!(
        gens.count(),
        1,
        "leftover generations of killed rebuilds were removed"
    );
}

#[test]
fn json_summary_quiet_and_strict() {
    let env = TestEnv::with_seeds();
    env.write("seeds/empty.txt", "");
    let run = env.run(&["ingest", "seeds", "--json"]);
    run.expect_code(0);
    let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(run.stdout.lines().count(), 1);
    assert_eq!(summary["skipped_by_reason"]["empty"], 1);
    assert_eq!(summary["added"], 7);
    // The skipped file is a one-line warning on stderr, even with --json.
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("empty.txt: skipped, empty"),
        "{}",
        run.stderr
    );
    let strict = env.run(&["ingest", "seeds", "--strict", "--quiet"]);
    strict.expect_code(4);
    assert!(strict.stdout.is_empty());
    fs::remove_file(env.path("seeds/empty.txt")).unwrap();
    env.run(&["ingest", "seeds", "--strict", "--quiet"])
        .expect_code(0);
}

/// The paths `status --json` lists as skipped, relative to the scratch folder.
fn listed_skips(env: &TestEnv) -> Vec<String> {
    let run = env.run(&["status", "--json"]);
    run.expect_code(0);
    let s: Value = serde_json::from_str(&run.stdout).unwrap();
    let root = env.path("");
    s["skipped_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = f["path"].as_str().unwrap();
            p.strip_prefix(root.to_str().unwrap())
                .unwrap_or(p)
                .to_owned()
        })
        .collect()
}

#[test]
fn a_skipped_file_is_reported_once_until_it_changes() {
    let env = TestEnv::with_seeds();
    env.write("seeds/empty.txt", " \n");
    env.write("seeds/binary.txt", b"\x00\x01\x02binary\x00".repeat(50));
    env.write(
        "seeds/big.txt",
        "date 2022-01-02\n\nBig story. ".repeat(8000),
    );
    let run_with = |limit: &str, args: &[&str]| {
        let mut all = vec!["ingest", "seeds", "--json", "--max-file-size", limit];
        all.extend_from_slice(args);
        let run = env.run(&all);
        let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
        (run, summary)
    };
    let run = |args: &[&str]| run_with("64KiB", args);
    let (first, summary) = run(&[]);
    first.expect_code(0);
    assert_eq!(first.stderr.lines().count(), 3, "{}", first.stderr);
    assert_eq!(summary["skipped"], 3);
    assert_eq!(summary["skipped_again"], 0);
    assert_eq!(
        listed_skips(&env),
        ["seeds/big.txt", "seeds/binary.txt", "seeds/empty.txt"]
    );

    // Unchanged: counted, neither read nor reported.
    let (second, summary) = run(&[]);
    assert!(second.stderr.is_empty(), "{}", second.stderr);
    assert_eq!(counts(&summary), [0, 0, 0, 7, 3]);
    assert_eq!(summary["skipped_again"], 3);
    assert_eq!(summary["bytes_read"], 0);
    // --verbose names them; --strict names them too, and fails.
    let (verbose, _) = run(&["--verbose"]);
    assert_eq!(
        verbose
            .stderr
            .matches("unchanged since an earlier run")
            .count(),
        3,
        "{}",
        verbose.stderr
    );
    let (strict, _) = run(&["--strict"]);
    strict.expect_code(4);
    assert!(
        strict.stderr.contains("binary.txt: skipped, binary"),
        "{}",
        strict.stderr
    );

    // A skipped file that changes is read again: indexed when it now holds
    // an article, reported again when it is still no article.
    env.write(
        "seeds/empty.txt",
        "date 2022-01-03\n\nNot empty any more: zanzibar.\n",
    );
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(env.path("seeds/binary.txt"))
        .unwrap();
    f.write_all(b"\x00more").unwrap();
    drop(f);
    let (third, summary) = run(&[]);
    assert_eq!(counts(&summary), [1, 0, 0, 7, 2]);
    assert_eq!(summary["skipped_again"], 1);
    assert_eq!(third.stderr.lines().count(), 1, "{}", third.stderr);
    assert!(
        third.stderr.contains("binary.txt: skipped"),
        "{}",
        third.stderr
    );
    assert_eq!(env.search("zanzibar", &[]).ids(), ["empty.txt"]);
    assert_eq!(listed_skips(&env), ["seeds/big.txt", "seeds/binary.txt"]);

    // A larger limit reads the big file again; a gone file leaves the list.
    fs::remove_file(env.path("seeds/binary.txt")).unwrap();
    let (fourth, summary) = run_with("1MiB", &[]);
    fourth.expect_code(0);
    assert_eq!(counts(&summary), [1, 0, 0, 8, 0]);
    assert!(listed_skips(&env).is_empty());
    assert!(
        !fs::read_dir(env.path("index"))
            .unwrap()
            .any(|g| { g.unwrap().path().join("skipped.json").exists() })
    );

    // A run over other folders keeps the entries of these.
    env.write("other/empty3.txt", "");
    assert!(env.ingest("other").stderr.contains("empty3.txt: skipped"));
    env.ingest("seeds");
    assert_eq!(listed_skips(&env), ["other/empty3.txt"]);
    assert!(!env.ingest("other").stderr.contains("warning"));

    // A full rebuild starts a new list: everything is reported once more.
    env.write("seeds/empty2.txt", "");
    env.ingest("seeds");
    let full = env.run(&["ingest", "seeds", "--full"]);
    full.expect_code(0);
    assert!(
        full.stderr.contains("empty2.txt: skipped"),
        "{}",
        full.stderr
    );
}

#[test]
fn status_reports_documents_dates_and_last_ingest() {
    let env = TestEnv::with_seeds();
    env.run(&["status"]).expect_code(2);
    env.ingest("seeds");
    let run = env.run(&["status", "--json"]);
    run.expect_code(0);
    let s: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(s["documents"], 7);
    assert_eq!(s["first_date"], "2022-03-15");
    assert_eq!(s["last_date"], "2022-04-02");
    assert_eq!(s["undated"], 3);
    assert_eq!(s["ingest_running"], false);
    assert_eq!(s["last_ingest"]["added"], 7);
    assert!(s["size_bytes"].as_u64().unwrap() > 10_000);
    let human = env.run(&["status"]);
    let segments = match s["segments"].as_u64().unwrap() {
        1 => "1 segment,".to_owned(),
        n => format!("{n} segments,"),
    };
    assert!(
        human
            .stdout
            .contains(&format!("documents:   7 in {segments}")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("2022-03-15 to 2022-04-02"));
}
