"""Checks a model zip before anything is unpacked: ML Commons' rules plus archive safety.

ML Commons' rules (``ModelHelper.verifyModelZipFile``, ``DLModel``): exactly one model file,
``.pt`` for TORCH_SCRIPT or ``.onnx`` for ONNX; a file of the other format is an error; two model
files are "found multiple models"; ``tokenizer.json`` is required; SPARSE_TOKENIZE may have no
model file (``idf.json`` optional); no ``.jar/.class/.so/.dylib/.dll`` entries; a
``serving.properties`` may only reference ``ai.djl.*`` classes.

Safety rules added here: no absolute paths, ``..``/``.`` components, backslashes or NUL in
names; no symlink, device or FIFO entries (Unix mode in ``external_attr``); no duplicate names
(also case-insensitive, and no file that is also used as a directory); no encrypted entries or
unknown compression methods; limits on the zip's size, the member count, the declared
uncompressed total and the compression ratio (zip bombs). With ``check_crc=True`` every member
is decompressed once to catch truncated or damaged data.

Layout decision (documented for ``runtime``): files live at the zip's top level, or, when the
zip holds exactly one top-level folder and nothing else (a "zip of a folder"), inside that folder;
that place is the *content root* and is stripped on unpack. ``tokenizer.json`` and the model file
must sit directly in the content root (ML Commons also looks only at the top level for the
tokenizer), so an unpacked artifact always has them at its top level. macOS junk
(``__MACOSX/``, ``.DS_Store``) is checked for safety but otherwise ignored and never unpacked.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from modelnode.artifacts.download import DEFAULT_MAX_BYTES
from modelnode.catalog import FunctionName, ModelFormat
from modelnode.errors import ArtifactError

TOKENIZER_FILE = "tokenizer.json"
IDF_FILE = "idf.json"
SERVING_PROPERTIES = "serving.properties"
MODEL_EXTENSIONS = {ModelFormat.TORCH_SCRIPT: ".pt", ModelFormat.ONNX: ".onnx"}
FORBIDDEN_EXTENSIONS = (".jar", ".class", ".so", ".dylib", ".dll")
DEFAULT_MAX_MEMBERS = 10_000
# The declared uncompressed total may be at most this multiple of max_bytes (weights compress
# about 1:1, tokenizer/idf JSON about 3:1) ...
UNCOMPRESSED_FACTOR = 4
# ... and a zip may not inflate more than BOMB_RATIO times its own size once it inflates past
# BOMB_FLOOR bytes (real artifacts stay under 5:1; zip bombs need hundreds to thousands).
BOMB_RATIO = 100
BOMB_FLOOR = 64 * 1024 * 1024
_MAX_PROPERTIES_BYTES = 64 * 1024
_SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_JUNK_DIRS = ("__MACOSX/",)
_JUNK_FILES = (".DS_Store",)
_SO_VERSIONED = re.compile(r"\.so(\.\d+)+$")
_JAVA_NAME = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$")
_CLASS_KEYS = {"translator", "translatorfactory", "blockfactory", "modelzoo", "zooprovider"}
_NATIVE_KEYS = {"customoplibrary"}


@dataclass(frozen=True)
class ZipMember:
    """One regular file to unpack: its member ``name`` in the zip and its ``path`` relative to the
    content root (what it is called once unpacked)."""

    name: str
    path: str
    size: int


@dataclass(frozen=True)
class ZipSummary:
    path: Path
    model_format: ModelFormat
    function_name: FunctionName
    model_file: str | None  # relative to the content root; None only for SPARSE_TOKENIZE
    tokenizer_file: str  # always "tokenizer.json"
    content_root: str  # "" or "folder/" (stripped on unpack)
    files: tuple[ZipMember, ...]  # regular files to unpack, in zip order (junk excluded)
    uncompressed_size: int  # declared total of ``files``
    zip_size: int  # bytes of the zip itself: ML Commons' model_content_size_in_bytes

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(m.path for m in self.files)


def verify_zip(
    path: str | os.PathLike[str],
    *,
    model_format: ModelFormat | str,
    function_name: FunctionName | str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_uncompressed_bytes: int | None = None,
    max_members: int = DEFAULT_MAX_MEMBERS,
    check_crc: bool = True,
) -> ZipSummary:
    """Check the zip at ``path``; return what it holds or raise ``ArtifactError``.

    ``max_bytes`` limits the zip file; ``max_uncompressed_bytes`` (default
    ``UNCOMPRESSED_FACTOR * max_bytes``) limits the declared uncompressed total. ``check_crc=False``
    skips decompressing the members (``ArtifactStore.add`` checks CRCs while unpacking instead).
    """
    fmt = _model_format(model_format)
    function = _function_name(function_name)
    zip_path = Path(path)
    limit_uncompressed = UNCOMPRESSED_FACTOR * max_bytes if max_uncompressed_bytes is None else max_uncompressed_bytes

    try:
        zip_size = zip_path.stat().st_size
    except FileNotFoundError:
        raise ArtifactError(f"model zip {zip_path} does not exist") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read model zip {zip_path}: {exc.strerror or exc}") from None
    if not zip_path.is_file():
        raise ArtifactError(f"model zip {zip_path} is not a regular file")
    if zip_size > max_bytes:
        raise ArtifactError(
            f"model zip is too large: {zip_size} bytes, the limit is {max_bytes} bytes; use a smaller "
            "model or raise the artifact size limit (max_artifact_bytes)"
        )

    with _open_zip(zip_path) as zf:
        infos = zf.infolist()
        if len(infos) > max_members:
            raise ArtifactError(
                f"model zip has {len(infos)} entries, more than the limit of {max_members}; a model "
                "artifact holds a model file, tokenizer.json and a few small files"
            )
        members = _check_entries(infos)
        total = sum(m.size for m in members)
        if total > limit_uncompressed:
            raise ArtifactError(
                f"model zip would unpack to {total} bytes, more than the limit of {limit_uncompressed} "
                "bytes (zip bomb guard); the artifact is not a plausible model zip"
            )
        if total > BOMB_FLOOR and total > BOMB_RATIO * max(zip_size, 1):
            raise ArtifactError(
                f"model zip looks like a zip bomb: {zip_size} bytes would unpack to {total} bytes "
                f"(ratio {total // max(zip_size, 1)}:1, the limit is {BOMB_RATIO}:1)"
            )
        root, files = _content_root(members)
        model_file = _check_model_file(files, fmt, function)
        tokenizer = _check_tokenizer(files, root, function)
        for member in files:
            if member.path.rsplit("/", 1)[-1] == SERVING_PROPERTIES:
                _check_serving_properties(zf, member)
        if check_crc:
            for member in files:
                _test_member(zf, member)

    return ZipSummary(
        path=zip_path,
        model_format=fmt,
        function_name=function,
        model_file=model_file,
        tokenizer_file=tokenizer,
        content_root=root,
        files=tuple(files),
        uncompressed_size=total,
        zip_size=zip_size,
    )


def is_junk(name: str) -> bool:
    """macOS archive litter that is never unpacked (``__MACOSX/...``, ``.DS_Store``)."""
    return name.startswith(_JUNK_DIRS) or name.rsplit("/", 1)[-1] in _JUNK_FILES


def open_member_error(name: str, exc: BaseException) -> ArtifactError:
    """The error for a member whose data cannot be decompressed (shared with the store)."""
    return ArtifactError(f"model zip entry {name!r} is corrupt or truncated ({exc}); download the artifact again")


# --- internals ----------------------------------------------------------------------------------


def _model_format(value: ModelFormat | str) -> ModelFormat:
    try:
        return ModelFormat(str(value).upper())
    except ValueError:
        raise ArtifactError(f"unknown model_format {value!r}; use TORCH_SCRIPT or ONNX") from None


def _function_name(value: FunctionName | str) -> FunctionName:
    try:
        return FunctionName(str(value).upper())
    except ValueError:
        names = ", ".join(f.value for f in FunctionName)
        raise ArtifactError(f"unknown function_name {value!r}; use one of {names}") from None


class _open_zip:
    """``zipfile.ZipFile`` with "not a zip" and "truncated zip" told apart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zf: zipfile.ZipFile | None = None

    def __enter__(self) -> zipfile.ZipFile:
        try:
            self.zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            with open(self.path, "rb") as fh:
                head = fh.read(4)
            if head.startswith(b"PK"):
                raise ArtifactError(
                    f"model zip {self.path.name} is truncated or corrupt ({exc}); download it again"
                ) from None
            raise ArtifactError(
                f"{self.path.name} is not a zip file; a model artifact must be a .zip holding the model "
                "file and tokenizer.json"
            ) from None
        except (OSError, ValueError, EOFError) as exc:
            raise ArtifactError(f"model zip {self.path.name} cannot be read ({exc}); download it again") from None
        return self.zf

    def __exit__(self, *exc: object) -> None:
        if self.zf is not None:
            self.zf.close()


