//! Bytes to text: encoding detection and the "is this text at all?" check.
//!
//! Old news archives mix UTF-8, UTF-16 exports and Windows-1252, and hold
//! binary junk named `.txt`. This module turns the bytes of one file into a
//! `str` (borrowing when the file is already UTF-8, which is the fast path)
//! or says why it will not. It is pure: the caller reads the file.
//!
//! Detection order: a byte-order mark decides (UTF-8, UTF-16LE/BE); else
//! valid UTF-8 is UTF-8; else UTF-8 with a few bad bytes is UTF-8, decoded
//! lossily (see `mostly_utf8`); else chardetng guesses the legacy encoding
//! (almost always Windows-1252) and encoding_rs decodes it. Without a
//! byte-order mark, more than one NUL byte per thousand (`MAX_NUL_SHARE`),
//! and more than one in a shorter file, means binary; fewer are damage (a
//! glitch in transmission) and are dropped. Text that decodes but is mostly control characters is binary
//! too.

use std::borrow::Cow;
use std::fmt;

use encoding_rs::{Encoding, UTF_8};

/// Text decoded from a file, with where it came from.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The text, without a byte-order mark.
    pub text: Cow<'a, str>,
    /// The encoding it was decoded from.
    pub encoding: &'static Encoding,
    /// How the encoding was found.
    pub source: EncodingSource,
    /// Whether some bytes were invalid and replaced by U+FFFD.
    pub lossy: bool,
    /// NUL bytes dropped: up to one per thousand bytes of the file.
    pub nuls: usize,
}

/// How the encoding of a file was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    /// UTF-8 without a byte-order mark: valid, or with a few invalid bytes
    /// (then `lossy` is set).
    Utf8,
    /// A byte-order mark (UTF-8, UTF-16LE or UTF-16BE).
    Bom,
    /// Not UTF-8: a legacy encoding guessed from byte statistics.
    Detected,
}

/// Why a file's bytes are not an article's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// No bytes, or only whitespace.
    Empty,
    /// NUL bytes or mostly control characters: not text.
    Binary,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Empty => "empty or whitespace only",
            DecodeError::Binary => "binary data, not text",
        })
    }
}

impl std::error::Error for DecodeError {}

impl Decoded<'_> {
    /// Whether the text came from a legacy (non-Unicode) encoding.
    pub fn is_legacy(&self) -> bool {
        self.source == EncodingSource::Detected
    }
}

/// Share of control characters above which decoded text counts as binary.
const MAX_CONTROL_SHARE: f64 = 0.10;

/// Decodes the bytes of one file.
///
/// # Errors
///
/// [`DecodeError::Empty`] for empty or whitespace-only input,
/// [`DecodeError::Binary`] for input that is not text.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let decoded = if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, lossy) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        Decoded {
            text,
            encoding,
            source: EncodingSource::Bom,
            lossy,
            nuls: 0,
        }
    } else if nuls(bytes) > 0 {
        return decode_with_nuls(bytes);
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        Decoded {
            text: Cow::Borrowed(text),
            encoding: UTF_8,
            source: EncodingSource::Utf8,
            lossy: false,
            nuls: 0,
        }
    } else {
        let (encoding, source) = if mostly_utf8(bytes) {
            (UTF_8, EncodingSource::Utf8)
        } else {
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(bytes, true);
            let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
            (prefer_western(guess, bytes), EncodingSource::Detected)
        };
        let (text, lossy) = encoding.decode_without_bom_handling(bytes);
        Decoded {
            text,
            encoding,
            source,
            lossy,
            nuls: 0,
        }
    };
    check_text(&decoded.text)?;
    Ok(decoded)
}

