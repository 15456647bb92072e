//! Fields that some segments of an index hold no terms in: the photo
//! captions of a run that ingested no photos, the dateline of a source
//! that has none. tantivy opens such a field as an empty term dictionary,
//! and the first one a process opens is built through an FST builder whose
//! megabyte of table is page-faulted in: half a millisecond, a tenth of a
//! one-word search at `--scale 10`. So a search never asks a segment for a
//! field it lacks: expansion passes it by, BM25 statistics leave it out (it
//! holds no tokens and no documents with the term, so the sums are the
//! same), and its scorer is empty.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tantivy::index::SegmentId;
use tantivy::query::{
    Bm25StatisticsProvider, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::Field;
use tantivy::{
    DocId, Score, Searcher, SeekDangerResult, SegmentReader, TERMINATED, TantivyError, Term,
};

type Lacking = Arc<HashSet<SegmentId>>;

/// Which segments lack which indexed fields, for one searcher.
#[derive(Debug, Default)]
pub struct Sparse {
    lacking: HashMap<Field, Lacking>,
}

impl Sparse {
    /// Reads the segments' lists of fields (no term dictionary is opened).
    pub fn of(searcher: &Searcher) -> tantivy::Result<Sparse> {
        let schema = searcher.schema();
        let mut lacking: HashMap<Field, HashSet<SegmentId>> = HashMap::new();
        for reader in searcher.segment_readers() {
            let present: HashSet<String> = reader
                .fields_metadata()?
                .into_iter()
                .filter(|m| m.postings_size.is_some_and(|s| s.get_bytes() > 0))
                .map(|m| m.field_name)
                .collect();
            for (field, entry) in schema.fields() {
                if entry.is_indexed() && !present.contains(entry.name()) {
                    lacking
                        .entry(field)
                        .or_default()
                        .insert(reader.segment_id());
                }
            }
        }
        Ok(Sparse {
            lacking: lacking.into_iter().map(|(f, s)| (f, Arc::new(s))).collect(),
        })
    }

    /// Whether `reader`'s segment holds terms of `field`.
    pub fn has(&self, reader: &SegmentReader, field: Field) -> bool {
        self.lacking
            .get(&field)
            .is_none_or(|s| !s.contains(&reader.segment_id()))
    }

    /// `query`, on `field`, made to skip the segments that lack the field.
    pub fn wrap(&self, field: Field, query: Box<dyn Query>) -> Box<dyn Query> {
        match self.lacking.get(&field) {
            None => query,
            Some(lacking) => Box::new(SkipLacking {
                inner: query,
                lacking: lacking.clone(),
            }),
        }
    }

    /// BM25 statistics over the segments that hold each field.
    pub fn statistics<'s>(&'s self, searcher: &'s Searcher) -> Statistics<'s> {
        Statistics {
            sparse: self,
            searcher,
        }
    }
}

/// [`Bm25StatisticsProvider`] that opens no field a segment lacks.
pub struct Statistics<'s> {
    sparse: &'s Sparse,
    searcher: &'s Searcher,
}

impl Statistics<'_> {
    fn sum(
        &self,
        field: Field,
        per_segment: impl Fn(&tantivy::InvertedIndexReader) -> tantivy::Result<u64>,
    ) -> tantivy::Result<u64> {
        let mut total = 0;
        for reader in self.searcher.segment_readers() {
            if self.sparse.has(reader, field) {
                total += per_segment(&*reader.inverted_index(field)?)?;
            }
        }
        Ok(total)
    }
}

impl Bm25StatisticsProvider for Statistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        self.sum(field, |inverted| Ok(inverted.total_num_tokens()))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Bm25StatisticsProvider::total_num_docs(self.searcher)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        self.sum(term.field(), |inverted| {
            Ok(u64::from(inverted.doc_freq(term)?))
        })
    }
}

/// A query on one field that matches nothing in the segments lacking it,
/// without opening the field there.
struct SkipLacking {
    inner: Box<dyn Query>,
    lacking: Lacking,
}

impl std::fmt::Debug for SkipLacking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipLacking")
            .field("inner", &self.inner)
            .field("segments", &self.lacking.len())
            .finish()
    }
}

impl Clone for SkipLacking {
    fn clone(&self) -> Self {
        SkipLacking {
            inner: self.inner.box_clone(),
            lacking: self.lacking.clone(),
        }
    }
}

