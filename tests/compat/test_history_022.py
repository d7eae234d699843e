"""A 0.22 data directory read in place: every telemetry line replays into today's dashboard."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from bussdcc.message import RuntimeBooting
from bussdcc_framework.runtime import ReplayRuntime
from bussdcc_system_health.legacy import LEGACY_TYPES, TELEMETRY_TYPES, HistorySource
from bussdcc_system_health.processes import HealthProcess, SystemProcess

DATA_DIR = Path(__file__).resolve().parents[1] / "corpus" / "v022-data-dir"
HISTORY = DATA_DIR / "history"
MANIFEST: dict[str, Any] = json.loads((DATA_DIR / "manifest.json").read_text())

# What each 0.22 telemetry type becomes today.
NEW_NAME = {
    "MemoryUsageUpdate": "system.memory.usage.updated",
    "CPUUsageUpdate": "system.cpu.usage.updated",
    "LoadAverageUpdate": "system.load.updated",
    "DiskUsageUpdate": "system.disk.usage.updated",
    "NetworkUsageUpdate": "system.network.usage.updated",
    "SystemTemperatureUpdate": "system.temperature.updated",
}


def _raw_types() -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(HISTORY.rglob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            counts[json.loads(line)["type"]] += 1
    return counts


def test_the_corpus_is_a_real_0_22_recording_described_by_its_manifest() -> None:
    raw = _raw_types()
    assert dict(raw) == MANIFEST["types"]
    assert sum(raw.values()) == MANIFEST["lines"]
    telemetry = {t for t in raw if t.startswith("bussdcc_system_health.message.stats:")}
    assert telemetry and telemetry <= set(TELEMETRY_TYPES)
    size = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert size < 300 * 1024


def test_every_telemetry_line_is_read_and_converted() -> None:
    source = HistorySource(HISTORY)
    names = Counter(evt.name for evt in source)
    raw = _raw_types()
    for old_type, count in raw.items():
        short = old_type.rsplit(":", 1)[1]
        if short in NEW_NAME:
            assert names[NEW_NAME[short]] == count, old_type
    known = sum(n for t, n in raw.items() if t in LEGACY_TYPES)
    assert source.read == source.legacy == known == MANIFEST["expected"]["read"]
    assert source.skipped == MANIFEST["expected"]["skipped"]
    assert source.skipped_types == {"bussdcc_framework.message.web:WebInterfaceStarted": 1}


def test_the_replay_ends_in_the_dashboard_state_of_the_last_0_22_readings() -> None:
    source = HistorySource(HISTORY)
    rt = ReplayRuntime(speed=0)
    rt.add_process(SystemProcess())
    rt.add_process(HealthProcess())
    rt.add_source(source)
    rt.run()
    assert rt.replayed == MANIFEST["expected"]["read"]
    last = MANIFEST["expected"]["last"]
    cpu = rt.state.get("system.cpu.usage")
    old_cpu = last["CPUUsageUpdate"]
    assert {k: cpu[k] for k in old_cpu} == old_cpu
    assert cpu["busy"] == round(max(0.0, 100 - old_cpu["idle"] - old_cpu["iowait"]), 1)
    memory = rt.state.get("system.memory.usage")
    assert {k: memory[k] for k in last["MemoryUsageUpdate"]} == last["MemoryUsageUpdate"]
    load = rt.state.get("system.load")
    old_load = last["LoadAverageUpdate"]
    assert (load["load1"], load["load5"], load["load15"]) == (
        old_load["load_1m"],
        old_load["load_5m"],
        old_load["load_15m"],
    )
    disk = rt.state.get("system.disk.usage")
    old_disk = last["DiskUsageUpdate"]
    assert [{k: fs[k] for k in old_disk} for fs in disk["filesystems"]] == [old_disk]
    network = rt.state.get("system.network.usage")
    old_net = [i for i in last["NetworkUsageUpdate"]["interfaces"] if i["interface"] != "lo"]
    assert [
        (i["interface"], i["tx_bytes_per_s"], i["rx_bytes_per_s"]) for i in network["interfaces"]
    ] == [(i["interface"], float(i["tx_bps"]), float(i["rx_bps"])) for i in old_net]
    assert network["tx_bytes_per_s"] == sum(float(i["tx_bps"]) for i in old_net)
    assert network["interval"] > 0  # the time between the last two network lines
    identity = rt.state.get("system.identity")
    assert identity is not None and identity["hostname"] == "vm"


def test_a_0_22_line_never_imports_what_it_names(tmp_path: Path) -> None:
    day = tmp_path / "2026-11-27"
    day.mkdir()
    evil = {"time": "2026-11-27T15:00:00+00:00", "type": "os:system", "data": {"x": 1}}
    (day / "15-00-00.jsonl").write_text(json.dumps(evil) + "\n")
    source = HistorySource(tmp_path)
    assert list(source) == []
    assert source.skipped == 1 and source.skipped_types == {"os:system": 1}


def test_a_folder_holding_both_formats_reads_both_in_file_order(tmp_path: Path) -> None:
    old = next(HISTORY.rglob("15-30-00.jsonl"))
    day = tmp_path / "2026-11-27"
    day.mkdir()
    (day / "15-30-00.jsonl").write_bytes(old.read_bytes())
    new = (
        b'{"time":"2026-11-27T15:45:00Z","seq":1,"name":"runtime.booting",'
        b'"type":"bussdcc.message:RuntimeBooting","severity":"info","data":{"version":"0.43.0"}}\n'
    )
    (day / "15-40-00.jsonl").write_bytes(new)
    events = list(HistorySource(tmp_path))
    first, last = events[0].payload, events[-1].payload
    assert isinstance(first, RuntimeBooting) and first.version == "0.40.0"
    assert isinstance(last, RuntimeBooting) and last.version == "0.43.0"
