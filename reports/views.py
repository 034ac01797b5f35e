"""Public pages. Thin: each reads through selectors and renders."""

from django.views.generic import TemplateView

from audit import selectors as log_selectors
from audit.models import Technology


class HomeView(TemplateView):
    """Public: what each technology is and the latest signed state of the log."""

    template_name = "reports/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["technologies"] = Technology.objects.all()
        context["head"] = log_selectors.latest_tree_head()
        return context
