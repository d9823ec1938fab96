"""Every Redis key tailor's serving layer uses is built here, and nowhere else.

Layout (``{p}`` is ``ServeSettings.key_prefix``)::

    {p}:active-version                 the version whose lists readers should use
    {p}:{version}:recs:{user_id}       precomputed top-N of one user under one model version
    {p}:recent:{key}                   a user's or session's recent items, oldest first (a
                                       list, trimmed to ``session_max_items``, TTL
                                       ``session_ttl_s``; serving/sessions.py)
    {p}:rate:key/{key_name}/{limit}/1/second
                                       per-API-key moving window (a list of request times),
                                       built by the ``limits`` library from this prefix

Lists of a version are written under that version's keys before the version becomes active, so a
reader sees wholly old or wholly new lists; stale versions expire through their TTL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder bound to one prefix."""

    prefix: str = "tailor"

    def active_version(self) -> str:
        """The pointer to the active model version."""
        return f"{self.prefix}:active-version"

    def recs(self, version: str, user_id: str) -> str:
        """Precomputed recommendations of ``user_id`` under ``version``."""
        return f"{self.prefix}:{version}:recs:{user_id}"

    def recent(self, key: str) -> str:
        """The recent items of a user or session id (``serving.sessions``)."""
        return f"{self.prefix}:recent:{key}"

    def pattern(self) -> str:
        """A SCAN pattern matching every key under this prefix."""
        return f"{self.prefix}:*"
