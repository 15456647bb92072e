//! Snippets: which words of a hit to highlight, and which fragments to show.
//!
//! Pure: it receives the stored text of a hit and its tokens (from the same
//! analyzer that indexed it, so offsets and normalized forms agree) and the
//! patterns the query matched. A phrase is highlighted as one span; stemmed,
//! prefix and fuzzy matches are highlighted on the words actually in the text,
//! because the patterns carry the exact index terms the query expanded to.
//!
//! Fragments are windows of about `max_chars` characters cut at word
//! boundaries, scored by how many different query parts they show; the
//! second fragment prefers parts the first did not show. Text is made safe
//! for a terminal here (control characters and escape sequences removed,
//! whitespace collapsed), so every printer gets the same clean text.

use std::collections::HashSet;
use std::ops::Range;

use crate::hit::Fragment;

/// The tokens of one stored text: each one's byte range in the text and
/// its normalized term, as indexed. The terms share one buffer: a search
/// tokenizes the texts of every hit it shows, and a string per token was
/// about a tenth of a whole search's instructions.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    terms: String,
    list: Vec<(Range<usize>, Range<usize>)>,
}

impl Tokens {
    /// Empties the list, keeping its buffers for the next text.
    pub fn clear(&mut self) {
        self.terms.clear();
        self.list.clear();
    }

    /// Adds the token at `range` of the text, normalized to `term`.
    pub fn push(&mut self, range: Range<usize>, term: &str) {
        let start = self.terms.len();
        self.terms.push_str(term);
        self.list.push((range, start..self.terms.len()));
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn range(&self, i: usize) -> Range<usize> {
        self.list[i].0.clone()
    }

    fn term(&self, i: usize) -> &str {
        &self.terms[self.list[i].1.clone()]
    }

    fn iter(&self) -> impl Iterator<Item = (Range<usize>, &str)> {
        self.list
            .iter()
            .map(|(range, term)| (range.clone(), &self.terms[term.clone()]))
    }
}

/// What one query part matches.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Any of these index terms (a word and its stemmed or fuzzy variants).
    Terms(TermSet),
    /// Any term with this prefix (when the expansion was too large to list).
    Prefix(String),
    /// These terms in order, with up to `slop` other words between them.
    Phrase(Vec<String>, u32),
}

/// Index terms a snippet marks. Nearly every word of a text is none of
/// them: a bitmap of the terms' first bytes turns most words away with one
/// test, before any comparison or hash.
#[derive(Debug, Clone, Default)]
pub struct TermSet {
    terms: HashSet<String>,
    first_bytes: [u64; 4],
}

impl TermSet {
    /// Adds the terms of `other`.
    pub fn merge(&mut self, other: TermSet) {
        self.extend(other.terms);
    }

    fn contains(&self, t: &str) -> bool {
        let Some(&b) = t.as_bytes().first() else {
            return false;
        };
        if self.first_bytes[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
            return false;
        }
        // A word's variants are a few terms: comparing beats hashing.
        if self.terms.len() <= 8 {
            self.terms.iter().any(|w| w == t)
        } else {
            self.terms.contains(t)
        }
    }
}

impl Extend<String> for TermSet {
    fn extend<I: IntoIterator<Item = String>>(&mut self, iter: I) {
        for t in iter {
            if let Some(&b) = t.as_bytes().first() {
                self.first_bytes[usize::from(b >> 6)] |= 1 << (b & 63);
            }
            self.terms.insert(t);
        }
    }
}

impl FromIterator<String> for TermSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> TermSet {
        let mut set = TermSet::default();
        set.extend(iter);
        set
    }
}

/// A query part with the fields it applies to.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Field labels (`title`, `body`, `caption`) it may match in.
    pub fields: Vec<&'static str>,
    /// What it matches.
    pub pattern: Pattern,
}

/// The highlight rules of one query.
#[derive(Debug, Clone, Default)]
pub struct Highlighter {
    rules: Vec<Rule>,
}

/// A highlighted span: byte range and the rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte range in the source text.
    pub range: Range<usize>,
    /// Index of the matching rule.
    pub rule: usize,
}

impl Highlighter {
    /// A highlighter for these rules.
    pub fn new(rules: Vec<Rule>) -> Highlighter {
        Highlighter { rules }
    }

