from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tracker import services
from tracker.models import Alert, Location, Site


class SiteFactory(factory.django.DjangoModelFactory):
    """Sites are made through ``site_create`` so they get their virtual locations."""

    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    time_zone = "Europe/Berlin"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.site_create(**kwargs)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"LOC-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Location {o.code}")
    kind = "bin"
    parent = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.location_create(**kwargs)


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    site = factory.SubFactory(SiteFactory)
    kind = "test"
    subject = factory.Sequence(lambda n: f"thing:{n}")
    message = "Something needs attention"
    raised_at = factory.Faker("date_time_this_month", tzinfo=__import__("datetime").UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-for-tests-0")


def user_with_role(role: str | None, *sites: Site, username: str | None = None, **kwargs):
    """A user in role group ``role`` (None: no role) holding ``sites``."""
    user = UserFactory(**({"username": username} if username else {}), **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for site in sites:
        services.site_grant_access(site=site, user=user)
    return get_user_model().objects.get(pk=user.pk)  # fresh permission caches
