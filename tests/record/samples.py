"""Files to upload as evidence, made here: photos with EXIF and GPS, polyglots, PDFs with
active content, decompression bombs."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
GPS_LATITUDE = (27.0, 56.0, 12.5)  # where the pupil lives, roughly


def picture(kind: str, size: tuple[int, int] = (60, 40), **save: object) -> bytes:
    """A ``kind`` file (JPEG, PNG, WEBP) of ``size``: red in its top-left quarter, green
    elsewhere, so that a turn shows."""
    image = Image.new("RGB", size, (0, 160, 0))
    image.paste((220, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **save)  # type: ignore[arg-type]
    return buffer.getvalue()


def exif_photo(orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: camera, time, GPS position and an orientation (6: the
    pixels are stored turned, and must be turned 90° clockwise to be shown upright)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SciPhone"
    exif[ExifTags.Base.Model] = "Kids 12"
    exif[ExifTags.Base.DateTime] = "2026:10:10 09:30:00"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: GPS_LATITUDE,
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (112.0, 54.0, 3.0),
        }
    )
    return picture("JPEG", exif=exif, comment=b"taken at home")


def polyglot_png() -> bytes:
    """A valid PNG with an HTML page after its end."""
    return picture("PNG") + HTML


def _pdf(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def plain_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    # opening on the first page, as word processors write, is no active content
    writer.root_object[NameObject("/OpenAction")] = ArrayObject(
        [writer.pages[0].indirect_reference, NameObject("/Fit")]
    )
    return _pdf(writer)


def _with_open_action(action: dict[str, object]) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject(key): value for key, value in action.items()}
    )
    return _pdf(writer)


def javascript_pdf() -> bytes:
    """A PDF whose /OpenAction runs JavaScript."""
    return _with_open_action(
        {"/S": NameObject("/JavaScript"), "/JS": TextStringObject("app.alert('hi')")}
    )


def launch_pdf() -> bytes:
    return _with_open_action(
        {"/S": NameObject("/Launch"), "/F": TextStringObject("C:\\Windows\\System32\\calc.exe")}
    )


def document_javascript_pdf() -> bytes:
    """JavaScript in the document's name tree, run when it opens."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_open_action(JavaScript("this.print()"))
    return _pdf(writer)


def attachment_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("作业.exe", b"MZ\x90\x00 not really a program")
    return _pdf(writer)


def password_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="secret", owner_password="owner")
    return _pdf(writer)


def hand_made_pdf(content: bytes, *, filters: str = "/FlateDecode") -> bytes:
    """A one-page PDF written by hand, its page's content stream ``content`` as is."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter %s >>\nstream\n" % (len(content), filters.encode())
        + content
        + b"\nendstream",
    ]
    body = b"%PDF-1.7\n"
    offsets = []
    for number, value in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + value + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


def pdf_bomb(megabytes: int = 80) -> bytes:
    """A PDF of about 80 KB whose page content inflates to ``megabytes`` MB of zeros."""
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    deflated = b"".join(compressor.compress(chunk) for _ in range(megabytes))
    return hand_made_pdf(deflated + compressor.flush())


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels, with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(1024)))
        + chunk(b"IEND", b"")
    )
