//! Search: open the index, compile the query tree into tantivy queries,
//! collect ranked (or date-sorted) hits with an exact total and facets, and
//! cut snippets from the stored text.
//!
//! Stemming happens here, at query time: the index keeps exact words, and a
//! word is expanded to the index terms that share its English stem
//! (`negotiate` → `negotiate`, `negotiated`, `negotiations`, ...), with the
//! word as typed weighted above its variants. So `=word` can ask for the
//! surface form, and a proper name that a stemmer would mangle still ranks
//! its true matches first. Prefix and fuzzy terms are expanded the same way,
//! against the term dictionaries, so they are BM25-ranked like any word and
//! the snippet highlights exactly the words that matched.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::time::Instant;

use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, EnableScoring, ExistsQuery, FuzzyTermQuery,
    Occur as TOccur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::document::Value;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer};
use tantivy::{
    DateTime, DocAddress, DocId, Index, Score, SegmentOrdinal, SegmentReader, TantivyDocument, Term,
};

use crate::article::Date;
use crate::error::{Error, Result};
use crate::hit::{Facet, Hit, Summary};
use crate::indexdir::IndexDir;
use crate::query::{self, Leaf, LeafKind, Node, Occur, ParseOptions};
use crate::schema::{
    FieldName, FieldSpec, FieldType, NewsSchema, Record, TokenizerName, date_from_tantivy,
    date_to_tantivy,
};
use crate::snippet::{self, Highlighter, Pattern, Rule, Source, Tokens};
use crate::sparse::{Sparse, Statistics};

/// Weight of a stemmed variant relative to the word as typed.
const VARIANT_BOOST: Score = 0.6;
/// Most index terms one word, prefix or fuzzy term expands to with BM25
/// scoring; a prefix matching more runs as a constant-score filter.
const MAX_EXPANSIONS: usize = 64;
/// Extra candidates collected past the page, so that score ties at the page
/// boundary are ordered by path, not by segment order.
const TIE_SLACK: usize = 16;

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// By BM25 score.
    #[default]
    Relevance,
    /// Newest date first (undated last).
    Newest,
    /// Oldest date first (undated last).
    Oldest,
}

/// What a facet counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacetKind {
    /// `date:year`.
    Year,
    /// `date:month`.
    Month,
    /// `date:day`.
    Day,
    /// `dateline`.
    Dateline,
    /// `agency`.
    Agency,
}

impl FacetKind {
    /// The name as typed after `--facet`.
    pub fn as_str(self) -> &'static str {
        match self {
            FacetKind::Year => "date:year",
            FacetKind::Month => "date:month",
            FacetKind::Day => "date:day",
            FacetKind::Dateline => "dateline",
            FacetKind::Agency => "agency",
        }
    }

    /// Parses a `--facet` value.
    pub fn parse(s: &str) -> Option<FacetKind> {
        [
            FacetKind::Year,
            FacetKind::Month,
            FacetKind::Day,
            FacetKind::Dateline,
            FacetKind::Agency,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Everything a search needs to know.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// The index directory.
    pub index_dir: PathBuf,
    /// The schema.
    pub schema: NewsSchema,
    /// The query text.
    pub query: String,
    /// Words must all match (default) or any (`--or`).
    pub conjunction: bool,
    /// Run what parses, warn about the rest.
    pub lenient: bool,
    /// Restrict the default fields (`--in`).
    pub scope: Option<Vec<FieldName>>,
    /// First day (inclusive).
    pub since: Option<Date>,
    /// Last day (inclusive).
    pub until: Option<Date>,
    /// Only this agency.
    pub agency: Option<String>,
    /// Only datelines containing these words.
    pub dateline: Option<String>,
    /// Order of hits.
    pub sort: Sort,
    /// Hits per page.
    pub limit: usize,
    /// Hits to skip.
    pub offset: usize,
    /// Fragments per hit.
    pub fragments: usize,
    /// Characters per fragment.
    pub snippet_chars: usize,
    /// Facets to count.
    pub facets: Vec<FacetKind>,
    /// Explain scores.
    pub explain: bool,
    /// Show each story once, its best-ranked copy standing for the others.
    pub collapse: bool,
    /// List the paths of each story's other copies in [`Hit::similar`];
    /// without it only their number is known. Each path is a lookup in a
    /// dictionary: skipping them took 6-9% off a `--scale 10` search, where
    /// every story has nine copies.
    pub copy_paths: bool,
    /// Only documents of this cluster (`similar`).
    pub cluster: Option<u64>,
    /// No documents of this cluster (`similar`).
    pub exclude_cluster: Option<u64>,
}

impl SearchOptions {
    /// Options with the documented defaults.
    pub fn new(index_dir: PathBuf, schema: NewsSchema, query: String) -> SearchOptions {
        SearchOptions {
            index_dir,
            schema,
            query,
            conjunction: true,
            lenient: false,
            scope: None,
            since: None,
            until: None,
            agency: None,
            dateline: None,
            sort: Sort::Relevance,
            limit: 10,
            offset: 0,
            fragments: 2,
            snippet_chars: 180,
            facets: Vec::new(),
            explain: false,
            collapse: true,
            copy_paths: true,
            cluster: None,
            exclude_cluster: None,
        }
    }
}

/// The result of a search.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// The page of hits.
    pub hits: Vec<Hit>,
    /// Facet counts, in the order asked.
    pub facets: Vec<Facet>,
    /// Totals and timing.
    pub summary: Summary,
    /// Where the time went.
    pub timings: Timings,
    /// Keeps the index's files mapped while the results live, so that a
    /// process that prints them and exits can leave the unmapping to the
    /// kernel's exit, which is cheaper than unmapping file by file: 6-12%
    /// of a search's time at the corpus's size and at `--scale 10` (see
    /// `main.rs`).
    _searcher: tantivy::Searcher,
}

/// Time spent per phase of a search, in microseconds (`--timings`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Parsing the query.
    pub parse_us: u64,
    /// Opening the index and a searcher.
    pub open_us: u64,
    /// Expanding terms and building tantivy queries.
    pub compile_us: u64,
    /// Matching, scoring, counting and facets.
    pub collect_us: u64,
    /// Loading the hits' stored text and cutting snippets.
    pub hits_us: u64,
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Runs a search.
///
/// # Errors
///
/// [`Error::Query`] for a query that does not parse, [`Error::NoIndex`]
/// and the other index errors of [`IndexDir::open_for_search`].
pub fn search(opts: &SearchOptions) -> Result<SearchResults> {
    let start = Instant::now();
    let schema = &opts.schema;
    // Parse before touching the index: a bad query is the user's to fix
    // whether or not an index exists.
    let names = schema.query_field_names();
    let parsed = query::parse(
        &opts.query,
        &ParseOptions {
            conjunction: opts.conjunction,
            fields: &names,
            lenient: opts.lenient,
        },
    )?;
    if opts.since.zip(opts.until).is_some_and(|(s, u)| s > u) {
        return Err(Error::Usage("--since is after --until".into()));
    }

    let mut timings = Timings {
        parse_us: micros(start),
        ..Timings::default()
    };
    let phase = Instant::now();
    let open = IndexDir::new(&opts.index_dir).open_for_search(schema)?;
    let searcher = &open.searcher;
    let engine = |e| Error::engine(format!("search failed in {}", opts.index_dir.display()), e);
    let sparse = Sparse::of(searcher).map_err(engine)?;
    let stats = sparse.statistics(searcher);
    timings.open_us = micros(phase);
    let phase = Instant::now();
    let mut compiler = Compiler::new(
        schema,
        &open.index,
        searcher,
        &sparse,
        opts.scope.as_deref(),
    );
    let main = compiler.compile(&parsed.node, false)?;
    let mut clauses: Vec<(TOccur, Box<dyn Query>)> = Vec::new();
    clauses.extend(main.map(|q| (TOccur::Must, q)));
    clauses.extend(
        compiler
            .filters(opts)?
            .into_iter()
            .map(|q| (TOccur::Must, q)),
    );
    if let Some(c) = opts.exclude_cluster {
        if clauses.is_empty() {
            clauses.push((TOccur::Must, Box::new(AllQuery)));
        }
        clauses.push((TOccur::MustNot, cluster_query(schema.fields.cluster, c)));
    }
    let query: Box<dyn Query> = match clauses.len() {
        0 => Box::new(EmptyQuery),
        1 if clauses[0].0 == TOccur::Must => clauses
            .pop()
            .map(|(_, q)| q)
            .unwrap_or_else(|| Box::new(EmptyQuery)),
        _ => Box::new(BooleanQuery::new(clauses)),
    };

    timings.compile_us = micros(phase);
    let phase = Instant::now();
    let k = opts.offset + opts.limit + TIE_SLACK;
    let facets = FacetCollector {
        kinds: opts.facets.clone(),
    };
    let mut paths = PathReader::new(searcher);
    let (groups, total, facet_counts, stories) = if opts.collapse {
        let (top, total, facet_counts, stories) = collapsed(
            searcher,
            &stats,
            query.as_ref(),
            opts.sort,
            k,
            facets,
            RECORD_CAP,
        )
        .map_err(engine)?;
        (
            top_stories(&mut paths, top, k, opts.offset..opts.offset + opts.limit),
            total,
            facet_counts,
            Some(stories),
        )
    } else {
        // Ties are shown in path order, but collected in address order: when
        // the hits tied with the page's last one run past the `k` collected,
        // the page could show a different subset of them than the pages
        // around it (an audit paged 3,670 hits and got 3,633 distinct).
        // Collecting more until the tie ends inside makes the pages fit.
        let mut k = k;
        let (ranked, total, facet_counts) = loop {
            let top = TopCollector { k, sort: opts.sort };
            let (ranked, total, facet_counts) = searcher
                .search_with_statistics_provider(
                    query.as_ref(),
                    &(top, Count, facets.clone()),
                    &stats,
                )
                .map_err(engine)?;
            if !tie_runs_past(&ranked, k, opts.offset + opts.limit) {
                break (ranked, total, facet_counts);
            }
            k = k.saturating_mul(2);
        };
        let groups = order_ties(&mut paths, ranked)
            .into_iter()
            .map(|best| Story {
                best,
                count: 1,
                members: Vec::new(),
            })
            .collect();
        (groups, total, facet_counts, None)
    };

    timings.collect_us = micros(phase);
    let phase = Instant::now();
    let highlighter = Highlighter::new(std::mem::take(&mut compiler.rules));
    let mut hits = Vec::new();
    for (i, story) in groups
        .into_iter()
        .skip(opts.offset)
        .take(opts.limit)
        .enumerate()
    {
        let (_, score, addr) = story.best;
        let doc: TantivyDocument = searcher.doc(addr).map_err(|e| {
            Error::engine(
                format!(
                    "cannot read a stored document in {}",
                    opts.index_dir.display()
                ),
                e,
            )
        })?;
        let mut hit = compiler.build_hit(&doc, opts.offset + i + 1, score, &highlighter, opts);
        if opts.explain {
            hit.explanation = Some(compiler.explain(&stats, addr, score));
        }
        hit.cluster = cluster_of(searcher, addr).map(|c| format!("{c:016x}"));
        hit.similar_count = story.count.saturating_sub(1);
        if opts.copy_paths {
            hit.similar = story.members.iter().map(|r| paths.path(r.2)).collect();
        }
        hits.push(hit);
    }
    timings.hits_us = micros(phase);
    let summary = Summary {
        query: opts.query.clone(),
        total_hits: total as u64,
        stories,
        returned: hits.len(),
        offset: opts.offset,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
    };
    Ok(SearchResults {
        hits,
        facets: facet_counts,
        summary,
        timings,
        _searcher: open.searcher.clone(),
    })
}

