"""training.attention: document ids from EOT positions, and the boolean attention mask."""

import numpy as np
import torch

from tokenizer.special_tokens import ENDOFTEXT, EOM, SEP, SPECIAL_TOKENS, SpecialIds
from training.attention import attention_mask, build_mask, document_ids
from training.objectives.span import corrupt_sequence, split_documents

EOT, SEP_ID, EOM_ID = (SPECIAL_TOKENS.index(t) for t in (ENDOFTEXT, SEP, EOM))
A, B, C = 60, 61, 62  # text ids (documents never hold special ids)


def rows(mask: torch.Tensor) -> list[list[list[int]]]:
    """``[batch, 1, seq, seq]`` bool mask as nested 0/1 lists, one matrix per row."""
    return mask[:, 0].int().tolist()


def test_no_option_is_causal():
    assert build_mask(3).shape == (1, 1, 3, 3)
    assert rows(build_mask(3)) == [[[1, 0, 0],
                                    [1, 1, 0],
                                    [1, 1, 1]]]


def test_prefix_is_bidirectional_and_the_rest_causal():
    mask = build_mask(4, prefix=torch.tensor([2, 0]))
    assert rows(mask) == [[[1, 1, 0, 0],
                           [1, 1, 0, 0],
                           [1, 1, 1, 0],
                           [1, 1, 1, 1]],
                          [[1, 0, 0, 0],
                           [1, 1, 0, 0],
                           [1, 1, 1, 0],
                           [1, 1, 1, 1]]]


def test_documents_are_causal_blocks():
    mask = build_mask(4, documents=torch.tensor([[0, 0, 1, 1]]))
    assert rows(mask) == [[[1, 0, 0, 0],
                           [1, 1, 0, 0],
                           [0, 0, 1, 0],
                           [0, 0, 1, 1]]]


def test_prefix_and_documents_combine_by_and():
    # The prefix (3) reaches into the second document: position 2 sees only itself there.
    mask = build_mask(4, prefix=torch.tensor([3]), documents=torch.tensor([[0, 0, 1, 1]]))
    assert rows(mask) == [[[1, 1, 0, 0],
                           [1, 1, 0, 0],
                           [0, 0, 1, 0],
                           [0, 0, 1, 1]]]


def test_every_position_attends_to_itself():
    documents = torch.tensor([[0, 1, 1, 2, 3, 3, 3, 4]])
    mask = build_mask(8, prefix=torch.tensor([5]), documents=documents)
    assert mask[0, 0].diagonal().all()


def test_eot_ends_its_document():
    inputs = torch.tensor([[A, B, EOT, C, EOT, EOT, A]])
    assert document_ids(inputs).tolist() == [[0, 0, 0, 1, 1, 2, 3]]


def test_eot_before_sep_keeps_the_infill_section_in_its_document():
    # codegen2's layout: body EOT <sep> <mask_1> span <eom>, then the separator EOT.
    mask_1 = SPECIAL_TOKENS.index("<mask_1>")
    inputs = torch.tensor([[A, mask_1, EOT, SEP_ID, mask_1, B, EOM_ID, EOT, C, EOT]])
    assert document_ids(inputs).tolist() == [[0, 0, 0, 0, 0, 0, 0, 0, 1, 1]]


def test_documents_of_a_corrupted_sequence_are_its_split_documents():
    rng = np.random.default_rng(0)
    docs = [rng.integers(len(SPECIAL_TOKENS), 500, size=n) for n in (7, 1, 30, 12)]
    tokens = np.concatenate([np.r_[d, EOT] for d in docs])
    corrupted = corrupt_sequence(tokens, seed=0, index=3)
    ids = document_ids(torch.from_numpy(corrupted)[None])[0].tolist()
    # Each transformed document, with the EOT separator after it, is one document.
    expected = sum(([i] * (len(d) + 1) for i, d in enumerate(split_documents(corrupted))), [])
    assert ids == expected[:len(ids)]


def test_causal_batches_need_no_mask():
    inputs = torch.tensor([[A, EOT, B]])
    assert attention_mask(inputs, prefix=None, document_mask=False) is None
    with_documents = attention_mask(inputs, prefix=None, document_mask=True)
    assert rows(with_documents) == [[[1, 0, 0],
                                     [1, 1, 0],
                                     [0, 0, 1]]]
    with_prefix = attention_mask(inputs, prefix=torch.tensor([2]), document_mask=False)
    assert rows(with_prefix) == [[[1, 1, 0],
                                  [1, 1, 0],
                                  [1, 1, 1]]]


def test_documents_are_found_by_the_corpus_special_ids():
    # A given tokenizer: </s> (id 2) ends documents and <sep> is 70001; id 0 is text there.
    specials = SpecialIds(eot=2, sep=70_001)
    inputs = torch.tensor([[0, EOT, 2, 70_001, 0, 2, C, 2]])
    assert document_ids(inputs, specials).tolist() == [[0, 0, 0, 0, 0, 0, 1, 1]]
    assert document_ids(inputs, SpecialIds(eot=2)).tolist() == [[0, 0, 0, 1, 1, 1, 2, 2]]
    mask = attention_mask(inputs[:, :3], prefix=None, document_mask=True, specials=specials)
    assert rows(mask) == [[[1, 0, 0], [1, 1, 0], [1, 1, 1]]]
