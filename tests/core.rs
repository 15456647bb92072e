//! The core workflow: ingest folders, search with ranked, highlighted
//! snippets, exit codes and messages.

use crate::util::{TestEnv, repo};

const SEED: &str = "000_3f0eb7fae6c7b69d.txt";

/// The text a highlight range of a fragment covers.
fn highlighted(fragment: &serde_json::Value) -> Vec<String> {
    let text = fragment["text"].as_str().unwrap_or_default();
    fragment["highlights"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let (a, b) = (
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            );
            text[a..b].to_owned()
        })
        .collect()
}

#[test]
fn ingest_then_search_ranks_the_seed_first_and_highlights_the_word() {
    let env = TestEnv::with_seeds();
    let run = env.ingest("seeds");
    assert!(run.stderr.contains("7 documents indexed"), "{}", run.stderr);
    let run = env.search("neutrality", &[]);
    run.expect_code(0);
    let hits = run.hits();
    assert_eq!(hits[0]["id"], SEED);
    let snippet = &hits[0]["snippet"];
    assert_eq!(snippet["field"], "body");
    let words = highlighted(snippet);
    assert!(!words.is_empty());
    assert!(
        words.iter().all(|w| w.eq_ignore_ascii_case("neutrality")),
        "{words:?}"
    );
}

#[test]
fn human_output_says_how_many_hits_and_shows_the_snippet() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.run(&["search", "neutrality"]);
    run.expect_code(0);
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("1 hit, showing 1-1"), "{}", run.stdout);
    assert!(run.stdout.contains(SEED));
    assert!(run.stdout.contains("2022-03-28 · LVIV, Ukraine · AP"));
    assert!(
        run.stdout
            .contains("body: Ukraine could declare neutrality")
    );
    // Piped, so no colour.
    assert!(!run.stdout.contains('\u{1b}'));
    let forced = env.run(&["search", "neutrality", "--color", "always"]);
    assert!(
        forced.stdout.contains("\u{1b}[1;33mneutrality\u{1b}[0m"),
        "{}",
        forced.stdout
    );
}

#[test]
fn caption_only_word_is_found_in_captions_not_in_body() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.search("captions:Shevchenko", &[]);
    run.expect_code(0);
    let hits = run.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], SEED);
    assert_eq!(hits[0]["snippet"]["field"], "caption");
    assert!(highlighted(&hits[0]["snippet"]).contains(&"Shevchenko".to_owned()));
    // The `caption:` alias means the same field.
    assert_eq!(env.search("caption:Shevchenko", &[]).ids(), vec![SEED]);
    env.search("body:Shevchenko", &[]).expect_code(1);
}

#[test]
fn json_lines_carry_every_documented_field() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.search("zelenskyy", &["--limit", "2"]);
    run.expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.last().unwrap()["type"], "summary");
    let hits = run.hits();
    assert_eq!(hits.len(), 2);
    for (i, h) in hits.iter().enumerate() {
        assert_eq!(h["rank"], i + 1);
        assert!(h["score"].as_f64().unwrap() > 0.0);
        for key in ["id", "path", "dateline", "agency", "date", "snippet"] {
            assert!(h.get(key).is_some(), "missing {key}: {h}");
        }
        assert!(std::path::Path::new(h["path"].as_str().unwrap()).is_absolute());
        let snippet = &h["snippet"];
        assert!(snippet["text"].as_str().unwrap().len() > 20);
        for r in snippet["highlights"].as_array().unwrap() {
            let (a, b) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
            assert!(a < b && b as usize <= snippet["text"].as_str().unwrap().len());
        }
    }
    let summary = run.summary();
    assert_eq!(summary["query"], "zelenskyy");
    assert_eq!(summary["returned"], 2);
    assert!(summary["total_hits"].as_u64().unwrap() >= 2);
    assert!(summary["elapsed_ms"].as_f64().is_some());
}

