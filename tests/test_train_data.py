"""Data beyond memory: memmaps read in blocks, sparse matrices, Dask arrays (threads and a distributed cluster), streams."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import matcalc
from matcalc.train import sources
from matcalc.train.sources import Memmap, moments, source


@pytest.fixture(autouse=True)
def one_blas_thread():
    threadpoolctl = importlib.import_module("threadpoolctl")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        yield


def data(n=700, p=6, k=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, p)) * 2
    y = rng.integers(0, k, n)
    X = (centres[y] + rng.normal(size=(n, p))) * rng.uniform(0.5, 20, p) + rng.normal(size=p) * 10
    return X.astype(dtype), y


MODELS = [(matcalc.SoftmaxClassifier, 3), (matcalc.LogisticClassifier, 2), (matcalc.MulticlassSVM, 3)]


def _reference(cls, X, y, **kw):
    return cls(tol=1e-9, max_iter=500, **kw).fit(X, y)


@pytest.mark.parametrize("cls,k", MODELS)
def test_a_memmap_is_read_in_blocks_and_gives_the_in_memory_fit(tmp_path, monkeypatch, cls, k):
    X, y = data(k=k)
    path = tmp_path / "X.f32"
    X.astype(np.float32).tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    src = source(mm, block_rows=128)
    assert isinstance(src, Memmap) and len(src.ranges()) == 6
    reads = []
    real = Memmap.read
    monkeypatch.setattr(Memmap, "read", lambda self, a, b: reads.append(b - a) or real(self, a, b))
    monkeypatch.setattr(sources, "_rows_per_block", lambda p, itemsize, rows: 128)  # the estimator's own source
    est = _reference(cls, mm, y)
    assert reads and max(reads) == 128  # never more than one block in memory
    ref = _reference(cls, X.astype(np.float32), y)
    assert np.allclose(est.coef_, ref.coef_, rtol=1e-3, atol=1e-4)
    assert np.array_equal(est.predict(mm), ref.predict(X.astype(np.float32)))


def test_moments_of_blocks_equal_those_of_the_whole():
    X, _ = data(n=1000)
    w = np.random.default_rng(5).uniform(0, 3, len(X))
    m1, s1 = moments(source(X, block_rows=77), w)
    mean = np.average(X, axis=0, weights=w)
    assert np.allclose(m1, mean) and np.allclose(s1, np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w)))


@pytest.mark.parametrize("cls,k", MODELS)
def test_sparse_csr_input(cls, k):
    scipy_sparse = importlib.import_module("scipy.sparse")
    X, y = data(k=k)
    X[np.abs(X) < 8] = 0
    S = scipy_sparse.csr_matrix(X)
    est = _reference(cls, S, y)
    ref = _reference(cls, X, y)
    assert np.allclose(est.coef_, ref.coef_, atol=1e-6)
    assert np.array_equal(est.predict(S), ref.predict(X))


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "sgd"])
def test_a_dask_array_is_reduced_chunk_by_chunk(solver):
    da = importlib.import_module("dask.array")
    X, y = data()
    D = da.from_array(X, chunks=(150, X.shape[1]))
    kw = {"solver": solver}
    est = matcalc.SoftmaxClassifier(tol=1e-9 if solver != "sgd" else 1e-4, max_iter=300 if solver != "sgd" else 20,
                                    **kw).fit(D, y)
    ref = matcalc.SoftmaxClassifier(tol=1e-9, max_iter=300).fit(X, y)
    if solver == "sgd":
        assert est.score(X, y) >= ref.score(X, y) - 0.02
    else:
        assert np.allclose(est.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    assert np.array_equal(matcalc.SoftmaxClassifier().fit(D, y).predict(D), matcalc.SoftmaxClassifier().fit(X, y).predict(X))


def test_a_distributed_local_cluster():
    distributed = importlib.import_module("distributed")
    da = importlib.import_module("dask.array")
    X, y = data(n=400, k=2)
    D = da.from_array(X, chunks=(100, X.shape[1]))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:  # every task the cluster ran, as it ran it
            est = matcalc.LogisticClassifier(client=client, tol=1e-9, max_iter=300).fit(D, y)
        tasks = len(stream.data)
    ref = matcalc.LogisticClassifier(tol=1e-9, max_iter=300).fit(X, y)
    assert np.allclose(est.coef_, ref.coef_, rtol=1e-4, atol=1e-5)
    assert tasks > 0  # the cluster did the work


def test_partial_fit_on_a_stream_of_minibatches():
    X, y = data(n=3000, seed=7)
    est = matcalc.SoftmaxClassifier(batch_size=64, lr=0.1)
    with pytest.raises(ValueError, match="not fitted"):
        est.predict(X)
    for start in range(0, 2000, 250):
        est.partial_fit(X[start:start + 250], y[start:start + 250], classes=[0, 1, 2])
    assert est.n_iter_ == 8 and len(est.loss_curve_) == 8
    assert est.score(X[2000:], y[2000:]) >= 0.9
    first = matcalc.SoftmaxClassifier().partial_fit(X[:250], y[:250])
    assert np.allclose(first.mean_, np.mean(X[:250], axis=0))  # standardized by the first batch, then kept
    before = first.mean_.copy()
    first.partial_fit(X[250:500], y[250:500])
    assert np.array_equal(first.mean_, before)
    with pytest.raises(ValueError, match=r"y holds the class 7, which is not in classes_ \[0, 1, 2\]"):
        first.partial_fit(X[:5], np.array([7, 0, 1, 2, 0]))
