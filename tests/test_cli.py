import hashlib
import json

from tests.conftest import run_cli


def test_help_lists_subcommands():
    out = run_cli("--help").stdout
    for name in ("simulate-logs", "world-info", "demo"):
        assert name in out


def test_every_subcommand_has_help():
    from reelrank.cli import _COMMANDS, _register_all

    _register_all()
    for name in _COMMANDS:
        assert "usage: reelrank " + name in run_cli(name, "--help").stdout


def test_simulate_logs_repeats_bytes_and_reports_rates(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    out = json.loads(run_cli("simulate-logs", "--sessions", "40", "--seed", "7", "--out", str(a), "--quiet").stdout)
    run_cli("simulate-logs", "--sessions", "40", "--seed", "7", "--out", str(b), "--quiet")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert 0 < out["effective_view"] < 1 and out["impressions"] > 40


def test_simulate_logs_accepts_world_config(tmp_path):
    cfg = tmp_path / "w.json"
    cfg.write_text(json.dumps({"h0": 1.0}))
    out = json.loads(run_cli("simulate-logs", "--sessions", "30", "--out", str(tmp_path / "l.parquet"),
                             "--world-config", str(cfg), "--world-seed", "3", "--quiet").stdout)
    assert out["mean_depth"] < 10  # lower h0: users leave sooner


def test_demo_prints_a_summary(tmp_path):
    out = run_cli("demo", "--sessions", "40", "--log-sessions", "150", "--emulate-sessions", "8", "--ranker-preset", "tiny",
                  "--ranker-epochs", "1", "--workdir", str(tmp_path), "--json", str(tmp_path / "s.json")).stdout
    assert "ReelRank demo summary" in out and "effective-view rate" in out
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["logs"]["impressions"] > 0
    assert summary["export"]["verify"]["ok"] is True
    assert set(summary["emulate"]["strategies"]) == {"server", "greedy", "adaptive_beam"}
    for step in ("world", "logs", "ranker", "export", "verify", "emulate"):
        assert f"\n{step} " in out, step


def test_simulate_logs_with_an_exploring_client(tmp_path):
    out = json.loads(run_cli("simulate-logs", "--sessions", "30", "--seed", "3", "--explore-show", "0.3",
                             "--out", str(tmp_path / "l.parquet"), "--quiet").stdout)
    assert out["impressions"] > 30
