"""Compiled functions called many times at one point with different directions (a Hessian-vector
product inside conjugate gradients): the work that does not depend on the directions is done once.

The outputs are split at their largest subexpressions that hold no direction (the sigmoid of the
scores, a softmax, a product of the data with the weights): ``<fname>_prepare`` computes those, and
``<fname>_apply`` takes the directions and that prepared state in their place.  The compiled function
itself calls both, so it is the same code that is checked and that runs; ``Compiled.at(**arrays)``
keeps the prepared state and returns the function of the directions alone.

>>> import numpy as np
>>> from matcalc import expr as E
>>> X, w, v = E.var("X", "p", "n"), E.var("w", "p"), E.var("v", "p")
>>> s = E.apply("sigmoid", E.matmul(E.transpose(X), w))
>>> hv = E.matmul(X, E.hadamard(s, E.add(E.Ones(*s.shape), E.neg(s)), E.matmul(E.transpose(X), v)))
>>> fn = compile_prepared([hv], [X, w], "hvp", positional=(v,))
>>> at = fn.at(X=np.eye(2), w=np.zeros(2))          # sigmoid(0) (1 - sigmoid(0)) = 1/4, computed once
>>> at(np.array([1.0, 2.0])).ravel().tolist(), fn(np.array([4.0, 0.0]), X=np.eye(2), w=np.zeros(2)).ravel().tolist()
([0.25, 0.5], [1.0, 0.0])
"""

from __future__ import annotations

from dataclasses import replace

from .. import expr as E
from .numpy import Compiled, assemble, compile_exprs, function_source

_CHEAP = (E.Var, E.Const, E.Ones, E.Identity, E.Zero)


def _cheap(e: E.Expr) -> bool:
    """Not worth keeping: a variable, a constant, a structured constant, the transpose of one (a view),
    or anything of the sizes alone."""
    if isinstance(e, _CHEAP) or (isinstance(e, E.Transpose) and isinstance(e.args[0], _CHEAP)):
        return True
    return not any("dimension" not in v.assume for v in E.free_vars(e))


def _group(e: E.Expr, directions: frozenset) -> E.Expr:
    """Hadamard products with the direction-free factors gathered into one factor, kept as one."""
    memo: dict = {}

    def go(n):
        if n in memo:
            return memo[n]
        kids = n.children
        new = [go(k) for k in kids]
        out = n.rebuild(new) if any(a is not b for a, b in zip(new, kids)) else n
        if isinstance(out, E.Hadamard):
            free = [f for f in out.args if not (E.free_vars(f) & directions)]
            held = [f for f in out.args if E.free_vars(f) & directions]
            if len(free) > 1 and held:
                out = E.Hadamard(*held, E.Hadamard(*free))
        memo[n] = out
        return out

    return go(e)


def hoisted(outputs: list, directions) -> list:
    """The largest subexpressions of ``outputs`` that hold none of ``directions`` (cheap ones left out).

    >>> x, v = E.var("x", "n"), E.var("v", "n")
    >>> from matcalc.emit.text import to_text
    >>> [to_text(e) for e in hoisted([E.hadamard(E.apply("exp", x), v)], [v])]
    ['exp(x)']
    """
    dirs = frozenset(directions)
    found: list = []
    seen: set = set()

    def go(e):
        if e in seen:
            return
        seen.add(e)
        if not (E.free_vars(e) & dirs):
            if not _cheap(e):
                found.append(e)
            return
        for k in e.children:
            go(k)

    for e in outputs:
        go(e)
    return found


def compile_prepared(outputs: list, variables: list, fname: str, positional: tuple) -> Compiled:
    """Like :func:`matcalc.emit.numpy.compile_exprs` with directions ``positional``, split into a
    prepare and an apply function (see the module docstring)."""
    dirs = frozenset(positional)
    outputs = [_group(e, dirs) for e in outputs]
    states = hoisted(outputs, positional)
    if not states:
        return compile_exprs(outputs, variables, fname, positional)
    taken = {v.name for v in list(variables) + list(positional)}
    svars = []
    for i, s in enumerate(states):
        svars.append(E.var(E.fresh_name(f"state{i}", taken), s.rows, s.cols))
        taken.add(svars[-1].name)
    applied = [E.substitute(e, dict(zip(states, svars))) for e in outputs]
    prep = function_source(states, variables, f"{fname}_prepare")
    app = function_source(applied, list(variables) + svars, f"{fname}_apply", positional)
    arrays = [v for v in variables if "dimension" not in v.assume]
    d_names = [app.names.vars[d.name] for d in positional if "dimension" not in d.assume]
    v_names = [app.names.vars[v.name] for v in arrays]
    to_prep = ", ".join(f"{prep.names.vars[v.name]}={app.names.vars[v.name]}" for v in arrays)
    s_args = ", ".join(f"{app.names.vars[s.name]}=_s[{i}]" for i, s in enumerate(svars))
    one = "," if len(states) == 1 else ""
    wrapper = "\n".join([
        f"def {fname}({', '.join(d_names + ['/'] + v_names + ['**dims'])}):",
        f"    _s = {fname}_prepare({to_prep}, **dims){one}",
        f"    return {fname}_apply({', '.join(d_names)}, {', '.join(f'{n}={n}' for n in v_names)}, {s_args}, **dims)",
    ]) + "\n"
    # the wrapper takes what the caller passes: apply's arguments less the state, and every size either needs
    main = replace(app, fname=fname, taken=[v for v in app.taken if v not in svars],
                   free=sorted(set(prep.free) | set(app.free)))
    fn = assemble([prep, app], main, extra=wrapper)
    ns = fn.fn.__globals__
    state_names = [app.names.vars[s.name] for s in svars]
    fn.prepared = (ns[f"{fname}_prepare"], ns[f"{fname}_apply"], state_names, len(states) == 1)
    return fn
