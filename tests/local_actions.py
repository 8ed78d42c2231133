"""Run a GitHub Actions workflow's jobs here: its `run:` steps for real, in bash, in order.

What is real and what stands in for GitHub:

* every `run:` step runs as GitHub runs it with `shell: bash`
  (`bash --noprofile --norc -eo pipefail`), with GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
  GITHUB_WORKSPACE, GITHUB_API_URL, ... set, in a fresh workspace per job (a fresh runner);
* `${{ }}` expressions are evaluated by `evaluate` below, which knows exactly the forms
  benchmark.yml uses and raises on anything else, and step `if:` by `condition`
  (GitHub's implicit `success()` included);
* `uses:` steps are replaced by local equivalents: checkout = a copy of the repository's
  files (tracked and untracked, not ignored); setup-python = this checkout's .venv on PATH;
  cache = nothing; upload/download-artifact = folders of an `ArtifactStore`;
* the GitHub REST API that scripts/ci_benchmark.py calls is a local HTTP server over the
  same store (runs, their conclusions, their artifacts zipped on download), so the
  script's real urllib code runs;
* `pip` is a recorder on PATH: the package index is out of reach, and this .venv already
  holds actbench installed from this checkout. Tests assert what would have been installed.
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import shutil
import subprocess
import threading
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
TOKEN = "ghs_local_test_token"
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


class UnknownExpression(Exception):
    pass


# ---------------------------------------------------------------- expressions

CONTEXTS = {"github", "inputs", "env", "matrix", "needs", "steps", "secrets"}
LOOKUP = r"[a-z]+(?:\.[A-Za-z_][\w-]*)+"


def lookup(path: str, ctx: dict) -> Any:
    """A dotted context path; a missing property is '' as in GitHub (null prints as '')."""
    head, *rest = path.split(".")
    if head not in CONTEXTS:
        raise UnknownExpression(f"unknown context {head!r} in {path!r}")
    node: Any = ctx.get(head, {})
    for part in rest:
        if not isinstance(node, dict):
            return ""
        node = node.get(part, "")
    return node


def evaluate(expr: str, ctx: dict) -> Any:
    """The value of one `${{ expr }}`: the forms benchmark.yml uses, nothing else."""
    expr = expr.strip()
    if re.fullmatch(LOOKUP, expr):
        return lookup(expr, ctx)
    if " || " in expr:  # the first truthy operand ('' is falsy in GitHub too), else the last
        *parts, last = [p.strip() for p in expr.split(" || ")]
        for part in parts:
            if value := _operand(part, ctx):
                return value
        return _operand(last, ctx)
    if m := re.fullmatch(rf"fromJSON\(({LOOKUP})\)", expr):
        return json.loads(lookup(m[1], ctx))
    raise UnknownExpression(f"the local runner does not know the expression ${{{{ {expr} }}}}")


def _operand(part: str, ctx: dict) -> Any:
    if re.fullmatch(LOOKUP, part):
        return lookup(part, ctx)
    if m := re.fullmatch(r"'([^']*)'", part):
        return m[1]
    raise UnknownExpression(f"the local runner does not know the operand {part!r}")


def substitute(text: str, ctx: dict) -> str:
    def one(m: re.Match) -> str:
        value = evaluate(m[1], ctx)
        return value if isinstance(value, str) else json.dumps(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def condition(expr: str | None, ctx: dict, failed: bool) -> bool:
    """A step's `if:`: terms joined by &&; without a status function GitHub adds success()."""
    terms = [t.strip() for t in (expr or "").split("&&") if t.strip()]
    if not any(t in ("always()", "success()", "failure()") for t in terms):
        terms.insert(0, "success()")
    for t in terms:
        if t == "always()":
            ok = True
        elif t == "success()":
            ok = not failed
        elif t == "failure()":
            ok = failed
        elif m := re.fullmatch(rf"({LOOKUP}) (==|!=) '([^']*)'", t):
            ok = (lookup(m[1], ctx) == m[3]) == (m[2] == "==")
        else:
            raise UnknownExpression(f"the local runner does not know the condition term {t!r}")
        if not ok:
            return False
    return True


