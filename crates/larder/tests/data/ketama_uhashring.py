"""Generates ketama_uhashring.txt, the placement uhashring's ketama ring (libketama-compatible)
gives, for tests/sharding.rs to compare with HashRing::ketama(). Test-only; run it by hand:

    python3 -m venv /tmp/ketama && /tmp/ketama/bin/pip install uhashring==2.5
    /tmp/ketama/bin/python ketama_uhashring.py > ketama_uhashring.txt

Line format: `nodes<TAB>key<TAB>node`, where `nodes` is the number of nodes on the ring (the
first N of NODES): the placement on 10 nodes, then on 11 (a node added).
"""

from uhashring import HashRing

NODES = [f"10.0.{i // 4}.{i}:11211" for i in range(11)]
KEYS = [f"user:{i}" for i in range(2000)] + ["", "a", "é", "key with spaces", "x" * 250]

for n in (10, 11):
    ring = HashRing(nodes=NODES[:n], hash_fn="ketama")
    for key in KEYS:
        print(f"{n}\t{key}\t{ring.get_node(key)}")
