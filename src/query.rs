//! The query language: text in, a syntax tree out.
//!
//! Pure (no tantivy), so every malformed query can be unit-tested and fuzzed,
//! and every error can say *where* it is. `search.rs` compiles the tree into
//! tantivy queries; this module knows nothing about fields beyond their names.
//!
//! Syntax, loosest binding first:
//!
//! | form | meaning |
//! |---|---|
//! | `a OR b` | either |
//! | `a AND b`, `a b` | both (`a b` means `a OR b` under `--or`) |
//! | `NOT a`, `-a` | exclude; `+a` requires `a` even under `--or` |
//! | `( ... )` | grouping, `(...)^2` boosts |
//! | `field:value` | search one field; `field:( ... )` scopes a group |
//! | `"a b"`, `"a b"~3` | phrase, with slop |
//! | `word` | the word and its stemmed variants (`negotiate` finds `negotiations`) |
//! | `=word` | exactly this word, no stemming |
//! | `neutral*` | prefix |
//! | `zelensky~1`, `~2` | fuzzy, edit distance 1 (default) or 2 |
//! | `word^2` | boost |
//! | `date:2022-03-28`, `date:2022-03`, `date:[2022-03-01 TO 2022-03-31]`, `date:2022-03..2022-04` | inclusive calendar dates, `*` (or nothing beside `..`) for open ends |
//! | `*` | every document |

use std::fmt;
use std::ops::Range;

use crate::article::Date;

/// Longest query accepted, in bytes. Real boolean queries from archivists
/// run to a few hundred bytes; anything past this is a paste accident.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// Deepest nesting of parentheses accepted (the parser recurses).
pub const MAX_DEPTH: usize = 32;

/// Largest phrase slop accepted.
pub const MAX_SLOP: u32 = 100;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Every document (`*`).
    All,
    /// One searchable unit.
    Leaf(Leaf),
    /// Sub-queries combined with occurrence flags.
    Bool(Vec<(Occur, Node)>),
    /// A boosted group.
    Boost(Box<Node>, f32),
}

/// How a clause takes part in a boolean query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occur {
    /// Must match.
    Must,
    /// May match; at least one `Should` must match when there is no `Must`.
    Should,
    /// Must not match.
    MustNot,
}

/// A searchable unit with its field, if one was named.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The field name as typed (`caption`, `body`), `None` for the default fields.
    pub field: Option<String>,
    /// What to match.
    pub kind: LeafKind,
    /// Boost from `^N`.
    pub boost: Option<f32>,
    /// Byte range in the query text.
    pub span: Range<usize>,
}

/// What a leaf matches.
#[derive(Debug, Clone, PartialEq)]
pub enum LeafKind {
    /// A word; stemmed variants match too unless `exact`.
    Word {
        /// The word as typed.
        text: String,
        /// `=word`: only this surface form.
        exact: bool,
    },
    /// `neutral*`.
    Prefix(String),
    /// `zelensky~1`.
    Fuzzy {
        /// The word as typed.
        text: String,
        /// Edit distance, 1 or 2.
        distance: u8,
    },
    /// `"security guarantees"~slop`.
    Phrase {
        /// The words as typed.
        text: String,
        /// Words allowed between the phrase words.
        slop: u32,
    },
    /// Inclusive calendar-date range; `None` is open.
    Dates {
        /// First day.
        from: Option<Date>,
        /// Last day.
        to: Option<Date>,
    },
}

/// A query that cannot be parsed, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// What is wrong.
    pub message: String,
    /// 1-based character column, when the problem has a place.
    pub column: Option<usize>,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(c) = self.column {
            write!(f, " (at column {c})")?;
        }
        Ok(())
    }
}

impl std::error::Error for QueryError {}

/// Parser settings.
#[derive(Debug, Clone)]
pub struct ParseOptions<'a> {
    /// Whether juxtaposed words must all match (default) or any (`--or`).
    pub conjunction: bool,
    /// Field names (and aliases) a query may name; `date` is always accepted.
    pub fields: &'a [&'a str],
    /// Keep what parses and report the rest instead of failing.
    pub lenient: bool,
}

/// A parsed query plus, in lenient mode, what was dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The query tree.
    pub node: Node,
    /// Problems skipped over in lenient mode.
    pub warnings: Vec<QueryError>,
}

