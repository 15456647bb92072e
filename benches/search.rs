//! Search latency, in process: `search::search` for each of a fixed list of
//! mixed queries (words, AND/OR/NOT, phrases, prefix, fuzzy, a named field,
//! date filters), and for the whole list in one go.
//!
//! Each call does what one `newsidx search` does minus process start-up:
//! parse the query, open the index, expand stems, prefixes and fuzzy terms,
//! collect the top 10 with an exact count, and cut snippets. Watching each
//! query kind separately shows which part of the compiler regressed. The
//! index is built once, in a temp dir, from this crate's `seeds/` (or from
//! `NEWSIDX_BENCH_ARCHIVE`, e.g. a folder written by `benches/gen_archive.py`,
//! for realistic posting-list lengths).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use newsidx::ingest::{self, IngestOptions, NoProgress};
use newsidx::schema::NewsSchema;
use newsidx::search::{self, SearchOptions};

/// The queries, one per kind of work the query compiler does.
const QUERIES: &[&str] = &[
    // single words (stemmed variants included)
    "ukraine",
    "zelenskyy",
    "negotiate",
    "humanitarian",
    // exact form, accent folding
    "=negotiations",
    "melenchon",
    // conjunctions, disjunctions, exclusion
    "russia ukraine",
    "neutrality AND referendum",
    "kharkiv OR lviv OR kyiv",
    "talks -belarus",
    // phrases
    "\"security guarantees\"",
    "\"nuclear weapons\"~2",
    // prefix and fuzzy
    "neutral*",
    "zelensky~1",
    // named fields
    "captions:Shevchenko",
    "title:strike",
    "dateline:paris",
    // date filters
    "date:2022-03",
    "date:[2022-03-01 TO 2022-03-31] ukraine",
    // every document
    "*",
];

/// The folder indexed: `NEWSIDX_BENCH_ARCHIVE`, else this crate's `seeds/`.
fn archive() -> PathBuf {
    std::env::var_os("NEWSIDX_BENCH_ARCHIVE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"))
}

fn bench_search(c: &mut Criterion) {
    let schema = NewsSchema::embedded().expect("embedded schema");
    let tmp = tempfile::tempdir().expect("temp dir");
    let index_dir = tmp.path().join("index");
    let input = archive();
    let report = ingest::ingest(
        &IngestOptions::new(vec![input.clone()], index_dir.clone(), schema.clone()),
        &NoProgress,
    )
    .expect("ingest");
    assert!(
        report.documents > 0,
        "nothing indexed from {}",
        input.display()
    );

    let options: Vec<SearchOptions> = QUERIES
        .iter()
        .map(|q| SearchOptions::new(index_dir.clone(), schema.clone(), (*q).to_owned()))
        .collect();
    // Every query must run: a query that errors would time the error path.
    for opts in &options {
        if let Err(e) = search::search(opts) {
            panic!("query {:?} failed: {e}", opts.query);
        }
    }

    let mut group = c.benchmark_group("search");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(1));
    for opts in &options {
        group.bench_with_input(BenchmarkId::from_parameter(&opts.query), opts, |b, opts| {
            b.iter(|| black_box(search::search(opts).expect("search")));
        });
    }
    group.throughput(Throughput::Elements(options.len() as u64));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("all queries", |b| {
        b.iter(|| {
            for opts in &options {
                black_box(search::search(opts).expect("search"));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
