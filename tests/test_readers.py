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


@pytest.mark.parametrize("body,match", [
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n"
     "2023-11-16 18:15:50.9951690,-5,109\n", "line 3: ContextTokens is negative"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n"
     "2023-11-16 18:15:50.9951690,12x,109\n", "line 3: ContextTokens must be a whole number"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\nnot-a-time,1,1\n",
     "line 3: cannot read timestamp"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\n"
     "2023-11-16 18:15:47,374,44,9\n", "line 3: expected 3 fields, found 4"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n", "has no requests"),
    ("", "is empty"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,99999999,44\n", "exceeds"),
    ("a,b,c\n1,2,3\n", "cannot tell the format"),
])
def test_broken_azure_files(tmp_path, body, match):
    p = tmp_path / "t.csv"
    p.write_text(body)
    with pytest.raises(InputDataError, match=match):
        read_trace(p)


def test_azure_2024_timestamps_with_offset_and_mixed_precision(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                 "2024-05-10 00:00:00.009930+00:00,10,20\n2024-05-10 00:00:01+00:00,30,40\n")
    t = read_trace(p)
    assert str(t.start) == "2024-05-10 00:00:00.009930+00:00"
    assert t.arrival_s[1] == pytest.approx(0.99007)


@pytest.mark.parametrize("line,match", [
    ('{"timestamp": 0, "input_length": 600}', "line 2: missing field 'output_length'"),
    ("{not json", "line 2: not valid JSON"),
    ('{"timestamp": 0, "input_length": 600, "output_length": -1, "hash_ids": [1, 2]}',
     "line 2: output_length is negative"),
    ('{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [1, 2, 3]}',
     "line 2: 3 hash_ids for 600 input tokens"),
    ('{"timestamp": -5, "input_length": 600, "output_length": 5, "hash_ids": [1]}',
     "line 2: timestamp must be"),
])
def test_broken_mooncake_files(tmp_path, line, match):
    p = tmp_path / "t.jsonl"
    p.write_text('{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}\n'
                 + line + "\n")
    with pytest.raises(InputDataError, match=match):
        read_trace(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputDataError, match="does not exist"):
        read_trace(tmp_path / "nope.csv")


def test_generic_csv_with_sessions_and_hashes(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("arrival_s,input_tokens,output_tokens,session_id,hash_ids\n"
                 "5.0,600,10,1,7 8\n1.0,100,5,2,9\n")
    t = read_trace(p)
    assert t.source_format == "generic" and t.start is None
    assert list(t.arrival_s) == [1.0, 5.0]               # sorted by arrival
    assert list(t.session_ids) == [2, 1]
    assert list(t.blocks_of(0)) == [9] and list(t.blocks_of(1)) == [7, 8]


def test_mooncake_unsorted_lines_are_sorted_with_their_blocks(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"timestamp": 2000, "input_length": 600, "output_length": 5, "hash_ids": [1, 2]}\n'
                 '{"timestamp": 1000, "input_length": 100, "output_length": 5, "hash_ids": [3]}\n')
    t = read_trace(p)
    assert list(t.arrival_s) == [1.0, 2.0]
    assert list(t.blocks_of(0)) == [3] and list(t.blocks_of(1)) == [1, 2]
