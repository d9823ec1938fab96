"""``tailor stream`` from the command line: it drains the log into a snapshot, and bad input is
one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailor.models.model_dir import ModelDir
from tailor.streaming.events import Event
from tailor.streaming.sqlite_log import SqliteEventLog, sqlite_path
from tailor.testing.cli import run_cli
from tailor.testing.streaming import event, write_store


def test_stream_drains_the_log_into_an_active_snapshot(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    db = tmp_path / "events.db"
    SqliteEventLog(db).append(
        [Event.model_validate(event(k, "u0", f"i{4 + k % 4}", "view")) for k in range(8)]
    )
    base = store.active()
    code = run_cli(
        "stream", "--log", f"sqlite:///{db}", "--model-dir", store.root, "--max-events", 8,
        "--quiet",
    )  # fmt: skip
    assert code == 0
    assert store.active() == f"{base}.s1"
    folder = store.path(f"{base}.s1")
    assert json.loads((folder / "stream.json").read_text())["position"] == {"0": "8"}
    model = ModelDir.load(folder).model
    u0 = model.users.numbers(["u0"])[0]
    assert sorted(model.items.ids[model.seen[[u0]].indices]) == [
        "i0", "i2", "i3", "i4", "i5", "i6", "i7"
    ]  # fmt: skip


def test_stream_settings_come_from_the_shared_file(tmp_path: Path) -> None:
    store = write_store(tmp_path / "store")
    db = tmp_path / "events.db"
    SqliteEventLog(db).append([Event.model_validate(event(0, "u0", "i1"))])
    config = tmp_path / "tailor.toml"
    config.write_text(
        f'[serve]\nmodel_dir = "{store.root}"\nevent_log_url = "sqlite:///{db}"\n'
        "[stream]\nsnapshot_every_events = 1\n"
    )
    assert run_cli("stream", "--config", config, "--max-events", 1, "--quiet") == 0
    assert len(store.versions()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log", "foo://x"], "unsupported event log URL scheme 'foo'"),
        (["--log", "sqlite://host/x.db"], "names a host"),
        (["--log", "redis://:secret@127.0.0.1/0"], "must not hold a password"),
        ([], "no event log: pass --log URL"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = write_store(tmp_path / "store")
    assert run_cli("stream", "--model-dir", store.root, *args, "--quiet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_store_without_an_active_version_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    log = f"sqlite:///{tmp_path}/events.db"
    assert run_cli("stream", "--log", log, "--model-dir", tmp_path / "empty", "--quiet") == 2
    assert "has no active version" in capsys.readouterr().err


def test_sqlite_urls_follow_sqlalchemy() -> None:
    assert sqlite_path("sqlite:///events.db") == Path("events.db")
    assert sqlite_path("sqlite:////var/lib/events.db") == Path("/var/lib/events.db")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics_at(url: str) -> str | None:
    import urllib.error
    import urllib.request

    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except urllib.error.URLError:
        return None


def test_metrics_listen_on_the_chosen_address(tmp_path: Path) -> None:
    from tailor.streaming.settings import load_stream_settings

    assert load_stream_settings().metrics_host == "127.0.0.1"  # loopback unless asked
    store = write_store(tmp_path / "store")
    db = tmp_path / "events.db"
    SqliteEventLog(db).append([Event.model_validate(event(0, "u0", "i1"))])
    port = _free_port()
    code = run_cli(
        "stream", "--log", f"sqlite:///{db}", "--model-dir", store.root, "--max-events", 1,
        "--quiet", "--metrics-port", port, "--metrics-host", "0.0.0.0",
    )  # fmt: skip
    assert code == 0
    # 127.0.0.2 is a loopback address that a server bound to 127.0.0.1 does not answer, but one on
    # every interface does (prometheus_client's server thread outlives the command)
    body = _metrics_at(f"http://127.0.0.2:{port}/metrics")
    assert body is not None and "tailor_stream_events_applied_total 1.0" in body
