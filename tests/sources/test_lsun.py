import itertools
import zipfile

import numpy as np
import pytest

from dcgan.errors import UserError
from dcgan.sources.lsun import iter_range, key_ranges, open_lmdb, part_range, source_key, table_key
from helpers import write_lmdb


def keys_by_part(path, parts):
    env = open_lmdb(path)
    try:
        return [[k for k, _ in iter_range(env, *part_range(env, p, parts))] for p in range(parts)]
    finally:
        env.close()


def test_hex_keys_every_key_exactly_once_and_balanced(tmp_path, rng):
    keys = sorted({rng.bytes(20).hex().encode() for _ in range(3000)})
    path = write_lmdb(tmp_path / "db", {k: b"v" for k in keys})
    for parts in (1, 2, 7, 16):
        split = keys_by_part(path, parts)
        assert [k for part in split for k in part] == keys  # order kept, nothing lost or repeated
        mean = len(keys) / parts  # uniform keys: part sizes are binomial around the mean
        assert all(abs(len(p) - mean) <= 5 * np.sqrt(mean) for p in split), [len(p) for p in split]


@pytest.mark.parametrize(
    "keys",
    [
        [b"a", b"ab", b"abc", b"b", b"zz", b"\x00", b"\xff\xff\xff", b"img.001", b"img.002", b"IMG"],
        [f"{i:08d}".encode() for i in range(0, 5000, 7)],
        [b"0", b"f"],
        [b"only"],
    ],
)
def test_any_keys_are_covered_exactly_once(tmp_path, keys):
    path = write_lmdb(tmp_path / "db", {k: b"v" for k in keys})
    for parts in (1, 3, 8):
        split = keys_by_part(path, parts)
        assert [k for part in split for k in part] == sorted(keys)


def test_key_ranges_are_contiguous():
    ranges = key_ranges(b"0" * 40, b"f" * 40, 5)
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert [r[1] for r in ranges[:-1]] == sorted(r[1] for r in ranges[:-1])


def test_empty_lmdb_is_refused_by_name(tmp_path):
    with pytest.raises(UserError, match=r"the LMDB .*db is empty \(0 entries\)"):
        open_lmdb(write_lmdb(tmp_path / "db", {}))


def test_open_errors_name_the_path(tmp_path):
    with pytest.raises(UserError, match="LMDB not found: .*nowhere"):
        open_lmdb(tmp_path / "nowhere")
    with pytest.raises(UserError, match="a folder without data.mdb"):
        open_lmdb(tmp_path)
    archive = tmp_path / "bedroom_train_lmdb.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x", "y")
    with pytest.raises(UserError, match="zip archive: unzip it"):
        open_lmdb(archive)
    text = tmp_path / "notes.txt"
    text.write_text("hello" * 1000)
    with pytest.raises(UserError, match="not an LMDB: .*notes.txt"):
        open_lmdb(text)


def test_table_keys_are_safe_and_distinct():
    assert table_key(b"0123abcd" * 5) == "0123abcd" * 5
    unsafe = [b"img.001", b"img/001", b"\xff\x00", b"a b"]
    made = [table_key(k) for k in unsafe]
    assert len(set(made)) == len(made) and all("." not in k and "/" not in k for k in made)
    assert source_key(b"img.001") == "img.001" and source_key(b"a\tb") == "hex:" + b"a\tb".hex()
