"""Pure telemetry logic: rates, throttle decoding, filesystem selection, health, history.

Nothing here reads files, runs commands or looks at the clock; the collectors in
`bussdcc_system_health.collectors` do that and hand plain values to these functions.
"""
