"""The experiment runner on tiny runs: results files, resuming, code checks, verification."""
import json

import numpy as np
import pytest

from cnnlab.nn import runner, train
from cnnlab.nn.runner import Experiment, Run

TINY = dict(model="mlp", model_args=(("hidden", 16),), train_images=300, val_images=100, epochs=2, batch_size=50,
            lr=0.1)


def tiny(name="tiny", **kw):
    return Experiment(name, "a tiny test experiment", (Run(name="a", **{**TINY, **kw}),))


@pytest.fixture
def dirs(tmp_path):
    return dict(results=tmp_path / "results", checkpoints=tmp_path / "ckpt")


def test_results_file_holds_what_the_issue_asks(dirs):
    out = runner.run_experiment(tiny(), **dirs, progress=False, log=lambda *a: None)
    stored = json.loads((dirs["results"] / "tiny.json").read_text())
    assert stored == json.loads(json.dumps(out)) and stored["complete"]
    for key in ("config_hash", "code_hash", "cnnlab_version", "machine", "total_seconds"):
        assert key in stored
    assert stored["machine"]["cpus"] >= 1 and stored["machine"]["blas"]
    (run,) = stored["runs"]
    assert run["config"]["model"] == "mlp" and run["train_images"] == 300 and run["val_images"] == 100
    assert len(run["history"]["loss"]) == len(run["history"]["val_acc"]) == 2
    assert 0 <= run["test_accuracy"] <= 100 and run["prefix"]["steps"] == runner.PREFIX_STEPS


def test_validation_split_is_disjoint_and_fixed():
    train_idx, val_idx = runner.split(55_000, 5_000)
    assert len(set(train_idx) | set(val_idx)) == 60_000
    small_train, small_val = runner.split(1_000, 200)
    assert set(small_val) <= set(val_idx) and set(small_train) <= set(train_idx)
    with pytest.raises(ValueError, match="at most 55,000 training and 5,000 validation images"):
        runner.split(56_000, 5_000)


def test_finished_runs_are_kept_and_other_code_is_refused(dirs, monkeypatch):
    runner.run_experiment(tiny(), **dirs, progress=False, log=lambda *a: None)
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("a finished run was trained again"))
    runner.run_experiment(tiny(), **dirs, progress=False, log=lambda *a: None)
    monkeypatch.setattr(runner, "code_hash", lambda: "0123456789abcdef")
    with pytest.raises(RuntimeError, match="produced by code .* pass force=True"):
        runner.run_experiment(tiny(), **dirs, progress=False, log=lambda *a: None)


def test_keep_keeps_runs_of_other_code_and_records_whose_they_are(dirs, monkeypatch):
    first = runner.run_experiment(tiny(), **dirs, progress=False, log=lambda *a: None)
    old_code = first["code_hash"]
    assert first["runs"][0]["code_hash"] == old_code
    monkeypatch.setattr(runner, "code_hash", lambda: "0123456789abcdef")
    two = Experiment("tiny", "", (tiny().runs[0], Run(name="b", **{**TINY, "lr": 0.2})))
    out = runner.run_experiment(two, **dirs, keep=True, progress=False, log=lambda *a: None)
    assert out["code_hash"] == "0123456789abcdef" and out["complete"]
    assert [r["code_hash"] for r in out["runs"]] == [old_code, "0123456789abcdef"]
    assert out["runs"][0]["history"] == first["runs"][0]["history"]  # kept, not trained again
    assert out["runs"][1]["machine"]["cnnlab_threads"] >= 1


def test_an_interrupted_run_resumes_exactly(dirs, monkeypatch):
    run = tiny().runs[0]
    model, _, _, _ = runner.train_member(run, dirs["checkpoints"] / "straight", progress=False)
    calls = []
    save = train.save_checkpoint

    def interrupt_after_first_epoch(*args, **kw):
        save(*args, **kw)
        calls.append(1)
        raise KeyboardInterrupt
    monkeypatch.setattr(train, "save_checkpoint", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        runner.train_member(run, dirs["checkpoints"] / "resumed", progress=False)
    monkeypatch.setattr(train, "save_checkpoint", save)
    resumed, history, _, _ = runner.train_member(run, dirs["checkpoints"] / "resumed", progress=False)
    assert calls == [1] and len(history["loss"]) == 2
    for (name, p, _), (_, q, _) in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p, q, err_msg=name)  # same settings: bit-identical


def test_ensembles_share_the_checkpoint_of_their_first_member(dirs):
    base = Run(name="single", **TINY)
    experiment = Experiment("ens", "", (base, Run(name="pair", members=2, **TINY)))
    out = runner.run_experiment(experiment, **dirs, progress=False, log=lambda *a: None)
    assert len(list(dirs["checkpoints"].glob("*.npz"))) == 2  # the single run and the ensemble's second member
    single, pair = out["runs"]
    assert pair["members"][0]["test_accuracy"] == single["test_accuracy"]
    assert [m["seed"] for m in pair["members"]] == [0, 1]


def test_verify_checks_configs_and_the_first_steps(dirs):
    experiment = tiny()
    stored = runner.run_experiment(experiment, **dirs, progress=False, log=lambda *a: None)
    want, fresh = runner.verify(experiment, stored, "a")
    assert abs(want - fresh) <= 0.02 * want
    with pytest.raises(AssertionError, match="other configs"):
        runner.verify(tiny(lr=0.2), stored, "a")
    stored["runs"][0]["prefix"]["mean_loss"] *= 1.5
    with pytest.raises(AssertionError, match="do not come from this code"):
        runner.verify(experiment, stored, "a")


def test_initialisations():
    model = runner.build(Run(name="c", model="mlp", init="constant:0.5"))
    assert all(np.all(p == 0.5) for _, p, _ in model.parameters())
    model = runner.build(Run(name="n", model="conv_net", init="nielsen"))
    params = dict((n, p) for n, p, _ in model.parameters())
    assert np.all(params["out.weight"] == 0) and abs(params["C1.weight"].std() - np.sqrt(4 / (20 * 25))) < 0.02
    with pytest.raises(ValueError, match="init must be"):
        runner.build(Run(name="x", model="mlp", init="he"))
