//! The `--json` output is an API: every line must deserialize into these
//! types, which reject unknown keys, so an accidental format change fails
//! here. Adding a key means adding it here on purpose.

use serde::Deserialize;

use crate::util::TestEnv;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
#[allow(dead_code)]
enum Message {
    Hit(Box<Hit>),
    Facet(Facet),
    Summary(Summary),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Hit {
    rank: usize,
    score: f32,
    id: String,
    path: String,
    title: Option<String>,
    date: Option<String>,
    dateline: Option<String>,
    agency: Option<String>,
    contributors: Vec<String>,
    snippet: Option<Fragment>,
    fragments: Vec<Fragment>,
    explanation: Option<serde_json::Value>,
    cluster: Option<String>,
    similar_count: u64,
    similar: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Fragment {
    field: String,
    text: String,
    highlights: Vec<[usize; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Facet {
    facet: String,
    buckets: Vec<(String, u64)>,
    missing: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Summary {
    query: String,
    total_hits: u64,
    stories: Option<u64>,
    returned: usize,
    offset: usize,
    elapsed_ms: f64,
    warnings: Vec<String>,
}

fn messages(env: &TestEnv, query: &str, args: &[&str]) -> Vec<Message> {
    let run = env.search(query, args);
    run.expect_code(0);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn every_line_matches_the_documented_format() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let msgs = messages(
        &env,
        "zelenskyy OR talks",
        &["--facet", "date:month", "--facet", "agency", "--explain"],
    );
    let hits = msgs.iter().filter(|m| matches!(m, Message::Hit(_))).count();
    let facets = msgs
        .iter()
        .filter(|m| matches!(m, Message::Facet(_)))
        .count();
    assert!(hits >= 2);
    assert_eq!(facets, 2);
    assert!(matches!(msgs.last(), Some(Message::Summary(_))));
    for m in &msgs {
        if let Message::Hit(h) = m {
            assert!(h.explanation.is_some(), "--explain fills explanation");
            assert_eq!(
                h.snippet.as_ref().map(|s| &s.text),
                h.fragments.first().map(|f| &f.text)
            );
            for f in &h.fragments {
                assert!(["body", "caption", "title"].contains(&f.field.as_str()));
                for [a, b] in &f.highlights {
                    assert!(f.text.is_char_boundary(*a) && f.text.is_char_boundary(*b) && a < b);
                }
            }
        }
    }
}

#[test]
fn keys_are_present_even_when_null() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    let run = env.search("GRAIN", &[]);
    let hit = &run.hits()[0];
    assert_eq!(hit["date"], serde_json::Value::Null);
    assert_eq!(hit["explanation"], serde_json::Value::Null);
    assert!(hit.as_object().unwrap().contains_key("date"));
    assert!(!run.stdout.contains('\u{1b}'));
}
