"""The command line: one function per command, each only calls the public API.

    matcalc derive "x'*A*x" --wrt x [--layout numerator] [--shape A=n,n] [--assume A=symmetric]
    matcalc hessian "x'*A*x" --wrt x
"""

from __future__ import annotations

import argparse
import json
import sys

from . import api
from .derive import UnsupportedError
from .parse import ParseError, ShapeMismatchError, UnknownNameError
from .verify import DomainError, VerificationError

USER_ERRORS = (ParseError, ShapeMismatchError, UnknownNameError, api.MatcalcError, UnsupportedError,
               DomainError, ValueError)


def _pairs(items, what) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise api.MatcalcError(f"--{what} takes NAME=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _emit(d: api.Derivative, fmt: str, report) -> str:
    if fmt == "latex":
        return d.latex(equation=True)
    if fmt == "json":
        out = d.to_dict()
        if report is not None:
            out["verification"] = report.to_dict()
        return json.dumps(out, indent=2)
    lines = [
        f"{d.kind} of {d.function} with respect to {d.wrt.name}, {d.layout} layout, shape {'x'.join(map(str, d.shape)) or 'scalar'}:",
        f"  {d}",
        f"  LaTeX: {d.latex()}",
        f"  shapes: {d.shapes_note()}",
    ]
    lines += [f"  note: {n}" for n in d.notes]
    if report is not None:
        lines.append(str(report))
    return "\n".join(lines)


def cmd_derive(args) -> int:
    """Differentiate EXPR with respect to --wrt and verify the result numerically."""
    fn = api.hessian if args.command == "hessian" else api.derive
    d = fn(args.expr, wrt=args.wrt, layout=args.layout, shapes=_pairs(args.shape, "shape"),
           assume=_pairs(args.assume, "assume"))
    report = None if args.no_verify else d.verify()
    print(_emit(d, args.format, report))
    return 0


def _add_derive_args(p):
    p.add_argument("expr", help="the function, e.g. \"x'*A*x\"")
    p.add_argument("--wrt", required=True, help="the variable")
    p.add_argument("--layout", choices=api.LAYOUTS, default="denominator")
    p.add_argument("--shape", action="append", metavar="NAME=n,m", help="declare a shape (repeatable); NAME=scalar for a scalar")
    p.add_argument("--assume", action="append", metavar="NAME=symmetric",
                   help="symmetric, spd, positive, invertible or onehot (repeatable)")
    p.add_argument("--format", choices=("text", "latex", "json"), default="text")
    p.add_argument("--no-verify", action="store_true", help="skip the finite-difference check")
    p.set_defaults(func=cmd_derive)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matcalc", description="Matrix calculus you can trust.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_derive_args(sub.add_parser("derive", help=cmd_derive.__doc__, description=cmd_derive.__doc__))
    _add_derive_args(sub.add_parser("hessian", help="The Hessian of a scalar EXPR (over vec(X) for a matrix).",
                                    description="The Hessian of a scalar EXPR (over vec(X) for a matrix)."))
    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# Other stages register their commands here: each is a function taking the subparsers object.
EXTRA_COMMANDS: list = []


def _protect_expressions(argv: list) -> list:
    """An expression such as -(1/n)*sum(...) is not an option: a leading space keeps argparse off it."""
    out = []
    for a in argv:
        if a.startswith("-") and len(a) > 1 and (a[1] in "(.0123456789 " or any(ch in a for ch in "*()'/^ ")):
            a = " " + a
        out.append(a)
    return out


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(_protect_expressions(list(sys.argv[1:] if argv is None else argv)))
    try:
        return args.func(args)
    except (ParseError, ShapeMismatchError) as e:
        print(f"matcalc: error: {e}", file=sys.stderr)
        caret = e.caret()
        if caret:
            print(caret, file=sys.stderr)
        return 2
    except VerificationError as e:
        print(f"matcalc: error: {e}", file=sys.stderr)
        return 3
    except USER_ERRORS as e:
        print(f"matcalc: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