/// Whether bytes that are not valid UTF-8 are still UTF-8 with a few
/// damaged spots (a stray byte, a file cut inside a character), so that
/// replacing the damage with U+FFFD loses a character or two where reading
/// the whole file as Windows-1252 would garble every accent (`é` as `Ã©`).
///
/// The rule: at least one valid multi-byte sequence, and at least twice as
/// many of them as invalid sequences (each becomes one U+FFFD). In
/// Windows-1252 or Latin-1 text an accented letter is one byte followed by
/// ASCII, which is invalid UTF-8; a lead byte (`Â`..`ô`) followed by the
/// right number of bytes from 0x80..=0xBF (symbols such as `©`, `»`,
/// no-break space) happens, but rarely, and each accented letter elsewhere
/// in the file counts against it. So genuine legacy text has few valid
/// sequences and many invalid ones, and damaged UTF-8 the reverse; requiring
/// a 2:1 majority, not a bare one, leaves an evenly mixed file to chardetng.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        // In valid UTF-8, every non-ASCII character has one lead byte.
        valid += chunk.valid().bytes().filter(|&b| b >= 0xC0).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    valid > 0 && valid >= 2 * invalid
}

/// chardetng is tuned on web pages and often reads a lone Windows-1252 `£`
/// or `é` in English text as Central European (`Ł`, `é`): BBC's
/// `sport/199.txt` is such a file. English-language archives are the common
/// case, so when the guess is Central European and every non-ASCII byte
/// decodes to an ordinary Western character in Windows-1252, take
/// Windows-1252. Polish or Czech text is not affected: it always carries
/// letters (`ł`, `ą`, `ś`, `š`, `ž`) that Windows-1252 would turn into
/// symbols such as `³`, `¹`, `œ`.
fn prefer_western(guess: &'static Encoding, bytes: &[u8]) -> &'static Encoding {
    use encoding_rs::{ISO_8859_2, WINDOWS_1250, WINDOWS_1252};
    if guess != WINDOWS_1250 && guess != ISO_8859_2 {
        return guess;
    }
    let western = bytes.iter().filter(|b| !b.is_ascii()).all(|&b| {
        matches!(b,
            0x80 | 0x84 | 0x85 | 0x91..=0x97 | 0x99 // € „ … ‘ ’ “ ” • – — ™
            | 0xA0 | 0xA2 | 0xA3 | 0xA5 | 0xA7 | 0xA9 | 0xAB | 0xAE | 0xB0 | 0xB4 | 0xB7 // nbsp ¢ £ ¥ § © « ® ° ´ ·
            | 0xBB..=0xBE // » ¼ ½ ¾
            | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0xFF) // Latin-1 letters
    });
    if western { WINDOWS_1252 } else { guess }
}

fn nuls(bytes: &[u8]) -> usize {
    memchr::memchr_iter(0, bytes).count()
}

/// NUL bytes allowed per byte of a file (without a byte-order mark) that is
/// still text: one per thousand, and one in a shorter file. Binary formats
/// hold far more, and so does UTF-16 without a byte-order mark (every other
/// byte of English), which is not decoded.
const MAX_NUL_SHARE: usize = 1_000;

/// Decodes bytes holding NULs, which no encoding newsidx reads without a
/// byte-order mark uses in text: a few are damage, dropped; more mean
/// binary.
fn decode_with_nuls(bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let nuls = nuls(bytes);
    if nuls > 1 && nuls * MAX_NUL_SHARE > bytes.len() {
        return Err(DecodeError::Binary);
    }
    let cleaned: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
    let decoded = decode(&cleaned)?;
    Ok(Decoded {
        text: Cow::Owned(decoded.text.into_owned()),
        encoding: decoded.encoding,
        source: decoded.source,
        lossy: decoded.lossy,
        nuls,
    })
}

/// Rejects whitespace-only and mostly-control text. Runs on every file, so
/// the bytes are counted in one branch-free pass the compiler vectorizes;
/// the characters themselves are looked at only in text without a single
/// printable ASCII character.
fn check_text(text: &str) -> Result<(), DecodeError> {
    let bytes = text.as_bytes();
    let counts = ByteCounts::of(bytes);
    let ascii = bytes.len() - counts.non_ascii;
    let mut printable = ascii > counts.controls + counts.blanks;
    let mut controls = counts.controls;
    if counts.non_ascii > 0 {
        // Other controls are U+0080..=U+009F less U+0085 (a line break,
        // which is whitespace), and U+FFFD is counted as one.
        controls += memchr::memchr2_iter(0xC2, 0xEF, bytes)
            .filter(|&i| match bytes[i..] {
                [0xC2, b, ..] => (0x80..=0x9F).contains(&b) && b != 0x85,
                [0xEF, 0xBF, 0xBD, ..] => true,
                _ => false,
            })
            .count();
        if !printable {
            printable = text
                .chars()
                .any(|c| !c.is_whitespace() && !c.is_control() && c != '\u{fffd}');
        }
    }
    if !printable && controls == 0 {
        return Err(DecodeError::Empty);
    }
    // UTF-8: one character per byte that does not continue another.
    let chars = bytes.len() - counts.continuation;
    if controls as f64 > MAX_CONTROL_SHARE * chars as f64 {
        return Err(DecodeError::Binary);
    }
    Ok(())
}

/// Byte classes of a text, ASCII ones as `char::is_whitespace` and
/// `char::is_control` see them.
#[derive(Debug, Default, PartialEq)]
struct ByteCounts {
    /// ASCII controls other than whitespace.
    controls: usize,
    /// ASCII whitespace.
    blanks: usize,
    non_ascii: usize,
    /// UTF-8 continuation bytes.
    continuation: usize,
}

impl ByteCounts {
    fn of(bytes: &[u8]) -> ByteCounts {
        let mut total = ByteCounts::default();
        // Counted in u8 lanes, 255 bytes at a time; `&` and `|` rather than
        // `&&` and `||`, which would branch.
        for chunk in bytes.chunks(255) {
            let (mut controls, mut blanks, mut non_ascii, mut continuation) = (0u8, 0u8, 0u8, 0u8);
            for &b in chunk {
                let blank = (b == b' ') | (b.wrapping_sub(9) < 5);
                controls += u8::from(((b < 0x20) & !blank) | (b == 0x7f));
                blanks += u8::from(blank);
                non_ascii += u8::from(b >= 0x80);
                continuation += u8::from(b & 0xC0 == 0x80);
            }
            total.controls += usize::from(controls);
            total.blanks += usize::from(blanks);
            total.non_ascii += usize::from(non_ascii);
            total.continuation += usize::from(continuation);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check_text` as it was written first, a char at a time.
    fn check_text_by_char(text: &str) -> Result<(), DecodeError> {
        let (mut controls, mut printable, mut chars) = (0usize, false, 0usize);
        for c in text.chars() {
            chars += 1;
            if c.is_whitespace() {
                continue;
            }
            if c.is_control() || c == '\u{fffd}' {
                controls += 1;
            } else {
                printable = true;
            }
        }
        if !printable && controls == 0 {
            return Err(DecodeError::Empty);
        }
        if controls as f64 > MAX_CONTROL_SHARE * chars as f64 {
            return Err(DecodeError::Binary);
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn byte_counts_judge_text_as_chars_do(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Z", " ", "\t", "\n", "\r", "\u{b}", "\u{c}", "\u{0}", "\u{1}", "\u{1f}",
                "\u{7f}", "\u{80}", "\u{85}", "\u{9f}", "\u{a0}", "\u{a3}", "é", "—", "\u{2028}",
                "\u{3000}", "\u{fffd}", "\u{fffc}", "€", "日本", "😀", "\u{c2}",
            ]), 0..300),
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(check_text(&text), check_text_by_char(&text), "{:?}", text);
        }
    }

    fn utf16(s: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in s.encode_utf16() {
            out.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn utf8_borrows() {
        let d = decode("Mélenchon said “no”.".as_bytes()).unwrap();
        assert!(matches!(d.text, Cow::Borrowed(_)));
        assert_eq!(d.source, EncodingSource::Utf8);
        assert!(!d.is_legacy());
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let d = decode("\u{feff}Hello".as_bytes()).unwrap();
        assert_eq!(d.text, "Hello");
        assert_eq!(d.source, EncodingSource::Bom);
    }

    #[test]
    fn utf16_both_byte_orders() {
        for be in [false, true] {
            let bytes = utf16("Mélenchon “quoted”", be);
            let d = decode(&bytes).unwrap();
            assert_eq!(d.text, "Mélenchon “quoted”");
            assert_eq!(d.source, EncodingSource::Bom);
        }
    }

    #[test]
    fn windows_1252_gives_the_same_characters_as_utf8() {
        // "Mélenchon said “no” — £5" in Windows-1252.
        let bytes = b"M\xe9lenchon said \x93no\x94 \x97 \xa35 for the week's growth in the region.";
        let d = decode(bytes).unwrap();
        assert_eq!(
            d.text,
            "Mélenchon said “no” — £5 for the week's growth in the region."
        );
        assert!(d.is_legacy());
        assert_eq!(d.encoding.name(), "windows-1252");
    }

    #[test]
    fn utf8_with_a_stray_byte_stays_utf8_and_is_lossy() {
        let bytes =
            b" date 2022-03-28 PARIS (AP) \xe2\x80\x94 M\xc3\xa9lenchon a parl\xc3\xa9 \xff ici.\n";
        let d = decode(bytes).unwrap();
        assert_eq!(
            d.text,
            " date 2022-03-28 PARIS (AP) — Mélenchon a parlé \u{fffd} ici.\n"
        );
        assert_eq!(d.source, EncodingSource::Utf8);
        assert_eq!(d.encoding, UTF_8);
        assert!(d.lossy);
        assert!(!d.is_legacy());
    }

    #[test]
    fn utf8_cut_inside_its_last_character_stays_utf8() {
        // "déclaré" cut after the first byte of its final "é".
        let text = "PARIS (AP) — Le président Mélenchon a déclaré";
        let bytes = &text.as_bytes()[..text.len() - 1];
        let d = decode(bytes).unwrap();
        assert_eq!(
            d.text,
            "PARIS (AP) — Le président Mélenchon a déclar\u{fffd}"
        );
        assert!(d.lossy);
        assert!(!d.is_legacy());
    }

    #[test]
    fn mostly_utf8_needs_twice_as_many_valid_sequences_as_invalid() {
        assert!(mostly_utf8(b"\xc3\xa9t\xc3\xa9 \xff"));
        assert!(mostly_utf8(
            b"\xe2\x80\x94 \xc3\xa9 \xff \xc3\xa9 \xc3\xa9 \xfe"
        ));
        assert!(!mostly_utf8(b"\xc3\xa9 \xff"));
        assert!(!mostly_utf8(b"\xc3\xa9t\xe9 \xff"));
        assert!(!mostly_utf8(b"\xc3\xa9 \xff \xfe \xc3\xa9 \xc3\xa9"));
        // ASCII with one high byte: no sign of UTF-8 at all.
        assert!(!mostly_utf8(b"plain ASCII with one \xff byte"));
    }

    #[test]
    fn windows_1252_with_many_accents_stays_legacy() {
        let text = "Le président a déclaré à la télévision qu'il était prêt à négocier «\u{a0}très vite\u{a0}».";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let d = decode(&bytes).unwrap();
        assert_eq!(d.text, text);
        assert!(d.is_legacy());
        assert!(!d.lossy);
    }

    #[test]
    fn windows_1252_with_one_utf8_looking_pair_stays_legacy() {
        // French puts a no-break space before "»": "É" then no-break space
        // is 0xC9 0xA0, a valid UTF-8 sequence (U+0260).
        let text = "Le café a fermé: «\u{a0}FERMÉ\u{a0}», a écrit le journal.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(bytes.windows(2).any(|w| w == b"\xc9\xa0"));
        let d = decode(&bytes).unwrap();
        assert_eq!(d.text, text);
        assert!(d.is_legacy());
        assert_eq!(d.encoding.name(), "windows-1252");
    }

    #[test]
    fn pure_ascii_is_utf8_and_not_lossy() {
        let d = decode(b"PARIS (AP) - Plain ASCII text.\n").unwrap();
        assert!(matches!(d.text, Cow::Borrowed(_)));
        assert_eq!(d.source, EncodingSource::Utf8);
        assert!(!d.lossy);
        // One stray byte in ASCII is read as before: Windows-1252, no U+FFFD.
        let d = decode(b"Plain ASCII text, caf\xe9 and all.").unwrap();
        assert_eq!(d.text, "Plain ASCII text, café and all.");
        assert!(d.is_legacy());
        assert!(!d.lossy);
    }

    #[test]
    fn central_european_text_keeps_its_encoding() {
        let text =
            "Prezydent Polski powiedział, że rozmowy będą kontynuowane w przyszłym tygodniu.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1250.encode(text);
        let d = decode(&bytes).unwrap();
        assert_eq!(d.text, text);
        let text = "Президент Украины заявил, что переговоры продолжатся на следующей неделе.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        assert_eq!(decode(&bytes).unwrap().text, text);
    }

    #[test]
    fn empty_and_whitespace() {
        assert_eq!(decode(b"").unwrap_err(), DecodeError::Empty);
        assert_eq!(decode(b" \n\t\r\n").unwrap_err(), DecodeError::Empty);
        assert_eq!(
            decode(&utf16("  \n", false)).unwrap_err(),
            DecodeError::Empty
        );
    }

    #[test]
    fn binary_is_rejected() {
        assert_eq!(
            decode(b"PK\x03\x04\x00\x00binary").unwrap_err(),
            DecodeError::Binary
        );
        assert_eq!(
            decode(b"text with \x00 two \x00 nuls").unwrap_err(),
            DecodeError::Binary
        );
        let noise: Vec<u8> = (0u8..=255)
            .cycle()
            .skip(1)
            .take(4000)
            .filter(|b| *b != 0)
            .collect();
        assert_eq!(decode(&noise).unwrap_err(), DecodeError::Binary);
        let controls = "\u{1}\u{2}\u{3}\u{4}abc".repeat(50);
        assert_eq!(
            decode(controls.as_bytes()).unwrap_err(),
            DecodeError::Binary
        );
    }

    #[test]
    fn a_stray_nul_is_dropped_and_many_mean_binary() {
        let article = "LVIV, Ukraine (AP) \u{2014} Café owners said. ".repeat(200);
        let mut damaged = article.clone().into_bytes();
        damaged.insert(3_000, 0);
        damaged.insert(20, 0);
        let d = decode(&damaged).unwrap();
        assert_eq!(d.text, article);
        assert!(!d.lossy && d.nuls == 2 && d.source == EncodingSource::Utf8);
        // The same in Windows-1252.
        let (legacy, _, _) = encoding_rs::WINDOWS_1252.encode(&article);
        let mut damaged = legacy.into_owned();
        damaged.insert(500, 0);
        let d = decode(&damaged).unwrap();
        assert_eq!(d.text, article);
        assert!(d.nuls == 1 && d.is_legacy());
        // One NUL per 900 bytes is binary.
        let mut binary = article.into_bytes();
        let n = binary.len();
        for i in (0..n).step_by(900) {
            binary[i] = 0;
        }
        assert_eq!(decode(&binary).unwrap_err(), DecodeError::Binary);
        // One NUL in a short text is damage too.
        let d = decode(b"text with a \x00nul").unwrap();
        assert_eq!((d.text.as_ref(), d.nuls), ("text with a nul", 1));
        // UTF-16 without a byte-order mark too.
        let utf16: Vec<u8> = "plain text"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(decode(&utf16).unwrap_err(), DecodeError::Binary);
    }

    #[test]
    fn a_few_control_characters_are_still_text() {
        let d =
            decode("Pemex signed for a 500 mln dlr\u{7f}untied loan from the banks.".as_bytes())
                .unwrap();
        assert!(d.text.contains('\u{7f}'));
    }
}
