"""One small name -> object registry shared by prompts, rewards, benchmarks, extractors, metrics and backends."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects. Duplicate names raise; unknown names list close matches and all known names.

    Entries may be lazy ``"module:attribute"`` strings so that registering a heavy backend imports nothing.

    Example:
        >>> styles = Registry("prompt style")
        >>> styles.register("plain", str.upper)
        <method 'upper' of 'str' objects>
        >>> styles.get("plain")("a")
        'A'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str, obj: T | str | None = None) -> Any:
        """Register ``obj`` under ``name``; without ``obj`` returns a decorator."""
        if obj is None:
            def decorator(target: T) -> T:
                self.register(name, target)
                return target
            return decorator
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered.")
        self._entries[name] = obj
        return obj

    def get(self, name: str) -> T:
        """Return the entry for ``name`` (importing it if it was registered lazily)."""
        try:
            entry = self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(
                f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(sorted(self._entries))}."
            ) from None
        if isinstance(entry, str) and ":" in entry:
            module_name, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module_name), attribute)
            self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def resolve_callable(name: str, registry: Registry[Callable[..., Any]]) -> Callable[..., Any]:
    """Look ``name`` up in ``registry``; failing that, import it as a dotted ``pkg.module.attr`` path."""
    if name in registry:
        return registry.get(name)
    module_name, _, attribute = name.rpartition(".")
    if module_name:
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            pass
    return registry.get(name)  # raises with the list of known names
