//! UTF-8 text -> `query::parse` in strict and lenient, AND and OR modes:
//! never panics, and errors point inside the query and fit on one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsidx::query::{self, ParseOptions, QueryError};

const FIELDS: &[&str] = &[
    "title",
    "body",
    "captions",
    "caption",
    "dateline",
    "agency",
    "contributors",
    "credit",
];

fn check_error(text: &str, e: &QueryError) {
    if let Some(col) = e.column {
        let chars = text.chars().count();
        assert!(
            (1..=chars + 1).contains(&col),
            "column {col} outside 1..={} for {text:?}: {e}",
            chars + 1
        );
    }
    let shown = e.to_string();
    assert!(
        !shown.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']),
        "error is not one line: {shown:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for conjunction in [true, false] {
        for lenient in [false, true] {
            let opts = ParseOptions {
                conjunction,
                fields: FIELDS,
                lenient,
            };
            match query::parse(text, &opts) {
                Ok(parsed) => {
                    for w in &parsed.warnings {
                        check_error(text, w);
                    }
                }
                Err(e) => check_error(text, &e),
            }
        }
    }
});