/// Parses query text.
///
/// # Errors
///
/// A [`QueryError`] naming the problem and its column. In lenient mode only
/// an empty, overlong or entirely unusable query is an error.
pub fn parse(text: &str, opts: &ParseOptions<'_>) -> Result<Parsed, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError {
            message: format!(
                "query is too long ({} bytes; the limit is {MAX_QUERY_BYTES})",
                text.len()
            ),
            column: None,
        });
    }
    let mut p = Parser {
        text,
        pos: 0,
        opts,
        warnings: Vec::new(),
        depth: 0,
    };
    let node = p.parse_or()?;
    p.skip_space()?;
    if p.pos < text.len() {
        // Only a stray ')' stops parse_or before the end.
        p.problem("unmatched ')'", p.pos)?;
    }
    let node = node.ok_or_else(|| QueryError {
        message: if text.trim().is_empty() {
            "empty query".into()
        } else {
            "query has nothing to search for".into()
        },
        column: None,
    })?;
    Ok(Parsed {
        node,
        warnings: p.warnings,
    })
}

struct Parser<'a, 'o> {
    text: &'a str,
    pos: usize,
    opts: &'o ParseOptions<'o>,
    warnings: Vec<QueryError>,
    depth: usize,
}

/// Characters that end a word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '"')
}

impl Parser<'_, '_> {
    fn column(&self, byte: usize) -> usize {
        self.text[..byte.min(self.text.len())].chars().count() + 1
    }

    fn error(&self, message: impl Into<String>, at: usize) -> QueryError {
        QueryError {
            message: message.into(),
            column: Some(self.column(at)),
        }
    }

