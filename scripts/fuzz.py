"""The long text fuzz of matcalc's public functions and CLI (issue 7).

    nice -n 19 python scripts/fuzz.py --inputs 100000 --seed 0 [--report fuzz.json]

Feeds parse, parse_latex, derive, hessian, check, check_steps, explain and the CLI with random
text: well-formed expressions from the grammar, the same with random edits (a token or a
character inserted, deleted or replaced), LaTeX, random claims, shapes and assumptions, and
raw random characters.  It counts, and prints examples of:

* uncaught exceptions: anything but a MatcalcError out of a public function;
* CLI exit codes other than 0, 1 and 2;
* hangs: a call over 2 s of CPU time (a call is stopped after 20 s of CPU time);
* messages of more than one line (a CLI caret under a one-line message is allowed).

All four must be 0.  Exit status 0 when they are, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import random
import re
import signal
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import matcalc  # noqa: E402
from matcalc.cli import main as cli_main  # noqa: E402
from matcalc.errors import MatcalcError  # noqa: E402
from matcalc.parse import parse_latex  # noqa: E402
from matcalc.verify import VerificationError  # noqa: E402

SLOW = 2.0  # seconds of CPU time
STOP = 20  # seconds of CPU time before a call counts as a hang and is stopped (the budget stops one after 10)

VECTORS = ["x", "y", "w", "b", "_dv0", "z"]
MATRICES = ["A", "B", "X", "W", "S", "Y", "DIFFX", "G"]
SCALARS = ["lam", "alpha", "eta", "c", "n"]
NUMBERS = ["0", "1", "2", "3", "0.5", "1e-3", "1e300", "1e-999", "1e308", "9" * 99, "64", "1000000", "1.5"]
UNARY = ["exp", "log", "sqrt", "abs", "sign", "relu", "step", "sigmoid", "softplus", "tanh", "sin", "cos",
         "sum", "tr", "det", "logdet", "inv", "norm1", "norm2", "normF", "diag", "softmax", "logsumexp", "vec",
         "vector", "matrix", "eye"]
BINARY = ["+", "-", "*", "/", ".*", "./"]
JUNK = list("()+-*/'^.,=;[]{}\\$#@!\n\t ") + ["é", "∂", "∇", "\x00", "\u2028", "😀", "\ufeff"]
LATEX = ["\\frac{", "}{", "}", "{", "^\\top", "^T", "^{-1}", "\\|", "\\|_F^2", "\\operatorname{tr}", "\\sum_{i,j}",
         "\\mathbf{x}", "\\lambda", "\\odot", "\\sigma(", "\\log", "\\det", "\\left(", "\\right)", "\\cdot", "W",
         "x", "A", "X", "2", "_{ij}", "\\exp", "\\sqrt{", "\\nabla_W", "\\partial", " ", "^2", "\\mathrm{d}", "I"]
SHAPES = [None, {"x": ("n",)}, {"A": ("n", "m")}, {"X": "n x n"}, {"x": "3"}, {"A": (2, 3)},
          {"x": ("1" * 30,)}, {"x": "n x"}, {"lam": ()}, {"W": ("k", "p")}, {"x": 3.5}, {"": "n"},
          {"x": ("n", "m", "p")}, {"X": (500, 500)}, {"X": (1000, 1000)}, {"x": (0,)}]
ASSUME = [None, None, {"A": "symmetric"}, {"S": "spd"}, {"x": "positive"}, {"Y": "onehot"},
          {"A": "hermitian"}, {"X": ["spd", "symmetric"]}, {"q": "spd"}, {"A": 5}, {"X": "invertible"}]
CLI_WORDS = ["derive", "hessian", "check", "explain", "steps", "--wrt", "--expr", "--claimed", "--layout",
             "--shape", "--assume", "--format", "--order", "--no-verify", "json", "latex", "text", "numerator",
             "x", "A", "W", "x=n", "A=symmetric", "x=" + "9" * 30, "-x", "-1", "--", "2", "1", "-(x'*x)"]


def expression(rng: random.Random, depth: int) -> str:
    """A random expression from the grammar (not always well-typed)."""
    r = rng.random()
    if depth <= 0 or r < 0.25:
        pool = rng.choice([VECTORS, MATRICES, SCALARS, NUMBERS])
        return rng.choice(pool)
    if r < 0.5:
        f = rng.choice(UNARY)
        if f == "eye":
            return rng.choice(["eye(n)", "eye(3)", "eye()", "eye(k)"])
        return f"{f}({expression(rng, depth - 1)})"
    if r < 0.62:
        return f"{expression(rng, depth - 1)}'"
    if r < 0.7:
        op = rng.choice(["^", ".^"])
        return f"{expression(rng, depth - 1)}{op}{rng.choice(['2', '3', '-1', '0.5', '64', '65', 'lam', '1000000'])}"
    if r < 0.75:
        return f"kron({expression(rng, depth - 1)}, {expression(rng, depth - 1)})"
    if r < 0.8:
        return f"-({expression(rng, depth - 1)})"
    a, b = expression(rng, depth - 1), expression(rng, depth - 1)
    return f"({a} {rng.choice(BINARY)} {b})" if rng.random() < 0.5 else f"{a}{rng.choice(BINARY)}{b}"


def typed(rng: random.Random) -> str:
    """A well-typed scalar function of the kind people differentiate."""
    inner = rng.choice(["x'*A*x", "w'*x", "sum(W*x)", "tr(X'*X)", "normF(W)^2", "logdet(S)", "sum(exp(W*x))",
                        "logsumexp(W*x)", "sum(relu(1 - y.*(X'*w)))", "x'*x", "sum(X^3)", "norm1(x)",
                        "sum(log(sigmoid(w'*x)))", "tr(inv(S))", "lam*sum(x.^2)", "sum(softplus(A*x))"])
    for _ in range(rng.randint(0, 2)):
        inner = rng.choice([f"lam*{inner}", f"({inner})^2", f"exp({inner})", f"{inner} + {rng.choice(['x', 'lam'])}'*x",
                            f"sqrt({inner})", f"log(1 + {inner})", f"({inner})/2", f"sin({inner})"])
    return inner


def mutate(rng: random.Random, s: str) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(s))
        what = rng.random()
        piece = rng.choice(JUNK + BINARY + UNARY + NUMBERS + VECTORS) if rng.random() < 0.7 else rng.choice(JUNK)
        if what < 0.4:
            s = s[:i] + piece + s[i:]
        elif what < 0.7:
            s = s[:i] + s[i + rng.randint(1, 3):]
        else:
            s = s[:i] + piece + s[i + 1:]
    return s


def text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return expression(rng, rng.randint(0, 6))
    if r < 0.6:
        return typed(rng)
    if r < 0.75:
        return mutate(rng, rng.choice([expression(rng, rng.randint(0, 5)), typed(rng)]))
    if r < 0.85:
        return "".join(rng.choice(LATEX) for _ in range(rng.randint(1, 12)))
    if r < 0.92:
        return "".join(rng.choice(JUNK + VECTORS + MATRICES + NUMBERS) for _ in range(rng.randint(0, 20)))
    return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 15)))


def claim_for(rng: random.Random, f: str, wrt: str, claim: str, shapes) -> str:
    """Half the time, a claim near the right answer: the engine's, edited, scaled, transposed or padded."""
    if rng.random() < 0.5:
        return claim
    try:
        res = str(matcalc.derive(f, wrt, shapes=shapes))
    except MatcalcError:
        return claim
    return rng.choice([res, mutate(rng, res), f"2*({res})", f"({res})'", f"-({res})", f"sum({res})",
                       f"{res} + 0*log(-sum({wrt}.^2))", f"{res} + 0*{wrt}", res.replace("*", ".*", 1)])


