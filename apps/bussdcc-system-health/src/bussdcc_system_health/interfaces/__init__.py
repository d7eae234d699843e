"""The app's interfaces: the `SystemWebInterface` dashboard."""

from .web import DASHBOARD_PORT, SystemWebInterface, health_record

__all__ = ["DASHBOARD_PORT", "SystemWebInterface", "health_record"]
