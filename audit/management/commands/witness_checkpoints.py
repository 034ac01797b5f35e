"""Submit the latest checkpoint to the witnesses that have not cosigned it (retries failures)."""

from django.core.management.base import BaseCommand, CommandError

from audit.transparency import witnesses


class Command(BaseCommand):
    help = (
        "Submit the latest checkpoint to every active witness that has not cosigned it yet. "
        "Run it from cron: it exits non-zero when a witness could not be reached or refused."
    )

    def handle(self, *args, **options):
        outcomes = witnesses.submit_latest_checkpoint()
        for outcome in outcomes:
            if outcome.ok:
                self.stdout.write(
                    f"{outcome.witness.name}: cosigned the checkpoint of size {outcome.tree_size}."
                )
        failed = [outcome.problem for outcome in outcomes if not outcome.ok]
        if not outcomes:
            self.stdout.write("Every active witness has cosigned the latest checkpoint.")
        if failed:
            raise CommandError("\n".join(failed))
