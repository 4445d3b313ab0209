#!/usr/bin/env python3
"""numpy's side of groove's NPY/NPZ round-trip test (tests/runtime/test_npy.cpp).

  npy_roundtrip.py check DIR [--stored=F.npz] [--deflated=F.npz] SPEC...
      np.load's the files groove wrote and checks them exactly. SPEC is FILE.npy=DTYPE:SHAPE or
      FILE.npz/NAME=DTYPE:SHAPE (DTYPE f4, f8 or i4; SHAPE like 3x5, empty for a 0-d array). NPZ
      members must appear in the order given. Values follow the formulas below, so both sides can
      compute them: float element i is i * 0.5 + 1, int32 element i is i * 3 - 7.
  npy_roundtrip.py write DIR
      writes py_*.npy / py*.npz with np.save, np.lib.format.write_array (format 2.0 and 3.0),
      np.savez and np.savez_compressed, for groove to read back (the test knows the same list).

Exits non-zero with a message naming the file on any mismatch.
"""
import io
import os
import sys
import zipfile

import numpy as np


def fail(msg):
    print("npy_roundtrip.py: FAIL: " + msg)
    sys.exit(1)


def expected(dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.int64)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        values = (i * 0.5 + 1).astype(dtype)
    elif dtype.kind == "b":
        values = i % 3 == 0
    elif dtype.kind == "u":
        values = (i * 3 + 5).astype(dtype)
    else:
        values = (i * 3 - 7).astype(dtype)
    return values.reshape(shape)


def parse_spec(spec):
    target, _, kind = spec.partition("=")
    dtype, _, dims = kind.partition(":")
    if dtype not in ("f4", "f8", "i4"):
        fail("bad spec %r" % spec)
    shape = tuple(int(d) for d in dims.split("x")) if dims else ()
    return target, np.dtype("<" + dtype), shape


def same(actual, want, what):
    if actual.dtype != want.dtype:
        fail("%s: dtype %s, expected %s" % (what, actual.dtype, want.dtype))
    if actual.shape != want.shape:
        fail("%s: shape %s, expected %s" % (what, actual.shape, want.shape))
    if actual.tobytes() != want.tobytes():
        bad = np.flatnonzero(actual.reshape(-1) != want.reshape(-1))
        first = int(bad[0]) if bad.size else -1
        fail("%s: values differ (first at flat index %d: %r vs expected %r)"
             % (what, first, actual.reshape(-1)[first], want.reshape(-1)[first]))


def check_npy_layout(path, want):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"\x93NUMPY\x01\x00":
        fail("%s: does not start with the NPY 1.0 magic: %r" % (path, raw[:8]))
    offset = 10 + int.from_bytes(raw[8:10], "little")
    if offset % 64 != 0:
        fail("%s: data offset %d is not a multiple of 64" % (path, offset))
    if raw[offset - 1:offset] != b"\n":
        fail("%s: header does not end with a newline" % path)
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        header = np.lib.format.read_array_header_1_0(f)
    if header != (want.shape, False, want.dtype):
        fail("%s: header %r, expected %r" % (path, header, (want.shape, False, want.dtype)))
    # numpy >= 1.23 pads the header for the growth axis; groove does the same, so the files match.
    if hasattr(np.lib.format, "GROWTH_AXIS_MAX_DIGITS"):
        buf = io.BytesIO()
        np.save(buf, want)
        if buf.getvalue() != raw:
            fail("%s: bytes differ from np.save's for the same array:\n  groove %r\n  numpy  %r"
                 % (path, raw[:offset], buf.getvalue()[:offset]))