def public_call(rng: random.Random):
    """(description, zero-argument call) of one public function with random arguments."""
    f = text(rng)
    names = [m for m in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f) if m not in UNARY and m != "kron"]
    if names and rng.random() < 0.85:
        wrt = rng.choice(names)
    else:
        wrt = rng.choice(VECTORS + MATRICES + SCALARS + ["q", "", "x'"]) if rng.random() < 0.9 else text(rng)
    shapes = rng.choice(SHAPES) if rng.random() < 0.2 else None
    assume = rng.choice(ASSUME) if rng.random() < 0.15 else None
    layout = rng.choices(["denominator", "numerator", None, "row"], weights=[40, 30, 28, 2])[0]
    lay = layout or "denominator"
    claim = text(rng)
    kind = rng.choices(["parse", "latex", "derive", "hessian", "check", "steps", "explain", "verify"],
                       weights=[20, 10, 20, 8, 14, 8, 8, 4])[0]
    desc = {"call": kind, "f": f, "wrt": wrt, "claim": claim, "shapes": repr(shapes), "assume": repr(assume),
            "layout": layout}
    calls = {
        "parse": lambda: matcalc.parse(f, shapes=shapes, assume=assume),
        "latex": lambda: parse_latex(f, shapes=shapes, assume=assume),
        "derive": lambda: (str(matcalc.derive(f, wrt, layout=lay, shapes=shapes, assume=assume)),
                           matcalc.derive(f, wrt, layout=lay, shapes=shapes, assume=assume).latex()),
        "hessian": lambda: str(matcalc.hessian(f, wrt, layout=lay, shapes=shapes, assume=assume)),
        "check": lambda: matcalc.check(f, wrt, claimed=claim_for(rng, f, wrt, claim, shapes), layout=layout,
                                       shapes=shapes, assume=assume).explain(),
        "steps": lambda: matcalc.check_steps([f, "= " + claim] + [text(rng) for _ in range(rng.randint(0, 2))],
                                             wrt=wrt or None, shapes=shapes, assume=assume).ok,
        "explain": lambda: matcalc.explain(f, wrt, layout=lay, shapes=shapes, assume=assume).text(),
        "verify": lambda: matcalc.derive(f, wrt, layout=lay, shapes=shapes, assume=assume).verify().ok,
    }
    return desc, calls[kind]


