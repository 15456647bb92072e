//! The article parser: text in, fields out.
//!
//! This module owns what an article *is*: a title, a date, a dateline and
//! agency, body paragraphs, photo captions with their credits, and a
//! contributors block. It is pure: no tantivy, no I/O, no allocation beyond
//! the paragraphs that must be re-joined, so it can be unit-tested on strings
//! and fuzzed on arbitrary input.
//!
//! The format it understands is the one real archives use:
//!
//! * an optional title: a first short line followed by a blank line
//!   (BBC and Reuters-21578 exports);
//! * an optional ` date YYYY-MM-DD` header;
//! * a dateline running into the first paragraph, either wire style
//!   (`LVIV, Ukraine (AP) — ...`) or 1980s Reuters style
//!   (`SALVADOR, Feb 26 - ...`);
//! * paragraphs separated by blank lines; a paragraph that ends in a photo
//!   credit such as `(AP Photo/Felipe Dana)` is a caption;
//! * a `___` line, after which the next paragraph names the contributors.
//!
//! CRLF line endings, a byte-order mark, indentation and extra blank lines do
//! not change the result: every line is trimmed before it is looked at.

use std::borrow::Cow;
use std::fmt;
use std::ops::RangeInclusive;

/// A parsed article. Text fields borrow from the input where they can.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Article<'a> {
    /// The headline, when the file starts with one (BBC, Reuters exports).
    pub title: Option<Cow<'a, str>>,
    /// The date from the ` date YYYY-MM-DD` header.
    pub date: Option<Date>,
    /// Place of the dateline, e.g. `LVIV, Ukraine`.
    pub dateline: Option<Cow<'a, str>>,
    /// The agency named in the dateline (`AP`) or the sign-off (`Reuters`).
    pub agency: Option<Cow<'a, str>>,
    /// Body paragraphs: everything that is not a caption or contributors.
    pub body: Vec<Cow<'a, str>>,
    /// Photo-caption paragraphs, each ending in its credit.
    pub captions: Vec<Cow<'a, str>>,
    /// The credit of each caption, without the parentheses.
    pub photo_credits: Vec<Cow<'a, str>>,
    /// The paragraph(s) after a `___` line.
    pub contributors: Vec<Cow<'a, str>>,
    /// Things that looked wrong but did not stop the parse.
    pub warnings: Vec<ParseWarning>,
}

/// Why a text is not an article at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but whitespace (or only a date header).
    Empty,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("no article text (empty or whitespace only)"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Something odd in an article that was still indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseWarning {
    /// A ` date` header whose value is not a calendar date, or is one
    /// outside [`Date::INDEXABLE`].
    BadDate(String),
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseWarning::BadDate(raw) => {
                write!(
                    f,
                    "date header {raw:?} is not a valid date; indexed without a date"
                )
            }
        }
    }
}

