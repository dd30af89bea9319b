"""Bucket files, their id and vector spans (spans.py), the _latest pointer (pointer.py) and fingerprints."""

from vectree.format.bucket import Rows, decode_rows, encode_rows
from vectree.format.fingerprint import check_fingerprint, fingerprint
from vectree.format.id_keys import id_keys

__all__ = ["Rows", "encode_rows", "decode_rows", "fingerprint", "check_fingerprint", "id_keys"]
