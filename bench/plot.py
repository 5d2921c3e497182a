#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Renders kmm-bench JSON figures as PNG plots with gnuplot.

usage: plot.py RESULTS.json OUTDIR DATE MACHINE

Series are read from the metric names kmm-bench prints:
  p2v.random.<N>.ns.<structure>    -> p2v.png (log-log, one line each)
  vaspace.pair_ns.<live>           -> vaspace.png
  pages.pair_ns.span.<span>        -> pages.png
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SIZES = {"k": 1e3, "m": 1e6, "g": 1e9}


def count(label):
    """'64k' -> 64000.0, '1m' -> 1e6, '100' -> 100.0"""
    m = re.fullmatch(r"(\d+)([kmg]?)", label)
    return float(m.group(1)) * SIZES.get(m.group(2), 1.0)


def series(metrics, pattern, names=None):
    """Groups metrics matching pattern (groups: x label, line name);
    names renames lines (a missing line group is "kmm")."""
    lines = {}
    for name, value in metrics.items():
        m = re.fullmatch(pattern, name)
        if m:
            x, line = m.group(1), m.group(2) if m.lastindex > 1 else "kmm"
            line = (names or {}).get(line, line)
            lines.setdefault(line, []).append((count(x), value))
    return {k: sorted(v) for k, v in sorted(lines.items())}


def vaspace_series(metrics):
    """kmm's pair time against live allocations, and the tee_mm-style
    list baseline where it was measured."""
    lines = series(metrics, r"vaspace\.pair_ns\.(\w+)")
    lines.update(series(metrics, r"vaspace\.list_pair_ns\.(\w+)",
                        {"kmm": "sorted list (tee_mm style)"}))
    return lines


def plot(lines, out, title, xlabel, ylabel, stamp, logy=True):
    if not lines:
        print(f"plot: no data for {out}, skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmds = [
            "set terminal pngcairo size 800,500 noenhanced" if has_cairo()
            else "set terminal png size 800,500 noenhanced",
            f"set output '{out}'",
            f'set title "{title}\\n{stamp}"',
            f"set xlabel '{xlabel}'",
            f"set ylabel '{ylabel}'",
            "set logscale x",
            "set key top left",
            "set grid",
        ]
        if logy:
            cmds.append("set logscale y")
        plots = []
        for name, pts in lines.items():
            path = os.path.join(tmp, name + ".dat")
            with open(path, "w") as f:
                for x, y in pts:
                    f.write(f"{x} {y}\n")
            plots.append(f"'{path}' using 1:2 with linespoints title '{name}'")
        cmds.append("plot " + ", ".join(plots))
        subprocess.run(["gnuplot"], input="\n".join(cmds) + "\n",
                       text=True, check=True)
    print(f"plot: wrote {out}")


def has_cairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"],
                       capture_output=True, text=True)
    return "pngcairo" in (r.stdout + r.stderr)


def main():
    results, outdir, date, machine = sys.argv[1:5]
    with open(results) as f:
        metrics = json.load(f)
    stamp = f"{date}, {machine}"
    plot(series(metrics, r"p2v\.random\.(\w+)\.ns\.(\w+)"),
         os.path.join(outdir, "p2v.png"),
         "phys_to_virt, uniform random PAs", "regions", "ns per lookup",
         stamp)
    plot(vaspace_series(metrics),
         os.path.join(outdir, "vaspace.png"),
         "vaspace alloc + free", "live allocations", "ns per pair", stamp)
    plot(series(metrics, r"pages\.pair_ns\.span\.(\w+)"),
         os.path.join(outdir, "pages.png"),
         "page allocator order-0 alloc + free, half full",
         "span (bytes)", "ns per pair", stamp)


if __name__ == "__main__":
    main()
