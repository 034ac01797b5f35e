"""Create a machine client (integration) and print its API key once."""

from django.core.management.base import BaseCommand, CommandError

from audit.log import services
from audit.models import Agency


class Command(BaseCommand):
    help = "Create an integration for an agency; its key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--agency", required=True, help="Agency code, e.g. BPD.")
        parser.add_argument("--name", required=True, help="What the client is (50 chars max).")

    def handle(self, *args, agency: str, name: str, **options):
        found = Agency.objects.filter(code=agency.upper()).first()
        if found is None:
            known = ", ".join(Agency.objects.values_list("code", flat=True)) or "none yet"
            raise CommandError(f"Unknown agency code '{agency}'. Known: {known}.")
        if not name.strip() or len(name) > 50:
            raise CommandError("--name must be 1 to 50 characters.")
        integration, key = services.create_integration(agency=found, name=name.strip())
        self.stdout.write(
            f"Created integration '{integration.name}' for {found.name} "
            f"(prefix {integration.prefix}). Store this key now; it is not shown again:"
        )
        self.stdout.write(key)
