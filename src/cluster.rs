//! Wire-story clusters in the index: giving a new article the cluster of an
//! earlier copy while ingesting, and reading clusters back for `dups`,
//! collapsed results and `similar`.
//!
//! A cluster id is a label every member carries, not a pointer to a
//! representative: deleting any member, the first one included, leaves the
//! others clustered, and a later copy that matches any remaining member
//! joins them. A new article is compared only with the documents that share
//! one of its LSH band keys (see [`crate::sketch`]), at most
//! [`CANDIDATES_PER_BAND`] per band and segment, so the cost per article is
//! bounded whatever the archive size.
//!
//! Band keys are not indexed terms: nearly every key is unique, and
//! tantivy's cost per unique term (its postings table, term dictionary and
//! merges) made up half of clustering's cost. Nor are they stored: they
//! follow from the sketch (see [`crate::sketch`]). Ingest finds committed
//! documents by band through a table it builds from the sketch column the
//! first time it looks in a segment, kept for as long as the segment
//! lives; a run that adds nothing never builds one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tantivy::columnar::Column;
use tantivy::fastfield::AliveBitSet;
use tantivy::index::SegmentId;
use tantivy::{DocId, IndexReader, Searcher, SegmentReader};

use crate::error::{Error, Result};
use crate::hashdir::HashDir;
use crate::hit::Cluster;
use crate::schema::{FieldName, NewsSchema};
use crate::sketch::{BANDS, Compact, Minima, Sketch};

/// Documents read per band key and segment. Copies of one story share
/// most of their bands, so the first few documents already hold a member.
pub const CANDIDATES_PER_BAND: usize = 8;

/// Assigns clusters during one ingest run. Documents committed before are
/// found through the index; documents added since the last commit through
/// an in-memory table, which [`Clusterer::committed`] empties.
pub struct Clusterer {
    threshold: f32,
    reader: IndexReader,
    segments: RwLock<Vec<SegmentView>>,
    pending: Mutex<Pending>,
}

struct SegmentView {
    bands: Arc<SegmentBands>,
    cluster: Column<u64>,
    alive: Option<AliveBitSet>,
}

/// A segment's documents by band key, built on first use from its sketch
/// column.
struct SegmentBands {
    id: SegmentId,
    /// The sketch column until the table is built from it. It is dropped
    /// then: the table holds the sketches decoded, and the column's pages
    /// would stay resident beside them for as long as the segment lives
    /// (11 MB at `--scale 10`, 48 B per document).
    column: Mutex<Option<Column<u64>>>,
    table: OnceLock<BandTable>,
}

impl SegmentBands {
    fn table(&self) -> &BandTable {
        self.table.get_or_init(|| {
            // Taken once: `get_or_init` runs this once per segment.
            let column = self.column.lock().ok().and_then(|mut c| c.take());
            column.map_or_else(BandTable::empty, |c| BandTable::build(&c))
        })
    }
}

/// A segment's documents by band key, in the one part of an ingest's
/// memory that grows with the archive, so kept small: about 64 bytes a
/// document (until aa5256e, with 8-byte entries, a bucket per entry or two
/// and whole sketches, about 100). An entry is 4 bytes: a key's low 32
/// bits with the document id in place of the lowest, its top bits being
/// its bucket's, and a bucket holds 4 to 8 entries, which a lookup scans
/// for the key's bits. Two keys that agree on all of these make a
/// candidate, which the comparison then drops. Sorted in a bucket, so one
/// key's documents are in document order. The sketches are decoded
/// once, here, since comparing a candidate would otherwise read it from
/// the column at a random place: that, not the arithmetic, was the cost of
/// looking in committed segments. Deleted documents stay in; readers
/// check the alive set, which changes without the segment changing.
struct BandTable {
    by_band: HashDir<u32>,
    /// The low bits of an entry that hold its document id.
    doc_mask: u32,
    /// By document; all zero (similar to nothing) where a document has no
    /// sketch.
    sketches: Vec<Minima>,
}

