"""Debian descriptions: parsing, cleaning and the leak-free split, on a real sample."""

import os
import shutil
from pathlib import Path

import lz4.frame
import pytest

from keras_cgen.data import debian

FIXTURES = Path(__file__).parent / "fixtures"


def sample(language):
    return (FIXTURES / f"Translation-{language}.sample").read_text(encoding="utf-8")


def test_parse_real_records():
    records = list(debian.parse_records(sample("en"), "en"))
    assert len(records) == 300
    aodh = next(r for r in records if r["package"] == "aodh-api")
    assert aodh["title"] == "OpenStack Telemetry (Ceilometer) Alarming - API server"
    assert aodh["body"].startswith("Ceilometer aims to deliver a Single Point Of Contact for billing systems")
    assert "\n" in aodh["body"] and "\n." not in aodh["body"]   # " ." paragraph breaks became newlines
    assert all("  " not in r["body"] and r["title"] == r["title"].strip() for r in records)


def test_chinese_lines_join_without_spaces():
    records = list(debian.parse_records(sample("zh_CN"), "zh_CN"))
    assert len(records) >= 50
    game = next(r for r in records if r["package"] == "2048-qt")
    assert game["title"] == "基于数学的解谜游戏"
    assert "创建数字 2048" in game["body"]   # the wrapped "创 建" is rejoined, "数字 2048" keeps its space


def test_copy_pairs_are_sentences_of_their_own_body():
    records = list(debian.parse_records(sample("zh_CN"), "zh_CN"))
    copies = debian.copy_pairs(records)
    bodies = {r["body"] for r in records}
    assert len(copies) > len(records)   # most bodies hold several sentences
    for pair in copies:
        assert pair["body"] in bodies and pair["title"] in pair["body"]
        assert 2 <= len(pair["title"]) <= 40 and not any(c in pair["title"] for c in "。；！？\n")
    game = [p["title"] for p in copies if p["body"] == next(r["body"] for r in records if r["package"] == "2048-qt")]
    assert len(game) >= 2 and len(set(game)) == len(game)


@pytest.mark.parametrize("names", [
    ["aoflagger", "aoflagger-dev", "libaoflagger0"],
    ["aodh-api", "aodh-common", "aodh-doc", "python3-aodh"],
    ["libaom-dev", "libaom-doc", "libaom3", "aom-tools"],
    ["liblog4j1.2-java", "liblog4j1.2-java-doc", "liblog4j2-java"],
])
def test_sibling_packages_are_one_family(names):
    assert len({debian.family_of(n) for n in names}) == 1, [debian.family_of(n) for n in names]


def test_split_is_deterministic_and_leak_free():
    records = list(debian.parse_records(sample("en"), "en"))
    splits = debian.split_pairs([dict(r) for r in records])
    again = debian.split_pairs([dict(r) for r in records])
    assert splits == again
    families = {name: {r["family"] for r in rows} for name, rows in splits.items()}
    intros = {name: {r["body"].split("\n")[0] for r in rows} for name, rows in splits.items()}
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not families[a] & families[b]
        assert not intros[a] & intros[b]
    total = sum(len(rows) for rows in splits.values())
    assert total <= 300 and len(splits["train"]) > 0.7 * total


def test_duplicates_are_dropped():
    record = {"package": "foo", "title": "a title", "body": "a body long enough to keep"}
    splits = debian.split_pairs([dict(record), dict(record, package="foo-data")])
    assert sum(len(rows) for rows in splits.values()) == 1


def test_load_pairs_from_fetched_lists_and_cache(tmp_path):
    lists = debian.cache_dir(tmp_path) / "lists"
    lists.mkdir(parents=True)
    # As apt stores them: lz4, and "_" URL-encoded in the zh_CN name.
    (lists / "mirror_dists_main_i18n_Translation-en.lz4").write_bytes(lz4.frame.compress(sample("en").encode()))
    (lists / "mirror_dists_main_i18n_Translation-zh%5fCN.lz4").write_bytes(
        lz4.frame.compress(sample("zh_CN").encode()))
    english = debian.load_pairs("en", root=tmp_path, fetch=False)
    chinese = debian.load_pairs("zh_CN", root=tmp_path, fetch=False)
    assert sum(map(len, english.values())) > 250 and sum(map(len, chinese.values())) >= 50
    cached = debian.split_dir("en", tmp_path) / "test.jsonl"
    assert cached.is_file()
    shutil.rmtree(lists)  # the second call reads the cached splits only
    assert debian.load_pairs("en", root=tmp_path, fetch=False) == english


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="language.*'fr'"):
        debian.load_pairs("fr", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="cgen data debian-descriptions"):
        debian.load_pairs("en", root=tmp_path, fetch=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without apt-get
    with pytest.raises(RuntimeError, match="apt-get.*not found"):
        debian.fetch_translations("en", root=tmp_path)
    assert os.environ["PATH"] == str(tmp_path)


def test_sections_of_real_packages_fall_in_the_classes():
    sections = debian.parse_sections((FIXTURES / "Packages.sample").read_text(encoding="utf-8"))
    assert len(sections) == 300 and sections["aodh-api"] == "web"
    assert debian.CLASS_OF_SECTION["web"] == "networking"
    assert set(sections.values()) <= set(debian.CLASS_OF_SECTION)  # every section has a class
    assert debian.parse_sections("Package: a\nSection: contrib/games\n\nPackage: b\n") == {"a": "games"}
