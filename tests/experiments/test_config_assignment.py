"""Experiment declarations and deterministic assignment."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scipy import stats

from tailor.errors import ConfigError
from tailor.experiments.assignment import (
    Assigner,
    Splitter,
    bucket,
    split_recommendation_id,
    unit_of,
)
from tailor.experiments.config import (
    Experiment,
    find_experiment,
    parse_experiments,
    read_experiments,
)

TOML = """
[serve]
default_n = 7

[[experiments]]
name = "ranker"
start = 2026-11-01T00:00:00Z
stop = 2026-12-01T00:00:00Z
  [[experiments.variants]]
  name = "control"
  [[experiments.variants]]
  name = "popular"
  strategy = "popular"
  weight = 3
  n = 5
  placement = "home"
  style = "carousel"
"""


def experiment(**fields: object) -> Experiment:
    data: dict[str, object] = {
        "name": "exp",
        "variants": [{"name": "a"}, {"name": "b"}],
        **fields,
    }
    return Experiment.model_validate(data)


def test_experiments_are_read_from_a_serve_settings_file(tmp_path: Path) -> None:
    file = tmp_path / "serve.toml"
    file.write_text(TOML)
    [exp] = read_experiments(file)
    assert exp.name == "ranker" and exp.salt == "ranker" and exp.status == "running"
    assert exp.weights == (0.25, 0.75)
    popular = exp.variant("popular")
    assert (popular.strategy, popular.n, popular.placement, popular.style) == (
        "popular",
        5,
        "home",
        "carousel",
    )
    assert exp.running_at(datetime(2026, 11, 15, tzinfo=UTC))
    assert not exp.running_at(datetime(2026, 12, 1, tzinfo=UTC))  # stop is exclusive
    assert not exp.running_at(datetime(2026, 10, 31, tzinfo=UTC))
    assert find_experiment([exp], "ranker") is exp
    with pytest.raises(ConfigError, match=r"no experiment named 'x' \(declared: ranker\)"):
        find_experiment([exp], "x")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "a b", "variants": [{"name": "x"}]}, "experiment 'a b': name: String should"),
        ({"name": "e", "variants": []}, "experiment 'e': variants: Tuple should have at least"),
        (
            {"name": "e", "variants": [{"name": "x"}, {"name": "x"}]},
            "variant names must be unique; repeated: x",
        ),
        ({"name": "e", "variants": [{"name": "x", "weight": 0}]}, "variants.0.weight"),
        ({"name": "e", "variants": [{"name": "x", "strategy": "als"}]}, "variants.0.strategy"),
        ({"name": "e", "variants": [{"name": "x", "colour": 1}]}, "variants.0.colour: Extra"),
        (
            {
                "name": "e",
                "variants": [{"name": "x"}],
                "start": "2026-11-02T00:00:00Z",
                "stop": "2026-11-01T00:00:00Z",
            },
            "stop must be after start",
        ),
    ],
)
def test_invalid_experiments_name_the_experiment_and_field(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"exp\.toml: experiment") as info:
        parse_experiments([entry], where="exp.toml: ")
    assert message in str(info.value)


def test_repeated_experiment_names_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "exp.toml"
    body = '[[experiments]]\nname = "e"\n[[experiments.variants]]\nname = "a"\n'
    file.write_text(body * 2)
    with pytest.raises(ConfigError, match=r"names must be unique; repeated: \['e'\]"):
        read_experiments(file)


def test_planted_ids_get_exact_variants() -> None:
    assert BUCKET_USER_0 == pytest.approx(0.6533042476937744, abs=1e-15)
    # bucket = blake2b-64("exp\x1fuser-N") / 2**64: these are the hash's, fixed forever
    splitter = Splitter(experiment())
    got = {f"user-{k}": splitter.variant(f"user-{k}").name for k in range(8)}  # type: ignore[union-attr]
    assert got == PLANTED
    assert bucket("exp", "user-0") == pytest.approx(BUCKET_USER_0, abs=1e-12)


PLANTED = {
    "user-0": "b",
    "user-1": "b",
    "user-2": "b",
    "user-3": "a",
    "user-4": "a",
    "user-5": "b",
    "user-6": "b",
    "user-7": "b",
}
BUCKET_USER_0 = (
    int.from_bytes(hashlib.blake2b(b"exp\x1fuser-0", digest_size=8).digest(), "little") / 2**64
)
"""0.6533... >= 0.5: variant b (computed here with hashlib, independently of tailor)."""


def test_the_split_follows_the_weights_over_100k_ids() -> None:
    exp = experiment(variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 3}])
    splitter = Splitter(exp)
    n = 100_000
    b = sum(splitter.variant(f"u{k}").name == "b" for k in range(n))  # type: ignore[union-attr]
    # within 4.5 binomial standard deviations of 75 %
    assert abs(b - 0.75 * n) < 4.5 * (n * 0.75 * 0.25) ** 0.5
    # and the chi-square of the two counts does not reject
    assert stats.chisquare([n - b, b], [0.25 * n, 0.75 * n]).pvalue > 0.001


def test_traffic_enrolls_only_its_share_and_weights_apply_within_it() -> None:
    splitter = Splitter(experiment(traffic=0.2))
    n = 50_000
    got = [splitter.variant(f"u{k}") for k in range(n)]
    enrolled = [v for v in got if v is not None]
    assert abs(len(enrolled) - 0.2 * n) < 4.5 * (n * 0.2 * 0.8) ** 0.5
    a = sum(v.name == "a" for v in enrolled)
    assert abs(a - len(enrolled) / 2) < 4.5 * (len(enrolled) / 4) ** 0.5


def test_changing_the_salt_reshuffles() -> None:
    one, two = Splitter(experiment(salt="s1")), Splitter(experiment(salt="s2"))
    n = 20_000
    same = sum(one.variant(f"u{k}") == two.variant(f"u{k}") for k in range(n))
    # independent 50/50 splits agree half of the time
    assert abs(same - n / 2) < 4.5 * (n / 4) ** 0.5
    again = Splitter(experiment(salt="s1"))
    assert all(one.variant(f"u{k}") == again.variant(f"u{k}") for k in range(1000))


def test_the_unit_is_the_user_when_known_so_devices_agree() -> None:
    assigner = Assigner([experiment()])
    now = datetime(2026, 11, 15, tzinfo=UTC).timestamp()
    on_phone = assigner.assign_visitor("user-3", "phone-session", now)
    on_laptop = assigner.assign_visitor("user-3", "laptop-session", now)
    anonymous = assigner.assign_visitor(None, "phone-session", now)
    assert on_phone is not None and on_laptop is not None and anonymous is not None
    assert on_phone.variant == on_laptop.variant == assigner.assign("user-3", now).variant  # type: ignore[union-attr]
    assert anonymous.variant == assigner.assign("phone-session", now).variant  # type: ignore[union-attr]
    assert unit_of(None, "s") == "s" and unit_of("u", "s") == "u"
    with pytest.raises(ValueError, match="give a user id or a session id"):
        unit_of(None, None)


def test_only_running_experiments_assign_and_the_first_one_wins() -> None:
    stopped = experiment(name="old", status="stopped")
    later = experiment(name="later", start="2027-01-01T00:00:00Z")
    half = experiment(name="half", traffic=0.5)
    everyone = experiment(name="all")
    assigner = Assigner([stopped, later, half, everyone])
    now = datetime(2026, 11, 15, tzinfo=UTC).timestamp()
    names = {assigner.assign(f"u{k}", now).experiment.name for k in range(200)}  # type: ignore[union-attr]
    assert names == {"half", "all"}
    in_half = Splitter(half)
    for k in range(200):
        got = assigner.assign(f"u{k}", now)
        assert got is not None
        assert got.experiment.name == ("half" if in_half.variant(f"u{k}") else "all")
    assert Assigner([stopped]).assign("u1", now) is None
    assert not Assigner([])


def test_recommendation_ids_carry_experiment_and_variant() -> None:
    assert split_recommendation_id("ab12:exp:b") == ("exp", "b")
    assert split_recommendation_id("ab12") == (None, None)


def test_the_splitters_fast_bucket_is_the_stable_hash() -> None:
    splitter = Splitter(experiment(salt="s-1"))
    for unit in ("user-0", "ünï", "17850", "a\x1fb"):
        assert splitter.bucket(unit) == bucket("s-1", unit)
