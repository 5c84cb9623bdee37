#!/usr/bin/python3
"""Cross-check the generated files with the Node libraries the services use.

    /usr/bin/python3 models/check_bundles.py --node-modules DIR [--node-modules DIR2 ...]

The node_modules folders must provide `tokenizers` (HF Rust binding) and, for the ONNX
check, `onnxruntime-node` (e.g. a scratch `npm i tokenizers@0.23.2` outside the repo, and
the repo's own node_modules). Checks:

1. tokenizer.json (fast) == sentencepiece reference ("slow") ids for the 160 golden
   prompts and a set of tricky strings; BOS from the post-processor; decode round trip.
2. Encoding offsets units for a string with an emoji and CJK (reported, not asserted).
3. Each bundle's model.onnx under onnxruntime-node reproduces golden.json (left and
   right padded batches) and its judge.json sha256.

Exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True
MODELS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(MODELS_DIR))

from gen.tokenizer import SlowTokenizer  # noqa: E402

GOLDEN_PROMPTS = MODELS_DIR.parent.parent / "shared" / "golden" / "phudge_prompts.jsonl"
BUNDLES = ["tiny-judge", "tiny-judge-classif", "tiny-judge-causal"]

TRICKY = [
    "",
    " ",
    "  ",
    "\n",
    "hello",
    " hello",
    "hello ",
    "  leading and trailing  ",
    "multiple    spaces   here",
    "tabs\tand\t\ttabs",
    "new\nlines\n\n\nand\r\nCRLF",
    "digits 1234567890 and 3.14159, 2024-05-08",
    "[RESULT] 5",
    "Emoji 😀🎉👍🏽 and flags 🇫🇷 and ZWJ 👩‍👩‍👧",
    "CJK 你好世界，こんにちは、안녕하세요",
    "Ünïcödé àccents ñ ß Ω ∑ ∞ → ★",
    "<|user|>\nHi<|end|>\n<|assistant|>\n",
    "<s>text</s> <unk> <|endoftext|>",
    "<|system|><|user|>  <|assistant|> x",
    "special<|end|>glued<|user|>",
    "not special: <|foo|> <s > < s>",
    "▁ already a metaspace ▁▁",
    "\u00a0non-breaking\u2009thin\u3000ideographic spaces",
    "control \x00 \x07 \x1b[0m chars",
    "def f(x):\n    return x ** 2  # comment\n",
    "a" * 300,
    " ".join(["word"] * 200),
]

OFFSETS_TEXT = "A😀你好 b"

NODE_SCRIPT = r"""
const fs = require('fs');
const { Tokenizer } = require('tokenizers');
(async () => {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const tok = Tokenizer.fromFile(job.tokenizer);
  const out = { ids: [], withBos: [], decoded: [], vocabSize: tok.getVocabSize(true) };
  for (const text of job.texts) {
    const e = await tok.encode(text, null, { addSpecialTokens: false });
    out.ids.push(Array.from(e.getIds()));
  }
  for (const text of job.bosTexts) {
    const e = await tok.encode(text, null, { addSpecialTokens: true });
    out.withBos.push(Array.from(e.getIds()));
  }
  for (const ids of job.decodeIds) out.decoded.push(await tok.decode(ids, false));
  const e = await tok.encode(job.offsetsText, null, { addSpecialTokens: false });
  out.offsets = { tokens: e.getTokens(), ids: Array.from(e.getIds()), offsets: e.getOffsets() };

  if (job.bundles.length) {
    const ort = require('onnxruntime-node');
    out.bundles = {};
    for (const b of job.bundles) {
      const golden = JSON.parse(fs.readFileSync(b.golden, 'utf8'));
      const session = await ort.InferenceSession.create(b.model);
      const res = { inputNames: session.inputNames, outputNames: session.outputNames };
      for (const side of ['left', 'right']) {
        const g = golden[side];
        const B = g.input_ids.length, S = g.input_ids[0].length;
        const t = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [B, S]);
        const r = await session.run({ input_ids: t(g.input_ids), attention_mask: t(g.attention_mask) });
        const logits = r.logits;
        const V = logits.dims[1];
        const rows = [];
        for (let i = 0; i < B; i++) {
          const row = Array.from(logits.data.slice(i * V, (i + 1) * V));
          rows.push(golden.score_token_ids ? golden.score_token_ids.map((k) => row[k]) : row);
        }
        res[side] = { dims: logits.dims, logits: rows };
      }
      // One prompt alone, unpadded: batching must not change the score.
      const ids = golden.ids[1];
      const one = (v) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
      const r1 = await session.run({ input_ids: one(ids), attention_mask: one(ids.map(() => 1)) });
      const row = Array.from(r1.logits.data);
      res.single = golden.score_token_ids ? golden.score_token_ids.map((k) => row[k]) : row;
      out.bundles[b.name] = res;
    }
  }
  fs.writeFileSync(process.argv[3], JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--node-modules", action="append", required=True, help="node_modules dir(s) for NODE_PATH")
    ap.add_argument("--skip-onnx", action="store_true", help="only check the tokenizer")
    args = ap.parse_args()

    tok_dir = MODELS_DIR / "tokenizer"
    slow = SlowTokenizer((tok_dir / "tokenizer.model").read_bytes())
    rows = [json.loads(line) for line in GOLDEN_PROMPTS.open(encoding="utf-8") if line.strip()]
    golden_ids = json.loads((tok_dir / "sp_golden_ids.json").read_text(encoding="utf-8"))

    texts = [r["prompt"] for r in rows] + TRICKY
    expected = [slow.encode(t) for t in texts]
    bos_texts = [rows[0]["prompt"], "hello world"]
    bundles = [] if args.skip_onnx else [
        {"name": n, "model": str(MODELS_DIR / n / "model.onnx"), "golden": str(MODELS_DIR / n / "golden.json")}
        for n in BUNDLES
    ]
    job = {
        "tokenizer": str(tok_dir / "tokenizer.json"),
        "texts": texts,
        "bosTexts": bos_texts,
        "decodeIds": expected,
        "offsetsText": OFFSETS_TEXT,
        "bundles": bundles,
    }
    with tempfile.TemporaryDirectory() as tmp:
        job_path, out_path, script = (Path(tmp) / n for n in ("job.json", "out.json", "check.cjs"))
        job_path.write_text(json.dumps(job), encoding="utf-8")
        script.write_text(NODE_SCRIPT, encoding="utf-8")
        env = dict(os.environ, NODE_PATH=os.pathsep.join(os.path.abspath(p) for p in args.node_modules))
        subprocess.run(["node", str(script), str(job_path), str(out_path)], check=True, env=env)
        out = json.loads(out_path.read_text(encoding="utf-8"))

    failures = 0

    # 1. ids
    n_golden = len(rows)
    golden_ok = sum(a == b for a, b in zip(out["ids"][:n_golden], expected[:n_golden]))
    print(f"tokenizer: vocab size {out['vocabSize']}; golden prompts identical: {golden_ok}/{n_golden}")
    for text, fast, ref in zip(texts, out["ids"], expected):
        if fast != ref:
            failures += 1
            first = next((i for i, (a, b) in enumerate(zip(fast, ref)) if a != b), min(len(fast), len(ref)))
            print(f"  MISMATCH {text[:60]!r}: at {first}: fast {fast[first:first + 5]} slow {ref[first:first + 5]}")
    tricky_ok = sum(a == b for a, b in zip(out["ids"][n_golden:], expected[n_golden:]))
    print(f"tokenizer: tricky strings identical: {tricky_ok}/{len(TRICKY)}")
    for entry, ref in zip(golden_ids, expected):
        digest = hashlib.sha256(",".join(map(str, ref)).encode()).hexdigest()
        if entry["count"] != len(ref) or entry["sha256"] != digest:
            failures += 1
            print(f"  sp_golden_ids.json out of date for {entry['id']}/{entry['variant']}")
    for text, ids in zip(bos_texts, out["withBos"]):
        if ids != [1] + slow.encode(text):
            failures += 1
            print(f"  BOS post-processor mismatch for {text[:40]!r}")
    # decode(skip_special_tokens=False): every text segment was encoded with a dummy "▁"
    # prefix, which decodes to a space; the Strip decoder removes only the one at the very
    # start of the output. So a space appears after each special token that is followed by
    # text (same as the real Phi-3 tokenizer.json). A literal "▁" in the text decodes as " ".
    def expected_decode(text: str) -> str:
        parts = [p if p in slow.special_ids else " " + p.replace("\u2581", " ") for p in slow._split.split(text) if p]
        joined = "".join(parts)
        return joined[1:] if joined.startswith(" ") else joined

    bad_decode = [t for t, d in zip(texts, out["decoded"]) if d != expected_decode(t)]
    print(f"tokenizer: decode(ids) as expected for {len(texts) - len(bad_decode)}/{len(texts)} texts")
    failures += len(bad_decode)
    for t in bad_decode[:5]:
        print(f"  decode differs: {t[:60]!r}")

    # 2. offsets
    o = out["offsets"]
    print(f"offsets for {OFFSETS_TEXT!r}: " + ", ".join(f"{t}:{tuple(x)}" for t, x in zip(o["tokens"], o["offsets"])))
    end = max(x[1] for x in o["offsets"])
    units = {
        len(OFFSETS_TEXT): "Unicode code points",
        len(OFFSETS_TEXT.encode("utf-16-le")) // 2: "UTF-16 code units",
        len(OFFSETS_TEXT.encode("utf-8")): "UTF-8 bytes",
    }
    print(f"  last offset end {end}: {units.get(end, 'unknown units')} "
          f"(code points {len(OFFSETS_TEXT)}, UTF-16 units {len(OFFSETS_TEXT.encode('utf-16-le')) // 2}, "
          f"bytes {len(OFFSETS_TEXT.encode('utf-8'))})")

    # 3. ONNX
    for b in bundles:
        name = b["name"]
        res = out["bundles"][name]
        golden = json.loads(Path(b["golden"]).read_text(encoding="utf-8"))
        manifest = json.loads((MODELS_DIR / name / "judge.json").read_text(encoding="utf-8"))
        sha_ok = hashlib.sha256(Path(b["model"]).read_bytes()).hexdigest() == manifest["sha256"]
        diffs = {}
        for side in ("left", "right"):
            diffs[side] = max(
                abs(a - g) for ra, rg in zip(res[side]["logits"], golden[side]["logits"]) for a, g in zip(ra, rg)
            )
        diffs["single"] = max(abs(a - g) for a, g in zip(res["single"], golden["left"]["logits"][1]))
        ok = sha_ok and all(d < 1e-4 for d in diffs.values())
        failures += not ok
        print(
            f"{name}: onnxruntime-node dims {res['left']['dims']} io {res['inputNames']}->{res['outputNames']}, "
            f"max |ort - torch| " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()) + f", sha256 ok {sha_ok}"
        )

    print("OK" if failures == 0 else f"FAILED ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
