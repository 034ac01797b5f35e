"""How report pages write numbers for people: money as US dollars with cents and thousands
separators, counts with thousands separators. CSV downloads keep plain numbers.

In report tables a `Decimal` is always money (DESIGN: money is Decimal, never float) and an
`int` a count, so a cell's type says how it is written.
"""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# Short forms for tight spaces (headline figures, chart axes): $2.15M, $412.5K, $1.2B.
_SHORT_UNITS = ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K"))


def dollars(amount: Decimal | int, *, short: bool = False) -> str:
    """`amount` as US dollars: "$2,150,000.00", or with `short` "$2.15M" (amounts under a
    thousand dollars keep their cents: "$250.15")."""
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if short:
        for size, suffix in _SHORT_UNITS:
            scaled = (amount / size).quantize(CENT, rounding=ROUND_HALF_UP)
            if scaled >= 1:
                text = f"{scaled:,.2f}".rstrip("0").rstrip(".")
                return f"{sign}${text}{suffix}"
    return f"{sign}${amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def plain_amount(amount: Decimal) -> str:
    """Money as a CSV writes it: a plain decimal with cents, no symbol or separators."""
    return f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def count(n: int) -> str:
    """A count with thousands separators: "12,345"."""
    return f"{n:,}"


def display(value) -> str:
    """A report table cell as a page shows it: money in dollars, counts with separators, an
    em dash for no value, anything else (percentages, words) as it is."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return dollars(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return count(value)
    return str(value)
