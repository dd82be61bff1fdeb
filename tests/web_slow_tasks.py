"""A stand-in for matcalc.web.tasks: its "slow" endpoint never finishes in time (the pool's deadline must stop it),
its "hog" endpoint allocates 2 GiB (the worker's memory limit must stop it), its "limits" endpoint reports the
worker's BLAS threads, address space and memory cap."""

import time

from matcalc.web import tasks

ENDPOINTS = dict(tasks.ENDPOINTS, slow=((), ()), hog=((), ()), limits=((), ()))


def run(endpoint, body):
    if endpoint == "slow":
        time.sleep(600)  # only the pool's kill ends this
    if endpoint == "hog":
        return 200, {"size": len(bytearray(2 * 1024 ** 3))}
    if endpoint == "limits":
        import os
        import resource

        from matcalc.web.pool import _address_space

        return 200, {"blas": os.environ.get("OPENBLAS_NUM_THREADS"), "held": _address_space(),
                     "cap": resource.getrlimit(resource.RLIMIT_AS)[0]}
    return tasks.run(endpoint, body)
