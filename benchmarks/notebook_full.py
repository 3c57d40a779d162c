"""Execute a study notebook at its full budget (``FULL = True``) and keep the executed copy.

    python benchmarks/notebook_full.py notebooks/07_patterns_during_learning.ipynb results/patterns-study

The notebooks are stored without outputs and CI runs their short versions; this runs one with
its ``FULL = False`` line switched to ``FULL = True`` inside OUT (its runs, figures and the
executed notebook, with every output, land there), so that the full study's figures come from a
committed file and the command that made it. Runs the notebook finds finished in OUT are reused.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

SWITCH = re.compile(r"^FULL = False\b", re.MULTILINE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--timeout", type=int, default=6 * 3600, help="seconds per cell")
    args = parser.parse_args(argv)
    try:
        import nbclient
        import nbformat
    except ImportError:
        sys.exit("notebook_full.py needs the [notebooks] extra (nbclient, nbformat, ipykernel)")
    notebook = nbformat.read(args.notebook, as_version=4)
    switched = 0
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source, count = SWITCH.subn("FULL = True", cell.source)
            switched += count
    if switched != 1:
        sys.exit(f"{args.notebook}: expected one 'FULL = False' line to switch, found {switched}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    client = nbclient.NotebookClient(
        notebook, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(args.out)}}
    )
    try:
        client.execute()
    finally:
        notebook.metadata["full_run"] = {
            "source": str(args.notebook),
            "wall_seconds": round(time.time() - started, 1),
            "command": f"python benchmarks/notebook_full.py {args.notebook} {args.out}",
        }
        nbformat.write(notebook, args.out / args.notebook.name)
    print(f"wrote {args.out / args.notebook.name} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
