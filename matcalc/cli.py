"""The command line: one function per command, each only calls the public API.

    matcalc derive "x'*A*x" --wrt x [--layout numerator|denominator|both] [--shape A=n,n] [--assume A=symmetric]
    matcalc hessian "x'*A*x" --wrt x
    matcalc check "tr(W'*W)" --wrt W --claimed "2*W"
    matcalc explain "normF(W)^2" --wrt W --format json

An expression is text or LaTeX; ``-`` reads it from stdin and ``--file PATH`` from a file.
``--format json`` prints :mod:`matcalc.serialize`'s dicts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__, api, serialize
from .errors import MatcalcError, TooLargeError, one_line
from .verify import VerificationError

USER_ERRORS = (MatcalcError,)  # the base of every error matcalc raises for bad input (ParseError, ...)
MAX_FILE_BYTES = 1_000_000  # a derivation file (or stdin) is read up to this; a longer one is refused

FORMAT_HELP = {
    "text": "text: the result, its LaTeX, the shapes used, notes and the verification report",
    "latex": "latex: LaTeX only",
    "json": "json: one JSON object (shapes as lists, checks as objects, entry indices 1-based)",
}


def _pairs(items, what) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise api.MatcalcError(f"--{what} takes NAME=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        if k.strip() in out:
            raise api.MatcalcError(f"--{what} names {k.strip()} twice")
        out[k.strip()] = v.strip()
    return out


def _read(path: str) -> str:
    """The text of a file, or of stdin for ``-``: lines joined by spaces, ``#`` comment lines left out."""
    text = read_text(path)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise api.MatcalcError(f"{'stdin' if path == '-' else path} holds no expression")
    return " ".join(lines)


def _expression(args) -> str:
    """EXPR from the command line, ``-`` (stdin) or --file; exactly one of them."""
    given = [x for x in (getattr(args, "expr", None), getattr(args, "expr_option", None)) if x is not None]
    if args.file is not None:
        given.append(_read(args.file))
    if len(given) != 1:
        raise api.MatcalcError("give the expression once: as EXPR, '-' for stdin, or --file PATH"
                               if given else "no expression: give EXPR, '-' for stdin, or --file PATH")
    text = given[0]
    return _read("-") if text.strip() == "-" else text


def _text_report(d: api.Derivative, report) -> list:
    lines = [
        f"{d.kind} of {d.function} with respect to {d.wrt.name}, {d.layout} layout, "
        f"shape {'x'.join(map(str, d.shape)) or 'scalar'}:",
        f"  {d}",
        f"  LaTeX: {d.latex()}",
        f"  shapes: {d.shapes_note()}",
    ]
    lines += [f"  note: {n}" for n in d.notes]
    if report is not None:
        lines.append(str(report))
    return lines


def _emit(d: api.Derivative, fmt: str, report, both: bool = False) -> str:
    if fmt == "json":
        out = serialize.both_layouts_to_dict(d, report) if both else serialize.derivative_to_dict(d, report)
        return json.dumps(out, indent=2)
    if not both:
        return d.latex(equation=True) if fmt == "latex" else "\n".join(_text_report(d, report))
    views = [d.in_layout("denominator"), d.in_layout("numerator")]
    if fmt == "latex":
        return "\n".join(rf"{v.latex(equation=True)} \quad \text{{({v.layout} layout)}}" for v in views)
    shapes = ", ".join(f"{'x'.join(map(str, v.shape)) or 'scalar'} ({v.layout})" for v in views)
    lines = [f"{d.kind} of {d.function} with respect to {d.wrt.name}, both layouts, shape {shapes}:"]
    lines += [f"  {v.layout + ':':13s}{v}" for v in views]
    lines += [f"  LaTeX ({v.layout}): {v.latex()}" for v in views]
    lines.append(f"  shapes: {d.shapes_note()}")
    lines += [f"  note: {n}" for n in d.notes]
    if report is not None:
        lines.append(str(report))
    return "\n".join(lines)


def cmd_derive(args) -> int:
    """Differentiate EXPR (text or LaTeX) with respect to --wrt and verify the result numerically."""
    fn = api.hessian if args.command == "hessian" else api.derive
    both = args.layout == "both"
    d = fn(_expression(args), wrt=args.wrt, layout="denominator" if both else args.layout,
           shapes=_pairs(args.shape, "shape"), assume=_pairs(args.assume, "assume"))
    report = None if args.no_verify else d.verify()
    print(_emit(d, args.format, report, both))
    return 0


