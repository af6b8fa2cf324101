"""The cache steps end to end: real tar and zstd, a real store, a fake runner's folders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.ghcache import action
from bench.ghcache.archive import (
    extract_command,
    resolve_cache_paths,
)
from bench.ghcache.keys import GZIP, ZSTD
from bench.network.transfer import Transfer
from tests.helpers import write

PIP = "~/.cache/pip"


def fill_pip_cache(runner: action.Runner) -> Path:
    cache = Path(runner.home) / ".cache" / "pip"
    write(cache / "http" / "a" / "b", "wheel bytes")
    write(cache / "selfcheck.json", "{}")
    return cache


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_save_then_exact_restore(store, runner) -> None:
    cache = fill_pip_cache(runner)
    before = snapshot(cache)
    saved = action.save(store, runner, paths=[PIP], key="Linux-pip-abc")
    assert saved.saved
    assert saved.log[-1] == "Cache saved with key: Linux-pip-abc"
    shutil.rmtree(cache)
    result = action.restore(store, runner, paths=[PIP], primary_key="Linux-pip-abc")
    assert (result.cache_hit, result.matched_key, result.failed) == ("true", "Linux-pip-abc", False)
    assert result.log[-1] == "Cache restored from key: Linux-pip-abc"
    assert snapshot(cache) == before


def test_restore_key_hit_is_false_and_miss_is_empty(store, runner) -> None:
    fill_pip_cache(runner)
    action.save(store, runner, paths=[PIP], key="Linux-pip-old")
    partial = action.restore(
        store, runner, paths=[PIP], primary_key="Linux-pip-new", restore_keys=["Linux-pip-"]
    )
    assert (partial.cache_hit, partial.matched_key) == ("false", "Linux-pip-old")
    miss = action.restore(store, runner, paths=[PIP], primary_key="Windows-pip-new")
    assert (miss.cache_hit, miss.matched_key, miss.failed) == ("", "", False)
    assert miss.log == ["Cache not found for input keys: Windows-pip-new"]


def test_other_paths_are_another_version(store, runner) -> None:
    fill_pip_cache(runner)
    action.save(store, runner, paths=[PIP], key="k")
    result = action.restore(store, runner, paths=[f"{runner.home}/.cache/pip"], primary_key="k")
    assert result.cache_hit == ""


def test_lookup_only_does_not_extract(store, runner) -> None:
    cache = fill_pip_cache(runner)
    action.save(store, runner, paths=[PIP], key="k")
    shutil.rmtree(cache)
    result = action.restore(store, runner, paths=[PIP], primary_key="k", lookup_only=True)
    assert result.cache_hit == "true"
    assert result.log == ["Cache found and can be restored from key: k"]
    assert not cache.exists()


def test_fail_on_cache_miss_fails_only_a_miss(store, runner) -> None:
    fill_pip_cache(runner)
    action.save(store, runner, paths=[PIP], key="k-1")
    hit = action.restore(
        store, runner, paths=[PIP], primary_key="k-2", restore_keys=["k-"], fail_on_cache_miss=True
    )
    assert not hit.failed
    miss = action.restore(store, runner, paths=[PIP], primary_key="z", fail_on_cache_miss=True)
    assert miss.failed
    assert miss.log == [
        "Error: Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: z"
    ]


@pytest.mark.parametrize(
    ("key", "restore_keys", "message"),
    [
        ("a,b", [], "Error: Key Validation Error: a,b cannot contain commas."),
        (
            "k" * 513,
            [],
            f"Error: Key Validation Error: {'k' * 513} cannot be larger than 512 characters.",
        ),
        (
            "k",
            [f"r{i}" for i in range(10)],
            "Error: Key Validation Error: Keys are limited to a maximum of 10.",
        ),
    ],
)
def test_invalid_keys_fail_the_restore_step(store, runner, key, restore_keys, message) -> None:
    result = action.restore(store, runner, paths=[PIP], primary_key=key, restore_keys=restore_keys)
    assert result.failed
    assert result.log == [message]


def test_invalid_key_is_only_logged_by_save(store, runner) -> None:
    fill_pip_cache(runner)
    result = action.save(store, runner, paths=[PIP], key="a,b")
    assert not result.saved
    assert result.log == ["Warning: Key Validation Error: a,b cannot contain commas."]


def test_save_skips_after_an_exact_hit(store, runner) -> None:
    fill_pip_cache(runner)
    result = action.save(store, runner, paths=[PIP], key="Linux-k", restored_key="linux-K")
    assert not result.saved
    assert result.log == ["Cache hit occurred on the primary key Linux-k, not saving cache."]


def test_save_of_missing_paths_says_so(store, runner) -> None:
    result = action.save(store, runner, paths=["~/nothing-here"], key="k")
    assert not result.saved
    assert result.log == [
        "Warning: Path Validation Error: Path(s) specified in the action for caching do(es) not "
        "exist, hence no cache is being saved."
    ]
    assert store.entries() == []


def test_second_save_of_a_key_is_refused(store, runner) -> None:
    fill_pip_cache(runner)
    action.save(store, runner, paths=[PIP], key="k")
    again = action.save(store, runner, paths=[PIP], key="k")
    assert not again.saved
    assert (
        again.log[-1]
        == "Unable to reserve cache with key k, another job may be creating this cache."
    )
    assert len(store.entries()) == 1


def test_save_leaves_no_temporary_archive(store, runner) -> None:
    fill_pip_cache(runner)
    action.save(store, runner, paths=[PIP], key="k")
    assert list(Path(runner.temp).iterdir()) == []
    assert list(store.temp.iterdir()) == []


# --- archives: paths, format, compatibility with the bare commands ---------------------------


def test_manifest_is_relative_to_the_workspace(runner) -> None:
    fill_pip_cache(runner)
    write(Path(runner.workspace) / "venv" / "bin" / "python")
    manifest = resolve_cache_paths([PIP, "venv", "."], workspace=runner.workspace, home=runner.home)
    # "venv" is not a search path of its own (the workspace is its ancestor), so it is found
    # while walking the workspace, after the workspace itself.
    assert manifest == ["../../../.cache/pip", ".", "venv"]


def test_negation_excludes_only_listed_entries(runner) -> None:
    npm = Path(runner.home) / ".npm"
    write(npm / "_cacache" / "x")
    write(npm / "_logs" / "y")
    write(npm / "other")
    manifest = resolve_cache_paths(
        ["~/.npm/*", "!~/.npm/_cacache"], workspace=runner.workspace, home=runner.home
    )
    assert manifest == ["../../../.npm/_logs", "../../../.npm/other"]
    # A "!" under a listed folder removes nothing: tar still takes the whole folder.
    manifest = resolve_cache_paths(
        ["~/.npm", "!~/.npm/_cacache"], workspace=runner.workspace, home=runner.home
    )
    assert manifest == ["../../../.npm"]


def test_emulator_archive_extracts_with_plain_tar_and_zstd(store, runner, tmp_path) -> None:
    cache = fill_pip_cache(runner)
    before = snapshot(cache)
    entry = action.save(store, runner, paths=[PIP], key="k").entry
    assert entry is not None and entry.archive.name.endswith(".tzst")
    shutil.rmtree(cache)
    subprocess.run(
        ["tar", "-xf", str(entry.archive), "-P", "-C", runner.workspace,
         "--use-compress-program", "unzstd"],
        check=True,
    )  # fmt: skip
    assert snapshot(cache) == before
    assert subprocess.run(["zstd", "-t", str(entry.archive)], capture_output=True).returncode == 0


def test_archive_made_by_the_toolkit_command_restores(store, runner, tmp_path) -> None:
    cache = fill_pip_cache(runner)
    before = snapshot(cache)
    folder = tmp_path / "toolkit"
    folder.mkdir()
    (folder / "manifest.txt").write_text("../../../.cache/pip")
    subprocess.run(
        ["tar", "--posix", "-cf", "cache.tzst", "--exclude", "cache.tzst", "-P", "-C",
         runner.workspace, "--files-from", "manifest.txt", "--use-compress-program", "zstdmt"],
        cwd=folder, check=True,
    )  # fmt: skip
    action.import_archive(store, folder / "cache.tzst", paths=[PIP], key="k")
    shutil.rmtree(cache)
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert result.cache_hit == "true"
    assert snapshot(cache) == before


def test_gzip_fallback_round_trip(store, runner) -> None:
    cache = fill_pip_cache(runner)
    before = snapshot(cache)
    entry = action.save(store, runner, paths=[PIP], key="k", compression=GZIP).entry
    assert entry is not None and entry.archive.name.endswith(".tgz")
    subprocess.run(["gzip", "-t", str(entry.archive)], check=True)
    # Without zstd the version differs, so a zstd restore does not see the gzip entry.
    assert (
        action.restore(store, runner, paths=[PIP], primary_key="k", compression=ZSTD).cache_hit
        == ""
    )
    shutil.rmtree(cache)
    result = action.restore(store, runner, paths=[PIP], primary_key="k", compression=GZIP)
    assert result.cache_hit == "true"
    assert snapshot(cache) == before


def test_extract_command_is_the_toolkits() -> None:
    assert extract_command("/t/cache.tzst", "/ws", ZSTD) == [
        "tar", "-xf", "/t/cache.tzst", "-P", "-C", "/ws", "--use-compress-program", "unzstd",
    ]  # fmt: skip
    assert extract_command("/t/cache.tgz", "/ws", GZIP)[-1] == "-z"


# --- damaged and hostile archives ------------------------------------------------------------


def test_truncated_archive_is_a_miss_with_a_warning(store, runner) -> None:
    fill_pip_cache(runner)
    entry = action.save(store, runner, paths=[PIP], key="k").entry
    assert entry is not None
    data = entry.archive.read_bytes()
    entry.archive.write_bytes(data[: len(data) // 2])
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert (result.cache_hit, result.matched_key) == ("", "")
    assert result.log[0].startswith("Warning: Failed to restore: Incomplete download.")
    assert result.log[-1] == "Cache not found for input keys: k"


def test_corrupt_archive_of_the_right_size_is_a_miss_with_a_warning(store, runner) -> None:
    fill_pip_cache(runner)
    entry = action.save(store, runner, paths=[PIP], key="k").entry
    assert entry is not None
    data = bytearray(entry.archive.read_bytes())
    for offset in range(12, len(data) - 8):
        data[offset] ^= 0xFF
    entry.archive.write_bytes(bytes(data))
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert result.cache_hit == ""
    assert result.log[0].startswith("Warning: Failed to restore: unzstd -c failed")


def hostile_archive(
    tmp_path: Path, members: dict[str, str], links: dict[str, str] | None = None
) -> Path:
    """An archive whose members are written relative to a deep folder, so '../' can escape."""
    base = tmp_path / "hostile" / "a" / "b" / "c" / "d" / "e" / "f"
    base.mkdir(parents=True)
    links = links or {}
    for name, target in links.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).symlink_to(target)
    for name, content in members.items():
        write(base / name, content)
    folder = tmp_path / "hostile-out"
    folder.mkdir()
    (folder / "manifest.txt").write_text("\n".join([*links, *members]))
    subprocess.run(
        ["tar", "--posix", "-cf", "cache.tzst", "-P", "-C", str(base), "--files-from",
         "manifest.txt", "--use-compress-program", "zstdmt"],
        cwd=folder, check=True,
    )  # fmt: skip
    return folder / "cache.tzst"


def test_member_escaping_the_runner_root_is_refused(store, runner, tmp_path) -> None:
    escape = "../../../../../../../../escaped.txt"
    archive = hostile_archive(tmp_path, {escape: "owned"})
    action.import_archive(store, archive, paths=[PIP], key="k")
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert result.cache_hit == ""
    assert f"archive member '{escape}' (file) would be written to" in result.log[0]
    assert "outside the runner root" in result.log[0]
    landing = Path(runner.workspace).joinpath(escape).resolve()
    assert not landing.exists()


def test_member_written_through_an_outward_symlink_is_refused(store, runner, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = hostile_archive(tmp_path, {"link/payload": "owned"}, links={"link": str(outside)})
    (outside / "payload").unlink()  # tar read it through the link while making the archive
    action.import_archive(store, archive, paths=[PIP], key="k")
    result = action.restore(store, runner, paths=[PIP], primary_key="k")
    assert result.cache_hit == ""
    assert (
        "archive member 'link/payload' (file) would be written through the symbolic link"
        in result.log[0]
    )
    assert list(outside.iterdir()) == []


def test_paced_transfer_moves_the_archive_through_the_runner_temp(store, runner) -> None:
    from bench.network.profiles import get_profile

    cache = fill_pip_cache(runner)
    before = snapshot(cache)
    transfer = Transfer(download_bytes_per_s=50e6, upload_bytes_per_s=50e6)
    saved = action.save(store, runner, paths=[PIP], key="k", transfer=transfer)
    assert saved.saved
    shutil.rmtree(cache)
    result = action.restore(store, runner, paths=[PIP], primary_key="k", transfer=transfer)
    assert result.cache_hit == "true"
    assert snapshot(cache) == before
    assert list(Path(runner.temp).iterdir()) == []  # the downloaded copy is gone
    hosted = get_profile("github-hosted").cache_transfer()
    assert hosted.download_bytes_per_s == 66 * 1024 * 1024 and hosted.download_overhead_s == 0.6
