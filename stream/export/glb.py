"""A minimal glTF 2.0 binary (GLB) container writer: one buffer, one bufferView per accessor.

    doc = GltfDocument()
    acc = doc.add_accessor(positions.astype(np.float32), "VEC3", target=ARRAY_BUFFER, bounds=True)
    doc.json["meshes"].append(...)
    data = doc.to_glb()                     # bytes: header, JSON chunk, BIN chunk

Layout per the glTF 2.0 specification (section "Binary glTF Layout"): a 12-byte header (magic
``glTF``, version 2, total length), a JSON chunk padded with spaces and a BIN chunk padded with zeros,
both to 4 bytes. Every bufferView starts at a multiple of 4 bytes and holds one accessor's tightly
packed data.
"""
from __future__ import annotations

import json
import struct

import numpy as np

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
COMPONENT_TYPES = {np.dtype(np.int8): 5120, np.dtype(np.uint8): 5121, np.dtype(np.int16): 5122,
                   np.dtype(np.uint16): 5123, np.dtype(np.uint32): 5125, np.dtype(np.float32): 5126}
TYPE_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_MAGIC, _JSON, _BIN = 0x46546C67, 0x4E4F534A, 0x004E4942


class GltfDocument:
    """glTF JSON plus the bytes of its one buffer; ``to_glb`` packs both."""

    def __init__(self, generator: str):
        self.json: dict = {"asset": {"version": "2.0", "generator": generator}, "scene": 0,
                           "scenes": [{"nodes": []}], "nodes": [], "meshes": [], "materials": [], "skins": [],
                           "animations": [], "accessors": [], "bufferViews": [], "buffers": []}
        self._chunks: list[bytes] = []
        self._length = 0

    def add_accessor(self, data: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        """Append ``data`` (count, width) or (count,) as one accessor of type ``kind``; returns its index.

        ``bounds`` writes ``min``/``max`` (required for POSITION and animation inputs).
        """
        data = np.ascontiguousarray(data)
        if data.dtype not in COMPONENT_TYPES:
            raise TypeError(f"accessor data of dtype {data.dtype}: expected one of {sorted(map(str, COMPONENT_TYPES))}")
        width = TYPE_WIDTH[kind]
        flat = data.reshape(len(data), -1) if data.ndim > 1 else data.reshape(-1, 1)
        if flat.shape[1] != width:
            raise ValueError(f"accessor of type {kind} needs {width} components per element, got {flat.shape[1]}")
        view = {"buffer": 0, "byteOffset": self._length, "byteLength": data.nbytes}
        if target is not None:
            view["target"] = target
        raw = data.tobytes()
        self._chunks.append(raw + b"\0" * (-len(raw) % 4))
        self._length += len(self._chunks[-1])
        self.json["bufferViews"].append(view)
        accessor = {"bufferView": len(self.json["bufferViews"]) - 1, "componentType": COMPONENT_TYPES[data.dtype],
                    "count": len(flat), "type": kind}
        if bounds:
            cast = float if data.dtype.kind == "f" else int
            accessor["min"] = [cast(v) for v in flat.min(axis=0)]
            accessor["max"] = [cast(v) for v in flat.max(axis=0)]
        self.json["accessors"].append(accessor)
        return len(self.json["accessors"]) - 1

    def add_node(self, node: dict) -> int:
        self.json["nodes"].append(node)
        return len(self.json["nodes"]) - 1

    def to_glb(self) -> bytes:
        doc = dict(self.json)
        doc["buffers"] = [{"byteLength": self._length}]
        for key in ("meshes", "materials", "skins", "animations", "cameras"):  # no empty arrays (spec: minItems 1)
            if key in doc and not doc[key]:
                del doc[key]
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
        text += b" " * (-len(text) % 4)
        binary = b"".join(self._chunks)
        total = 12 + 8 + len(text) + 8 + len(binary)
        return b"".join([struct.pack("<III", _MAGIC, 2, total), struct.pack("<II", len(text), _JSON), text,
                         struct.pack("<II", len(binary), _BIN), binary])
