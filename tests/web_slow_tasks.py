"""A stand-in for matcalc.web.tasks whose "slow" endpoint never finishes in time: the pool's deadline must stop it."""

import time

from matcalc.web import tasks

ENDPOINTS = dict(tasks.ENDPOINTS, slow=((), ()))


def run(endpoint, body):
    if endpoint == "slow":
        time.sleep(600)  # only the pool's kill ends this
    return tasks.run(endpoint, body)
