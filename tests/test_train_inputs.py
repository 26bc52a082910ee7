"""Training fails fast on bad input: one line naming the culprit, exit 2, before TRL, a model or the run folder.

Each message of issue 12's probes has a test here; every one also checks that the run folder stays untouched.
"""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _tiny import write_tiny_stvqa
from spatialthinker.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return write_tiny_stvqa(str(tmp_path_factory.mktemp("stvqa")), n=4)


def _table(data: str) -> pa.Table:
    return pq.read_table(os.path.join(data, "train.parquet"))


def _with_images(data: str, path, change) -> str:
    table = _table(data)
    images = [dict(value) if value else value for value in table.column("images").to_pylist()]
    change(images)
    column = table.schema.get_field_index("images")
    pq.write_table(table.set_column(column, "images", pa.array(images, type=table.schema.field("images").type)), path)
    return str(path)


def run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def grpo(data: str, out, *extra: str) -> list[str]:
    return ["train", "grpo", "--model", "tiny", "--dataset", data, "--output", str(out), *extra]


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("extra, needles", [
    (["--set", "learning_rate=-1"], ["learning_rate", "--set", "positive"]),
    (["--reward", "nosuch.module.fn"], ["--reward nosuch.module.fn", "dense, sparse"]),
    (["--max-steps", "-1"], ["--max-steps", "positive integer"]),
    (["--max-samples", "0"], ["--max-samples", "positive integer"]),
    (["--set", "nosuchkey=1"], ["nosuchkey", "from --set"]),
    (["--set", "num_generations=four"], ["num_generations", "integer", "'four'"]),
    (["--set", "lerning_rate=1"], ["did you mean 'learning_rate'"]),
    (["--set", "noequals"], ["--set 'noequals'", "key=value"]),
    (["--set", "prompt_style=nosuch"], ["prompt_style 'nosuch'", "training"]),
])
def test_bad_recipe_values_fail_before_anything_runs(extra, needles, data, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = run(grpo(data, out, *extra), capsys)
    assert_one_line_error(code, err, *needles)
    assert not out.exists()  # nothing written: no config.json, no warmup_sft/


def test_preset_errors_name_the_file(data, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 1e-4\nnum_generations: [4\n  beta: 0\n")
    code, err = run(grpo(data, tmp_path / "a", "--preset", str(bad)), capsys)
    assert_one_line_error(code, err, str(bad), "line 3", "invalid YAML")
    four = tmp_path / "four.yaml"
    four.write_text('num_generations: "four"\n')
    code, err = run(grpo(data, tmp_path / "b", "--preset", str(four)), capsys)
    assert_one_line_error(code, err, "num_generations", f"from {four}", "integer")
    typo = tmp_path / "typo.yaml"
    typo.write_text("nosuchkey: 1\n")
    code, err = run(grpo(data, tmp_path / "c", "--preset", str(typo)), capsys)
    assert_one_line_error(code, err, "nosuchkey", f"from {typo}")


def test_yaml_floats_without_a_dot_are_numbers(tmp_path):
    from spatialthinker.train.config import GRPORecipe, load_recipe

    preset = tmp_path / "p.yaml"
    preset.write_text("learning_rate: 1e-6\n")  # PyYAML reads this as the string '1e-6'
    assert load_recipe(GRPORecipe, str(preset)).learning_rate == 1e-6


@pytest.mark.parametrize("option, value, needle", [
    ("--dataset", "bad/nope.parquet", "--dataset bad/nope.parquet: no such file or directory"),
    ("--dataset", "./missing_dir", "no such file or directory"),
    ("--model", "/nonexistent/model", "--model /nonexistent/model: no such file or directory"),
    ("--model", "tiny-huge", "tiny-SIZE"),
])
def test_local_looking_paths_that_do_not_exist_fail_at_once(option, value, needle, data, tmp_path, capsys):
    args = grpo(data, tmp_path / "run")
    args[args.index(option) + 1] = value
    code, err = run(args, capsys)
    assert_one_line_error(code, err, needle)


@pytest.mark.parametrize("option, value", [("--dataset", "someone/stvqa"), ("--model", "Qwen/Qwen2.5-VL-3B-Instruct")])
def test_hub_ids_offline_fail_with_a_message_that_says_so(option, value, data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    args = grpo(data, tmp_path / "run")
    args[args.index(option) + 1] = value
    code, err = run(args, capsys)
    assert_one_line_error(code, err, f"{option} {value}", "not in the Hugging Face cache", "HF_HUB_OFFLINE")


def test_unreachable_hub_says_offline(tmp_path, monkeypatch):
    from spatialthinker.errors import InputError
    from spatialthinker.train import inputs

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(inputs, "_cached", lambda name, kind: False)

    def unreachable(self, repo_id, timeout=None):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr("huggingface_hub.HfApi.dataset_info", unreachable)
    with pytest.raises(InputError, match="cannot be reached .*offline"):
        inputs.check_source("someone/stvqa", "--dataset", "dataset")


def test_model_folder_without_config_is_refused(data, tmp_path, capsys):
    folder = tmp_path / "not_a_model"
    folder.mkdir()
    code, err = run(["train", "sft", "--model", str(folder), "--dataset", data, "--output", str(tmp_path / "r")], capsys)
    assert_one_line_error(code, err, "config.json")


@pytest.mark.parametrize("name, make, needle", [
    ("broken_image.parquet", lambda d, p: _with_images(d, p, lambda im: im[1].update(bytes=im[1]["bytes"][:200])),
     "row 1, column 'images': broken or truncated image"),
    ("null_image.parquet", lambda d, p: _with_images(d, p, lambda im: im.__setitem__(2, None)),
     "row 2, column 'images': no image"),
    ("not_parquet.parquet", lambda d, p: (p.write_bytes(b"not parquet"), str(p))[1], "not a readable parquet file"),
    ("zero_rows.parquet", lambda d, p: (pq.write_table(_table(d).slice(0, 0), p), str(p))[1], "hold no rows"),
    ("int_problem.parquet", lambda d, p: (pq.write_table(_table(d).set_column(
        _table(d).schema.get_field_index("problem"), "problem", pa.array(range(4))), p), str(p))[1],
     "column 'problem' must hold strings, it holds int64"),
    ("no_images.parquet", lambda d, p: (pq.write_table(_table(d).drop(["images"]), p), str(p))[1], "lacks column(s) ['images']"),
    ("data.csv", lambda d, p: (p.write_text("a,b\n"), str(p))[1], "expected a .parquet file"),
])
def test_data_errors_name_file_row_and_column(name, make, needle, data, tmp_path, capsys):
    path = make(data, tmp_path / name)
    for kind in ("grpo", "sft"):
        out = tmp_path / f"run_{kind}"
        code, err = run(["train", kind, "--model", "tiny", "--dataset", path, "--output", str(out)], capsys)
        assert_one_line_error(code, err, name, needle)
        assert not out.exists()


def test_used_run_folder_is_refused_and_overwrite_starts_clean(data, tmp_path, capsys):
    from spatialthinker.train.config import GRPORecipe
    from spatialthinker.train.runtime import prepare_output

    out = tmp_path / "run"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "rollouts").mkdir()
    (out / "rollouts" / "step_000001.jsonl").write_text("{}\n")
    (out / "metrics.jsonl").write_text('{"step": 1}\n')
    code, err = run(grpo(data, out), capsys)
    assert_one_line_error(code, err, "holds an earlier run (checkpoint-2)", "--resume", "--overwrite")
    assert (out / "checkpoint-2").is_dir() and (out / "metrics.jsonl").is_file()  # nothing lost
    prepare_output(GRPORecipe(dataset=data, output_dir=str(out), overwrite=True))
    assert sorted(os.listdir(out)) == ["config.json"]


def test_fresh_run_removes_logs_of_a_run_that_never_checkpointed(data, tmp_path):
    from spatialthinker.train.config import GRPORecipe
    from spatialthinker.train.runtime import prepare_output

    out = tmp_path / "run"
    (out / "rollouts").mkdir(parents=True)
    (out / "rollouts" / "step_000001.jsonl").write_text("{}\n")
    (out / "metrics.jsonl").write_text('{"step": 1}\n')
    prepare_output(GRPORecipe(dataset=data, output_dir=str(out)))
    assert sorted(os.listdir(out)) == ["config.json"]


def test_resume_without_checkpoint_is_refused(data, tmp_path, capsys):
    code, err = run(grpo(data, tmp_path / "run", "--resume"), capsys)
    assert_one_line_error(code, err, "--resume: no checkpoint-N folder")


def test_resume_truncates_rollouts_after_the_checkpoint_and_skips_a_half_saved_one(data, tmp_path):
    from spatialthinker.train.config import GRPORecipe
    from spatialthinker.train.runtime import prepare_output, resume_checkpoint

    out = tmp_path / "run"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (out / "checkpoint-3").mkdir()  # killed while saving: no trainer_state.json
    (out / "rollouts").mkdir()
    for step in (1, 2, 3):
        (out / "rollouts" / f"step_{step:06d}.jsonl").write_text(json.dumps({"step": step}) + "\n")
    recipe = GRPORecipe(dataset=data, output_dir=str(out), resume=True)
    assert resume_checkpoint(recipe) == str(out / "checkpoint-2")
    prepare_output(recipe)
    assert sorted(os.listdir(out / "rollouts")) == ["step_000001.jsonl", "step_000002.jsonl"]
    assert not (out / "checkpoint-3").exists()


def test_rollouts_of_a_step_are_restarted_once_per_process(tmp_path):
    """A step logged by an interrupted process is written afresh; a second batch of the same step appends."""
    from spatialthinker.train.telemetry import TelemetryReward

    class State:
        global_step = 0

    folder = tmp_path / "rollouts"
    folder.mkdir()
    (folder / "step_000001.jsonl").write_text('{"stale": true}\n')
    reward = TelemetryReward("sparse", output_dir=str(tmp_path), rollouts_per_step=2)
    texts = ["<think>a</think><answer>(A) x</answer>", "nothing"]
    reward(prompts=["p", "p"], completions=texts, trainer_state=State(), answer_option_text_only=["(A) x"] * 2)
    lines = (folder / "step_000001.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["step"] == 1 for line in lines)
    reward(prompts=["p", "p"], completions=texts, trainer_state=State(), answer_option_text_only=["(A) x"] * 2)
    assert len((folder / "step_000001.jsonl").read_text().splitlines()) == 4


def _kill_when(process, condition, timeout_s: float = 600) -> None:
    import signal
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()


@pytest.mark.slow  # two tiny GRPO processes: about a minute on two loaded cores
def test_run_killed_between_steps_resumes_with_every_step_logged_once(data, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    env = {**os.environ, "SPATIALTHINKER_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "spatialthinker.cli", "train", "grpo", "--model", "tiny", "--dataset", data,
               "--output", str(out), "--max-steps", "4", "--set", "save_steps=1", "--set", "warmup_sft_steps=0",
               "--set", "max_completion_length=16", "--set", "rollouts_per_step=4"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Killed once checkpoint-2 is complete: between steps (while step 3 runs, or just after it).
    _kill_when(first, lambda: (out / "checkpoint-2" / "trainer_state.json").is_file())
    assert first.returncode != 0, "the run finished before it could be killed"
    resumed = subprocess.run(command + ["--resume"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    files = sorted(os.listdir(out / "rollouts"))
    assert files == [f"step_{step:06d}.jsonl" for step in (1, 2, 3, 4)]
    for step, name in zip((1, 2, 3, 4), files):
        records = [json.loads(line) for line in (out / "rollouts" / name).read_text().splitlines()]
        assert len(records) == 4 and {r["step"] for r in records} == {step}
