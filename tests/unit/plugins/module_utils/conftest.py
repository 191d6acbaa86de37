"""The benchmarks' UDP path emulator, for tests that need a slow or lossy path."""

import importlib.util
import pathlib

import pytest

UDP_PATH = pathlib.Path(__file__).resolve().parents[4] / "benchmarks" / "udp_path.py"


def load_udp_path():
    spec = importlib.util.spec_from_file_location("udp_path", UDP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def udp_path():
    """benchmarks/udp_path.py (not a package: loaded from its file)."""
    return load_udp_path()
