"""Merkle trees as RFC 6962 (Certificate Transparency) defines them, over the chain entries.

The entries (:mod:`engine.audit.record`) already are RFC 6962 leaf hashes, so a tree of size
``n`` is ``MTH(entries[0:n])`` with ``MTH`` of one entry being the entry itself, and interior
nodes ``SHA-256(0x01 || left || right)`` split at the largest power of two below the size.

- :class:`Frontier` appends entries one at a time and gives the root at any moment, keeping
  only the O(log n) roots of the perfect subtrees (what the chain follower stores).
- :class:`MerkleTree` holds every complete node of a tree built once from its entries, and
  answers inclusion proofs (``PATH``) and consistency proofs (``PROOF``) in O(log n) hashes.
- :func:`verify_inclusion` and :func:`verify_consistency` are the checks of RFC 9162,
  sections 2.1.3.2 and 2.1.4.2, needing nothing but hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "MerkleTree",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: The root of the empty tree: SHA-256 of nothing.
EMPTY_ROOT = sha256(b"").digest()
_NODE = b"\x01"


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node."""
    return sha256(_NODE + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class Frontier:
    """The roots of the perfect subtrees of a growing tree, left to right.

    Appending costs one hash plus one more per carry (one on average).
    """

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        """A frontier of ``size`` entries (default: empty)."""
        if len(nodes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} nodes, "
                             f"not {len(nodes)}")
        self.size = size
        self.nodes = list(nodes)

    def append(self, entry: bytes) -> None:
        """Add one entry (a leaf hash)."""
        node, size, nodes = entry, self.size, self.nodes
        while size & 1:
            node = sha256(_NODE + nodes.pop() + node).digest()
            size >>= 1
        nodes.append(node)
        self.size += 1

    def extend(self, entries: Iterable[bytes]) -> None:
        """Add entries in order."""
        for entry in entries:
            self.append(entry)

    def root(self) -> bytes:
        """The current tree's root."""
        if not self.nodes:
            return EMPTY_ROOT
        root = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            root = node_hash(node, root)
        return root

    def to_bytes(self) -> bytes:
        """The nodes, concatenated (the size is stored beside them)."""
        return b"".join(self.nodes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        """Inverse of :meth:`to_bytes`."""
        nodes = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        return cls(size, nodes)

    def copy(self) -> Frontier:
        """An independent copy."""
        return Frontier(self.size, self.nodes)

    def __eq__(self, other: object) -> bool:
        """Equal sizes and nodes."""
        if not isinstance(other, Frontier):
            return NotImplemented
        return (self.size, self.nodes) == (other.size, other.nodes)

    # A frontier changes as it grows, so it is not hashable.
    __hash__ = None  # type: ignore[assignment]


class MerkleTree:
    """Every complete node of the tree over ``entries``: roots and proofs of any prefix."""

    def __init__(self, entries: bytes | Sequence[bytes]) -> None:
        """Build from the entries (a sequence of 32-byte hashes, or them concatenated)."""
        level = entries if isinstance(entries, bytes) else b"".join(entries)
        if len(level) % HASH_SIZE:
            raise ValueError("entries must be 32-byte hashes")
        self.size = len(level) // HASH_SIZE
        self._levels = [level]
        while len(level) >= 2 * HASH_SIZE:
            pairs = len(level) // (2 * HASH_SIZE)
            level = b"".join(
                sha256(_NODE + level[i : i + 2 * HASH_SIZE]).digest()
                for i in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE)
            )
            self._levels.append(level)

    def entry(self, index: int) -> bytes:
        """Entry (leaf hash) ``index``."""
        return self._node(0, index)

    def _node(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return self._levels[level][start : start + HASH_SIZE]

    def _mth(self, lo: int, hi: int) -> bytes:
        """MTH of entries ``[lo, hi)`` (``hi`` > ``lo``)."""
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            return self._node(width.bit_length() - 1, lo // width)
        k = _split(width)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first ``size`` entries (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._mth(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of entry ``index`` in the tree of the first ``size`` entries."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"entry {index} is not in a tree of size {size}")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._mth(lo, lo + k))
                lo = lo + k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the tree of ``old_size`` entries is a prefix of ``new_size``."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, complete = 0, new_size, True
        while old_size != hi:
            k = _split(hi - lo)
            if old_size <= lo + k:
                proof.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._mth(lo, lo + k))
                lo, complete = lo + k, False
        if not complete:
            proof.append(self._mth(lo, hi))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside a tree of {self.size} entries")


def verify_inclusion(entry: bytes, index: int, size: int, path: Sequence[bytes],
                     root: bytes) -> bool:
    """Whether ``path`` proves ``entry`` is entry ``index`` of the tree ``root`` of ``size``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, entry
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree ``old_root`` of ``old_size`` is a prefix of
    ``new_root`` of ``new_size``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
