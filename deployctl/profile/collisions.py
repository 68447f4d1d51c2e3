"""Checks across profiles: one default, and no two deploying to one cluster and namespace."""

from __future__ import annotations

from deployctl.errors import ConfigError
from deployctl.profile.model import Profile


def check_together(profiles: list[Profile]) -> None:
    """At most one default, and every place (a profile, or a cluster of one) its own."""
    defaults = [p for p in profiles if p.default]
    if len(defaults) > 1:
        names = ", ".join(str(p.path) for p in defaults)
        raise ConfigError(f"{names}: default: only one environment may be the default")
    if pair := shared_place(profiles):
        other, place = pair
        where = f"stages.{place.cluster}" if place.cluster else "namespace"
        raise ConfigError(
            f"{place.path}: {where}: {other.path}"
            + (f" (cluster {other.cluster})" if other.cluster else "")
            + f' deploys to the same cluster and namespace "{place.namespace}"; '
            "give each its own"
        )


def shared_place(profiles: list[Profile]) -> tuple[Profile, Profile] | None:
    """The first two places — profiles, or clusters of a profile with stages — that deploy
    to the same cluster (server, else context) and namespace."""
    seen: dict[tuple[str, str], Profile] = {}
    for place in (place for profile in profiles for place in profile.places()):
        key = (place.server or place.context, place.namespace)
        if key in seen:
            return seen[key], place
        seen[key] = place
    return None
