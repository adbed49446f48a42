"""What GDAL may open of a file someone sent: one driver per suffix, content that starts as its suffix says,
zip archives checked before a byte is inflated, names from form fields that cannot point elsewhere, and a
GDAL that neither fetches URLs nor knows drivers (VRT above all) the service does not read.

GDAL chooses a driver by content: an upload named `parcels.csv` that holds OGR VRT XML would be opened by
the VRT driver, which then reads whatever file or URL the XML names. So, before GDAL sees a file:
- `lock_down` (once per process) removes every GDAL driver but the service's own formats, removes the
  network file systems (`/vsicurl/`, `/vsis3/` …) and sets GDAL's configuration so that nothing reaches
  the network or a database file's neighbours;
- `sniff` checks that the content starts as the suffix's format starts (a GeoPackage is SQLite, a
  Shapefile has its file code, a sheet and a zip are zip archives, GeoJSON is a JSON object, a CSV is
  not XML), and the reader opens with the driver's own prefix (`CSV:`, `GPKG:` …) where it has one;
- `check_zip` refuses an archive whose member count, uncompressed size or compression ratio is beyond
  `ZipLimits`, or whose members are links, encrypted, absolute or climb out with `..`.

Knows nothing of the application; refusals are VectorFileError in one line that echoes nothing of the
file's content.
"""

from __future__ import annotations

import codecs
import ctypes
import re
import stat
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from gis.errors import VectorFileError

MiB = 1 << 20
RATIO_FLOOR = MiB  # a member smaller than this is not judged by its ratio (a small file of spaces harms no one)
# The virtual file systems that reach the network; GDAL names them by these prefixes.
NETWORK_PREFIXES = tuple(
    f"/vsi{name}/"
    for name in (
        "curl", "curl_streaming", "s3", "s3_streaming", "gs", "gs_streaming", "az", "az_streaming", "adls",
        "oss", "oss_streaming", "swift", "swift_streaming", "webhdfs", "hdfs",
    )
)
_NOWHERE = "/nonexistent/landcycle-reads-no-network"
# GDAL's configuration while the service reads files (GDAL's configuration options, process-wide).
GDAL_CONFIG = {
    # /vsicurl/ and its kin open this one file name only, and no file has it: no URL is ever fetched, also
    # on a GDAL whose network file systems cannot be removed (before 3.9).
    "CPL_VSIL_CURL_ALLOWED_FILENAME": _NOWHERE,
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".landcycle-reads-no-network",
    "GDAL_HTTP_MAX_RETRY": "0",
    # A GeoPackage (SQLite) may not ATTACH other databases nor open VirtualOGR tables from its views.
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    # A remote resource (a CRS by URL, an XML schema) may not point at a local file.
    "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
}
# How a format's file starts (after a UTF-8 byte-order mark and white space, for the text formats).
_MAGIC = {
    "GPKG": (b"SQLite format 3\x00", "a GeoPackage (an SQLite database)"),
    "ESRI Shapefile": (b"\x00\x00\x27\x0a", "a Shapefile"),
    "XLSX": (b"PK\x03\x04", "an Excel workbook (a zip archive)"),
    "ODS": (b"PK\x03\x04", "an OpenDocument spreadsheet (a zip archive)"),
}
# The drivers that take a `DRIVER:` prefix, which makes GDAL try that driver alone.
PREFIXED = frozenset({"CSV", "GPKG", "GeoJSON", "XLSX", "ODS"})
_HEAD = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODING = re.compile(r"[A-Za-z][A-Za-z0-9_.:\-]{0,39}")
_lock = threading.Lock()
_locked: list[str] | None = None


@dataclass(frozen=True)
class ZipLimits:
    """What a zip archive (a zipped Shapefile or geodatabase, an .xlsx, an .ods) may hold."""

    members: int = 10_000
    uncompressed_bytes: int = 2048 * MiB
    ratio: float = 100.0