/// Terms a more-like-this query keeps: enough to pin a story down, few
/// enough to stay a fast query.
const SIMILAR_TERMS: usize = 25;

/// What `newsidx similar` found for one article.
#[derive(Debug, Clone)]
pub struct Similar {
    /// The article's path.
    pub path: String,
    /// Other copies of its story (its cluster), best first.
    pub same_story: SearchResults,
    /// Other stories most like it, collapsed by story.
    pub related: SearchResults,
}

/// Lists the articles most like one in the index, given by path or id: its
/// cluster first, then a more-like-this ranking. The ranking is an OR query
/// of the article's most distinctive words (term frequency in the article
/// times inverse document frequency in the index), run through [`search`],
/// so it has snippets, filters and paging like any search.
///
/// # Errors
///
/// [`Error::Usage`] when no article or several match `target`, and the
/// errors of [`search`].
pub fn similar(mut opts: SearchOptions, target: &str) -> Result<Similar> {
    let open = IndexDir::new(&opts.index_dir).open_for_search(&opts.schema)?;
    let searcher = &open.searcher;
    let f = opts.schema.fields;
    let engine = |e| Error::engine(format!("cannot read {}", opts.index_dir.display()), e);
    let addr = find_document(searcher, f.path, target)?;
    let doc: TantivyDocument = searcher.doc(addr).map_err(engine)?;
    let path = doc
        .get_first(f.path)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let cluster = cluster_of(searcher, addr);

    let mut analyzer = open
        .index
        .tokenizer_for_field(f.body)
        .unwrap_or_else(|_| TextAnalyzer::from(RawTokenizer::default()));
    let mut tf: HashMap<String, u32> = HashMap::new();
    for value in doc.get_all(f.title).chain(doc.get_all(f.body)) {
        let Some(text) = value.as_str() else { continue };
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            // Numbers and two-letter words say little about a story.
            if t.text.len() > 2 && !t.text.bytes().all(|b| b.is_ascii_digit()) {
                *tf.entry(t.text.clone()).or_default() += 1;
            }
        }
    }
    let n = searcher.num_docs().max(1) as f32;
    let mut weighted: Vec<(f32, String)> = Vec::new();
    for (term, count) in tf {
        let df = searcher
            .doc_freq(&Term::from_field_text(f.body, &term))
            .map_err(engine)?;
        // A word no other article has finds nothing else.
        if df >= 2 {
            weighted.push((count as f32 * (n / df as f32).ln(), term));
        }
    }
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let words: Vec<String> = weighted
        .into_iter()
        .take(SIMILAR_TERMS)
        .map(|(_, t)| format!("={t}"))
        .collect();
    opts.query = if words.is_empty() {
        "*".to_owned()
    } else {
        words.join(" ")
    };
    opts.conjunction = false;
    drop(open);

    let mut same = opts.clone();
    same.collapse = false;
    same.cluster = cluster;
    same.offset = 0;
    let mut same_story = search(&same)?;
    same_story.hits.retain(|h| h.path != path);
    same_story.summary.total_hits = same_story.summary.total_hits.saturating_sub(1);
    same_story.summary.returned = same_story.hits.len();
    for (i, h) in same_story.hits.iter_mut().enumerate() {
        h.rank = i + 1;
    }

    let mut others = opts;
    others.collapse = true;
    others.exclude_cluster = cluster;
    let related = search(&others)?;
    Ok(Similar {
        path,
        same_story,
        related,
    })
}

/// The document a user names by path (as given, or resolved against the
/// current directory) or by id (the path under the ingested folder, as
/// search results show it).
fn find_document(
    searcher: &tantivy::Searcher,
    path_field: Field,
    target: &str,
) -> Result<DocAddress> {
    let mut keys = vec![target.to_owned()];
    if let Ok(abs) = std::fs::canonicalize(target) {
        keys.push(abs.to_string_lossy().into_owned());
    }
    for key in &keys {
        let term = Term::from_field_text(path_field, key);
        let hits = searcher
            .search(
                &TermQuery::new(term, IndexRecordOption::Basic),
                &tantivy::collector::DocSetCollector,
            )
            .map_err(|e| Error::engine("cannot look up a path", e))?;
        if let Some(addr) = hits.into_iter().min() {
            return Ok(addr);
        }
    }
    // An id: a path ending in `/target`.
    let suffix = format!("/{}", target.trim_start_matches("./"));
    let mut found = Vec::new();
    for (seg, reader) in searcher.segment_readers().iter().enumerate() {
        let Ok(Some(col)) = reader.fast_fields().str(FieldName::Path.as_str()) else {
            continue;
        };
        let mut stream = col
            .dictionary()
            .stream()
            .map_err(|e| Error::engine("cannot read the paths", tantivy::TantivyError::from(e)))?;
        let mut ords = Vec::new();
        while stream.advance() {
            if stream.key().ends_with(suffix.as_bytes()) {
                ords.push(stream.term_ord());
            }
        }
        if ords.is_empty() {
            continue;
        }
        let alive = reader.alive_bitset();
        for doc in 0..reader.max_doc() {
            if alive.is_none_or(|a| a.is_alive(doc))
                && col.term_ords(doc).any(|o| ords.contains(&o))
            {
                found.push(DocAddress::new(seg as SegmentOrdinal, doc));
            }
        }
    }
    match found.len() {
        1 => Ok(found[0]),
        0 => Err(Error::Usage(format!(
            "no article {target:?} in the index; give a path or an id as search results show it"
        ))),
        n => Err(Error::Usage(format!(
            "{n} articles have the id {target:?}; give the full path"
        ))),
    }
}

/// A leaf compiled for one field.
struct FieldQuery {
    query: Box<dyn Query>,
    pattern: Pattern,
    /// The index terms the leaf expanded to, with their relative weights.
    terms: Vec<(String, Score)>,
    /// When `query` is a union of term queries: those, boosted.
    parts: Option<Vec<Box<dyn Query>>>,
}

/// One field's part of one query leaf, kept to explain scores by.
struct ExplainPart {
    label: String,
    query: Box<dyn Query>,
    field: Field,
    weight: Score,
    terms: Vec<(String, Score)>,
}

/// How a leaf reads in an explanation: `"peace talks"~2`, `neutral*`.
fn leaf_text(kind: &LeafKind) -> String {
    match kind {
        LeafKind::Word { text, exact: false } => text.clone(),
        LeafKind::Word { text, exact: true } => format!("={text}"),
        LeafKind::Prefix(p) => format!("{p}*"),
        LeafKind::Fuzzy { text, distance } => format!("{text}~{distance}"),
        LeafKind::Phrase { text, slop: 0 } => format!("\"{text}\""),
        LeafKind::Phrase { text, slop } => format!("\"{text}\"~{slop}"),
        LeafKind::Dates { .. } => "date range".to_owned(),
    }
}

/// Turns the query tree into tantivy queries and records what to highlight.
struct Compiler<'a> {
    schema: &'a NewsSchema,
    index: &'a Index,
    searcher: &'a tantivy::Searcher,
    sparse: &'a Sparse,
    defaults: Vec<(FieldName, Score)>,
    analyzers: HashMap<Field, TextAnalyzer>,
    stemmer: TextAnalyzer,
    stems: HashMap<String, String>,
    rules: Vec<Rule>,
    explain_parts: Vec<ExplainPart>,
}

/// The snippet label of a field, when snippets are cut from it.
fn label(name: FieldName) -> Option<&'static str> {
    match name {
        FieldName::Title => Some("title"),
        FieldName::Body => Some("body"),
        FieldName::Captions => Some("caption"),
        _ => None,
    }
}

