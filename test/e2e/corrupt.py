"""Damages an executable written by `mcc compile`, for the integrity tests.

  corrupt.py flip-tensor EXE NAME     flip a byte inside tensor NAME's data (raw packing)
  corrupt.py flip-data EXE OFFSET     flip the byte OFFSET bytes into the stored weight data
  corrupt.py flip-header EXE          flip a byte inside the header JSON
  corrupt.py set-version EXE V        rewrite the trailer's format version
  corrupt.py cut EXE OUT N            copy EXE without its last N bytes

The trailer is the last 48 bytes: data_offset, header_offset, header_size,
header_hash (u64 each), version, reserved (u32 each), magic (8 bytes).
"""
import json
import shutil
import struct
import sys


def trailer(f):
    f.seek(-48, 2)
    return struct.unpack("<QQQQII8s", f.read(48))


def flip(f, at):
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x55]))


def main():
    cmd, exe = sys.argv[1], sys.argv[2]
    if cmd == "cut":
        n = int(sys.argv[4])
        with open(exe, "rb") as f:
            data = f.read()
        with open(sys.argv[3], "wb") as f:
            f.write(data[:-n])
        shutil.copymode(exe, sys.argv[3])
        return
    with open(exe, "r+b") as f:
        data_off, header_off, header_size, _, version, _, _ = trailer(f)
        if cmd == "flip-tensor":
            f.seek(header_off)
            header = json.loads(f.read(header_size))
            w = next(w for w in header["weights"] if w["name"] == sys.argv[3])
            flip(f, data_off + w["data"]["offset"] + w["data"]["bytes"] // 2)
        elif cmd == "flip-data":
            flip(f, data_off + int(sys.argv[3]))
        elif cmd == "flip-header":
            flip(f, header_off + header_size // 2)
        elif cmd == "set-version":
            f.seek(-16, 2)
            f.write(struct.pack("<I", int(sys.argv[3])))
        else:
            sys.exit(f"corrupt.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
