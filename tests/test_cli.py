"""python -m cnnlab train / evaluate on a small subset."""
import subprocess
import sys

import pytest

from cnnlab.__main__ import main


def test_train_and_evaluate(tmp_path, capsys):
    out = tmp_path / "m.npz"
    main(["train", "--model", "lenet5", "--epochs", "1", "--train-images", "200", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert out.exists() and "validation accuracy" in printed and "test accuracy" in printed
    main(["evaluate", str(out), "--subset", "100"])
    assert "lenet5 after 1 epochs: test accuracy" in capsys.readouterr().out


def test_as_a_module_with_bad_arguments(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True)
    bad = run("train", "--model", "vgg")
    assert bad.returncode == 2 and "invalid choice: 'vgg'" in bad.stderr
    assert "must be > 0, got 0" in run("train", "--epochs", "0").stderr
    missing = run("evaluate", str(tmp_path / "none.npz"))
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_training_images_exclude_the_validation_split(tmp_path):
    with pytest.raises(SystemExit, match="at most 55,000"):
        main(["train", "--train-images", "60000", "--out", str(tmp_path / "m.npz"), "--no-progress"])


def test_experiment_list_and_unknown(capsys):
    main(["experiment", "--list"])
    assert "ladder:" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown experiment 'nope'"):
        main(["experiment", "nope"])