impl<'a> Compiler<'a> {
    fn new(
        schema: &'a NewsSchema,
        index: &'a Index,
        searcher: &'a tantivy::Searcher,
        sparse: &'a Sparse,
        scope: Option<&[FieldName]>,
    ) -> Compiler<'a> {
        let defaults = match scope {
            Some(fields) => fields
                .iter()
                .map(|f| {
                    (
                        *f,
                        schema
                            .default_fields
                            .iter()
                            .find(|(d, _)| d == f)
                            .map_or(1.0, |(_, b)| *b),
                    )
                })
                .collect(),
            None => schema.default_fields.clone(),
        };
        Compiler {
            schema,
            index,
            searcher,
            sparse,
            defaults,
            analyzers: HashMap::new(),
            stemmer: english_stemmer(),
            stems: HashMap::new(),
            rules: Vec::new(),
            explain_parts: Vec::new(),
        }
    }

    fn analyze(&mut self, field: Field, text: &str) -> Vec<String> {
        let index = self.index;
        let analyzer = self.analyzers.entry(field).or_insert_with(|| {
            index
                .tokenizer_for_field(field)
                .unwrap_or_else(|_| TextAnalyzer::from(RawTokenizer::default()))
        });
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            out.push(t.text.clone());
        }
        out
    }

    fn stem(&mut self, word: &str) -> String {
        stem_cached(&mut self.stemmer, &mut self.stems, word).to_owned()
    }

    fn compile(&mut self, node: &Node, negated: bool) -> Result<Option<Box<dyn Query>>> {
        Ok(match node {
            Node::All => Some(Box::new(AllQuery)),
            Node::Boost(inner, boost) => self.compile(inner, negated)?.map(|q| boosted(q, *boost)),
            Node::Leaf(leaf) => self.leaf(leaf, negated)?,
            Node::Bool(clauses) => {
                let mut subs = Vec::new();
                let mut positive = false;
                for (occur, n) in clauses {
                    let q = self.compile(n, negated ^ (*occur == Occur::MustNot))?;
                    if let Some(q) = q {
                        let occur = match occur {
                            Occur::Must => TOccur::Must,
                            Occur::Should => TOccur::Should,
                            Occur::MustNot => TOccur::MustNot,
                        };
                        positive |= occur != TOccur::MustNot;
                        subs.push((occur, q));
                    }
                }
                if subs.is_empty() {
                    None
                } else {
                    if !positive {
                        // `-war` alone: everything except war.
                        subs.push((TOccur::Must, Box::new(AllQuery)));
                    }
                    Some(Box::new(BooleanQuery::new(subs)))
                }
            }
        })
    }

    fn targets(&self, leaf: &Leaf) -> Result<Vec<(FieldSpec, Score)>> {
        match &leaf.field {
            None => Ok(self
                .defaults
                .iter()
                .map(|(f, b)| (self.schema.spec(*f).clone(), *b))
                .collect()),
            Some(name) => {
                let spec = self
                    .schema
                    .resolve(name)
                    .ok_or_else(|| Error::Usage(format!("unknown field '{name}'")))?;
                if !spec.indexed {
                    return Err(Error::Usage(format!(
                        "field '{name}' is not indexed, so it cannot be searched"
                    )));
                }
                Ok(vec![(spec.clone(), 1.0)])
            }
        }
    }

    fn leaf(&mut self, leaf: &Leaf, negated: bool) -> Result<Option<Box<dyn Query>>> {
        if let LeafKind::Dates { from, to } = &leaf.kind {
            return Ok(Some(date_query(self.schema.fields.date, *from, *to)));
        }
        let mut per_field: Vec<(TOccur, Box<dyn Query>)> = Vec::new();
        // The same union without a level per field, when every field's part
        // is a union of term queries: a union of unions did the work of
        // gathering each document twice (13-17% of the instructions of a
        // one- or two-word search at `--scale 10`). Scores are the same
        // sums, added in another order.
        let mut flat: Option<Vec<(TOccur, Box<dyn Query>)>> = Some(Vec::new());
        let mut highlight: Option<(Vec<&'static str>, Pattern)> = None;
        let leaf_boost = leaf.boost.unwrap_or(1.0);
        for (spec, boost) in self.targets(leaf)? {
            let Some(mut fq) = self.field_query(&spec, &leaf.kind)? else {
                continue;
            };
            fq.query = self.sparse.wrap(spec.field, fq.query);
            match (&mut flat, fq.parts.take()) {
                (Some(all), Some(parts)) => all.extend(parts.into_iter().map(|q| {
                    (
                        TOccur::Should,
                        boosted(self.sparse.wrap(spec.field, q), boost),
                    )
                })),
                _ => flat = None,
            }
            if !negated {
                self.explain_parts.push(ExplainPart {
                    label: format!("{}:{}", spec.name.as_str(), leaf_text(&leaf.kind)),
                    query: boosted(fq.query.box_clone(), boost * leaf_boost),
                    field: spec.field,
                    weight: boost * leaf_boost,
                    terms: fq.terms.clone(),
                });
            }
            per_field.push((TOccur::Should, boosted(fq.query, boost)));
            if let Some(l) = label(spec.name)
                && !negated
            {
                let entry = highlight.get_or_insert_with(|| (Vec::new(), fq.pattern.clone()));
                entry.0.push(l);
                merge_patterns(&mut entry.1, fq.pattern);
            }
        }
        if let Some((fields, pattern)) = highlight {
            self.rules.push(Rule { fields, pattern });
        }
        let per_field = match flat {
            // A leaf no term matches must still match nothing, not vanish.
            Some(flat) if !flat.is_empty() => flat,
            _ => per_field,
        };
        let q: Option<Box<dyn Query>> = match per_field.len() {
            0 => None,
            1 => per_field.into_iter().next().map(|(_, q)| q),
            _ => Some(Box::new(BooleanQuery::new(per_field))),
        };
        Ok(q.map(|q| match leaf.boost {
            Some(b) => boosted(q, b),
            None => q,
        }))
    }

    /// The query for one leaf in one field, and what it highlights.
    fn field_query(&mut self, spec: &FieldSpec, kind: &LeafKind) -> Result<Option<FieldQuery>> {
        let field = spec.field;
        let positions = spec.record == Some(Record::Position);
        let is_words = spec.ty == FieldType::Text && spec.tokenizer == Some(TokenizerName::News);
        let freqs = if spec.record == Some(Record::Basic) || spec.ty == FieldType::String {
            IndexRecordOption::Basic
        } else {
            IndexRecordOption::WithFreqs
        };
        let term_query = |t: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, t), freqs))
        };
        let (text, exact) = match kind {
            LeafKind::Word { text, exact } => (text.as_str(), *exact),
            LeafKind::Phrase { text, .. }
            | LeafKind::Prefix(text)
            | LeafKind::Fuzzy { text, .. } => (text.as_str(), true),
            LeafKind::Dates { .. } => return Ok(None),
        };
        let tokens = self.analyze(field, text);
        if tokens.is_empty() {
            return Ok(None);
        }
        if tokens.len() > 1 && !matches!(kind, LeafKind::Prefix(_)) {
            // `U.S.` or a quoted phrase: the words in order.
            let slop = if let LeafKind::Phrase { slop, .. } = kind {
                *slop
            } else {
                0
            };
            if slop > 0 && repeats(&tokens) > MAX_SLOPPY_REPEATS {
                return Err(Error::Usage(format!(
                    "the phrase \"{text}\"~{slop} repeats words more than \
                     {MAX_SLOPPY_REPEATS} times; with a slop that takes the engine \
                     minutes: drop the repeats or the slop"
                )));
            }
            let pattern = Pattern::Phrase(tokens.clone(), slop);
            let q: Box<dyn Query> = if positions {
                let terms = tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i, Term::from_field_text(field, t)))
                    .collect();
                Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop))
            } else {
                Box::new(BooleanQuery::new(
                    tokens
                        .iter()
                        .map(|t| (TOccur::Must, term_query(t)))
                        .collect(),
                ))
            };
            return Ok(Some(FieldQuery {
                query: q,
                pattern,
                terms: Vec::new(),
                parts: None,
            }));
        }
        let last = tokens.last().cloned().unwrap_or_default();
        let weighted: Vec<(String, Score)> = match kind {
            LeafKind::Prefix(_) if tokens.len() > 1 => {
                let terms = tokens
                    .iter()
                    .map(|t| Term::from_field_text(field, t))
                    .collect();
                let q: Box<dyn Query> = if positions {
                    Box::new(PhrasePrefixQuery::new(terms))
                } else {
                    Box::new(EmptyQuery)
                };
                return Ok(Some(FieldQuery {
                    query: q,
                    pattern: Pattern::Prefix(last),
                    terms: Vec::new(),
                    parts: None,
                }));
            }
            LeafKind::Prefix(_) => {
                let found = self.expand(
                    field,
                    &last,
                    |t| t.starts_with(last.as_str()),
                    MAX_EXPANSIONS + 1,
                )?;
                if found.len() > MAX_EXPANSIONS {
                    let q = RegexQuery::from_pattern(&format!("{}.*", regex_escape(&last)), field)
                        .map_err(|e| Error::engine("cannot build a prefix query", e))?;
                    return Ok(Some(FieldQuery {
                        query: Box::new(q),
                        pattern: Pattern::Prefix(last),
                        terms: Vec::new(),
                        parts: None,
                    }));
                }
                found.into_iter().map(|t| (t, 1.0)).collect()
            }
            LeafKind::Fuzzy { distance, .. } => {
                let found = self.fuzzy_terms(field, &last, *distance)?;
                found
                    .into_iter()
                    .map(|t| {
                        let w = if t == last { 1.0 } else { VARIANT_BOOST };
                        (t, w)
                    })
                    .collect()
            }
            _ if exact || !is_words => vec![(last, 1.0)],
            _ => {
                let stem = self.stem(&last);
                let prefix = expansion_prefix(&last, &stem);
                let (stemmer, stems) = (&mut self.stemmer, &mut self.stems);
                let mut variants = Vec::new();
                if !prefix.is_empty() {
                    let mut same_stem = |t: &str| stem_cached(stemmer, stems, t) == stem;
                    variants = expand_terms(
                        self.searcher,
                        self.sparse,
                        field,
                        prefix,
                        &mut same_stem,
                        MAX_EXPANSIONS,
                    )?;
                }
                variants.retain(|v| *v != last);
                std::iter::once((last, 1.0))
                    .chain(variants.into_iter().map(|v| (v, VARIANT_BOOST)))
                    .collect()
            }
        };
        let parts: Vec<Box<dyn Query>> = weighted
            .iter()
            .map(|(t, w)| boosted(term_query(t), *w))
            .collect();
        let query: Box<dyn Query> = match parts.as_slice() {
            [] => Box::new(EmptyQuery),
            [one] => one.box_clone(),
            many => Box::new(BooleanQuery::new(
                many.iter()
                    .map(|q| (TOccur::Should, q.box_clone()))
                    .collect(),
            )),
        };
        let pattern = Pattern::Terms(weighted.iter().map(|(t, _)| t.clone()).collect());
        Ok(Some(FieldQuery {
            query,
            pattern,
            terms: weighted,
            parts: Some(parts),
        }))
    }

    fn expand(
        &self,
        field: Field,
        prefix: &str,
        mut keep: impl FnMut(&str) -> bool,
        cap: usize,
    ) -> Result<Vec<String>> {
        expand_terms(self.searcher, self.sparse, field, prefix, &mut keep, cap)
    }

    fn fuzzy_terms(&self, field: Field, word: &str, distance: u8) -> Result<Vec<String>> {
        let query = FuzzyTermQuery::new(Term::from_field_text(field, word), distance, true);
        let mut found: Vec<String> = Vec::new();
        for reader in self.searcher.segment_readers() {
            if !self.sparse.has(reader, field) {
                continue;
            }
            let automaton = query
                .automaton()
                .map_err(|e| Error::engine("cannot build a fuzzy query", e))?;
            let inverted = reader
                .inverted_index(field)
                .map_err(|e| Error::engine("cannot read the term index", e))?;
            let mut stream = inverted
                .terms()
                .search(automaton)
                .into_stream()
                .map_err(|e| Error::io("term dictionary", e))?;
            while stream.advance() {
                if let Ok(t) = std::str::from_utf8(stream.key())
                    && !found.iter().any(|f| f == t)
                {
                    found.push(t.to_owned());
                    if found.len() >= MAX_EXPANSIONS {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }

    fn filters(&mut self, opts: &SearchOptions) -> Result<Vec<Box<dyn Query>>> {
        let f = self.schema.fields;
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        if opts.since.is_some() || opts.until.is_some() {
            out.push(date_query(f.date, opts.since, opts.until));
        }
        if let Some(c) = opts.cluster {
            out.push(cluster_query(f.cluster, c));
        }
        if let Some(agency) = &opts.agency {
            let tokens = self.analyze(f.agency, agency);
            let Some(t) = tokens.first() else {
                return Err(Error::Usage("--agency needs a name".into()));
            };
            out.push(Box::new(TermQuery::new(
                Term::from_field_text(f.agency, t),
                IndexRecordOption::Basic,
            )));
        }
        if let Some(place) = &opts.dateline {
            let tokens = self.analyze(f.dateline, place);
            if tokens.is_empty() {
                return Err(Error::Usage("--dateline needs a place name".into()));
            }
            let q: Box<dyn Query> = if tokens.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(f.dateline, &tokens[0]),
                    IndexRecordOption::Basic,
                ))
            } else {
                Box::new(PhraseQuery::new(
                    tokens
                        .iter()
                        .map(|t| Term::from_field_text(f.dateline, t))
                        .collect(),
                ))
            };
            out.push(q);
        }
        Ok(out)
    }

    fn build_hit(
        &mut self,
        doc: &TantivyDocument,
        rank: usize,
        score: Score,
        hl: &Highlighter,
        opts: &SearchOptions,
    ) -> Hit {
        let f = self.schema.fields;
        let first = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let all = |field: Field| {
            doc.get_all(field)
                .filter_map(|v| v.as_str())
                .collect::<Vec<&str>>()
        };
        let date = doc
            .get_first(f.date)
            .and_then(|v| v.as_datetime())
            .and_then(date_from_tantivy);

        let mut sources = Vec::new();
        let mut tokens = Tokens::default();
        for (name, field, weight) in [
            (FieldName::Body, f.body, 3),
            (FieldName::Captions, f.captions, 2),
            (FieldName::Title, f.title, 1),
        ] {
            let Some(label) = label(name) else { continue };
            for text in all(field) {
                tokens.clear();
                if !hl.is_empty() {
                    self.tokenize(field, text, &mut tokens);
                }
                let spans = hl.spans(label, &tokens);
                sources.push(Source {
                    field: label,
                    text,
                    spans,
                    weight,
                });
            }
        }
        let fragments = snippet::fragments(&sources, opts.fragments, opts.snippet_chars);
        Hit {
            rank,
            score,
            id: first(f.id).unwrap_or_default(),
            path: first(f.path).unwrap_or_default(),
            title: first(f.title),
            date: date.map(|d| d.to_string()),
            dateline: first(f.dateline),
            agency: first(f.agency),
            contributors: all(f.contributors).into_iter().map(str::to_owned).collect(),
            snippet: fragments.first().cloned(),
            fragments,
            explanation: None,
            cluster: None,
            similar_count: 0,
            similar: Vec::new(),
        }
    }

    /// What each part of the query contributed to a hit's score: one entry
    /// per matching field and query part, with its terms' shares when the
    /// part expanded to several terms (stemmed variants, prefix, fuzzy).
    fn explain(&self, stats: &Statistics, addr: DocAddress, score: Score) -> serde_json::Value {
        let searcher = self.searcher;
        let reader = searcher.segment_reader(addr.segment_ord);
        let value = |q: &dyn Query| {
            q.weight(EnableScoring::enabled_from_statistics_provider(
                stats, searcher,
            ))
            .and_then(|w| w.explain(reader, addr.doc_id))
            .ok()
            .map(|e| e.value())
            .filter(|v| *v > 0.0)
        };
        let mut parts = Vec::new();
        for part in &self.explain_parts {
            let Some(total) = value(part.query.as_ref()) else {
                continue;
            };
            let mut terms: Vec<(String, Score)> = Vec::new();
            if part.terms.len() > 1 {
                for (term, w) in &part.terms {
                    let q = boosted(
                        Box::new(TermQuery::new(
                            Term::from_field_text(part.field, term),
                            IndexRecordOption::WithFreqs,
                        )),
                        w * part.weight,
                    );
                    if let Some(v) = value(q.as_ref()) {
                        terms.push((term.clone(), v));
                    }
                }
                terms.sort_by(|a, b| b.1.total_cmp(&a.1));
            }
            parts.push(serde_json::json!({ "query": part.label, "score": total, "terms": terms }));
        }
        parts.sort_by(|a, b| {
            b["score"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&a["score"].as_f64().unwrap_or(0.0))
        });
        serde_json::json!({ "score": score, "parts": parts })
    }

    fn tokenize(&mut self, field: Field, text: &str, out: &mut Tokens) {
        let index = self.index;
        let analyzer = self.analyzers.entry(field).or_insert_with(|| {
            index
                .tokenizer_for_field(field)
                .unwrap_or_else(|_| TextAnalyzer::from(RawTokenizer::default()))
        });
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            out.push(t.offset_from..t.offset_to, &t.text);
        }
    }
}