/// About 2^2 entries a bucket: a byte or less of directory per entry.
const LOG2_BUCKET_SIZE: u32 = 2;

impl BandTable {
    fn build(column: &Column<u64>) -> BandTable {
        let docs = column.num_docs();
        BandTable::from_sketches(
            docs,
            (0..docs).map(|doc| Compact::from_words(column.values_for_doc(doc))),
        )
    }

    /// The table of `docs` documents with these sketches, by document.
    fn from_sketches(docs: u32, by_doc: impl Iterator<Item = Option<Compact>>) -> BandTable {
        // No bits for one document (or none).
        let doc_mask = u32::MAX
            .checked_shr(docs.saturating_sub(1).leading_zeros())
            .unwrap_or(0);
        let mut entries = Vec::with_capacity(docs as usize * BANDS);
        let mut sketches = Vec::with_capacity(docs as usize);
        for (doc, sketch) in (0..docs).zip(by_doc) {
            if let Some(sketch) = &sketch {
                for key in sketch.bands() {
                    entries.push(key & !u64::from(doc_mask) | u64::from(doc));
                }
            }
            sketches.push(sketch.map(|s| *s.minima()).unwrap_or_default());
        }
        BandTable {
            // The entry's low 32 bits; the bucket keeps the top ones.
            by_band: HashDir::with_bucket_size(entries, LOG2_BUCKET_SIZE).map(|e| e as u32),
            doc_mask,
            sketches,
        }
    }

    fn empty() -> BandTable {
        BandTable::from_sketches(0, std::iter::empty())
    }

    /// The documents holding band key `key`, in document order, with their
    /// sketches.
    fn docs(&self, key: u64) -> impl Iterator<Item = (DocId, &Minima)> + '_ {
        let tag = key as u32 & !self.doc_mask;
        self.by_band
            .bucket(key)
            .iter()
            .filter(move |&&e| e & !self.doc_mask == tag)
            .filter_map(|&e| {
                let doc = e & self.doc_mask;
                Some((doc, self.sketches.get(doc as usize)?))
            })
    }
}

/// Documents added since the last commit, findable by band: `by_band`
/// holds the latest entry with a band key, and each entry links to the
/// previous one with the same key in that band.
#[derive(Default)]
struct Pending {
    by_band: HashMap<u64, u32, IdBuildHasher>,
    entries: Vec<PendingDoc>,
}

/// Hashing for maps keyed by cluster ids or band keys, which are hashes
/// already: one multiplication spreads them over the bits the map uses,
/// at a fraction of the default hasher's cost.
pub(crate) type IdBuildHasher = std::hash::BuildHasherDefault<IdHasher>;

#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct PendingDoc {
    cluster: u64,
    minima: Minima,
    previous: [u32; BANDS],
}

const NONE: u32 = u32::MAX;

impl Pending {
    /// Calls `f` on the latest entries sharing a band with `bands`, at most
    /// [`CANDIDATES_PER_BAND`] per band, skipping entries older than
    /// `since` (already looked at); returns the heads of the bands'
    /// chains, which a new entry links to.
    fn candidates(
        &self,
        bands: &[u64; BANDS],
        since: u32,
        mut f: impl FnMut(&PendingDoc),
    ) -> [u32; BANDS] {
        let mut heads = [NONE; BANDS];
        for (b, band) in bands.iter().enumerate() {
            let mut next = self.by_band.get(band).copied().unwrap_or(NONE);
            heads[b] = next;
            for _ in 0..CANDIDATES_PER_BAND {
                let Some(doc) = self.entries.get(next as usize).filter(|_| next >= since) else {
                    break;
                };
                f(doc);
                next = doc.previous[b];
            }
        }
        heads
    }
}

