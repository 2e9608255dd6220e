"""Small test images made from scratch: PNG and GIF in Python, JPEG through cjpeg
(libjpeg-turbo's own encoder), so the avatar checks see real files of each format."""

import struct
import subprocess
import zlib


def png(width, height, rgb=(200, 40, 40)):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def gif(width, height):
    """A 4-colour GIF whose LZW stream sends a clear code before every pixel, so the
    code width stays 3 bits: valid, if not small."""
    codes = []
    for _ in range(width * height):
        codes += [4, 1]          # clear, then colour 1
    codes.append(5)              # end of information
    bits, nbits, out = 0, 0, bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += 3
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = b"".join(bytes([len(out[i:i + 255])]) + bytes(out[i:i + 255])
                      for i in range(0, len(out), 255))
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x81, 0, 0)
            + bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
            + b"\x02" + blocks + b"\x00" + b"\x3b")


def jpeg(width, height):
    ppm = b"P6 %d %d 255\n" % (width, height) + bytes([30, 120, 200]) * (width * height)
    return subprocess.run(["cjpeg", "-quality", "80"], input=ppm, capture_output=True,
                          check=True).stdout
