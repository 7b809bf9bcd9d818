"""Read-only multi-valued mappings: the query string and the headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, Union

__all__ = ["MultiMapping", "Headers"]

_T = TypeVar("_T")

#: What :class:`MultiMapping` and :class:`Headers` are built from.
PairsLike = Union[Mapping, Iterable]


class MultiMapping(Mapping):
    """A read-only mapping in which a name may have several values.

    Built from ``(name, value)`` pairs, in order. As a mapping it has one
    entry per distinct name, whose value is the name's *first* value::

        q = MultiMapping([("tag", "a"), ("limit", "5"), ("tag", "b")])
        q["tag"]            # 'a'
        q.get("missing")    # None
        q.get_all("tag")    # ['a', 'b']
        list(q), len(q)     # (['tag', 'limit'], 2)
        q.items()           # [('tag', 'a'), ('limit', '5'), ('tag', 'b')]

    ``items()`` and ``values()`` return every pair / value in order (a new
    list each time), not one per name. It compares equal to another
    multi-mapping of the same kind with the same pairs, to a list of the
    same pairs, and to a plain mapping of the same names to first values.

    The constructor accepts a dict (whose values may be lists or tuples for
    repeated names) or an iterable of pairs; values that are not ``str`` are
    converted with ``str()``.
    """

    __slots__ = ("_pairs", "_index")

    def __init__(self, pairs: PairsLike | None = None) -> None:
        self._pairs: list[tuple[str, str]] = _pairs(pairs, self._name)
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def _trusted(cls, pairs: list) -> MultiMapping:
        """Wraps already-checked pairs without copying them.

        ``pairs`` is a list of 2-item sequences of ``str`` (names lower case
        for :class:`Headers`); it is owned by the new mapping from then on.
        """
        self = cls.__new__(cls)
        self._pairs = pairs
        self._index = None
        return self

    @staticmethod
    def _name(name: Any) -> str:
        """The stored form of a name; :class:`Headers` lower-cases it."""
        if not isinstance(name, str):
            raise TypeError(f"names must be str, not {type(name).__name__}")
        return name

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._pairs:
                values = index.get(name)
                if values is None:
                    index[name] = [value]
                else:
                    values.append(value)
            self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        values = self._lookup().get(name)
        if values is None:
            raise KeyError(name)
        return values[0]

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of ``name``, or ``default``."""
        values = self._lookup().get(name)
        return default if values is None else values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order; ``[]`` when there is none."""
        values = self._lookup().get(name)
        return [] if values is None else list(values)

    def __contains__(self, name: object) -> bool:
        return name in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def keys(self):  # type: ignore[override]
        """The distinct names, in the order they first appear."""
        return self._lookup().keys()

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every ``(name, value)`` pair, in order."""
        return [(name, value) for name, value in self._pairs]

    def values(self) -> list[str]:  # type: ignore[override]
        """Every value, in order."""
        return [value for _, value in self._pairs]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiMapping):
            return type(self) is type(other) and self.items() == other.items()
        if isinstance(other, list):
            return self.items() == [tuple(pair) for pair in other]
        if isinstance(other, Mapping):
            return {name: self[name] for name in self} == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items()!r})"


class Headers(MultiMapping):
    """A :class:`MultiMapping` whose names are case-insensitive.

    Names are stored in lower case (as the mesh delivers them), and
    lookups lower-case the name asked for::

        h = Headers({"Content-Type": "text/plain"})
        h["content-type"] == h["CONTENT-TYPE"] == "text/plain"
        list(h)  # ['content-type']
    """

    __slots__ = ()

    @staticmethod
    def _name(name: Any) -> str:
        if not isinstance(name, str):
            raise TypeError(f"header names must be str, not {type(name).__name__}")
        return name.lower()

    def __getitem__(self, name: str) -> str:
        values = self._lookup().get(_lower(name))
        if values is None:
            raise KeyError(name)
        return values[0]

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of header ``name`` (any case), or ``default``."""
        values = self._lookup().get(_lower(name))
        return default if values is None else values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case); ``[]`` when none."""
        values = self._lookup().get(_lower(name))
        return [] if values is None else list(values)

    def __contains__(self, name: object) -> bool:
        return _lower(name) in self._lookup()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self.items() == other.items()
        if isinstance(other, MultiMapping):
            return False
        if isinstance(other, list):
            return self.items() == [(_lower(n), v) for n, v in other]
        if isinstance(other, Mapping):
            return {name: self[name] for name in self} == {
                _lower(n): v for n, v in other.items()
            }
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _lower(name: _T) -> _T:
    return name.lower() if isinstance(name, str) else name  # type: ignore[return-value]


def _pairs(source: PairsLike | None, normalize_name) -> list[tuple[str, str]]:
    """Checked ``(name, value)`` pairs from a mapping or iterable of pairs."""
    if source is None:
        return []
    if isinstance(source, MultiMapping):
        return [(normalize_name(n), v) for n, v in source.items()]
    if isinstance(source, (str, bytes, bytearray)):
        raise TypeError(
            "expected a mapping or an iterable of (name, value) pairs, "
            f"not {type(source).__name__}"
        )
    out: list[tuple[str, str]] = []
    if isinstance(source, Mapping):
        for name, value in source.items():
            name = normalize_name(name)
            if isinstance(value, (list, tuple)):
                out.extend((name, _value(v)) for v in value)
            else:
                out.append((name, _value(value)))
        return out
    for pair in source:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"expected a (name, value) pair, got {pair!r}") from None
        out.append((normalize_name(name), _value(value)))
    return out


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise TypeError("values must not be None")
    return str(value)


for _cls in (MultiMapping, Headers):
    _cls.__module__ = "funcmesh"
del _cls
