"""SFT training (train/ and ``harness train``) on a tiny real Llama checkpoint, in one CPU process.

What: labels mask the prompt (checked on a real tokenized row); packing keeps examples from attending
to each other (logits in a pack equal logits alone); a DeepSpeed ZeRO-2 fine-tune makes the loss fall,
changes the weights, and saves a checkpoint that ``harness.backends.hf.HFBackend`` loads and
generates from; batch 8 x accum 1 and batch 2 x accum 4 give the same loss curve; bad input gets one
clear ``Error:`` line. Multi-process and ZeRO-3 runs, and kill/resume, are in tests/test_train_dist.py.

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_train.py`` (add ``-m "not slow"`` to skip training).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness.prompts import get_prompt

REPO = Path(__file__).resolve().parents[1]


def write_sft(path: Path, n: int = 32, seed: int = 0, **extra) -> Path:
    """n rows of short arithmetic Q/A in the qwen-boxed format, as synth writes them."""
    t = get_prompt("qwen-boxed")
    rng = random.Random(seed)
    with path.open("w") as f:
        for _ in range(n):
            a, b = rng.randint(1, 20), rng.randint(1, 20)
            row = {
                "prompt": t.render(f"What is {a}+{b}?").text,
                "response": t.format_response(f"{a}+{b}={a + b}.", str(a + b)),
                "answer": str(a + b),
                **extra,
            }
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def sft_file(tmp_path) -> Path:
    return write_sft(tmp_path / "sft.jsonl")


@pytest.fixture
def restore_env():
    """train.sft sets single-process RANK/WORLD_SIZE/... in os.environ; put it back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _tok(ckpt):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ckpt)


def _run(tiny, data, out, **over):
    from train.config import build_config
    from train.sft import run

    over.setdefault("deepspeed", "zero2")
    over.setdefault("lr", 1e-3)
    over.setdefault("max_length", 256)
    cfg = build_config(model=str(tiny), data=[str(d) for d in data], output=str(out), overrides=over)
    return run(cfg)


def _losses(out: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, (out / "losses.jsonl").read_text().splitlines())]


# --- data: masking, packing -------------------------------------------------------------------


def test_labels_mask_exactly_the_prompt(tiny_checkpoint, sft_file):
    from train.data import IGNORE_INDEX, load_sft_dataset, read_sft_rows

    tok = _tok(tiny_checkpoint)
    rows, _ = read_sft_rows(sft_file)
    examples, stats = load_sft_dataset(sft_file, tok, max_length=256)
    ex, row = examples[0], rows[0]
    n_prompt = len(tok(row.prompt)["input_ids"])
    assert ex["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert IGNORE_INDEX not in ex["labels"][n_prompt:]
    # the supervised tokens are exactly " " + response + EOS
    assert tok.decode(ex["labels"][n_prompt:-1]) == " " + row.response
    assert ex["labels"][-1] == tok.eos_token_id
    assert stats.used == 32 and stats.tokens == sum(len(e["input_ids"]) for e in examples)


def test_question_rows_are_rendered_with_the_named_prompt(tmp_path, tiny_checkpoint):
    from train.data import read_sft_rows

    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps({"question": "What is 2+2?", "response": "The answer is: 4", "prompt_name": "alpaca"}) + "\n")
    rows, _ = read_sft_rows(p)
    assert rows[0].prompt == get_prompt("alpaca").render("What is 2+2?").text
    # every shape harness clean reads (one detector, harness.sftrows): question/answer and messages too
    p.write_text("".join(json.dumps(r) + "\n" for r in [
        {"prompt": "P: 1+1?", "question": "1+1?", "response": "The answer is: 2"},
        {"question": "What is 3+3?", "answer": "The answer is: 6"},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 4+4?"},
                      {"role": "assistant", "content": "The answer is: 8"}]},
    ]))
    rows, _ = read_sft_rows(p)
    boxed = get_prompt("qwen-boxed")
    assert [(r.prompt, r.response) for r in rows] == [
        ("P: 1+1?", "The answer is: 2"), (boxed.render("What is 3+3?").text, "The answer is: 6"),
        (boxed.render("What is 4+4?").text, "The answer is: 8")]


