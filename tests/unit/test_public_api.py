"""The public API of ``import deploy`` (issue #11): cheap to import, every exported name resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import deploy


def test_import_deploy_loads_neither_torch_nor_numba() -> None:
    code = (
        "import sys, deploy\n"
        "heavy = sorted(m for m in ('torch', 'numba', 'sinabs', 'nir', 'rich') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip() == ""


def test_every_exported_name_resolves_from_its_module() -> None:
    assert sorted(deploy.__all__) == sorted(deploy._EXPORTS)
    assert len(set(deploy.__all__)) == len(deploy.__all__)
    for name in deploy.__all__:
        value = getattr(deploy, name)
        assert getattr(value, "__name__", name) == name, name
        assert name in dir(deploy)


def test_errors_are_deploy_errors() -> None:
    for name in deploy.__all__:
        if name.endswith("Error") and name != "ConfigError":
            assert issubclass(getattr(deploy, name), deploy.DeployError), name


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        deploy.no_such_name  # type: ignore[attr-defined]  # noqa: B018
