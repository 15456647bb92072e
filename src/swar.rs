//! Eight bytes of text classified at once (SWAR: SIMD within a register),
//! for the sketch's word scanner ([`crate::sketch`]), which stepped byte by
//! byte and took a branch at every word's start and end that the CPU could
//! not predict.
//!
//! The tokenizer does not use it: the same eight-byte step to a word's
//! edge in `NewsTokenStream::run` measured 2% slower (`benches/parse.rs`,
//! corpus), its time being in copying and lower-casing tokens.
//!
//! Each function works on a `u64` loaded little-endian, so byte `i` of the
//! text is bits `8i..8i+8`, and answers in bit 7 of each byte. A
//! comparison adds a constant to every byte's low seven bits and reads the
//! carry into bit 7, which never reaches the next byte.

const ONES: u64 = 0x0101_0101_0101_0101;
/// Bit 7 of every byte.
const HIGH: u64 = ONES * 0x80;
const CASE: u64 = ONES * 0x20;

/// The eight bytes of `text` from `at`, if there are eight.
#[inline(always)]
pub(crate) fn load(text: &[u8], at: usize) -> Option<u64> {
    let eight: [u8; 8] = text.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(eight))
}

/// Bit 7 of byte `i` is set where byte `i` is an ASCII letter or digit.
#[inline(always)]
pub(crate) fn alnum(v: u64) -> u64 {
    let at_least = |v: u64, c: u8| (v + ONES * u64::from(0x80 - c)) & HIGH;
    let low = v & !HIGH;
    let lower = low | CASE;
    let digit = at_least(low, b'0') & !at_least(low, b'9' + 1);
    let letter = at_least(lower, b'a') & !at_least(lower, b'z' + 1);
    (digit | letter) & !(v & HIGH)
}

/// Bit 7 of each byte gathered into bits 0..8 (bit `i` from byte `i`).
#[inline(always)]
pub(crate) fn gather(x: u64) -> u64 {
    ((x & HIGH) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_in_every_position() {
        for b in 0..=255u8 {
            for i in 0..8 {
                let mut eight = *b"  ..--__";
                eight[i] = b;
                let v = u64::from_le_bytes(eight);
                let expected = u64::from(b.is_ascii_alphanumeric()) << i;
                assert_eq!(gather(alnum(v)), expected, "byte {b:#04x} at {i}");
                assert_eq!(gather(v), u64::from(b >= 0x80) << i, "byte {b:#04x} at {i}");
            }
        }
        assert_eq!(load(b"1234567", 0), None);
        assert_eq!(load(b"12345678", 0), Some(u64::from_le_bytes(*b"12345678")));
        assert_eq!(load(b"12345678", usize::MAX), None);
    }
}
