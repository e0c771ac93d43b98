"""A small CBOR (RFC 8949) encoder and decoder for the tests: no CBOR package is
installed for the machine's python3. The encoder writes what Jackson's
CBORGenerator (the AWS SDKs for Java) writes: indefinite-length maps and
arrays, definite strings, byte strings for bytes, tag 1 for dates."""

import struct


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return f"Tag({self.tag}, {self.value!r})"


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError("integer too large")


def encode(v, indefinite=True):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, Tag):
        return _head(6, v.tag) + encode(v.value, indefinite)
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, (bytes, bytearray)):
        return _head(2, len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, (list, tuple)):
        body = b"".join(encode(x, indefinite) for x in v)
        return (b"\x9f" + body + b"\xff") if indefinite else _head(4, len(v)) + body
    if isinstance(v, dict):
        body = b"".join(encode(k, indefinite) + encode(x, indefinite) for k, x in v.items())
        return (b"\xbf" + body + b"\xff") if indefinite else _head(5, len(v)) + body
    raise TypeError(type(v))


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated CBOR")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def item(self):
        ib = self.take(1)[0]
        major, ai = ib >> 5, ib & 31
        if ib == 0xff:
            return _BREAK
        if major == 7:
            if ai == 20:
                return False
            if ai == 21:
                return True
            if ai in (22, 23):
                return None
            if ai == 25:
                return struct.unpack(">e", self.take(2))[0]
            if ai == 26:
                return struct.unpack(">f", self.take(4))[0]
            if ai == 27:
                return struct.unpack(">d", self.take(8))[0]
            raise ValueError(f"simple value {ai}")
        if ai == 31:
            n = None
        elif ai < 24:
            n = ai
        else:
            n = int.from_bytes(self.take(1 << (ai - 24)), "big")
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            if n is None:
                parts = []
                while (p := self.item()) is not _BREAK:
                    parts.append(p)
                raw = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
            else:
                raw = self.take(n)
            return raw if major == 2 else raw.decode()
        if major == 4:
            out = []
            while n is None or len(out) < n:
                x = self.item()
                if x is _BREAK:
                    break
                out.append(x)
            return out
        if major == 5:
            out = {}
            while n is None or len(out) < n:
                k = self.item()
                if k is _BREAK:
                    break
                out[k] = self.item()
            return out
        if major == 6:
            return Tag(n, self.item())
        raise ValueError(f"major type {major}")


_BREAK = object()


def decode(data):
    r = _Reader(bytes(data))
    v = r.item()
    if r.pos != len(r.data):
        raise ValueError("trailing bytes after the CBOR item")
    return v
