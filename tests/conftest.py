"""Suite-wide fixtures: the one gate for tests that need something outside the repository.

A test that needs Redis, chromium, ``../shared/data`` or an optional package asks for it with the
``require`` fixture. Locally a missing dependency skips the test; with ``CI=true`` (set by
``.ci/run``) it fails, so a CI run can never go green by skipping what it was meant to check.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

Require = Callable[[bool, str], None]


def in_ci() -> bool:
    """Whether this is a CI run (``CI=true``): nothing may skip there for want of a service."""
    return os.environ.get("CI") == "true"


def require(condition: bool, reason: str) -> None:
    """Go on if ``condition`` holds; otherwise skip the test, or fail it under ``CI=true``."""
    __tracebackhide__ = True  # reports name the test's line, not this one
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", name="require")
def require_fixture() -> Require:
    """:func:`require`, as a fixture (usable from fixtures of any scope)."""
    return require
