//! The index schema: loaded from `index-schema/`, validated, turned into a
//! tantivy `Schema`, and used to turn an [`Article`] into a document.
//!
//! The code decides which fields exist ([`FieldName`]); the schema file
//! decides how each is indexed, stored and boosted. Loading resolves every
//! field handle once into [`Fields`], so nothing else calls `get_field`.
//! Custom tokenizers are not stored in a tantivy index, so [`register_tokenizers`]
//! runs on every open, for ingest and search alike.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions,
    Schema as TantivySchema, TextFieldIndexing, TextOptions,
};
use tantivy::store::Compressor;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy::{DateTime, Index, IndexSettings, TantivyDocument};

use crate::article::{Article, Date};
use crate::error::{Error, Result};
use crate::sketch::Sketch;

/// The schema file shipped in `index-schema/`, embedded so the binary runs
/// from any directory.
pub const EMBEDDED: &str = include_str!("../index-schema/newsidx.toml");

/// Name shown in errors about the embedded schema.
pub const EMBEDDED_NAME: &str = "<embedded index-schema/newsidx.toml>";

/// The embedded schema as JSON, converted by `build.rs` (which also fails
/// the build on a broken file): every search loads the schema, and parsing
/// TOML cost 5% of a search on the corpus, JSON a tenth of that.
const EMBEDDED_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/newsidx-schema.json"));

/// Tokens longer than this many bytes are dropped: they are base64 blobs,
/// URLs and table rules, never words anyone searches for.
pub const MAX_TOKEN_BYTES: usize = 40;

macro_rules! field_names {
    ($($variant:ident => $name:literal : $ty:ident,)*) => {
        /// The fields newsidx knows. The schema file configures each one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum FieldName { $($variant,)* }

        impl FieldName {
            /// Every field, in schema order.
            pub const ALL: &'static [FieldName] = &[$(FieldName::$variant,)*];

            /// The field's name in the schema file and in queries.
            pub fn as_str(self) -> &'static str {
                match self { $(FieldName::$variant => $name,)* }
            }

            fn kind(self) -> FieldType {
                match self { $(FieldName::$variant => FieldType::$ty,)* }
            }

            /// Looks a field up by its schema name.
            pub fn from_name(name: &str) -> Option<FieldName> {
                match name { $($name => Some(FieldName::$variant),)* _ => None }
            }
        }
    };
}

field_names! {
    Path => "path": String,
    Id => "id": String,
    Title => "title": Text,
    Body => "body": Text,
    Captions => "captions": Text,
    PhotoCredits => "photo_credits": Text,
    Contributors => "contributors": Text,
    Dateline => "dateline": Text,
    Agency => "agency": Text,
    Date => "date": Date,
    Size => "size": U64,
    Mtime => "mtime": I64,
    Hash => "hash": U64,
    Cluster => "cluster": U64,
    Sketch => "sketch": U64,
}

/// Value types a schema field can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Tokenized text.
    Text,
    /// One untokenized value.
    String,
    /// A calendar date.
    Date,
    /// Unsigned integer.
    U64,
    /// Signed integer.
    I64,
}

/// How much a text field's postings record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Record {
    /// Document ids only.
    Basic,
    /// Ids and term frequencies (BM25 needs them).
    Freq,
    /// Ids, frequencies and positions (phrase queries need them).
    Position,
}

/// The tokenizers newsidx registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerName {
    /// Words: split on non-alphanumerics, lower-case, fold accents, drop long tokens.
    News,
    /// The whole value as one lower-cased, accent-folded token.
    Keyword,
    /// The whole value as is.
    Raw,
}

