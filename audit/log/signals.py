"""Signals the audit app sends inside its write transactions, for aggregates kept elsewhere.

Receivers run in the same transaction as the write, so what they keep can never disagree with
the log. `audit` defines them and never imports their receivers (reports connects its own).
"""

from django.dispatch import Signal

# entries: the entries just appended (objects with QueryLogEntry's field attributes, such as
# services.RecordedEntry); flags: {sequence: [flag, ...]}
queries_recorded = Signal()
# outcomes: list[QueryOutcome] just appended (entry_id set)
outcomes_recorded = Signal()
# entries: list[QueryLogEntry]; before / after: {sequence: [flag, ...]} around a reflag
flags_replaced = Signal()
