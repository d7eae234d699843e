"""Records one corpus scenario on this machine with the app's real pieces, into tests/corpus/.

    python tools/corpus/record.py idle --seconds 180 --interval 2
    python tools/corpus/record.py cpu-load --seconds 180 --interval 2
    python tools/corpus/record.py network-burst --seconds 180 --interval 2
    python tools/corpus/record.py disk-io --seconds 90 --interval 2

The recording runs what the app runs live -- a framework `Runtime` with the framework's
`SystemIdentityService`, the app's `SystemService` (real psutil collectors), `SystemProcess`
and `HealthProcess` -- with a `JsonlSink` into a temporary directory, minus the dashboard (no
port is needed). While it records, a workload shapes what the host does:

* ``idle``: nothing; the host as it is.
* ``cpu-load``: one busy-loop process per logical CPU for most of the recording.
* ``network-burst``: a TCP transfer over 127.0.0.1 as fast as it goes, in the middle third.
  The app leaves loopback out of its network figures, so this scenario's network collector
  includes it; that is the only difference from the app's own collectors, and the manifest
  says so.
* ``disk-io``: ``dd`` writes a file of zeros (``conv=fdatasync``, so the bytes reach the disk
  rather than the page cache) in the middle third, into a scratch directory beside the
  output (on the repository's disk: ``/tmp`` may be a RAM disk), then deletes it.

The segments are joined in time order into ``<out>/<scenario>.jsonl`` (replacing it), then
``tools/corpus/manifest.py`` writes the manifest beside it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bussdcc_framework.io.jsonl import JsonlSink, JsonlSource
from bussdcc_framework.runtime import Runtime
from bussdcc_framework.service import SystemIdentityService
from bussdcc_system_health.collectors import (
    Collector,
    NetworkCollector,
    default_collectors,
)
from bussdcc_system_health.processes import HealthProcess, SystemProcess
from bussdcc_system_health.service import SystemService

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPOSITORY_ROOT / "tests" / "corpus"
MANIFEST_SCRIPT = Path(__file__).resolve().parent / "manifest.py"

# One file per day: a few minutes never straddle a segment unless they straddle midnight, so
# the joined file keeps the exact delivery order.
_SEGMENT_SECONDS = 86_400

LOOPBACK_NOTE = (
    "network collector includes loopback (lo) so the 127.0.0.1 transfer is visible; "
    "the app itself leaves loopback out"
)

Workload = Callable[[float, threading.Event], None]


def _wait(seconds: float, cancel: threading.Event) -> bool:
    """Sleep ``seconds`` unless cancelled; True when cancelled."""
    return cancel.wait(max(0.0, seconds))


def idle(seconds: float, cancel: threading.Event) -> None:
    """Leave the host alone for the whole recording."""
    _wait(seconds, cancel)


def cpu_load(seconds: float, cancel: threading.Event) -> None:
    """Busy-loop one process per logical CPU from 10 % to about 88 % of the recording."""
    lead, tail = seconds * 0.10, seconds * 0.12
    if _wait(lead, cancel):
        return
    workers = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        _wait(seconds - lead - tail, cancel)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    _wait(tail, cancel)


def _drain(server: socket.socket, received: list[int]) -> None:
    connection, _ = server.accept()
    with connection:
        total = 0
        while chunk := connection.recv(1 << 20):
            total += len(chunk)
        received.append(total)


def network_burst(seconds: float, cancel: threading.Event) -> None:
    """Push bytes over a loopback TCP connection as fast as possible in the middle third."""
    third = seconds / 3
    if _wait(third, cancel):
        return
    received: list[int] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        reader = threading.Thread(target=_drain, args=(server, received), daemon=True)
        reader.start()
        block = b"\xa5" * (1 << 20)
        deadline = time.monotonic() + third
        with socket.create_connection(server.getsockname()[:2]) as client:
            while time.monotonic() < deadline and not cancel.is_set():
                client.sendall(block)
        reader.join(timeout=60)
    print(f"network-burst: {received[0] if received else 0} bytes over loopback", flush=True)
    _wait(seconds - 2 * third, cancel)


DD_MEGABYTES = 256
"""How much each ``dd`` run of the disk-io scenario writes."""


def disk_io(seconds: float, cancel: threading.Event) -> None:
    """Write files to disk with ``dd`` over and over through the middle third."""
    third = seconds / 3
    if _wait(third, cancel):
        return
    written = 0
    deadline = time.monotonic() + third
    with tempfile.TemporaryDirectory(prefix="corpus-dd-", dir=REPOSITORY_ROOT) as scratch:
        target = Path(scratch) / "zeros"
        while time.monotonic() < deadline and not cancel.is_set():
            subprocess.run(
                ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={DD_MEGABYTES}",
                 "conv=fdatasync", "status=none"],
                check=True,
            )  # fmt: skip
            written += DD_MEGABYTES
            target.unlink()
    print(f"disk-io: dd wrote {written} MiB", flush=True)
    _wait(deadline + third - time.monotonic(), cancel)


WORKLOADS: dict[str, Workload] = {
    "idle": idle,
    "cpu-load": cpu_load,
    "network-burst": network_burst,
    "disk-io": disk_io,
}


def collectors_for(scenario: str) -> tuple[Collector, ...]:
    """The app's real collectors; ``network-burst`` counts loopback too (see module doc)."""
    chosen = default_collectors()
    if scenario != "network-burst":
        return chosen
    return tuple(
        NetworkCollector(include_loopback=True) if isinstance(c, NetworkCollector) else c
        for c in chosen
    )


