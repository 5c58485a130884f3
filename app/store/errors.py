"""The store's exceptions. `str(error)` is a sentence the user can act on."""

from __future__ import annotations


class StoreError(Exception):
    """The local database cannot do what was asked (damaged file, failed migration, missing row, ...)."""


class InvalidPreferenceError(StoreError, ValueError):
    """A preference key or value the app does not know; raised before the database's CHECK has to."""
