"""Compiled value-and-gradient and Hessian-vector products; structure-aware emission; standalone source.

Every table row is checked against finite differences (``.verify()``) at random non-square shapes,
and the structured chains against a dense NumPy evaluation written here, independently of the
emitter (np.kron, np.diagflat, an explicit commutation matrix).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import matcalc
from matcalc import expr as E
from matcalc.emit.numpy import compile_expr, compile_exprs
from matcalc.verify import VerificationError, verify_hvp, verify_value_and_grad

SOFTMAX_CE = "-(1/n)*sum(Y.*log(softmax(W*X)))"
LOGISTIC = "(1/n)*sum(softplus(-y.*(X'*w)))"
SM_SHAPES = {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")}

# (expression, wrt, shapes, assume)
CASES = [
    (SOFTMAX_CE, "W", SM_SHAPES, {"Y": "onehot"}),
    (LOGISTIC, "w", {"X": ("p", "n")}, None),
    ("x'*A*x", "x", None, None),
    ("x'*A*x", "x", None, {"A": "symmetric"}),
    ("log(det(X))", "X", None, None),
    ("tr(A*X*B*X')", "X", None, None),
    ("tr(X*X)", "X", None, None),  # Hessian 2K: the commutation matrix, applied as a transpose
    ("sum(relu(W*x))", "W", None, None),
    ("lam*normF(W)^2 + sum(exp(W))", "W", None, None),
    ("(1/N)*norm2(y - X*theta)^2", "theta", {"X": ("N", "p")}, None),
    ("sum(exp(a*x))", "a", {"a": ()}, None),  # a scalar variable
    ("sum(logsumexp(W*X))", "W", None, None),
    ("sum(softplus(-X'*W))", "W", {"W": ("p", "k")}, None),
    ("sum(sigmoid(X'*w).*y)", "w", {"X": ("p", "n")}, None),
]


@pytest.mark.parametrize("expr,wrt,shapes,assume", CASES)
def test_value_and_grad_verifies(expr, wrt, shapes, assume):
    fn = matcalc.value_and_grad(expr, wrt, shapes=shapes, assume=assume)
    report = fn.verify()
    assert report.ok and report.max_rel_error < 1e-5
    assert {"value", "directional derivative"} <= {m for t in report.trials for m, _ in t.checks}


@pytest.mark.parametrize("expr,wrt,shapes,assume", CASES)
def test_hvp_verifies(expr, wrt, shapes, assume):
    fn = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    report = fn.verify()
    assert report.ok and report.max_rel_error < 1e-5
    assert "_diagflat" not in fn.source and "_kron(" not in fn.source and "_commutation(" not in fn.source


@pytest.mark.parametrize("expr,wrt,shapes,assume", CASES[:6] + CASES[-1:])
def test_hvp_equals_hessian_times_direction(expr, wrt, shapes, assume):
    """H vec(V), with H the engine's full Hessian, equals the compiled product (never forming H)."""
    h = matcalc.hessian(expr, wrt, shapes=shapes, assume=assume)
    fn = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    point = h.verify(shapes=1, directions=1, explicit=False).trials[0].point
    V = np.random.default_rng(1).normal(size=np.shape(point[wrt]))
    H = h.to_numpy()(**point)
    expected = (H @ V.reshape(-1, order="F")).reshape(V.shape, order="F")
    assert np.allclose(fn(V, **point), expected, rtol=1e-10, atol=1e-12)


def test_value_and_grad_values():
    """x'Ax at a point worked by hand: value 7, gradient (A + A')x."""
    A = np.array([[1.0, 2.0], [0.0, 3.0]])
    x = np.array([[1.0], [1.0]])
    value, grad = matcalc.value_and_grad("x'*A*x", "x")(A=A, x=x)
    assert value == 6.0 and grad.tolist() == [[4.0], [8.0]]


def _wrong_pair(expr, wrt, shapes, assume, scale):
    p = matcalc.parse(expr, shapes=shapes, assume=assume)
    d = matcalc.derive(expr, wrt, shapes=shapes, assume=assume)
    return p, d, E.matmul(E.const(scale), d.result)