def _check_entries(infos: list[zipfile.ZipInfo]) -> list[ZipMember]:
    """Safety checks on every entry; returns the regular files in zip order."""
    seen: set[str] = set()
    seen_folded: dict[str, str] = {}
    files: list[ZipMember] = []
    for info in infos:
        name = info.filename
        _check_name(name)
        is_dir = name.endswith("/")
        mode = (info.external_attr >> 16) & 0xFFFF
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise ArtifactError(
                f"model zip entry {name!r} is a symbolic link; links are not allowed in model artifacts, "
                "zip the real files instead"
            )
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArtifactError(f"model zip entry {name!r} is a special file (mode {oct(mode)}), not a regular file")
        if kind == stat.S_IFDIR and not is_dir:
            is_dir = True
        key = name.rstrip("/")
        if key in seen:
            raise ArtifactError(f"model zip has duplicate entries named {name!r}; rebuild the zip")
        folded = key.casefold()
        if folded in seen_folded:
            raise ArtifactError(
                f"model zip has entries {seen_folded[folded]!r} and {name!r} whose names differ only in "
                "case; rebuild the zip"
            )
        seen.add(key)
        seen_folded[folded] = name
        lower = name.lower()
        if not is_dir and (lower.endswith(FORBIDDEN_EXTENSIONS) or _SO_VERSIONED.search(lower)):
            raise ArtifactError(
                f"model zip contains {name!r}: .jar, .class, .so, .dylib and .dll files are not allowed "
                "in model artifacts (an artifact is data, never code)"
            )
        if info.flag_bits & 0x1:
            raise ArtifactError(f"model zip entry {name!r} is encrypted; encrypted zips are not supported")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise ArtifactError(
                f"model zip entry {name!r} uses an unsupported compression method ({info.compress_type}); "
                "use deflate or store"
            )
        if not is_dir:
            files.append(ZipMember(name=name, path=name, size=info.file_size))
    # A name used both as a file and as a folder ("a" and "a/b") cannot be unpacked.
    file_keys = {m.name for m in files}
    for key in seen:
        parts = key.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in file_keys:
                raise ArtifactError(
                    f"model zip entry {parent!r} is a file but {key!r} uses it as a folder; rebuild the zip"
                )
    return files


