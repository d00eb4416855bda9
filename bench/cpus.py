"""Servers on one core, load generators and clients on the other (when there are two and
taskset exists), so a server and the client measuring it do not take turns on one core."""
import os
import shutil

SERVER, CLIENT = 0, 1


def pinned(cmd, role):
    """``cmd`` run under ``taskset -c <core>`` for role SERVER or CLIENT, or unchanged."""
    taskset = shutil.which("taskset")
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cores = []
    if not taskset or len(cores) < 2:
        return list(cmd)
    return [taskset, "-c", str(cores[role])] + list(cmd)


def describe():
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cores = []
    if shutil.which("taskset") and len(cores) >= 2:
        return "servers pinned to core %d, clients and load generators to core %d (taskset)" % (
            cores[SERVER], cores[CLIENT])
    return "no pinning (needs taskset and two cores)"
