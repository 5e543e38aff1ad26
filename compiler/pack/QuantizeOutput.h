// The output projection of a quantized checkpoint, quantized at compile time
// when the checkpoint keeps it in floats: GPTQ and AWQ leave lm_head in f16
// (1.04 GiB of a 7B model's 4.5 GiB read per token). As Q8_0 (GGML's
// blocks of 32 with an f16 scale, what llama.cpp's converters write for it)
// it reads at 8.5 bits a weight through the integer kernels; the accuracy
// cost is measured in docs/speed.md.
#pragma once

#include "format/ModelDesc.h"

namespace mcc {

// The weight that projects onto the vocabulary: `output`, or the embedding
// when tied. nullptr when there is none.
const Weight *outputProjection(const ModelDesc &m);

// Whether `mcc compile` quantizes it by default: a float output projection
// in a GPTQ/AWQ checkpoint (a float checkpoint stays float throughout).
bool quantizesOutputByDefault(const ModelDesc &m);

// Replaces a float (F32/F16/BF16) output projection whose rows are whole
// blocks of 32 with its Q8_0 quantization (the bytes kept in m.owned).
// Returns false, changing nothing, for any other.
bool quantizeOutputQ8_0(ModelDesc &m);

} // namespace mcc
