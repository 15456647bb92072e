//! Property tests of the pure parsers (article, decode, query) and of search
//! on a small index: arbitrary and realistic-looking input never panics, and
//! what is parsed keeps its invariants.
//!
//! Failing cases are not persisted to `proptest-regressions/`: proptest
//! prints the shrunk input, which belongs in a unit test.

use std::path::PathBuf;
use std::sync::OnceLock;

use newsidx::article;
use newsidx::decode;
use newsidx::ingest::{self, IngestOptions, NoProgress};
use newsidx::query::{self, ParseOptions, QueryError};
use newsidx::schema::NewsSchema;
use newsidx::search::{self, FacetKind, SearchOptions, Sort};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The query fields the CLI accepts (the embedded schema's names and aliases).
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

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------- article

/// Checks what `article::parse` promises about an article parsed from `text`.
fn check_article(text: &str) {
    let Ok(a) = article::parse(text) else {
        return;
    };
    assert_eq!(
        a.captions.len(),
        a.photo_credits.len(),
        "one credit per caption"
    );
    for (caption, credit) in a.captions.iter().zip(&a.photo_credits) {
        let c = caption.strip_suffix('.').unwrap_or(caption);
        assert!(
            c.ends_with(')'),
            "caption does not end with ')': {caption:?}"
        );
        assert!(
            caption.contains(credit.as_ref()),
            "credit {credit:?} not in caption {caption:?}"
        );
    }
    for p in a.body.iter().chain(&a.captions).chain(&a.contributors) {
        for line in p.split('\n') {
            assert!(
                text.contains(line),
                "line {line:?} of paragraph {p:?} is not in the text"
            );
        }
    }
    // Sketching must not panic on anything the parser accepts.
    let _ = newsidx::sketch::Sketch::of(&a);
}

/// Pieces real articles are made of, and the separators between them.
fn article_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "date 2022-03-28 ",
            " date 2022-13-45 ",
            "Date: 2021-02-28\n",
            "LVIV, Ukraine (AP) — ",
            "LONDON, March 3 (Reuters) - ",
            "SALVADOR, Feb 26 - ",
            "WASHINGTON — ",
            "(AP Photo/Name)",
            "(AP Photo/Name).",
            "(Reuters/Benoit Tessier)",
            "(Photo by Jean Dupont/Getty Images)",
            "(23 miles)",
            "___",
            "\r\n",
            "\n\n",
            "\n",
            "\r",
            "\u{feff}",
            " ",
            "\t",
            ".",
            "(",
            ")",
            "—",
            "Reuter",
            "é",
            "€",
            "\u{2028}",
        ])
        .prop_map(str::to_owned),
        2 => "[A-Za-z]{1,10}",
        1 => "[A-Z]{2,8}",
    ]
}

fn article_text() -> impl Strategy<Value = String> {
    prop::collection::vec(article_piece(), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn article_parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_article(&text);
    }

    #[test]
    fn article_parse_never_panics_on_article_like_text(text in article_text()) {
        check_article(&text);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(d) = decode::decode(&bytes) {
            check_article(&d.text);
        }
    }

    #[test]
    fn decode_never_panics_after_a_bom(
        bom in prop::sample::select(vec![
            &b"\xef\xbb\xbf"[..],
            &b"\xff\xfe"[..],
            &b"\xfe\xff"[..],
            &b""[..],
        ]),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut all = bom.to_vec();
        all.extend(bytes);
        if let Ok(d) = decode::decode(&all) {
            check_article(&d.text);
        }
    }

    #[test]
    fn decode_then_parse_article_like_text_in_legacy_encodings(
        text in article_text(),
        enc in prop::sample::select(vec![
            encoding_rs::UTF_8,
            encoding_rs::WINDOWS_1252,
            encoding_rs::WINDOWS_1250,
            encoding_rs::UTF_16LE,
        ]),
    ) {
        let bytes: Vec<u8> = if enc == encoding_rs::UTF_16LE {
            [0xFF, 0xFE]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                .collect()
        } else {
            enc.encode(&text).0.into_owned()
        };
        if let Ok(d) = decode::decode(&bytes) {
            check_article(&d.text);
        }
    }
}

// ------------------------------------------------------------------ query

fn check_query_error(text: &str, e: &QueryError) {
    if let Some(col) = e.column {
        let max = text.chars().count() + 1;
        assert!(
            (1..=max).contains(&col),
            "column {col} outside 1..={max} for {text:?}: {e}"
        );
    }
    let shown = e.to_string();
    assert!(
        !shown.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']),
        "error is not one line: {shown:?}"
    );
}

