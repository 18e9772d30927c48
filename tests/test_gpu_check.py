"""benchmarks/gpu_check.py in its quick CPU mode: every section runs and reports figures, without Ray."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_FILES = ("official_parity/make_official_checkpoint.py", "official_parity/smpl_synthetic_neutral.pkl",
                 "official_parity/J_regressor_extra.npy", "official_parity/model_io.npz",
                 "official_parity/check_parity.py", "rtmo_parity/make_rtmo_checkpoint.py",
                 "rtmo_parity/basketball1.png")


@pytest.fixture(scope="module")
def report(fixtures_dir, fixture_file, tmp_path_factory) -> dict:
    for name in FIXTURE_FILES:
        fixture_file(name)
    out = tmp_path_factory.mktemp("gpu_check") / "x.json"
    proc = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--quick", "--fixtures",
                           str(fixtures_dir), "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_every_section_ran_without_ray(report):
    assert report["ray_imported"] is False
    assert report["device"] == "cpu" and report["mode"] == "quick"
    for name, section in report["sections"].items():
        assert section["error"] is None, (name, section["traceback"])
        assert section["seconds"] > 0 and section["peak_gpu_memory_mib"] is None
    assert set(report["sections"]) == {"parity", "mesh", "rtmo", "end_to_end"}


def test_parity_fp32_passes_and_bf16_differs_a_little(report):
    parity = report["sections"]["parity"]["results"]
    assert parity["fp32_pass"] is True
    assert parity["vs fixture"][0]["mesh_vs_fixture_mm"] < 0.5
    (bf16,) = parity["vs fp32 on the device"]
    assert bf16["precision"] == "bf16" and 0 < bf16["joint_cam_max_mm"] < 100 and 0 < bf16["mesh_max_mm"] < 100


def test_mesh_and_rtmo_rates(report):
    mesh = report["sections"]["mesh"]["results"]["rates"]
    assert {(r["precision"], r["batch"]) for r in mesh} == {(p, b) for p in ("fp32", "bf16") for b in (2, 4)}
    assert all(r["stage_crops_s"] > 0 and r["bare_features_crops_s"] > 0 and r["stage/bare"] > 0 for r in mesh)
    rtmo = report["sections"]["rtmo"]["results"]["rates"]
    assert {(r["model"], r["precision"], r["batch"]) for r in rtmo} == \
        {("rtmo-s_crowdpose", p, b) for p in ("fp32", "bf16") for b in (1, 2)}
    assert all(r["frames_s"] > 0 for r in rtmo)


def test_end_to_end_rates(report):
    runs = report["sections"]["end_to_end"]["results"]["runs"]
    assert [r["pose2d"] for r in runs] == ["precomputed", "rtmo-s_crowdpose"]
    for r in runs:
        assert r["frames"] == 6 and r["crops"] > 0
        rates = [r["fps_wall"]] + [v for k, v in r.items() if k.endswith("_fps")]   # + 6 stages and their sum
        assert len(rates) == 8 and all(v > 0 for v in rates)
