"""What one API request does, run inside a worker process: check the fields, call one public function, serialise.

``run(endpoint, body)`` raises only MemoryError (the worker answers it, then
exits): it returns ``(status, payload)``, 200 with the same JSON as the CLI's
``--format json``, or 400 with ``{"error", "column"}`` for bad input.  Field values are only ever handed to matcalc's own parsers.

>>> run("derive", {"expr": "x'*A*x", "wrt": "x", "verify": False})[1]["result"]
"(A + A')*x"
>>> run("derive", {"expr": "x'*A*", "wrt": "x"})
(400, {'error': 'unexpected end of input at column 6', 'column': 6, 'input': "x'*A*"})
"""

from __future__ import annotations

import traceback

import matcalc
from matcalc import serialize

# field -> (type check, what the error says it must be)
_FIELD_TYPES = {
    "expr": (lambda v: isinstance(v, str), "a string"),
    "wrt": (lambda v: isinstance(v, str), "a string (a variable name)"),
    "claimed": (lambda v: isinstance(v, str), "a string (text or LaTeX)"),
    "layout": (lambda v: v is None or isinstance(v, str), "'numerator', 'denominator' or null"),
    "order": (lambda v: v in (1, 2) and not isinstance(v, bool), "1 or 2"),
    "verify": (lambda v: isinstance(v, bool), "true or false"),
    "shapes": (lambda v: isinstance(v, dict) and all(
        isinstance(s, str) or (isinstance(s, list) and all(isinstance(d, (str, int)) and not isinstance(d, bool)
                                                         for d in s)) for s in v.values()),
        'an object such as {"A": [3, "n"], "b": "scalar"}'),
    "assume": (lambda v: isinstance(v, dict) and all(isinstance(a, str) for a in v.values()),
               'an object such as {"A": "symmetric"}'),
    "lines": (lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v)),
              "a string (one step per line) or a list of strings"),
}

# endpoint -> (required fields, optional fields)
ENDPOINTS = {
    "derive": (("expr", "wrt"), ("layout", "shapes", "assume", "verify")),
    "hessian": (("expr", "wrt"), ("layout", "shapes", "assume", "verify")),
    "check": (("expr", "wrt", "claimed"), ("layout", "order", "shapes", "assume")),
    "steps": (("lines",), ("wrt", "layout", "shapes", "assume")),
    "explain": (("expr", "wrt"), ("layout", "shapes", "assume")),
    "variables": (("expr",), ("shapes", "assume")),
}


class FieldError(ValueError):
    """A request body that does not have the fields an endpoint takes."""


def _fields(endpoint: str, body) -> dict:
    required, optional = ENDPOINTS[endpoint]
    if not isinstance(body, dict):
        raise FieldError("the body must be a JSON object")
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise FieldError(f"unknown field {unknown[0]!r} for /api/{endpoint}; it takes {', '.join(required + optional)}")
    for name in required:
        if body.get(name) is None:
            raise FieldError(f"/api/{endpoint} needs the field {name!r}")
    for name, value in body.items():
        ok, what = _FIELD_TYPES[name]
        if not ok(value):
            raise FieldError(f"the field {name!r} must be {what}")
    out = dict(body)
    if "shapes" in out:
        out["shapes"] = {k: tuple(v) if isinstance(v, list) else v for k, v in out["shapes"].items()}
    return out


def _derive(f: dict, fn) -> dict:
    d = fn(f["expr"], wrt=f["wrt"], layout=f.get("layout") or "denominator", shapes=f.get("shapes"),
           assume=f.get("assume"))
    return serialize.derivative_to_dict(d, d.verify() if f.get("verify", True) else None)


def _variables(f: dict) -> dict:
    p = matcalc.parse(f["expr"], shapes=f.get("shapes"), assume=f.get("assume"))
    return {"expr": p.text, "variables": serialize.variables_to_dict(p.variables)}


HANDLERS = {
    "derive": lambda f: _derive(f, matcalc.derive),
    "hessian": lambda f: _derive(f, matcalc.hessian),
    "check": lambda f: serialize.verdict_to_dict(matcalc.check(
        f["expr"], wrt=f["wrt"], claimed=f["claimed"], layout=f.get("layout"), order=f.get("order", 1),
        shapes=f.get("shapes"), assume=f.get("assume"))),
    "steps": lambda f: serialize.steps_to_dict(matcalc.check_steps(
        f["lines"], wrt=f.get("wrt"), shapes=f.get("shapes"), assume=f.get("assume"),
        layout=f.get("layout") or "denominator")),
    "explain": lambda f: serialize.explanation_to_dict(matcalc.explain(
        f["expr"], wrt=f["wrt"], layout=f.get("layout") or "denominator", shapes=f.get("shapes"),
        assume=f.get("assume"))),
    "variables": _variables,
}

USER_ERRORS = (matcalc.ParseError, matcalc.ShapeMismatchError, matcalc.UnknownNameError, matcalc.MatcalcError,
               matcalc.UnsupportedError, FieldError, ValueError, RecursionError)


def run(endpoint: str, body) -> tuple[int, dict]:
    """(HTTP status, JSON payload) for one request to ``/api/<endpoint>``."""
    if endpoint not in HANDLERS:
        return 404, {"error": f"no such endpoint /api/{endpoint}", "column": None}
    try:
        return 200, HANDLERS[endpoint](_fields(endpoint, body))
    except matcalc.VerificationError as e:
        return 500, {"error": f"the engine's result failed its own verification: {' '.join(str(e).split())}",
                     "column": None}
    except USER_ERRORS as e:
        return 400, serialize.error_to_dict(e)
    except MemoryError:
        raise  # the worker answers it and is replaced: after a failed allocation it may not be sound
    except Exception as e:  # a bug in matcalc: one line, never a traceback page
        where = traceback.extract_tb(e.__traceback__)[-1]
        return 500, {"error": f"internal error: {type(e).__name__}: {' '.join(str(e).split())} "
                              f"(at {where.name}; please report this)", "column": None}
