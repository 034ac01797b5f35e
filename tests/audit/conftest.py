"""Fixtures shared by the audit tests."""

import pytest

from audit.log import services
from audit.log.parsing import QueryInput


@pytest.fixture
def record(integration, operators):
    """Record queries through the service; returns their sequences. Each test module supplies
    its own `operators` fixture (the operators its queries name)."""

    def _record(*queries: QueryInput) -> list[int]:
        results = services.record_queries(integration=integration, queries=list(queries))
        return [r.sequence for r in results]

    return _record
