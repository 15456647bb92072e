//! Command-line flags (clap derive) and their conversion into the
//! library's option structs. Nothing here touches the index.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand, ValueEnum};
use newsidx::article::Date;
use newsidx::export::{ExportOptions, Target};
use newsidx::ingest::{self, IngestOptions};
use newsidx::query;
use newsidx::schema::{FieldName, NewsSchema};
use newsidx::search::{FacetKind, SearchOptions, Sort};

const EXIT_CODES: &str = "\
Exit codes:
  search   0 at least one hit, 1 no hits, 2 error (bad query, no index, ...)
  ingest   0 committed (skipped files are counted in the summary)
           2 fatal error: nothing of this run was committed past the last batch,
             and the index is as it was at its last commit
           3 another ingest holds the index lock (see --wait)
           4 committed, but files were skipped and --strict was given
  status   0 index found, 2 error
  export   0 written, 2 error";

/// Full-text search for archives of news articles.
///
/// Ingest folders of article files, then search them with ranked,
/// highlighted results. The index lives in --index DIR, else
/// $NEWSIDX_INDEX, else a per-user data directory.
#[derive(Debug, Parser)]
#[command(name = "newsidx", version, after_help = EXIT_CODES, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// Index directory [default: $NEWSIDX_INDEX, else ~/.local/share/newsidx/index]
    #[arg(long, global = true, value_name = "DIR")]
    pub index: Option<PathBuf>,

    /// Schema file to use instead of the built-in index-schema/newsidx.toml
    #[arg(long, global = true, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// Print nothing but errors and warnings (and results)
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// When to colour output: auto (a terminal and NO_COLOR unset), always, never
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index the articles in one or more folders (only new and changed files)
    Ingest(IngestArgs),
    /// Search the index
    #[command(long_about = SEARCH_HELP)]
    Search(SearchArgs),
    /// Show what the index holds and whether an ingest is running
    Status(StatusArgs),
    /// Export the index for Quickwit or Elasticsearch/OpenSearch
    Export(ExportArgs),
    /// List the articles most like one: other copies of its story, then related stories
    Similar(SimilarArgs),
    /// List stories present in several copies (clusters of near-duplicates), largest first
    Dups(DupsArgs),
}

const SEARCH_HELP: &str = "\
Search the index: hits ranked by BM25 with highlighted snippets.

Query syntax (every word must match unless --or):
  peace talks                 both words (stemmed: `negotiate` finds `negotiations`)
  =negotiate                  exactly this word, no stemming
  \"security guarantees\"       a phrase; \"peace talks\"~3 allows 3 words between
  neutral*  zelensky~1        prefix; fuzzy (edit distance 1 or 2)
  a OR b   a AND b   NOT a  -a  +a   ( ... )   word^2 (boost)
  body: caption: title: dateline: agency: contributors: credit:   one field
  date:2022-03-28  date:2022-03  date:[2022-03-01 TO 2022-03-31]   dates (inclusive)
  *                           every document (with filters: `* --since 2022-03-01`)
AND binds tighter than OR: `a b OR c` is `(a AND b) OR c`.

Copies of one story (same or near-same body) are shown once, with +N similar;
--expand lists them, --no-collapse shows every copy.";

/// Flags of `newsidx ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Folders (or single files) to ingest
    #[arg(required = true, value_name = "FOLDER")]
    pub paths: Vec<PathBuf>,

    /// File extensions to ingest, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "txt", value_name = "EXT")]
    pub ext: Vec<String>,

    /// Rebuild the index from scratch beside the live one, then swap it in
    #[arg(long)]
    pub full: bool,

    /// Keep documents whose files are gone (not with --full, which rebuilds from the files there)
    #[arg(long, conflicts_with = "full")]
    pub no_delete: bool,

    /// Follow symbolic links (loops are reported and skipped)
    #[arg(long)]
    pub follow_symlinks: bool,

    /// Skip files larger than this (e.g. 4MiB, 500KB, 10M)
    #[arg(long, default_value = "4MiB", value_parser = parse_size, value_name = "SIZE")]
    pub max_file_size: u64,

    /// Commit after this many indexed documents; a crash loses at most one batch
    #[arg(long, default_value_t = ingest::DEFAULT_COMMIT_EVERY, value_parser = clap::value_parser!(u64).range(1..), value_name = "DOCS")]
    pub commit_every: u64,

    /// Memory budget of the indexing threads in MiB (peak use can reach about twice this)
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(16..=16384), value_name = "MIB")]
    pub memory: u64,

    /// Reading, parsing and indexing threads (a run under 500 documents and 8 MiB indexes with one) [default: number of CPUs]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub threads: Option<u16>,

    /// If another ingest holds the index, wait for it (up to SECONDS) instead of exiting with code 3
    #[arg(long, num_args = 0..=1, require_equals = true, value_name = "SECONDS")]
    pub wait: Option<Option<u64>>,

    /// Exit with code 4 if any file was skipped, naming each one (also those earlier runs reported)
    #[arg(long)]
    pub strict: bool,

    /// Print the summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    /// Also report files decoded from legacy encodings, symlinks not followed, and files skipped
    /// again unchanged
    #[arg(long, short)]
    pub verbose: bool,

    /// Print the time spent walking, reading, parsing, indexing and committing
    #[arg(long)]
    pub stats: bool,
}