def _check_name(name: str) -> None:
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise ArtifactError(f"model zip has an entry with an invalid name {name!r}")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ArtifactError(
            f"model zip entry {name!r} has an absolute path; entries must be relative to the zip's root"
        )
    if "\\" in name:
        raise ArtifactError(f"model zip entry {name!r} uses backslashes; zip entries must use '/' separators")
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        raise ArtifactError(
            f"model zip entry {name!r} escapes the artifact folder ('..' path traversal); rebuild the zip"
        )
    if any(p in ("", ".") for p in parts):
        raise ArtifactError(f"model zip entry {name!r} has an empty or '.' path component; rebuild the zip")


def _content_root(members: list[ZipMember]) -> tuple[str, list[ZipMember]]:
    """The folder all content sits in ("" or "x/") and the members relative to it, junk removed."""
    real = [m for m in members if not is_junk(m.name)]
    top_level_files = [m for m in real if "/" not in m.name]
    folders = {m.name.split("/", 1)[0] for m in real if "/" in m.name}
    root = ""
    if not top_level_files and len(folders) == 1:
        root = folders.pop() + "/"
    return root, [ZipMember(name=m.name, path=m.name[len(root) :], size=m.size) for m in real]


def _check_model_file(files: list[ZipMember], fmt: ModelFormat, function: FunctionName) -> str | None:
    ext = MODEL_EXTENSIONS[fmt]
    other_fmt, other_ext = next((f, e) for f, e in MODEL_EXTENSIONS.items() if f is not fmt)
    wrong = [m.path for m in files if m.path.lower().endswith(other_ext)]
    if wrong:
        raise ArtifactError(
            f"model_format is {fmt.value} but the zip contains a {other_ext} file ({wrong[0]}); register "
            f"it with model_format {other_fmt.value} or use the {fmt.value} artifact"
        )
    found = [m.path for m in files if m.path.lower().endswith(ext)]
    if len(found) > 1:
        raise ArtifactError(
            f"found multiple models in the zip ({', '.join(found)}); expected exactly one {ext} file for "
            f"model_format {fmt.value}"
        )
    if not found:
        if function is FunctionName.SPARSE_TOKENIZE:
            return None
        raise ArtifactError(
            f"can't find model file: the zip has no {ext} file, expected exactly one for model_format "
            f"{fmt.value} (only SPARSE_TOKENIZE artifacts may come without a model file)"
        )
    if "/" in found[0]:
        raise ArtifactError(
            f"model file {found[0]} must be at the top level of the zip, next to tokenizer.json; rebuild the zip"
        )
    return found[0]