# (expression, wrt, shapes, assume, factor applied to the gradient)
WRONG = [
    (SOFTMAX_CE, "W", SM_SHAPES, {"Y": "onehot"}, 2),
    (LOGISTIC, "w", {"X": ("p", "n")}, None, -1),
    ("x'*A*x", "x", None, None, 0.5),
]


@pytest.mark.parametrize("expr,wrt,shapes,assume,scale", WRONG)
def test_verify_catches_wrong_value_and_grad(expr, wrt, shapes, assume, scale):
    p, d, wrong = _wrong_pair(expr, wrt, shapes, assume, scale)
    variables = list(d.variables.values())
    fn = compile_exprs([d.function, wrong], variables)
    with pytest.raises(VerificationError):
        verify_value_and_grad(fn, d.function, d.wrt, variables)


@pytest.mark.parametrize("expr,wrt,shapes,assume,scale", WRONG)
def test_verify_catches_wrong_hvp(expr, wrt, shapes, assume, scale):
    p, d, _ = _wrong_pair(expr, wrt, shapes, assume, scale)
    right = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    variables = list(d.variables.values())

    def wrong(V, **arrays):
        return scale * right(V, **arrays)

    with pytest.raises(VerificationError):
        verify_hvp(wrong, d.function, d.result, d.wrt, variables)


@pytest.mark.parametrize("bad,message", [
    (lambda: matcalc.hvp("W*x", "x"), "needs a scalar function"),
    (lambda: matcalc.value_and_grad("A*x", "x"), "needs a scalar function"),
    (lambda: matcalc.hvp("x'*x", "y"), "does not depend on y"),
])
def test_bad_calls(bad, message):
    with pytest.raises(matcalc.MatcalcError, match=message):
        bad()


@pytest.mark.parametrize("call,message", [
    (lambda f: f(W=np.ones((3, 4)), X=np.ones((5, 6)), Y=np.ones((3, 6))), "X: expected shape"),
    (lambda f: f(W=np.ones((3, 4)), X=np.ones((4, 6))), "missing 1 required"),
    (lambda f: f(W=np.ones((3, 4, 1)), X=np.ones((4, 6)), Y=np.ones((3, 6))), "expected a matrix or vector"),
])
def test_bad_arrays_get_one_line(call, message):
    fn = matcalc.value_and_grad(SOFTMAX_CE, "W", shapes=SM_SHAPES, assume={"Y": "onehot"})
    with pytest.raises(matcalc.MatcalcError, match=message):
        call(fn)


def test_linear_function_has_zero_hvp():
    fn = matcalc.hvp("sum(A*x)", "x")
    out = fn(np.ones((3, 1)), A=np.ones((2, 3)), x=np.ones((3, 1)))
    assert out.shape == (3, 1) and not out.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(3, 5)).astype(dtype), rng.normal(size=(5, 7)).astype(dtype)
    Y = np.zeros((3, 7), dtype=np.int8)
    Y[rng.integers(0, 3, 7), np.arange(7)] = 1
    value, grad = matcalc.value_and_grad(SOFTMAX_CE, "W", shapes=SM_SHAPES, assume={"Y": "onehot"})(W=W, X=X, Y=Y)
    hv = matcalc.hvp(SOFTMAX_CE, "W", shapes=SM_SHAPES, assume={"Y": "onehot"})(W, W=W, X=X, Y=Y)
    assert (np.asarray(value).dtype, grad.dtype, hv.dtype) == (dtype, dtype, dtype)


# -- structure: applied, never built ----------------------------------------------------------


def _commutation(m, n):
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1
    return K


def _dense(e, env):
    """A dense NumPy value of e, by the textbook definitions (the reference for the emitter)."""
    if isinstance(e, E.Var):
        return env[e.name]
    if isinstance(e, E.Identity):
        return np.eye(int(e.rows))
    if isinstance(e, E.Ones):
        return np.ones((int(e.rows), int(e.cols)))
    if isinstance(e, E.Commutation):
        return _commutation(int(e.args[0]), int(e.args[1]))
    if isinstance(e, E.Transpose):
        return _dense(e.args[0], env).T
    if isinstance(e, E.Diag):
        return np.diagflat(_dense(e.arg, env))
    if isinstance(e, E.Vec):
        return _dense(e.arg, env).reshape(-1, 1, order="F")
    if isinstance(e, E.Kron):
        return np.kron(_dense(e.args[0], env), _dense(e.args[1], env))
    if isinstance(e, E.Add):
        return sum(_dense(t, env) for t in e.args)
    if isinstance(e, E.Const):
        return float(e.value)
    if isinstance(e, E.MatMul):
        out = _dense(e.args[0], env)
        for f in e.args[1:]:
            out = out @ _dense(f, env)
        return out
    raise TypeError(type(e).__name__)


