"""Prompts whose prefix reuse is known by construction.

A prompt of L words at reuse r is a shared prefix of round(r · L) words followed by a suffix
of its own. The prefix is the same for every request of one operating point and is sent once,
untimed, before the point starts, so that from the first timed request on it is already in
the engine's prefix cache: the fraction of each prompt's tokens the engine can serve from its
cache is r (up to the engine's block size and its tokenizer). Prefix and suffix each begin
with a marker unique to the point and to the request, so nothing is shared across points or
requests beyond the intended prefix. Words come from a fixed list of common English words,
which most tokenizers keep as single tokens; engines report the real token counts in their
``usage``, which the profiler records.
"""

from __future__ import annotations

import hashlib

import numpy as np

WORDS = tuple(
    "the of and to in is was for on that with as by at from his it an were are which this be "
    "or has had first one their its new after who they have two her she been other when time "
    "during there into school more may years over only year most would world city some where "
    "between later three state such then national used made known under many university "
    "united while part season team these american than film second born south became states "
    "war through being including both before north high however people family early history "
    "album area them series against until since district county name work life group music "
    "following number company several four called played released career league game "
    "government house each based day same won use like around international well major club "
    "west member own long following five".split())


def shared_words(reuse: float, total: int) -> int:
    """Words of a prompt of ``total`` words that belong to the shared prefix."""
    return int(round(reuse * total))


def point_prefix(point_id: str, reuse: float, total: int, seed: int) -> str:
    """The shared prefix of one operating point (empty at reuse 0)."""
    n = shared_words(reuse, total)
    if n == 0:
        return ""
    rng = np.random.default_rng([seed, digest(point_id)])
    return " ".join([f"p{point_id}"] + [WORDS[k] for k in rng.integers(0, len(WORDS), n - 1)])


def request_prompt(prefix: str, request_id: int, reuse: float, total: int, seed: int,
                   point_id: str) -> str:
    """The whole prompt of one request: the point's prefix, then its own words."""
    n = total - shared_words(reuse, total)
    rng = np.random.default_rng([seed, digest(point_id), request_id + 1])
    own = " ".join([f"r{request_id}x{point_id}"]
                   + [WORDS[k] for k in rng.integers(0, len(WORDS), max(n - 1, 0))])
    return f"{prefix} {own}" if prefix else own


def digest(text: str) -> int:
    # a stable integer from a string (Python's hash() is salted per process)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
