"""PDF pages as PNG images (pypdfium2), for the readers that take questions about PDF pages.

Llama 3.2 reads documents as page images. A page is rendered so that its longer side is
``MAX_SIDE_PX`` (1120 px, the largest canvas side the model uses), so nothing is rendered that the
model would discard and small text keeps as much detail as the model can see. Nearby questions usually
ask about the same page, so a few open documents and rendered pages are kept.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from services.datasets.readers._common import RecordError

MAX_SIDE_PX = 1120
_OPEN_DOCUMENTS = 4
_CACHED_PAGES = 8
_PAGE_SUFFIX = re.compile(r"^(?P<path>.+\.pdf)#page=(?P<page>\d+)$", re.IGNORECASE)


def split_page_reference(value: str) -> tuple[str, int | None]:
    """``doc.pdf#page=3`` -> ("doc.pdf", 3); anything else -> (value, None)."""
    match = _PAGE_SUFFIX.match(value.strip())
    if match is None:
        return value, None
    return match["path"], int(match["page"])


def is_pdf(path: str) -> bool:
    return path.lower().endswith(".pdf")


class PdfPages:
    """Renders pages of PDF files to PNG bytes, keeping a few documents and pages at hand.

    Not thread-safe (pdfium is not); one instance per reader. ``close()`` releases the documents.
    """

    def __init__(self) -> None:
        self._documents: OrderedDict[str, Any] = OrderedDict()
        self._pages: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def page_count(self, path: str) -> int:
        return len(self._document(path))

    def render_png(self, path: str, page_number: int) -> bytes:
        """Page ``page_number`` (1-based) of ``path`` as PNG bytes; RecordError when it cannot be."""
        key = (path, page_number)
        if key in self._pages:
            self._pages.move_to_end(key)
            return self._pages[key]
        document = self._document(path)
        if not 1 <= page_number <= len(document):
            raise RecordError(
                f"page {page_number} does not exist: {Path(path).name} has {len(document)} page(s) "
                "(pages count from 1); fix the page number"
            )
        png = _render(document, page_number, Path(path).name)
        self._pages[key] = png
        if len(self._pages) > _CACHED_PAGES:
            self._pages.popitem(last=False)
        return png

    def _document(self, path: str) -> Any:
        if path in self._documents:
            self._documents.move_to_end(path)
            return self._documents[path]
        import pypdfium2 as pdfium  # here: only PDF sources need it

        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            raise RecordError(
                f"{Path(path).name} cannot be opened as a PDF ({exc}); check the file, or export the "
                "pages as PNG images instead"
            ) from exc
        self._documents[path] = document
        if len(self._documents) > _OPEN_DOCUMENTS:
            _, oldest = self._documents.popitem(last=False)
            oldest.close()
        return document

    def close(self) -> None:
        for document in self._documents.values():
            document.close()
        self._documents.clear()
        self._pages.clear()


def _render(document: Any, page_number: int, name: str) -> bytes:
    import pypdfium2 as pdfium

    page = document[page_number - 1]
    try:
        width, height = page.get_size()
        if min(width, height) <= 0:
            raise RecordError(f"page {page_number} of {name} has no area; remove it from the questions")
        bitmap = page.render(scale=MAX_SIDE_PX / max(width, height))
        image = bitmap.to_pil().convert("RGB")
    except pdfium.PdfiumError as exc:
        raise RecordError(f"page {page_number} of {name} cannot be rendered ({exc}); check the PDF") from exc
    finally:
        page.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
