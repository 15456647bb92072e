//! The `newsidx` binary: parse flags, run the library, print, and map
//! errors to exit codes. Everything worth testing lives in the library.

mod cli;
mod progress;

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use newsidx::error::Error;
use newsidx::ingest::{self, IngestReport, human_bytes};
use newsidx::output::{self, HumanStyle};
use newsidx::snippet::clean;
use newsidx::{export, search, status};

use crate::cli::{
    Cli, ColorChoice, Command, DupsArgs, ExportArgs, IngestArgs, SearchArgs, SimilarArgs,
    StatusArgs,
};
use crate::progress::Reporter;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Success: hits found, ingest committed.
    Success = 0,
    /// A search that found nothing.
    NoHits = 1,
    /// Any error.
    Error = 2,
    /// Another ingest holds the index.
    Locked = 3,
    /// `--strict` and files were skipped.
    Skipped = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    keep_panics_quiet();
    let outcome = match std::panic::catch_unwind(|| run(&cli)) {
        Ok(outcome) => outcome,
        Err(_) => {
            let what = PANIC.lock().ok().and_then(|mut p| p.take());
            eprintln!(
                "newsidx: unexpected failure ({}); the index may be damaged: rebuild it with \
                 `newsidx ingest --full FOLDER...`, and if that does not help, please report this",
                clean(what.as_deref().unwrap_or("unknown"))
            );
            return Exit::Error.into();
        }
    };
    match outcome {
        // Everything is written and flushed: leave without unmapping the
        // index and freeing memory piece by piece, which costs a search a
        // tenth of its time. The kernel reclaims it all at once.
        Ok(code) => std::process::exit(code as i32),
        Err(err) => {
            // A closed pipe (`newsidx search x | head`) is not an error.
            if err
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return Exit::Success.into();
            }
            // The library names the files behind its I/O errors; a bare one
            // reaching here is a failed write of the results (`> /dev/full`).
            if err.chain().count() == 1
                && let Some(e) = err.downcast_ref::<io::Error>()
            {
                eprintln!("newsidx: cannot write to standard output: {e}");
                return Exit::Error.into();
            }
            eprintln!("newsidx: {}", clean(&format!("{err:#}")));
            exit_for(&err).into()
        }
    }
}

/// The latest panic's message and place, for the one line `main` prints.
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Replaces the default panic report (several lines on stderr) with a
/// note for `main`. tantivy panics on some damaged index files (a segment
/// overwritten with garbage: `mid > len`) rather than returning an error;
/// such a run must end as any failed one: one line, exit 2. A file whose
/// parsing panics is skipped by ingest with its own warning.
fn keep_panics_quiet() {
    std::panic::set_hook(Box::new(|info| {
        let payload = newsidx::error::panic_message(info.payload());
        // The crate and file, not the path of cargo's registry.
        let place = info
            .location()
            .map(|l| {
                let parts: Vec<&str> = l.file().rsplit('/').take(3).collect();
                let file: Vec<&str> = parts.into_iter().rev().collect();
                format!(" at {}:{}", file.join("/"), l.line())
            })
            .unwrap_or_default();
        let first_line = payload.lines().next().unwrap_or("");
        // The latest: the one that reached `main` (a file whose parsing
        // panicked earlier was skipped and reported by ingest).
        if let Ok(mut p) = PANIC.lock() {
            *p = Some(format!("panic: {first_line}{place}"));
        }
    }));
}

fn exit_for(err: &anyhow::Error) -> Exit {
    match err.downcast_ref::<Error>() {
        Some(Error::Locked { .. }) => Exit::Locked,
        _ => Exit::Error,
    }
}

