"""What an erasure does, as data: the steps of its journal, in order, each naming the
collection it changes. Pure: the service runs them, the repository holds the queries.

A collection that can hold a person is added here by one entry: ``Delete`` for documents that
belong to the person whole (found by a field equal to one of their profile ids, identity keys
or record ids), ``Scrub`` for documents kept with fields of personal data removed, and the
special steps (``Custom``) for what needs its own query (text scans, adjustments). Every step
is idempotent — it finds what is left of the person and removes it — so a journal cut short
anywhere is completed by running the request again.

After the last step the erasure looks again: would any step that finds the person find
something now (an import that asked the suppression list just before it was written has stored
some of them since)? Then the steps run again, in a pass of their own over what was found, up
to :data:`MAX_PASSES` in one run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Of(enum.StrEnum):
    """Which of the person's values a step's field is compared with."""

    PROFILES = "profiles"  # every profile id of theirs, absorbed ones too
    KEYS = "keys"  # identity keys (email:…, phone:…, ext:source:…)
    PEOPLE = "people"  # the ids of their person records (name search points at these)


@dataclass(frozen=True)
class Delete:
    name: str
    collection: str
    by: str  # the field naming the person
    of: Of


@dataclass(frozen=True)
class Custom:
    """A step with its own query in the repository (method ``erase_<name>``) or the service."""

    name: str
    collection: str


Step = Delete | Custom

# Suppressions and tombstones come first: from then on an import running meanwhile skips the
# person (one that asked just before is found by the look after the steps, or finds the
# suppressions when it asks again after writing: c360.ingest.stages.suppress). The follow-ups'
# relay leans on the same order — profiles suppressed, then notifications (found through the
# follow-ups), then the follow-ups — to take back what it wrote meanwhile. Derived data
# goes before the records it derives from (name search is found through the person records).
# The profiles go last: until then the request can find everything through them.
STEPS: tuple[Step, ...] = (
    Custom("suppress identifiers", "suppressions"),
    Custom("suppress profiles", "suppressions"),
    Custom("suppress records", "suppressions"),
    Custom("suppress dead letters", "suppressions"),
    Custom("tombstone contact points", "contact_tombstones"),
    Delete("name search", "name_terms", by="record", of=Of.PEOPLE),
    Delete("match keys", "match_keys", by="profile_id", of=Of.PROFILES),
    Delete("match features", "match_features", by="_id", of=Of.PROFILES),
    Delete("match suggestions", "match_suggestions", by="profiles", of=Of.PROFILES),
    Delete("separations", "separations", by="profiles", of=Of.PROFILES),
    Delete("consent tokens", "consent_tokens", by="profile_id", of=Of.PROFILES),
    Custom("notifications", "outbox"),  # found through their follow-ups: before those go
    Delete("follow ups", "follow_ups", by="profile_id", of=Of.PROFILES),
    Delete("feedback acknowledgements", "feedback_acks", by="profile_id", of=Of.PROFILES),
    Delete("records", "records", by="profile_id", of=Of.PROFILES),
    Custom("unlinked records", "records"),
    Delete("identities", "identities", by="profile_id", of=Of.PROFILES),
    Delete("profile metrics", "profile_metrics", by="_id", of=Of.PROFILES),
    Delete("merges absorbed", "merges", by="absorbed", of=Of.PROFILES),
    Delete("merges survived", "merges", by="survivor", of=Of.PROFILES),
    Custom("dead letters", "dead_letters"),
    Custom("access audit", "audit_log"),
    Custom("earlier requests", "privacy_requests"),
    Delete("profiles", "profiles", by="_id", of=Of.PROFILES),
)
STEP_NAMES = tuple(step.name for step in STEPS)
ADDING = frozenset(
    {
        "suppress identifiers",
        "suppress profiles",
        "suppress records",
        "suppress dead letters",
        "tombstone contact points",
        "earlier requests",
    }
)
"""Steps that add what stands for the person (hashes) or forget them elsewhere rather than
find what is left of them: not counted when looking again for what is left."""

MAX_PASSES = 5
"""Passes over the steps in one run: a person an import keeps storing again after each pass
(an import of their sources running all along) fails the run, to be run again once it stops."""
