"""Running points on Ray: local Ray by default, a cluster when an address is given.

Points that share a workload (the same trace, windows, seed, …: ``workload_key``, LRU only)
share its inputs: one task reads the trace and computes its hit curves once, its result is
put in the object store, and every point of that workload takes it from there (numpy arrays
are read in place, not copied, by the workers of a node). Each point is a task asking for one
CPU and memory from the workload's size; results stream back as they finish, and each is
handed to ``on_done`` at once (the driver caches it there), so a stopped sweep keeps them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable

import ray

from planner.errors import GreencacheError, UsageError
from planner.interrupt import stop_on_sigterm
from planner.sweep.point import failure, run_point
from planner.sweep.points import Point
from planner.workload.prepare import load_inputs, workload_key

# What a point holds besides the shared inputs, by requests of its workload: the replay's
# per-request arrays (window, cached tokens, TTFT, TPOT, routing keys) for the schedule being
# replayed and the two the process keeps, the candidate table and the solver. bench_sweep.py
# on the Azure week (27.3M requests): the process held 5.0 GB after preparing the shared
# inputs and 7.3 GB at the end of its second point, 2.3 GB (84 bytes a request) above them;
# this asks for about twice that.
MEMORY_BASE_BYTES = 1.0e9
MEMORY_PER_REQUEST_BYTES = 150.0


@dataclass
class Outcome:
    point: Point
    result: dict | None       # the point's record, or None when it failed
    seconds: dict
    error: dict | None = None  # {"error": sentence, "exit_code": n}


def memory_bytes(requests: int, memory_gb: float | None) -> int:
    if memory_gb is not None:
        return int(memory_gb * 1e9)
    return int(MEMORY_BASE_BYTES + MEMORY_PER_REQUEST_BYTES * requests)


def start_ray(address: str | None, workers: int | None) -> bool:
    """Connect to Ray (a cluster at ``address``, else a local instance with ``workers`` CPUs).
    Returns whether this call started it (and so should stop it)."""
    if ray.is_initialized():
        return False
    # No usage-statistics prompt or upload from a planner run.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False,
             "configure_logging": True}
    try:
        if address:
            ray.init(address=address, **{k: v for k, v in quiet.items()
                                         if k != "include_dashboard"})
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise UsageError(f"cannot connect to {where}: {str(e).splitlines()[0][:200]}") from None
    # ray.init installs its own SIGTERM handler (a native stack dump): keep ours, so a killed
    # sweep unwinds, shuts Ray down and says what it kept.
    stop_on_sigterm()
    return True


def _largest_node_memory() -> float:
    nodes = [n["Resources"].get("memory", 0.0) for n in ray.nodes() if n.get("Alive")]
    return max(nodes) if nodes else 0.0


# max_calls=1: the worker process that read a workload exits once its inputs are in the object
# store. Reading a week's trace leaves gigabytes of freed heap that the process keeps; in a
# worker that went on to run points they stayed beside every later workload's.
@ray.remote(num_cpus=1, max_calls=1)
def _prepare(opt):
    """The workload's inputs (trace, windows, hit curves, bursts) and its request count."""
    inputs = load_inputs(opt)
    return inputs, len(inputs.trace)


@ray.remote(num_cpus=1)
def _point(opt, strategies, shared):
    try:
        rec, seconds = run_point(opt, strategies, shared)
        return rec, seconds, None
    except Exception as e:  # noqa: BLE001 - recorded with the point, the sweep goes on
        return None, {}, failure(e)


def _unwrap(e: BaseException) -> dict:
    """A task's exception as a failure record: the library's own error where Ray wraps one
    (a shared input that failed), else Ray's (a worker killed, out of memory)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, GreencacheError):
        return failure(cause)
    text = str(e).strip().splitlines()
    return {"error": f"{type(e).__name__}: {text[0][:300] if text else ''}", "exit_code": 1}


# Workloads whose shared inputs are alive at once (in the object store and being used): a
# week-long trace's inputs take gigabytes, so the next workload is read only when every point
# of the last one has finished. Two at once overlapped reading the next workload with the
# last one's points, and the experiment's sweep peaked at 14.3 GB (PSS) with it.
LIVE_WORKLOADS = 1


def run_points(points: list[Point], strategies: tuple[str, ...], memory_gb: float | None,
               on_done: Callable[[Outcome], None]) -> None:
    """Run ``points`` on the connected Ray; ``on_done`` gets each outcome as it finishes."""
    groups: dict[tuple, list[Point]] = {}
    for p in points:
        # LCS curves depend on the grid: those points prepare their own inputs.
        k = workload_key(p.options) if p.options.eviction == "lru" else ("own", p.key)
        groups.setdefault(k, []).append(p)
    queue = list(groups.items())
    largest = _largest_node_memory()
    live: dict = {}       # workload -> points of it not finished (its shared ref held here)
    preps: dict = {}      # request-count ref -> (workload, shared ref, its points)
    pending: dict = {}    # point ref -> (point, workload)

    def submit(k, ps, shared_ref, requests):
        mem = memory_bytes(requests, memory_gb)
        if largest:
            # Never ask for more than the largest node has: the task would wait forever.
            mem = min(mem, int(largest))
        for p in ps:
            pending[_point.options(memory=mem).remote(p.options, strategies, shared_ref)] = (p, k)

    def finish(k):
        live[k]["left"] -= 1
        if live[k]["left"] == 0:
            del live[k]          # drops the last reference: Ray frees the shared inputs

    def admit():
        while queue and len(live) < LIVE_WORKLOADS:
            k, ps = queue.pop(0)
            live[k] = {"left": len(ps)}
            if k[0] == "own":
                submit(k, ps, None, 0)
            else:
                shared_ref, count_ref = _prepare.options(num_returns=2).remote(ps[0].options)
                live[k]["ref"] = shared_ref
                preps[count_ref] = (k, shared_ref, ps)

    admit()
    while pending or preps:
        done, _ = ray.wait(list(preps) + list(pending), num_returns=1)
        for ref in done:
            if ref in preps:
                k, shared_ref, ps = preps.pop(ref)
                try:
                    requests = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - the workload cannot be read: its points fail
                    for p in ps:
                        on_done(Outcome(p, None, {}, _unwrap(e)))
                        finish(k)
                else:
                    submit(k, ps, shared_ref, requests)
            else:
                p, k = pending.pop(ref)
                try:
                    rec, seconds, err = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - Ray's own failure of this task
                    rec, seconds, err = None, {}, _unwrap(e)
                on_done(Outcome(p, rec, seconds, err))
                finish(k)
        admit()
