"""Several uvicorn worker processes on one port, each with its own SO_REUSEPORT listening socket.

uvicorn's own `workers=N` shares one listening socket: every worker is woken for each new
connection and whichever accepts first keeps it, so a burst of connections (a gateway's pool, a
load generator) can land mostly on one worker while the others idle. With one socket per worker
and SO_REUSEPORT the kernel spreads connections over the workers by their address hash instead.

Companions are other processes of the same service (the permission service's σ writer): they
start first and stop last, after the workers have finished their requests.

The supervisor forwards SIGINT/SIGTERM to its processes and exits when any of them exits
(non-zero if one failed): a service manager (systemd, Kubernetes) then restarts the whole set,
rather than this process quietly running with fewer workers than asked for.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence

POLL_S = 0.2
STOP_GRACE_S = 10.0


def _bound_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """A worker's own socket on the shared port (each worker makes its own: nothing inherited)."""
    sock = _bound_socket(host, port, reuse_port=True)
    sock.listen(2048)
    return sock


def _check_free(host: str, port: int) -> None:
    """Binds once without SO_REUSEPORT: a port another server holds fails here, with a clear
    error, rather than being silently shared with it (SO_REUSEPORT would let both listen)."""
    _bound_socket(host, port, reuse_port=False).close()


def _child(env: dict[str, str], target: Callable, args: tuple) -> None:
    os.environ.update(env)
    target(*args)


def _worker(app_factory: str, host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(app_factory, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(app_factory: str, host: str, port: int, workers: int, log_level: str,
                  companions: Sequence[tuple[Callable, tuple]] = (), env: dict[str, str] | None = None) -> int:
    """Runs `workers` processes of the ASGI app that `app_factory` ("module:function") builds,
    plus each companion `target(*args)`, until a signal or a process's exit; returns the exit
    status for the CLI. `env` is added to every child's environment (not to this process's)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    _check_free(host, port)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no state shared by fork
    env = dict(env or {})
    helpers = [context.Process(target=_child, args=(env, target, args), name=f"companion-{i}")
               for i, (target, args) in enumerate(companions)]
    servers = [context.Process(target=_child, args=(env, _worker, (app_factory, host, port, log_level)),
                               name=f"worker-{i}") for i in range(workers)]
    stopping = False

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in helpers + servers:
            process.start()
        while not stopping and all(p.is_alive() for p in helpers + servers):
            time.sleep(POLL_S)
        failed = [p for p in helpers + servers if not p.is_alive() and p.exitcode not in (0, None)]
        _stop_all(servers)
        _stop_all(helpers)
        return 1 if failed and not stopping else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_all(processes) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes in-flight requests, runs the lifespan's end
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
