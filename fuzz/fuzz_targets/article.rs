//! Bytes -> `decode::decode` -> `article::parse`, checking the parser's
//! invariants on every article it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsidx::{article, decode};

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = decode::decode(data) else {
        return;
    };
    let text: &str = &decoded.text;
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
    // Sketching (MinHash, LSH bands) must not panic on anything parsed.
    if let Some(sketch) = newsidx::sketch::Sketch::of(&a) {
        let c = sketch.compact();
        let _ = c.bands();
        assert_eq!(newsidx::sketch::Compact::from_words(c.to_words()), Some(c));
        assert_eq!(c.similarity(&c), 1.0);
    }
});