impl TokenizerName {
    fn as_str(self) -> &'static str {
        match self {
            TokenizerName::News => "news",
            TokenizerName::Keyword => "keyword",
            TokenizerName::Raw => "raw",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    version: u32,
    #[serde(default)]
    index: IndexSection,
    search: SearchSection,
    #[serde(default)]
    dedup: DedupSection,
    #[serde(rename = "field")]
    fields: Vec<FieldEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexSection {
    #[serde(default = "default_compression")]
    docstore_compression: String,
    #[serde(default = "default_blocksize")]
    docstore_blocksize: usize,
}

impl Default for IndexSection {
    fn default() -> Self {
        IndexSection {
            docstore_compression: default_compression(),
            docstore_blocksize: default_blocksize(),
        }
    }
}

fn default_compression() -> String {
    "lz4".into()
}

fn default_blocksize() -> usize {
    8_192
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchSection {
    default_fields: BTreeMap<String, f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DedupSection {
    threshold: f32,
    #[serde(default = "enabled")]
    enabled: bool,
}

fn enabled() -> bool {
    true
}

impl Default for DedupSection {
    fn default() -> Self {
        DedupSection {
            threshold: 0.7,
            enabled: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldEntry {
    name: String,
    #[serde(rename = "type")]
    ty: FieldType,
    #[serde(default)]
    aliases: Vec<String>,
    tokenizer: Option<TokenizerName>,
    record: Option<Record>,
    indexed: Option<bool>,
    #[serde(default)]
    stored: bool,
    #[serde(default)]
    fast: bool,
}

/// One field as configured by the schema file.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// Which field.
    pub name: FieldName,
    /// Other names queries may use for it.
    pub aliases: Vec<String>,
    /// The value type.
    pub ty: FieldType,
    /// Tokenizer of a text field.
    pub tokenizer: Option<TokenizerName>,
    /// What the postings record (text fields).
    pub record: Option<Record>,
    /// Whether the field is searchable.
    pub indexed: bool,
    /// Whether the value is kept for display.
    pub stored: bool,
    /// Whether the value is kept column-wise for sorting and facets.
    pub fast: bool,
    /// The tantivy field handle.
    pub field: Field,
}

/// Resolved tantivy handles of every field.
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)]
pub struct Fields {
    pub path: Field,
    pub id: Field,
    pub title: Field,
    pub body: Field,
    pub captions: Field,
    pub photo_credits: Field,
    pub contributors: Field,
    pub dateline: Field,
    pub agency: Field,
    pub date: Field,
    pub size: Field,
    pub mtime: Field,
    pub hash: Field,
    pub cluster: Field,
    pub sketch: Field,
}

/// A loaded, validated schema.
#[derive(Debug, Clone)]
pub struct NewsSchema {
    /// Where it came from, for error messages.
    pub source: String,
    /// The tantivy schema built from it.
    pub tantivy: TantivySchema,
    /// Field handles.
    pub fields: Fields,
    /// Every field's configuration, in [`FieldName::ALL`] order.
    pub specs: Vec<FieldSpec>,
    /// Default search fields with their boosts.
    pub default_fields: Vec<(FieldName, f32)>,
    /// Estimated Jaccard similarity from which two bodies are one story.
    pub dedup_threshold: f32,
    /// Whether ingest clusters copies at all; when not, every article is
    /// a story of its own, and ingest is a quarter to a third faster.
    pub dedup_enabled: bool,
    settings: IndexSettings,
}

/// The file-level info of a document, next to its parsed [`Article`].
#[derive(Debug, Clone, Copy)]
pub struct FileInfo<'a> {
    /// Absolute path, the document key.
    pub path: &'a str,
    /// Path relative to the ingested folder.
    pub id: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime: i64,
    /// xxh3-64 of the bytes.
    pub hash: u64,
}

impl NewsSchema {
    /// Loads the embedded schema.
    ///
    /// # Errors
    ///
    /// Only if the shipped file is broken, which a unit test rules out.
    pub fn embedded() -> Result<NewsSchema> {
        let file = serde_json::from_str(EMBEDDED_JSON).map_err(|e| Error::Schema {
            file: EMBEDDED_NAME.to_owned(),
            field: None,
            reason: e.to_string(),
        })?;
        NewsSchema::from_file_contents(file, EMBEDDED_NAME)
    }

    /// Loads a schema file from disk.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or is not a valid schema.
    pub fn from_file(path: &Path) -> Result<NewsSchema> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        NewsSchema::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates schema text; `source` names it in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] naming the file and, where it applies, the field.
    pub fn from_toml(text: &str, source: &str) -> Result<NewsSchema> {
        let file: SchemaFile = toml::from_str(text).map_err(|e| Error::Schema {
            file: source.to_owned(),
            field: None,
            reason: e.message().to_owned() + &toml_location(text, &e),
        })?;
        NewsSchema::from_file_contents(file, source)
    }

    fn from_file_contents(file: SchemaFile, source: &str) -> Result<NewsSchema> {
        let err = |field: Option<&str>, reason: String| Error::Schema {
            file: source.to_owned(),
            field: field.map(str::to_owned),
            reason,
        };
        if file.version != 1 {
            return Err(err(
                None,
                format!(
                    "unsupported version {} (this newsidx reads version 1)",
                    file.version
                ),
            ));
        }

        let mut builder = TantivySchema::builder();
        let mut specs: Vec<Option<FieldSpec>> = vec![None; FieldName::ALL.len()];
        for entry in &file.fields {
            let name = FieldName::from_name(&entry.name).ok_or_else(|| {
                err(
                    Some(&entry.name),
                    format!("unknown field (known: {})", known_fields()),
                )
            })?;
            let slot = &mut specs[name as usize];
            if slot.is_some() {
                return Err(err(Some(&entry.name), "defined twice".into()));
            }
            let spec =
                validate_field(entry, name).map_err(|reason| err(Some(&entry.name), reason))?;
            let field = add_field(&mut builder, &spec);
            *slot = Some(FieldSpec { field, ..spec });
        }
        let specs: Vec<FieldSpec> = specs
            .into_iter()
            .zip(FieldName::ALL)
            .map(|(s, name)| {
                s.ok_or_else(|| {
                    err(
                        Some(name.as_str()),
                        "missing: every field must be configured".into(),
                    )
                })
            })
            .collect::<Result<_>>()?;

        let mut default_fields = Vec::new();
        for (name, &boost) in &file.search.default_fields {
            let spec = specs
                .iter()
                .find(|s| s.name.as_str() == name)
                .ok_or_else(|| {
                    err(
                        Some(name),
                        "default search field is not a schema field".into(),
                    )
                })?;
            if spec.ty != FieldType::Text || !spec.indexed {
                return Err(err(
                    Some(name),
                    "a default search field must be an indexed text field".into(),
                ));
            }
            if !(boost.is_finite() && boost > 0.0) {
                return Err(err(
                    Some(name),
                    format!("boost must be a positive number, not {boost}"),
                ));
            }
            default_fields.push((spec.name, boost));
        }
        if default_fields.is_empty() {
            return Err(err(None, "[search] default_fields is empty".into()));
        }
        let dedup_threshold = file.dedup.threshold;
        if !(dedup_threshold > 0.0 && dedup_threshold <= 1.0) {
            return Err(err(
                None,
                format!("[dedup] threshold must be in (0, 1], not {dedup_threshold}"),
            ));
        }

        let settings = IndexSettings {
            docstore_compression: match file.index.docstore_compression.as_str() {
                "lz4" => Compressor::Lz4,
                "none" => Compressor::None,
                other => {
                    return Err(err(
                        None,
                        format!("docstore_compression {other:?} is not one of \"lz4\", \"none\""),
                    ));
                }
            },
            docstore_blocksize: file.index.docstore_blocksize.clamp(1024, 1 << 20),
            ..IndexSettings::default()
        };

        let field = |n: FieldName| specs[n as usize].field;
        let fields = Fields {
            path: field(FieldName::Path),
            id: field(FieldName::Id),
            title: field(FieldName::Title),
            body: field(FieldName::Body),
            captions: field(FieldName::Captions),
            photo_credits: field(FieldName::PhotoCredits),
            contributors: field(FieldName::Contributors),
            dateline: field(FieldName::Dateline),
            agency: field(FieldName::Agency),
            date: field(FieldName::Date),
            size: field(FieldName::Size),
            mtime: field(FieldName::Mtime),
            hash: field(FieldName::Hash),
            cluster: field(FieldName::Cluster),
            sketch: field(FieldName::Sketch),
        };
        Ok(NewsSchema {
            source: source.to_owned(),
            tantivy: builder.build(),
            fields,
            specs,
            default_fields,
            dedup_threshold,
            dedup_enabled: file.dedup.enabled,
            settings,
        })
    }

    /// The configuration of one field.
    pub fn spec(&self, name: FieldName) -> &FieldSpec {
        &self.specs[name as usize]
    }

    /// Resolves a field name or alias typed by a user.
    pub fn resolve(&self, name: &str) -> Option<&FieldSpec> {
        self.specs
            .iter()
            .find(|s| s.name.as_str() == name || s.aliases.iter().any(|a| a == name))
    }

    /// The names users may type before `:`, for error messages.
    pub fn query_field_names(&self) -> Vec<&str> {
        self.specs
            .iter()
            .filter(|s| s.indexed)
            .flat_map(|s| {
                std::iter::once(s.name.as_str()).chain(s.aliases.iter().map(String::as_str))
            })
            .collect()
    }

    /// Index settings (doc store compression) for a new index.
    pub fn index_settings(&self) -> IndexSettings {
        self.settings.clone()
    }

    /// Creates a tantivy index with this schema in `dir`, tokenizers registered.
    ///
    /// # Errors
    ///
    /// When tantivy cannot create the index files.
    pub fn create_index(&self, dir: &Path) -> Result<Index> {
        let index = crate::indexdir::create_index(dir, self.tantivy.clone(), self.index_settings())
            .map_err(|e| {
                Error::engine(format!("cannot create an index in {}", dir.display()), e)
            })?;
        register_tokenizers(&index);
        Ok(index)
    }

    /// Checks that an opened index was built with this schema and registers
    /// the tokenizers.
    ///
    /// # Errors
    ///
    /// [`Error::SchemaMismatch`] when the index's schema differs.
    pub fn attach(&self, index: &Index, dir: &Path) -> Result<()> {
        if index.schema() != self.tantivy {
            return Err(Error::SchemaMismatch {
                dir: dir.to_owned(),
            });
        }
        register_tokenizers(index);
        Ok(())
    }

    /// Turns a parsed article into a document of story `cluster`.
    pub fn to_document(
        &self,
        article: &Article<'_>,
        file: &FileInfo<'_>,
        sketch: Option<&Sketch>,
        cluster: u64,
    ) -> TantivyDocument {
        let f = &self.fields;
        // Nearly all of a document is the file's text: sized for it at once
        // rather than doubled from tantivy's 1 KiB default (three copies of
        // a typical article, and up to twice its size held in the queue).
        let bytes = usize::try_from(file.size).unwrap_or(0) + 2 * file.path.len() + 256;
        let mut doc = TantivyDocument::with_capacity(bytes);
        doc.add_text(f.path, file.path);
        doc.add_text(f.id, file.id);
        if let Some(title) = &article.title {
            doc.add_text(f.title, title);
        }
        for p in &article.body {
            doc.add_text(f.body, p);
        }
        for c in &article.captions {
            doc.add_text(f.captions, c);
        }
        for c in &article.photo_credits {
            doc.add_text(f.photo_credits, c);
        }
        for c in &article.contributors {
            doc.add_text(f.contributors, c);
        }
        if let Some(d) = &article.dateline {
            doc.add_text(f.dateline, d);
        }
        if let Some(a) = &article.agency {
            doc.add_text(f.agency, a);
        }
        if let Some(date) = article.date {
            doc.add_date(f.date, date_to_tantivy(date));
        }
        doc.add_u64(f.size, file.size);
        doc.add_i64(f.mtime, file.mtime);
        doc.add_u64(f.hash, file.hash);
        doc.add_u64(f.cluster, cluster);
        if let Some(sketch) = sketch {
            for w in sketch.compact().to_words() {
                doc.add_u64(f.sketch, w);
            }
        }
        doc
    }
}

/// A calendar date as tantivy's timestamp (midnight UTC).
pub fn date_to_tantivy(date: Date) -> DateTime {
    DateTime::from_timestamp_secs(date.days_since_epoch() * 86_400)
}

/// The calendar date of a tantivy timestamp.
pub fn date_from_tantivy(dt: DateTime) -> Option<Date> {
    Date::from_days_since_epoch(dt.into_timestamp_secs().div_euclid(86_400))
}

fn known_fields() -> String {
    FieldName::ALL
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn toml_location(text: &str, e: &toml::de::Error) -> String {
    e.span()
        .map(|span| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        })
        .unwrap_or_default()
}

/// Checks one entry against what the code needs from that field.
fn validate_field(entry: &FieldEntry, name: FieldName) -> std::result::Result<FieldSpec, String> {
    let expected = name.kind();
    if entry.ty != expected {
        return Err(format!("type must be {expected:?}, not {:?}", entry.ty).to_lowercase());
    }
    let is_text = entry.ty == FieldType::Text;
    if !is_text && (entry.tokenizer.is_some() || entry.record.is_some()) {
        return Err("`tokenizer` and `record` apply to text fields only".into());
    }
    let indexed = entry.indexed.unwrap_or(is_text);
    if is_text && entry.tokenizer.is_none() && indexed {
        return Err("an indexed text field needs a `tokenizer` (news, keyword or raw)".into());
    }
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("must be {what}"))
        }
    };
    match name {
        // Incremental ingest finds documents by path and compares these.
        FieldName::Path => need(
            indexed && entry.fast && entry.stored,
            "indexed, stored and fast",
        )?,
        FieldName::Size
        | FieldName::Mtime
        | FieldName::Hash
        | FieldName::Cluster
        | FieldName::Sketch => need(entry.fast, "fast")?,
        FieldName::Id => need(entry.stored, "stored")?,
        FieldName::Date => need(entry.fast, "fast (sorting and date filters read it)")?,
        // Snippets are cut from the stored text.
        FieldName::Body | FieldName::Title | FieldName::Captions => {
            need(entry.stored, "stored (snippets read it)")?
        }
        _ => {}
    }
    if entry.record == Some(Record::Basic) && entry.tokenizer == Some(TokenizerName::News) {
        return Err("record = \"basic\" loses term frequencies, which BM25 ranking needs; use \"freq\" or \"position\"".into());
    }
    Ok(FieldSpec {
        name,
        aliases: entry.aliases.clone(),
        ty: entry.ty,
        tokenizer: entry.tokenizer,
        record: entry.record.or(is_text.then_some(Record::Position)),
        indexed,
        stored: entry.stored,
        fast: entry.fast,
        field: Field::from_field_id(0),
    })
}

