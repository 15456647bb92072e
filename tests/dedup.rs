//! Wire stories: copies of one story share a cluster at ingest, results are
//! collapsed to one hit per story, `similar` and `dups` list them, and the
//! clusters survive incremental ingest.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Rng, TestEnv, copy_dir, repo};

/// A pronounceable pseudo-word from a vocabulary of about 9,000.
fn word(rng: &mut Rng) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    for _ in 0..2 + rng.below(2) {
        w.push(C[rng.below(C.len() as u64) as usize] as char);
        w.push(V[rng.below(V.len() as u64) as usize] as char);
    }
    w
}

fn paragraph(rng: &mut Rng, words: usize) -> String {
    let mut p: Vec<String> = (0..words).map(|_| word(rng)).collect();
    p[0] = capitalize(&p[0]);
    p.join(" ") + "."
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A wire story: a date line, a dateline running into the lead, and
/// `paragraphs` paragraphs of 60 words, plus a caption.
fn story(rng: &mut Rng, paragraphs: usize) -> Vec<String> {
    let mut out = vec![format!(
        " date 2022-03-28 KYIV, Ukraine (AP) — {}",
        paragraph(rng, 50)
    )];
    out.extend((1..paragraphs).map(|_| paragraph(rng, 60)));
    out
}

fn render(paragraphs: &[String], caption: &str) -> String {
    let mut text = paragraphs.join("\n\n");
    text.push_str(&format!("\n\n{caption} (AP Photo/Test Writer)\n"));
    text
}

/// Cluster of each path (relative to the scratch dir) from `dups --json`.
fn clusters(env: &TestEnv) -> HashMap<String, String> {
    let run = env.run(&["dups", "--json"]);
    let root = fs::canonicalize(env.dir.path()).unwrap();
    let mut out = HashMap::new();
    for line in run.json_lines() {
        if line["type"] != "cluster" {
            continue;
        }
        for p in line["paths"].as_array().unwrap() {
            let p = Path::new(p.as_str().unwrap());
            let rel = p.strip_prefix(&root).unwrap_or(p);
            out.insert(
                rel.to_string_lossy().into_owned(),
                line["cluster"].as_str().unwrap().to_owned(),
            );
        }
    }
    out
}

/// The variants of one story that must land in its cluster, by name.
fn copies(rng: &mut Rng, base: &[String]) -> Vec<(&'static str, Vec<u8>)> {
    let text = render(base, "Smoke rises over the city.");
    let mut new_lead = vec![format!(
        " date 2022-03-29 KYIV, Ukraine (AP) — {}",
        paragraph(rng, 45)
    )];
    new_lead.push(base[0].replacen(" date 2022-03-28 KYIV, Ukraine (AP) — ", "", 1));
    new_lead.extend_from_slice(&base[1..]);
    let mut extra = base.to_vec();
    extra.insert(base.len() / 2, paragraph(rng, 55));
    let cp1252 = {
        // The same story saved by an old Windows tool: CRLF, and the dash
        // of the dateline as byte 0x97.
        let t = text.replace('\n', "\r\n");
        let (head, tail) = t.split_once('—').unwrap();
        let mut b = head.as_bytes().to_vec();
        b.push(0x97);
        b.extend_from_slice(tail.as_bytes());
        b
    };
    vec![
        ("original", text.clone().into_bytes()),
        ("byte-identical", text.clone().into_bytes()),
        (
            "new-lead",
            render(&new_lead, "Smoke rises over the city.").into_bytes(),
        ),
        (
            "extra-paragraph",
            render(&extra, "A different caption.").into_bytes(),
        ),
        ("windows-1252-crlf", cp1252),
    ]
}

#[test]
fn copies_cluster_and_different_stories_do_not() {
    let env = TestEnv::new();
    let mut rng = Rng::new(8);
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for s in 0..30 {
        let base = story(&mut rng, 8);
        for (name, bytes) in copies(&mut rng, &base) {
            let rel = format!("wire/s{s:02}-{name}.txt");
            env.write(&rel, bytes);
            expected.insert(rel, s);
        }
    }
    // Two stories on one topic with the same names, different text.
    let names = "President Volodymyr Zelenskyy met Prime Minister Boris Johnson in Kyiv";
    env.write(
        "wire/topic-a.txt",
        format!(
            " date 2022-04-09 KYIV, Ukraine (AP) — {names} on Saturday. {}\n\n{}\n",
            paragraph(&mut rng, 60),
            paragraph(&mut rng, 60)
        ),
    );
    env.write(
        "wire/topic-b.txt",
        format!(
            " date 2022-04-09 KYIV, Ukraine (AP) — {names} on Saturday. {}\n\n{}\n",
            paragraph(&mut rng, 60),
            paragraph(&mut rng, 60)
        ),
    );
    env.ingest("wire").expect_code(0);
    let found = clusters(&env);

    // Pairwise precision and recall against the generated truth.
    let paths: Vec<&String> = expected.keys().collect();
    let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            let same = expected[*a] == expected[*b];
            let joined = found.contains_key(*a) && found.get(*a) == found.get(*b);
            match (same, joined) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                _ => {}
            }
        }
    }
    let precision = f64::from(tp) / f64::from(tp + fp).max(1.0);
    let recall = f64::from(tp) / f64::from(tp + fn_).max(1.0);
    eprintln!("generated near-duplicates: pairwise precision {precision:.3}, recall {recall:.3}");
    assert_eq!(fp, 0, "copies of different stories joined");
    assert!(recall >= 0.95, "recall {recall}");
    // Every kind of copy joins its original in most stories.
    for name in [
        "byte-identical",
        "new-lead",
        "extra-paragraph",
        "windows-1252-crlf",
    ] {
        let joined = (0..30)
            .filter(|s| {
                let o = found.get(&format!("wire/s{s:02}-original.txt"));
                o.is_some() && o == found.get(&format!("wire/s{s:02}-{name}.txt"))
            })
            .count();
        assert!(joined >= 28, "{name}: only {joined} of 30 joined");
    }
    assert!(!found.contains_key("wire/topic-a.txt"), "{found:?}");
    assert!(!found.contains_key("wire/topic-b.txt"));
}

