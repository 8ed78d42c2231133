#!/usr/bin/env python3
"""Helpers of .github/workflows/benchmark.yml that are more than a line of bash.

    ci_benchmark.py extra CONFIG         the actbench extra to install for CONFIG's backend
    ci_benchmark.py config-name DIR      the config name of a result dir (names its artifact)
    ci_benchmark.py config-hash DIR      the config hash of a result dir
    ci_benchmark.py default-branch       the repository's default branch (from the API)
    ci_benchmark.py find-baseline --artifact NAME --branch BRANCH --workflow FILE --out DIR

find-baseline downloads the artifact NAME of the last successful run of the workflow on
BRANCH (pushes, schedules and manual runs of this repository; never pull requests) into
DIR, and writes found / run_id / run_url / why to $GITHUB_OUTPUT. Both talk to the GitHub
REST API at $GITHUB_API_URL (the runner sets it; tests point it at a local stand-in) with
$GITHUB_TOKEN, for $GITHUB_REPOSITORY. An API failure fails the step: treating it as "no
baseline" would let every run pass unchecked.

Standard library only, except `extra`, which reads the config with actbench's own loader.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

# The extras of pyproject.toml, per (backend, GPU expected). TensorFlow's CPU build is a
# core dependency, so a CPU runner with backend tensorflow needs no extra.
EXTRAS = {
    ("tensorflow", False): "",
    ("tensorflow", True): "tf-cuda",
    ("jax", False): "jax",
    ("jax", True): "jax-cuda",
}
# How many of the newest successful runs are searched for the artifact (one API page).
RUNS_SEARCHED = 50
BASELINE_EVENTS = {"push", "schedule", "workflow_dispatch"}


class CIError(Exception):
    pass


def gpu_expected() -> bool:
    # Same reading as actbench.backends.base: unset, "" and "0" mean no.
    return os.environ.get("ACTBENCH_EXPECT_GPU", "0") not in ("", "0")


def extra_for(config: Path, gpu: bool) -> str:
    from actbench import config as config_module
    from actbench.errors import ActbenchError

    try:
        backend = config_module.load(config).backend
    except ActbenchError as e:
        raise CIError(str(e)) from e
    return EXTRAS[(backend, gpu)]


def metadata(result_dir: Path) -> dict:
    path = result_dir / "metadata.json"
    if not path.is_file():
        raise CIError(f"{path}: no such file ({result_dir} is not an actbench result dir)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CIError(f"{path}: not JSON ({e})") from e


class GitHubAPI:
    """The three calls find-baseline makes, over urllib."""

    def __init__(self, base_url: str, repository: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.repository = repository
        self.token = token

    def get(self, url: str) -> bytes:
        if url.startswith("/"):
            url = self.base_url + url
        request = urllib.request.Request(url)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        # Unredirected: an artifact download redirects to blob storage, which must not get the token.
        request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            hint = " (does the workflow have `permissions: actions: read`?)" if e.code in (401, 403, 404) else ""
            raise CIError(f"GitHub API GET {url}: HTTP {e.code} {e.reason}{hint}") from e
        except urllib.error.URLError as e:
            raise CIError(f"GitHub API GET {url}: {e.reason}") from e

    def get_json(self, path: str, **query: str | int) -> dict:
        url = f"/repos/{self.repository}{path}"
        return json.loads(self.get(f"{url}?{urllib.parse.urlencode(query)}" if query else url))


def find_baseline(api: GitHubAPI, workflow: str, branch: str, artifact: str, out: Path) -> dict[str, str]:
    """Download the newest live `artifact` of a successful run on `branch` into `out`."""
    runs = api.get_json(f"/actions/workflows/{workflow}/runs", branch=branch, status="success", per_page=RUNS_SEARCHED)[
        "workflow_runs"
    ]
    own = [
        r
        for r in runs
        if r["event"] in BASELINE_EVENTS and (r.get("head_repository") or {}).get("full_name") == api.repository
    ]
    for run in own:
        found = api.get_json(f"/actions/runs/{run['id']}/artifacts", name=artifact)["artifacts"]
        if not found:
            continue  # that run benchmarked another config
        art = found[0]
        if art["expired"]:
            return {
                "found": "false",
                "why": f"the last baseline, {artifact} of run {run['id']}, expired on {art.get('expires_at')}",
            }
        with zipfile.ZipFile(io.BytesIO(api.get(art["archive_download_url"]))) as z:
            z.extractall(out)  # zipfile drops absolute paths and '..' from member names
        return {"found": "true", "run_id": str(run["id"]), "run_url": run["html_url"], "why": ""}
    if not own:
        why = f"no successful run of {workflow} on {branch} yet"
    else:
        why = f"none of the last {len(own)} successful runs on {branch} has an artifact {artifact}"
    return {"found": "false", "why": why}


def write_outputs(values: dict[str, str]) -> None:
    lines = "".join(f"{k}={v}\n" for k, v in values.items())
    sys.stdout.write(lines)
    if path := os.environ.get("GITHUB_OUTPUT"):
        with open(path, "a") as f:
            f.write(lines)


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise CIError(f"${name} is not set (the GitHub runner sets it)")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extra").add_argument("config", type=Path)
    sub.add_parser("config-name").add_argument("result_dir", type=Path)
    sub.add_parser("config-hash").add_argument("result_dir", type=Path)
    sub.add_parser("default-branch")
    find = sub.add_parser("find-baseline")
    find.add_argument("--artifact", required=True)
    find.add_argument("--branch", required=True)
    find.add_argument("--workflow", required=True, help="the workflow's file name, e.g. benchmark.yml")
    find.add_argument("--out", required=True, type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "extra":
            print(extra_for(args.config, gpu_expected()))
        elif args.command == "config-name":
            print(metadata(args.result_dir)["config"]["name"])
        elif args.command == "config-hash":
            print(metadata(args.result_dir)["config_hash"])
        else:
            api = GitHubAPI(
                os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                env("GITHUB_REPOSITORY"),
                env("GITHUB_TOKEN"),
            )
            if args.command == "default-branch":
                print(api.get_json("")["default_branch"])
            else:
                write_outputs(find_baseline(api, args.workflow, args.branch, args.artifact, args.out))
    except CIError as e:
        print(f"::error::{e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