impl Clusterer {
    /// A clusterer over the committed state `reader` shows, which it
    /// reloads after each commit. The reader is the run's own, with
    /// [`tantivy::ReloadPolicy::Manual`]: shared, so that the index's
    /// segments are opened once and no watcher thread runs.
    ///
    /// # Errors
    ///
    /// When the index cannot be read.
    pub fn new(reader: &IndexReader, schema: &NewsSchema) -> Result<Clusterer> {
        let clusterer = Clusterer {
            threshold: schema.dedup_threshold,
            reader: reader.clone(),
            segments: RwLock::new(Vec::new()),
            pending: Mutex::new(Pending::default()),
        };
        clusterer.load_segments()?;
        Ok(clusterer)
    }

    /// Reads the committed segments, keeping the band tables of those
    /// that were there before.
    fn load_segments(&self) -> Result<()> {
        let searcher = self.reader.searcher();
        let mut tables: HashMap<SegmentId, Arc<SegmentBands>> = self
            .segments
            .read()
            .map(|s| s.iter().map(|v| (v.bands.id, v.bands.clone())).collect())
            .unwrap_or_default();
        let views = searcher
            .segment_readers()
            .iter()
            .map(|r| SegmentView::open(r, tables.remove(&r.segment_id())))
            .collect::<tantivy::Result<Vec<_>>>()
            .map_err(|e| Error::engine("cannot read the index's clusters", e))?;
        if let Ok(mut segments) = self.segments.write() {
            *segments = views;
        }
        Ok(())
    }

    /// To be called after each commit: the documents just committed are
    /// now found in the index, so the in-memory table starts empty again,
    /// which keeps memory flat over a long run.
    ///
    /// # Errors
    ///
    /// When the index cannot be re-read.
    pub fn committed(&self) -> Result<()> {
        self.reader
            .reload()
            .map_err(|e| Error::engine("cannot re-read the index", e))?;
        self.load_segments()?;
        if let Ok(mut pending) = self.pending.lock() {
            // Emptied, not replaced: the next batch reuses the capacity
            // rather than growing it again under the lock.
            pending.by_band.clear();
            pending.entries.clear();
        }
        Ok(())
    }

    /// The cluster of a new article: the cluster of the most similar earlier
    /// copy at or above the threshold among those looked at (the batch not
    /// yet committed, then committed segments until one is found), else
    /// `own` (a new story).
    /// Callers must not commit while this runs: a commit between the two
    /// lookups could hide a copy from both.
    pub fn assign(&self, sketch: &Sketch, own: u64) -> u64 {
        let compact = sketch.compact();
        let (bands, minima) = (compact.bands(), *compact.minima());
        let mut best: Option<(f32, u64)> = None;
        let threshold = self.threshold;
        let consider = |best: &mut Option<(f32, u64)>, sim: f32, cluster: u64| {
            if sim >= threshold && best.is_none_or(|(s, _)| sim > s) {
                *best = Some((sim, cluster));
            }
        };
        // The uncommitted batch first: it is cheap to look in, and where an
        // archive holds many copies they are often near each other.
        let Ok(pending) = self.pending.lock() else {
            return own;
        };
        pending.candidates(&bands, 0, |doc| {
            consider(&mut best, minima.similarity(&doc.minima), doc.cluster)
        });
        let looked_at = u32::try_from(pending.entries.len()).unwrap_or(NONE);
        drop(pending);
        // Then the committed segments, stopping at the first copy: any copy
        // is a member of the story, and most articles are in none. Band by
        // band, since a copy most often shares the first: an article with
        // copies then costs one look per segment, not one per band.
        if best.is_none()
            && let Ok(segments) = self.segments.read()
        {
            'bands: for &band in &bands {
                for seg in segments.iter() {
                    let table = seg.bands.table();
                    let alive = table.docs(band).filter(|&(doc, _)| seg.is_alive(doc));
                    for (doc, other) in alive.take(CANDIDATES_PER_BAND) {
                        let sim = minima.similarity(other);
                        if sim >= threshold
                            && let Some(cluster) = seg.cluster.first(doc)
                        {
                            consider(&mut best, sim, cluster);
                        }
                    }
                    if best.is_some() {
                        break 'bands;
                    }
                }
            }
        }
        let Ok(mut pending) = self.pending.lock() else {
            return best.map_or(own, |(_, c)| c);
        };
        // Again for entries other workers added while the lock was
        // released, and the new entry must link to the current chains.
        let previous = pending.candidates(&bands, looked_at, |doc| {
            consider(&mut best, minima.similarity(&doc.minima), doc.cluster)
        });
        let cluster = best.map_or(own, |(_, c)| c);
        let Ok(i) = u32::try_from(pending.entries.len()) else {
            return cluster;
        };
        pending.entries.push(PendingDoc {
            cluster,
            minima,
            previous,
        });
        for band in bands {
            pending.by_band.insert(band, i);
        }
        cluster
    }
}

