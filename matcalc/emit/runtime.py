"""The run-time helpers of generated code, as source text: one entry per helper, with the helpers it calls.

Generated code is standalone: it carries exactly the helpers it calls and needs only NumPy.  Every
helper takes the array namespace ``xp`` first and is written against the Array API standard, so
CuPy, PyTorch, JAX and Dask arrays work through array-api-compat (imported only when such an array
arrives).  NumPy-only fast paths (in-place updates, blocked products) sit behind ``xp is np``.
"""

from __future__ import annotations

import re

HEADER = "import numpy as np\n"

# name -> source; the helpers a helper calls are found in its source, like those of the function body
HELPERS: dict[str, str] = {}


def _helper(source: str, name: str | None = None) -> None:
    name = name or re.search(r"^(?:def|class) (\w+)", source, re.M).group(1)
    HELPERS[name] = source.strip() + "\n"


_helper('''
class InputShapeError(ValueError):
    """An input array whose shape, dtype or library does not fit the compiled expression."""
''')

_helper('''
def _namespace(*arrays):
    """NumPy itself for NumPy input (its fast paths); any other array library through array-api-compat."""
    others = [a for a in arrays if hasattr(a, "shape") and not isinstance(a, (np.ndarray, np.generic))]
    if not others:
        return np
    try:
        from array_api_compat import array_namespace
    except ImportError:
        raise InputShapeError(f"{type(others[0]).__name__} input needs array-api-compat "
                              "(pip install array-api-compat); NumPy input does not") from None
    try:
        return array_namespace(*others)
    except TypeError as e:
        raise InputShapeError(f"the input arrays come from different libraries: {e}") from None
''')

_helper('''
def _device(xp, a):
    if xp is np:
        return None
    from array_api_compat import device
    return device(a)
''')

_helper('''
def _dim(dims, name):
    if name not in dims:
        raise InputShapeError(f"the size {name} is not carried by any input array; pass it as {name}=...")
    v = dims[name]
    ok = not isinstance(v, (bool, str)) and getattr(v, "ndim", 0) == 0
    try:
        ok = ok and float(v) == int(v) >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputShapeError(f"the size {name} must be a positive integer, got {v!r}")
    return int(v)
''')

_helper('''
def _scalar(xp, a):
    if isinstance(a, np.generic):
        return a
    if not hasattr(a, "shape"):  # a Python number: NumPy's float, so that (-2.0) ** 0.5 is nan, not complex
        return np.float64(a) if xp is np else xp.asarray(a, dtype=xp.float64)
    size = 1
    for d in a.shape:
        size *= d
    if size != 1:
        raise InputShapeError(f"expected a scalar, got an array of shape {tuple(a.shape)}")
    return a.reshape(())[()] if isinstance(a, np.ndarray) else xp.reshape(a, ())
''')

_helper('''
def _float_type(xp, *arrays):
    """The floating dtype of the inputs (integer one-hot labels take it too); float64 when none is floating."""
    kinds = [a.dtype for a in arrays if hasattr(a, "dtype") and xp.isdtype(a.dtype, "real floating")]
    return xp.result_type(*kinds) if kinds else xp.float64
''')

_helper('''
def _array(xp, a, name, row, col, ft):
    if not hasattr(a, "shape") or (xp is not np and isinstance(a, np.ndarray)):
        a = xp.asarray(a)
    if not xp.isdtype(a.dtype, "real floating"):
        a = a.astype(ft) if xp is np else xp.astype(a, ft)
    if a.ndim == 1:
        a = xp.reshape(a, (1, -1) if row and not col else (-1, 1))
    elif a.ndim != 2:
        raise InputShapeError(f"{name}: expected a matrix or vector, got {a.ndim} dimensions")
    return a
''')

_helper('''
def _check_shape(a, name, expected):
    if tuple(a.shape) != expected:
        raise InputShapeError(f"{name}: expected shape {expected} from the other arrays, got {tuple(a.shape)}")
''')

_helper('''
def _as_scalar(xp, r, ft):
    if xp is np:
        return np.asarray(r, dtype=ft).reshape(())[()]
    r = xp.asarray(r, dtype=ft) if not hasattr(r, "shape") else r
    return xp.reshape(r if r.dtype == ft else xp.astype(r, ft), ())
''')