def cli_argv(rng: random.Random) -> list:
    cmd = rng.choice(["derive", "hessian", "check", "explain", "steps"])
    argv = [cmd]
    if cmd == "check":
        argv += ["--expr", text(rng), "--wrt", rng.choice(VECTORS + MATRICES), "--claimed", text(rng)]
    elif cmd == "steps":
        argv += [rng.choice(["/nonexistent/file", "/dev/null", "/etc/hostname"])]
    else:
        argv += [text(rng), "--wrt", rng.choice(VECTORS + MATRICES + SCALARS)]
    for _ in range(rng.randint(0, 3)):
        argv.append(rng.choice(CLI_WORDS) if rng.random() < 0.8 else text(rng))
    if cmd in ("derive", "hessian") and rng.random() < 0.7:
        argv.append("--no-verify")
    rng.shuffle(argv) if rng.random() < 0.1 else None
    return argv


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


WARNED: list = []  # warnings (NumPy's RuntimeWarning, ...) the last call let reach the user


def run_one(call):
    """(outcome, exception or None, cpu seconds); outcome: ok, error, verification, uncaught, hang."""
    signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, STOP)  # CPU time: a nice'd run on a busy machine is not a hang
    t = time.thread_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
            return "ok", None, time.thread_time() - t
        except _Hang as e:
            return "hang", e, time.thread_time() - t
        except MatcalcError as e:
            return "error", e, time.thread_time() - t
        except VerificationError as e:  # matcalc's own, but it says a result disagrees with the numbers
            return "verification", e, time.thread_time() - t
        except Exception as e:  # what the fuzz looks for
            return "uncaught", e, time.thread_time() - t
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            WARNED[:] = [f"{w.category.__name__}: {w.message}" for w in caught]


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    code = None

    def call():
        nonlocal code
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(argv)
            except SystemExit as e:
                code = e.code

    outcome, exc, secs = run_one(call)
    return outcome, exc, secs, code, err.getvalue()


