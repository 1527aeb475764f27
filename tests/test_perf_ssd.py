import math

import pytest

from planner.errors import InputDataError
from planner.perf.spec import build_spec
from planner.perf.ssd import effective_ssd_lifetime_h, overlapped_hit_time, ssd_power_w


def test_lifetime_by_wear_matches_constants_example():
    # constants.md: a KV tier written at 1 GB/s wears out a 7.68 TB 1-DWPD drive in ≈160 days
    h = effective_ssd_lifetime_h(1.0, 7680, 1, 5, 5 * 8760)
    assert h == pytest.approx(7680 * 365 * 5 / 3600)
    assert 155 < h / 24 < 165


def test_lifetime_calendar_bound_and_zero_writes():
    cal = 5 * 8760.0
    assert effective_ssd_lifetime_h(0.0, 7680, 1, 5, cal) == cal
    assert effective_ssd_lifetime_h(1e-4, 7680, 1, 5, cal) == cal
    # 3 DWPD lasts three times as long under the same writes
    a = effective_ssd_lifetime_h(1.0, 7680, 1, 5, cal)
    b = effective_ssd_lifetime_h(1.0, 7680, 3, 5, cal)
    assert b == pytest.approx(3 * a)


@pytest.mark.parametrize("args", [(-1, 7680, 1, 5, 1e4), (1, 0, 1, 5, 1e4),
                                  (math.nan, 7680, 1, 5, 1e4), (1, 7680, 1, 5, -3)])
def test_lifetime_rejects_bad_input(args):
    with pytest.raises(InputDataError):
        effective_ssd_lifetime_h(*args)


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


def test_ssd_power_between_idle_and_active():
    idle = ssd_power_w(0, 0, 4, 7, 4, 5, 20)
    busy = ssd_power_w(100, 100, 4, 7, 4, 5, 20)
    assert idle == 20 and busy == 80
    assert idle < ssd_power_w(7, 0, 4, 7, 4, 5, 20) < busy
