"""Serving: a FastAPI service over a saved model, with Redis or an in-process cache.

Import ``create_app`` from :mod:`tailor.serving.app`; this package needs the ``serve`` extra.
"""

from tailor.serving.settings import ApiKeySpec, ServeSettings, load_settings

__all__ = ["ApiKeySpec", "ServeSettings", "load_settings"]
