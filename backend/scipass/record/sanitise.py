"""What an evidence file is made into before it is stored: a picture without metadata, or a PDF
found free of active content. No database here; :mod:`scipass.record.evidence` stores what
:func:`clean` returns, and :mod:`scipass.record.evidence_cleanup` runs it over files stored
before it existed.

Images (JPEG, PNG, WebP) are decoded with Pillow and encoded again in the same format, so that
EXIF (a child's photo tells where it was taken), XMP, ICC profiles, comments, text chunks and
whatever was appended after the image data (an HTML page, a script) do not survive. The EXIF
orientation is applied to the pixels first: a photo shown upright stays upright. JPEG is
written at quality :data:`JPEG_QUALITY`, WebP at :data:`WEBP_QUALITY` (losslessly when the
original was lossless), PNG losslessly. A mode the format cannot hold is converted (CMYK to
RGB); a PNG keeps its palette and transparency. An animated PNG or WebP keeps its first frame
only: evidence is a still picture, and the first frame is what viewers show. Colours are not
converted from an embedded ICC profile, so a wide-gamut photo may look slightly less saturated.
A picture over :data:`MAX_PIXELS` is refused before it is decoded (a file of a few kilobytes
can declare a picture of gigabytes), and so is one Pillow cannot decode to its end.

PDFs are parsed with pypdf under limits of their own (decoded bytes per stream and in all,
pages, objects, time). Every object is looked at, and a PDF is refused when it holds any of
(the names answered in the problem's ``found``):

* ``javascript``: a ``/JS`` or ``/JavaScript`` entry, or a JavaScript action (``/OpenAction``
  or a link's action included);
* ``launch``: a Launch action (runs a program or opens a file);
* ``embedded_file``: embedded files (``/EmbeddedFiles``, ``/EF``, ``/Type /EmbeddedFile``, a
  FileAttachment annotation);
* ``additional_actions``: ``/AA``, actions that run on opening a page or touching a field;
* ``external_action``: GoToR, GoToE, SubmitForm and ImportData actions (open another file or
  send form data away);
* ``xfa``: an XFA form;
* ``rich_media``: RichMedia and 3D content (Flash, scriptable 3D);
* ``media``: Sound, Movie, Rendition and Screen content.

Links to web pages (URI actions), named actions and an ``/OpenAction`` that only goes to a page
(as word processors write) stay. An encrypted PDF is read with the empty password (a PDF that
only restricts printing or editing opens so); one that needs a password is refused as
unreadable, since it cannot be looked into. A PDF that passes is stored as uploaded: it has
nothing to remove, and rewriting it could change how a certificate looks.

The same bytes give the same result with the same Pillow, so the same photo uploaded twice is
stored once and answered with the first upload.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pypdf
from PIL import Image, ImageOps
from pypdf.errors import LimitReachedError
from pypdf.filters import decode_stream_data
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    EncodedStreamObject,
    IndirectObject,
    NameObject,
    PdfObject,
)

from scipass.core.errors import ProblemError
from scipass.record.errors import (
    EvidencePdfActiveContent,
    EvidenceTooComplex,
    EvidenceTypeRejected,
    EvidenceUnreadable,
)

MAX_PIXELS = 40_000_000
# Pillow's own guard, set explicitly: it warns above this and refuses twice as much when a
# file is opened; :func:`reencode` refuses anything above it before decoding.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
JPEG_QUALITY = 90
WEBP_QUALITY = 90

PDF_MAX_PAGES = 500
PDF_MAX_OBJECTS = 100_000
PDF_MAX_STREAM_BYTES = 64 * 1024 * 1024  # decoded, one stream
PDF_MAX_OBJECT_STREAM_BYTES = 32 * 1024 * 1024  # decoded, all object streams (pypdf keeps them)
PDF_MAX_DECODED_BYTES = 256 * 1024 * 1024  # decoded, all streams
PDF_MAX_SECONDS = 20.0

# Two files at most are decoded at once in a process, so that a crowd of uploads holds a few
# hundred megabytes of pixels at worst, not one picture per worker thread.
_DECODING = threading.BoundedSemaphore(2)

_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


def sniff(head: bytes) -> str | None:
    """The media type the bytes really are, among the accepted ones (never the file's name
    or the client's word)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean(data: bytes) -> tuple[str, bytes]:
    """The media type of ``data`` and the bytes to store for it: an image re-encoded, a PDF
    as it is; or a refusal (a :class:`ProblemError`)."""
    media_type = sniff(data[:16])
    if media_type is None:
        raise EvidenceTypeRejected()
    with _DECODING:
        if media_type == "application/pdf":
            check_pdf(data)
            return media_type, data
        return media_type, reencode(data, media_type)


# --- images -----------------------------------------------------------------------------------


def reencode(data: bytes, media_type: str) -> bytes:
    """``data`` decoded and encoded again in its own format, without any metadata."""
    kind = _PILLOW_FORMAT[media_type]
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as source:
            width, height = source.size
            if width * height > MAX_PIXELS:
                raise EvidenceTooComplex(limit_pixels=MAX_PIXELS)
            source.load()  # the first frame; a truncated file fails here
            picture = _upright(source)
    except ProblemError:
        raise
    except Image.DecompressionBombError:
        raise EvidenceTooComplex(limit_pixels=MAX_PIXELS) from None
    except Exception:  # Pillow fails on a damaged file in many ways, each meaning "unreadable"
        raise EvidenceUnreadable() from None
    out = io.BytesIO()
    try:
        picture, options = _for_saving(picture, kind, data)
        picture.save(out, format=kind, **options)
    except (OSError, ValueError):  # a mode or palette the encoder cannot take
        raise EvidenceUnreadable() from None
    return out.getvalue()


def _upright(source: Image.Image) -> Image.Image:
    """A copy of the picture turned as its EXIF orientation says (unchanged when the EXIF
    block is missing or too damaged to read)."""
    try:
        return ImageOps.exif_transpose(source)
    except Exception:
        return source.copy()


def _for_saving(
    picture: Image.Image, kind: str, original: bytes
) -> tuple[Image.Image, dict[str, Any]]:
    """The picture in a mode ``kind`` holds, with no metadata, and the encoder's options."""
    transparency = picture.info.get("transparency")
    options: dict[str, Any] = {}
    if kind == "JPEG":
        if picture.mode not in ("L", "RGB"):  # CMYK
            picture = picture.convert("RGB")
        options = {"quality": JPEG_QUALITY, "optimize": True}
    elif kind == "PNG":
        if picture.mode not in _PNG_MODES:
            alpha = "A" in picture.mode or transparency is not None
            picture = picture.convert("RGBA" if alpha else "RGB")
        elif transparency is not None and picture.mode in ("P", "L", "RGB"):
            options = {"transparency": transparency}
    else:  # WEBP
        if picture.mode not in ("RGB", "RGBA"):
            alpha = "A" in picture.mode or transparency is not None
            picture = picture.convert("RGBA" if alpha else "RGB")
        options = {"lossless": True} if _lossless_webp(original) else {"quality": WEBP_QUALITY}
    picture.info = {}  # Pillow's encoders would copy an ICC profile or a comment from here
    return picture, options


def _lossless_webp(data: bytes) -> bool:
    """Whether a WebP file's first image chunk is lossless (``VP8L``)."""
    offset = 12
    while offset + 8 <= len(data):
        chunk = data[offset : offset + 4]
        if chunk == b"VP8L":
            return True
        if chunk in (b"VP8 ", b"ANMF"):
            return False
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        offset += 8 + size + (size & 1)
    return False


# --- PDF --------------------------------------------------------------------------------------

# Entries whose mere presence is active content, by key.
_KEYS = {
    "/JS": "javascript",
    "/JavaScript": "javascript",
    "/AA": "additional_actions",
    "/EmbeddedFiles": "embedded_file",
    "/EF": "embedded_file",
    "/XFA": "xfa",
    "/RichMediaContent": "rich_media",
    "/RichMediaSettings": "rich_media",
}
# Action types (the ``/S`` of an action dictionary).
_ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/GoToR": "external_action",
    "/GoToE": "external_action",
    "/SubmitForm": "external_action",
    "/ImportData": "external_action",
    "/RichMediaExecute": "rich_media",
    "/Rendition": "media",
    "/Movie": "media",
    "/Sound": "media",
}
# Annotation (and other) subtypes.
_SUBTYPES = {
    "/FileAttachment": "embedded_file",
    "/RichMedia": "rich_media",
    "/3D": "rich_media",
    "/Screen": "media",
    "/Movie": "media",
    "/Sound": "media",
}


