#!/usr/bin/env python3
"""Write a synthetic AP-style news archive for ingest and search benchmarks.

    python3 benches/gen_archive.py --out /tmp/archive --n 100000 --seed 1 \
        [--corpus ../shared/corpus] [--jobs N]

Each article looks like the seed (seeds/000_*.txt):

     date 2019-07-04 LVIV, Ukraine (AP) — First paragraph ...

    Body paragraph ...                                 (5-15 body paragraphs)

    Caption sentence in Kharkiv, Ukraine, Sunday, March 27, 2022. (AP Photo/First Last)
                                                       (0-6 captions among them)
    ___

    First Last in Lviv and Associated Press writer First Last in Kyiv contributed to this report.

The text is made of sentences drawn from the real news corpora in --corpus (every *.txt under
it: BBC News and Reuters-21578), so vocabulary, word frequencies and sentence lengths are
those of real news, not of a word list.

Files go to OUT/<folder>/.../a<number>.txt with at most 1000 entries per folder (two levels
up to a million articles, more beyond). Output is deterministic for a given --seed, --n and
corpus: each folder of 1000 articles has its own random generator seeded from (--seed, folder
number), so --jobs does not change a byte. Python 3 standard library only; about 4 KB per
article, so --n 1000000 writes about 4 GB (a few minutes on two cores).
"""
import argparse
import datetime
import multiprocessing
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "corpus"))
PER_FOLDER = 1000

# (CITY, Region) pairs for datelines; the caption place reuses the city in title case.
PLACES = [
    ("LVIV", "Ukraine"), ("KYIV", "Ukraine"), ("KHARKIV", "Ukraine"), ("ODESA", "Ukraine"),
    ("MOSCOW", "Russia"), ("WARSAW", "Poland"), ("BERLIN", "Germany"), ("PARIS", "France"),
    ("LONDON", "England"), ("ROME", "Italy"), ("MADRID", "Spain"), ("BRUSSELS", "Belgium"),
    ("GENEVA", "Switzerland"), ("ISTANBUL", "Turkey"), ("JERUSALEM", "Israel"),
    ("BEIRUT", "Lebanon"), ("CAIRO", "Egypt"), ("NAIROBI", "Kenya"), ("LAGOS", "Nigeria"),
    ("JOHANNESBURG", "South Africa"), ("NEW DELHI", "India"), ("ISLAMABAD", "Pakistan"),
    ("KABUL", "Afghanistan"), ("BEIJING", "China"), ("HONG KONG", "China"), ("TOKYO", "Japan"),
    ("SEOUL", "South Korea"), ("MANILA", "Philippines"), ("JAKARTA", "Indonesia"),
    ("BANGKOK", "Thailand"), ("SYDNEY", "Australia"), ("MEXICO CITY", "Mexico"),
    ("SAO PAULO", "Brazil"), ("BUENOS AIRES", "Argentina"), ("BOGOTA", "Colombia"),
    ("TORONTO", "Canada"), ("OTTAWA", "Ontario"), ("SPRINGFIELD", "Ill."),
    ("AUSTIN", "Texas"), ("HOUSTON", "Texas"), ("SACRAMENTO", "Calif."),
    ("PHOENIX", "Ariz."), ("DENVER", "Colo."), ("MIAMI", "Fla."), ("ATLANTA", "Ga."),
    ("BOSTON", "Mass."), ("SEATTLE", "Wash."), ("PORTLAND", "Ore."), ("DETROIT", "Mich."),
    ("MINNEAPOLIS", "Minn."), ("NEW ORLEANS", "La."), ("NASHVILLE", "Tenn."),
    ("ALBANY", "N.Y."), ("RICHMOND", "Va."), ("COLUMBUS", "Ohio"), ("MADISON", "Wis."),
]
FIRST = ["Felipe", "Nariman", "Andrea", "Nebi", "Cara", "Vadim", "Efrem", "Rodrigo", "Emilio",
         "Evgeniy", "Petros", "Mstyslav", "Jae", "Susan", "Michael", "David", "Maria", "Anna",
         "John", "Elena", "Ahmed", "Fatima", "Hiroko", "Chen", "Luis", "Sophie", "James", "Olga",
         "Kirsty", "Daniel", "Laura", "Samuel", "Yuki", "Omar", "Julia", "Peter", "Grace",
         "Tomas", "Ines", "Patrick"]
