"""Vendor audit exports (Flock, any CSV or XLSX described by a mapping): read, keep, reconcile.

What it holds: the readers of export files (`readers`, `formats`, `mapping`, `times`,
`normalize`), the first pass that checks a file and writes nothing (`reading`), the second
pass's reading ahead of the writer (`preparing`), both run in a second process where one can be
forked (`forking`), the append-only record of each import and its rows (`models`), the
import's writes (`services`), reconciling an import again (`reconciliation`), the pairing of
vendor rows with log entries (`matching`), the not-logged-by-rtcc flag source (`flagging`), the
reads that pages, commands and `reports` use (`selectors`, `exports`), the upload pages
(`views`, `forms`, `urls`, `staging`, `admin`), and the demo export `seed_demo` imports (`demo`).

What it may import: the standard library, Django, openpyxl and tqdm; from `audit`, only the
log's public surface (`audit.log.services.record_queries`, `audit.log.parsing.QueryInput` and
`fingerprint_target`, its bulk writes and collector pause in `audit.log.bulk`, the models
through `audit.models`), the flags package's registry (`audit.flags.rules.register_flag_source`)
and re-flagging (`audit.flags.services.reflag_entries`), the workspace's access record and
spreadsheet-safe cells. The log's rooms (log, transparency, flags) never import it; `reports`
reads its selectors (`vendor_export_usage`), never the reverse.
"""
