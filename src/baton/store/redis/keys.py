"""The Redis store's key layout, and how rows and events are written into it.

Keys, all under a prefix (`baton:` unless the URL says `?prefix=`); the Lua scripts
(`lua/*.lua`) build the same names from the prefix they are given:

    log:{log}        list   the log's events as `position TAB json`; its length is the version
                            (an archived event: an empty entry, `forget`)
    feed             list   `log TAB seq` of every event in global order (position = index + 1)
    position         string the last global position handed out (exists once anything ran)
    items            hash   item id -> summary JSON (without the lease)
    where            hash   item id -> `status TAB queue TAB runnable TAB claim score`
    created          zset   item ids by creation time (the default order of queries)
    status:{status}  set    item ids in that status; `statuses` names the statuses seen
    queues           set    every queue that has had an item
    ready:{queue}    zset   runnable items nobody holds, by claim score (ItemSummary.claim_score:
                            started items first, then by last update)
    leases           hash   item id -> `owner TAB until`;  expiry  zset  item id by until
    fences           hash   item id -> the fence of its latest claim (never lowered)
    blob:{digest}    string what one event may not hold (core/bounds.py), by its sha256
    tally:{scope}    hash   the read model's counters of one scope (core/tally.py): name -> n
    tally-scopes     set    every scope with counters (`all|`, `hour=491234|`, ...)

Channels `feed` (a new last position) and `work` (an item became claimable) only wake
watchers; what happened is always read from the keys, so a missed message loses nothing.
Scripts refer to keys they build, so the store needs one Redis primary (not Cluster).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ...core.events import Event
from ...core.index import ItemSummary

_new = tuple.__new__  # an Event with its position, without the NamedTuple's __new__


@dataclass(frozen=True, slots=True)
class Keys:
    """The names of one store's keys and channels."""

    prefix: str

    def log(self, log: str) -> str:
        return f"{self.prefix}log:{log}"

    def status(self, status: str) -> str:
        return f"{self.prefix}status:{status}"

    def tally(self, scope: str) -> str:
        return f"{self.prefix}tally:{scope}"

    @property
    def tally_scopes(self) -> str:
        return f"{self.prefix}tally-scopes"

    @property
    def position(self) -> str:
        return f"{self.prefix}position"

    @property
    def items(self) -> str:
        return f"{self.prefix}items"

    @property
    def leases(self) -> str:
        return f"{self.prefix}leases"

    @property
    def created(self) -> str:
        return f"{self.prefix}created"

    @property
    def statuses(self) -> str:
        return f"{self.prefix}statuses"

    @property
    def queues(self) -> str:
        return f"{self.prefix}queues"

    def blob(self, digest: str) -> str:
        return f"{self.prefix}blob:{digest}"

    def channel(self, topic: str) -> bytes:
        return f"{self.prefix}{topic}".encode()

    @property
    def everything(self) -> str:
        """A SCAN pattern matching every key of this store (and nothing else)."""
        return "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix) + "*"


def event_body(e: Event) -> bytes:
    """An event as the append script stores it (it adds the position in front)."""
    return orjson.dumps(
        {
            "log": e.log,
            "seq": e.seq,
            "kind": e.kind,
            "at": e.at,
            "data": e.data,
            "prev": e.prev,
            "hash": e.hash,
        }
    )


def event(raw: bytes) -> Event:
    """An event from its stored `position TAB json` form."""
    position, _, body = raw.partition(b"\t")
    d = orjson.loads(body)
    return _new(
        Event,
        (d["log"], d["seq"], d["kind"], d["at"], d["data"], d["prev"], d["hash"], int(position)),
    )


def positioned(e: Event, position: int) -> Event:
    return _new(Event, (*e[:7], position))


def summary_body(s: ItemSummary) -> bytes:
    """An index row as the `items` hash keeps it (the lease lives in `leases`)."""
    return orjson.dumps(
        (
            s.item_id,
            s.queue,
            s.status,
            s.runnable,
            s.waiting,
            s.version,
            s.attempts,
            s.objective,
            s.created_at,
            s.updated_at,
            s.tags,
            s.agents,
        )
    )


def summary(raw: bytes, lease: bytes | None = None) -> ItemSummary:
    """An index row from the `items` hash, with its lease from the `leases` hash (a row
    an older baton wrote has no tags or agents: none until the item changes)."""
    f = orjson.loads(raw)
    tags, agents = (tuple(f[10]), tuple(f[11])) if len(f) > 11 else ((), ())
    row = ItemSummary._make((*f[:10], None, None, tags, agents))
    if lease is None:
        return row
    owner, _, until = lease.decode().rpartition("\t")
    return row.with_lease(owner, float(until))
