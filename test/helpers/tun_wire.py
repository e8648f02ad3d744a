#!/usr/bin/python3
"""A lossy, slow wire between two network namespaces, in user space.

Why not tc netem: the kernels these tests run on are built without it
(CONFIG_NET_SCH_NETEM is not set: `tc qdisc add ... netem` answers "Specified
qdisc kind is unknown"), and no other qdisc or nftables rule can hold a packet
back for a time. So each end of the wire is a TUN device (an IP interface whose
packets a process reads and writes), one in each namespace, and this process
carries every IP packet from one to the other: it drops the chosen share,
chosen by a seeded random number generator, and delivers the rest in order
after the chosen delay. Node cannot create a TUN device (it has no ioctl), so
this is Python, standard library only.

Usage: tun_wire.py NETNS_A DEV_A NETNS_B DEV_B DELAY_MS LOSS SEED
  NETNS_x   a namespace of `ip netns` (/var/run/netns/NETNS_x)
  DEV_x     the TUN device to create in it (IFF_TUN | IFF_NO_PI: bare IP packets)
  DELAY_MS  one-way delay, each way, milliseconds
  LOSS      share of packets dropped, each way, 0 <= LOSS < 1
  SEED      seed of the drop choices (printed back, so that a run can be replayed)

Prints one JSON line {"ready": ...} once both devices exist (they are down and
have no address: the caller configures them with `ip -n`), then a JSON line of
counters every second. Exits when its stdin closes (its parent is gone) or on
SIGTERM; the devices vanish with it (they are not persistent).
Needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root).
"""

import collections
import ctypes
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA  # _IOW('T', 202, int), linux/if_tun.h
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65535

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def open_tun(netns, name):
    """A TUN device belongs to the namespace /dev/net/tun was opened in."""
    enter_netns(f"/var/run/netns/{netns}")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    ns_a, dev_a, ns_b, dev_b = sys.argv[1:5]
    delay = float(sys.argv[5]) / 1000.0
    loss = float(sys.argv[6])
    seed = int(sys.argv[7])
    if not (delay >= 0 and 0 <= loss < 1):
        sys.exit(f"tun_wire: DELAY_MS must be >= 0 and LOSS in [0, 1), got {sys.argv[5]} and {sys.argv[6]}")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd_a = open_tun(ns_a, dev_a)
    fd_b = open_tun(ns_b, dev_b)
    libc.setns(home, CLONE_NEWNET)
    rng = random.Random(seed)
    peer = {fd_a: fd_b, fd_b: fd_a}
    # One FIFO per direction: a fixed delay never reorders.
    queue = {fd_a: collections.deque(), fd_b: collections.deque()}
    counts = {"a_to_b": [0, 0], "b_to_a": [0, 0]}  # [carried, dropped]
    direction = {fd_a: "a_to_b", fd_b: "b_to_a"}

    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    print(json.dumps({"ready": True, "delay_ms": delay * 1000, "loss": loss, "seed": seed}), flush=True)

    poller = select.poll()
    poller.register(fd_a, select.POLLIN)
    poller.register(fd_b, select.POLLIN)
    poller.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP)
    next_report = time.monotonic() + 1.0
    while not stop:
        now = time.monotonic()
        due = [q[0][0] for q in queue.values() if q]
        wait = min([next_report] + due) - now
        try:
            events = poller.poll(max(0, wait) * 1000)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd, event in events:
            if fd == sys.stdin.fileno():
                if event & (select.POLLHUP | select.POLLERR) or not os.read(fd, 4096):
                    stop = True
                continue
            # Drain what the kernel has for this device.
            while True:
                try:
                    packet = os.read(fd, MAX_PACKET)
                except BlockingIOError:
                    break
                tally = counts[direction[fd]]
                if rng.random() < loss:
                    tally[1] += 1
                else:
                    tally[0] += 1
                    queue[fd].append((now + delay, packet))
        for src, q in queue.items():
            while q and q[0][0] <= now:
                _, packet = q.popleft()
                try:
                    os.write(peer[src], packet)
                except OSError:
                    pass  # the far device is down (a cut): the packet is lost, as on a wire
        if now >= next_report:
            next_report = now + 1.0
            print(json.dumps(counts), flush=True)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
