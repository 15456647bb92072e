//! Export to Quickwit and Elasticsearch/OpenSearch: configurations generated
//! from the schema, every document exactly once with its values, file
//! limits, and deletions since a previous export.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::{TestEnv, copy_dir, repo};

/// Every field the schema file defines with values the index keeps
/// (stored or fast), by name.
fn schema_fields() -> Vec<String> {
    let text = fs::read_to_string(repo().join("index-schema/newsidx.toml")).unwrap();
    let schema: toml::Value = toml::from_str(&text).unwrap();
    let set = |f: &toml::Value, key: &str| f.get(key).and_then(toml::Value::as_bool) == Some(true);
    schema["field"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| set(f, "stored") || set(f, "fast"))
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

fn default_search_fields() -> Vec<String> {
    let text = fs::read_to_string(repo().join("index-schema/newsidx.toml")).unwrap();
    let schema: toml::Value = toml::from_str(&text).unwrap();
    let mut v: Vec<String> = schema["search"]["default_fields"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    v.sort();
    v
}

fn export(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = vec!["export", "--json"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    run.expect_code(0);
    serde_json::from_str(run.stdout.trim()).unwrap()
}

/// All NDJSON lines of the data files of an export folder, file by file.
fn data_files(dir: &Path, prefix: &str) -> Vec<(String, Vec<Value>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            assert!(
                text.ends_with('\n'),
                "{} must end with a newline",
                p.display()
            );
            let lines = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            (p.display().to_string(), lines)
        })
        .collect()
}

#[test]
fn quickwit_config_has_every_field_with_the_right_attributes() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    export(&env, &["--to", "quickwit", "qw"]);
    let yaml = fs::read_to_string(env.path("qw/index-config.yaml")).unwrap();
    assert!(
        yaml.contains("stemming"),
        "the config says what differs from newsidx"
    );
    let config: Value = serde_norway::from_str(&yaml).unwrap();
    assert_eq!(config["version"].as_f64(), Some(0.8));
    assert_eq!(config["index_id"], "newsidx");
    let mapping = &config["doc_mapping"];
    assert_eq!(mapping["timestamp_field"], "date");
    let tokenizers: Vec<&str> = mapping["tokenizers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in mapping["tokenizers"].as_array().unwrap() {
        assert_eq!(t["type"], "simple");
        for f in t["filters"].as_array().unwrap() {
            assert!(
                ["remove_long", "lower_caser", "ascii_folding"].contains(&f.as_str().unwrap()),
                "{f}"
            );
        }
    }
    let fields: BTreeMap<String, Value> = mapping["field_mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f.clone()))
        .collect();
    let names: Vec<String> = fields.keys().cloned().collect();
    let mut expected = schema_fields();
    expected.sort();
    assert_eq!(names, expected, "every schema field is exported");
    for (name, f) in &fields {
        let ty = f["type"].as_str().unwrap();
        if ty == "text" || ty == "array<text>" {
            let tokenizer = f["tokenizer"].as_str().unwrap();
            assert!(
                tokenizer == "raw" || tokenizers.contains(&tokenizer),
                "{name}: unknown tokenizer {tokenizer}"
            );
            if tokenizer != "raw" {
                assert_eq!(f["record"], "position", "{name}");
                assert_eq!(f["fieldnorms"], true, "{name}");
            }
        }
    }
    for keyword in ["path", "id", "agency", "hash"] {
        assert_eq!(fields[keyword]["tokenizer"], "raw", "{keyword}");
        assert_eq!(fields[keyword]["fast"], true, "{keyword}");
    }
    let date = &fields["date"];
    assert_eq!(date["type"], "datetime");
    assert!(
        date["input_formats"]
            .as_array()
            .unwrap()
            .contains(&Value::from("%Y-%m-%d"))
    );
    assert_eq!(fields["captions"]["type"], "array<text>");
    let mut search: Vec<String> = config["search_settings"]["default_search_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    search.sort();
    assert_eq!(search, default_search_fields());
    let readme = fs::read_to_string(env.path("qw/README.txt")).unwrap();
    assert!(
        readme.contains("quickwit index create --index-config index-config.yaml"),
        "{readme}"
    );
    assert!(
        readme.contains("quickwit index ingest --index newsidx"),
        "{readme}"
    );
}

#[test]
fn elasticsearch_mapping_matches_the_schema() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    export(&env, &["--to", "elasticsearch", "es"]);
    let index: Value =
        serde_json::from_str(&fs::read_to_string(env.path("es/index.json")).unwrap()).unwrap();
    let mappings = &index["mappings"];
    assert_eq!(mappings["dynamic"], "strict");
    let props = mappings["properties"].as_object().unwrap();
    let mut names: Vec<String> = props.keys().cloned().collect();
    names.sort();
    let mut expected = schema_fields();
    expected.sort();
    assert_eq!(names, expected);
    let analysis = &index["settings"]["analysis"];
    let english = analysis["analyzer"]["news_english"]["filter"]
        .as_array()
        .unwrap();
    for f in [
        "lowercase",
        "asciifolding",
        "english_stop",
        "english_stemmer",
    ] {
        assert!(english.contains(&Value::from(f)), "{f}");
    }
    assert_eq!(analysis["filter"]["english_stemmer"]["language"], "english");
    assert_eq!(analysis["filter"]["english_stop"]["stopwords"], "_english_");
    for text in ["title", "body", "captions", "contributors", "dateline"] {
        assert_eq!(props[text]["type"], "text", "{text}");
        assert_eq!(props[text]["analyzer"], "news_english", "{text}");
        assert_eq!(
            props[text]["fields"]["exact"]["analyzer"], "news_exact",
            "{text}"
        );
    }
    for keyword in ["id", "path", "agency", "photo_credits", "hash"] {
        assert_eq!(props[keyword]["type"], "keyword", "{keyword}");
    }
    assert_eq!(props["date"]["type"], "date");
    assert_eq!(props["date"]["format"], "yyyy-MM-dd");
    let readme = fs::read_to_string(env.path("es/README.txt")).unwrap();
    for needle in [
        "--data-binary @index.json",
        "_bulk",
        "--data-binary @\"$f\"",
        "\"errors\":false",
        "_aliases",
    ] {
        assert!(readme.contains(needle), "{needle}: {readme}");
    }
}

/// The `--json` search view of every document, by id.
fn indexed(env: &TestEnv) -> BTreeMap<String, Value> {
    let run = env.search("*", &["--limit", "10000", "--no-collapse"]);
    run.hits()
        .into_iter()
        .map(|h| (h["id"].as_str().unwrap().to_owned(), h))
        .collect()
}

fn round_trip(env: &TestEnv, folder: &str) {
    let ids = indexed(env);
    for (target, prefix) in [("quickwit", "docs-"), ("elasticsearch", "bulk-")] {
        let out = format!("out-{target}");
        let summary = export(env, &["--to", target, &out]);
        assert_eq!(summary["documents"], ids.len());
        let mut seen = HashSet::new();
        for (file, lines) in data_files(&env.path(&out), prefix) {
            let docs: Vec<&Value> = if target == "elasticsearch" {
                assert_eq!(
                    lines.len() % 2,
                    0,
                    "{file}: action and source lines alternate"
                );
                for pair in lines.chunks(2) {
                    assert_eq!(pair[0]["index"]["_id"], pair[1]["id"], "{file}");
                    assert!(pair[1].get("index").is_none());
                }
                lines.iter().skip(1).step_by(2).collect()
            } else {
                lines.iter().collect()
            };
            for doc in docs {
                let id = doc["id"].as_str().unwrap().to_owned();
                assert!(seen.insert(id.clone()), "{id} exported twice");
                let hit = &ids[&id];
                for key in [
                    "path",
                    "title",
                    "date",
                    "dateline",
                    "agency",
                    "contributors",
                ] {
                    assert_eq!(doc[key], hit[key], "{id}: {key}");
                }
                let bytes = fs::read(env.path(folder).join(&id)).unwrap();
                assert_eq!(
                    doc["hash"],
                    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)),
                    "{id}"
                );
                assert_eq!(doc["size"], bytes.len());
                for key in schema_fields() {
                    assert!(doc.get(&key).is_some(), "{id}: {key} missing");
                }
            }
        }
        assert_eq!(seen.len(), ids.len(), "every document exactly once");
    }
}