#[test]
fn search_collapses_copies_and_counts_stories() {
    let env = TestEnv::new();
    let mut rng = Rng::new(3);
    let base = story(&mut rng, 6);
    let text = render(&base, "Smoke rises.");
    for i in 0..4 {
        env.write(&format!("a/copy{i}.txt"), &text);
    }
    let lead_word = base[1].split(' ').next().unwrap().to_lowercase();
    let other = format!(
        " date 2022-03-28 LVIV, Ukraine (AP) — {} {lead_word} {}\n",
        paragraph(&mut rng, 30),
        paragraph(&mut rng, 30)
    );
    env.write("a/other.txt", other);
    env.ingest("a").expect_code(0);

    let run = env.search(&lead_word, &[]);
    run.expect_code(0);
    let hits = run.hits();
    let summary = run.summary();
    assert_eq!(summary["total_hits"], 5, "{run:?}");
    assert_eq!(summary["stories"], 2);
    assert_eq!(hits.len(), 2);
    let story = hits.iter().find(|h| h["similar_count"] == 3).unwrap();
    // Equal scores: the smallest path stands for the story.
    assert!(story["path"].as_str().unwrap().ends_with("a/copy0.txt"));
    let similar: Vec<&str> = story["similar"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(similar.len(), 3);
    for i in 1..4 {
        assert!(
            similar
                .iter()
                .any(|p| p.ends_with(&format!("a/copy{i}.txt")))
        );
    }

    let human = env.run(&["search", &lead_word]);
    assert!(human.stdout.starts_with("5 hits in 2 stories"), "{human:?}");
    assert!(
        human.stdout.contains("+3 similar (--expand lists them)"),
        "{human:?}"
    );
    assert!(!human.stdout.contains("a/copy3.txt"), "{human:?}");
    let expanded = env.run(&["search", &lead_word, "--expand"]);
    assert!(expanded.stdout.contains("+3 similar\n"), "{expanded:?}");
    for i in 1..4 {
        let copy = format!("a/copy{i}.txt");
        assert!(expanded.stdout.contains(&copy), "{expanded:?}");
    }

    let all = env.search(&lead_word, &["--no-collapse"]);
    assert_eq!(all.hits().len(), 5);
    assert_eq!(all.summary()["stories"], Value::Null);
    assert!(all.hits().iter().all(|h| h["similar_count"] == 0));
}

#[test]
fn clusters_survive_incremental_ingest() {
    let env = TestEnv::new();
    let mut rng = Rng::new(5);
    let base = story(&mut rng, 6);
    let text = render(&base, "Smoke rises.");
    env.write("a/first.txt", &text);
    env.write("a/second.txt", &text);
    for i in 0..5 {
        env.write(
            &format!("a/other{i}.txt"),
            render(&story(&mut rng, 3), "x."),
        );
    }
    env.ingest("a").expect_code(0);
    let before = clusters(&env);
    let id = before["a/first.txt"].clone();
    assert_eq!(before.get("a/second.txt"), Some(&id));

    // A new copy, with a new lead, joins through the committed index.
    let mut edited = vec![paragraph(&mut rng, 40)];
    edited.extend_from_slice(&base);
    env.write("a/third.txt", render(&edited, "Another caption."));
    env.ingest("a").expect_code(0);
    assert_eq!(clusters(&env).get("a/third.txt"), Some(&id));

    // Deleting the first member keeps the others together, and a later
    // copy still finds them.
    fs::remove_file(env.path("a/first.txt")).unwrap();
    env.ingest("a").expect_code(0);
    let after = clusters(&env);
    assert!(!after.contains_key("a/first.txt"));
    assert_eq!(after.get("a/second.txt"), Some(&id));
    assert_eq!(after.get("a/third.txt"), Some(&id));
    env.write("a/fourth.txt", &text);
    env.ingest("a").expect_code(0);
    assert_eq!(clusters(&env).get("a/fourth.txt"), Some(&id));

    // An edit that makes a copy a different story takes it out.
    env.write("a/second.txt", render(&story(&mut rng, 6), "x."));
    env.ingest("a").expect_code(0);
    let last = clusters(&env);
    assert_ne!(last.get("a/second.txt"), Some(&id));
    assert_eq!(last.get("a/third.txt"), Some(&id));
}

#[test]
fn similar_lists_copies_then_related_stories() {
    let env = TestEnv::new();
    let mut rng = Rng::new(11);
    let base = story(&mut rng, 6);
    env.write("a/one.txt", render(&base, "Smoke."));
    env.write("a/two.txt", render(&base, "Fire."));
    // A related story: shares a paragraph with the first, not a copy.
    let related = vec![
        format!(
            " date 2022-03-30 KYIV, Ukraine (AP) — {}",
            paragraph(&mut rng, 50)
        ),
        base[2].clone(),
        paragraph(&mut rng, 60),
        paragraph(&mut rng, 60),
    ];
    env.write("a/related.txt", render(&related, "Rain."));
    for i in 0..6 {
        env.write(
            &format!("a/noise{i}.txt"),
            render(&story(&mut rng, 3), "x."),
        );
    }
    env.ingest("a").expect_code(0);

    let run = env.run(&["similar", "a/one.txt", "--json"]);
    run.expect_code(0);
    let lines = run.json_lines();
    let hits: Vec<&Value> = lines.iter().filter(|l| l["type"] == "hit").collect();
    assert_eq!(hits[0]["relation"], "same_story", "{run:?}");
    assert!(hits[0]["path"].as_str().unwrap().ends_with("a/two.txt"));
    assert_eq!(hits[1]["relation"], "similar");
    assert!(hits[1]["path"].as_str().unwrap().ends_with("a/related.txt"));
    assert!(
        !hits[1]["snippet"]["highlights"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        !hits
            .iter()
            .any(|h| h["path"].as_str().unwrap().ends_with("a/one.txt"))
    );

    // By id too, and in the readable listing.
    let human = env.run(&["similar", "one.txt"]);
    human.expect_code(0);
    assert!(
        human.stdout.contains("two.txt") && human.stdout.contains("Related stories"),
        "{human:?}"
    );
    let missing = env.run(&["similar", "nope.txt"]);
    missing.expect_code(2);
    assert!(
        missing.stderr.contains("no article \"nope.txt\""),
        "{missing:?}"
    );
}

#[test]
fn dups_lists_clusters_largest_first() {
    let env = TestEnv::new();
    let mut rng = Rng::new(13);
    for (copies, name) in [(2, "small"), (4, "big")] {
        let text = render(&story(&mut rng, 4), "x.");
        for i in 0..copies {
            env.write(&format!("a/{name}{i}.txt"), &text);
        }
    }
    env.write("a/alone.txt", render(&story(&mut rng, 4), "x."));
    env.ingest("a").expect_code(0);
    let run = env.run(&["dups", "--json"]);
    run.expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines[0]["size"], 4);
    assert_eq!(lines[1]["size"], 2);
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["documents"], 6);
    let big = env.run(&["dups", "--min-size", "3"]);
    assert!(
        big.stdout
            .starts_with("1 story in several copies (4 documents)"),
        "{big:?}"
    );
    assert!(!big.stdout.contains("small"));
    let none = TestEnv::new();
    none.write("b/x.txt", render(&story(&mut rng, 2), "x."));
    none.ingest("b").expect_code(0);
    none.run(&["dups"]).expect_code(1);
}