    /// Fails in strict mode; records a warning and goes on in lenient mode.
    fn problem(&mut self, message: impl Into<String>, at: usize) -> Result<(), QueryError> {
        let e = self.error(message, at);
        if self.opts.lenient {
            self.warnings.push(e);
            Ok(())
        } else {
            Err(e)
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) -> Result<(), QueryError> {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c.is_control() {
                let at = self.pos;
                self.pos += c.len_utf8();
                self.problem(format!("control character U+{:04X} in query", c as u32), at)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// The next bare word (up to a delimiter), without consuming it.
    fn peek_word(&self) -> &str {
        let rest = self.rest();
        &rest[..rest.find(is_delimiter).unwrap_or(rest.len())]
    }

    fn at_keyword(&self, kw: &str) -> bool {
        self.peek_word() == kw
    }

    fn parse_or(&mut self) -> Result<Option<Node>, QueryError> {
        let mut alternatives = Vec::new();
        if let Some(n) = self.parse_and()? {
            alternatives.push(n);
        }
        loop {
            self.skip_space()?;
            if !self.at_keyword("OR") {
                break;
            }
            let at = self.pos;
            if alternatives.is_empty() {
                self.problem("'OR' needs a term before it", at)?;
            }
            self.pos += 2;
            match self.parse_and()? {
                Some(n) => alternatives.push(n),
                None => self.problem("'OR' needs a term after it", at)?,
            }
        }
        Ok(combine(alternatives, Occur::Should))
    }

    fn parse_and(&mut self) -> Result<Option<Node>, QueryError> {
        let mut parts = Vec::new();
        if let Some(n) = self.parse_seq()? {
            parts.push(n);
        }
        loop {
            self.skip_space()?;
            if !self.at_keyword("AND") {
                break;
            }
            let at = self.pos;
            if parts.is_empty() {
                self.problem("'AND' needs a term before it", at)?;
            }
            self.pos += 3;
            match self.parse_seq()? {
                Some(n) => parts.push(n),
                None => self.problem("'AND' needs a term after it", at)?,
            }
        }
        Ok(combine(parts, Occur::Must))
    }

    /// Juxtaposed items: all required, or (under `--or`) any.
    fn parse_seq(&mut self) -> Result<Option<Node>, QueryError> {
        let implicit = if self.opts.conjunction {
            Occur::Must
        } else {
            Occur::Should
        };
        let mut clauses = Vec::new();
        loop {
            self.skip_space()?;
            let word = self.peek_word();
            if self.pos >= self.text.len()
                || self.peek() == Some(')')
                || word == "AND"
                || word == "OR"
            {
                break;
            }
            let at = self.pos;
            let modifier = if word == "NOT" {
                self.pos += 3;
                self.skip_space()?;
                Some(("'NOT'", Occur::MustNot))
            } else {
                match self.peek() {
                    Some('-') => Some(("'-'", Occur::MustNot)),
                    Some('+') => Some(("'+'", Occur::Must)),
                    _ => None,
                }
            };
            if let Some((name, _)) = modifier {
                if name != "'NOT'" {
                    self.pos += 1;
                }
                if matches!(self.peek(), None | Some(')'))
                    || self.peek().is_some_and(char::is_whitespace)
                {
                    self.problem(format!("{name} must be followed by a term"), at)?;
                    continue;
                }
            }
            let occur = modifier.map_or(implicit, |(_, o)| o);
            if let Some(node) = self.parse_item()? {
                clauses.push((occur, node));
            }
        }
        Ok(match clauses.len() {
            0 => None,
            1 if clauses[0].0 != Occur::MustNot => clauses.pop().map(|(_, n)| n),
            _ => Some(Node::Bool(clauses)),
        })
    }

    fn parse_item(&mut self) -> Result<Option<Node>, QueryError> {
        let start = self.pos;
        match self.peek() {
            Some('(') => self.parse_group(None),
            Some('"') => self.parse_phrase(None, start).map(|l| l.map(Node::Leaf)),
            _ => {
                if let Some((field, len)) = self.field_prefix() {
                    self.pos += len;
                    return self.parse_field_value(field, start);
                }
                self.parse_word(None, start)
            }
        }
    }

    /// `name:` at the cursor, if it is followed by a value.
    fn field_prefix(&self) -> Option<(String, usize)> {
        let word = self.peek_word();
        let colon = word.find(':')?;
        let name = &word[..colon];
        let ident = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        ident.then(|| (name.to_owned(), colon + 1))
    }

    fn known_field(&self, name: &str) -> bool {
        name == "date" || self.opts.fields.contains(&name)
    }

    fn parse_field_value(
        &mut self,
        field: String,
        start: usize,
    ) -> Result<Option<Node>, QueryError> {
        if !self.known_field(&field) {
            let mut known: Vec<&str> = self.opts.fields.to_vec();
            known.push("date");
            self.problem(
                format!("unknown field '{field}' (fields: {})", known.join(", ")),
                start,
            )?;
            // Lenient: search the value in the default fields instead.
            return self.parse_item_unscoped(start);
        }
        match self.peek() {
            None => {
                self.problem(format!("'{field}:' needs a value"), start)?;
                Ok(None)
            }
            Some(c) if c.is_whitespace() || c == ')' => {
                self.problem(
                    format!("'{field}:' needs a value right after the colon"),
                    start,
                )?;
                Ok(None)
            }
            Some('(') => self.parse_group(Some(&field)),
            Some('"') => self
                .parse_phrase(Some(&field), start)
                .map(|l| l.map(Node::Leaf)),
            Some('[' | '{') if field == "date" => self.parse_date_range(start),
            _ if field == "date" => self.parse_date_value(start),
            _ => self.parse_word(Some(&field), start),
        }
    }

    fn parse_item_unscoped(&mut self, start: usize) -> Result<Option<Node>, QueryError> {
        match self.peek() {
            Some('(') => self.parse_group(None),
            Some('"') => self.parse_phrase(None, start).map(|l| l.map(Node::Leaf)),
            Some('[' | '{') => {
                let len = self
                    .rest()
                    .find([']', '}'])
                    .map_or(self.rest().len(), |i| i + 1);
                self.pos += len;
                Ok(None)
            }
            Some(c) if !is_delimiter(c) => self.parse_word(None, start),
            _ => Ok(None),
        }
    }

    fn parse_group(&mut self, field: Option<&str>) -> Result<Option<Node>, QueryError> {
        let open = self.pos;
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("parentheses nested deeper than {MAX_DEPTH}"), open));
        }
        self.pos += 1;
        self.depth += 1;
        let inner = self.parse_or()?;
        self.depth -= 1;
        self.skip_space()?;
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            self.problem("unclosed '('", open)?;
        }
        let boost = self.parse_boost()?;
        let mut node = match inner {
            Some(n) => n,
            None => {
                self.problem("empty parentheses", open)?;
                return Ok(None);
            }
        };
        if let Some(f) = field {
            scope(&mut node, f);
        }
        Ok(Some(match boost {
            Some(b) => Node::Boost(Box::new(node), b),
            None => node,
        }))
    }

    fn parse_phrase(
        &mut self,
        field: Option<&str>,
        start: usize,
    ) -> Result<Option<Leaf>, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let (text, closed) = match self.rest().find('"') {
            Some(i) => (&self.text[self.pos..self.pos + i], true),
            None => (self.rest(), false),
        };
        let text = text.to_owned();
        self.pos += text.len() + usize::from(closed);
        if !closed {
            self.problem("unclosed quote", open)?;
        }
        if let Some((i, c)) = text
            .char_indices()
            .find(|(_, c)| c.is_control() && !c.is_whitespace())
        {
            self.problem(
                format!("control character U+{:04X} in query", c as u32),
                open + 1 + i,
            )?;
        }
        let mut slop = 0;
        if self.peek() == Some('~') {
            let at = self.pos;
            self.pos += 1;
            let digits = self.take_while(|c| c.is_ascii_digit());
            slop = match digits.parse::<u32>() {
                Ok(n) if n <= MAX_SLOP => n,
                _ => {
                    self.problem(
                        format!("phrase slop after '~' must be a number from 0 to {MAX_SLOP}"),
                        at,
                    )?;
                    0
                }
            };
        }
        let boost = self.parse_boost()?;
        self.expect_delimiter()?;
        let words = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .count();
        if words == 0 {
            self.problem("empty phrase", open)?;
            return Ok(None);
        }
        Ok(Some(Leaf {
            field: field.map(str::to_owned),
            kind: LeafKind::Phrase { text, slop },
            boost,
            span: start..self.pos,
        }))
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let rest = self.rest();
        let n = rest.find(|c: char| !f(c)).unwrap_or(rest.len());
        let taken = rest[..n].to_owned();
        self.pos += n;
        taken
    }

    fn parse_boost(&mut self) -> Result<Option<f32>, QueryError> {
        if self.peek() != Some('^') {
            return Ok(None);
        }
        let at = self.pos;
        self.pos += 1;
        let digits = self.take_while(|c| c.is_ascii_digit() || c == '.');
        match digits.parse::<f32>() {
            Ok(b) if b.is_finite() && b > 0.0 && b <= 1000.0 => Ok(Some(b)),
            _ => {
                self.problem(
                    "boost after '^' must be a number above 0 and at most 1000",
                    at,
                )?;
                Ok(None)
            }
        }
    }

    /// After a complete item, only a delimiter may follow.
    fn expect_delimiter(&mut self) -> Result<(), QueryError> {
        match self.peek() {
            Some(c) if !is_delimiter(c) => {
                let at = self.pos;
                let junk = self.peek_word().len();
                self.pos += junk;
                self.problem(format!("unexpected '{}' after a term; add a space", c), at)
            }
            _ => Ok(()),
        }
    }

    fn parse_word(
        &mut self,
        field: Option<&str>,
        start: usize,
    ) -> Result<Option<Node>, QueryError> {
        let raw = self.peek_word().to_owned();
        self.pos += raw.len();
        if raw == "*" && field.is_none() {
            return Ok(Some(Node::All));
        }
        let mut word = raw.as_str();
        let mut boost = None;
        if let Some(i) = word.rfind('^') {
            boost = match word[i + 1..].parse::<f32>() {
                Ok(b) if b.is_finite() && b > 0.0 && b <= 1000.0 => Some(b),
                _ => {
                    self.problem(
                        "boost after '^' must be a number above 0 and at most 1000",
                        self.pos - raw.len() + i,
                    )?;
                    None
                }
            };
            word = &word[..i];
        }
        let exact = word.starts_with('=');
        if exact {
            word = &word[1..];
        }
        let kind = if let Some(i) = word.rfind('~') {
            let digits = &word[i + 1..];
            let distance = match digits {
                "" | "1" => 1,
                "2" => 2,
                _ => {
                    self.problem("fuzzy distance after '~' must be 1 or 2", start)?;
                    1
                }
            };
            LeafKind::Fuzzy {
                text: word[..i].to_owned(),
                distance,
            }
        } else if let Some(stem) = word.strip_suffix('*') {
            LeafKind::Prefix(stem.to_owned())
        } else {
            LeafKind::Word {
                text: word.to_owned(),
                exact,
            }
        };
        let body = match &kind {
            LeafKind::Word { text, .. } | LeafKind::Prefix(text) | LeafKind::Fuzzy { text, .. } => {
                text
            }
            _ => unreachable!("parse_word builds only words, prefixes and fuzzy terms"),
        };
        if body.contains('*') {
            self.problem("'*' is only allowed at the end of a word", start)?;
            return Ok(None);
        }
        if !body.chars().any(char::is_alphanumeric) {
            if body.is_empty() {
                self.problem(format!("'{raw}' has no word to search for"), start)?;
            }
            // Pure punctuation: nothing to search, silently (tokenizers drop it too).
            return Ok(None);
        }
        if matches!(kind, LeafKind::Prefix(ref p) if p.chars().filter(|c| c.is_alphanumeric()).count() < 2)
        {
            self.problem("a prefix needs at least 2 letters before '*'", start)?;
            return Ok(None);
        }
        Ok(Some(Node::Leaf(Leaf {
            field: field.map(str::to_owned),
            kind,
            boost,
            span: start..self.pos,
        })))
    }

    fn parse_date_value(&mut self, start: usize) -> Result<Option<Node>, QueryError> {
        let raw = self.peek_word().to_owned();
        self.pos += raw.len();
        // `A..B`: from the start of period A to the end of period B, the
        // shorthand of `[A TO B]`; either end may be left open.
        let range = raw.split_once("..");
        let (from, to) = range.unwrap_or((&raw, &raw));
        let bound = |s: &str, end: bool| match s {
            "" | "*" if range.is_some() => Ok(None),
            _ => period(s)
                .map(|(a, b)| Some(if end { b } else { a }))
                .ok_or_else(|| {
                    format!("invalid date '{s}' (use YYYY-MM-DD, YYYY-MM or YYYY, or a range A..B)")
                }),
        };
        match (bound(from, false), bound(to, true)) {
            (Ok(Some(f)), Ok(Some(t))) if f > t => {
                self.problem("date range ends before it starts", start)?;
                Ok(None)
            }
            (Ok(None), Ok(None)) => {
                self.problem("a date range needs at least one end", start)?;
                Ok(None)
            }
            (Ok(f), Ok(t)) => Ok(Some(date_leaf(f, t, start..self.pos))),
            (Err(e), _) | (_, Err(e)) => {
                self.problem(e, start)?;
                Ok(None)
            }
        }
    }

    fn parse_date_range(&mut self, start: usize) -> Result<Option<Node>, QueryError> {
        let open = self.pos;
        let inclusive = self.peek() == Some('[');
        let close = if inclusive { ']' } else { '}' };
        let Some(len) = self.rest().find(close) else {
            self.problem(format!("unclosed date range: missing '{close}'"), open)?;
            self.pos = self.text.len();
            return Ok(None);
        };
        let inner = self.text[self.pos + 1..self.pos + len].to_owned();
        self.pos += len + 1;
        self.expect_delimiter()?;
        let parts: Vec<&str> = inner.split_whitespace().collect();
        let [from, to_kw, to] = parts.as_slice() else {
            self.problem("date range must look like [2022-03-01 TO 2022-03-31]", open)?;
            return Ok(None);
        };
        if *to_kw != "TO" {
            self.problem("date range must look like [2022-03-01 TO 2022-03-31]", open)?;
            return Ok(None);
        }
        let bound = |s: &str, first: bool| -> Result<Option<Date>, String> {
            if s == "*" {
                return Ok(None);
            }
            let (a, b) = period(s)
                .ok_or_else(|| format!("invalid date '{s}' (use YYYY-MM-DD, YYYY-MM or YYYY)"))?;
            // Exclusive bounds `{a TO b}` step one day inwards.
            let day = if first {
                if inclusive { a } else { next_day(b) }
            } else if inclusive {
                b
            } else {
                prev_day(a)
            };
            Ok(Some(day))
        };
        let (from, to) = match (bound(from, true), bound(to, false)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => {
                self.problem(e, open)?;
                return Ok(None);
            }
        };
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            self.problem("date range ends before it starts", open)?;
            return Ok(None);
        }
        Ok(Some(date_leaf(from, to, start..self.pos)))
    }
}

