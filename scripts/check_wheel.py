"""make wheel-check: what ``pip install airflow-provider-realtime`` gives a user works, not just this tree.

Builds the sdist and the wheel (``uv build``), checks that each holds every module and file the package
needs, installs the wheel (not editable) into a fresh virtual environment on the Python given
(``--python``; default: this one), and runs the example DAGs there with ``DAG.test()`` against the
emulator, from a folder that holds no source of this project. Exits non-zero, saying what failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_realtime"
# fleet_refresh needs a Redis server; the suite runs it (tests/test_airflow.py).
SKIPPED = {"realtime_fleet_refresh"}

# Run by the fresh environment's interpreter, in isolated mode (-I: no current folder, no PYTHONPATH).
IN_THE_ENVIRONMENT = """
import json, os, sys
from pathlib import Path
import airflow_provider_realtime
from airflow_provider_realtime.testing import RealtimeEmulator
from airflow_provider_realtime.testing.sandbox import AirflowSandbox, DagRunRequest

work, dag_ids = Path(sys.argv[1]), json.loads(sys.argv[2])
where = Path(airflow_provider_realtime.__file__).resolve()
assert "site-packages" in where.parts, f"imported from {where}, not from the installed wheel"
sandbox = AirflowSandbox(work / "home", work / "dags")
sandbox.migrate()
with RealtimeEmulator("sk-wheel-check-" + os.urandom(8).hex()) as emulator:
    env = {"AIRFLOW_CONN_OPENAI_REALTIME_DEFAULT": emulator.connection_json()}
    env["REALTIME_TOKEN_DIR"] = str(work)
    outcomes = sandbox.run_dags([DagRunRequest(dag_id, env=env) for dag_id in dag_ids])
failed = {
    dag_id: outcome.error or outcome.states
    for dag_id, outcome in outcomes.items()
    if outcome.state != "success" or set(outcome.states.values()) != {"success"}
}
import_errors = next(iter(outcomes.values())).import_errors
print(json.dumps({"python": sys.version.split()[0], "from": str(where), "runs": len(outcomes),
                  "minted": len(emulator.minted_tokens), "failed": failed, "import_errors": import_errors}))
sys.exit(1 if failed or import_errors or len(outcomes) != len(dag_ids) else 0)
"""


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run([str(arg) for arg in argv], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        command = " ".join(map(str, argv))
        raise SystemExit(f"failed: {command}\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout


def package_files() -> set[str]:
    """Every file the installed package needs: its modules and py.typed, as the wheel names them."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".typed"}
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the fresh environment")
    parser.add_argument("--constraints", default=str(ROOT / "requirements" / "constraints.txt"))
    args = parser.parse_args()
    uv = Path(sys.executable).parent / "uv"
    work = Path(tempfile.mkdtemp(prefix="realtime-wheel-check-"))
    try:
        run(uv, "build", "--quiet", "--out-dir", work / "dist", ROOT)
        [wheel] = (work / "dist").glob("*.whl")
        [sdist] = (work / "dist").glob("*.tar.gz")
        needed = package_files()
        in_wheel = set(zipfile.ZipFile(wheel).namelist())
        with tarfile.open(sdist) as archive:
            in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        for name, holds in (("wheel", in_wheel), ("sdist", in_sdist)):
            missing = sorted(needed - holds)
            if missing:
                raise SystemExit(f"the {name} lacks {missing}")
        if "LICENSE" not in in_sdist or not any(n.endswith(".dist-info/licenses/LICENSE") for n in in_wheel):
            raise SystemExit("the license text (LICENSE) is missing from the sdist or the wheel")
        print(f"built {wheel.name} ({len(in_wheel)} files) and {sdist.name}: every package file in both")

        venv = work / "venv"
        run(uv, "venv", "--quiet", "--python", args.python, venv)
        python = venv / "bin" / "python"
        run(
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            "-c",
            args.constraints,
            f"{wheel}[test]",
        )
        shutil.copytree(ROOT / "example_dags", work / "dags")
        dag_ids = sorted(path.stem for path in (work / "dags").glob("*.py") if path.stem not in SKIPPED)
        report = run(python, "-I", "-c", IN_THE_ENVIRONMENT, work, json.dumps(dag_ids), cwd=work)
        print(f"the wheel, installed: {report.strip().splitlines()[-1]}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
