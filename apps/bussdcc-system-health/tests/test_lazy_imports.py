"""What a plain install loads at start: features a host may never use (a Prometheus scrape,
the MQTT bridge) are imported when first used, since every megabyte counts on a Pi."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys, urllib.request
from bussdcc_system_health.assembly import AppOptions, build_live_runtime
rt, web = build_live_runtime(AppOptions(record=False, quiet=True, port=0))
rt.boot()
try:
    loaded = [m for m in sys.modules if m.split(".")[0] in ("prometheus_client", "paho")]
    loaded += [m for m in sys.modules if m.startswith("bussdcc_framework.mqtt")]
    print(",".join(sorted(loaded)))
    with urllib.request.urlopen(web.url + "metrics", timeout=30) as response:
        assert response.status == 200 and b"bussdcc_" in response.read()
    print("prometheus_client" in sys.modules)
finally:
    rt.shutdown()
"""


def test_prometheus_and_mqtt_load_only_when_used() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded_at_start, loaded_after_scrape = result.stdout.splitlines()
    assert loaded_at_start == ""
    assert loaded_after_scrape == "True"  # the first scrape brought it in
