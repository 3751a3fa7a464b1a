"""The throwaway PostgreSQL cluster that the store's PostgreSQL tests will run on (issue 20):
it starts, answers on its socket, makes more databases, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.pgcluster import ClusterUnavailable, ThrowawayCluster, find_bin_dir

pytestmark = pytest.mark.skipif(
    find_bin_dir() is None,
    reason="PostgreSQL is not installed (Debian: apt-get install postgresql)",
)


def psql(cluster: ThrowawayCluster, database: str, sql: str) -> str:
    result = subprocess.run(
        [os.path.join(cluster.bin_dir, "psql"), "-h", cluster.socket_dir, "-U", "elektromail",
         "-d", database, "-At", "-c", sql],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_cluster_starts_answers_and_is_removed():
    cluster = ThrowawayCluster().start()
    root = cluster.root
    try:
        assert psql(cluster, "elektromail", "SELECT 1 + 1") == "2"
        assert cluster.url().startswith("postgresql://elektromail@/elektromail?host=")
        # no TCP: nothing to collide with another run's port
        assert psql(cluster, "elektromail", "SHOW listen_addresses") == ""
        other = cluster.new_database()
        assert other.startswith("postgresql://elektromail@/elektromail_1?")
        assert psql(cluster, "elektromail_1", "SELECT current_database()") == "elektromail_1"
    finally:
        cluster.stop()
    assert not os.path.exists(root)
    cluster.stop()  # twice is harmless


def test_a_failed_start_says_why_and_leaves_nothing(monkeypatch):
    cluster = ThrowawayCluster()
    monkeypatch.setattr(cluster, "bin_dir", "/nonexistent")
    with pytest.raises(ClusterUnavailable, match="initdb could not run"):
        cluster.start()
    assert cluster.root is None
