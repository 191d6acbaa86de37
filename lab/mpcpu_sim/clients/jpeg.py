"""A small, valid baseline JPEG (greyscale, 8x8 blocks of flat tone) made without libraries.

Each block carries only its DC coefficient, so the image is a coarse pattern that depends on
the camera number; a COM segment names the camera and the time. Any JPEG decoder reads it.
"""

import struct

# ITU T.81 Annex K.3: the standard luminance DC table (code lengths 1..16, then symbols).
DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
DC_SYMBOLS = tuple(range(12))
# An AC table with just what flat blocks need: EOB (0x00), plus ZRL so no code is all ones.
AC_BITS = (0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
AC_SYMBOLS = (0x00, 0xF0)
QUANT = 16  # every quantiser step; DC of a flat block = 8 * (level - 128) / QUANT


def huffman_codes(bits, symbols):
    """{symbol: (code, length)} for a table given as in a DHT segment (T.81 Annex C)."""
    codes = {}
    code = 0
    position = 0
    for length, count in enumerate(bits, start=1):
        for _block in range(count):
            codes[symbols[position]] = (code, length)
            position += 1
            code += 1
        code <<= 1
    return codes


class _BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.accumulator = 0
        self.count = 0

    def put(self, value, length):
        self.accumulator = (self.accumulator << length) | (value & ((1 << length) - 1))
        self.count += length
        while self.count >= 8:
            self.count -= 8
            byte = (self.accumulator >> self.count) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)  # byte stuffing
        self.accumulator &= (1 << self.count) - 1

    def flush(self):
        if self.count:
            self.put((1 << (8 - self.count)) - 1, 8 - self.count)  # pad with one bits
        return bytes(self.out)


def _segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _block_levels(width, height, camera):
    """Tone of each 8x8 block (0..255), row by row: a diagonal ramp with a camera stripe."""
    columns, rows = width // 8, height // 8
    levels = []
    for row in range(rows):
        for column in range(columns):
            level = 32 + (row * 96 // max(rows, 1)) + (column * 96 // max(columns, 1))
            if (column + row + camera) % 7 == 0:
                level = 255 - level
            levels.append(level)
    return levels


def _scan(levels):
    dc_codes = huffman_codes(DC_BITS, DC_SYMBOLS)
    end_of_block = huffman_codes(AC_BITS, AC_SYMBOLS)[0x00]
    writer = _BitWriter()
    previous = 0
    for level in levels:
        dc = round(8 * (level - 128) / QUANT)
        difference = dc - previous
        previous = dc
        category = abs(difference).bit_length()
        writer.put(*dc_codes[category])
        if category:
            bits = difference if difference > 0 else difference - 1
            writer.put(bits, category)
        writer.put(*end_of_block)
    return writer.flush()


def make_jpeg(camera=1, comment="", width=160, height=120):
    """The bytes of a ``width`` x ``height`` JPEG (multiples of 8)."""
    if width % 8 or height % 8 or not 8 <= width <= 65528 or not 8 <= height <= 65528:
        raise ValueError("JPEG size must be multiples of 8 between 8 and 65528")
    jfif = b"JFIF\0" + struct.pack(">BBBHHBB", 1, 1, 0, 1, 1, 0, 0)
    quant = bytes([0]) + bytes([QUANT]) * 64
    frame = struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])
    dc_table = bytes([0x00]) + bytes(DC_BITS) + bytes(DC_SYMBOLS)
    ac_table = bytes([0x10]) + bytes(AC_BITS) + bytes(AC_SYMBOLS)
    scan_header = bytes([1, 1, 0x00, 0, 63, 0])
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, jfif),
            _segment(0xFE, comment.encode("ascii", "replace")[:60000]),
            _segment(0xDB, quant),
            _segment(0xC0, frame),
            _segment(0xC4, dc_table),
            _segment(0xC4, ac_table),
            _segment(0xDA, scan_header),
            _scan(_block_levels(width, height, camera)),
            b"\xff\xd9",
        )
    )
