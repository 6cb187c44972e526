"""Evidence files: allowed types checked by content, size cap, safe names."""
import io
import os
import re
import unicodedata
import zipfile

from flask_babel import gettext

from app.organisation.services import current_agency

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP = b"PK\x03\x04"
# A zip container (.docx, .xlsx, any zip) is opened before it is stored: at most this many
# entries, and at most this much once unpacked (or twice the agency's upload cap, if larger:
# pictures do not shrink in a zip; text that shrinks more than that is a zip bomb).
MAX_ZIP_ENTRIES = 1000
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# Removed from file names besides control characters: the bidirectional embeddings,
# overrides and isolates, the direction marks and the line/paragraph separators, by which a
# name can show as something it is not ("hoa-don\u202efdp.exe" shows as "hoa-donexe.pdf").
INVISIBLE = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                                  "\u200e\u200f\u061c\u2028\u2029"))


class UploadRefused(ValueError):
    """A file that is not stored; the message says why, in the user's language."""


def _zip_has(data: bytes, prefix: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names)


def _content_matches(extension: str, data: bytes) -> bool:
    if extension == "pdf":
        return data.startswith(b"%PDF-")
    if extension in ("doc", "xls"):
        return data.startswith(OLE)
    if extension == "docx":
        return data.startswith(b"PK\x03\x04") and _zip_has(data, "word/")
    if extension == "xlsx":
        return data.startswith(b"PK\x03\x04") and _zip_has(data, "xl/")
    if extension in ("jpg", "jpeg"):
        return data.startswith(b"\xff\xd8\xff")
    if extension == "png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    return False


def _unpacked_problem(data: bytes, cap_bytes: int) -> str | None:
    """Why a zip container may not be stored (too many entries, too large unpacked, damaged),
    or None. Every entry is read through, so an entry that unpacks to more than its header
    says is caught by its checksum."""
    limit = max(MAX_UNPACKED_BYTES, 2 * cap_bytes)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                return "entries"
            if sum(entry.file_size for entry in entries) > limit:
                return "size"
            unpacked = 0
            for entry in entries:
                with archive.open(entry) as stream:
                    while chunk := stream.read(1024 * 1024):
                        unpacked += len(chunk)
                        if unpacked > limit:
                            return "size"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
        return "damaged"
    return None


def safe_filename(filename: str) -> str:
    """The last path component, without control, bidirectional-override or path characters;
    never empty."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name.translate(INVISIBLE) if unicodedata.category(c) != "Cc")
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", name).strip(" .")
    return name[:200] or "tep-dinh-kem"


def check_upload(filename: str, data: bytes) -> tuple[str, str]:
    """Return (safe name, content type) or raise UploadRefused."""
    name = safe_filename(filename)
    extension = os.path.splitext(name)[1].lower().lstrip(".")
    limit = current_agency().max_upload_mb * 1024 * 1024
    if not data:
        raise UploadRefused(gettext("The file %(name)s is empty.", name=name))
    if len(data) > limit:
        raise UploadRefused(gettext(
            "The file %(name)s is larger than %(limit)s MB.", name=name, limit=limit // (1024 * 1024)
        ))
    if extension not in CONTENT_TYPES:
        raise UploadRefused(gettext(
            "The file %(name)s is not allowed: only PDF, Word, Excel, JPG and PNG files are accepted.",
            name=name,
        ))
    if extension in ("docx", "xlsx") or data.startswith(ZIP):
        problem = _unpacked_problem(data, limit)
        if problem == "entries":
            raise UploadRefused(gettext(
                "The file %(name)s holds more than %(count)s parts once unpacked: the file was refused.",
                name=name, count=MAX_ZIP_ENTRIES))
        if problem == "size":
            raise UploadRefused(gettext(
                "The file %(name)s is larger than %(limit)s MB once unpacked: the file was refused.",
                name=name, limit=max(MAX_UNPACKED_BYTES, 2 * limit) // (1024 * 1024)))
        if problem == "damaged":
            raise UploadRefused(gettext("The file %(name)s is damaged: the file was refused.", name=name))
    if not _content_matches(extension, data):
        raise UploadRefused(gettext(
            "The content of %(name)s does not match its type .%(ext)s: the file was refused.",
            name=name, ext=extension,
        ))
    return name, CONTENT_TYPES[extension]
