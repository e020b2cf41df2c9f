"""training.data.packing: documents -> fixed-length sequences with EOT boundaries."""

import numpy as np
import pytest

from shards import Shard, write_shard
from tokenizer.special_tokens import SpecialIds
from training.data.packing import PackedComponent

DOCS = [[11, 12, 13], [21, 22], [], [41, 42, 43, 44, 45]]
# stream: 11 12 13 E 21 22 E E 41 42 43 44 45 E   (E = EOT after every document)
STREAM = [11, 12, 13, 0, 21, 22, 0, 0, 41, 42, 43, 44, 45, 0]


def shards(tmp_path, groups):
    out = []
    for n, docs in enumerate(groups):
        url = str(tmp_path / f"{n}.shard")
        write_shard(url, [(np.asarray(d, dtype=np.uint16), {}) for d in docs], "uint16")
        out.append(Shard(url))
    return out


def test_eot_is_the_codemix_id_zero_by_default(tmp_path):
    assert SpecialIds.default().eot == 0
    assert PackedComponent(shards(tmp_path, [DOCS]), seq_len=4).eot_id == 0


def test_documents_end_with_the_given_eot_id(tmp_path):
    # A given tokenizer's end of document, e.g. </s> at id 70000.
    packed = PackedComponent(shards(tmp_path, [DOCS]), seq_len=4, eot_id=70_000)
    stream = [70_000 if t == 0 else t for t in STREAM]
    assert [t for i in range(len(packed)) for t in packed[i].tokens.tolist()[:4]] == stream[:12]
    assert packed[1].eot.tolist() == [False, False, True, True, False]


def test_windows_overlap_by_one_token(tmp_path):
    packed = PackedComponent(shards(tmp_path, [DOCS]), seq_len=4)
    assert packed.stream_length == len(STREAM)
    assert len(packed) == (len(STREAM) - 1) // 4 == 3
    for i in range(3):
        assert packed[i].tokens.tolist() == STREAM[4 * i:4 * i + 5]
    with pytest.raises(IndexError):
        packed[3]


def test_boundaries_are_marked(tmp_path):
    packed = PackedComponent(shards(tmp_path, [DOCS]), seq_len=4)
    seq = packed[1]  # 21 22 E E 41
    assert seq.tokens.tolist() == [21, 22, 0, 0, 41]
    assert seq.eot.tolist() == [False, False, True, True, False]


def test_a_real_token_equal_to_zero_is_not_a_boundary(tmp_path):
    packed = PackedComponent(shards(tmp_path, [[[0, 5], [6]]]), seq_len=4)
    assert packed[0].tokens.tolist() == [0, 5, 0, 6, 0]
    assert packed[0].eot.tolist() == [False, False, True, False, True]


def test_sequences_cross_shards(tmp_path):
    one = PackedComponent(shards(tmp_path / "one", [DOCS]), seq_len=4)
    split = PackedComponent(shards(tmp_path / "split", [DOCS[:1], [], DOCS[1:]]), seq_len=4)
    assert len(one) == len(split)
    for i in range(len(one)):
        np.testing.assert_array_equal(one[i].tokens, split[i].tokens)
        np.testing.assert_array_equal(one[i].eot, split[i].eot)


def test_too_short_component_has_no_sequence(tmp_path):
    assert len(PackedComponent(shards(tmp_path, [[[1, 2]]]), seq_len=4)) == 0


@pytest.mark.parametrize("seq_len", [7, 64])
def test_every_sequence_matches_the_concatenated_stream(tiny_manifest, seq_len):
    from training.data.corpus import open_corpus

    corpus = open_corpus(tiny_manifest)
    for name in corpus.names:
        shards_ = corpus.shards(name)
        stream = np.concatenate([np.append(s.tokens(d), corpus.specials.eot).astype(np.int64)
                                 for s in shards_ for d in range(len(s))])
        packed = PackedComponent(shards_, seq_len)
        assert len(packed) == (len(stream) - 1) // seq_len
        for i in range(len(packed)):
            np.testing.assert_array_equal(packed[i].tokens,
                                          stream[i * seq_len:i * seq_len + seq_len + 1])
