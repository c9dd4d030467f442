"""The quorum across sites wired into the daemon: its set-up, a site's step, its vote.

The tally is the core's (`state.quorum`); this module picks the step a probe's result takes
(a site that does not write the provider only votes) and writes the vote through the replica's
coordinator, which carries votes between sites as data in the shared store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmesh_healthd.config import Config
from modelmesh_healthd.state import HealthCore, ProbeReport, Quorum, Step, observe, observe_vote
from modelmesh_healthd.storage import StoreError

if TYPE_CHECKING:
    from modelmesh_healthd.daemon.coordination import Coordinator

__all__ = ["cast_vote", "follow_quorum", "observe_as_site", "quorum_of", "require_shared_store"]


def quorum_of(config: Config) -> Quorum | None:
    """This site's part in the quorum (None: no `daemon.vantage`, no quorum across sites)."""
    if config.daemon.vantage is None:
        return None
    return Quorum(config.daemon.vantage, config.health.quorum or 1)


def follow_quorum(core: HealthCore, config: Config) -> None:
    """A reload's new K (the vantage needs a restart: `reload.restart_required`)."""
    if core.quorum is not None:
        core.quorum.quorum = config.health.quorum or 1


def require_shared_store(core: HealthCore) -> None:
    """A quorum of more than one site needs replicas' shared store to vote in.

    Raises:
        StoreError: The quorum asks for more than one site.
    """
    if core.quorum is not None and core.quorum.quorum > 1:
        raise StoreError(
            f"health.quorum {core.quorum.quorum} needs sites that share a store: "
            "a Redis or PostgreSQL store URL with ?replicas=on"
        )


def observe_as_site(
    core: HealthCore, coordinator: Coordinator | None, name: str, result: ProbeReport, now: float
) -> Step:
    """The core's step: a site's prober that does not write the provider only votes."""
    if (
        core.quorum is not None
        and coordinator is not None
        and not coordinator.writes_provider(name)
    ):
        return observe_vote(core, name, result, now)
    return observe(core, name, result, now)


async def cast_vote(
    coordinator: Coordinator | None, name: str, step: Step, *, lasts: float, probe_timeout: float
) -> None:
    """Write this site's vote from `step`, if it has one, to count until the next is written.

    Args:
        lasts: Seconds until this site's next probe of `name` is due.
        probe_timeout: That probe's timeout.
    """
    votes = None if coordinator is None else coordinator.votes
    if step.vote is None or coordinator is None or votes is None:
        return
    # The vote counts until this site's next one is surely written: the next probe, its
    # timeout, and a lease TTL for a takeover of this site's probing.
    fresh_for = max(0.0, lasts) + probe_timeout + coordinator.ttl
    await votes.cast(name, step.vote, fresh_for)