/// Flags of `newsidx search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query (see `newsidx help search` for the syntax)
    #[arg(allow_hyphen_values = true, value_name = "QUERY")]
    pub query: String,

    /// Number of hits to show (at most 1,000,000)
    #[arg(long, short = 'n', default_value_t = 10, value_name = "N", value_parser = page_size())]
    pub limit: usize,

    /// Number of hits to skip (for paging; at most 1,000,000,000)
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = page_offset())]
    pub offset: usize,

    /// Print JSON Lines (one object per hit, then a summary) for scripts
    #[arg(long)]
    pub json: bool,

    /// Match any word instead of all of them
    #[arg(long)]
    pub or: bool,

    /// Search only these default fields
    #[arg(long = "in", value_enum, value_name = "FIELDS")]
    pub scope: Option<Scope>,

    /// Only articles dated on or after this day (YYYY-MM-DD, YYYY-MM or YYYY)
    #[arg(long, value_parser = parse_since, value_name = "DATE")]
    pub since: Option<Date>,

    /// Only articles dated on or before this day (YYYY-MM-DD, YYYY-MM or YYYY)
    #[arg(long, value_parser = parse_until, value_name = "DATE")]
    pub until: Option<Date>,

    /// Only articles from this agency (AP, Reuters, ...)
    #[arg(long, value_name = "NAME")]
    pub agency: Option<String>,

    /// Only articles whose dateline names this place
    #[arg(long, value_name = "PLACE")]
    pub dateline: Option<String>,

    /// Order of hits
    #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
    pub sort: SortArg,

    /// Snippet fragments per hit
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub fragments: usize,

    /// Characters per snippet fragment
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u16).range(20..=2000), value_name = "N")]
    pub snippet_chars: u16,

    /// Count matching documents per bucket: date:year, date:month, date:day, dateline, agency
    #[arg(long, value_parser = parse_facet, value_name = "FACET")]
    pub facet: Vec<FacetKind>,

    /// Show how each field and term contributed to each score
    #[arg(long)]
    pub explain: bool,

    /// Run what can be parsed of a malformed query and warn about the rest
    #[arg(long)]
    pub lenient: bool,

    /// Print where the time went (schema, index open, query, collect, snippets, output) on stderr
    #[arg(long)]
    pub timings: bool,

    /// Show every copy of a story instead of one hit per story
    #[arg(long)]
    pub no_collapse: bool,

    /// List the paths of the copies collapsed into each hit
    #[arg(long, conflicts_with = "no_collapse")]
    pub expand: bool,
}

/// Flags of `newsidx similar`.
#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The article: its path, or its id as search results show it
    #[arg(value_name = "PATH|ID")]
    pub target: String,

    /// Number of related stories to show (at most 1,000,000)
    #[arg(long, short = 'n', default_value_t = 10, value_name = "N", value_parser = page_size())]
    pub limit: usize,

    /// Print JSON Lines (hits with "relation": "same_story" or "similar", then summaries)
    #[arg(long)]
    pub json: bool,

    /// Snippet fragments per hit
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub fragments: usize,
}

/// Flags of `newsidx dups`.
#[derive(Debug, Args)]
pub struct DupsArgs {
    /// Only clusters with at least this many copies
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..), value_name = "N")]
    pub min_size: u32,

    /// Show at most this many clusters
    #[arg(long, short = 'n', value_name = "N")]
    pub limit: Option<usize>,

    /// Print JSON Lines (one object per cluster, then a summary)
    #[arg(long)]
    pub json: bool,
}

/// Flags of `newsidx status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

