"""The deploy lock against a scripted Lease store: live, expired, skewed, and lost answers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from deployctl.kube import KubeError
from deployctl.lock import DeployLock, Locked, lease_expired

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Leases:
    """One Lease, with resourceVersion preconditions, and the server's clock."""

    context = "sandbox"

    def __init__(self, lease: dict | None = None, server_now: datetime | None = NOW) -> None:
        self.lease = lease
        self.version = 1
        self.now = server_now
        self.lose_next_answer = False  # the write lands, its answer is lost: the retry conflicts

    def server_time(self):
        return self.now

    def server_now(self):
        return self.now or NOW

    def get(self, api_version, kind, name, namespace=None):
        return copy.deepcopy(self.lease)

    def _write(self, body: dict) -> dict:
        self.version += 1
        self.lease = {**copy.deepcopy(body)}
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise KubeError("Operation cannot be fulfilled: conflict", 409)
        return copy.deepcopy(self.lease)

    def create(self, body):
        if self.lease is not None:
            raise KubeError("already exists", 409)
        return self._write(body)

    def replace(self, body):
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise KubeError("the object has been modified", 409)
        return self._write(body)

    def delete(self, *args, preconditions=None, **kwargs):
        if (
            preconditions
            and preconditions["resourceVersion"] != self.lease["metadata"]["resourceVersion"]
        ):
            raise KubeError("precondition failed", 409)
        self.lease = None
        return True


def held_by(holder: str, renewed: datetime, version: str = "7") -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "deployctl-dev", "namespace": "dev", "resourceVersion": version},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": stamp(renewed),
            "renewTime": stamp(renewed),
        },
    }


def lock(store: Leases, said: list[str] | None = None, duration: int = 15) -> DeployLock:
    return DeployLock(
        store,  # type: ignore[arg-type]
        "dev",
        "dev",
        "deploy to",
        (said if said is not None else []).append,
        duration=duration,
        renew_every=60,  # no renewals during a test
    )


def test_a_live_lease_is_exit_3_at_once_naming_its_holder() -> None:
    store = Leases(held_by("ci@runner pid 7 (deploy to)", NOW - timedelta(seconds=3)))

    with pytest.raises(Locked, match=r"locked by ci@runner pid 7 \(deploy to\) since"):
        lock(store).acquire()


def test_a_lease_expired_by_the_servers_clock_is_taken_over_saying_so() -> None:
    said: list[str] = []
    store = Leases(held_by("crashed@laptop pid 3 (deploy to)", NOW - timedelta(seconds=40)))
    store.lease["spec"]["leaseDurationSeconds"] = 1
    mine = lock(store, said)

    mine.acquire()  # expired, and it does not move while watched for its duration: dead
    mine.release()

    assert store.lease is None  # released again
    assert said and "took over the lock from crashed@laptop" in said[0]


def test_a_create_whose_answer_was_lost_is_still_ours() -> None:
    said: list[str] = []
    store = Leases()
    store.lose_next_answer = True
    mine = lock(store, said)

    mine.acquire()

    assert store.lease["spec"]["holderIdentity"] == mine.holder
    assert mine.lease is not None and not said  # no "took over" from ourselves
    mine.release()
    assert store.lease is None


def test_a_renewal_conflict_is_settled_by_reading_the_lease_again() -> None:
    store = Leases()
    mine = lock(store)
    mine.acquire()
    store.lose_next_answer = True

    renewed = mine._renew()

    assert renewed["spec"]["holderIdentity"] == mine.holder  # still ours: not lost
    store.lease["spec"]["holderIdentity"] = "someone else"
    store.version += 1
    store.lease["metadata"]["resourceVersion"] = str(store.version)
    with pytest.raises(KubeError) as lost:
        mine._renew()
    assert lost.value.status == 404 and "someone else" in str(lost.value)


def test_a_holder_clock_ahead_of_the_server_falls_back_to_watching_on_ours() -> None:
    ahead = held_by("skewed@host pid 9 (deploy to)", NOW + timedelta(minutes=5))
    said: list[str] = []

    with pytest.raises(Locked):  # cannot tell: not taken at once
        lock(Leases(copy.deepcopy(ahead))).acquire()
    store = Leases(ahead)
    mine = lock(store, said, duration=1)
    store.lease["spec"]["leaseDurationSeconds"] = 1
    mine.acquire(wait=5)  # it never moves for its whole duration on this clock: dead

    assert store.lease["spec"]["holderIdentity"] == mine.holder
    assert "took over" in said[0]


def test_expiry_by_the_servers_clock() -> None:
    spec = {"renewTime": stamp(NOW - timedelta(seconds=10))}

    assert lease_expired(spec, 15, NOW) is False
    assert lease_expired(spec, 5, NOW) is True
    assert lease_expired(spec, 15, None) is None
    assert lease_expired({"renewTime": stamp(NOW + timedelta(seconds=30))}, 15, NOW) is None


def test_expiry_falls_back_to_the_acquire_time_and_bears_a_little_skew() -> None:
    acquired = {"acquireTime": stamp(NOW - timedelta(seconds=20))}
    slightly_ahead = {"renewTime": stamp(NOW + timedelta(seconds=1))}
    far_ahead = {"renewTime": stamp(NOW + timedelta(seconds=3))}

    assert lease_expired(acquired, 15, NOW) is True
    assert lease_expired(slightly_ahead, 15, NOW) is False  # within SKEW: still judged
    assert lease_expired(far_ahead, 15, NOW) is None
    assert lease_expired({}, 15, NOW) is None


def test_a_release_that_fails_says_so_in_one_line_and_how_to_remove_the_lease() -> None:
    said: list[str] = []
    store = Leases()
    mine = lock(store, said)
    mine.acquire()

    def refused(*args, **kwargs):
        raise KubeError("Lease deployctl-dev: connection refused", None)

    store.delete = refused
    mine.release()  # never raises: the deploy's own outcome stands

    assert store.lease is not None and len(said) == 1
    line = said[0]
    assert "could not release the deploy lock (Lease dev/deployctl-dev)" in line
    assert "connection refused" in line and "until it expires" in line
    assert "kubectl --context sandbox -n dev delete lease deployctl-dev" in line
    assert "\n" not in line


def test_a_release_that_keeps_conflicting_says_so_and_one_no_longer_ours_does_not() -> None:
    said: list[str] = []
    store = Leases()
    mine = lock(store, said)
    mine.acquire()
    store.lease["metadata"]["resourceVersion"] = "moved"  # still ours, but it keeps moving

    def conflicting(*args, preconditions=None, **kwargs):
        raise KubeError("precondition failed", 409)

    store.delete = conflicting
    mine.release()
    assert len(said) == 1 and "3 conflicts" in said[0]

    said.clear()
    store = Leases()
    mine = lock(store, said)
    mine.acquire()
    store.lease["spec"]["holderIdentity"] = "someone else"
    store.lease["metadata"]["resourceVersion"] = "moved"
    mine.release()
    assert said == [] and store.lease["spec"]["holderIdentity"] == "someone else"