/// A calendar date (proleptic Gregorian), the only time resolution news
/// archives carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// The dates a ` date` header may give; any other is a
    /// [`ParseWarning::BadDate`] and the article is indexed without a date.
    ///
    /// The index stores a date as tantivy's `DateTime`, a signed 64-bit
    /// count of nanoseconds since 1970, which reaches from 1677-09-21
    /// 00:12:44 to 2262-04-11 23:47:16 UTC. A date outside that overflows
    /// and comes back as a wrong one (9999-12-31 was stored as 1816-03-29),
    /// or panics in a debug build. The range is the whole years inside it,
    /// which are simpler to state than the exact ends. It is not narrowed
    /// to what looks plausible for news: digitized newspapers go back to
    /// the 1700s, and such a cut-off would drop real dates to catch typos.
    pub const INDEXABLE: RangeInclusive<Date> = Date {
        year: 1678,
        month: 1,
        day: 1,
    }..=Date {
        year: 2261,
        month: 12,
        day: 31,
    };

    /// A date, if `year-month-day` exists on the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        (day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD` (one- or two-digit month and day are accepted).
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        let digits = |p: &str, max: usize| {
            !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
        };
        if y.len() != 4 || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before), for storage as a timestamp.
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`Date::days_since_epoch`]; `None` outside years 1..=9999.
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date::new(
            i32::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Longest first line that still counts as a headline.
const MAX_TITLE_CHARS: usize = 160;

/// Parses the text of one article.
///
/// # Errors
///
/// [`ParseError::Empty`] when the text holds no article text at all.
pub fn parse(text: &str) -> Result<Article<'_>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut paragraphs = Paragraphs::new(text).peekable();
    let mut article = Article::default();

    // A headline is a lone short line followed by a blank line (or by nothing).
    if let Some(first) = paragraphs.peek()
        && first.lines == 1
        && looks_like_title(&first.text)
        && let Some(first) = paragraphs.next()
    {
        article.title = Some(first.text);
    }

    let mut lead = paragraphs.next();
    if let Some(p) = lead.take() {
        lead = strip_date_header(p, &mut article);
        if lead.is_none() {
            // The header stood alone; the dateline starts the next paragraph.
            lead = paragraphs.next();
        }
    }
    if let Some(p) = lead.take() {
        lead = strip_dateline(p, &mut article);
    }

    let mut after_rule = false;
    for p in lead.into_iter().chain(paragraphs) {
        let text = p.text;
        if let Some(rest) = strip_rule(&text) {
            match rest {
                // `___` directly followed (no blank line) by the contributors.
                Some(rest) => article.contributors.push(reborrow(&text, rest)),
                None => after_rule = true,
            }
            continue;
        }
        if after_rule {
            article.contributors.push(text);
            after_rule = false;
        } else if let Some(credit) = photo_credit(&text) {
            article.photo_credits.push(reborrow(&text, credit));
            article.captions.push(text);
        } else {
            article.body.push(text);
        }
    }
    strip_reuters_signoff(&mut article);

    let has_text = article.title.is_some()
        || !article.body.is_empty()
        || !article.captions.is_empty()
        || !article.contributors.is_empty();
    if has_text {
        Ok(article)
    } else {
        Err(ParseError::Empty)
    }
}

/// Re-borrows `part` (a sub-slice of `whole`) with `whole`'s lifetime where
/// `whole` is borrowed, or copies it where `whole` is owned.
fn reborrow<'a>(whole: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    match whole {
        Cow::Borrowed(w) => {
            let start = part.as_ptr() as usize - w.as_ptr() as usize;
            Cow::Borrowed(&w[start..start + part.len()])
        }
        Cow::Owned(_) => Cow::Owned(part.to_owned()),
    }
}

/// One paragraph: trimmed lines joined with `\n`.
struct Paragraph<'a> {
    text: Cow<'a, str>,
    lines: usize,
}

/// Splits text into paragraphs at blank lines, trimming every line.
struct Paragraphs<'a> {
    rest: &'a str,
}

