"""Store keys are spelled in one module (vectree/format/object_keys.py): its examples hold, and no other
module builds a key by hand."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import vectree
from vectree.format import object_keys

PACKAGE = Path(vectree.__file__).parent
HAND_BUILT = re.compile(r"""f["'](?:buckets|segments|index|idmap|tombstones|attachments|keys|manifests|tags)/\{""")


def test_the_examples_of_object_keys_hold():
    result = doctest.testmod(object_keys)
    assert result.attempted >= 10 and result.failed == 0


def test_no_other_module_builds_a_store_key_by_hand():
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "object_keys.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_BUILT.search(line) and not line.strip().startswith("z.write")  # names inside a zip archive
    ]
    assert found == []


def test_the_scan_sees_a_hand_built_key():
    assert HAND_BUILT.search('store.put(f"buckets/{fp}.arrow", data)')
    assert not HAND_BUILT.search("store.put(bucket_key(fp), data)")


def test_keys_round_trip_and_keep_the_stored_names():
    """The names are the on-disk layout: collections written before this module keep opening."""
    assert object_keys.bucket_key("f" * 32) == f"buckets/{'f' * 32}.arrow"
    assert object_keys.version_of_manifest_key(object_keys.manifest_key(123)) == 123
    assert object_keys.tag_of_key(object_keys.tag_key("release-1")) == "release-1"
    assert (
        object_keys.id_keys_key("a", with_write=False) == "keys/a.npy"
    )  # segments written before writes were recorded