/// Flags of `newsidx export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Target engine
    #[arg(long, value_enum)]
    pub to: TargetArg,

    /// Folder to write the configuration, data files and README.txt into
    #[arg(value_name = "OUTDIR")]
    pub out_dir: PathBuf,

    /// Name of the index in the target engine
    #[arg(long, default_value = "newsidx", value_name = "NAME")]
    pub name: String,

    /// A previous export's folder: also write delete actions for documents removed since (Elasticsearch)
    #[arg(long, value_name = "DIR")]
    pub since_export: Option<PathBuf>,

    /// Largest data file [default: 10MB for Quickwit, its ingest limit; 5MB for bulk files]
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    pub file_size: Option<u64>,

    /// Print the export summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

/// `--to` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Quickwit: index-config.yaml and NDJSON files under 10 MB.
    Quickwit,
    /// Elasticsearch: index settings and mapping, and _bulk files.
    Elasticsearch,
    /// OpenSearch: the same files as Elasticsearch.
    Opensearch,
}

impl ExportArgs {
    /// The library options for this export.
    pub fn to_options(&self, cli: &Cli) -> Result<ExportOptions> {
        let schema = load_schema(cli.schema.as_ref())?;
        let target = match self.to {
            TargetArg::Quickwit => Target::Quickwit,
            TargetArg::Elasticsearch | TargetArg::Opensearch => Target::Elasticsearch,
        };
        let mut opts = ExportOptions::new(
            index_dir(cli.index.as_ref())?,
            schema,
            target,
            self.out_dir.clone(),
        );
        opts.index_name = self.name.clone();
        opts.since_export = self.since_export.clone();
        if let Some(size) = self.file_size {
            if target == Target::Quickwit && size > newsidx::export::QUICKWIT_MAX_FILE_BYTES {
                return Err(anyhow!(
                    "--file-size: Quickwit refuses ingest requests over 10 MB"
                ));
            }
            opts.max_file_bytes = size;
        }
        Ok(opts)
    }
}

/// `--in` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// Article body only.
    Body,
    /// Photo captions only.
    Captions,
    /// Headline only.
    Title,
    /// Every default field.
    All,
}

/// `--sort` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// Best match first.
    Relevance,
    /// Newest date first.
    Newest,
    /// Oldest date first.
    Oldest,
}

fn parse_since(s: &str) -> Result<Date, String> {
    query::period(s)
        .map(|(first, _)| first)
        .ok_or_else(|| format!("'{s}' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)"))
}

fn parse_until(s: &str) -> Result<Date, String> {
    query::period(s)
        .map(|(_, last)| last)
        .ok_or_else(|| format!("'{s}' is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)"))
}

fn parse_facet(s: &str) -> Result<FacetKind, String> {
    FacetKind::parse(s).ok_or_else(|| {
        format!("'{s}' is not a facet (use date:year, date:month, date:day, dateline or agency)")
    })
}

/// `4MiB`, `500KB`, `10M`, `4096`: bytes. KiB/MiB/GiB (and K/M/G) are
/// powers of 1024, kB/MB/GB powers of 1000.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 4MiB, 500KB, 10M)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        _ => {
            return Err(format!(
                "'{s}' has an unknown unit (use B, KiB, MiB or GiB)"
            ));
        }
    };
    let bytes = value * mult;
    if !(1.0..1e15).contains(&bytes) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(bytes as u64)
}

/// The schema from `--schema`, or the embedded one.
pub fn load_schema(path: Option<&PathBuf>) -> Result<NewsSchema> {
    Ok(match path {
        Some(p) => NewsSchema::from_file(p)?,
        None => NewsSchema::embedded()?,
    })
}

/// `--index`, else `$NEWSIDX_INDEX`, else the per-user data directory.
pub fn index_dir(flag: Option<&PathBuf>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("NEWSIDX_INDEX").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    directories::ProjectDirs::from("", "", "newsidx")
        .map(|d| d.data_dir().join("index"))
        .ok_or_else(|| anyhow!("cannot find a home directory for the default index; pass --index DIR or set NEWSIDX_INDEX"))
}

impl IngestArgs {
    /// The library options for this run.
    pub fn to_options(&self, cli: &Cli) -> Result<IngestOptions> {
        let schema = load_schema(cli.schema.as_ref())?;
        let mut opts =
            IngestOptions::new(self.paths.clone(), index_dir(cli.index.as_ref())?, schema);
        opts.extensions = self
            .ext
            .iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .collect();
        if let Some(t) = self.threads {
            opts.threads = usize::from(t);
        }
        opts.memory_budget =
            usize::try_from(self.memory * 1024 * 1024).context("--memory is too large")?;
        opts.commit_every = self.commit_every;
        opts.full = self.full;
        opts.delete_missing = !self.no_delete;
        opts.follow_symlinks = self.follow_symlinks;
        opts.max_file_size = self.max_file_size;
        opts.wait = self.wait.map(|w| w.map(Duration::from_secs));
        Ok(opts)
    }
}