def lock_down(keep: Iterable[str]) -> list[str]:
    """Once per process: GDAL's configuration set (GDAL_CONFIG), every driver not in `keep` removed, every
    HTTP request GDAL would make refused, the network file systems removed. Returns what was done (the
    same list on later calls)."""
    global _locked
    with _lock:
        if _locked is not None:
            return _locked
        import pyogrio  # here, not at the top: app.settings imports ZipLimits without loading GDAL

        done = ["configuration"]
        pyogrio.set_gdal_config_options(GDAL_CONFIG)
        gdal = _gdal()
        if gdal is not None:
            wanted = set(keep)
            drivers = [gdal.GDALGetDriver(i) for i in range(gdal.GDALGetDriverCount())]
            dropped = [h for h in drivers if h and (gdal.GDALGetDriverShortName(h) or b"").decode() not in wanted]
            for handle in dropped:  # deregistered, not destroyed: an open dataset of another thread keeps its own
                gdal.GDALDeregisterDriver(handle)
            done.append(f"{len(dropped)} drivers removed")
            if hasattr(gdal, "CPLHTTPSetFetchCallback"):  # GDAL 3.2+: every HTTP request GDAL makes itself
                gdal.CPLHTTPSetFetchCallback(_NO_FETCH, None)  # (a GeoJSON's CRS by URL) fails at once
                done.append("HTTP requests refused")
            if hasattr(gdal, "VSIRemovePluginHandler"):  # GDAL 3.9+
                for prefix in NETWORK_PREFIXES:
                    gdal.VSIRemovePluginHandler(prefix.encode())
                done.append("network file systems removed")
        _locked = done
        return done


class _HTTPResult(ctypes.Structure):
    """GDAL's CPLHTTPResult (cpl_http.h; a public, stable struct)."""

    _fields_ = [
        ("nStatus", ctypes.c_int),
        ("pszContentType", ctypes.c_void_p),
        ("pszErrBuf", ctypes.c_void_p),
        ("nDataLen", ctypes.c_int),
        ("nDataAlloc", ctypes.c_int),
        ("pabyData", ctypes.c_void_p),
        ("papszHeaders", ctypes.c_void_p),
        ("nMimePartCount", ctypes.c_int),
        ("pasMimePart", ctypes.c_void_p),
    ]


# CPLHTTPFetchCallbackFunc: (url, options, progress, progress data, write, write data, user data) → result.
_FETCH = ctypes.CFUNCTYPE(ctypes.c_void_p, *[ctypes.c_void_p] * 7)


def _refuse_fetch(*_: object) -> int | None:
    """Every HTTP request GDAL would make answers "failed" at once (a result GDAL allocates and frees;
    no result at all would let GDAL fall back to its own client)."""
    gdal = _gdal()
    if gdal is None:
        return None
    address = gdal.CPLCalloc(1, ctypes.sizeof(_HTTPResult))
    result = _HTTPResult.from_address(address)
    result.nStatus = 1
    result.pszErrBuf = gdal.CPLStrdup(b"network access is off while files are read (gis.guard)")
    return int(address)


_NO_FETCH = _FETCH(_refuse_fetch)  # kept for the life of the process: GDAL holds only its address
_handle: ctypes.CDLL | None = None


def _gdal() -> ctypes.CDLL | None:
    """GDAL's C API, as pyogrio loaded it (its extension module's symbols include its GDAL's)."""
    global _handle
    if _handle is not None:
        return _handle
    try:
        from pyogrio import _io

        gdal = ctypes.CDLL(_io.__file__)
        gdal.GDALGetDriverCount.restype = ctypes.c_int
        gdal.GDALGetDriver.argtypes = [ctypes.c_int]
        gdal.GDALGetDriver.restype = ctypes.c_void_p
        gdal.GDALGetDriverShortName.argtypes = [ctypes.c_void_p]
        gdal.GDALGetDriverShortName.restype = ctypes.c_char_p
        gdal.GDALDeregisterDriver.argtypes = [ctypes.c_void_p]
        gdal.GDALDeregisterDriver.restype = None
        gdal.CPLCalloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
        gdal.CPLCalloc.restype = ctypes.c_void_p
        gdal.CPLStrdup.argtypes = [ctypes.c_char_p]
        gdal.CPLStrdup.restype = ctypes.c_void_p
        if hasattr(gdal, "CPLHTTPSetFetchCallback"):
            gdal.CPLHTTPSetFetchCallback.argtypes = [_FETCH, ctypes.c_void_p]
            gdal.CPLHTTPSetFetchCallback.restype = None
        if hasattr(gdal, "VSIRemovePluginHandler"):
            gdal.VSIRemovePluginHandler.argtypes = [ctypes.c_char_p]
            gdal.VSIRemovePluginHandler.restype = ctypes.c_int
        _handle = gdal
        return gdal
    except (OSError, AttributeError, ImportError):  # no C API reachable: the configuration and `sniff` remain
        return None


