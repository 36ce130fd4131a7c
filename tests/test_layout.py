"""The layout of the tests: conftest.TESTS_OF names tests for every package and top-level module
of src/manifestdb, only paths that exist, and every directory of tests is named by it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "src" / "manifestdb"


def source_parts() -> set[str]:
    """The packages (as paths under src/manifestdb) and top-level modules of manifestdb."""
    packages = {
        path.parent.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("__init__.py")
        if path.parent != PACKAGE
    }
    modules = {path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    return packages | modules


def test_every_package_and_module_has_its_tests(tests_of: dict[str, tuple[str, ...]]) -> None:
    missing = sorted(source_parts() - set(tests_of))
    assert not missing, f"no entry in tests/conftest.py TESTS_OF for {missing}"
    stale = sorted(set(tests_of) - source_parts())
    assert not stale, f"TESTS_OF names parts that are not in src/manifestdb: {stale}"


def test_every_named_test_exists(tests_of: dict[str, tuple[str, ...]]) -> None:
    absent = sorted(
        f"{part}: {path}"
        for part, paths in tests_of.items()
        for path in paths
        if not (ROOT / path).exists() or not path.startswith("tests/")
    )
    assert not absent, f"TESTS_OF names tests that do not exist: {absent}"
    empty = sorted(part for part, paths in tests_of.items() if not paths)
    assert not empty, f"TESTS_OF names no test for {empty}"


def test_every_test_directory_is_named(tests_of: dict[str, tuple[str, ...]]) -> None:
    named = {path for paths in tests_of.values() for path in paths}
    directories = {
        path.parent.relative_to(ROOT).as_posix() for path in (ROOT / "tests").rglob("test_*.py")
    } - {"tests"}
    unnamed = sorted(
        directory
        for directory in directories
        if not any(name == directory or name.startswith(directory + "/") for name in named)
    )
    assert not unnamed, f"test directories no TESTS_OF entry names: {unnamed}"
