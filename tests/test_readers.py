from pathlib import Path

import numpy as np
import pytest

from planner.errors import InputDataError
from planner.workload.readers import read_trace

EX = Path(__file__).resolve().parent.parent / "examples"


def test_azure_conv_shipped():
    t = read_trace(EX / "AzureLLMInferenceTrace_conv.csv")
    assert len(t) == 19366
    assert t.source_format == "azure"
    assert str(t.start) == "2023-11-16 18:15:46.680590+00:00"
    assert t.input_tokens.min() == 2 and t.input_tokens.max() == 14050
    assert not t.has_prefixes


def test_mooncake_shipped():
    t = read_trace(EX / "conversation_trace.jsonl")
    assert len(t) == 12031
    assert t.start is None and t.has_prefixes
    assert len(t.block_ids) == 288500
    assert len(np.unique(t.block_ids)) == 182790
    assert np.all(np.diff(t.block_offsets) == -(-t.input_tokens // 512))
