"""The dependency graph of one deploy, as a small state machine. Pure: no I/O, no threads.

Every component whose dependencies are healthy may start at once; nothing
is held while a component waits. A failure stops the starting of anything
new (fail fast); components that depend on a failed one are reported as not
started, naming the dependency.
"""

from __future__ import annotations

from collections.abc import Mapping

from deployctl.model import ComponentState


class Scheduler:
    def __init__(self, depends_on: Mapping[str, tuple[str, ...]]) -> None:
        self.depends_on = dict(depends_on)
        self.state = {name: ComponentState.PENDING for name in depends_on}
        self.stopping = False

    def startable(self) -> list[str]:
        """Pending components whose every dependency is healthy, unless the deploy stops."""
        if self.stopping:
            return []
        return sorted(
            name
            for name, state in self.state.items()
            if state is ComponentState.PENDING
            and all(self.state[d] is ComponentState.HEALTHY for d in self.depends_on[name])
        )

    def move(self, name: str, state: ComponentState) -> None:
        self.state[name] = state
        if state is ComponentState.FAILED:
            self.stopping = True

    def stop(self) -> None:
        """Start nothing new (a failure elsewhere, an interrupt)."""
        self.stopping = True

    def blocked(self) -> dict[str, str]:
        """Pending components that can no longer start, with the reason; marks them."""
        reasons: dict[str, str] = {}
        changed = True
        while changed:  # a not-started component blocks its own dependents in turn
            changed = False
            for name, state in self.state.items():
                if state is not ComponentState.PENDING:
                    continue
                dead = [d for d in self.depends_on[name] if self.state[d] in _DEAD]
                if dead:
                    reasons[name] = f"not started: {dead[0]} did not become healthy"
                elif self.stopping:
                    reasons[name] = "not started: the deploy stopped"
                else:
                    continue
                self.state[name] = ComponentState.NOT_STARTED
                changed = True
        return reasons

    def in_progress(self) -> list[str]:
        return [
            n
            for n, s in self.state.items()
            if s in (ComponentState.APPLYING, ComponentState.WAITING)
        ]

    @property
    def done(self) -> bool:
        return all(state.finished for state in self.state.values())


_DEAD = (ComponentState.FAILED, ComponentState.NOT_STARTED, ComponentState.STOPPED)
