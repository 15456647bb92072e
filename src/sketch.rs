//! Near-duplicate sketches of article bodies: the stage between parsing
//! and indexing that lets ingest put copies of one wire story in one
//! cluster. Pure: no tantivy, no I/O.
//!
//! Why MinHash and not SimHash: the question users ask is "is this the same
//! text", which is the Jaccard similarity of the two bodies' 5-word
//! shingles. MinHash estimates exactly that, with a known error, and LSH
//! banding turns "find the similar ones" into a handful of exact key
//! lookups, so the cost per article does not grow with the archive. SimHash
//! over words (what the index stored before) cannot tell a re-filed story
//! from a different story on the same topic with the same names.
//!
//! The sketch is a one-permutation MinHash: every shingle is hashed once
//! and goes to one of [`SLOTS`] slots, each keeping its minimum; empty
//! slots (short bodies) borrow from the next full one, so that identical
//! bodies always have identical sketches and short near-copies still share
//! bands; the similarity estimate counts only the slots a shingle filled,
//! since borrowed ones would count the same shingle several times. The first [`BANDS`]×[`ROWS`]
//! slots form the LSH bands: two bodies with Jaccard 0.8 share a band with
//! probability 0.97, with 0.9 0.998, and a shared band is then checked on
//! all slots. The index keeps no band keys: a band's three slots are kept
//! at eight bits each (four more than the rest), enough to make a key from,
//! so a document's whole sketch is six fast-field values and ingest derives
//! the keys of committed documents from them (see [`crate::cluster`]).

use crate::article::Article;
use crate::swar;

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 5;
/// MinHash slots; the similarity estimate's standard error is about
/// 0.055 at J = 0.8.
pub const SLOTS: usize = 60;
/// LSH bands (each one a key ingest looks up).
pub const BANDS: usize = 5;
/// Slots per band.
pub const ROWS: usize = 3;
/// Bits of each slot the index keeps.
const BITS: u32 = 4;
/// Slots packed per stored u64, after 4 bits of position.
const PER_WORD: usize = 15;
/// u64 values a stored sketch takes: the slots' low four bits, the mask of
/// filled slots, then the high four bits of the band slots.
pub const WORDS: usize = SLOTS / PER_WORD + 2;
/// Slots that form the bands: exactly the first stored word.
const BAND_SLOTS: usize = BANDS * ROWS;
const _: () = assert!(BAND_SLOTS == PER_WORD);
/// Words read from a body; copies are recognised by their first few
/// thousand words, and the cost per file stays flat.
const MAX_WORDS: usize = 4096;

/// The sketch of one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    slots: [u32; SLOTS],
    /// Bit i: slot i holds a shingle's hash rather than a borrowed one.
    filled: u64,
}

/// What the index keeps of a sketch: the low 4 bits of every slot ("b-bit
/// MinHash", Li and König 2010), enough to estimate similarity, which
/// slots are filled, and four more bits of the band slots to make band
/// keys from: 48 bytes a document. Slot `i` is nibble
/// `i % 15` of `nibbles[i / 15]`, so that a comparison is a few word
/// operations rather than a loop over slots (ingest compares every new
/// article with its candidate copies), and so that each of those words is
/// one stored value but for its position tag: reading a sketch back from
/// the index costs a few masks, not a loop over slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compact {
    minima: Minima,
    /// Bits 4..8 of the band slots, as nibbles like `minima.nibbles[0]`.
    high: u64,
}

/// What comparing a sketch with another needs: a [`Compact`] without the
/// band slots' high bits, which only make band keys. Ingest keeps one of
/// these in memory for every committed document (see [`crate::cluster`]),
/// so the 8 bytes matter: 40 bytes a document instead of 48.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Minima {
    nibbles: [u64; NIBBLE_WORDS],
    filled: u64,
}

const NIBBLE_WORDS: usize = SLOTS.div_ceil(PER_WORD);

