"""`python -m sandbox serve ...` is `platform sandbox ...` (the one sandbox CLI, `cli.sandbox`).

Kept as a process entry point for `sandbox.common.server.start_sandbox_process` and scripts;
nothing imports this module, and it holds no option or logic of its own.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from cli.sandbox import sandbox

    args = sys.argv[1:]
    if args[:1] == ["serve"]:
        args = args[1:]
    sandbox.main(args, prog_name="python -m sandbox serve")
