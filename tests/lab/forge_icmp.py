#!/usr/bin/env python3
"""Forged ICMP for the lab: ICMP time exceeded "from" FROM to the node NODE, quoting TCP SYNs of
flows the agent's sweep might use — every ephemeral source port — but each wrong in one thing the
agent (or the kernel) must check: SET is one of

  wrong-src   the quoted source address is not the node's (QSRC)
  wrong-port  the quoted destination port is not the probe's (DPORT + 1)
  wrong-seq   everything right but the TCP sequence number, 0: the kernel compares a connecting
              socket's errors against 0 before it has chosen the SYN's sequence number, so some
              of these pass its check; the agent refuses a quoted 0 itself

sent round after round for SECONDS, as fast as Python sends (a flood). Standard library only;
raw socket with IP_HDRINCL (run as root in a lab namespace).

    forge_icmp.py SECONDS FROM NODE QSRC DST DPORT PORTS SET...

PORTS: the source ports to quote, FIRST-LAST (the scenario narrows the node's ephemeral range to
them, so the sweep's own port is among them and every round forges its flow).
"""

import socket
import struct
import sys
import time


def checksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ip_header(src: str, dst: str, proto: int, total: int, ttl: int = 64) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", checksum(h)) + h[12:]


def packet(frm: str, node: str, qsrc: str, dst: str, sport: int, dport: int, seq: int) -> bytes:
    quoted = ip_header(qsrc, dst, 6, 60, ttl=1) + struct.pack("!HHI", sport, dport, seq)
    icmp = struct.pack("!BBHI", 11, 0, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    return ip_header(frm, node, 1, 20 + len(icmp)) + icmp


def main() -> None:
    seconds, frm, node, qsrc, dst, dport, ports = sys.argv[1:8]
    sets = sys.argv[8:]
    first, last = (int(p) for p in ports.split("-"))
    dport = int(dport)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    packets = []
    for sport in range(first, last + 1):
        for kind in sets:
            if kind == "wrong-src":
                packets.append(packet(frm, node, qsrc, dst, sport, dport, 1))
            elif kind == "wrong-port":
                packets.append(packet(frm, node, node, dst, sport, dport + 1, 1))
            elif kind == "wrong-seq":
                packets.append(packet(frm, node, node, dst, sport, dport, 0))
            else:
                sys.exit(f"forge_icmp.py: unknown set {kind}")
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    sent = 0
    while time.monotonic() < end:
        for p in packets:
            try:
                s.sendto(p, (node, 0))
                sent += 1
            except OSError:
                pass  # a full send buffer: the flood goes on
            if sent % 4096 == 0 and time.monotonic() >= end:
                break
    print(f"forged {sent} ICMP errors in {seconds} s", flush=True)


if __name__ == "__main__":
    main()