impl Sketch {
    /// Sketches an article's body; an article without body words (a bare
    /// title, captions only) is sketched from all its text instead, so that
    /// copies of it still find each other. `None` when it has no words.
    pub fn of(article: &Article<'_>) -> Option<Sketch> {
        let body = article.body.iter().map(|p| p.as_ref());
        Sketch::of_paragraphs(body).or_else(|| {
            let rest = article
                .title
                .iter()
                .chain(&article.captions)
                .chain(&article.contributors)
                .map(|p| p.as_ref());
            Sketch::of_paragraphs(rest)
        })
    }

    /// Sketches text given as paragraphs.
    pub fn of_paragraphs<'a>(paragraphs: impl Iterator<Item = &'a str>) -> Option<Sketch> {
        let mut slots = [u32::MAX; SLOTS];
        let mut filled = [false; SLOTS];
        let mut add = |shingle: u64| {
            let h = finish_shingle(shingle);
            // The high half picks the slot, the low half competes in it.
            let slot = (((h >> 32) * SLOTS as u64) >> 32) as usize;
            // Branch-free: whether a minimum changes is a coin toss early
            // in a text, and the branch mispredicted often.
            slots[slot] = slots[slot].min(h as u32);
            filled[slot] = true;
        };
        let mut shingles = Shingles::default();
        for p in paragraphs {
            let bytes = p.as_bytes();
            let more = for_each_word(bytes, |start, end| {
                if let Some(shingle) = shingles.push(word_hash(bytes, start, end)) {
                    add(shingle);
                }
                shingles.words < MAX_WORDS
            });
            if !more {
                break;
            }
        }
        match shingles.words {
            0 => return None,
            // Fewer words than a shingle: they are its one shingle.
            n if n < SHINGLE_WORDS => add(shingles.hash),
            _ => {}
        }
        // Densify: an empty slot takes the next filled slot's value, mixed
        // with the distance so that borrowed values do not all agree.
        for i in 0..SLOTS {
            if !filled[i] {
                let (distance, donor) = (1..SLOTS)
                    .map(|d| (d, (i + d) % SLOTS))
                    .find(|&(_, j)| filled[j])
                    .unwrap_or((0, i));
                slots[i] = mix64(u64::from(slots[donor]) ^ (distance as u64) << 40) as u32;
            }
        }
        let filled = filled
            .iter()
            .enumerate()
            .fold(0u64, |m, (i, f)| m | u64::from(*f) << i);
        Some(Sketch { slots, filled })
    }

    /// The part the index stores.
    pub fn compact(&self) -> Compact {
        let mut nibbles = [0u64; NIBBLE_WORDS];
        let pack = |slots: &[u32], shift: u32| {
            slots.iter().rev().fold(0, |w, s| {
                w << BITS | u64::from(s >> shift & ((1 << BITS) - 1))
            })
        };
        for (word, slots) in nibbles.iter_mut().zip(self.slots.chunks(PER_WORD)) {
            *word = pack(slots, 0);
        }
        Compact {
            minima: Minima {
                nibbles,
                filled: self.filled,
            },
            high: pack(&self.slots[..BAND_SLOTS], BITS),
        }
    }
}

impl Compact {
    /// The LSH band keys: documents sharing one are candidate copies. A
    /// key is a hash of the band's number and its three slots' eight bits:
    /// unrelated bodies share one by chance once in 2^24 per band, and a
    /// chance match is only a candidate, which the comparison then drops.
    pub fn bands(&self) -> [u64; BANDS] {
        let mut out = [0u64; BANDS];
        let (low, high) = (self.minima.nibbles[0], self.high);
        let width = BITS as usize * ROWS;
        let mask = (1 << width) - 1;
        for (b, key) in out.iter_mut().enumerate() {
            let shift = width * b;
            let rows = (low >> shift & mask) | (high >> shift & mask) << width;
            *key = mix64((b as u64) << 24 | rows);
        }
        out
    }

    /// What [`Minima::similarity`] compares.
    pub fn minima(&self) -> &Minima {
        &self.minima
    }

    /// [`Minima::similarity`] of the two sketches.
    pub fn similarity(&self, other: &Compact) -> f32 {
        self.minima.similarity(&other.minima)
    }