# ---------------------------------------------------------------- the artifact store and its API


class ArtifactStore:
    """runs/<id>/run.json (event, branch, conclusion) and runs/<id>/artifacts/<name>/."""

    def __init__(self, root: Path, repository: str):
        self.root = root
        self.repository = repository
        (root / "runs").mkdir(parents=True, exist_ok=True)
        self.requests: list[tuple[str, bool]] = []  # (path, sent a token)

    def new_run(self, event: str, branch: str) -> int:
        run_id = 1 + max((int(p.name) for p in (self.root / "runs").iterdir()), default=0)
        self._write(run_id, {"event": event, "head_branch": branch, "conclusion": None})
        return run_id

    def _write(self, run_id: int, info: dict) -> None:
        d = self.root / "runs" / str(run_id)
        (d / "artifacts").mkdir(parents=True, exist_ok=True)
        (d / "run.json").write_text(json.dumps(info))

    def run_info(self, run_id: int) -> dict:
        return json.loads((self.root / "runs" / str(run_id) / "run.json").read_text())

    def finish(self, run_id: int, conclusion: str) -> None:
        self._write(run_id, {**self.run_info(run_id), "conclusion": conclusion})

    def artifacts(self, run_id: int) -> Path:
        return self.root / "runs" / str(run_id) / "artifacts"

    def artifact_id(self, run_id: int, name: str) -> int:
        names = sorted(p.name for p in self.artifacts(run_id).iterdir())
        return run_id * 1000 + names.index(name)

    def expire(self, run_id: int, name: str) -> None:
        (self.artifacts(run_id) / name / ".expired").touch()

    # The REST API, as far as scripts/ci_benchmark.py uses it.
    def api(self, base: str, path: str, query: dict[str, str]) -> tuple[int, dict | bytes | str]:
        if path == f"/repos/{self.repository}":
            return 200, {"full_name": self.repository, "default_branch": "main"}
        prefix = f"/repos/{self.repository}/actions"
        runs = sorted((int(p.name) for p in (self.root / "runs").iterdir()), reverse=True)  # newest first
        if m := re.fullmatch(prefix + r"/workflows/([^/]+)/runs", path):
            chosen = [
                r
                for r in runs
                if self.run_info(r)["head_branch"] == query.get("branch")
                and self.run_info(r)["conclusion"] == query.get("status")
            ][: int(query.get("per_page", 30))]
            return 200, {
                "total_count": len(chosen),
                "workflow_runs": [
                    {
                        "id": r,
                        "event": self.run_info(r)["event"],
                        "head_branch": self.run_info(r)["head_branch"],
                        "conclusion": self.run_info(r)["conclusion"],
                        "html_url": f"https://github.com/{self.repository}/actions/runs/{r}",
                        "head_repository": {"full_name": self.repository},
                    }
                    for r in chosen
                ],
            }
        if m := re.fullmatch(prefix + r"/runs/(\d+)/artifacts", path):
            run_id = int(m[1])
            names = [p.name for p in sorted(self.artifacts(run_id).iterdir()) if p.name == query.get("name")]
            return 200, {
                "total_count": len(names),
                "artifacts": [
                    {
                        "id": self.artifact_id(run_id, n),
                        "name": n,
                        "expired": (self.artifacts(run_id) / n / ".expired").exists(),
                        "expires_at": "2026-03-01T03:00:00Z",
                        "archive_download_url": f"{base}{prefix}/artifacts/{self.artifact_id(run_id, n)}/zip",
                    }
                    for n in names
                ],
            }
        if m := re.fullmatch(prefix + r"/artifacts/(\d+)/zip", path):
            # GitHub answers 302 to a short-lived blob storage URL.
            return 302, f"{base}/blob/{m[1]}"
        if m := re.fullmatch(r"/blob/(\d+)", path):
            run_id, index = divmod(int(m[1]), 1000)
            folder = sorted(self.artifacts(run_id).iterdir())[index]
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                for f in sorted(folder.rglob("*")):
                    if f.is_file() and f.name != ".expired":
                        z.write(f, f.relative_to(folder).as_posix())
            return 200, buf.getvalue()
        return 404, {"message": "Not Found"}


