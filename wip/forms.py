"""Forms of the WIP pages (planning a work order)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from tracker.models import Location, Site
from wip.models import Routing


class RoutingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.item.sku} · {obj.item.name} ({obj.code})"


class WorkOrderForm(forms.Form):
    """A new work order: what to make (a routing of the site, which names the item), how many, by when."""

    routing = RoutingChoiceField(queryset=Routing.objects.none(), label="Product and routing")
    quantity = forms.DecimalField(min_value=0, max_digits=18, decimal_places=6)
    due_at = forms.DateTimeField(
        label="Due (site time)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    priority = forms.IntegerField(min_value=1, max_value=9, initial=5, help_text="1 most urgent, 9 least")
    number = forms.CharField(max_length=64, required=False, help_text="Empty: the next number of the day")
    issue_location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, label="Issue from")
    output_location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, label="Finished goods to"
    )
    release = forms.BooleanField(required=False, initial=True, label="Release it now")

    def __init__(self, *args: Any, routings: QuerySet[Routing], locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        routing_field = self.fields["routing"]
        assert isinstance(routing_field, forms.ModelChoiceField)  # noqa: S101 - declared above
        routing_field.queryset = routings
        for name in ("issue_location", "output_location"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
            field.queryset = locations


def planning_locations(*, user: Any, site: Site) -> QuerySet[Location]:
    """Real stock locations of the site a planner may name on an order."""
    return (
        Location.objects.restrict(user, "view")
        .filter(site=site, kind__in=("area", "zone", "bin", "dock"))
        .order_by("code")
    )
