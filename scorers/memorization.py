"""Memorization / contamination: verbatim overlap of a text with reference corpora.

What is measured (per generation, against every reference file given):

* ``overlap`` — the share of the text's 13-grams that occur anywhere in the corpus (the GPT-3 paper's
  contamination test uses 13-grams: long enough that a shared one is almost never chance).
* ``longest_match_tokens`` — the longest verbatim run, verified token by token against the source text,
  with the matched span (character offsets in the generation, and the text) and its source (``file:line``).
* ``prefix_overlap`` and ``edit_similarity`` — HELM's copyright metrics: aligned with the source at the match,
  how many tokens of the generation reproduce the source from its first token on, and
  1 − Levenshtein/length over the aligned window (tolerates the small edits that defeat exact matching).

Which of these is the gate's number is the ``metric`` option (``overlap`` by default, so the threshold reads as
"more than half of the answer is copied"). ``field = "prompt"`` (or ``"reference"``) turns the scorer into a
contamination check of benchmark items against a training corpus.

How it scales: the corpus is tokenized once (Unicode-aware: Cyrillic words, CJK characters as tokens), every
13-gram is hashed to 64 bits (a stable hash, so the index can be reused across processes), and the sorted
unique hashes with their first position are saved under the cache directory keyed by the files' paths, sizes
and modification times. A 100 MB corpus is ~17M 13-grams (~270 MB of index, memory-mapped on load); a lookup is
one vectorised binary search per batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from scorers.base import ScoreItem, ScorerError, ScoreResult, ScorerSpec
from scorers.text import _TOKEN_RE, RawTokens, fold, offsets_are_exact, raw_tokens

INDEX_VERSION = 3
# Positions store (document << 32) | where the n-gram starts: its character offset in the document, or (for the
# rare document whose Unicode normalisation moves characters) its token index with this flag set.
TOKEN_INDEX_FLAG = 1 << 31
DEFAULT_N = 13
# Plain-text files are indexed in chunks of whole lines of at most this many bytes. Small chunks keep reporting
# cheap (a match re-reads and re-tokenizes only its chunk); an n-gram spanning two chunks is lost (12 per chunk).
MAX_DOC_CHARS = 16_000
EDIT_WINDOW = 256  # tokens compared for edit similarity
VOCAB_CACHE_LIMIT = 2_000_000  # distinct token hashes kept in memory between batches
TEXT_FIELDS = ("text", "content", "output", "reference", "instruction", "prompt")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant for the polynomial n-gram hash


class _Vocabulary(dict):
    """token (case-folded lazily) → stable 64-bit hash; cached because a corpus repeats its words endlessly."""

    def __missing__(self, token: str) -> int:
        value = int.from_bytes(hashlib.blake2b(fold(token).encode("utf-8", "surrogatepass"),
                                               digest_size=8).digest(), "little")
        self[token] = value
        return value


def _ngram_hashes(token_hashes: np.ndarray, n: int) -> np.ndarray:
    """Polynomial hash of every window of ``n`` token hashes (uint64 arithmetic wraps, which is the point)."""
    count = len(token_hashes) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            out *= _MULT
            out += token_hashes[k:k + count]
    return out


def _batch_ngram_hashes(token_lists: Sequence[Sequence[int]], n: int) -> list[np.ndarray]:
    """:func:`_ngram_hashes` of every item of a batch, computed once over all their tokens laid end to end (13
    numpy operations per batch instead of per generation); the windows that would straddle two items are left
    out, so each item's hashes are exactly its own."""
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
    tokens = np.fromiter(chain.from_iterable(token_lists), dtype=np.uint64, count=int(lengths.sum()))
    every = _ngram_hashes(tokens, n)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else lengths
    return [every[a:a + max(0, k - n + 1)] if k >= n else np.zeros(0, dtype=np.uint64)
            for a, k in zip(starts.tolist(), lengths.tolist())]


@dataclass(frozen=True, slots=True)
class _Doc:
    file: int
    offset: int  # byte offset of the document (or of its JSON line) in the file
    length: int  # bytes
    line: int  # 1-based line where it starts


