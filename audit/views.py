"""Pages of the audit app. Thin: each reads through selectors and renders."""

from django.views.generic import TemplateView

from audit import selectors, signing
from audit.models import LogState


class LogView(TemplateView):
    """Public: the latest signed tree head, the public key and how to verify the log."""

    template_name = "audit/log.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["head"] = selectors.latest_tree_head()
        context["public_key"] = signing.public_key_document()
        context["log_size"] = LogState.objects.values_list("size", flat=True).first() or 0
        return context
