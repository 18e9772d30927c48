#!/usr/bin/env bash
# Install the optional mmpose pose backend (stream/pose2d/mmpose.py) into the CURRENT Python environment.
#
#   scripts/install_mmpose.sh                  # python3 on PATH; PYTHON=/path/to/python to choose another
#
# Installs mmpose 1.3.2, mmdet 3.3.0, mmengine 0.10.7, mmcv 2.1.0 (with its C++ ops) and torchvision next
# to the torch that is already there. torch, numpy and opencv-python-headless are never installed,
# upgraded or replaced; the script stops with an error if any of them changed.
#
# Why it is not a plain `pip install mmpose`:
#  - mmcv 2.1.0 (the newest mmpose 1.3.2 accepts) has no wheel for recent torch: its PyPI sdist is built
#    once against the installed torch (about 17 min on 2 cores) and the wheel is cached in
#    ${CROWDMESH_HOME:-$HOME/.cache/crowdmesh}/wheels, so re-runs take seconds. Its setup.py imports
#    pkg_resources, so the build sees setuptools<81 from a temporary folder on PYTHONPATH.
#  - xtcocotools (imported by mmpose.apis) ships wheels built for numpy 1.x only; it is built from its
#    sdist against the installed numpy (seconds) and cached the same way.
#  - The OpenMMLab packages go in with --no-deps: their declared requirements would add opencv-python
#    next to opencv-python-headless (two packages writing cv2/), chumpy (does not build with numpy 2)
#    and a torchvision that pins an exact torch. Only what bottom-up inference imports is installed.
#  - PyPI's torchvision builds for recent torch are CUDA builds whose C++ ops cannot load next to a
#    CPU-only torch. mmpose imports torchvision but never calls those ops; stream/pose2d/mmpose.py
#    declares the two op schemas torchvision's import needs (see _declare_torchvision_ops there).
#  - mmengine 0.10.7 imports pkg_resources when mmpose.apis is imported; setuptools 81+ no longer
#    ships it, so setuptools<81 is installed where pkg_resources is missing.
set -euo pipefail

MMCV=2.1.0 MMENGINE=0.10.7 MMDET=3.3.0 MMPOSE=1.3.2 XTCOCOTOOLS=1.14.3
# What mmpose.apis and a bottom-up model's inference import, beyond crowdmesh's own dependencies.
# (Also listed in pyproject.toml's `mmpose` extra.)
RUNTIME_DEPS=(addict==2.4.0 yapf==0.43.0 termcolor==3.1.0 munkres==1.1.4 terminaltables==3.1.10
              "matplotlib>=3.8" "pillow>=10" "scipy>=1.11" "packaging>=23" "rich>=13" "pyyaml>=6")

