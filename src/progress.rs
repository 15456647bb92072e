//! The ingest progress display: an indicatif bar on a terminal, nothing
//! when stderr is a pipe or a log file, and warnings printed through the
//! bar so lines never tear.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use newsidx::ingest::{Notice, NoticeKind, Progress};
use newsidx::snippet::clean;

/// Renders the library's progress events on stderr.
pub struct Reporter {
    bar: ProgressBar,
    /// Whether the bar is drawn. A hidden bar still takes the time on
    /// every update, a cost a cron re-run would pay once per file.
    shown: bool,
    verbose: bool,
    /// Under `--strict` a skipped file fails the run, so the files skipped
    /// again are named even without `--verbose`: the exit code alone would
    /// not say which they are.
    strict: bool,
}

impl Reporter {
    /// A bar when stderr is a terminal and not `quiet`; a silent
    /// reporter that still prints warnings otherwise.
    pub fn new(quiet: bool, verbose: bool, strict: bool) -> Reporter {
        let shown = !quiet && std::io::stderr().is_terminal();
        let bar = if !shown {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files · {per_sec} · ETA {eta} {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        };
        Reporter {
            bar,
            shown,
            verbose,
            strict,
        }
    }

    /// Prints a line to stderr without tearing the bar.
    pub fn eprintln(&self, line: &str) {
        if !self.shown {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Reporter {
    fn found(&self, candidates: u64) {
        self.bar.set_length(candidates);
    }

    fn walk_finished(&self, candidates: u64) {
        self.bar.set_length(candidates);
    }

    fn file_done(&self, _bytes: u64) {
        if self.shown {
            self.bar.inc(1);
        }
    }

    fn notice(&self, notice: &Notice) {
        let again = matches!(notice.kind, NoticeKind::SkippedAgain(..));
        if notice.kind.is_verbose() && !self.verbose && !(again && self.strict) {
            return;
        }
        // Warnings go out even with --quiet: cron mails what stderr says.
        let prefix = if notice.kind.is_verbose() && !again {
            "note"
        } else {
            "warning"
        };
        self.eprintln(&format!(
            "newsidx: {prefix}: {}",
            clean(&notice.to_string())
        ));
    }

    fn committing(&self) {
        self.bar.set_message("committing…");
    }
}