impl<'a> Paragraphs<'a> {
    fn new(text: &'a str) -> Self {
        Paragraphs { rest: text }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        // memchr, not `str::find` with a char pattern: this scans every
        // byte of every article, and `find` looks at one char at a time.
        let (line, rest) = match memchr::memchr2(b'\n', b'\r', self.rest.as_bytes()) {
            Some(i) => {
                let skip = if self.rest[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                (&self.rest[..i], &self.rest[i + skip..])
            }
            None => (self.rest, ""),
        };
        self.rest = rest;
        Some(line.trim())
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Paragraph<'a>;

    fn next(&mut self) -> Option<Paragraph<'a>> {
        let first = loop {
            let line = self.next_line()?;
            if !line.is_empty() {
                break line;
            }
        };
        let mut text = Cow::Borrowed(first);
        let mut lines = 1;
        while let Some(line) = self.next_line() {
            if line.is_empty() {
                break;
            }
            lines += 1;
            let joined = text.to_mut();
            joined.push('\n');
            joined.push_str(line);
        }
        Some(Paragraph { text, lines })
    }
}

fn looks_like_title(line: &str) -> bool {
    line.chars().count() <= MAX_TITLE_CHARS
        && !line.ends_with('.')
        && date_header(line).is_none()
        && strip_rule(line).is_none()
        && photo_credit(line).is_none()
        && wire_dateline(line).is_none()
        && reuters_dateline(line).is_none()
}

/// Splits a ` date YYYY-MM-DD` header off the start of a paragraph:
/// returns the raw date token and the text after it.
fn date_header(p: &str) -> Option<(&str, &str)> {
    let rest = p.strip_prefix("date").or_else(|| p.strip_prefix("Date"))?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let token = &rest[..end];
    // Only a token shaped like a date makes this a header ("Date night was fun" is not).
    let shaped = token.len() >= 8
        && token.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && token.bytes().filter(|&b| b == b'-').count() == 2
        && token.as_bytes()[0].is_ascii_digit();
    shaped.then(|| (token, rest[end..].trim_start()))
}

fn strip_date_header<'a>(p: Paragraph<'a>, article: &mut Article<'a>) -> Option<Paragraph<'a>> {
    let Some((token, rest)) = date_header(&p.text) else {
        return Some(p);
    };
    match Date::parse(token).filter(|d| Date::INDEXABLE.contains(d)) {
        Some(date) => article.date = Some(date),
        None => article
            .warnings
            .push(ParseWarning::BadDate(token.to_owned())),
    }
    if rest.is_empty() {
        return None;
    }
    let text = reborrow(&p.text, rest);
    Some(Paragraph {
        text,
        lines: p.lines,
    })
}

fn strip_dateline<'a>(p: Paragraph<'a>, article: &mut Article<'a>) -> Option<Paragraph<'a>> {
    let found = wire_dateline(&p.text).or_else(|| reuters_dateline(&p.text));
    let Some(Dateline {
        place,
        agency,
        rest,
    }) = found
    else {
        return Some(p);
    };
    article.dateline = Some(reborrow(&p.text, place));
    if let Some(agency) = agency {
        article.agency = Some(reborrow(&p.text, agency));
    }
    if rest.is_empty() {
        return None;
    }
    let text = reborrow(&p.text, rest);
    Some(Paragraph {
        text,
        lines: p.lines,
    })
}

struct Dateline<'a> {
    place: &'a str,
    agency: Option<&'a str>,
    rest: &'a str,
}

/// `LVIV, Ukraine (AP) — text`, `LONDON, March 3 (Reuters) - text`,
/// `WASHINGTON — text`.
fn wire_dateline(p: &str) -> Option<Dateline<'_>> {
    let head = &p[..floor_boundary(p, 120)];
    let (place, agency, after) = match head.find('(') {
        Some(open) => {
            let close = open + head[open..].find(')')?;
            let agency = head[open + 1..close].trim();
            if !is_agency(agency) {
                return None;
            }
            (p[..open].trim_end(), Some(agency), &p[close + 1..])
        }
        None => {
            // No agency: only an em or en dash separates the place from the text.
            let dash = head.find(['—', '–'])?;
            (p[..dash].trim_end(), None, &p[dash..])
        }
    };
    let after = after.trim_start();
    let rest = after.trim_start_matches(['—', '–', '-']);
    if rest.len() == after.len() || !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let place = place_of(place)?;
    Some(Dateline {
        place,
        agency,
        rest: rest.trim_start(),
    })
}

/// News agencies that put their name in a dateline.
const AGENCIES: [&str; 24] = [
    "ap",
    "associated press",
    "ap radio",
    "reuters",
    "afp",
    "agence france-presse",
    "upi",
    "dpa",
    "efe",
    "ansa",
    "kyodo",
    "yonhap",
    "xinhua",
    "tass",
    "interfax",
    "bloomberg",
    "cnn",
    "bbc",
    "press association",
    "canadian press",
    "the canadian press",
    "anadolu",
    "kyodo news",
    "bernama",
];

