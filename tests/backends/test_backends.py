"""Tests for the backend registry and the onnxruntime, TFLite, TensorFlow, OpenVINO and OpenCV
backends. No GPU is needed: the GPU paths are checked against fakes of the runtimes' device
lists (what reaches the runtime, and the errors when a device is absent)."""

from __future__ import annotations

import gc
import importlib.util
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from xpose.backends import (
    Backend,
    MissingExtraError,
    TensorInfo,
    backend_class,
    backend_status,
    canonical_backend,
    list_backends,
    open_backend,
)

RNG_SEED = 1234

#: Backends that run ``.onnx`` files.
ONNX_BACKENDS = ("onnxruntime", "openvino", "opencv")


def _image(height: int, width: int, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).random((1, height, width, 3), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------


def test_list_backends_reports_every_backend_in_order() -> None:
    assert list_backends() == ["onnxruntime", "tflite", "tensorflow", "openvino", "opencv"]


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("onnxruntime", "onnxruntime"),
        ("ort", "onnxruntime"),
        ("onnx", "onnxruntime"),
        ("ORT", "onnxruntime"),
        ("tflite", "tflite"),
        ("litert", "tflite"),
        ("tfl", "tflite"),
        ("tensorflow", "tensorflow"),
        ("tf", "tensorflow"),
        ("openvino", "openvino"),
        ("ov", "openvino"),
        ("opencv", "opencv"),
        ("cv2", "opencv"),
        ("cv", "opencv"),
    ],
)
def test_aliases_resolve_to_canonical_names(alias: str, canonical: str) -> None:
    assert canonical_backend(alias) == canonical
    assert backend_class(alias).name == canonical


def test_unknown_backend_lists_valid_names_and_aliases(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'tensorrt'.*onnxruntime.*tflite.*ort"):
        canonical_backend("tensorrt")
    with pytest.raises(
        ValueError,
        match=r"valid backends: \['onnxruntime', 'tflite', 'tensorflow', 'openvino', 'opencv'\]",
    ):
        open_backend("tensorrt", tmp_path / "model.onnx")


def test_backend_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="backend name must be a string"):
        canonical_backend(None)  # type: ignore[arg-type]


def test_backend_status_covers_every_backend() -> None:
    status = backend_status()
    assert list(status) == list_backends()
    modules = {
        "onnxruntime": "onnxruntime",
        "tflite": "ai_edge_litert",
        "tensorflow": "tensorflow",
        "openvino": "openvino",
        "opencv": "cv2",
    }
    for name, module in modules.items():
        installed = importlib.util.find_spec(module) is not None
        assert (status[name] is None) == installed


@pytest.mark.parametrize(
    ("backend", "modules", "message"),
    [
        (
            "tflite",
            ["ai_edge_litert", "ai_edge_litert.interpreter"],
            r"the 'tflite' backend needs ai-edge-litert: pip install 'xpose\[tflite\]'",
        ),
        (
            "tensorflow",
            ["tensorflow"],
            r"the 'tensorflow' backend needs tensorflow: pip install 'xpose\[convert\]'",
        ),
        (
            "openvino",
            ["openvino"],
            r"the 'openvino' backend needs openvino: pip install 'xpose\[openvino\]'",
        ),
        (
            "onnxruntime",
            ["onnxruntime"],
            r"the 'onnxruntime' backend needs onnxruntime: pip install onnxruntime \(a core",
        ),
    ],
)
def test_missing_runtime_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    backend: str,
    modules: list[str],
    message: str,
) -> None:
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)
    assert backend_status()[backend] is not None
    assert backend_status()[backend].startswith(message.replace("\\", "").split(" (")[0])
    with pytest.raises(MissingExtraError, match=message) as info:
        open_backend(backend, tmp_path / "model")
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value.__cause__, ImportError)


