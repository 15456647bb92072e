//! Ingest cost, in process: `ingest::ingest` of the `seeds/` folder into a
//! fresh index (the first run over an archive), and a no-change re-ingest of
//! an existing index (the common nightly run, which must only stat and
//! compare files).
//!
//! One thread, so the numbers do not depend on what else the shared machine
//! is doing, and `NoProgress`, so no terminal output is timed. With the few
//! small seed files the fresh ingest mostly measures the fixed cost of an
//! ingest (create the index, open a writer, commit, wait for merges); set
//! `NEWSIDX_BENCH_ARCHIVE` to a bigger folder (e.g. one written by
//! `benches/gen_archive.py`) to measure throughput instead. Sample sizes are
//! small so `cargo bench --bench ingest` finishes in well under a minute on
//! the seeds.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use newsidx::ingest::{self, IngestOptions, IngestReport, NoProgress};
use newsidx::schema::NewsSchema;

/// The folder to ingest: `NEWSIDX_BENCH_ARCHIVE`, else this crate's `seeds/`.
fn archive() -> PathBuf {
    std::env::var_os("NEWSIDX_BENCH_ARCHIVE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"))
}

fn options(input: &Path, index_dir: &Path) -> IngestOptions {
    let schema = NewsSchema::embedded().expect("embedded schema");
    let mut opts = IngestOptions::new(vec![input.to_path_buf()], index_dir.to_path_buf(), schema);
    opts.threads = 1;
    opts
}

fn run(opts: &IngestOptions) -> IngestReport {
    ingest::ingest(opts, &NoProgress).expect("ingest")
}

fn bench_ingest(c: &mut Criterion) {
    let input = archive();
    let tmp = tempfile::tempdir().expect("temp dir");
    let existing = tmp.path().join("existing");

    // One fresh ingest to check the setup and learn the sizes, which is also
    // the index the re-ingest benchmark runs against.
    let first = run(&options(&input, &existing));
    assert!(first.added > 0, "nothing ingested from {}", input.display());
    let again = run(&options(&input, &existing));
    assert_eq!(
        again.indexed(),
        0,
        "re-ingest of an unchanged folder re-indexed files"
    );
    assert_eq!(again.unchanged, first.added);

    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    group.throughput(Throughput::Bytes(first.bytes_read));
    group.bench_function("fresh", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("temp dir");
                let opts = options(&input, &dir.path().join("index"));
                (dir, opts)
            },
            |(dir, opts)| {
                black_box(run(&opts));
                // Returned so the removal of the index is not timed.
                dir
            },
            BatchSize::PerIteration,
        );
    });

    group.throughput(Throughput::Elements(first.added));
    let opts = options(&input, &existing);
    group.bench_function("unchanged", |b| {
        b.iter(|| black_box(run(&opts)));
    });
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
