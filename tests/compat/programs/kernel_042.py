# mypy: ignore-errors
"""A bussdcc 0.42 program, written against 0.42's API: it must run unchanged on 0.43.

Prints (and leaves in RESULT) what it observed, as JSON; tests/compat compares that with what
the same file printed on bussdcc 0.42.0 (tests/compat/expected/kernel_042.json).
"""

import json
import threading
from dataclasses import dataclass

from bussdcc import Device, Event, Message, Process, Runtime, Service
from bussdcc.device import DeviceProtocol
from bussdcc.event import EventBus
from bussdcc.message import ProcessError
from bussdcc.message.device import DeviceOffline
from bussdcc.process import ProcessProtocol
from bussdcc.runtime import RuntimeProtocol
from bussdcc.service import ServiceProtocol
from bussdcc.state import StateStore

RESULT: dict = {}


@dataclass(slots=True, frozen=True)
class Reading(Message):  # 0.42 messages had no wire name
    sensor: str
    value: float


@dataclass(slots=True, frozen=True)
class Alarm(Message):
    text: str


class Thermometer(Device):
    kind = "thermometer"

    def connect(self):
        RESULT.setdefault("steps", []).append("connect")

    def disconnect(self):
        RESULT.setdefault("steps", []).append("disconnect")


class Collector(Process):
    name = "collector"

    def __init__(self):
        self.seen = []

    def handle_event(self, ctx, evt):
        if isinstance(evt.payload, (Reading, Alarm, DeviceOffline)):
            self.seen.append(type(evt.payload).__name__)
        if isinstance(evt.payload, Reading) and evt.payload.value > 50:
            ctx.emit(Alarm(text=f"{evt.payload.sensor} hot"))


class Sampler(Service):
    name = "sampler"
    interval = 0.01

    def __init__(self):
        self.ticks = 0
        self.done = threading.Event()

    def tick(self, ctx):
        self.ticks += 1
        if self.ticks <= 2:
            ctx.emit(Reading(sensor="t1", value=40.0 + 20 * (self.ticks - 1)))
        else:
            self.done.set()


class Hooked(Runtime):
    def _on_boot(self):
        super()._on_boot()
        RESULT.setdefault("steps", []).append("on_boot")

    def _on_shutdown(self, reason=None):
        RESULT.setdefault("steps", []).append("on_shutdown")
        super()._on_shutdown(reason)


def main():
    bus, state = EventBus(), StateStore()
    rt = Hooked(events=bus, state=state)
    therm = Thermometer(id="t1")
    collector = Collector()
    sampler = Sampler()
    rt.devices.attach(therm)
    rt.processes.register(collector)
    rt.services.register(sampler)

    direct = []
    sub = rt.events.subscribe(Reading, lambda evt: direct.append(evt.payload.value))

    RESULT["booted_before"] = rt.booted
    rt.boot()
    RESULT["booted"] = rt.booted
    RESULT["version_is_str"] = isinstance(rt.version, str)
    RESULT["state_injected"] = rt.ctx.state is state
    sampler.done.wait(10)

    rt.ctx.events.emit(Event(time=rt.clock.now_utc(), payload=Reading(sensor="t2", value=1.0)))
    rt.events.unsubscribe(sub)
    rt.ctx.emit(Reading(sensor="t3", value=2.0))
    therm.set_offline(OSError("bus fault"))

    RESULT["devices"] = [d.id for d in rt.devices.list(kind="thermometer")]
    RESULT["processes"] = [p.name for p in rt.processes.list()]
    RESULT["service_names"] = rt.services.names()
    RESULT["services"] = [s.name for s in rt.services.list()]
    RESULT["missing"] = [rt.services.get("nope"), rt.devices.get("nope")]
    RESULT["sampler_ctx"] = sampler.ctx is not None
    RESULT["is_running"] = rt.services.is_running("sampler")
    rt.services.stop_all()
    RESULT["is_running_after_stop_all"] = rt.services.is_running("sampler")

    err = ProcessError("collector", "ValueError: bad", None, "Traceback ...")
    RESULT["process_error"] = [err.process, err.error, err.traceback]
    RESULT["process_error_evt"] = err.evt

    rt.shutdown("done")
    RESULT["booted_after"] = rt.booted
    RESULT["seen"] = list(collector.seen)
    RESULT["direct"] = direct
    rt.boot()  # 0.42 allowed booting again
    RESULT["rebooted"] = rt.booted
    rt.shutdown("again")
    RESULT["protocols"] = all(
        p is not None for p in (DeviceProtocol, ProcessProtocol, ServiceProtocol, RuntimeProtocol)
    )
    return RESULT


if __name__ == "__main__":
    print(json.dumps(main(), sort_keys=True))
