"""One source of truth for defaults: every flag that mirrors a config dataclass takes its default
from that dataclass, and `reelrank --help` lists the commands by stage."""

import argparse

import pytest

from reelrank import cli


@pytest.fixture(scope="module")
def parser():
    cli._register_all()
    return cli.build_parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out[sub.prog] = sub
                out.update(_subparsers(sub))
    return out


def test_every_config_flag_defaults_to_its_dataclass(parser):
    subs = _subparsers(parser)
    assert len(cli.CONFIG_FLAGS) >= 25
    checked = 0
    for (prog, flag), (cls, name) in cli.CONFIG_FLAGS.items():
        sub = subs.get(prog)
        if sub is None:  # a mutually exclusive group: its container is the subcommand
            continue
        action = next(a for a in sub._actions if flag in a.option_strings)
        if action.const is True:  # store_true: the dataclass default must be False
            assert cli.config_default(cls, name) is False, (prog, flag)
        else:
            assert action.default == cli.config_default(cls, name), (prog, flag)
        checked += 1
    assert checked >= 25


def test_parsed_defaults_build_the_default_configs(parser):
    from device_runtime.sim.emulator import EmulatorConfig
    from export.config import ExportConfig
    from training.ranker.config import TrainConfig

    a = parser.parse_args(["emulate", "--artifact", "x"])
    assert EmulatorConfig(sessions=a.sessions, seed=a.seed, strategies=a.strategies) == EmulatorConfig()
    a = parser.parse_args(["export", "--ranker", "r", "--out", "o"])
    assert ExportConfig(max_candidates=a.max_candidates, beam_size=a.beam_size, max_steps=a.max_steps,
                        quantize=a.quantize, onnx=a.onnx, sample_pages=a.sample_pages) == ExportConfig()
    a = parser.parse_args(["train-ranker", "--logs", "l", "--out", "o"])
    assert (a.epochs, a.batch, a.lr, a.task_weights) == (TrainConfig.epochs, TrainConfig.batch_size,
                                                         TrainConfig.learning_rate, TrainConfig.task_weights)


def test_policy_learners_share_the_cli_budget_that_was_the_default():
    """`train-policy --steps` used to default to 1200 while hac.Args said 2000 and sl.Args 1500: the
    dataclasses now hold what the CLI did, and the CLI reads them."""
    from benchmarks.policy_table import ALGOS, algo_module, default_steps

    assert {a: default_steps(a) for a in ALGOS} == {a: 1200 for a in ALGOS}
    for a in ALGOS:
        args = algo_module(a).Args()
        assert (args.seed, args.world_seed, args.slate, args.depth_cap) == (0, 0, 1, 50)


def test_help_lists_commands_grouped_by_stage(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    stages = ["data —", "train —", "export —", "device —", "evaluate —", "benchmark —"]
    pos = [out.index(s) for s in stages]
    assert pos == sorted(pos)
    assert out.index("simulate-logs") < out.index("train —") < out.index("train-ranker") < out.index("export —")
    assert out.index("device —") < out.index("emulate") < out.index("evaluate —")


def test_running_a_command_configures_only_that_command():
    p = cli.build_parser(only="world-info")
    subs = _subparsers(p)
    assert any("--sessions" in a.option_strings for a in subs["reelrank world-info"]._actions)
    assert not any("--epochs" in a.option_strings for a in subs["reelrank train-ranker"]._actions)