def _default_cache_dir() -> Path:
    env = os.environ.get("SBS_CACHE_DIR")
    if env:
        return Path(env) / "memorization"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sbs-tui" / "memorization"


def _expand(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise ScorerError(f"reference corpus not found: {raw}", field="references")
    if not files:
        raise ScorerError("the reference corpora contain no files", field="references")
    return files


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def _json_text(line: bytes, text_field: str | None, where: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise ScorerError(f"{where}: invalid JSON in reference corpus: {exc}", field="references") from exc
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, dict):
        return None
    if text_field:
        value = obj.get(text_field)
        return value if isinstance(value, str) else None
    parts = [obj[k] for k in TEXT_FIELDS if isinstance(obj.get(k), str)]
    return "\n".join(parts) if parts else None


def _iter_documents(path: Path, file_index: int, text_field: str | None) -> Iterator[tuple[_Doc, str]]:
    """Documents of one reference file: JSONL lines, or blank-line separated paragraphs of a text file."""
    with path.open("rb") as fh:
        offset = 0
        if _is_jsonl(path):
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    text = _json_text(line, text_field, f"{path}:{line_no}")
                    if text:
                        yield _Doc(file_index, offset, len(line), line_no), text
                offset += len(line)
            return
        # Plain text: chunks of whole lines up to MAX_DOC_CHARS, so n-grams may span lines and paragraphs.
        start, start_line, size, chunk = 0, 1, 0, []
        for line_no, line in enumerate(fh, 1):
            if chunk and size + len(line) > MAX_DOC_CHARS:
                yield _Doc(file_index, start, size, start_line), b"".join(chunk).decode("utf-8", "replace")
                chunk, size = [], 0
            if not chunk:
                start, start_line = offset, line_no
            chunk.append(line)
            size += len(line)
            offset += len(line)
        if chunk:
            yield _Doc(file_index, start, size, start_line), b"".join(chunk).decode("utf-8", "replace")


class ReferenceIndex:
    """Sorted unique n-gram hashes of a corpus, with the (document, token position) of a first occurrence."""

    def __init__(self, files: list[Path], n: int, hashes: np.ndarray, positions: np.ndarray,
                 docs: np.ndarray, text_field: str | None):
        self.files = files
        self.n = n
        self.hashes = hashes
        self.positions = positions
        self.docs = docs  # (num_docs, 4) uint64: file, offset, length, line
        self.text_field = text_field
        self.vocab = _Vocabulary()

    # -- building and caching -------------------------------------------------------------------------------

    @classmethod
    def open(cls, paths: Sequence[str], *, n: int = DEFAULT_N, cache_dir: str | Path | None = None,
             text_field: str | None = None, log=None) -> ReferenceIndex:
        """Load the cached index for these files, building (and caching) it first if needed."""
        files = [p.resolve() for p in _expand(paths)]
        stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
        key = hashlib.sha256(json.dumps([INDEX_VERSION, n, text_field, stats]).encode()).hexdigest()[:24]
        folder = Path(cache_dir).expanduser() if cache_dir else _default_cache_dir()
        base = folder / key
        marker = base.with_suffix(".json")
        if marker.exists():
            return cls(files, n, np.load(f"{base}.hashes.npy", mmap_mode="r"),
                       np.load(f"{base}.positions.npy", mmap_mode="r"), np.load(f"{base}.docs.npy"), text_field)
        started = time.perf_counter()
        index = cls.build(files, n=n, text_field=text_field)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in (("hashes", index.hashes), ("positions", index.positions), ("docs", index.docs)):
            tmp = f"{base}.{name}.tmp.{os.getpid()}.npy"
            np.save(tmp, array)
            os.replace(tmp, f"{base}.{name}.npy")
        tmp_marker = marker.with_suffix(f".json.tmp.{os.getpid()}")
        tmp_marker.write_text(json.dumps({"version": INDEX_VERSION, "n": n, "files": stats,
                                          "ngrams": int(len(index.hashes))}))
        os.replace(tmp_marker, marker)  # written last: its presence means the arrays are complete
        if log is not None:
            log(f"memorization: indexed {len(files)} file(s), {len(index.hashes):,} distinct {n}-grams "
                f"in {time.perf_counter() - started:.1f}s (cached in {folder})")
        return index

    @classmethod
    def build(cls, files: list[Path], *, n: int = DEFAULT_N, text_field: str | None = None,
              flush_tokens: int = 2_000_000) -> ReferenceIndex:
        vocab = _Vocabulary()
        lookup = vocab.__getitem__
        doc_rows: list[tuple[int, int, int, int]] = []
        hash_parts: list[np.ndarray] = []
        pos_parts: list[np.ndarray] = []
        pending_tokens: list[int] = []
        pending_lengths: list[int] = []
        pending_ids: list[int] = []
        pending_offsets: list[int] = []

        def flush() -> None:
            if not pending_tokens:
                return
            tokens = np.array(pending_tokens, dtype=np.uint64)
            lengths = np.array(pending_lengths, dtype=np.int64)
            doc_ids = np.repeat(np.array(pending_ids, dtype=np.uint64), lengths)
            token_pos = np.array(pending_offsets, dtype=np.uint64)
            grams = _ngram_hashes(tokens, n)
            if len(grams):
                same_doc = doc_ids[: len(grams)] == doc_ids[n - 1:]
                hash_parts.append(grams[same_doc])
                pos_parts.append(((doc_ids[: len(grams)] << np.uint64(32))
                                  | token_pos[: len(grams)])[same_doc])
            pending_tokens.clear()
            pending_offsets.clear()
            pending_lengths.clear()
            pending_ids.clear()

        for file_index, path in enumerate(files):
            for doc, text in _iter_documents(path, file_index, text_field):
                if offsets_are_exact(text):
                    toks = _TOKEN_RE.findall(text)
                    offsets = list(map(re.Match.start, _TOKEN_RE.finditer(text)))
                else:  # rare: normalisation moves characters, so remember token indexes instead
                    toks = raw_tokens(text)
                    offsets = [TOKEN_INDEX_FLAG | i for i in range(len(toks))]
                if len(toks) < n:
                    continue
                doc_id = len(doc_rows)
                doc_rows.append((doc.file, doc.offset, doc.length, doc.line))
                pending_tokens.extend(map(lookup, toks))
                pending_offsets.extend(offsets)
                pending_lengths.append(len(toks))
                pending_ids.append(doc_id)
                if len(pending_tokens) >= flush_tokens:
                    flush()
        flush()
        hashes = np.concatenate(hash_parts) if hash_parts else np.zeros(0, dtype=np.uint64)
        positions = np.concatenate(pos_parts) if pos_parts else np.zeros(0, dtype=np.uint64)
        # Keep the first occurrence of each n-gram: a stable sort keeps corpus order among equal hashes.
        order = np.argsort(hashes, kind="stable")
        hashes, positions = hashes[order], positions[order]
        if len(hashes):
            first = np.concatenate(([True], hashes[1:] != hashes[:-1]))
            hashes, positions = hashes[first], positions[first]
        docs = np.array(doc_rows, dtype=np.uint64).reshape(-1, 4)
        index = cls(files, n, hashes, positions, docs, text_field)
        index.vocab = vocab
        return index

    # -- lookups ------------------------------------------------------------------------------------------------

    def contains(self, grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, index into ``positions``) for a vector of n-gram hashes."""
        if len(self.hashes) == 0 or len(grams) == 0:
            return np.zeros(len(grams), dtype=bool), np.zeros(len(grams), dtype=np.int64)
        # Looked up in sorted order: numpy's binary search narrows each search with the last one, and the index
        # (memory-mapped, tens of MB) is read front to back instead of at random: half the time of a batch.
        order = np.argsort(grams, kind="stable")
        idx = np.empty(len(grams), dtype=np.intp)
        idx[order] = np.searchsorted(self.hashes, grams[order])
        idx = np.minimum(idx, len(self.hashes) - 1)
        return self.hashes[idx] == grams, idx

    def document(self, doc_id: int) -> tuple[str, str, int, bool]:
        """Text, file, first line and whether the document is a JSONL record (read back from the file)."""
        file_index, offset, length, line = (int(x) for x in self.docs[doc_id])
        path = self.files[file_index]
        with path.open("rb") as fh:
            fh.seek(offset)
            raw = fh.read(length)
        if _is_jsonl(path):
            text = _json_text(raw, self.text_field, f"{path}:{line}") or ""
        else:
            text = raw.decode("utf-8", "replace")
        return text, str(path), line, _is_jsonl(path)

    def token_hashes(self, tokens: Sequence[str]) -> np.ndarray:
        return np.array([self.vocab[t] for t in tokens], dtype=np.uint64)


class MemorizationScorer:
    name = "memorization"
    higher_is_worse = True

    METRICS = ("overlap", "longest_match_tokens", "prefix_overlap", "edit_similarity")

    def __init__(self, spec: ScorerSpec):
        references = spec.option("references", [], list)
        if spec.model:
            references = [spec.model, *references]
        if not references:
            raise ScorerError("the memorization gate needs reference corpora (references = [...] or "
                              "--reference PATH)", field="references")
        self.n = spec.option("n", DEFAULT_N, int)
        if self.n < 1:
            raise ScorerError("must be at least 1", field="n")
        self.field = spec.option("field", "output", str)
        if self.field not in ("output", "prompt", "reference"):
            raise ScorerError("must be 'output', 'prompt' or 'reference'", field="field")
        self.metric = spec.option("metric", "overlap", str)
        if self.metric not in self.METRICS:
            raise ScorerError(f"must be one of {', '.join(self.METRICS)}", field="metric")
        self.default_threshold = 50.0 if self.metric in ("longest_match_tokens", "prefix_overlap") else 0.5
        self._docs: dict[int, tuple[str, str, int, bool]] = {}
        self.index = ReferenceIndex.open(references, n=self.n, cache_dir=spec.option("cache_dir", None, str),
                                         text_field=spec.option("text_field", None, str), log=spec.log)

    def _document(self, doc_id: int) -> tuple[str, str, int, bool]:
        """Documents re-read for reporting, cached: copies of one source tend to come in runs."""
        doc = self._docs.get(doc_id)
        if doc is None:
            if len(self._docs) > 256:
                self._docs.clear()
            doc = self._docs[doc_id] = self.index.document(doc_id)
        return doc

    def _text(self, item: ScoreItem) -> str:
        if self.field == "prompt":
            return item.prompt
        if self.field == "reference":
            return item.reference or ""
        return item.output

    def score(self, items: Sequence[ScoreItem]) -> list[ScoreResult]:
        n = self.n
        if len(self.index.vocab) > VOCAB_CACHE_LIMIT:  # a long-running watcher must not grow without bound
            self.index.vocab.clear()
        lookup = self.index.vocab.__getitem__
        texts = [self._text(item) for item in items]
        token_lists = [list(map(lookup, raw_tokens(text))) for text in texts]
        grams = _batch_ngram_hashes(token_lists, n)
        flat = np.concatenate(grams) if grams else np.zeros(0, dtype=np.uint64)
        found_all, where_all = self.index.contains(flat)
        results: list[ScoreResult] = []
        start = 0
        for text, toks, g in zip(texts, token_lists, grams):
            found = found_all[start:start + len(g)]
            where = where_all[start:start + len(g)]
            start += len(g)
            results.append(self._one(text, toks, found, where))
        return results

    def _one(self, text: str, toks: list[int], found: np.ndarray, where: np.ndarray) -> ScoreResult:
        n = self.n
        total = len(found)
        matched = int(found.sum())
        details: dict[str, Any] = {"ngrams": total, "matched_ngrams": matched, "overlap": 0.0,
                                   "longest_match_tokens": 0, "prefix_overlap": 0, "edit_similarity": 0.0}
        if total == 0 or matched == 0:
            return ScoreResult(0.0, details)
        details["overlap"] = round(matched / total, 6)
        # Longest run of consecutive matched n-grams: the candidate verbatim copy.
        padded = np.concatenate(([0], found.astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(padded))
        run_starts, run_ends = edges[::2], edges[1::2]
        best = int(np.argmax(run_ends - run_starts))
        gen_start = int(run_starts[best])
        position = int(self.index.positions[where[gen_start]])
        doc_id, src_pos = position >> 32, position & 0xFFFFFFFF
        source_text, source_file, first_line, is_record = self._document(doc_id)
        # Tokenize only the part of the source that is compared: from the match (or the aligned start of the
        # generation, for the HELM metrics) to the end of the comparison window.
        lookback = gen_start if gen_start <= EDIT_WINDOW else 0
        window = max(len(toks) - gen_start, EDIT_WINDOW) + 1
        if src_pos & TOKEN_INDEX_FLAG:
            index = src_pos & ~TOKEN_INDEX_FLAG
            source = RawTokens(source_text, index + window)
            if index >= len(source):  # the file changed under the cache key (same size and mtime)
                return ScoreResult(float(details[self.metric]) if self.metric == "overlap" else 0.0, details)
            before = source.tokens[max(0, index - lookback):index]
            after = source.tokens[index:]
            after_start = source.span(index)[0]
        else:
            following = RawTokens(source_text[src_pos:], window)
            after = following.tokens
            after_start = following.span(0)[0] + src_pos if after else 0
            before = []
            if lookback:
                cut = max(0, src_pos - 16 * lookback - 64)
                before = RawTokens(source_text[cut:src_pos]).tokens
                before = before[1:] if cut > 0 else before  # the first token may be cut in half
                before = before[-lookback:]
        if not after:
            return ScoreResult(float(details[self.metric]) if self.metric == "overlap" else 0.0, details)
        lookup = self.index.vocab.__getitem__
        src_toks = list(map(lookup, before)) + list(map(lookup, after))
        src_pos = len(before)  # from here on: index of the match in src_toks
        line = first_line if is_record else first_line + source_text.count("\n", 0, after_start)
        # Verify and extend the run token by token against the source (hash runs can span two places).
        length = _common_prefix(toks, gen_start, src_toks, src_pos)
        if length < n:  # hash collision or tokenisation drift: fall back to the run length itself
            length = int(run_ends[best] - run_starts[best]) + n - 1
        spans = RawTokens(text, gen_start + length)
        if len(spans):
            first, last = spans.span(min(gen_start, len(spans) - 1)), spans.span(-1)
            details["span"] = {"start": first[0], "end": last[1], "text": text[first[0]:last[1]][:500]}
        details["longest_match_tokens"] = length
        details["source"] = {"file": source_file, "line": line}
        # HELM-style: align the generation's first token with the source and compare from there.
        aligned = src_pos - gen_start
        if lookback == gen_start and aligned >= 0:
            details["prefix_overlap"] = _common_prefix(toks, 0, src_toks, aligned)
            window_gen = toks[:EDIT_WINDOW]
            window_src = src_toks[aligned:aligned + len(window_gen)]
        else:
            window_gen = toks[gen_start:gen_start + EDIT_WINDOW]
            window_src = src_toks[src_pos:src_pos + len(window_gen)]
        details["edit_similarity"] = round(_edit_similarity(window_gen, window_src), 6)
        return ScoreResult(float(details[self.metric]), details)


def _common_prefix(a: list[int], i: int, b: list[int], j: int) -> int:
    """How many tokens ``a[i:]`` and ``b[j:]`` share from their start: compared as numpy arrays, not token by
    token in Python (a verbatim copy runs for hundreds of tokens)."""
    size = min(len(a) - i, len(b) - j)
    if size <= 0:
        return 0
    left = np.array(a[i:i + size], dtype=np.uint64)
    right = np.array(b[j:j + size], dtype=np.uint64)
    differ = np.flatnonzero(left != right)
    return int(differ[0]) if len(differ) else size


def _edit_similarity(a: list[int], b: list[int]) -> float:
    """1 − token Levenshtein distance / longer length (HELM's edit similarity)."""
    if not a and not b:
        return 1.0
    from rapidfuzz.distance import Levenshtein

    return 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))


def build(spec: ScorerSpec):
    if (spec.backend or "ngram") != "ngram":
        raise ScorerError(f"unknown memorization backend {spec.backend!r} (choose from ngram)", field="backend")
    return MemorizationScorer(spec)