impl SegmentView {
    /// A view of `reader`, with the band table `known` of an earlier view
    /// of the same segment.
    fn open(reader: &SegmentReader, known: Option<Arc<SegmentBands>>) -> tantivy::Result<Self> {
        let ff = reader.fast_fields();
        let bands = match known {
            Some(b) => b,
            None => Arc::new(SegmentBands {
                id: reader.segment_id(),
                column: Mutex::new(Some(ff.u64(FieldName::Sketch.as_str())?)),
                table: OnceLock::new(),
            }),
        };
        Ok(SegmentView {
            bands,
            cluster: ff.u64(FieldName::Cluster.as_str())?,
            alive: reader.alive_bitset().cloned(),
        })
    }

    fn is_alive(&self, doc: DocId) -> bool {
        self.alive.as_ref().is_none_or(|a| a.is_alive(doc))
    }
}

/// The clusters of the index in `dir` with at least `min_size` copies,
/// largest first (`newsidx dups`).
///
/// # Errors
///
/// The errors of opening an index for search.
pub fn list(dir: &std::path::Path, schema: &NewsSchema, min_size: usize) -> Result<Vec<Cluster>> {
    let open = crate::indexdir::IndexDir::new(dir).open_for_search(schema)?;
    clusters(&open.searcher, min_size)
        .map_err(|e| Error::engine(format!("cannot read the clusters of {}", dir.display()), e))
}

