"""The pytest plugin: a test file's bundle, found by its path."""

import sys

from funcmesh import pytest_plugin


def test_a_bundle_is_the_nearest_directory_with_a_manifest_or_a_spec(tmp_path):
    bundle = tmp_path / "shop"
    (bundle / "tests" / "deep").mkdir(parents=True)
    (bundle / "openapi.yaml").write_text("openapi: 3.0.3\n")
    test_file = bundle / "tests" / "deep" / "test_x.py"
    test_file.write_text("")
    assert pytest_plugin.bundle_dir(str(test_file)) == str(bundle)
    assert pytest_plugin.bundle_dir(str(bundle / "tests")) == str(bundle)

    inner = bundle / "tests" / "deep"
    (inner / "funcmesh.toml").write_text("")
    assert pytest_plugin.bundle_dir(str(test_file)) == str(inner)


def test_outside_any_bundle_there_is_none(tmp_path):
    (tmp_path / "a").mkdir()
    assert pytest_plugin.bundle_dir(str(tmp_path / "a")) is None


def test_collecting_a_file_of_a_bundle_puts_it_and_its_lib_first(tmp_path, monkeypatch):
    bundle = tmp_path / "quotes"
    (bundle / "tests").mkdir(parents=True)
    (bundle / "funcmesh.toml").write_text("")
    test_file = bundle / "tests" / "test_q.py"
    test_file.write_text("")
    monkeypatch.setattr(sys, "path", ["/elsewhere", str(bundle)])
    pytest_plugin.pytest_collect_file(test_file, None)
    assert sys.path[:3] == [str(bundle), str(bundle / "lib"), "/elsewhere"]
