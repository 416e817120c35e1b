"""Settings resolved once: CLI option > FIELDKIT_* environment > config.toml > default.

The result is a frozen ``Settings`` passed to whatever needs it; nothing reads the environment
anywhere else.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldkit.errors import UsageError

__all__ = ["Settings", "default_home", "resolve_settings"]

CONFIG_FILE = "config.toml"


def default_home() -> Path:
    """The platform's user data folder for fieldkit."""
    import platformdirs

    return Path(platformdirs.user_data_dir("fieldkit", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where and how to run."""

    home: Path
    debug: bool = False
    passphrase_file: Path | None = None
    server_url: str | None = None
    lock_timeout_seconds: int = 15 * 60
    extra: dict[str, Any] = field(default_factory=dict)


def _read_config(home: Path) -> dict[str, Any]:
    path = home / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc.__class__.__name__}") from None


def resolve_settings(
    *,
    home: Path | None = None,
    debug: bool = False,
    passphrase_file: Path | None = None,
    server_url: str | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve settings from options, then the environment, then config.toml, then defaults."""
    env = os.environ if environ is None else environ
    resolved_home = home or (Path(env["FIELDKIT_HOME"]) if env.get("FIELDKIT_HOME") else None)
    resolved_home = (resolved_home or default_home()).expanduser()
    config = _read_config(resolved_home)

    def pick(option: Any, env_name: str, key: str, default: Any) -> Any:
        if option is not None:
            return option
        if env.get(env_name):
            return env[env_name]
        return config.get(key, default)

    pf = pick(passphrase_file, "FIELDKIT_PASSPHRASE_FILE", "passphrase_file", None)
    server = pick(server_url, "FIELDKIT_SERVER", "server_url", None)
    for key, value in (("passphrase_file", pf), ("server_url", server)):
        # config.toml is hand-edited: `passphrase_file = 5` must be an error line, not a
        # TypeError from Path() deep inside the command.
        if value is not None and not isinstance(value, str | Path):
            raise UsageError(f"{key} in {CONFIG_FILE} must be text in quotes")
    timeout = pick(None, "FIELDKIT_LOCK_TIMEOUT", "lock_timeout_seconds", 15 * 60)
    try:
        timeout = int(timeout)
    except (TypeError, ValueError):
        raise UsageError("lock timeout must be a whole number of seconds") from None
    return Settings(
        home=resolved_home,
        debug=debug or env.get("FIELDKIT_DEBUG", "") not in ("", "0"),
        passphrase_file=Path(pf) if pf else None,
        server_url=str(server) if server is not None else None,
        lock_timeout_seconds=timeout,
        extra={k: v for k, v in config.items() if not isinstance(v, dict) or k == "server"},
    )