def test_importing_backends_imports_no_runtime() -> None:
    code = (
        "import sys, xpose.backends as b\n"
        "b.list_backends(); b.backend_status()\n"
        "for name in b.list_backends(): b.backend_class(name)\n"
        "heavy = [m for m in ('tensorflow', 'ai_edge_litert', 'onnxruntime', 'openvino')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


# ---------------------------------------------------------------------------------------------
# every backend, through the protocol
# ---------------------------------------------------------------------------------------------


@pytest.fixture(params=list_backends())
def any_backend(request: pytest.FixtureRequest) -> tuple[str, Path, str, str, float]:
    """(backend, path, input name, output name, offset) where output = 2 * input + offset."""
    name = request.param
    if backend_status()[name] is not None:
        pytest.skip(backend_status()[name])
    if name in ONNX_BACKENDS:
        return name, request.getfixturevalue("onnx_mul2_path"), "x", "y", 0.0
    models = request.getfixturevalue("tiny_tf_models")
    path = models.tflite if name == "tflite" else models.saved_model
    return name, path, "input", "keypoints", 1.0


def test_backend_protocol_and_values(any_backend: tuple[str, Path, str, str, float]) -> None:
    name, path, input_name, output_name, offset = any_backend
    with open_backend(name, path, threads=1 if name != "tensorflow" else None) as backend:
        assert isinstance(backend, Backend)
        assert backend.name == name
        assert backend.path == path
        assert backend.inputs == (TensorInfo(input_name, (1, None, None, 3), np.dtype(np.float32)),)
        assert [o.name for o in backend.outputs] == [output_name]
        assert backend.outputs[0].dtype == np.float32
        assert name in repr(backend) and str(path) in repr(backend)
        for height, width in [(4, 4), (7, 5), (4, 4)]:
            image = _image(height, width)
            result = backend.run({input_name: image})
            assert list(result) == [output_name]
            np.testing.assert_allclose(result[output_name], 2 * image + offset, rtol=1e-6)
    assert backend.closed
    assert "closed" in repr(backend)
    with pytest.raises(RuntimeError, match="is closed"):
        backend.run({input_name: _image(4, 4)})
    backend.close()  # a second close is harmless


def test_feeds_are_checked(any_backend: tuple[str, Path, str, str, float]) -> None:
    name, path, input_name, _, _ = any_backend
    with open_backend(name, path) as backend:
        with pytest.raises(ValueError, match=rf"missing input\(s\) \['{input_name}'\]"):
            backend.run({})
        with pytest.raises(ValueError, match=r"unknown input\(s\) \['bogus'\]"):
            backend.run({input_name: _image(4, 4), "bogus": _image(4, 4)})
        with pytest.raises(TypeError, match="expects dtype float32, got float64"):
            backend.run({input_name: _image(4, 4).astype(np.float64)})
        with pytest.raises(TypeError, match="must be a numpy array"):
            backend.run({input_name: _image(4, 4).tolist()})
        with pytest.raises(
            ValueError, match=r"expects shape \[1, None, None, 3\].*got \[2, 4, 4, 3\]"
        ):
            backend.run({input_name: np.zeros((2, 4, 4, 3), np.float32)})
        with pytest.raises(ValueError, match=r"got \[4, 4, 3\]"):
            backend.run({input_name: np.zeros((4, 4, 3), np.float32)})


def test_missing_path_raises_file_not_found(
    any_backend: tuple[str, Path, str, str, float], tmp_path: Path
) -> None:
    name = any_backend[0]
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        open_backend(name, tmp_path / "no-such-model")


@pytest.mark.parametrize("threads", [0, -2])
def test_bad_thread_count(threads: int, onnx_mul2_path: Path) -> None:
    with pytest.raises(ValueError, match="threads must be >= 1"):
        open_backend("onnxruntime", onnx_mul2_path, threads=threads)


# ---------------------------------------------------------------------------------------------
# onnxruntime
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"certainly not a protobuf" * 8])
def test_onnxruntime_corrupt_file(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=r"broken\.onnx is not a valid ONNX model.*xpose convert"):
        open_backend("onnxruntime", path)


def test_onnxruntime_truncated_file(tmp_path: Path, onnx_mul2_path: Path) -> None:
    path = tmp_path / "truncated.onnx"
    path.write_bytes(onnx_mul2_path.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"truncated\.onnx is not a valid ONNX model"):
        open_backend("onnxruntime", path)


@pytest.mark.parametrize("level", ["disable", "basic", "extended", "all"])
def test_onnxruntime_optimization_levels(onnx_mul2_path: Path, level: str) -> None:
    with open_backend("ort", onnx_mul2_path, threads=2, graph_optimization_level=level) as backend:
        image = _image(3, 3)
        np.testing.assert_allclose(backend.run({"x": image})["y"], 2 * image)