fn add_field(builder: &mut tantivy::schema::SchemaBuilder, spec: &FieldSpec) -> Field {
    let name = spec.name.as_str();
    match spec.ty {
        FieldType::Text | FieldType::String => {
            let mut opts = TextOptions::default();
            if spec.indexed {
                let (tokenizer, record) = match spec.ty {
                    FieldType::String => ("raw", IndexRecordOption::Basic),
                    _ => (
                        spec.tokenizer.unwrap_or(TokenizerName::News).as_str(),
                        match spec.record.unwrap_or(Record::Position) {
                            Record::Basic => IndexRecordOption::Basic,
                            Record::Freq => IndexRecordOption::WithFreqs,
                            Record::Position => IndexRecordOption::WithFreqsAndPositions,
                        },
                    ),
                };
                opts = opts.set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(tokenizer)
                        .set_index_option(record)
                        .set_fieldnorms(spec.ty == FieldType::Text),
                );
            }
            if spec.stored {
                opts = opts.set_stored();
            }
            if spec.fast {
                opts = opts.set_fast("raw");
            }
            builder.add_text_field(name, opts)
        }
        FieldType::Date => {
            let mut opts = DateOptions::default().set_precision(DateTimePrecision::Seconds);
            if spec.indexed {
                opts = opts.set_indexed();
            }
            if spec.stored {
                opts = opts.set_stored();
            }
            if spec.fast {
                opts = opts.set_fast();
            }
            builder.add_date_field(name, opts)
        }
        FieldType::U64 | FieldType::I64 => {
            let mut opts = NumericOptions::default();
            if spec.indexed {
                opts = opts.set_indexed();
            }
            if spec.stored {
                opts = opts.set_stored();
            }
            if spec.fast {
                opts = opts.set_fast();
            }
            if spec.ty == FieldType::U64 {
                builder.add_u64_field(name, opts)
            } else {
                builder.add_i64_field(name, opts)
            }
        }
    }
}

