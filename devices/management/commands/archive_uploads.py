"""``manage.py archive_uploads``: archive (or delete) raw reader uploads older
than ``UPLOAD_RETENTION_DAYS``; run nightly by beat (devices.archive_uploads).
The ledger, tag states and the audit trail are never touched."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from devices.retention import archive_dir, retention_days, uploads_archive


class Command(BaseCommand):
    help = "Archive raw reader uploads older than UPLOAD_RETENTION_DAYS to gzip JSONL per day (or --delete them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Keep this many days (default UPLOAD_RETENTION_DAYS, now {retention_days()}).",
        )
        parser.add_argument("--delete", action="store_true", help="Delete without writing archive files.")
        parser.add_argument("--folder", default=None, help=f"Archive folder (default {archive_dir()}).")

    def handle(self, *args, days, delete, folder, **options):
        from pathlib import Path

        summary = uploads_archive(days=days, delete_only=delete, folder=Path(folder) if folder else None)
        verb = "deleted" if delete else "archived"
        self.stdout.write(
            f"{verb} {summary['deleted']} uploads received before {summary['before']} "
            f"({len(summary['days'])} days: {', '.join(summary['days']) or '-'})"
        )
