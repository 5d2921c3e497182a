#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Cross-compiles a bare-metal test image: every source to an object with
its own dependency file, one link with the given linker script, and one
merged depfile for meson/ninja.

usage: build_image.py --cc CC --out IMAGE --depfile DEP --ldscript LD
                      [--cflag F]... [--ldflag F]... SOURCE...
"""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cc', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--depfile', required=True)
    ap.add_argument('--ldscript', required=True)
    ap.add_argument('--cflag', action='append', default=[])
    ap.add_argument('--ldflag', action='append', default=[])
    ap.add_argument('sources', nargs='+')
    args = ap.parse_args()

    objdir = args.out + '.objs'
    os.makedirs(objdir, exist_ok=True)
    objs = []
    deps = []
    for i, src in enumerate(args.sources):
        base = os.path.splitext(os.path.basename(src))[0]
        obj = os.path.join(objdir, '%02d-%s.o' % (i, base))
        dep = obj + '.d'
        cmd = [args.cc] + args.cflag + ['-MD', '-MF', dep, '-c', src,
                                        '-o', obj]
        if subprocess.call(cmd) != 0:
            print('build_image: failed: ' + ' '.join(cmd), file=sys.stderr)
            return 1
        objs.append(obj)
        deps.append(dep)
    cmd = ([args.cc] + args.cflag + args.ldflag +
           ['-T', args.ldscript, '-o', args.out] + objs + ['-lgcc'])
    if subprocess.call(cmd) != 0:
        print('build_image: link failed: ' + ' '.join(cmd), file=sys.stderr)
        return 1

    prereqs = [os.path.abspath(args.ldscript)]
    for dep in deps:
        with open(dep) as f:
            text = f.read().replace('\\\n', ' ')
        _, _, rest = text.partition(':')
        for word in rest.split():
            if word.endswith(':'):
                continue
            prereqs.append(word)
    with open(args.depfile, 'w') as f:
        f.write(args.out.replace(' ', '\\ ') + ': ' +
                ' '.join(p.replace(' ', '\\ ') for p in sorted(set(prereqs)))
                + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
