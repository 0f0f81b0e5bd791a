"""Minimal safetensors writer/reader: 8-byte little-endian header length, JSON header
{name: {dtype, shape, data_offsets}}, then the raw little-endian tensor bytes in header
order. The header is space-padded to a multiple of 8 bytes."""
import json
import os
import struct

import numpy as np

_DTYPES = {np.dtype("float16"): "F16", np.dtype("float32"): "F32"}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def write(path, arrays, metadata=None):
    """arrays: dict name -> numpy array (float16/float32); written in sorted name order."""
    header = {}
    offset = 0
    names = sorted(arrays)
    blobs = []
    for name in names:
        a = np.ascontiguousarray(arrays[name])
        blob = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dt = _NUMPY[info["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[base + start:base + end], dtype=dt).reshape(info["shape"])
    return out
