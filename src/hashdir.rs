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
    /// bits: about one entry per bucket, or as many as
    /// [`HashDir::with_bucket_size`] asked for.
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
        HashDir::with_bucket_size(entries, 0)
    }

    /// As [`HashDir::new`], with about `2^log2_size` entries per bucket: a
    /// directory of 4 bytes per bucket costs as much as a 4-byte entry
    /// when there is one of each.
    pub(crate) fn with_bucket_size(entries: Vec<T>, log2_size: u32) -> HashDir<T> {
        let bits = (entries.len().max(1).ilog2().saturating_sub(log2_size)).clamp(1, 30);
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

    /// The table with every entry replaced by `f(entry)`, in place: the
    /// directory, built from the old entries' hashes, still finds the new
    /// ones by [`HashDir::bucket`]. For entries smaller than their hash.
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> HashDir<U> {
        HashDir {
            entries: self.entries.into_iter().map(f).collect(),
            dir: self.dir,
            shift: self.shift,
        }
    }
}

impl<T> HashDir<T> {
    pub(crate) fn entries(&self) -> &[T] {
        &self.entries
    }

    /// The entries whose hash shares its bucket with `hash`: those with
    /// that hash, and others.
    pub(crate) fn bucket(&self, hash: u64) -> &[T] {
        let b = usize::try_from(hash >> self.shift).unwrap_or(usize::MAX);
        match (self.dir.get(b), self.dir.get(b + 1)) {
            (Some(&lo), Some(&hi)) => self.entries.get(lo as usize..hi as usize).unwrap_or(&[]),
            _ => &[],
        }
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
    fn larger_buckets_still_hold_each_hash_and_its_mapped_entry() {
        let mut next = xorshift(11);
        for (n, log2_size) in [(0usize, 2), (1, 2), (5, 2), (4096, 2), (5000, 3), (3000, 0)] {
            let hashes: Vec<u64> = (0..n).map(|_| next()).collect();
            let dir = HashDir::with_bucket_size(hashes.clone(), log2_size);
            let buckets = dir.dir.len() - 1;
            if n >= 1 << (log2_size + 1) {
                // About 2^log2_size entries a bucket: between that and twice it.
                assert!(
                    n >> log2_size >= buckets && n >> log2_size < 2 * buckets,
                    "n {n}"
                );
            }
            let small = dir.map(|h| h as u32);
            for &h in &hashes {
                assert!(small.bucket(h).contains(&(h as u32)), "n {n}, hash {h:x}");
            }
            let total: usize = (0..buckets)
                .map(|b| small.bucket((b as u64) << small.shift).len())
                .sum();
            assert_eq!(total, n);
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
