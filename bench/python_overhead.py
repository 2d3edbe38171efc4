"""What the Python binding's DataFrame path costs over the CLI (issue 16: <= 5% on the portrait
clip), both measured in this one run: `faceau -f FILE` as a process (wall time: start, model
load, the whole pipeline, the CSV), against faceau.analyze(FILE) in a fresh interpreter timed
around the call (model load, the same pipeline through libfaceau.so, then the CSV read into a
DataFrame); the interpreter's own start and `import faceau` (numpy, pandas) are printed apart,
being paid once per session, not per file. Runs alternate, three of each; medians are compared.

  FACEAU_SHARED=../shared FACEAU_MODELS=../shared/models /usr/bin/python3 bench/python_overhead.py \
      [--bin build/faceau] [--lib build/libfaceau.so] [--threads N] [FILE]"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r"""
import sys, time
t0 = time.perf_counter()
import faceau
t1 = time.perf_counter()
df = faceau.analyze(sys.argv[1], threads=int(sys.argv[2]) or None, progress=False)
t2 = time.perf_counter()
print(len(df), t1 - t0, t2 - t1)
"""


def main():
    shared = os.environ.get("FACEAU_SHARED", os.path.join(ROOT, "..", "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=os.path.join(shared, "data", "videos", "portrait_1080x1920.mp4"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "faceau"))
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "libfaceau.so"))
    ap.add_argument("--threads", type=int, default=0, help="-threads for both (0: one per core)")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    env = dict(os.environ, FACEAU_LIBRARY=os.path.abspath(a.lib),
               PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH")])))
    env.setdefault("FACEAU_MODELS", os.path.join(shared, "models"))
    cli_s, py_s, imp_s, rows = [], [], [], None
    with tempfile.TemporaryDirectory(prefix="faceau-pybench-") as tmp:
        for _ in range(a.runs):
            cmd = [a.bin, "-q", "-f", a.file, "-out_dir", tmp]
            if a.threads:
                cmd += ["-threads", str(a.threads)]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env)
            cli_s.append(time.perf_counter() - t)
            out = subprocess.run([sys.executable, "-c", CHILD, a.file, str(a.threads)], check=True,
                                 env=env, capture_output=True, text=True).stdout.split()
            rows = int(out[0])
            imp_s.append(float(out[1]))
            py_s.append(float(out[2]))
    cli, py = statistics.median(cli_s), statistics.median(py_s)
    print(f"python binding   {os.path.basename(a.file)}: CLI {rows / cli:.1f} frames/s ({cli:.2f} s), "
          f"faceau.analyze -> DataFrame {rows / py:.1f} frames/s ({py:.2f} s): overhead "
          f"{100 * (py / cli - 1):+.1f}% (target <= 5%); interpreter import of faceau "
          f"{statistics.median(imp_s):.2f} s apart; medians of {a.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
