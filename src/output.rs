//! Printers of search results: a readable listing for people and JSON
//! Lines for scripts. Both write to any `io::Write`; neither knows tantivy.
//!
//! # JSON Lines format (`newsidx search --json`)
//!
//! One JSON object per line, each with a `"type"` key. The format is an API:
//! keys are only ever added, every key is always present (`null` rather
//! than missing), and no line contains colour codes.
//!
//! * `{"type":"hit", "rank", "score", "id", "path", "title", "date",
//!   "dateline", "agency", "contributors", "snippet", "fragments",
//!   "explanation", "cluster", "similar_count", "similar"}` per hit, best
//!   first. `date` is `YYYY-MM-DD` or null. `cluster` is the story's id (16
//!   hex digits, shared by its copies); results are collapsed to one hit
//!   per story unless `--no-collapse`, and `similar_count` and `similar`
//!   (paths, best first, at most 100) are the other matching copies.
//!   `snippet` is the best fragment (or null) and `fragments` all of them;
//!   a fragment is `{"field", "text", "highlights"}` where `field` is
//!   `title`, `body` or `caption` and `highlights` are `[start, end]` byte
//!   offsets into `text`. `explanation` is null unless `--explain`.
//! * `{"type":"facet", "facet", "buckets", "missing"}` per `--facet`, where
//!   `buckets` is a list of `[bucket, count]`.
//! * `{"type":"summary", "query", "total_hits", "stories", "returned",
//!   "offset", "elapsed_ms", "warnings"}` last: `total_hits` counts
//!   documents, `stories` distinct stories among them (null with
//!   `--no-collapse`).

use std::io::{self, Write};

use serde::Serialize;

use crate::hit::{Cluster, Facet, Fragment, Hit, Summary};
use crate::snippet::clean;

