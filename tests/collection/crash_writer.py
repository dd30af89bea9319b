"""A writer that keeps changing a collection until it is killed (driven by test_crash_safety)."""

import sys

import numpy as np

import vectree

BATCH = 40


def main(path: str, seed: int) -> None:
    data = np.load(sys.argv[3])["vectors"].astype(np.float32)
    rng = np.random.default_rng(seed)
    col = vectree.open_collection(path)
    print("ready", flush=True)  # the test's random kill moment counts from here, not from interpreter start-up
    while True:
        have = sorted(i for b in col.iter_batches() for i in b["ids"].tolist())
        start = (max(have) + 1) if have else 0
        op = rng.choice(["add", "add", "delete", "upsert", "compact", "build"])
        if op == "add" or not have:
            ids = np.arange(start, start + BATCH)
            col.add(data[ids % len(data)], ids=ids, labels=(ids % 7).tolist())
        elif op == "delete":
            col.delete(rng.choice(have, size=min(5, len(have)), replace=False))
        elif op == "upsert":
            ids = rng.choice(have, size=min(5, len(have)), replace=False)
            col.upsert(data[(ids + 1) % len(data)], ids=ids, labels=(ids % 7).tolist())
        elif op == "compact" and col.manifest.index is not None:
            col.compact()
        else:
            col.build()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