A, B, M, N = E.var("A", 3, 4), E.var("B", 2, 5), E.var("M", 20, 3), E.var("N", 3, 10)
S, V, X, v = E.var("S", 4, 3), E.var("V", 12, 2), E.var("X", 4, 9), E.var("v", 9)
C = E.var("C", 3, 5)
F, G, K, T, I3 = E.var("F", 2, 4), E.var("G", 4, 5), E.var("K", 3, 4), E.var("T", 3, 4), E.Identity(3)
# (chain, a name the source must not contain)
CHAINS = [
    (E.matmul(E.kron(A, B), M), "_kron("),
    (E.matmul(N, E.kron(E.transpose(C), B)), "_kron("),
    (E.matmul(E.transpose(E.kron(A, B)), E.var("P", 6, 2)), "_kron("),
    (E.matmul(E.kron(E.Identity(4), E.Ones(3, 3)), V), "_kron("),
    (E.matmul(E.kron(A, E.Identity(3)), V), "_kron("),
    (E.matmul(E.Commutation(4, 3), V), "_commutation("),
    (E.matmul(E.transpose(V), E.Commutation(3, 4)), "_commutation("),
    (E.matmul(E.diag(E.vec(S)), V), "_diagflat"),
    (E.matmul(E.transpose(V), E.diag(E.vec(S))), "_diagflat"),
    (E.matmul(X, E.diag(v), E.transpose(X)), "_diagflat"),
    (E.matmul(E.transpose(V), E.kron(E.Identity(4), E.Ones(3, 3)), E.diag(E.vec(S)), V), "_kron("),
    # the sandwiches of softmax Hessians: kron(A, I) diag(vec S) [kron(I, 1) diag(vec T)] kron(B, I)
    (E.matmul(E.kron(F, I3), E.diag(E.vec(K)), E.kron(G, I3)), "_kron("),
    (E.matmul(E.kron(F, I3), E.diag(E.vec(K)), E.kron(E.transpose(F), I3)), "_kron("),
    (E.matmul(E.kron(F, I3), E.diag(E.vec(K)), E.kron(E.Identity(4), E.Ones(3, 3)), E.diag(E.vec(T)),
              E.kron(G, I3)), "_kron("),
    (E.matmul(E.kron(F, I3), E.diag(E.vec(K)), E.kron(E.Identity(4), E.Ones(3, 3)), E.diag(E.vec(K)),
              E.transpose(E.kron(F, I3))), "_kron("),
    (E.matmul(E.kron(I3, F), E.diag(E.vec(E.var("R", 4, 3))), E.kron(I3, G)), "_kron("),
    (E.matmul(E.kron(I3, F), E.diag(E.var("r", 12)), E.kron(I3, E.transpose(F))), "_kron("),
    # a transposed sum holding structure, distributed
    (E.matmul(E.kron(F, I3), E.diag(E.vec(K)),
              E.transpose(E.add(E.kron(F, I3), E.matmul(E.kron(F, I3), E.diag(E.vec(K)), E.kron(E.Identity(4), E.Ones(3, 3)))))),
     "_kron("),
]


@pytest.mark.parametrize("chain,absent", CHAINS)
def test_structured_chain_matches_dense(chain, absent):
    rng = np.random.default_rng(0)
    variables = sorted(E.free_vars(chain), key=lambda u: u.name)
    env = {u.name: rng.normal(size=(int(u.rows), int(u.cols))) for u in variables}
    fn = compile_expr(chain, variables)
    assert absent not in fn.source
    assert np.allclose(fn(**env), _dense(chain, env), rtol=1e-12, atol=1e-12)