    #[cfg(test)]
    fn slot(&self, i: usize) -> u64 {
        self.minima.nibbles[i / PER_WORD] >> (BITS as usize * (i % PER_WORD)) & ((1 << BITS) - 1)
    }

    /// Packs into u64 values for a multi-valued fast field. The top byte of
    /// each value is its position, so the order survives any reordering of
    /// the values by the column store.
    pub fn to_words(&self) -> [u64; WORDS] {
        let mut out = [0u64; WORDS];
        for (i, (w, nibbles)) in out.iter_mut().zip(&self.minima.nibbles).enumerate() {
            *w = (i as u64) << 60 | nibbles;
        }
        out[NIBBLE_WORDS] = (NIBBLE_WORDS as u64) << 60 | self.minima.filled;
        out[NIBBLE_WORDS + 1] = ((NIBBLE_WORDS + 1) as u64) << 60 | self.high;
        out
    }

    /// Unpacks [`Compact::to_words`]; `None` unless exactly the packed
    /// values are given (in any order).
    pub fn from_words(words: impl IntoIterator<Item = u64>) -> Option<Compact> {
        let mut nibbles = [0u64; NIBBLE_WORDS];
        let (mut filled, mut high) = (0, 0);
        let mut seen = 0u32;
        for v in words {
            let i = usize::try_from(v >> 60).ok().filter(|&i| i < WORDS)?;
            if seen & (1 << i) != 0 {
                return None;
            }
            seen |= 1 << i;
            let payload = v & ((1 << 60) - 1);
            match nibbles.get_mut(i) {
                Some(n) => *n = payload,
                None if i == NIBBLE_WORDS => filled = payload & ((1 << SLOTS) - 1),
                None => high = payload,
            }
        }
        (seen == (1 << WORDS) - 1).then_some(Compact {
            minima: Minima { nibbles, filled },
            high,
        })
    }
}

impl Minima {
    /// Estimated Jaccard similarity of the two bodies' shingle sets, in
    /// 0..=1: the share of slots filled in either sketch whose minima are
    /// the same shingle. Slots filled in both agree on their low bits by
    /// chance one time in 16; the estimate corrects for that.
    pub fn similarity(&self, other: &Minima) -> f32 {
        let both = self.filled & other.filled;
        let either = (self.filled | other.filled).count_ones();
        if either == 0 {
            return 0.0;
        }
        const LOW: u64 = 0x0111_1111_1111_1111;
        let mut equal = 0;
        for (w, (a, b)) in self.nibbles.iter().zip(&other.nibbles).enumerate() {
            let x = a ^ b;
            // Bit 0 of each nibble: set where the two nibbles are equal.
            let same = !(x | x >> 1 | x >> 2 | x >> 3) & LOW;
            equal += (same & spread(both >> (PER_WORD * w))).count_ones();
        }
        let chance = 1.0 / f32::from(1u8 << BITS);
        let same = (equal as f32 - both.count_ones() as f32 * chance) / (1.0 - chance);
        (same / either as f32).clamp(0.0, 1.0)
    }
}

/// The low 15 bits of `mask`, one to bit 0 of each nibble.
fn spread(mask: u64) -> u64 {
    let mut x = mask & 0x7FFF;
    x = (x | x << 24) & 0x0000_00FF_0000_00FF;
    x = (x | x << 12) & 0x000F_000F_000F_000F;
    x = (x | x << 6) & 0x0303_0303_0303_0303;
    (x | x << 3) & 0x1111_1111_1111_1111
}