def _add_shape_options(p):
    p.add_argument("--shape", action="append", metavar="NAME=n,m",
                   help="declare a shape (repeatable): NAME=n,m for a matrix, NAME=n for a column vector, "
                        "NAME=scalar for a scalar; undeclared names follow their case (see docs/conventions.md)")
    p.add_argument("--assume", action="append", metavar="NAME=symmetric",
                   help="symmetric, spd, positive, invertible or onehot (repeatable; NAME=spd,positive for several)")


def _add_input_options(p, what: str):
    p.add_argument("--file", "-f", metavar="PATH",
                   help=f"read {what} from PATH ('-' for stdin) instead of the command line")


def _command(sub, name, fn, formats, layout="denominator", doc=None, layouts=api.LAYOUTS):
    """A subcommand whose help is ``doc`` or ``fn``'s docstring, with --layout, --shape, --assume and --format."""
    doc = doc or fn.__doc__
    p = sub.add_parser(name, help=doc, description=doc)
    p.add_argument("--layout", choices=layouts, default=layout,
                   help="denominator (a gradient has the shape of the variable) or numerator (its transpose)"
                        + ("; both prints the two, each labelled" if "both" in layouts else "")
                        + (" (default: either is accepted, and the verdict says which)" if layout is None
                           else f" (default: {layout})"))
    _add_shape_options(p)
    p.add_argument("--format", choices=formats, default=formats[0],
                   help="; ".join(FORMAT_HELP[f] for f in formats) + f" (default: {formats[0]})")
    p.set_defaults(func=fn)
    return p