#[test]
fn every_seed_document_round_trips() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    round_trip(&env, "seeds");
    let docs = data_files(&env.path("out-quickwit"), "docs-");
    let seed = docs[0]
        .1
        .iter()
        .find(|d| d["id"] == "000_3f0eb7fae6c7b69d.txt")
        .unwrap();
    assert_eq!(seed["captions"].as_array().unwrap().len(), 15);
    assert_eq!(seed["photo_credits"][0], "AP Photo/Felipe Dana");
    assert_eq!(seed["date"], "2022-03-28");
    let body = seed["body"].as_str().unwrap();
    assert!(body.contains("neutrality") && !body.contains("Shevchenko"));
}

#[test]
fn a_real_corpus_sample_round_trips() {
    let env = TestEnv::new();
    copy_dir(
        &repo().join("tests/fixtures/reuters21578"),
        &env.path("reuters"),
    );
    env.ingest("reuters");
    round_trip(&env, "reuters");
}

#[test]
fn files_stay_under_the_size_limit() {
    let env = TestEnv::new();
    copy_dir(
        &repo().join("tests/fixtures/reuters21578"),
        &env.path("reuters"),
    );
    env.ingest("reuters");
    for (target, prefix) in [("quickwit", "docs-"), ("elasticsearch", "bulk-")] {
        let out = format!("small-{target}");
        let summary = export(&env, &["--to", target, &out, "--file-size", "20KB"]);
        let files = summary["files"].as_array().unwrap();
        assert!(files.len() > 5, "{summary}");
        for f in fs::read_dir(env.path(&out)).unwrap() {
            let f = f.unwrap();
            if f.file_name().to_string_lossy().starts_with(prefix) {
                assert!(f.metadata().unwrap().len() <= 20_000, "{:?}", f.path());
            }
        }
    }
    let run = env.run(&["export", "--to", "quickwit", "x", "--file-size", "20MB"]);
    run.expect_code(2);
    assert!(run.stderr.contains("10 MB"), "{}", run.stderr);
}