impl SearchArgs {
    /// The library options for this search.
    pub fn to_options(&self, cli: &Cli) -> Result<SearchOptions> {
        let schema = load_schema(cli.schema.as_ref())?;
        let mut opts =
            SearchOptions::new(index_dir(cli.index.as_ref())?, schema, self.query.clone());
        opts.conjunction = !self.or;
        opts.lenient = self.lenient;
        opts.scope = self.scope.and_then(|s| match s {
            Scope::Body => Some(vec![FieldName::Body]),
            Scope::Captions => Some(vec![FieldName::Captions]),
            Scope::Title => Some(vec![FieldName::Title]),
            Scope::All => None,
        });
        opts.since = self.since;
        opts.until = self.until;
        opts.agency = self.agency.clone();
        opts.dateline = self.dateline.clone();
        opts.sort = match self.sort {
            SortArg::Relevance => Sort::Relevance,
            SortArg::Newest => Sort::Newest,
            SortArg::Oldest => Sort::Oldest,
        };
        opts.limit = self.limit;
        opts.offset = self.offset;
        opts.fragments = self.fragments;
        opts.snippet_chars = usize::from(self.snippet_chars);
        opts.facets = self.facet.clone();
        opts.explain = self.explain;
        opts.collapse = !self.no_collapse;
        // Only JSON and `--expand` print them.
        opts.copy_paths = self.json || self.expand;
        Ok(opts)
    }
}

/// `--limit`: bounded so that the sizes derived from it (the page, its
/// offset, the slack for ties, twice that for the collectors) cannot
/// overflow; `--limit 18446744073709551615` wrapped round to 15 hits.
fn page_size() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000)
}

/// `--offset`, bounded for the same reason as [`page_size`].
fn page_offset() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("newsidx").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_after_the_subcommand() {
        let cli = parse(&["search", "--index", "/tmp/i", "war", "--json"]);
        assert_eq!(cli.index.as_deref(), Some(std::path::Path::new("/tmp/i")));
        let Command::Search(s) = cli.command else {
            panic!()
        };
        assert!(s.json);
        assert_eq!(s.query, "war");
    }

    #[test]
    fn query_may_start_with_a_dash() {
        let Command::Search(s) = parse(&["search", "-ukraine russia"]).command else {
            panic!()
        };
        assert_eq!(s.query, "-ukraine russia");
    }

    #[test]
    fn wait_takes_an_optional_value() {
        let wait = |args: &[&str]| match parse(args).command {
            Command::Ingest(i) => i.wait,
            _ => panic!(),
        };
        assert_eq!(wait(&["ingest", "seeds"]), None);
        assert_eq!(wait(&["ingest", "--wait", "seeds"]), Some(None));
        assert_eq!(wait(&["ingest", "--wait=30", "seeds"]), Some(Some(30)));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("500KB"), Ok(500_000));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1.5M"), Ok(1_572_864));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("4XB").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn dates_and_facets() {
        let Command::Search(s) = parse(&[
            "search",
            "x",
            "--since",
            "2022-03",
            "--until",
            "2022-03",
            "--facet",
            "date:month",
            "--facet",
            "agency",
        ])
        .command
        else {
            panic!()
        };
        assert_eq!(s.since, Date::new(2022, 3, 1));
        assert_eq!(s.until, Date::new(2022, 3, 31));
        assert_eq!(s.facet, vec![FacetKind::Month, FacetKind::Agency]);
        assert!(Cli::try_parse_from(["newsidx", "search", "x", "--since", "2022-02-30"]).is_err());
        assert!(Cli::try_parse_from(["newsidx", "search", "x", "--facet", "date"]).is_err());
    }

    #[test]
    fn ingest_needs_a_folder_and_threads_are_bounded() {
        assert!(Cli::try_parse_from(["newsidx", "ingest"]).is_err());
        assert!(Cli::try_parse_from(["newsidx", "ingest", "--threads", "0", "x"]).is_err());
        let Command::Ingest(i) = parse(&["ingest", "--ext", "txt,.md", "a", "b"]).command else {
            panic!()
        };
        assert_eq!(i.paths.len(), 2);
        assert_eq!(i.ext, vec!["txt", ".md"]);
    }
}