/// The analyzer behind the `news` tokenizer.
pub fn news_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(NewsTokenizer::default())
}

/// tantivy's `SimpleTokenizer`, `RemoveLongFilter` (at
/// [`MAX_TOKEN_BYTES`]), `LowerCaser` and `AsciiFoldingFilter` in one pass:
/// the same tokens, positions and offsets, but ASCII words (nearly all
/// words of English news) are found byte by byte and lower-cased as
/// they are copied, where the chain decoded every character and walked
/// every token through three filters. That was a fifth of the
/// instructions of an ingest. A word with other characters goes through
/// tantivy's own filters.
#[derive(Clone)]
pub struct NewsTokenizer {
    token: Token,
    fold: TextAnalyzer,
}

impl Default for NewsTokenizer {
    fn default() -> Self {
        NewsTokenizer {
            token: Token::default(),
            fold: TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        }
    }
}

/// A [`NewsTokenizer`]'s tokens of one text.
pub struct NewsTokenStream<'a> {
    text: &'a str,
    at: usize,
    token: &'a mut Token,
    fold: &'a mut TextAnalyzer,
}

impl Tokenizer for NewsTokenizer {
    type TokenStream<'a> = NewsTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> NewsTokenStream<'a> {
        self.token.reset();
        NewsTokenStream {
            text,
            at: 0,
            token: &mut self.token,
            fold: &mut self.fold,
        }
    }
}

