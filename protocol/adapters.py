"""The few construct building blocks the message catalogue uses, shared in one place.

The catalogue is restricted to these and to construct's fixed-size fields (FormatField,
Bytes(n), nested Struct) so that gen_codec.py can translate it into the firmware's
struct-based codec.
"""

from construct import Adapter, Construct, ListContainer, ValidationError, stream_read, stream_write


class CodeEnum(Adapter):
    """An integer field holding a member of an IntEnum; unknown values raise on parse and build."""

    def __init__(self, subcon, enum):
        super().__init__(subcon)
        self.enum = enum

    def _decode(self, obj, context, path):
        try:
            return self.enum(obj)
        except ValueError:
            raise ValidationError(f"unknown {self.enum.__name__} value {obj}", path=path) from None

    def _encode(self, obj, context, path):
        try:
            return int(self.enum(obj))
        except ValueError:
            raise ValidationError(f"unknown {self.enum.__name__} value {obj!r}", path=path) from None


class Counted(Construct):
    """A list preceded by its item count (the count field is not a separate key)."""

    def __init__(self, countfield, subcon, max_count=None):
        super().__init__()
        self.countfield = countfield
        self.subcon = subcon
        self.max_count = max_count

    def _check(self, count, path):
        if self.max_count is not None and count > self.max_count:
            raise ValidationError(f"{count} items, at most {self.max_count}", path=path)

    def _parse(self, stream, context, path):
        count = self.countfield._parsereport(stream, context, path)
        self._check(count, path)
        return ListContainer(self.subcon._parsereport(stream, context, path) for _ in range(count))

    def _build(self, obj, stream, context, path):
        items = list(obj)
        self._check(len(items), path)
        self.countfield._build(len(items), stream, context, path)
        return ListContainer(self.subcon._build(item, stream, context, path) for item in items)

    def _sizeof(self, context, path):
        from construct import SizeofError

        raise SizeofError("Counted has no fixed size", path=path)


class VarBytes(Construct):
    """A byte string preceded by its length."""

    def __init__(self, lengthfield, max_length=None):
        super().__init__()
        self.lengthfield = lengthfield
        self.max_length = max_length

    def _check(self, length, path):
        if self.max_length is not None and length > self.max_length:
            raise ValidationError(f"{length} bytes, at most {self.max_length}", path=path)

    def _parse(self, stream, context, path):
        length = self.lengthfield._parsereport(stream, context, path)
        self._check(length, path)
        return stream_read(stream, length, path)

    def _build(self, obj, stream, context, path):
        data = bytes(obj)
        self._check(len(data), path)
        self.lengthfield._build(len(data), stream, context, path)
        stream_write(stream, data, len(data), path)
        return data
