"""The public surface of ``bussdcc``: every exported name exists, is documented, and no more."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import types
import typing

import bussdcc
from bussdcc import message

SPEC_NAMES = {
    "Runtime",
    "ThreadedRuntime",
    "SignalRuntime",
    "ReplayRuntime",
    "ContextProtocol",
    "Device",
    "Process",
    "Interface",
    "Service",
    "Message",
    "Severity",
    "Event",
    "EventBus",
    "StateStore",
    "SystemClock",
    "ReplayClock",
    "ManualClock",
    "message",
    "__version__",
}


def test_every_name_the_spec_lists_is_exported() -> None:
    assert set(bussdcc.__all__) >= SPEC_NAMES


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in bussdcc.__all__:
        assert hasattr(bussdcc, name), f"bussdcc.__all__ lists {name} but it is missing"
        value = getattr(bussdcc, name)
        if name == "__version__":
            continue
        if typing.get_origin(value) is typing.Literal:
            continue  # a Literal alias cannot carry a docstring: its values document it
        doc = inspect.getdoc(value)
        assert doc and doc.strip(), f"bussdcc.{name} has no docstring"


def test_the_version_is_a_release_version_string() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(\S*)", bussdcc.__version__)
    assert bussdcc.__version__ == importlib.import_module("bussdcc.version").__version__


def test_nothing_private_or_unlisted_leaks_from_the_package() -> None:
    exported = set(bussdcc.__all__)
    assert not [n for n in exported if n.startswith("_") and n != "__version__"]
    for name, value in vars(bussdcc).items():
        if name.startswith("_") or name in exported:
            continue
        # the rest may only be the package's own submodules, imported as a side effect
        assert isinstance(value, types.ModuleType), f"bussdcc.{name} leaks"
        assert value.__name__ == f"bussdcc.{name}", f"bussdcc.{name} leaks a foreign module"


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from bussdcc import *", namespace)

    assert set(namespace) - {"__builtins__"} == set(bussdcc.__all__)


def test_the_message_module_exports_documented_kernel_messages() -> None:
    for name in message.__all__:
        value = getattr(message, name)
        assert inspect.getdoc(value), f"bussdcc.message.{name} has no docstring"
    assert message.Message is bussdcc.Message
    assert message.Severity is bussdcc.Severity


PUBLIC_NAMES = SPEC_NAMES | {
    "BootError",
    "ClockProtocol",
    "Context",
    "DeviceManager",
    "EventSink",
    "EventSource",
    "InterfaceManager",
    "Phase",
    "ProcessManager",
    "RuntimeExtension",
    "ServiceState",
    "ServiceStatus",
    "ServiceSupervisor",
    "SignalHandling",
    "Subscription",
    "describe_failure",
}


def test_the_public_surface_is_pinned() -> None:
    # Adding or removing a public name is a decision: make it here, in the CHANGELOG too.
    assert set(bussdcc.__all__) == PUBLIC_NAMES


def _kernel_modules() -> list[types.ModuleType]:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.iter_modules(bussdcc.__path__, "bussdcc.")
        if not info.name.rsplit(".", 1)[-1].startswith("_")
    ]


def test_each_submodule_exports_only_what_the_package_exports() -> None:
    # The submodule paths stay importable (users import bussdcc.event, bussdcc.runtime, ...),
    # but each one's __all__ is a part of the one public surface, not a second one.
    modules = _kernel_modules()
    assert {"bussdcc.runtime", "bussdcc.event", "bussdcc.message", "bussdcc.bus"} <= {
        m.__name__ for m in modules
    }
    for module in modules:
        if module.__name__ in ("bussdcc.message", "bussdcc.version"):
            continue  # the message catalogue is public as a module; version holds __version__
        for name in module.__all__:
            assert getattr(bussdcc, name, None) is getattr(module, name), (
                f"{module.__name__}.{name} is in its __all__ but not exported by bussdcc"
            )


def test_every_other_name_a_submodule_defines_is_private() -> None:
    # "Public = exported and documented; anything else behind _ names", checked on the code a
    # module defines itself (imports are the other module's business).
    for module in _kernel_modules():
        if module.__name__ == "bussdcc.message":
            continue
        source = inspect.getsource(module)
        for node in ast.parse(source).body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                defined = [node.name]
            elif isinstance(node, ast.Assign):
                defined = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                defined = [node.target.id]
            else:
                continue
            for name in defined:
                if name.startswith("_"):
                    continue
                assert name in bussdcc.__all__, f"{module.__name__}.{name} is neither public nor _"


def test_the_services_iterate_as_components_like_the_processes() -> None:
    class Idle(bussdcc.Service):
        interval = 3600.0

    class Quiet(bussdcc.Process):
        pass

    rt = bussdcc.Runtime()
    service, process = rt.register_service(Idle()), rt.register_process(Quiet())
    assert list(rt.services) == [service]
    assert list(rt.processes) == [process]
    assert "Idle" in rt.services and "Quiet" in rt.processes