def test_xdxt_is_symmetric_and_blocked():
    """X diag(v) X' over many samples: exactly symmetric, and the same through NumPy's blocked path."""
    rng = np.random.default_rng(0)
    Xv, vv = rng.normal(size=(3, 70000)), rng.normal(size=(70000, 1))
    Xb, vb = E.var("X", 3, 70000), E.var("v", 70000)
    fn = compile_expr(E.matmul(Xb, E.diag(vb), E.transpose(Xb)), [Xb, vb])
    H = fn(X=Xv, v=vv)
    assert np.array_equal(H, H.T)
    assert np.allclose(H, (Xv * vv.T) @ Xv.T, rtol=1e-10)


def test_logistic_hessian_never_forms_n_by_n():
    src = matcalc.hessian(LOGISTIC, "w", shapes={"X": ("p", "n")}).to_numpy().source
    assert "_xdxt(xp, X," in src and "_diagflat" not in src


# -- standalone source ---------------------------------------------------------------------------


# (builder, function name in the source, arguments as Python source, the same arguments here)
STANDALONE = [
    (lambda: matcalc.value_and_grad(SOFTMAX_CE, "W", shapes=SM_SHAPES, assume={"Y": "onehot"}), "value_and_grad",
     "W=W, X=X, Y=Y"),
    (lambda: matcalc.hvp(SOFTMAX_CE, "W", shapes=SM_SHAPES, assume={"Y": "onehot"}), "hvp", "W, W=W, X=X, Y=Y"),
    (lambda: matcalc.hessian(SOFTMAX_CE, "W", shapes=SM_SHAPES, assume={"Y": "onehot"}).to_numpy(), "derivative",
     "W=W, X=X, Y=Y"),
    (lambda: matcalc.hessian("sum(softplus(-X'*W))", "W", shapes={"W": ("p", "k")}).to_numpy(), "derivative",
     "W=W[:1].T, X=X"),
]


@pytest.mark.parametrize("build,name,call", STANDALONE)
def test_source_runs_with_only_numpy(tmp_path, build, name, call):
    """The exported file runs in a fresh interpreter where matcalc, array-api-compat and SciPy do not import."""
    fn = build()
    path = tmp_path / "compiled.py"
    path.write_text(fn.source)
    setup = textwrap.dedent("""
        import numpy as np
        rng = np.random.default_rng(0)
        W, X = rng.normal(size=(3, 4)), rng.normal(size=(4, 6))
        Y = np.eye(3)[:, [0, 1, 2, 0, 1, 1]]
    """)
    script = textwrap.dedent(f"""
        import sys
        for blocked in ("matcalc", "array_api_compat", "scipy"):
            sys.modules[blocked] = None
        exec(open({str(path)!r}).read())
    """) + setup + textwrap.dedent(f"""
        out = {name}({call})
        parts = out if isinstance(out, tuple) else (out,)
        print(*np.concatenate([np.ravel(o) for o in parts]).tolist())
    """)
    out = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    env: dict = {}
    exec(setup, env)  # the same arrays here
    ref = eval(f"fn({call})", {"fn": fn, **env})  # the test's own call text, not user input
    ref = np.concatenate([np.ravel(r) for r in (ref if isinstance(ref, tuple) else (ref,))])
    assert np.allclose([float(t) for t in out.stdout.split()], ref, rtol=1e-12, atol=1e-14)


def test_source_carries_only_the_helpers_it_uses():
    src = matcalc.derive(LOGISTIC, "w", shapes={"X": ("p", "n")}).to_numpy().source
    assert "def _sigmoid" in src
    for unused in ("_softmax", "_logsumexp", "_commutation", "_kron", "_xdxt"):
        assert f"def {unused}" not in src


# -- the stable sigmoid family: accurate to a few ulps over all of float64, no overflow ------------

def _mp_reference(name: str, z: float) -> float:
    import mpmath

    with mpmath.workdps(60):
        z = mpmath.mpf(z)
        value = {"sigmoid(z)": lambda: 1 / (1 + mpmath.exp(-z)),
                 "softplus(z)": lambda: mpmath.log1p(mpmath.exp(z)),
                 "log(sigmoid(z))": lambda: -mpmath.log1p(mpmath.exp(-z))}[name]()
        return float(value)


STABLE_POINTS = [-1000.0, -745.0, -700.0, -40.0, -36.5, -20.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 36.5, 40.0,
                 700.0, 710.0, 1000.0]