/// Calls `word(start, end)` for every word of `text`, a run of ASCII
/// letters and digits and non-ASCII bytes (which stay inside words), until
/// it returns `false`; returns `false` then, else `true`.
///
/// Words are found 64 bytes at a time from a mask of word bytes, one bit
/// each (see [`crate::swar`]), whose set bits' edges are the words' ends.
/// Stepping byte by byte made the sketch 7% of an ingest's samples; with
/// this and the branch-free minimum in [`Sketch::of_paragraphs`],
/// sketching the corpus's 23,803 files went from 80 to 37 ms
/// (`benches/parse.rs`).
fn for_each_word(text: &[u8], mut word: impl FnMut(usize, usize) -> bool) -> bool {
    let mut in_word = false;
    let mut start = 0;
    let mut padded = [0u8; 64];
    for (b, block) in text.chunks(64).enumerate() {
        let block = match <&[u8; 64]>::try_from(block) {
            Ok(full) => full,
            Err(_) => {
                // The last block, padded with NULs: separators.
                padded[..block.len()].copy_from_slice(block);
                &padded
            }
        };
        let mask = word_mask(block);
        // Bit i: byte i starts or ends a word.
        let mut edges = mask ^ (mask << 1 | u64::from(in_word));
        while edges != 0 {
            let at = b * 64 + edges.trailing_zeros() as usize;
            edges &= edges - 1;
            if in_word && !word(start, at) {
                return false;
            }
            start = at;
            in_word = !in_word;
        }
    }
    !in_word || word(start, text.len())
}

