"""`greencache sweep --address`: points run on a two-node Ray cluster (both nodes on this
machine, started by ``ray.cluster_utils.Cluster``), through the same command a real cluster
gets."""

from pathlib import Path

import pandas as pd
import pytest
import ray
from ray.cluster_utils import Cluster
from typer.testing import CliRunner

from planner.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cluster():
    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


def test_a_sweep_runs_on_a_two_node_cluster(cluster, tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(f'[sweep]\nscenario = "{ROOT / "examples" / "scenario-fr.toml"}"\n'
                    'strategies = ["plan", "max_cache"]\n[axes]\ngrid = ["FR", "DE"]\n')
    r = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "out"),
                                 "--cache", str(tmp_path / "cache"), "--address",
                                 cluster.address])
    assert r.exit_code == 0, r.output
    assert "2 point(s): 0 from the cache, 2 to run" in r.output
    frame = pd.read_csv(tmp_path / "out" / "results.csv")
    assert (frame["status"] == "ok").all() and len(frame) == 2
    assert frame["max_cache_replayed_kgco2e"].notna().all()
    assert frame["no_cache_replayed_kgco2e"].isna().all()    # not asked for
    # The sweep disconnected from the cluster it did not start, and left it running.
    assert not ray.is_initialized() and len(cluster.list_all_nodes()) == 2
