"""The carbon formula by hand on one window."""

import numpy as np
import pytest

from planner import carbon


def test_one_window_by_hand():
    # 2 replicas × 4 GPUs at 500 W, host 290 W/GPU, 8 drives at 12 W, PUE 1.2, 0.5 h, 300 g/kWh.
    br = carbon.account(hours=0.5, ci_g_per_kwh=300.0, replicas=2, gpus_per_replica=4,
                        gpu_power_w=500.0, host_power_w_per_gpu=290.0, drives=8,
                        ssd_power_w_per_drive=12.0, pue=1.2, gpu_embodied_kg=164.0,
                        gpu_lifetime_h=43800.0, host_embodied_kg_per_gpu=1300 / 8,
                        host_lifetime_h=43800.0, cache_gb=4000.0, ssd_embodied_kg_per_gb=0.02,
                        ssd_lifetime_h=43800.0)
    it_kw = (8 * 500 + 8 * 290 + 8 * 12) / 1000          # 6.416 kW
    energy = 1.2 * 0.5 * it_kw                             # 3.8496 kWh at the facility
    assert float(br.energy_kwh) == pytest.approx(energy)
    assert float(br.operational) == pytest.approx(energy * 300 / 1000)   # 1.15488 kg
    assert float(br.op_gpu) == pytest.approx(1.2 * 0.5 * 4.0 * 0.3)
    emb = 0.5 * (8 * 164 / 43800 + 8 * 162.5 / 43800 + 4000 * 0.02 / 43800)
    assert float(br.embodied) == pytest.approx(emb)
    assert float(br.total) == pytest.approx(energy * 0.3 + emb)


def test_wear_shortens_ssd_lifetime():
    # 7,680 GB at 1 DWPD over 5 years endures 7,680 × 365 × 5 GB; written at 1 GB/s that is
    # 14,016,000 s ≈ 3,893 h, far below the 43,800 h calendar life (constants.md: ~160 days).
    life = carbon.ssd_effective_lifetime_h(7680.0, 1.0, 1, 5, 43800.0)
    assert float(life) == pytest.approx(7680 * 365 * 5 / 3600)
    assert float(carbon.ssd_effective_lifetime_h(7680.0, 0.0, 1, 5, 43800.0)) == 43800.0
    assert float(carbon.ssd_effective_lifetime_h(0.0, 1.0, 1, 5, 43800.0)) == 43800.0


def test_wear_lifetime_scales_with_endurance():
    one = float(carbon.ssd_effective_lifetime_h(7680.0, 1.0, 1, 5, 43800.0))
    three = float(carbon.ssd_effective_lifetime_h(7680.0, 1.0, 3, 5, 43800.0))
    assert three == pytest.approx(3 * one)
    assert 155 < one / 24 < 165   # constants.md: about 160 days at 1 GB/s


def test_ssd_power_between_idle_and_active():
    p = carbon.ssd_drive_power_w(np.array([0.0, 3.5, 7.0, 20.0]), 0.0, 5.0, 20.0, 7.0, 4.0)
    assert list(p) == pytest.approx([5.0, 12.5, 20.0, 20.0])
