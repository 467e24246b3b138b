import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_ranker_run(path, preset_name="tiny", seed=0):
    import keras

    from training.ranker.model import build_ranker, preset, save_ranker

    keras.utils.set_random_seed(seed)
    save_ranker(build_ranker(preset(preset_name)), path, extra={"data_fingerprint": "test-random-weights"})
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return make_ranker_run(tmp_path_factory.mktemp("run") / "tiny")


@pytest.fixture(scope="session")
def tiny_artifact(tiny_run, tmp_path_factory):
    from export.artifact import ExportConfig, export_artifact

    out = tmp_path_factory.mktemp("art") / "tiny"
    export_artifact(tiny_run, out, ExportConfig(sample_pages=64, onnx=True), log=lambda *a: None)
    return out