    /// Whether there is nothing to highlight.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Matched spans of one text of field `field`, in text order, without
    /// overlaps (a phrase wins over the single words inside it).
    pub fn spans(&self, field: &str, tokens: &Tokens) -> Vec<Span> {
        let mut spans = Vec::new();
        for (rule_id, rule) in self.rules.iter().enumerate() {
            if !rule.fields.contains(&field) {
                continue;
            }
            match &rule.pattern {
                Pattern::Terms(set) => {
                    for (range, _) in tokens.iter().filter(|(_, t)| set.contains(t)) {
                        spans.push(Span {
                            range,
                            rule: rule_id,
                        });
                    }
                }
                Pattern::Prefix(p) => {
                    for (range, _) in tokens.iter().filter(|(_, t)| t.starts_with(p.as_str())) {
                        spans.push(Span {
                            range,
                            rule: rule_id,
                        });
                    }
                }
                Pattern::Phrase(words, slop) => {
                    for (i, (range, t)) in tokens.iter().enumerate() {
                        if words.first().is_some_and(|w| w == t)
                            && let Some(last) = match_phrase(tokens, i, words, *slop)
                        {
                            spans.push(Span {
                                range: range.start..tokens.range(last).end,
                                rule: rule_id,
                            });
                        }
                    }
                }
            }
        }
        // Longest first at each start, then drop anything overlapping a kept span.
        spans.sort_by(|a, b| {
            a.range
                .start
                .cmp(&b.range.start)
                .then(b.range.end.cmp(&a.range.end))
        });
        let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            if kept.last().is_none_or(|k| s.range.start >= k.range.end) {
                kept.push(s);
            }
        }
        kept
    }
}

/// The index of the last token of a phrase starting at `start`, if the
/// phrase matches there within `slop`.
fn match_phrase(tokens: &Tokens, start: usize, words: &[String], slop: u32) -> Option<usize> {
    let mut at = start;
    let mut slop_left = slop as usize;
    for w in &words[1..] {
        let from = at + 1;
        let to = (from + slop_left).min(tokens.len().saturating_sub(1));
        let found = (from..=to).find(|&k| k < tokens.len() && tokens.term(k) == w)?;
        slop_left -= found - from;
        at = found;
    }
    Some(at)
}

/// One text a fragment may be cut from.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// Label: `title`, `body` or `caption`.
    pub field: &'static str,
    /// The stored text.
    pub text: &'a str,
    /// Its matched spans, in text order without overlaps (as
    /// [`Highlighter::spans`] returns them).
    pub spans: Vec<Span>,
    /// Preference among fields when matches are equal (higher wins).
    pub weight: u32,
}

