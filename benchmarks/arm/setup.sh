#!/usr/bin/env bash
# Builds what `run_check.py` needs to run the device runtime on aarch64 under qemu-user-static:
#   .arm/root  an aarch64 Python 3.11 unpacked from Debian arm64 packages (apt-get download + dpkg -x)
#   .arm/site  numpy<2 + tflite-runtime 2.14 from their aarch64 wheels (pip download --only-binary)
# Idempotent: each finished step leaves a .ready stamp and is skipped next time (rm -rf .arm to redo).
# Needs root (or sudo) once, for qemu-user-static and `dpkg --add-architecture arm64`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ARM="${ARM_DIR:-.arm}"
PY="${PY:-.venv/bin/python}"
ROOT="$ARM/root"
SITE="$ARM/site"
PKGS=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libexpat1 zlib1g libssl3 libffi8
      libbz2-1.0 liblzma5 libsqlite3-0 libstdc++6 libgcc-s1 libuuid1 libncursesw6 libtinfo6 libreadline8 libcrypt1)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. the emulator, and arm64 package lists to download from
if ! command -v qemu-aarch64-static >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  as_root dpkg --add-architecture arm64
  as_root apt-get update -qq
fi

# 2. the aarch64 root: Debian's own python3.11 and the libraries it and the wheels load
if [ ! -f "$ROOT/.ready" ]; then
  rm -rf "$ROOT" "$ARM/debs"
  mkdir -p "$ROOT" "$ARM/debs"
  (cd "$ARM/debs" && apt-get download -qq "${PKGS[@]/%/:arm64}" 2>&1 | grep -v unsandboxed || true)
  [ "$(ls "$ARM"/debs/*.deb | wc -l)" -eq "${#PKGS[@]}" ] || { echo "setup.sh: apt-get download got too few .debs" >&2; exit 1; }
  for deb in "$ARM"/debs/*.deb; do dpkg -x "$deb" "$ROOT"; done
  touch "$ROOT/.ready"
fi

# 3. the site folder: aarch64 wheels unzipped (the device_runtime package is copied in per run)
if [ ! -f "$SITE/.ready" ]; then
  rm -rf "$SITE" "$ARM/wheels"
  mkdir -p "$SITE"
  "$PY" -m pip download -q --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux_2_34_aarch64 --platform manylinux2014_aarch64 -d "$ARM/wheels" \
    "numpy<2" "tflite-runtime==2.14.0"
  for whl in "$ARM"/wheels/*.whl; do "$PY" -m zipfile -e "$whl" "$SITE"; done
  touch "$SITE/.ready"
fi

# 4. smoke: the emulated interpreter imports both
qemu-aarch64-static -L "$ROOT" -E PYTHONPATH="$SITE" "$ROOT/usr/bin/python3.11" -c \
  "import platform, numpy, tflite_runtime; print('aarch64 root ready:', platform.machine(), 'python', platform.python_version(), 'numpy', numpy.__version__, 'tflite_runtime', tflite_runtime.__version__)"
