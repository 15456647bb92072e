//! Export to a distributed engine: Quickwit, or Elasticsearch/OpenSearch.
//!
//! Both exports are generated from the same schema the index was built with
//! ([`FieldName`] drives every mapping through exhaustive `match`es, so a new
//! field does not compile until each target knows what to do with it), and
//! stream the index segment by segment: memory stays flat whatever its size.
//!
//! * Quickwit: `index-config.yaml` (doc mapping, custom `news` tokenizer,
//!   `date` as the timestamp field, default search fields), documents as
//!   `docs-NNNN.ndjson` files under Quickwit's 10 MB ingest limit, and a
//!   `README.txt` with the commands.
//! * Elasticsearch/OpenSearch: `index.json` (settings with an English
//!   analyzer and an unstemmed `exact` sub-field per text field, strict
//!   mapping), `bulk-NNNN.ndjson` files of `index` actions (and `delete`
//!   actions for documents gone since a previous export), and a `README.txt`.
//!
//! Every export also writes `ids.ndjson`, the ids it contains, so a later
//! `--since-export` can tell what was deleted. Document ids are the paths
//! relative to the ingested folder: the same article gets the same id in
//! every export, which makes re-exports idempotent.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};
use tantivy::TantivyDocument;
use tantivy::schema::document::Value as _;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::indexdir::IndexDir;
use crate::ingest::Progress;
use crate::schema::{FieldName, FieldSpec, NewsSchema, Record, TokenizerName, date_from_tantivy};

/// Quickwit refuses ingest requests over 10 MB.
pub const QUICKWIT_MAX_FILE_BYTES: u64 = 10_000_000;
/// Elasticsearch's default `http.max_content_length` is 100 MB; a few MB per
/// bulk request is what its documentation recommends.
pub const BULK_MAX_FILE_BYTES: u64 = 5_000_000;

/// Where the export goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Quickwit.
    Quickwit,
    /// Elasticsearch or OpenSearch.
    Elasticsearch,
}

/// What an export needs.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The index directory.
    pub index_dir: PathBuf,
    /// The schema.
    pub schema: NewsSchema,
    /// Quickwit or Elasticsearch.
    pub target: Target,
    /// Folder to write into (created if missing).
    pub out_dir: PathBuf,
    /// Name of the index to create in the target engine.
    pub index_name: String,
    /// A previous export's folder: write `delete` actions for documents it
    /// had that the index no longer has (Elasticsearch only).
    pub since_export: Option<PathBuf>,
    /// Largest data file, in bytes.
    pub max_file_bytes: u64,
}

