"""Reads a TensorBoard event file without TensorFlow: checks each record's
length and payload CRC-32C (masked as TensorFlow masks it) and decodes the
Event protobuf's scalar summaries by hand, so the C++ writer is checked
against an implementation that shares nothing with it.

    read_tfevents.py FILE  ->  prints JSON {"file_version": ..., "scalars": {tag: [[step, value, wall_time], ...]}}
"""
import json
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    """(field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def read(path):
    data = open(path, "rb").read()
    out = {"file_version": None, "scalars": {}}
    i = 0
    while i < len(data):
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[i + 8:i + 12])
        assert length_crc == masked(header), f"{path}: bad length CRC at byte {i}"
        payload = data[i + 12:i + 12 + length]
        (payload_crc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        assert payload_crc == masked(payload), f"{path}: bad payload CRC at byte {i}"
        i += 16 + length
        wall_time, step = None, 0
        values = []
        for number, _, value in fields(payload):
            if number == 1:
                (wall_time,) = struct.unpack("<d", value)
            elif number == 2:
                step = value
            elif number == 3:
                out["file_version"] = value.decode()
            elif number == 5:  # Summary
                for vnum, _, v in fields(value):
                    if vnum != 1:
                        continue
                    tag, simple = None, None
                    for n, _, x in fields(v):
                        if n == 1:
                            tag = x.decode()
                        elif n == 2:
                            (simple,) = struct.unpack("<f", x)
                    values.append((tag, simple))
        for tag, simple in values:
            out["scalars"].setdefault(tag, []).append([step, simple, wall_time])
    return out


if __name__ == "__main__":
    json.dump(read(sys.argv[1]), sys.stdout)
