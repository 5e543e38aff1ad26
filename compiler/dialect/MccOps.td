// The mcc dialect: a decoder-only LLM's forward pass as a graph of
// whole-model-level ops over statically shaped f32 activations.
//
// Weights are not SSA values: each op names the checkpoint tensors it reads
// (canonical GGUF-style names) with their layout (`scheme`) and shape, so the
// graph carries everything code generation needs to address the packed
// weight blob, and fusion passes can merge ops that read different weights.
#ifndef MCC_OPS_TD
#define MCC_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Mcc_Dialect : Dialect {
  let name = "mcc";
  let summary = "LLM forward-pass graph for the mcc compiler";
  let cppNamespace = "::mcc::ir";
}

class Mcc_Op<string mnemonic, list<Trait> traits = []> : Op<Mcc_Dialect, mnemonic, traits>;

def Mcc_Activations : 2DTensorOf<[F32]>;

def Mcc_EmbeddingOp : Mcc_Op<"embedding", [Pure]> {
  let summary = "rows of the embedding table for each token id";
  let arguments = (ins 1DTensorOf<[I32]>:$tokens, StrAttr:$weight, StrAttr:$scheme,
                       I64Attr:$vocab, I64Attr:$hidden);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$tokens attr-dict `:` type($tokens) `->` type($result)";
  let hasVerifier = 1;
}

def Mcc_RmsNormOp : Mcc_Op<"rms_norm", [Pure, SameOperandsAndResultType]> {
  let summary = "x / rms(x) * weight, over groups of `group` columns";
  let description = [{
    `group` is the row length normalized at once: the hidden size for the
    usual pre-norms, head_dim for Qwen3's per-head Q/K norms.
  }];
  let arguments = (ins Mcc_Activations:$input, StrAttr:$weight, F32Attr:$eps, I64Attr:$group);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Mcc_QMatmulOp : Mcc_Op<"qmatmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "activations times one or more quantized weight matrices";
  let description = [{
    result[i] = prologue(inputs) · weights[i]ᵀ (+ residual, when present and
    there is one weight). Every weight has `cols` input columns, `rows[i]`
    output rows and the same `scheme` (the packed layout the kernel reads:
    Q4_0, Q4_1, Q8_0, PK4, PK8, F16, BF16, F32, or a fallback format).

    prologue:
      "none"     one input, used as is
      "rms_norm" one input, RMS-normalized with weight `norm` and `eps` first
      "swiglu"   two inputs (gate, up): silu(gate) * up
  }];
  let arguments = (ins Variadic<Mcc_Activations>:$inputs, Optional<Mcc_Activations>:$residual,
                       StrArrayAttr:$weights, StrAttr:$scheme, DenseI64ArrayAttr:$rows, I64Attr:$cols,
                       DefaultValuedStrAttr<StrAttr, "none">:$prologue, OptionalAttr<StrAttr>:$norm,
                       OptionalAttr<F32Attr>:$eps);
  let results = (outs Variadic<Mcc_Activations>:$results);
  let assemblyFormat = [{
    $inputs (`residual` $residual^)? attr-dict `:` type($inputs) (`residual` type($residual)^)? `->` type($results)
  }];
  let hasVerifier = 1;
}

def Mcc_BiasAddOp : Mcc_Op<"bias_add", [Pure, SameOperandsAndResultType]> {
  let summary = "adds a bias vector to every row";
  let arguments = (ins Mcc_Activations:$input, StrAttr:$weight);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Mcc_RopeOp : Mcc_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding of each head, row t at position pos + t";
  let arguments = (ins Mcc_Activations:$input, I32:$pos, I64Attr:$head_dim, I64Attr:$rope_dim,
                       F32Attr:$theta, StrAttr:$style);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$input `at` $pos attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Mcc_AttentionOp : Mcc_Op<"attention", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "writes k, v into the layer's KV cache at pos.., then causal GQA attention";
  let description = [{
    With `rope_style` and `rope_dim` (set by mcc-fuse-rope), q and k arrive
    unrotated and are rotated as k is written to the cache and q is read.
  }];
  let arguments = (ins Mcc_Activations:$q, Mcc_Activations:$k, Mcc_Activations:$v, I32:$pos,
                       I64Attr:$layer, I64Attr:$heads, I64Attr:$kv_heads, I64Attr:$head_dim,
                       I64Attr:$window, OptionalAttr<StrAttr>:$rope_style, OptionalAttr<I64Attr>:$rope_dim);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$q `,` $k `,` $v `at` $pos attr-dict `:` type($q) `,` type($k) `,` type($v) `->` type($result)";
  let hasVerifier = 1;
}

def Mcc_SwiGluOp : Mcc_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "silu(gate) * up";
  let arguments = (ins Mcc_Activations:$gate, Mcc_Activations:$up);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Mcc_AddOp : Mcc_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "elementwise sum (the residual stream)";
  let arguments = (ins Mcc_Activations:$lhs, Mcc_Activations:$rhs);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Mcc_LastRowOp : Mcc_Op<"last_row", [Pure]> {
  let summary = "the last row: only the final token's logits are needed after a prompt";
  let arguments = (ins Mcc_Activations:$input);
  let results = (outs Mcc_Activations:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

#endif // MCC_OPS_TD
