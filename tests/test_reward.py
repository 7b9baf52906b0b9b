"""Reward adapters (``harness.reward``), each called the way its framework calls it:

- TRL: ``f(completions, **columns)`` with plain and conversational completions, ``answer``/``solution``
  columns, a ``task`` column, TRL's ``log_metric``/``log_extra`` callables and a pickle round trip (TRL
  may hand reward functions to a child process); the GRPOTrainer run itself is in test_reward_trl.py;
- verl (not installed here: too heavy): ``harness/verl_reward.py`` loaded by path with
  ``importlib.util.spec_from_file_location`` as verl's ``custom_reward_function.path`` does, then
  ``compute_score(data_source, solution_str, ground_truth, extra_info)`` per sample (also from a thread
  pool, as verl's reward managers do) and ``compute_score_batch(data_sources=..., ...)`` as verl's
  ``batch`` reward manager calls it;
- OpenRLHF's ``--remote_rm_url`` (not installed here): ``harness serve-reward`` over real HTTP on
  loopback, in-process and as a real ``harness serve-reward`` subprocess.

A runaway item (a grading function that never returns, through ``GradingPool(grade_fn=...)``) checks
that ``timeout`` is rewarded as configured, counted and logged.

Run: ``HARNESS_DATA_DIR=../shared/data python3 -m pytest -q tests/test_reward.py``.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.answers import GradingPool, grade
from harness.errors import ConfigError, HarnessError
from harness.reward import RewardConfig, Rewarder, TRLReward, gold_of, rules_for
from harness.rewardserve import make_reward_server

REPO = Path(__file__).resolve().parents[1]
HANG = "<<hang forever>>"


def hang_on_marker(output, gold, rules, mode):
    """A grader that never returns on the HANG output (a runaway parse); ``grade`` otherwise."""
    while output == HANG:
        pass
    return grade(output, gold, rules, mode)


GSM_SOLUTION = "She sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars.\n#### 18"
MATH_SOLUTION = "The denominator factors, so there are $\\boxed{2}$ vertical asymptotes."


# -- TRL ---------------------------------------------------------------------------------------------


def test_trl_plain_and_conversational_completions_with_answer_and_solution_columns():
    f = TRLReward(task="gsm8k")
    plain = ["<think>9 * 2 = 18</think> #### 18", "#### 17", "I am not sure.", "<think>let me think"]
    chat = [[{"role": "assistant", "content": c}] for c in plain]
    golds = [GSM_SOLUTION] * 4
    assert f(plain, answer=golds) == [1.0, 0.0, 0.0, 0.0]
    assert f(chat, solution=golds) == [1.0, 0.0, 0.0, 0.0]
    assert f.counts == {"correct": 2, "wrong": 2, "no_answer": 2, "unclosed_think": 2}


def test_trl_reward_values_are_configurable_per_status():
    f = TRLReward(task="gsm8k", wrong=-1.0, no_answer=-0.5, unclosed_think=-0.75)
    got = f(["#### 18", "#### 17", "nothing", "<think>18?"], answer=["18"] * 4)
    assert got == [1.0, -1.0, -0.5, -0.75]


def test_trl_task_column_applies_each_rows_registered_rules():
    """A ``task`` column names each row's task: svamp is declared with GSM8K rules, math500 with MATH's."""
    f = TRLReward()  # default task math
    completions = ["#### 5", "#### 5", "#### 5", "so $\\boxed{\\frac12}$"]
    got = f(completions, answer=["5", "5", "5", "0.5"], task=["svamp", "math", "math500", "gsm8k"])
    assert got == [1.0, 0.0, 0.0, 1.0]  # '#### N' is a final answer under GSM8K rules only


def test_trl_solution_column_takes_the_box_of_a_worked_solution():
    f = TRLReward()
    assert f(["It is $\\boxed{2}$.", "It is $\\boxed{3}$."], solution=[MATH_SOLUTION] * 2) == [1.0, 0.0]


def test_trl_logs_status_columns_and_timeout_error_rates():
    logged_metrics: dict[str, list[float]] = {}
    columns: dict[str, list] = {}
    f = TRLReward(task="gsm8k")
    f(["#### 18", "#### 1"], answer=["18", "18"], log_metric=lambda k, v: logged_metrics.setdefault(k, []).append(v),
      log_extra=lambda k, v: columns.setdefault(k, v), trainer_state=object())
    assert logged_metrics == {"harness/timeout": [0.0], "harness/error": [0.0]}
    assert columns == {"harness_status": ["correct", "wrong"], "harness_extracted": ["18", "1"]}


def test_trl_reward_pickles_and_keeps_grading():
    f = TRLReward(task="gsm8k", wrong=-1.0)
    f(["#### 18"], answer=["18"])
    g = pickle.loads(pickle.dumps(f))
    assert g(["#### 18", "#### 2"], answer=["18", "18"]) == [1.0, -1.0]
    assert g.counts["correct"] == 2 and g.__name__ == "harness_accuracy"


def test_trl_pooled_and_in_process_rewards_agree():
    completions = [f"<think>step {i}</think> #### {i % 7}" for i in range(200)]
    golds = [str(i % 5) for i in range(200)]
    serial = TRLReward(task="gsm8k")(completions, answer=golds)
    pooled = TRLReward(task="gsm8k", workers=2)(completions, answer=golds)
    assert serial == pooled and 0 < sum(serial) < 200


def test_timeout_is_rewarded_as_configured_counted_and_logged(caplog):
    with GradingPool(1, grade_fn=hang_on_marker) as pool:
        f = TRLReward(task="gsm8k", timeout=-0.25, timeout_s=1.0, pool=pool)
        metrics: dict[str, float] = {}
        with caplog.at_level(logging.WARNING):
            got = f(["#### 18", HANG, "#### 3"], answer=["18"] * 3, log_metric=metrics.__setitem__)
    assert got == [1.0, -0.25, 0.0]
    assert f.counts["timeout"] == 1 and metrics["harness/timeout"] == pytest.approx(1 / 3)
    assert "1 timeout" in caplog.text


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: TRLReward()(["#### 1"], prompt=["q"]), "'answer' \\(or 'solution'\\) column"),
        (lambda: TRLReward(task="gsm8kk"), "Did you mean 'gsm8k'"),
        (lambda: TRLReward()(["#### 1"], answer=["1"], task=["nope"]), "Unknown task 'nope'"),
        (lambda: TRLReward()(["#### 1"], answer=[""]), "hold a reference answer"),
        (lambda: TRLReward()(["a", "b"], answer=["1"]), "one gold per completion"),
    ],
)
def test_trl_configuration_errors_are_clear(call, message):
    with pytest.raises(HarnessError, match=message):
        call()


def test_reward_config_checks_its_fields():
    with pytest.raises(ConfigError, match="workers"):
        RewardConfig(workers=-1)
    with pytest.raises(ConfigError, match="timeout_s"):
        Rewarder(timeout_s=0)


def test_gold_of_reads_answers_solutions_numbers_and_lists():
    gsm, math = rules_for("gsm8k"), rules_for("math")
    assert gold_of(GSM_SOLUTION, gsm) == "18"
    assert gold_of(MATH_SOLUTION, math) == "2"
    assert gold_of(42, gsm) == "42"
    assert gold_of(["\\frac12", "0.5"], math) == ("\\frac12", "0.5")
    assert gold_of("$x = 3$", math) == "x = 3"
    import numpy as np
    assert gold_of(np.array(["1", "2"]), math) == ("1", "2") and gold_of(np.int64(7), gsm) == "7"


# -- verl --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verl_module():
    """``harness/verl_reward.py`` loaded as verl loads ``custom_reward_function.path``."""
    spec = importlib.util.spec_from_file_location("custom_module", REPO / "harness" / "verl_reward.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verl_compute_score_maps_data_sources_to_tasks(verl_module):
    compute_score = verl_module.compute_score
    r = compute_score("openai/gsm8k", "<think>9*2</think> #### 18", "18")
    assert r == {"score": 1.0, "acc": 1.0, "status": "correct", "extracted": "18", "timeout": 0.0, "error": 0.0}
    assert compute_score("DigitalLearningGmbH/MATH-lighteval", "so $\\boxed{\\frac{1}{2}}$", "0.5")["score"] == 1.0
    assert compute_score("lighteval/MATH", "#### 2", "2")["status"] == "no_answer"  # MATH rules: no ####
    assert compute_score("svamp", "#### 2", "2")["score"] == 1.0  # a registered task name as is
    assert compute_score("my_source", "#### 2", "2", extra_info={"task": "gsm8k"})["score"] == 1.0
    unclosed = compute_score("openai/gsm8k", "<think>#### 18", "18")
    assert unclosed["status"] == "unclosed_think" and unclosed["score"] == 0.0


def test_verl_reward_kwargs_set_values_and_unknown_ones_are_refused(verl_module):
    r = verl_module.compute_score("openai/gsm8k", "#### 17", "18", None, wrong=-1.0)
    assert r["score"] == -1.0 and r["status"] == "wrong"
    with pytest.raises(ConfigError, match="Did you mean 'wrong'"):
        verl_module.compute_score("openai/gsm8k", "#### 17", "18", None, wromg=-1.0)
    with pytest.raises(HarnessError, match="Unknown task 'openai/gsm9k'"):
        verl_module.compute_score("openai/gsm9k", "#### 17", "18")


def test_verl_compute_score_from_a_thread_pool_matches_serial(verl_module):
    items = [("openai/gsm8k" if i % 2 else "lighteval/MATH",
              f"<think>try {i}</think> " + (f"#### {i % 5}" if i % 2 else f"$\\boxed{{{i % 3}}}$"),
              str(i % 4)) for i in range(160)]
    serial = [verl_module.compute_score(*it) for it in items]
    with ThreadPoolExecutor(8) as ex:
        threaded = list(ex.map(lambda it: verl_module.compute_score(*it), items))
    assert threaded == serial
    assert {r["status"] for r in serial} == {"correct", "wrong"}


def test_verl_batch_reward_manager_form(verl_module):
    got = verl_module.compute_score_batch(
        data_sources=["openai/gsm8k", "lighteval/MATH"], solution_strs=["#### 18", "so $\\boxed{3}$"],
        ground_truths=["18", "4"], extra_infos=[{"index": 0}, {"index": 1}],
    )
    assert [r["status"] for r in got] == ["correct", "wrong"]
    assert [r["score"] for r in got] == [1.0, 0.0]


# -- OpenRLHF: harness serve-reward ------------------------------------------------------------------


@contextlib.contextmanager
def reward_server(api_key=None, **config):
    server = make_reward_server(RewardConfig(**config), port=0, api_key=api_key)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        t.join()


def _post(server, body, path="/get_reward", headers=None, raw=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    data = raw if raw is not None else json.dumps(body).encode()
    conn.request("POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    out = resp.status, json.loads(resp.read())
    conn.close()
    return out


def _get(server, path, headers=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    out = resp.status, json.loads(resp.read())
    conn.close()
    return out


FEWSHOT = "Q: 1+1?\nA: #### 2\nQ: 9*2?\nA:"  # a prompt whose own example holds an answer


def test_serve_reward_answers_the_openrlhf_request_shape():
    prompts = [FEWSHOT] * 4
    responses = [" 9*2 = 18\n#### 18", " #### 17", " I do not know.", " <think>hmm"]
    body = {"query": [p + r for p, r in zip(prompts, responses)], "prompts": prompts, "labels": ["18"] * 4}
    with reward_server(task="gsm8k", wrong=-1.0, workers=2) as server:
        status, out = _post(server, body)
        assert status == 200
        assert out["rewards"] == [1.0, -1.0, 0.0, 0.0]
        assert out["scores"] == [1.0, 0.0, 0.0, 0.0]
        assert out["status"] == ["correct", "wrong", "no_answer", "unclosed_think"]  # the prompt's "#### 2" unseen
        assert out["extracted"] == ["18", "17", None, None]
        assert out["extra_logs"] == {"correct": [1.0, 0, 0, 0], "timeout": [0.0] * 4, "error": [0.0] * 4}
        assert _get(server, "/stats") == (200, {"counts": {"correct": 1, "wrong": 1, "no_answer": 1,
                                                            "unclosed_think": 1}, "items": 4})


def test_serve_reward_query_with_decoded_special_tokens_and_per_item_tasks():
    body = {"query": ["<s>" + FEWSHOT + " #### 18", "<s>Q?\nA: so $\\boxed{\\frac12}$"],
            "prompts": [FEWSHOT, "Q?\n"], "labels": ["18", "0.5"], "tasks": ["svamp", "math500"]}
    with reward_server(workers=0) as server:
        status, out = _post(server, body)
    assert status == 200 and out["status"] == ["correct", "correct"]


@pytest.mark.parametrize(
    "body,needle,param",
    [
        ({"query": ["Q: x"], "prompts": ["Z"], "labels": ["1"]}, "does not contain its prompt", "query"),
        ({"query": ["Q: x"], "prompts": ["Q:"]}, "'labels' to be a list of strings", "labels"),
        ({"query": ["Q: x"], "prompts": ["Q:"], "labels": ["1", "2"]}, "one entry per query (1), found 2", "labels"),
        ({"query": "Q: x", "prompts": ["Q:"], "labels": ["1"]}, "'query' to be a list of strings", "query"),
        ({"query": ["Q: x"], "prompts": ["Q:"], "labels": ["1"], "tasks": ["gsm9k"]}, "Did you mean 'gsm8k'", "tasks"),
        ({"query": ["Q: x"], "prompts": ["Q:"], "labels": [""]}, "reference answer", "labels"),
    ],
)
def test_serve_reward_bad_requests_are_400_with_a_clear_message(body, needle, param):
    with reward_server() as server:
        status, out = _post(server, body)
    assert status == 400 and needle in out["error"]["message"]
    assert out["error"]["type"] == "invalid_request_error" and out["error"]["param"] == param


def test_serve_reward_bad_bodies_routes_and_keys():
    with reward_server(api_key="s3cret") as server:
        ok = {"Authorization": "Bearer s3cret"}
        body = {"query": ["Q: #### 1"], "prompts": ["Q:"], "labels": ["1"]}
        assert _post(server, body)[0] == 401
        assert _post(server, body, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert _get(server, "/stats")[0] == 401
        assert _get(server, "/health") == (200, {"status": "ok"})  # open, for load balancers
        assert _post(server, body, headers=ok)[1]["rewards"] == [0.0]  # math rules: "#### 1" is no answer
        assert _post(server, None, headers=ok, raw=b"{not json")[0] == 400
        assert _post(server, None, headers=ok, raw=b"[1, 2]")[0] == 400
        assert _post(server, body, path="/v1/rewards", headers=ok)[0] == 404
        assert _get(server, "/nope", headers=ok)[0] == 404


@pytest.mark.slow
def test_serve_reward_cli_serves_on_loopback_and_refuses_open_hosts_without_a_key():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("HARNESS_API_KEY", None)
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "serve-reward"]
    refused = subprocess.run([*cmd, "--host", "0.0.0.0", "--port", "0"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: expected an API key")
    assert "Traceback" not in refused.stderr
    proc = subprocess.Popen([*cmd, "--port", "0", "--task", "gsm8k", "--workers", "1", "--wrong", "-1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving rewards at http://127.0.0.1:"), line
        url = line.split()[3]
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = {"query": ["Q: ? #### 18", "Q: ? #### 19"], "prompts": ["Q: ?"] * 2, "labels": ["18"] * 2}
        conn.request("POST", "/get_reward", body=json.dumps(body), headers={"Content-Type": "application/json"})
        assert json.loads(conn.getresponse().read())["rewards"] == [1.0, -1.0]
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
