"""Workstations get a creation time, so metrics windows are clipped to when a station existed.

Existing stations get their site's creation time: nothing says when they were added, and the site's
start is what metrics clipped them to until now (so their figures do not change); "now" would
instead erase their history from every report. New stations default to the time they are created.
"""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def from_site(apps, schema_editor):
    Workstation = apps.get_model("wip", "Workstation")
    Site = apps.get_model("tracker", "Site")
    Workstation.objects.update(created_at=Subquery(Site.objects.filter(pk=OuterRef("site_id")).values("created_at")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0003_apikey_sites_apikey_use_count"),
        ("wip", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="workstation",
            name="created_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(from_site, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="workstation",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
    ]