@pytest.mark.parametrize("attn", ["sdpa", "sdpa_varlen"])
def test_packing_does_not_attend_across_examples(tiny_checkpoint, sft_file, attn):
    import torch
    from transformers import AutoModelForCausalLM

    from train.attention import use_packed_attention
    from train.data import PackCollator, PadCollator, load_sft_dataset, pack_examples

    tok = _tok(tiny_checkpoint)
    examples, _ = load_sft_dataset(sft_file, tok, max_length=512)
    packs = pack_examples(examples, 512)
    assert all(len(p["input_ids"]) <= 512 for p in packs)
    assert sum(len(p["input_ids"]) for p in packs) == sum(len(e["input_ids"]) for e in examples)
    assert len(packs) < len(examples) / 2
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    ref = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()  # always sdpa, for the unpacked logits
    if attn == "sdpa_varlen":
        assert use_packed_attention(model) == "sdpa" and model.config._attn_implementation == "sdpa_varlen"
    pack = packs[0]
    starts = [i for i, p in enumerate(pack["position_ids"]) if p == 0] + [len(pack["input_ids"])]
    assert len(starts) >= 3  # at least two examples in the pack
    with torch.no_grad():
        packed = model(**{k: v for k, v in PackCollator(tok.pad_token_id)([pack, packs[-1]]).items() if k != "labels"})
        for a, b in zip(starts, starts[1:]):
            alone = {"input_ids": pack["input_ids"][a:b], "labels": pack["labels"][a:b]}
            single = ref(**{k: v for k, v in PadCollator(tok.pad_token_id)([alone]).items() if k != "labels"})
            torch.testing.assert_close(packed.logits[0, a:b], single.logits[0], atol=1e-4, rtol=1e-4)


