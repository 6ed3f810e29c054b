"""A scratch copy of the repository that runs the pipeline on another profile, leaving ``params.yaml``,
``results/`` and ``book/`` of the checkout untouched.

``python -m ilola_lib.verify.workspace PROFILE DESTINATION`` copies the sources (package, notebooks, book
sources without executed notebooks, DVC configuration), installs ``profiles/PROFILE.yaml`` as the copy's
``params.yaml`` and makes it a git repository, as DVC needs. ``make repro PROFILE=smoke`` runs
``dvc repro`` there; the end-to-end test does the same.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

SOURCES = ("ilola_lib", "notebooks", "book", "profiles", ".dvc", ".dvcignore", "dvc.yaml", "pyproject.toml",
           ".gitignore")
# Pipeline outputs and caches are not copied: the copy regenerates them.
IGNORED = {"book": shutil.ignore_patterns("_build", "t1", "t2", "*.ipynb", "__pycache__"),
           ".dvc": shutil.ignore_patterns("tmp", "cache")}


def make_workspace(root: str | Path, destination: str | Path, profile: str) -> Path:
    """Copy the sources of ``root`` to a fresh ``destination`` with ``profiles/<profile>.yaml`` as its params."""
    root, destination = Path(root).resolve(), Path(destination).resolve()
    params = root / "profiles" / f"{profile}.yaml"
    if not params.is_file():
        raise FileNotFoundError(f"no profile {profile!r}: {params} does not exist")
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name in SOURCES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, destination / name,
                            ignore=IGNORED.get(name, shutil.ignore_patterns("__pycache__", "*.egg-info")))
        elif source.is_file():
            shutil.copy2(source, destination / name)
    shutil.copy2(params, destination / "params.yaml")
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    return destination


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("destination")
    parser.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    print(make_workspace(args.root, args.destination, args.profile))


if __name__ == "__main__":
    main()