#[test]
fn dates_are_plain_days_or_null() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.search("talks", &["--limit", "20"]);
    let hits = run.hits();
    let by_id = |id: &str| {
        hits.iter()
            .find(|h| h["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_id(SEED)["date"], "2022-03-28");
    assert_eq!(
        by_id("006_kyiv_no_date.txt")["date"],
        serde_json::Value::Null
    );
}

#[test]
fn ingesting_twice_does_not_duplicate() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let total = || {
        env.search("*", &[]).summary()["total_hits"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(total(), 7);
    let second = env.ingest("seeds");
    assert!(second.stderr.contains("7 unchanged"), "{}", second.stderr);
    assert_eq!(total(), 7);
    // The same folder named differently is the same folder.
    env.ingest("./seeds/../seeds/");
    assert_eq!(total(), 7);
}

#[test]
fn no_hits_exits_1() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.run(&["search", "xylophonequartet"]);
    run.expect_code(1);
    assert!(run.stdout.starts_with("0 hits"), "{}", run.stdout);
}

#[test]
fn malformed_query_exits_2_with_one_line() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.run(&["search", "\"unclosed"]);
    run.expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("unclosed quote (at column 1)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Error {"),
        "Debug dump: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn missing_index_exits_2_and_says_what_to_do() {
    let env = TestEnv::new();
    let run = env.run(&["search", "war"]);
    run.expect_code(2);
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(
        run.stderr
            .contains(&format!("no index at {}", env.index.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("run `newsidx ingest"), "{}", run.stderr);
}

#[test]
fn missing_folder_exits_2_before_touching_the_index() {
    let env = TestEnv::new();
    let run = env.run(&["ingest", "no-such-folder"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("no-such-folder: no such file or folder"),
        "{}",
        run.stderr
    );
    assert!(!env.index.exists());
}

#[test]
fn index_location_from_environment_then_flag() {
    let env = TestEnv::with_seeds();
    let from_env = env.path("env-index");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_newsidx"))
        .args(["ingest", "seeds", "--quiet"])
        .current_dir(env.dir.path())
        .env("NEWSIDX_INDEX", &from_env)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(from_env.join("CURRENT").is_file());
    // --index wins over the environment.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsidx"))
        .args(["search", "neutrality", "--index"])
        .arg(&env.index)
        .env("NEWSIDX_INDEX", &from_env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no index at --index yet");
}

#[test]
fn quiet_ingest_prints_nothing_and_summary_goes_to_stderr() {
    let env = TestEnv::with_seeds();
    let run = env.run(&["ingest", "seeds", "--quiet"]);
    run.expect_code(0);
    assert!(run.stdout.is_empty() && run.stderr.is_empty(), "{run:?}");
    let run = env.run(&["ingest", "seeds"]);
    assert!(run.stdout.is_empty());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("docs/s") && run.stderr.contains("MB/s"));
}

#[test]
fn paging_and_limits() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let all = env.search("*", &["--limit", "10"]).ids();
    assert_eq!(all.len(), 7);
    let page2 = env.search("*", &["--limit", "3", "--offset", "3"]);
    assert_eq!(page2.ids(), all[3..6].to_vec());
    assert_eq!(page2.summary()["total_hits"], 7);
    assert_eq!(page2.hits()[0]["rank"], 4);
}

#[test]
fn reuters_sample_indexes_with_titles_datelines_and_agency() {
    let env = TestEnv::new();
    crate::util::copy_dir(
        &repo().join("tests/fixtures/reuters21578"),
        &env.path("reuters"),
    );
    let summary = env.ingest_json(&["reuters"]);
    assert_eq!(summary["files"], 200);
    assert_eq!(summary["added"], 199);
    assert_eq!(summary["skipped_by_reason"]["empty"], 1);
    let run = env.search("title:cocoa", &[]);
    assert_eq!(run.hits()[0]["id"], "reut2-000/00001.txt");
    assert_eq!(run.hits()[0]["title"], "BAHIA COCOA REVIEW");
    assert_eq!(run.hits()[0]["dateline"], "SALVADOR");
    assert_eq!(run.hits()[0]["agency"], "Reuters");
    // Control characters in the source never reach the output.
    let run = env.run(&["search", "Pemex", "--color", "never"]);
    run.expect_code(0);
    assert!(
        !run.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        run.stdout
    );
    let facets = env.search("*", &["--facet", "agency", "--limit", "0"]);
    let facet = facets
        .json_lines()
        .into_iter()
        .find(|v| v["type"] == "facet")
        .unwrap();
    assert_eq!(facet["buckets"][0][0], "Reuters");
    assert!(facet["buckets"][0][1].as_u64().unwrap() > 150, "{facet}");
}