_helper('''
def _own(xp, out, inputs, views):
    """The results, none sharing memory with an input or with another result (a copy where one would), so
    that a caller may change a result in place.  NumPy is checked; with other libraries the results that
    the expression makes views (``views``: an input, a transpose or a reshape) are copied."""
    res = list(out)
    if xp is np:
        seen = [a for a in inputs if isinstance(a, np.ndarray)]
        for i, r in enumerate(res):
            if isinstance(r, np.ndarray):
                if r.size and any(np.may_share_memory(r, a) for a in seen):
                    r = res[i] = r.copy()
                seen.append(r)
    else:
        for i in views:
            res[i] = xp.asarray(res[i], copy=True)
    return res[0] if len(res) == 1 else tuple(res)
''')

_helper('''
def _as_shape(xp, r, shape, ft):
    """The result as an array of the expected shape and the inputs' floating dtype (some libraries
    compute a float32 inverse in float64)."""
    if xp is np:
        if type(r) is not np.ndarray or r.shape != shape or r.dtype != ft:
            r = np.array(np.broadcast_to(np.asarray(r, dtype=ft), shape))
        return r
    if not hasattr(r, "shape"):
        r = xp.asarray(r, dtype=ft)
    if r.dtype != ft:
        r = xp.astype(r, ft)
    if tuple(r.shape) != shape:
        r = xp.broadcast_to(r, shape)
    return r
''')

_helper('''
def _lift(xp, v, ft, dev):
    """A Python number as a 0-d array of the inputs' dtype: the functions of libraries other than NumPy take arrays only."""
    if xp is np or hasattr(v, "shape"):
        return v
    return xp.asarray(v, dtype=ft, device=dev)
''')

_helper('''
def _eye(xp, n, dt, dev):
    return np.eye(n, dtype=dt) if xp is np else xp.eye(n, dtype=dt, device=dev)
''')

_helper('''
def _ones(xp, r, c, dt, dev):
    return np.ones((r, c), dtype=dt) if xp is np else xp.ones((r, c), dtype=dt, device=dev)
''')

_helper('''
def _zeros(xp, r, c, dt, dev):
    return np.zeros((r, c), dtype=dt) if xp is np else xp.zeros((r, c), dtype=dt, device=dev)
''')

_helper('''
def _softmax(xp, z, fresh=False):
    """Column-wise softmax, shifted by the column maximum; NumPy overwrites a fresh z."""
    if xp is np:
        if fresh and z.flags.writeable:
            z -= z.max(axis=0, keepdims=True)
            e = z
        else:
            e = z - z.max(axis=0, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=0, keepdims=True)
        return e
    e = xp.exp(z - xp.max(z, axis=0, keepdims=True))
    return e / xp.sum(e, axis=0, keepdims=True)
''')

_helper('''
def _logsumexp(xp, z):
    """Column-wise log-sum-exp, shifted by the column maximum: a 1 x n row."""
    m = xp.max(z, axis=0, keepdims=True)
    if xp is np:
        e = z - m
        np.exp(e, out=e)
        return m + np.log(e.sum(axis=0, keepdims=True))
    return m + xp.log(xp.sum(xp.exp(z - m), axis=0, keepdims=True))
''')

_helper('''
def _log_softmax(xp, z, fresh=False):
    """Column-wise log-softmax, z - logsumexp(z); NumPy overwrites a fresh z."""
    if xp is np and fresh and z.flags.writeable:
        z -= _logsumexp(xp, z)
        return z
    return z - _logsumexp(xp, z)
''')

# sigmoid, softplus and log-sigmoid share e = exp(-|z|), which never overflows:
# sigmoid(z) = exp(min(z, 0)) / (1 + e), softplus(z) = max(z, 0) + log1p(e), log sigmoid(z) = -softplus(-z).
# Each is accurate to a few ulps over all of float64 (3x faster than logaddexp in NumPy).
_helper('''
def _exp_neg_abs(xp, z):
    if xp is np and isinstance(z, np.ndarray):
        e = np.abs(z)
        np.negative(e, out=e)
        return np.exp(e, out=e)
    return xp.exp(-xp.abs(z))
''')

_helper('''
def _sigmoid(xp, z):
    e = _exp_neg_abs(xp, z)
    if xp is np and isinstance(z, np.ndarray):
        e += 1
        m = np.minimum(z, 0)
        np.exp(m, out=m)
        return np.divide(m, e, out=m)
    return xp.exp(xp.minimum(z, 0.0)) / (1.0 + e)
''')

_helper('''
def _softplus(xp, z):
    e = _exp_neg_abs(xp, z)
    if xp is np and isinstance(z, np.ndarray):
        np.log1p(e, out=e)
        e += np.maximum(z, 0)
        return e
    return xp.maximum(z, 0.0) + xp.log1p(e)
''')

