"""Dense block numbering: a bijection onto 0..U-1 whichever way the ids are spread."""

import numpy as np
import pytest

from planner.workload.stackdist import dense_block_ids, dense_codes

RNG = np.random.default_rng(7)
CASES = {
    "small integers (Mooncake)": RNG.integers(0, 50, 2_000),
    "reuse model: system prompts from 0, fresh blocks from 2**40":
        np.concatenate([RNG.integers(0, 40, 500), (1 << 40) + RNG.permutation(5_000)]),
    "hashes over the whole 64-bit range (hash-table path)":
        RNG.integers(-2**63, 2**63 - 1, 3_000, dtype=np.int64),
    "both ends of int64": np.array([-2**63, 2**63 - 1, 0, -2**63, 5], dtype=np.int64),
    "one block": np.array([7], dtype=np.int64),
}


@pytest.mark.parametrize("ids", CASES.values(), ids=CASES.keys())
def test_dense_ids_are_a_bijection_onto_0_to_u(ids):
    codes, uniques = dense_block_ids(ids)
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(uniques[codes], ids)
    assert len(uniques) == len(np.unique(ids))
    assert codes.min() == 0 and codes.max() == len(uniques) - 1
    same, n = dense_codes(ids)
    np.testing.assert_array_equal(same, codes)
    assert n == len(uniques)


def test_dense_codes_take_their_own_output_as_it_is():
    codes, n = dense_codes(CASES["reuse model: system prompts from 0, fresh blocks from 2**40"])
    again, m = dense_codes(codes)
    assert again is codes and m == n
    # int32 ids with a gap are numbered anew, not passed through
    gap, k = dense_codes(np.array([0, 2, 2], dtype=np.int32))
    assert k == 2 and list(gap) == [0, 1, 1]


def test_int32_ids_with_gaps_and_negatives_are_numbered_without_widening():
    ids = np.array([-5, 3, 3, 2**31 - 1, -5, 0], dtype=np.int32)
    codes, uniques = dense_block_ids(ids)
    np.testing.assert_array_equal(uniques[codes], ids)
    assert len(uniques) == 4
