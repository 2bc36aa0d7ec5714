"""Drop the ledger's and the levels' single-column FK indexes that duplicate an index of
``Meta.indexes`` starting with the same column (the lot and serial ones exactly).

Every posting writes an entry into each index of ``inventory_stockmove`` (16, now 11), and
each index of ``inventory_stocklevel`` is one more path the planner weighs in every query
over levels. Only the indexes go: ``AlterField`` alone would also drop and re-add each
foreign key, which on PostgreSQL re-validates the whole ledger under a lock that stops
postings. The names are Django's for these columns on every backend (partitioning keeps
them, ``tracker.partitioning.convert``)."""

import django.db.models.deletion
from django.db import migrations, models

DUPLICATES = {
    "inventory_stocklevel": [
        "inventory_stocklevel_location_id_14713b21",  # (location, item)
        "inventory_stocklevel_lot_id_06c3248e",  # (lot)
        "inventory_stocklevel_site_id_70217266",  # (site, item)
    ],
    "inventory_stockmove": [
        "inventory_stockmove_destination_id_73c56e83",  # (destination, item, occurred_at)
        "inventory_stockmove_item_id_f8b49cd7",  # (item, occurred_at)
        "inventory_stockmove_lot_id_1dbd38c1",  # (lot)
        "inventory_stockmove_serial_id_b7f18a98",  # (serial)
        "inventory_stockmove_source_id_f39e6afa",  # (source, item, occurred_at)
    ],
}


def _drop(table: str, name: str) -> migrations.RunSQL:
    # The reverse makes the index again under its name, as the ForeignKey's db_index did.
    column = name.removeprefix(f"{table}_").rsplit("_", 1)[0]
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"',
        reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")',
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0008_transfer_serial_found"),
        ("tracker", "0005_merge_20261202_0716"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[_drop(table, name) for table, names in DUPLICATES.items() for name in names],
            state_operations=[
                migrations.AlterField(
                    model_name="stocklevel",
                    name="location",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tracker.location",
                    ),
                ),
                migrations.AlterField(
                    model_name="stocklevel",
                    name="lot",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="levels",
                        to="inventory.lot",
                    ),
                ),
                migrations.AlterField(
                    model_name="stocklevel",
                    name="site",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tracker.site"
                    ),
                ),
                migrations.AlterField(
                    model_name="stockmove",
                    name="destination",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tracker.location",
                    ),
                ),
                migrations.AlterField(
                    model_name="stockmove",
                    name="item",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="moves",
                        to="inventory.item",
                    ),
                ),
                migrations.AlterField(
                    model_name="stockmove",
                    name="lot",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="moves",
                        to="inventory.lot",
                    ),
                ),
                migrations.AlterField(
                    model_name="stockmove",
                    name="serial",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="moves",
                        to="inventory.serialunit",
                    ),
                ),
                migrations.AlterField(
                    model_name="stockmove",
                    name="source",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tracker.location",
                    ),
                ),
            ],
        ),
    ]
