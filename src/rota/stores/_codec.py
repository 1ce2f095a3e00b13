"""One codec for the records every store keeps, driven by the models' fields.

The fields of ``Job``, ``Attempt``, ``Schedule``, ``Lease`` and ``WorkerInfo`` and their
kinds (text, int, float, bool, bytes, datetime, enum, and JSON for ``dict[str, str]`` and
``tuple[str, ...]``; optional or not) are read from the dataclasses and their type hints,
so a field added to a model is encoded and decoded everywhere without a
line here. What differs between backends is only how one *kind* of value is stored: a
backend's ``_codec.py`` declares its ``Leaves`` (SQLite keeps times as integer microseconds,
Redis every value as bytes and times as milliseconds, MongoDB times as BSON dates; PostgreSQL's
driver takes most values as they are) and gets a ``Codec`` per model from them.

Stores copy rows on every claim, so the converters are compiled once per (model, leaves):
``from_row`` unpacks a row and builds the record positionally, with the backend's converter
called only on the fields that need one, as fast as the hand-written decoders it replaces.
The generated source is built from field names and indexes only, never from stored data.

A job that cannot be decoded is never an error (see _salvage.py): ``Codec.job_from_*``
salvage it field by field. An attempt is read leniently (a value that cannot be read becomes
a neutral stand-in, as the history is only informative); schedules and leases, written only
by rota, are read strictly.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from rota._models import Attempt, Job, Outcome
from rota.stores._salvage import EPOCH, checked, salvage

M = TypeVar("M")
Convert = Callable[[Any], Any]

#: What a decoder may raise on a value no version of rota writes.
DECODE_ERRORS = (KeyError, ValueError, TypeError, OverflowError, OSError, AttributeError)


class Kind(enum.Enum):
    TEXT = str
    INT = int
    FLOAT = float
    BOOL = bool
    BYTES = bytes
    TIME = datetime
    ENUM = enum.Enum
    JSON = object  # dict[str, str] or tuple[str, ...]: a backend stores it as JSON or natively


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: Kind
    optional: bool
    enum: type[enum.Enum] | None = None
    shape: type | None = None  # for JSON: dict or tuple
    #: a mapping may leave the field out when it holds ``default`` (``rota._models.SPARSE``)
    sparse: bool = False
    default: Any = None


def fields_of(model: type[Any]) -> tuple[FieldSpec, ...]:
    """The stored fields of a model dataclass, from its type hints. A field that is not
    compared (``Job.defect``) is derived on reading and never stored."""
    hints = typing.get_type_hints(model)
    specs: list[FieldSpec] = []
    for f in dataclasses.fields(model):
        if not f.compare:
            continue
        hint, optional = hints[f.name], False
        sparse: dict[str, Any] = {"sparse": bool(f.metadata.get("sparse")), "default": f.default}
        if isinstance(hint, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            hint, optional = args[0], len(args) < len(typing.get_args(hint))
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            specs.append(FieldSpec(f.name, Kind.ENUM, optional, hint, **sparse))
        elif typing.get_origin(hint) in (dict, tuple):
            specs.append(FieldSpec(f.name, Kind.JSON, optional, shape=typing.get_origin(hint), **sparse))
        else:
            specs.append(FieldSpec(f.name, Kind(hint), optional, **sparse))
    return tuple(specs)


@dataclass(frozen=True)
class Leaves:
    """How one backend stores each kind of value: per kind, (to stored, from stored), each
    None where the value is stored as it is. Enums are stored as their value, transformed by
    ``enum_key`` (``str.encode`` where the store hands back bytes). A JSON value read back is
    checked for its shape (a dict of text to text, or a sequence of text, made a tuple)."""

    text: tuple[Convert | None, Convert | None] = (None, None)
    int: tuple[Convert | None, Convert | None] = (None, None)
    float: tuple[Convert | None, Convert | None] = (None, None)
    bool: tuple[Convert | None, Convert | None] = (None, None)
    bytes: tuple[Convert | None, Convert | None] = (None, None)
    time: tuple[Convert | None, Convert | None] = (None, None)
    json: tuple[Convert | None, Convert | None] = (None, None)
    enum_key: Convert | None = None

    def encoder(self, spec: FieldSpec) -> Convert | None:
        if spec.kind is Kind.ENUM:
            return _enum_value
        return self._pair(spec.kind)[0]

    def decoder(self, spec: FieldSpec) -> Convert | None:
        if spec.kind is Kind.ENUM:
            assert spec.enum is not None
            key = self.enum_key or (lambda value: value)
            return {key(member.value): member for member in spec.enum}.__getitem__
        if spec.kind is Kind.JSON:
            shaped = _text_map if spec.shape is dict else _text_tuple
            stored = self.json[1]
            return shaped if stored is None else (lambda value: shaped(stored(value)))
        return self._pair(spec.kind)[1]

    def _pair(self, kind: Kind) -> tuple[Convert | None, Convert | None]:
        pair: tuple[Convert | None, Convert | None] = getattr(self, kind.name.lower())
        return pair


def _enum_value(member: enum.Enum) -> Any:
    return member.value


def _text_map(value: Any) -> dict[str, str]:
    if type(value) is not dict or not all(type(k) is str and type(v) is str for k, v in value.items()):
        raise TypeError(f"expected a mapping of text to text, found {type(value).__name__}")
    return value


def _text_tuple(value: Any) -> tuple[str, ...]:
    if type(value) not in (list, tuple) or not all(type(v) is str for v in value):
        raise TypeError(f"expected a list of text, found {type(value).__name__}")
    return tuple(value)


class Codec(Generic[M]):
    """Encoding and decoding of one model for one backend.

    Rows are sequences in field order (the column order of rota's tables), or in the order
    of ``columns`` where a table's columns are not the model's fields in order (a migration
    appended a column that is no field before fields added later): decoding skips the
    columns that are no field. Mappings are keyed by ``keys`` (field name -> key; the name
    itself where absent). Optional fields are None in both directions; a required field
    missing from a mapping is a KeyError, except for the fields named in ``sparse``, which
    this backend treats as sparse too (left out of a mapping when they hold their default,
    as the model's own sparse fields: Redis keeps job hashes small that way).
    """

    def __init__(
        self,
        model: type[M],
        leaves: Leaves,
        keys: Mapping[str, Hashable] | None = None,
        *,
        columns: Sequence[str] | None = None,
        sparse: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.fields = tuple(
            dataclasses.replace(f, sparse=True) if f.name in sparse else f for f in fields_of(model)
        )
        if unknown := set(sparse) - {f.name for f in self.fields}:
            raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
        #: field name -> default, for the fields a mapping may leave out
        self.sparse_defaults = {f.name: f.default for f in self.fields if f.sparse}
        self.names = tuple(f.name for f in self.fields)
        self.columns: tuple[str, ...] = self.names if columns is None else tuple(columns)
        if sorted(set(self.names) & set(self.columns)) != sorted(self.names):
            raise ValueError(f"columns of {model.__name__} lack {set(self.names) - set(self.columns)}")
        self.keys: tuple[Any, ...] = tuple((keys or {}).get(n, n) for n in self.names)
        self._leaves = leaves
        #: field name -> converter from the stored form (None stays None for optional fields)
        self.decoders: dict[str, Convert] = {}
        for f in self.fields:
            dec = leaves.decoder(f)
            if dec is not None:
                self.decoders[f.name] = _or_none(dec) if f.optional else dec
        self.from_row: Callable[[Sequence[Any]], M] = self._compile_from_row()
        self.from_mapping: Callable[[Mapping[Any, Any]], M] = self._compile_from_mapping()
        self.to_row = self.row_encoder(self.names)
        self.to_mapping: Callable[[M], dict[Any, Any]] = self._compile_to_mapping()

    # -- decoding ------------------------------------------------------------------------------

    def _compile_from_row(self) -> Callable[[Sequence[Any]], M]:
        index = {name: i for i, name in enumerate(self.names)}
        targets = [f"v{index[c]}" if c in index else "_" for c in self.columns]
        values = [f"v{i}" for i in range(len(self.fields))]
        args = [self._decode_expr(f, v) for f, v in zip(self.fields, values, strict=True)]
        body = f"    ({', '.join(targets)},) = row\n    return model({', '.join(args)})"
        return self._compile("row", body)

    def _compile_from_mapping(self) -> Callable[[Mapping[Any, Any]], M]:
        lines, args = [], []
        for i, f in enumerate(self.fields):
            lookup = f"m.get(k{i})" if f.optional or f.sparse else f"m[k{i}]"
            lines.append(f"    v{i} = {lookup}")
            decoded = self._decode_expr(f, f"v{i}")
            args.append(f"(z_{f.name} if v{i} is None else {decoded})" if f.sparse else decoded)
        body = "\n".join(lines) + f"\n    return model({', '.join(args)})"
        return self._compile("m", body)

    def _decode_expr(self, f: FieldSpec, value: str) -> str:
        if self._leaves.decoder(f) is None:
            return value
        call = f"d_{f.name}({value})"
        return f"(None if {value} is None else {call})" if f.optional else call

    # -- encoding ------------------------------------------------------------------------------

    def row_encoder(self, names: tuple[str, ...]) -> Callable[[M], tuple[Any, ...]]:
        """A function giving the stored values of ``names``, in that order (build it once)."""
        by_name = {f.name: f for f in self.fields}
        items = [self._encode_expr(by_name[n], f"o.{n}") for n in names]
        return self._compile("o", f"    return ({', '.join(items)},)")

    def pairs_encoder(self, names: tuple[str, ...]) -> Callable[[M], list[Any]]:
        """A function giving ``[key, stored value, ...]`` for ``names``, leaving out the
        optional fields that are None and the sparse ones that hold their default (a Redis
        hash keeps no field for them)."""
        by_name = {f.name: f for f in self.fields}
        key_of = dict(zip(self.names, range(len(self.names)), strict=True))
        required = [n for n in names if not by_name[n].optional and not by_name[n].sparse]
        head = ", ".join(f"k{key_of[n]}, {self._encode_expr(by_name[n], f'o.{n}')}" for n in required)
        lines = [f"    out = [{head}]"]
        for n in names:
            if by_name[n].sparse:
                value = self._encode_expr(by_name[n], "v", optional=False)
                lines.append(f"    if (v := o.{n}) != z_{n}:\n        out += (k{key_of[n]}, {value})")
            elif by_name[n].optional:
                value = self._encode_expr(by_name[n], "v", optional=False)
                lines.append(f"    if (v := o.{n}) is not None:\n        out += (k{key_of[n]}, {value})")
        return self._compile("o", "\n".join([*lines, "    return out"]))

    def _compile_to_mapping(self) -> Callable[[M], dict[Any, Any]]:
        items = [f"k{i}: {self._encode_expr(f, f'o.{f.name}')}" for i, f in enumerate(self.fields)]
        return self._compile("o", f"    return {{{', '.join(items)}}}")

    def _encode_expr(self, f: FieldSpec, value: str, *, optional: bool | None = None) -> str:
        if self._leaves.encoder(f) is None:
            return value
        call = f"e_{f.name}({value})"
        optional = f.optional if optional is None else optional
        return f"(None if (x := {value}) is None else e_{f.name}(x))" if optional else call

    # -- the generated functions ---------------------------------------------------------------

    def _compile(self, arg: str, body: str) -> Callable[[Any], Any]:
        namespace: dict[str, Any] = {"model": self.model}
        for i, (f, key) in enumerate(zip(self.fields, self.keys, strict=True)):
            namespace[f"k{i}"] = key
            namespace[f"d_{f.name}"] = self._leaves.decoder(f)
            namespace[f"e_{f.name}"] = self._leaves.encoder(f)
            namespace[f"z_{f.name}"] = f.default
        source = f"def generated({arg}):\n{body}\n"
        # built from the model's field names and indexes only (see the module docstring)
        exec(compile(source, f"<codec {self.model.__name__}>", "exec"), namespace)  # noqa: S102
        generated: Callable[[Any], Any] = namespace["generated"]
        return generated

    # -- records that may hold what no version of rota writes -----------------------------------

    def job_from_row(self: Codec[Job], row: Sequence[Any]) -> Job:
        """The job of a row (``Codec[Job]`` only); one that cannot be fully read gives a job
        with ``defect`` set (see rota.stores._salvage), never an error."""
        try:
            job = self.from_row(row)
        except DECODE_ERRORS:
            return salvage(row[0], dict(zip(self.columns, row, strict=True)), self.decoders)
        return checked(job)

    def job_from_mapping(self: Codec[Job], m: Mapping[Any, Any]) -> Job:
        """As ``job_from_row``, for a mapping."""
        try:
            job = self.from_mapping(m)
        except DECODE_ERRORS:
            raw = {name: m.get(key) for name, key in zip(self.names, self.keys, strict=True)}
            return salvage(raw["id"], raw, self.decoders, self.sparse_defaults)
        return checked(job)

    def attempt_from_row(self: Codec[Attempt], row: Sequence[Any]) -> Attempt:
        """The attempt of a row (``Codec[Attempt]`` only). The history is only informative:
        a value that cannot be read (or is missing) becomes a neutral stand-in (an unknown
        outcome reads as ``failed``, a time as the epoch), never an error."""
        try:
            return self.from_row(row)
        except DECODE_ERRORS:
            pass
        values = []
        for spec, stored in zip(self.fields, row, strict=True):
            convert = self.decoders.get(spec.name)
            try:
                value = convert(stored) if convert is not None else stored
            except DECODE_ERRORS:
                value = None
            values.append(_ATTEMPT_STAND_INS[spec.name] if value is None else value)
        return Attempt(*values)


def _or_none(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


# what an attempt's value that cannot be read becomes (None: an optional field, left empty)
_ATTEMPT_STAND_INS: Mapping[str, Any] = {
    "job_id": "",
    "number": 0,
    "worker": "",
    "started_at": EPOCH,
    "finished_at": EPOCH,
    "outcome": Outcome.FAILED,
    "error_type": None,
    "error_message": None,
    "traceback": None,
}


def as_utc(value: object) -> datetime:
    """A stored date as an aware UTC datetime (TypeError for anything else)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a date in the store, found {type(value).__name__}")
    if value.tzinfo is None:  # a driver that hands back naive dates means UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