def test_varlen_attention_equals_block_mask_loss_and_grads(tiny_checkpoint, sft_file):
    """Per-example attention gives the same loss and gradients as transformers' block-diagonal mask,
    on a real batch of packs with a padded tail (the padding is its own segment)."""
    import torch
    from transformers import AutoModelForCausalLM

    from train.attention import segment_bounds, use_packed_attention
    from train.data import PackCollator, load_sft_dataset, pack_examples

    assert segment_bounds(torch.tensor([0, 1, 2, 0, 1, 0, 0, 1])) == [(0, 3), (3, 5), (5, 6), (6, 8)]
    tok = _tok(tiny_checkpoint)
    examples, _ = load_sft_dataset(sft_file, tok, max_length=512)
    packs = pack_examples(examples, 300)
    batch = PackCollator(tok.pad_token_id)([packs[0], packs[-1], packs[1]])
    assert (batch["labels"] == -100).sum() > 0 and len(packs[-1]["input_ids"]) < batch["input_ids"].shape[1]
    grads = []
    for varlen in (False, True):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
        model.config.use_cache = False
        if varlen:
            use_packed_attention(model)
        out = model(**batch)
        out.loss.backward()
        grads.append((out.loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (l0, g0), (l1, g1) = grads
    torch.testing.assert_close(l1, l0, atol=1e-5, rtol=1e-5)
    for n in g0:
        torch.testing.assert_close(g1[n], g0[n], atol=1e-5, rtol=1e-4, msg=n)


def test_varlen_attention_refuses_a_mask_or_cache(tiny_checkpoint):
    from transformers import AutoModelForCausalLM

    from harness.errors import ConfigError
    from train.attention import use_packed_attention

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    use_packed_attention(model)
    tok = _tok(tiny_checkpoint)
    enc = tok(["What is 1+1?"], return_tensors="pt")
    with pytest.raises(ConfigError, match="packed training only"):
        model.generate(**enc, max_new_tokens=2)


# --- training ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_finetune_tiny_loss_falls_and_checkpoint_generates(tiny_checkpoint, sft_file, tmp_path, restore_env):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    summary = _run(tiny_checkpoint, [sft_file], out, epochs=6, lr=3e-3, batch_size=8, global_batch=8, save_steps=100)
    losses = _losses(out)
    assert len(losses) == 24 == summary["stages"][0]["steps"]
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    before, after = load_file(tiny_checkpoint / "model.safetensors"), load_file(out / "model.safetensors")
    changed = [k for k in before if not (before[k] == after[k]).all()]
    assert len(changed) == len(before)
    cfg = json.loads((out / "train_config.json").read_text())
    assert cfg["data"][0]["sha256"] and cfg["data"][0]["used"] == 32 and cfg["config"]["lr"] == 3e-3
    assert summary["stages"][0]["tokens_per_s"] > 0
    _generates(out)


@pytest.mark.slow
def test_grad_accum_invariance(tiny_checkpoint, sft_file, tmp_path, restore_env):
    common = dict(epochs=1, global_batch=8, save_steps=100, warmup_ratio=0.0)
    _run(tiny_checkpoint, [sft_file], tmp_path / "a", batch_size=8, grad_accum=1, **common)
    _run(tiny_checkpoint, [sft_file], tmp_path / "b", batch_size=2, grad_accum=4, **common)
    la, lb = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert len(la) == len(lb) == 4
    assert la[-1] < la[0]
    assert la == pytest.approx(lb, rel=2e-3), (la, lb)


@pytest.mark.slow
def test_two_stages_continue_from_stage_one(tiny_checkpoint, tmp_path, restore_env):
    s1, s2 = write_sft(tmp_path / "s1.jsonl", 16, seed=1), write_sft(tmp_path / "s2.jsonl", 16, seed=2)
    out = tmp_path / "run"
    summary = _run(tiny_checkpoint, [s1, s2], out, epochs=1, batch_size=8, global_batch=8, deepspeed="none")
    assert [s["stage"] for s in summary["stages"]] == [1, 2]
    assert (out / "stage1" / "final" / "model.safetensors").is_file() and (out / "model.safetensors").is_file()
    rows = [json.loads(x) for x in (out / "losses.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in rows] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # stage 2 starts where stage 1 ended: its first loss is near stage 1's last, far below the base's first
    assert rows[2]["loss"] < rows[0]["loss"]


def _generates(ckpt: Path) -> None:
    from harness.backends.base import SamplingParams
    from harness.backends.hf import HFBackend

    backend = HFBackend(model=ckpt, device="cpu")
    try:
        gen = backend.generate([get_prompt("qwen-boxed").render("What is 3+4?").text], SamplingParams(max_new_tokens=8))
    finally:
        backend.close()
    assert len(gen) == 1 and gen[0][0].tokens and isinstance(gen[0][0].text, str)


@pytest.mark.slow
def test_packed_training_learns_and_saves_a_plain_checkpoint(tiny_checkpoint, sft_file, tmp_path, restore_env):
    out = tmp_path / "run"
    summary = _run(tiny_checkpoint, [sft_file], out, packing=True, deepspeed="none", epochs=8, lr=3e-3,
                   batch_size=2, global_batch=2, max_length=512, save_steps=1000)
    st = summary["stages"][0]
    assert 4 <= st["packs"] < 16 and st["steps"] == 8 * -(-st["packs"] // 2)  # 8 epochs of packs, 2 per step
    losses = _losses(out)
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    # the training-only attention implementation is not written into the checkpoint
    assert "sdpa_varlen" not in (out / "config.json").read_text()
    _generates(out)


@pytest.mark.slow
def test_lora_trains_only_adapters_and_saves_a_merged_checkpoint(tiny_checkpoint, sft_file, tmp_path, restore_env):
    import torch
    from safetensors.torch import load_file

    out = tmp_path / "run"
    summary = _run(tiny_checkpoint, [sft_file], out, lora=True, deepspeed="zero2", epochs=4, lr=1e-2,
                   batch_size=8, global_batch=8, save_steps=16)
    assert summary["stages"][0]["steps"] == 16
    losses = _losses(out)
    assert sum(losses[-3:]) / 3 < 0.9 * sum(losses[:3]) / 3, losses
    # the resumable checkpoint of the last step holds only the adapters
    ckpt = out / "stage1" / "checkpoint-16"
    assert (ckpt / "adapter_model.safetensors").is_file() and not (ckpt / "model.safetensors").exists()
    adapter = load_file(ckpt / "adapter_model.safetensors")
    assert adapter and all(".lora_A." in k or ".lora_B." in k for k in adapter), sorted(adapter)[:4]
    # merged = base + (alpha / r) * B @ A on every linear layer; every other weight is the base's, untouched
    base, merged = load_file(tiny_checkpoint / "model.safetensors"), load_file(out / "model.safetensors")
    assert set(merged) == set(base)
    targets = set()
    for k, a in adapter.items():
        if ".lora_A." not in k:
            continue
        name = k.removeprefix("base_model.model.").replace(".lora_A.weight", ".weight")
        b = adapter[k.replace(".lora_A.", ".lora_B.")]
        assert b.abs().sum() > 0  # B starts at zero: it trained
        torch.testing.assert_close(merged[name], base[name] + 2.0 * b @ a, atol=1e-5, rtol=1e-4)
        targets.add(name)
    n_layers = json.loads((tiny_checkpoint / "config.json").read_text())["num_hidden_layers"]
    assert len(targets) == 7 * n_layers  # q k v o gate up down
    assert all(torch.equal(merged[k], base[k]) for k in base if k not in targets)
    assert not (out / "adapter_config.json").exists()
    _generates(out)


# --- bad input: one clear error line each ------------------------------------------------------


def _cli(args):
    from click.testing import CliRunner

    from harness.cli import main

    return CliRunner().invoke(main, ["train", *args])


def _rank_cli(args):
    """``python -m train.sft`` (one rank, this process): the same flags as ``harness train``."""
    from click.testing import CliRunner

    from train.sft import main

    return CliRunner().invoke(main, list(args))


def _one_error_line(res) -> str:
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


@pytest.mark.parametrize(
    "rows,needle",
    [
        ([{"prompt": "Question: 1+1?\nAnswer:"}], "'response'"),
        ([{"response": "The answer is: 2"}], "'prompt'+'response', 'question'+'answer'"),
        ([{"question": "1+1?", "response": "The answer is: 2", "prompt_name": "qwen-boxd"}], "Did you mean 'qwen-boxed'"),
        ([], "empty file"),
        ([{"prompt": "Q: 1+1?\nAnswer:", "response": "I am not sure."}], "no usable examples"),
    ],
    ids=["no-response", "no-prompt", "bad-prompt-name", "empty", "only-no-answer"],
)
def test_bad_data_one_error_line(tiny_checkpoint, tmp_path, rows, needle, restore_env):
    p = tmp_path / "bad.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["--model", str(tiny_checkpoint), "--data", str(p), "--output", str(tmp_path / "o")]
    line = _one_error_line(_rank_cli(args))
    assert needle in line and str(p) in line
    if needle == "'response'":  # through `harness train`: the child's error comes back as the parent's one line
        assert _one_error_line(_cli(args)) == line


def test_non_checkpoint_base_and_bad_flags(tmp_path, sft_file):
    empty = tmp_path / "notackpt"
    empty.mkdir()
    line = _one_error_line(_cli(["--model", str(empty), "--data", str(sft_file), "--output", str(tmp_path / "o")]))
    assert "config.json" in line
    line = _one_error_line(_cli(["--model", str(tmp_path / "nope"), "--data", str(sft_file), "--output", "o"]))
    assert "found nothing there" in line
    line = _one_error_line(
        _cli(["--model", str(empty), "--data", str(sft_file), "--output", "o", "--lr", "-1", "--deepspeed", "zero4"])
    )
    assert "lr: expected a number > 0, found -1.0" in line and "deepspeed: expected zero2, zero3, none" in line
    line = _one_error_line(_cli(["--model", str(empty), "--data", str(sft_file), "--output", "o", "--lora"]))
    assert "lora: not supported with ZeRO-3" in line
    ds3 = tmp_path / "my_zero3.json"
    ds3.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    line = _one_error_line(
        _cli(["--model", str(empty), "--data", str(sft_file), "--output", "o", "--lora", "--deepspeed", str(ds3)])
    )
    assert "lora: not supported with ZeRO-3" in line
    line = _one_error_line(_cli(["--model", str(empty), "--data", str(sft_file), "--output", "o", "--preset", "skywrk"]))
    assert "Did you mean 'skywork'" in line
    line = _one_error_line(_cli(["--data", str(sft_file), "--max-steps", "0"]))
    assert "model: required" in line and "output: required" in line and "max_steps: expected -1" in line


BLOCK_PEFT = """
import sys


class NoPeft:
    \"\"\"A meta path finder that makes `import peft` fail as it does when peft is not installed.\"\"\"

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "peft" or name.startswith("peft."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoPeft)
"""


def test_lora_without_peft_is_one_clear_error(tiny_checkpoint, sft_file, tmp_path):
    """A real process in which peft cannot be imported (a sitecustomize blocks it), as on a machine
    without it; independent of what this test process has imported."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_PEFT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    probe = subprocess.run([sys.executable, "-c", "import peft"], env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1 and "No module named 'peft'" in probe.stderr, probe.stderr
    args = ["--model", str(tiny_checkpoint), "--data", str(sft_file), "--output", str(tmp_path / "o"), "--lora",
            "--deepspeed", "none"]
    r = subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", "train", *args], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert r.returncode == 1 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "--lora needs the peft package" in lines[0] and "pip install" in lines[0]
    assert not (tmp_path / "o").exists()  # refused before anything was launched or written


# --- processes: the output lock, DeepSpeed's build lock ------------------------------------------

HOLD = """
import sys
from train.launch import hold_output
with hold_output(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_output_lock_refuses_a_live_writer_and_frees_at_its_death(tmp_path):
    from harness.errors import ConfigError
    from train.launch import hold_output
    from train.rundir import LOCK_FILE

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # the event: the lock is taken
        with pytest.raises(ConfigError, match=rf"Another training process \(pid {holder.pid}\) is still writing"):
            with hold_output(out, wait_s=0.2):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, the kernel frees the flock
        holder.wait()
    assert (out / LOCK_FILE).exists()
    with hold_output(out, wait_s=0):
        assert (out / "train.pid").read_text().strip() == str(os.getpid())


@pytest.mark.slow
def test_stale_deepspeed_build_lock_is_cleared(tmp_path):
    """torch's build lock left by a killed DeepSpeed op build (no owner) made every later run wait
    forever; now it is removed under a kernel lock and the op loads."""
    import shutil

    from train.launch import extensions_dir

    ext = tmp_path / "ext"
    built = Path(extensions_dir()) / "deepspeed_shm_comm"
    if (built / "deepspeed_shm_comm.so").is_file():  # reuse the cached build (ninja finds it up to date)
        shutil.copytree(built, ext / "deepspeed_shm_comm", ignore=shutil.ignore_patterns("lock"))
    (ext / "deepspeed_shm_comm").mkdir(parents=True, exist_ok=True)
    stale = ext / "deepspeed_shm_comm" / "lock"
    stale.write_text("")
    code = "from train.launch import prepare_deepspeed_ops; prepare_deepspeed_ops(); print('loaded')"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TORCH_EXTENSIONS_DIR": str(ext), "DS_ACCELERATOR": "cpu"}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "loaded" in r.stdout, r.stderr[-2000:]
    assert "left by a DeepSpeed op build that was killed" in r.stderr and not stale.exists()


def test_every_option_is_declared_once_in_train_config(tmp_path):
    """The flags of `harness train` and `python -m train.sft`, the preset keys and the ranks' JSON hand-off
    all come from TrainConfig's fields."""
    import dataclasses

    from click.testing import CliRunner

    from harness.cli.train import train
    from harness.options import read_json, write_json
    from train.config import TrainConfig, build_config
    from train.sft import main as sft_main

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for cmd in (train, sft_main):
        opts = {p.name: p.opts for p in cmd.params}
        assert set(opts) - {"preset", "config_file", "local_rank"} == names
        assert all("--" + n.replace("_", "-") in opts[n] for n in names)
        assert CliRunner().invoke(cmd, ["--help"]).exit_code == 0
    cfg = build_config(model="m", data=["a.jsonl", "b.jsonl"], output="o",
                       overrides={"lr": 1e-4, "packing": True, "grad_accum": 2, "bf16": False})
    assert read_json(TrainConfig, write_json(cfg, tmp_path / "cfg.json")) == cfg
    (tmp_path / "bad.json").write_text(json.dumps({**cfg.to_dict(), "lr": "fast"}))
    with pytest.raises(Exception, match="lr: expected a number > 0, found 'fast'"):
        read_json(TrainConfig, tmp_path / "bad.json")
    res = CliRunner().invoke(sft_main, ["--config-file", str(tmp_path / "cfg.json"), "--lr", "1"])
    assert res.exit_code == 1 and "--config-file replaces the other flags; found also lr" in res.output


def test_presets_and_deepspeed_configs_validate():
    from train.config import CONFIG_DIR, build_config, deepspeed_config, load_preset

    presets = sorted(CONFIG_DIR.rglob("*.yaml"))
    assert presets
    for p in presets:
        assert p.read_text().startswith("#"), f"{p} must open with a comment giving the launch command"
        load_preset(str(p))
    cfg = build_config(model="m", data=["d"], output="o")
    assert (cfg.epochs, cfg.lr, cfg.weight_decay, cfg.warmup_ratio, cfg.global_batch, cfg.max_length) == (
        3, 2e-5, 0.0, 0.03, 32, 2048
    )
    for name in ("zero2", "zero3"):
        ds = deepspeed_config(build_config(model="m", data=["d"], output="o", overrides={"deepspeed": name}))
        assert ds["zero_optimization"]["stage"] == int(name[-1])
        assert ds["optimizer"]["params"]["torch_adam"] is True
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
