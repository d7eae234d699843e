"""`MqttBroker`: where and how the bridge connects (address, credentials, TLS, backoff)."""

from __future__ import annotations

import ssl
import urllib.parse
from dataclasses import dataclass

__all__ = ["MqttBroker"]


@dataclass(frozen=True, slots=True)
class MqttBroker:
    """Connection settings shared by `MqttSink` and `MqttSource`.

    ``tls`` is False (plain TCP), True (TLS verified against the system's CAs, or against
    ``ca_file`` when given) or a ready `ssl.SSLContext` (client certificates, pinning, ...).
    ``username``/``password`` authenticate with the broker (send them over TLS beyond a
    trusted network). After a lost or refused connection the client retries after
    ``reconnect_min`` seconds, doubling up to ``reconnect_max``; ``keepalive`` is the MQTT
    keep-alive in seconds, which bounds how long the broker takes to notice a dead peer
    behind a silent network (a killed process is noticed at once, by its closed socket).

    Raises ``TypeError``/``ValueError`` naming the field for a bad value.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool | ssl.SSLContext = False
    ca_file: str | None = None
    keepalive: int = 60
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"host must be a non-empty str, got {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise TypeError(f"port must be an int, got {type(self.port).__qualname__}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        for label in ("username", "password", "ca_file"):
            value = getattr(self, label)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{label} must be a str or None, got {type(value).__qualname__}")
        if self.password is not None and self.username is None:
            raise ValueError("password needs a username")
        if not isinstance(self.tls, bool | ssl.SSLContext):
            raise TypeError(f"tls must be a bool or an ssl.SSLContext, got {self.tls!r}")
        if self.ca_file is not None and self.tls is not True:
            raise ValueError("ca_file needs tls=True")
        if isinstance(self.keepalive, bool) or not isinstance(self.keepalive, int):
            raise TypeError(f"keepalive must be an int, got {type(self.keepalive).__qualname__}")
        if self.keepalive < 1:
            raise ValueError(f"keepalive must be at least 1 second, got {self.keepalive}")
        for label in ("reconnect_min", "reconnect_max"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{label} must be a number, got {type(value).__qualname__}")
            if not value > 0:
                raise ValueError(f"{label} must be > 0, got {value}")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError(
                f"reconnect_max ({self.reconnect_max}) must be >= reconnect_min "
                f"({self.reconnect_min})"
            )

    @classmethod
    def from_url(cls, url: str, **options: object) -> MqttBroker:
        """Settings from ``mqtt://[user[:password]@]host[:port]`` (port 1883) or ``mqtts://``
        (TLS, port 8883); ``options`` set the other fields. Percent-escapes in the user and
        password are decoded.

        Raises ``ValueError`` naming the problem for another scheme, a missing host, a bad
        port, or a path, query or fragment (the URL names a broker, nothing below it).
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, got {type(url).__qualname__}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker URL must start with mqtt:// or mqtts://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"broker URL has no host: {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"broker URL must not have a path, query or fragment: {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"broker URL has a bad port: {url!r}") from None
        tls = parts.scheme == "mqtts"
        fields: dict[str, object] = {
            "host": parts.hostname,
            "port": port or (8883 if tls else 1883),
            "tls": tls,
        }
        if parts.username is not None:
            fields["username"] = urllib.parse.unquote(parts.username)
        if parts.password is not None:
            fields["password"] = urllib.parse.unquote(parts.password)
        fields.update(options)
        return cls(**fields)  # type: ignore[arg-type]

    @classmethod
    def of(cls, broker: object) -> MqttBroker:
        """``broker`` itself, or the settings its URL string names (see `from_url`).

        Raises ``TypeError`` for anything else, ``ValueError`` for a bad URL.
        """
        if isinstance(broker, str):
            return cls.from_url(broker)
        if not isinstance(broker, MqttBroker):
            raise TypeError(f"broker must be an MqttBroker or an mqtt:// URL, got {broker!r}")
        return broker

    @property
    def address(self) -> str:
        """``host:port`` (never the credentials), for messages and logs."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context to connect with, or None for plain TCP."""
        if isinstance(self.tls, ssl.SSLContext):
            return self.tls
        if self.tls:
            return ssl.create_default_context(cafile=self.ca_file)
        return None

    def __repr__(self) -> str:
        # Never print the password.
        user = f", username={self.username!r}" if self.username is not None else ""
        return f"MqttBroker({self.address!r}{user}, tls={bool(self.tls)})"
