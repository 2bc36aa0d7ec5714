"""``manage.py restore_uploads --day YYYY-MM-DD``: put an archived day's raw
uploads back (same ids, status and result; they are not processed again)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devices.retention import archive_dir, uploads_restore


class Command(BaseCommand):
    help = "Restore one archived day of raw reader uploads."

    def add_arguments(self, parser):
        parser.add_argument("--day", required=True, help="UTC day, YYYY-MM-DD.")
        parser.add_argument("--folder", default=None, help=f"Archive folder (default {archive_dir()}).")

    def handle(self, *args, day, folder, **options):
        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            raise CommandError(f"--day must be YYYY-MM-DD, not {day!r}.") from None
        try:
            counts = uploads_restore(day=when, folder=Path(folder) if folder else None)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"restored {counts['restored']} uploads of {when.isoformat()} "
            f"({counts['present']} already present, {counts['skipped']} skipped: device gone)"
        )
