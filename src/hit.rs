//! The output model of a search: owned, serializable, free of tantivy.
//!
//! Printers (`output.rs`) see only these types, so the JSON wire format is
//! defined here and in `output.rs`'s docs, and nowhere else.

use serde::Serialize;

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// 1-based rank in the whole result list (offset included).
    pub rank: usize,
    /// BM25 score (sum over fields and terms).
    pub score: f32,
    /// Path relative to the ingested folder.
    pub id: String,
    /// Absolute path of the source file.
    pub path: String,
    /// The headline, if the article has one.
    pub title: Option<String>,
    /// `YYYY-MM-DD`, or null.
    pub date: Option<String>,
    /// Place of the dateline, or null.
    pub dateline: Option<String>,
    /// Agency, or null.
    pub agency: Option<String>,
    /// Contributors paragraphs.
    pub contributors: Vec<String>,
    /// The best fragment, or null when nothing can be shown.
    pub snippet: Option<Fragment>,
    /// All fragments, best first (the first is `snippet`).
    pub fragments: Vec<Fragment>,
    /// How the score was computed (`--explain`), else null.
    pub explanation: Option<serde_json::Value>,
    /// The story's cluster id (16 hex digits): copies share it.
    pub cluster: Option<String>,
    /// Other copies of this story that also match, collapsed into this hit.
    pub similar_count: u64,
    /// Their paths, best first (at most 100); empty with `--no-collapse`.
    pub similar: Vec<String>,
}

/// A piece of article text with the matched words marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fragment {
    /// Where it comes from: `title`, `body` or `caption`.
    pub field: String,
    /// The text, with control characters and escape sequences removed and
    /// whitespace collapsed.
    pub text: String,
    /// Byte ranges `[start, end)` of highlighted spans in `text`. A matched
    /// phrase is one span.
    pub highlights: Vec<[usize; 2]>,
}

/// Counts of matching documents per bucket of one facet.
#[derive(Debug, Clone, Serialize)]
pub struct Facet {
    /// `date:month`, `date:day`, `dateline` or `agency`.
    pub facet: String,
    /// `(bucket, documents)`, in bucket order for dates and by count otherwise.
    pub buckets: Vec<(String, u64)>,
    /// Matching documents with no value for this facet.
    pub missing: u64,
}

/// The end of a result list.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The query as typed.
    pub query: String,
    /// Exact number of matching documents.
    pub total_hits: u64,
    /// Exact number of distinct stories among them when results are
    /// collapsed (the default), else null.
    pub stories: Option<u64>,
    /// Hits in this page.
    pub returned: usize,
    /// Hits skipped before this page.
    pub offset: usize,
    /// Wall time of the search, in milliseconds.
    pub elapsed_ms: f64,
    /// Parts of the query dropped by `--lenient`.
    pub warnings: Vec<String>,
}

/// A story present in several copies, as `newsidx dups` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    /// Its id (16 hex digits), as search hits show it.
    pub cluster: String,
    /// Number of copies.
    pub size: usize,
    /// Their paths, sorted.
    pub paths: Vec<String>,
}