py=${PYTHON:-python3}
pip=("$py" -m pip --disable-pip-version-check)
cache=${CROWDMESH_HOME:-$HOME/.cache/crowdmesh}/wheels
repo=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "install_mmpose.sh: error: $*" >&2; exit 1; }
say() { echo "install_mmpose.sh: $*"; }
version_of() { "$py" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1" 2>/dev/null || echo none; }

"$py" -c "import torch, numpy" 2>/dev/null \
  || die "torch and numpy must be importable by $py; install crowdmesh first (./install.sh), then re-run this script."
torch_before=$(version_of torch) numpy_before=$(version_of numpy) cv2_before=$(version_of opencv-python-headless)
pytag=$("$py" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
numpy_major=${numpy_before%%.*}
say "python $("$py" -c 'import sys; print(sys.executable)'): torch $torch_before, numpy $numpy_before, opencv-python-headless $cv2_before"
start=$SECONDS

build_tools=""
keep=$(mktemp)  # pip constraints: whatever gets installed must keep these versions
cleanup() { rm -f "$keep"; [[ -z $build_tools ]] || rm -rf "$build_tools"; }
trap cleanup EXIT
for pkg in torch:$torch_before numpy:$numpy_before opencv-python-headless:$cv2_before; do
  [[ ${pkg#*:} == none ]] || echo "${pkg%%:*}==${pkg#*:}" >> "$keep"
done

# cached_wheel NAME VERSION CACHE_FOLDER: print the path of NAME's wheel, built from its PyPI sdist on the
# first call, against the packages of this environment (--no-build-isolation).
cached_wheel() {
  local name=$1 version=$2 dir=$cache/$3 wheel
  mkdir -p "$dir"
  wheel=$(ls "$dir/$name-$version"-*.whl 2>/dev/null | head -1 || true)
  if [[ -z $wheel ]]; then
    command -v c++ >/dev/null || die "no C++ compiler (c++) on PATH, needed to build $name $version; install one (Debian: apt-get install g++) and re-run"
    if [[ -z $build_tools ]]; then
      build_tools=$(mktemp -d)
      "${pip[@]}" install --quiet --target "$build_tools" "setuptools<81" wheel "cython>=3,<4" >&2
    fi
    say "building $name $version from its PyPI sdist against this environment (one-off, cached for re-runs)" >&2
    [[ $name != mmcv ]] || say "mmcv compiles ~80 C++ files: about 17 min on 2 cores" >&2
    local t=$SECONDS
    PYTHONPATH="$build_tools${PYTHONPATH:+:$PYTHONPATH}" MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      "${pip[@]}" wheel --quiet --no-cache-dir --no-binary "$name" --no-build-isolation --no-deps -w "$build_tools/out" "$name==$version" >&2 \
      || die "building $name $version failed (output above)"
    mv "$build_tools/out/$name-$version"-*.whl "$dir/"
    wheel=$(ls "$dir/$name-$version"-*.whl | head -1)
    say "built $wheel in $((SECONDS - t)) s" >&2
  else
    say "using cached $wheel" >&2
  fi
  echo "$wheel"
}

# mmcv's C++ ops link against torch; xtcocotools' extension against numpy.
mmcv_wheel=$(cached_wheel mmcv $MMCV "$pytag-torch$torch_before")
xtcocotools_wheel=$(cached_wheel xtcocotools $XTCOCOTOOLS "$pytag-numpy$numpy_major")

if [[ $(version_of torchvision) == none ]]; then
  # torchvision 0.(N+15) goes with torch 2.N; --no-deps: its exact torch pin must not replace this torch.
  tv=$("$py" -c "import torch; print(f'0.{int(torch.__version__.split(\".\")[1]) + 15}.*')")
  "${pip[@]}" install --no-deps -c "$keep" "torchvision==$tv"
fi
"${pip[@]}" install --no-deps -c "$keep" "$mmcv_wheel" "$xtcocotools_wheel" \
  "mmengine==$MMENGINE" "mmdet==$MMDET" "mmpose==$MMPOSE"
"${pip[@]}" install -c "$keep" "${RUNTIME_DEPS[@]}"
say "pip's notes that mmpose/mmengine require opencv-python, chumpy, json-tricks (and xtcocotools cython) are expected:"
say "those requirements are left out on purpose (see the top of this script)"
if ! "$py" -c "import pkg_resources" 2>/dev/null; then
  say "installing setuptools<81: mmengine $MMENGINE imports pkg_resources, which setuptools 81+ removed"
  "${pip[@]}" install -c "$keep" "setuptools<81"
fi

for pkg in torch:$torch_before numpy:$numpy_before opencv-python-headless:$cv2_before; do
  [[ $(version_of "${pkg%%:*}") == "${pkg#*:}" ]] \
    || die "${pkg%%:*} changed from ${pkg#*:} to $(version_of "${pkg%%:*}"); reinstall it (e.g. ./install.sh) and report this"
done
[[ $(version_of opencv-python) == none ]] \
  || say "warning: opencv-python is installed next to opencv-python-headless; both write cv2/. If cv2 breaks: $py -m pip uninstall -y opencv-python && $py -m pip install --force-reinstall --no-deps 'opencv-python-headless<5'"
cd "$repo"
"$py" - <<'EOF'
import importlib.metadata as md

from stream.pose2d.mmpose import import_mmpose

import_mmpose()  # mmpose.apis, with the torchvision shim
print("install_mmpose.sh: ok:", ", ".join(f"{p} {md.version(p)}" for p in (
    "torch", "torchvision", "mmcv", "mmengine", "mmdet", "mmpose", "xtcocotools", "numpy", "opencv-python-headless")))
EOF
say "done in $((SECONDS - start)) s"
