//! The query language, sorting, filters, facets, snippets and explain.

use serde_json::Value;

use crate::util::TestEnv;

const SEED: &str = "000_3f0eb7fae6c7b69d.txt";

fn highlighted(fragment: &Value) -> Vec<String> {
    let text = fragment["text"].as_str().unwrap_or_default();
    fragment["highlights"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| text[r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize].to_owned())
        .collect()
}

fn all_highlights(hit: &Value) -> Vec<String> {
    hit["fragments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(highlighted)
        .collect()
}

fn seeded() -> TestEnv {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    env
}

/// Articles on consecutive days around a month boundary.
fn dated() -> TestEnv {
    let env = TestEnv::new();
    let days = [
        ("2022-02-27", "KYIV, Ukraine (AP)"),
        ("2022-02-28", "LVIV, Ukraine (AP)"),
        ("2022-03-01", "KYIV, Ukraine (Reuters)"),
        ("2022-03-01", "PARIS (AFP)"),
        ("2022-03-15", "KYIV, Ukraine (AP)"),
    ];
    for (i, (day, dateline)) in days.iter().enumerate() {
        env.write(&format!("d/{i}.txt"), format!(" date {day} {dateline} — Ceasefire talks continued, report {i}.\n\nMore on the ceasefire.\n"));
    }
    env.write(
        "d/undated.txt",
        "The ceasefire held overnight, officials said.\n",
    );
    env.ingest("d");
    env
}

#[test]
fn phrase_is_highlighted_as_one_span() {
    let env = seeded();
    let run = env.search("\"security guarantees\"", &["--fragments", "3"]);
    let hit = &run.hits()[0];
    let spans = all_highlights(hit);
    assert!(!spans.is_empty());
    for s in &spans {
        assert!(s.eq_ignore_ascii_case("security guarantees"), "{spans:?}");
    }
    // Slop: three words may sit between.
    assert!(
        !env.search("\"security neutrality\"~3", &[])
            .hits()
            .is_empty()
    );
    env.search("\"security neutrality\"", &[]).expect_code(1);
}

#[test]
fn prefix_fuzzy_and_stemmed_words_highlight_the_real_words() {
    let env = seeded();
    let run = env.search("neutral*", &[]);
    assert_eq!(run.ids()[0], SEED);
    assert!(
        all_highlights(&run.hits()[0])
            .iter()
            .all(|w| w.to_lowercase().starts_with("neutral"))
    );
    assert!(
        all_highlights(&run.hits()[0])
            .iter()
            .any(|w| w == "neutrality")
    );

    let run = env.search("zelensky~1", &[]);
    assert!(run.ids().contains(&SEED.to_owned()));
    assert!(
        all_highlights(&run.hits()[0])
            .iter()
            .any(|w| w == "Zelenskyy"),
        "{:?}",
        run.hits()[0]
    );

    let run = env.search("negotiate", &["--limit", "10"]);
    let ids = run.ids();
    assert!(
        ids.contains(&"001_springfield_budget.txt".to_owned()),
        "{ids:?}"
    );
    let words: Vec<String> = run
        .hits()
        .iter()
        .flat_map(all_highlights)
        .map(|w| w.to_lowercase())
        .collect();
    assert!(words.iter().any(|w| w == "negotiations"), "{words:?}");
    // `=word` asks for the surface form: no article says exactly "negotiate".
    env.search("=negotiate", &[]).expect_code(1);
    assert_eq!(
        env.search("=negotiations", &[]).ids(),
        vec!["001_springfield_budget.txt"]
    );
}

#[test]
fn a_proper_name_outranks_the_word_a_stemmer_confuses_it_with() {
    let env = TestEnv::new();
    for i in 0..6 {
        env.write(&format!("w/common{i}.txt"), "The well ran dry. Villagers said the well had served them well for years, and the well water was clean.\n");
    }
    env.write(
        "w/name.txt",
        "Ms. Wells, the mayor, opened the new library on Monday.\n",
    );
    env.ingest("w");
    let run = env.search("Wells", &["--limit", "10"]);
    assert_eq!(run.ids()[0], "name.txt", "{:?}", run.ids());
    // Stemming still finds the other form, just lower.
    assert_eq!(run.summary()["total_hits"], 7);
    assert_eq!(env.search("=Wells", &[]).ids(), vec!["name.txt"]);
}

#[test]
fn since_until_and_date_ranges_are_inclusive_calendar_days() {
    let env = dated();
    let ids = |args: &[&str], q: &str| {
        let mut ids = env.search(q, args).ids();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&["--since", "2022-03-01"], "ceasefire"),
        vec!["2.txt", "3.txt", "4.txt"]
    );
    assert_eq!(
        ids(&["--until", "2022-02-28"], "ceasefire"),
        vec!["0.txt", "1.txt"]
    );
    assert_eq!(
        ids(
            &["--since", "2022-02-28", "--until", "2022-03-01"],
            "ceasefire"
        ),
        vec!["1.txt", "2.txt", "3.txt"]
    );
    assert_eq!(
        ids(&[], "ceasefire date:[2022-03-01 TO 2022-03-31]"),
        vec!["2.txt", "3.txt", "4.txt"]
    );
    assert_eq!(ids(&[], "ceasefire date:2022-02"), vec!["0.txt", "1.txt"]);
    assert_eq!(
        ids(&[], "ceasefire date:2022-02-28..2022-03"),
        ids(&[], "ceasefire date:[2022-02-28 TO 2022-03-31]")
    );
    assert_eq!(ids(&[], "ceasefire date:..2022-02"), vec!["0.txt", "1.txt"]);
    assert_eq!(
        ids(&["--since", "2022-03"], "*"),
        vec!["2.txt", "3.txt", "4.txt"]
    );
    env.search(
        "ceasefire",
        &["--since", "2022-03-02", "--until", "2022-03-01"],
    )
    .expect_code(2);
}

