#!/usr/bin/env python3
"""Per-AU Pearson r between the left- and right-mirrored intensities of `faceau -mirror` runs
(issue 17): what a healthy face's asymmetry baseline looks like.

    python3 scripts/mirror_lr.py OUT_DIR [OUT_DIR...]      # every <name>_left_mirrored.csv there
    python3 scripts/mirror_lr.py --markdown OUT_DIR        # the table as Markdown

For each input (a <name>_left_mirrored.csv with its <name>_right_mirrored.csv) and each AUxx_r,
r over the frames tracked on both sides (success 1 in both rows of that frame); then the same
over all inputs' frames pooled. r is blank ('-') where a side's intensity is constant over those
frames (r undefined). Standard library only: it runs wherever the CSVs are."""
import csv
import glob
import math
import os
import sys


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, skipinitialspace=True))
    header = [h.strip() for h in rows[0]]
    return header, rows[1:]


def pearson(a, b):
    n = len(a)
    if n < 2:
        return None
    ma, mb = sum(a) / n, sum(b) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    saa = sum((x - ma) ** 2 for x in a)
    sbb = sum((y - mb) ** 2 for y in b)
    if saa == 0 or sbb == 0:
        return None
    return sab / math.sqrt(saa * sbb)


def pairs(dirs):
    for d in dirs:
        for left in sorted(glob.glob(os.path.join(d, "*_left_mirrored.csv"))):
            right = left[: -len("_left_mirrored.csv")] + "_right_mirrored.csv"
            if os.path.exists(right):
                yield os.path.basename(left)[: -len("_left_mirrored.csv")], left, right


def main(argv):
    md = "--markdown" in argv
    dirs = [a for a in argv if a != "--markdown"]
    if not dirs:
        sys.exit(__doc__)
    table, aus, pooled = [], None, {}
    for name, left, right in pairs(dirs):
        hl, rl = read(left)
        hr, rr = read(right)
        if aus is None:
            aus = [h for h in hl if h.startswith("AU") and h.endswith("_r")]
        if len(rl) != len(rr):
            sys.exit(f"{name}: {len(rl)} left rows against {len(rr)} right rows")
        sl, sr = hl.index("success"), hr.index("success")
        both = [i for i in range(len(rl)) if float(rl[i][sl]) == 1 and float(rr[i][sr]) == 1]
        rs = []
        for au in aus:
            a = [float(rl[i][hl.index(au)]) for i in both]
            b = [float(rr[i][hr.index(au)]) for i in both]
            pooled.setdefault(au, ([], []))
            pooled[au][0].extend(a)
            pooled[au][1].extend(b)
            rs.append(pearson(a, b))
        table.append((name, len(rl), len(both), rs))
    if not table:
        sys.exit("no <name>_left_mirrored.csv with its right_mirrored twin in " + ", ".join(dirs))
    n_all = sum(t[1] for t in table)
    both_all = sum(t[2] for t in table)
    table.append(("all (pooled)", n_all, both_all, [pearson(*pooled[au]) for au in aus]))

    def cell(r):
        return "-" if r is None else f"{r:.2f}"

    names = [au[:-2] for au in aus]
    if md:
        print("| input | frames | both tracked | " + " | ".join(names) + " |")
        print("|---|---|---|" + "---|" * len(names))
        for name, n, nb, rs in table:
            print(f"| {name} | {n} | {nb} | " + " | ".join(cell(r) for r in rs) + " |")
    else:
        w = max(len(t[0]) for t in table)
        print(f"{'input':<{w}} {'frames':>6} {'both':>5} " + " ".join(f"{a:>5}" for a in names))
        for name, n, nb, rs in table:
            print(f"{name:<{w}} {n:>6} {nb:>5} " + " ".join(f"{cell(r):>5}" for r in rs))


if __name__ == "__main__":
    main(sys.argv[1:])
