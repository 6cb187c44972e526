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


def safe_filename(filename: str) -> str:
    """The last path component, without control or path characters; never empty."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").split("/")[-1]
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
    if not _content_matches(extension, data):
        raise UploadRefused(gettext(
            "The content of %(name)s does not match its type .%(ext)s: the file was refused.",
            name=name, ext=extension,
        ))
    return name, CONTENT_TYPES[extension]