class FakeGitHubAPI:
    def __init__(self, store: ArtifactStore):
        self.store = store
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self):
        store, api = self.store, self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                sent_token = self.headers.get("Authorization") == f"Bearer {TOKEN}"
                store.requests.append((url.path, sent_token))
                if url.path.startswith("/blob/"):
                    # Blob storage rejects a request that carries the API token as well.
                    status, body = (
                        (400, {"message": "token sent to blob storage"})
                        if self.headers.get("Authorization")
                        else store.api(api.url, url.path, query)
                    )
                elif not sent_token:
                    status, body = 401, {"message": "Requires authentication"}
                else:
                    status, body = store.api(api.url, url.path, query)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", str(body))
                    body = b""
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- running jobs


@dataclass
class StepResult:
    name: str
    outcome: str  # success, failure, skipped
    output: str = ""
    summary: str = ""


@dataclass
class JobResult:
    name: str
    matrix: dict
    runs_on: str
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def conclusion(self) -> str:
        return "failure" if any(s.outcome == "failure" for s in self.steps) else "success"

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


@dataclass
class RunResult:
    run_id: int
    jobs: list[JobResult]
    conclusion: str

    def job(self, name: str) -> JobResult:
        return next(j for j in self.jobs if j.name == name)

    def log(self) -> str:
        return "\n".join(
            f"--- {j.name} {j.matrix or ''} / {s.name}: {s.outcome}\n{s.output}" for j in self.jobs for s in j.steps
        )


@dataclass
class Event:
    name: str  # workflow_dispatch, schedule, push, pull_request
    branch: str = "main"  # the branch the run belongs to (a pull request's head branch)
    inputs: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # the commit's files beyond this working tree's

    @property
    def ref(self) -> str:
        return "refs/pull/1/merge" if self.name == "pull_request" else f"refs/heads/{self.branch}"