def one_line_cli(err: str) -> bool:
    lines = err.splitlines()
    if len(lines) <= 1:
        return True
    return len(lines) == 3 and lines[2].strip() == "^"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cli-share", type=float, default=0.1, help="fraction of inputs sent through the CLI")
    ap.add_argument("--report", help="write the counts and examples as JSON here")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    counts = collections.Counter()
    kinds = collections.Counter()
    examples = collections.defaultdict(list)
    slowest = []
    t0 = time.time()
    for i in range(args.inputs):
        if rng.random() < args.cli_share:
            av = cli_argv(rng)
            outcome, exc, secs, code, err = run_cli(av)
            desc = {"cli": av}
            counts["cli"] += 1
            if outcome == "uncaught":
                kinds[f"cli {type(exc).__name__}"] += 1
            if code not in (0, 1, 2) and outcome != "hang":
                outcome = "bad exit"
                desc["code"], desc["stderr"] = code, err[-300:]
            elif not one_line_cli(err):
                outcome = "multi-line"
                desc["stderr"] = err[-300:]
        else:
            desc, call = public_call(rng)
            outcome, exc, secs = run_one(call)
            counts["public"] += 1
            if outcome == "error" and (not str(exc) or "\n" in str(exc) or len(str(exc)) > 500):
                outcome = "multi-line"
            if outcome == "uncaught":
                kinds[f"{desc['call']} {type(exc).__name__}"] += 1
        if secs > SLOW and outcome != "hang":
            counts["slow"] += 1
            examples["slow"].append({**desc, "seconds": round(secs, 2)}) if len(examples["slow"]) < 10 else None
        counts[outcome] += 1
        if WARNED:
            counts["warned"] += 1
            if len(examples["warned"]) < 10:
                examples["warned"].append({**desc, "warnings": WARNED[:3]})
        slowest.append((secs, json.dumps(desc)[:200]))
        slowest = sorted(slowest, reverse=True)[:5]
        if outcome in ("uncaught", "hang", "bad exit", "multi-line", "verification") and len(examples[outcome]) < 15:
            examples[outcome].append({**desc, "exception": f"{type(exc).__name__}: {exc}"[:300] if exc else None})
            print(f"  [{i}] {outcome}: {json.dumps(examples[outcome][-1], ensure_ascii=True)[:600]}", flush=True)
        if (i + 1) % 5000 == 0:
            print(f"{i + 1} inputs, {time.time() - t0:.0f} s: {dict(counts)}", flush=True)
    bad = counts["uncaught"] + counts["hang"] + counts["bad exit"] + counts["multi-line"] + counts["slow"]
    print(f"\n{args.inputs} inputs (seed {args.seed}) in {time.time() - t0:.0f} s: {counts['public']} calls of the "
          f"public functions, {counts['cli']} command lines")
    print(f"  answers: {counts['ok']}, clear matcalc errors: {counts['error']}")
    print(f"  uncaught exceptions: {counts['uncaught']} {dict(kinds) if kinds else ''}")
    print(f"  CLI exit codes other than 0, 1, 2: {counts['bad exit']}")
    print(f"  calls over {SLOW:g} s of CPU time: {counts['slow']} (stopped after {STOP} s: {counts['hang']})")
    print(f"  multi-line messages: {counts['multi-line']}")
    print(f"  VerificationError (a result the numbers contradict, or a false alarm): {counts['verification']}")
    print(f"  calls that let a Python warning through: {counts['warned']}")
    print("  slowest calls: " + "; ".join(f"{s:.2f} s {d}" for s, d in slowest[:3]))
    for k, ex in examples.items():
        print(f"\n{k}:")
        for e in ex[:5]:
            print("  ", json.dumps(e, ensure_ascii=True)[:400])
    if args.report:
        with open(args.report, "w") as fh:
            json.dump({"inputs": args.inputs, "seed": args.seed, "counts": counts, "uncaught": kinds,
                       "examples": examples}, fh, indent=1, default=str)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