impl Query for SkipLacking {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(SkipLackingWeight {
            inner: self.inner.weight(scoring)?,
            lacking: self.lacking.clone(),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

struct SkipLackingWeight {
    inner: Box<dyn Weight>,
    lacking: Lacking,
}

impl SkipLackingWeight {
    fn skips(&self, reader: &SegmentReader) -> bool {
        self.lacking.contains(&reader.segment_id())
    }
}

impl Weight for SkipLackingWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if self.skips(reader) {
            return Ok(Box::new(EmptyScorer));
        }
        self.inner.scorer(reader, boost)
    }

    fn scorer_danger(
        &self,
        reader: &SegmentReader,
        target: DocId,
        boost: Score,
    ) -> tantivy::Result<(SeekDangerResult, Box<dyn Scorer>)> {
        if self.skips(reader) {
            let empty: Box<dyn Scorer> = Box::new(EmptyScorer);
            return Ok((SeekDangerResult::SeekLowerBound(TERMINATED), empty));
        }
        self.inner.scorer_danger(reader, target, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.skips(reader) {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        self.inner.explain(reader, doc)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        if self.skips(reader) {
            return Ok(0);
        }
        self.inner.count(reader)
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        if self.skips(reader) {
            return Ok(());
        }
        self.inner.for_each(reader, callback)
    }

    fn for_each_no_score(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(&[DocId]),
    ) -> tantivy::Result<()> {
        if self.skips(reader) {
            return Ok(());
        }
        self.inner.for_each_no_score(reader, callback)
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        if self.skips(reader) {
            return Ok(());
        }
        self.inner.for_each_pruning(threshold, reader, callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, Occur, PhraseQuery, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{Index, TantivyDocument};

    /// An index of two segments; only the second has captions.
    fn two_segments() -> (Index, Field, Field) {
        let mut builder = Schema::builder();
        let title = builder.add_text_field("title", TEXT);
        let captions = builder.add_text_field("captions", TEXT);
        let index = Index::create_in_ram(builder.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for t in ["oil prices rise", "oil demand", "bank rates"] {
            let mut doc = TantivyDocument::new();
            doc.add_text(title, t);
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        for (t, c) in [
            ("oil field", "workers at an oil field"),
            ("rates", "a bank"),
        ] {
            let mut doc = TantivyDocument::new();
            doc.add_text(title, t);
            doc.add_text(captions, c);
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        (index, title, captions)
    }

    #[test]
    fn finds_the_segments_lacking_a_field() {
        let (index, title, captions) = two_segments();
        let searcher = index.reader().unwrap().searcher();
        let sparse = Sparse::of(&searcher).unwrap();
        let readers = searcher.segment_readers();
        assert_eq!(readers.len(), 2);
        let with_captions: Vec<bool> = readers.iter().map(|r| sparse.has(r, captions)).collect();
        let first_has = readers[0].num_docs() == 3;
        assert_eq!(with_captions, vec![!first_has, first_has]);
        assert!(readers.iter().all(|r| sparse.has(r, title)));
    }

    #[test]
    fn matches_and_scores_are_tantivys_own() {
        let (index, title, captions) = two_segments();
        let searcher = index.reader().unwrap().searcher();
        let sparse = Sparse::of(&searcher).unwrap();
        let stats = sparse.statistics(&searcher);
        let term = |f: Field, t: &str| Term::from_field_text(f, t);
        let per_field = |word: &str| -> Vec<(Occur, Box<dyn Query>)> {
            [title, captions]
                .into_iter()
                .map(|f| {
                    let q: Box<dyn Query> =
                        Box::new(TermQuery::new(term(f, word), IndexRecordOption::WithFreqs));
                    (Occur::Should, q)
                })
                .collect()
        };
        let phrase = |f| PhraseQuery::new(vec![term(f, "oil"), term(f, "field")]);
        let queries: Vec<(Box<dyn Query>, Box<dyn Query>)> = vec![
            (
                Box::new(BooleanQuery::new(per_field("oil"))),
                Box::new(BooleanQuery::new(
                    per_field("oil")
                        .into_iter()
                        .zip([title, captions])
                        .map(|((o, q), f)| (o, sparse.wrap(f, q)))
                        .collect(),
                )),
            ),
            (
                Box::new(phrase(captions)),
                sparse.wrap(captions, Box::new(phrase(captions))),
            ),
            (
                Box::new(TermQuery::new(
                    term(captions, "bank"),
                    IndexRecordOption::WithFreqs,
                )),
                sparse.wrap(
                    captions,
                    Box::new(TermQuery::new(
                        term(captions, "bank"),
                        IndexRecordOption::WithFreqs,
                    )),
                ),
            ),
        ];
        let collector = (TopDocs::with_limit(10).order_by_score(), Count);
        for (plain, wrapped) in &queries {
            let want = searcher.search(plain.as_ref(), &collector).unwrap();
            let got = searcher
                .search_with_statistics_provider(wrapped.as_ref(), &collector, &stats)
                .unwrap();
            assert!(want.1 > 0, "{plain:?} matches nothing");
            assert_eq!(got, want, "{plain:?}");
            for (_, addr) in &want.0 {
                let reader = searcher.segment_reader(addr.segment_ord);
                let explained = wrapped
                    .weight(EnableScoring::enabled_from_statistics_provider(
                        &stats, &searcher,
                    ))
                    .and_then(|w| w.explain(reader, addr.doc_id))
                    .unwrap();
                let plain_score = plain.explain(&searcher, *addr).unwrap().value();
                assert_eq!(explained.value(), plain_score);
            }
        }
    }
}
