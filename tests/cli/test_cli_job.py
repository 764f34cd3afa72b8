"""``ripple prompt import`` (a job, run inline on the embedded home) and ``ripple job``.

A folder with a malformed file: the good files are imported, each bad one is reported, and
the job fails at the end naming the bad files (exit 2, the code of InvalidError)."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import ANSWER_V1, SYSTEM, Ripple


def folder(r: Ripple, files: dict[str, str]) -> str:
    path = r.tmp_path / "prompts"
    path.mkdir(exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return str(path)


def test_import_a_folder_with_a_malformed_file_then_rerun(ripple: Ripple) -> None:
    path = folder(ripple, {"answer.yaml": ANSWER_V1, "system.yaml": SYSTEM, "broken.yaml": "template: [oops\n"})
    failed = ripple("prompt", "import", path)
    assert failed.exit_code == 2, failed.output
    assert failed.stderr.splitlines()[-1].startswith("error: job 1 (prompt.import) failed")
    assert "broken.yaml: prompt file broken.yaml is not valid YAML" in failed.stderr  # the log line, as it ran
    assert "answer.yaml: created" not in failed.stderr  # info lines only in `ripple job logs`
    assert "job 1 (prompt.import) failed: 1 of 3 prompt files could not be imported: broken.yaml" in failed.stderr
    assert failed.stdout.strip() == "job 1 failed: 2 created, 0 unchanged, 1 failed"
    assert [a["ref"] for a in ripple.json("prompt", "list")] == ["prompt/answer", "prompt/system"]

    listed = ripple.json("job", "list", "--state", "failed")
    assert [(j["id"], j["kind"], j["state"]) for j in listed] == [(1, "prompt.import", "failed")]
    shown = ripple.json("job", "show", "1")
    assert shown["error"]["type"] == "InvalidError" and shown["result"]["failed"].keys() == {"broken.yaml"}
    human = ripple.ok("job", "show", "1").stdout
    assert "job 1" in human and "failed" in human and "2 created" in human
    logs = ripple.ok("job", "logs", "1").stdout
    assert "error   broken.yaml" in logs and "info    system.yaml: created prompt/system:1" in logs
    assert ripple.ok("job", "logs", "1", "--follow").stdout == logs  # it has finished: nothing to wait for

    Path(path, "broken.yaml").write_text("template: mended\n")
    rerun = ripple.ok("job", "rerun", "1")
    assert rerun.stdout.strip() == "job 2 succeeded: 1 created, 2 unchanged, 0 failed"
    assert ripple.json("job", "show", "2")["rerun_of"] == 1
    assert "nothing to cancel" in ripple.fails(4, "job", "cancel", "2").stderr
    assert "only failed or cancelled jobs can be rerun" in ripple.fails(4, "job", "rerun", "2").stderr


def test_import_json_message_and_errors(ripple: Ripple) -> None:
    path = folder(ripple, {"answer.yaml": ANSWER_V1})
    job = ripple.json("prompt", "import", path, "--message", "bulk import")
    assert (job["state"], job["result"]["created"]) == ("succeeded", ["prompt/answer:1"])
    assert ripple.json("prompt", "show", "answer")["message"] == "bulk import"
    queued = ripple.ok("prompt", "import", path, "--no-wait")  # embedded: it ran inline anyway
    assert queued.stdout.strip() == "job 2 succeeded: 0 created, 1 unchanged, 0 failed"
    assert "is not a folder" in ripple.fails(2, "prompt", "import", str(ripple.tmp_path / "nope")).stderr
    assert "job 9 does not exist" in ripple.fails(3, "job", "show", "9").stderr
    assert "unknown job state" in ripple.fails(2, "job", "list", "--state", "done").stderr
    table = ripple.ok("job", "list").stdout
    assert "prompt.import" in table and "succeeded" in table
