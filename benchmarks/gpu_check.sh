#!/usr/bin/env bash
# Parity and latency of every accelerator runtime installed here, against onnxruntime on the
# CPU, in under 5 minutes. It says plainly what it could not run, and why.
#
#   XPOSE_HOME=/path/to/store benchmarks/gpu_check.sh [OUT_DIR]
#
# Looks for: onnxruntime's CUDA and TensorRT execution providers (the onnxruntime-gpu
# package), an OpenVINO GPU device (its driver), an OpenCV built with CUDA. Each found one is
# compared with onnxruntime on the CPU (`xpose parity`, fp32 and fp16, every model) and timed
# side by side (`xpose bench`). Results go to OUT_DIR (default benchmarks/results/gpu).
# Exit status: 0 all ran and agreed, 1 a parity check failed or a step timed out, 2 no
# accelerator runtime was found (nothing measured).
set -u
PYTHON=${PYTHON:-python}
OUT=${1:-benchmarks/results/gpu}
mkdir -p "$OUT"

# one line per accelerator: "label<TAB>found|missing<TAB>why"
"$PYTHON" - >"$OUT/devices.tsv" <<'EOF'
import importlib.util

def line(label, found, why):
    print(f"{label}\t{'found' if found else 'missing'}\t{why}")

import onnxruntime as ort
providers = ort.get_available_providers()
for label, provider in (("onnxruntime:cuda", "CUDAExecutionProvider"),
                        ("onnxruntime:tensorrt", "TensorrtExecutionProvider")):
    line(label, provider in providers,
         f"onnxruntime {ort.__version__} has {providers}"
         + ("" if provider in providers else f"; {provider} needs the onnxruntime-gpu package"))
if importlib.util.find_spec("openvino") is None:
    line("openvino:GPU", False, "openvino is not installed: pip install 'xpose[openvino]'")
else:
    import openvino as ov
    devices = ov.Core().available_devices
    gpu = any(d.startswith("GPU") for d in devices)
    line("openvino:GPU", gpu, f"OpenVINO {ov.__version__} sees {devices}"
         + ("" if gpu else "; an OpenVINO GPU needs an Intel GPU and its compute driver"))
import cv2
from xpose.backends.opencv import cuda_devices
n = cuda_devices()
line("opencv:cuda", n > 0, f"OpenCV {cv2.__version__} sees {n} CUDA device(s)"
     + ("" if n else "; the opencv-python wheels are built without CUDA"))
EOF

found=()
while IFS=$'\t' read -r label state why; do
  if [ "$state" = found ]; then
    found+=("$label")
    echo "found: $label ($why)"
  else
    echo "NOT RUN: $label: $why"
  fi
done <"$OUT/devices.tsv"

if [ ${#found[@]} -eq 0 ]; then
  echo "no accelerator runtime found: nothing was measured on a GPU" | tee "$OUT/summary.txt"
  exit 2
fi

status=0
# Parity: about 2 minutes at most; MultiPose's TensorRT engines take the longest to build.
if ! timeout 150 "$PYTHON" -m xpose parity --precisions fp32 fp16 \
    --backends onnxruntime "${found[@]}" --json >"$OUT/parity.json"; then
  echo "parity FAILED or timed out (150 s): see $OUT/parity.json"
  status=1
fi
# Latency: 20 rounds, all models at fp32 and fp16, accelerators beside onnxruntime on the CPU.
if ! timeout 120 "$PYTHON" -m xpose bench --precisions fp32 fp16 --repeat 20 --warmup 5 \
    --backends onnxruntime "${found[@]}" --out "$OUT/bench.md" -q >/dev/null; then
  echo "bench FAILED or timed out (120 s): see $OUT/bench.md"
  status=1
fi
echo "ran: ${found[*]}; results in $OUT (parity.json, bench.md)" | tee "$OUT/summary.txt"
exit $status
