"""Run the webhook sweeper once (what beat does every 15 s): for the embedded
setup without beat, or by hand after an outage."""

from django.core.management.base import BaseCommand

from tracker.webhooks.services import webhooks_sweep


class Command(BaseCommand):
    help = "Disable endpoints failing for a day, then send every due webhook delivery."

    def handle(self, *args, **options):
        tried = webhooks_sweep()
        self.stdout.write(f"{tried} deliveries attempted")
