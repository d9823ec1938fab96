"""The consumer inside a server (``[serve] stream = true``): one process for everything.

It runs :class:`~tailor.streaming.consumer.StreamConsumer` in a daemon thread and writes the
touched users' lists into the server's own cache through the server's event loop, so it also
refreshes an in-process ``memory://`` cache, which a separate ``tailor stream`` cannot reach.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from tailor.errors import ConfigError
from tailor.logging import get_logger
from tailor.serving.cache import RecCache, redact_url
from tailor.serving.registry import ModelRegistry
from tailor.serving.settings import ServeSettings
from tailor.streaming.consumer import StreamConsumer
from tailor.streaming.lists import CacheListWriter
from tailor.streaming.log import log_identity, open_source
from tailor.streaming.settings import StreamSettings, load_stream_settings

_log = get_logger(__name__)

JOIN_TIMEOUT_S = 30.0
"""How long shutdown waits for the consumer's last snapshot."""


def stream_settings_of(serve: ServeSettings) -> StreamSettings:
    """The consumer's settings: ``TAILOR_STREAM_*``, with the server's log, store and cache."""
    return load_stream_settings(
        None,
        event_log_url=serve.event_log_url,
        model_dir=serve.model_dir,
        redis_url=serve.redis_url,
        key_prefix=serve.key_prefix,
        cache_ttl_s=serve.cache_ttl_s,
        precompute_n=serve.precompute_n,
    )


class EmbeddedConsumer:
    """A started consumer thread; :meth:`stop` ends it after a last snapshot."""

    def __init__(self, consumer: StreamConsumer) -> None:
        self.consumer = consumer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tailor-stream", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.consumer.run(self._stop)
        except BaseException as exc:  # logged; the server keeps answering from what it has
            self.error = exc
            _log.error("stream_consumer_failed", error=repr(exc))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)
        self.consumer.close()


def start_embedded(
    serve: ServeSettings, cache: RecCache, loop: asyncio.AbstractEventLoop, **kwargs: Any
) -> EmbeddedConsumer:
    """Open the log and the store, load the active version, start the thread.

    Raises:
        ConfigError: no event log or no model store configured.
    """
    if serve.event_log_url is None or serve.model_dir is None:
        raise ConfigError("stream = true needs event_log_url and model_dir (a model store)")
    settings = stream_settings_of(serve)
    url = serve.event_log_url
    consumer = StreamConsumer(
        open_source(url, settings.consumer),
        ModelRegistry(serve.model_dir, history_limit=serve.history_limit),
        settings,
        log_id=log_identity(url),
        writer=CacheListWriter(cache, loop),
        **kwargs,
    )
    consumer.open()
    embedded = EmbeddedConsumer(consumer)
    embedded.start()
    _log.info("stream_embedded", log=redact_url(url), version=consumer.version)
    return embedded
