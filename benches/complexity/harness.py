#!/usr/bin/env python3
"""Complexity audit: each builtin and operator at input size n and 8n, nixkit against CppNix.

For every case of cases.py and each tool, one evaluation repeats the operation
R times in a loop (R calibrated per tool and size so the operation's own time
is above noise) and a baseline evaluation runs the same loop with the operation
replaced by `null`; the cost of one operation is (t - t_baseline) / R, t being
the process's CPU time (user + system, all threads; steadier than wall time on
a shared machine), the minimum over the repetitions. The growth exponent is
log(cost at 8n / cost at n) / log 8: 0 constant, 1 linear, 2 quadratic. Runs
of the two tools are interleaved. Inputs and expressions are generated into
$CARGO_TARGET_DIR/complexity (default: target/complexity).

Usage: benches/complexity.sh [REPS]   (see that script for the environment)
"""

import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CASES, GENERATORS, NOT_MEASURED, PRELUDE  # noqa: E402

TARGET = float(os.environ.get("NIXKIT_COMPLEXITY_TARGET", "0.15"))  # seconds of op time
R_MAX = 250_000
MAX_RUN = 0.6  # seconds: a run this long stops the calibration (constant-cost operations)
INNER = 1000
TIMEOUT = float(os.environ.get("NIXKIT_COMPLEXITY_TIMEOUT", "60"))
WORSE_BY = 0.25  # exponent difference reported as worse
# Below this cost per operation at both sizes the operation counts as constant:
# CPU time is counted in 10 ms ticks, so tiny costs are all resolution.
CONSTANT_BELOW = 1e-6


class Failed(Exception):
    pass


