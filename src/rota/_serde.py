"""Payload encoding by the handler's annotation: JSON on the wire (msgspec), typed on decode.

Supported annotations: anything msgspec understands (primitives, dataclasses, TypedDict,
NamedTuple, enums, datetime, UUID, msgspec Structs, containers of these) and pydantic models.
Pickle is never used.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

import msgspec

from rota._errors import PayloadError


class Codec(Protocol):
    """Turns one task's payload into bytes and back, validating against its type."""

    def encode(self, value: Any) -> bytes: ...
    def decode(self, data: bytes) -> Any: ...


_json_encoder = msgspec.json.Encoder()


def _is_pydantic_model(tp: Any) -> bool:
    # A pydantic model exists only once pydantic is imported, so every other payload type is
    # told apart without importing it (pydantic costs a worker ~9 MB resident and ~0.2 s).
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return False
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


class MsgspecCodec:
    """JSON via msgspec, decoded and validated into ``tp``."""

    def __init__(self, tp: Any) -> None:
        self.tp = tp
        try:
            self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(tp)
        except TypeError as exc:
            raise PayloadError(f"payload type {tp!r} is not supported: {exc}") from exc

    def encode(self, value: Any) -> bytes:
        try:
            data = _json_encoder.encode(value)
        except (TypeError, ValueError, msgspec.EncodeError) as exc:  # ValueError: lone surrogates
            raise PayloadError(f"payload cannot be encoded as JSON: {exc}") from exc
        # Validate by decoding: a payload that does not fit fails now, at enqueue, not in the worker.
        self.decode(data)
        return data

    def decode(self, data: bytes) -> Any:
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise PayloadError(f"payload does not fit {_type_name(self.tp)}: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise PayloadError(f"payload is not valid JSON: {exc}") from exc


class PydanticCodec:
    def __init__(self, tp: Any) -> None:
        from pydantic import TypeAdapter

        self.tp = tp
        self._adapter = TypeAdapter(tp)

    def encode(self, value: Any) -> bytes:
        from pydantic import ValidationError

        try:
            model = value if isinstance(value, self.tp) else self._adapter.validate_python(value)
            return bytes(self._adapter.dump_json(model))
        except ValidationError as exc:
            raise PayloadError(f"payload does not fit {_type_name(self.tp)}: {_first_line(exc)}") from exc
        except ValueError as exc:  # e.g. a lone surrogate pydantic cannot serialise
            raise PayloadError(f"payload cannot be encoded as JSON: {_first_line(exc)}") from exc

    def decode(self, data: bytes) -> Any:
        from pydantic import ValidationError

        try:
            return self._adapter.validate_json(data)
        except ValidationError as exc:
            raise PayloadError(f"payload does not fit {_type_name(self.tp)}: {_first_line(exc)}") from exc


def codec_for(tp: Any) -> Codec:
    if _is_pydantic_model(tp):
        return PydanticCodec(tp)
    return MsgspecCodec(tp)


def encode_json(value: Any) -> bytes:
    """Untyped JSON (for results and CLI input)."""
    try:
        return _json_encoder.encode(value)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise PayloadError(f"value cannot be encoded as JSON: {exc}") from exc


def decode_json(data: bytes | str) -> Any:
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise PayloadError(f"not valid JSON: {exc}") from exc


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in text[:3])