#[test]
fn since_export_deletes_what_is_gone_and_reexports_are_idempotent() {
    let env = TestEnv::with_seeds();
    env.ingest("seeds");
    export(&env, &["--to", "elasticsearch", "first"]);
    let again = export(&env, &["--to", "elasticsearch", "again"]);
    assert_eq!(
        fs::read(env.path("first/bulk-0001.ndjson")).unwrap(),
        fs::read(env.path("again/bulk-0001.ndjson")).unwrap(),
        "same index, same export: {again}"
    );
    fs::remove_file(env.path("seeds/003_bbc_rail_strike.txt")).unwrap();
    env.ingest("seeds");
    let summary = export(
        &env,
        &["--to", "elasticsearch", "second", "--since-export", "first"],
    );
    assert_eq!(summary["deleted"], 1);
    assert_eq!(summary["documents"], 6);
    let lines: Vec<Value> = data_files(&env.path("second"), "bulk-")
        .into_iter()
        .flat_map(|(_, l)| l)
        .collect();
    let deletes: Vec<&Value> = lines.iter().filter(|l| l.get("delete").is_some()).collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["delete"]["_id"], "003_bbc_rail_strike.txt");
    // Quickwit has no bulk deletes: a clear refusal, not a silent drop.
    let run = env.run(&["export", "--to", "quickwit", "q", "--since-export", "first"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--since-export"), "{}", run.stderr);
    // Exporting into a folder again replaces its data files.
    fs::write(env.path("second/bulk-0099.ndjson"), "stale\n").unwrap();
    export(&env, &["--to", "elasticsearch", "second"]);
    assert!(!env.path("second/bulk-0099.ndjson").exists());
}

#[test]
fn export_without_an_index_is_a_clear_error() {
    let env = TestEnv::new();
    let run = env.run(&["export", "--to", "opensearch", "out"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no index at"), "{}", run.stderr);
}
