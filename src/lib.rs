//! newsidx: a full-text search indexer and query library for archives of
//! news articles, built on tantivy.
//!
//! # How data moves
//!
//! ```text
//! ingest: walk (folders -> candidate files, streamed)
//!         -> open (candidate -> metadata and open file, named in its open folder;
//!            skiplist: files an earlier run skipped are not opened again)
//!         -> decode (bytes -> text: UTF-8, UTF-16, Windows-1252, or "binary")
//!         -> article (text -> title, date, dateline, body, captions, ...)
//!         -> sketch (body -> MinHash sketch and LSH bands of its 5-word shingles)
//!         -> schema (article -> tantivy document, per index-schema/newsidx.toml)
//!         -> cluster (sketch -> the story's cluster id, from earlier copies)
//!         -> ingest (rayon workers -> IndexWriter, batched commits, deletes)
//!         -> indexdir (generations, atomic swap, the writer lock)
//! search: query (text -> syntax tree, with error positions)
//!         -> search (tree -> tantivy queries, stem expansion, collectors;
//!            sparse: no segment is asked for a field it lacks)
//!         -> snippet (stored text -> highlighted fragments)
//!         -> hit (owned results) -> output (human listing or JSON Lines)
//! export: schema -> Quickwit / Elasticsearch configs; stored documents -> NDJSON
//! ```
//!
//! Only `schema`, `ingest`, `cluster`, `search`, `sparse`, `export`, `indexdir`,
//! `status` and `error` name tantivy; `article`, `decode`, `sketch`, `query`, `snippet` and `hit` are pure and are
//! tested (and fuzzed) on strings. The library never prints: the binary
//! renders [`ingest::Progress`] events and results.

#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod article;
pub mod cluster;
pub mod decode;
pub mod error;
pub mod export;
mod hashdir;
pub mod hit;
pub mod indexdir;
pub mod ingest;
mod open;
pub mod output;
pub mod query;
pub mod schema;
pub mod search;
pub mod sketch;
pub mod skiplist;
pub mod snippet;
mod sparse;
pub mod status;
mod swar;
pub mod walk;
