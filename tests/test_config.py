from pathlib import Path

from locator.config import SETTINGS, load_settings


def test_every_setting_is_documented_in_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing


def test_environment_then_overrides(monkeypatch):
    monkeypatch.setenv("LOCATOR_PORT", "9123")
    assert load_settings()["PORT"] == 9123
    assert load_settings({"PORT": 7})["PORT"] == 7
