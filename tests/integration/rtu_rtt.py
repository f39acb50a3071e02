#!/usr/bin/python3
"""Times Modbus RTU reads over a pty, raw (termios), so nothing but the
line's emulated wire time and the machine's scheduling is measured.

    rtu_rtt.py DEVICE UNIT N        prints the median and the minimum
                                    round trip of N reads of one holding
                                    register, in ms: "MEDIAN MIN"
"""
import os
import sys
import termios
import time


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


def main():
    dev, unit, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fd = os.open(dev, os.O_RDWR | os.O_NOCTTY)
    attr = termios.tcgetattr(fd)
    attr[0] = attr[1] = attr[3] = 0          # raw: no input, output or local processing
    attr[6][termios.VMIN] = 0
    attr[6][termios.VTIME] = 1               # reads give up after 0.1 s of silence
    termios.tcsetattr(fd, termios.TCSANOW, attr)
    req = bytes([unit, 3, 0, 0, 0, 1])
    req += crc16(req)
    rtts = []
    for _ in range(n):
        t0 = time.monotonic()
        os.write(fd, req)
        got = b""
        while len(got) < 7:
            chunk = os.read(fd, 7 - len(got))
            if not chunk and time.monotonic() - t0 > 2:
                print("no answer from unit %d (%d bytes)" % (unit, len(got)), file=sys.stderr)
                sys.exit(1)
            got += chunk
        rtts.append((time.monotonic() - t0) * 1000)
        if got[:2] != bytes([unit, 3]) or crc16(got[:5]) != got[5:7]:
            print("a bad answer: %s" % got.hex(), file=sys.stderr)
            sys.exit(1)
        time.sleep(0.005)                    # past the silence after the answer
    rtts.sort()
    print("%.3f %.3f" % (rtts[len(rtts) // 2], rtts[0]))


main()
