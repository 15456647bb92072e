//! A read-only table of entries keyed by a uniform 64-bit hash: sorted,
//! with a directory of buckets over the hash's top bits. Ingest uses it
//! twice: to find the files an index already holds, and to find committed
//! documents by LSH band. A lookup reads about one entry where a binary
//! search over all of them costs a cache miss per step, which was most of
//! a no-change re-run's CPU time, and then most of clustering's.

/// An entry's key: a hash, uniform over the whole `u64` range.
pub(crate) trait Keyed {
    fn key(&self) -> u64;
}

impl Keyed for u64 {
    fn key(&self) -> u64 {
        *self
    }
}

pub(crate) struct HashDir<T> {
    /// Sorted by hash.
    entries: Vec<T>,
    /// `dir[b]..dir[b + 1]` are the entries whose hash has `b` in its top
    /// bits: about one entry per bucket.
    dir: Vec<u32>,
    shift: u32,
}

impl<T: Keyed + Copy> HashDir<T> {
    /// Sorts `entries` by counting them into the directory's buckets: the
    /// keys are uniform, so a bucket holds about one entry and the sort is
    /// linear. A comparison sort was most of the cost of building the
    /// table (a sixth of a 1% re-run's instructions on the corpus went to
    /// building the band tables).
    pub(crate) fn new(entries: Vec<T>) -> HashDir<T> {
        let bits = entries.len().max(1).ilog2().clamp(1, 30);
        let shift = 64 - bits;
        let bucket = |e: &T| usize::try_from(e.key() >> shift).unwrap_or(usize::MAX);
        let buckets = 1usize << bits;
        // dir[b + 1] counts bucket b, then the prefix sums make dir[b] the
        // first position of bucket b.
        let mut dir = vec![0u32; buckets + 1];
        for e in &entries {
            if let Some(n) = dir.get_mut(bucket(e) + 1) {
                *n += 1;
            }
        }
        for b in 1..dir.len() {
            dir[b] += dir[b - 1];
        }
        let Some(&filler) = entries.first() else {
            return HashDir {
                entries,
                dir,
                shift,
            };
        };
        let mut sorted = vec![filler; entries.len()];
        let mut next = dir.clone();
        for e in &entries {
            if let Some(at) = next.get_mut(bucket(e)) {
                if let Some(slot) = sorted.get_mut(*at as usize) {
                    *slot = *e;
                }
                *at += 1;
            }
        }
        drop(entries);
        for b in 0..buckets {
            let (lo, hi) = (dir[b] as usize, dir[b + 1] as usize);
            if hi - lo > 1 {
                sorted[lo..hi].sort_unstable_by_key(Keyed::key);
            }
        }
        HashDir {
            entries: sorted,
            dir,
            shift,
        }
    }

    /// The positions of the entries whose hash is in `lo..=hi`, which is
    /// cheap when the two share their top bits.
    pub(crate) fn range(&self, lo: u64, hi: u64) -> std::ops::Range<usize> {
        let at = |h: u64| {
            let b = usize::try_from(h >> self.shift).unwrap_or(usize::MAX);
            self.dir.get(b).map_or(0, |&i| i as usize)
        };
        let at_end = |h: u64| {
            let b = usize::try_from(h >> self.shift).unwrap_or(usize::MAX);
            self.dir.get(b + 1).map_or(0, |&i| i as usize)
        };
        let (first, last) = (at(lo), at_end(hi));
        let Some(span) = self.entries.get(first..last) else {
            return 0..0;
        };
        let start = first + span.partition_point(|e| e.key() < lo);
        let end = first + span.partition_point(|e| e.key() <= hi);
        start..end.max(start)
    }

    pub(crate) fn entries(&self) -> &[T] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn finds_every_hash_and_only_those() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        for n in [0usize, 1, 2, 3, 1000, 4097] {
            let mut hashes: Vec<u64> = (0..n).map(|_| next()).collect();
            // A repeated hash, and the extremes of the range.
            if n > 2 {
                hashes[1] = hashes[0];
                hashes[2] = u64::MAX;
            }
            if n > 3 {
                hashes[3] = 0;
            }
            let dir = HashDir::new(hashes.clone());
            let get = |h: u64| &dir.entries()[dir.range(h, h)];
            assert_eq!(dir.entries().len(), n);
            assert!(dir.entries().is_sorted(), "n {n}");
            for &h in &hashes {
                let want = hashes.iter().filter(|&&o| o == h).count();
                assert_eq!(get(h).len(), want, "n {n}, hash {h:x}");
                assert!(get(h).iter().all(|&e| e == h));
            }
            for _ in 0..100 {
                let h = next();
                assert_eq!(get(h).len(), hashes.iter().filter(|&&o| o == h).count());
            }
        }
    }

    #[test]
    fn keys_crowded_into_one_bucket_are_sorted_and_found() {
        // One band key's documents: equal top bits, in reverse order.
        let hashes: Vec<u64> = (0..1000u64).rev().map(|d| 0xABCD_0123 << 32 | d).collect();
        let dir = HashDir::new(hashes.clone());
        assert!(dir.entries().is_sorted());
        let lo = 0xABCD_0123 << 32;
        assert_eq!(dir.range(lo, lo | u64::from(u32::MAX)), 0..1000);
        assert_eq!(dir.entries()[dir.range(lo | 7, lo | 7)], [lo | 7]);
    }

    #[test]
    fn a_range_holds_exactly_the_hashes_inside_it() {
        let mut next = xorshift(7);
        let hashes: Vec<u64> = (0..3000).map(|_| next()).collect();
        let dir = HashDir::new(hashes.clone());
        for _ in 0..200 {
            // Narrow ranges (one key's documents) and wide ones.
            let lo = next();
            for width in [0, u64::from(u32::MAX), 1 << 50] {
                let hi = lo.saturating_add(width);
                let got: Vec<u64> = dir.entries()[dir.range(lo, hi)].to_vec();
                let mut want: Vec<u64> = hashes
                    .iter()
                    .copied()
                    .filter(|h| (lo..=hi).contains(h))
                    .collect();
                want.sort_unstable();
                assert_eq!(got, want);
            }
        }
    }
}
