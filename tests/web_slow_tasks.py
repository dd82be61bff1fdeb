"""A stand-in for matcalc.web.tasks: its "slow" endpoint never finishes in time (the pool's deadline must stop it),
its "hog" endpoint allocates 2 GiB (the worker's memory limit must stop it)."""

import time

from matcalc.web import tasks

ENDPOINTS = dict(tasks.ENDPOINTS, slow=((), ()), hog=((), ()))


def run(endpoint, body):
    if endpoint == "slow":
        time.sleep(600)  # only the pool's kill ends this
    if endpoint == "hog":
        return 200, {"size": len(bytearray(2 * 1024 ** 3))}
    return tasks.run(endpoint, body)