@pytest.mark.parametrize("text", ["sigmoid(z)", "softplus(z)", "log(sigmoid(z))"])
@pytest.mark.parametrize("as_array", [True, False])
def test_sigmoid_family_is_accurate_and_never_overflows(text, as_array):
    from matcalc.parse import parse
    from matcalc.emit.numpy import compile_expr

    shapes = {"z": ("n", 1)} if as_array else {"z": "scalar"}
    p = parse(text, shapes=shapes)
    fn = compile_expr(p.expr, list(p.variables.values()))
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        if as_array:
            got = np.ravel(fn(z=np.array(STABLE_POINTS).reshape(-1, 1)))
        else:
            got = np.array([float(fn(z=z)) for z in STABLE_POINTS])
    for z, g in zip(STABLE_POINTS, got):
        ref = _mp_reference(text, z)
        if abs(ref) < 1e-300:  # underflows to 0 (or a subnormal) in float64
            assert abs(g) < 1e-300, (z, g, ref)
        else:
            assert abs(g - ref) <= 4e-16 * abs(ref), (z, g, ref)


# -- several variables at once: the bias apart from the weights, as a trainer needs ------------------

SPLIT_SHAPES = {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n"), "b": ("k", 1)}
# (expression, wrt, shapes, assume)
SEVERAL = [
    ("-(1/n)*sum(Y.*log(softmax(W*X + b*vector(1)')))", ("W", "b"), SPLIT_SHAPES, {"Y": "onehot"}),
    ("(1/n)*sum(softplus(X'*w + c) - y.*(X'*w + c))", ("w", "c"), {"X": ("p", "n"), "c": "scalar"}, None),
    ("x'*A*x + a*sum(x)", ("x", "a"), {"a": "scalar"}, None),
    ("tr(A*X*B*X') + u'*X*v", ("X", "u"), None, None),
    ("a*x'*x", ("a", "x"), {"a": "scalar"}, None),
    ("sum(relu(W*X + b*vector(1)'))", ("b", "W"), {"b": ("k", 1), "X": ("p", "n")}, None),
    ("tr(A*X*B*X')", ("X",), None, None),  # one matrix variable in a tuple: its product comes back bare
    ("x'*(a*vector(1) + c*vector(1))", ("x", "a"), {"a": "scalar", "c": "scalar"}, None),  # a sum of scaled ones
]


@pytest.mark.parametrize("expr,wrt,shapes,assume", SEVERAL)
def test_value_and_grad_of_several_variables(expr, wrt, shapes, assume):
    fn = matcalc.value_and_grad(expr, wrt, shapes=shapes, assume=assume)
    report = fn.verify()
    assert report.ok and report.wrt == ", ".join(wrt)
    # each gradient is the one derive gives for its variable alone, at the point the check drew
    point = report.trials[0].point
    before = {k: np.array(v, copy=True) for k, v in point.items()}
    value, *grads = fn(**point)
    assert all(np.array_equal(point[k], v) for k, v in before.items())  # in-place work never touches an input
    for name, g in zip(wrt, grads):
        alone = matcalc.derive(expr, wrt=name, shapes=shapes, assume=assume).to_numpy()(**point)
        assert np.allclose(g, alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("expr,wrt,shapes,assume", SEVERAL)
def test_hvp_of_several_variables(expr, wrt, shapes, assume):
    fn = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    report = fn.verify()
    assert report.ok and report.wrt == ", ".join(wrt)


def test_hvp_cross_terms_worked_by_hand():
    """f = a x'x: H = [[2a I, 2x], [2x', 0]] over (x, a); both blocks of the product are checked."""
    fn = matcalc.hvp("a*x'*x", wrt=("x", "a"), shapes={"a": "scalar"})
    x = np.array([[1.0], [-2.0], [0.5]])
    Vx = np.array([[0.3], [1.0], [-1.0]])
    hx, ha = fn(Vx, 2.0, x=x, a=1.5)
    assert np.allclose(hx, 2 * 1.5 * Vx + 2 * x * 2.0)
    assert np.isclose(float(ha), 2 * float((x.T @ Vx)[0, 0]))


@pytest.mark.parametrize("which", [0, 1])
def test_verify_catches_one_wrong_gradient_among_several(which):
    expr, wrt, shapes, assume = SEVERAL[0]
    p = matcalc.parse(expr, shapes=shapes, assume=assume)
    variables = list(p.variables.values())
    grads = [matcalc.derive(expr, wrt=w, shapes=shapes, assume=assume).result for w in wrt]
    grads[which] = E.matmul(E.const(2), grads[which])
    fn = compile_exprs([p.expr, *grads], variables)
    with pytest.raises(VerificationError):
        verify_value_and_grad(fn, p.expr, [p.variables[w] for w in wrt], variables)


@pytest.mark.parametrize("which", [0, 1])
def test_verify_catches_one_wrong_hvp_block(which):
    expr, wrt, shapes, assume = SEVERAL[0]
    p = matcalc.parse(expr, shapes=shapes, assume=assume)
    variables = list(p.variables.values())
    right = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    grads = [matcalc.derive(expr, wrt=w, shapes=shapes, assume=assume).result for w in wrt]

    def wrong(*directions, **arrays):
        out = list(right(*directions, **arrays))
        out[which] = 1.5 * out[which]
        return tuple(out)

    with pytest.raises(VerificationError):
        verify_hvp(wrong, p.expr, grads, [p.variables[w] for w in wrt], variables)


@pytest.mark.parametrize("wrt,message", [((), "at least one variable"), (("x", "x"), "names x twice"),
                                         (("x", "q"), "does not depend on q")])
def test_bad_wrt_lists(wrt, message):
    with pytest.raises(matcalc.MatcalcError, match=message):
        matcalc.value_and_grad("x'*x", wrt)


# -- sums of scaled ones: s*ones is the number s only beside a full-size term ----------------------------

SCALED_ONES = [  # (expression, shapes, point, its value worked by hand)
    ("x'*(a*vector(1) + c*vector(1))", {"a": "scalar", "c": "scalar"},
     {"x": np.array([[1.0], [2.0], [-0.5]]), "a": 2.0, "c": -0.25}, 1.75 * 2.5),
    ("x'*(a*vector(1) + vector(1))", {"a": "scalar"}, {"x": np.array([[1.0], [2.0], [-0.5]]), "a": 2.0}, 3.0 * 2.5),
    ("u'*(a*matrix(1) + c*matrix(1))*v", {"a": "scalar", "c": "scalar", "u": ("m", 1), "v": ("n", 1)},
     {"u": np.array([[1.0], [2.0]]), "v": np.array([[1.0], [-3.0], [0.5], [4.0]]), "a": 0.5, "c": 1.0}, 1.5 * 3.0 * 2.5),
]


@pytest.mark.parametrize("expr,shapes,point,value", SCALED_ONES)
def test_sums_of_scaled_ones_keep_their_shape(expr, shapes, point, value):
    names = [n for n in ("x", "u", "a") if n in point]
    fn = matcalc.value_and_grad(expr, tuple(names), shapes=shapes)
    assert np.isclose(float(fn(**point)[0]), value)
    assert fn.verify().ok


# -- what an emitter reads through a node (log(sigmoid(z)) reads z, a product with diag(v) reads v) is still
#    computed once ------------------------------------------------------------------------------------

ONCE = [  # (kind, expression, wrt, shapes, code that must appear exactly once in the generated body)
    ("value_and_grad", "y'*log(sigmoid(X'*w)) + (vector(1)-y)'*log(vector(1)-sigmoid(X'*w))", "w",
     {"X": ("p", "n")}, "@ w)"),
    ("hessian", SOFTMAX_CE, "W", SM_SHAPES, "xp.sum(Y, axis=0"),
    ("hessian", "log(det(X'*diag(exp(v))*X))", "v", {"X": ("n", "p")}, "xp.exp(v)"),
]


@pytest.mark.parametrize("kind,expr,wrt,shapes,code", ONCE)
def test_subexpressions_read_through_a_node_are_computed_once(kind, expr, wrt, shapes, code):
    if kind == "hessian":
        fn = matcalc.hessian(expr, wrt, shapes=shapes).to_numpy()
    else:
        fn = matcalc.value_and_grad(expr, wrt, shapes=shapes)
    body = fn.source.split(f"def {fn.fn.__name__}(")[1]
    assert body.count(code) == 1, body
    assert fn.verify().ok


# -- one variable's gradient tiny beside another's: a wrong one is judged against its own size -------------

SMALL_BESIDE_LARGE = [  # (expression, wrt, shapes): the gradient in the second variable is ~1e-6 of the first's
    ("1000000*x'*x + a*sum(y)", ("x", "a"), {"a": "scalar"}),
    ("1000000*x'*x + a^2*sum(y)", ("x", "a"), {"a": "scalar"}),
    ("1000000*normF(W)^2 + b'*y", ("W", "b"), {"W": ("k", "p"), "b": ("k", 1)}),
]


@pytest.mark.parametrize("expr,wrt,shapes", SMALL_BESIDE_LARGE)
def test_verify_catches_a_wrong_small_gradient_beside_a_large_one(expr, wrt, shapes):
    p = matcalc.parse(expr, shapes=shapes)
    variables = list(p.variables.values())
    xs = [p.variables[w] for w in wrt]
    grads = [matcalc.derive(expr, wrt=w, shapes=shapes).result for w in wrt]
    assert verify_value_and_grad(compile_exprs([p.expr, *grads], variables), p.expr, xs, variables).ok
    wrong = compile_exprs([p.expr, grads[0], E.matmul(E.const(2), grads[1])], variables)
    with pytest.raises(VerificationError):
        verify_value_and_grad(wrong, p.expr, xs, variables)


@pytest.mark.parametrize("expr,wrt,shapes", SMALL_BESIDE_LARGE[1:2])
def test_verify_catches_a_wrong_small_hvp_block_beside_a_large_one(expr, wrt, shapes):
    p = matcalc.parse(expr, shapes=shapes)
    variables = list(p.variables.values())
    right = matcalc.hvp(expr, wrt, shapes=shapes)
    grads = [matcalc.derive(expr, wrt=w, shapes=shapes).result for w in wrt]

    def wrong(*directions, **arrays):
        hx, ha = right(*directions, **arrays)
        return hx, 2 * ha

    assert right.verify().ok
    with pytest.raises(VerificationError):
        verify_hvp(wrong, p.expr, grads, [p.variables[w] for w in wrt], variables)


# -- a size no array carries, passed by name: a positive integer or a one-line error, never truncated ------

FREE_SIZES = [  # (p passed, the value of tr(kron(eye(p), T)) at T = eye(2), or the error's words)
    (3, 6.0),
    (np.int64(2), 4.0),
    (3.0, 6.0),
    (2.7, "positive integer"),
    (0.5, "positive integer"),
    (0, "positive integer"),
    (-1, "positive integer"),
    ("3", "positive integer"),
    (True, "positive integer"),
]


@pytest.mark.parametrize("p,expected", FREE_SIZES)
def test_free_size_is_a_positive_integer(p, expected):
    fn = matcalc.value_and_grad("tr(kron(eye(p), T))", "T", shapes={"T": ("m", "m")})
    if isinstance(expected, str):
        with pytest.raises(matcalc.MatcalcError, match=expected):
            fn(T=np.eye(2), p=p)
    else:
        assert float(fn(T=np.eye(2), p=p)[0]) == expected


# -- a Hessian-vector product prepared at one point: the direction-free work done once ---------------

@pytest.mark.parametrize("expr,wrt,shapes,assume", CASES + SEVERAL)
def test_hvp_at_a_point_is_the_same_product(expr, wrt, shapes, assume):
    fn = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    point = fn.verify(shapes=1, directions=1).trials[0].point
    names = wrt if isinstance(wrt, tuple) else (wrt,)
    rng = np.random.default_rng(3)
    directions = [[rng.normal(size=np.shape(point[n])) if np.ndim(point[n]) else float(rng.normal()) for n in names]
                  for _ in range(3)]
    at = fn.at(**point)
    for _ in range(2):  # calling it again, after other directions, gives the same: the kept state is never overwritten
        for ds in directions:
            got, want = at(*ds), fn(*ds, **point)
            for g, w in zip(got if isinstance(wrt, tuple) else [got], want if isinstance(wrt, tuple) else [want]):
                assert np.allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("expr,wrt,shapes,assume", [CASES[0], CASES[1], SEVERAL[0], SEVERAL[1]])
def test_the_curvature_of_a_loss_is_prepared_once(expr, wrt, shapes, assume):
    """For the losses the trainer's Newton-CG uses, the products with the data that do not involve the
    direction (the scores, their softmax or sigmoid) sit in the prepare function, not in apply."""
    fn = matcalc.hvp(expr, wrt, shapes=shapes, assume=assume)
    assert fn.prepared is not None
    apply_src = fn.source[fn.source.index("def hvp_apply"):fn.source.index("\ndef hvp(")]
    assert "_sigmoid" not in apply_src and "_softmax" not in apply_src and "_log_softmax" not in apply_src
    assert not re.search(r"@ w\b|\bW @", apply_src)


# -- results a caller may change in place: never an input, a view of one, or of another result --------

ALIASING = [
    ("value_and_grad", "sum(x.*y)", ("x", "y"), None),             # the gradient in x is y itself
    ("value_and_grad", "tr(X'*A)", ("A", "X"), {"X": ("n", "m")}),  # the gradient in A is X, in X is A
    ("derive", "tr(X'*A)", "A", {"X": ("n", "m")}),
    ("derive", "tr(A*X)", "X", {"A": ("m", "n")}),                   # A', a view of the input
    ("derive", "X", "X", {"X": ("n", "m")}),                         # a Jacobian that is the identity
]


@pytest.mark.parametrize("kind,expr,wrt,shapes", ALIASING)
def test_changing_a_result_in_place_changes_nothing_else(kind, expr, wrt, shapes):
    fn = (matcalc.value_and_grad(expr, wrt, shapes=shapes) if kind == "value_and_grad"
          else matcalc.derive(expr, wrt=wrt, shapes=shapes).to_numpy())
    rng = np.random.default_rng(0)
    p = matcalc.parse(expr, shapes=shapes)
    sizes = {"n": 3, "m": 2}
    arrays = {v.name: rng.normal(size=(int(v.rows.subs({s: sizes[str(s)] for s in v.rows.free_symbols})),
                                        int(v.cols.subs({s: sizes[str(s)] for s in v.cols.free_symbols}))))
              for v in p.variables.values()}
    inputs = {k: v.copy() for k, v in arrays.items()}
    out = fn(**inputs)
    results = [r for r in (out if isinstance(out, tuple) else (out,)) if getattr(r, "ndim", 0) == 2]
    kept = [np.array(r, copy=True) for r in results]
    for i, r in enumerate(results):
        r += 1.0  # in place
        assert all(np.array_equal(inputs[k], arrays[k]) for k in arrays), f"result {i} is an input"
        assert all(np.array_equal(results[j], kept[j]) for j in range(len(results)) if j != i), \
            f"result {i} shares memory with another result"
        kept[i] += 1.0


def test_a_hinge_value_and_gradient_share_the_hinge():
    """The value is compiled in the simplifier's canonical form, so relu(...) of the multiclass squared hinge
    is computed once for the value and the gradient (it was written two ways and computed twice)."""
    from matcalc.train.losses import smooth

    src = smooth("squared_hinge", False, True).value_and_grad.source
    body = src[src.index("def value_and_grad"):]
    assert body.count("xp.maximum(") == 1


def test_hvp_at_a_point_with_renamed_variables():
    """Names that are Python keywords are renamed in the code (lambda -> lambda_, and then lambda_ -> lambda__):
    at() renames each once, as the one-shot call does."""
    fn = matcalc.hvp("lambda*sum(exp(lambda_*x))", wrt="x", shapes={"lambda": "scalar", "lambda_": "scalar"})
    x, V = np.array([[0.1], [0.2]]), np.array([[1.0], [0.5]])
    point = {"x": x, "lambda": 2.0, "lambda_": 3.0}
    assert fn.prepared is not None and fn.renamed == {"lambda": "lambda_", "lambda_": "lambda__"}
    expected = 2.0 * 9.0 * np.exp(3.0 * x) * V  # lambda lambda_^2 exp(lambda_ x) .* V
    assert np.allclose(fn.at(**point)(V), expected) and np.allclose(fn(V, **point), expected)