/// Parses `text` in every mode; errors and warnings must be well-formed.
fn check_query(text: &str) {
    for conjunction in [true, false] {
        for lenient in [false, true] {
            let opts = ParseOptions {
                conjunction,
                fields: FIELDS,
                lenient,
            };
            match query::parse(text, &opts) {
                Ok(parsed) => parsed
                    .warnings
                    .iter()
                    .for_each(|w| check_query_error(text, w)),
                Err(e) => check_query_error(text, &e),
            }
        }
    }
}

fn query_token() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            " ", " ", " ", "\"", "(", ")", "AND", "OR", "NOT", " AND ", " OR ", " NOT ",
            "-", "+", "=", "*", "~", "~1", "~2", "~3", "^", "^2", "^0.5", "^0", "^1e9",
            "[", "]", "{", "}", " TO ", "TO", ":",
            "title:", "body:", "caption:", "captions:", "credit:", "agency:", "date:",
            "nope:", "x:",
            "2022-03-28", "2022-03", "2022", "2022-13-45", "2022-02-30", "9999-12-31",
            "0001-01-01",
            "war", "peace", "Zelensky", "U.S.", "ne", "é", "€", "😀", "—",
            "\t", "\u{7}", "\u{1b}", "\u{2028}", "\u{85}",
        ])
        .prop_map(str::to_owned),
        2 => "[a-z]{1,8}",
        1 => "[0-9]{1,4}",
    ]
}

/// One term: `[modifier][field:]value[suffix]`, the value mixing one-, two-,
/// three- and four-byte characters so that byte/char mix-ups show.
fn query_term() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "", "-", "+", "NOT ", "=", "\""]),
        prop::sample::select(vec![
            "", "", "", "title:", "body:", "caption:", "credit:", "date:", "nope:", "x:",
        ]),
        "[a-zA-Z0-9é€😀*~^.=:\\-]{0,8}",
        prop::sample::select(vec![
            "", "", "*", "~", "~2", "~x", "^2", "^", "^x", "^0", "^1.5", "\"~2", "\"",
        ]),
    )
        .prop_map(|(m, f, v, s)| format!("{m}{f}{v}{s}"))
}

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(query_token(), 0..16).prop_map(|v| v.concat()),
        prop::collection::vec(
            (
                query_term(),
                prop::sample::select(vec![" ", " ", " AND ", " OR ", "(", ")", ") ", " ("]),
            ),
            1..6,
        )
        .prop_map(|v| v.into_iter().map(|(t, sep)| t + sep).collect()),
    ]
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn query_parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        check_query(&text);
    }

    #[test]
    fn query_parse_never_panics_on_query_like_text(text in query_text()) {
        check_query(&text);
    }
}

// ----------------------------------------------------------------- search

/// An index of `seeds/`, built once per test binary in a scratch directory
/// under cargo's target tmp dir (left there; `cargo clean` removes it).
fn seed_index() -> &'static (PathBuf, NewsSchema) {
    static INDEX: OnceLock<(PathBuf, NewsSchema)> = OnceLock::new();
    INDEX.get_or_init(|| {
        let scratch = tempfile::Builder::new()
            .prefix("properties-index-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("scratch directory")
            .keep();
        let index = scratch.join("index");
        let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let schema = NewsSchema::embedded().expect("embedded schema");
        let mut opts = IngestOptions::new(vec![seeds], index.clone(), schema.clone());
        opts.threads = 1;
        opts.memory_budget = 32 * 1024 * 1024;
        let report = ingest::ingest(&opts, &NoProgress).expect("ingest of seeds/");
        assert!(report.documents > 0, "no documents indexed: {report:?}");
        (index, schema)
    })
}

fn check_search(text: &str, conjunction: bool, lenient: bool, sort: Sort, explain: bool) {
    let (index, schema) = seed_index();
    let mut opts = SearchOptions::new(index.clone(), schema.clone(), text.to_owned());
    opts.conjunction = conjunction;
    opts.lenient = lenient;
    opts.sort = sort;
    opts.explain = explain;
    opts.facets = vec![FacetKind::Year, FacetKind::Dateline, FacetKind::Agency];
    if let Err(e) = search::search(&opts) {
        assert!(
            e.is_user_error(),
            "query {text:?} (conjunction {conjunction}, lenient {lenient}): internal error: {e}"
        );
    }
}

fn sort() -> impl Strategy<Value = Sort> {
    prop::sample::select(vec![Sort::Relevance, Sort::Newest, Sort::Oldest])
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn search_never_panics_on_arbitrary_text(
        text in any::<String>(),
        conjunction: bool,
        lenient: bool,
        sort in sort(),
    ) {
        check_search(&text, conjunction, lenient, sort, false);
    }

    #[test]
    fn search_never_panics_on_query_like_text(
        text in query_text(),
        conjunction: bool,
        lenient: bool,
        sort in sort(),
        explain: bool,
    ) {
        check_search(&text, conjunction, lenient, sort, explain);
    }
}