_helper('''
def _log_sigmoid(xp, z):
    e = _exp_neg_abs(xp, z)
    if xp is np and isinstance(z, np.ndarray):
        np.log1p(e, out=e)
        np.subtract(np.minimum(z, 0), e, out=e)
        return e
    return xp.minimum(z, 0.0) - xp.log1p(e)
''')

_helper('''
def _step(xp, z):
    if not hasattr(z, "dtype"):  # a number (step of a constant)
        return float(z > 0)
    return xp.astype(z > 0, z.dtype)
''')

_helper('''
def _rpow(b, p):
    """b ** p as a real number: nan where Python numbers would give a complex one."""
    r = b ** p
    return float("nan") if isinstance(r, complex) else r
''')

_helper('''
def _isub(xp, a, b):
    """a - b for a fresh array a: in place with NumPy when the dtype stays (one array less)."""
    if xp is np and a.flags.writeable and np.result_type(a, b) == a.dtype:
        a -= b
        return a
    return a - b
''')

_helper('''
def _iadd(xp, a, b):
    """a + b for a fresh array a: in place with NumPy when the dtype stays (one array less)."""
    if xp is np and a.flags.writeable and np.result_type(a, b) == a.dtype:
        a += b
        return a
    return a + b
''')

_helper('''
def _sum_terms(*terms):
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
''')

_helper('''
def _vec(xp, a):
    """Column-major vec as a column."""
    return xp.reshape(a.T, (-1, 1))
''')

_helper('''
def _unvec(xp, v, r, c):
    """The r x c matrix whose column-major vec is the column v."""
    return xp.reshape(v, (c, r)).T
''')

_helper('''
def _diag_of(xp, a):
    """The diagonal of a square matrix as a column."""
    if xp is np:
        return np.diagonal(a).reshape(-1, 1)
    return xp.sum(a * _eye(xp, a.shape[0], a.dtype, _device(xp, a)), axis=1, keepdims=True)
''')

_helper('''
def _trace(xp, a):
    return xp.sum(_diag_of(xp, a))
''')

_helper('''
def _diagflat(xp, v):
    """diag(v) of a column, materialised: only where no product can apply it."""
    return v * _eye(xp, v.shape[0], v.dtype, _device(xp, v))
''')

_helper('''
def _kron(xp, a, b):
    """kron(a, b), materialised: only where no product can apply it."""
    m, n = a.shape
    r, c = b.shape
    return xp.reshape(xp.reshape(a, (m, 1, n, 1)) * xp.reshape(b, (1, r, 1, c)), (m * r, n * c))
''')

_helper('''
def _kron_apply(xp, a, b, na, nb, m):
    """kron(a, b) @ m without the Kronecker product: kron(A, B) vec(X) = vec(B X A'), column by column.

    ``a`` or ``b`` is None for an identity; ``na`` and ``nb`` are their column counts."""
    c = m.shape[1]
    t = xp.reshape(m, (na, nb, c))
    if b is not None:
        t = xp.matmul(b, t)
    mb = t.shape[1]
    if a is not None:
        t = xp.reshape(a @ xp.reshape(t, (na, mb * c)), (a.shape[0], mb, c))
    return xp.reshape(t, (-1, c))
''')

_helper('''
def _commutation_apply(xp, m, n, a):
    """K(m, n) @ a without the commutation matrix: K vec(A) = vec(A') for A m x n, column by column."""
    c = a.shape[1]
    return xp.reshape(xp.permute_dims(xp.reshape(a, (n, m, c)), (1, 0, 2)), (m * n, c))
''')

_helper('''
def _commutation(xp, m, n, dt, dev):
    """The commutation matrix K(m, n), materialised: only where no product can apply it."""
    return _commutation_apply(xp, m, n, _eye(xp, m * n, dt, dev))
''')

