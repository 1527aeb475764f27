import pytest

from planner.perf.spec import build_spec
from planner.perf.ssd import overlapped_hit_time


def test_overlap_between_max_and_sum():
    t = overlapped_hit_time(2.0, 1.0, 80)
    assert 2.0 < t < 3.0
    assert t == pytest.approx(2.0 + 1.0 / 80)


def test_striped_bandwidth_limited_by_drives_and_pcie():
    s4 = build_spec("llama-3-70b", "h100-sxm", 4, "nvme-gen4")
    assert s4.drives == 4
    assert s4.kv_load_bytes_per_s == pytest.approx(4 * 7.0e9)
    many = build_spec("llama-3-70b", "h100-sxm", 4, "nvme-gen5", drives=32)
    assert many.kv_load_bytes_per_s == pytest.approx(4 * 50e9)   # PCIe bound
    assert s4.kv_bytes_per_token == 327_680