#[test]
fn clustering_can_be_switched_off() {
    let env = TestEnv::new();
    let mut rng = Rng::new(17);
    let text = render(&story(&mut rng, 4), "x.");
    env.write("a/one.txt", &text);
    env.write("a/two.txt", &text);
    let schema = fs::read_to_string(repo().join("index-schema/newsidx.toml")).unwrap();
    assert!(schema.contains("\nenabled = true\n"));
    env.write(
        "off.toml",
        schema.replace("\nenabled = true\n", "\nenabled = false\n"),
    );
    let off = env.path("off.toml");
    let off = off.to_str().unwrap();
    env.run(&["ingest", "a", "--schema", off]).expect_code(0);
    env.run(&["dups", "--schema", off]).expect_code(1);
    assert!(clusters(&env).is_empty());
    // Switched back on, a full rebuild clusters the copies again.
    env.run(&["ingest", "a", "--full"]).expect_code(0);
    let together = clusters(&env);
    assert_eq!(together["a/one.txt"], together["a/two.txt"]);
}

/// Words of a body the way the issue measures copies: split at ASCII
/// punctuation and spaces, ASCII-lower-cased.
fn body_shingles(bytes: &[u8]) -> HashSet<Vec<String>> {
    let Ok(decoded) = newsidx::decode::decode(bytes) else {
        return HashSet::new();
    };
    let Ok(article) = newsidx::article::parse(&decoded.text) else {
        return HashSet::new();
    };
    let mut words: Vec<String> = Vec::new();
    let mut parts: Vec<&str> = article.body.iter().map(|p| p.as_ref()).collect();
    if parts.iter().all(|p| p.trim().is_empty()) {
        parts = article
            .title
            .iter()
            .chain(&article.captions)
            .chain(&article.contributors)
            .map(|p| p.as_ref())
            .collect();
    }
    for p in parts {
        for w in p.split(|c: char| c.is_ascii() && !c.is_ascii_alphanumeric()) {
            if !w.is_empty() {
                words.push(w.to_ascii_lowercase());
            }
        }
    }
    words
        .windows(5.min(words.len().max(1)))
        .map(<[String]>::to_vec)
        .collect()
}