def check_pdf(data: bytes) -> None:
    """Refuse ``data`` unless it is a PDF pypdf reads within the limits and without active
    content."""
    with pypdf.apply_configuration(
        maximum_declared_stream_length=PDF_MAX_STREAM_BYTES,
        array_based_stream_maximum_output_length=PDF_MAX_STREAM_BYTES,
        zlib_maximum_output_length=PDF_MAX_STREAM_BYTES,
        zlib_maximum_recovery_input_length=1_000_000,
        lzw_maximum_output_length=PDF_MAX_STREAM_BYTES,
        run_length_maximum_output_length=PDF_MAX_STREAM_BYTES,
        jbig2_maximum_output_length=PDF_MAX_STREAM_BYTES,
        jbig2dec_binary=None,  # never run an external program on an upload
    ):
        try:
            found = _PdfInspection(data).active_content()
        except ProblemError:
            raise
        except (LimitReachedError, RecursionError):
            raise EvidenceTooComplex() from None
        except Exception:  # pypdf fails on a damaged file in many ways
            raise EvidenceUnreadable() from None
    if found:
        raise EvidencePdfActiveContent(found=sorted(found))


class _PdfInspection:
    def __init__(self, data: bytes) -> None:
        self.deadline = time.monotonic() + PDF_MAX_SECONDS
        self.decoded_budget = PDF_MAX_DECODED_BYTES
        self.reader = pypdf.PdfReader(io.BytesIO(data), strict=False)

    def active_content(self) -> set[str]:
        reader = self.reader
        if reader.is_encrypted and not reader.decrypt(""):
            raise EvidenceUnreadable("PDF 设有打开密码，无法检查其内容", "The PDF needs a password")
        references = [
            IndirectObject(number, generation, reader)
            for generation, table in reader.xref.items()
            for number in table
        ] + [IndirectObject(number, 0, reader) for number in reader.xref_objStm]
        if len(references) > PDF_MAX_OBJECTS:
            raise EvidenceTooComplex(limit_objects=PDF_MAX_OBJECTS)
        self._check_object_streams()
        if len(reader.pages) > PDF_MAX_PAGES:
            raise EvidenceTooComplex(limit_pages=PDF_MAX_PAGES)
        found: set[str] = set()
        self._look_into(reader.trailer, found)
        for reference in references:
            self._in_time()
            self._look_into(reference.get_object(), found)
        return found

    def _check_object_streams(self) -> None:
        """pypdf keeps every object stream it decodes: their total is bounded first."""
        total = 0
        for number in {stream for stream, _ in self.reader.xref_objStm.values()}:
            stream = self.reader.get_object(number)
            if isinstance(stream, EncodedStreamObject):
                total += len(decode_stream_data(stream))
                if total > PDF_MAX_OBJECT_STREAM_BYTES:
                    raise EvidenceTooComplex()

    def _in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise EvidenceTooComplex()

    def _look_into(self, root: PdfObject | None, found: set[str]) -> None:
        """Every dictionary held directly in ``root`` (indirect ones are looked at as
        objects of their own, so a cycle of references is no loop)."""
        stack: list[Any] = [root]
        while stack:
            item = stack.pop()
            if isinstance(item, DictionaryObject):
                found.update(_dictionary_findings(item))
                stack.extend(v for v in dict.values(item) if not isinstance(v, IndirectObject))
                if isinstance(item, EncodedStreamObject):
                    self._decode(item)
            elif isinstance(item, ArrayObject):
                stack.extend(v for v in list.__iter__(item) if not isinstance(v, IndirectObject))

    def _decode(self, stream: EncodedStreamObject) -> None:
        """Decode a stream to bound what it inflates to (a viewer would inflate it); a stream
        that cannot be decoded harms nobody and is let be."""
        self._in_time()
        try:
            size = len(decode_stream_data(stream))
        except LimitReachedError:
            raise
        except Exception:
            return
        self.decoded_budget -= size
        if self.decoded_budget < 0:
            raise EvidenceTooComplex()


def _dictionary_findings(item: DictionaryObject) -> set[str]:
    found = {label for key, label in _KEYS.items() if key in item}
    action = _name(item, "/S")
    if action in _ACTIONS:
        found.add(_ACTIONS[action])
    subtype = _name(item, "/Subtype")
    if subtype in _SUBTYPES:
        found.add(_SUBTYPES[subtype])
    if _name(item, "/Type") == "/EmbeddedFile":
        found.add("embedded_file")
    return found


def _name(item: DictionaryObject, key: str) -> str | None:
    value = dict.get(item, key)
    if isinstance(value, IndirectObject):
        value = value.get_object()
    return str(value) if isinstance(value, NameObject) else None
