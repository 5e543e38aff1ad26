#include "compiler/pack/QuantizeOutput.h"
#include "format/Dequant.h"
#include "format/Half.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

namespace mcc {

const Weight *outputProjection(const ModelDesc &m) {
  if (const Weight *w = m.find("output"))
    return w;
  return m.hp.tie_embeddings ? m.find("token_embd") : nullptr;
}

bool quantizesOutputByDefault(const ModelDesc &m) {
  const Weight *out = outputProjection(m);
  if (!out)
    return false;
  WeightFormat f = out->quant.format;
  if (f != WeightFormat::F16 && f != WeightFormat::BF16 && f != WeightFormat::F32)
    return false;
  for (const Weight &w : m.weights)
    if (w.quant.format == WeightFormat::GPTQ || w.quant.format == WeightFormat::AWQ)
      return true;
  return false;
}

bool quantizeOutputQ8_0(ModelDesc &m) {
  const Weight *found = outputProjection(m);
  if (!found || found->shape.size() != 2 || found->cols() % 32 != 0)
    return false;
  WeightFormat f = found->quant.format;
  if (f != WeightFormat::F16 && f != WeightFormat::BF16 && f != WeightFormat::F32)
    return false;
  Weight &w = const_cast<Weight &>(*found);
  int64_t N = w.rows(), K = w.cols(), nb = K / 32;
  auto bytes = std::make_shared<std::vector<uint8_t>>(size_t(N * nb * 34));
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t r = 0; r < N; ++r) {
    dequantizeRow(w, r, row.data());
    for (int64_t b = 0; b < nb; ++b) {
      // GGML's quantize_row_q8_0: d = max|x| / 127 (stored f16), q = round(x / d).
      const float *x = row.data() + b * 32;
      float amax = 0;
      for (int j = 0; j < 32; ++j)
        amax = std::fmax(amax, std::fabs(x[j]));
      float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
      uint8_t *blk = bytes->data() + (r * nb + b) * 34;
      uint16_t dh = floatToFp16(d);
      std::memcpy(blk, &dh, 2);
      for (int j = 0; j < 32; ++j)
        blk[2 + j] = uint8_t(int8_t(std::lround(x[j] * id)));
    }
  }
  w.quant = Quantization{};
  w.quant.format = WeightFormat::Q8_0;
  w.quant.bits = 8;
  w.quant.group_size = 32;
  w.scales.reset();
  w.zeros.reset();
  w.g_idx.reset();
  w.perm.reset();
  w.data.name = w.name + " (quantized to Q8_0 by mcc)";
  w.data.dtype = DType::U8;
  w.data.shape = {int64_t(bytes->size())};
  w.data.data = bytes->data();
  w.data.bytes = bytes->size();
  m.owned.push_back(std::move(bytes));
  return true;
}

} // namespace mcc
