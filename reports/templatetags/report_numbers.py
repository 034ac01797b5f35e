"""Template filters for numbers on report pages; they only call `reports.formatting`."""

from django import template

from reports import formatting

register = template.Library()


@register.filter
def dollars(amount, form: str = ""):
    """{{ amount|dollars }} -> $2,150,000.00; {{ amount|dollars:"short" }} -> $2.15M."""
    if amount in (None, ""):
        return "—"
    return formatting.dollars(amount, short=form == "short")


@register.filter
def cell(value):
    """{{ value|cell }}: a report table cell (money in dollars, counts with separators)."""
    return formatting.display(value)
