"""Safe, atomic persistence: JSON and ``.npz`` only (no pickle anywhere).

Every write goes to a temporary file in the destination folder and is renamed into place, so an
interrupted stage never leaves a half-written file that a later stage could read.

A file that is missing, truncated or corrupt is reported with its path and the DVC stage that writes it
(:func:`producing_stage`, read from ``dvc.yaml`` of the working directory), e.g.::

    results/t2/inverse/seed_0.json is truncated or not valid JSON (Unterminated string …: char 998);
    it is written by DVC stage 't2_invert@0': rerun it with 'dvc repro t2_invert@0'
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are meant to be readable
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def to_jsonable(value: Any) -> Any:
    """Numpy/torch scalars and arrays as plain Python lists and floats."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as sorted, indented JSON, atomically (same data ⇒ identical bytes)."""
    text = json.dumps(to_jsonable(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode()))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file.

    Raises:
        MissingFileError: ``path`` does not exist (a :class:`FileNotFoundError`).
        CorruptFileError: the file is truncated or not valid JSON (a :class:`ValueError`).
        Both messages name the file and the DVC stage that writes it.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as err:
        raise MissingFileError(f"{path} does not exist{stage_hint(path)}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(f"{path} is truncated or not valid JSON ({err}){stage_hint(path)}") from err


def read_seed_files(folder: str | os.PathLike, seeds) -> list:
    """Each seed's JSON ``folder/seed_<s>.json``, in the order of ``seeds`` (:func:`read_json`'s errors)."""
    return [read_json(Path(folder) / f"seed_{seed}.json") for seed in seeds]


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text.encode()))


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Save named arrays to a compressed ``.npz`` atomically."""
    plain = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in plain.items():
        if value.dtype == object:
            raise TypeError(f"array {name!r} has dtype object, which would need pickle")
    return atomic_write(path, lambda handle: np.savez_compressed(handle, **plain))


def load_arrays(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load a ``.npz`` written by :func:`save_arrays` with ``allow_pickle=False``.

    Raises:
        MissingFileError: ``path`` does not exist (both a :class:`FileNotFoundError` and a :class:`ValueError`).
        CorruptFileError: the file is truncated or corrupt, or lacks one of ``required`` (a :class:`ValueError`).
        Every message names the file and the DVC stage that writes it.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError as err:
        raise MissingFileError(f"cannot read trace file {path}: it does not exist{stage_hint(path)}") from err
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise CorruptFileError(f"cannot read trace file {path}: it is truncated or corrupt ({err})"
                               f"{stage_hint(path)}") from err
    missing = [name for name in required if name not in arrays]
    if missing:
        raise CorruptFileError(f"trace file {path} lacks arrays {missing}{stage_hint(path)}")
    return arrays


class CorruptFileError(ValueError):
    """A file is truncated, corrupt or incomplete; the message names it and the DVC stage that writes it."""


class MissingFileError(FileNotFoundError, ValueError):
    """A file does not exist; the message names it and the DVC stage that writes it.

    Also a :class:`ValueError`, because :func:`load_arrays` reported a missing file as one.
    """


def stage_hint(path: str | os.PathLike) -> str:
    """``"; it is written by DVC stage 's': rerun it with 'dvc repro s'"``, or that no stage writes ``path``."""
    try:
        stage = producing_stage(path)
    except Exception as err:  # noqa: BLE001 (a broken dvc.yaml must not hide the error being reported)
        return f"; the DVC stage that writes it is unknown (cannot read dvc.yaml: {err})"
    if stage is None:
        dvc_yaml = Path("dvc.yaml").absolute()
        where = f"no stage in {dvc_yaml} writes it" if dvc_yaml.is_file() else f"there is no dvc.yaml in {Path.cwd()}"
        return f"; it is not a pipeline output ({where})"
    return f"; it is written by DVC stage '{stage}': rerun it with 'dvc repro {stage}'"


_ITEM = re.compile(r"\$\{\s*item\s*\}")
_REFERENCE = re.compile(r"\$\{\s*([\w.-]+)\s*\}")


def producing_stage(path: str | os.PathLike) -> str | None:
    """The stage of ``dvc.yaml`` (in the working directory) whose ``outs`` hold ``path`` or a folder of it.

    ``foreach`` stages are expanded: ``${item}`` in their outs becomes each item of the list, which is literal
    or a ``${section.key}`` reference into ``params.yaml``, and the stage is named ``name@item``. Returns
    ``None`` when there is no ``dvc.yaml`` or no stage writes ``path``.
    """
    if not os.path.isfile("dvc.yaml"):
        return None
    target = os.path.normpath(os.path.relpath(os.path.abspath(path)))
    with open("dvc.yaml", encoding="utf-8") as handle:
        stages = (yaml.safe_load(handle) or {}).get("stages") or {}
    for name, stage in stages.items():
        if "foreach" in stage:
            items = stage["foreach"]
            reference = _REFERENCE.fullmatch(items) if isinstance(items, str) else None
            if reference:
                with open("params.yaml", encoding="utf-8") as handle:
                    items = yaml.safe_load(handle)
                for key in reference.group(1).split("."):
                    items = items[key]
            expanded = [(f"{name}@{item}", stage["do"], str(item)) for item in items]
        else:
            expanded = [(name, stage, None)]
        for stage_name, body, item in expanded:
            for out in body.get("outs") or []:
                out = next(iter(out)) if isinstance(out, dict) else str(out)
                out = os.path.normpath(out if item is None else _ITEM.sub(lambda _: item, out))
                if target == out or target.startswith(out + os.sep):
                    return stage_name
    return None