/// ASCII letters and digits, as `char::is_alphanumeric` sees them.
static ALNUM: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

impl NewsTokenStream<'_> {
    /// Where the run of characters that are (or are not) alphanumeric
    /// starting at `at` ends, and whether it is all ASCII.
    #[inline(always)]
    fn run(&self, mut at: usize, alphanumeric: bool) -> (usize, bool) {
        let bytes = self.text.as_bytes();
        let mut ascii = true;
        while at < bytes.len() {
            let b = bytes[at];
            if b < 0x80 {
                if ALNUM[usize::from(b)] != alphanumeric {
                    break;
                }
                at += 1;
            } else {
                let Some(c) = self.text.get(at..).and_then(|t| t.chars().next()) else {
                    break;
                };
                if c.is_alphanumeric() != alphanumeric {
                    break;
                }
                ascii = false;
                at += c.len_utf8();
            }
        }
        (at, ascii)
    }
}

impl TokenStream for NewsTokenStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            let (start, _) = self.run(self.at, false);
            if start == self.text.len() {
                return false;
            }
            let (end, ascii) = self.run(start, true);
            self.at = end;
            // Every word takes a position, a dropped long one too.
            self.token.position = self.token.position.wrapping_add(1);
            if end - start >= MAX_TOKEN_BYTES {
                continue;
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.text.clear();
            let word = &self.text[start..end];
            if ascii {
                self.token.text.push_str(word);
                self.token.text.make_ascii_lowercase();
            } else {
                let mut folded = self.fold.token_stream(word);
                if folded.advance() {
                    self.token.text.push_str(&folded.token().text);
                }
            }
            return true;
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Registers newsidx's tokenizers on an index. Must run on every open:
/// tantivy does not persist custom tokenizers.
pub fn register_tokenizers(index: &Index) {
    let manager = index.tokenizers();
    manager.register(TokenizerName::News.as_str(), news_analyzer());
    manager.register(
        TokenizerName::Keyword.as_str(),
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article;

    /// The chain [`NewsTokenizer`] stands for.
    fn tantivy_chain() -> TextAnalyzer {
        use tantivy::tokenizer::{RemoveLongFilter, SimpleTokenizer};
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build()
    }

    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn news_tokenizer_is_the_tantivy_chain(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Gov", "ERNMENT", "7", "x".repeat(39).leak(), "y".repeat(40).leak(), " ",
                ",", "-", "'", "\n", "\u{0}", "é", "É", "ß", "İ", "Σ", "ﬁ", "Æ", "日本", "٣",
                "\u{301}", "\u{a0}", "—", "€", "😀", "ŉ", "Ǆ",
            ]), 0..80),
        ) {
            let text: String = parts.concat();
            let ours = tokens(&mut news_analyzer(), &text);
            proptest::prop_assert_eq!(&ours, &tokens(&mut tantivy_chain(), &text), "{:?}", text);
            // One analyzer reused, as tantivy does.
            let mut reused = news_analyzer();
            tokens(&mut reused, "Other text first");
            proptest::prop_assert_eq!(ours, tokens(&mut reused, &text));
        }
    }

    fn shipped_with(from: &str, to: &str) -> String {
        assert!(EMBEDDED.contains(from), "{from}");
        EMBEDDED.replacen(from, to, 1)
    }

    fn schema_error(text: &str) -> String {
        NewsSchema::from_toml(text, "test.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn embedded_json_is_the_shipped_toml() {
        // Debug output, less tantivy's field map (a HashMap, printed in
        // any order).
        let show = |s: &NewsSchema| {
            let (specs, boosts) = (&s.specs, &s.default_fields);
            let (threshold, enabled, settings) = (s.dedup_threshold, s.dedup_enabled, &s.settings);
            format!("{specs:?} {boosts:?} {threshold} {enabled} {settings:?}")
        };
        let json = NewsSchema::embedded().unwrap();
        let toml = NewsSchema::from_toml(EMBEDDED, EMBEDDED_NAME).unwrap();
        assert_eq!(json.tantivy, toml.tantivy);
        assert_eq!(show(&json), show(&toml));
        // The comparison sees a change in the file.
        let edited = NewsSchema::from_toml(&EMBEDDED.replacen("2.0", "3.0", 1), "x").unwrap();
        assert_ne!(show(&edited), show(&json));
    }

    #[test]
    fn shipped_schema_loads() {
        let s = NewsSchema::embedded().unwrap();
        assert_eq!(s.specs.len(), FieldName::ALL.len());
        assert!(
            s.default_fields
                .iter()
                .any(|(f, b)| *f == FieldName::Title && *b > 1.0)
        );
        assert_eq!(
            s.resolve("caption").map(|s| s.name),
            Some(FieldName::Captions)
        );
        assert_eq!(
            s.resolve("credit").map(|s| s.name),
            Some(FieldName::PhotoCredits)
        );
        assert!(s.resolve("nope").is_none());
    }

    #[test]
    fn bad_schemas_name_the_file_and_field() {
        let e = schema_error(&shipped_with("name = \"cluster\"", "name = \"clustre\""));
        assert!(
            e.contains("test.toml") && e.contains("`clustre`") && e.contains("unknown field"),
            "{e}"
        );
        let e = schema_error(&shipped_with(
            "name = \"date\"\ntype = \"date\"",
            "name = \"date\"\ntype = \"u64\"",
        ));
        assert!(
            e.contains("`date`") && e.contains("type must be date"),
            "{e}"
        );
        let e = schema_error(&shipped_with(
            "name = \"body\"\ntype = \"text\"\ntokenizer = \"news\"\nrecord = \"position\"\nstored = true",
            "name = \"body\"\ntype = \"text\"\ntokenizer = \"news\"\nrecord = \"position\"",
        ));
        assert!(e.contains("`body`") && e.contains("stored"), "{e}");
        let e = schema_error(&shipped_with(
            "tokenizer = \"keyword\"",
            "tokenizer = \"klingon\"",
        ));
        assert!(e.contains("test.toml") && e.contains("klingon"), "{e}");
        let e = schema_error(&shipped_with("title = 2.0", "headline = 2.0"));
        assert!(e.contains("`headline`"), "{e}");
        let e = schema_error("version = 1\n[search]\ndefault_fields = { body = 1.0 }\n");
        assert!(e.contains("missing field"), "{e}");
        let e = schema_error("not toml at all [");
        assert!(e.contains("test.toml") && e.contains("line 1"), "{e}");
        let e = schema_error(&shipped_with("version = 1", "version = 2"));
        assert!(e.contains("version 2"), "{e}");
        let e = schema_error(&shipped_with("threshold = 0.7", "threshold = 1.5"));
        assert!(e.contains("[dedup] threshold") && e.contains("1.5"), "{e}");
        let e = schema_error(&shipped_with(
            "name = \"sketch\"\ntype = \"u64\"\nfast = true",
            "name = \"sketch\"\ntype = \"u64\"",
        ));
        assert!(e.contains("`sketch`") && e.contains("fast"), "{e}");
    }

    #[test]
    fn every_field_is_required() {
        let text = shipped_with(
            "[[field]]\n# The story's cluster: every copy carries the same value.\nname = \"cluster\"\ntype = \"u64\"\nfast = true\n",
            "",
        );
        let e = schema_error(&text);
        assert!(e.contains("`cluster`") && e.contains("missing"), "{e}");
    }

    #[test]
    fn document_carries_every_article_field() {
        let schema = NewsSchema::embedded().unwrap();
        let text = include_str!("../seeds/000_3f0eb7fae6c7b69d.txt");
        let a = article::parse(text).unwrap();
        let info = FileInfo {
            path: "/x/seed.txt",
            id: "seed.txt",
            size: 10,
            mtime: 5,
            hash: 7,
        };
        let sketch = Sketch::of(&a).unwrap();
        let doc = schema.to_document(&a, &info, Some(&sketch), 42);
        use tantivy::schema::document::Value;
        let texts = |f: Field| {
            doc.get_all(f)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(schema.fields.captions).len(), 15);
        assert_eq!(texts(schema.fields.dateline), vec!["LVIV, Ukraine"]);
        assert_eq!(texts(schema.fields.agency), vec!["AP"]);
        assert_eq!(texts(schema.fields.path), vec!["/x/seed.txt"]);
        let date = doc
            .get_first(schema.fields.date)
            .and_then(|v| v.as_datetime())
            .unwrap();
        assert_eq!(date_from_tantivy(date), article::Date::new(2022, 3, 28));
        let u64s = |f: Field| {
            doc.get_all(f)
                .filter_map(|v| v.as_u64())
                .collect::<Vec<_>>()
        };
        assert_eq!(u64s(schema.fields.cluster), vec![42]);
        let sketch_words = u64s(schema.fields.sketch);
        assert_eq!(
            crate::sketch::Compact::from_words(sketch_words),
            Some(sketch.compact())
        );
    }

    #[test]
    fn every_indexable_date_round_trips_through_tantivy() {
        let (start, end) = (*Date::INDEXABLE.start(), *Date::INDEXABLE.end());
        let mut days = 0;
        for n in start.days_since_epoch()..=end.days_since_epoch() {
            let date = Date::from_days_since_epoch(n).unwrap();
            // As the index stores it: truncated to the date field's precision.
            let stored = date_to_tantivy(date).truncate(DateTimePrecision::Seconds);
            assert_eq!(date_from_tantivy(stored), Some(date), "{date}");
            days += 1;
        }
        // 1678..=2261 is 584 years, 141 of them leap years.
        assert_eq!(days, 584 * 365 + 141);
    }

    #[test]
    fn the_indexable_range_is_inside_tantivys_nanoseconds() {
        let nanos = |y, m, d| {
            let date = Date::new(y, m, d).unwrap();
            date.days_since_epoch().checked_mul(86_400 * 1_000_000_000)
        };
        let (start, end) = (*Date::INDEXABLE.start(), *Date::INDEXABLE.end());
        assert!(nanos(start.year(), start.month(), start.day()).is_some());
        assert!(nanos(end.year(), end.month(), end.day()).is_some());
        // The true ends, as `Date::INDEXABLE` gives them.
        assert!(nanos(1677, 9, 22).is_some());
        assert_eq!(nanos(1677, 9, 21), None);
        assert!(nanos(2262, 4, 11).is_some());
        assert_eq!(nanos(2262, 4, 12), None);
    }

    #[test]
    fn in_ram_index_has_the_schema() {
        let schema = NewsSchema::embedded().unwrap();
        let index = Index::create_in_ram(schema.tantivy.clone());
        schema.attach(&index, Path::new("ram")).unwrap();
        let other = NewsSchema::from_toml(
            &shipped_with("record = \"basic\"", "record = \"freq\""),
            "x",
        )
        .unwrap();
        assert!(matches!(
            other.attach(&index, Path::new("ram")),
            Err(Error::SchemaMismatch { .. })
        ));
    }
}
