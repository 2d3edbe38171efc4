"""python -m faceau plot CSV -o aus.png [--aus AU06,AU12]   (and analyze, for a quick look);
installed by pip as the command faceau-py."""
import argparse
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m faceau", description="faceau's Python tools")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plot", help="plot AU intensities over time from an OpenFace CSV")
    p.add_argument("csv", help="an OpenFace / faceau CSV")
    p.add_argument("-o", "--output", required=True, help="image to write (PNG, SVG, PDF, ...)")
    p.add_argument("--aus", help="comma-separated AUs (default: every AU in the CSV), e.g. AU06,AU12")
    p.add_argument("--title", help="figure title (default: the CSV's name)")
    a = sub.add_parser("analyze", help="run the pipeline on inputs into OUT_DIR (as analyze_many)")
    a.add_argument("inputs", nargs="+")
    a.add_argument("-o", "--out-dir", required=True)
    a.add_argument("-j", "--jobs", type=int)
    a.add_argument("--no-resume", action="store_true")
    args = ap.parse_args(argv)
    import faceau
    try:
        if args.cmd == "plot":
            import os
            df = faceau.read_csv(args.csv)
            aus = args.aus.split(",") if args.aus else None
            faceau.plot_aus(df, aus, path=args.output, title=args.title or os.path.basename(args.csv))
            return 0
        s = faceau.analyze_many(args.inputs, args.out_dir, jobs=args.jobs, resume=not args.no_resume)
        print(s.to_string(index=False))
        return 0 if (s["status"] != "failed").all() else 1
    except (faceau.Error, ValueError, OSError) as e:
        print(f"faceau: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
