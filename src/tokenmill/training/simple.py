"""The book's byte-pair encoding from scratch (bonus to chapter 2): ``BPETokenizerSimple``.

A small pure-Python BPE a learner can read in one sitting, with the interface and the
results of the book's bonus notebook: trained on ``the-verdict.txt`` with
``vocab_size=1000`` it learns 742 merges; loaded from GPT-2's ``encoder.json`` and
``vocab.bpe`` it encodes "This is some text" as ``[1212, 318, 617, 2420]``. It is also
the oracle that tokenmill's fast trainer (:func:`tokenmill.train_tokenizer`) is tested
against on tiny corpora. GPT-2's two files can be rebuilt from its ranks file with
:func:`tokenmill.training.export.openai_files_from_ranks`.

How it works, as in the book: the text is cut into words at spaces and line breaks
(a space before a word becomes the marker ``Ġ``, as in GPT-2's files); every word starts
as one token per character; training then repeats "find the most frequent adjacent pair
of tokens, give it a new ID, replace it everywhere" until the vocabulary is full.

Pitfall: it works on characters, not bytes: a character that training never saw (and
that is not one of the first 256 code points) cannot be encoded, and raises a ValueError
naming it. tokenmill's trained tokenizers are byte-level and encode any text.

>>> tok = BPETokenizerSimple()
>>> tok.train("the cat sat on the mat", vocab_size=263)
>>> [tok.vocab[i] for i in range(256, 263)]  # Ġ, the special token, then 5 merges
['Ġ', '<|endoftext|>', 'at', 'th', 'the', 'Ġc', 'Ġcat']
>>> tok.encode("the mat")
[260, 256, 109, 258]
>>> tok.decode([260, 256, 109, 258])
'the mat'
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Collection, Iterable

SPACE = "Ġ"  # GPT-2's printable stand-in for a space before a word
_SPECIAL = re.compile(r"^<\|.*\|>$")  # what the book treats as a special token


class BPETokenizerSimple:
    """The book's ``BPETokenizerSimple``: train, encode, decode, save and load BPE merges.

    Attributes, as in the book: ``vocab`` (ID -> token string), ``inverse_vocab`` (token
    string -> ID), ``bpe_merges`` ((ID, ID) -> merged ID, from training) and ``bpe_ranks``
    ((str, str) -> rank, from GPT-2's ``vocab.bpe``).

    Pitfall: ``encode(text)`` with a spelled special token (``<|endoftext|>``) raises unless
    it is listed in ``allowed_special``, like tiktoken.
    """

    def __init__(self) -> None:
        self.vocab: dict[int, str] = {}
        self.inverse_vocab: dict[str, int] = {}
        self.bpe_merges: dict[tuple[int, int], int] = {}
        self.bpe_ranks: dict[tuple[str, str], int] = {}

    # -- training -------------------------------------------------------------------------

    def train(
        self, text: str, vocab_size: int, allowed_special: Collection[str] = frozenset({"<|endoftext|>"})
    ) -> None:
        """Learn merges from ``text`` until the vocabulary holds ``vocab_size`` tokens.

        The vocabulary starts with the first 256 code points, then every other character of
        the text (sorted), ``Ġ``, then the special tokens. Ties between equally frequent
        pairs go to the pair seen first in the text. Training stops early when no pair is
        left to merge.
        """
        words = self.pretokenize_text(text)
        chars = [chr(i) for i in range(256)]
        chars += sorted({c for word in words for c in word} - set(chars))
        if SPACE not in chars:
            chars.append(SPACE)
        self.vocab = dict(enumerate(chars))
        for special in allowed_special or ():
            if special not in self.vocab.values():
                self.vocab[len(self.vocab)] = special
        self.inverse_vocab = {s: i for i, s in self.vocab.items()}
        self.bpe_merges = {}
        # Each distinct word once, with its count, in order of first appearance: the same
        # pair counts (and the same first-seen order for ties) as scanning every word.
        counts = Counter(words)
        sequences = [[self.inverse_vocab[c] for c in word] for word in counts]
        weights = list(counts.values())
        for new_id in range(len(self.vocab), vocab_size):
            pair = self._most_frequent_pair(sequences, weights)
            if pair is None:
                break
            sequences = [self._replace_pair(seq, pair, new_id) for seq in sequences]
            self.bpe_merges[pair] = new_id
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
            self.inverse_vocab[self.vocab[new_id]] = new_id

    @staticmethod
    def _most_frequent_pair(sequences: list[list[int]], weights: list[int]) -> tuple[int, int] | None:
        pairs: Counter[tuple[int, int]] = Counter()
        for seq, weight in zip(sequences, weights):
            for pair in zip(seq, seq[1:]):
                pairs[pair] += weight
        if not pairs:
            return None
        return max(pairs.items(), key=lambda item: item[1])[0]  # max keeps the first of equals

    @staticmethod
    def _replace_pair(seq: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
        out, i = [], 0
        while i < len(seq):
            if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(seq[i])
                i += 1
        return out

    # -- encoding -------------------------------------------------------------------------

    @staticmethod
    def pretokenize_text(text: str) -> list[str]:
        """The book's words: line breaks alone, a space before a word as ``Ġ`` on the word,
        every other space as a ``Ġ`` of its own.

        >>> BPETokenizerSimple.pretokenize_text("Hi  there \\r\\nyou")
        ['Hi', 'Ġ', 'Ġthere', 'Ġ', '\\r', '\\n', 'you']
        """
        words: list[str] = []
        for part in re.split(r"(\r\n|\r|\n)", text):
            if part == "\r\n":
                words += ["\r", "\n"]
            elif part in ("\r", "\n"):
                words.append(part)
            else:
                spaces = 0
                for m in re.finditer(r"( +)|(\S+)", part):
                    if m.group(1):
                        spaces += len(m.group(1))
                    else:
                        words += [SPACE] * max(0, spaces - 1)
                        words.append((SPACE if spaces else "") + m.group(2))
                        spaces = 0
                words += [SPACE] * spaces
        return words

    def encode(self, text: str, allowed_special: Collection[str] | None = None) -> list[int]:
        """Text -> IDs. Special tokens in ``allowed_special`` become their IDs; others raise."""
        allowed = set(allowed_special or ())
        spelled = [t for t in self.inverse_vocab if _SPECIAL.match(t) and t in text and t not in allowed]
        if spelled:
            raise ValueError(
                f"Disallowed special tokens encountered in text: {spelled}; "
                f"pass allowed_special={set(spelled)!r} to encode them as special tokens"
            )
        ids: list[int] = []
        if allowed:
            pattern = "(" + "|".join(re.escape(t) for t in sorted(allowed, key=len, reverse=True)) + ")"
            pieces = re.split(pattern, text)
        else:
            pieces = [text]
        for k, piece in enumerate(pieces):
            if k % 2:  # re.split puts the matched special tokens at odd positions
                if piece not in self.inverse_vocab:
                    raise ValueError(f"Special token {piece} not found in vocabulary.")
                ids.append(self.inverse_vocab[piece])
                continue
            for word in self.pretokenize_text(piece):
                if word in self.inverse_vocab:
                    ids.append(self.inverse_vocab[word])
                else:
                    ids += self.tokenize_with_bpe(word)
        return ids

    def tokenize_with_bpe(self, token: str) -> list[int]:
        """One word -> IDs: its characters, merged by the trained merges or GPT-2's ranks."""
        missing = [c for c in token if c not in self.inverse_vocab]
        if missing:
            raise ValueError(f"Characters not found in vocab: {missing}")
        if not self.bpe_ranks:
            # Trained merges: sweep left to right merging every known pair; repeat until none.
            ids = [self.inverse_vocab[c] for c in token]
            merged = True
            while merged and len(ids) > 1:
                merged, out, i = False, [], 0
                while i < len(ids):
                    if i + 1 < len(ids) and (ids[i], ids[i + 1]) in self.bpe_merges:
                        out.append(self.bpe_merges[(ids[i], ids[i + 1])])
                        merged, i = True, i + 2
                    else:
                        out.append(ids[i])
                        i += 1
                ids = out
            return ids
        # GPT-2's ranks: merge every occurrence of the best-ranked pair, until none is ranked.
        symbols = [self.vocab[self.inverse_vocab[c]] for c in token]
        while len(symbols) > 1:
            ranked = [p for p in zip(symbols, symbols[1:]) if p in self.bpe_ranks]
            if not ranked:
                break
            first, second = min(ranked, key=self.bpe_ranks.__getitem__)
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        return [self.inverse_vocab[s] for s in symbols]

    def decode(self, token_ids: Iterable[int]) -> str:
        """IDs -> text: ``Ġ`` back to a space (and GPT-2's IDs 198/201 to ``\\n``/``\\r``)."""
        out = []
        for tid in token_ids:
            if tid not in self.vocab:
                raise ValueError(f"Token ID {tid} not found in vocab.")
            tok = self.vocab[tid]
            if tid == 198 or tok == "\n":
                out.append("\n")
            elif tid == 201 or tok == "\r":
                out.append("\r")
            elif tok.startswith(SPACE):
                out.append(" " + tok[1:])
            else:
                out.append(tok)
        return "".join(out)

    # -- files ----------------------------------------------------------------------------

    def save_vocab_and_merges(self, vocab_path: str | os.PathLike[str], bpe_merges_path: str | os.PathLike[str]) -> None:
        """Write ``vocab`` (JSON, ID -> token) and the merges (JSON list of pair/new_id)."""
        with open(vocab_path, "w", encoding="utf-8") as f:
            json.dump(self.vocab, f, ensure_ascii=False, indent=2)
        merges = [{"pair": list(pair), "new_id": new_id} for pair, new_id in self.bpe_merges.items()]
        with open(bpe_merges_path, "w", encoding="utf-8") as f:
            json.dump(merges, f, ensure_ascii=False, indent=2)

    def load_vocab_and_merges(self, vocab_path: str | os.PathLike[str], bpe_merges_path: str | os.PathLike[str]) -> None:
        """Read what :meth:`save_vocab_and_merges` wrote."""
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {int(i): tok for i, tok in json.load(f).items()}
        self.inverse_vocab = {tok: i for i, tok in self.vocab.items()}
        with open(bpe_merges_path, encoding="utf-8") as f:
            self.bpe_merges = {tuple(m["pair"]): m["new_id"] for m in json.load(f)}  # type: ignore[misc]

    def load_vocab_and_merges_from_openai(
        self, vocab_path: str | os.PathLike[str], bpe_merges_path: str | os.PathLike[str]
    ) -> None:
        """Read GPT-2's ``encoder.json`` (token -> ID) and ``vocab.bpe`` (merges by rank).

        Pitfall: the files must be GPT-2's (``Ċ``, the newline, at 198 and ``<|endoftext|>``
        at 50256); ``\\n`` and ``\\r`` are then aliases of IDs 198 and 201.
        """
        with open(vocab_path, encoding="utf-8") as f:
            self.inverse_vocab = {tok: int(i) for tok, i in json.load(f).items()}
        self.vocab = {i: tok for tok, i in self.inverse_vocab.items()}
        if self.inverse_vocab.get("Ċ") != 198:
            raise KeyError("Vocabulary missing GPT-2 newline glyph 'Ċ' at id 198.")
        if self.inverse_vocab.get("<|endoftext|>") != 50256:
            raise KeyError("Vocabulary missing <|endoftext|> at id 50256.")
        self.inverse_vocab.setdefault("\n", 198)
        if "\r" not in self.inverse_vocab:
            if 201 not in self.vocab:
                raise KeyError("Vocabulary missing carriage return token at id 201.")
            self.inverse_vocab["\r"] = 201
        self.bpe_ranks = {}
        with open(bpe_merges_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for line in lines[1:] if lines and lines[0].startswith("#") else lines:
            pair = line.split()
            if len(pair) == 2 and pair[0] in self.inverse_vocab and pair[1] in self.inverse_vocab:
                self.bpe_ranks[(pair[0], pair[1])] = len(self.bpe_ranks)

