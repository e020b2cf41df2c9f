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


RANGED = [([11, 12, 13, 14, 15, 16], {"spans": [[1, 3], [4, 6]], "no_loss": [[0, 1], [3, 4]]}),
          ([21, 22], {}),
          ([31, 32, 33, 34], {"spans": [[0, 4]], "no_loss": [[2, 4]]})]
# stream: 11 12 13 14 15 16 E 21 22 E 31 32 33 34 E
#   no_loss: positions 0, 3, 12, 13; spans: [1, 3), [4, 6), [10, 14)


def ranged(tmp_path, groups):
    out = []
    for n, docs in enumerate(groups):
        url = str(tmp_path / f"{n}.shard")
        write_shard(url, [(np.asarray(d, dtype=np.uint16), meta) for d, meta in docs], "uint16")
        out.append(Shard(url))
    return out


def test_ranges_move_to_window_positions_and_are_cut_by_the_window(tmp_path):
    packed = PackedComponent(ranged(tmp_path, [RANGED]), seq_len=4)
    stream_no_loss = np.zeros(15, bool)
    stream_no_loss[[0, 3, 12, 13]] = True
    for i in range(len(packed)):
        seq = packed[i]
        np.testing.assert_array_equal(seq.no_loss, stream_no_loss[4 * i:4 * i + 5])
        assert not (seq.no_loss & seq.eot).any()
    assert packed[0].spans.tolist() == [[1, 3], [4, 5]]  # [4, 6) cut by the window's end
    assert packed[1].spans.tolist() == [[0, 2]]          # stream [4, 6)
    assert packed[2].spans.tolist() == [[2, 5]]          # stream [10, 14), cut at 13
    assert packed.read(7, 10).spans.shape == (0, 2)      # a document without ranges


def test_ranges_are_the_same_across_shards(tmp_path):
    one = PackedComponent(ranged(tmp_path / "one", [RANGED]), seq_len=4)
    split = PackedComponent(ranged(tmp_path / "split", [RANGED[:1], [], RANGED[1:]]),
                            seq_len=4)
    for i in range(len(one)):
        np.testing.assert_array_equal(one[i].no_loss, split[i].no_loss)
        np.testing.assert_array_equal(one[i].spans, split[i].spans)


def test_only_the_metadata_of_documents_in_the_window_is_read(tmp_path, monkeypatch):
    read = []
    original = Shard.meta
    monkeypatch.setattr(Shard, "meta", lambda self, i: read.append(i) or original(self, i))
    packed = PackedComponent(ranged(tmp_path, [RANGED]), seq_len=4)
    assert read == []  # opening reads no metadata
    packed[1]  # stream [4, 9): the end of document 0 and document 1
    assert read == [0, 1]