_helper('''
_BLOCK = 1 << 15


def _syrk(dtype):
    """BLAS's symmetric rank-k update for dtype (half the work of a general product), when SciPy is there."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return None
    return {np.dtype(np.float64): blas.dsyrk, np.dtype(np.float32): blas.ssyrk}.get(np.dtype(dtype))


def _xdxt(xp, f, v):
    """f diag(v) f', computed once and exactly symmetric, never as an n x n diag(v).

    NumPy works through blocks of columns, so that a long f (many samples) never needs a second copy of
    itself, and with SciPy through BLAS's syrk on f diag(sqrt(|v|)), one update per sign of v."""
    n = f.shape[1]
    syrk = _syrk(f.dtype) if xp is np and v.dtype == f.dtype else None
    if syrk is None:
        if xp is np and n > 2 * _BLOCK:
            out = np.zeros((f.shape[0], f.shape[0]), dtype=np.result_type(f, v))
            for s in range(0, n, _BLOCK):
                fb = f[:, s:s + _BLOCK]
                out += (fb * v[s:s + _BLOCK].T) @ fb.T
        else:
            out = (f * v.T) @ f.T
        return (out + out.T) * 0.5
    out = None
    for s in range(0, n, _BLOCK):
        fb, vb = f[:, s:s + _BLOCK], v[s:s + _BLOCK, 0]
        neg = vb < 0
        parts = ((1.0, None),) if not neg.any() else ((1.0, vb > 0), (-1.0, neg))  # None: every column
        for sign, cols in parts:
            if cols is not None and not cols.any():
                continue
            a = np.multiply(fb if cols is None else fb[:, cols], np.sqrt(sign * (vb if cols is None else vb[cols])),
                            order="C")
            if out is None:
                out = syrk(sign, a.T, trans=1)
            else:
                out = syrk(sign, a.T, trans=1, beta=1.0, c=out, overwrite_c=1)
    if out is None:
        return np.zeros((f.shape[0], f.shape[0]), dtype=f.dtype)
    return np.triu(out) + np.triu(out, 1).T
''', name="_xdxt")

_helper('''
def _kron_diag_sandwich(xp, a, s, b, sym):
    """kron(a, I_k) diag(vec(s)) kron(b, I_k), s k x n: in the (p, k, q, k) layout block (i, i) is
    a diag(s[i, :]) b and the others are 0; k products instead of (pk) x (nk) Kronecker products."""
    k = s.shape[0]
    blocks = [_xdxt(xp, a, s[i:i + 1, :].T) if sym else (a * s[i:i + 1, :]) @ b for i in range(k)]
    m = xp.stack(blocks, axis=1)
    p, q = m.shape[0], m.shape[2]
    eye = _eye(xp, k, m.dtype, _device(xp, m))
    return xp.reshape(xp.reshape(m, (p, k, q, 1)) * xp.reshape(eye, (1, k, 1, k)), (p * k, q * k))
''')

_helper('''
def _eye_kron_sandwich(xp, a, s, b, sym):
    """kron(I_k, a) diag(vec(s)) kron(I_k, b), s n x k: block diagonal with blocks a diag(s[:, j]) b."""
    k = s.shape[1]
    blocks = [_xdxt(xp, a, s[:, j:j + 1]) if sym else (a * s[:, j:j + 1].T) @ b for j in range(k)]
    m = xp.stack(blocks, axis=0)
    p, q = m.shape[1], m.shape[2]
    eye = _eye(xp, k, m.dtype, _device(xp, m))
    return xp.reshape(xp.reshape(m, (k, p, 1, q)) * xp.reshape(eye, (k, 1, k, 1)), (k * p, k * q))
''')

_helper('''
def _kron_rank_sandwich(xp, a, s, t, b, sym):
    """kron(a, I_k) diag(vec(s)) kron(I_n, 1_kk) diag(vec(t)) kron(b, I_k): entry ((c, i), (d, j)) is
    sum over samples of a[c, :] s[i, :] t[j, :] b[:, d], one product of face-splitting matrices."""
    p, n = a.shape
    k, q = s.shape[0], b.shape[1]
    qa = xp.reshape(xp.reshape(a, (p, 1, n)) * xp.reshape(s, (1, k, n)), (p * k, n))
    if sym:
        return _xdxt(xp, qa, _ones(xp, n, 1, qa.dtype, _device(xp, qa)))
    qb = xp.reshape(xp.reshape(b, (n, q, 1)) * xp.reshape(t.T, (n, 1, k)), (n, q * k))
    return qa @ qb
''')


CALL = re.compile(r"\b(_[a-z]\w*|InputShapeError)\b")


def helpers_for(code: str) -> str:
    """The source of every helper ``code`` uses, and of the helpers they use, in a fixed order."""
    wanted: set = set()
    todo = [code]
    while todo:
        for name in CALL.findall(todo.pop()):
            key = "_xdxt" if name in ("_BLOCK", "_syrk") else name
            if key in HELPERS and key not in wanted:
                wanted.add(key)
                todo.append(HELPERS[key])
    return "\n\n".join(HELPERS[n] for n in HELPERS if n in wanted)