/// Stems one whole word (the query's words are already tokenized).
fn english_stemmer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The English stem of a word, computed once per word per search: the same
/// candidate terms come up in every default field's dictionary.
fn stem_cached<'c>(
    stemmer: &mut TextAnalyzer,
    cache: &'c mut HashMap<String, String>,
    word: &str,
) -> &'c str {
    if !cache.contains_key(word) {
        let mut stream = stemmer.token_stream(word);
        let stem = stream
            .next()
            .map_or_else(|| word.to_owned(), |t| t.text.clone());
        cache.insert(word.to_owned(), stem);
    }
    cache.get(word).map_or("", String::as_str)
}

/// Index terms of `field` that start with `prefix` and pass `keep`, across
/// all segments, up to `cap`.
fn expand_terms(
    searcher: &tantivy::Searcher,
    sparse: &Sparse,
    field: Field,
    prefix: &str,
    keep: &mut dyn FnMut(&str) -> bool,
    cap: usize,
) -> Result<Vec<String>> {
    let mut found: Vec<String> = Vec::new();
    for reader in searcher.segment_readers() {
        if !sparse.has(reader, field) {
            continue;
        }
        let inverted = reader
            .inverted_index(field)
            .map_err(|e| Error::engine("cannot read the term index", e))?;
        let mut stream = inverted
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .into_stream()
            .map_err(|e| Error::io("term dictionary", e))?;
        while stream.advance() {
            let key = stream.key();
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let Ok(t) = std::str::from_utf8(key) else {
                continue;
            };
            if keep(t) && !found.iter().any(|f| f == t) {
                found.push(t.to_owned());
                if found.len() >= cap {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

/// The shortest prefix every word with the same stem as `word` shares:
/// the common prefix of the word and its stem, less one character when
/// long enough, because English stemming rewrites endings (`happy` →
/// `happi`, `hoping` → `hope`, `flexibility` → `flexibl`). A stem ends in
/// a letter the stemmer wrote only when that letter is an `e`, an `i`, an
/// `l` or a `y`; otherwise it is a prefix of every word it came from
/// (`banking` → `bank`, `relational` → `relat`), and a stem that ends in
/// anything else and begins the word is the prefix itself.
/// Each term under the prefix is stemmed to compare: in the corpus, 34
/// words begin with `bank` and 112 with `ban`.
fn expansion_prefix<'w>(word: &'w str, stem: &str) -> &'w str {
    let common = word
        .char_indices()
        .zip(stem.chars())
        .take_while(|((_, a), b)| a == b)
        .count();
    let whole = common == stem.chars().count() && !stem.ends_with(['e', 'i', 'l', 'y']);
    let keep = if common > 3 && !whole {
        common - 1
    } else {
        common
    };
    match word.char_indices().nth(keep) {
        Some((i, _)) => &word[..i],
        None => word,
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn boosted(q: Box<dyn Query>, boost: Score) -> Box<dyn Query> {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

fn merge_patterns(into: &mut Pattern, other: Pattern) {
    if let (Pattern::Terms(a), Pattern::Terms(b)) = (into, other) {
        a.merge(b);
    }
}

/// Articles dated `from..=to` (either end open). Bounds beyond
/// [`Date::INDEXABLE`] are clamped to it, since no date outside it is
/// stored and tantivy's timestamps overflow there (`date:3000` matched
/// dates from 1830, `--since 1600` overflowed).
fn date_query(field: Field, from: Option<Date>, to: Option<Date>) -> Box<dyn Query> {
    let (first, last) = (*Date::INDEXABLE.start(), *Date::INDEXABLE.end());
    if from.is_some_and(|f| f > last) || to.is_some_and(|t| t < first) {
        return Box::new(EmptyQuery);
    }
    let from = from.filter(|&f| f > first);
    let to = to.filter(|&t| t < last);
    let bound = |d: Option<Date>| match d {
        Some(d) => Bound::Included(Term::from_field_date_for_search(field, date_to_tantivy(d))),
        None => Bound::Unbounded,
    };
    if from.is_none() && to.is_none() {
        return Box::new(ExistsQuery::new(FieldName::Date.as_str().to_owned(), false));
    }
    Box::new(RangeQuery::new(bound(from), bound(to)))
}

/// A collected hit: sort key, score, address.
type Ranked = (i64, Score, DocAddress);

/// The date column a date sort reads; none for relevance.
fn sort_dates(reader: &SegmentReader, sort: Sort) -> tantivy::Result<Option<Column<DateTime>>> {
    Ok(match sort {
        Sort::Relevance => None,
        _ => Some(reader.fast_fields().date(FieldName::Date.as_str())?),
    })
}

/// The sort key of a document: 0 by relevance, else its date.
fn sort_key(dates: Option<&Column<DateTime>>, sort: Sort, doc: DocId) -> i64 {
    match dates {
        None => 0,
        Some(col) => date_key(col.first(doc), sort),
    }
}

/// The sort key of a document dated `date`.
fn date_key(date: Option<DateTime>, sort: Sort) -> i64 {
    match (date, sort) {
        (_, Sort::Relevance) => 0,
        // Undated documents sort last either way.
        (None, _) => i64::MIN,
        (Some(d), Sort::Newest) => d.into_timestamp_secs(),
        (Some(d), _) => -d.into_timestamp_secs(),
    }
}

/// Top-k by the sort key, then score.
struct TopCollector {
    k: usize,
    sort: Sort,
}

struct TopSegment {
    segment: SegmentOrdinal,
    k: usize,
    sort: Sort,
    dates: Option<Column<DateTime>>,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Entry>>,
}

/// Heap entry ordered by (key, score), and by doc id for a stable order.
#[derive(Clone, Copy)]
struct Entry {
    key: i64,
    score: Score,
    doc: DocId,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key
            .cmp(&other.key)
            .then(self.score.total_cmp(&other.score))
            .then(other.doc.cmp(&self.doc))
    }
}

impl Collector for TopCollector {
    type Fruit = Vec<Ranked>;
    type Child = TopSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopSegment> {
        let dates = sort_dates(reader, self.sort)?;
        Ok(TopSegment {
            segment,
            k: self.k,
            sort: self.sort,
            dates,
            heap: Default::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Ranked>>) -> tantivy::Result<Vec<Ranked>> {
        let mut all: Vec<Ranked> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
        all.truncate(self.k);
        Ok(all)
    }
}

impl SegmentCollector for TopSegment {
    type Fruit = Vec<Ranked>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let key = sort_key(self.dates.as_ref(), self.sort, doc);
        let entry = Entry { key, score, doc };
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(entry));
        } else if let Some(min) = self.heap.peek()
            && entry > min.0
        {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(entry));
        }
    }

    fn harvest(self) -> Vec<Ranked> {
        let segment = self.segment;
        self.heap
            .into_iter()
            .map(|e| (e.0.key, e.0.score, DocAddress::new(segment, e.0.doc)))
            .collect()
    }
}

/// Orders hits with equal key and score by path, so ties come out the same
/// way whatever the segment layout.
fn order_ties(paths: &mut PathReader<'_>, mut ranked: Vec<Ranked>) -> Vec<Ranked> {
    let has_ties = ranked
        .windows(2)
        .any(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1);
    if has_ties {
        let mut keyed: Vec<(Ranked, String)> =
            ranked.drain(..).map(|r| (r, paths.path(r.2))).collect();
        keyed.sort_by(|(a, pa), (b, pb)| rank_order(a, b).then(pa.cmp(pb)));
        ranked = keyed.into_iter().map(|(r, _)| r).collect();
    }
    ranked
}

/// Whether `ranked`, the best `k` hits, may have left out hits tied with
/// the last one of the first `end`: it is full, and its last hit ties with
/// that one.
fn tie_runs_past(ranked: &[Ranked], k: usize, end: usize) -> bool {
    let end = end.min(ranked.len());
    ranked.len() == k
        && end > 0
        && ranked
            .last()
            .is_some_and(|last| rank_order(last, &ranked[end - 1]).is_eq())
}

/// Best first: by sort key, then score.
fn rank_order(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then(b.1.total_cmp(&a.1))
}

/// Reads documents' paths from the fast column, opening each segment's
/// column once and reading each path once: a path is a lookup in the
/// column's dictionary (tens of thousands of instructions), and ordering
/// ties, listing copies and printing hits ask for the same ones.
struct PathReader<'s> {
    searcher: &'s tantivy::Searcher,
    columns: HashMap<SegmentOrdinal, Option<StrColumn>>,
    read: HashMap<DocAddress, String>,
}

impl<'s> PathReader<'s> {
    fn new(searcher: &'s tantivy::Searcher) -> Self {
        PathReader {
            searcher,
            columns: HashMap::new(),
            read: HashMap::new(),
        }
    }

    fn column(&mut self, segment: SegmentOrdinal) -> Option<&StrColumn> {
        let searcher = self.searcher;
        self.columns
            .entry(segment)
            .or_insert_with(|| {
                searcher
                    .segment_reader(segment)
                    .fast_fields()
                    .str(FieldName::Path.as_str())
                    .ok()
                    .flatten()
            })
            .as_ref()
    }

    /// The path's ordinal in its segment's column: within one segment,
    /// ordinals sort as the paths do.
    fn ord(&mut self, addr: DocAddress) -> Option<u64> {
        self.column(addr.segment_ord)?.term_ords(addr.doc_id).next()
    }

    fn path(&mut self, addr: DocAddress) -> String {
        if let Some(p) = self.read.get(&addr) {
            return p.clone();
        }
        let mut s = String::new();
        if let Some(ord) = self.ord(addr)
            && let Some(col) = self.column(addr.segment_ord)
        {
            let _ = col.ord_to_str(ord, &mut s);
        }
        self.read.insert(addr, s.clone());
        s
    }
}

fn cluster_of(searcher: &tantivy::Searcher, addr: DocAddress) -> Option<u64> {
    searcher
        .segment_reader(addr.segment_ord)
        .fast_fields()
        .u64(FieldName::Cluster.as_str())
        .ok()?
        .first(addr.doc_id)
}

/// Documents of one cluster, by its fast column.
fn cluster_query(field: Field, cluster: u64) -> Box<dyn Query> {
    let term = Term::from_field_u64(field, cluster);
    Box::new(RangeQuery::new(
        Bound::Included(term.clone()),
        Bound::Included(term),
    ))
}

/// Copies of a story past this many are counted, not listed.
const MAX_MEMBERS: usize = 100;

/// One story of a collapsed result list.
struct Story {
    /// Its best-ranked copy.
    best: Ranked,
    /// Matching copies, the best one included.
    count: u64,
    /// The other matching copies, best first (at most [`MAX_MEMBERS`]).
    members: Vec<Ranked>,
}

/// The first pass of a collapsed search: the best `k` stories, each by its
/// best-ranked copy, and the number of matching copies of every story (the
/// exact number of stories needs them all). Only the counts grow with the
/// matches: each segment lists its matches' clusters, 8 bytes a match, and
/// one map sized once counts them all, which costs less than growing and
/// merging a map per segment. The copies of the stories shown are
/// gathered by a second pass ([`MemberCollector`]), so that a query
/// matching most of a million-article archive stays fast and small.
struct StoryCollector {
    sort: Sort,
    k: usize,
    /// Matches each segment records with their ranks (see [`RECORD_CAP`]).
    record_cap: usize,
}

type StoryMap = HashMap<u64, Story, crate::cluster::IdBuildHasher>;
type BestMap = HashMap<u64, Ranked, crate::cluster::IdBuildHasher>;
type CountMap = HashMap<u64, u32, crate::cluster::IdBuildHasher>;

/// Orders ranked documents best first, ties by address: the order in which
/// stories are kept and their best copies chosen.
fn by_rank_then_address(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    rank_order(a, b).then(a.2.cmp(&b.2))
}

/// The `k` best stories seen so far, by their best copy. Holds at most
/// `2k`; when full, keeps the best `k` and from then on ignores documents
/// ranked below the `k`-th, since a story whose best copy ranks there
/// cannot be among the first `k`.
struct TopStories {
    k: usize,
    best: BestMap,
    floor: Option<Ranked>,
}

impl TopStories {
    fn new(k: usize) -> TopStories {
        TopStories {
            k: k.max(1),
            best: BestMap::default(),
            floor: None,
        }
    }

    fn offer(&mut self, cluster: u64, r: Ranked) {
        if let Some(b) = self.best.get_mut(&cluster) {
            if by_rank_then_address(&r, b).is_lt() {
                *b = r;
            }
            return;
        }
        if self
            .floor
            .is_some_and(|f| by_rank_then_address(&r, &f).is_gt())
        {
            return;
        }
        self.best.insert(cluster, r);
        if self.best.len() >= 2 * self.k {
            self.keep_best();
        }
    }

    /// Drops all but the best `k` stories and raises the floor to the
    /// `k`-th.
    fn keep_best(&mut self) {
        let mut all: Vec<(u64, Ranked)> = self.best.drain().collect();
        if all.len() > self.k {
            all.select_nth_unstable_by(self.k - 1, |a, b| by_rank_then_address(&a.1, &b.1));
            all.truncate(self.k);
            self.floor = all.iter().map(|(_, r)| *r).max_by(by_rank_then_address);
        }
        self.best.extend(all);
    }

    fn into_best(mut self) -> BestMap {
        self.keep_best();
        self.best
    }
}

/// What both passes of a collapsed search read of a segment: how a
/// document ranks and which story it belongs to.
struct StoryColumns {
    segment: SegmentOrdinal,
    sort: Sort,
    dates: Option<Column<DateTime>>,
    clusters: Column<u64>,
}

impl StoryColumns {
    fn new(segment: SegmentOrdinal, reader: &SegmentReader, sort: Sort) -> tantivy::Result<Self> {
        Ok(StoryColumns {
            segment,
            sort,
            dates: sort_dates(reader, sort)?,
            clusters: reader.fast_fields().u64(FieldName::Cluster.as_str())?,
        })
    }

    /// Empties `batch`, handing each match's story and rank to `each`. A
    /// document without a cluster (none is) stands alone.
    fn resolve(&self, batch: &mut Batch, mut each: impl FnMut(u64, Ranked)) {
        let n = batch.len;
        batch.len = 0;
        let docs = &batch.docs[..n];
        let mut clusters = [None; BATCH];
        self.clusters.first_vals(docs, &mut clusters[..n]);
        let mut dates = [None; BATCH];
        if let Some(column) = &self.dates {
            column.first_vals(docs, &mut dates[..n]);
        }
        for i in 0..n {
            let doc = docs[i];
            let cluster = clusters[i].unwrap_or(u64::from(doc) ^ u64::from(self.segment) << 32);
            let key = match self.dates {
                Some(_) => date_key(dates[i], self.sort),
                None => 0,
            };
            each(
                cluster,
                (key, batch.scores[i], DocAddress::new(self.segment, doc)),
            );
        }
    }
}

/// Matches a collector holds back so that it reads their columns a batch
/// at a time. Read one document at a time, a column cost a cache miss per
/// match, each waited for between the scorer's steps; for a batch, the
/// misses overlap (a `--scale 10` search took 7% less).
struct Batch {
    docs: [DocId; BATCH],
    scores: [Score; BATCH],
    len: usize,
}

const BATCH: usize = 64;

impl Batch {
    fn new() -> Batch {
        Batch {
            docs: [0; BATCH],
            scores: [0.0; BATCH],
            len: 0,
        }
    }

    /// Holds a match; true when the batch is full.
    fn push(&mut self, doc: DocId, score: Score) -> bool {
        self.docs[self.len] = doc;
        self.scores[self.len] = score;
        self.len += 1;
        self.len == BATCH
    }
}

struct StorySegment {
    columns: StoryColumns,
    top: TopStories,
    /// The story of each match, in order.
    matched: Vec<u64>,
    /// The rank of each match, while there are at most `record_cap`.
    recorded: Option<Recorded>,
    record_cap: usize,
    batch: Batch,
}

/// The ranks of a segment's matches, in the order of its `matched`, in 8
/// bytes a match for relevance and 16 for a date sort rather than a
/// [`Ranked`]'s 24: the pages written are most of a frequent word's page
/// faults, and a fault costs more than the match.
struct Recorded {
    segment: SegmentOrdinal,
    hits: Vec<(DocId, Score)>,
    /// Sort keys, for date sorts only (a relevance key is always 0).
    keys: Vec<i64>,
}

impl Recorded {
    fn get(&self, i: usize) -> Option<Ranked> {
        let &(doc, score) = self.hits.get(i)?;
        let key = self.keys.get(i).copied().unwrap_or(0);
        Some((key, score, DocAddress::new(self.segment, doc)))
    }
}

impl StorySegment {
    fn flush(&mut self) {
        let StorySegment {
            columns,
            top,
            matched,
            recorded,
            record_cap,
            batch,
        } = self;
        let dated = columns.dates.is_some();
        columns.resolve(batch, |cluster, r| {
            matched.push(cluster);
            if let Some(all) = recorded {
                if all.hits.len() < *record_cap {
                    all.hits.push((r.2.doc_id, r.1));
                    if dated {
                        all.keys.push(r.0);
                    }
                } else {
                    *recorded = None;
                }
            }
            top.offer(cluster, r);
        });
    }
}

impl Collector for StoryCollector {
    type Fruit = (BestMap, CountMap, u64, Option<MemberMap>);
    type Child = StorySegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<StorySegment> {
        // Sized for every document: pages are touched only as matches
        // fill them, whereas growing by doubling copied and touched each
        // match again (a third of a frequent word's page faults).
        let docs = reader.max_doc() as usize;
        let columns = StoryColumns::new(segment, reader, self.sort)?;
        let recorded = docs.min(self.record_cap);
        let keys = if columns.dates.is_some() { recorded } else { 0 };
        Ok(StorySegment {
            columns,
            top: TopStories::new(self.k),
            matched: Vec::with_capacity(docs),
            recorded: Some(Recorded {
                segment,
                hits: Vec::with_capacity(recorded),
                keys: Vec::with_capacity(keys),
            }),
            record_cap: self.record_cap,
            batch: Batch::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<StorySegment as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<Self::Fruit> {
        // A story among the best k overall is among the best k of the
        // segment holding its best copy, so the segments' tops suffice.
        let mut top = TopStories::new(self.k);
        for (best, _, _) in &fruits {
            for (&cluster, &r) in best {
                top.offer(cluster, r);
            }
        }
        let top = top.into_best();
        // Copies are counted (and, when every segment recorded its
        // matches, gathered) for the stories kept only; the rest are only
        // counted as stories.
        let all_recorded = fruits.iter().all(|(_, _, recorded)| recorded.is_some());
        let mut counts: CountMap = top.keys().map(|&c| (c, 0)).collect();
        let mut copies = MemberMap::default();
        for (_, matched, recorded) in &fruits {
            for (i, cluster) in matched.iter().enumerate() {
                if let Some(n) = counts.get_mut(cluster) {
                    *n += 1;
                    if let (true, Some(r)) =
                        (all_recorded, recorded.as_ref().and_then(|rec| rec.get(i)))
                    {
                        copies.entry(*cluster).or_default().push(r);
                    }
                }
            }
        }
        copies.retain(|cluster, _| counts.get(cluster) > Some(&1));
        let stories = distinct(fruits.iter().map(|(_, m, _)| m.as_slice()));
        Ok((top, counts, stories, all_recorded.then_some(copies)))
    }
}

/// The number of distinct cluster ids. They are hashes, so their top
/// byte spreads them evenly over 256 buckets, and each bucket's set stays
/// in cache; one set of all of them (half a million at a million
/// articles) missed the cache on nearly every insert, and was a quarter of
/// such a search.
fn distinct<'a>(parts: impl Iterator<Item = &'a [u64]> + Clone) -> u64 {
    const BUCKETS: usize = 256;
    let n: usize = parts.clone().map(<[u64]>::len).sum();
    let set = |capacity| {
        std::collections::HashSet::with_capacity_and_hasher(
            capacity,
            crate::cluster::IdBuildHasher::default(),
        )
    };
    if n <= BUCKETS * 256 {
        let mut all = set(n);
        all.extend(parts.flatten().copied());
        return all.len() as u64;
    }
    let per_bucket = n / BUCKETS + n / (4 * BUCKETS) + 16;
    let mut buckets: Vec<Vec<u64>> = (0..BUCKETS)
        .map(|_| Vec::with_capacity(per_bucket))
        .collect();
    for &cluster in parts.flatten() {
        buckets[(cluster >> 56) as usize].push(cluster);
    }
    let mut one = set(per_bucket);
    let mut total = 0;
    for bucket in &buckets {
        one.clear();
        one.extend(bucket.iter().copied());
        total += one.len() as u64;
    }
    total
}

/// Matches a segment records with their ranks, so that a collapsed search
/// finds the copies of the stories it shows without a second pass; beyond
/// this (512 KiB of records, 1 MiB for a date sort), it keeps only their
/// stories and a second pass runs.
const RECORD_CAP: usize = 1 << 16;

impl SegmentCollector for StorySegment {
    type Fruit = (BestMap, Vec<u64>, Option<Recorded>);

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.batch.push(doc, score) {
            self.flush();
        }
    }

    fn harvest(mut self) -> Self::Fruit {
        self.flush();
        (self.top.into_best(), self.matched, self.recorded)
    }
}

/// The second pass of a collapsed search: every matching copy of the
/// stories in `wanted`.
struct MemberCollector {
    sort: Sort,
    wanted: std::collections::HashSet<u64, crate::cluster::IdBuildHasher>,
}

type MemberMap = HashMap<u64, Vec<Ranked>, crate::cluster::IdBuildHasher>;

struct MemberSegment {
    columns: StoryColumns,
    wanted: std::collections::HashSet<u64, crate::cluster::IdBuildHasher>,
    members: MemberMap,
    batch: Batch,
}

impl MemberSegment {
    fn flush(&mut self) {
        let MemberSegment {
            columns,
            wanted,
            members,
            batch,
        } = self;
        columns.resolve(batch, |cluster, r| {
            if wanted.contains(&cluster) {
                members.entry(cluster).or_default().push(r);
            }
        });
    }
}

impl Collector for MemberCollector {
    type Fruit = MemberMap;
    type Child = MemberSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<MemberSegment> {
        Ok(MemberSegment {
            columns: StoryColumns::new(segment, reader, self.sort)?,
            wanted: self.wanted.clone(),
            members: MemberMap::default(),
            batch: Batch::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<MemberMap>) -> tantivy::Result<MemberMap> {
        let mut all = MemberMap::default();
        for map in fruits {
            for (cluster, mut v) in map {
                all.entry(cluster).or_default().append(&mut v);
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for MemberSegment {
    type Fruit = MemberMap;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.batch.push(doc, score) {
            self.flush();
        }
    }

    fn harvest(mut self) -> MemberMap {
        self.flush();
        self.members
    }
}

/// The first pass of a collapsed search, and the second when needed: the
/// best `k` stories with their matching copies, the number of matches, the
/// facets and the number of stories matched. Segments record their matches
/// up to `record_cap` each; past that, a second pass finds the copies.
fn collapsed(
    searcher: &tantivy::Searcher,
    stats: &Statistics,
    query: &dyn Query,
    sort: Sort,
    k: usize,
    facets: FacetCollector,
    record_cap: usize,
) -> tantivy::Result<(StoryMap, usize, Vec<Facet>, u64)> {
    let ((top, counts, stories, copies), total, facet_counts) = searcher
        .search_with_statistics_provider(
            query,
            &(
                StoryCollector {
                    sort,
                    k,
                    record_cap,
                },
                Count,
                facets,
            ),
            stats,
        )?;
    let mut top: StoryMap = top
        .into_iter()
        .map(|(cluster, best)| {
            let count = counts.get(&cluster).map_or(1, |&n| u64::from(n));
            (
                cluster,
                Story {
                    best,
                    count,
                    members: Vec::new(),
                },
            )
        })
        .collect();
    if top.values().any(|s| s.count > 1) {
        // The first pass kept every match when there were few enough;
        // otherwise a second pass gathers the copies of the few
        // stories shown.
        let members = match copies {
            Some(copies) => copies,
            None => searcher.search_with_statistics_provider(
                query,
                &MemberCollector {
                    sort,
                    wanted: top.keys().copied().collect(),
                },
                stats,
            )?,
        };
        for (cluster, copies) in members {
            if let Some(story) = top.get_mut(&cluster) {
                for r in copies {
                    if r.2 != story.best.2 {
                        add_member(story, r);
                    }
                }
            }
        }
    }
    Ok((top, total, facet_counts, stories))
}

/// Adds a copy to a story, keeping the best one as `best`.
fn add_member(story: &mut Story, mut r: Ranked) {
    if by_rank_then_address(&r, &story.best).is_lt() {
        std::mem::swap(&mut r, &mut story.best);
    }
    if story.members.len() < MAX_MEMBERS {
        story.members.push(r);
    }
}

/// The best `k` stories, best first, each story's copies best first. The
/// stories that can be on `page` (positions in that order) are settled by
/// path: among a story's copies that rank equal (exact duplicates score the
/// same) the one with the smallest path stands for it, and stories that
/// rank equal are ordered by that path, like [`order_ties`]. A path is a
/// lookup in a dictionary, so only the stories ranked from the page's
/// first to its last, inclusive, are settled; the others are never shown,
/// and ranking them by path cannot move one onto the page.
fn top_stories(
    paths: &mut PathReader<'_>,
    stories: StoryMap,
    k: usize,
    page: std::ops::Range<usize>,
) -> Vec<Story> {
    let mut stories: Vec<Story> = stories.into_values().collect();
    let by_rank = |a: &Story, b: &Story| by_rank_then_address(&a.best, &b.best);
    if stories.len() > k {
        stories.select_nth_unstable_by(k, by_rank);
        stories.truncate(k);
    }
    stories.sort_by(by_rank);
    let end = page.end.min(stories.len());
    let window = stories.get(page.start).map(|s| s.best).zip(
        end.checked_sub(1)
            .filter(|&e| e >= page.start)
            .map(|e| stories[e].best),
    );
    let shown = |r: &Ranked| {
        window.is_some_and(|(first, last)| {
            !rank_order(r, &first).is_lt() && !rank_order(r, &last).is_gt()
        })
    };
    let from = stories.iter().position(|s| shown(&s.best)).unwrap_or(0);
    let to = stories
        .iter()
        .rposition(|s| shown(&s.best))
        .map_or(from, |i| i + 1);
    for (i, story) in stories.iter_mut().enumerate() {
        if (from..to).contains(&i) {
            settle_best_copy(paths, story);
        }
        story.members.sort_by(by_rank_then_address);
    }
    if from == to {
        return stories;
    }
    let bests: Vec<Ranked> = stories[from..to].iter().map(|s| s.best).collect();
    let order = order_ties(paths, bests);
    let mut by_addr: HashMap<DocAddress, Story> =
        stories.drain(from..to).map(|s| (s.best.2, s)).collect();
    let settled: Vec<Story> = order
        .into_iter()
        .filter_map(|r| by_addr.remove(&r.2))
        .collect();
    stories.splice(from..from, settled);
    stories
}

/// Makes the copy with the smallest path among those ranked equal to the
/// best stand for the story (its members are sorted afterwards).
fn settle_best_copy(paths: &mut PathReader<'_>, story: &mut Story) {
    let best = story.best;
    let tied: Vec<usize> = (0..story.members.len())
        .filter(|&i| rank_order(&story.members[i], &best).is_eq())
        .collect();
    if tied.is_empty() {
        return;
    }
    // Only the first candidate of each segment by ordinal can have the
    // smallest path, so only theirs are read.
    let candidates: Vec<(Option<usize>, DocAddress)> = std::iter::once((None, best.2))
        .chain(tied.iter().map(|&i| (Some(i), story.members[i].2)))
        .collect();
    let mut firsts: HashMap<SegmentOrdinal, (Option<u64>, Option<usize>)> = HashMap::new();
    for &(i, addr) in &candidates {
        let ord = paths.ord(addr);
        firsts
            .entry(addr.segment_ord)
            .and_modify(|f| {
                if ord < f.0 {
                    *f = (ord, i);
                }
            })
            .or_insert((ord, i));
    }
    let mut smallest = (paths.path(best.2), None);
    for &(i, addr) in &candidates[1..] {
        if firsts.get(&addr.segment_ord).is_some_and(|f| f.1 == i) {
            let p = paths.path(addr);
            if p < smallest.0 {
                smallest = (p, i);
            }
        }
    }
    if let (_, Some(i)) = smallest {
        std::mem::swap(&mut story.best, &mut story.members[i]);
    }
}

/// Counts matching documents per facet bucket.
#[derive(Clone)]
struct FacetCollector {
    kinds: Vec<FacetKind>,
}

enum FacetSource {
    Date(FacetKind, Column<DateTime>),
    Str(FacetKind, StrColumn, Vec<u64>),
}

struct FacetSegment {
    sources: Vec<FacetSource>,
    dates: Vec<HashMap<String, u64>>,
    missing: Vec<u64>,
}

impl Collector for FacetCollector {
    type Fruit = Vec<Facet>;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let ff = reader.fast_fields();
        let mut sources = Vec::new();
        for &kind in &self.kinds {
            sources.push(match kind {
                FacetKind::Year | FacetKind::Month | FacetKind::Day => {
                    FacetSource::Date(kind, ff.date(FieldName::Date.as_str())?)
                }
                FacetKind::Dateline | FacetKind::Agency => {
                    let name = if kind == FacetKind::Dateline {
                        FieldName::Dateline
                    } else {
                        FieldName::Agency
                    };
                    match ff.str(name.as_str())? {
                        Some(col) => {
                            let n = col.num_terms();
                            FacetSource::Str(kind, col, vec![0; n])
                        }
                        None => FacetSource::Str(
                            kind,
                            StrColumn::wrap(tantivy::columnar::BytesColumn::empty(
                                reader.max_doc(),
                            )),
                            vec![],
                        ),
                    }
                }
            });
        }
        let n = sources.len();
        Ok(FacetSegment {
            sources,
            dates: vec![HashMap::new(); n],
            missing: vec![0; n],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Facet>>) -> tantivy::Result<Vec<Facet>> {
        let mut merged: Vec<(HashMap<String, u64>, u64)> =
            vec![(HashMap::new(), 0); self.kinds.len()];
        for fruit in fruits {
            for (i, facet) in fruit.into_iter().enumerate() {
                for (bucket, n) in facet.buckets {
                    *merged[i].0.entry(bucket).or_insert(0) += n;
                }
                merged[i].1 += facet.missing;
            }
        }
        Ok(self
            .kinds
            .iter()
            .zip(merged)
            .map(|(kind, (counts, missing))| {
                let mut buckets: Vec<(String, u64)> = counts.into_iter().collect();
                match kind {
                    FacetKind::Year | FacetKind::Month | FacetKind::Day => buckets.sort(),
                    _ => buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))),
                }
                Facet {
                    facet: kind.as_str().to_owned(),
                    buckets,
                    missing,
                }
            })
            .collect())
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = Vec<Facet>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (i, source) in self.sources.iter_mut().enumerate() {
            match source {
                FacetSource::Date(kind, col) => match col.first(doc).and_then(date_from_tantivy) {
                    Some(d) => {
                        let key = match kind {
                            FacetKind::Year => format!("{:04}", d.year()),
                            FacetKind::Month => format!("{:04}-{:02}", d.year(), d.month()),
                            _ => d.to_string(),
                        };
                        *self.dates[i].entry(key).or_insert(0) += 1;
                    }
                    None => self.missing[i] += 1,
                },
                FacetSource::Str(_, col, counts) => match col.term_ords(doc).next() {
                    Some(ord) => {
                        if let Some(c) = usize::try_from(ord).ok().and_then(|o| counts.get_mut(o)) {
                            *c += 1;
                        }
                    }
                    None => self.missing[i] += 1,
                },
            }
        }
    }

    fn harvest(self) -> Vec<Facet> {
        let mut out = Vec::new();
        for ((source, dates), missing) in self.sources.into_iter().zip(self.dates).zip(self.missing)
        {
            let (kind, buckets) = match source {
                FacetSource::Date(kind, _) => (kind, dates.into_iter().collect()),
                FacetSource::Str(kind, col, counts) => {
                    let mut buckets = Vec::new();
                    for (ord, n) in counts.into_iter().enumerate() {
                        let mut s = String::new();
                        if n > 0 && col.ord_to_str(ord as u64, &mut s).unwrap_or(false) {
                            buckets.push((s, n));
                        }
                    }
                    (kind, buckets)
                }
            };
            out.push(Facet {
                facet: kind.as_str().to_owned(),
                buckets,
                missing,
            });
        }
        out
    }
}

/// Most words a phrase with slop may repeat. tantivy's sloppy phrase
/// matching keeps every way the repeated word's positions can pair up, so
/// its time and memory grow exponentially with the repeats: on the corpus,
/// `"the the the the the"~100` (4 repeats) took 0.1 s, 7 repeats 0.65 s,
/// 9 repeats 98 s and 3.7 GB, and `"the ... the"~50` with 13 repeats ran
/// out of a minute at 12 GB. Phrases of distinct words, with any slop, and
/// exact phrases are not affected.
const MAX_SLOPPY_REPEATS: usize = 4;

/// How many words of `tokens` repeat an earlier one.
fn repeats(tokens: &[String]) -> usize {
    tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| tokens[..*i].contains(t))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn repeats_count_words_seen_before() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(repeats(&words("a b c")), 0);
        assert_eq!(repeats(&words("a b a a")), 2);
        assert_eq!(repeats(&words("a b a b c b")), 3);
    }

    #[test]
    fn distinct_counts_like_a_set() {
        let mut x = 7u64;
        let mut ids = |n: usize, spread: u64| -> Vec<u64> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Few distinct values, spread over the whole range.
                    (x % spread).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                })
                .collect()
        };
        // Below and above the bucketed size, one part and several.
        for (n, spread) in [(0, 1), (1_000, 300), (70_000, 40_000), (200_000, 1 << 40)] {
            let parts = [ids(n / 3, spread), ids(n - n / 3, spread), Vec::new()];
            let expected: std::collections::HashSet<u64> =
                parts.iter().flatten().copied().collect();
            let got = distinct(parts.iter().map(Vec::as_slice));
            assert_eq!(got, expected.len() as u64, "{n} {spread}");
        }
    }

    #[test]
    fn streaming_top_stories_match_grouping_everything() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (docs, clusters, k) in [(1, 1, 1), (50, 5, 3), (2000, 300, 26), (2000, 2000, 10)] {
            let ranked: Vec<(u64, Ranked)> = (0..docs)
                .map(|d| {
                    let cluster = next() % clusters;
                    // Few distinct scores, so that ties are common.
                    let score = (next() % 7) as f32;
                    (cluster, (0, score, DocAddress::new(0, d)))
                })
                .collect();
            let mut top = TopStories::new(k);
            let mut all = BestMap::default();
            for &(c, r) in &ranked {
                top.offer(c, r);
                let b = all.entry(c).or_insert(r);
                if by_rank_then_address(&r, b).is_lt() {
                    *b = r;
                }
            }
            let mut want: Vec<(u64, Ranked)> = all.into_iter().collect();
            want.sort_by(|a, b| by_rank_then_address(&a.1, &b.1));
            want.truncate(k);
            let mut got: Vec<(u64, Ranked)> = top.into_best().into_iter().collect();
            got.sort_by(|a, b| by_rank_then_address(&a.1, &b.1));
            assert_eq!(got, want, "{docs} docs, {clusters} clusters, k {k}");
        }
    }

    /// An index of `copies` copies of the seed articles, each copy in its
    /// own folder.
    fn copies_of_seeds(copies: usize) -> (tempfile::TempDir, PathBuf, crate::ingest::IngestReport) {
        let tmp = tempfile::tempdir().unwrap();
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for copy in 0..copies {
            let dir = tmp.path().join("in").join(copy.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            for e in std::fs::read_dir(&seeds).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
            }
        }
        let index_dir = tmp.path().join("index");
        let report = crate::ingest::ingest(
            &crate::ingest::IngestOptions::new(
                vec![tmp.path().join("in")],
                index_dir.clone(),
                NewsSchema::embedded().unwrap(),
            ),
            &crate::ingest::NoProgress,
        )
        .unwrap();
        (tmp, index_dir, report)
    }

    /// A page of a collapsed search is that slice of the whole list, down
    /// to the copy standing for each story, although only the stories that
    /// can be on the page are settled by path.
    #[test]
    fn a_page_is_a_slice_of_the_whole_list() {
        let (_tmp, index_dir, _) = copies_of_seeds(3);
        let schema = NewsSchema::embedded().unwrap();
        for query in ["*", "ukraine", "the", "council OR ukraine OR grain"] {
            let page = |offset: usize, limit: usize| {
                let mut opts = SearchOptions::new(index_dir.clone(), schema.clone(), query.into());
                opts.offset = offset;
                opts.limit = limit;
                search(&opts)
                    .unwrap()
                    .hits
                    .into_iter()
                    .map(|h| (h.path, h.similar))
                    .collect::<Vec<_>>()
            };
            let all = page(0, 100);
            assert!(all.len() > 1, "{query}: {all:?}");
            if query == "*" {
                // Every copy scores the same: the smallest path stands for
                // its story.
                for (path, similar) in &all {
                    assert!(similar.iter().all(|p| path < p), "{path} {similar:?}");
                }
            }
            assert!(all.iter().any(|(_, similar)| similar.len() == 2), "{all:?}");
            for offset in 0..all.len() {
                for limit in 1..=3 {
                    let want = &all[offset..(offset + limit).min(all.len())];
                    assert_eq!(page(offset, limit), want, "{query}, {offset}, {limit}");
                }
            }
        }
    }

    /// Copies found from the first pass's records are the copies the
    /// second pass finds, whether every segment, some or none recorded.
    #[test]
    fn recorded_copies_match_the_second_pass() {
        // Enough copies that the collectors' batches fill more than once.
        const COPIES: usize = 20;
        let (_tmp, index_dir, report) = copies_of_seeds(COPIES);
        let schema = NewsSchema::embedded().unwrap();
        assert!(report.documents as usize > 2 * BATCH, "{report:?}");
        let open = IndexDir::new(&index_dir).open_for_search(&schema).unwrap();
        let sparse = Sparse::of(&open.searcher).unwrap();
        let stats = sparse.statistics(&open.searcher);
        let run = |sort: Sort, k: usize, cap: usize| {
            let facets = FacetCollector { kinds: Vec::new() };
            let (top, total, _, stories) =
                collapsed(&open.searcher, &stats, &AllQuery, sort, k, facets, cap).unwrap();
            let mut top: Vec<_> = top
                .into_iter()
                .map(|(c, s)| (c, s.best, s.count, s.members))
                .collect();
            top.sort_by_key(|t| t.0);
            (top, total, stories)
        };
        // A date sort records the copies' dates too: were they lost, the
        // copies' order and best copy would differ from the second pass's.
        for (sort, k) in [Sort::Relevance, Sort::Newest, Sort::Oldest]
            .into_iter()
            .flat_map(|s| [1, 3, 50].map(|k| (s, k)))
        {
            let second_pass = run(sort, k, 0);
            assert_eq!(
                second_pass.1 as u64, report.documents,
                "every match counted"
            );
            assert!(
                second_pass
                    .0
                    .iter()
                    .any(|t| t.2 as usize == COPIES && t.3.len() == COPIES - 1)
            );
            for cap in [4, BATCH + 3, RECORD_CAP] {
                assert_eq!(run(sort, k, cap), second_pass, "{sort:?}, k {k}, cap {cap}");
            }
        }
    }

    #[test]
    fn expansion_prefixes() {
        assert_eq!(expansion_prefix("negotiate", "negoti"), "negot");
        assert_eq!(expansion_prefix("happy", "happi"), "hap");
        assert_eq!(expansion_prefix("happiness", "happi"), "happ");
        assert_eq!(expansion_prefix("hoping", "hope"), "hop");
        assert_eq!(expansion_prefix("prices", "price"), "pric");
        assert_eq!(expansion_prefix("skies", "sky"), "sk");
        assert_eq!(expansion_prefix("banking", "bank"), "bank");
        assert_eq!(expansion_prefix("bank", "bank"), "bank");
        assert_eq!(expansion_prefix("us", "us"), "us");
        assert_eq!(expansion_prefix("the", "the"), "the");
        assert_eq!(expansion_prefix("mélenchon", "mélenchon"), "mélenchon");
    }

    /// Every word of the test articles that shares a query word's stem and
    /// lay under the prefix used before whole stems (the common prefix
    /// less one character) still lies under the word's expansion prefix.
    #[test]
    fn expansion_prefixes_cover_every_word_of_the_same_stem() {
        let mut words = std::collections::BTreeSet::new();
        let mut tokenizer = crate::schema::news_analyzer();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reuters21578");
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir).unwrap() {
                let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
                let mut stream = tokenizer.token_stream(&text);
                while let Some(t) = stream.next() {
                    words.insert(t.text.clone());
                }
            }
        }
        assert!(words.len() > 3_000, "{} words", words.len());
        let mut stemmer = english_stemmer();
        let mut stems = HashMap::new();
        let mut by_stem: HashMap<String, Vec<&str>> = HashMap::new();
        for w in &words {
            let stem = stem_cached(&mut stemmer, &mut stems, w).to_owned();
            by_stem.entry(stem).or_default().push(w);
        }
        let mut shared = 0;
        for (stem, group) in &by_stem {
            for w in group {
                let prefix = expansion_prefix(w, stem);
                let common = w
                    .chars()
                    .zip(stem.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                let old: String = w
                    .chars()
                    .take(if common > 3 { common - 1 } else { common })
                    .collect();
                for v in group {
                    if v.starts_with(old.as_str()) {
                        assert!(
                            v.starts_with(prefix),
                            "{v} (stem {stem}) is not under {prefix:?}, the prefix for {w}"
                        );
                        shared += usize::from(v != w);
                    }
                }
            }
        }
        assert!(shared > 1_000, "{shared} pairs of words with one stem");
    }

    #[test]
    fn facet_names_round_trip() {
        for k in [
            FacetKind::Year,
            FacetKind::Month,
            FacetKind::Day,
            FacetKind::Dateline,
            FacetKind::Agency,
        ] {
            assert_eq!(FacetKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(FacetKind::parse("date"), None);
    }
}