/// Every cluster with at least `min_size` live members, largest first
/// (ties by first path). Two passes over the cluster column, the second
/// reading paths only for clusters big enough, so memory follows the
/// number of duplicates rather than the size of the archive.
///
/// # Errors
///
/// When the index's columns cannot be read.
pub fn clusters(searcher: &Searcher, min_size: usize) -> tantivy::Result<Vec<Cluster>> {
    let min_size = min_size.max(1);
    let mut sizes: HashMap<u64, u32> = HashMap::new();
    for_each_live(searcher, |_, _, cluster| {
        *sizes.entry(cluster).or_default() += 1;
    })?;
    sizes.retain(|_, n| *n as usize >= min_size);
    let mut members: HashMap<u64, Vec<String>> = HashMap::new();
    let mut path_columns = Vec::new();
    for r in searcher.segment_readers() {
        path_columns.push(r.fast_fields().str(FieldName::Path.as_str())?);
    }
    for_each_live(searcher, |seg, doc, cluster| {
        if !sizes.contains_key(&cluster) {
            return;
        }
        let mut path = String::new();
        if let Some(Some(col)) = path_columns.get(seg)
            && let Some(ord) = col.term_ords(doc).next()
        {
            let _ = col.ord_to_str(ord, &mut path);
        }
        members.entry(cluster).or_default().push(path);
    })?;
    let mut out: Vec<Cluster> = members
        .into_iter()
        .map(|(id, mut paths)| {
            paths.sort();
            Cluster {
                cluster: format!("{id:016x}"),
                size: paths.len(),
                paths,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.paths
            .len()
            .cmp(&a.paths.len())
            .then_with(|| a.paths.cmp(&b.paths))
    });
    Ok(out)
}

/// Calls `f(segment, doc, cluster)` for every live document.
fn for_each_live(searcher: &Searcher, mut f: impl FnMut(usize, DocId, u64)) -> tantivy::Result<()> {
    for (seg, r) in searcher.segment_readers().iter().enumerate() {
        let col = r.fast_fields().u64(FieldName::Cluster.as_str())?;
        let alive = r.alive_bitset();
        for doc in 0..r.max_doc() {
            if alive.is_none_or(|a| a.is_alive(doc))
                && let Some(c) = col.first(doc)
            {
                f(seg, doc, c);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::NewsSchema;
    use tantivy::{Index, ReloadPolicy};

    fn sketch(text: &str) -> Sketch {
        Sketch::of_paragraphs(std::iter::once(text)).unwrap()
    }

    fn manual_reader(index: &Index) -> IndexReader {
        index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .unwrap()
    }

    #[test]
    fn a_band_table_finds_each_document_under_each_of_its_bands() {
        // Sizes around the document-id widths, with copies (every
        // seventh text repeats an earlier one) and documents without a
        // sketch (every eleventh).
        for docs in [1u32, 2, 3, 4, 5, 1000, 1025, 20_000] {
            let text = |d: u32| {
                let d = if d % 7 == 6 { d / 2 } else { d };
                format!(
                    "story {d} about w{} and w{} in {}",
                    d * 31 % 97,
                    d % 13,
                    d / 3
                )
            };
            let all: Vec<Option<Compact>> = (0..docs)
                .map(|d| (d % 11 != 10).then(|| sketch(&text(d)).compact()))
                .collect();
            let compact = |d: DocId| all[d as usize];
            let table = BandTable::from_sketches(docs, all.iter().copied());
            let mut found = 0usize;
            let mut strays = 0usize;
            for d in 0..docs {
                let Some(c) = compact(d) else {
                    assert_eq!(table.sketches[d as usize], Minima::default());
                    continue;
                };
                assert_eq!(&table.sketches[d as usize], c.minima(), "{docs} docs: {d}");
                for key in c.bands() {
                    let got: Vec<DocId> = table.docs(key).map(|(doc, _)| doc).collect();
                    assert!(got.contains(&d), "{docs} docs: {d} not under {key:x}");
                    let holders: Vec<DocId> = got
                        .iter()
                        .copied()
                        .filter(|&o| compact(o).is_some_and(|o| o.bands().contains(&key)))
                        .collect();
                    assert!(holders.is_sorted(), "{docs} docs: {holders:?}");
                    found += holders.len();
                    strays += got.len() - holders.len();
                }
            }
            // A stray shares a bucket and a tag of 12 bits or more.
            assert!(
                strays * 100 <= found,
                "{docs} docs: {strays} strays, {found} found"
            );
        }
        assert_eq!(BandTable::empty().docs(12345).count(), 0);
    }

    #[test]
    fn copies_in_one_batch_share_a_cluster() {
        let schema = NewsSchema::embedded().unwrap();
        let index = Index::create_in_ram(schema.tantivy.clone());
        let c = Clusterer::new(&manual_reader(&index), &schema).unwrap();
        let text = "Shr 19 cts vs 38 cts Net 397,000 vs 788,000 Nine mths Shr 80 cts";
        assert_eq!(c.assign(&sketch(text), 1), 1);
        assert_eq!(c.assign(&sketch(text), 2), 1);
        assert_eq!(
            c.assign(&sketch("something else entirely, five words"), 3),
            3
        );
    }

    #[test]
    fn a_dissimilar_doc_sharing_bands_does_not_hide_earlier_copies() {
        let schema = NewsSchema::embedded().unwrap();
        let index = Index::create_in_ram(schema.tantivy.clone());
        let c = Clusterer::new(&manual_reader(&index), &schema).unwrap();
        // Two Reuters earnings tables (reut2-020/20943 and 20388): the
        // short one shares bands with the long one but is not a copy of it.
        let long = "WESTPORT, Conn., Oct 19 -\nShr 19 cts vs 38 cts\nNet 397,000 vs 788,000\n\
                    Nine mths\nShr 80 cts vs 1.19 dlrs\nNet 1,674,000 vs 2,455,000\n\
                    NOTE: Company would not provide assets, deposits, and loans\nfigures.";
        let short = "WESTPORT, Conn., Oct 20 -\nShr 19 cts vs 38 cts\nNet 397,000 vs 788,000\n\
                     Nine mths\nShr 80 cts vs 1.19 dlrs\nNet 1,674,000 vs 2,455,000";
        let (lb, sb) = (
            sketch(long).compact().bands(),
            sketch(short).compact().bands(),
        );
        assert!(lb.iter().any(|b| sb.contains(b)));
        assert!(sketch(long).compact().similarity(&sketch(short).compact()) < 0.7);
        assert_eq!(c.assign(&sketch(long), 1), 1);
        let other = c.assign(&sketch(short), 2);
        assert_eq!(c.assign(&sketch(long), 3), 1, "short one got {other}");
    }

    #[test]
    fn committed_copies_are_found_while_any_member_lives() {
        use tantivy::{IndexWriter, TantivyDocument, Term};
        let schema = NewsSchema::embedded().unwrap();
        let f = &schema.fields;
        let index = Index::create_in_ram(schema.tantivy.clone());
        schema.attach(&index, std::path::Path::new("ram")).unwrap();
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let c = Clusterer::new(&manual_reader(&index), &schema).unwrap();
        let story = "Shr 19 cts vs 38 cts Net 397,000 vs 788,000 Nine mths Shr 80 cts \
                     vs 1.19 dlrs Net 1,674,000 vs 2,455,000 NOTE: Company would not \
                     provide assets, deposits, and loans figures for the period";
        let add = |writer: &mut IndexWriter, path: &str, text: &str, own: u64| {
            let s = sketch(text);
            let cluster = c.assign(&s, own);
            let mut doc = TantivyDocument::default();
            doc.add_text(f.path, path);
            doc.add_u64(f.cluster, cluster);
            s.compact()
                .to_words()
                .iter()
                .for_each(|w| doc.add_u64(f.sketch, *w));
            writer.add_document(doc).unwrap();
            cluster
        };
        let commit = |writer: &mut IndexWriter, delete: Option<&str>| {
            if let Some(path) = delete {
                writer.delete_term(Term::from_field_text(f.path, path));
            }
            writer.commit().unwrap();
        };
        // Two segments: an unrelated story, then two copies of one story
        // beside another, which keeps the segment alive when both go.
        assert_eq!(
            add(
                &mut writer,
                "x",
                "an unrelated story of a dozen words about the harvest",
                9
            ),
            9
        );
        commit(&mut writer, None);
        c.committed().unwrap();
        assert_eq!(add(&mut writer, "a", story, 1), 1);
        assert_eq!(add(&mut writer, "b", &format!("Update: {story}"), 2), 1);
        assert_eq!(
            add(
                &mut writer,
                "y",
                "yet another story, this one on rainfall in the north",
                8
            ),
            8
        );
        commit(&mut writer, None);
        c.committed().unwrap();
        // Each check runs against the index alone: `committed` empties the
        // batch, and the probe is never added.
        let probe = |c: &Clusterer, own| {
            let cluster = c.assign(&sketch(story), own);
            c.committed().unwrap();
            cluster
        };
        assert_eq!(probe(&c, 3), 1, "found in the committed segment");
        commit(&mut writer, Some("a"));
        c.committed().unwrap();
        assert_eq!(
            probe(&c, 4),
            1,
            "the first member's deletion orphans nothing"
        );
        commit(&mut writer, Some("b"));
        c.committed().unwrap();
        assert_eq!(probe(&c, 5), 5, "deleted documents are no candidates");
    }
}