/// Picks up to `max` fragments of about `max_chars` characters.
///
/// With no match anywhere (a match in a field that is not shown, or a
/// query of filters only), the first body text is shown, unhighlighted: the
/// lead of a news story is its best summary.
pub fn fragments(sources: &[Source<'_>], max: usize, max_chars: usize) -> Vec<Fragment> {
    let max_chars = max_chars.max(20);
    // Sets of rules are bitsets: a hit has a candidate window per match.
    let words = sources
        .iter()
        .flat_map(|s| s.spans.iter().map(|sp| sp.rule / 64 + 1))
        .max()
        .unwrap_or(0);
    let add = |set: &mut [u64], rule: usize| set[rule / 64] |= 1 << (rule % 64);
    let has = |set: &[u64], rule: usize| set[rule / 64] & (1 << (rule % 64)) != 0;
    // A headline is printed with every hit; a title fragment earns its place
    // only by showing a query part that no other text of the hit shows.
    let mut elsewhere = vec![0u64; words];
    for s in sources.iter().filter(|s| s.field != "title") {
        for sp in &s.spans {
            add(&mut elsewhere, sp.rule);
        }
    }
    let mut candidates: Vec<(usize, Range<usize>)> = Vec::new();
    for (si, s) in sources.iter().enumerate() {
        if s.field == "title" && s.spans.iter().all(|sp| has(&elsewhere, sp.rule)) {
            continue;
        }
        for span in &s.spans {
            candidates.push((si, window(s.text, span.range.clone(), max_chars)));
        }
    }
    let mut chosen: Vec<(usize, Range<usize>)> = Vec::new();
    let mut covered = vec![0u64; words];
    let mut rules = vec![0u64; words];
    while chosen.len() < max {
        let mut best: Option<(usize, usize, Range<usize>)> = None;
        for (si, r) in &candidates {
            let overlaps = chosen
                .iter()
                .any(|(ci, cr)| ci == si && cr.start < r.end && r.start < cr.end);
            if overlaps {
                continue;
            }
            let s = &sources[*si];
            rules.fill(0);
            let mut inside = 0;
            for sp in within(&s.spans, r) {
                add(&mut rules, sp.rule);
                inside += 1;
            }
            let distinct: u32 = rules.iter().map(|w| w.count_ones()).sum();
            let new: u32 = rules
                .iter()
                .zip(&covered)
                .map(|(r, c)| (r & !c).count_ones())
                .sum();
            let (distinct, new) = (distinct as usize, new as usize);
            let score = new * 10_000 + distinct * 1_000 + inside * 10 + s.weight as usize;
            // Highest score; among equals the first source, then the
            // earliest window, then the last candidate.
            let better = best.as_ref().is_none_or(|(bs, bi, br)| {
                score
                    .cmp(bs)
                    .then(bi.cmp(si))
                    .then(br.start.cmp(&r.start))
                    .is_ge()
            });
            if better {
                best = Some((score, *si, r.clone()));
            }
        }
        let Some((_, si, range)) = best else { break };
        for sp in within(&sources[si].spans, &range) {
            add(&mut covered, sp.rule);
        }
        chosen.push((si, range));
    }
    if chosen.is_empty() && max > 0 {
        let lead = sources
            .iter()
            .position(|s| s.field == "body")
            .or((!sources.is_empty()).then_some(0));
        if let Some(si) = lead {
            let text = sources[si].text;
            chosen.push((si, 0..cut_end(text, 0, max_chars)));
        }
    }
    chosen
        .into_iter()
        .map(|(si, range)| {
            let s = &sources[si];
            let hl: Vec<Range<usize>> = within(&s.spans, &range)
                .map(|sp| sp.range.clone())
                .collect();
            let (text, highlights) = render(s.text, range, &hl);
            Fragment {
                field: s.field.to_owned(),
                text,
                highlights,
            }
        })
        .filter(|f| !f.text.is_empty())
        .collect()
}

/// The spans lying wholly inside `window`. Spans are in text order, so
/// they are found by binary search: scanning all of a text's spans for
/// each of its candidate windows made a hit quadratic in its matches, and
/// one file repeating a query word 400,000 times held a search for
/// minutes.
fn within<'s>(spans: &'s [Span], window: &Range<usize>) -> impl Iterator<Item = &'s Span> {
    let from = spans.partition_point(|sp| sp.range.start < window.start);
    spans[from..]
        .iter()
        .take_while(move |sp| sp.range.start < window.end)
        .filter(move |sp| sp.range.end <= window.end)
}

/// A window of about `max_chars` around `anchor`, cut at word boundaries.
fn window(text: &str, anchor: Range<usize>, max_chars: usize) -> Range<usize> {
    // Start a third of the window before the match, at a word start.
    let lead = max_chars / 3;
    let start = last_chars_start(&text[..anchor.start], lead).unwrap_or(anchor.start);
    let start = word_start(text, start, anchor.start);
    let end = cut_end(text, start, max_chars).max(anchor.end);
    start..end
}

/// The byte offset of char `n` of `s` (`None` past the end), as
/// `char_indices().nth(n)` gives it. Every hit's candidate windows are
/// measured in chars, and decoding them was a twentieth of a search's
/// instructions; news text is mostly ASCII, where chars are bytes.
fn nth_char(s: &str, n: usize) -> Option<usize> {
    match s.as_bytes().get(..n) {
        Some(head) if head.is_ascii() => (s.len() > n).then_some(n),
        _ => s.char_indices().nth(n).map(|(i, _)| i),
    }
}

/// Where the last `n` chars of `s` start (all of `s` when it is shorter;
/// `None` when `s` is empty or `n` is 0), as
/// `char_indices().rev().take(n).last()` gives it; see [`nth_char`].
fn last_chars_start(s: &str, n: usize) -> Option<usize> {
    let tail = s.len().checked_sub(n).filter(|_| n > 0);
    match tail {
        Some(at) if s.as_bytes()[at..].is_ascii() => Some(at),
        _ => s.char_indices().rev().take(n).last().map(|(i, _)| i),
    }
}

