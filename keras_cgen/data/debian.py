"""Debian package descriptions as article -> title pairs.

The long description is the article, the one-line synopsis the title.
`fetch_translations` asks the machine's own apt for the `Translation-<lang>`
indexes (into a private lists directory, so the system's lists are never
touched and no mirror is named here); `load_pairs` parses, cleans,
de-duplicates and splits them, and caches the splits as JSON lines.

Sibling packages (foo, foo-data, foo-doc, python3-foo) share most of a body,
so rows are split by *family*: packages joined when their normalised names
agree or their bodies are the same. A row split would leak.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tqdm import tqdm

LANGUAGES = ("en", "zh_CN")
SPLIT_VERSION = 2  # bump when cleaning or splitting changes: cached splits are then rebuilt
SPLITS = ("train", "valid", "test")


def cache_dir(root=None):
    """Where fetched data lives: `root`, $KERAS_CGEN_CACHE or ~/.cache/keras_cgen."""
    root = root or os.environ.get("KERAS_CGEN_CACHE") or Path.home() / ".cache" / "keras_cgen"
    return Path(root) / "debian-descriptions"


def fetch_translations(language="en", root=None):
    """Downloads Debian's `Translation-<language>` indexes with apt; returns their paths."""
    if language not in LANGUAGES:
        raise ValueError(f"`language` must be one of {LANGUAGES}, got {language!r}.")
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError(
            "`apt-get` was not found: the Debian descriptions are fetched with the machine's own apt. "
            "On a Debian/Ubuntu machine run `cgen data debian-descriptions`; elsewhere copy the "
            "`*_i18n_Translation-en.lz4` (and `-zh_CN`) files from a Debian machine's "
            "`cgen data` cache into " f"{cache_dir(root) / 'lists'}."
        )
    directory = cache_dir(root)
    (directory / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (directory / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    config = directory / "apt.conf"
    config.write_text(
        '#clear Acquire::Languages;\nAcquire::Languages { "en"; "zh_CN"; };\n'
        f'Dir::State::Lists "{directory / "lists"}";\nDir::Cache "{directory / "cache"}";\n'
    )
    print(f"Fetching Debian's package-description indexes into {directory} (apt shows progress)...")
    result = subprocess.run([apt, "-c", str(config), "update"], stdin=subprocess.DEVNULL)
    found = translation_files(language, root)
    if result.returncode or not found:
        raise RuntimeError(
            f"`apt-get update` {'failed' if result.returncode else 'fetched no Translation-' + language} "
            f"(exit {result.returncode}). Check that this machine reaches its Debian package sources "
            f"(`apt-get update` as root works), then run `cgen data debian-descriptions` again."
        )
    return found


def translation_files(language="en", root=None):
    lists = cache_dir(root) / "lists"
    names = {language, language.replace("_", "%5f")}  # apt URL-encodes "_" in file names
    return sorted(p for name in names for p in lists.glob(f"*_i18n_Translation-{name}*")
                  if not p.name.endswith(".diff"))


def read_text(path):
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".lz4":
        import lz4.frame

        data = lz4.frame.decompress(data)
    return data.decode("utf-8", errors="replace")


def parse_records(text, language="en"):
    """Yields `{"package", "title", "body"}` from a Translation file's text."""
    field = f"Description-{language}:"
    for block in tqdm(text.split("\n\n"), desc="parse", unit=" records", leave=False, mininterval=1.0):
        package, title, body = None, None, []
        for line in block.split("\n"):
            if line.startswith("Package:"):
                package = line[len("Package:"):].strip()
            elif line.startswith(field):
                title = line[len(field):].strip()
            elif line.startswith(" ") and title is not None:
                body.append(line[1:])
        if package and title and body:
            yield {"package": package, "title": clean(title), "body": clean_body(body)}


CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"


def clean(text):
    text = re.sub(r"\s+", " ", text).strip()
    # Wrapped Chinese lines were joined with a space: CJK text has none.
    return re.sub(f"(?<=[{CJK}]) (?=[{CJK}])", "", text)


def clean_body(lines):
    """Debian's format: a line " ." is a paragraph break; indented lines are
    verbatim text (lists, code). Paragraphs are kept, joined by a newline."""
    paragraphs, current = [], []
    for line in lines:
        if line.strip() == ".":
            if current:
                paragraphs.append(clean(" ".join(current)))
            current = []
        else:
            current.append(line.strip())
    if current:
        paragraphs.append(clean(" ".join(current)))
    return "\n".join(p for p in paragraphs if p)


PREFIXES = ("python3-", "python-", "golang-github-", "golang-", "node-", "ruby-", "php-", "r-cran-", "r-bioc-",
            "libghc-", "lib", "gir1.2-", "fonts-", "texlive-", "elpa-", "librust-", "rust-")
SUFFIXES = ("-dev", "-doc", "-docs", "-data", "-common", "-dbg", "-dbgsym", "-bin", "-utils", "-tools", "-examples",
            "-perl", "-java", "-el", "-plugins", "-plugin", "-runtime", "-core", "-cli", "-gtk", "-qt", "-l10n",
            "-locales", "-static", "-headers", "-server", "-client")


def family_of(package):
    """foo, foo-data, foo-doc, foo-api, libfoo2, python3-foo -> "foo"."""
    name = package.lower()
    for prefix in PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix) + 1:
            name = name[len(prefix):]
            break
    changed = True
    while changed:
        changed = False
        for suffix in SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                name, changed = name[: -len(suffix)], True
        stripped = re.sub(r"[\d.]+(-\d+)?$", "", name).rstrip("-.")
        if stripped and stripped != name:
            name, changed = stripped, True
    return name.split("-")[0] or name


def split_of(key, valid_share=0.05, test_share=0.05):
    """A deterministic split from a stable hash (not Python's salted hash())."""
    fraction = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if fraction < test_share:
        return "test"
    if fraction < test_share + valid_share:
        return "valid"
    return "train"


def digest(text):
    return hashlib.sha1(re.sub(r"\W+", " ", text.lower()).encode("utf-8")).hexdigest()


def split_pairs(records):
    """De-duplicates and splits records: `{"train": [...], "valid": [...], "test": [...]}`.

    Units of the split are connected components of packages joined by family
    or by a shared first paragraph (siblings repeat the intro and differ in
    the last line), found with union-find.
    """
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    unique, seen = [], set()
    for record in records:
        key = (record["body"], record["title"])
        if key in seen or len(record["title"]) < 2 or len(record["body"]) < 10:
            continue
        seen.add(key)
        unique.append(record)
        family = "family:" + family_of(record["package"])
        union(family, "body:" + digest(record["body"]))
        intro = record["body"].split("\n")[0]
        if len(intro) >= 40:
            union(family, "intro:" + digest(intro))
        record["family"] = family[len("family:"):]
    splits = {name: [] for name in SPLITS}
    for record in unique:
        root = find("family:" + record["family"])
        splits[split_of(root)].append(record)
    return splits


def split_dir(language, root=None):
    return cache_dir(root) / f"{language}-split{SPLIT_VERSION}"


def load_pairs(language="en", root=None, refresh=False, fetch=True):
    """The cleaned, split pairs of one language, fetched and cached on first use.

    Returns `{"train": [...], "valid": [...], "test": [...]}`, each a list of
    `{"package", "family", "title", "body"}`.
    """
    if language not in LANGUAGES:
        raise ValueError(f"`language` must be one of {LANGUAGES}, got {language!r}.")
    directory = split_dir(language, root)
    if not refresh and all((directory / f"{s}.jsonl").is_file() for s in SPLITS):
        return {s: [json.loads(line) for line in open(directory / f"{s}.jsonl", encoding="utf-8")] for s in SPLITS}
    files = translation_files(language, root)
    if not files:
        if not fetch:
            raise FileNotFoundError(f"No Translation-{language} under {cache_dir(root)}: run `cgen data debian-descriptions`.")
        files = fetch_translations(language, root)
    records = []
    for path in files:
        records.extend(parse_records(read_text(path), language))
    splits = split_pairs(records)
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        tmp = directory / f".{name}.jsonl.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, directory / f"{name}.jsonl")
    return splits


# ---- Synopses labelled by Section (the Diffusion-LM's data) ------------------------------
# Debian's ~60 sections grouped into 10 classes a reader tells apart from a synopsis alone.
SECTION_CLASSES = {
    "libraries": ("libs", "oldlibs", "introspection", "libdevel"),
    "development": ("devel", "debug", "vcs", "interpreters", "database", "rust", "golang", "haskell", "java",
                    "ocaml", "lisp", "cli-mono"),
    "modules": ("python", "perl", "ruby", "php", "javascript", "gnu-r", "zope"),
    "documentation": ("doc", "localization"),
    "games": ("games",),
    "science": ("science", "math", "electronics", "hamradio", "education"),
    "networking": ("net", "web", "httpd", "mail", "comm", "news"),
    "multimedia": ("sound", "video", "graphics", "fonts"),
    "system": ("admin", "utils", "shells", "kernel", "otherosfs", "misc", "metapackages", "tasks", "embedded"),
    "desktop": ("x11", "gnome", "kde", "xfce", "gnustep", "editors", "text", "tex"),
}
CLASS_OF_SECTION = {section: name for name, sections in SECTION_CLASSES.items() for section in sections}


def copy_pairs(pairs):
    """Self-supervised pairs that teach a title model to copy: each sentence of
    a body becomes the "title" of that body. With ~1k real pairs (Chinese) a
    model cannot learn to copy from the titles alone."""
    out = []
    for pair in pairs:
        for sentence in re.split(r"[。；！？\n.;!?]", pair["body"]):
            if 4 <= len(sentence.strip()) <= 40:
                out.append({"body": pair["body"], "title": sentence.strip(" ，,：:")})
    return out


def packages_files(root=None):
    """The `Packages` indexes the same `apt-get update` fetched."""
    return sorted(p for p in (cache_dir(root) / "lists").glob("*_binary-*_Packages*") if not p.name.endswith(".diff"))


def parse_sections(text):
    """`{package: section}` from a `Packages` file's text; a `contrib/` or
    `non-free/` prefix is dropped."""
    sections = {}
    for block in text.split("\n\n"):
        package = section = None
        for line in block.split("\n"):
            if line.startswith("Package:"):
                package = line[len("Package:"):].strip()
            elif line.startswith("Section:"):
                section = line[len("Section:"):].strip().split("/")[-1]
        if package and section:
            sections[package] = section
    return sections


def load_synopses(root=None, fetch=True):
    """English synopses labelled by their package's Section and its class
    (`SECTION_CLASSES`), split as `load_pairs` splits them (by package family).

    Returns `{"train": [...], "valid": [...], "test": [...]}`, each a list of
    `{"package", "family", "text", "section", "class"}`; packages whose
    section is unknown (not in this architecture's indexes) are left out."""
    pairs = load_pairs("en", root, fetch=fetch)
    files = packages_files(root)
    if not files:
        if not fetch:
            raise FileNotFoundError(f"No Packages index under {cache_dir(root)}: run `cgen data debian-descriptions`.")
        fetch_translations("en", root)
        files = packages_files(root)
    sections = {}
    for path in files:
        sections.update(parse_sections(read_text(path)))
    unknown = sorted({s for s in sections.values()} - set(CLASS_OF_SECTION))
    if unknown:
        raise ValueError(f"Sections {unknown} are in no class of SECTION_CLASSES: add them to one.")
    return {split: [{"package": r["package"], "family": r["family"], "text": r["title"],
                     "section": sections[r["package"]], "class": CLASS_OF_SECTION[sections[r["package"]]]}
                    for r in rows if r["package"] in sections]
            for split, rows in pairs.items()}
