"""The availability history's subjects, and a mapping keyed by them that keeps no subject string.

A subject is `provider:NAME` or `model:ID`. The daemon keeps a value per subject for its whole
life (a history, and the history file's documents), and a string per subject as the key cost
about as much as the history itself (docs/benchmarks.md). `Subjects` keeps each value under the
name alone, in one dictionary per kind of subject, and the daemon passes the mesh's own name
strings (`Subject` keys): the configuration holds those anyway.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TypeVar

__all__ = [
    "MODEL",
    "PROVIDER",
    "Subject",
    "Subjects",
    "model_subject",
    "provider_subject",
    "split_subject",
]

PROVIDER = "provider:"
MODEL = "model:"
_OTHER = ""

Subject = tuple[str, str]
"""A subject as (prefix, name): `PROVIDER` or `MODEL` and the name after it, or `""` and the
whole subject when it has neither prefix (a document some other writer left in the store)."""


def provider_subject(name: str) -> str:
    """The history subject of a provider."""
    return f"{PROVIDER}{name}"


def model_subject(model_id: str) -> str:
    """The history subject of a model."""
    return f"{MODEL}{model_id}"


def split_subject(subject: str) -> Subject:
    """`subject` as a `Subject` key: `provider:a` -> (`PROVIDER`, `a`)."""
    if subject.startswith(PROVIDER):
        return PROVIDER, subject[len(PROVIDER) :]
    if subject.startswith(MODEL):
        return MODEL, subject[len(MODEL) :]
    return _OTHER, subject


V = TypeVar("V")


class Subjects(MutableMapping[str, V]):
    """Subject -> value, kept as name -> value per prefix.

    As a mapping it takes and gives subject strings (made anew on each iteration); `put`,
    `find` and `keys_named` take and give `Subject` keys, which make no string at all. A value
    stored under a name keeps that name's string object: the daemon puts the mesh's own.
    """

    __slots__ = ("_books",)

    def __init__(self, items: Mapping[str, V] | None = None) -> None:
        self._books: dict[str, dict[str, V]] = {PROVIDER: {}, MODEL: {}, _OTHER: {}}
        if items:
            self.update(items)

    # --- by Subject key ----------------------------------------------------------------

    def find(self, key: Subject) -> V | None:
        """The value of `key`, or None."""
        return self._books[key[0]].get(key[1])

    def put(self, key: Subject, value: V) -> None:
        """Set the value of `key` (a name already present keeps the string it was put with)."""
        self._books[key[0]][key[1]] = value

    def adopt(self, key: Subject) -> None:
        """Keep `key`'s value under `key`'s own name string from now on (after a load, whose
        names are strings of the parser's, the mesh's instead)."""
        book = self._books[key[0]]
        if key[1] in book:
            book[key[1]] = book.pop(key[1])

    def keys_named(self) -> Iterator[Subject]:
        """Every key, as a `Subject`."""
        for prefix, book in self._books.items():
            for name in book:
                yield prefix, name

    def merge(self, other: Subjects[V]) -> None:
        """`update` from another `Subjects`, taking its name strings too (for names present in
        both, theirs: a batch of the daemon's replaces the names a load left)."""
        for prefix, book in other._books.items():
            mine = self._books[prefix]
            for name, value in book.items():
                mine.pop(name, None)
                mine[name] = value

    def in_order(self) -> Iterator[str]:
        """Every subject, sorted, made one at a time: no list of all the subject strings."""
        return heapq.merge(*(_joined(prefix, sorted(book)) for prefix, book in self._books.items()))

    # --- the mapping of subject strings ------------------------------------------------

    def __getitem__(self, subject: str) -> V:
        prefix, name = split_subject(subject)
        return self._books[prefix][name]

    def __setitem__(self, subject: str, value: V) -> None:
        prefix, name = split_subject(subject)
        self._books[prefix][name] = value

    def __delitem__(self, subject: str) -> None:
        prefix, name = split_subject(subject)
        del self._books[prefix][name]

    def __contains__(self, subject: object) -> bool:
        if not isinstance(subject, str):
            return False
        prefix, name = split_subject(subject)
        return name in self._books[prefix]

    def __iter__(self) -> Iterator[str]:
        for prefix, name in self.keys_named():
            yield prefix + name

    def __len__(self) -> int:
        return sum(len(book) for book in self._books.values())

    def __repr__(self) -> str:
        return f"Subjects({dict(self)!r})"


def _joined(prefix: str, names: Iterable[str]) -> Iterator[str]:
    for name in names:
        yield prefix + name