def with_prefix(source: str, driver: str) -> str:
    """What GDAL opens: `DRIVER:source` for a driver that takes a prefix (GDAL then tries no other)."""
    return f"{driver}:{source}" if driver in PREFIXED else source


def sniff(head: bytes, driver: str, name: str) -> None:
    """Refuse content that does not start as `driver`'s format starts (`head`: the file's first bytes)."""
    if driver in _MAGIC:
        magic, what = _MAGIC[driver]
        if not head.startswith(magic):
            raise VectorFileError(f"cannot open {name}: it is not {what}")
        return
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if driver == "GeoJSON" and not text.startswith(b"{"):
        raise VectorFileError(f"cannot open {name}: it is not GeoJSON (a JSON object)")
    if driver == "CSV" and (text.startswith(b"<") or b"\x00" in head):
        raise VectorFileError(f"cannot open {name}: it holds XML or binary data, not comma-separated text")


def sniff_file(path: Path, driver: str, name: str | None = None) -> None:
    """`sniff` over a file's first bytes."""
    with path.open("rb") as f:
        sniff(f.read(_HEAD), driver, name or path.name)


def sniff_member(archive: zipfile.ZipFile, member: str, driver: str, name: str) -> None:
    """`sniff` over a zip member's first bytes (only those are inflated)."""
    with archive.open(member) as f:
        sniff(f.read(_HEAD), driver, name)


def check_zip(source: Path | IO[bytes], limits: ZipLimits, name: str | None = None) -> list[str]:
    """The member names of a zip archive (a file, or an open member of another), folders and macOS metadata
    left out, once the archive passed `limits` and every member is a plain, unencrypted file under the
    archive's root. Only the archive's directory is read: nothing is inflated."""
    label = name or (source.name if isinstance(source, Path) else "the archive")
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise VectorFileError(f"{label} is not a readable zip archive") from None
    if len(members) > limits.members:
        raise VectorFileError(f"{label} holds {len(members):,} members; at most {limits.members:,} are read")
    total = 0
    for info in members:
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) \
                or _CONTROL.search(info.filename):
            raise VectorFileError(f"{label} holds a member whose name leaves the archive (absolute or ..)")
        if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            raise VectorFileError(f"{label} holds a symbolic link; only plain files are read")
        if info.flag_bits & 0x1:
            raise VectorFileError(f"{label} holds an encrypted member; send it without a password")
        total += info.file_size
        if total > limits.uncompressed_bytes:
            raise VectorFileError(
                f"{label} would unpack to {_declared(members) / MiB:,.0f} MiB; at most "
                f"{limits.uncompressed_bytes / MiB:,.0f} MiB are read"
            )
        if info.file_size > RATIO_FLOOR and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise VectorFileError(
                f"{label} holds a member compressed more than {limits.ratio:g} to 1 (a zip bomb?); not read"
            )
    return [m.filename for m in members if not m.filename.startswith("__MACOSX") and not m.is_dir()]


def _declared(members: list[zipfile.ZipInfo]) -> int:
    """What an archive's directory says its members unpack to, in bytes."""
    return sum(m.file_size for m in members)


def check_layer(value: str) -> str:
    """A layer name from a form field or flag: a name, never a path, URL or GDAL virtual file."""
    if not value.strip() or _CONTROL.search(value) or "/" in value or "\\" in value or "://" in value:
        raise VectorFileError(
            f"the layer {_shown(value)} is not a layer name (a name without '/', '\\' or control characters)"
        )
    return value


def check_column(value: str) -> str:
    """A column name from `--map`: a name, never a GDAL virtual file or URL."""
    if _CONTROL.search(value) or value.lower().startswith("/vsi") or "://" in value:
        raise VectorFileError(f"{_shown(value)} is not a column name")
    return value


def check_encoding(value: str) -> str:
    """A text encoding's name that Python knows (GB18030, GBK, UTF-8 …), nothing else."""
    if not _ENCODING.fullmatch(value):
        raise VectorFileError(f"unknown text encoding {_shown(value)}")
    try:
        codecs.lookup(value)
    except LookupError:
        raise VectorFileError(f"unknown text encoding {_shown(value)}") from None
    return value


def _shown(value: str) -> str:
    """A user's value quoted in a message: on one line, at most 60 characters."""
    return repr(value if len(value) <= 60 else value[:57] + "...")