/// Moves `start` forward to the beginning of a word (not past `limit`).
fn word_start(text: &str, start: usize, limit: usize) -> usize {
    if start == 0 || start >= limit {
        return start.min(limit);
    }
    let prev_is_word = text[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric);
    if !prev_is_word {
        return start;
    }
    // Skip the partial word.
    match text[start..limit].find(|c: char| !c.is_alphanumeric()) {
        Some(i) => {
            let after = start + i;
            after
                + text[after..limit]
                    .find(char::is_alphanumeric)
                    .unwrap_or(limit - after)
        }
        None => limit,
    }
}

/// The end of a window starting at `start` of at most `max_chars`
/// characters, pulled back to the end of a word.
fn cut_end(text: &str, start: usize, max_chars: usize) -> usize {
    let hard = match nth_char(&text[start..], max_chars) {
        Some(i) => start + i,
        None => return text.len(),
    };
    // Back up to the last word end before the hard limit.
    let head = &text[start..hard];
    match head.rfind(|c: char| !c.is_alphanumeric()) {
        Some(i) if i > 0 => {
            let trimmed = head[..i].trim_end_matches(|c: char| {
                !c.is_alphanumeric() && !matches!(c, '.' | ',' | '”' | '"' | ')')
            });
            start + trimmed.len().max(1)
        }
        _ => hard,
    }
}

