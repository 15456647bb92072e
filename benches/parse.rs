//! Parser throughput: `article::parse` alone, `decode::decode` followed
//! by `article::parse`, the near-duplicate sketch of parsed articles and
//! the `news` tokenizer, over every file in `seeds/` (MB/s of input).
//!
//! Parsing is the per-file CPU work of an ingest that does not belong to
//! tantivy, so a regression here slows every ingest; measuring it apart from
//! the index tells a parser slowdown from an engine one. The files are read
//! once at start from this crate's own `seeds/` folder (nothing from the
//! network or `../shared`), and one iteration handles all of them, so the
//! figure is the throughput on the seeds' mix of formats.
//!
//! `PARSE_BENCH_DIR=FOLDER` takes the files from FOLDER instead, e.g. the
//! 23,803 files of `../shared/corpus` (sample size 20 keeps a run short).
//! Quote that figure for word-scanning code: the seeds take 7 µs an
//! iteration, few enough for the CPU's branch predictor to learn, and the
//! byte-by-byte sketch ran at 1.9 GiB/s on them but at 270 MiB/s on the
//! corpus.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newsidx::{article, decode, sketch::Sketch};
use tantivy::tokenizer::TokenStream;

/// Every regular file under `dir`, recursively, in name order.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

/// The raw bytes of every seed file (or of every file in
/// `$PARSE_BENCH_DIR`).
fn seed_bytes() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("PARSE_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"),
        PathBuf::from,
    );
    let files: Vec<Vec<u8>> = files_under(&dir)
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
        .collect();
    assert!(!files.is_empty(), "no seed files in {}", dir.display());
    files
}

fn bench_parse(c: &mut Criterion) {
    let raw = seed_bytes();
    // Text of the files that decode; parse-only starts from these.
    let texts: Vec<String> = raw
        .iter()
        .filter_map(|bytes| decode::decode(bytes).ok())
        .map(|d| d.text.into_owned())
        .collect();
    let raw_len: usize = raw.iter().map(Vec::len).sum();
    let text_len: usize = texts.iter().map(String::len).sum();

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(text_len as u64));
    group.bench_function("article::parse", |b| {
        b.iter(|| {
            for text in &texts {
                let _ = black_box(article::parse(black_box(text)));
            }
        });
    });
    group.throughput(Throughput::Bytes(raw_len as u64));
    group.bench_function("decode+parse", |b| {
        b.iter(|| {
            for bytes in &raw {
                if let Ok(decoded) = decode::decode(black_box(bytes)) {
                    let _ = black_box(article::parse(&decoded.text));
                }
            }
        });
    });
    group.throughput(Throughput::Bytes(text_len as u64));
    let articles: Vec<article::Article<'_>> = texts
        .iter()
        .filter_map(|t| article::parse(t).ok())
        .collect();
    group.bench_function("sketch::of", |b| {
        b.iter(|| {
            for a in &articles {
                let _ = black_box(Sketch::of(black_box(a)));
            }
        });
    });
    // What tantivy's indexing threads run on every text field: the
    // tokenizer alone, counting tokens so that none is optimised away.
    let mut analyzer = newsidx::schema::news_analyzer();
    group.bench_function("news tokenizer", |b| {
        b.iter(|| {
            let mut tokens = 0usize;
            for text in &texts {
                let mut stream = analyzer.token_stream(black_box(text));
                while stream.advance() {
                    tokens += stream.token().text.len();
                }
            }
            black_box(tokens)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
