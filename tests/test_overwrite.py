"""--overwrite, merge -o and report -o remove and replace only what actbench wrote (issue 28).

A user's own files in an output dir (notes, a `report/` or `data/` folder of their own, a
file that happens to be called summary.csv) survive every sequence of commands; actbench's
own report files are replaced. Most tests use fake result dirs (no training); one trains a
one-run tiny config through the whole `run --overwrite` sequence.
"""

import hashlib
import json

import pandas as pd
import pytest
from fake_results import make_frames, make_result_dir, metadata, write_dir
from tiny import tiny_config
from typer.testing import CliRunner

from actbench.analysis.merge import merge_dirs
from actbench.cli import app
from actbench.errors import ResultsError
from actbench.report.markdown import write_report
from actbench.results import MANIFEST_FILE, ResultDir

runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def plant_user_files(d):
    """The files of a user who keeps a project in the dir: returns {path: content}."""
    files = {
        d / "notes.txt": "my notes",
        d / "report" / "thesis.txt": "chapter 3",
        d / "data" / "train.csv": "x,y\n1,2\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def assert_survive(files):
    for path, text in files.items():
        assert path.read_text() == text, path


def one_line(output: str) -> str:
    return " ".join(output.split())  # undo terminal wrapping


# ---------------------------------------------------------------- ResultDir.clear


def test_clear_removes_the_result_files_and_only_actbench_report_files(tmp_path):
    d = make_result_dir(tmp_path / "res")
    mine = plant_user_files(d)
    written = write_report(d)
    removed = ResultDir(d).clear()
    assert_survive(mine)
    assert not any(p.exists() for p in written)
    assert {p.name for p in removed} >= {"runs.csv", "epochs.csv", "metadata.json", "report.md"}
    assert sorted(p.name for p in (d / "report").iterdir()) == ["thesis.txt"]


def test_clear_removes_the_report_folder_only_when_nothing_else_is_in_it(tmp_path):
    d = make_result_dir(tmp_path / "res")
    write_report(d)
    ResultDir(d).clear()
    assert not (d / "report").exists()


def test_clear_leaves_a_report_folder_actbench_did_not_write(tmp_path):
    d = make_result_dir(tmp_path / "res")
    (d / "report").mkdir()
    (d / "report" / "report.md").write_text("the user's own report")
    ResultDir(d).clear()
    assert (d / "report" / "report.md").read_text() == "the user's own report"


def test_clear_keeps_a_report_file_the_user_edited_since(tmp_path):
    d = make_result_dir(tmp_path / "res")
    write_report(d)
    (d / "report" / "report.md").write_text("edited by hand")
    ResultDir(d).clear()
    assert (d / "report" / "report.md").read_text() == "edited by hand"


def test_a_manifest_never_points_outside_its_folder(tmp_path):
    d = make_result_dir(tmp_path / "res")
    mine = plant_user_files(d)
    write_report(d)
    manifest = d / "report" / MANIFEST_FILE
    data = json.loads(manifest.read_text())
    data["files"]["../notes.txt"] = hashlib.sha256(b"my notes").hexdigest()  # hand-edited or damaged
    manifest.write_text(json.dumps(data))
    ResultDir(d).clear()
    assert_survive(mine)


# ---------------------------------------------------------------- report


def test_report_goes_beside_the_users_files(tmp_path):
    d = make_result_dir(tmp_path / "res")
    mine = plant_user_files(d)
    paths = write_report(d)
    assert_survive(mine)
    assert paths[0] == d / "report" / "report.md" and all(p.exists() for p in paths)


def test_report_replaces_its_own_files_and_drops_its_stale_ones(tmp_path):
    r1, e1 = make_frames(model="cnn_a")
    r2, e2 = make_frames(model="cnn_b")
    d = write_dir(tmp_path / "res", pd.concat([r1, r2]), pd.concat([e1, e2]), metadata())
    mine = plant_user_files(d)
    first = {p.name for p in write_report(d)}
    assert "mnist-models.png" in first  # two models: the overview figure
    write_dir(d, r1, e1, metadata())  # one model now: no overview
    second = {p.name for p in write_report(d)}
    assert "mnist-models.png" not in second
    assert sorted(p.name for p in (d / "report").iterdir() if not p.name.startswith(".")) == sorted(
        second | {"thesis.txt"}
    )
    assert_survive(mine)


def test_report_refuses_to_replace_a_users_file_of_the_same_name(tmp_path):
    d = make_result_dir(tmp_path / "res")
    (d / "report").mkdir()
    (d / "report" / "report.md").write_text("the user's own report")
    with pytest.raises(ResultsError, match="report.md"):
        write_report(d)
    assert (d / "report" / "report.md").read_text() == "the user's own report"
    assert sorted(p.name for p in (d / "report").iterdir()) == ["report.md"]  # nothing else written


def test_report_cli_refusal_and_overwrite(tmp_path):
    d = make_result_dir(tmp_path / "res")
    (d / "report").mkdir()
    user_md = d / "report" / "report.md"
    user_md.write_text("the user's own report")
    r = cli("report", d)
    assert r.exit_code == 2, r.output
    assert str(user_md) in one_line(r.output) and "--overwrite" in r.output and "Traceback" not in r.output
    assert user_md.read_text() == "the user's own report"
    r = cli("report", d, "--overwrite")
    assert r.exit_code == 0, r.output
    assert str(user_md) in one_line(r.output) and "replaced" in r.output
    assert user_md.read_text().startswith("# actbench report")


def test_report_into_a_custom_dir_keeps_the_users_files(tmp_path):
    d = make_result_dir(tmp_path / "res")
    out = tmp_path / "paper"
    out.mkdir()
    (out / "draft.tex").write_text("\\section{Results}")
    r = cli("report", d, "-o", out)
    assert r.exit_code == 0, r.output
    r = cli("report", d, "-o", out)  # again: actbench's own files, replaced without --overwrite
    assert r.exit_code == 0, r.output
    assert (out / "draft.tex").read_text() == "\\section{Results}" and (out / "report.md").exists()


# ---------------------------------------------------------------- merge


def test_merge_refuses_to_replace_files_without_overwrite(tmp_path):
    src = make_result_dir(tmp_path / "res")
    out = tmp_path / "merged"
    out.mkdir()
    (out / "runs.csv").write_text("the user's own table\n")
    mine = plant_user_files(out)
    r = cli("merge", src, "-o", out)
    assert r.exit_code == 2, r.output
    assert str(out / "runs.csv") in one_line(r.output) and "--overwrite" in r.output and "Traceback" not in r.output
    assert (out / "runs.csv").read_text() == "the user's own table\n"
    assert not (out / "epochs.csv").exists()
    with pytest.raises(ResultsError, match="runs.csv"):
        merge_dirs([src], out)
    r = cli("merge", src, "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert str(out / "runs.csv") in one_line(r.output) and "--overwrite removed" in r.output
    assert (out / "runs.csv").read_text().startswith("config_hash,")
    assert_survive(mine)


def test_merge_overwrite_removes_only_actbench_report_files(tmp_path):
    src = make_result_dir(tmp_path / "res")
    out = tmp_path / "merged"
    merge_dirs([src], out)
    mine = plant_user_files(out)
    report_files = write_report(out)
    rep = merge_dirs([src], out, overwrite=True)
    assert_survive(mine)
    assert not any(p.exists() for p in report_files)  # the report of the old merge is gone
    assert {p.name for p in rep.replaced} >= {"runs.csv", "report.md"}


# ---------------------------------------------------------------- run (trains one tiny run each time)


def tiny_run_config(tmp_path):
    return tiny_config(tmp_path, activations=["relu"], seeds=[0], training={"epochs": 1})


def test_run_refuses_to_replace_a_users_file_with_a_result_files_name(tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "summary.csv").write_text("the user's own summary\n")
    config = tiny_run_config(tmp_path)
    r = cli("run", config, "-o", out)
    assert r.exit_code == 2, r.output
    assert str(out / "summary.csv") in one_line(r.output) and "--overwrite" in r.output
    assert "Traceback" not in r.output
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]  # nothing written
    assert (out / "summary.csv").read_text() == "the user's own summary\n"
    r = cli("run", config, "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert str(out / "summary.csv") in one_line(r.output)  # names the user's file it replaced
    assert (out / "summary.csv").read_text().startswith("dataset,")


def test_run_overwrite_sequence_keeps_the_users_files(tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    mine = plant_user_files(out)
    config = tiny_run_config(tmp_path)

    r = cli("run", config, "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert_survive(mine)

    r = cli("run", config, "-o", out, "--overwrite", "--report")
    assert r.exit_code == 0, r.output
    assert_survive(mine)
    report_md = out / "report" / "report.md"
    first = report_md.stat()

    r = cli("run", config, "-o", out, "--overwrite", "--report")
    assert r.exit_code == 0, r.output
    assert_survive(mine)
    again = report_md.stat()
    assert (again.st_ino, again.st_mtime_ns) != (first.st_ino, first.st_mtime_ns)  # actbench's own: replaced

    r = cli("run", config, "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert_survive(mine)
    assert not report_md.exists()  # the old report went with the results it described
    assert sorted(p.name for p in (out / "report").iterdir()) == ["thesis.txt"]