fn date_leaf(from: Option<Date>, to: Option<Date>, span: Range<usize>) -> Node {
    Node::Leaf(Leaf {
        field: Some("date".into()),
        kind: LeafKind::Dates { from, to },
        boost: None,
        span,
    })
}

fn next_day(d: Date) -> Date {
    Date::from_days_since_epoch(d.days_since_epoch() + 1).unwrap_or(d)
}

fn prev_day(d: Date) -> Date {
    Date::from_days_since_epoch(d.days_since_epoch() - 1).unwrap_or(d)
}

/// `2022-03-28`, `2022-03` or `2022` as its first and last day.
pub fn period(s: &str) -> Option<(Date, Date)> {
    if let Some(d) = Date::parse(s) {
        return Some((d, d));
    }
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let mut parts = s.split('-');
    let year = parts
        .next()
        .filter(|y| y.len() == 4 && digits(y))?
        .parse()
        .ok()?;
    match (parts.next(), parts.next()) {
        (None, _) => Some((Date::new(year, 1, 1)?, Date::new(year, 12, 31)?)),
        (Some(m), None) if digits(m) && m.len() <= 2 => {
            let month = m.parse().ok()?;
            let first = Date::new(year, month, 1)?;
            let last = (28..=31).rev().find_map(|d| Date::new(year, month, d))?;
            Some((first, last))
        }
        _ => None,
    }
}

