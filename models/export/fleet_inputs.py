"""The parity prompts and the ids a worker would feed the model, from the fleet's own code
(parity_inputs.mjs, which needs `npm install` to have built the workspace)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "models" / "export" / "parity_inputs.mjs"


def fleet_inputs(bundle: Path) -> dict:
    """{"prompts", "ids", "pad_id", "padding_side", "bos_id", "eos_id"} for the bundle in `bundle`."""
    result = subprocess.run(["node", str(SCRIPT), str(bundle)], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{SCRIPT.name} failed (has `npm install` been run?):\n{result.stderr.strip()}")
    return json.loads(result.stdout)
