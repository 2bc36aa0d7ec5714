"""Label rendering: pure functions from GS1 element strings to symbols, PDF sheets and ZPL.

Nothing here touches the database: pages build ``Label`` objects from their
rows (see ``inventory/labels/views.py`` and ``wip/labels/views.py``) and hand
them to ``labels_pdf`` / ``labels_zpl`` / ``label_svg``.

- ``gs1``: element strings validated and formatted by biip (HRI, FNC1-separated
  data, GS1 Digital Link URI).
- ``symbols``: GS1-128 / GS1 DataMatrix / Code 128 encoded by zxing-cpp (zint
  inside), QR by segno; as module matrices and inline SVG.
- ``pdf``: an A4 sheet of labels (reportlab), barcodes drawn as vector rects.
- ``zpl``: Zebra ZPL II with ``^BC`` (FNC1 as ``>8``) / ``^BX`` (FNC1 escape) / ``^BQ``.
"""

from tracker.labels.gs1 import Gs1Data, Gs1Error
from tracker.labels.label import Label, Symbology
from tracker.labels.pdf import labels_pdf
from tracker.labels.symbols import label_svg
from tracker.labels.zpl import labels_zpl

__all__ = ["Gs1Data", "Gs1Error", "Label", "Symbology", "label_svg", "labels_pdf", "labels_zpl"]
