"""The runtime package imports without TensorFlow (or LiteRT) installed."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'tf2onnx', 'ai_edge_litert'):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, check=False
    )


def test_import_without_tensorflow():
    proc = _run(
        "import xpose, xpose.estimator, xpose.cli, xpose.store, xpose.draw, xpose.video\n"
        "print(xpose.list_models(), xpose.list_backends())\n"
        "assert 'tensorflow' not in sys.modules"
    )
    assert proc.returncode == 0, proc.stderr
    assert "movenet-lightning" in proc.stdout


def test_missing_extra_is_named():
    proc = _run(
        "import xpose\n"
        "try:\n"
        "    xpose.load('movenet-lightning', backend='tflite', store='/nonexistent')\n"
        "except (ImportError, FileNotFoundError) as err:\n"
        "    print('ERR', type(err).__name__, err)\n"
    )
    # the missing runtime is reported before the (also missing) model file
    assert "ERR ImportError" in proc.stdout or "ERR MissingExtraError" in proc.stdout, (
        proc.stdout + proc.stderr
    )
    assert "xpose[tflite]" in proc.stdout


def test_convert_without_tensorflow_names_the_extra():
    proc = _run(
        "from xpose.cli import main\nsys.exit(main(['convert', '--store', '/nonexistent']))"
    )
    assert proc.returncode != 0
    assert "xpose[convert]" in proc.stderr


def test_import_xpose_is_light() -> None:
    code = (
        "import sys, xpose; "
        "heavy = [m for m in ('tensorflow', 'ai_edge_litert') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