def write_files(kind, n, directory):
    os.makedirs(directory, exist_ok=True)
    if kind == "file":
        with open(os.path.join(directory, "file"), "w") as f:
            f.write(("0123456789abcdef" * (n // 16 + 1))[:n])
    elif kind == "dir":
        d = os.path.join(directory, "dir")
        os.makedirs(d, exist_ok=True)
        for k in range(n):
            with open(os.path.join(d, f"f{k}"), "w") as f:
                f.write(f"{k}\n")
    elif kind == "attrs":
        with open(os.path.join(directory, "attrs.nix"), "w") as f:
            f.write("{\n" + "".join(f"  a{k} = {k};\n" for k in range(n)) + "}\n")
    else:
        raise ValueError(f"unknown files kind {kind}")


def expand(text, n, directory):
    while "@GEN:" in text:
        start = text.index("@GEN:")
        end = text.index("@", start + 5)
        kind = text[start + 5:end]
        text = text[:start] + GENERATORS[kind](n) + text[end + 1:]
    return text.replace("@DIR@", directory)


def expression(case, n, reps, baseline, directory):
    setup, op = expand(case["setup"], n, directory), expand(case["op"], n, directory)
    if baseline:
        op = "null"
    inner = min(reps, INNER)
    outer = max(1, reps // inner)
    return f"""let
  n = {n};
{PRELUDE}
  input = {setup};
  step = i: {op};
  inner = builtins.genList (k: k) {inner};
  outer = builtins.genList (j: j) {outer};
in
builtins.seq (builtins.deepSeq input null)
  (builtins.foldl' (acc: j: builtins.foldl' (acc2: k: builtins.seq (step (j * {inner} + k)) (acc2 + 1)) acc inner)
    0 outer)
"""


def run(tool, path):
    """CPU seconds (user + system, children included) of one evaluation of `path`."""
    cmd = tool["cmd"] + [path]
    with open(path + ".out", "w") as out, open(path + ".err", "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=tool["env"])
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise Failed(f"{tool['name']}: timed out after {TIMEOUT:.0f} s")
    if proc.returncode != 0:
        with open(path + ".err") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        msg = next((ln for ln in lines if ln.startswith("error")), lines[-1] if lines else "")
        raise Failed(f"{tool['name']}: exit {proc.returncode}: {msg[:200]}")
    return None


def timed(tool, path):
    before = os.times()
    run(tool, path)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


class Point:
    """Measurements of one tool on one case at one size."""

    def __init__(self, tool, case, n, directory, reps):
        self.tool, self.case, self.n, self.dir = tool, case, n, directory
        self.reps = reps
        self.op_times, self.base_times = [], []

    def files(self, reps):
        stem = os.path.join(self.dir, f"{self.tool['name']}-{reps}")
        paths = []
        for baseline in (False, True):
            path = f"{stem}-{'base' if baseline else 'op'}.nix"
            with open(path, "w") as f:
                f.write(expression(self.case, self.n, reps, baseline, self.dir))
            paths.append(path)
        return paths

    def sample(self):
        self.op_times.append(timed(self.tool, self.op_path))
        self.base_times.append(timed(self.tool, self.base_path))

    def calibrate(self, start):
        reps = 1 if "once" in self.case["flags"] else start
        while True:
            self.reps = reps
            self.op_path, self.base_path = self.files(reps)
            self.op_times, self.base_times = [], []
            self.sample()
            d = self.op_times[-1] - self.base_times[-1]
            if "once" in self.case["flags"] or d >= TARGET or reps >= R_MAX or self.op_times[-1] > MAX_RUN:
                return
            factor = min(64.0, max(2.0, 1.5 * TARGET / max(d, 0.002)))
            reps = min(R_MAX, int(reps * factor))
            if reps > INNER:
                reps = reps // INNER * INNER

    def cost(self):
        """Seconds per operation, and the operation's share of the run."""
        op, base = min(self.op_times), min(self.base_times)
        return (op - base) / self.reps, (op - base) / op if op > 0 else 0.0


def exponent(small, large):
    if small <= 0 or large <= 0:
        return None
    return math.log(large / small) / math.log(8)


def worse_growth(e, other):
    """Whether exponent `e` is clearly above `other`: by more than WORSE_BY, and
    either above linear (a fixed per-operation overhead can bring a linear
    exponent measured at n and 8n down to 0.8, so 0.8 against 1.05 is no
    difference) or growing where the other is constant."""
    return e > other + WORSE_BY and (e > 1 + WORSE_BY or (other < WORSE_BY and e > 2 * WORSE_BY))


def fmt_cost(c):
    if c <= 0:
        return "~0"
    for unit, scale in (("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        if c * scale >= 1:
            text = f"{c * scale:.3g}"
            return (f"{c * scale:.0f}" if "e" in text else text) + unit
    return f"{c * 1e9:.2g}ns"


def fmt_exp(e):
    return "n/a" if e is None else f"{e:.2f}"


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("NIXKIT_BENCH_RUNS", "3"))
    only = os.environ.get("NIXKIT_BENCH_ONLY", "")
    target_dir = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    work = os.path.join(target_dir, "complexity")
    shutil.rmtree(work, ignore_errors=True)
    nixkit_env = dict(os.environ)
    tools = [{"name": "nixkit", "cmd": [os.environ["NIXKIT_BIN"], "instantiate", "--readonly-mode", "--eval"],
              "env": nixkit_env}]
    cppnix = os.environ.get("CPPNIX_BIN", "")
    if cppnix:
        cpp_env = {k: v for k, v in os.environ.items() if k != "GC_INITIAL_HEAP_SIZE"}
        tools.append({"name": "cppnix", "cmd": [cppnix, "--readonly-mode", "--eval"], "env": cpp_env})
    markdown = os.environ.get("NIXKIT_COMPLEXITY_MARKDOWN", "") == "1"

    header = ["builtin/operator", "dimension", "n", "nixkit n", "nixkit 8n", "nixkit exp",
              "CppNix n", "CppNix 8n", "CppNix exp", "verdict"]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    else:
        print(f"repetitions per point: {reps} (minimum taken); cost = CPU seconds per operation")
        print(f"{header[0]:<30} {header[1]:<28} {header[2]:>6} " + " ".join(f"{h:>10}" for h in header[3:9])
              + "  verdict")
    worse = []
    for index, raw in enumerate(CASES):
        name, dim, n0, setup, op = raw[:5]
        case = {"name": name, "setup": setup, "op": op, "flags": list(raw[5:])}
        if only and only not in name:
            continue
        kinds = [f.split(":", 1)[1] for f in case["flags"] if f.startswith("files:")]
        points = {}
        error = None
        try:
            for n in (n0, 8 * n0):
                directory = os.path.join(work, f"{index:03d}-{n}")
                os.makedirs(directory, exist_ok=True)
                for kind in kinds:
                    write_files(kind, n, directory)
                for tool in tools:
                    start = 64 if n == n0 else max(1, points[(tool["name"], n0)].reps // 8)
                    p = Point(tool, case, n, directory, reps)
                    p.calibrate(start)
                    points[(tool["name"], n)] = p
                for _ in range(reps - 1):
                    for tool in tools:
                        points[(tool["name"], n)].sample()
        except Failed as e:
            error = str(e)
        cells = []
        exps = {}
        for tool in ("nixkit", "cppnix"):
            if (tool, 8 * n0) in points:
                (cs, share_s), (cl, share_l) = points[(tool, n0)].cost(), points[(tool, 8 * n0)].cost()
                if max(cs, cl) < CONSTANT_BELOW:
                    exps[tool] = (0.0, False)
                    cells += [fmt_cost(cs), fmt_cost(cl), "const"]
                    continue
                e = exponent(cs, cl)
                noisy = min(share_s, share_l) < 0.1
                exps[tool] = (e, noisy)
                cells += [fmt_cost(cs), fmt_cost(cl), fmt_exp(e) + ("?" if noisy else "")]
            else:
                cells += ["-", "-", "-"]
        verdict = ""
        if error:
            verdict = "FAILED: " + error
        elif "cppnix" in exps:
            (en, nn), (ec, nc) = exps["nixkit"], exps["cppnix"]
            if en is not None and ec is not None and not (nn or nc):
                verdict = "WORSE" if worse_growth(en, ec) else ("better" if worse_growth(ec, en) else "same")
            elif en is not None and ec is not None and en <= ec + WORSE_BY:
                verdict = "same (noisy)"
            else:
                verdict = "noisy"
        if verdict.startswith("WORSE"):
            worse.append(f"{name} ({dim})")
        row = [name, dim, str(n0)] + cells + [verdict]
        if markdown:
            print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |", flush=True)
        else:
            print(f"{row[0]:<30} {row[1]:<28} {row[2]:>6} " + " ".join(f"{c:>10}" for c in row[3:9])
                  + "  " + row[9], flush=True)
    print()
    print("not measured: " + "; ".join(f"{k}: {v}" for k, v in NOT_MEASURED.items()))
    print("a '?' marks an exponent where the operation was under 10 % of the run (baseline-dominated);")
    print("'const': under %.0f ns per operation at both sizes (the resolution of CPU time)" % (CONSTANT_BELOW * 1e9))
    print("worse than CppNix (exponent above CppNix's by more than %.2f, and above %.2f or"
          " growing where CppNix's is constant): %s" % (WORSE_BY, 1 + WORSE_BY, ", ".join(worse) if worse else "none"))


if __name__ == "__main__":
    main()