def _add_derive_command(sub, name, doc):
    p = _command(sub, name, cmd_derive, ("text", "latex", "json"), doc=doc, layouts=api.LAYOUTS + ("both",))
    p.add_argument("expr", nargs="?", help="the function, e.g. \"x'*A*x\" or LaTeX such as \"x^\\top A x\"; "
                                           "'-' reads it from stdin")
    _add_input_options(p, "the function")
    p.add_argument("--wrt", required=True, help="the variable to differentiate with respect to")
    p.add_argument("--no-verify", action="store_true", help="skip the finite-difference check")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2); --help still prints the full usage."""

    def error(self, message):
        print(f"matcalc: error: {one_line(message)} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (each option has its help).

    >>> p = build_parser()
    >>> p.parse_args(["derive", "x'*x", "--wrt", "x", "--layout", "both"]).layout
    'both'
    """
    parser = _Parser(
        prog="matcalc", description="Matrix calculus you can trust: derive, verify, check and explain derivatives.",
        epilog="Run 'matcalc COMMAND --help' for a command's options. Exit status: 0 ok, 1 a wrong answer or step, "
               "2 bad input, 3 a failed verification.")
    parser.add_argument("--version", action="version", version=f"matcalc {__version__}",
                        help="print matcalc's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_derive_command(sub, "derive", cmd_derive.__doc__)
    _add_derive_command(sub, "hessian", "The Hessian of a scalar EXPR (over vec(X) for a matrix), verified numerically.")
    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# Other stages register their commands here: each is a function taking the subparsers object.
EXTRA_COMMANDS: list = []


SHORT_OPTIONS = ("-h",)  # the only single-dash options: any other argument starting with '-' is a value


def _protect_expressions(argv: list) -> tuple[list, dict]:
    """An expression such as -x or -(1/n)*sum(...) is not an option: a leading space keeps argparse off it.

    Returns the protected arguments and the map back to the originals (see :func:`_restore`).
    """
    out, protected = [], {}
    for a in argv:
        if a.startswith("-") and len(a) > 1 and not a.startswith("--") and a not in SHORT_OPTIONS:
            protected[" " + a] = a
            a = " " + a
        out.append(a)
    return out, protected


def _restore(args, protected: dict) -> None:
    """Undo _protect_expressions in the parsed values, so columns and names are the user's own."""
    for k, v in vars(args).items():
        if isinstance(v, str) and v in protected:
            setattr(args, k, protected[v])
        elif isinstance(v, list):
            setattr(args, k, [protected.get(x, x) if isinstance(x, str) else x for x in v])


def _error(message: str) -> None:
    print(f"matcalc: {one_line(message)}", file=sys.stderr)


def main(argv=None) -> int:
    """Run one command; the exit status is 0 ok, 1 wrong, 2 bad input, 3 failed verification, 70 a bug.

    >>> main(["derive", "tr(W'*W)", "--wrt", "W", "--format", "latex", "--no-verify"])
    \\frac{\\partial}{\\partial W}\\left(\\operatorname{tr}\\left(W^{\\top} W\\right)\\right) = 2 W
    0
    """
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (matcalc ... | head): stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1


def _main(argv=None) -> int:
    parser = build_parser()
    argv, protected = _protect_expressions(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    _restore(args, protected)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a broken pipe shows here, not at exit
        return code
    except VerificationError as e:
        _error(f"error: {e}")
        return 3
    except USER_ERRORS as e:
        _error(f"error: {e}")
        caret = getattr(e, "caret", None)
        caret = caret() if caret else ""
        if caret:
            print(caret, file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise
    except OSError as e:  # a file that cannot be read or written
        _error(f"error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
        return 2
    except Exception as e:  # a bug in matcalc: still one line, and a distinct exit status
        _error(f"internal error: {type(e).__name__}: {e} (please report this)")
        return 70


# -- train (matcalc.train) -----------------------------------------------------------------


FULL_BATCH = "full"


def _batch_size(text: str):
    """A minibatch size, or FULL_BATCH for 'full' (also 'all', 'none')."""
    if text.strip().lower() in ("full", "none", "all"):
        return FULL_BATCH
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a positive integer or 'full', got {text!r}") from None


def cmd_train(args) -> int:
    """Train a linear classifier on DATA (.csv, .npy or .npz; the bundled Iris data when omitted) and save it."""
    from .train import runner

    options = dict(solver=args.solver, loss=args.loss, reg=args.reg, lam=args.lam, alpha=args.alpha,
                   epochs=args.epochs, lr=args.lr, lr_schedule=args.lr_schedule, momentum=args.momentum, tol=args.tol,
                   standardize=args.standardize)
    if args.batch_size is not None:  # only when given; FULL_BATCH ("full") asks the runner for full-batch descent
        options["batch_size"] = args.batch_size
    result = runner.train_file(args.data, target=args.target, model=args.model, test_size=args.test_size,
                               seed=args.seed, out=args.out, **options)
    print(result.summary())
    return 0


def _add_train_command(sub) -> None:
    p = sub.add_parser("train", help=cmd_train.__doc__, description=cmd_train.__doc__)
    p.add_argument("data", nargs="?", default=None, help="a .csv (with a header row), .npy or .npz file")
    p.add_argument("--target", help="the label column: a CSV column name, or an index (default: the last column; "
                                    "for .npz, the array holding the labels, default y)")
    p.add_argument("--model", choices=("softmax", "svm", "logistic"), default="softmax",
                   help="softmax regression (default), a multiclass SVM, or binary logistic regression")
    p.add_argument("--loss", choices=("hinge", "squared_hinge", "perceptron"), help="the SVM's loss (default hinge)")
    p.add_argument("--reg", choices=("none", "l2", "l1", "elasticnet"), help="regularizer on the weights (default l2)")
    p.add_argument("--lam", type=float, help="regularization strength")
    p.add_argument("--alpha", type=float, help="elastic-net mixing: alpha*L1 + (1 - alpha)*L2")
    p.add_argument("--solver", choices=("lbfgs", "newton-cg", "sgd"),
                   help="lbfgs (default), newton-cg, or sgd (implied by --batch-size, --lr, --momentum)")
    p.add_argument("--epochs", "--max-iter", dest="epochs", type=int,
                   help="solver iterations at most (epochs for sgd)")
    p.add_argument("--batch-size", type=_batch_size, default=argparse.SUPPRESS,
                   help="SGD minibatch size, or 'full' for full-batch gradient descent")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--lr-schedule", choices=("constant", "invscaling"),
                   help="constant, or invscaling: the step size decays as lr / (1 + step/100)^power_t")
    p.add_argument("--momentum", type=float, help="momentum of the SGD steps, in [0, 1)")
    p.add_argument("--tol", type=float, help="stopping tolerance: largest gradient entry (lbfgs, newton-cg), "
                                             "relative improvement (sgd)")
    p.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                   help="scale features to mean 0, variance 1 (default on)")
    p.add_argument("--test-size", type=float, default=0.25, help="fraction held out, stratified (default 0.25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the initial weights and the shuffling (default 0)")
    p.add_argument("--out", metavar="DIR", help="save model.npz (the model, written atomically), model.json and "
                                                "loss_curve.png here")
    p.set_defaults(func=cmd_train, batch_size=None)


EXTRA_COMMANDS.append(_add_train_command)


# -- check / steps / explain (issue 3) ----------------------------------------------------


def cmd_check(args) -> int:
    """Check a claimed derivative of EXPR with respect to --wrt: exit 0 when correct, 1 when wrong."""
    from .check import check

    v = check(_expression(args), wrt=args.wrt, claimed=args.claimed, layout=args.layout, order=args.order,
              shapes=_pairs(args.shape, "shape"), assume=_pairs(args.assume, "assume"))
    print(json.dumps(serialize.verdict_to_dict(v), indent=2) if args.format == "json" else v.explain(args.format))
    return 0 if v.correct else 1


def read_text(path: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a file ('-': standard input), read only up to ``limit`` bytes."""
    name = "standard input" if path == "-" else path
    try:
        if path == "-" and not hasattr(sys.stdin, "buffer"):  # a text stream (tests, embedding)
            data = sys.stdin.read(limit + 1)
            if len(data) > limit:
                raise TooLargeError(f"{name} is longer than {limit} characters; the limit is {limit}")
            return data
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as e:
        raise MatcalcError(f"cannot read {name}: {e.strerror or e}") from None
    if len(data) > limit:
        raise TooLargeError(f"{name} is longer than {limit} bytes; the limit is {limit}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MatcalcError(f"cannot read {name}: it is not UTF-8 text (byte 0x{data[e.start]:02x} at "
                           f"offset {e.start})") from None


def cmd_steps(args) -> int:
    """Check a derivation in FILE ('-' for stdin), one step per line (see matcalc.check_steps): exit 0 when every step follows."""
    from .check import check_steps

    text = read_text(args.file)
    r = check_steps(text, wrt=args.wrt, shapes=_pairs(args.shape, "shape"), assume=_pairs(args.assume, "assume"),
                    layout=args.layout)
    if args.format == "json":
        print(json.dumps(serialize.steps_to_dict(r), indent=2))
    else:
        print(r)
        if not r.ok:
            print(r.explain())
    return 0 if r.ok else 1


def cmd_explain(args) -> int:
    """Explain the gradient of EXPR (text or LaTeX) with respect to --wrt as a derivation by differentials."""
    from .explain import explain

    ex = explain(_expression(args), wrt=args.wrt, layout=args.layout, shapes=_pairs(args.shape, "shape"),
                 assume=_pairs(args.assume, "assume"))
    if args.format == "json":
        print(json.dumps(serialize.explanation_to_dict(ex), indent=2))
    else:
        print(ex.latex() if args.format == "latex" else ex.text())
    return 0


def _register_check_commands(sub) -> None:
    p = _command(sub, "check", cmd_check, ("text", "latex", "json"), layout=None)
    p.add_argument("expr", nargs="?", help="the function, e.g. \"(lam/(2*m))*normF(W)^2\" (text or LaTeX); "
                                           "'-' reads it from stdin")
    p.add_argument("--expr", dest="expr_option", metavar="EXPR", help="the function, as an option (the same as EXPR)")
    _add_input_options(p, "the function")
    p.add_argument("--wrt", required=True, help="the variable the claim differentiates with respect to")
    p.add_argument("--claimed", required=True, help="the claimed derivative (text or LaTeX)")
    p.add_argument("--order", type=int, choices=(1, 2), default=1, help="1 checks a first derivative (default), "
                                                                       "2 a claimed Hessian")

    p = _command(sub, "steps", cmd_steps, ("text", "json"))
    p.add_argument("file", help="a text file, one step per line ('-' reads stdin)")
    p.add_argument("--wrt", default=None, help="the variable for grad(...) items that do not name one")

    p = _command(sub, "explain", cmd_explain, ("text", "latex", "json"))
    p.add_argument("expr", nargs="?", help="a scalar function, e.g. \"normF(W)^2\" (text or LaTeX); "
                                           "'-' reads it from stdin")
    _add_input_options(p, "the function")
    p.add_argument("--wrt", required=True, help="the variable to differentiate with respect to")


EXTRA_COMMANDS.append(_register_check_commands)


# -- serve (matcalc.web) -------------------------------------------------------------------


def cmd_serve(args) -> int:
    """Serve the web page and JSON API on a local address (needs: pip install "matcalc[web]")."""
    from .web import serve

    serve(host=args.host, port=args.port, workers=args.workers, timeout=args.timeout,
          allow_hosts=args.allow_host, memory_mb=args.memory)
    return 0


def _add_serve_command(sub) -> None:
    p = sub.add_parser("serve", help=cmd_serve.__doc__, description=cmd_serve.__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 serves a class)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core, at most 4)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds a request may run before it is stopped (default 10)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a name the Host header may give besides localhost, 127.0.0.1 and [::1] (repeatable); "
                        "without it a server bound to a non-loopback address answers any Host")
    p.add_argument("--memory", type=int, default=2048, metavar="MB",
                   help="megabytes of memory each worker may use; a request needing more gets a 400 (default 2048; "
                        "0: no limit)")
    p.set_defaults(func=cmd_serve)


EXTRA_COMMANDS.append(_add_serve_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
