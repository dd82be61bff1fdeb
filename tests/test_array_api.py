"""Compiled functions on other array libraries: array-api-strict (catches NumPy-only calls), Dask (stays
lazy and chunked along the samples), and JAX / PyTorch where they are installed.

Each row is compiled once and run on NumPy float64 as the reference; the other library must give the
same numbers, in its own array type and in the input dtype.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import matcalc

SOFTMAX_CE = "-(1/n)*sum(Y.*log(softmax(W*X)))"
LOGISTIC = "(1/n)*sum(softplus(-y.*(X'*w)))"
SM = {"shapes": {"W": ("k", "p"), "X": ("p", "n"), "Y": ("k", "n")}, "assume": {"Y": "onehot"}}
LG = {"shapes": {"X": ("p", "n")}}

# (name, builder of the compiled function, does it take a direction first)
FUNCTIONS = [
    ("softmax gradient", lambda: matcalc.derive(SOFTMAX_CE, "W", **SM).to_numpy(), False),
    ("softmax value_and_grad", lambda: matcalc.value_and_grad(SOFTMAX_CE, "W", **SM), False),
    ("softmax hvp", lambda: matcalc.hvp(SOFTMAX_CE, "W", **SM), True),
    ("softmax hessian", lambda: matcalc.hessian(SOFTMAX_CE, "W", **SM).to_numpy(), False),
    ("logistic value_and_grad", lambda: matcalc.value_and_grad(LOGISTIC, "w", **LG), False),
    ("logistic hessian", lambda: matcalc.hessian(LOGISTIC, "w", **LG).to_numpy(), False),
    ("logistic hvp", lambda: matcalc.hvp(LOGISTIC, "w", **LG), True),
    ("commutation hessian", lambda: matcalc.hessian("tr(X*X)", "X").to_numpy(), False),
    ("kron jacobian", lambda: matcalc.derive("A*X*B", "X", layout="numerator").to_numpy(), False),
    ("logdet gradient", lambda: matcalc.derive("logdet(X'*X)", "X").to_numpy(), False),
    ("relu and norms", lambda: matcalc.value_and_grad("sum(relu(W*x)) + norm1(W) + normF(W)", "W"), False),
    # the Array API's names asin, acos, atan; functions of numbers and sizes (Python numbers in the code)
    ("inverse trig and constants", lambda: matcalc.value_and_grad(
        "sum(arctan(W*x) + arcsin(0.5*tanh(W*x)) + arccos(0.5*tanh(W*x))) + exp(0.5)*normF(W)^2/sigmoid(0.5)"
        " + softplus(0.5)*log(sigmoid(2))*sum(W)*tr(kron(eye(n), eye(n)))", "W", shapes={"W": ("m", "n")}), False),
]


def _inputs(name, dtype, rng):
    k, p, n = 3, 4, 10
    if name.startswith("softmax"):
        Y = np.zeros((k, n), dtype=dtype)
        Y[rng.integers(0, k, n), np.arange(n)] = 1
        return {"W": rng.normal(size=(k, p)), "X": rng.normal(size=(p, n)), "Y": Y}, "W"
    if name.startswith("logistic"):
        return {"X": rng.normal(size=(p, n)), "w": rng.normal(size=(p, 1)),
                "y": np.sign(rng.normal(size=(n, 1)))}, "w"
    if name.startswith("commutation"):
        return {"X": rng.normal(size=(3, 3))}, "X"
    if name.startswith("kron"):
        return {"A": rng.normal(size=(2, 3)), "X": rng.normal(size=(3, 4)), "B": rng.normal(size=(4, 5))}, "X"
    if name.startswith("logdet"):
        return {"X": rng.normal(size=(5, 3))}, "X"
    return {"W": rng.normal(size=(3, 4)), "x": rng.normal(size=(4, 1))}, "W"


def _run(fn, direction, arrays, wrt, convert):
    args = {k: convert(v) for k, v in arrays.items()}
    out = fn(convert(arrays[wrt] * 0.5 + 1.0), **args) if direction else fn(**args)
    return out if isinstance(out, tuple) else (out,)


def _check_library(convert, to_numpy, is_native, dtype, rtol):
    rng = np.random.default_rng(0)
    for name, build, direction in FUNCTIONS:
        fn = build()
        arrays, wrt = _inputs(name, np.float64, rng)
        ref = _run(fn, direction, arrays, wrt, lambda a: a)
        arrays32 = {k: v.astype(dtype) for k, v in arrays.items()}
        out = _run(fn, direction, arrays32, wrt, convert)
        for o, r in zip(out, ref):
            assert is_native(o), f"{name}: returned {type(o).__name__}"
            assert str(o.dtype).endswith(np.dtype(dtype).name), f"{name}: dtype {o.dtype}"
            assert np.allclose(to_numpy(o), r, rtol=rtol, atol=rtol), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_api_strict(dtype):
    xps = importlib.import_module("array_api_strict")
    _check_library(xps.asarray, lambda a: np.asarray(a), lambda a: type(a).__module__.startswith("array_api_strict"),
                   dtype, 1e-4 if dtype == np.float32 else 1e-10)


def test_dask_matches_numpy():
    da = importlib.import_module("dask.array")
    _check_library(lambda a: da.from_array(a, chunks=(a.shape[0], 3) if a.ndim == 2 and a.shape[1] > 3 else a.shape),
                   lambda a: a.compute(), lambda a: isinstance(a, da.Array), np.float32, 1e-4)


def test_dask_stays_lazy_and_chunked_along_samples():
    """The gradient over samples split into chunks is a lazy tree reduction: no layer gathers the
    chunks (no rechunk or concatenate), and its task count grows with the number of chunks."""
    da = importlib.import_module("dask.array")
    rng = np.random.default_rng(0)
    k, p, n = 3, 5, 4000
    W = rng.normal(size=(k, p)).astype(np.float32)
    X = da.random.default_rng(0).standard_normal((n, p), chunks=(500, p)).astype(np.float32).T
    Y = da.from_array(np.eye(k, dtype=np.float32)[:, rng.integers(0, k, n)], chunks=(k, 500))
    g = matcalc.derive(SOFTMAX_CE, "W", **SM).to_numpy()
    out = g(W=W, X=X, Y=Y)
    assert isinstance(out, da.Array) and out.shape == (k, p)
    layers = list(out.__dask_graph__().layers)
    assert not [name for name in layers if name.startswith(("rechunk", "concatenate"))], layers
    Xn, Yn = X.compute(), Y.compute()
    assert np.allclose(out.compute(), g(W=W, X=Xn, Y=Yn), rtol=1e-4, atol=1e-6)
    X2 = da.random.default_rng(0).standard_normal((n, p), chunks=(250, p)).astype(np.float32).T
    Y2 = Y.rechunk((k, 250)).persist()
    assert len(g(W=W, X=X2, Y=Y2).__dask_graph__()) > len(out.__dask_graph__())


def test_jax():
    jnp = pytest.importorskip("jax.numpy")
    _check_library(jnp.asarray, np.asarray, lambda a: type(a).__module__.startswith("jax"), np.float32, 1e-4)


def test_jax_jit():
    """The compiled value and gradient trace under jax.jit (no NumPy call on a traced array)."""
    jax = pytest.importorskip("jax")
    vg = matcalc.value_and_grad(SOFTMAX_CE, "W", **SM)
    arrays, _ = _inputs("softmax", np.float32, np.random.default_rng(0))
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    value, grad = jax.jit(lambda W, X, Y: vg(W=W, X=X, Y=Y))(**arrays)
    ref_value, ref_grad = vg(**arrays)
    assert grad.dtype == np.float32 and np.allclose(grad, ref_grad, rtol=1e-4, atol=1e-6)
    assert np.allclose(value, ref_value, rtol=1e-5)


def test_torch():
    torch = pytest.importorskip("torch")
    _check_library(torch.asarray, lambda a: a.numpy(), lambda a: isinstance(a, torch.Tensor), np.float32, 1e-4)