/// Every group of byte-identical articles in `folder` is one cluster, and
/// no cluster holds two bodies sharing less than half their shingles.
/// Returns (groups, clusters checked).
fn check_real_corpus(folder: &Path) -> (usize, usize) {
    let env = TestEnv::new();
    let run = env.run(&["ingest", folder.to_str().unwrap(), "--json"]);
    assert!(run.code == 0, "{run:?}");
    let dups = env.run(&["dups", "--json"]);
    let mut cluster_of: HashMap<PathBuf, String> = HashMap::new();
    let mut members: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for line in dups.json_lines() {
        if line["type"] == "cluster" {
            for p in line["paths"].as_array().unwrap() {
                let p = PathBuf::from(p.as_str().unwrap());
                let c = line["cluster"].as_str().unwrap().to_owned();
                cluster_of.insert(p.clone(), c.clone());
                members.entry(c).or_default().push(p);
            }
        }
    }
    let mut by_bytes: HashMap<u64, Vec<PathBuf>> = HashMap::new();
    for entry in walk(folder) {
        let bytes = fs::read(&entry).unwrap();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let path = fs::canonicalize(&entry).unwrap();
        by_bytes
            .entry(xxhash_rust::xxh3::xxh3_64(&bytes))
            .or_default()
            .push(path);
    }
    let groups: Vec<&Vec<PathBuf>> = by_bytes.values().filter(|g| g.len() > 1).collect();
    for g in &groups {
        let ids: HashSet<Option<&String>> = g.iter().map(|p| cluster_of.get(p)).collect();
        assert!(
            ids.len() == 1 && !ids.contains(&None),
            "byte-identical files in different clusters: {g:?}"
        );
    }
    for paths in members.values() {
        let sets: Vec<_> = paths
            .iter()
            .map(|p| body_shingles(&fs::read(p).unwrap()))
            .collect();
        for i in 0..sets.len() {
            for j in i + 1..sets.len() {
                let inter = sets[i].intersection(&sets[j]).count() as f64;
                let union = sets[i].union(&sets[j]).count().max(1) as f64;
                assert!(
                    inter / union >= 0.5,
                    "{} and {} share {:.2} of their shingles",
                    paths[i].display(),
                    paths[j].display(),
                    inter / union
                );
            }
        }
    }
    (groups.len(), members.len())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "txt") {
            out.push(p);
        }
    }
    out
}

#[test]
fn fixture_duplicates_cluster_exactly() {
    let env = TestEnv::new();
    let folder = env.path("fixtures");
    copy_dir(&repo().join("tests/fixtures/reuters21578"), &folder);
    // Plant byte-identical copies among the real articles.
    for (i, f) in walk(&folder).into_iter().take(5).enumerate() {
        fs::copy(&f, folder.join(format!("copy-{i}.txt"))).unwrap();
    }
    let (groups, _) = check_real_corpus(&folder);
    assert!(groups >= 5);
}

#[test]
fn shared_corpus_duplicates_cluster_exactly() {
    let corpus = repo().join("../shared/corpus");
    if !corpus.is_dir() {
        eprintln!(
            "skipped: {} is not here (a user's clone has no ../shared)",
            corpus.display()
        );
        return;
    }
    let (groups, clusters) = check_real_corpus(&corpus);
    eprintln!(
        "shared corpus: {groups} byte-identical groups, each one cluster; {clusters} clusters checked"
    );
    assert!(groups > 100);
}
