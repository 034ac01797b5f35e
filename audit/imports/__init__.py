"""Vendor audit exports (Flock, any CSV or XLSX described by a mapping): read, keep, reconcile.

This package holds the readers of vendor export files (`formats`, `readers`, `times`,
`normalize`, `mapping`), the append-only record of each import and its rows (`models`), the
import and reconciliation services (`services`), the reads that pages, commands and `reports`
use (`selectors`), and the upload pages (`views`, `forms`, `urls`).

What it may import: the standard library, Django, openpyxl, and from `audit` only the log's
public surface (`audit.log`: `record_queries`, `QueryInput`, `fingerprint_target`, the entry
model), the flags package's public names and the shared reference models (technologies,
agencies, operators). Nothing in `audit` outside this package imports it except the model
index (`audit/models.py`), the admin index and the workspace's url list; `reports` reads its
selectors, never the reverse.
"""