def _check_tokenizer(files: list[ZipMember], root: str, function: FunctionName) -> str:
    if any(m.path == TOKENIZER_FILE for m in files):
        return TOKENIZER_FILE
    elsewhere = [root + m.path for m in files if m.path.rsplit("/", 1)[-1] == TOKENIZER_FILE]
    hint = f" (found {elsewhere[0]}; move it to the top level)" if elsewhere else ""
    raise ArtifactError(
        f"no tokenizer file: a {function.value} artifact must contain tokenizer.json at the top level "
        f"of the zip{hint}; save the tokenizer with `tokenizer.save_pretrained()` and zip it with the model"
    )


def _check_serving_properties(zf: zipfile.ZipFile, member: ZipMember) -> None:
    if member.size > _MAX_PROPERTIES_BYTES:
        raise ArtifactError(f"{member.name} is {member.size} bytes; a serving.properties file is a few lines")
    try:
        raw = zf.read(member.name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise open_member_error(member.name, exc) from None
    text = raw.decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        match = re.match(r"^((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)$", stripped)
        key, value = (match.group(1), match.group(2)) if match else (stripped, "")
        short_key = key.rsplit(".", 1)[-1].lower()
        if short_key in _NATIVE_KEYS:
            raise ArtifactError(
                f"{member.name} line {lineno}: '{key}' loads native code, which is not allowed in a model "
                "artifact; remove it"
            )
        for token in re.split(r"[\s,;]+", value):
            if _is_class_reference(short_key, token) and not token.startswith("ai.djl."):
                raise ArtifactError(
                    f"{member.name} line {lineno}: '{key}' references the class {token!r}; "
                    "serving.properties may only reference ai.djl.* classes"
                )


def _is_class_reference(short_key: str, token: str) -> bool:
    if not _JAVA_NAME.match(token):
        return False
    if short_key in _CLASS_KEYS or short_key.endswith(("factory", "class")):
        return True
    # Java convention: lower-case package segments, then a capitalised class name (com.x.Foo).
    *package, last = token.split(".")
    return last[:1].isupper() and all(p[:1].islower() for p in package)


def _test_member(zf: zipfile.ZipFile, member: ZipMember) -> None:
    try:
        with zf.open(member.name) as fh:
            while fh.read(1024 * 1024):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise open_member_error(member.name, exc) from None
