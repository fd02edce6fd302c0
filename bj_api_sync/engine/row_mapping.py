"""Payloads from database rows: the fast path of outbound mapping.

Most configs send stored columns of the record and of records reached through
many2one fields (``country_id.code``). For those, :func:`plan` works out which
columns of which models must be read, the Odoo layer reads them as plain rows
(with the same access checks as the ORM), and :meth:`RowPlan.build` turns the
rows into exactly the payloads :func:`.mapping_out.build_payloads` gives through an
ORM adapter, without the per-field cost of record objects.

Lines with scripts, nested mappings or x2many fields, and fields that are not
plain stored columns, are not planned: :func:`plan` returns None and the caller
uses the generic builder. Nothing here imports Odoo.
"""
from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import mapping_out, serialize

#: Odoo field types whose column value converts to JSON without the ORM.
ROW_TYPES = frozenset({
    "char", "text", "html", "selection", "boolean", "integer", "float", "monetary",
    "date", "datetime", "many2one",
})

#: ``(model, field) -> (type, comodel)`` for a field readable as a plain column
#: value (``comodel`` for many2one, else None), or None when it is not.
Schema = Callable[[str, str], "tuple[str, str | None] | None"]


@dataclass(frozen=True)
class Source:
    """Rows to read for a plan: ``columns`` of ``model`` (``id`` first).

    ``path`` is the chain of many2one fields that leads from the main model to
    these rows (empty for the main model); ``parent`` and ``via`` say which
    source's column holds the ids to read (None for the main model).
    """

    path: tuple[str, ...]
    model: str
    columns: tuple[str, ...]
    parent: tuple[str, ...] | None = None
    via: str | None = None


class RowPlan:
    """The rows a config's lines need, and how to turn them into payloads."""

    def __init__(self, sources, lines):
        #: Sources in reading order: the main model first, then each source
        #: after the one holding its ids.
        self.sources: tuple[Source, ...] = sources
        self._lines = lines  # (parents, leaf, path of fields, type) per line
        self._index = {s.path: {c: i for i, c in enumerate(s.columns)} for s in sources}

    def referenced_ids(self, source: Source, tables: Mapping) -> list[int]:
        """Ids ``source`` must be read for, from its parent's rows (read first)."""
        column = self._index[source.parent][source.via]
        return list({row[column] for row in tables[source.parent].values() if row[column]})

    def build(self, ids: Iterable[int], tables: Mapping) -> list[dict]:
        """Return one payload per id, in order (duplicates repeated).

        ``tables`` maps each source's ``path`` to ``{id: row}``, a row being a
        tuple of the source's columns. Every id of ``ids`` and every id a
        source refers to must have its row.
        """
        main = tables[()]
        if not any(parents for parents, _leaf, _path, _ftype in self._lines):
            # Flat keys: convert column by column, then zip each record's values
            # into its dict (a later duplicate key wins, as assignments would).
            rows = list(map(main.__getitem__, ids))
            if not self._lines:
                return [{} for _row in rows]
            columns = [self._column(path, ftype, tables, rows)
                       for _parents, _leaf, path, ftype in self._lines]
            return _dict_maker(len(columns))(
                [leaf for _parents, leaf, _path, _ftype in self._lines], columns
            )
        getters = [(parents, leaf, self._getter(path, ftype, tables))
                   for parents, leaf, path, ftype in self._lines]
        payloads = []
        for rid in ids:
            row = main[rid]
            payload = {}
            for parents, leaf, get in getters:
                node = payload
                for part in parents:
                    child = node.get(part)
                    if child is None:
                        child = node[part] = {}
                    node = child
                node[leaf] = get(row)
            payloads.append(payload)
        return payloads

    def _column(self, path, ftype, tables, rows) -> list:
        """A line's JSON values for ``rows`` (main-model rows), in order."""
        if len(path) == 1:
            convert = serialize.converter(ftype)
            values = map(operator.itemgetter(self._index[()][path[0]]), rows)
            return list(map(convert, values, itertools.repeat(None)))
        return list(map(self._getter(path, ftype, tables), rows))

    def _getter(self, path, ftype, tables) -> Callable[[tuple], Any]:
        """The function giving a line's JSON value from a main-model row."""
        convert = serialize.converter(ftype)
        column = self._index[path[:-1]][path[-1]]
        if len(path) == 1:
            return lambda row: convert(row[column], None)
        # Each hop: the column holding the many2one id, the rows it points to.
        hops = tuple(
            (self._index[path[:i]][path[i]], tables[path[: i + 1]])
            for i in range(len(path) - 1)
        )

        def get(row):
            for hop_column, rows in hops:
                ref = row[hop_column]
                if not ref:
                    # An empty many2one on the way gives null, as in the ORM path.
                    return None
                row = rows[ref]
            return convert(row[column], None)

        return get


@functools.lru_cache(maxsize=64)
def _dict_maker(width: int) -> Callable[[list, list], list]:
    """``make(keys, columns)``: one dict per row of ``columns``, keys in order.

    A dict display (``{k0: v0, k1: v1}``) builds a dict about twice as fast as
    ``dict(zip(keys, values))``, which matters at ten thousand records a run.
    The generated source holds only numbered names: keys and values are
    arguments, never text in the code.
    """
    names = range(width)
    source = (
        "def make(keys, columns):\n"
        f"    {''.join(f'k{i}, ' for i in names)}= keys\n"
        f"    return [{{{', '.join(f'k{i}: v{i}' for i in names)}}}\n"
        f"            for {''.join(f'v{i}, ' for i in names)}in zip(*columns)]\n"
    )
    namespace = {}
    exec(compile(source, f"<row_mapping dict maker {width}>", "exec"), namespace)  # noqa: S102
    return namespace["make"]


def plan(lines: Iterable[mapping_out.LineSpec], model: str, schema: Schema) -> RowPlan | None:
    """Return the :class:`RowPlan` of ``lines`` on ``model``, or None when a line
    needs the generic builder (script, nested mapping, x2many, non-column field,
    inconsistent lines)."""
    try:
        compiled = mapping_out.compile_lines(lines)
    except mapping_out.MappingError:
        return None  # the generic builder reports the problem
    columns: dict[tuple[str, ...], dict[str, None]] = {(): {"id": None}}
    models = {(): model}
    links: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {}
    out = []
    for line in compiled:
        if line.kind not in ("plain", "relational") or line.sub is not None or not line.field:
            return None
        path = (line.field, *line.path) if line.kind == "relational" else (line.field,)
        current = model
        for depth, name in enumerate(path):
            info = schema(current, name)
            if info is None:
                return None
            ftype, comodel = info
            prefix = path[:depth]
            columns[prefix][name] = None
            if depth == len(path) - 1:
                break
            if ftype != "many2one" or not comodel:
                return None  # the generic builder explains the broken path
            step = path[: depth + 1]
            if step not in models:
                models[step] = comodel
                columns[step] = {"id": None}
                links[step] = (prefix, name)
            current = comodel
        out.append((line.parents, line.leaf, path, ftype))
    sources = tuple(
        Source(path=p, model=models[p], columns=tuple(columns[p]),
               parent=links[p][0] if p else None, via=links[p][1] if p else None)
        for p in sorted(columns, key=len)
    )
    return RowPlan(sources, tuple(out))