def check(directory, args):
    npz_members = {}
    compression = {}
    for arg in args:
        if arg.startswith("--stored="):
            compression[arg.split("=", 1)[1]] = zipfile.ZIP_STORED
            continue
        if arg.startswith("--deflated="):
            compression[arg.split("=", 1)[1]] = zipfile.ZIP_DEFLATED
            continue
        target, dtype, shape = parse_spec(arg)
        want = expected(dtype, shape)
        if target.endswith(".npy"):
            path = os.path.join(directory, target)
            same(np.load(path, allow_pickle=False), want, path)
            check_npy_layout(path, want)
            print("ok %s %s %s" % (target, dtype, shape))
        else:
            file, _, name = target.partition("/")
            npz_members.setdefault(file, []).append((name, want))

    for file, members in npz_members.items():
        path = os.path.join(directory, file)
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            if bad is not None:
                fail("%s: member %s fails its CRC check" % (path, bad))
            names = [info.filename for info in z.infolist()]
            if names != [name + ".npy" for name, _ in members]:
                fail("%s: members %s, expected %s" % (path, names, [n + ".npy" for n, _ in members]))
            for info in z.infolist():
                if file in compression and info.compress_type != compression[file]:
                    fail("%s: member %s has compression %d, expected %d"
                         % (path, info.filename, info.compress_type, compression[file]))
        with np.load(path, allow_pickle=False) as data:
            if list(data.files) != [name for name, _ in members]:
                fail("%s: np.load sees arrays %s" % (path, data.files))
            for name, want in members:
                same(data[name], want, "%s[%s]" % (path, name))
        print("ok %s (%d arrays)" % (file, len(members)))
    if not args:
        fail("nothing to check")


def write(directory):
    def p(name):
        return os.path.join(directory, name)

    np.save(p("py_f4.npy"), expected("<f4", (3, 4)))
    np.save(p("py_f8.npy"), expected("<f8", (2, 3, 5)))
    np.save(p("py_i4.npy"), expected("<i4", (11,)))
    np.save(p("py_i8.npy"), expected("<i8", (3, 4)))
    np.save(p("py_i1.npy"), expected("i1", (20,)))
    np.save(p("py_i2.npy"), expected("<i2", (4, 5)))
    np.save(p("py_u1.npy"), expected("u1", (20,)))
    np.save(p("py_u2.npy"), expected("<u2", (6,)))
    np.save(p("py_u4.npy"), expected("<u4", (6,)))
    np.save(p("py_u8.npy"), expected("<u8", (6,)))
    np.save(p("py_bool.npy"), expected("?", (2, 5)))
    np.save(p("py_scalar.npy"), np.array(42.5))
    np.save(p("py_scalar_i8.npy"), np.array(-5, dtype=np.int64))
    np.save(p("py_empty.npy"), np.zeros((0, 3), dtype=np.float32))
    with open(p("py_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, expected("<f4", (3, 4)), version=(2, 0))
    with open(p("py_v3.npy"), "wb") as f:
        np.lib.format.write_array(f, expected("<f8", (5,)), version=(3, 0))
    # Fortran order (numpy writes it for F-contiguous arrays): read back in row-major order.
    np.save(p("py_fortran.npy"), np.asfortranarray(expected("<f4", (2, 3))))
    np.save(p("py_fortran3.npy"), np.asfortranarray(expected("<i8", (2, 3, 4))))
    # Files groove must refuse.
    big = expected("<i8", (8,))
    big[5] = 2**40
    np.save(p("py_big_i8.npy"), big)
    np.save(p("py_be.npy"), expected(">f4", (4,)))
    np.save(p("py_c8.npy"), np.ones(3, dtype=np.complex64))

    arrays = {"a": expected("<f4", (3, 4)), "b": expected("<i8", (5,)), "c": np.array(42.5)}
    np.savez(p("py.npz"), **arrays)
    # savez_compressed with a larger array, so the deflate stream spans several blocks.
    np.savez_compressed(p("py_compressed.npz"), expected("<f4", (100, 50)), w=expected("<f8", (7, 3)),
                        b=expected("?", (9,)))
    print("wrote numpy files to %s (numpy %s)" % (directory, np.__version__))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("check", "write"):
        fail("usage: npy_roundtrip.py check DIR SPEC... | write DIR")
    if sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3:])
    else:
        write(sys.argv[2])


if __name__ == "__main__":
    main()