/// Bit i is set where `block[i]` is a word byte: an ASCII letter or digit,
/// or a non-ASCII byte.
#[inline(always)]
fn word_mask(block: &[u8; 64]) -> u64 {
    let mut mask = 0;
    for i in 0..8 {
        let v = swar::load(block, 8 * i).unwrap_or(0);
        mask |= swar::gather(v | swar::alnum(v)) << (8 * i);
    }
    mask
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A hash of the word `text[start..end]` that ignores ASCII case, eight
/// bytes at a step, zero-padded at the end. Setting bit 5 of every byte
/// lower-cases ASCII letters and leaves digits alone (it also folds some
/// non-ASCII byte pairs together, harmless in a hash). Stable across
/// versions, so sketches in an index stay comparable.
///
/// The text around the word is passed so that its last step can load
/// eight bytes and mask off what follows the word, rather than copy the
/// tail byte by byte: that copy was most of the cost of hashing a word.
#[inline(always)]
fn word_hash(text: &[u8], start: usize, end: usize) -> u64 {
    let step = |h: u64, v: u64| {
        let h = (h ^ (v | 0x2020_2020_2020_2020)).wrapping_mul(K);
        h ^ h >> 29
    };
    let load = |at: usize| {
        text.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let mut h = (end - start) as u64;
    let mut at = start;
    while at + 8 <= end {
        h = step(h, load(at).unwrap_or(0));
        at += 8;
    }
    let tail = end - at;
    if tail > 0 {
        let v = match load(at) {
            Some(v) => v & (u64::MAX >> (64 - 8 * tail)),
            None => {
                let mut buf = [0u8; 8];
                buf[..tail].copy_from_slice(&text[at..end]);
                u64::from_le_bytes(buf)
            }
        };
        h = step(h, v);
    }
    h
}

/// The shingles of a run of words, rolled forward one word at a time.
///
/// A shingle's hash is the XOR of its words' hashes, the i-th rotated left
/// by 13·i bits: order-sensitive, and the next shingle's hash follows from
/// this one's in three operations (drop the first word, rotate the rest
/// back one position, add the new word at the end), so words are hashed
/// once and never kept.
#[derive(Default)]
struct Shingles {
    /// The last [`SHINGLE_WORDS`] word hashes, oldest at `oldest`.
    ring: [u64; SHINGLE_WORDS],
    oldest: usize,
    /// The current shingle's hash (or, before the first shingle is
    /// complete, of the words so far).
    hash: u64,
    words: usize,
}

const ROTATION: u32 = 13;

impl Shingles {
    /// Adds a word; returns the hash of the shingle it completes, if any.
    #[inline]
    fn push(&mut self, word: u64) -> Option<u64> {
        let n = self.words;
        self.words += 1;
        if n < SHINGLE_WORDS {
            self.hash ^= word.rotate_left(ROTATION * n as u32);
            self.ring[n] = word;
            return (self.words == SHINGLE_WORDS).then_some(self.hash);
        }
        let first = std::mem::replace(&mut self.ring[self.oldest], word);
        self.oldest += 1;
        if self.oldest == SHINGLE_WORDS {
            self.oldest = 0;
        }
        self.hash = (self.hash ^ first).rotate_right(ROTATION)
            ^ word.rotate_left(ROTATION * (SHINGLE_WORDS as u32 - 1));
        Some(self.hash)
    }
}

/// Spreads a shingle's hash over all 64 bits.
fn finish_shingle(x: u64) -> u64 {
    let h = x.wrapping_mul(K);
    h ^ (h >> 32)
}

/// The murmur3 finalizer: every input bit flips about half the output bits.
fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The words of `text` byte by byte: what [`for_each_word`] must find.
    fn words_byte_by_byte(text: &[u8]) -> Vec<(usize, usize)> {
        let is_word = |b: u8| b >= 0x80 || b.is_ascii_alphanumeric();
        let mut out = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let start = i;
            while i < text.len() && is_word(text[i]) {
                i += 1;
            }
            if start < i {
                out.push((start, i));
            }
            while i < text.len() && !is_word(text[i]) {
                i += 1;
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn words_are_found_as_byte_by_byte(
            // Every byte value, and runs long enough to cross blocks.
            text in proptest::collection::vec(
                proptest::prop_oneof![proptest::num::u8::ANY, proptest::strategy::Just(b'a')],
                0..300,
            ),
            stop_after in 0usize..40,
        ) {
            let expected = words_byte_by_byte(&text);
            let mut found = Vec::new();
            let finished = for_each_word(&text, |s, e| {
                found.push((s, e));
                true
            });
            proptest::prop_assert!(finished);
            proptest::prop_assert_eq!(&found, &expected);
            // Stopping early: the words up to the stop, and `false`.
            let mut seen = Vec::new();
            let finished = for_each_word(&text, |s, e| {
                seen.push((s, e));
                seen.len() <= stop_after
            });
            proptest::prop_assert_eq!(finished, expected.len() <= stop_after);
            proptest::prop_assert_eq!(&seen[..], &expected[..seen.len()]);
        }
    }

    #[test]
    fn word_bytes_are_letters_digits_and_non_ascii() {
        for b in 0..=255u8 {
            let mut block = [b' '; 64];
            block[37] = b;
            let expected = b >= 0x80 || b.is_ascii_alphanumeric();
            assert_eq!(
                word_mask(&block),
                u64::from(expected) << 37,
                "byte {b:#04x}"
            );
        }
    }

    /// Deterministic prose: `n` words drawn from a vocabulary of 2,000.
    fn text(seed: u64, n: usize) -> Vec<String> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("w{}", x % 2000)
            })
            .collect()
    }

    fn sketch(words: &[String]) -> Sketch {
        Sketch::of_paragraphs(std::iter::once(words.join(" ").as_str())).unwrap()
    }

    fn exact_jaccard(a: &[String], b: &[String]) -> f32 {
        let sh = |w: &[String]| -> HashSet<String> {
            w.windows(SHINGLE_WORDS).map(|s| s.join(" ")).collect()
        };
        let (a, b) = (sh(a), sh(b));
        a.intersection(&b).count() as f32 / a.union(&b).count() as f32
    }

    #[test]
    fn identical_text_gives_identical_sketches_whatever_the_layout() {
        let words = text(1, 300);
        let a = sketch(&words);
        let spaced = words.join("  \r\n").to_uppercase();
        let b = Sketch::of_paragraphs(std::iter::once(spaced.as_str())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.compact().similarity(&b.compact()), 1.0);
        assert_eq!(a.compact().bands(), b.compact().bands());
    }

    #[test]
    fn estimate_tracks_exact_jaccard() {
        for seed in 0..20 {
            let base = text(seed, 400);
            // Replace a new lead of growing length.
            let cut = 10 + (seed as usize) * 12;
            let mut edited = text(seed + 1000, cut);
            edited.extend_from_slice(&base[cut..]);
            let exact = exact_jaccard(&base, &edited);
            let est = sketch(&base)
                .compact()
                .similarity(&sketch(&edited).compact());
            assert!(
                (exact - est).abs() < 0.2,
                "seed {seed}: exact {exact}, estimate {est}"
            );
        }
    }

    #[test]
    fn different_stories_share_no_band() {
        let mut shared = 0;
        for seed in 0..200 {
            let a = sketch(&text(seed, 300)).compact().bands();
            let b = sketch(&text(seed + 500, 300)).compact().bands();
            shared += a.iter().zip(&b).filter(|(x, y)| x == y).count();
        }
        assert_eq!(shared, 0);
    }

    #[test]
    fn a_band_key_is_its_three_slots_eight_bits() {
        let base = sketch(&text(9, 300));
        let keys = base.compact().bands();
        for slot in 0..SLOTS {
            for bit in [0, 3, 4, 7, 8, 31] {
                let mut s = base.clone();
                s.slots[slot] ^= 1 << bit;
                let changed: Vec<usize> = (0..BANDS)
                    .filter(|&b| s.compact().bands()[b] != keys[b])
                    .collect();
                let want: Vec<usize> = if slot < BAND_SLOTS && bit < 8 {
                    vec![slot / ROWS]
                } else {
                    vec![]
                };
                assert_eq!(changed, want, "slot {slot} bit {bit}");
            }
        }
    }

    #[test]
    fn near_copies_share_a_band() {
        for seed in 0..50 {
            let base = text(seed, 500);
            let mut edited = text(seed + 7000, 40);
            edited.extend_from_slice(&base);
            assert!(exact_jaccard(&base, &edited) > 0.85);
            let (a, b) = (sketch(&base).compact(), sketch(&edited).compact());
            assert!(a.bands().iter().zip(&b.bands()).any(|(x, y)| x == y));
        }
    }

    #[test]
    fn short_texts_are_compared_on_their_own_shingles() {
        // Two headlines sharing 7 of their 14 shingles (Jaccard 0.5): the
        // borrowed slots of short sketches must not inflate the estimate.
        let a = "PACIFIC STOCK EXCHANGE SAYS IT WILL CLOSE ONE HALF HOUR EARLY AT 1300, PDT";
        let b = "PACIFIC STOCK EXCHANGE SAYS IT WILL CLOSE ONE-HALF HOUR EARLY DUE TO HIGH TRADING VOLUME";
        let sk = |t: &str| Sketch::of_paragraphs(std::iter::once(t)).unwrap().compact();
        let sim = sk(a).similarity(&sk(b));
        assert!((0.3..0.65).contains(&sim), "{sim}");
        assert_eq!(sk(a).similarity(&sk(&a.to_lowercase())), 1.0);
    }

    #[test]
    fn short_and_empty_bodies() {
        assert!(Sketch::of_paragraphs(std::iter::once(" .. ;")).is_none());
        let a = Sketch::of_paragraphs(std::iter::once("Shr 12 cts")).unwrap();
        let b = Sketch::of_paragraphs(std::iter::once("shr 12 cts")).unwrap();
        let c = Sketch::of_paragraphs(std::iter::once("Shr 13 cts")).unwrap();
        assert_eq!(a, b);
        assert!(a.compact().similarity(&c.compact()) < 0.2);
    }

    /// The stored sketches' definition: 8-byte chunks, the last zero-padded.
    fn word_hash_by_chunks(word: &[u8]) -> u64 {
        let mut h = word.len() as u64;
        for chunk in word.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ (u64::from_le_bytes(buf) | 0x2020_2020_2020_2020)).wrapping_mul(K);
            h ^= h >> 29;
        }
        h
    }

    /// The stored sketches' definition of the shingles: every run of
    /// [`SHINGLE_WORDS`] words (or all of them, if fewer), hashed whole.
    fn shingles_by_windows(words: &[u64]) -> Vec<u64> {
        words
            .windows(SHINGLE_WORDS.min(words.len()))
            .map(|w| {
                let x = w
                    .iter()
                    .enumerate()
                    .fold(0, |x, (i, w)| x ^ w.rotate_left(ROTATION * i as u32));
                finish_shingle(x)
            })
            .collect()
    }

    #[test]
    fn rolled_shingles_are_the_hashed_windows() {
        for n in 1..40u64 {
            let words: Vec<u64> = (0..n).map(|i| mix64(i ^ n << 20)).collect();
            let mut shingles = Shingles::default();
            let mut rolled: Vec<u64> = words
                .iter()
                .filter_map(|&w| shingles.push(w))
                .map(finish_shingle)
                .collect();
            if shingles.words < SHINGLE_WORDS {
                rolled.push(finish_shingle(shingles.hash));
            }
            assert_eq!(rolled, shingles_by_windows(&words), "{n} words");
        }
    }

    #[test]
    fn word_hash_ignores_what_surrounds_the_word() {
        let text = b"Xy internationalisation, 12345678 a-b \xc3\xa9t\xc3\xa9 ABCDEFGHIJKLMNOPQ";
        for start in 0..text.len() {
            for end in start + 1..=text.len() {
                assert_eq!(
                    word_hash(text, start, end),
                    word_hash_by_chunks(&text[start..end]),
                    "{start}..{end}"
                );
            }
        }
        assert_eq!(word_hash(b"Reuters", 0, 7), word_hash(b"REUTERS", 0, 7));
    }

    #[test]
    fn spread_puts_each_bit_in_its_nibble() {
        for i in 0..15 {
            assert_eq!(spread(1 << i), 1 << (4 * i), "bit {i}");
        }
        assert_eq!(spread(0xFFFF_8000), 0);
        assert_eq!(spread(0xFFFF), 0x0111_1111_1111_1111);
    }

    #[test]
    fn stored_words_hold_fifteen_slots_each_behind_their_position() {
        let s = sketch(&text(5, 40));
        let words = s.compact().to_words();
        for i in 0..SLOTS {
            let (w, k) = (i / PER_WORD, i % PER_WORD);
            assert_eq!(words[w] >> 60, w as u64);
            assert_eq!(
                words[w] >> (BITS as usize * k) & 0xF,
                u64::from(s.slots[i] & 0xF),
                "slot {i}"
            );
        }
        assert_eq!(words[4], 4 << 60 | s.filled);
        for i in 0..BAND_SLOTS {
            assert_eq!(
                words[5] >> (BITS as usize * i) & 0xF,
                u64::from(s.slots[i] >> 4 & 0xF),
                "high bits of slot {i}"
            );
        }
        assert_eq!(words[5] >> 60, 5);
    }

    #[test]
    fn similarity_counts_equal_filled_slots() {
        // Against a slot-by-slot count, on sketches with empty slots too.
        for seed in 0..50 {
            let a = sketch(&text(seed, 20 + seed as usize * 7)).compact();
            let mut words = text(seed, 20 + seed as usize * 7);
            words.truncate(10 + seed as usize * 5);
            let b = sketch(&words).compact();
            let both = a.minima.filled & b.minima.filled;
            let equal = (0..SLOTS)
                .filter(|&i| both >> i & 1 == 1 && a.slot(i) == b.slot(i))
                .count() as f32;
            let either = (a.minima.filled | b.minima.filled).count_ones() as f32;
            let want = ((equal - both.count_ones() as f32 / 16.0) / (15.0 / 16.0) / either)
                .clamp(0.0, 1.0);
            assert!((a.similarity(&b) - want).abs() < 1e-6, "seed {seed}");
        }
    }

    #[test]
    fn words_round_trip_in_any_order() {
        let c = sketch(&text(3, 100)).compact();
        let mut words = c.to_words();
        assert_eq!(Compact::from_words(words), Some(c));
        words.reverse();
        assert_eq!(Compact::from_words(words), Some(c));
        assert_eq!(Compact::from_words(words[1..].iter().copied()), None);
        assert_eq!(Compact::from_words([words[0], words[0]]), None);
    }
}