impl ExportOptions {
    /// Options with the defaults for `target`.
    pub fn new(
        index_dir: PathBuf,
        schema: NewsSchema,
        target: Target,
        out_dir: PathBuf,
    ) -> ExportOptions {
        let max_file_bytes = match target {
            Target::Quickwit => QUICKWIT_MAX_FILE_BYTES,
            Target::Elasticsearch => BULK_MAX_FILE_BYTES,
        };
        ExportOptions {
            index_dir,
            schema,
            target,
            out_dir,
            index_name: "newsidx".into(),
            since_export: None,
            max_file_bytes,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// Documents exported.
    pub documents: u64,
    /// `delete` actions written (`--since-export`).
    pub deleted: u64,
    /// Data files written.
    pub files: Vec<PathBuf>,
    /// Bytes of data written.
    pub bytes: u64,
}

/// Runs an export.
///
/// # Errors
///
/// The errors of opening the index, and I/O errors writing `out_dir`.
pub fn export(opts: &ExportOptions, progress: &dyn Progress) -> Result<ExportReport> {
    if opts.target == Target::Quickwit && opts.since_export.is_some() {
        return Err(Error::Usage(
            "--since-export writes Elasticsearch delete actions; Quickwit removes documents with delete tasks instead".into(),
        ));
    }
    if !valid_index_name(&opts.index_name) {
        return Err(Error::Usage(format!(
            "index name '{}' must start with a lower-case letter and hold only a-z, 0-9, '-' and '_'",
            opts.index_name
        )));
    }
    let open = IndexDir::new(&opts.index_dir).open_for_search(&opts.schema)?;
    let out = &opts.out_dir;
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    remove_previous_data_files(out)?;

    let (config_name, config) = match opts.target {
        Target::Quickwit => (
            "index-config.yaml",
            quickwit_config(&opts.schema, &opts.index_name),
        ),
        Target::Elasticsearch => (
            "index.json",
            serde_json::to_string_pretty(&elasticsearch_index(&opts.schema)).unwrap_or_default()
                + "\n",
        ),
    };
    write_file(&out.join(config_name), config.as_bytes())?;

    let prefix = match opts.target {
        Target::Quickwit => "docs",
        Target::Elasticsearch => "bulk",
    };
    let mut data = SplitWriter::new(out, prefix, opts.max_file_bytes);
    let ids_path = out.join("ids.ndjson");
    let mut ids = BufWriter::new(File::create(&ids_path).map_err(|e| Error::io(&ids_path, e))?);
    // Hashes of exported ids, to find deletions: 8 bytes per document.
    let mut exported: HashSet<u64> = HashSet::new();
    let mut report = ExportReport::default();

    let searcher = &open.searcher;
    progress.walk_finished(searcher.num_docs());
    let engine = |e| {
        Error::engine(
            format!("cannot read the index in {}", opts.index_dir.display()),
            e,
        )
    };
    for reader in searcher.segment_readers() {
        let store = reader
            .get_store_reader(8)
            .map_err(|e| Error::io(&opts.index_dir, e))?;
        let columns = FastColumns::open(reader).map_err(engine)?;
        let docs = store.iter::<TantivyDocument>(reader.alive_bitset());
        for (doc_id, stored) in reader.doc_ids_alive().zip(docs) {
            let stored = stored.map_err(engine)?;
            let source = document_json(&opts.schema, &stored, &columns, doc_id);
            let id = source[FieldName::Id.as_str()]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let mut lines = Vec::new();
            if opts.target == Target::Elasticsearch {
                serde_json::to_writer(&mut lines, &json!({ "index": { "_id": bulk_id(&id) } }))
                    .map_err(json_err)?;
                lines.push(b'\n');
            }
            serde_json::to_writer(&mut lines, &source).map_err(json_err)?;
            lines.push(b'\n');
            data.write(&lines)?;
            serde_json::to_writer(&mut ids, &id).map_err(json_err)?;
            ids.write_all(b"\n").map_err(|e| Error::io(&ids_path, e))?;
            exported.insert(xxh3_64(id.as_bytes()));
            report.documents += 1;
            progress.file_done(lines.len() as u64);
        }
    }
    if let Some(previous) = &opts.since_export {
        report.deleted = write_deletes(previous, &exported, &mut data)?;
    }
    ids.flush().map_err(|e| Error::io(&ids_path, e))?;
    let (files, bytes) = data.finish()?;
    report.files = files;
    report.bytes = bytes;
    write_file(
        &out.join("README.txt"),
        readme(opts, &report, config_name).as_bytes(),
    )?;
    Ok(report)
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Usage(format!("cannot write JSON: {e}"))
}

fn valid_index_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Elasticsearch limits `_id` to 512 bytes; longer relative paths get a
/// stable hash instead.
fn bulk_id(id: &str) -> String {
    if id.len() <= 512 {
        id.to_owned()
    } else {
        format!("xxh3-{:016x}", xxh3_64(id.as_bytes()))
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Data files of an earlier export into the same folder would otherwise be
/// loaded along with the new ones.
fn remove_previous_data_files(out: &Path) -> Result<()> {
    for entry in fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if (name.starts_with("docs-") || name.starts_with("bulk-")) && name.ends_with(".ndjson") {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// The fast-only fields of one segment.
struct FastColumns {
    size: tantivy::columnar::Column<u64>,
    mtime: tantivy::columnar::Column<i64>,
    hash: tantivy::columnar::Column<u64>,
    cluster: tantivy::columnar::Column<u64>,
    sketch: tantivy::columnar::Column<u64>,
}

impl FastColumns {
    fn open(reader: &tantivy::SegmentReader) -> tantivy::Result<FastColumns> {
        let ff = reader.fast_fields();
        Ok(FastColumns {
            size: ff.u64(FieldName::Size.as_str())?,
            mtime: ff.i64(FieldName::Mtime.as_str())?,
            hash: ff.u64(FieldName::Hash.as_str())?,
            cluster: ff.u64(FieldName::Cluster.as_str())?,
            sketch: ff.u64(FieldName::Sketch.as_str())?,
        })
    }
}

/// One document as exported: every schema field, `null` (or `[]`) when
/// the article has no value.
fn document_json(
    schema: &NewsSchema,
    doc: &TantivyDocument,
    cols: &FastColumns,
    doc_id: u32,
) -> Value {
    let mut map = serde_json::Map::new();
    for spec in schema.specs.iter().filter(|s| exported(s)) {
        let texts = || {
            doc.get_all(spec.field)
                .filter_map(|v| v.as_str())
                .collect::<Vec<&str>>()
        };
        let first = || texts().first().map_or(Value::Null, |s| Value::from(*s));
        let value = match spec.name {
            FieldName::Path
            | FieldName::Id
            | FieldName::Title
            | FieldName::Dateline
            | FieldName::Agency => first(),
            // Paragraphs are stored one value each; engines get one text.
            FieldName::Body => {
                let paragraphs = texts();
                if paragraphs.is_empty() {
                    Value::Null
                } else {
                    Value::from(paragraphs.join("\n\n"))
                }
            }
            FieldName::Captions | FieldName::PhotoCredits | FieldName::Contributors => {
                json!(texts())
            }
            FieldName::Date => doc
                .get_first(spec.field)
                .and_then(|v| v.as_datetime())
                .and_then(date_from_tantivy)
                .map_or(Value::Null, |d| Value::from(d.to_string())),
            FieldName::Size => cols.size.first(doc_id).map_or(Value::Null, Value::from),
            FieldName::Mtime => cols.mtime.first(doc_id).map_or(Value::Null, Value::from),
            FieldName::Hash => cols
                .hash
                .first(doc_id)
                .map_or(Value::Null, |h| Value::from(format!("{h:016x}"))),
            FieldName::Cluster => cols
                .cluster
                .first(doc_id)
                .map_or(Value::Null, |h| Value::from(format!("{h:016x}"))),
            FieldName::Sketch => json!(cols.sketch.values_for_doc(doc_id).collect::<Vec<u64>>()),
        };
        map.insert(spec.name.as_str().to_owned(), value);
    }
    Value::Object(map)
}

/// Writes lines into numbered files, starting a new file before one
/// would exceed the limit.
struct SplitWriter {
    dir: PathBuf,
    prefix: &'static str,
    max: u64,
    current: Option<(BufWriter<File>, PathBuf, u64)>,
    files: Vec<PathBuf>,
    bytes: u64,
}

impl SplitWriter {
    fn new(dir: &Path, prefix: &'static str, max: u64) -> SplitWriter {
        SplitWriter {
            dir: dir.to_owned(),
            prefix,
            max,
            current: None,
            files: Vec::new(),
            bytes: 0,
        }
    }

    /// Writes one record (one or more whole lines), never split across files.
    fn write(&mut self, record: &[u8]) -> Result<()> {
        let len = record.len() as u64;
        if let Some((_, _, written)) = &self.current
            && *written > 0
            && written + len > self.max
        {
            self.close()?;
        }
        if self.current.is_none() {
            let path = self.dir.join(format!(
                "{}-{:04}.ndjson",
                self.prefix,
                self.files.len() + 1
            ));
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.files.push(path.clone());
            self.current = Some((BufWriter::new(file), path, 0));
        }
        if let Some((w, path, written)) = &mut self.current {
            w.write_all(record).map_err(|e| Error::io(&*path, e))?;
            *written += len;
            self.bytes += len;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some((mut w, path, _)) = self.current.take() {
            w.flush().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(Vec<PathBuf>, u64)> {
        self.close()?;
        Ok((self.files, self.bytes))
    }
}

/// `delete` actions for ids of the previous export that are gone now.
fn write_deletes(previous: &Path, exported: &HashSet<u64>, data: &mut SplitWriter) -> Result<u64> {
    let path = previous.join("ids.ndjson");
    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut deleted = 0;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(&path, e))?;
        let id: String = serde_json::from_str(&line).map_err(|e| {
            Error::Usage(format!(
                "{}: line {}: not an id ({e})",
                path.display(),
                n + 1
            ))
        })?;
        if !exported.contains(&xxh3_64(id.as_bytes())) {
            let mut record = serde_json::to_vec(&json!({ "delete": { "_id": bulk_id(&id) } }))
                .map_err(json_err)?;
            record.push(b'\n');
            data.write(&record)?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Whether a field is exported: a field the index neither stores nor keeps
/// in a column (none in the shipped schema; a user's schema may drop
/// `stored`) has no values to give back.
fn exported(spec: &FieldSpec) -> bool {
    spec.stored || spec.fast
}

/// A YAML scalar: JSON string syntax is valid YAML and quotes everything
/// that needs it.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Quickwit's type for one field.
fn quickwit_field(spec: &FieldSpec) -> Vec<String> {
    let text = |tokenizer: &str, array: bool, fast: bool| {
        let mut lines = vec![
            format!("type: {}", if array { "array<text>" } else { "text" }),
            format!("tokenizer: {tokenizer}"),
        ];
        if tokenizer != "raw" {
            lines.push("record: position".into());
            lines.push("fieldnorms: true".into());
        }
        if fast {
            lines.push("fast: true".into());
        }
        lines
    };
    let news = || match spec.tokenizer {
        Some(TokenizerName::News) | None => "news",
        Some(TokenizerName::Keyword | TokenizerName::Raw) => "raw",
    };
    let mut lines = match spec.name {
        FieldName::Path | FieldName::Id | FieldName::Hash | FieldName::Cluster => {
            text("raw", false, true)
        }
        FieldName::Agency => text("raw", false, true),
        FieldName::Title | FieldName::Body => text(news(), false, false),
        FieldName::Dateline => text(news(), false, true),
        FieldName::Captions | FieldName::PhotoCredits | FieldName::Contributors => {
            text(news(), true, false)
        }
        FieldName::Date => vec![
            "type: datetime".into(),
            "input_formats: [\"%Y-%m-%d\"]".into(),
            "output_format: \"%Y-%m-%d\"".into(),
            "fast: true".into(),
            "fast_precision: seconds".into(),
        ],
        FieldName::Size => vec!["type: u64".into(), "fast: true".into()],
        FieldName::Sketch => vec!["type: array<u64>".into(), "fast: true".into()],
        FieldName::Mtime => vec!["type: i64".into(), "fast: true".into()],
    };
    lines.push("stored: true".into());
    lines.push("indexed: true".into());
    lines
}

/// The Quickwit index configuration (YAML) for this schema.
pub fn quickwit_config(schema: &NewsSchema, index_id: &str) -> String {
    let mut y = String::new();
    y.push_str("# Quickwit index configuration generated by `newsidx export --to quickwit`\n");
    y.push_str("# from index-schema/newsidx.toml. Differences from newsidx:\n");
    y.push_str("# - no query-time stemming: `negotiate` does not find `negotiations`\n");
    y.push_str("#   (use a prefix, `negotiat*`);\n");
    y.push_str("# - `remove_long` drops tokens over 255 bytes (newsidx: 40);\n");
    y.push_str("# - `agency` is matched case-sensitively (`agency:AP`);\n");
    y.push_str("# - default search fields are searched without newsidx's boosts.\n");
    y.push_str("version: 0.8\n");
    y.push_str(&format!("index_id: {}\n", yaml_str(index_id)));
    y.push_str("doc_mapping:\n");
    y.push_str("  mode: strict\n");
    y.push_str("  timestamp_field: date\n");
    y.push_str("  tokenizers:\n");
    y.push_str(
        "    # newsidx's `news` tokenizer: split on non-alphanumerics, lower-case, fold accents.\n",
    );
    y.push_str("    - name: news\n");
    y.push_str("      type: simple\n");
    y.push_str("      filters: [remove_long, lower_caser, ascii_folding]\n");
    y.push_str("  field_mappings:\n");
    for spec in schema.specs.iter().filter(|s| exported(s)) {
        y.push_str(&format!("    - name: {}\n", spec.name.as_str()));
        for line in quickwit_field(spec) {
            y.push_str(&format!("      {line}\n"));
        }
    }
    y.push_str("search_settings:\n");
    let fields: Vec<&str> = schema
        .default_fields
        .iter()
        .map(|(f, _)| f.as_str())
        .collect();
    y.push_str(&format!(
        "  default_search_fields: [{}]\n",
        fields.join(", ")
    ));
    y
}

/// The Elasticsearch/OpenSearch mapping of one field.
fn elasticsearch_field(spec: &FieldSpec) -> Value {
    let text = json!({
        "type": "text",
        "analyzer": "news_english",
        "fields": { "exact": { "type": "text", "analyzer": "news_exact" } },
    });
    let phrase_ok = spec.record == Some(Record::Position);
    let mut text = text;
    if !phrase_ok {
        text["index_options"] = json!("freqs");
    }
    match spec.name {
        FieldName::Path | FieldName::Id | FieldName::Hash | FieldName::Cluster => {
            json!({ "type": "keyword" })
        }
        FieldName::Agency => json!({ "type": "keyword", "normalizer": "lowercase_folded" }),
        FieldName::PhotoCredits => json!({
            "type": "keyword",
            "fields": { "text": { "type": "text", "analyzer": "news_exact" } },
        }),
        FieldName::Title | FieldName::Body | FieldName::Captions | FieldName::Contributors => text,
        FieldName::Dateline => {
            let mut t = text;
            t["fields"]["raw"] = json!({ "type": "keyword" });
            t
        }
        FieldName::Date => json!({ "type": "date", "format": "yyyy-MM-dd" }),
        FieldName::Size | FieldName::Mtime => json!({ "type": "long" }),
        FieldName::Sketch => json!({ "type": "unsigned_long" }),
    }
}

/// The Elasticsearch/OpenSearch index settings and mapping for this schema.
pub fn elasticsearch_index(schema: &NewsSchema) -> Value {
    let mut properties = serde_json::Map::new();
    for spec in schema.specs.iter().filter(|s| exported(s)) {
        properties.insert(spec.name.as_str().to_owned(), elasticsearch_field(spec));
    }
    json!({
        "settings": {
            "analysis": {
                "filter": {
                    "english_stop": { "type": "stop", "stopwords": "_english_" },
                    "english_stemmer": { "type": "stemmer", "language": "english" },
                    "english_possessive_stemmer": { "type": "stemmer", "language": "possessive_english" }
                },
                "analyzer": {
                    "news_english": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["english_possessive_stemmer", "lowercase", "asciifolding", "english_stop", "english_stemmer"]
                    },
                    "news_exact": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["lowercase", "asciifolding"]
                    }
                },
                "normalizer": {
                    "lowercase_folded": { "type": "custom", "filter": ["lowercase", "asciifolding"] }
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": Value::Object(properties)
        }
    })
}

fn readme(opts: &ExportOptions, report: &ExportReport, config_name: &str) -> String {
    let name = &opts.index_name;
    let files: Vec<String> = report
        .files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let mut r = String::new();
    match opts.target {
        Target::Quickwit => {
            r.push_str(&format!(
                "Quickwit export of a newsidx index: {} documents in {} files (each under 10 MB).\n\n",
                report.documents,
                files.len()
            ));
            r.push_str("With the quickwit CLI, from this folder:\n\n");
            r.push_str(&format!(
                "  quickwit index create --index-config {config_name}\n"
            ));
            r.push_str(&format!(
                "  for f in docs-*.ndjson; do quickwit index ingest --index {name} --input-path \"$f\" --force; done\n\n"
            ));
            r.push_str("Or through the REST API (QW=http://localhost:7280):\n\n");
            r.push_str(&format!(
                "  curl -XPOST \"$QW/api/v1/indexes\" -H 'Content-Type: application/yaml' --data-binary @{config_name}\n"
            ));
            r.push_str(&format!(
                "  for f in docs-*.ndjson; do curl -XPOST \"$QW/api/v1/{name}/ingest?commit=force\" --data-binary @\"$f\"; done\n"
            ));
            r.push_str(&format!(
                "  curl \"$QW/api/v1/{name}/search?query=neutrality\"\n\n"
            ));
            r.push_str("Articles without a date are indexed without a timestamp.\n");
        }
        Target::Elasticsearch => {
            r.push_str(&format!(
                "Elasticsearch/OpenSearch export of a newsidx index: {} documents, {} deletions, in {} bulk files.\n\n",
                report.documents,
                report.deleted,
                files.len()
            ));
            r.push_str(
                "From this folder (ES=http://localhost:9200; add -u user:password as needed):\n\n",
            );
            r.push_str("  # 1. Create a new, versioned index with the settings and mapping.\n");
            r.push_str(&format!(
                "  curl -sf -XPUT \"$ES/{name}-v1\" -H 'Content-Type: application/json' --data-binary @{config_name}\n\n"
            ));
            r.push_str("  # 2. Load the bulk files; a response with \"errors\":true lists the failed documents.\n");
            r.push_str(&format!(
                "  for f in bulk-*.ndjson; do\n    curl -s -XPOST \"$ES/{name}-v1/_bulk\" -H 'Content-Type: application/x-ndjson' \\\n      --data-binary @\"$f\" | grep -q '\"errors\":false' || echo \"errors in $f\"\n  done\n\n"
            ));
            r.push_str("  # 3. Point the alias that searches use at the new index (atomically).\n");
            r.push_str(&format!(
                "  curl -sf -XPOST \"$ES/_aliases\" -H 'Content-Type: application/json' -d '{{\"actions\": [\n    {{\"remove\": {{\"index\": \"{name}-*\", \"alias\": \"{name}\", \"must_exist\": false}}}},\n    {{\"add\": {{\"index\": \"{name}-v1\", \"alias\": \"{name}\"}}}}]}}'\n\n"
            ));
            r.push_str(&format!("  curl \"$ES/{name}/_search?q=neutrality\"\n\n"));
            r.push_str("An incremental export (`newsidx export --to elasticsearch --since-export PREVIOUS_DIR NEW_DIR`)\n");
            r.push_str("is loaded into the existing index with step 2 only: its bulk files re-index every\n");
            r.push_str(
                "document (same _id, so nothing is duplicated) and delete the ones gone since.\n",
            );
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_field_is_mapped_for_both_targets() {
        let schema = NewsSchema::embedded().unwrap();
        let es = elasticsearch_index(&schema);
        let qw = quickwit_config(&schema, "newsidx");
        for name in FieldName::ALL {
            assert!(exported(schema.spec(*name)), "{name:?}");
            assert!(
                es["mappings"]["properties"].get(name.as_str()).is_some(),
                "{name:?} missing in ES mapping"
            );
            assert!(
                qw.contains(&format!("- name: {}\n", name.as_str())),
                "{name:?} missing in Quickwit config"
            );
        }
    }

    #[test]
    fn split_writer_respects_the_limit_and_keeps_records_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = SplitWriter::new(tmp.path(), "docs", 100);
        for i in 0..20 {
            w.write(format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(30)).as_bytes())
                .unwrap();
        }
        let (files, bytes) = w.finish().unwrap();
        assert!(files.len() > 5);
        let mut total = 0;
        for f in &files {
            let text = fs::read_to_string(f).unwrap();
            assert!(text.len() <= 100, "{}", text.len());
            assert!(text.ends_with('\n'));
            total += text.len() as u64;
        }
        assert_eq!(total, bytes);
    }

    #[test]
    fn ids_and_names() {
        assert_eq!(bulk_id("a/b.txt"), "a/b.txt");
        assert!(bulk_id(&"x".repeat(600)).starts_with("xxh3-"));
        assert!(valid_index_name("newsidx-2024"));
        assert!(!valid_index_name("News"));
        assert!(!valid_index_name("_x"));
    }
}
