#!/usr/bin/env bash
# The independent readers of rehab's exports (OpenSim, ezc3d, Pose2Sim's marker set) in their
# own virtual environment DIR (default .venv/readers): OpenSim needs numpy 2, rehab numpy 1.
# Does nothing when DIR already holds this requirements file's packages.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$here/.venv/readers}
req=$here/tests/readers/requirements.txt
pose2sim=pose2sim==0.10.49
stamp=$dir/.installed
want=$( (cat "$req"; echo "$pose2sim") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "installing the export readers (OpenSim, ezc3d, Pose2Sim) into $dir" >&2
rm -rf "$dir"
${PYTHON:-python3} -m venv "$dir"
pip=("$dir/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" -r "$req" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
"${pip[@]}" --no-deps "$pose2sim" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
"$dir/bin/python" -c "import opensim, ezc3d, anytree, Pose2Sim.skeletons"
echo "$want" > "$stamp"