/// A JSON Lines message.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Message<'a> {
    Hit(&'a Hit),
    Facet(&'a Facet),
    Summary(&'a Summary),
}

/// Writes results as JSON Lines.
///
/// # Errors
///
/// When writing fails (a closed pipe included).
pub fn write_json(
    out: &mut dyn Write,
    hits: &[Hit],
    facets: &[Facet],
    summary: &Summary,
) -> io::Result<()> {
    let messages = hits
        .iter()
        .map(Message::Hit)
        .chain(facets.iter().map(Message::Facet))
        .chain(std::iter::once(Message::Summary(summary)));
    for m in messages {
        serde_json::to_writer(&mut *out, &m)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A hit or summary of `newsidx similar`, with how it relates to the
/// article asked about: `same_story` or `similar`.
#[derive(Serialize)]
struct Related<'a, T: Serialize> {
    #[serde(rename = "type")]
    ty: &'static str,
    relation: &'a str,
    #[serde(flatten)]
    item: &'a T,
}

/// Writes one section of `newsidx similar` as JSON Lines: its hits, then
/// its summary, each line with a `"relation"` key.
///
/// # Errors
///
/// When writing fails.
pub fn write_json_related(
    out: &mut dyn Write,
    relation: &str,
    hits: &[Hit],
    summary: &Summary,
) -> io::Result<()> {
    for hit in hits {
        let line = Related {
            ty: "hit",
            relation,
            item: hit,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    let line = Related {
        ty: "summary",
        relation,
        item: summary,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// Writes `newsidx dups` results: JSON Lines (`{"type":"cluster",
/// "cluster", "size", "paths"}` per cluster, then `{"type":"summary",
/// "clusters", "documents"}`) or a listing for people.
///
/// # Errors
///
/// When writing fails.
pub fn write_clusters(
    out: &mut dyn Write,
    clusters: &[Cluster],
    json: bool,
    style: HumanStyle,
) -> io::Result<()> {
    let documents: usize = clusters.iter().map(|c| c.size).sum();
    if json {
        for c in clusters {
            let line = serde_json::json!({
                "type": "cluster",
                "cluster": c.cluster,
                "size": c.size,
                "paths": c.paths,
            });
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        let summary = serde_json::json!({
            "type": "summary",
            "clusters": clusters.len(),
            "documents": documents,
        });
        serde_json::to_writer(&mut *out, &summary)?;
        return out.write_all(b"\n");
    }
    let (b, d, r) = if style.color {
        (BOLD, DIM, RESET)
    } else {
        ("", "", "")
    };
    let noun = if clusters.len() == 1 {
        "story"
    } else {
        "stories"
    };
    writeln!(
        out,
        "{b}{} {noun} in several copies{r} ({documents} documents)",
        clusters.len()
    )?;
    for c in clusters {
        writeln!(out)?;
        writeln!(out, "{b}{} copies{r} {d}cluster {}{r}", c.size, c.cluster)?;
        for p in &c.paths {
            writeln!(out, "    {}", clean(p))?;
        }
    }
    Ok(())
}

/// Options of the human listing.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanStyle {
    /// ANSI colour and bold.
    pub color: bool,
    /// List the paths of the copies collapsed into each hit.
    pub expand: bool,
}

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const MATCH: &str = "\x1b[1;33m";
const RESET: &str = "\x1b[0m";

/// Writes results for people: a header with the total, then each hit
/// with its metadata and fragments, then facets.
///
/// # Errors
///
/// When writing fails.
pub fn write_human(
    out: &mut dyn Write,
    hits: &[Hit],
    facets: &[Facet],
    summary: &Summary,
    style: HumanStyle,
) -> io::Result<()> {
    let (b, d, r) = if style.color {
        (BOLD, DIM, RESET)
    } else {
        ("", "", "")
    };
    let total = summary.total_hits;
    let noun = if total == 1 { "hit" } else { "hits" };
    let shown = if hits.is_empty() {
        String::new()
    } else {
        format!(
            ", showing {}-{}",
            summary.offset + 1,
            summary.offset + hits.len()
        )
    };
    let stories = match summary.stories {
        Some(n) if n != total => format!(" in {n} {}", if n == 1 { "story" } else { "stories" }),
        _ => String::new(),
    };
    writeln!(
        out,
        "{b}{total} {noun}{r}{stories}{shown} ({:.1} ms)",
        summary.elapsed_ms
    )?;
    for hit in hits {
        writeln!(out)?;
        let heading = hit.title.as_deref().unwrap_or(&hit.id);
        writeln!(out, "{b}{:>2}. {}{r}", hit.rank, clean(heading))?;
        let mut meta: Vec<String> = Vec::new();
        if hit.title.is_some() {
            meta.push(clean(&hit.id).into_owned());
        }
        meta.extend(hit.date.clone());
        if let Some(place) = &hit.dateline {
            meta.push(clean(place).into_owned());
        }
        if let Some(agency) = &hit.agency {
            meta.push(clean(agency).into_owned());
        }
        meta.push(format!("score {:.2}", hit.score));
        writeln!(out, "    {d}{}{r}", meta.join(" · "))?;
        if !hit.fragments.is_empty() {
            let parts: Vec<String> = hit.fragments.iter().map(|f| fragment(f, style)).collect();
            writeln!(out, "    {}", parts.join(" … "))?;
        }
        if hit.similar_count > 0 {
            let hint = if style.expand {
                ""
            } else {
                " (--expand lists them)"
            };
            writeln!(out, "    {d}+{} similar{hint}{r}", hit.similar_count)?;
            if style.expand {
                for p in &hit.similar {
                    writeln!(out, "      {d}{}{r}", clean(p))?;
                }
            }
        }
        if let Some(expl) = &hit.explanation {
            write_explanation(out, expl, style)?;
        }
    }
    for facet in facets {
        write_facet(out, facet, style)?;
    }
    for w in &summary.warnings {
        writeln!(out, "{d}(ignored: {}){r}", clean(w))?;
    }
    Ok(())
}

fn fragment(f: &Fragment, style: HumanStyle) -> String {
    let (d, m, r) = if style.color {
        (DIM, MATCH, RESET)
    } else {
        ("", "", "")
    };
    let mut s = format!("{d}{}:{r} ", f.field);
    let mut at = 0;
    for [start, end] in &f.highlights {
        let (Some(before), Some(word)) = (f.text.get(at..*start), f.text.get(*start..*end)) else {
            continue;
        };
        s.push_str(before);
        s.push_str(m);
        s.push_str(word);
        s.push_str(r);
        at = *end;
    }
    s.push_str(f.text.get(at..).unwrap_or_default());
    s
}

fn write_facet(out: &mut dyn Write, facet: &Facet, style: HumanStyle) -> io::Result<()> {
    const WIDTH: u64 = 30;
    const MAX_ROWS: usize = 40;
    let (b, r) = if style.color { (BOLD, RESET) } else { ("", "") };
    let bar = if style.color { '█' } else { '#' };
    let total: u64 = facet.buckets.iter().map(|(_, n)| n).sum();
    writeln!(out)?;
    write!(out, "{b}{}{r}: {total} documents", facet.facet)?;
    if facet.missing > 0 {
        write!(out, " ({} without a value)", facet.missing)?;
    }
    writeln!(out)?;
    let max = facet
        .buckets
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(1)
        .max(1);
    let label_width = facet
        .buckets
        .iter()
        .take(MAX_ROWS)
        .map(|(k, _)| clean(k).chars().count())
        .max()
        .unwrap_or(0);
    for (bucket, n) in facet.buckets.iter().take(MAX_ROWS) {
        let len = usize::try_from((n * WIDTH).div_ceil(max)).unwrap_or(0);
        let label = clean(bucket);
        let pad = label_width.saturating_sub(label.chars().count());
        writeln!(
            out,
            "  {label}{}  {:>6}  {}",
            " ".repeat(pad),
            n,
            bar.to_string().repeat(len)
        )?;
    }
    if facet.buckets.len() > MAX_ROWS {
        writeln!(
            out,
            "  … {} more (see --json)",
            facet.buckets.len() - MAX_ROWS
        )?;
    }
    Ok(())
}

/// Prints an explanation (`{score, parts: [{query, score, terms}]}`): one
/// line per field and query part, terms' shares in parentheses.
fn write_explanation(
    out: &mut dyn Write,
    expl: &serde_json::Value,
    style: HumanStyle,
) -> io::Result<()> {
    let (d, r) = if style.color { (DIM, RESET) } else { ("", "") };
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    writeln!(out, "    {d}score {:.3} = sum of:{r}", num(&expl["score"]))?;
    for part in expl["parts"].as_array().into_iter().flatten() {
        let terms: Vec<String> = part["terms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| format!("{} {:.3}", clean(t[0].as_str().unwrap_or("")), num(&t[1])))
            .collect();
        let terms = if terms.is_empty() {
            String::new()
        } else {
            format!("  ({})", terms.join(", "))
        };
        writeln!(
            out,
            "    {d}  {:>7.3}  {}{terms}{r}",
            num(&part["score"]),
            clean(part["query"].as_str().unwrap_or(""))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<Hit>, Summary) {
        let frag = Fragment {
            field: "body".into(),
            text: "could declare neutrality now".into(),
            highlights: vec![[14, 24]],
        };
        let hit = Hit {
            rank: 1,
            score: 1.5,
            id: "a\u{1b}[31m.txt".into(),
            path: "/x/a.txt".into(),
            title: None,
            date: Some("2022-03-28".into()),
            dateline: Some("LVIV, Ukraine".into()),
            agency: Some("AP".into()),
            contributors: vec![],
            snippet: Some(frag.clone()),
            fragments: vec![frag],
            explanation: None,
            cluster: Some("00000000000000aa".into()),
            similar_count: 2,
            similar: vec!["/x/b.txt".into(), "/x/c\u{7}.txt".into()],
        };
        let summary = Summary {
            query: "neutrality".into(),
            total_hits: 3,
            stories: Some(1),
            returned: 1,
            offset: 0,
            elapsed_ms: 1.0,
            warnings: vec![],
        };
        (vec![hit], summary)
    }

    #[test]
    fn human_listing_has_no_escapes_without_colour() {
        let (hits, summary) = sample();
        let mut out = Vec::new();
        let style = HumanStyle {
            color: false,
            expand: false,
        };
        write_human(&mut out, &hits, &[], &summary, style).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("3 hits in 1 story, showing 1-1"), "{text}");
        assert!(text.contains("body: could declare neutrality now"));
        assert!(text.contains("2022-03-28 · LVIV, Ukraine · AP"));
        assert!(text.contains("+2 similar (--expand lists them)"), "{text}");
        assert!(!text.contains("/x/b.txt"));
        assert!(!text.contains('\u{1b}'), "{text:?}");

        let mut out = Vec::new();
        let style = HumanStyle {
            color: false,
            expand: true,
        };
        write_human(&mut out, &hits, &[], &summary, style).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("+2 similar\n      /x/b.txt\n      /x/c .txt\n"),
            "{text}"
        );
    }

    #[test]
    fn colour_marks_the_highlight() {
        let (hits, summary) = sample();
        let mut out = Vec::new();
        let style = HumanStyle {
            color: true,
            expand: false,
        };
        write_human(&mut out, &hits, &[], &summary, style).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("{MATCH}neutrality{RESET}")));
    }

    #[test]
    fn json_lines_have_types_and_every_key() {
        let (hits, summary) = sample();
        let facet = Facet {
            facet: "agency".into(),
            buckets: vec![("AP".into(), 1)],
            missing: 0,
        };
        let mut out = Vec::new();
        write_json(&mut out, &hits, &[facet], &summary).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["type"], "hit");
        assert_eq!(lines[0]["title"], serde_json::Value::Null);
        assert_eq!(
            lines[0]["snippet"]["highlights"][0],
            serde_json::json!([14, 24])
        );
        assert_eq!(lines[1]["type"], "facet");
        assert_eq!(lines[2]["type"], "summary");
        assert_eq!(lines[2]["total_hits"], 3);
        assert_eq!(lines[2]["stories"], 1);
        assert_eq!(lines[0]["similar_count"], 2);
        assert_eq!(lines[0]["similar"][0], "/x/b.txt");
        assert_eq!(lines[0]["cluster"], "00000000000000aa");
    }
}
