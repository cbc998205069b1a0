"""RFC 6962 Merkle trees: Certificate Transparency's test vectors, and proofs checked for
every size, index and prefix against a naive recursive definition."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# certificate-transparency's reference leaves and roots (RFC 6962 test data).
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def ct_tree() -> tuple[list[bytes], MerkleTree]:
    leaves = [sha256(b"\x00" + bytes.fromhex(d)).digest() for d in CT_LEAVES]
    return leaves, MerkleTree(leaves)


def reference_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(n: int) -> list[bytes]:
    return [sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


def test_certificate_transparency_roots() -> None:
    leaves, tree = ct_tree()
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    for n in range(1, 9):
        frontier = Frontier()
        frontier.extend(leaves[:n])
        assert frontier.root().hex() == CT_ROOTS[n - 1]
    assert tree.root(0) == Frontier().root() == sha256(b"").digest()


@pytest.mark.parametrize(("kind", "args", "expected"), [
    ("inclusion", (0, 8), ["96a296d2", "5f083f0a", "6b47aaf2"]),
    ("consistency", (1, 8), ["96a296d2", "5f083f0a", "6b47aaf2"]),
    ("consistency", (6, 8), ["0ebc5d34", "ca854ea1", "d37ee418"]),
    ("consistency", (2, 5), ["5f083f0a", "bc1a0643"]),
])
def test_certificate_transparency_proofs(kind: str, args: tuple[int, int],
                                         expected: list[str]) -> None:
    _, tree = ct_tree()
    proof = tree.inclusion_proof(*args) if kind == "inclusion" else tree.consistency_proof(*args)
    assert [p.hex()[:8] for p in proof] == expected


@given(st.integers(min_value=0, max_value=70))
def test_roots_and_frontier_follow_the_definition(n: int) -> None:
    leaves = leaves_of(n)
    tree, frontier = MerkleTree(leaves), Frontier()
    for m in range(n + 1):
        assert tree.root(m) == reference_root(leaves[:m]) == frontier.root()
        if m < n:
            frontier.append(leaves[m])
    restored = Frontier.from_bytes(frontier.size, frontier.to_bytes())
    assert restored.root() == frontier.root()


@given(st.integers(min_value=1, max_value=40), st.data())
def test_inclusion_proofs_hold_and_only_for_their_entry(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    tree = MerkleTree(leaves)
    size = data.draw(st.integers(min_value=1, max_value=n))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = tree.inclusion_proof(index, size)
    root = tree.root(size)
    assert len(path) <= size.bit_length()
    assert verify_inclusion(leaves[index], index, size, path, root)
    assert not verify_inclusion(sha256(b"other").digest(), index, size, path, root)
    if size > 1:
        assert not verify_inclusion(leaves[index], (index + 1) % size, size, path, root)
    if size < n:
        assert not verify_inclusion(leaves[index], index, size, path, tree.root(size + 1)) \
            or tree.root(size + 1) == root


@given(st.integers(min_value=1, max_value=40), st.data())
def test_consistency_proofs_hold_and_only_between_their_trees(n: int,
                                                              data: st.DataObject) -> None:
    leaves = leaves_of(n)
    tree = MerkleTree(leaves)
    new = data.draw(st.integers(min_value=1, max_value=n))
    old = data.draw(st.integers(min_value=1, max_value=new))
    proof = tree.consistency_proof(old, new)
    assert verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    forged = sha256(b"forged").digest()
    if old < new:
        assert not verify_consistency(old, new, forged, tree.root(new), proof)
        assert not verify_consistency(old, new, tree.root(old), forged, proof)
        changed = MerkleTree([*leaves[: old - 1], forged, *leaves[old:new]])
        assert not verify_consistency(old, new, changed.root(old), tree.root(new), proof)


def test_bad_arguments() -> None:
    tree = MerkleTree(leaves_of(5))
    with pytest.raises(ValueError, match="not in a tree"):
        tree.inclusion_proof(5)
    with pytest.raises(ValueError, match="outside a tree"):
        tree.root(6)
    with pytest.raises(ValueError, match="no consistency proof"):
        tree.consistency_proof(4, 3)
    with pytest.raises(ValueError, match="32-byte"):
        MerkleTree(b"short")
    with pytest.raises(ValueError, match="has 2 nodes"):
        Frontier(3, [bytes(32)])
    assert not verify_inclusion(bytes(32), 0, 0, [], EMPTY_ROOT)
    assert not verify_consistency(3, 2, bytes(32), bytes(32), [])
    assert verify_consistency(0, 5, EMPTY_ROOT, tree.root(), [])
