"""The onnxruntime backend: runs ``.onnx`` files (onnxruntime is a core dependency)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xpose.backends.base import BackendBase, Requirement, TensorInfo, check_feeds, check_threads

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["OnnxRuntimeBackend", "onnx_signature"]

logger = logging.getLogger(__name__)

REQUIREMENT = Requirement(module="onnxruntime", package="onnxruntime", extra=None)

#: Graph optimization levels by name (values are ``onnxruntime.GraphOptimizationLevel`` names).
OPTIMIZATION_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}

#: ORT element type strings -> numpy dtypes.
_ORT_DTYPES = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(uint16)": np.dtype(np.uint16),
    "tensor(uint32)": np.dtype(np.uint32),
    "tensor(uint64)": np.dtype(np.uint64),
    "tensor(bool)": np.dtype(np.bool_),
    "tensor(string)": np.dtype(object),
}

ProviderSpec = str | tuple[str, Mapping[str, Any]]

#: ``device`` option -> execution providers, in priority order. onnxruntime runs on the first
#: the nodes it can and hands the rest to the next; CPU is always last. TensorRT and CUDA
#: compute in float32 unless told otherwise in their provider options (``providers=``).
DEVICE_PROVIDERS: dict[str, tuple[str, ...]] = {
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


def _import_onnxruntime() -> Any:
    return REQUIREMENT.load("the 'onnxruntime' backend")


def _tensor_info(node: Any) -> TensorInfo:
    """Convert an ``onnxruntime.NodeArg`` (shape dims: int, symbolic str or None)."""
    dtype = _ORT_DTYPES.get(node.type)
    if dtype is None:
        raise ValueError(
            f"tensor {node.name!r} has type {node.type}, which xpose does not handle; "
            f"supported: {sorted(_ORT_DTYPES)}"
        )
    shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in node.shape)
    return TensorInfo(name=node.name, shape=shape, dtype=dtype)


def onnx_signature(
    path: str | Path,
) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...], dict[str, str]]:
    """The inputs, outputs and metadata (``metadata_props``) of an ``.onnx`` file, for
    runtimes that do not report them.

    Read with an onnxruntime session (a core dependency) that is made without graph
    optimizations and dropped at once.

    Raises:
        ValueError: the file is not a valid ONNX model.
    """
    ort = _import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = _open_session(ort, Path(path), options, ["CPUExecutionProvider"])
    inputs = tuple(_tensor_info(node) for node in session.get_inputs())
    outputs = tuple(_tensor_info(node) for node in session.get_outputs())
    return inputs, outputs, dict(session.get_modelmeta().custom_metadata_map)


def _open_session(
    ort: Any, path: Path, options: onnxruntime.SessionOptions, providers: list[ProviderSpec]
) -> onnxruntime.InferenceSession:
    """An ``InferenceSession``; a file onnxruntime cannot parse is a ``ValueError``."""
    state = REQUIREMENT.load("the 'onnxruntime' backend", "capi.onnxruntime_pybind11_state")
    load_errors = (state.InvalidProtobuf, state.InvalidGraph, state.InvalidArgument, state.Fail)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except load_errors as err:
        raise ValueError(
            f"{path} is not a valid ONNX model ({err}); it may be truncated or "
            "corrupt: re-run `xpose convert` to rebuild it"
        ) from err


class OnnxRuntimeBackend(BackendBase):
    """An ``.onnx`` file on an ``onnxruntime.InferenceSession``.

    ``run`` is safe to call from several threads at once (ORT sessions are thread-safe); each
    call uses up to ``threads`` intra-op threads.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads; ``None`` lets onnxruntime choose (one per physical core).
            Inter-op parallelism is fixed at 1.
        providers: Execution providers in priority order, each a name or ``(name, options)``;
            default ``["CPUExecutionProvider"]``.
        device: A shorthand for ``providers``: ``"cpu"``, ``"cuda"`` or ``"tensorrt"``
            (:data:`DEVICE_PROVIDERS`). A device whose provider this onnxruntime lacks, or
            that fails to start (onnxruntime would quietly fall back to the CPU), is an error.
        graph_optimization_level: ``"disable"``, ``"basic"``, ``"extended"`` or ``"all"``;
            ``None`` means ``"all"``.
        session_options: A prepared ``onnxruntime.SessionOptions``, used as given; it excludes
            ``threads``, ``graph_optimization_level`` and ``spinning`` (set those on it instead).
        spinning: Let idle intra-op threads spin-wait for work (onnxruntime's own default).
            Off by default here: between calls the spinning threads take the CPU from the
            pre-processing, the decoding and any other runtime in the process (measured on 2
            cores: up to 2x slower ``predict``, see docs/benchmarks.md).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not a valid ONNX model; an unknown provider or optimization
            level; ``session_options`` combined with ``threads``/``graph_optimization_level``.
        MissingExtraError: onnxruntime is not installed.
    """

    name = "onnxruntime"
    requirement = REQUIREMENT

    def __init__(
        self,
        path: str | Path,
        threads: int | None = None,
        providers: Sequence[ProviderSpec] | None = None,
        graph_optimization_level: str | None = None,
        session_options: onnxruntime.SessionOptions | None = None,
        spinning: bool = False,
        device: str | None = None,
    ) -> None:
        super().__init__(path)
        threads = check_threads(threads)
        ort = _import_onnxruntime()
        if device is not None:
            if providers is not None:
                raise ValueError("pass either device or providers, not both")
            providers = list(_device_providers(device))
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model file at {self.path}")
        if session_options is None:
            session_options = _session_options(
                ort, threads, graph_optimization_level or "all", spinning
            )
        elif threads is not None or graph_optimization_level is not None:
            raise ValueError(
                "pass either session_options or threads/graph_optimization_level, not both: "
                "set intra_op_num_threads and graph_optimization_level on the SessionOptions"
            )
        provider_list = _check_providers(ort, providers)
        self._session = _open_session(ort, self.path, session_options, provider_list)
        wanted = provider_list[0] if isinstance(provider_list[0], str) else provider_list[0][0]
        if self._session.get_providers()[0] != wanted:
            raise ValueError(
                f"onnxruntime could not start {wanted} (it fell back to "
                f"{self._session.get_providers()}); check the GPU driver and the CUDA/TensorRT "
                "libraries that this onnxruntime build needs, or use device='cpu'"
            )
        self.inputs = tuple(_tensor_info(node) for node in self._session.get_inputs())
        self.outputs = tuple(_tensor_info(node) for node in self._session.get_outputs())
        self._output_names = [info.name for info in self.outputs]
        logger.debug(
            "onnxruntime session for %s on %s (threads=%s)",
            self.path,
            self._session.get_providers(),
            threads,
        )

    @property
    def providers(self) -> list[str]:
        """The execution providers the session actually uses, in priority order."""
        self._check_open()
        return list(self._session.get_providers())

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model once.

        Args:
            feeds: One array per input, keyed by input name, in the input's dtype.

        Returns:
            One array per output, keyed by output name, in ``outputs`` order.
        """
        self._check_open()
        checked = check_feeds(feeds, self.inputs)
        values = self._session.run(self._output_names, checked)
        return dict(zip(self._output_names, values, strict=True))

    def _release(self) -> None:
        del self._session


def _session_options(
    ort: Any, threads: int | None, level: str, spinning: bool
) -> onnxruntime.SessionOptions:
    if level not in OPTIMIZATION_LEVELS:
        raise ValueError(
            f"unknown graph_optimization_level {level!r}; valid: {list(OPTIMIZATION_LEVELS)}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[level]
    )
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


def _device_providers(device: str) -> tuple[str, ...]:
    if not isinstance(device, str) or device.strip().lower() not in DEVICE_PROVIDERS:
        raise ValueError(f"unknown onnxruntime device {device!r}; valid: {list(DEVICE_PROVIDERS)}")
    return DEVICE_PROVIDERS[device.strip().lower()]


def _check_providers(ort: Any, providers: Sequence[ProviderSpec] | None) -> list[ProviderSpec]:
    if providers is None:
        return ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [providers]
    available = ort.get_available_providers()
    checked: list[ProviderSpec] = []
    for provider in providers:
        provider_name = provider if isinstance(provider, str) else provider[0]
        if provider_name not in available:
            raise ValueError(
                f"unknown or unavailable execution provider {provider_name!r}; "
                f"this onnxruntime has {available}"
            )
        checked.append(provider if isinstance(provider, str) else (provider[0], provider[1]))
    if not checked:
        raise ValueError(f"providers is empty; choose from {available}")
    return checked