LAST = ["Dana", "El-Mofty", "Rosa", "Qena", "Anna", "Ghirda", "Lukatsky", "Abd", "Morenatti",
        "Maloletka", "Giannakouris", "Chernov", "Hong", "Walsh", "Sohn", "Goldman", "Santos",
        "Novak", "Smith", "Petrova", "Hassan", "Ali", "Tanaka", "Wei", "Garcia", "Martin",
        "Brooks", "Ivanova", "Wigglesworth", "Kramer", "Fischer", "Okafor", "Sato", "Haddad",
        "Weber", "Byrne", "Mensah", "Horvath", "Costa", "O'Neill"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
CAPTION_LEADS = ["A woman walks past", "People gather near", "Police officers stand outside",
                 "Workers clear debris from", "Demonstrators march toward", "Residents wait outside",
                 "A man looks at", "Firefighters work at", "Supporters cheer outside",
                 "Children play near", "Officials arrive at", "Volunteers unload supplies at"]
CAPTION_OBJECTS = ["a damaged building", "the city hall", "a polling station", "the court house",
                   "a market", "the central railway station", "a hospital", "the parliament building",
                   "a school", "a shelter", "the harbor", "a factory"]
EPOCH = datetime.date(2000, 1, 1)
DAYS = (datetime.date(2024, 12, 31) - EPOCH).days

# Filled in each worker by init().
SENTENCES = []

REUTERS_DATELINE = re.compile(r"^\s*[A-Z][A-Z .,'&/()-]*,\s+[A-Z][a-z]+\.?\s+\d{1,2}\s+-\s+")
SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’]))\s+(?=[\"“]?[A-Z])")
# A Reuters dateline left at the start of a sentence ("SAN JOSE, Calif., - ...").
LEADING_DATELINE = re.compile(r"^[A-Z][A-Z .'&/-]+,[^-]{0,30}?\s-\s+")
# A piece ending in one of these did not end a sentence: join it to the next.
ABBREVIATIONS = {"U.S.", "U.K.", "U.N.", "E.U.", "Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Inc.",
                 "Corp.", "Co.", "Ltd.", "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.",
                 "Gov.", "Sen.", "Rep.", "Gen.", "No.", "vs.", "Jr.", "Sr."}


def sentences_of(text):
    pending = ""
    for piece in SPLIT.split(text):
        pending = f"{pending} {piece}" if pending else piece
        words = pending.rsplit(None, 1)
        last = words[-1] if words else ""
        if last in ABBREVIATIONS or re.fullmatch(r"(?:[A-Z]\.)+", last):
            continue
        yield pending.strip()
        pending = ""
    if pending:
        yield pending.strip()


def load_sentences(corpus):
    """Every usable sentence of every *.txt under corpus, in a fixed order, deduplicated."""
    paths = []
    for dp, dns, fns in os.walk(corpus):
        dns.sort()
        paths.extend(os.path.join(dp, f) for f in sorted(fns) if f.endswith(".txt"))
    if not paths:
        sys.exit(f"gen_archive: no *.txt files under {corpus}")
    seen = set()
    out = []
    for p in paths:
        with open(p, "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
        if "\ufffd" in text:
            continue
        parts = text.split("\n", 1)
        body = parts[1] if len(parts) == 2 else ""  # drop the title line
        body = body.replace("<", "").replace(">", "")
        body = re.sub(r"\s*\bReuter\s*$", "", body)
        body = " ".join(body.split())
        body = REUTERS_DATELINE.sub("", body)
        for s in sentences_of(body):
            s = LEADING_DATELINE.sub("", s)
            if not 40 <= len(s) <= 320 or s[-1] not in ".!?\"”" or not s[0].isupper():
                continue
            letters = sum(c.isalpha() for c in s)
            upper = sum(c.isupper() for c in s)
            if letters < 0.6 * len(s) or upper > 0.3 * letters or s in seen:
                continue
            if any(ord(c) < 32 for c in s):
                continue
            seen.add(s)
            out.append(s)
    if len(out) < 1000:
        sys.exit(f"gen_archive: only {len(out)} sentences found under {corpus}")
    return out


def init(sentences):
    global SENTENCES
    SENTENCES = sentences


def person(rng):
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def title_city(city):
    return " ".join(w.capitalize() for w in city.split())


def paragraph(rng, lo=1, hi=3):
    s = SENTENCES
    n = len(s)
    return " ".join(s[int(rng.random() * n)] for _ in range(rng.randint(lo, hi)))


def caption(rng, date, city, region):
    day = date - datetime.timedelta(days=rng.randint(0, 2))
    when = f"{WEEKDAYS[day.weekday()]}, {MONTHS[day.month - 1]} {day.day}, {day.year}"
    r = rng.random()
    if r < 0.80:
        credit = f"(AP Photo/{person(rng)})"
    elif r < 0.90:
        credit = f"(AP Photo/{person(rng)}, File)"
    else:
        credit = "(AP Photo)"
    return (f"{rng.choice(CAPTION_LEADS)} {rng.choice(CAPTION_OBJECTS)} in {title_city(city)}, "
            f"{region}, {when}. {credit}")


def contributors(rng):
    names = [f"{person(rng)} in {title_city(rng.choice(PLACES)[0])}"
             for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        return f"Associated Press writer {' and '.join(names)} contributed to this report."
    return (f"{', '.join(names)} and Associated Press journalists around the world "
            f"contributed to this report.")


def article(rng):
    date = EPOCH + datetime.timedelta(days=rng.randint(0, DAYS))
    city, region = rng.choice(PLACES)
    paras = [paragraph(rng) for _ in range(rng.randint(5, 15))]
    if rng.random() < 0.3:  # a quote paragraph
        quote = SENTENCES[int(rng.random() * len(SENTENCES))]
        if quote.endswith("."):
            quote = quote[:-1] + ","
        paras[rng.randrange(1, len(paras))] = f"“{quote}” said {person(rng)}."
    paras[0] = f" date {date.isoformat()} {city}, {region} (AP) — {paras[0]}"
    for _ in range(rng.randint(0, 6)):
        paras.insert(rng.randint(1, len(paras)), caption(rng, date, city, region))
    paras.append("___")
    paras.append(contributors(rng))
    return "\n\n".join(paras) + "\n"


def layout(n):
    """Digits (base PER_FOLDER) of an article number: all but the last name folders."""
    levels = 2
    while PER_FOLDER ** levels < n:
        levels += 1
    return levels


def write_folder(task):
    out, seed, folder, first, count, levels = task
    rng = random.Random(seed * 1_000_003 + folder)
    digits = []
    x = folder
    for _ in range(levels - 1):
        digits.append(x % PER_FOLDER)
        x //= PER_FOLDER
    d = os.path.join(out, *(f"{v:03d}" for v in reversed(digits)))
    os.makedirs(d, exist_ok=True)
    width = 3 * levels
    nbytes = 0
    for i in range(first, first + count):
        data = article(rng).encode("utf-8")
        with open(os.path.join(d, f"a{i:0{width}d}.txt"), "wb") as fh:
            fh.write(data)
        nbytes += len(data)
    return count, nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write (created; existing files "
                    "with the same names are overwritten)")
    ap.add_argument("--n", type=int, required=True, help="number of articles")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS,
                    help=f"folder of real news *.txt files to draw sentences from "
                         f"(default {DEFAULT_CORPUS})")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="worker processes (does not change the output)")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("--n must be at least 1")

    t0 = time.perf_counter()
    sentences = load_sentences(args.corpus)
    print(f"gen_archive: {len(sentences):,} sentences from {args.corpus} "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    levels = layout(args.n)
    tasks = [(args.out, args.seed, f, f * PER_FOLDER, min(PER_FOLDER, args.n - f * PER_FOLDER),
              levels) for f in range((args.n + PER_FOLDER - 1) // PER_FOLDER)]
    done = nbytes = 0
    if args.jobs > 1 and len(tasks) > 1:
        with multiprocessing.Pool(args.jobs, initializer=init, initargs=(sentences,)) as pool:
            for c, b in pool.imap_unordered(write_folder, tasks):
                done += c
                nbytes += b
                if done % 100_000 < PER_FOLDER:
                    print(f"gen_archive: {done:,}/{args.n:,} articles", file=sys.stderr)
    else:
        init(sentences)
        for t in tasks:
            c, b = write_folder(t)
            done += c
            nbytes += b
    print(f"gen_archive: wrote {done:,} articles, {nbytes / 1e6:,.1f} MB to {args.out} "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
