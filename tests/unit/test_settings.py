from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rippleops.settings import Settings, get_settings


def test_defaults_follow_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_HOME", str(tmp_path / "h"))
    s = get_settings()
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'h' / 'ripple.db'}"
    assert s.resolved_blob_url == str(tmp_path / "h" / "blobs")
    assert s.project == "default" and s.auth == "auto" and s.server_url is None


def test_environment_overrides_toml_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "ripple.toml").write_text('project = "from-home"\nprompt_cache_ttl = 5\nserver_url = "http://home"\n')
    Path("ripple.toml").write_text('project = "from-cwd"\n')  # the test runs in a temp cwd
    monkeypatch.setenv("RIPPLE_HOME", str(home))
    s = get_settings()
    assert (s.project, s.prompt_cache_ttl, s.server_url) == ("from-cwd", 5, "http://home")
    get_settings.cache_clear()
    monkeypatch.setenv("RIPPLE_PROJECT", "from-env")
    assert get_settings().project == "from-env"


def test_fault_points_are_off_by_default() -> None:
    get_settings().fault("version.before_commit")  # nothing happens


def test_job_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_IMPORT_ROOTS", f"{tmp_path / 'a'}:{tmp_path / 'b' / '..' / 'c'}:")
    monkeypatch.setenv("RIPPLE_JOB_WORKERS", "4")
    s = Settings()
    assert s.import_root_paths == [(tmp_path / "a").resolve(), (tmp_path / "c").resolve()]
    assert s.job_workers == 4
    assert Settings(import_roots="").import_root_paths == []
    monkeypatch.setenv("RIPPLE_JOB_WORKERS", "0")
    with pytest.raises(ValidationError):
        Settings()