fn run(cli: &Cli) -> Result<Exit> {
    match &cli.command {
        Command::Ingest(args) => run_ingest(cli, args),
        Command::Search(args) => run_search(cli, args),
        Command::Status(args) => run_status(cli, args),
        Command::Export(args) => run_export(cli, args),
        Command::Similar(args) => run_similar(cli, args),
        Command::Dups(args) => run_dups(cli, args),
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// Standard output, block-buffered (results are written in one go).
fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

fn run_ingest(cli: &Cli, args: &IngestArgs) -> Result<Exit> {
    let opts = args.to_options(cli)?;
    let reporter = Reporter::new(cli.quiet || args.json, args.verbose, args.strict);
    let result = ingest::ingest(&opts, &reporter);
    reporter.finish();
    let report = result?;
    if args.json {
        print_json(&report)?;
    } else if !cli.quiet {
        eprintln!("newsidx: {}", summary_line(&report));
        if args.stats {
            let s = &report.stages;
            eprintln!(
                "newsidx: time (thread-seconds): walk {:.2}s, read {:.2}s, parse {:.2}s, cluster {:.2}s, index {:.2}s, commit {:.2}s",
                s.walk_ms as f64 / 1e3,
                s.read_ms as f64 / 1e3,
                s.parse_ms as f64 / 1e3,
                s.cluster_ms as f64 / 1e3,
                s.index_ms as f64 / 1e3,
                s.commit_ms as f64 / 1e3
            );
        }
    }
    let problems = report.skipped
        - report
            .skipped_by_reason
            .get(&ingest::SkipReason::Symlink)
            .copied()
            .unwrap_or(0);
    Ok(if args.strict && problems > 0 {
        Exit::Skipped
    } else {
        Exit::Success
    })
}

/// Prints one JSON object as a line on stdout (the `--json` summaries).
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = stdout();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// `1 document`, `2 documents`.
fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn summary_line(r: &IngestReport) -> String {
    let mut line = format!(
        "{} indexed ({} added, {} updated, {} deleted, {} unchanged, {} skipped",
        plural(r.indexed(), "document"),
        r.added,
        r.updated,
        r.deleted,
        r.unchanged,
        r.skipped
    );
    if !r.skipped_by_reason.is_empty() {
        let reasons: Vec<String> = r
            .skipped_by_reason
            .iter()
            .map(|(k, n)| format!("{} {n}", k.as_str()))
            .collect();
        line.push_str(&format!(": {}", reasons.join(", ")));
    }
    if r.skipped_again > 0 {
        line.push_str(&format!(
            "; {} reported by earlier runs and unchanged",
            r.skipped_again
        ));
    }
    line.push(')');
    if r.legacy_encoding > 0 {
        line.push_str(&format!(
            ", {} decoded from legacy encodings",
            r.legacy_encoding
        ));
    }
    line.push_str(&format!(
        " in {:.2}s, {:.0} docs/s, {:.1} MB/s; {} in {}",
        r.elapsed_ms as f64 / 1e3,
        r.docs_per_sec,
        r.mb_per_sec,
        plural(r.documents, "document"),
        r.index.display()
    ));
    line
}

fn run_search(cli: &Cli, args: &SearchArgs) -> Result<Exit> {
    let start = std::time::Instant::now();
    let opts = args.to_options(cli)?;
    let setup_us = start.elapsed().as_micros();
    let results = search::search(&opts)?;
    for w in &results.summary.warnings {
        eprintln!("newsidx: warning: ignored part of the query: {}", clean(w));
    }
    let output_start = std::time::Instant::now();
    let mut out = stdout();
    if args.json {
        output::write_json(&mut out, &results.hits, &results.facets, &results.summary)?;
    } else {
        let style = HumanStyle {
            color: use_color(cli.color),
            expand: args.expand,
        };
        output::write_human(
            &mut out,
            &results.hits,
            &results.facets,
            &results.summary,
            style,
        )?;
    }
    out.flush()?;
    if args.timings {
        let t = &results.timings;
        eprintln!(
            "newsidx: timings (µs): flags+schema {setup_us}, parse {}, open {}, compile {}, collect {}, hits+snippets {}, output {}, total {}",
            t.parse_us,
            t.open_us,
            t.compile_us,
            t.collect_us,
            t.hits_us,
            output_start.elapsed().as_micros(),
            start.elapsed().as_micros()
        );
    }
    let code = if results.summary.total_hits > 0 {
        Exit::Success
    } else {
        Exit::NoHits
    };
    // `main` exits right after: the kernel unmaps the index at once.
    std::mem::forget(results);
    Ok(code)
}

fn run_similar(cli: &Cli, args: &SimilarArgs) -> Result<Exit> {
    let schema = cli::load_schema(cli.schema.as_ref())?;
    let mut opts =
        search::SearchOptions::new(cli::index_dir(cli.index.as_ref())?, schema, String::new());
    opts.limit = args.limit;
    opts.fragments = args.fragments;
    let found = search::similar(opts, &args.target)?;
    let mut out = stdout();
    let sections = [
        ("same_story", &found.same_story),
        ("similar", &found.related),
    ];
    if args.json {
        for (relation, r) in sections {
            output::write_json_related(&mut out, relation, &r.hits, &r.summary)?;
        }
    } else {
        let style = HumanStyle {
            color: use_color(cli.color),
            expand: false,
        };
        let copies = found.same_story.summary.total_hits;
        writeln!(
            out,
            "Other copies of the story of {} ({copies}):",
            clean(&found.path)
        )?;
        if copies > 0 {
            output::write_human(
                &mut out,
                &found.same_story.hits,
                &[],
                &found.same_story.summary,
                style,
            )?;
        }
        writeln!(out, "\nRelated stories:")?;
        output::write_human(
            &mut out,
            &found.related.hits,
            &[],
            &found.related.summary,
            style,
        )?;
    }
    out.flush()?;
    let any = found.same_story.summary.total_hits + found.related.summary.total_hits;
    Ok(if any > 0 { Exit::Success } else { Exit::NoHits })
}

fn run_dups(cli: &Cli, args: &DupsArgs) -> Result<Exit> {
    let schema = cli::load_schema(cli.schema.as_ref())?;
    let dir = cli::index_dir(cli.index.as_ref())?;
    let mut clusters = newsidx::cluster::list(&dir, &schema, args.min_size as usize)?;
    if let Some(n) = args.limit {
        clusters.truncate(n);
    }
    let mut out = stdout();
    let style = HumanStyle {
        color: use_color(cli.color),
        expand: false,
    };
    output::write_clusters(&mut out, &clusters, args.json, style)?;
    out.flush()?;
    Ok(if clusters.is_empty() {
        Exit::NoHits
    } else {
        Exit::Success
    })
}

fn run_export(cli: &Cli, args: &ExportArgs) -> Result<Exit> {
    let opts = args.to_options(cli)?;
    let reporter = Reporter::new(cli.quiet || args.json, false, false);
    let result = export::export(&opts, &reporter);
    reporter.finish();
    let report = result?;
    if args.json {
        print_json(&report)?;
    } else if !cli.quiet {
        eprintln!(
            "newsidx: exported {} documents ({} deletions) in {} files, {}, to {}; see README.txt there",
            report.documents,
            report.deleted,
            report.files.len(),
            human_bytes(report.bytes),
            clean(&opts.out_dir.display().to_string())
        );
    }
    Ok(Exit::Success)
}

fn run_status(cli: &Cli, args: &StatusArgs) -> Result<Exit> {
    let schema = cli::load_schema(cli.schema.as_ref())?;
    let dir = cli::index_dir(cli.index.as_ref())?;
    let s = status::status(&dir, &schema)?;
    if args.json {
        return print_json(&s).map(|()| Exit::Success);
    }
    let mut out = stdout();
    writeln!(
        out,
        "index:       {}",
        clean(&s.index.display().to_string())
    )?;
    writeln!(
        out,
        "documents:   {} in {}, {} on disk",
        s.documents,
        plural(s.segments as u64, "segment"),
        human_bytes(s.size_bytes)
    )?;
    match (&s.first_date, &s.last_date) {
        (Some(a), Some(b)) => writeln!(out, "dates:       {a} to {b} ({} undated)", s.undated)?,
        _ => writeln!(out, "dates:       none ({} undated)", s.undated)?,
    }
    match &s.last_ingest {
        Some(r) => {
            let get = |k: &str| r.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            writeln!(
                out,
                "last ingest: {}",
                status::format_unix_time(get("finished_at"))
            )?;
            writeln!(
                out,
                "             {} added, {} updated, {} deleted, {} unchanged, {} skipped",
                get("added"),
                get("updated"),
                get("deleted"),
                get("unchanged"),
                get("skipped")
            )?;
        }
        None => writeln!(out, "last ingest: none recorded")?,
    }
    if !s.skipped_files.is_empty() {
        const SHOWN: usize = 10;
        writeln!(
            out,
            "skipped:     {}, reported once, skipped until they change:",
            plural(s.skipped_files.len() as u64, "file")
        )?;
        for f in s.skipped_files.iter().take(SHOWN) {
            writeln!(out, "             {}: {}", clean(&f.path), f.detail)?;
        }
        if s.skipped_files.len() > SHOWN {
            writeln!(
                out,
                "             and {} more (`newsidx status --json` lists them all)",
                s.skipped_files.len() - SHOWN
            )?;
        }
    }
    if let Some(c) = s.last_commit.as_ref().filter(|c| !c.finished) {
        writeln!(
            out,
            "warning:     the last commit ({}) was an intermediate one: that ingest was interrupted or is running",
            status::format_unix_time(c.committed_at)
        )?;
    }
    match (s.ingest_running, s.ingest_pid) {
        (Some(true), Some(pid)) => writeln!(out, "ingest:      running (pid {pid})")?,
        (Some(true), None) => writeln!(out, "ingest:      running")?,
        (Some(false), _) => writeln!(out, "ingest:      not running")?,
        (None, _) => writeln!(
            out,
            "ingest:      unknown (this user may not read the index's newsidx.lock)"
        )?,
    }
    out.flush()?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        assert_eq!(Exit::Success as u8, 0);
        assert_eq!(Exit::NoHits as u8, 1);
        assert_eq!(Exit::Error as u8, 2);
        assert_eq!(Exit::Locked as u8, 3);
        assert_eq!(Exit::Skipped as u8, 4);
        let locked = anyhow::Error::from(Error::Locked {
            dir: "/x".into(),
            pid: Some(1),
        });
        assert_eq!(exit_for(&locked), Exit::Locked);
        let other = anyhow::Error::from(Error::NoIndex { dir: "/x".into() });
        assert_eq!(exit_for(&other), Exit::Error);
    }
}
