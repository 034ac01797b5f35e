"""Sign and publish the log's current tree head."""

from django.core.management.base import BaseCommand

from audit.transparency import services


class Command(BaseCommand):
    help = "Publish a signed tree head for the log as it is now, if it grew since the last one."

    def handle(self, *args, **options):
        head = services.publish_tree_head(force=True)
        if head is None:
            self.stdout.write("The log has not grown since the last published head; nothing to do.")
        else:
            self.stdout.write(f"Published tree head: size {head.tree_size}, root {head.root_hash}")
