#!/usr/bin/env python3
"""Runs COMMAND (a read_committed `kcat -u` consumer printing one line per output) and writes each of its
lines to OUT prefixed with the wall time it arrived, in ms since 1970, flushed at once: bench/e2e.sh
learns from it when outputs became visible. SIGTERM stops the command too.
usage: e2e_stamp.py OUT COMMAND..."""
import signal, subprocess, sys, time

child = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE)
signal.signal(signal.SIGTERM, lambda *_: (child.terminate(), sys.exit(0)))
with open(sys.argv[1], "w") as out:
    for line in iter(child.stdout.readline, b""):
        out.write("%.1f %s\n" % (time.time() * 1000, line.decode().strip()))
        out.flush()