class LocalRunner:
    def __init__(self, workflow: Path, root: Path, repository: str = "actbench/actbench"):
        self.workflow = yaml.safe_load(workflow.read_text())
        self.current = self.workflow
        self.workflow_path = workflow
        self.root = root
        self.repository = repository
        self.store = ArtifactStore(root / "store", repository)
        self.api = FakeGitHubAPI(self.store)
        self.pip_log = root / "pip.log"
        self._pip_shim()

    def _pip_shim(self) -> None:
        d = self.root / "pip-shim"
        d.mkdir(exist_ok=True)
        pip = d / "pip"
        pip.write_text(f'#!/bin/sh\necho "$*" >> "{self.pip_log}"\n')
        pip.chmod(0o755)

    def close(self) -> None:
        self.api.close()

    def inputs_with_defaults(self, event: Event) -> dict[str, str]:
        if event.name != "workflow_dispatch":
            return {}  # other events have no inputs: every inputs.X is ''
        declared = self.current[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads `on` as True
        unknown = set(event.inputs) - set(declared)
        assert not unknown, f"inputs the workflow does not declare: {unknown}"
        return {k: str(event.inputs.get(k, v.get("default", ""))) for k, v in declared.items()}

    def run(
        self,
        event: Event,
        jobs: list[str] | None = None,
        artifacts_from: int | None = None,
        before_step: dict[str, Any] | None = None,
    ) -> RunResult:
        """One workflow run. `jobs` limits which jobs run (their needs must then come from
        `artifacts_from`, an earlier run whose artifacts and job outputs are reused);
        `before_step` maps a step name to a function(workspace) called before it."""
        rel = self.workflow_path.relative_to(REPO).as_posix()
        # A commit that edits the workflow runs its own version of it.
        self.current = yaml.safe_load(event.files[rel]) if rel in event.files else self.workflow
        run_id = self.store.new_run(event.name, event.branch)
        ctx_base = {
            "github": {
                "event_name": event.name,
                "ref": event.ref,
                "repository": self.repository,
                "run_id": str(run_id),
                "token": TOKEN,
            },
            "inputs": self.inputs_with_defaults(event),
            "secrets": {"GITHUB_TOKEN": TOKEN},
        }
        results: list[JobResult] = []
        needs_ctx: dict[str, dict] = {}
        self.producers: dict[str, str] = {}  # artifact name -> the job that uploaded it
        if artifacts_from is not None:
            earlier = json.loads((self.store.root / "runs" / str(artifacts_from) / "jobs.json").read_text())
            needs_ctx = earlier["needs"]
            for name, job_name in earlier["producers"].items():
                if job_name not in (jobs or []):  # what the jobs that run now upload, they upload anew
                    shutil.copytree(self.store.artifacts(artifacts_from) / name, self.store.artifacts(run_id) / name)
                    self.producers[name] = job_name
        failed_jobs: set[str] = set()
        for job_name, job in self.current["jobs"].items():
            if jobs is not None and job_name not in jobs:
                continue
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            if failed_jobs & set(needs):
                results.append(JobResult(job_name, {}, "", [StepResult("(job)", "skipped")]))
                failed_jobs.add(job_name)
                continue
            ctx = {**ctx_base, "needs": {n: needs_ctx[n] for n in needs}}
            matrix = job.get("strategy", {}).get("matrix")
            instances = [{}]
            if matrix:
                ((key, values),) = matrix.items()
                if isinstance(values, str):
                    values = evaluate(re.fullmatch(r"\$\{\{(.*)\}\}", values.strip())[1], ctx)
                instances = [{key: v} for v in values]
            for m in instances:
                result = self._job(run_id, job_name, job, {**ctx, "matrix": m}, before_step or {}, event.files)
                results.append(result)
                if result.conclusion == "failure":
                    failed_jobs.add(job_name)
                needs_ctx[job_name] = {"outputs": result.outputs, "result": result.conclusion}
        (self.store.root / "runs" / str(run_id) / "jobs.json").write_text(
            json.dumps({"needs": needs_ctx, "producers": self.producers})
        )
        conclusion = "failure" if failed_jobs else "success"
        self.store.finish(run_id, conclusion)
        return RunResult(run_id, results, conclusion)

    def _job(self, run_id: int, name: str, job: dict, ctx: dict, before_step: dict, files: dict) -> JobResult:
        workspace = self.root / f"run{run_id}" / (name + "".join(f"-{v}" for v in ctx["matrix"].values()))
        workspace.mkdir(parents=True)
        home = workspace.parent / f"{workspace.name}-home"
        home.mkdir()
        result = JobResult(name, ctx["matrix"], substitute(job["runs-on"], ctx))
        env = {k: substitute(str(v), ctx) for k, v in self.current.get("env", {}).items()}
        env.update({k: substitute(str(v), {**ctx, "env": env}) for k, v in job.get("env", {}).items()})
        path = [str(self.root / "pip-shim"), "/usr/local/bin", "/usr/bin", "/bin"]
        steps_ctx: dict[str, dict] = {}
        failed = False
        for i, step in enumerate(job["steps"]):
            sctx = {**ctx, "env": env, "steps": steps_ctx, "job": name}
            step_name = substitute(step.get("name") or step.get("uses") or f"step {i}", sctx)
            if not condition(step.get("if"), sctx, failed):
                result.steps.append(StepResult(step_name, "skipped"))
                if "id" in step:
                    steps_ctx[step["id"]] = {"outcome": "skipped", "outputs": {}}
                continue
            if step_name in before_step:
                before_step[step_name](workspace)
            if "uses" in step:
                outcome, output = self._uses(run_id, step, sctx, workspace, path, files)
                outputs: dict[str, str] = {}
                summary = ""
            else:
                outcome, output, outputs, summary = self._run(step, sctx, env, workspace, home, path, run_id, i)
            result.steps.append(StepResult(step_name, outcome, output, summary))
            if "id" in step:
                steps_ctx[step["id"]] = {"outcome": outcome, "outputs": outputs}
            failed = failed or outcome == "failure"
        result.outputs = {
            k: substitute(v, {**ctx, "env": env, "steps": steps_ctx}) for k, v in job.get("outputs", {}).items()
        }
        return result

    def _run(self, step, ctx, job_env, workspace, home, path, run_id, i):
        files = workspace.parent / f"{workspace.name}-step{i}"
        files.mkdir()
        out_file, summary_file = files / "output", files / "summary"
        out_file.touch()
        summary_file.touch()
        env = {
            **job_env,
            **{k: substitute(str(v), ctx) for k, v in step.get("env", {}).items()},
            "PATH": ":".join(path),
            "HOME": str(home),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(out_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_API_URL": self.api.url,
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_EVENT_NAME": ctx["github"]["event_name"],
            "GITHUB_REF": ctx["github"]["ref"],
            "GITHUB_RUN_ID": str(run_id),
            "RUNNER_TEMP": str(files),
            "LANG": "C.UTF-8",
        }
        script = files / "script.sh"
        script.write_text(substitute(step["run"], ctx))
        p = subprocess.run(
            [*BASH, str(script)],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
        outputs = {}
        for line in out_file.read_text().splitlines():
            assert "<<" not in line, f"multi-line outputs are not supported here: {line!r}"
            key, _, value = line.partition("=")
            outputs[key] = value
        return "success" if p.returncode == 0 else "failure", p.stdout, outputs, summary_file.read_text()

    def _uses(self, run_id, step, ctx, workspace, path, extra_files) -> tuple[str, str]:
        action = step["uses"].split("@")[0]
        # The cache step's `with:` holds hashFiles(), which nothing here needs (the cache does nothing).
        inputs = {} if action == "actions/cache" else step.get("with", {})
        args = {k: substitute(str(v), ctx) for k, v in inputs.items()}
        if action == "actions/checkout":
            files = subprocess.run(
                ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
            ).stdout.decode()
            for rel in filter(None, files.split("\0")):
                src = REPO / rel
                if src.is_file():  # a deleted but still tracked file is not in the working tree
                    (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, workspace / rel)
            for rel, text in extra_files.items():
                (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
                (workspace / rel).write_text(text)
            return "success", "checked out a copy of the working tree"
        if action == "actions/setup-python":
            path.insert(1, str(VENV_BIN))  # after the pip recorder, before the system's python
            return "success", f"python: {VENV_BIN / 'python'}"
        if action == "actions/cache":
            return "success", "no cache here"
        if action == "actions/upload-artifact":
            src = workspace / args["path"]
            if not src.exists() or not any(src.iterdir()):
                if args.get("if-no-files-found", "warn") == "error":
                    return "failure", f"no files found at {args['path']}"
                return "success", f"no files at {args['path']}: nothing uploaded"
            if args["name"] in self.producers:  # upload-artifact@v4 refuses to overwrite
                return "failure", f"an artifact named {args['name']} exists already in this run"
            shutil.copytree(src, self.store.artifacts(run_id) / args["name"])
            self.producers[args["name"]] = ctx["job"]
            return "success", f"uploaded {args['path']} as {args['name']}"
        if action == "actions/download-artifact":
            names = [p.name for p in sorted(self.store.artifacts(run_id).iterdir())]
            chosen = fnmatch.filter(names, args["pattern"])
            for n in chosen:  # several artifacts by pattern: each into path/<name>/
                shutil.copytree(self.store.artifacts(run_id) / n, workspace / args["path"] / n)
            return "success", f"downloaded {chosen}"
        raise AssertionError(f"no local stand-in for {step['uses']}")
