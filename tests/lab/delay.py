#!/usr/bin/env python3
"""A user-space delay line for the lab (these machines load no kernel modules: no netem).

Every IP packet the kernel routes into the TUN device NAME is written back into it DELAY_MS
later, unchanged; policy routing on the router sends what comes out of the device on by the real
link. Nothing is dropped or reordered: a long line, not a lossy one.

    delay.py NAME DELAY_MS
"""
import fcntl
import heapq
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main() -> None:
    name, delay = sys.argv[1], float(sys.argv[2]) / 1000.0
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    queue: list = []
    seq = 0
    while True:
        wait = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            packet = os.read(fd, 65535)
            heapq.heappush(queue, (time.monotonic() + delay, seq, packet))
            seq += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            os.write(fd, heapq.heappop(queue)[2])


if __name__ == "__main__":
    main()
