"""`quiet_closed_websockets`: a WebSocket closed under a library thread prints no traceback."""

from __future__ import annotations

import threading

from bussdcc_framework.interface.serving import quiet_closed_websockets

# Code "from" simple-websocket: the hook recognises a closed socket by where it was raised.
_CLOSED = compile("raise OSError(9, 'Bad file descriptor')", "/lib/simple_websocket/ws.py", "exec")
_OTHER = compile("raise OSError(9, 'Bad file descriptor')", "/app/mine.py", "exec")


def _run(code: object) -> None:
    thread = threading.Thread(target=exec, args=(code, {}))
    thread.start()
    thread.join()


def test_a_closed_websocket_is_quiet_and_other_thread_errors_still_reach_the_hook() -> None:
    seen: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:
        import bussdcc_framework.interface.serving as serving

        serving._hook_installed = False  # install over this test's recording hook
        quiet_closed_websockets()
        _run(_CLOSED)
        assert seen == []
        _run(_OTHER)
        assert len(seen) == 1 and isinstance(seen[0], OSError)
    finally:
        threading.excepthook = previous
        serving._hook_installed = False
