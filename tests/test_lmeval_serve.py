"""lm-eval against ``harness serve``: lm-eval's DEFAULT ``local-completions`` client (token-id requests,
``logprobs`` + ``echo`` for loglikelihood) runs a tiny multiple-choice task and a tiny generation task, written
here as lm-eval YAMLs over a few rows, against a real ``harness serve`` subprocess on the tiny checkpoint; every
loglikelihood, greedy flag, generation and score equals lm-eval's own ``--model hf`` on the same checkpoint.

Run: ``OMP_NUM_THREADS=1 python3 -m pytest -q tests/test_lmeval_serve.py``.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

ROWS = [
    {"question": "1+1=", "choices": ["2", "3", "11"], "answer": 0, "target": "2"},
    {"question": "The sky is", "choices": [" blue", " green"], "answer": 0, "target": " blue"},
    {"question": "ab", "choices": ["c", "cd", "b"], "answer": 1, "target": "c"},
    {"question": "x = 3, so 2x =", "choices": [" 6", " 5", " 9", " 32"], "answer": 0, "target": " 6"},
]

MC_YAML = """task: tiny_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""

GEN_YAML = """task: tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{target}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


@pytest.fixture
def tasks(tmp_path, monkeypatch):
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hfcache"))
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    inc = tmp_path / "tasks"
    inc.mkdir()
    (inc / "tiny_mc.yaml").write_text(MC_YAML.format(data=data))
    (inc / "tiny_gen.yaml").write_text(GEN_YAML.format(data=data))
    return TaskManager(include_path=str(inc), include_defaults=False)


def _run(tasks, model, model_args):
    import lm_eval

    return lm_eval.simple_evaluate(model=model, model_args=model_args, tasks=["tiny_mc", "tiny_gen"],
                                   task_manager=tasks, log_samples=True, batch_size=1, device="cpu")


def test_local_completions_against_harness_serve_equals_hf(tasks, tiny_checkpoint, harness_serve):
    pytest.importorskip("lm_eval")
    pytest.importorskip("tenacity")  # lm-eval[api]
    with harness_serve(tiny_checkpoint, "--batch-size", "4") as url:
        served = _run(tasks, "local-completions",
                      f"base_url={url}/completions,tokenizer={tiny_checkpoint},model={tiny_checkpoint},"
                      "max_retries=1,num_concurrent=2")
    local = _run(tasks, "hf", f"pretrained={tiny_checkpoint}")

    def by_doc(out, task):
        return {s["doc_id"]: s for s in out["samples"][task]}

    served_mc, local_mc = by_doc(served, "tiny_mc"), by_doc(local, "tiny_mc")
    assert sorted(served_mc) == sorted(local_mc) == list(range(len(ROWS)))
    for doc, s in served_mc.items():
        got = [r[0] for r in s["resps"]]
        want = [r[0] for r in local_mc[doc]["resps"]]
        assert len(got) == len(ROWS[doc]["choices"])
        assert [float(ll) for ll, _ in got] == pytest.approx([float(ll) for ll, _ in want], abs=1e-4)
        assert [bool(g) for _, g in got] == [bool(g) for _, g in want]
        assert all(float(ll) < 0 for ll, _ in got)
    assert served["results"]["tiny_mc"]["acc,none"] == local["results"]["tiny_mc"]["acc,none"]
    assert served["results"]["tiny_mc"]["acc_norm,none"] == local["results"]["tiny_mc"]["acc_norm,none"]

    served_gen, local_gen = by_doc(served, "tiny_gen"), by_doc(local, "tiny_gen")
    assert {d: s["resps"] for d, s in served_gen.items()} == {d: s["resps"] for d, s in local_gen.items()}
    assert served["results"]["tiny_gen"]["exact_match,none"] == local["results"]["tiny_gen"]["exact_match,none"]