def test_onnxruntime_options_are_checked(onnx_mul2_path: Path) -> None:
    import onnxruntime as ort

    with pytest.raises(ValueError, match=r"unknown graph_optimization_level 'max'.*'extended'"):
        open_backend("ort", onnx_mul2_path, graph_optimization_level="max")
    with pytest.raises(
        ValueError, match=r"provider 'NoSuchExecutionProvider'.*CPUExecutionProvider"
    ):
        open_backend("ort", onnx_mul2_path, providers=["NoSuchExecutionProvider"])
    with pytest.raises(ValueError, match="either session_options or threads"):
        open_backend("ort", onnx_mul2_path, threads=2, session_options=ort.SessionOptions())


def test_onnxruntime_providers_and_session_options(onnx_mul2_path: Path) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    with open_backend(
        "onnxruntime",
        onnx_mul2_path,
        providers=[("CPUExecutionProvider", {})],
        session_options=options,
    ) as backend:
        assert backend.providers == ["CPUExecutionProvider"]
        image = _image(2, 3)
        np.testing.assert_allclose(backend.run({"x": image})["y"], 2 * image)


def test_onnxruntime_runs_from_several_threads(onnx_mul2_path: Path) -> None:
    with open_backend("onnxruntime", onnx_mul2_path, threads=1) as backend:
        _check_concurrent(backend, "x", "y", 0.0)


# ---------------------------------------------------------------------------------------------
# tflite
# ---------------------------------------------------------------------------------------------


def _check_concurrent(
    backend: Backend, input_name: str, output_name: str, offset: float, alive: str = "interpreters"
) -> int:
    """Run from 4 threads at once, each with its own sizes and values, and check every answer.

    Returns ``len(backend.<alive>)`` (or the backend's ``interpreters`` count; 0 if it has
    none) while all 4 threads live.
    """
    workers = 4
    barrier = threading.Barrier(workers)
    seen: list[int] = []

    def work(worker: int) -> int:
        barrier.wait(timeout=30)
        checked = 0
        for step in range(25):
            height, width = 3 + worker, 2 + (step % 3)
            image = _image(height, width, seed=worker * 1000 + step)
            result = backend.run({input_name: image})[output_name]
            np.testing.assert_allclose(result, 2 * image + offset, rtol=1e-6)
            checked += 1
            if step == 0:
                barrier.wait(timeout=30)
                count = getattr(backend, alive, 0)
                seen.append(count if isinstance(count, int) else len(count))
        return checked

    with ThreadPoolExecutor(max_workers=workers) as pool:
        counts = list(pool.map(work, range(workers)))
    assert counts == [25] * workers
    return max(seen)


@pytest.fixture
def tf_models(tiny_tf_models):  # type: ignore[no-untyped-def]
    if backend_status()["tflite"] is not None:
        pytest.skip(backend_status()["tflite"])
    return tiny_tf_models


def test_tflite_runs_from_four_threads(tf_models) -> None:  # type: ignore[no-untyped-def]
    with open_backend("tflite", tf_models.tflite, threads=1) as backend:
        # One interpreter per live thread: the opening thread's and the 4 workers'.
        assert _check_concurrent(backend, "input", "keypoints", 1.0) == 5
        gc.collect()
        assert backend.interpreters == 1  # freed with their threads


def test_tflite_signature_names_and_resize(tf_models) -> None:  # type: ignore[no-untyped-def]
    with open_backend("litert", tf_models.tflite) as backend:
        assert backend.signature == "serving_default"
        assert backend.inputs[0].quantization is None
        assert backend.outputs[0].name == "keypoints"
        for shape in [(6, 8), (2, 3), (6, 8)]:
            image = _image(*shape)
            out = backend.run({"input": image})["keypoints"]
            assert out.shape == image.shape
            np.testing.assert_allclose(out, 2 * image + 1)


def test_tflite_outputs_are_copies(tf_models) -> None:  # type: ignore[no-untyped-def]
    with open_backend("tflite", tf_models.tflite) as backend:
        first = backend.run({"input": _image(4, 4, seed=1)})["keypoints"]
        kept = first.copy()
        backend.run({"input": _image(4, 4, seed=2)})
        np.testing.assert_array_equal(first, kept)


