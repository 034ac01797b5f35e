"""Demo spending records shaped like a ~$3M Real Time Crime Center and its technology contracts.

Vendor names are invented for the demo; amounts are realistic in scale, not real invoices.
"""

from datetime import date
from decimal import Decimal

from django.db import transaction

from audit.models import Technology
from reports.models import Contract, Expenditure, Vendor

F = Contract.FundingSource
# title, vendor, technology slug (None = shared facility), value, start, end, funding, resolution,
# payment schedule: "once", "quarterly" or "monthly"
CONTRACTS = [
    (
        "Real Time Crime Center build-out and video wall",
        "Magic City Builders (demo)",
        None,
        "2150000.00",
        date(2024, 7, 1),
        date(2025, 6, 30),
        F.GENERAL_FUND,
        "2024-118",
        "quarterly",
    ),
    (
        "RTCC video integration software",
        "Fusionline Software (demo)",
        None,
        "480000.00",
        date(2024, 10, 1),
        date(2027, 9, 30),
        F.GRANT,
        "2024-201",
        "quarterly",
    ),
    (
        "License plate reader cameras and hosted search",
        "Roadside Optics (demo)",
        "license-plate-reader",
        "412500.00",
        date(2024, 11, 1),
        date(2026, 10, 31),
        F.GRANT,
        "2024-233",
        "quarterly",
    ),
    (
        "License plate reader renewal",
        "Roadside Optics (demo)",
        "license-plate-reader",
        "225000.00",
        date(2026, 11, 1),
        date(2027, 10, 31),
        F.GENERAL_FUND,
        "2026-190",
        "quarterly",
    ),
    (
        "Facial recognition software licence",
        "FaceMatch Analytics (demo)",
        "face-recognition",
        "96000.00",
        date(2025, 1, 1),
        date(2026, 12, 31),
        F.ASSET_FORFEITURE,
        "2024-260",
        "monthly",
    ),
    (
        "NIBIN imaging station maintenance",
        "Ballistic Imaging Services (demo)",
        "nibin",
        "74000.00",
        date(2024, 10, 1),
        date(2026, 9, 30),
        F.GRANT,
        "2024-199",
        "quarterly",
    ),
]


def _schedule(start: date, end: date, every: str) -> list[date]:
    months = {"monthly": 1, "quarterly": 3}.get(every)
    if months is None:
        return [start]
    dates, year, month = [], start.year, start.month
    while date(year, month, 1) <= end:
        dates.append(date(year, month, min(start.day, 28)))
        month += months
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return dates


@transaction.atomic
def seed_spending(*, today: date) -> int:
    """Vendors, contracts and the expenditures paid under them up to `today`; returns rows."""
    technologies = {t.slug: t for t in Technology.objects.all()}
    created = 0
    for title, vendor_name, slug, value, start, end, funding, resolution, every in CONTRACTS:
        vendor, _ = Vendor.objects.get_or_create(name=vendor_name)
        contract, was_created = Contract.objects.get_or_create(
            title=title,
            defaults={
                "vendor": vendor,
                "technology": technologies.get(slug) if slug else None,
                "total_value": Decimal(value),
                "start_date": start,
                "end_date": end,
                "funding_source": funding,
                "council_resolution": resolution,
            },
        )
        if not was_created:
            continue
        dates = _schedule(start, end, every)
        share = (Decimal(value) / len(dates)).quantize(Decimal("0.01"))
        for paid_on in dates:
            if paid_on > today:
                break
            Expenditure.objects.create(
                contract=contract, date=paid_on, amount=share, description=f"{every} payment"
            )
            created += 1
    return created