/// Whether the parenthesized word of a dateline names an agency: a known
/// one, or an acronym (`UPI`, `KCNA`). Anything else in parentheses after an
/// upper-case heading (`TOKYO RUBBER (YEN PER KILO) -`, a Reuters table) is
/// article text and stays in the body.
fn is_agency(s: &str) -> bool {
    let acronym = (2..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase());
    acronym || AGENCIES.iter().any(|a| s.eq_ignore_ascii_case(a))
}

/// Validates a dateline place: an upper-case city, then optionally a region
/// after a comma. A trailing `, Month Day` (the date inside a wire dateline)
/// is dropped.
fn place_of(place: &str) -> Option<&str> {
    if place.is_empty() || place.len() > 80 || place.contains('\n') {
        return None;
    }
    let (city, region) = match place.split_once(',') {
        Some((c, r)) => (c.trim_end(), Some(r.trim())),
        None => (place, None),
    };
    if !is_upper_place(city) {
        return None;
    }
    match region {
        None => Some(place),
        Some("") => None,
        Some(r) if month_day(r).is_some() => Some(city),
        Some(r) => {
            // `LVIV, Ukraine, March 3`: drop a trailing date.
            if let Some((region, date)) = r.rsplit_once(',')
                && month_day(date.trim()).is_some()
            {
                let end = place.len() - r.len() + region.trim_end().len();
                return Some(&place[..end]);
            }
            r.starts_with(|c: char| c.is_uppercase()).then_some(place)
        }
    }
}

/// An all-caps city name: `LVIV`, `NEW YORK`, `ST. LOUIS`, `N'DJAMENA`.
fn is_upper_place(s: &str) -> bool {
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 2
        && s.len() <= 40
        && s.split(' ').count() <= 4
        && s.chars()
            .all(|c| c.is_uppercase() || matches!(c, ' ' | '.' | '-' | '\'' | '’'))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `Feb 26`, `March 3`, `Sept. 4`: the month (1-12) and day.
fn month_day(s: &str) -> Option<(u8, u8)> {
    let (month, day) = s.split_once(' ')?;
    let month = month.trim_end_matches('.');
    if month.len() < 3 || month.len() > 9 || !month.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let lower = month.to_ascii_lowercase();
    let m = MONTHS.iter().position(|name| lower.starts_with(name))?;
    let day: u8 = day.trim().parse().ok()?;
    (1..=31).contains(&day).then_some((m as u8 + 1, day))
}

/// Reuters-21578 style: `SALVADOR, Feb 26 - text`.
fn reuters_dateline(p: &str) -> Option<Dateline<'_>> {
    let head = &p[..floor_boundary(p, 80)];
    let dash = head.find(" - ")?;
    let (place, date) = head[..dash].rsplit_once(", ")?;
    month_day(date)?;
    if !is_upper_place(place.split(',').next()?.trim()) {
        return None;
    }
    Some(Dateline {
        place: place.trim(),
        agency: None,
        rest: p[dash + 3..].trim_start(),
    })
}

/// The largest char boundary of `s` at or below `max`.
fn floor_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// A contributors rule: a line of three or more underscores. Returns
/// `Some(None)` for a bare rule, `Some(Some(rest))` when the contributors
/// follow on the next line of the same paragraph.
fn strip_rule(p: &str) -> Option<Option<&str>> {
    let (first, rest) = match p.split_once('\n') {
        Some((f, r)) => (f, Some(r.trim())),
        None => (p, None),
    };
    let first = first.trim();
    (first.len() >= 3 && first.bytes().all(|b| b == b'_')).then_some(rest.filter(|r| !r.is_empty()))
}

