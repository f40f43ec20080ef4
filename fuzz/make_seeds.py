#!/usr/bin/env python3
"""Writes the binary seeds of the fuzz corpus: encoded store records (store_decode), tiny images
(image_check) and tiny datasets (dataset). The text seeds are written by hand.

Seeds only start the fuzzer off; the targets check everything they decode. The records follow
common::store's format: the version byte, then bincode 2's standard configuration (varints;
strings and byte vectors are a varint length and the bytes; Option is a 0/1 tag).
Run from anywhere: python3 fuzz/make_seeds.py
"""
import os
import struct
import zlib

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
FORMAT_VERSION = 1


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def varint(n):
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfb" + struct.pack("<H", n)
    if n < 1 << 32:
        return b"\xfc" + struct.pack("<I", n)
    return b"\xfd" + struct.pack("<Q", n)


def text(s):
    b = s.encode() if isinstance(s, str) else s
    return varint(len(b)) + b


def option(s):
    return b"\x00" if s is None else b"\x01" + text(s)


def record(*fields):
    return bytes([FORMAT_VERSION]) + b"".join(fields)


def png(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in ((x * 80) % 256, (y * 120) % 256, 200))
        for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


# a 1x1 GIF89a: global palette of two colours, one LZW-coded pixel
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
       b"!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def jpeg_header(width, height):
    """The markers a baseline JPEG starts with, up to its scan (the header check reads these)."""
    def segment(marker, data):
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(data) + 2) + data

    dqt = segment(0xDB, b"\x00" + bytes([1] * 64))
    sof = segment(0xC0, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00")
    # one DC and one AC table, each with a single 1-bit code for symbol 0
    dht = segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00"
                  + b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00")
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + dqt + sof + dht + sos + b"\x00\x00" + b"\xff\xd9"


def main():
    write("store_decode", "character", record(
        varint(1009610), text("Spider-Man (Peter Parker)"), text("Bitten by a radioactive spider…"),
        text("spider-man-peter-parker"), option("http://marvel.com/characters/54/spider-man"),
        b"\x01", text("2020-07-21T10:30:10-0400")))
    write("store_decode", "character-minimal", record(
        varint(1), text("Ö"), text(""), text("o"), option(None), b"\x00", text("")))
    image = png(3, 2)
    etag = '"%s"' % __import__("hashlib").md5(image).hexdigest()
    write("store_decode", "image", record(text("image/png"), text(etag), varint(len(image)) + image))
    write("store_decode", "dataset-info", record(
        text("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        varint(250), varint(240), varint(240), varint(3), varint(1234567), varint(1700000000),
        text("sample")))

    write("image_check", "tiny.png", image)
    write("image_check", "tiny.gif", GIF)
    write("image_check", "header.jpg", jpeg_header(3, 2))

    json = b"""[
  {"id": 1011334, "name": "3-D Man", "description": "", "modified": "2014-04-29T14:18:17-0400",
   "thumbnail": {"path": "http://i.annihil.us/u/prod/marvel/i/mg/c/e0/535fecbbb9784", "extension": "png"},
   "resourceURI": "http://gateway.marvel.com/v1/public/characters/1011334",
   "comics": {"available": 1, "collectionURI": "c", "items": [{"resourceURI": "r", "name": "Avengers (1998) #1"}], "returned": 1},
   "stories": {"available": 1, "collectionURI": "s", "items": [{"resourceURI": "r", "name": "Cover", "type": "cover"}], "returned": 1},
   "urls": [{"type": "detail", "url": "http://marvel.com/characters/74/3-d_man"}, {"type": "wiki", "url": "w"}]},
  {"id": 1017100, "name": "A-Bomb (HAS)", "description": null,
   "thumbnail": {"path": "http://i.annihil.us/u/prod/marvel/i/mg/b/40/image_not_available", "extension": "jpg"}},
  {"id": 1009144, "name": "A.I.M.", "thumbnail": {"path": "http://x/6/20/52602f21f29ec", "extension": "PNG"}}
]"""
    write("dataset", "three-characters-png", json + b"\x00" + image)
    write("dataset", "images-missing", json)
    write("dataset", "gif", b'[{"id": 7, "name": "Gif", "thumbnail": {"path": "p", "extension": "gif"}}]\x00' + GIF)
    write("dataset", "not-an-array", b'{"id": 1}')


if __name__ == "__main__":
    main()
