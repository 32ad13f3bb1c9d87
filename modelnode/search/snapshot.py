"""On-disk snapshots of a ``SearchIndex``'s derived structures (issue 4: derived, persisted, and
rebuilt if missing or stale).

A snapshot is one directory: ``meta.json`` (format version, the caller's watermark, the document
table's size, one entry per field index with its class, mapping type and JSON-able state) and one
``.npz`` per array set (``docs.npz``: the internal doc numbers, ids, ``_seq_no``s and versions of
the live documents; ``f<i>.npz``: a field index's arrays). Everything is numpy arrays read with
``allow_pickle=False`` or JSON -- never pickle -- and every file's SHA-256 is recorded in
``meta.json``. Sources are *not* stored: the caller streams them back from its source of truth
(SQLite) and ``load`` checks every document against the snapshot's table, so a snapshot that does
not describe exactly those documents is refused (``SnapshotError``) and the caller rebuilds.

Writes are atomic: a temporary sibling directory, every file fsynced, then renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from modelnode.search.core import FIELD_INDEXES, SearchIndex, StoredDoc

FORMAT = 1
META = "meta.json"


class SnapshotError(Exception):
    """The snapshot is missing, corrupt, stale or unsupported (the message says which)."""


# -- string packing (UTF-8 bytes + offsets: exact for any str, unlike numpy's NUL-trimming '<U') ----


def pack_strings(strings: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    if encoded:
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def unpack_strings(data: np.ndarray, offsets: np.ndarray) -> list[str]:
    raw = data.tobytes()
    off = offsets.tolist()
    return [raw[off[i] : off[i + 1]].decode("utf-8", "surrogatepass") for i in range(len(off) - 1)]


def ragged(lists: Iterable[list[Any]], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """A list of lists -> (flat values, offsets)."""
    lists = list(lists)
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    if lists:
        np.cumsum([len(x) for x in lists], out=offsets[1:])
    flat = np.fromiter((v for x in lists for v in x), dtype=dtype, count=int(offsets[-1]))
    return flat, offsets


def unragged(flat: np.ndarray, offsets: np.ndarray) -> list[list[Any]]:
    values = flat.tolist()
    off = offsets.tolist()
    return [values[off[i] : off[i + 1]] for i in range(len(off) - 1)]


# -- write ---------------------------------------------------------------------------------------


def supported(index: SearchIndex) -> bool:
    return all(
        callable(getattr(f, "state", None)) and callable(getattr(f, "load_state", None)) for f in index.fields.values()
    )


def save(index: SearchIndex, directory: Path, watermark: dict[str, Any]) -> None:
    """Write ``index``'s snapshot to ``directory`` atomically (replacing any older one). Raises
    ``SnapshotError`` when a field index cannot export its state (the caller keeps rebuilding)."""
    if not supported(index):
        kinds = sorted({type(f).__name__ for f in index.fields.values() if not callable(getattr(f, "state", None))})
        raise SnapshotError(f"field indexes without snapshot support: {kinds}")
    types = dict(index.mapping.indexed_fields())
    live = list(index.by_id.items())  # by_id order is the order the documents were (last) written
    ids_data, ids_off = pack_strings(doc_id for doc_id, _ in live)
    docs = [index.doc(n) for _, n in live]
    arrays: dict[str, dict[str, np.ndarray]] = {
        "docs": {
            "slots": np.fromiter((n for _, n in live), dtype=np.int64, count=len(live)),
            "ids": ids_data,
            "ids_off": ids_off,
            "seq_no": np.fromiter((d.seq_no for d in docs), dtype=np.int64, count=len(docs)),
            "version": np.fromiter((d.version for d in docs), dtype=np.int64, count=len(docs)),
            "primary_term": np.fromiter((d.primary_term for d in docs), dtype=np.int64, count=len(docs)),
        }
    }
    fields: dict[str, Any] = {}
    for i, (path, field_index) in enumerate(index.fields.items()):
        state = field_index.state()  # type: ignore[attr-defined]
        name = f"f{i}"
        arrays[name] = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        fields[path] = {
            "class": type(field_index).__name__,
            "type": types.get(path, {}).get("type"),
            "file": name,
            "json": {k: v for k, v in state.items() if not isinstance(v, np.ndarray)},
        }
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".tmp-"))
    try:
        digests = {}
        for name, group in arrays.items():
            digests[f"{name}.npz"] = _write_npz(tmp / f"{name}.npz", group)
        meta = {
            "format": FORMAT,
            "index": index.name,
            "watermark": watermark,
            "slots": len(index.docs),
            "docs": len(live),
            "fields": fields,
            "files": digests,
        }
        _write_bytes(tmp / META, json.dumps(meta, sort_keys=True).encode("utf-8"))
        _fsync_dir(tmp)
        old = None
        if directory.exists():
            old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".old-"))
            os.rename(directory, old / "snapshot")
        os.rename(tmp, directory)
        _fsync_dir(directory.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    return _sha256(path)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- read ----------------------------------------------------------------------------------------


def read_watermark(directory: Path) -> dict[str, Any]:
    meta = _read_meta(directory)
    return dict(meta["watermark"])


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / META
    if not path.exists():
        raise SnapshotError("missing")
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise SnapshotError(f"corrupt {META}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SnapshotError(f"format {meta.get('format') if isinstance(meta, dict) else '?'} != {FORMAT}")
    return meta


def _read_npz(directory: Path, meta: dict[str, Any], name: str) -> dict[str, np.ndarray]:
    file = f"{name}.npz"
    path = directory / file
    try:
        if _sha256(path) != meta["files"][file]:
            raise SnapshotError(f"corrupt {file}: checksum mismatch")
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except SnapshotError:
        raise
    except Exception as e:  # missing file, bad zip, ...
        raise SnapshotError(f"corrupt {file}: {type(e).__name__}: {e}") from None


def load(
    index: SearchIndex,
    directory: Path,
    watermark: dict[str, Any],
    rows: Iterable[tuple[str, int, int, dict[str, Any]]],
) -> None:
    """Fill the empty ``index`` from the snapshot in ``directory``, taking the sources from ``rows``
    (every live document as ``(id, seq_no, version, source)``, in ``_seq_no`` order). Raises
    ``SnapshotError`` (with the reason) when the snapshot is missing, corrupt, of another format,
    or its watermark or document table differs from ``watermark`` / ``rows``; ``index`` is then in
    an undefined state and must be discarded."""
    if index.docs or index.fields:
        raise ValueError("load needs an empty SearchIndex")
    meta = _read_meta(directory)
    if meta.get("watermark") != watermark:
        raise SnapshotError(f"stale: snapshot watermark {meta.get('watermark')} != current {watermark}")
    table = _read_npz(directory, meta, "docs")
    ids = unpack_strings(table["ids"], table["ids_off"])
    slots = table["slots"].tolist()
    seq_nos = table["seq_no"].tolist()
    versions = table["version"].tolist()
    terms = table["primary_term"].tolist()
    n_slots = int(meta["slots"])
    if not len(ids) == len(slots) == len(seq_nos) == len(versions) == len(terms) == meta["docs"]:
        raise SnapshotError("corrupt document table")
    where = {doc_id: i for i, doc_id in enumerate(ids)}
    docs: list[StoredDoc | None] = [None] * n_slots
    by_id: dict[str, int] = {}
    for doc_id, seq_no, version, source in rows:
        i = where.get(doc_id)
        if i is None or seq_nos[i] != seq_no or versions[i] != version:
            raise SnapshotError(f"stale: document [{doc_id}] (seq_no {seq_no}) differs from the snapshot")
        slot = slots[i]
        if not 0 <= slot < n_slots or docs[slot] is not None:
            raise SnapshotError("corrupt document table")
        docs[slot] = StoredDoc(doc_id, source, seq_no, version, terms[i])
        by_id[doc_id] = slot
    if len(by_id) != len(ids):
        raise SnapshotError(f"stale: {len(ids) - len(by_id)} snapshot document(s) no longer exist")
    mappings = dict(index.mapping.indexed_fields())
    fields = {}
    for path, entry in meta["fields"].items():
        field_mapping = mappings.get(path)
        if field_mapping is None or field_mapping.get("type") != entry["type"]:
            raise SnapshotError(f"stale: field [{path}] is no longer mapped as [{entry['type']}]")
        factory = FIELD_INDEXES.get(field_mapping["type"])
        if factory is None:
            raise SnapshotError(f"no field index for type [{field_mapping['type']}]")
        field_index = factory(field_mapping, index.settings)
        if type(field_index).__name__ != entry["class"] or not callable(getattr(field_index, "load_state", None)):
            raise SnapshotError(f"field [{path}]: {entry['class']} cannot be restored")
        state: dict[str, Any] = dict(entry["json"])
        state.update(_read_npz(directory, meta, entry["file"]))
        try:
            field_index.load_state(state)  # type: ignore[attr-defined]
        except SnapshotError:
            raise
        except Exception as e:
            raise SnapshotError(f"corrupt state of field [{path}]: {type(e).__name__}: {e}") from None
        fields[path] = field_index
    index.docs = docs
    index.by_id = by_id
    index.fields = fields


__all__ = [
    "FORMAT",
    "SnapshotError",
    "load",
    "pack_strings",
    "ragged",
    "read_watermark",
    "remove",
    "save",
    "supported",
    "unpack_strings",
    "unragged",
]
