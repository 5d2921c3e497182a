#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs one bare-metal kmm test image under QEMU and turns its semihosting
exit status into the test result.

usage: run_qemu.py [--fetch SCRIPT DESTDIR] [--expect-exit N]
                   [--expect-output REGEX]... [--timeout S]
                   -- QEMU-BINARY ARG...

With --fetch, QEMU-BINARY is a path inside DESTDIR: when it is missing the
fetch script is run first (under a lock, so that parallel tests fetch once)
and a failure to fetch fails the test with the script's reason.
"""
import argparse
import fcntl
import os
import re
import subprocess
import sys


def fetch(script, dest, binary):
    os.makedirs(os.path.dirname(dest.rstrip('/')) or '.', exist_ok=True)
    with open(dest.rstrip('/') + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.access(binary, os.X_OK):
            return True
        proc = subprocess.run(['sh', script, dest], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        sys.stdout.write(proc.stdout)
        if proc.returncode == 0 and os.access(binary, os.X_OK):
            return True
    print('FAIL: this test needs QEMU 9 or later (qemu-system-arm with the '
          'mps3-an536 board for the Cortex-R52), which could not be '
          'fetched from Debian bookworm-backports into ' + dest +
          ' (reason above). Fix the fetch or run ' + script + ' ' + dest +
          ' by hand.')
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fetch', nargs=2, metavar=('SCRIPT', 'DESTDIR'))
    ap.add_argument('--expect-exit', type=int, default=0)
    ap.add_argument('--expect-output', action='append', default=[])
    ap.add_argument('--timeout', type=float, default=60)
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == '--' else args.cmd
    if not cmd:
        ap.error('no QEMU command')

    if args.fetch and not fetch(args.fetch[0], args.fetch[1], cmd[0]):
        return 1

    print('run: ' + ' '.join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode('utf-8', 'replace')
        sys.stdout.write(out)
        print('FAIL: the image did not exit within %g s' % args.timeout)
        return 1
    out = proc.stdout.decode('utf-8', 'replace').replace('\r\n', '\n')
    sys.stdout.write(out)
    ok = True
    if proc.returncode != args.expect_exit:
        print('FAIL: exit status %d, expected %d' %
              (proc.returncode, args.expect_exit))
        ok = False
    for pattern in args.expect_output:
        if not re.search(pattern, out, re.MULTILINE):
            print('FAIL: output does not match %r' % pattern)
            ok = False
    if ok:
        print('PASS (exit status %d)' % proc.returncode)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