/// Copies `text[range]` for display: whitespace runs and control
/// characters become one space, escape sequences and bidi controls vanish;
/// highlight ranges are mapped onto the new text.
pub fn render(
    text: &str,
    range: Range<usize>,
    highlights: &[Range<usize>],
) -> (String, Vec<[usize; 2]>) {
    let mut out = String::with_capacity(range.len());
    let mut map_start = vec![None; highlights.len()];
    let mut map_end = vec![None; highlights.len()];
    let mut pending_space = false;
    let mut chars = text[range.clone()].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = range.start + i;
        for (h, hl) in highlights.iter().enumerate() {
            if hl.start == at {
                map_start[h] = Some(out.len() + usize::from(pending_space && !out.is_empty()));
            }
            if hl.end == at {
                map_end[h] = Some(out.len());
            }
        }
        if c == '\u{1b}' {
            skip_escape(&mut chars);
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    for (h, hl) in highlights.iter().enumerate() {
        if hl.end == range.end {
            map_end[h] = Some(out.len());
        }
    }
    let spans = map_start
        .into_iter()
        .zip(map_end)
        .filter_map(|(s, e)| match (s, e) {
            (Some(s), Some(e)) if s < e && e <= out.len() => Some([s, e]),
            _ => None,
        })
        .collect();
    (out, spans)
}

/// `s` made safe for a terminal: control characters, escape sequences and
/// bidi overrides removed, whitespace runs collapsed. Borrows when `s` is
/// already clean, which is nearly always.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    let dirty = s.chars().any(|c| c.is_control() || is_invisible(c));
    if dirty {
        std::borrow::Cow::Owned(render(s, 0..s.len(), &[]).0)
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Skips the rest of an ANSI escape sequence (CSI `ESC [ ... final`, OSC
/// `ESC ] ... BEL|ESC \`, or a two-character escape).
fn skip_escape(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    match chars.peek().map(|(_, c)| *c) {
        Some('[') => {
            chars.next();
            for (_, c) in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            chars.next();
            while let Some((_, c)) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    chars.next();
                    break;
                }
            }
        }
        Some(_) => {
            chars.next();
        }
        None => {}
    }
}

/// Bidirectional-text controls and zero-width format characters: they can
/// reorder or hide what a terminal shows.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whitespace tokenizer with lower-casing, enough for these tests.
    fn tokens(text: &str) -> Tokens {
        let mut out = Tokens::default();
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            match (c.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push(s..i, &text[s..i].to_lowercase());
                    start = None;
                }
                _ => {}
            }
        }
        out
    }

    fn terms(words: &[&str]) -> Pattern {
        Pattern::Terms(words.iter().map(|w| w.to_string()).collect())
    }

    fn rule(pattern: Pattern) -> Rule {
        Rule {
            fields: vec!["body", "caption", "title"],
            pattern,
        }
    }

    fn marked(f: &Fragment) -> String {
        let mut s = f.text.clone();
        for [a, b] in f.highlights.iter().rev() {
            s.insert(*b, ']');
            s.insert(*a, '[');
        }
        s
    }

    #[test]
    fn term_sets_hold_exactly_their_terms() {
        let words = [
            "oil", "olive", "élan", "ölpreis", "prices", "price", "priced",
        ];
        for n in [1, 3, words.len()] {
            // Past 8 terms the set hashes instead of comparing.
            let padding = (0..10 * (n / words.len())).map(|i| format!("z{i}"));
            let set: TermSet = words[..n]
                .iter()
                .map(|w| w.to_string())
                .chain(padding)
                .collect();
            for w in &words[..n] {
                assert!(set.contains(w), "{w} in {set:?}");
            }
            for w in ["", "o", "oils", "olives", "élans", "e", "pr", "zebra"] {
                assert!(!set.contains(w), "{w} not in {set:?}");
            }
            assert_eq!(set.contains("z3"), n == words.len());
        }
    }

    #[test]
    fn phrase_is_one_span() {
        let text = "Ukraine offers security guarantees and more security.";
        let h = Highlighter::new(vec![rule(Pattern::Phrase(
            vec!["security".into(), "guarantees".into()],
            0,
        ))]);
        let spans = h.spans("body", &tokens(text));
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].range.clone()], "security guarantees");
    }

    #[test]
    fn phrase_with_slop_and_overlap_with_words() {
        let text = "peace and security talks";
        let h = Highlighter::new(vec![
            rule(terms(&["peace"])),
            rule(Pattern::Phrase(vec!["peace".into(), "talks".into()], 2)),
        ]);
        let spans = h.spans("body", &tokens(text));
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(&text[spans[0].range.clone()], "peace and security talks");
        let strict = Highlighter::new(vec![rule(Pattern::Phrase(
            vec!["peace".into(), "talks".into()],
            1,
        ))]);
        assert!(strict.spans("body", &tokens(text)).is_empty());
    }

    #[test]
    fn fields_restrict_rules() {
        let h = Highlighter::new(vec![Rule {
            fields: vec!["caption"],
            pattern: terms(&["kyiv"]),
        }]);
        assert!(h.spans("body", &tokens("Kyiv")).is_empty());
        assert_eq!(h.spans("caption", &tokens("Kyiv")).len(), 1);
    }

    #[test]
    fn prefix_matches_actual_words() {
        let text = "Neutrality and neutral status";
        let h = Highlighter::new(vec![rule(Pattern::Prefix("neutral".into()))]);
        let s: Vec<&str> = h
            .spans("body", &tokens(text))
            .iter()
            .map(|s| &text[s.range.clone()])
            .collect();
        assert_eq!(s, vec!["Neutrality", "neutral"]);
    }

    #[test]
    fn fragments_cut_at_word_boundaries_and_prefer_new_terms() {
        let filler = "lorem ipsum dolor sit amet ".repeat(20);
        let body = format!("{filler}Zelenskyy spoke {filler}about neutrality today {filler}");
        let h = Highlighter::new(vec![
            rule(terms(&["zelenskyy"])),
            rule(terms(&["neutrality"])),
        ]);
        let spans = h.spans("body", &tokens(&body));
        let sources = [Source {
            field: "body",
            text: &body,
            spans,
            weight: 3,
        }];
        let frags = fragments(&sources, 2, 60);
        assert_eq!(frags.len(), 2);
        let m: Vec<String> = frags.iter().map(marked).collect();
        assert!(m.iter().any(|f| f.contains("[Zelenskyy]")), "{m:?}");
        assert!(m.iter().any(|f| f.contains("[neutrality]")), "{m:?}");
        for f in &frags {
            assert!(f.text.chars().count() <= 61, "{}", f.text);
            let words: Vec<&str> = f.text.split(' ').collect();
            for w in [words[0], words[words.len() - 1]] {
                assert!(
                    [
                        "lorem",
                        "ipsum",
                        "dolor",
                        "sit",
                        "amet",
                        "Zelenskyy",
                        "spoke",
                        "about",
                        "neutrality",
                        "today"
                    ]
                    .contains(&w),
                    "cut word {w:?} in {:?}",
                    f.text
                );
            }
        }
    }

    #[test]
    fn title_fragment_only_when_it_adds_something() {
        let title = "OIL PRICES RISE AS OPEC MEETS";
        let body = "Crude oil rose on Monday.";
        let sources = |h: &Highlighter| {
            ["body", "title"].map(|field| {
                let text = if field == "body" { body } else { title };
                Source {
                    field,
                    text,
                    spans: h.spans(field, &tokens(text)),
                    weight: 1,
                }
            })
        };
        let h = Highlighter::new(vec![rule(terms(&["oil"])), rule(terms(&["opec"]))]);
        let frags = fragments(&sources(&h), 2, 100);
        let mut fields: Vec<&str> = frags.iter().map(|f| f.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, vec!["body", "title"]);
        let h = Highlighter::new(vec![rule(terms(&["oil"]))]);
        let frags = fragments(&sources(&h), 2, 100);
        assert_eq!(
            frags.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            vec!["body"]
        );
    }

    #[test]
    fn no_match_falls_back_to_the_lead() {
        let sources = [
            Source {
                field: "caption",
                text: "A photo.",
                spans: vec![],
                weight: 1,
            },
            Source {
                field: "body",
                text: "The lead paragraph of the story.",
                spans: vec![],
                weight: 3,
            },
        ];
        let f = fragments(&sources, 2, 100);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].field.as_str(), f[0].text.as_str()),
            ("body", "The lead paragraph of the story.")
        );
        assert!(f[0].highlights.is_empty());
    }

    #[test]
    fn render_strips_escapes_and_maps_highlights() {
        let text = "Evil \u{1b}[31mred\u{1b}[0m text\u{202e}rev \u{7}bell\nnew  line";
        let red = text.find("red").unwrap();
        let highlight = red..red + 3;
        let (out, hl) = render(text, 0..text.len(), std::slice::from_ref(&highlight));
        assert_eq!(out, "Evil red textrev bell new line");
        assert_eq!(hl, vec![[5, 8]]);
        assert_eq!(&out[5..8], "red");
        assert!(!out.chars().any(|c| c.is_control() || is_invisible(c)));
    }

    #[test]
    fn clean_borrows_clean_text() {
        assert!(matches!(clean("plain text"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(clean("a\u{1b}]0;title\u{7}b\u{202e}c"), "abc");
    }

    #[test]
    fn highlights_are_valid_byte_ranges_on_multibyte_text() {
        let text = "Zelenskyy’s “neutrality” — Mélenchon";
        let h = Highlighter::new(vec![rule(terms(&["neutrality", "mélenchon"]))]);
        let spans = h.spans("body", &tokens(text));
        let sources = [Source {
            field: "body",
            text,
            spans,
            weight: 3,
        }];
        let f = &fragments(&sources, 1, 200)[0];
        let words: Vec<&str> = f.highlights.iter().map(|[a, b]| &f.text[*a..*b]).collect();
        assert_eq!(words, vec!["neutrality", "Mélenchon"]);
    }

    #[test]
    fn spans_within_a_window_are_those_a_scan_finds() {
        // Adjacent, gapped, one- and many-byte spans, as the highlighter
        // makes them (in order, no overlaps).
        let mut spans = Vec::new();
        let mut at = 0;
        for i in 0..200usize {
            let len = 1 + i % 7;
            spans.push(Span {
                range: at..at + len,
                rule: i % 3,
            });
            at += len + i % 4;
        }
        for start in 0..at + 2 {
            for len in [0, 1, 3, 8, 40, at] {
                let w = start..start + len;
                let scan: Vec<&Span> = spans
                    .iter()
                    .filter(|sp| sp.range.start >= w.start && sp.range.end <= w.end)
                    .collect();
                assert_eq!(within(&spans, &w).collect::<Vec<_>>(), scan, "{w:?}");
            }
        }
    }

    #[test]
    fn char_offsets_match_decoding_every_char() {
        for s in [
            "",
            "a",
            "plain ascii text",
            "Mélenchon said “no”",
            "東京 — 日本",
            "emoji 🙂 at the end🙂",
            "ab\u{301}cd",
        ] {
            for n in 0..=s.chars().count() + 2 {
                assert_eq!(
                    nth_char(s, n),
                    s.char_indices().nth(n).map(|(i, _)| i),
                    "{s:?} {n}"
                );
                assert_eq!(
                    last_chars_start(s, n),
                    s.char_indices().rev().take(n).last().map(|(i, _)| i),
                    "{s:?} {n}"
                );
            }
        }
    }
}
