"""Network profiles: the conditions a runner sees, read from ``scenarios/network-profiles.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from bench.errors import BenchError
from bench.network.transfer import Transfer

PROFILES_FILE = Path(__file__).resolve().parents[2] / "scenarios" / "network-profiles.toml"
DEFAULT_PROFILE = "github-hosted"
MB = 1_000_000
MIB = 1024 * 1024


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    index_mb_per_s: float = 0
    link_mb_per_s: float = 0
    index_latency_ms: float = 0
    restore_mib_per_s: float = 0
    restore_overhead_s: float = 0
    save_mib_per_s: float = 0
    save_overhead_s: float = 0
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def index_bytes_per_s(self) -> float:
        return self.index_mb_per_s * MB

    @property
    def link_bytes_per_s(self) -> float:
        return self.link_mb_per_s * MB

    @property
    def index_latency_s(self) -> float:
        return self.index_latency_ms / 1000

    @property
    def restore_bytes_per_s(self) -> float:
        return self.restore_mib_per_s * MIB

    @property
    def save_bytes_per_s(self) -> float:
        return self.save_mib_per_s * MIB

    def cache_transfer(self) -> Transfer:
        return Transfer(
            download_bytes_per_s=self.restore_bytes_per_s,
            download_overhead_s=self.restore_overhead_s,
            upload_bytes_per_s=self.save_bytes_per_s,
            upload_overhead_s=self.save_overhead_s,
        )


UNTHROTTLED = Profile(name="unthrottled")
_NUMBERS = [f.name for f in fields(Profile) if f.type in ("float", float)]


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BenchError(f"cannot read the network profiles in {path}: {error}") from None
    profiles = {}
    for name, table in data.items():
        unknown = set(table) - {*_NUMBERS, "description", "sources"}
        if unknown:
            raise BenchError(f"profile {name!r} in {path} has unknown fields: {sorted(unknown)}")
        for number in _NUMBERS:
            value = table.get(number, 0)
            if not isinstance(value, int | float) or value < 0:
                raise BenchError(f"profile {name!r}: {number} must be a number >= 0, not {value!r}")
        profiles[name] = Profile(name=name, **table)
    return profiles


def get_profile(name: str, path: Path = PROFILES_FILE) -> Profile:
    profiles = load_profiles(path)
    if name not in profiles:
        raise BenchError(f"unknown network profile {name!r}; choose one of: {', '.join(profiles)}")
    return profiles[name]
