"""Write a rendered deployment's files into a folder atomically (a temp folder beside it,
renamed into place)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from rippleops.errors import InvalidError

#: every file a render writes (a folder holding anything else is never replaced)
RENDERED = frozenset(
    {"Dockerfile", ".dockerignore", "entrypoint.sh", "deployment.yaml", "service.yaml", "hpa.yaml"}
    | {"serve-config.yaml", "README.md"}
)
EXECUTABLE = frozenset({"entrypoint.sh"})


def write_folder(files: Mapping[str, str], out: Path) -> Path:
    """Write ``files`` into ``out``: into a temp folder beside it first, then renamed into
    place, so ``out`` holds either the old files or all the new ones. An existing ``out``
    is replaced only if it holds nothing but files a render writes (never a user's folder)."""
    out = out.expanduser().resolve()
    for rel in files:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise InvalidError(f"refusing to write {rel!r} outside {out}")
    if out.exists():
        if not out.is_dir():
            raise InvalidError(f"{out} is a file; give --out a folder")
        strangers = sorted(p.name for p in out.iterdir() if p.name not in RENDERED)
        if strangers:
            raise InvalidError(
                f"{out} holds files a render does not write ({', '.join(strangers[:5])}); "
                "give --out an empty or new folder"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for rel, text in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if rel in EXECUTABLE:
                path.chmod(0o755)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