def test_tflite_fixed_shape_rejects_other_sizes(tf_models) -> None:  # type: ignore[no-untyped-def]
    with open_backend("tflite", tf_models.tflite_fixed) as backend:
        assert backend.inputs[0].shape == (1, 4, 4, 3)
        image = _image(4, 4)
        np.testing.assert_allclose(backend.run({"input": image})["keypoints"], 2 * image + 1)
        with pytest.raises(ValueError, match=r"expects shape \[1, 4, 4, 3\].*got \[1, 5, 4, 3\]"):
            backend.run({"input": _image(5, 4)})


def test_tflite_without_signatures_uses_tensor_names(tf_models) -> None:  # type: ignore[no-untyped-def]
    with open_backend("tflite", tf_models.tflite_unsigned, threads=1) as backend:
        assert backend.signature is None
        assert len(backend.inputs) == 1 and len(backend.outputs) == 1
        input_name, output_name = backend.inputs[0].name, backend.outputs[0].name
        assert backend.inputs[0].shape == (1, None, None, 3)
        for shape in [(4, 4), (5, 7), (4, 4)]:
            image = _image(*shape)
            out = backend.run({input_name: image})[output_name]
            np.testing.assert_allclose(out, 2 * image + 1)
        _check_concurrent(backend, input_name, output_name, 1.0)


def test_tflite_unknown_signature(tf_models) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"no signature 'predict'.*\['serving_default'\]"):
        open_backend("tflite", tf_models.tflite, signature="predict")
    with pytest.raises(ValueError, match="it has no signatures"):
        open_backend("tflite", tf_models.tflite_unsigned, signature="serving_default")


@pytest.mark.parametrize("kind", ["empty", "garbage", "truncated"])
def test_tflite_corrupt_file(tf_models, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.tflite"
    payloads = {
        "empty": b"",
        "garbage": b"certainly not a flatbuffer" * 8,
        "truncated": tf_models.tflite.read_bytes()[:64],
    }
    path.write_bytes(payloads[kind])
    with pytest.raises(
        ValueError, match=r"broken\.tflite is not a valid TFLite model.*xpose convert"
    ):
        open_backend("tflite", path)


# ---------------------------------------------------------------------------------------------
# tensorflow
# ---------------------------------------------------------------------------------------------


def test_tensorflow_rejects_non_saved_model(tiny_tf_models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="is not a SavedModel directory"):
        open_backend("tf", tmp_path)
    with pytest.raises(ValueError, match="no signature 'predict'"):
        open_backend("tf", tiny_tf_models.saved_model, signature="predict")
    with pytest.raises(ValueError, match="takes no threads setting"):
        open_backend("tf", tiny_tf_models.saved_model, threads=2)


def test_tensorflow_corrupt_saved_model(tiny_tf_models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"certainly not a protobuf" * 8)
    with pytest.raises(ValueError, match="cannot load the SavedModel"):
        open_backend("tensorflow", broken)


@pytest.mark.parametrize(("spinning", "expected"), [(False, "0"), (True, "1")])
def test_onnxruntime_spinning_option(onnx_mul2_path, spinning, expected):
    from xpose.backends.onnxruntime import OnnxRuntimeBackend

    with OnnxRuntimeBackend(onnx_mul2_path, threads=2, spinning=spinning) as be:
        options = be._session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == expected


# ---------------------------------------------------------------------------------------------
# GPU paths of onnxruntime, without a GPU: fakes of its provider list and session
# ---------------------------------------------------------------------------------------------


class _FakeSession:
    """Stands in for ``onnxruntime.InferenceSession``: records the providers it was given and
    reports ``uses`` as the providers it runs on (``None``: all it was given)."""

    made: ClassVar[list[list[Any]]] = []
    uses: ClassVar[list[str] | None] = None

    def __init__(self, path: str, sess_options: Any = None, providers: Any = None) -> None:
        type(self).made.append(list(providers))
        self._providers = [p if isinstance(p, str) else p[0] for p in providers]

    def get_providers(self) -> list[str]:
        return list(self.uses) if self.uses is not None else self._providers

    def get_inputs(self) -> list[Any]:
        return []

    def get_outputs(self) -> list[Any]:
        return []


@pytest.fixture
def fake_gpu_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> type[_FakeSession]:
    import onnxruntime as ort

    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: gpu)
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    monkeypatch.setattr(_FakeSession, "made", [])
    monkeypatch.setattr(_FakeSession, "uses", None)
    return _FakeSession


