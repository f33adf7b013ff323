"""The event ids a run has read so far, to refuse a second row of one (a join's fan-out, say).

A Python set of the ids would keep every id's string alive, and one of their hashes an int object
for each. Here each is the 8 bytes of its hash in an open-addressing table at most half full
(docs/benchmarks.md, "Event ids seen in a run"). Two ids whose 64-bit hashes agree would pass for
one (the second reported repeated, never sent twice); Python salts ``str`` hashes per process, so
such a pair does not meet again in the next run.
"""

from __future__ import annotations

from array import array

_FIRST_SIZE = 1024  # slots, a power of two


class SeenIds:
    """A set of texts, kept as their hashes, that can only grow."""

    def __init__(self) -> None:
        self._slots = array("q", [0]) * _FIRST_SIZE
        self._mask = _FIRST_SIZE - 1
        self._count = 0

    def add(self, text: str) -> bool:
        """Note ``text``; False when it was noted before."""
        key = hash(text) or 1  # 0 marks an empty slot
        slots, mask = self._slots, self._mask
        slot = key & mask
        while found := slots[slot]:
            if found == key:
                return False
            slot = (slot + 1) & mask
        slots[slot] = key
        self._count += 1
        if self._count * 2 > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = slots = array("q", [0]) * (2 * len(old))
        self._mask = mask = len(slots) - 1
        for key in old:
            if key:
                slot = key & mask
                while slots[slot]:
                    slot = (slot + 1) & mask
                slots[slot] = key