/// Applies a field to every leaf of a group that does not name its own.
fn scope(node: &mut Node, field: &str) {
    match node {
        Node::Leaf(l) if l.field.is_none() => l.field = Some(field.to_owned()),
        Node::Bool(clauses) => clauses.iter_mut().for_each(|(_, n)| scope(n, field)),
        Node::Boost(n, _) => scope(n, field),
        _ => {}
    }
}

fn combine(mut nodes: Vec<Node>, occur: Occur) -> Option<Node> {
    match nodes.len() {
        0 => None,
        1 => nodes.pop(),
        _ => Some(Node::Bool(nodes.into_iter().map(|n| (occur, n)).collect())),
    }
}

impl Node {
    /// Every leaf of the tree that is not under a `MustNot`: what a snippet
    /// should highlight.
    pub fn positive_leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        self.collect_positive(&mut out);
        out
    }

    fn collect_positive<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Node::All => {}
            Node::Leaf(l) => out.push(l),
            Node::Bool(clauses) => {
                for (occur, n) in clauses {
                    if *occur != Occur::MustNot {
                        n.collect_positive(out);
                    }
                }
            }
            Node::Boost(n, _) => n.collect_positive(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn opts(lenient: bool) -> ParseOptions<'static> {
        ParseOptions {
            conjunction: true,
            fields: FIELDS,
            lenient,
        }
    }

    fn ok(q: &str) -> Node {
        parse(q, &opts(false))
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .node
    }

    fn err(q: &str) -> QueryError {
        parse(q, &opts(false)).expect_err(q)
    }

    fn word(text: &str) -> Node {
        Node::Leaf(Leaf {
            field: None,
            kind: LeafKind::Word {
                text: text.into(),
                exact: false,
            },
            boost: None,
            span: 0..0,
        })
    }

    /// Spans make trees hard to compare; zero them.
    fn unspan(n: Node) -> Node {
        match n {
            Node::Leaf(l) => Node::Leaf(Leaf { span: 0..0, ..l }),
            Node::Bool(c) => Node::Bool(c.into_iter().map(|(o, n)| (o, unspan(n))).collect()),
            Node::Boost(n, b) => Node::Boost(Box::new(unspan(*n)), b),
            Node::All => Node::All,
        }
    }

    fn leaf(q: &str) -> Leaf {
        match ok(q) {
            Node::Leaf(l) => l,
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn default_operator_is_and() {
        assert_eq!(
            unspan(ok("peace talks")),
            Node::Bool(vec![
                (Occur::Must, word("peace")),
                (Occur::Must, word("talks"))
            ])
        );
        let or = parse(
            "peace talks",
            &ParseOptions {
                conjunction: false,
                ..opts(false)
            },
        )
        .unwrap()
        .node;
        assert_eq!(
            unspan(or),
            Node::Bool(vec![
                (Occur::Should, word("peace")),
                (Occur::Should, word("talks"))
            ])
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let n = unspan(ok("a b OR c"));
        let expected = Node::Bool(vec![
            (
                Occur::Should,
                Node::Bool(vec![(Occur::Must, word("a")), (Occur::Must, word("b"))]),
            ),
            (Occur::Should, word("c")),
        ]);
        assert_eq!(n, expected);
        assert_eq!(
            unspan(ok("a AND b")),
            Node::Bool(vec![(Occur::Must, word("a")), (Occur::Must, word("b"))])
        );
    }

    #[test]
    fn negation_forms() {
        for q in ["russia -ukraine", "russia NOT ukraine"] {
            assert_eq!(
                unspan(ok(q)),
                Node::Bool(vec![
                    (Occur::Must, word("russia")),
                    (Occur::MustNot, word("ukraine"))
                ]),
                "{q}"
            );
        }
        assert_eq!(
            unspan(ok("-ukraine")),
            Node::Bool(vec![(Occur::MustNot, word("ukraine"))])
        );
        let or = parse(
            "+russia ukraine",
            &ParseOptions {
                conjunction: false,
                ..opts(false)
            },
        )
        .unwrap()
        .node;
        assert_eq!(
            unspan(or),
            Node::Bool(vec![
                (Occur::Must, word("russia")),
                (Occur::Should, word("ukraine"))
            ])
        );
    }

    #[test]
    fn fields_phrases_prefix_fuzzy_exact() {
        let l = leaf("captions:Shevchenko");
        assert_eq!(l.field.as_deref(), Some("captions"));
        let l = leaf("\"peace talks\"~3");
        assert_eq!(
            l.kind,
            LeafKind::Phrase {
                text: "peace talks".into(),
                slop: 3
            }
        );
        assert_eq!(leaf("neutral*").kind, LeafKind::Prefix("neutral".into()));
        assert_eq!(
            leaf("zelensky~1").kind,
            LeafKind::Fuzzy {
                text: "zelensky".into(),
                distance: 1
            }
        );
        assert_eq!(
            leaf("zelensky~").kind,
            LeafKind::Fuzzy {
                text: "zelensky".into(),
                distance: 1
            }
        );
        assert_eq!(
            leaf("zelensky~2").kind,
            LeafKind::Fuzzy {
                text: "zelensky".into(),
                distance: 2
            }
        );
        assert_eq!(
            leaf("=negotiate").kind,
            LeafKind::Word {
                text: "negotiate".into(),
                exact: true
            }
        );
        assert_eq!(leaf("war^2").boost, Some(2.0));
        let l = leaf("body:\"security guarantees\"");
        assert_eq!(
            (l.field.as_deref(), l.kind),
            (
                Some("body"),
                LeafKind::Phrase {
                    text: "security guarantees".into(),
                    slop: 0
                }
            )
        );
    }

    #[test]
    fn field_scopes_a_group() {
        let n = ok("caption:(kharkiv OR kyiv)");
        let leaves = n.positive_leaves();
        assert_eq!(leaves.len(), 2);
        assert!(leaves.iter().all(|l| l.field.as_deref() == Some("caption")));
    }

    #[test]
    fn dates() {
        let d = |s| Date::parse(s);
        assert_eq!(
            leaf("date:[2022-03-01 TO 2022-03-31]").kind,
            LeafKind::Dates {
                from: d("2022-03-01"),
                to: d("2022-03-31")
            }
        );
        assert_eq!(
            leaf("date:{2022-03-01 TO 2022-03-31}").kind,
            LeafKind::Dates {
                from: d("2022-03-02"),
                to: d("2022-03-30")
            }
        );
        assert_eq!(
            leaf("date:[* TO 2022-03]").kind,
            LeafKind::Dates {
                from: None,
                to: d("2022-03-31")
            }
        );
        // `A..B` runs from the start of A to the end of B.
        assert_eq!(
            leaf("date:2022-03..2022-04").kind,
            LeafKind::Dates {
                from: d("2022-03-01"),
                to: d("2022-04-30")
            }
        );
        assert_eq!(
            leaf("date:..2021").kind,
            LeafKind::Dates {
                from: None,
                to: d("2021-12-31")
            }
        );
        assert_eq!(
            leaf("date:2022-03-28..*").kind,
            LeafKind::Dates {
                from: d("2022-03-28"),
                to: None
            }
        );
        assert_eq!(
            leaf("date:2022-02").kind,
            LeafKind::Dates {
                from: d("2022-02-01"),
                to: d("2022-02-28")
            }
        );
        assert_eq!(
            leaf("date:2022-03-28").kind,
            LeafKind::Dates {
                from: d("2022-03-28"),
                to: d("2022-03-28")
            }
        );
    }

    #[test]
    fn bad_queries_name_the_problem_and_place() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("\"unclosed", "unclosed quote", Some(1)),
            ("(a OR b", "unclosed '('", Some(1)),
            ("a OR b)", "unmatched ')'", Some(7)),
            ("nope:word", "unknown field 'nope'", Some(1)),
            ("date:2022-13-45", "invalid date '2022-13-45'", Some(1)),
            ("date:2022-04..2022-03", "ends before it starts", Some(1)),
            ("date:2022..20x", "invalid date '20x'", Some(1)),
            ("date:..", "needs at least one end", Some(1)),
            (
                "date:[2022-03-01 TO 2022-02-30]",
                "invalid date '2022-02-30'",
                Some(6),
            ),
            (
                "date:[2022-03-01 TO 2022-02-01]",
                "ends before it starts",
                Some(6),
            ),
            ("-", "'-' must be followed by a term", Some(1)),
            ("war -", "'-' must be followed by a term", Some(5)),
            ("", "empty query", None),
            ("   ", "empty query", None),
            ("a\u{7}b", "control character U+0007", Some(2)),
            ("body:", "'body:' needs a value", Some(1)),
            ("zelensky~3", "fuzzy distance", Some(1)),
            ("ne*ut", "only allowed at the end", Some(1)),
            ("\"a b\"~x", "phrase slop", Some(6)),
            ("OR war", "'OR' needs a term before it", Some(1)),
            ("war AND", "'AND' needs a term after it", Some(5)),
            ("NOT", "'NOT' must be followed by a term", Some(1)),
            ("()", "empty parentheses", Some(1)),
            ("a*", "at least 2 letters", Some(1)),
        ];
        for (q, needle, column) in cases {
            let e = err(q);
            assert!(e.message.contains(needle), "{q:?}: {e}");
            assert_eq!(e.column, *column, "{q:?}: {e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn long_and_deep_queries_are_errors_not_crashes() {
        let long = "word ".repeat(30_000);
        assert!(err(&long).message.contains("too long"));
        let deep = format!("{}war{}", "(".repeat(1000), ")".repeat(1000));
        assert!(err(&deep).message.contains("nested deeper"));
    }

    /// Fuzzing found a panic: the column of a bad boost was computed from
    /// the start of `field:`, not of the word, landing inside a multi-byte
    /// character.
    #[test]
    fn regression_bad_boost_after_multibyte_word_in_a_field() {
        let e = err("body:\u{20ac}\u{20ac}^x");
        assert!(e.message.contains("boost"), "{e}");
        assert_eq!(e.column, Some(8));
        assert_eq!(err("body:€^x").column, Some(7));
        assert!(
            parse("L:\u{ad}]^", &opts(true)).is_err(),
            "nothing searchable, but no panic"
        );
        assert!(parse("x:\u{20ac}^ ", &opts(true)).is_err());
    }

    #[test]
    fn lenient_keeps_what_parses() {
        let p = parse("war \"unclosed phrase", &opts(true)).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.node.positive_leaves().len(), 2);
        let p = parse("nope:peace (talks", &opts(true)).unwrap();
        assert_eq!(p.warnings.len(), 2);
        let leaves = p.node.positive_leaves();
        assert_eq!(leaves.len(), 2);
        assert!(leaves.iter().all(|l| l.field.is_none()));
        let p = parse("war a\u{1b}[31m -", &opts(true)).unwrap();
        assert!(!p.warnings.is_empty());
        assert!(parse("", &opts(true)).is_err());
    }

    #[test]
    fn star_is_every_document() {
        assert_eq!(ok("*"), Node::All);
        assert_eq!(
            unspan(ok("* -war")),
            Node::Bool(vec![
                (Occur::Must, Node::All),
                (Occur::MustNot, word("war"))
            ])
        );
    }

    #[test]
    fn punctuation_only_words_are_dropped() {
        assert_eq!(unspan(ok("war —")), word("war"));
        assert!(err("— ...").message.contains("nothing to search"));
    }
}