/// Words that only ever appear in a photo credit.
const CREDIT_WORDS: [&str; 10] = [
    "photo",
    "photos",
    "photograph",
    "video",
    "getty",
    "shutterstock",
    "handout",
    "pool",
    "courtesy",
    "images",
];

/// Agencies whose credits read `Agency/Photographer`.
const CREDIT_AGENCIES: [&str; 14] = [
    "ap", "reuters", "afp", "epa", "epa-efe", "xinhua", "sputnik", "tass", "anadolu", "yonhap",
    "kyodo", "upi", "ansa", "dpa",
];

/// The photo credit a caption paragraph ends with, without its parentheses:
/// `AP Photo/Felipe Dana`, `Reuters/Name`, `Photo by Name/Getty Images`.
pub fn photo_credit(p: &str) -> Option<&str> {
    // A caption may end with one period after its credit, no more.
    let end = p.trim_end();
    let end = end.strip_suffix('.').unwrap_or(end);
    let inner_end = end.len().checked_sub(1)?;
    if !end.ends_with(')') {
        return None;
    }
    // Find the matching '(' within the last 150 bytes.
    let mut depth = 0usize;
    let limit = inner_end.saturating_sub(150);
    let mut open = None;
    for (i, c) in end[..inner_end].char_indices().rev() {
        if i < limit || c == '\n' {
            break;
        }
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => {
                open = Some(i);
                break;
            }
            '(' => depth -= 1,
            _ => {}
        }
    }
    let credit = end[open? + 1..inner_end].trim();
    is_credit(credit).then_some(credit)
}

fn is_credit(credit: &str) -> bool {
    if credit.is_empty() {
        return false;
    }
    let words = || {
        credit
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| !w.is_empty())
    };
    if words().any(|w| CREDIT_WORDS.iter().any(|k| w.eq_ignore_ascii_case(k))) {
        return true;
    }
    // `Reuters/Name`, `EPA-EFE/Name`, `Name/AFP`, `AFP via Getty Images`.
    let parts: Vec<&str> = credit.split('/').map(str::trim).collect();
    parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty())
        && parts
            .iter()
            .any(|p| CREDIT_AGENCIES.iter().any(|a| p.eq_ignore_ascii_case(a)))
}