@pytest.mark.parametrize(
    ("device", "providers"),
    [
        ("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"]),
        (
            "tensorrt",
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
        ),
        ("CPU", ["CPUExecutionProvider"]),
    ],
)
def test_onnxruntime_device_reaches_the_session(
    fake_gpu_onnxruntime: type[_FakeSession], onnx_mul2_path: Path, device: str, providers: list
) -> None:
    with open_backend("onnxruntime", onnx_mul2_path, device=device) as backend:
        assert backend.providers == providers
    assert fake_gpu_onnxruntime.made == [providers]


def test_onnxruntime_gpu_that_falls_back_to_cpu_is_an_error(
    fake_gpu_onnxruntime: type[_FakeSession], onnx_mul2_path: Path
) -> None:
    fake_gpu_onnxruntime.uses = ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match=r"could not start CUDAExecutionProvider.*device='cpu'"):
        open_backend("onnxruntime", onnx_mul2_path, device="cuda")


def test_onnxruntime_device_errors_on_this_machine(onnx_mul2_path: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: the error for its absence cannot show here")
    with pytest.raises(ValueError, match=r"unavailable execution provider 'CUDAExecutionProvider'"):
        open_backend("onnxruntime", onnx_mul2_path, device="cuda")
    with pytest.raises(ValueError, match=r"unknown onnxruntime device 'gpu'.*'tensorrt'"):
        open_backend("onnxruntime", onnx_mul2_path, device="gpu")
    with pytest.raises(ValueError, match="either device or providers"):
        open_backend("onnxruntime", onnx_mul2_path, device="cpu", providers=["CPU"])


# ---------------------------------------------------------------------------------------------
# openvino
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def openvino_ready() -> None:
    if backend_status()["openvino"] is not None:
        pytest.skip(backend_status()["openvino"])


def test_openvino_runs_from_several_threads(openvino_ready: None, onnx_mul2_path: Path) -> None:
    with open_backend("openvino", onnx_mul2_path, threads=1, hint="throughput") as backend:
        # one infer request per live thread: the 4 workers'
        assert _check_concurrent(backend, "x", "y", 0.0, alive="_requests") == 4
        assert backend.properties["PERFORMANCE_HINT"] == "THROUGHPUT"


def test_openvino_defaults_to_f32_on_the_cpu(openvino_ready: None, onnx_mul2_path: Path) -> None:
    with open_backend("ov", onnx_mul2_path, threads=2) as backend:
        assert backend.device == "CPU"
        compiled = backend._compiled
        assert str(compiled.get_property("INFERENCE_PRECISION_HINT")) == "<Type: 'float32'>"
        assert str(compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"
        assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 2


def test_openvino_options_are_checked(openvino_ready: None, onnx_mul2_path: Path) -> None:
    import openvino as ov

    present = ov.Core().available_devices
    if any(d.startswith("GPU") for d in present):
        pytest.skip("this machine has an OpenVINO GPU: the error for its absence cannot show")
    with pytest.raises(ValueError, match=r"OpenVINO device 'GPU' is not available.*\['CPU'"):
        open_backend("openvino", onnx_mul2_path, device="GPU")
    with pytest.raises(ValueError, match=r"unknown OpenVINO hint 'fast'.*'throughput'"):
        open_backend("openvino", onnx_mul2_path, hint="fast")
    with pytest.raises(TypeError, match="device must be a non-empty string"):
        open_backend("openvino", onnx_mul2_path, device="")


class _FakeCore:
    """An ``openvino.Core`` that reports a GPU and compiles for the CPU, recording the call."""

    compiled: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self) -> None:
        import openvino as ov

        self._core = ov.Core()
        self.available_devices = ["CPU", "GPU.0", "NPU"]

    def read_model(self, path: str) -> Any:
        return self._core.read_model(path)

    def compile_model(self, model: Any, device: str, properties: dict[str, Any]) -> Any:
        type(self).compiled.append((device, dict(properties)))
        return self._core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


@pytest.mark.parametrize(("device", "seen"), [("GPU", "GPU"), ("gpu.0", "GPU.0"), ("NPU", "NPU")])
def test_openvino_gpu_device_reaches_compile_model(
    openvino_ready: None,
    monkeypatch: pytest.MonkeyPatch,
    onnx_mul2_path: Path,
    device: str,
    seen: str,
) -> None:
    from xpose.backends import openvino as ov_backend

    monkeypatch.setattr(ov_backend, "_core", _FakeCore)
    monkeypatch.setattr(_FakeCore, "compiled", [])
    with open_backend("openvino", onnx_mul2_path, device=device, hint="throughput") as backend:
        assert backend.device == seen
        image = _image(3, 4)
        np.testing.assert_allclose(backend.run({"x": image})["y"], 2 * image)
    ((got_device, properties),) = _FakeCore.compiled
    assert got_device == seen
    assert properties == {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}


@pytest.mark.parametrize("payload", [b"", b"certainly not a protobuf" * 8])
def test_openvino_corrupt_file(openvino_ready: None, tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=r"broken\.onnx is not a valid ONNX model.*xpose convert"):
        open_backend("openvino", path)


# ---------------------------------------------------------------------------------------------
# opencv
# ---------------------------------------------------------------------------------------------


def test_opencv_runs_from_several_threads(onnx_mul2_path: Path) -> None:
    with open_backend("opencv", onnx_mul2_path) as backend:
        # one net per live thread (cv2.dnn.Net is not thread-safe): the opening thread's and
        # the 4 workers'
        assert _check_concurrent(backend, "x", "y", 0.0, alive="_nets") == 5


def test_opencv_reads_the_file_metadata(tmp_path: Path, onnx_mul2_path: Path) -> None:
    import onnx

    model = onnx.load(str(onnx_mul2_path))
    onnx.helper.set_model_props(model, {"xpose.marker": "7"})
    path = tmp_path / "marked.onnx"
    onnx.save(model, str(path))
    with open_backend("opencv", path) as backend:
        assert backend.metadata == {"xpose.marker": "7"}


def test_opencv_cuda_needs_a_cuda_build(onnx_mul2_path: Path) -> None:
    from xpose.backends.opencv import cuda_devices

    if cuda_devices() > 0:
        pytest.skip("this OpenCV has CUDA: the error for its absence cannot show here")
    with pytest.raises(ValueError, match=r"device 'cuda' needs an OpenCV built with CUDA"):
        open_backend("opencv", onnx_mul2_path, device="cuda")
    with pytest.raises(ValueError, match=r"unknown OpenCV device 'gpu'.*'cuda_fp16'"):
        open_backend("opencv", onnx_mul2_path, device="gpu")


def test_opencv_cuda_device_sets_the_cuda_target(
    monkeypatch: pytest.MonkeyPatch, onnx_mul2_path: Path
) -> None:
    """With a (faked) CUDA device, the net gets the CUDA backend and target on the classic
    engine; this OpenCV has no CUDA, so the calls are recorded on a stand-in net."""
    import cv2

    from xpose.backends import opencv as cv_backend

    calls: list[tuple[str, int]] = []

    class Net:
        def setPreferableBackend(self, value: int) -> None:
            calls.append(("backend", value))

        def setPreferableTarget(self, value: int) -> None:
            calls.append(("target", value))

    def read(path: str, engine: int) -> Net:
        calls.append(("engine", engine))
        return Net()

    monkeypatch.setattr(cv_backend, "cuda_devices", lambda: 1)
    monkeypatch.setattr(cv2.dnn, "readNetFromONNX", read)
    open_backend("opencv", onnx_mul2_path, device="cuda").close()
    assert calls == [
        ("engine", cv2.dnn.ENGINE_CLASSIC),
        ("backend", cv2.dnn.DNN_BACKEND_CUDA),
        ("target", cv2.dnn.DNN_TARGET_CUDA),
    ]


@pytest.mark.parametrize("payload", [b"", b"certainly not a protobuf" * 8])
def test_opencv_corrupt_file(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=r"broken\.onnx is not a valid ONNX model.*xpose convert"):
        open_backend("opencv", path)
