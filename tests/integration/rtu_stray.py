#!/usr/bin/python3
"""An RS-485 line where another device answers late: every request gets,
before its own answer, a valid frame from unit 99 (the late answer to a
request the master gave up on), then its own answer. Writes are echoed,
reads answer zeros. Each request heard is logged to LOG as "UNIT FC
ADDRESS VALUE".

    rtu_stray.py DEVICE LOG
"""
import os
import select
import sys
import time


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


def frame(body):
    return body + crc16(body)


def request_length(buf):
    """Length of the request at buf's start, 0 if incomplete."""
    if len(buf) < 2:
        return 0
    fc = buf[1]
    if fc in (1, 2, 3, 4, 5, 6):
        return 8
    if fc == 16:
        return 9 + buf[6] if len(buf) >= 7 else 0
    return -1


def answer(req):
    unit, fc = req[0], req[1]
    if fc in (5, 6, 16):
        return frame(req[:6])
    count = req[4] << 8 | req[5]
    if fc in (1, 2):
        return frame(bytes([unit, fc, 1, 0]))
    return frame(bytes([unit, fc, 2 * count]) + bytes(2 * count))


def main():
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
    log = open(sys.argv[2], "a", buffering=1)
    buf = b""
    while True:
        select.select([fd], [], [])
        buf += os.read(fd, 256)
        while True:
            n = request_length(buf)
            if n < 0:
                buf = buf[1:]
                continue
            if n == 0 or len(buf) < n:
                break
            req, buf = buf[:n], buf[n:]
            if crc16(req[:-2]) != req[-2:]:
                buf = req[1:] + buf
                continue
            log.write("%d %d %d %d\n" % (req[0], req[1], req[2] << 8 | req[3], req[4] << 8 | req[5]))
            os.write(fd, frame(bytes([99, 6, 0, 9, 0, 1])))
            time.sleep(0.002)
            os.write(fd, answer(req))


main()