/// Reuters-21578 bodies end with a ` Reuter` (or ` REUTER`) sign-off line. It
/// names the agency and is not article text.
fn strip_reuters_signoff(article: &mut Article<'_>) {
    let Some(last) = article.body.last_mut() else {
        return;
    };
    let (head, tail) = match last.rsplit_once('\n') {
        Some((h, t)) => (Some(h), t),
        None => (None, last.as_ref()),
    };
    if !(tail.eq_ignore_ascii_case("reuter") || tail.eq_ignore_ascii_case("reuters")) {
        return;
    }
    let head_len = head.map(str::len);
    match head_len {
        Some(n) => match last {
            Cow::Borrowed(s) => *s = &s[..n],
            Cow::Owned(s) => s.truncate(n),
        },
        None => {
            article.body.pop();
        }
    }
    if article.agency.is_none() {
        article.agency = Some(Cow::Borrowed("Reuters"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../seeds/000_3f0eb7fae6c7b69d.txt");

    #[test]
    fn seed_fields() {
        let a = parse(SEED).unwrap();
        assert_eq!(a.date, Date::new(2022, 3, 28));
        assert_eq!(a.dateline.as_deref(), Some("LVIV, Ukraine"));
        assert_eq!(a.agency.as_deref(), Some("AP"));
        assert_eq!(a.title, None);
        assert_eq!(a.captions.len(), 15);
        assert_eq!(a.photo_credits.len(), 15);
        assert_eq!(a.photo_credits[0], "AP Photo/Felipe Dana");
        assert_eq!(a.photo_credits[1], "AP Photo");
        assert!(a.captions.iter().all(|c| c.ends_with(')')));
        assert!(
            a.body[0].starts_with("Ukraine could declare neutrality"),
            "{}",
            a.body[0]
        );
        let body = a.body.join("\n\n");
        assert!(body.contains("neutrality"));
        for caption in &a.captions {
            assert!(!body.contains(caption.as_ref()));
        }
        assert!(!body.contains("Shevchenko"));
        assert!(!body.contains("AP Photo"));
        assert_eq!(a.contributors.len(), 1);
        assert!(a.contributors[0].starts_with("Andrea Rosa in Kharkiv"));
        assert!(!body.contains("Andrea Rosa"));
        assert!(a.warnings.is_empty());
    }

    #[test]
    fn seed_parse_borrows_single_line_paragraphs() {
        let a = parse(SEED).unwrap();
        assert!(a.body.iter().all(|p| matches!(p, Cow::Borrowed(_))));
        assert!(a.captions.iter().all(|p| matches!(p, Cow::Borrowed(_))));
    }

    #[test]
    fn crlf_bom_indentation_and_blank_lines_do_not_change_the_result() {
        let expected = parse(SEED).unwrap();
        let crlf = SEED.replace('\n', "\r\n");
        let bom = format!("\u{feff}{SEED}");
        let indented: String = SEED.lines().map(|l| format!("   {l}  \n")).collect();
        let blank = format!("\n\n{}\n\n\n", SEED.replace("\n\n", "\n\n\n\n"));
        let cr_only = SEED.replace('\n', "\r");
        for variant in [crlf, bom, indented, blank, cr_only] {
            assert_eq!(parse(&variant).unwrap(), expected);
        }
    }

    #[test]
    fn no_date_header() {
        let a = parse("KYIV, Ukraine (AP) — Talks resumed.\n\nMore text here.").unwrap();
        assert_eq!(a.date, None);
        assert_eq!(a.dateline.as_deref(), Some("KYIV, Ukraine"));
        assert_eq!(a.agency.as_deref(), Some("AP"));
        assert_eq!(a.body, vec!["Talks resumed.", "More text here."]);
    }

    #[test]
    fn plain_text_without_any_header() {
        let a = parse("Just some text about the economy.\n\nAnd a second paragraph.").unwrap();
        assert_eq!(
            (
                a.date,
                a.dateline.clone(),
                a.agency.clone(),
                a.title.clone()
            ),
            (None, None, None, None)
        );
        assert_eq!(a.body.len(), 2);
    }

    #[test]
    fn bad_date_is_a_warning_not_an_error() {
        let a = parse(" date 2022-13-45 LVIV, Ukraine (AP) — Text.").unwrap();
        assert_eq!(a.date, None);
        assert_eq!(a.warnings, vec![ParseWarning::BadDate("2022-13-45".into())]);
        assert_eq!(a.dateline.as_deref(), Some("LVIV, Ukraine"));
        assert_eq!(a.body, vec!["Text."]);
    }

    #[test]
    fn dates_the_index_cannot_hold_are_bad_dates() {
        for raw in [
            "1677-12-31",
            "2262-01-01",
            "1677-09-21",
            "1000-01-01",
            "3000-01-01",
            "9999-12-31",
        ] {
            let text = format!(" date {raw} LVIV, Ukraine (AP) — Text.");
            let a = parse(&text).unwrap();
            assert_eq!(a.date, None, "{raw}");
            assert_eq!(a.warnings, vec![ParseWarning::BadDate(raw.into())]);
            assert_eq!(a.dateline.as_deref(), Some("LVIV, Ukraine"), "{raw}");
            assert_eq!(a.body, vec!["Text."], "{raw}");
        }
    }

    #[test]
    fn dates_at_the_ends_of_the_indexable_range_are_kept() {
        for (raw, date) in [
            ("1678-01-01", Date::new(1678, 1, 1)),
            ("2261-12-31", Date::new(2261, 12, 31)),
        ] {
            let text = format!(" date {raw} LVIV, Ukraine (AP) — Text.");
            let a = parse(&text).unwrap();
            assert_eq!(a.date, date, "{raw}");
            assert_eq!(a.warnings, vec![], "{raw}");
        }
        assert_eq!(Some(*Date::INDEXABLE.start()), Date::new(1678, 1, 1));
        assert_eq!(Some(*Date::INDEXABLE.end()), Date::new(2261, 12, 31));
    }

    #[test]
    fn date_header_on_its_own_line() {
        let a = parse("date 2021-02-28\n\nWASHINGTON (AP) — The Senate voted.").unwrap();
        assert_eq!(a.date, Date::new(2021, 2, 28));
        assert_eq!(a.dateline.as_deref(), Some("WASHINGTON"));
        assert_eq!(a.body, vec!["The Senate voted."]);
    }

    #[test]
    fn a_word_date_is_not_a_header() {
        let a = parse("Date night was fun.\n\nIt really was.").unwrap();
        assert_eq!(a.date, None);
        assert_eq!(a.body[0], "Date night was fun.");
    }

    #[test]
    fn other_agencies_credits() {
        let text = "PARIS (AFP) — Text.\n\n\
            Protesters march in Paris. (Reuters/Benoit Tessier)\n\n\
            A rally in Lyon. (Photo by Jean Dupont/Getty Images)\n\n\
            Police stand guard. (AFP via Getty Images)\n\n\
            Firefighters at work. (AP Photo/Name, File)\n\n\
            Crowds gather. (EPA-EFE/Yoan Valat)\n\n\
            The river is 37 km (23 miles) long.\n\n\
            He spoke to reporters (in French).";
        let a = parse(text).unwrap();
        assert_eq!(a.agency.as_deref(), Some("AFP"));
        assert_eq!(
            a.photo_credits,
            vec![
                "Reuters/Benoit Tessier",
                "Photo by Jean Dupont/Getty Images",
                "AFP via Getty Images",
                "AP Photo/Name, File",
                "EPA-EFE/Yoan Valat"
            ]
        );
        assert_eq!(
            a.body,
            vec![
                "Text.",
                "The river is 37 km (23 miles) long.",
                "He spoke to reporters (in French)."
            ]
        );
    }

    /// Property testing found `(AP Photo/Name)..` taken as a caption,
    /// breaking the rule that a caption ends with its credit.
    #[test]
    fn regression_caption_ends_with_its_credit() {
        let a = parse("Text.\n\n(AP Photo/Name)..").unwrap();
        assert!(a.captions.is_empty());
        let a = parse("Text.\n\nA rally. (AP Photo/Name).").unwrap();
        assert_eq!(a.photo_credits, vec!["AP Photo/Name"]);
    }

    #[test]
    fn contributors_block() {
        let a =
            parse("Body one.\n\n___\n\nJane Doe in Kyiv contributed.\n\nFollow coverage online.")
                .unwrap();
        assert_eq!(a.contributors, vec!["Jane Doe in Kyiv contributed."]);
        assert_eq!(a.body, vec!["Body one.", "Follow coverage online."]);
        let tight = parse("Body one.\n___\nJane Doe contributed.").unwrap();
        // A rule inside a paragraph does not split it; only a rule that starts one does.
        assert_eq!(tight.contributors.len(), 0);
        let tight = parse("Body one.\n\n___\nJane Doe contributed.").unwrap();
        assert_eq!(tight.contributors, vec!["Jane Doe contributed."]);
    }

    #[test]
    fn title_first_bbc_file() {
        let text = "Ad sales boost Time Warner profit\n\nQuarterly profits at US media giant TimeWarner jumped 76%.\n\nThe firm said.\n";
        let a = parse(text).unwrap();
        assert_eq!(
            a.title.as_deref(),
            Some("Ad sales boost Time Warner profit")
        );
        assert_eq!(a.body.len(), 2);
        assert_eq!(a.dateline, None);
    }

    #[test]
    fn reuters_1987_file() {
        let text = "BAHIA COCOA REVIEW\n\n    SALVADOR, Feb 26 - Showers continued throughout the week in\nthe Bahia cocoa zone.\n    The dry period means the temporao will be late.\n Reuter\n";
        let a = parse(text).unwrap();
        assert_eq!(a.title.as_deref(), Some("BAHIA COCOA REVIEW"));
        assert_eq!(a.dateline.as_deref(), Some("SALVADOR"));
        assert_eq!(a.agency.as_deref(), Some("Reuters"));
        assert_eq!(a.date, None);
        assert_eq!(
            a.body,
            vec![
                "Showers continued throughout the week in\nthe Bahia cocoa zone.\nThe dry period means the temporao will be late."
            ]
        );
    }

    #[test]
    fn title_only_file() {
        let a = parse("CHEMLAWN <CHEM> RAISES DIVIDEND\n").unwrap();
        assert_eq!(a.title.as_deref(), Some("CHEMLAWN <CHEM> RAISES DIVIDEND"));
        assert!(a.body.is_empty());
    }

    #[test]
    fn a_short_sentence_is_not_a_title() {
        let a = parse("Nothing happened today.\n\nReally nothing.").unwrap();
        assert_eq!(a.title, None);
    }

    #[test]
    fn empty_and_header_only_texts_are_errors() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse(" \n\r\n\t "), Err(ParseError::Empty));
        assert_eq!(parse("\u{feff}"), Err(ParseError::Empty));
        assert_eq!(parse(" date 2022-03-28 "), Err(ParseError::Empty));
    }

    #[test]
    fn modern_reuters_dateline_drops_the_date() {
        let a = parse("LONDON, March 3 (Reuters) - Stocks fell.").unwrap();
        assert_eq!(a.dateline.as_deref(), Some("LONDON"));
        assert_eq!(a.agency.as_deref(), Some("Reuters"));
        assert_eq!(a.body, vec!["Stocks fell."]);
    }

    #[test]
    fn parentheses_that_are_not_an_agency_stay_in_the_text() {
        let a = parse("TOKYO RUBBER (YEN PER KILO) - APRIL 07\n   PREV  OPG\n APR  123.5").unwrap();
        assert_eq!((a.dateline.clone(), a.agency.clone()), (None, None));
        assert!(a.body[0].contains("YEN PER KILO"));
        let a = parse("PYONGYANG (KCNA) — A statement.").unwrap();
        assert_eq!(a.agency.as_deref(), Some("KCNA"));
        let a = parse("OTTAWA (The Canadian Press) — Parliament sat.").unwrap();
        assert_eq!(a.agency.as_deref(), Some("The Canadian Press"));
    }

    #[test]
    fn lowercase_lede_is_not_a_dateline() {
        let a = parse("The minister (who spoke briefly) - said little.").unwrap();
        assert_eq!(a.dateline, None);
        assert_eq!(a.body.len(), 1);
    }

    #[test]
    fn dates_round_trip_through_days() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2022, 3, 28),
            (2000, 2, 29),
            (1987, 2, 26),
            (1, 1, 1),
            (9999, 12, 31),
        ] {
            let date = Date::new(y, m, d).unwrap();
            assert_eq!(
                Date::from_days_since_epoch(date.days_since_epoch()),
                Some(date)
            );
        }
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(2022, 3, 28).unwrap().days_since_epoch(), 19_079);
        assert_eq!(Date::new(2021, 2, 29), None);
        assert_eq!(Date::parse("2022-03-28"), Date::new(2022, 3, 28));
        assert_eq!(Date::parse("2022-3-8"), Date::new(2022, 3, 8));
        for bad in [
            "2022-13-01",
            "22-03-28",
            "2022-03",
            "2022/03/28",
            "abcd-ef-gh",
            "2022-03-28x",
            "",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }
}
