"""A tour of matcalc's derivation engine (run: python examples/quickstart.py)."""

import numpy as np

import matcalc

# 1. A gradient in both layouts, and its LaTeX.
d = matcalc.derive("x'*A*x", wrt="x")
print("d(x'Ax)/dx, denominator layout:", d)
print("                 numerator layout:", d.in_layout("numerator"))
print("                            LaTeX:", d.latex(equation=True))
print("with A symmetric:", matcalc.derive("x'*A*x", wrt="x", assume={"A": "symmetric"}))

# 2. The batch softmax cross-entropy gradient of the lecture, compiled and verified.
g = matcalc.derive("-(1/n)*sum(Y.*log(softmax(W*X)))", wrt="W",
                   shapes={"W": ("k", "p"), "X": ("p", "n")}, assume={"Y": "onehot"})
print("\nsoftmax cross-entropy:", g)
print(g.verify())
rng = np.random.default_rng(0)
W = rng.normal(size=(3, 4)).astype(np.float32)
X = rng.normal(size=(4, 10)).astype(np.float32)
Y = np.eye(3, dtype=np.float32)[:, rng.integers(3, size=10)]
grad = g.to_numpy()(W=W, X=X, Y=Y)
print("compiled gradient:", grad.shape, grad.dtype)
print(g.to_numpy().source.split("\n\n")[-1])

# 3. Jacobians, vec-Jacobians and Hessians.
print("Jacobian of softmax(z):", matcalc.derive("softmax(z)", wrt="z"))
print("d vec(AXB) / d vec(X) (numerator):", matcalc.derive("A*X*B", wrt="X", layout="numerator"))
print("Hessian of the logistic loss:", matcalc.hessian("(1/n)*sum(softplus(X'*w) - y.*(X'*w))", wrt="w"))
