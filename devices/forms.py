from __future__ import annotations

from typing import Any

from django import forms

from devices.models import TargetKind


class AssignTagForm(forms.Form):
    """Assign a tag to a container or asset by its code, or to a serial unit, lot or
    work order by its natural key (serial number, lot code, work order number)."""

    target_kind = forms.ChoiceField(choices=TargetKind.choices)
    reference = forms.CharField(max_length=100, help_text="Code, serial, lot or work order number")

    def __init__(self, *args: Any, site: Any = None, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.user = user
        self._target: dict[str, Any] = {}

    def clean(self) -> dict[str, Any]:
        super().clean()  # returns cleaned_data, which the stubs type Optional
        data = self.cleaned_data
        kind, ref = data.get("target_kind"), (data.get("reference") or "").strip()
        if not kind or not ref:
            return data
        if kind in (TargetKind.CONTAINER, TargetKind.ASSET):
            self._target = {"target_kind": kind, "code": ref}
            return data
        from devices.targets import find_target

        obj = find_target(kind=kind, reference=ref, site=self.site, user=self.user)
        if obj is None:
            raise forms.ValidationError(f"No {TargetKind(kind).label.lower()} {ref!r} in this site.")
        self._target = {"target_kind": kind, {"serial": "serial", "lot": "lot", "work_order": "work_order"}[kind]: obj}
        return data

    def target(self) -> dict[str, Any]:
        return self._target
