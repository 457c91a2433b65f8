"""WebSocket frames by hand (RFC 6455 §5) and permessage-deflate with zlib
(RFC 7692), for the HTTP/3 interop scripts: the client masks, the server
does not."""

import os
import struct
import zlib


class Deflate:
    """permessage-deflate with both context takeovers (RFC 7692 §7)."""

    def __init__(self):
        self.compressor = zlib.compressobj(wbits=-15)
        self.decompressor = zlib.decompressobj(wbits=-15)

    def compress(self, data):
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        # RFC 7692 §7.2.1: drop the 00 00 ff ff the sync flush ends with.
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def decompress(self, data):
        return self.decompressor.decompress(data + b"\x00\x00\xff\xff")


def frame(opcode, payload, rsv1=False, fin=True, mask=True):
    """One frame, masked when `mask` (a client's)."""
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + mask_bytes(payload, key)


def mask_bytes(payload, key):
    # XOR by whole integers: fast enough for a MiB.
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def parse_frame(data, expect_masked):
    """A whole frame at the start of `data` (a bytearray, consumed), as
    (fin, rsv1, opcode, payload), or None while incomplete."""
    if len(data) < 2:
        return None
    b0, b1 = data[0], data[1]
    masked = bool(b1 & 0x80)
    if masked != expect_masked:
        raise AssertionError(f"masked frame: {masked}, expected {expect_masked}")
    length = b1 & 0x7F
    offset = 2
    if length == 126:
        if len(data) < 4:
            return None
        (length,) = struct.unpack("!H", data[2:4])
        offset = 4
    elif length == 127:
        if len(data) < 10:
            return None
        (length,) = struct.unpack("!Q", data[2:10])
        offset = 10
    key = None
    if masked:
        if len(data) < offset + 4:
            return None
        key = bytes(data[offset : offset + 4])
        offset += 4
    if len(data) < offset + length:
        return None
    payload = bytes(data[offset : offset + length])
    del data[: offset + length]
    if key is not None:
        payload = mask_bytes(payload, key)
    return bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload


class Messages:
    """Reassembles the messages of one side's frames."""

    def __init__(self, expect_masked):
        self.data = bytearray()
        self.expect_masked = expect_masked
        self.deflate = None
        self.fragments = []
        self.opcode = None
        self.compressed = False

    def next(self):
        """The next control frame or whole message as (opcode, payload), or None."""
        while True:
            parsed = parse_frame(self.data, self.expect_masked)
            if parsed is None:
                return None
            fin, rsv1, opcode, payload = parsed
            if opcode in (0x8, 0x9, 0xA):
                return opcode, payload
            if opcode != 0x0:
                self.opcode, self.compressed, self.fragments = opcode, rsv1, []
            self.fragments.append(payload)
            if fin:
                whole = b"".join(self.fragments)
                if self.compressed:
                    whole = self.deflate.decompress(whole)
                return self.opcode, whole