def record(scenario: str, seconds: float, interval: float, destination: Path) -> int:
    """Record ``scenario`` for ``seconds`` into ``destination``; return the number of events.

    Raises:
        KeyError: for an unknown scenario.
        RuntimeError: if the recording holds a line the framework cannot read back.
    """
    workload = WORKLOADS[scenario]
    with tempfile.TemporaryDirectory(prefix=f"corpus-{scenario}-") as scratch:
        rt = Runtime()
        rt.add_sink(JsonlSink(scratch, interval=_SEGMENT_SECONDS))
        rt.add_process(SystemProcess())
        rt.add_process(HealthProcess())
        rt.add_service(SystemIdentityService())
        rt.add_service(SystemService(collectors_for(scenario), interval=interval))
        cancel = threading.Event()
        rt.boot()
        try:
            workload(seconds, cancel)
        except BaseException:
            cancel.set()
            raise
        finally:
            rt.shutdown(f"corpus recording {scenario!r} complete")
        source = JsonlSource(scratch)
        segments = source.files()
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_suffix(".jsonl.partial")
        with open(partial, "wb") as out:
            for segment in segments:  # segment names sort in time order
                with open(segment, "rb") as part:
                    shutil.copyfileobj(part, out)
        check = JsonlSource(partial)
        count = sum(1 for _ in check)
        if check.skipped:
            raise RuntimeError(f"{partial}: unreadable lines: {check.problems[:3]}")
        os.replace(partial, destination)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=180.0, help="length (default 180)")
    parser.add_argument("--interval", type=float, default=2.0, help="tick seconds (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus directory")
    parser.add_argument("--no-manifest", action="store_true", help="skip writing the manifest")
    args = parser.parse_args(argv)
    if not args.seconds > 0 or not args.interval > 0:
        parser.error("--seconds and --interval must be positive")
    destination = args.out / f"{args.scenario}.jsonl"
    made_by = shlex.join(
        [
            "python",
            "tools/corpus/record.py",
            args.scenario,
            "--seconds",
            f"{args.seconds:g}",
            "--interval",
            f"{args.interval:g}",
        ]
    )
    count = record(args.scenario, args.seconds, args.interval, destination)
    size = destination.stat().st_size
    print(f"{destination}: {count} events, {size} bytes", flush=True)
    if args.no_manifest:
        return 0
    command = [sys.executable, str(MANIFEST_SCRIPT), str(destination), "--made-by", made_by]
    if args.scenario == "network-burst":
        command += ["--note", LOOPBACK_NOTE]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