#[test]
fn sort_newest_and_oldest_by_date_undated_last() {
    let env = dated();
    let dates = |sort: &str| {
        env.search("ceasefire", &["--sort", sort])
            .hits()
            .iter()
            .map(|h| h["date"].as_str().unwrap_or("none").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        dates("newest"),
        vec![
            "2022-03-15",
            "2022-03-01",
            "2022-03-01",
            "2022-02-28",
            "2022-02-27",
            "none"
        ]
    );
    assert_eq!(
        dates("oldest"),
        vec![
            "2022-02-27",
            "2022-02-28",
            "2022-03-01",
            "2022-03-01",
            "2022-03-15",
            "none"
        ]
    );
}

#[test]
fn facets_count_matching_documents_per_bucket() {
    let env = dated();
    let run = env.search(
        "ceasefire",
        &[
            "--facet",
            "date:day",
            "--facet",
            "date:month",
            "--facet",
            "agency",
            "--facet",
            "dateline",
        ],
    );
    let facets: Vec<Value> = run
        .json_lines()
        .into_iter()
        .filter(|v| v["type"] == "facet")
        .collect();
    let buckets = |i: usize| facets[i]["buckets"].clone();
    assert_eq!(
        buckets(0),
        serde_json::json!([
            ["2022-02-27", 1],
            ["2022-02-28", 1],
            ["2022-03-01", 2],
            ["2022-03-15", 1]
        ])
    );
    assert_eq!(facets[0]["missing"], 1);
    assert_eq!(
        buckets(1),
        serde_json::json!([["2022-02", 2], ["2022-03", 3]])
    );
    assert_eq!(
        buckets(2),
        serde_json::json!([["AP", 3], ["AFP", 1], ["Reuters", 1]])
    );
    assert_eq!(buckets(3)[0], serde_json::json!(["KYIV, Ukraine", 3]));
    // The facet counts only matching documents.
    let run = env.search(
        "ceasefire",
        &["--facet", "date:day", "--since", "2022-03-01"],
    );
    let facet = run
        .json_lines()
        .into_iter()
        .find(|v| v["type"] == "facet")
        .unwrap();
    assert_eq!(
        facet["buckets"],
        serde_json::json!([["2022-03-01", 2], ["2022-03-15", 1]])
    );
    // On a terminal-less run, a text histogram.
    let human = env.run(&[
        "search",
        "ceasefire",
        "--facet",
        "date:month",
        "--limit",
        "0",
    ]);
    assert!(
        human
            .stdout
            .contains("date:month: 5 documents (1 without a value)"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("2022-03       3  ##############################"),
        "{}",
        human.stdout
    );
}

#[test]
fn agency_and_dateline_filters() {
    let env = dated();
    let mut ids = env.search("ceasefire", &["--agency", "ap"]).ids();
    ids.sort();
    assert_eq!(ids, vec!["0.txt", "1.txt", "4.txt"]);
    let mut ids = env.search("ceasefire", &["--dateline", "Kyiv"]).ids();
    ids.sort();
    assert_eq!(ids, vec!["0.txt", "2.txt", "4.txt"]);
    assert_eq!(
        env.search("ceasefire", &["--dateline", "Kyiv", "--agency", "Reuters"])
            .ids(),
        vec!["2.txt"]
    );
    assert_eq!(env.search("agency:afp", &[]).ids(), vec!["3.txt"]);
}

#[test]
fn boolean_operators_and_or_mode() {
    let env = seeded();
    env.search("zelenskyy budget", &[]).expect_code(1);
    let mut ids = env.search("zelenskyy budget", &["--or"]).ids();
    ids.sort();
    assert_eq!(
        ids,
        vec![SEED, "001_springfield_budget.txt", "006_kyiv_no_date.txt"]
    );
    assert_eq!(
        env.search("zelenskyy -shevchenko", &[]).ids(),
        vec!["006_kyiv_no_date.txt"]
    );
    assert_eq!(
        env.search("zelenskyy NOT shevchenko", &[]).ids(),
        vec!["006_kyiv_no_date.txt"]
    );
    assert_eq!(
        env.search("(budget OR wheat) AND union", &[]).ids(),
        vec!["001_springfield_budget.txt"]
    );
    assert_eq!(
        env.search("+wheat budget", &["--or"]).ids(),
        vec!["002_reuters_grain.txt"]
    );
    // A part that matches no term in any field still has to match.
    env.search("wheat zzqx*", &[]).expect_code(1);
    env.search("wheat zzqx~1", &[]).expect_code(1);
    assert_eq!(
        env.search("wheat zzqx*", &["--or"]).ids(),
        vec!["002_reuters_grain.txt"]
    );
}

#[test]
fn field_names_and_in_flag() {
    let env = seeded();
    assert_eq!(env.search("credit:Lukatsky", &[]).ids(), vec![SEED]);
    assert_eq!(
        env.search("contributors:Whitfield", &[]).ids(),
        vec!["001_springfield_budget.txt"]
    );
    assert_eq!(
        env.search("title:wheat", &[]).ids(),
        vec!["002_reuters_grain.txt"]
    );
    assert_eq!(env.search("dateline:lviv", &[]).ids(), vec![SEED]);
    assert_eq!(
        env.search("Shevchenko", &["--in", "captions"]).ids(),
        vec![SEED]
    );
    env.search("Shevchenko", &["--in", "body"]).expect_code(1);
}

#[test]
fn fragments_count_size_and_joining() {
    let env = seeded();
    let hit = &env
        .search("zelenskyy", &["--fragments", "3", "--snippet-chars", "60"])
        .hits()[0];
    let frags = hit["fragments"].as_array().unwrap();
    assert_eq!(frags.len(), 3);
    for f in frags {
        let text = f["text"].as_str().unwrap();
        assert!(text.chars().count() <= 70, "{text}");
        assert!(!text.starts_with(' ') && !text.ends_with(' '));
    }
    let one = &env.search("zelenskyy", &["--fragments", "1"]).hits()[0];
    assert_eq!(one["fragments"].as_array().unwrap().len(), 1);
    let human = env.run(&["search", "zelenskyy", "--limit", "1", "--fragments", "2"]);
    let line = human.stdout.lines().find(|l| l.contains("body:")).unwrap();
    assert_eq!(line.matches(" … ").count(), 1, "{line}");
}

#[test]
fn explain_lists_each_field_and_term() {
    let env = seeded();
    let hit = &env
        .search("negotiate zelenskyy", &["--explain", "--limit", "1"])
        .hits()[0];
    let expl = &hit["explanation"];
    let parts = expl["parts"].as_array().unwrap();
    let labels: Vec<&str> = parts.iter().map(|p| p["query"].as_str().unwrap()).collect();
    assert!(labels.contains(&"body:zelenskyy"), "{labels:?}");
    assert!(labels.contains(&"body:negotiate"), "{labels:?}");
    let sum: f64 = parts.iter().map(|p| p["score"].as_f64().unwrap()).sum();
    assert!(
        (sum - hit["score"].as_f64().unwrap()).abs() < 0.01,
        "{expl}"
    );
    let human = env.run(&["search", "negotiate zelenskyy", "--explain", "--limit", "1"]);
    assert!(
        human.stdout.contains("score ") && human.stdout.contains("body:zelenskyy"),
        "{}",
        human.stdout
    );
}

#[test]
fn stray_punctuation_and_replacement_characters_split_words() {
    let env = TestEnv::new();
    env.write(
        "p/a.txt",
        "The \"Bridgegate\"?scandal grew.\u{fffd}Governor\u{fffd}resigned.\n",
    );
    env.ingest("p");
    env.search("bridgegate scandal governor resigned", &[])
        .expect_code(0);
}

#[test]
fn article_text_is_sanitized_for_the_terminal() {
    let env = TestEnv::new();
    env.write("s/evil.txt", "Evil \u{1b}[31mred\u{1b}[0m text with a \u{202e}bidi override and a bell\u{7} inside the paragraph.\n");
    env.ingest("s");
    let run = env.run(&["search", "evil", "--color", "never"]);
    run.expect_code(0);
    assert!(
        !run.stdout.contains('\u{1b}')
            && !run.stdout.contains('\u{202e}')
            && !run.stdout.contains('\u{7}'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.contains("Evil red text"));
    let json = env.search("evil", &[]);
    let text = json.hits()[0]["snippet"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
}

#[test]
fn bad_queries_exit_2_with_one_line_naming_the_problem() {
    let env = seeded();
    let cases = [
        ("\"unclosed", "unclosed quote"),
        ("(war OR peace", "unclosed '('"),
        ("war)", "unmatched ')'"),
        ("nope:war", "unknown field 'nope'"),
        ("date:2022-13-01", "invalid date '2022-13-01'"),
        ("", "empty query"),
        ("-", "'-' must be followed by a term"),
        // Exponential in tantivy: refused, not run for minutes.
        (
            "\"war War war wars war war war\"~9",
            "repeats words more than 4 times",
        ),
    ];
    for (q, needle) in cases {
        let run = env.run(&["search", q]);
        run.expect_code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{q:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{q:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"));
    }
    // At the limit, or without slop, the same words are searched.
    for q in ["\"war war war war war\"~9", "\"war war war war war war\""] {
        let run = env.run(&["search", q]);
        assert!(run.code == 0 || run.code == 1, "{q}: {}", run.stderr);
        assert!(run.stderr.is_empty(), "{q}: {}", run.stderr);
    }
    // A page size that would overflow (it wrapped round to 15 hits).
    let run = env.run(&["search", "war", "--limit", "18446744073709551615"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--limit"), "{}", run.stderr);
    let all = env.run(&[
        "search",
        "war",
        "--limit",
        "1000000",
        "--offset",
        "1000000000",
    ]);
    assert!(all.code == 0 || all.code == 1, "{}", all.stderr);
    let run = env.run(&["search", "--since", "2022-02-30", "war"]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a date"), "{}", run.stderr);
}

#[test]
fn date_bounds_beyond_the_indexable_range_are_clamped() {
    let env = seeded();
    let total = |q: &str, args: &[&str]| {
        let run = env.search(q, args);
        assert!(
            run.code == 0 || run.code == 1,
            "{q} {args:?}: {}",
            run.stderr
        );
        run.summary()["total_hits"].as_u64().unwrap()
    };
    let dated = total("date:2000..2030", &[]);
    assert!(dated > 0);
    // Bounds nothing stored can reach: all dated articles, or none. They
    // overflowed tantivy's timestamps (a panic in debug builds, wrong
    // dates in release ones).
    assert_eq!(total("date:1600..3000", &[]), dated);
    assert_eq!(total("*", &["--since", "1600", "--until", "9999"]), dated);
    assert_eq!(total("date:..9999", &[]), dated);
    assert_eq!(total("date:3000", &[]), 0);
    assert_eq!(total("*", &["--until", "1600"]), 0);
}

#[test]
fn pages_of_tied_hits_fit_together() {
    // Sixty identical articles score the same: far more ties than the
    // collector's slack, so each page must still show its own part of
    // the one order (ties by path) that a single page shows.
    let env = TestEnv::new();
    for i in 0..60 {
        env.write(
            &format!("ties/{i:02}.txt"),
            " date 2022-03-28 KYIV, Ukraine (AP) — Grain exports resumed.\n",
        );
    }
    env.ingest("ties");
    let all = env.search("grain", &["--no-collapse", "--limit", "100"]);
    all.expect_code(0);
    let all = all.ids();
    assert_eq!(all.len(), 60);
    let mut paged = Vec::new();
    for offset in (0..60).step_by(7) {
        let offset = offset.to_string();
        let page = env.search(
            "grain",
            &["--no-collapse", "--limit", "7", "--offset", &offset],
        );
        paged.extend(page.ids());
    }
    assert_eq!(paged, all);
}
